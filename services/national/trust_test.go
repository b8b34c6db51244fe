package national_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	investmentv1 "github.com/provex/provex/gen/go/provex/investment/v1"
	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/services/collection"
	"github.com/provex/provex/services/national"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

// trustStore is a real SQLite store with a national server over it.
func trustStore(t *testing.T) (*sqlstore.DB, *national.Server) {
	t.Helper()
	return trustStoreAnswering(t, 4<<20)
}

// trustStoreAnswering is trustStore whose answers hold at most maxAnswer
// bytes.
func trustStoreAnswering(t *testing.T, maxAnswer int) (*sqlstore.DB, *national.Server) {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "provex.db"), "cao-bang", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, national.New(&collection.Node{Store: db}, func(context.Context) ([]*nationalv1.ProvinceFreshness, error) { return nil, nil }, maxAnswer)
}

func putRecord(t *testing.T, db *sqlstore.DB, k *resource.Kind, name string, m proto.Message) {
	t.Helper()
	if _, err := db.Write(context.Background(), storage.Write{Kind: k, Name: name, Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
		return m, nil
	}}); err != nil {
		t.Fatal(err)
	}
}

// TestSummaryTotalCountsEachRecordOnce groups delegations by their repeated
// countries: a delegation to CN and LA is in both groups, but once in the
// total's count and sum.
func TestSummaryTotalCountsEachRecordOnce(t *testing.T) {
	db, s := trustStore(t)
	for _, d := range []struct {
		id        string
		countries []string
		members   int32
	}{{"a", []string{"CN", "LA"}, 10}, {"b", []string{"CN"}, 5}, {"c", []string{"LA"}, 0}} {
		name := "provinces/cao-bang/delegations/" + d.id
		putRecord(t, db, resource.Delegations, name, &twinningv1.Delegation{Name: name, DisplayName: d.id,
			Direction: twinningv1.Delegation_DIRECTION_OUTGOING, Countries: d.countries, MemberCount: d.members})
	}
	for _, groupBy := range [][]string{{"countries"}, {"countries", "province"}, {"direction", "countries"}} {
		resp, err := s.Summarize(context.Background(), &nationalv1.SummarizeRequest{Collection: "delegations", GroupBy: groupBy, Sum: []string{"member_count"}})
		if err != nil {
			t.Fatal(err)
		}
		var groups int64
		for _, g := range resp.GetGroups() {
			groups += g.GetCount()
		}
		if groups != 4 {
			t.Errorf("%v: groups count %d record-elements, want 4 (CN twice, LA twice)", groupBy, groups)
		}
		if c, sum := resp.GetTotal().GetCount(), resp.GetTotal().GetSums()[0].GetValue(); c != 3 || sum != 15 {
			t.Errorf("%v: total count %d, member_count %d; want 3 records of 15 members", groupBy, c, sum)
		}
	}
}

