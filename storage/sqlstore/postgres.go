package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/provex/provex/resource"
)

// The schema of a store on PostgreSQL: postgres/NNNN_*.sql, where NNNN is
// the SQLite migration (migrations/NNNN_*.sql) whose schema the file
// reaches. The first file makes the whole schema of its version at once; a
// later SQLite migration needs its PostgreSQL counterpart, or a store on
// PostgreSQL refuses to open (migratePostgres).
//
//go:embed postgres/*.sql
var postgresMigrations embed.FS

// IsPostgres reports whether store names a PostgreSQL database (a
// postgres:// or postgresql:// URL) rather than a SQLite file.
func IsPostgres(store string) bool {
	return strings.HasPrefix(store, "postgres://") || strings.HasPrefix(store, "postgresql://")
}

// writerLock is the key of the session-level advisory lock a node's writer
// holds on its database: one node, one writer, as SQLite's file lock
// ensures for a file. A second node started on the same database fails to
// open instead of forking the log.
const writerLock = 0x70726f766578 // "provex"

// schemaLock is held while a store is opened on the database (its schema
// migrated, its rollups and views made), by nodes and tools alike, so
// that they do so one at a time.
const schemaLock = 0x70726f76657873 // "provexs"

// lockHolderKeepalives make the server probe the lock holder's connection
// and end its session, and so free writerLock, within about 30 s of the
// node's host going away (a crash, a power cut, a partition): without
// them the server waits on the kernel's defaults, two hours and more,
// before a node failed over to another host may start. A node killed on
// a live host needs none: its kernel closes the connection at once.
var lockHolderKeepalives = map[string]string{
	"tcp_keepalives_idle":     "15",
	"tcp_keepalives_interval": "5",
	"tcp_keepalives_count":    "3",
}

// deadServerAfter bounds how long the node waits on a connection to its
// PostgreSQL server that has gone silent: a network cut or the server's
// host lost, which send no FIN and no RST. Without a bound the writer sat
// on its connection's check (pgx pings one idle over a second) until the
// kernel gave up, 15 minutes on a sent packet (tcp_retries2) and hours on
// an idle connection: every write and read record waited, and the node
// did not stop on SIGTERM (an outside review, through a proxy that
// swallowed the traffic). Every connection the node opens (dialPostgres)
// is probed by TCP keepalives once idle, and dropped when they go
// unanswered; and the writer gives up taking its connection and beginning
// a transaction past it (DB.beginWrite), as on a server that answers TCP
// but not the protocol. A statement already sent is not bounded: the
// kernel's TCP_USER_TIMEOUT would bound it, but Linux applies it to a
// server that stops reading too, and it cut a catch-up's COPY that waited
// 20 s for a table another session held locked (a review of the change
// that set it). A variable for tests.
var deadServerAfter = 20 * time.Second

// errServerSilent is why the writer gave up on its connection: its server
// did not answer within deadServerAfter. It is the server away (serverAway).
var errServerSilent = errors.New("the database server did not answer the writer")

// dialPostgres dials the node's connections to PostgreSQL, each probed so
// that a dead idle one fails within deadServerAfter (a connect_timeout in
// the store's URL still bounds the dial). Keepalives wait while a
// statement's data is unacknowledged or the server reads no more (a
// statement waiting for a lock), so they cut no statement short.
func dialPostgres(connectTimeout time.Duration) pgconn.DialFunc {
	d := &net.Dialer{
		Timeout: connectTimeout,
		KeepAliveConfig: net.KeepAliveConfig{
			Enable:   true,
			Idle:     deadServerAfter / 2,
			Interval: deadServerAfter / 4,
			Count:    2,
		},
	}
	return d.DialContext
}

// lockHolderApp is the application_name of a session holding writerLock.
const lockHolderApp = "provex"

// ErrNodeWriting is why a store on PostgreSQL does not open for writing
// while a node serves on it (tools may open it beside the node instead:
// Options.Beside).
var ErrNodeWriting = errors.New("another provex node is writing")

