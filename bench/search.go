package main

import (
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"time"

	"golang.org/x/text/unicode/norm"
	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/client"
	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/server"
)

// Syllables of the generated names: Vietnamese ones with their tones (in
// NFC, as people type them; some records are stored in NFD below), and
// pinyin and Lao ones for the places across the border.
var (
	vnSyllables = []string{"Tà", "Lùng", "Trà", "Lĩnh", "Đồng", "Đăng", "Hữu", "Nghị", "Thanh", "Thủy", "Hà", "Giang", "Cao", "Bằng",
		"Lạng", "Sơn", "Móng", "Cái", "Bắc", "Phong", "Sinh", "Hoành", "Mô", "Chi", "Ma", "Lộc", "Bình", "Nậm", "Cắn", "Tam", "Hợp",
		"Xín", "Mần", "Phó", "Bảng", "Sóc", "Giang", "Lý", "Vạn", "Thông", "Nông", "Quảng", "Hòa", "Thạch", "An", "Hạ", "Lang",
		"Trùng", "Khánh", "Nguyên", "Bình", "Bảo", "Lâm", "Hà", "Quảng", "Phục", "Hòa", "Đức", "Long", "Pò", "Peo", "Tân", "Yên",
		"Minh", "Tiến", "Thắng", "Lợi", "Ngọc", "Khê", "Quang", "Trung", "Kim", "Đồng", "Văn", "Mèo", "Vạc", "Lũng", "Cú", "Xá",
		"Phìn", "Mậu", "Duệ", "Sủng", "Là", "Lục", "Khu", "Nà", "Sác", "Pác", "Bó", "Hồng", "Việt", "Cần", "Nông", "Đoài", "Chu",
		"Trinh", "Đình", "Phùng", "Ngọc", "Động", "Kéo", "Yên", "Thái", "Mường", "Khương", "Lai", "Châu", "Điện", "Biên", "Tây",
		"Trang", "Ninh", "Thuận", "Huế", "Quế", "Phương", "Cẩm", "Xuyên", "Tường", "Vân", "Hải", "Đường", "Dương", "Phúc", "Kỳ"}
	foreignSyllables = []string{"Shui", "kou", "Long", "bang", "Ping", "xiang", "Dong", "xing", "Tian", "bao", "Du", "jia", "Bai", "se",
		"Jing", "xi", "Da", "xin", "Ning", "ming", "Nan", "ning", "Chong", "zuo", "Fang", "cheng", "Hekou", "Ma", "guan", "Yun",
		"nan", "Guang", "Lao", "Xieng", "Khouang", "Sam", "Neua", "Phong", "saly", "Hua", "phan", "Bo", "kham", "Vieng", "Xai",
		"Sava", "nnakhet", "Champa", "sak", "Muang", "Khua", "Oudom", "Na", "Meo", "Nam", "On", "Xac", "Kham", "Tao"}
)

func syllables(r *rand.Rand, from []string, n int, sep string) string {
	s := ""
	for i := range n {
		if i > 0 {
			s += sep
		}
		s += from[r.IntN(len(from))]
	}
	return s
}

// searchRecord is record i of the search bench: a border gate (its
// Vietnamese name and its counterpart's) or a partnership (a Vietnamese
// locality and a foreign one), half each; one record in 20 is stored in
// NFD. Records 0 and 1 are the gate Tà Lùng–Shuikou and a partnership with
// a locality of that name, so the queries below have something to find.
func searchRecord(i int) proto.Message {
	r := rand.New(rand.NewPCG(uint64(i), 13))
	vn := syllables(r, vnSyllables, 2+r.IntN(2), " ")
	foreign := syllables(r, foreignSyllables, 2, "")
	if i < 2 {
		vn, foreign = "Tà Lùng", "Shuikou"
	}
	if i%20 == 3 {
		vn = norm.NFD.String(vn)
	}
	if i%2 == 0 {
		return &borderv1.BorderGate{Name: fmt.Sprintf("provinces/cao-bang/border-gates/g%07d", i), DisplayName: "Cửa khẩu " + vn,
			CounterpartName: foreign, NeighbourCountry: "CN", Level: borderv1.BorderGate_Level(1 + r.IntN(3))}
	}
	return &twinningv1.Partnership{Name: fmt.Sprintf("provinces/cao-bang/partnerships/p%07d", i), DisplayName: "Kết nghĩa xã " + vn,
		LocalUnit: &typev1.LocalUnit{Level: typev1.LocalLevel_LOCAL_LEVEL_COMMUNE, Name: "Xã " + vn},
		Partner:   &typev1.ForeignParty{Name: foreign + " Town", CountryCode: "CN"}}
}

