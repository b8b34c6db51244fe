package sqlstore_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/provex/provex/internal/sqlitetest"
	"github.com/provex/provex/storage/sqlstore"
)

// TestOpenRefusesAMissingTable: a table of the schema dropped by hand from
// a stopped store's file. The node started on it and failed every call
// that read the table ("no such table: tokens", an outside review); Open
// now refuses the file, naming the tables it lacks and saying to restore
// it, before anything reads them.
func TestOpenRefusesAMissingTable(t *testing.T) {
	ctx := context.Background()
	for _, tables := range [][]string{{"tokens"}, {"agreements", "audit"}} {
		path := filepath.Join(t.TempDir(), "provex.db")
		db, err := sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
		for _, table := range tables {
			sqlitetest.Exec(t, path, "DROP TABLE "+table)
		}
		for _, opts := range []sqlstore.Options{{}, {Tool: "verify"}} {
			db, err = sqlstore.Open(ctx, path, "cao-bang", opts)
			if err == nil {
				db.Close()
				t.Fatalf("%v dropped: the store opened (%+v)", tables, opts)
			}
			if msg := err.Error(); !strings.Contains(msg, "lacks the tables "+strings.Join(tables, ", ")+" ") ||
				!strings.Contains(msg, "restore it from a backup") || !strings.Contains(msg, "provex restore") || strings.Contains(msg, "no such table") {
				t.Errorf("%v dropped: %v", tables, err)
			}
		}
	}
}

// TestOpenMakesAMissingIndex: an index of the schema dropped by hand from
// a stopped store's file was neither reported nor made again (an outside
// review). A tool's open (verify) leaves the file as it is and
// MissingIndexes names the index; a node's open makes it again from the
// migrations' statement and says so in the log.
func TestOpenMakesAMissingIndex(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "provex.db")
	db, err := sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	sqlitetest.Exec(t, path, "DROP INDEX agreements_kind")

	db, err = sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{Tool: "verify"})
	if err != nil {
		t.Fatal(err)
	}
	missing, err := db.MissingIndexes(ctx)
	db.Close()
	if err != nil || !slices.Equal(missing, []string{"agreements_kind"}) {
		t.Fatalf("missing indexes after a tool's open: %v, %v; want agreements_kind", missing, err)
	}

	var log bytes.Buffer
	db, err = sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if missing, err := db.MissingIndexes(ctx); err != nil || len(missing) != 0 {
		t.Errorf("missing indexes after the node's open: %v, %v", missing, err)
	}
	if !strings.Contains(log.String(), "lacked indexes of its schema") || !strings.Contains(log.String(), "agreements_kind") {
		t.Errorf("the node's open logged:\n%s", log.String())
	}
	if made, err := db.MakeMissingIndexes(ctx); err != nil || len(made) != 0 {
		t.Errorf("made %v, %v with none missing", made, err)
	}
}
