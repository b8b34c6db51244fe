package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"golang.org/x/text/unicode/norm"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
)

func writeRecord(t *testing.T, db *DB, m proto.Message) {
	t.Helper()
	k, _ := resource.KindOfMessage(m.ProtoReflect().Descriptor())
	if _, err := db.Write(context.Background(), storage.Write{Kind: k, Name: k.Name(m), Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
		return m, nil
	}}); err != nil {
		t.Fatal(err)
	}
}

// searchNames runs a search of every province's records of k for text,
// a page of 3 at a time, and returns the ids of the records found.
func searchNames(t *testing.T, db *DB, k *resource.Kind, text string) []string {
	t.Helper()
	var (
		out   []string
		after *storage.Cursor
	)
	for {
		page, err := db.List(context.Background(), storage.Query{Kind: k, Province: resource.AllProvinces, Text: text, After: after, Limit: 3})
		if err != nil {
			t.Fatalf("search %s for %q: %v", k.Collection, text, err)
		}
		for _, m := range page.Records {
			name := k.Name(m)
			out = append(out, name[strings.LastIndexByte(name, '/')+1:])
		}
		if page.Next == nil {
			return out
		}
		after = page.Next
	}
}

// searchFixture writes border gates and partnerships whose names differ by
// diacritics only, or by a syllable.
func searchFixture(t *testing.T, db *DB) {
	gates := []*borderv1.BorderGate{
		{Name: "provinces/cao-bang/border-gates/ta-lung", DisplayName: "Cửa khẩu quốc tế Tà Lùng", CounterpartName: "Shuikou (水口)"},
		{Name: "provinces/cao-bang/border-gates/tan-lung", DisplayName: "Cửa khẩu Tân Lũng", CounterpartName: "Longbang"},
		{Name: "provinces/cao-bang/border-gates/tra-linh", DisplayName: "Cửa khẩu Trà Lĩnh", CounterpartName: "Longbang"},
		{Name: "provinces/cao-bang/border-gates/dong-dang", DisplayName: norm.NFD.String("ĐỒNG ĐĂNG"), CounterpartName: "Pingxiang 凭祥"},
	}
	for _, g := range gates {
		writeRecord(t, db, g)
	}
	writeRecord(t, db, &twinningv1.Partnership{Name: "provinces/cao-bang/partnerships/baise", DisplayName: "Kết nghĩa Cao Bằng",
		Partner: &typev1.ForeignParty{Name: "Thành phố Bách Sắc (Baise)", CountryCode: "CN"}, LocalUnit: &typev1.LocalUnit{Name: "Hạ Lang"}})
	writeRecord(t, db, &twinningv1.Agreement{Name: "provinces/cao-bang/agreements/mou", DisplayName: "Biên bản ghi nhớ",
		ForeignParties: []*typev1.ForeignParty{{Name: "Sở Thương mại Quảng Tây"}, {Name: "Chính quyền Long Châu"}}})
}

