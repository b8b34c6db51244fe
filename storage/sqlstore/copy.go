package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
)

// CopyInfo is what CopyStore moved: whose store, how many rows of how many
// tables, and how far the destination now holds each origin's log.
// Snapshot is the temporary directory a SQLite source's snapshot was made
// in (and removed from).
type CopyInfo struct {
	Member   string
	Tables   int
	Rows     int64
	Heads    []BackupHead
	Snapshot string
}

// copyBatch bounds the parameters of one multi-row INSERT, under SQLite's
// limit (32766) and PostgreSQL's (65535).
const copyBatch = 16000

// CopyStore copies a node's whole store from one database to another, a
// SQLite file or a PostgreSQL URL each (issue 15: the ministry's node moves
// to PostgreSQL, and back). The destination must hold no change-log entry
// and nothing else of a node: a copy never overwrites.
//
// No node may run on the source while it is copied: a node's file can be
// copied with Backup first. On PostgreSQL the copy holds the writer's
// advisory lock of both databases, so a node started meanwhile on either
// fails to open.
//
// A SQLite source is never written: the copy reads a snapshot of it
// (copySnapshot). Both stores are opened first, which brings their
// schemas (the snapshot's, or a PostgreSQL source's) to this binary's
// version. Then every table of the destination's schema is
// filled from the source's table of that name, read in one read
// transaction (a snapshot), and written in one transaction, so a failed
// copy leaves the destination as empty as it was. Rows are copied as they
// are, the kind tables' id (arrival order) included; on PostgreSQL the
// identity sequences are set past them. Summary rollups are not copied:
// their tables differ between the dialects, and the destination rebuilds
// them from the copied records when it is opened at the end.
func CopyStore(ctx context.Context, from, to string) (*CopyInfo, error) {
	if from == to {
		return nil, errors.New("copy store: the source and the destination are the same")
	}
	if !IsPostgres(from) {
		if _, err := os.Stat(from); err != nil {
			return nil, fmt.Errorf("copy store: no database at %s: %w", from, err)
		}
	}
	created := false
	if !IsPostgres(to) {
		switch _, err := os.Lstat(to); {
		case errors.Is(err, fs.ErrNotExist):
			created = true
		case err != nil:
			return nil, fmt.Errorf("copy store: %w", err)
		}
	}
	info, err := copySnapshot(ctx, from, to)
	if err != nil && created {
		// The file this copy made holds nothing (its one transaction
		// did not commit): take it away, as if never tried.
		for _, f := range []string{to, to + "-wal", to + "-shm", to + lockFileSuffix} {
			os.Remove(f)
		}
	}
	return info, err
}

// snapshotPattern names the temporary directory of a SQLite source's
// snapshot (CopyStore).
const snapshotPattern = "provex-migrate-store-"

// copySnapshot is copyStore from a SQLite source's snapshot: opening the
// source as a store would write in it (migrations, statistics, a merge of
// pending search words, WAL mode, a -lock file beside it), and a backup
// file, which an older release may need to roll back to, must keep every
// byte. The snapshot is Backup's read-only copy, made in a temporary
// directory beside a SQLite destination (its file system has room for the
// copy) or in the OS's (TMPDIR) for PostgreSQL, and removed at the end.
func copySnapshot(ctx context.Context, from, to string) (*CopyInfo, error) {
	if IsPostgres(from) {
		return copyStore(ctx, from, to)
	}
	// A node's file (every node and tool that opens one makes its lock
	// file) is copied only while no node writes to it: writes after the
	// snapshot would be lost in the move. A file no node ever opened, a
	// backup, gets no lock file made beside it.
	if _, err := os.Lstat(realPath(from) + lockFileSuffix); err == nil {
		lock, err := LockWriter(from, copyTool)
		if err != nil {
			return nil, fmt.Errorf("copy store: %w", err)
		}
		defer lock.Close()
	}
	dir := ""
	if !IsPostgres(to) {
		dir = filepath.Dir(to)
	}
	tmp, err := os.MkdirTemp(dir, snapshotPattern)
	if err != nil {
		return nil, fmt.Errorf("copy store: a temporary directory for the source's snapshot: %w", err)
	}
	defer os.RemoveAll(tmp)
	snapshot := filepath.Join(tmp, "source.db")
	if _, err := Backup(ctx, from, snapshot); err != nil {
		return nil, fmt.Errorf("copy store: snapshot the source in %s: %w", tmp, err)
	}
	info, err := copyStore(ctx, snapshot, to)
	if err != nil {
		return nil, err
	}
	info.Snapshot = filepath.Dir(tmp)
	if abs, err := filepath.Abs(info.Snapshot); err == nil {
		info.Snapshot = abs
	}
	return info, nil
}

