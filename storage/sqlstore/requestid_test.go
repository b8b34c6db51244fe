package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

// TestRequestIDsFromBeforeFingerprints plays a database at schema version 6,
// whose request ids have no fingerprint: migration 7 keeps them, and they
// are honoured for any request, as they were before.
func TestRequestIDsFromBeforeFingerprints(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "provex.db")
	db, err := sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	name := "provinces/cao-bang/agreements/a1"
	first, err := db.Write(ctx, storage.Write{Kind: resource.Agreements, Name: name, RequestID: "old", Fingerprint: []byte("first"),
		Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
			return &twinningv1.Agreement{Name: name, DisplayName: "first"}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	raw, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	// Undo migrations 12 (search), 10 (record_elements), 7 (fingerprints) and 8 (read
	// audit) to stand at 6 (9 changes data only).
	if _, err := raw.Exec(sqlstore.UndoMigration20() + sqlstore.UndoMigration19() + sqlstore.UndoMigration18() + sqlstore.UndoMigration17() + sqlstore.UndoMigration15() + sqlstore.UndoMigration12() + undoMigration10 + `ALTER TABLE request_ids DROP COLUMN fingerprint;
		ALTER TABLE audit DROP COLUMN read; ALTER TABLE audit DROP COLUMN names; DROP TABLE audit_names;
		PRAGMA user_version = 6`); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	db, err = sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	again, err := db.Write(ctx, storage.Write{Kind: resource.Agreements, Name: name, RequestID: "old", Fingerprint: []byte("other"),
		Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
			return nil, errors.New("must not be called")
		}})
	if err != nil || !proto.Equal(again, first) {
		t.Fatalf("request id from before fingerprints: %v (%v), want the first record %v", again, err, first)
	}
}