// ErrToolWriting is ErrNodeWriting when the lock's holder is a provex
// tool (Options.Tool), which ends by itself: a node opening then waits
// for it.
var ErrToolWriting = fmt.Errorf("%w (a provex tool)", ErrNodeWriting)

// errLockHeld is why the writer's session could not take writerLock once
// the store was open: another session holds it (lockTaken says which).
var errLockHeld = errors.New("the writer's lock is held by another session")

// writerSessions counts the writer's sessions, and has each after the
// first checked against what the store's writer holds (check, set once
// the store is open): a session ended by the server or the network is
// made again, its lock taken again, and meanwhile another node may have
// held the lock and written.
type writerSessions struct {
	n     atomic.Int64
	check atomic.Pointer[func(context.Context, *pgx.Conn) error]
	// pid is the server's process of the session that took the lock last
	// (takeWriterLock).
	pid atomic.Uint32
}

// previousSessionEnd bounds the wait of the writer's new session for its
// previous one to go (takeWriterLock).
const previousSessionEnd = 2 * time.Second

// toolSessions are the names of the sessions of the tools that take the
// writer's lock (Options.Tool: lockHolderApp, a space and the tool).
var toolSessions = map[string]bool{lockHolderApp + " verify": true, lockHolderApp + " migrate-store": true}

// lockTaken explains why writerLock was not granted. Any role that may
// connect to the database can take an advisory lock (the server lets no
// owner revoke that), an analyst's psql on the primary as well as a second
// node: the error says which, so that the operator does not hunt a node
// that is not there.
// previous is the server's process of the writer's previous session, or
// 0.
func lockTaken(ctx context.Context, c *pgx.Conn, previous uint32) error {
	pid, role, app, err := lockHolder(ctx, c)
	switch {
	case err != nil && !errors.Is(err, pgx.ErrNoRows):
		return err
	case err == nil && previous != 0 && pid == int64(previous):
		return fmt.Errorf("the node's own previous session %d on database %q, which the server or the network ended, still holds the writer's advisory lock: it frees it once its process has exited", pid, c.Config().Database)
	case err != nil || app == lockHolderApp:
		return fmt.Errorf("%w to database %q (it holds the writer's advisory lock): one database, one node; a tool that writes (verify --repair, restore, migrate-store) needs the node stopped", ErrNodeWriting, c.Config().Database)
	case toolSessions[app]:
		return fmt.Errorf("%w: %s, session %d of role %q, holds the writer's advisory lock of database %q until it ends (if it hangs: SELECT pg_terminate_backend(%d))", ErrToolWriting, app, pid, role, c.Config().Database, pid)
	}
	return fmt.Errorf("the writer's advisory lock of database %q is held by session %d of role %q (application %q), which is not a provex node: end it (SELECT pg_terminate_backend(%d)) so that a node can write", c.Config().Database, pid, role, app, pid)
}

// lockHolder is the session holding writerLock on c's database:
// pgx.ErrNoRows if none.
func lockHolder(ctx context.Context, c *pgx.Conn) (pid int64, role, app string, err error) {
	err = c.QueryRow(ctx, "SELECT a.pid, coalesce(a.usename, ''), coalesce(a.application_name, '') FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"+
		" WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objid = $2 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
		int64(writerLock>>32), int64(writerLock&0xFFFFFFFF)).Scan(&pid, &role, &app)
	return pid, role, app, err
}