// copyTool is the name a copy's locks give as their holder.
const copyTool = "migrate-store"

func copyStore(ctx context.Context, from, to string) (*CopyInfo, error) {
	// As a tool: a node started on either meanwhile waits for the copy.
	// A SQLite file's lock is held for the whole copy, which reads and
	// writes the files between the stores' opens; the stores share it.
	for _, path := range []string{from, to} {
		if IsPostgres(path) {
			continue
		}
		lock, err := LockWriter(path, copyTool)
		if err != nil {
			return nil, fmt.Errorf("copy store: %w", err)
		}
		defer lock.Close()
	}
	quiet := Options{Logger: slog.New(slog.DiscardHandler), Tool: copyTool}
	src, err := Open(ctx, from, "", quiet)
	if err != nil {
		return nil, fmt.Errorf("copy store: source: %w", err)
	}
	member := src.Member()
	if IsPostgres(to) {
		held, err := heldButRefused(ctx, src)
		if err != nil {
			src.Close()
			return nil, fmt.Errorf("copy store: source: %w", err)
		}
		if len(held) > 0 {
			src.Close()
			return nil, fmt.Errorf("copy store: the source holds records that this version refuses from a member's log and PostgreSQL cannot index, "+
				"applied by an older version: %s. Nothing was copied. Rebuild the store from the peers into the empty PostgreSQL database instead "+
				"(provex restore --store URL, node stopped): it brings back the node's own log and the others', refusing these records as every node now does "+
				"(docs/POSTGRES.md)", strings.Join(held, "; "))
		}
	}
	src.Close()
	if foreign, err := foreignTables(ctx, to); err != nil {
		return nil, fmt.Errorf("copy store: destination: %w", err)
	} else if len(foreign) > 0 {
		return nil, fmt.Errorf("copy store: the destination holds tables that are not a node's (%s): a copy goes only into an empty database, which it leaves as it was", strings.Join(foreign, ", "))
	}
	dst, err := Open(ctx, to, member, quiet)
	if err != nil {
		return nil, fmt.Errorf("copy store: destination: %w", err)
	}
	dst.Close()

	srcDB, err := rawConn(ctx, from, true)
	if err != nil {
		return nil, fmt.Errorf("copy store: source: %w", err)
	}
	defer closeRaw(srcDB, from)
	dstDB, err := rawConn(ctx, to, false)
	if err != nil {
		return nil, fmt.Errorf("copy store: destination: %w", err)
	}
	defer closeRaw(dstDB, to)

	info := &CopyInfo{Member: member}
	opts := &sql.TxOptions{}
	if IsPostgres(from) {
		opts = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	stx, err := srcDB.BeginTx(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("copy store: source: %w", err)
	}
	defer stx.Rollback()
	dtx, err := dstDB.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("copy store: destination: %w", err)
	}
	defer dtx.Rollback()
	d := sqliteDialect
	if IsPostgres(to) {
		d = postgresDialect
	}
	tables, err := copiedTables(ctx, dtx, d)
	if err != nil {
		return nil, fmt.Errorf("copy store: destination's schema: %w", err)
	}
	if err := checkEmpty(ctx, dtx, tables); err != nil {
		return nil, err
	}
	for _, t := range tables {
		n, err := copyTable(ctx, stx, dtx, t)
		if err != nil {
			return nil, fmt.Errorf("copy store: table %s: %w", t.name, err)
		}
		info.Rows += n
		if d.postgres && t.identity != "" {
			// Names from the destination's own catalog.
			if _, err := dtx.ExecContext(ctx, fmt.Sprintf("SELECT setval(pg_get_serial_sequence('%s', '%s'), max(%s)) FROM %s HAVING max(%s) IS NOT NULL",
				t.name, t.identity, t.identity, t.name, t.identity)); err != nil {
				return nil, fmt.Errorf("copy store: table %s: set its identity past the copied rows: %w", t.name, err)
			}
		}
	}
	info.Tables = len(tables)
	// The destination's rollups hold the empty store's sums; a definition
	// that differs makes the next Open build them again from the records.
	if _, err := dtx.ExecContext(ctx, "UPDATE rollups SET definition = ''"); err != nil {
		return nil, fmt.Errorf("copy store: %w", err)
	}
	if err := dtx.Commit(); err != nil {
		return nil, fmt.Errorf("copy store: destination: %w", err)
	}
	stx.Rollback()
	closeRaw(dstDB, to)
	closeRaw(srcDB, from)

	dst, err = Open(ctx, to, member, quiet)
	if err != nil {
		return nil, fmt.Errorf("copy store: open the copy: %w", err)
	}
	defer dst.Close()
	origins, err := dst.Origins(ctx)
	if err != nil {
		return nil, fmt.Errorf("copy store: read the copy: %w", err)
	}
	for _, o := range origins {
		info.Heads = append(info.Heads, BackupHead{Origin: o.Origin, Seq: o.Seq})
	}
	return info, nil
}

