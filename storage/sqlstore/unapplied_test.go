package sqlstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/changelog"
	investmentv1 "github.com/provex/provex/gen/go/provex/investment/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage/sqlstore"
)

// TestEntriesAnEarlierVersionRefusedApplyAtOpen: a node on an earlier
// version holds, rejected, entries this version applies (an outside
// review: during a rolling upgrade an old node refused a record of a kind
// it did not know, and once upgraded nothing applied it again, while
// verify passed). Here the earlier version indexes shorter texts
// (SetMaxIndexedText). Before the node starts again, verify names the
// record it lacks; opening the store applies it (counted in the summary
// rollups), keeps a later state of a record over the older entry refused,
// and leaves an entry refused for a reason that still holds, on both
// databases.
func TestEntriesAnEarlierVersionRefusedApplyAtOpen(t *testing.T) {
	ctx := context.Background()
	const origin = "lang-son"
	long := strings.Repeat("a long display name ", 8) // 160 bytes
	agreement := func(id, display string) *twinningv1.Agreement {
		return &twinningv1.Agreement{Name: "provinces/" + origin + "/agreements/" + id, DisplayName: display, Kind: twinningv1.Agreement_KIND_MOU}
	}
	fresh, later := agreement("fresh", long).GetName(), agreement("later", "").GetName()
	foreign := &twinningv1.Agreement{Name: "provinces/cao-bang/agreements/not-its-own", DisplayName: "x", Kind: twinningv1.Agreement_KIND_MOU}
	entries, cp := signedRun(t, origin, []proto.Message{
		agreement("fresh", long), // refused by the earlier version alone
		agreement("later", long), // so is this, before the state below
		agreement("later", "short"),
		foreign, // refused by every version
	}, nil)
	for _, store := range databases {
		t.Run(store, func(t *testing.T) {
			path := newLocation(t, store)
			open := mofaOpener(t, path)
			db := open(sqlstore.Options{})
			restore := sqlstore.SetMaxIndexedText(100)
			refused, err := db.ApplyRemote(ctx, entries, cp)
			if err != nil || len(refused) != 3 {
				t.Fatalf("the earlier version's apply: %v, refused %+v; want entries 1, 2 and 4", err, refused)
			}
			db.Close()
			// The earlier version's next start retried them under its own
			// rules, and recorded so.
			open(sqlstore.Options{}).Close()
			restore()

			// verify, with this version, before the node starts on it.
			db = open(sqlstore.Options{Tool: "verify"})
			if _, err := db.Get(ctx, resource.Agreements, fresh); err == nil {
				t.Fatal("a tool's open applied the refused entries")
			}
			check, err := db.CheckRecords(ctx)
			if err != nil || check.Found != 1 || !strings.Contains(strings.Join(check.Problems, "\n"), fresh+": entry "+origin+"/1 of it is held unapplied") {
				t.Errorf("verify before the node started: %v, %d found: %q; want %s named alone", err, check.Found, check.Problems, fresh)
			}
			db.Close()

			db = open(sqlstore.Options{})
			defer db.Close()
			got, err := db.Get(ctx, resource.Agreements, fresh)
			if err != nil || got.(*twinningv1.Agreement).GetDisplayName() != long {
				t.Errorf("the record refused by the earlier version: %v, %v", got, err)
			}
			if got, err := db.Get(ctx, resource.Agreements, later); err != nil || got.(*twinningv1.Agreement).GetDisplayName() != "short" {
				t.Errorf("the record whose later state was applied: %v, %v; want its later state kept", got, err)
			}
			if st := originState(t, db, origin); st.Rejected != 1 {
				t.Errorf("%d entries of %s held rejected, want the foreign record's alone", st.Rejected, origin)
			}
			if check, err := db.CheckRecords(ctx); err != nil || check.Found != 0 {
				t.Errorf("verify after the node started: %v, %q", err, check.Problems)
			}
			if bad, err := db.CheckRollups(ctx, false); err != nil || bad.Groups > 0 {
				t.Errorf("the summary rollups after the node started: %v, %+v", err, bad.Listed)
			}
		})
	}
}