// TestSummaryZeroSumsArePresent checks that a group without amounts still
// has its Sum of 0, in the proto and in JSON, for integer and money fields.
func TestSummaryZeroSumsArePresent(t *testing.T) {
	db, s := trustStore(t)
	put := func(id string, kind investmentv1.Project_Kind, capital *typev1.Money) {
		name := "provinces/cao-bang/projects/" + id
		putRecord(t, db, resource.Projects, name, &investmentv1.Project{Name: name, DisplayName: id, Kind: kind, RegisteredCapital: capital})
	}
	put("fdi", investmentv1.Project_KIND_FDI, &typev1.Money{CurrencyCode: "USD", Units: 100})
	put("oda", investmentv1.Project_KIND_ODA, nil)
	put("ngo", investmentv1.Project_KIND_NGO_AID, &typev1.Money{CurrencyCode: "USD", Units: 0})

	resp, err := s.Summarize(context.Background(), &nationalv1.SummarizeRequest{Collection: "projects", GroupBy: []string{"kind"}, Sum: []string{"registered_capital"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetGroups()) != 3 {
		t.Fatalf("groups: %v", resp.GetGroups())
	}
	for _, g := range append(resp.GetGroups(), resp.GetTotal()) {
		if len(g.GetSums()) != 1 || g.GetSums()[0].GetCurrencyCode() != "USD" || g.GetSums()[0].Value == nil {
			t.Errorf("group %v: sums %v, want one USD sum", g.GetKeys(), g.GetSums())
		}
	}
	js, err := protojson.Marshal(resp.GetGroups()[1]) // KIND_ODA: no capital at all
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.ReplaceAll(string(js), " ", ""), `"value":"0"`) {
		t.Errorf("JSON of a zero sum: %s", js)
	}
	table := national.Table(resp)
	if got := strings.Join(table[2], ","); got != "KIND_ODA,1,0" {
		t.Errorf("table row %q, want KIND_ODA,1,0", got)
	}

	// No amounts anywhere: still a Sum of 0 per group, without a currency.
	resp, err = s.Summarize(context.Background(), &nationalv1.SummarizeRequest{Collection: "projects", GroupBy: []string{"kind"}, Sum: []string{"registered_capital"}, Filter: "kind = ODA"})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range append(resp.GetGroups(), resp.GetTotal()) {
		if len(g.GetSums()) != 1 || g.GetSums()[0].Value == nil || g.GetSums()[0].GetValue() != 0 {
			t.Errorf("no amounts, group %v: sums %v", g.GetKeys(), g.GetSums())
		}
	}
}

// TestSummaryKeepsTheTextUnsetApartFromNoValue groups projects by investor
// where one has no investor and one is named "unset", as an editor may: two
// groups, each with its own count and sum, the named one shown quoted.
// Both were keyed "unset", and the answer listed one of them twice.
func TestSummaryKeepsTheTextUnsetApartFromNoValue(t *testing.T) {
	db, s := trustStore(t)
	for _, p := range []struct {
		id, investor string
		capital      int64
	}{{"none", "", 100}, {"named", "unset", 7}, {"named-too", "unset", 1}, {"quoted", `"unset"`, 30}, {"total", "total", 9999}} {
		name := "provinces/cao-bang/projects/" + p.id
		putRecord(t, db, resource.Projects, name, &investmentv1.Project{Name: name, DisplayName: p.id, Investor: p.investor,
			RegisteredCapital: &typev1.Money{CurrencyCode: "USD", Units: p.capital}})
	}
	resp, err := s.Summarize(context.Background(), &nationalv1.SummarizeRequest{Collection: "projects", GroupBy: []string{"investor"}, Sum: []string{"registered_capital"}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]int64{}
	for _, g := range resp.GetGroups() {
		got[strings.Join(g.GetKeys(), ",")] = [2]int64{g.GetCount(), g.GetSums()[0].GetValue()}
	}
	// The text "unset" with its quotes is a group of its own: it was keyed
	// as the word is (an outside review).
	// An investor named "total" is quoted too: a table's row of totals is
	// keyed total, and summary.csv showed that group as a second one.
	want := map[string][2]int64{"unset": {1, 100}, `"unset"`: {2, 8}, `"\"unset\""`: {1, 30}, `"total"`: {1, 9999}}
	if len(resp.GetGroups()) != 4 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("groups (keys: count, sum) %v, want %v", got, want)
	}
	// The quoted key is what a filter names the group by, as for any text.
	resp, err = s.Summarize(context.Background(), &nationalv1.SummarizeRequest{Collection: "projects", Filter: `investor = "unset"`})
	if err != nil {
		t.Fatal(err)
	}
	if c := resp.GetTotal().GetCount(); c != 2 {
		t.Errorf(`investor = "unset" matched %d, want 2`, c)
	}
}

// TestSummaryPages groups 40 projects by investor and reads the groups in
// pages: by page_size, and by the answer's bytes when the groups do not
// fit (without a page_size that is refused, not sent in part). A token
// of another query is refused; a page after groups came before the one a
// page ended with goes on after it, and one whose last group is gone is
// ABORTED.
func TestSummaryPages(t *testing.T) {
	db, s := trustStoreAnswering(t, 2000)
	put := func(id, investor string) {
		name := "provinces/cao-bang/projects/" + id
		putRecord(t, db, resource.Projects, name, &investmentv1.Project{Name: name, DisplayName: id, Investor: investor})
	}
	var want []string
	for i := range 40 {
		investor := fmt.Sprintf("Investor %02d with a name long enough to fill pages", i)
		put(fmt.Sprint("p", i), investor)
		want = append(want, investor)
	}
	ctx := context.Background()
	summarize := func(size int32, token string) (*nationalv1.SummarizeResponse, error) {
		return s.Summarize(ctx, &nationalv1.SummarizeRequest{Collection: "projects", GroupBy: []string{"investor"}, PageSize: size, PageToken: token})
	}
	all := func(size int32) (keys []string, pages int) {
		t.Helper()
		token := ""
		for {
			resp, err := summarize(size, token)
			if err != nil {
				t.Fatalf("page_size %d, page %d: %v", size, pages+1, err)
			}
			pages++
			if n := proto.Size(resp); n > 2000 {
				t.Errorf("page_size %d: a page of %d bytes, over the 2000 an answer holds", size, n)
			}
			if c := resp.GetTotal().GetCount(); c != 40 {
				t.Errorf("page_size %d: page %d's total %d, want 40", size, pages, c)
			}
			for _, g := range resp.GetGroups() {
				keys = append(keys, g.GetKeys()[0])
			}
			if token = resp.GetNextPageToken(); token == "" {
				return keys, pages
			}
		}
	}
	if _, err := summarize(0, ""); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "page_size") {
		t.Errorf("every group asked for, more than an answer holds: %v, want INVALID_ARGUMENT on page_size", err)
	}
	for _, size := range []int32{3, 7, 10000} {
		keys, pages := all(size)
		if !slices.Equal(keys, want) {
			t.Errorf("page_size %d: groups %q, want %q", size, keys, want)
		}
		if size == 3 && pages != 14 {
			t.Errorf("page_size 3: %d pages, want 14", pages)
		}
		if size == 10000 && pages < 2 {
			t.Errorf("page_size 10000: %d page, want the bytes to split them", pages)
		}
	}

	first, err := summarize(5, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Summarize(ctx, &nationalv1.SummarizeRequest{Collection: "projects", GroupBy: []string{"investor"}, Filter: "kind = FDI", PageSize: 5, PageToken: first.GetNextPageToken()}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("a token with another filter: %v, want INVALID_ARGUMENT", err)
	}
	// Two groups come before the page's last: the next page still starts
	// after it.
	put("early-a", "A first investor")
	put("early-b", "A second investor")
	next, err := summarize(5, first.GetNextPageToken())
	if err != nil {
		t.Fatal(err)
	}
	if got := next.GetGroups()[0].GetKeys()[0]; got != want[5] {
		t.Errorf("after groups came before it, the next page starts at %q, want %q", got, want[5])
	}
	// The page's last group is gone (its one project has another investor).
	put("p4", "Z last investor")
	if _, err := summarize(5, first.GetNextPageToken()); status.Code(err) != codes.Aborted {
		t.Errorf("the page's last group gone: %v, want ABORTED", err)
	}
}

// TestTableWithoutDimensionsHasOneRow: a summary without group_by is one
// group, the whole, and its table one row of figures under the header (it
// printed the same row twice).
func TestTableWithoutDimensionsHasOneRow(t *testing.T) {
	db, s := trustStore(t)
	name := "provinces/cao-bang/delegations/d"
	putRecord(t, db, resource.Delegations, name, &twinningv1.Delegation{Name: name, DisplayName: "d", Direction: twinningv1.Delegation_DIRECTION_OUTGOING, MemberCount: 4})
	resp, err := s.Summarize(context.Background(), &nationalv1.SummarizeRequest{Collection: "delegations", Sum: []string{"member_count"}})
	if err != nil {
		t.Fatal(err)
	}
	if table := national.Table(resp); len(table) != 2 || strings.Join(table[1], ",") != "1,4" {
		t.Errorf("table %q, want a header and the row 1,4", table)
	}
}

// TestSummaryKeysAnUnsetEnumUnset: a record whose enum is not set (its
// *_UNSPECIFIED) is in the group keyed "unset", as a text without a value
// is; it was keyed KIND_UNSPECIFIED (an outside review).
func TestSummaryKeysAnUnsetEnumUnset(t *testing.T) {
	db, s := trustStore(t)
	for id, kind := range map[string]investmentv1.Project_Kind{"no-kind": investmentv1.Project_KIND_UNSPECIFIED, "oda": investmentv1.Project_KIND_ODA} {
		name := "provinces/cao-bang/projects/" + id
		putRecord(t, db, resource.Projects, name, &investmentv1.Project{Name: name, DisplayName: id, Kind: kind})
	}
	resp, err := s.Summarize(context.Background(), &nationalv1.SummarizeRequest{Collection: "projects", GroupBy: []string{"kind"}})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, g := range resp.GetGroups() {
		keys = append(keys, strings.Join(g.GetKeys(), ","))
	}
	if slices.Sort(keys); strings.Join(keys, " ") != "KIND_ODA unset" {
		t.Errorf("groups by kind: %v, want KIND_ODA and unset", keys)
	}
}
