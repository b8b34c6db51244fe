package sqlstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/provex/provex/federation"
	"github.com/provex/provex/storage/sqlstore"
)

// TestDamagedSavedManifestIsToldAsTheDatabases: the copy of the manifest a
// node saved in its database, cut short there, is told as that copy, with
// what to do; it was told in the words of a damaged manifest file
// ("federation: manifest federation_key: not valid base64"), sending the
// operator to a file that was intact (an outside review).
func TestDamagedSavedManifestIsToldAsTheDatabases(t *testing.T) {
	for _, database := range databases {
		t.Run(database, func(t *testing.T) {
			ctx := context.Background()
			location := newLocation(t, database)
			m, _, err := federation.DevFederation([]string{"cao-bang", "mofa"}, []string{"localhost:1", "localhost:2"}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			db, err := sqlstore.Open(ctx, location, "cao-bang", sqlstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.SaveManifest(ctx, m); err != nil {
				t.Fatal(err)
			}
			db.Close()
			if _, err := openRaw(t, location).Exec("UPDATE manifest SET data = substr(data, 1, 100)"); err != nil {
				t.Fatal(err)
			}
			_, err = sqlstore.ReadSavedManifest(ctx, location)
			if err == nil || !strings.Contains(err.Error(), "the copy of the federation manifest the node saved in its database") ||
				!strings.Contains(err.Error(), "restore it from a backup or from the peers") {
				t.Fatalf("a saved manifest cut short in the database: %v, want it told as the database's copy, with what to do", err)
			}
			if database == "postgres" && strings.Contains(err.Error(), location) {
				t.Errorf("the error repeats the PostgreSQL URL, which may hold a password: %v", err)
			}
		})
	}
}
