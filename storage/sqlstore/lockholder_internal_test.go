package sqlstore

import (
	"context"
	"testing"

	"github.com/provex/provex/internal/pgtest"
)

// TestLockHolderSessionIsProbed: the session holding the writer's lock
// asks the server to probe its connection, so a node whose host is lost
// frees the lock within seconds rather than the kernel's two hours; the
// read pool, which holds no lock, keeps the server's defaults.
func TestLockHolderSessionIsProbed(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, pgtest.NewDatabase(t), "mofa", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for name, want := range lockHolderKeepalives {
		var got string
		if err := db.writer.QueryRowContext(ctx, "SELECT setting FROM pg_settings WHERE name = ?", name).Scan(&got); err != nil || got != want {
			t.Errorf("the writer's %s is %q (%v), want %q", name, got, err, want)
		}
		var held bool
		if err := db.writer.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid())").Scan(&held); err != nil || !held {
			t.Errorf("the probed session does not hold the writer's lock: %v", err)
		}
	}
	// The query docs/POSTGRES.md gives a DBA to end a lost node's session
	// finds this one.
	var holder, self int
	if err := db.reader.QueryRowContext(ctx, "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = 28786 AND objid = 1870030200"+
		" AND database = (SELECT oid FROM pg_database WHERE datname = current_database())").Scan(&holder); err != nil {
		t.Fatalf("the documented query finds no holder: %v", err)
	}
	if err := db.writer.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&self); err != nil || holder != self {
		t.Errorf("the documented query finds session %d, the writer is %d (%v)", holder, self, err)
	}
}