// TestSearchFoldsCaseAndDiacritics: a search finds a record whatever the
// case, diacritics and normal form of the text and of the record, in its
// title and in its counterpart and partner names, read from the words
// index or, for words held by many rows, from the table in order.
func TestSearchFoldsCaseAndDiacritics(t *testing.T) {
	db := openAt(t, filepath.Join(t.TempDir(), "provex.db"))
	defer db.Close()
	searchFixture(t, db)
	cases := []struct {
		kind *resource.Kind
		text string
		want []string
	}{
		{resource.BorderGates, "Ta Lung", []string{"ta-lung"}},
		{resource.BorderGates, "TÀ LÙNG", []string{"ta-lung"}},
		{resource.BorderGates, "tà lùng", []string{"ta-lung"}},
		{resource.BorderGates, norm.NFD.String("Tà Lùng"), []string{"ta-lung"}},
		{resource.BorderGates, "ta lu", []string{"ta-lung"}},            // the last word may be cut short
		{resource.BorderGates, "lung", []string{"ta-lung", "tan-lung"}}, // a word of the title
		{resource.BorderGates, "Lũng", []string{"ta-lung", "tan-lung"}},
		{resource.BorderGates, "ung", nil},     // words match from their start only
		{resource.BorderGates, "lung ta", nil}, // in their order
		{resource.BorderGates, "t lung", nil},  // and whole, but the last
		{resource.BorderGates, "Đồng Đăng", []string{"dong-dang"}},
		{resource.BorderGates, "dong dang", []string{"dong-dang"}},
		{resource.BorderGates, "ĐÔNG", []string{"dong-dang"}},
		{resource.BorderGates, "shuikou", []string{"ta-lung"}}, // the counterpart's name
		{resource.BorderGates, "水口", []string{"ta-lung"}},
		{resource.BorderGates, "凭祥", []string{"dong-dang"}},
		{resource.BorderGates, "longbang", []string{"tan-lung", "tra-linh"}},
		{resource.BorderGates, "cua khau", []string{"ta-lung", "tan-lung", "tra-linh"}},
		{resource.BorderGates, "lung longbang", nil}, // a phrase stays within one field
		{resource.BorderGates, "  Cửa—khẩu  ", []string{"ta-lung", "tan-lung", "tra-linh"}},
		{resource.Partnerships, "bach sac", []string{"baise"}}, // the partner's locality
		{resource.Partnerships, "BAISE", []string{"baise"}},
		{resource.Partnerships, "ha lang", []string{"baise"}},
		{resource.Agreements, "quang tay", []string{"mou"}}, // each foreign party
		{resource.Agreements, "long chau", []string{"mou"}},
	}
	run := func(stage string) {
		for _, c := range cases {
			if got := searchNames(t, db, c.kind, c.text); !slices.Equal(got, c.want) {
				t.Errorf("%s: search %s for %q found %q, want %q", stage, c.kind.Collection, c.text, got, c.want)
			}
		}
	}
	run("from the words index")
	defer func(n int) { searchDense = n }(searchDense)
	searchDense = 1
	run("reading the table in order")

	for _, text := range []string{"", " ", "!?", "—"} {
		_, err := db.List(context.Background(), storage.Query{Kind: resource.BorderGates, Province: resource.AllProvinces, Text: text, Limit: 10})
		if text == "" {
			continue // no search
		}
		if e, ok := apperr.As(err); !ok || e.Code != codes.InvalidArgument || e.Violations[0].GetField() != "text" {
			t.Errorf("search for %q: %v, want INVALID_ARGUMENT naming text", text, err)
		}
	}
}

// TestSearchWordsFollowRecords: the words index holds exactly the words of
// the records' current search text through updates, a record withdrawn
// from the node, and a rebuild of an origin's records.
func TestSearchWordsFollowRecords(t *testing.T) {
	db := openAt(t, filepath.Join(t.TempDir(), "provex.db"))
	defer db.Close()
	searchFixture(t, db)
	writeRecord(t, db, &borderv1.BorderGate{Name: "provinces/cao-bang/border-gates/ta-lung", DisplayName: "Cửa khẩu Hùng Quốc"})
	if got := searchNames(t, db, resource.BorderGates, "tà lùng"); len(got) != 0 {
		t.Errorf("the old name still finds %q", got)
	}
	if got := searchNames(t, db, resource.BorderGates, "hung quoc"); !slices.Equal(got, []string{"ta-lung"}) {
		t.Errorf("the new name finds %q", got)
	}
	checkWords(t, db, "after an update")
	applyRemote(t, db, resource.BorderGates, func(name string) proto.Message {
		return &borderv1.BorderGate{Name: name, DisplayName: "Cửa khẩu Thanh Thủy " + name[len(name)-3:], CounterpartName: "Tianbao"}
	})
	if got := searchNames(t, db, resource.BorderGates, "thanh thuy q00"); len(got) != 0 {
		t.Errorf("the record withdrawn from the node is found: %q", got)
	}
	if got := searchNames(t, db, resource.BorderGates, "thanh thuy q01"); len(got) != 1 {
		t.Errorf("a record applied from nghe-an's log: found %q", got)
	}
	checkWords(t, db, "after applying another's log")
	rebuildOrigin(t, db, "nghe-an")
	checkWords(t, db, "after rebuilding nghe-an")
	if got := searchNames(t, db, resource.BorderGates, "tianbao"); len(got) != 59 {
		t.Errorf("after rebuilding nghe-an, its counterpart name finds %d records, want 59", len(got))
	}
}