// takeWriterLock takes writerLock on c's session, and reports whether it
// did. While the holder is the writer's own previous session (sessions'
// pid), it tries again until that session is gone, at most
// previousSessionEnd: a session the server ended (pg_terminate_backend)
// holds its locks until its process exits, which under load came after
// the writer's next session asked, and the write was refused as if
// another node were writing (an outside review: 19 writes of 150 ends).
func takeWriterLock(ctx context.Context, c *pgx.Conn, sessions *writerSessions) (bool, error) {
	deadline := time.Now().Add(previousSessionEnd)
	for {
		var locked bool
		if err := c.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", int64(writerLock)).Scan(&locked); err != nil || locked {
			if locked && sessions != nil {
				sessions.pid.Store(c.PgConn().PID())
			}
			return locked, err
		}
		previous := uint32(0)
		if sessions != nil {
			previous = sessions.pid.Load()
		}
		if previous == 0 || !time.Now().Before(deadline) {
			return false, nil
		}
		if pid, _, _, err := lockHolder(ctx, c); err == nil && pid != int64(previous) {
			return false, nil
		} else if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return false, err
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// openPostgres opens the writer's connection and the read pools of the
// database at url; unless holder is "", the writer takes writerLock, its
// session named holder (lockHolderApp for a node, lockHolderApp and the
// tool's name for a tool).
func openPostgres(ctx context.Context, url string, readers int, holder string, sessions *writerSessions) (writer *sql.DB, reads readPools, err error) {
	lock := holder != ""
	cfg, err := parsePostgresURL(url)
	if err != nil {
		return nil, reads, err
	}
	wcfg := cfg
	if lock {
		wcfg = cfg.Copy()
		if wcfg.RuntimeParams == nil {
			wcfg.RuntimeParams = map[string]string{}
		}
		for k, v := range lockHolderKeepalives {
			wcfg.RuntimeParams[k] = v
		}
		// Names the holder's session to whoever finds the lock taken.
		wcfg.RuntimeParams["application_name"] = holder
	}
	writer = sql.OpenDB(rebindConnector{stdlib.GetConnector(*wcfg, stdlib.OptionAfterConnect(func(ctx context.Context, c *pgx.Conn) (err error) {
		// pgx's connector drops a connection this refuses without closing
		// it: each refused attempt (every write and probe while another
		// session holds the lock) left a session open, and one that had
		// taken the lock held it after the store closed.
		defer func() {
			if err != nil {
				c.Close(context.WithoutCancel(ctx))
			}
		}()
		if !lock {
			return nil
		}
		locked, err := takeWriterLock(ctx, c, sessions)
		if err != nil {
			return err
		}
		if !locked {
			if sessions != nil && sessions.n.Load() > 0 {
				return fmt.Errorf("%w: %w", errLockHeld, lockTaken(ctx, c, sessions.pid.Load()))
			}
			return lockTaken(ctx, c, 0)
		}
		if sessions != nil && sessions.n.Add(1) > 1 {
			if check := sessions.check.Load(); check != nil {
				return (*check)(ctx, c)
			}
		}
		return nil
	}))})
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	if err := writer.PingContext(ctx); err != nil {
		writer.Close()
		return nil, reads, fmt.Errorf("connect to PostgreSQL at %s:%d database %q: %w%s", cfg.Host, cfg.Port, cfg.Database, err, connectAdvice(cfg, err))
	}
	reads = readPools{lookups: postgresReader(cfg), queries: postgresReader(cfg), tokens: postgresReader(cfg)}
	reads.size(readers)
	return writer, reads, nil
}

// connectAdvice says what to do about a connection the server refused, in
// the words of docs/POSTGRES.md, where pgx's alone leave it to be guessed (a
// missing password reads "failed SASL auth").
func connectAdvice(cfg *pgx.ConnConfig, err error) string {
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe) && pe.Code == "28P01" && cfg.Password == "":
		return ": no password was given (the store's URL, PGPASSWORD and ~/.pgpass have none); give the role's in PGPASSWORD or ~/.pgpass (docs/POSTGRES.md)"
	case errors.As(err, &pe) && pe.Code == "28P01":
		return ": the password is not the role's"
	case errors.As(err, &pe) && pe.Code == "3D000":
		return fmt.Sprintf(": make it, owned by the node's role (createdb -O %s %s; docs/POSTGRES.md)", cfg.User, cfg.Database)
	case errors.Is(err, syscall.ECONNREFUSED):
		return ": is the server running, and listening there?"
	}
	return ""
}

// postgresReader is a pool of read-only sessions: reads, as on SQLite's
// query_only connections, can never write. A read waits for a lock at most
// readerLockTimeout.
func postgresReader(cfg *pgx.ConnConfig) *sql.DB {
	rcfg := cfg.Copy()
	if rcfg.RuntimeParams == nil {
		rcfg.RuntimeParams = map[string]string{}
	}
	rcfg.RuntimeParams["default_transaction_read_only"] = "on"
	rcfg.RuntimeParams["lock_timeout"] = readerLockTimeout
	return sql.OpenDB(rebindConnector{stdlib.GetConnector(*rcfg)})
}

