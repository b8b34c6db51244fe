package sqlstore_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/provex/provex/internal/pgtest"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
	"github.com/provex/provex/storage/storagetest"
)

func openStore(t *testing.T, dir, member string) storage.Store {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), filepath.Join(dir, "provex.db"), member, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, openStore)
}

// TestConformancePostgres runs the same suite on PostgreSQL (issue 15).
func TestConformancePostgres(t *testing.T) {
	pgtest.Skip(t)
	storagetest.Run(t, func(t *testing.T, dir, member string) storage.Store {
		t.Helper()
		db, err := sqlstore.Open(context.Background(), pgStore(t, dir), member, sqlstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

// pgStore is one PostgreSQL database per directory the suite uses, so a
// test that reopens its store's directory reopens the same database.
func pgStore(t *testing.T, dir string) string {
	pgStores.Lock()
	defer pgStores.Unlock()
	if u, ok := pgStores.m[dir]; ok {
		return u
	}
	u := pgtest.NewDatabase(t)
	pgStores.m[dir] = u
	return u
}

var pgStores = struct {
	sync.Mutex
	m map[string]string
}{m: map[string]string{}}