// checkWords fails t unless every kind's words table holds exactly the
// words of its rows' search text, but those of rows whose words are
// pending, which it may lack; then it merges the pending words and checks
// that the table holds exactly every row's words.
func checkWords(t *testing.T, db *DB, stage string) {
	t.Helper()
	compareWords(t, db, stage, true)
	if err := db.runInWriter(context.Background(), func(tx *writeTx) error {
		for _, k := range resource.Kinds() {
			if err := mergePendingWords(tx, k); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	compareWords(t, db, stage+", merged", false)
}

func compareWords(t *testing.T, db *DB, stage string, pendingMayLack bool) {
	t.Helper()
	ids := func(q string) map[int64]bool {
		rows, err := db.reader.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[int64]bool{}
		for rows.Next() {
			var id int64
			rows.Scan(&id)
			out[id] = true
		}
		return out
	}
	for _, k := range resource.Kinds() {
		pending := ids("SELECT record FROM " + k.Table() + "_words_pending")
		if !pendingMayLack && len(pending) > 0 {
			t.Errorf("%s: %s: %d rows still pending", stage, k.Collection, len(pending))
		}
		want := map[string]bool{}
		wantOf := map[string]int64{}
		rows, err := db.reader.Query("SELECT id, search_text FROM " + k.Table())
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var (
				id   int64
				text string
			)
			rows.Scan(&id, &text)
			for _, w := range searchWords(text) {
				want[fmt.Sprint(w, "/", id)] = true
				wantOf[fmt.Sprint(w, "/", id)] = id
			}
		}
		rows.Close()
		got := map[string]bool{}
		rows, err = db.reader.Query("SELECT word, record FROM " + k.Table() + "_words")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var (
				w  string
				id int64
			)
			rows.Scan(&w, &id)
			got[fmt.Sprint(w, "/", id)] = true
		}
		rows.Close()
		for w := range want {
			if !got[w] && !(pendingMayLack && pending[wantOf[w]]) {
				t.Errorf("%s: %s: word/row %s is not indexed", stage, k.Collection, w)
			}
		}
		for w := range got {
			if !want[w] {
				t.Errorf("%s: %s: word/row %s is indexed but in no row's text", stage, k.Collection, w)
			}
		}
	}
}

// TestSearchTextOfOldRows: a database written before search_text (schema
// 11) gets the text and words of its rows when it is opened.
func TestSearchTextOfOldRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "provex.db")
	db := openAt(t, path)
	searchFixture(t, db)
	db.Close()
	raw, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(UndoMigration20() + UndoMigration19() + UndoMigration18() + UndoMigration17() + UndoMigration15() + UndoMigration12() + "PRAGMA user_version = 11"); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	db = openAt(t, path)
	defer db.Close()
	for text, want := range map[string]string{"TA LUNG": "ta-lung", "shuikou": "ta-lung", "dong dang": "dong-dang"} {
		if got := searchNames(t, db, resource.BorderGates, text); !slices.Equal(got, []string{want}) {
			t.Errorf("after the migration, %q finds %q, want %s", text, got, want)
		}
	}
	if got := searchNames(t, db, resource.Partnerships, "bach sac"); !slices.Equal(got, []string{"baise"}) {
		t.Errorf("after the migration, the partner's locality finds %q", got)
	}
	checkWords(t, db, "after the migration")
	var pending int
	db.reader.QueryRow("SELECT count(*) FROM reindex").Scan(&pending)
	if pending != 0 {
		t.Errorf("%d kinds still listed for reindexing", pending)
	}
}

