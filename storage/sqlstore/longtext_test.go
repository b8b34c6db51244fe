package sqlstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/internal/pgtest"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

// TestOverlongIndexedTextIsHeldAlike: a member signs states with a text
// longer than a PostgreSQL b-tree entry holds (4,500 random bytes, which
// do not compress) in an indexed field: a filterable field, a repeated
// field's element, a searched field. Before, such a state failed its whole
// run on PostgreSQL (index row size) and was stored on SQLite. Now, on
// both: the run is held, the filterable and repeated ones refused with a
// reason, the searched one applied and found by its other words (the
// overlong word is not indexed).
func TestOverlongIndexedTextIsHeldAlike(t *testing.T) {
	ctx := context.Background()
	const bad = "lang-son"
	b := make([]byte, 4500)
	rand.Read(b)
	long := hex.EncodeToString(b)
	name := func(id string) string { return "provinces/" + bad + "/agreements/" + id }
	own := func(id string) *twinningv1.Agreement {
		return &twinningv1.Agreement{Name: name(id), DisplayName: id, Kind: twinningv1.Agreement_KIND_MOU}
	}
	states := []proto.Message{
		own("own-1"),
		&twinningv1.Agreement{Name: name("long-title"), DisplayName: long},
		&twinningv1.Agreement{Name: name("long-element"), DisplayName: "x", PartnerCountries: []string{long}},
		&twinningv1.Agreement{Name: name("long-place"), DisplayName: "signed far away", SignedPlace: long},
		own("own-2"),
	}
	entries, cp := signedRun(t, bad, states, nil)
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "mofa.db")
			if store == "postgres" {
				path = pgtest.NewDatabase(t)
			}
			db, err := sqlstore.Open(ctx, path, "mofa", sqlstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			refusals, err := db.ApplyRemote(ctx, entries, cp)
			if err != nil {
				t.Fatalf("the run is not held: %v", err)
			}
			if len(refusals) != 2 || refusals[0].Seq != 2 || refusals[1].Seq != 3 {
				t.Errorf("refusals %+v, want entries 2 and 3", refusals)
			}
			for _, id := range []string{"own-1", "own-2", "long-place"} {
				if _, err := db.Get(ctx, resource.Agreements, name(id)); err != nil {
					t.Errorf("%s: %v", id, err)
				}
			}
			page, err := db.List(ctx, storage.Query{Kind: resource.Agreements, Province: resource.AllProvinces, Text: "far away", Limit: 10})
			if err != nil || len(page.Records) != 1 {
				t.Errorf("search of the record with the long place: %v %v", page.Records, err)
			}
		})
	}
}