// readerLockTimeout bounds a read's wait for a table another session holds
// locked (LOCK TABLE, VACUUM FULL, REINDEX, ALTER TABLE: a DBA's everyday
// work). Without it the read waited for its call's deadline, 30 s, holding
// its pool's connection meanwhile, and a few Gets of a locked table held
// every connection of the lookups pool: Gets of other tables, sync's reads
// and /healthz waited behind them (an outside review). A few seconds lets
// a short lock pass unnoticed; past them the read is answered UNAVAILABLE
// (55P03, Failure) and its connection is free again. It is set on the
// session, so a database's or role's own lock_timeout does not change it.
//
// The writer's session sets none of its own: its waits are bounded by its
// callers' deadlines, and a write not made is retried safely with its
// request_id; there a lock_timeout would also end waits the writer means
// to make (the schema lock a node opening waits on while a tool holds it,
// migrations' locks). A database's or role's lock_timeout still applies
// to it, and Failure answers it UNAVAILABLE too.
const readerLockTimeout = "5s"

// ShownURL is a store's PostgreSQL URL as printed and recorded: without
// its password (in the user part or as a parameter).
func ShownURL(store string) string {
	u, err := url.Parse(store)
	if err != nil {
		return "the PostgreSQL database"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// CheckStoreURL reports whether store is a PostgreSQL URL that parses,
// for servers and commands to refuse a wrong one before they open it. Its
// error never repeats the URL, which may hold a password.
func CheckStoreURL(store string) error {
	if !IsPostgres(store) {
		return errors.New("is not a PostgreSQL URL (postgres://USER@HOST:PORT/DATABASE); without it the store is provex.db in the data directory")
	}
	_, err := parsePostgresURL(store)
	return err
}

// parsePostgresURL parses a store's URL, its connections dialed by
// dialPostgres; its error never repeats the URL, which may hold a password.
func parsePostgresURL(url string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("the store's PostgreSQL URL does not parse (postgres://user:password@host:port/database?sslmode=...)")
	}
	cfg.DialFunc = dialPostgres(cfg.ConnectTimeout)
	return cfg, nil
}

// migratePostgres brings the database's schema to this binary's version,
// each file in its own transaction (PostgreSQL's DDL is transactional).
// The version is in schema_version, SQLite's user_version.
func migratePostgres(ctx context.Context, db *sql.DB, sqliteMigrations int, made func(*sql.Tx) error) error {
	err := migratePostgresSchema(ctx, db, sqliteMigrations, made)
	if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) && pe.Code == "42501" {
		return fmt.Errorf("%w: the node's role may not make tables in this database: make the database its own (ALTER DATABASE name OWNER TO role, or createdb -O role name; docs/POSTGRES.md)", err)
	}
	return err
}

