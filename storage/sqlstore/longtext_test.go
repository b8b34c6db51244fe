package sqlstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	investmentv1 "github.com/provex/provex/gen/go/provex/investment/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
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
// overlong word is indexed by its start).
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
	for _, store := range databases {
		t.Run(store, func(t *testing.T) {
			path := newLocation(t, store)
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

// randomHex is n bytes of hex text of random bytes, which PostgreSQL
// cannot compress to fit an index entry.
func randomHex(n int) string {
	b := make([]byte, n/2)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// TestOverlongSummaryKeyIsHeldAlike: a member signs a project whose two
// currency codes hold 1,500 bytes each: each under the 2,500 a field may
// hold, both together over the 2,704 bytes of a PostgreSQL b-tree entry,
// and the project summaries' rollups key their rows by both. Before, such
// a state failed its whole run on PostgreSQL, in short runs (INSERT) and
// long ones (COPY) alike, and every pull of the origin failed at it again;
// SQLite stored it. Now both refuse it with its reason, apply the rest of
// the run and the origin's next run.
func TestOverlongSummaryKeyIsHeldAlike(t *testing.T) {
	ctx := context.Background()
	const bad = "lang-son"
	name := func(id string) string { return "provinces/" + bad + "/projects/" + id }
	own := func(id string) *investmentv1.Project {
		return &investmentv1.Project{Name: name(id), DisplayName: id, Kind: investmentv1.Project_KIND_FDI,
			RegisteredCapital: &typev1.Money{CurrencyCode: "USD", Units: 5}}
	}
	twoCodes := &investmentv1.Project{Name: name("two-codes"), DisplayName: "two codes", Kind: investmentv1.Project_KIND_FDI,
		RegisteredCapital: &typev1.Money{CurrencyCode: randomHex(1500), Units: 1},
		DisbursedCapital:  &typev1.Money{CurrencyCode: randomHex(1500), Units: 1}}
	for _, n := range []int{3, 100} {
		var states []proto.Message
		for i := 0; i < n/2; i++ {
			states = append(states, own(fmt.Sprintf("a%d", i)))
		}
		badSeq := uint64(len(states) + 1)
		states = append(states, twoCodes)
		for len(states) < n {
			states = append(states, own(fmt.Sprintf("b%d", len(states))))
		}
		entries, cp := signedRun(t, bad, states, nil)
		next, nextCP := signedRun(t, bad, append(states, own("later")), nil)
		for _, store := range databases {
			t.Run(fmt.Sprintf("%s/run-of-%d", store, n), func(t *testing.T) {
				path := newLocation(t, store)
				db, err := sqlstore.Open(ctx, path, "mofa", sqlstore.Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				refusals, err := db.ApplyRemote(ctx, entries, cp)
				if err != nil {
					t.Fatalf("the run is not held: %v", err)
				}
				if len(refusals) != 1 || refusals[0].Seq != badSeq {
					t.Fatalf("refusals %+v, want entry %d alone", refusals, badSeq)
				}
				if _, err := db.Get(ctx, resource.Projects, name("two-codes")); err == nil {
					t.Error("the project with the two long codes is held")
				}
				if _, err := db.ApplyRemote(ctx, next[len(next)-1:], nextCP); err != nil {
					t.Fatalf("the origin's next run: %v", err)
				}
				page, err := db.List(ctx, storage.Query{Kind: resource.Projects, Province: resource.AllProvinces, Limit: 1000})
				if err != nil || len(page.Records) != n {
					t.Fatalf("%d projects held (%v), want the run's %d good ones and the next", len(page.Records), err, n-1)
				}
				if mismatches, err := db.CheckRollups(ctx, false); err != nil || mismatches.Groups > 0 {
					t.Errorf("summary rollups against a recount: %v %v", mismatches, err)
				}
			})
		}
	}
}

// TestMoveRefusesRecordsPostgreSQLCannotIndex: a ministry on SQLite holds a
// project a member signed with two currency codes of 1,500 bytes, applied
// by a version before nodes refused it. Moving it to PostgreSQL (provex
// migrate-store) failed on the summary rollups after the copy had
// committed, leaving a database a node could not open. Now the move
// refuses before copying anything, names the record and says what to do.
func TestMoveRefusesRecordsPostgreSQLCannotIndex(t *testing.T) {
	ctx := context.Background()
	name := "provinces/lang-son/projects/two-codes"
	entries, cp := signedRun(t, "lang-son", []proto.Message{
		&investmentv1.Project{Name: "provinces/lang-son/projects/honest", DisplayName: "honest", Kind: investmentv1.Project_KIND_FDI},
		&investmentv1.Project{Name: name, DisplayName: "two codes", Kind: investmentv1.Project_KIND_FDI,
			RegisteredCapital: &typev1.Money{CurrencyCode: randomHex(1500), Units: 1},
			DisbursedCapital:  &typev1.Money{CurrencyCode: randomHex(1500), Units: 1}},
	}, nil)
	file := filepath.Join(t.TempDir(), "provex.db")
	db, err := sqlstore.Open(ctx, file, "mofa", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	restore := sqlstore.SetMaxIndexedText(1 << 30)
	refused, err := db.ApplyRemote(ctx, entries, cp)
	restore()
	if err != nil || len(refused) > 0 {
		t.Fatalf("the older version's apply: %v, refused %v", err, refused)
	}
	if _, err := db.Get(ctx, resource.Projects, name); err != nil {
		t.Fatalf("SQLite holds the record: %v", err)
	}
	db.Close()

	url := pgtest.NewDatabase(t)
	_, err = sqlstore.CopyStore(ctx, file, url)
	if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "Nothing was copied") {
		t.Fatalf("moving the store to PostgreSQL: %v; want a refusal naming %s", err, name)
	}
	pg, err := sqlstore.Open(ctx, url, "mofa", sqlstore.Options{})
	if err != nil {
		t.Fatalf("the destination after the refusal: %v", err)
	}
	defer pg.Close()
	if origins, err := pg.Origins(ctx); err != nil || len(origins) != 0 {
		t.Errorf("the destination holds %v (%v), want nothing", origins, err)
	}
}

// TestLongSearchWordsLeftOutAreIndexedAtTheUpgrade: a row stored by a
// version that left a search word longer than the words table's bound out
// of the index (139 "㌖", 2,502 bytes folded) is indexed again when the
// store opens under migration 26, and found, on both databases.
func TestLongSearchWordsLeftOutAreIndexedAtTheUpgrade(t *testing.T) {
	ctx := context.Background()
	long := "provinces/cao-bang/border-gates/long"
	for _, store := range databases {
		t.Run(store, func(t *testing.T) {
			path := newLocation(t, store)
			open := func() *sqlstore.DB {
				db, err := sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{})
				if err != nil {
					t.Fatal(err)
				}
				return db
			}
			db := open()
			for name, title := range map[string]string{long: "Cửa khẩu " + strings.Repeat("㌖", 139), "provinces/cao-bang/border-gates/short": "Cửa khẩu Tà Lùng"} {
				m := &borderv1.BorderGate{Name: name, DisplayName: title}
				if _, err := db.Write(ctx, storage.Write{Kind: resource.BorderGates, Name: name, Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) { return m, nil }}); err != nil {
					t.Fatal(err)
				}
			}
			db.Close() // merges the pending words
			// The store as the version before left it.
			raw := openRaw(t, path)
			older := []string{"DELETE FROM border_gates_words WHERE length(word) > 100", "UPDATE schema_version SET version = 25"}
			if store == "sqlite" {
				older[1] = "PRAGMA user_version = 25"
			}
			for _, q := range older {
				if _, err := raw.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			db = open()
			defer db.Close()
			page, err := db.List(ctx, storage.Query{Kind: resource.BorderGates, Province: resource.AllProvinces, Text: "㌖", Limit: 10})
			if err != nil || len(page.Records) != 1 || resource.BorderGates.Name(page.Records[0]) != long {
				t.Errorf("a search for the long word after the upgrade found %v (%v), want %s", page.Records, err, long)
			}
			if check, err := db.CheckRecords(ctx); err != nil || check.Found != 0 {
				t.Errorf("verify after the upgrade: %v, %q", err, check.Problems)
			}
		})
	}
}
