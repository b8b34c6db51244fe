package sqlstore_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/provex/provex/internal/pgtest"
	"github.com/provex/provex/storage/sqlstore"
)

// TestPostgresSchemaMatchesSQLite checks that a store made on PostgreSQL
// has the tables, columns and indexes of one made on SQLite, rollups
// included: the two are written by one engine, which reads and writes the
// same tables on both, and a SQLite migration without its PostgreSQL
// counterpart must fail here, not on the ministry's server.
func TestPostgresSchemaMatchesSQLite(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	path := filepath.Join(t.TempDir(), "provex.db")
	for _, where := range []string{path, url} {
		store, err := sqlstore.Open(ctx, where, "mofa", sqlstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		store.Close()
	}
	lite, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	pg, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()

	want := shape(t, lite,
		"SELECT m.name, p.name FROM sqlite_schema m, pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
		"SELECT name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL")
	got := shape(t, pg,
		"SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> 'schema_version'",
		"SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND indexname NOT LIKE '%_pkey' AND indexname NOT LIKE '%_key'")
	for _, d := range diff(want, got) {
		t.Error(d)
	}
	if len(want) < 50 {
		t.Fatalf("only %d tables and indexes read from SQLite: the query is wrong", len(want))
	}
}

// shape is the set of "table.column" and "index name" a database holds.
func shape(t *testing.T, db *sql.DB, columns, indexes string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, q := range []string{columns, indexes} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(q, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]string, len(cols))
			dest := make([]any, len(cols))
			for i := range vals {
				dest[i] = &vals[i]
			}
			if err := rows.Scan(dest...); err != nil {
				t.Fatal(err)
			}
			if len(vals) == 2 {
				out["column "+vals[0]+"."+vals[1]] = true
			} else {
				out["index "+vals[0]] = true
			}
		}
		rows.Close()
	}
	return out
}

func diff(sqlite, postgres map[string]bool) []string {
	var out []string
	for k := range sqlite {
		if !postgres[k] {
			out = append(out, "on SQLite, not on PostgreSQL: "+k)
		}
	}
	for k := range postgres {
		if !sqlite[k] {
			out = append(out, "on PostgreSQL, not on SQLite: "+k)
		}
	}
	slices.Sort(out)
	return out
}
