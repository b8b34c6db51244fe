package sqlstore_test

import (
	"context"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/internal/sqlitetest"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

// TestUpgradeDropsTheRollupTriggersOfOlderNodes: nodes before issue 11
// kept rollups with triggers on the record tables that name
// record_values, which a later migration drops; the re-index of the same
// start updated the records, fired them and failed, and the node could not
// open a data directory of those days (an outside review, with one made by
// a build of 26 November). An upgrade drops the node's triggers first.
func TestUpgradeDropsTheRollupTriggersOfOlderNodes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "provex.db")
	db, err := sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	name := "provinces/cao-bang/agreements/nanning"
	if _, err := db.Write(ctx, storage.Write{Kind: resource.Agreements, Name: name, Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
		return &twinningv1.Agreement{Name: name, DisplayName: "MoU with Nanning", Kind: twinningv1.Agreement_KIND_MOU}, nil
	}}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	// As a node of 26 November left it, one migration before this binary's
	// last, its re-index of agreements pending.
	sqlitetest.Exec(t, path, `CREATE TABLE record_values (record INTEGER, value TEXT);
		CREATE TRIGGER rollup_agreements_kind_update AFTER UPDATE ON agreements BEGIN INSERT INTO record_values VALUES (new.id, 'x'); END;
		DROP TABLE record_values;
		INSERT OR IGNORE INTO reindex (kind) VALUES ('agreements');
		PRAGMA user_version = 20`)
	db, err = sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{})
	if err != nil {
		t.Fatalf("open a data directory of an older node: %v", err)
	}
	defer db.Close()
	if _, err := db.Get(ctx, resource.Agreements, name); err != nil {
		t.Errorf("the agreement after the upgrade: %v", err)
	}
}

// TestUpgradeCutShortKeepsTheOlderNodesTriggers: an upgrade cut short
// before its first migration commits (a start killed, a migration that
// fails) leaves the file as the older release made it, its rollup
// triggers included: dropped on their own first, a killed start left a
// file at its old schema without them, and the older release, started on
// it again, kept its national totals wrong without a word (an outside
// review). Here migration 23 fails (a table it reads is gone).
func TestUpgradeCutShortKeepsTheOlderNodesTriggers(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "provex.db")
	db, err := sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	sqlitetest.Exec(t, path, `CREATE TRIGGER rollup_agreements_kind_update AFTER UPDATE ON agreements BEGIN SELECT 1; END;
		DROP TABLE sealed_counts;
		PRAGMA user_version = 22`)
	if db, err := sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{}); err == nil {
		db.Close()
		t.Fatal("the upgrade of a file missing a table its migration reads succeeded")
	}
	var triggers, version int
	sqlitetest.QueryRow(t, path, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'", &triggers)
	sqlitetest.QueryRow(t, path, "PRAGMA user_version", &version)
	if triggers != 1 || version != 22 {
		t.Errorf("after the upgrade failed: %d triggers at schema %d; want the older release's trigger kept at 22", triggers, version)
	}
}
