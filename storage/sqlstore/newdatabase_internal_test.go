package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"testing"
)

// TestNewDatabaseIsMadeInOneTransaction: the migrations of a new database
// run in one transaction with the rows that claim it (a restore's claim
// and hold): one cut short at its end leaves nothing, not a schema that
// the next open would take for a store made and never claimed, claim and
// write on as a new node (a restore killed there forked the node's log:
// an outside review).
func TestNewDatabaseIsMadeInOneTransaction(t *testing.T) {
	ctx := context.Background()
	killed := errors.New("killed")
	made := func(tx *sql.Tx) error { return killed }
	t.Run("sqlite", func(t *testing.T) {
		path := NewLocation(t, "sqlite")
		db, err := sql.Open("sqlite3", dsn(path, false))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		db.SetMaxOpenConns(1)
		if err := migrate(ctx, db, made); !errors.Is(err, killed) {
			t.Fatalf("the migrations of a new database, cut short: %v", err)
		}
		var version, tables int
		if err := db.QueryRow("SELECT (SELECT user_version FROM pragma_user_version), (SELECT count(*) FROM sqlite_master)").Scan(&version, &tables); err != nil {
			t.Fatal(err)
		}
		if version != 0 || tables != 0 {
			t.Fatalf("a new database whose making was cut short is at version %d with %d schema objects, want nothing", version, tables)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		db, reads, err := openPostgres(ctx, NewLocation(t, "postgres"), 1, "", &writerSessions{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		defer reads.Close()
		if err := migratePostgres(ctx, db, len(sqliteMigrationNames()), made); !errors.Is(err, killed) {
			t.Fatalf("the migrations of a new database, cut short: %v", err)
		}
		var version, tables int
		if err := db.QueryRow("SELECT (SELECT version FROM schema_version), (SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name <> 'schema_version')").Scan(&version, &tables); err != nil {
			t.Fatal(err)
		}
		if version != 0 || tables != 0 {
			t.Fatalf("a new database whose making was cut short is at version %d with %d tables, want nothing", version, tables)
		}
	})
}