// TestSearchReadsTheWordsIndex: a search for a rare word reads the rows
// the words table names (the planner looks each up by row id, in the
// table or in the delete_time index), not the whole table.
func TestSearchReadsTheWordsIndex(t *testing.T) {
	db := openAt(t, filepath.Join(t.TempDir(), "provex.db"))
	defer db.Close()
	searchFixture(t, db)
	for _, province := range []string{resource.AllProvinces, "cao-bang"} {
		where, args, err := db.searchWhere(context.Background(), resource.BorderGates, "Tà Lùng")
		if err != nil {
			t.Fatal(err)
		}
		q := "EXPLAIN QUERY PLAN SELECT id FROM border_gates WHERE delete_time = 0 AND " + where
		if province != resource.AllProvinces {
			q += " AND province = ?"
			args = append(args, province)
		}
		rows, err := db.reader.Query(q+" ORDER BY id LIMIT 51", args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var (
				a, b, c int
				detail  string
			)
			rows.Scan(&a, &b, &c, &detail)
			plan = append(plan, detail)
		}
		rows.Close()
		p := strings.Join(plan, "; ")
		if !strings.Contains(p, "SEARCH border_gates_words USING PRIMARY KEY") || !strings.Contains(p, "rowid=?)") || slices.ContainsFunc(plan, func(step string) bool {
			// The pending rows are read whole (a few hundred at most); the
			// kind's table never is.
			return step == "SCAN border_gates" || strings.HasPrefix(step, "SCAN border_gates ")
		}) {
			t.Errorf("province %s: the search does not start from the words index: %s", province, p)
		}
	}
}

// UndoMigration20 returns the SQL that takes a database back from schema 20
// (the pending words' tables; a store closed cleanly has none pending).
// Run it before UndoMigration19.
func UndoMigration20() string {
	var b strings.Builder
	for _, k := range resource.Kinds() {
		b.WriteString("DROP TABLE " + k.Table() + "_words_pending;\n")
	}
	return b.String()
}

// UndoMigration19 returns the SQL that takes a database back from migration
// 0019 (the organizations table), for tests that stand at an older schema
// and have the migrations applied again. The earlier Undo functions leave
// the kinds of later migrations alone: this one drops their tables.
func UndoMigration19() string {
	return "DROP TABLE organizations; DROP TABLE organizations_words;\n"
}

// UndoMigration18 returns the SQL that takes a database back from schema 18
// (the agreement procedure: agreement_opinions and the agreements' new
// column and indexes), for tests that stand at an older schema and have the
// migrations applied again. Run it after UndoMigration19, before UndoMigration17.
func UndoMigration18() string {
	return `DROP TABLE agreement_opinions; DROP TABLE agreement_opinions_words;
DROP INDEX agreements_consultation_due; DROP INDEX agreements_report_due;
DROP INDEX agreements_consultation_requested_date; ALTER TABLE agreements DROP COLUMN consultation_requested_date;
`
}

// laterThan17 are the kinds whose tables migrations after 17 create: the
// undo of an earlier migration leaves them alone, UndoMigration18 and 19
// having dropped them.
var laterThan17 = map[*resource.Kind]bool{resource.AgreementOpinions: true, resource.Organizations: true}

// UndoMigration17 returns the SQL that takes a database back from schema 17
// (the former_province columns), for tests that stand at an older schema
// and have the migrations applied again.
func UndoMigration17() string {
	var undo strings.Builder
	for _, k := range resource.Kinds() {
		if laterThan17[k] {
			continue
		}
		fmt.Fprintf(&undo, "DROP INDEX %s_former_province; ALTER TABLE %s DROP COLUMN former_province;\n", k.Table(), k.Table())
	}
	return undo.String()
}

// UndoMigration15 returns the SQL that takes a database back from schema 15
// (the partner_subdivision column), for tests that stand at an older schema
// and have the migrations applied again.
func UndoMigration15() string {
	return "DROP INDEX partnerships_partner_subdivision; ALTER TABLE partnerships DROP COLUMN partner_subdivision;\n"
}

