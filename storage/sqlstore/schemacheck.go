package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
)

// schemaObject is a table or an index of a SQLite store's schema.
type schemaObject struct {
	kind, name, sql string
}

// schemaConn is what the schema check runs on: the writer's connections
// at open, a write transaction of the writer after it (verify --repair).
type schemaConn interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// migratedSchema is the tables and indexes the migrations make, read from
// an empty in-memory database they ran on, once. The rollups' tables are
// not among them: ensureRollups makes them at open from the rollups table,
// and makes a changed one again.
var migratedSchema = sync.OnceValues(func() ([]schemaObject, error) {
	mem, err := sql.Open("sqlite3", ":memory:")
	if err != nil {
		return nil, err
	}
	defer mem.Close()
	// Each connection to :memory: is a database of its own.
	mem.SetMaxOpenConns(1)
	ctx := context.Background()
	if err := migrate(ctx, mem, nil); err != nil {
		return nil, fmt.Errorf("the migrations on an empty database: %w", err)
	}
	return readSchema(ctx, mem)
})

// readSchema returns the tables and indexes of the database's schema,
// without SQLite's own (sqlite_*: its statistics, the indexes it makes for
// a primary key or a UNIQUE constraint).
func readSchema(ctx context.Context, db schemaConn) ([]schemaObject, error) {
	rows, err := db.QueryContext(ctx, "SELECT type, name, coalesce(sql, '') FROM sqlite_master WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%' ORDER BY name")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var objects []schemaObject
	for rows.Next() {
		var o schemaObject
		if err := rows.Scan(&o.kind, &o.name, &o.sql); err != nil {
			return nil, err
		}
		objects = append(objects, o)
	}
	return objects, rows.Err()
}

// missingSchema returns the tables and the indexes the migrations make
// that the database lacks: dropped by hand, or by a tool, since.
func missingSchema(ctx context.Context, db schemaConn) (tables, indexes []schemaObject, err error) {
	want, err := migratedSchema()
	if err != nil {
		return nil, nil, err
	}
	have, err := readSchema(ctx, db)
	if err != nil {
		return nil, nil, fmt.Errorf("read the schema: %w", err)
	}
	for _, o := range want {
		if slices.ContainsFunc(have, func(h schemaObject) bool { return h.kind == o.kind && h.name == o.name }) {
			continue
		}
		if o.kind == "table" {
			tables = append(tables, o)
		} else {
			indexes = append(indexes, o)
		}
	}
	return tables, indexes, nil
}

// checkSchema refuses a database that lacks a table of its schema, whose
// rows are lost: a node on it started and failed every call that reads the
// table (an outside review: a dropped tokens table left /healthz ok and
// every call with a token INTERNAL). An index holds nothing its table does
// not: one missing is made again from the migrations' statement when
// mend is set (the node), and left for verify to report otherwise (a
// tool, which leaves the file as it found it).
func checkSchema(ctx context.Context, db schemaConn, log *slog.Logger, mend bool) error {
	tables, indexes, err := missingSchema(ctx, db)
	if err != nil {
		return err
	}
	if len(tables) > 0 {
		return fmt.Errorf("the database's schema lacks the tables %s (dropped by hand?), and the rows they held: %s",
			strings.Join(schemaNames(tables), ", "), restoreAdvice)
	}
	if !mend {
		return nil
	}
	made, err := makeIndexes(ctx, db, indexes)
	if len(made) > 0 {
		log.Warn("the database lacked indexes of its schema (dropped by hand?): made them again from their tables", "indexes", strings.Join(made, ", "))
	}
	return err
}

// makeIndexes makes the indexes from their statements in the migrated
// schema, and returns the names of those made.
func makeIndexes(ctx context.Context, db schemaConn, indexes []schemaObject) ([]string, error) {
	var made []string
	for _, o := range indexes {
		if _, err := db.ExecContext(ctx, o.sql); err != nil {
			return made, fmt.Errorf("make the missing index %s: %w", o.name, err)
		}
		made = append(made, o.name)
	}
	return made, nil
}

func schemaNames(objects []schemaObject) []string {
	names := make([]string, len(objects))
	for i, o := range objects {
		names[i] = o.name
	}
	return names
}

// MissingIndexes returns the indexes of the store's schema that its SQLite
// file lacks (a node makes them again when it opens the file; a tool such
// as verify does not). It returns none on PostgreSQL.
func (db *DB) MissingIndexes(ctx context.Context) ([]string, error) {
	if db.dialect.postgres {
		return nil, nil
	}
	_, indexes, err := missingSchema(ctx, db.reader)
	return schemaNames(indexes), err
}

// MakeMissingIndexes makes the indexes of the store's schema that its
// SQLite file lacks from their tables, in one transaction, and returns
// their names.
func (db *DB) MakeMissingIndexes(ctx context.Context) ([]string, error) {
	if db.dialect.postgres {
		return nil, nil
	}
	var made []string
	err := db.runInWriter(ctx, func(tx *writeTx) error {
		_, indexes, err := missingSchema(ctx, tx)
		if err != nil {
			return err
		}
		made, err = makeIndexes(ctx, tx, indexes)
		return err
	})
	if err != nil {
		return nil, err
	}
	return made, nil
}
