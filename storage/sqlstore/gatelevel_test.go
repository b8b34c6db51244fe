package sqlstore_test

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/changelog"
	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	"github.com/provex/provex/internal/filter"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

// TestOldBilateralGateLevelsReadAsMain: gates an earlier provex stored
// with LEVEL_BILATERAL = 3 (now reserved: main and bilateral are one
// category) read as LEVEL_MAIN, on the node that wrote them after
// migration 12 and on a node that syncs them from the signed log, and are
// found, counted and grouped as main gates.
func TestOldBilateralGateLevelsReadAsMain(t *testing.T) {
	ctx := context.Background()
	_, key, _ := ed25519.GenerateKey(nil)
	path := filepath.Join(t.TempDir(), "o.db")
	db, err := sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	const old = borderv1.BorderGate_Level(3)
	put := func(id string, level, counterpart borderv1.BorderGate_Level) {
		name := "provinces/cao-bang/border-gates/" + id
		g := &borderv1.BorderGate{Name: name, DisplayName: id, NeighbourCountry: "CN", Level: level, CounterpartLevel: counterpart,
			Upgrades: []*borderv1.BorderGate_Upgrade{{FromLevel: borderv1.BorderGate_LEVEL_SECONDARY, ToLevel: level}}}
		if _, err := db.Write(ctx, storage.Write{Kind: resource.BorderGates, Name: name, Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
			return g, nil
		}}); err != nil {
			t.Fatal(err)
		}
	}
	put("ly-van", old, old) // as an older provex stored it
	put("po-peo", old, borderv1.BorderGate_LEVEL_SECONDARY)
	put("thanh-thuy", borderv1.BorderGate_LEVEL_MAIN, borderv1.BorderGate_LEVEL_SECONDARY)
	put("ta-lung", borderv1.BorderGate_LEVEL_INTERNATIONAL, borderv1.BorderGate_LEVEL_INTERNATIONAL)
	entries, err := db.Changes(ctx, "cao-bang", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := db.Checkpoint(ctx, "cao-bang", uint64(len(entries)))
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	// As schema 12 left it: the index columns hold 3 as well.
	raw, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	var threes int
	if err := raw.QueryRow("SELECT count(*) FROM border_gates WHERE level = 3").Scan(&threes); err != nil || threes != 2 {
		t.Fatalf("before: %d rows at level 3, %v", threes, err)
	}
	if _, err := raw.Exec(sqlstore.UndoMigration20() + sqlstore.UndoMigration19() + sqlstore.UndoMigration18() + sqlstore.UndoMigration17() + sqlstore.UndoMigration15() + "PRAGMA user_version = 12"); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	db, err = sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	follower, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "f.db"), "lang-son", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer follower.Close()
	if _, err := follower.ApplyRemote(ctx, entries, changelog.SignCheckpoint(key, "cao-bang", cp.Seq, cp.Hash)); err != nil {
		t.Fatal(err)
	}

	main, err := filter.Parse("level = MAIN", resource.BorderGates.Schema)
	if err != nil {
		t.Fatal(err)
	}
	alias, err := filter.Parse("counterpart_level = LEVEL_BILATERAL", resource.BorderGates.Schema)
	if err != nil {
		t.Fatal(err)
	}
	level, _ := resource.BorderGates.Schema.Lookup("level")
	for node, s := range map[string]*sqlstore.DB{"writer": db, "follower": follower} {
		g, err := s.Get(ctx, resource.BorderGates, "provinces/cao-bang/border-gates/ly-van")
		if err != nil {
			t.Fatal(err)
		}
		gate := g.(*borderv1.BorderGate)
		if gate.Level != borderv1.BorderGate_LEVEL_MAIN || gate.CounterpartLevel != borderv1.BorderGate_LEVEL_MAIN || gate.Upgrades[0].ToLevel != borderv1.BorderGate_LEVEL_MAIN {
			t.Errorf("%s: Ly Van reads %v", node, gate)
		}
		page, err := s.List(ctx, storage.Query{Kind: resource.BorderGates, Province: "cao-bang", Filter: main, Limit: 10})
		if err != nil || len(page.Records) != 3 {
			t.Errorf("%s: level = MAIN finds %d gates (%v), want 3", node, len(page.Records), err)
		}
		page, err = s.List(ctx, storage.Query{Kind: resource.BorderGates, Province: "cao-bang", Filter: alias, Limit: 10})
		if err != nil || len(page.Records) != 1 {
			t.Errorf("%s: counterpart_level = LEVEL_BILATERAL finds %d gates (%v), want 1", node, len(page.Records), err)
		}
		rows, err := s.Summarize(ctx, storage.SummaryQuery{Kind: resource.BorderGates, Province: resource.AllProvinces, Dims: []storage.Dim{{Field: &level}}})
		if err != nil {
			t.Fatal(err)
		}
		counts := map[int64]int64{}
		for _, r := range rows {
			counts[r.Keys[0].(int64)] = r.Count
		}
		if len(counts) != 2 || counts[2] != 3 || counts[1] != 1 {
			t.Errorf("%s: gates by level %v, want 3 main and 1 international", node, counts)
		}
	}
}
