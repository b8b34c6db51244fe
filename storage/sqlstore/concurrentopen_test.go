package sqlstore_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"

	"github.com/provex/provex/internal/pgtest"
	"github.com/provex/provex/storage/sqlstore"
)

// TestOpensAtOnceTakeTurns: a node and two tools beside it (token create
// --store, say) open a new database at the same moment, with the analysts'
// group in place so the grants run too. Each makes or finds the schema,
// rollups and views; none fails on another's half-made catalog rows, and
// the schema's version is kept once.
func TestOpensAtOnceTakeTurns(t *testing.T) {
	ctx := context.Background()
	analyst(t) // the group, so that every open grants the views
	for range 4 {
		url := pgtest.NewDatabase(t)
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				db, err := sqlstore.Open(ctx, url, "mofa", sqlstore.Options{Beside: i > 0})
				errs[i] = err
				if err == nil {
					db.Close()
				}
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("open %d of 3 at once: %v", i+1, err)
			}
		}
		check, err := sql.Open("pgx", url)
		if err != nil {
			t.Fatal(err)
		}
		var versions int
		if err := check.QueryRow("SELECT count(*) FROM schema_version").Scan(&versions); err != nil || versions != 1 {
			t.Errorf("schema_version holds %d rows (%v), want 1", versions, err)
		}
		check.Close()
	}
}
