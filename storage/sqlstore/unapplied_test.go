package sqlstore_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
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
			open := func(opts sqlstore.Options) *sqlstore.DB {
				t.Helper()
				db, err := sqlstore.Open(ctx, path, "mofa", opts)
				if err != nil {
					t.Fatal(err)
				}
				return db
			}
			db := open(sqlstore.Options{})
			restore := sqlstore.SetMaxIndexedText(100)
			refused, err := db.ApplyRemote(ctx, entries, cp)
			restore()
			if err != nil || len(refused) != 3 {
				t.Fatalf("the earlier version's apply: %v, refused %+v; want entries 1, 2 and 4", err, refused)
			}
			db.Close()

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