// TestEntriesHeldRejectedAreReadInBoundedPagesOncePerRelease: a member's
// entries refused for a reason that still holds, larger than the node
// keeps in one record (a review: 40 of 3.9 MB each were read, a page of
// 1000 at once, and decoded at every start; 1000 of them would not fit in
// memory). The node's next start reads them in pages of bounded size, as
// verify does, and records it retried them; a start with the same
// release and options reads none of them again, one of another release
// reads them all, one whose rules apply them (a larger record bound)
// applies them.
func TestEntriesHeldRejectedAreReadInBoundedPagesOncePerRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("entries of 1.2 MB: CI's race step runs -short, the tests' step runs it")
	}
	ctx := context.Background()
	const origin, n, bound = "lang-son", 8, 3 << 20 // two entries of 1.2 MB a page
	var states []proto.Message
	for i := range n {
		states = append(states, &twinningv1.Agreement{Name: fmt.Sprintf("provinces/%s/agreements/big-%d", origin, i),
			DisplayName: "big", Summary: strings.Repeat("x", 1_200_000), Kind: twinningv1.Agreement_KIND_MOU})
	}
	entries, cp := signedRun(t, origin, states, nil)
	for _, store := range databases {
		t.Run(store, func(t *testing.T) {
			path := newLocation(t, store)
			open := mofaOpener(t, path)
			db := open(sqlstore.Options{})
			if refused, err := db.ApplyRemote(ctx, entries, cp); err != nil || len(refused) != n {
				t.Fatalf("apply: %v, %d refused; want all %d over the record bound", err, len(refused), n)
			}
			db.Close()

			var pages, read int
			var largest int64
			restore := sqlstore.WatchEntryPages(bound, func(entries int, bytes int64) {
				pages++
				read += entries
				largest = max(largest, bytes)
			})
			defer restore()
			open(sqlstore.Options{}).Close()
			if read != n || largest > bound || pages < n/2 {
				t.Errorf("the start after the refusals read %d entries in %d pages, the largest of %d bytes; want all %d, pages of at most %d bytes", read, pages, largest, n, bound)
			}

			db = open(sqlstore.Options{Tool: "verify"})
			pages, read, largest = 0, 0, 0
			check, err := db.CheckRecords(ctx)
			db.Close()
			if err != nil || check.Found != 0 {
				t.Errorf("verify: %v, %q", err, check.Problems)
			}
			if read != n || largest > bound {
				t.Errorf("verify read %d entries, the largest page of %d bytes; want all %d, pages of at most %d bytes", read, largest, n, bound)
			}

			pages, read = 0, 0
			open(sqlstore.Options{}).Close()
			if pages != 0 {
				t.Errorf("a start with the same release read %d pages (%d entries) of the entries held rejected; want none", pages, read)
			}
			// A release is told by its name: release builds carry no VCS
			// stamp, and Go's build info said "(devel)" for every one of
			// them (an outside review).
			for _, release := range []string{"provex v1.1.0 (f4e4de4)", "provex v1.2.0 (079a23a)"} {
				pages, read = 0, 0
				open(sqlstore.Options{Release: release}).Close()
				if read != n {
					t.Errorf("the first start of %s read %d of the %d entries held rejected; want all", release, read, n)
				}
			}

			pages, read = 0, 0
			db = open(sqlstore.Options{MaxRecordBytes: 2 << 20})
			defer db.Close()
			if st := originState(t, db, origin); st.Rejected != 0 || read != n {
				t.Errorf("a start under rules that apply them read %d entries, left %d rejected; want all read and applied", read, st.Rejected)
			}
			if _, err := db.Get(ctx, resource.Agreements, fmt.Sprintf("provinces/%s/agreements/big-%d", origin, n-1)); err != nil {
				t.Errorf("a record applied at that start: %v", err)
			}
		})
	}
}

