package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/provex/provex/changelog"
	investmentv1 "github.com/provex/provex/gen/go/provex/investment/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage/sqlstore"
)

// TestCheckRecordsFindsRowsEditedOnDisk: the ministry holds a province's
// records, one of them sealed (its row keeps the opened state, which reads
// serve as it is). A hand on the database edits what the logs' hashes do
// not cover: a filter column, the sealed record's kept state, a repeated
// field's element, a record's search words, and adds a word of no record.
// The change-log check passes all of that; CheckRecords names each, on
// both databases, and finds nothing on the untouched store.
func TestCheckRecordsFindsRowsEditedOnDisk(t *testing.T) {
	ctx := context.Background()
	keys, sealers, origin, sign := sealingOrigin(t, "cao-bang", "lang-son", "mofa")
	name := func(id string) string { return "provinces/cao-bang/projects/" + id }
	for _, id := range []string{"column", "elements", "words", "removed"} {
		putProject(t, origin, &investmentv1.Project{Name: name(id), DisplayName: "Project " + id, Kind: investmentv1.Project_KIND_FDI,
			Organizations: []string{"provinces/mofa/organizations/a", "provinces/mofa/organizations/b"}})
	}
	putProject(t, origin, &investmentv1.Project{Name: name("sealed"), DisplayName: "Sealed project", Kind: investmentv1.Project_KIND_ODA,
		Visibility: typev1.Visibility_VISIBILITY_RESTRICTED, VisibleTo: []string{"lang-son"}})
	gone := &investmentv1.Project{Name: name("gone"), DisplayName: "Withdrawn project", Kind: investmentv1.Project_KIND_ODA,
		Organizations: []string{"provinces/mofa/organizations/c"}}
	putProject(t, origin, gone)
	gone.DeleteTime = timestamppb.Now()
	putProject(t, origin, gone)
	if got, err := origin.CheckRecords(ctx); err != nil || got.Found != 0 || got.Checked != 6 {
		t.Fatalf("the origin's own records: %+v, %v", got, err)
	}
	entries, err := origin.Changes(ctx, "cao-bang", 0, 100)
	if err != nil || len(entries) != 7 {
		t.Fatalf("%d entries, %v", len(entries), err)
	}
	last := entries[len(entries)-1]
	cp := changelog.SignCheckpoint(sign, "cao-bang", last.Seq, last.Hash)

	for _, store := range databases {
		t.Run(store, func(t *testing.T) {
			path := newLocation(t, store)
			open := func(sealer *changelog.Sealer) *sqlstore.DB {
				db, err := sqlstore.Open(ctx, path, "mofa", sqlstore.Options{Sealer: sealer, Directory: keys})
				if err != nil {
					t.Fatal(err)
				}
				return db
			}
			db := open(sealers["mofa"])
			if refused, err := db.ApplyRemote(ctx, entries, cp); err != nil || len(refused) > 0 {
				t.Fatalf("apply: %v %v", refused, err)
			}
			got, err := db.CheckRecords(ctx)
			if err != nil || got.Found != 0 || got.Checked != 6 || got.SealedUnchecked != 0 {
				t.Fatalf("the untouched store: %+v, %v; want 6 rows checked, no problem", got, err)
			}
			db.Close()
			// Without the node's keys the sealed record's state is not compared, and it says so.
			db = open(nil)
			if got, err := db.CheckRecords(ctx); err != nil || got.Found != 0 || got.SealedUnchecked != 1 {
				t.Fatalf("the untouched store, opened without the keys: %+v, %v", got, err)
			}
			db.Close()

			raw := openRaw(t, path)
			flip := "CAST(substr(data, 1, 10) || X'ff' || substr(data, 12) AS BLOB)"
			if store == "postgres" {
				flip = "set_byte(data, 10, get_byte(data, 10) # 255)"
			}
			for _, q := range []string{
				"UPDATE projects SET display_name = 'TAMPERED' WHERE name = '" + name("column") + "'",
				"UPDATE projects SET data = " + flip + " WHERE name = '" + name("sealed") + "'",
				"UPDATE record_elements SET value = 'provinces/mofa/organizations/x' WHERE value = 'provinces/mofa/organizations/b' AND record = (SELECT id FROM projects WHERE name = '" + name("elements") + "')",
				"DELETE FROM projects_words WHERE record = (SELECT id FROM projects WHERE name = '" + name("words") + "')",
				"INSERT INTO projects_words (word, record) VALUES ('forged', (SELECT id FROM projects WHERE name = '" + name("column") + "'))",
				// A record taken away whole: it passed every check.
				"DELETE FROM record_elements WHERE record = (SELECT id FROM projects WHERE name = '" + name("removed") + "')",
				"DELETE FROM projects_words WHERE record = (SELECT id FROM projects WHERE name = '" + name("removed") + "')",
				"DELETE FROM projects WHERE name = '" + name("removed") + "'",
			} {
				if _, err := raw.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			db = open(sealers["mofa"])
			defer db.Close()
			got, err = db.CheckRecords(ctx)
			if err != nil {
				t.Fatal(err)
			}
			all := strings.Join(got.Problems, "\n")
			for _, want := range []string{
				name("column") + ": its column display_name holds \"TAMPERED\"",
				name("sealed") + ": the state its row keeps is not the one its sealed entry",
				name("elements") + ": its organizations are",
				name("words") + ": the search index holds 0 of its",
				"projects: the search index holds",
				name("removed") + ": the log holds entry 4 of it, which this node reads, but no row holds the record",
			} {
				if !strings.Contains(all, want) {
					t.Errorf("no problem %q among:\n%s", want, all)
				}
			}
		})
	}
}

// TestCheckRecordsFindsARowSetBackToAnOlderEntry: a hand on the file
// points a record's row back at the record's previous entry (its seq) and
// makes its columns and words that entry's. Reads serve the superseded
// state, every column agrees with the entry the row names, and only the
// log says a later entry of the record was applied.
func TestCheckRecordsFindsARowSetBackToAnOlderEntry(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "n.db")
	db, err := sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	name := "provinces/cao-bang/projects/p"
	putProject(t, db, &investmentv1.Project{Name: name, DisplayName: "Alpha", Kind: investmentv1.Project_KIND_FDI})
	putProject(t, db, &investmentv1.Project{Name: name, DisplayName: "Beta", Kind: investmentv1.Project_KIND_FDI})
	es, err := db.Changes(ctx, "cao-bang", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	first, err := resource.Projects.Decode(es[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	ct := first.(*investmentv1.Project).CreateTime.AsTime().UnixNano()
	db.Close()
	raw, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"UPDATE projects SET seq = 1, display_name = 'Alpha', search_text = replace(search_text, 'beta', 'alpha'), create_time = " + fmt.Sprint(ct) + ", update_time = " + fmt.Sprint(ct) + " WHERE name = '" + name + "'",
		"UPDATE projects_words SET word = 'alpha' WHERE word = 'beta'",
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	raw.Close()
	db, err = sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m, err := db.Get(ctx, resource.Projects, name)
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.CheckRecords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m.(*investmentv1.Project).DisplayName != "Alpha" {
		t.Fatalf("the edited row serves %q, want the superseded Alpha (the edit did not take)", m.(*investmentv1.Project).DisplayName)
	}
	if got.Found != 1 || !strings.Contains(got.Problems[0], name+": its row holds entry cao-bang/1, but the log holds a later one, 2, that this node reads") {
		t.Errorf("CheckRecords: %+v; want the row set back named", got)
	}
}
