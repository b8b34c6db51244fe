package sqlstore_test

import (
	"database/sql"
	"testing"

	"github.com/provex/provex/storage/sqlstore"
)

// databases are the two a store runs on: a test of what holds on both runs
// once on each.
var databases = []string{"sqlite", "postgres"}

// newLocation is sqlstore.NewLocation, under the name these tests use.
func newLocation(t *testing.T, database string) string {
	t.Helper()
	return sqlstore.NewLocation(t, database)
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