// migratePostgresSchema is migrate on PostgreSQL: a new database's
// migrations run in one transaction, with made's rows.
func migratePostgresSchema(ctx context.Context, db *sql.DB, sqliteMigrations int, made func(*sql.Tx) error) error {
	names, err := fs.Glob(postgresMigrations, "postgres/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	versions := make([]int, len(names))
	for i, name := range names {
		base := strings.TrimPrefix(name, "postgres/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil || (i > 0 && v != versions[i-1]+1) {
			return fmt.Errorf("PostgreSQL migration %s: its number must follow the one before it", name)
		}
		versions[i] = v
	}
	latest := versions[len(versions)-1]
	if latest != sqliteMigrations {
		return fmt.Errorf("this binary's PostgreSQL schema is at version %d and its SQLite schema at %d: every SQLite migration needs its PostgreSQL counterpart in storage/sqlstore/postgres", latest, sqliteMigrations)
	}
	if _, err := db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)"); err != nil {
		return err
	}
	version := 0
	switch err := db.QueryRowContext(ctx, "SELECT version FROM schema_version").Scan(&version); {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := db.ExecContext(ctx, "INSERT INTO schema_version (version) VALUES (0)"); err != nil {
			return err
		}
	case err != nil:
		return err
	}
	if version > latest {
		return fmt.Errorf("database is at schema version %d, newer than this binary's %d", version, latest)
	}
	fresh := version == 0
	var tx *sql.Tx
	defer func() {
		if tx != nil {
			tx.Rollback()
		}
	}()
	for i, name := range names {
		// The first file makes the schema of its version from nothing (a
		// database is never between 0 and it); each after it goes one up.
		if versions[i] <= version {
			continue
		}
		body, err := postgresMigrations.ReadFile(name)
		if err != nil {
			return err
		}
		if tx == nil {
			if tx, err = db.BeginTx(ctx, nil); err != nil {
				return err
			}
		}
		// The national views depend on the columns a migration may change;
		// ensureNational makes them again after it.
		if _, err := tx.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+nationalSchema+" CASCADE"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			return migrationFailed(name, version, err)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE schema_version SET version = ?", versions[i]); err != nil {
			return err
		}
		if fresh && i < len(names)-1 {
			continue
		}
		if fresh && made != nil {
			if err := made(tx); err != nil {
				return err
			}
		}
		err = tx.Commit()
		tx = nil
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		version = versions[i]
	}
	return nil
}

// rebindConnector gives connections whose queries are rewritten from
// SQLite's parameters to PostgreSQL's (rebind) before pgx sees them, so
// the store's SQL is written once.
type rebindConnector struct{ driver.Connector }

func (c rebindConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return rebindConn{conn.(*stdlib.Conn)}, nil
}

// rebindConn is pgx's connection with its queries rebound; every other
// method (transactions, value checks, session resets) is pgx's own.
type rebindConn struct{ *stdlib.Conn }

func (c rebindConn) Prepare(query string) (driver.Stmt, error) {
	return c.Conn.Prepare(rebind(query))
}

func (c rebindConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.PrepareContext(ctx, rebind(query))
}

func (c rebindConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return c.Conn.ExecContext(ctx, rebind(query), args)
}

func (c rebindConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return c.Conn.QueryContext(ctx, rebind(query), args)
}

// CheckNamedValue passes every value to pgx as it is, but booleans
// (postgresValue).
func (c rebindConn) CheckNamedValue(nv *driver.NamedValue) error {
	nv.Value = postgresValue(nv.Value)
	return c.Conn.CheckNamedValue(nv)
}

// postgresValue is v as the store gives it to PostgreSQL: a boolean as 0
// or 1, for the integer columns the store keeps them in as SQLite does.
func postgresValue(v any) any {
	if b, ok := v.(bool); ok {
		if b {
			return int64(1)
		}
		return int64(0)
	}
	return v
}

// copyAtLeast is the fewest rows a COPY loads: a COPY is an exchange of
// its own with the server (start, rows, end) for each table, where a few
// rows go in one multi-row INSERT as fast.
const copyAtLeast = 64

// copyChunk is how many queued record rows a pull lets gather before it
// sends them (copyQueue) and goes on with its entries while the server
// loads them.
const copyChunk = 1000

// ApplyRunSize asks a sync engine to join a pull's runs into transactions
// of 16,000 entries (32 MiB) on PostgreSQL, four times its default, and
// keeps the default on SQLite. Each transaction on PostgreSQL ends with a
// COPY the writer waits for with nothing else to do, its rollup groups and
// its commit: 200,000 entries caught up in 15.2 s in runs of 4,000 and in
// 12.9 s in runs of 16,000 (BENCHMARKS.md). The price is that a local
// write queued behind a run waits for it: about 1.1 s at PostgreSQL's
// catch-up rate (14,717 entries/s), where a ministry writes little of its own. On SQLite the
// longer runs gained 4-5%, which is not worth holding a province's local
// writes four times longer.
func (db *DB) ApplyRunSize() (entries, bytes int) {
	if !db.dialect.postgres {
		return 0, 0
	}
	return 16000, 32 << 20
}

