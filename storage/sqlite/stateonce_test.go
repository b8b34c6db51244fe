package sqlite_test

import (
	"context"
	"database/sql"
	"testing"

	"google.golang.org/protobuf/proto"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage/sqlite"
)

// rowCopies returns, per record name of table, the length of the state its
// row keeps itself.
func rowCopies(t *testing.T, path, table string) map[string]int {
	t.Helper()
	raw, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	rows, err := raw.Query("SELECT name, length(data) FROM " + table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var (
			name string
			n    int
		)
		if err := rows.Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		out[name] = n
	}
	return out
}

// TestStateStoredOnce: a record whose change-log entry holds its state as
// it is keeps no copy in its row, on the node that wrote it and on one
// that applied the entry; a sealed state keeps its only plain copy in the
// row. Every read returns the state written.
func TestStateStoredOnce(t *testing.T) {
	ms := federationOf(t, "cao-bang", "mofa")
	o, m := ms["cao-bang"], ms["mofa"]
	name := func(id string) string { return "provinces/cao-bang/agreements/" + id }
	public := &twinningv1.Agreement{Name: name("public"), DisplayName: "public", Visibility: typev1.Visibility_VISIBILITY_PUBLIC}
	national := &twinningv1.Agreement{Name: name("national"), DisplayName: "national", Visibility: typev1.Visibility_VISIBILITY_NATIONAL}
	put(t, o, public)
	put(t, o, national)
	public.DisplayName = "public, changed"
	put(t, o, public)
	syncAll(t, ms, "cao-bang")
	ctx := context.Background()
	for _, mem := range []*member{o, m} {
		for _, want := range []*twinningv1.Agreement{public, national} {
			got, err := mem.db.Get(ctx, resource.Agreements, want.Name)
			if err != nil || got.(*twinningv1.Agreement).GetDisplayName() != want.DisplayName {
				t.Errorf("%s: Get %s = %v, %v; want display name %q", mem.id, want.Name, got, err, want.DisplayName)
			}
		}
		if mem == m {
			// The applied run costs one audit record, not one per entry.
			records, err := m.db.AuditRecords(ctx, 0, 100, "", "")
			if err != nil || len(records) != 1 || records[0].FirstSeq != 1 || records[0].LastSeq != 3 {
				t.Errorf("audit of a run of 3 entries applied: %+v, %v; want one record of entries 1..3", records, err)
			}
		}
		copies := rowCopies(t, mem.path, "agreements")
		if copies[public.Name] != 0 || copies[national.Name] == 0 {
			t.Errorf("%s: row copies %v; want none of the public state and the opened national one", mem.id, copies)
		}
	}
}

// TestOldRowsDropTheirCopy plays a database written before schema 9, whose
// rows keep a copy of every state: migration 9 drops the copies the log
// holds as they are, keeps the sealed ones', and reads are unchanged.
func TestOldRowsDropTheirCopy(t *testing.T) {
	ms := federationOf(t, "cao-bang", "mofa")
	o := ms["cao-bang"]
	name := func(id string) string { return "provinces/cao-bang/agreements/" + id }
	put(t, o, &twinningv1.Agreement{Name: name("public"), DisplayName: "public", Visibility: typev1.Visibility_VISIBILITY_PUBLIC})
	put(t, o, &twinningv1.Agreement{Name: name("national"), DisplayName: "national", Visibility: typev1.Visibility_VISIBILITY_NATIONAL})
	ctx := context.Background()
	before := map[string]proto.Message{}
	for _, id := range []string{"public", "national"} {
		before[id], _ = o.db.Get(ctx, resource.Agreements, name(id))
	}
	o.db.Close()
	raw, err := sql.Open("sqlite3", "file:"+o.path)
	if err != nil {
		t.Fatal(err)
	}
	// As schema 8 wrote it: the public row keeps the state its entry holds.
	if _, err := raw.Exec(`UPDATE agreements SET data = (SELECT c.data FROM changes c WHERE c.origin = agreements.province AND c.seq = agreements.seq)
		WHERE length(data) = 0; PRAGMA user_version = 8`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if copies := rowCopies(t, o.path, "agreements"); copies[name("public")] == 0 {
		t.Fatalf("the old row keeps no copy: %v", copies)
	}
	db, err := sqlite.Open(ctx, o.path, "cao-bang", sqlite.Options{Key: o.key})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if copies := rowCopies(t, o.path, "agreements"); copies[name("public")] != 0 || copies[name("national")] == 0 {
		t.Errorf("after migration 9: row copies %v; want none of the public state and the national one kept", copies)
	}
	for id, want := range before {
		if got, err := db.Get(ctx, resource.Agreements, name(id)); err != nil || !proto.Equal(got, want) {
			t.Errorf("Get %s after migration 9: %v, %v; want %v", id, got, err, want)
		}
	}
}
