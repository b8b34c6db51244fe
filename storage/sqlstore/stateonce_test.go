package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/changelog"
	investmentv1 "github.com/provex/provex/gen/go/provex/investment/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/filter"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
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
	if _, err := raw.Exec(sqlstore.UndoMigration20() + sqlstore.UndoMigration19() + sqlstore.UndoMigration18() + sqlstore.UndoMigration17() + sqlstore.UndoMigration15() + sqlstore.UndoMigration12() + undoMigration10 + `UPDATE agreements SET data = (SELECT c.data FROM changes c WHERE c.origin = agreements.province AND c.seq = agreements.seq)
		WHERE length(data) = 0; PRAGMA user_version = 8`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if copies := rowCopies(t, o.path, "agreements"); copies[name("public")] == 0 {
		t.Fatalf("the old row keeps no copy: %v", copies)
	}
	db, err := sqlstore.Open(ctx, o.path, "cao-bang", sqlstore.Options{Key: o.key})
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

// TestJoinedRunsKeepTheirCheckpoints: runs joined into one ApplyRemote
// keep every checkpoint that ends one of them, so the node passes on
// proofs as dense as it received; a checkpoint past the entries or of
// another origin is not stored.
func TestJoinedRunsKeepTheirCheckpoints(t *testing.T) {
	ms := federationOf(t, "cao-bang", "mofa")
	o, m := ms["cao-bang"], ms["mofa"]
	for i := range 10 {
		put(t, o, &twinningv1.Agreement{Name: fmt.Sprintf("provinces/cao-bang/agreements/j%d", i), DisplayName: "j"})
	}
	ctx := context.Background()
	entries, err := o.db.Changes(ctx, "cao-bang", 0, 100)
	if err != nil || len(entries) != 10 {
		t.Fatalf("origin's log: %d entries, %v", len(entries), err)
	}
	cp := func(seq int) changelog.Checkpoint {
		return changelog.SignCheckpoint(o.key, "cao-bang", uint64(seq), entries[seq-1].Hash)
	}
	stranger := changelog.SignCheckpoint(o.key, "lang-son", 4, entries[3].Hash)
	past := changelog.Checkpoint{Origin: "cao-bang", Seq: 12, Hash: entries[9].Hash, Signature: []byte("x")}
	if _, err := m.db.ApplyRemote(ctx, entries, cp(10), cp(3), cp(6), stranger, past); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ upTo, want uint64 }{{2, 0}, {5, 3}, {8, 6}, {11, 10}, {20, 10}} {
		got, err := m.db.Checkpoint(ctx, "cao-bang", c.upTo)
		if err != nil || got.Seq != c.want {
			t.Errorf("checkpoint of cao-bang up to %d: %d, %v; want %d", c.upTo, got.Seq, err, c.want)
		}
	}
	if got, _ := m.db.Checkpoint(ctx, "lang-son", 100); got.Seq != 0 {
		t.Errorf("a checkpoint of another origin was stored: %+v", got)
	}
}

// TestStateIsTheRecordsOwn: the store writes only its own province's
// records (their state is read from its own log), and a row pointing at
// another record's entry (a file edited, a repair gone wrong) reads as
// DATA_LOSS, never as that other record, and the store says so
// (RowDamage, for health). It read as UNAVAILABLE, waiting for a repair
// of the log, which is intact, so that none came (an outside review).
func TestStateIsTheRecordsOwn(t *testing.T) {
	ms := federationOf(t, "cao-bang")
	o := ms["cao-bang"]
	ctx := context.Background()
	other := "provinces/lang-son/agreements/x"
	_, err := o.db.Write(ctx, storage.Write{Kind: resource.Agreements, Name: other, Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
		return &twinningv1.Agreement{Name: other}, nil
	}})
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("write of %s on cao-bang's store: %v; want PermissionDenied", other, err)
	}
	a, b := "provinces/cao-bang/agreements/a", "provinces/cao-bang/agreements/b"
	put(t, o, &twinningv1.Agreement{Name: a, DisplayName: "a"})
	put(t, o, &twinningv1.Agreement{Name: b, DisplayName: "b"})
	o.db.Close()
	raw, err := sql.Open("sqlite3", "file:"+o.path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec("UPDATE agreements SET seq = (SELECT seq FROM agreements WHERE name = ?) WHERE name = ?", b, a); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	db, err := sqlstore.Open(ctx, o.path, "cao-bang", sqlstore.Options{Key: o.key})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if name, _ := db.RowDamage(); name != "" {
		t.Fatalf("row damage noted before a read found it: %s", name)
	}
	if got, err := db.Get(ctx, resource.Agreements, a); status.Code(err) != codes.DataLoss || !strings.Contains(err.Error(), "changed outside the node") {
		t.Errorf("Get %s whose row names %s's entry: %v, %v; want DataLoss saying the row was changed", a, b, got, err)
	}
	if _, err := db.List(ctx, storage.Query{Kind: resource.Agreements, Province: "cao-bang", Limit: 10}); status.Code(err) != codes.DataLoss {
		t.Errorf("List over it: %v; want DataLoss", err)
	}
	_, err = db.Write(ctx, storage.Write{Kind: resource.Agreements, Name: a, Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
		return &twinningv1.Agreement{Name: a, DisplayName: "fixed"}, nil
	}})
	if status.Code(err) != codes.DataLoss {
		t.Errorf("update of %s: %v; want DataLoss", a, err)
	}
	if name, reads := db.RowDamage(); name != a || reads != 3 {
		t.Errorf("row damage noted: %q after %d reads, want %s after 3", name, reads, a)
	}
	if got, err := db.Get(ctx, resource.Agreements, b); err != nil || got.(*twinningv1.Agreement).GetDisplayName() != "b" {
		t.Errorf("Get %s, whose row is intact: %v, %v", b, got, err)
	}
}