// commitPostgres commits the writer's transaction (writeTx) on c.
// PostgreSQL answers the COMMIT of a transaction an error aborted with the
// tag ROLLBACK, not with an error; pgx's own Tx checks the tag the same way.
func commitPostgres(c *sql.Conn) error {
	return c.Raw(func(dc any) error {
		tag, err := dc.(rebindConn).Conn.Conn().Exec(context.Background(), "COMMIT")
		if err == nil && tag.String() == "ROLLBACK" {
			return pgx.ErrTxCommitRollback
		}
		return err
	})
}

// copies reports whether n rows go in by COPY: on PostgreSQL, inside the
// writer's transaction (openTx), when there are enough of them. PostgreSQL
// loads COPY's rows a page at a time; an INSERT goes through its executor
// a row at a time, and with ON CONFLICT inserts each row speculatively: a
// catch-up made of INSERTs ran at 0.28x COPY of the same rows.
func (db *DB) copies(n int) bool {
	return db.dialect.postgres && db.openTx != nil && n >= copyAtLeast
}

// A flight is work on the writer's connection under way in a goroutine
// of its own (launch), while the writer goes on preparing what comes next
// in Go: a pull's decoding, opening and column values, and the server's
// loading of the rows before them, take turns otherwise. Its statements
// and the writer's take turns on the connection (database/sql locks it),
// so the writer lands the flight (land) before it reads what the flight
// writes or ends the run, and drops it (dropFlight) before it rolls the
// run back. While a flight is under way the writer only executes
// statements: a read releases the connection between its rows, where
// the flight could take it and find pgx's connection busy. Every read of
// a run goes through flushIndex, which lands the flight first.
type flight struct {
	done chan error
	// landed runs in the writer once the work succeeded.
	landed func(tx *writeTx) error
}

// launch lands the flight under way, then starts work as the next.
func (db *DB) launch(tx *writeTx, work func(ctx context.Context, c *pgx.Conn) error, landed func(tx *writeTx) error) error {
	if err := db.land(tx); err != nil {
		return err
	}
	f := &flight{done: make(chan error, 1), landed: landed}
	tx.changes++
	conn := db.openTx.conn
	go func() {
		f.done <- conn.Raw(func(dc any) (err error) {
			// A panic here would leave the writer waiting for done, and
			// database/sql's release of the connection waiting for the
			// transaction: it fails the run instead.
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("COPY on the writer's connection panicked: %v", p)
				}
			}()
			return work(context.Background(), dc.(rebindConn).Conn.Conn())
		})
	}()
	db.index.flight = f
	return nil
}

// land waits for the flight under way, if any, and finishes it.
func (db *DB) land(tx *writeTx) error {
	f := db.index.flight
	if f == nil {
		return nil
	}
	db.index.flight = nil
	if err := <-f.done; err != nil {
		return err
	}
	if f.landed == nil {
		return nil
	}
	return f.landed(tx)
}

// dropFlight waits for the flight under way, if any, and forgets it: the
// run failed, and its savepoint is about to undo what the flight wrote.
// It returns the flight's error: a COPY that failed aborts the
// transaction, and what the run saw next was only its consequence.
func (db *DB) dropFlight() error {
	f := db.index.flight
	if f == nil {
		return nil
	}
	db.index.flight = nil
	return <-f.done
}

// copyRows loads rows into table's columns with COPY. Values are as the
// store binds them to its statements, and go as postgresValue makes them.
func copyRows(ctx context.Context, c *pgx.Conn, table string, columns []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	for _, row := range rows {
		for i, v := range row {
			row[i] = postgresValue(v)
		}
	}
	_, err := c.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromRows(rows))
	return err
}