// UndoMigration12 is SQL that takes a database back to schema 11 (for
// tests, here and in package sqlite_test, that play older databases).
func UndoMigration12() string {
	// Kinds of later migrations have no table in a stand-in for schema 11.
	later := map[*resource.Kind]bool{resource.IncidentAcknowledgements: true, resource.InformationRequests: true, resource.InformationResponses: true}
	var undo strings.Builder
	for _, k := range resource.Kinds() {
		if laterThan17[k] {
			continue
		}
		if later[k] {
			fmt.Fprintf(&undo, "DROP TABLE %s; DROP TABLE %s_words;\n", k.Table(), k.Table())
			continue
		}
		fmt.Fprintf(&undo, "ALTER TABLE %s DROP COLUMN search_text; DROP TABLE %s_words;\n", k.Table(), k.Table())
	}
	return undo.String()
}

// TestMigrationsNumberedInOrder: the embedded migrations are numbered 1 to
// N, and a gap or a repeat (two branches each adding "their" next number)
// is refused before any is applied.
func TestMigrationsNumberedInOrder(t *testing.T) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil || len(names) == 0 {
		t.Fatal(names, err)
	}
	sort.Strings(names)
	if err := numberedInOrder(names); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]string{
		{"migrations/0001_a.sql", "migrations/0003_c.sql"},
		{"migrations/0001_a.sql", "migrations/0002_b.sql", "migrations/0002_c.sql"},
		{"migrations/1_a.sql"},
	} {
		if err := numberedInOrder(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// TestMigrationsAreAppendOnly: a database records how many migrations it
// has applied, not which, so a migration changed, renumbered or removed
// after a node applied it is never applied to that node, and the ones after
// it run on a schema they were not written for (a data directory of
// 81f0d08, whose 0007 was read_audit, stopped the node of the next commit,
// whose 0007 was request_fingerprint: "duplicate column name: read").
// testdata/migrations.sha256 holds every migration as it was committed;
// a new one is added to it (sha256sum FILE >> testdata/migrations.sha256).
func TestMigrationsAreAppendOnly(t *testing.T) {
	ledger, err := os.ReadFile("testdata/migrations.sha256")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(ledger)), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("testdata/migrations.sha256: %q is not a line of sha256sum", line)
		}
		listed[name] = true
		body, err := fs.ReadFile(embeddedMigrations(name), name)
		if err != nil {
			t.Errorf("migration %s was removed or renumbered after it was committed: nodes that applied it keep it, and run the ones after it on its schema; put it back", name)
			continue
		}
		if got := fmt.Sprintf("%x", sha256.Sum256(body)); got != sum {
			t.Errorf("migration %s was changed after it was committed: nodes that applied it never apply its new text; put it back and add a migration after the last", name)
		}
	}
	for _, pattern := range []string{"migrations/*.sql", "postgres/*.sql"} {
		names, err := fs.Glob(embeddedMigrations(pattern), pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			if !listed[name] {
				t.Errorf("migration %s is not in testdata/migrations.sha256: once it is as it will be committed, run (in storage/sqlstore) sha256sum %s >> testdata/migrations.sha256", name, name)
			}
		}
	}
}

// embeddedMigrations is the embedded set that holds a migration's path.
func embeddedMigrations(name string) fs.FS {
	if strings.HasPrefix(name, "postgres/") {
		return postgresMigrations
	}
	return migrations
}

