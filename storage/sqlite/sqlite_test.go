package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlite"
	"github.com/provex/provex/storage/storagetest"
)

func openStore(t *testing.T, dir, member string) storage.Store {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "provex.db"), member, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, openStore)
}
