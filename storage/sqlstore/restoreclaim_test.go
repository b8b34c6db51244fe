package sqlstore_test

import (
	"context"
	"testing"

	"github.com/provex/provex/storage/sqlstore"
)

// TestRestoreHoldsTheLogAsItClaims: a store a restore opens is held as it
// is made and claimed, in one transaction: closed at once (a restore
// killed right after its open), the store opened as a serving node's
// holds its own log, saying the restore did not finish. The hold was
// written after the claim: a restore killed between left a store its node
// wrote on, forking its log (an outside review).
func TestRestoreHoldsTheLogAsItClaims(t *testing.T) {
	for _, database := range databases {
		t.Run(database, func(t *testing.T) {
			ctx := context.Background()
			location := newLocation(t, database)
			db, err := sqlstore.Open(ctx, location, "cao-bang", sqlstore.Options{Restore: true})
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
			db, err = sqlstore.Open(ctx, location, "cao-bang", sqlstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			hold, held := db.OwnLogHold()
			if !held || hold.First != 1 || hold.Problem != sqlstore.RestoreUnfinished("cao-bang") {
				t.Fatalf("the store a restore made and claimed: hold %+v (held %v), want one from 1 saying the restore did not finish", hold, held)
			}
		})
	}
}
