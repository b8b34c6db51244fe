package sqlstore_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/provex/provex/internal/pgtest"
	"github.com/provex/provex/storage/sqlstore"
)

// databases are the two a store runs on: a test of what holds on both runs
// once on each.
var databases = []string{"sqlite", "postgres"}

// newLocation is where a new, empty store goes on database: a SQLite file,
// or a PostgreSQL database of its own (without a server the test skips, or
// fails when PROVEX_REQUIRE_POSTGRES is set).
func newLocation(t *testing.T, database string) string {
	t.Helper()
	if database == "postgres" {
		return pgtest.NewDatabase(t)
	}
	return filepath.Join(t.TempDir(), "provex.db")
}

// openRaw opens the database of the store at location below the store, as
// a hand on the file or the server could; it is closed when the test ends.
func openRaw(t *testing.T, location string) *sql.DB {
	t.Helper()
	driver, source := "sqlite3", "file:"+location
	if sqlstore.IsPostgres(location) {
		driver, source = "pgx", location
	}
	raw, err := sql.Open(driver, source)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return raw
}