// copyRecords is insertQueued by COPY: it looks up which of the rows'
// names are taken, takes ids for the others from the table's identity
// sequence (COPY returns none), loads them, then their words and
// elements. It returns the ids by name.
func copyRecords(ctx context.Context, c *pgx.Conn, k *resource.Kind, rows []queuedRow) (map[string]int64, error) {
	st := rows[0].st
	names := make([]string, len(rows))
	for i, r := range rows {
		names[i] = r.name
	}
	// pgx's Rows carry a failed query's error to CollectRows.
	q, _ := c.Query(ctx, "SELECT name FROM "+st.table+" WHERE name = ANY($1)", names)
	taken, err := pgx.CollectRows(q, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	isTaken := make(map[string]bool, len(taken))
	for _, n := range taken {
		isTaken[n] = true
	}
	var fresh []queuedRow
	for _, r := range rows {
		if !isTaken[r.name] {
			fresh = append(fresh, r)
		}
	}
	ids := make(map[string]int64, len(fresh))
	if len(fresh) == 0 {
		return ids, nil
	}
	// The ids take one step of the sequence (only the writer, which holds
	// writerLock, inserts rows); a nextval each cost about as much as COPY
	// of the changes.
	var last int64
	if err := c.QueryRow(ctx, "SELECT setval(s, nextval(s) + $2 - 1) FROM (SELECT pg_get_serial_sequence($1, 'id')::regclass AS s) q",
		st.table, int64(len(fresh))).Scan(&last); err != nil {
		return nil, fmt.Errorf("take %d ids of %s: %w", len(fresh), st.table, err)
	}
	values := make([][]any, len(fresh))
	var words, elements [][]any
	for i, r := range fresh {
		// Ids ascend in the order of the entries, as an INSERT gives them.
		id := last - int64(len(fresh)-1-i)
		ids[r.name] = id
		data := r.data
		if data == nil {
			data = []byte{}
		}
		values[i] = append([]any{id, r.name, r.province, r.seq, data, r.text}, r.cols...)
		for _, w := range r.words {
			words = append(words, []any{id, w})
		}
		eachElement(st, r.elements, func(list int64, v any) {
			elements = append(elements, []any{list, v, id})
		})
	}
	if err := copyRows(ctx, c, st.table, st.copyColumns, values); err != nil {
		return nil, err
	}
	if err := copyRows(ctx, c, k.Table()+"_words", []string{"record", "word"}, words); err != nil {
		return nil, fmt.Errorf("index the words: %w", err)
	}
	if err := copyRows(ctx, c, "record_elements", []string{"list", "value", "record"}, elements); err != nil {
		return nil, fmt.Errorf("index repeated fields: %w", err)
	}
	return ids, nil
}

// checkWriterSession checks a session of the writer made again (the
// server or the network ended the one before) against what the writer
// holds: the heads of the node's own log and of the audit trail. Another
// node may have held the lock meanwhile and written, or a commit whose
// answer was lost may have landed; the writer's cached heads then name
// entries the store has others under, and every write failed on a
// duplicate key, INTERNAL, while reads went unaudited and health said ok
// (an outside review). Such a store is fenced: the writer writes nothing
// more, the session is refused (so the lock goes to whoever needs it), and
// the node says to restart it, which reads the heads again.
func (db *DB) checkWriterSession(ctx context.Context, c *pgx.Conn) error {
	if why := db.fenced.Load(); why != nil {
		return errors.New(*why)
	}
	var seq, audited int64
	if err := c.QueryRow(ctx, "SELECT COALESCE((SELECT max(seq) FROM changes WHERE origin = $1), 0), COALESCE((SELECT max(seq) FROM audit), 0)", db.origin).Scan(&seq, &audited); err != nil {
		return err
	}
	head, auditHead := db.currentHead().Seq, db.auditLength.Load()
	if uint64(seq) == head && audited == auditHead {
		return nil
	}
	why := fmt.Sprintf("the store changed while the writer's session was lost (its own log's head is %d, the writer's %d; its audit trail's %d, the writer's %d): another node wrote to it, or a commit whose answer was lost landed; this node writes nothing more until it is restarted", seq, head, audited, auditHead)
	if db.fenced.CompareAndSwap(nil, &why) {
		db.log.Error("writes stopped", "why", why)
	}
	return errors.New(why)
}

// Fenced says why the writer writes nothing more, or "".
func (db *DB) Fenced() string {
	if p := db.fenced.Load(); p != nil {
		return *p
	}
	return ""
}