// TestPendingWordsAreFoundAndMerged: a record written on the node leaves its
// words pending instead of in the words index; searches find it all the
// same, by its new words and not its old ones, and the integrity check
// passes; once pendingWordsMerge rows wait, the commit that makes them so
// indexes their words; and a clean close leaves none pending.
func TestPendingWordsAreFoundAndMerged(t *testing.T) {
	defer func(n int) { pendingWordsMerge = n }(pendingWordsMerge)
	pendingWordsMerge = 4
	path := filepath.Join(t.TempDir(), "provex.db")
	db := openAt(t, path)
	count := func(q string) int {
		t.Helper()
		var n int
		if err := db.reader.QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	gate := func(id, name string) *borderv1.BorderGate {
		return &borderv1.BorderGate{Name: "provinces/cao-bang/border-gates/" + id, DisplayName: name}
	}
	writeRecord(t, db, gate("ta-lung", "Cửa khẩu Tà Lùng"))
	writeRecord(t, db, gate("tra-linh", "Cửa khẩu Trà Lĩnh"))
	if n := count("SELECT count(*) FROM border_gates_words_pending"); n != 2 {
		t.Fatalf("%d rows pending after two writes, want 2", n)
	}
	if n := count("SELECT count(*) FROM border_gates_words"); n != 0 {
		t.Fatalf("the words index holds %d words of pending rows", n)
	}
	if got := searchNames(t, db, resource.BorderGates, "tà lùng"); !slices.Equal(got, []string{"ta-lung"}) {
		t.Errorf("a pending row: search found %q", got)
	}
	// An update of a pending row: its new words find it, its old do not.
	writeRecord(t, db, gate("ta-lung", "Cửa khẩu Hùng Quốc"))
	if got := searchNames(t, db, resource.BorderGates, "tà lùng"); len(got) != 0 {
		t.Errorf("the old name of a pending row still finds %q", got)
	}
	if got := searchNames(t, db, resource.BorderGates, "hung quoc"); !slices.Equal(got, []string{"ta-lung"}) {
		t.Errorf("the new name of a pending row: search found %q", got)
	}
	if res, err := db.CheckRecords(context.Background()); err != nil || res.Found != 0 {
		t.Errorf("records check with rows pending: %+v, %v", res, err)
	}
	compareWords(t, db, "two rows pending", true)

	// The fourth pending row merges all four in its commit.
	writeRecord(t, db, gate("dong-dang", "Cửa khẩu Đồng Đăng"))
	writeRecord(t, db, gate("chi-ma", "Cửa khẩu Chi Ma"))
	if n := count("SELECT count(*) FROM border_gates_words_pending"); n != 0 {
		t.Errorf("%d rows pending after the fourth, want 0 (merged)", n)
	}
	compareWords(t, db, "merged at the fourth", false)
	for text, want := range map[string]string{"hung quoc": "ta-lung", "tra linh": "tra-linh", "dong dang": "dong-dang", "chi ma": "chi-ma"} {
		if got := searchNames(t, db, resource.BorderGates, text); !slices.Equal(got, []string{want}) {
			t.Errorf("after the merge, %q found %q, want %s", text, got, want)
		}
	}
	// A merged row updated: its old words leave the index at once.
	writeRecord(t, db, gate("chi-ma", "Cửa khẩu Pò Peo"))
	if got := searchNames(t, db, resource.BorderGates, "chi ma"); len(got) != 0 {
		t.Errorf("the old name of a merged row still finds %q", got)
	}
	if res, err := db.CheckRecords(context.Background()); err != nil || res.Found != 0 {
		t.Errorf("records check after the merge: %+v, %v", res, err)
	}
	db.Close()
	db = openAt(t, path)
	defer db.Close()
	if n := count("SELECT count(*) FROM border_gates_words_pending"); n != 0 {
		t.Errorf("%d rows pending after a clean close, want 0", n)
	}
	compareWords(t, db, "after a clean close", false)
	if got := searchNames(t, db, resource.BorderGates, "po peo"); !slices.Equal(got, []string{"chi-ma"}) {
		t.Errorf("after reopening, %q", got)
	}
}

// BenchmarkSearchWithPendingRows: what the rows whose words are pending add
// to a search: 20,000 border gates, their words merged, a search for a
// word 1 in 400 of them holds (a page of 50), with no row pending and
// then with pendingWordsMerge-1 written after them (as many as can wait).
func BenchmarkSearchWithPendingRows(b *testing.B) {
	db, err := Open(context.Background(), filepath.Join(b.TempDir(), "provex.db"), "cao-bang", Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	write := func(from, to int) {
		var wg sync.WaitGroup
		next := make(chan int)
		for range 64 {
			wg.Go(func() {
				for i := range next {
					m := &borderv1.BorderGate{Name: fmt.Sprintf("provinces/cao-bang/border-gates/g%d", i), DisplayName: fmt.Sprintf("Cửa khẩu Tà Lùng %d gate%d", i, i%400)}
					if _, err := db.Write(context.Background(), storage.Write{Kind: resource.BorderGates, Name: m.Name, Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
						return m, nil
					}}); err != nil {
						b.Error(err)
					}
				}
			})
		}
		for i := from; i < to; i++ {
			next <- i
		}
		close(next)
		wg.Wait()
	}
	write(0, 20000)
	if err := db.runInWriter(context.Background(), func(tx *writeTx) error { return mergePendingWords(tx, resource.BorderGates) }); err != nil {
		b.Fatal(err)
	}
	search := func(b *testing.B) {
		for b.Loop() {
			page, err := db.List(context.Background(), storage.Query{Kind: resource.BorderGates, Province: resource.AllProvinces, Text: "gate7", Limit: 50})
			if err != nil || len(page.Records) != 50 {
				b.Fatalf("%d records, %v", len(page.Records), err)
			}
		}
	}
	b.Run("pending=0", search)
	write(20000, 20000+pendingWordsMerge-1)
	var n int
	if err := db.reader.QueryRow("SELECT count(*) FROM border_gates_words_pending").Scan(&n); err != nil || n != pendingWordsMerge-1 {
		b.Fatalf("%d rows pending, %v", n, err)
	}
	b.Run(fmt.Sprintf("pending=%d", n), search)
}

// TestLongFoldedWordsAreFound: a word whose folded form is longer than the
// words table indexes (a run of "㌖", each folded to the 18 bytes of
// キロメートル) is indexed by its start, and found by a search for it,
// whole or in part, before and after its row's words are merged. Such
// words were left out of the index, and once merged no search for them
// found the row (an outside review).
func TestLongFoldedWordsAreFound(t *testing.T) {
	defer func(n, m int) { pendingWordsMerge, maxIndexedText = n, m }(pendingWordsMerge, maxIndexedText)
	pendingWordsMerge, maxIndexedText = 3, 40 // three "㌖" fold to 54 bytes
	db := openAt(t, filepath.Join(t.TempDir(), "provex.db"))
	defer db.Close()
	long := strings.Repeat("㌖", 3)
	gates := []*borderv1.BorderGate{
		{Name: "provinces/cao-bang/border-gates/long", DisplayName: "Cửa khẩu " + long + " Bắc"},
		{Name: "provinces/cao-bang/border-gates/other", DisplayName: "Cửa khẩu " + strings.Repeat("㌖", 2) + "㍍ Bắc"},
	}
	searches := map[string][]string{
		"㌖":                {"long", "other"},
		"cửa khẩu " + long: {"long"},
		long + " bắc":      {"long"},
		long + "㌖":         nil,
		"cửa khẩu ㌖㌖㍍ bắc": {"other"},
	}
	check := func(stage string) {
		t.Helper()
		for text, want := range searches {
			got := searchNames(t, db, resource.BorderGates, text)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s: a search for %q found %q, want %q", stage, text, got, want)
			}
		}
	}
	writeRecord(t, db, gates[0])
	writeRecord(t, db, gates[1])
	check("pending")
	// The third pending row merges the three.
	writeRecord(t, db, &borderv1.BorderGate{Name: "provinces/cao-bang/border-gates/third", DisplayName: "Cửa khẩu Trà Lĩnh"})
	var pending int
	if err := db.reader.QueryRow("SELECT count(*) FROM border_gates_words_pending").Scan(&pending); err != nil || pending != 0 {
		t.Fatalf("%d rows pending after the third write (%v), want them merged", pending, err)
	}
	check("merged")
	if res, err := db.CheckRecords(context.Background()); err != nil || res.Found != 0 {
		t.Errorf("records check: %+v, %v", res, err)
	}
}