func runSearch(args []string) error {
	fs := flag.NewFlagSet("search", flag.ExitOnError)
	records := fs.Int("records", 1_000_000, "records to load")
	dataDir := fs.String("data", "", "keep the loaded node here and reuse it on later runs (default: a temporary directory)")
	queries := fs.Int("queries", 200, "runs of each query")
	fs.Parse(args)

	dir, cleanup := *dataDir, func() {}
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "provex-bench-search-"); err != nil {
			return err
		}
		cleanup = func() { os.RemoveAll(dir) }
	}
	defer cleanup()
	marker, path := filepath.Join(dir, fmt.Sprintf("search-loaded-%d", *records)), filepath.Join(dir, server.DatabaseFile)
	kept, err := keptLoad(marker, dir, path, "cao-bang")
	if err != nil && !loadAgain(err) {
		return err
	}
	if !kept {
		os.Remove(marker)
		os.RemoveAll(path)
		keys, err := nodeKeysIn(dir)
		if err != nil {
			return err
		}
		db, err := openSigned(path, "cao-bang", keys, nil)
		if err != nil {
			return err
		}
		start := time.Now()
		if err := writeRecords(db, *records, 256, searchRecord); err != nil {
			db.Close()
			return err
		}
		fmt.Fprintf(os.Stderr, "loaded %d records in %s\n", *records, time.Since(start).Round(time.Second))
		if err := db.Close(); err != nil {
			return err
		}
		if err := os.WriteFile(marker, nil, 0o644); err != nil {
			return err
		}
	}

	node, token, err := benchNode(server.Config{Member: "cao-bang", DataDir: dir, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer node.stop()
	c, err := client.Dial(node.node.GRPCAddr(), client.WithToken(token))
	if err != nil {
		return err
	}
	defer c.Conn().Close()
	nc := nationalv1.NewNationalServiceClient(c.Conn())

	cases := []struct{ text, what string }{
		{"Tà Lùng", "the name as written"},
		{"ta lung", "no diacritics"},
		{"TÀ LÙNG", "upper case"},
		{norm.NFD.String("Tà Lùng"), "NFD"},
		{"Shuikou", "a counterpart's name"},
		{"ta lu", "the last word cut short"},
		{"cửa khẩu tà lùng", "common words, then rare ones"},
		{"Đồng Đăng", "another name, đ"},
		{"thanh", "one common word (dense)"},
		{"t", "one letter (every word starting with t)"},
		{"zzzz", "no match"},
		{"lùng tà", "the same words the other way round"},
		{"khẩu cửa", "words of every gate, never in that order"},
	}
	fmt.Printf("SearchRecords (all collections, parent provinces/-, page_size 50) over %d records, %d runs each, concurrency 1:\n\n", *records, *queries)
	fmt.Printf("| text | what | results on page | p50 ms | p99 ms |\n|---|---|---|---|---|\n")
	var all []time.Duration
	for _, tc := range cases {
		var (
			got   int
			times []time.Duration
		)
		for range *queries {
			start := time.Now()
			resp, err := nc.SearchRecords(ctx, &nationalv1.SearchRecordsRequest{Parent: "provinces/-", Text: tc.text, PageSize: 50})
			if err != nil {
				return fmt.Errorf("search %q: %w", tc.text, err)
			}
			times = append(times, time.Since(start))
			got = len(resp.GetRecords())
		}
		all = append(all, times...)
		sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		text := tc.text
		if tc.what == "NFD" {
			text = "Tà Lùng (NFD)"
		}
		fmt.Printf("| `%s` | %s | %d | %s | %s |\n", text, tc.what, got, ms(times[len(times)/2]), ms(times[len(times)*99/100]))
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	fmt.Printf("\nAll queries together: p50 %s ms, p99 %s ms\n", ms(all[len(all)/2]), ms(all[len(all)*99/100]))
	return nil
}