// TestPublicRowKeepingAStateIsDamage: a hand on the database writes a
// state into the row of a public record, which keeps none (its entry
// holds it). Reads refuse the record as a row changed outside the node,
// on both databases, and so does its owner's update, which would sign the
// forged state into its log; a sealed record's row, which keeps its
// opened state, is still read.
func TestPublicRowKeepingAStateIsDamage(t *testing.T) {
	ctx := context.Background()
	for _, store := range databases {
		t.Run(store, func(t *testing.T) {
			keys, sealers, _, sign := sealingOrigin(t, "cao-bang", "lang-son")
			path := newLocation(t, store)
			open := func() *sqlstore.DB {
				db, err := sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{Key: sign, Sealer: sealers["cao-bang"], Directory: keys})
				if err != nil {
					t.Fatal(err)
				}
				return db
			}
			db := open()
			public, sealed := "provinces/cao-bang/projects/mou-2", "provinces/cao-bang/projects/sealed"
			putProject(t, db, &investmentv1.Project{Name: public, DisplayName: "MoU number 2", Kind: investmentv1.Project_KIND_FDI})
			putProject(t, db, &investmentv1.Project{Name: sealed, DisplayName: "Sealed project", Kind: investmentv1.Project_KIND_ODA,
				Visibility: typev1.Visibility_VISIBILITY_RESTRICTED, VisibleTo: []string{"lang-son"}})
			got, err := db.Get(ctx, resource.Projects, public)
			if err != nil {
				t.Fatal(err)
			}
			forged := proto.Clone(got).(*investmentv1.Project)
			forged.DisplayName = "MoU FORGED 2"
			data, err := proto.MarshalOptions{Deterministic: true}.Marshal(forged)
			if err != nil {
				t.Fatal(err)
			}
			head, _ := db.Head(ctx)
			db.Close()
			raw := openRaw(t, path)
			update := "UPDATE projects SET data = ? WHERE name = ?"
			if store == "postgres" {
				update = "UPDATE projects SET data = $1 WHERE name = $2"
			}
			if _, err := raw.Exec(update, data, public); err != nil {
				t.Fatal(err)
			}

			db = open()
			defer db.Close()
			if got, err := db.Get(ctx, resource.Projects, public); status.Code(err) != codes.DataLoss || !strings.Contains(err.Error(), "changed outside the node") {
				t.Errorf("Get %s, whose row keeps a forged state: %v, %v; want DataLoss saying the row was changed", public, got, err)
			}
			if page, err := db.List(ctx, storage.Query{Kind: resource.Projects, Province: "cao-bang", Limit: 10}); status.Code(err) != codes.DataLoss {
				t.Errorf("List over it: %v, %v; want DataLoss", page.Records, err)
			}
			_, err = db.Write(ctx, storage.Write{Kind: resource.Projects, Name: public, Mutate: func(current proto.Message, _ storage.Stamp) (proto.Message, error) {
				p := proto.Clone(current).(*investmentv1.Project)
				p.Description = "another field"
				return p, nil
			}})
			if status.Code(err) != codes.DataLoss {
				t.Errorf("update of %s: %v; want DataLoss", public, err)
			}
			if now, _ := db.Head(ctx); now.Seq != head.Seq {
				t.Errorf("the log went from %d to %d: the forged state was signed", head.Seq, now.Seq)
			}
			if name, reads := db.RowDamage(); name != public || reads != 3 {
				t.Errorf("row damage noted: %q after %d reads, want %s after 3", name, reads, public)
			}
			if got, err := db.Get(ctx, resource.Projects, sealed); err != nil || got.(*investmentv1.Project).GetDisplayName() != "Sealed project" {
				t.Errorf("Get %s, whose row keeps its opened state: %v, %v", sealed, got, err)
			}
		})
	}
}