// mofaOpener opens the ministry's store at path with the options given.
func mofaOpener(t *testing.T, path string) func(sqlstore.Options) *sqlstore.DB {
	return func(opts sqlstore.Options) *sqlstore.DB {
		t.Helper()
		db, err := sqlstore.Open(context.Background(), path, "mofa", opts)
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
}

// TestEntriesHeldUnappliedByHandAreFoundAndApplied: a hand on the file
// takes a record's row away and holds the record's entry unapplied (an
// outside review): as 'unopened', though the entry is public; as
// 'rejected', though the rules accept it; in a state of its own, which
// no counter and no health line read. verify trusted the row, and found
// the record neither missing nor owed. Each held entry's refusal is
// worked out again: verify names each, --repair (ApplyHeld) applies the
// entries the rules accept and holds a refused one in the state of its
// refusal; the schema refuses a state of its own, and the migration holds
// one an older schema let in as 'rejected', which the next start retries
// and applies. On both databases.
func TestEntriesHeldUnappliedByHandAreFoundAndApplied(t *testing.T) {
	ctx := context.Background()
	const origin = "lang-son"
	agreement := func(id string) *twinningv1.Agreement {
		return &twinningv1.Agreement{Name: "provinces/" + origin + "/agreements/" + id, DisplayName: "MoU " + id, Kind: twinningv1.Agreement_KIND_MOU}
	}
	hidden, unopened, rejected := agreement("hidden").GetName(), agreement("unopened").GetName(), agreement("rejected").GetName()
	foreign := &twinningv1.Agreement{Name: "provinces/cao-bang/agreements/not-its-own", DisplayName: "x", Kind: twinningv1.Agreement_KIND_MOU}
	entries, cp := signedRun(t, origin, []proto.Message{agreement("hidden"), agreement("unopened"), agreement("rejected"), foreign}, nil)
	for _, store := range databases {
		t.Run(store, func(t *testing.T) {
			path := newLocation(t, store)
			open := mofaOpener(t, path)
			db := open(sqlstore.Options{})
			if refused, err := db.ApplyRemote(ctx, entries, cp); err != nil || len(refused) != 1 {
				t.Fatalf("apply: %v, refused %+v; want the foreign record's entry alone", err, refused)
			}
			db.Close()
			// The start after it retried the entry refused, under this
			// release's rules, and recorded so.
			open(sqlstore.Options{}).Close()

			raw := openRaw(t, path)
			takeAway := func(name string) {
				t.Helper()
				for _, q := range []string{
					"DELETE FROM agreements_words WHERE record = (SELECT id FROM agreements WHERE name = '" + name + "')",
					"DELETE FROM agreements_words_pending WHERE record = (SELECT id FROM agreements WHERE name = '" + name + "')",
					"DELETE FROM record_elements WHERE record = (SELECT id FROM agreements WHERE name = '" + name + "')",
					"DELETE FROM agreements WHERE name = '" + name + "'",
				} {
					if _, err := raw.Exec(q); err != nil {
						t.Fatalf("%s: %v", q, err)
					}
				}
			}
			takeAway(unopened)
			takeAway(rejected)
			for _, q := range []string{
				"INSERT INTO unapplied (origin, seq, state, reason) VALUES ('" + origin + "', 2, 'unopened', '')",
				"INSERT INTO unapplied (origin, seq, state, reason) VALUES ('" + origin + "', 3, 'rejected', '')",
				"UPDATE unapplied SET state = 'unopened' WHERE origin = '" + origin + "' AND seq = 4",
			} {
				if _, err := raw.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			if _, err := raw.Exec("INSERT INTO unapplied (origin, seq, state, reason) VALUES ('" + origin + "', 1, 'hidden', '')"); err == nil {
				t.Error("the schema took an entry held in a state of its own")
			}

			db = open(sqlstore.Options{Tool: "verify"})
			check, err := db.CheckRecords(ctx)
			all := strings.Join(check.Problems, "\n")
			if err != nil || check.Found != 3 {
				t.Errorf("verify: %v, %d found: %s; want 3", err, check.Found, all)
			}
			for _, want := range []string{
				unopened + `: entry ` + origin + `/2 of it is held unapplied (as "unopened"), but the rules apply it`,
				rejected + `: entry ` + origin + `/3 of it is held unapplied (as "rejected"), but the rules apply it`,
				origin + `/4: entry ` + origin + `/4 is held unapplied as "unopened", but is refused as "rejected"`,
			} {
				if !strings.Contains(all, want) {
					t.Errorf("verify names no %q among:\n%s", want, all)
				}
			}
			if applied, restated, err := db.ApplyHeld(ctx); err != nil || applied != 2 || restated != 1 {
				t.Errorf("verify --repair: applied %d, restated %d, %v; want 2 and 1", applied, restated, err)
			}
			if check, err := db.CheckRecords(ctx); err != nil || check.Found != 0 {
				t.Errorf("verify after --repair: %v, %q", err, check.Problems)
			}
			for _, name := range []string{unopened, rejected} {
				if _, err := db.Get(ctx, resource.Agreements, name); err != nil {
					t.Errorf("%s after --repair: %v", name, err)
				}
			}
			if st := originState(t, db, origin); st.Rejected != 1 || st.Unopened != 0 {
				t.Errorf("after --repair %d entries of %s held rejected, %d unopened; want the foreign record's alone, rejected", st.Rejected, origin, st.Unopened)
			}
			db.Close()

			// A state of its own, held under the schema before this one.
			takeAway(hidden)
			older := []string{
				"ALTER TABLE unapplied DROP CONSTRAINT unapplied_state",
				"UPDATE schema_version SET version = 24",
			}
			if store == "sqlite" {
				older = []string{
					"CREATE TABLE unapplied_older (origin TEXT NOT NULL, seq INTEGER NOT NULL, state TEXT NOT NULL, reason TEXT NOT NULL, PRIMARY KEY (origin, seq)) STRICT, WITHOUT ROWID",
					"INSERT INTO unapplied_older SELECT * FROM unapplied",
					"DROP TABLE unapplied",
					"ALTER TABLE unapplied_older RENAME TO unapplied",
					"PRAGMA user_version = 24",
				}
			}
			for _, q := range append(older, "INSERT INTO unapplied (origin, seq, state, reason) VALUES ('"+origin+"', 1, 'hidden', '')") {
				if _, err := raw.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			db = open(sqlstore.Options{})
			defer db.Close()
			if _, err := db.Get(ctx, resource.Agreements, hidden); err != nil {
				t.Errorf("the record whose entry was held in a state of its own, after the upgrade's start: %v", err)
			}
			if st := originState(t, db, origin); st.Rejected != 1 || st.Unopened != 0 {
				t.Errorf("after the upgrade %d entries of %s held rejected, %d unopened; want the foreign record's alone", st.Rejected, origin, st.Unopened)
			}
			if check, err := db.CheckRecords(ctx); err != nil || check.Found != 0 {
				t.Errorf("verify after the upgrade's start: %v, %q", err, check.Problems)
			}
		})
	}
}

// TestASealedEntryHeldUnopenedByHandIsFound: an entry sealed to the
// ministry, which opens with its keys, held 'unopened' by a hand on the
// file that took the record's row away. With the node's keys verify
// names it and --repair applies it; without them it cannot tell, and
// says how many it left unchecked. On both databases.
func TestASealedEntryHeldUnopenedByHandIsFound(t *testing.T) {
	ctx := context.Background()
	keys, sealers, origin, sign := sealingOrigin(t, "cao-bang", "lang-son", "mofa")
	name := "provinces/cao-bang/projects/sealed"
	putProject(t, origin, &investmentv1.Project{Name: name, DisplayName: "Sealed project", Kind: investmentv1.Project_KIND_ODA,
		Visibility: typev1.Visibility_VISIBILITY_RESTRICTED, VisibleTo: []string{"lang-son"}})
	entries, err := origin.Changes(ctx, "cao-bang", 0, 10)
	if err != nil || len(entries) != 1 || !entries[0].Sealed {
		t.Fatalf("%d entries, %v; want one, sealed", len(entries), err)
	}
	cp := changelog.SignCheckpoint(sign, "cao-bang", entries[0].Seq, entries[0].Hash)
	for _, store := range databases {
		t.Run(store, func(t *testing.T) {
			path := newLocation(t, store)
			open := func(sealer *changelog.Sealer) *sqlstore.DB {
				db, err := sqlstore.Open(ctx, path, "mofa", sqlstore.Options{Sealer: sealer, Directory: keys, Tool: "verify"})
				if err != nil {
					t.Fatal(err)
				}
				return db
			}
			db := open(sealers["mofa"])
			if refused, err := db.ApplyRemote(ctx, entries, cp); err != nil || len(refused) > 0 {
				t.Fatalf("apply: %v %v", refused, err)
			}
			db.Close()
			raw := openRaw(t, path)
			for _, q := range []string{
				"DELETE FROM projects_words WHERE record = (SELECT id FROM projects WHERE name = '" + name + "')",
				"DELETE FROM projects_words_pending WHERE record = (SELECT id FROM projects WHERE name = '" + name + "')",
				"DELETE FROM record_elements WHERE record = (SELECT id FROM projects WHERE name = '" + name + "')",
				"DELETE FROM projects WHERE name = '" + name + "'",
				"INSERT INTO unapplied (origin, seq, state, reason) VALUES ('cao-bang', 1, 'unopened', '')",
			} {
				if _, err := raw.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}

			db = open(nil)
			if check, err := db.CheckRecords(ctx); err != nil || check.Found != 0 || check.HeldUnchecked != 1 {
				t.Errorf("verify without the node's keys: %v, %+v; want the entry held counted unchecked", err, check)
			}
			db.Close()
			db = open(sealers["mofa"])
			defer db.Close()
			check, err := db.CheckRecords(ctx)
			if err != nil || check.Found != 1 || !strings.Contains(check.Problems[0], name+`: entry cao-bang/1 of it is held unapplied (as "unopened"), but the rules apply it`) {
				t.Errorf("verify with the node's keys: %v, %+v; want the record named", err, check)
			}
			if applied, restated, err := db.ApplyHeld(ctx); err != nil || applied != 1 || restated != 0 {
				t.Errorf("verify --repair: applied %d, restated %d, %v; want 1 applied", applied, restated, err)
			}
			if _, err := db.Get(ctx, resource.Projects, name); err != nil {
				t.Errorf("the sealed record after --repair: %v", err)
			}
			if check, err := db.CheckRecords(ctx); err != nil || check.Found != 0 {
				t.Errorf("verify after --repair: %v, %q", err, check.Problems)
			}
		})
	}
}
