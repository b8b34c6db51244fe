package sqlstore_test

import (
	"context"
	"regexp"
	"testing"

	"github.com/provex/provex/storage/sqlstore"
)

// TestOnlyRollupNamesAreDropped: the names in the rollups table are run as
// SQL when the binary no longer defines them. One written there by hand
// that is no rollup's (audit_names) made the node drop that table and
// refuse every start after (an outside review); its row goes, and no
// table with it. A rollup's name the binary does not define is dropped as
// before.
func TestOnlyRollupNamesAreDropped(t *testing.T) {
	for _, store := range databases {
		t.Run(store, func(t *testing.T) {
			ctx := context.Background()
			location := newLocation(t, store)
			db, err := sqlstore.Open(ctx, location, "cao-bang", sqlstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
			raw := openRaw(t, location)
			if _, err := raw.Exec("CREATE TABLE rollup_gone (n INTEGER)"); err != nil {
				t.Fatal(err)
			}
			if _, err := raw.Exec("INSERT INTO rollups (name, definition) VALUES ('audit_names', 'x'), ('rollup_gone', 'x')"); err != nil {
				t.Fatal(err)
			}
			db, err = sqlstore.Open(ctx, location, "cao-bang", sqlstore.Options{})
			if err != nil {
				t.Fatalf("open with a name in the rollups table that is no rollup's: %v", err)
			}
			db.Close()
			tableExists := func(name string) bool {
				t.Helper()
				q := "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '" + name + "'"
				if sqlstore.IsPostgres(location) {
					q = "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = '" + name + "'"
				}
				var n int
				if err := raw.QueryRow(q).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n > 0
			}
			if !tableExists("audit_names") {
				t.Error("audit_names was dropped: a name in the rollups table was run as SQL")
			}
			if tableExists("rollup_gone") {
				t.Error("rollup_gone, a rollup the binary does not define, was kept")
			}
			rows, err := raw.Query("SELECT name FROM rollups")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			form := regexp.MustCompile(`^rollup_[a-z0-9_]+$`)
			for rows.Next() {
				var name string
				if err := rows.Scan(&name); err != nil {
					t.Fatal(err)
				}
				if !form.MatchString(name) || name == "rollup_gone" {
					t.Errorf("the rollups table still names %s", name)
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