// foreignTables lists (up to five) the tables and views of the database at
// store when it holds no node's schema yet: opening it as a store would
// make the store's tables beside them, and the copy must leave a database
// it refuses as it was. A database with a node's schema (an empty store)
// returns none: checkEmpty judges it. A SQLite file that does not exist
// holds none.
func foreignTables(ctx context.Context, store string) ([]string, error) {
	if !IsPostgres(store) {
		if _, err := os.Stat(store); errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
	}
	db, err := rawConn(ctx, store, true)
	if err != nil {
		return nil, err
	}
	defer closeRaw(db, store)
	// A node's schema: its change log, made by the first migration, and
	// the version the migrations keep (a table of that name alone, as
	// other tools make, is not one).
	nodeQ := "SELECT (SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'changes') > 0 AND (SELECT user_version FROM pragma_user_version) > 0"
	tablesQ := "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name LIMIT 5"
	if IsPostgres(store) {
		nodeQ = "SELECT to_regclass('public.changes') IS NOT NULL AND to_regclass('public.schema_version') IS NOT NULL"
		// An extension's tables and views (pg_stat_statements, PostGIS)
		// are the server's, not another application's; a schema_version
		// alone is what a node's first start makes before its migrations.
		tablesQ = `SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
			AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
			AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
			AND NOT (n.nspname = 'public' AND c.relname = 'schema_version'
				AND (SELECT count(*) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) = 1)
			ORDER BY 1 LIMIT 5`
	}
	var node bool
	if err := db.QueryRowContext(ctx, nodeQ).Scan(&node); err != nil {
		return nil, err
	}
	if node {
		return nil, nil
	}
	rows, err := db.QueryContext(ctx, tablesQ)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		out = append(out, name)
	}
	return out, rows.Err()
}

// rawConn opens one connection to a store, below the store's engine: the
// copy reads and writes tables as they are. On PostgreSQL it is the
// writer's connection, with its advisory lock.
func rawConn(ctx context.Context, store string, readOnly bool) (*sql.DB, error) {
	if IsPostgres(store) {
		writer, reads, err := openPostgres(ctx, store, 1, lockHolderApp+" migrate-store", nil)
		if err != nil {
			return nil, err
		}
		reads.Close()
		return writer, nil
	}
	db, err := sql.Open("sqlite3", dsn(store, readOnly))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// closeRaw closes a connection of rawConn; on PostgreSQL it first
// releases the writer's lock, which the store's Open, next, takes (the
// server would release it only once it has ended the session). Closing
// twice is harmless.
func closeRaw(db *sql.DB, store string) {
	if IsPostgres(store) {
		db.Exec("SELECT pg_advisory_unlock_all()")
	}
	db.Close()
}

// copiedTable is a table of the destination's schema that a copy fills:
// its columns, whether each holds bytes, and its identity column (on
// PostgreSQL), if any.
type copiedTable struct {
	name     string
	columns  []string
	bytes    []bool
	identity string
}

// copiedTables lists the destination's tables that hold a node's state:
// all but the schema's bookkeeping and the summary rollups.
func copiedTables(ctx context.Context, tx *sql.Tx, d dialect) ([]copiedTable, error) {
	skip := map[string]bool{"schema_version": true, "rollups": true}
	for _, rs := range rollups {
		for _, r := range rs {
			skip[r.table] = true
		}
	}
	// A rollup the binary no longer defines until Open drops it.
	rows, err := tx.QueryContext(ctx, "SELECT name FROM rollups")
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return nil, err
		}
		skip[name] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	q := "SELECT m.name, p.name, lower(p.type), '' FROM sqlite_schema m, pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.cid"
	if d.postgres {
		q = "SELECT table_name, column_name, lower(data_type), is_identity FROM information_schema.columns WHERE table_schema = current_schema() " +
			"AND table_name IN (SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE') " +
			"ORDER BY table_name, ordinal_position"
	}
	if rows, err = tx.QueryContext(ctx, q); err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []copiedTable
	for rows.Next() {
		var table, column, typ, identity string
		if err := rows.Scan(&table, &column, &typ, &identity); err != nil {
			return nil, err
		}
		if skip[table] {
			continue
		}
		if len(out) == 0 || out[len(out)-1].name != table {
			out = append(out, copiedTable{name: table})
		}
		t := &out[len(out)-1]
		t.columns = append(t.columns, column)
		t.bytes = append(t.bytes, typ == "blob" || typ == "bytea")
		if identity == "YES" {
			t.identity = column
		}
	}
	return out, rows.Err()
}