// TestReindexOverADamagedEntryStillOpens: a re-index pending when a
// record's change-log entry is damaged must not keep the node from
// starting (starting is how it gets the entry repaired): the record keeps
// its columns and the kind stays pending for the next start.
func TestReindexOverADamagedEntryStillOpens(t *testing.T) {
	ms := federationOf(t, "cao-bang")
	o := ms["cao-bang"]
	ctx := context.Background()
	put(t, o, &twinningv1.Agreement{Name: "provinces/cao-bang/agreements/a", DisplayName: "a"})
	put(t, o, &twinningv1.Agreement{Name: "provinces/cao-bang/agreements/b", DisplayName: "b"})
	o.db.Close()
	raw, err := sql.Open("sqlite3", "file:"+o.path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`UPDATE changes SET data = CAST(data || X'00' AS BLOB) WHERE seq = 1; INSERT INTO reindex (kind) VALUES ('agreements')`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	db, err := sqlstore.Open(ctx, o.path, "cao-bang", sqlstore.Options{Key: o.key})
	if err != nil {
		t.Fatalf("open with a re-index pending over a damaged entry: %v", err)
	}
	defer db.Close()
	if _, err := db.Get(ctx, resource.Agreements, "provinces/cao-bang/agreements/b"); err != nil {
		t.Errorf("the intact record: %v", err)
	}
	check, err := sql.Open("sqlite3", "file:"+o.path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	var pending int
	if err := check.QueryRow("SELECT count(*) FROM reindex WHERE kind = 'agreements'").Scan(&pending); err != nil || pending != 1 {
		t.Errorf("agreements pending re-index: %d, %v; want still pending", pending, err)
	}
}

// undoMigration10 puts back record_values, as schema 9 had it, with the
// elements of record_elements.
const undoMigration10 = `CREATE TABLE record_values (kind TEXT NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL, record INTEGER NOT NULL,
	PRIMARY KEY (kind, field, value, record)) STRICT, WITHOUT ROWID;
CREATE INDEX record_values_record ON record_values (kind, record);
INSERT INTO record_values SELECT CASE list WHEN 1120 THEN 'agreements' WHEN 20905 THEN 'delegations' END,
	CASE list WHEN 1120 THEN 'partner_countries' WHEN 20905 THEN 'countries' END, value, record
FROM record_elements WHERE list IN (1120, 20905);
DROP TABLE record_elements;
`

// TestListIDsOfMigration10: migration 10 moves the elements of repeated
// fields from record_values to record_elements under the numbers
// filter.ListID gives, so filters on them and the rollups of them still
// hold after it.
func TestListIDsOfMigration10(t *testing.T) {
	for pair, id := range map[[2]string]int64{
		{"partnerships", "fields"}: 11860, {"agreements", "partner_countries"}: 1120, {"delegations", "countries"}: 20905,
		{"border-incidents", "notify_provinces"}: 21721, {"promotion-events", "partner_countries"}: 14728,
	} {
		if got := filter.ListID(pair[0], pair[1]); got != id {
			t.Errorf("ListID(%s, %s) = %d; migration 10 says %d", pair[0], pair[1], got, id)
		}
	}
	ms := federationOf(t, "cao-bang")
	o := ms["cao-bang"]
	ctx := context.Background()
	for i, countries := range [][]string{{"KR", "JP"}, {"CN"}, {"KR"}} {
		put(t, o, &twinningv1.Agreement{Name: fmt.Sprintf("provinces/cao-bang/agreements/m%d", i), DisplayName: "m", PartnerCountries: countries})
	}
	o.db.Close()
	raw, err := sql.Open("sqlite3", "file:"+o.path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(sqlstore.UndoMigration20() + sqlstore.UndoMigration19() + sqlstore.UndoMigration18() + sqlstore.UndoMigration17() + sqlstore.UndoMigration15() + sqlstore.UndoMigration12() + undoMigration10 + "PRAGMA user_version = 9"); err != nil {
		t.Fatal(err)
	}
	var old int
	raw.QueryRow("SELECT count(*) FROM record_values").Scan(&old)
	raw.Close()
	if old != 4 {
		t.Fatalf("schema 9 stand-in holds %d elements, want 4", old)
	}
	db, err := sqlstore.Open(ctx, o.path, "cao-bang", sqlstore.Options{Key: o.key})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	expr, err := filter.Parse(`partner_countries:"KR"`, resource.Agreements.Schema)
	if err != nil {
		t.Fatal(err)
	}
	page, err := db.List(ctx, storage.Query{Kind: resource.Agreements, Province: "cao-bang", Filter: expr, Limit: 10})
	if err != nil || len(page.Records) != 2 {
		t.Errorf("partner_countries:KR after migration 10: %d records, %v; want 2", len(page.Records), err)
	}
	if bad, err := db.CheckRollups(ctx, false); err != nil || bad.Groups != 0 {
		t.Errorf("rollups after migration 10: %+v, %v", bad, err)
	}
}

// TestLogRowsLeaveOutTheStatesName: a change-log row of an unsealed entry
// stores no name when its state holds the same name (field 1); one whose
// name differs from its state's (a forger's) keeps it, and a sealed one
// has none. Every entry reads back whole, with its hash intact.
func TestLogRowsLeaveOutTheStatesName(t *testing.T) {
	ms := federationOf(t, "cao-bang", "mofa")
	o, m := ms["cao-bang"], ms["mofa"]
	ctx := context.Background()
	put(t, o, &twinningv1.Agreement{Name: "provinces/cao-bang/agreements/p", DisplayName: "p"})
	put(t, o, &twinningv1.Agreement{Name: "provinces/cao-bang/agreements/n", DisplayName: "n", Visibility: typev1.Visibility_VISIBILITY_NATIONAL})
	entries, err := o.db.Changes(ctx, "cao-bang", 0, 10)
	if err != nil || len(entries) != 2 {
		t.Fatalf("origin's log: %v, %v", entries, err)
	}
	// A third entry, forged by the origin: its name is not its state's.
	state, _ := proto.Marshal(&twinningv1.Agreement{Name: "provinces/cao-bang/agreements/other"})
	forged := changelog.Entry{Origin: "cao-bang", Seq: 3, HLC: entries[1].HLC + 1, Name: "provinces/cao-bang/agreements/f", Data: state, PrevHash: entries[1].Hash}
	forged.Hash = changelog.Sum(&forged)
	entries = append(entries, forged)
	cp := changelog.SignCheckpoint(o.key, "cao-bang", 3, forged.Hash)
	if _, err := m.db.ApplyRemote(ctx, entries, cp); err != nil {
		t.Fatal(err)
	}
	got, err := m.db.Changes(ctx, "cao-bang", 0, 10)
	if err != nil || len(got) != 3 {
		t.Fatalf("mofa's copy: %v, %v", got, err)
	}
	for i := range got {
		if got[i].Name != entries[i].Name || got[i].Sealed != entries[i].Sealed || !changelog.Verify(&got[i]) {
			t.Errorf("entry %d read back as %q sealed=%v (verifies: %v); want %q sealed=%v", i+1, got[i].Name, got[i].Sealed, changelog.Verify(&got[i]), entries[i].Name, entries[i].Sealed)
		}
	}
	raw, err := sql.Open("sqlite3", "file:"+m.path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	rows, err := raw.Query("SELECT seq, name, sealed FROM changes WHERE origin = 'cao-bang' ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	want := []struct {
		name string
		form int
	}{{"", 2}, {"", 1}, {"provinces/cao-bang/agreements/f", 0}}
	for i := 0; rows.Next(); i++ {
		var (
			seq, form int
			name      string
		)
		rows.Scan(&seq, &name, &form)
		if name != want[i].name || form != want[i].form {
			t.Errorf("row of entry %d stores name %q form %d; want %q form %d", seq, name, form, want[i].name, want[i].form)
		}
	}
}

// TestNewerSchemaIsRefused: a database a newer provex wrote (here, one
// schema version past this binary's, as schema 11's rows of form 2 are to
// a binary before them) is refused with the reason, before anything reads
// its rows.
func TestNewerSchemaIsRefused(t *testing.T) {
	ms := federationOf(t, "cao-bang")
	o := ms["cao-bang"]
	put(t, o, &twinningv1.Agreement{Name: "provinces/cao-bang/agreements/a", DisplayName: "a"})
	o.db.Close()
	raw, err := sql.Open("sqlite3", "file:"+o.path)
	if err != nil {
		t.Fatal(err)
	}
	var version int
	if err := raw.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(fmt.Sprintf("PRAGMA user_version = %d", version+1)); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	_, err = sqlstore.Open(context.Background(), o.path, "cao-bang", sqlstore.Options{Key: o.key})
	if err == nil || !strings.Contains(err.Error(), "newer than this binary") {
		t.Fatalf("opening a database at schema %d: %v; want it refused as newer", version+1, err)
	}
}