// checkEmpty refuses a destination that holds anything of a node but the
// member Open recorded in it.
func checkEmpty(ctx context.Context, tx *sql.Tx, tables []copiedTable) error {
	var held bool
	if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM changes)").Scan(&held); err != nil {
		return fmt.Errorf("copy store: destination: %w", err)
	}
	if held {
		return errors.New("copy store: the destination already holds change-log entries: a copy goes only into an empty store, and never overwrites one")
	}
	for _, t := range tables {
		if t.name == "node" {
			continue
		}
		// Names from the destination's own catalog.
		if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM "+t.name+")").Scan(&held); err != nil {
			return fmt.Errorf("copy store: destination: %w", err)
		}
		if held {
			return fmt.Errorf("copy store: the destination is not empty (its table %s holds rows): a copy goes only into an empty store, and never overwrites one", t.name)
		}
	}
	return nil
}

// copyTable copies every row of t from the source to the destination in
// batched INSERTs, and returns how many.
func copyTable(ctx context.Context, src, dst *sql.Tx, t copiedTable) (int64, error) {
	quoted := make([]string, len(t.columns))
	for i, c := range t.columns {
		quoted[i] = `"` + c + `"`
	}
	cols := strings.Join(quoted, ", ")
	// The destination's one row of node is Open's record of the same member.
	if _, err := dst.ExecContext(ctx, "DELETE FROM "+t.name); err != nil {
		return 0, err
	}
	rows, err := src.QueryContext(ctx, "SELECT "+cols+" FROM "+t.name)
	if err != nil {
		return 0, fmt.Errorf("read the source: %w", err)
	}
	defer rows.Close()
	perBatch := max(1, copyBatch/len(t.columns))
	row := "(" + placeholders(len(t.columns)) + ")"
	var (
		args []any
		n    int64
		held int
	)
	flush := func() error {
		if held == 0 {
			return nil
		}
		q := "INSERT INTO " + t.name + " (" + cols + ") VALUES " + strings.TrimSuffix(strings.Repeat(row+", ", held), ", ")
		if _, err := dst.ExecContext(ctx, q, args...); err != nil {
			return err
		}
		n += int64(held)
		args, held = args[:0], 0
		return nil
	}
	vals := make([]any, len(t.columns))
	ptrs := make([]any, len(t.columns))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		for i, v := range vals {
			// SQLite keeps what it was given; the destination's column
			// type says whether it is bytes or text.
			switch v := v.(type) {
			case string:
				if t.bytes[i] {
					args = append(args, []byte(v))
					continue
				}
			case []byte:
				if !t.bytes[i] {
					args = append(args, string(v))
					continue
				}
				// A copy (rows reuses its buffers), never nil: an empty
				// blob is not NULL.
				args = append(args, append(make([]byte, 0, len(v)), v...))
				continue
			}
			args = append(args, v)
		}
		held++
		if held == perBatch {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("read the source: %w", err)
	}
	return n, flush()
}

// heldButRefused lists (up to ten) the records src holds that a node now
// refuses from a member's log for a text longer than a store indexes
// (overlongIndexed): a version before the rule applied them, SQLite stores
// them, and PostgreSQL's b-tree entries cannot hold them, so a copy would
// fail at them. It reads every record once.
func heldButRefused(ctx context.Context, src *DB) ([]string, error) {
	var out []string
	for _, k := range resource.Kinds() {
		q := storage.Query{Kind: k, Province: resource.AllProvinces, ShowDeleted: true, Limit: 1000}
		for {
			page, err := src.List(ctx, q)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", k.Collection, err)
			}
			for _, m := range page.Records {
				if why := overlongIndexed(k, m); why != "" {
					if out = append(out, k.Name(m)+" holds "+why); len(out) == 10 {
						return out, nil
					}
				}
			}
			if page.Next == nil {
				break
			}
			q.After = page.Next
		}
	}
	return out, nil
}
