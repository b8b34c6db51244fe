// Package sqlstore is provex's store on a SQL database: embedded SQLite
// (mattn/go-sqlite3), a node's file and the default, or a PostgreSQL
// server (pgx), for the ministry's national store (issue 15). It is one
// engine over database/sql; what differs between the two is in dialect.go
// and postgres.go, and storagetest's conformance suite runs on both.
//
// On SQLite the database runs in WAL mode with synchronous=FULL: a write is
// acknowledged only after its commit is in the WAL and fsynced. One writer
// connection, owned by one goroutine, applies writes; concurrent writes that
// arrive while a commit is in flight are committed together (group commit),
// and one bad write never fails its neighbours (DB.commit says how).
// Reads go to a separate pool of read-only connections and never wait for
// the writer.
//
// WAL checkpoints stay with SQLite (inside the commit that crosses 1000
// pages). Running them from a background connection instead was measured
// to make single writes about 40% slower: its fsyncs of the database file
// compete with the writer's fsync of the WAL.
package sqlstore

import (
	"cmp"
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/provex/provex/audit"
	"github.com/provex/provex/changelog"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/internal/atomicfile"
	"github.com/provex/provex/internal/filter"
	"github.com/provex/provex/internal/ownerfile"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options tune a store; the zero value is the production default.
// DefaultMaxRecordBytes and DefaultMaxPageBytes fit the API's answers in
// its default 4 MiB messages: a Get's record, and a List page with room
// for its token.
const (
	DefaultMaxRecordBytes = 1 << 20
	DefaultMaxPageBytes   = 4<<20 - 16<<10
)

type Options struct {
	Logger *slog.Logger
	// Wall is the wall clock under the hybrid logical clock (tests pin it).
	Wall func() time.Time
	// MaxBatch caps how many writes share one commit (default 256).
	MaxBatch int
	// MaxRecordBytes bounds a record the node writes, encoded (default
	// DefaultMaxRecordBytes): a larger one is refused (INVALID_ARGUMENT)
	// before it is stored, as its answers could not be sent.
	MaxRecordBytes int
	// MaxPageBytes bounds the encoded records of a List page (default
	// DefaultMaxPageBytes): the page ends before the record that would
	// pass it, with a token for the next, and holds at least one record.
	MaxPageBytes int
	// Readers is the size of each of the two main read pools, lookups and
	// queries (readPools) (default 2 × GOMAXPROCS, at least 4).
	Readers int
	// Key signs a checkpoint of the node's own log in every commit that
	// extends it, and the audit trail's head in every commit that extends
	// that. Without a key nothing is signed (tests of storage alone, and
	// tools that only read).
	Key ed25519.PrivateKey
	// PublicKey is the node's public key, to check what it signed (its
	// audit head) when Key is not given: tools that only verify.
	PublicKey ed25519.PublicKey
	// PastKeys are keys the node signed with before Key (the manifest's
	// previous keys of its member): its audit trail's head may have been
	// signed with one of them when it opens.
	PastKeys []ed25519.PublicKey
	// Sealer seals the node's states that not every member may read and
	// opens the entries sealed to the node. Without one the store makes a
	// key of its own for this run (tests of storage alone).
	Sealer *changelog.Sealer
	// Directory gives the members' encryption keys to seal to. Without one
	// the node seals to itself alone.
	Directory changelog.Directory
	// NoAudit writes no audit trail: only to measure what it costs (bench).
	NoAudit bool
	// ReadAuditQueue bounds the read records waiting for the writer
	// (default 4096). A read that finds it full waits up to ReadAuditWait
	// (default 1s) for room, then is refused (RESOURCE_EXHAUSTED).
	ReadAuditQueue int
	ReadAuditWait  time.Duration
	// Restore lets ApplyRemote take the node's own entries back from its
	// peers (provex restore, into a store that lost them). Never for a
	// serving node: its own log has one writer, itself. A database it
	// claims is claimed with its own log held (RestoreUnfinished), in one
	// transaction: the restore lifts the hold when it finishes.
	Restore bool
	// Committed, when set, is called after every commit that extended the
	// node's own log (sync announces it). It must not block.
	Committed func()
	// Beside opens the store for a tool that runs beside the node serving
	// on it (tokens, audit checks), which must write no change-log entry:
	// on PostgreSQL it does not take the writer's lock, which the serving
	// node holds. (SQLite's own locks let both at a file.)
	Beside bool
	// ReportOnly makes the checks of stored logs (VerifyLog) report what
	// they find and record nothing, as beside a serving node: for a tool
	// checking with keys other than the ones the node took, which could
	// take newer signatures for forgeries.
	ReportOnly bool
	// Tool names the tool that opens the store, not beside a node
	// (verify run while no node serves): on PostgreSQL its session holding
	// the writer's lock is named "provex <Tool>", and a node opening the
	// store meanwhile waits until the tool ends instead of failing.
	Tool string
	// Release names the binary that opens the store (its version and
	// commit, as the node reports them): the entries it holds rejected
	// are retried once under each release (applyRejected). A release
	// built without VCS stamping (scripts/release.sh, the container) is
	// told from another only by this: Go's build info says "(devel)" for
	// all of them, and a release that relaxed a rule never applied what
	// the one before refused (an outside review).
	Release string
	// Observe, when set, is told of every transaction the writer commits:
	// how many writes it held (the group commit's batch) and how long it
	// took from its start to its commit, for the node's metrics. It must
	// not block.
	Observe func(writes int, took time.Duration)
}

// DB is a node's SQLite store. It implements storage.Store.
type DB struct {
	dialect dialect
	origin  string
	log     *slog.Logger
	// writerLock is the SQLite writer's lock (writerlock.go), nil beside
	// a node and on PostgreSQL.
	writerLock io.Closer
	// dir is the SQLite file's directory, whose file system's room tells
	// a disk with room from one whose writes fit only in the pages and WAL
	// frames SQLite reuses ("" on PostgreSQL).
	dir string
	// rowDamage is the first record whose row reads found changed
	// outside the node, rowDamageReads how many reads did (RowDamage).
	rowDamage      atomic.Pointer[string]
	rowDamageReads atomic.Int64
	// fenced says why the writer writes nothing more: on PostgreSQL,
	// its session was made again and the store was not as it left it
	// (checkWriterSession).
	fenced atomic.Pointer[string]
	// writesHeld says why the node writes nothing of its own until it is
	// restarted (HoldWrites).
	writesHeld atomic.Pointer[string]
	// fileDamage is the first error of SQLite finding the file damaged
	// (Failure).
	fileDamage atomic.Pointer[string]
	// diskFullLogged, serverAwayLogged, readOnlyLogged, timeoutLogged,
	// conflictLogged, filesExhaustedLogged and otherFailureLogged are when
	// a full disk, an unreachable server, a read-only database, a
	// statement's timeout or cancel, a deadlock or serialization failure,
	// the node out of file descriptors and any other failure told the node's
	// health (Plainly) were last logged (unix nanoseconds): once a minute
	// is enough.
	diskFullLogged, serverAwayLogged, readOnlyLogged, timeoutLogged, conflictLogged, filesExhaustedLogged, otherFailureLogged atomic.Int64
	// diskFullSince and readOnlySince are when a write was first refused
	// for a full disk, or by a read-only database, since the last commit
	// (unix nanoseconds), or 0 (DiskFull, ReadOnly).
	diskFullSince, readOnlySince atomic.Int64
	writer                       *sql.DB
	// reader, queries and tokens are the read pools (readPools): lookups
	// of bounded cost, List and Summarize, and the token check.
	reader  *sql.DB
	queries *sql.DB
	tokens  *sql.DB
	// readers is the size of each read pool (Options.Readers).
	readers int
	clock   *changelog.Clock

	queue    chan *pendingWrite
	maxBatch int
	// maxRecord and maxPage are Options.MaxRecordBytes and MaxPageBytes.
	maxRecord, maxPage int
	stop               chan struct{}
	stopped            chan struct{}
	closeMu            sync.RWMutex
	closed             bool

	// head is the last entry of the origin's own log (without Data). Only
	// the writer goroutine changes it; headMu guards readers of it.
	headMu sync.Mutex
	head   changelog.Entry
	// unsigned counts the bytes of own entries since the last checkpoint
	// (writer goroutine only).
	unsigned int

	// stmts and shared are filled once by prepareAll and only read afterwards.
	stmts  map[*resource.Kind]*kindStmts
	shared *sharedStmts
	// The rollups' upserts and deletions of emptied groups, and the groups
	// the write being applied changed.
	rollupUpserts map[*rollup]string
	rollupDeletes map[*rollup]string
	// index holds the words and elements of the records a run of applied
	// entries inserted, until the run flushes them (indexbatch.go).
	index indexBatch
	// pended: the kinds whose rows a write of the open transaction left
	// words pending for (pendWords). Writer goroutine only.
	pended   map[*resource.Kind]bool
	deltas   rollupDeltas
	txDeltas rollupDeltas // of the record writes of the open transaction
	// reruns counts the batches run again, each write in a savepoint,
	// after a write failed having perhaps changed the transaction
	// (commit). Writer goroutine only.
	reruns int
	// openTx is the writer's open transaction, whose connection is also
	// for what runs below database/sql on it (COPY, in copyInto).
	openTx *writeTx
	key    ed25519.PrivateKey
	// pub is key's public half, read by audit checks outside the writer;
	// serving holds key for SignOwnCheckpoint, outside the writer too.
	pub     atomic.Pointer[ed25519.PublicKey]
	serving atomic.Pointer[ed25519.PrivateKey]
	// sealer seals and opens. Only the writer changes it (UseKeys); runs
	// are prepared with it outside the writer (PrepareRemote).
	sealer atomic.Pointer[changelog.Sealer]
	// keyed is set when sealer holds the node's keys (Options.Sealer),
	// not a stand-in made for a store opened without them.
	keyed     bool
	directory changelog.Directory
	// release is Options.Release.
	release string

	// damage is the damaged ranges of stored logs by origin (log_damage),
	// which are never served.
	damageMu sync.Mutex
	damage   map[string][]storage.Damage
	// damageTx holds the damage changes of the writer's open transaction,
	// published when it commits (only the writer goroutine uses it).
	damageTx map[string][]storage.Damage
	// fullCheck names the origins whose next check reads all their log;
	// damageGen counts repairs and damage found outside checks per origin
	// (both guarded by damageMu).
	fullCheck map[string]bool
	damageGen map[string]uint64
	// readFound is when reads last had an origin's log checked in full,
	// by the entry they found damaged (readFoundDamage).
	readFound map[string]map[uint64]time.Time
	// anyWithdrawn is false while the withdrawn table is empty (as on most
	// nodes, most of the time), which spares applying an entry a lookup
	// in it. Only the writer goroutine uses it; it is never reset.
	anyWithdrawn bool
	// anyOwed is false while withdrawals_owed is empty, which spares each
	// sealed write a lookup in it; the same, of withdrawal notices this
	// node owes (withdrawals.go).
	anyOwed bool
	// anyReadersOwed is false while readers_owed is empty: the same, of
	// records owed to readers that had no key (withdrawals.go).
	anyReadersOwed bool
	// wipePending: a record was withdrawn since the WAL was last emptied,
	// and its page copies may still be in it (wipeWAL). Writer only.
	wipePending bool
	committed   func()
	observe     func(writes int, took time.Duration)
	// auditLength is the audit trail's length (its head's seq), for
	// readers outside the writer.
	auditLength atomic.Int64
	noAudit     bool
	restoring   bool
	beside      bool // Options.Beside
	reportOnly  bool // Options.ReportOnly, or Beside
	// auditHead is the last audit record (Seq and Hash only); only the
	// writer goroutine uses it.
	auditHead audit.Record
	// reads queues the records of audited reads for the writer, which
	// appends them in batches (readBatch, reused).
	reads     chan audit.Record
	readBatch []audit.Record
	readWait  time.Duration

	tokenMu    sync.Mutex
	tokenCache map[string]cachedToken
}

// Open opens (creating if needed) the database at path for the node of the
// given origin (its member id), applies pending migrations and starts the
// writer. It is the only place provex opens a database. The database file
// and its -wal and -shm files are made owner-only (0600), existing ones
// tightened with a warning in the log.
//
// An empty origin means the member the database was created for, for tools
// that open a node's database by path (tokens, audit verification).
func Open(ctx context.Context, path, origin string, opts Options) (*DB, error) {
	if origin != "" && !resource.IsMember(origin) {
		return nil, fmt.Errorf("open store: %q is not a federation member", origin)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	if opts.MaxRecordBytes <= 0 {
		opts.MaxRecordBytes = DefaultMaxRecordBytes
	}
	if opts.MaxPageBytes <= 0 {
		opts.MaxPageBytes = DefaultMaxPageBytes
	}
	if opts.ReadAuditQueue <= 0 {
		opts.ReadAuditQueue = 4096
	}
	if opts.ReadAuditWait <= 0 {
		opts.ReadAuditWait = time.Second
	}
	if opts.Readers <= 0 {
		opts.Readers = max(4, 2*runtime.GOMAXPROCS(0))
	}
	if IsPostgres(path) {
		return openStore(ctx, path, origin, opts, postgresDialect)
	}
	// Owner-only before SQLite opens it: SQLite creates the -wal and -shm
	// files with the database file's mode.
	if err := ownerfile.CreatePrivate(path, opts.Logger); err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	for _, f := range []string{path + "-wal", path + "-shm"} {
		if err := ownerfile.Tighten(f, ownerfile.FileMode, opts.Logger); err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
	}
	db, err := openStore(ctx, path, origin, opts, sqliteDialect)
	if fileDamaged(err) {
		err = fmt.Errorf("%w: %s", err, restoreAdvice)
	}
	return db, err
}

// restoreAdvice is what to do with a database file SQLite finds damaged.
const restoreAdvice = "the database file is damaged; move the data directory aside and restore it from a backup (provex verify checks one) or from the peers (provex restore, into an empty data directory)"

// openLocked opens a PostgreSQL store with the writer's lock (unless
// opts.Beside), named for a node or opts.Tool. A node finding the lock held
// by a tool waits for the tool to end, so that a deploy script may start
// both at once.
func openLocked(ctx context.Context, url string, opts Options, sessions *writerSessions) (writer *sql.DB, reads readPools, err error) {
	holder := lockHolderApp
	switch {
	case opts.Beside:
		holder = ""
	case opts.Tool != "":
		holder = lockHolderApp + " " + opts.Tool
	}
	var logged time.Time
	for {
		writer, reads, err = openPostgres(ctx, url, opts.Readers, holder, sessions)
		if !errors.Is(err, ErrToolWriting) || holder != lockHolderApp {
			return writer, reads, err
		}
		// Said again every minute: a session that only calls itself a
		// tool (any role may name its session) would keep the node
		// waiting until someone ends it.
		if time.Since(logged) >= time.Minute {
			opts.Logger.Warn("waiting for the writer's lock", "err", err)
			logged = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil, readPools{}, err
		case <-time.After(time.Second):
		}
	}
}

// openStore is Open on either database: path is a file for SQLite, a URL
// for PostgreSQL (which error messages do not repeat: it may hold a
// password).
func openStore(ctx context.Context, path, origin string, opts Options, d dialect) (_ *DB, err error) {
	where := path
	var writer *sql.DB
	var reads readPools
	var lock io.Closer // the SQLite writer's lock, held until Close
	var sessions writerSessions
	// A restore's new database is claimed and held as it is made.
	var made func(*sql.Tx) error
	if opts.Restore && origin != "" {
		made = func(tx *sql.Tx) error { return claimNew(ctx, tx, origin, true) }
	}
	if d.postgres {
		where = "the PostgreSQL store"
		if writer, reads, err = openLocked(ctx, path, opts, &sessions); err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		// What follows, to the national views, makes and changes the
		// schema: a node and a tool opening the database at once (or a
		// node started twice) take turns, or the loser fails on the
		// winner's half-made catalog rows.
		if _, err := writer.ExecContext(ctx, "SELECT pg_advisory_lock(?)", int64(schemaLock)); err != nil {
			writer.Close()
			reads.Close()
			return nil, fmt.Errorf("open store: %w", err)
		}
		defer writer.ExecContext(context.Background(), "SELECT pg_advisory_unlock(?)", int64(schemaLock))
		if err := migratePostgres(ctx, writer, len(sqliteMigrationNames()), made); err != nil {
			writer.Close()
			reads.Close()
			return nil, fmt.Errorf("migrate %s: %w", where, err)
		}
	} else {
		if !opts.Beside {
			holder := cmp.Or(opts.Tool, holderNode)
			if lock, err = lockSQLiteWriter(ctx, path, holder, opts.Logger); err != nil {
				return nil, fmt.Errorf("open store: %w", err)
			}
			defer func() {
				if err != nil {
					lock.Close()
				}
			}()
		}
		if writer, err = sql.Open("sqlite3", dsn(path, false)); err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		writer.SetMaxOpenConns(1)
		writer.SetMaxIdleConns(1)
		writer.SetConnMaxLifetime(0)
		if err := migrate(ctx, writer, made); err != nil {
			writer.Close()
			return nil, fmt.Errorf("migrate %s: %w", path, readOnlyHint(path, err))
		}
		// Before anything reads a table or prepares a statement on one.
		if err := checkSchema(ctx, writer, opts.Logger, !(opts.Beside || opts.ReportOnly || opts.Tool != "")); err != nil {
			writer.Close()
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
	}
	closeAll := func() {
		writer.Close()
		reads.Close()
	}
	if origin, err = claimDatabase(ctx, writer, origin, opts.Restore); err != nil {
		closeAll()
		return nil, fmt.Errorf("open %s: %w", where, err)
	}
	if err := reindex(ctx, writer, d, opts.Logger); err != nil {
		closeAll()
		return nil, fmt.Errorf("migrate %s: %w", where, err)
	}
	if err := ensureRollups(ctx, writer, d, opts.Logger); err != nil {
		closeAll()
		return nil, fmt.Errorf("build rollups in %s: %w", where, err)
	}
	if d.postgres {
		if err := ensureNational(ctx, writer); err != nil {
			closeAll()
			return nil, fmt.Errorf("make the national views in %s: %w", where, err)
		}
	}
	if !d.postgres {
		if reads, err = openSQLiteFinish(ctx, writer, path, opts.Readers, opts.Beside || opts.ReportOnly || opts.Tool != ""); err != nil {
			writer.Close()
			return nil, err
		}
	}
	db, err := newDB(ctx, origin, writer, reads, opts, d)
	if err != nil {
		return nil, err
	}
	if d.postgres {
		check := db.checkWriterSession
		sessions.check.Store(&check)
	}
	db.writerLock = lock
	if !d.postgres {
		db.dir = filepath.Dir(path)
	}
	if !opts.Beside && !opts.ReportOnly && opts.Tool == "" {
		// Entries a version before this one refused (a record of a kind
		// it did not know, during a rolling upgrade) nothing else applies
		// again. A failure leaves them held, to the next start: the node
		// serves meanwhile, as it would with an entry refused for good.
		n, restated, err := db.applyRejected(ctx)
		switch {
		case err != nil:
			db.log.Error("applying the entries held unapplied that this version applies failed; they stay unapplied until the next start", "applied", n, "err", err)
		case n > 0:
			db.log.Info("applied entries held unapplied that an earlier version refused", "entries", n)
		}
		if restated > 0 {
			db.log.Warn("entries held unapplied were held in another state than the reason they are refused for, made by hand or by a version before this one: each is now held in its own", "entries", restated)
		}
	}
	return db, nil
}

// openSQLiteFinish gathers the planner's statistics, sets the writer's
// last settings and opens the read pools of a SQLite store.
// A tool (report) opens a file whose pages the statistics cannot be
// gathered from: provex verify, to say where it is damaged.
func openSQLiteFinish(ctx context.Context, writer *sql.DB, path string, readers int, report bool) (readPools, error) {
	// The query planner needs table statistics to pick the right index for
	// a filter; 0x10002 analyses any table whose statistics are missing or
	// stale. The writer repeats a plain optimize now and then (optimizeEvery).
	// Statistics are exact (no analysis_limit): sampled ones made the planner
	// trust the province index on a node where every row has one province,
	// and a full ANALYZE costs about a second per million rows.
	// On a full disk the statistics wait for the writer's next optimize:
	// the node starts, serves reads and refuses writes until there is room.
	if _, err := writer.ExecContext(ctx, "PRAGMA optimize = 0x10002"); err != nil && !(report && fileDamaged(err)) && !diskFull(err) {
		return readPools{}, fmt.Errorf("optimize %s: %w", path, err)
	}
	// A write whose statements fired triggers (the rollups' before issue
	// 11) made SQLite create and delete a temporary file in /var/tmp, which
	// took 120 of 465 µs per write; statement journals of the writer's
	// savepoints go there too, and in memory cost a copy of each page
	// instead of a file (most batches run without them: DB.commit). Set
	// only now, so the bulk work above (rollup backfills, re-indexing)
	// sorts on disk, not in memory. The writer's one connection is never
	// recycled.
	if _, err := writer.ExecContext(ctx, writerPragmas); err != nil {
		return readPools{}, fmt.Errorf("open %s: %w", path, err)
	}
	// sql.Open checks the driver's name only; connections come later.
	lookups, err := sql.Open("sqlite3", dsn(path, true))
	if err != nil {
		return readPools{}, fmt.Errorf("open %s for reading: %w", path, err)
	}
	queries, _ := sql.Open("sqlite3", dsn(path, true))
	tokens, _ := sql.Open("sqlite3", dsn(path, true))
	reads := readPools{lookups: lookups, queries: queries, tokens: tokens}
	reads.size(readers)
	return reads, nil
}

// readPools are a store's read connections, in three pools. queries
// serves the reads whose cost a caller sets: List and Summarize (by their
// filter and grouping) and the audit trail's check (a read of the whole
// trail); lookups serves every read of bounded cost: Get, sync's entries
// and checkpoints, heads, and the node's own checks, which read in chunks;
// tokens serves the token check of each call alone. Costly queries,
// however many identities run them, then never hold the connections those
// need (THREATS A7); and Gets waiting on a table another session locked
// on PostgreSQL (LOCK TABLE, VACUUM FULL, REINDEX), which hold lookups
// until their lock_timeout (postgresReader), never hold up every other
// identity's calls at their token check (an outside review).
type readPools struct {
	lookups, queries, tokens *sql.DB
}

// tokenReaders is the size of the tokens pool: a check is one row by its
// key, and a token read is reused for tokenCacheTTL.
const tokenReaders = 2

// size gives lookups and queries n connections each, and tokens
// tokenReaders, kept open (an idle SQLite connection keeps its page cache;
// a new one starts cold).
func (r readPools) size(n int) {
	for p, n := range map[*sql.DB]int{r.lookups: n, r.queries: n, r.tokens: tokenReaders} {
		p.SetMaxOpenConns(n)
		p.SetMaxIdleConns(n)
		p.SetConnMaxLifetime(0)
	}
}

// Descriptors is how many file descriptors the store holds at most, its
// read pools full, for the node to set aside under its open-file limit
// (the pools open their connections when reads need them, so a connection
// flood that took the rest left a node unable to read: an outside
// review). On SQLite each connection (the writer's, each reader's, a
// backup's) holds the database file and its WAL, and the process holds
// one shared-memory file, the writer's lock, and a backup's copy and its
// journal; on PostgreSQL each connection is a socket, and the writer's
// lock holds a session of its own.
func (db *DB) Descriptors() int {
	connections := 1 + 2*db.readers + tokenReaders + 1 // the writer, the read pools, a backup
	if db.dialect.postgres {
		return connections + 1
	}
	return 2*connections + 4
}

// Close closes every pool; it does nothing on pools never opened.
func (r readPools) Close() error {
	var errs []error
	for _, p := range []*sql.DB{r.lookups, r.queries, r.tokens} {
		if p != nil {
			errs = append(errs, p.Close())
		}
	}
	return errors.Join(errs...)
}

// newDB starts the store on its open, migrated database.
func newDB(ctx context.Context, origin string, writer *sql.DB, reads readPools, opts Options, d dialect) (*DB, error) {
	keyed := opts.Sealer != nil
	if opts.Sealer == nil {
		key, err := ecdh.X25519().GenerateKey(rand.Reader)
		if err != nil {
			writer.Close()
			reads.Close()
			return nil, err
		}
		opts.Sealer, _ = changelog.NewSealer(key)
	}
	if opts.Directory == nil {
		opts.Directory = soloDirectory{origin, opts.Sealer.PublicKey()}
	}
	if opts.Key != nil {
		opts.PublicKey = opts.Key.Public().(ed25519.PublicKey)
	}
	db := &DB{
		dialect:       d,
		origin:        origin,
		log:           opts.Logger,
		writer:        writer,
		reader:        reads.lookups,
		queries:       reads.queries,
		tokens:        reads.tokens,
		readers:       opts.Readers,
		queue:         make(chan *pendingWrite, 4*opts.MaxBatch),
		maxBatch:      opts.MaxBatch,
		maxRecord:     opts.MaxRecordBytes,
		maxPage:       opts.MaxPageBytes,
		stop:          make(chan struct{}),
		stopped:       make(chan struct{}),
		stmts:         map[*resource.Kind]*kindStmts{},
		rollupUpserts: map[*rollup]string{},
		rollupDeletes: map[*rollup]string{},
		index:         newIndexBatch(),
		pended:        map[*resource.Kind]bool{},
		deltas:        rollupDeltas{},
		txDeltas:      rollupDeltas{},
		key:           opts.Key,
		keyed:         keyed,
		release:       opts.Release,
		directory:     opts.Directory,
		damage:        map[string][]storage.Damage{},
		fullCheck:     map[string]bool{},
		damageGen:     map[string]uint64{},
		readFound:     map[string]map[uint64]time.Time{},
		committed:     opts.Committed,
		observe:       opts.Observe,
		noAudit:       opts.NoAudit,
		restoring:     opts.Restore,
		beside:        opts.Beside,
		reportOnly:    opts.Beside || opts.ReportOnly,
		reads:         make(chan audit.Record, opts.ReadAuditQueue),
		readWait:      opts.ReadAuditWait,
	}
	db.sealer.Store(opts.Sealer)
	if opts.PublicKey != nil {
		db.pub.Store(&opts.PublicKey)
	}
	if opts.Key != nil {
		db.serving.Store(&opts.Key)
	}
	if err := db.prepareAll(); err != nil {
		db.writer.Close()
		reads.Close()
		return nil, err
	}
	if err := db.loadAuditHead(ctx, opts.PastKeys); err != nil {
		db.writer.Close()
		reads.Close()
		return nil, err
	}
	if err := db.loadHead(ctx, opts.Wall); err != nil {
		db.writer.Close()
		reads.Close()
		return nil, err
	}
	err := db.loadDamage(ctx)
	if err == nil {
		err = db.writer.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM withdrawn)").Scan(&db.anyWithdrawn)
	}
	if err == nil {
		err = db.writer.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM withdrawals_owed)").Scan(&db.anyOwed)
	}
	if err == nil {
		err = db.writer.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM readers_owed)").Scan(&db.anyReadersOwed)
	}
	if err == nil {
		var keys []ed25519.PublicKey
		if pub := db.publicKey(); pub != nil {
			keys = append([]ed25519.PublicKey{pub}, opts.PastKeys...)
		}
		err = db.checkOwnHead(ctx, keys)
	}
	if err != nil {
		db.writer.Close()
		reads.Close()
		return nil, err
	}
	go db.runWriter()
	return db, nil
}

// soloDirectory is the directory of a store without one: itself only.
type soloDirectory struct {
	member string
	key    *ecdh.PublicKey
}

func (d soloDirectory) EncryptionKey(member string) (*ecdh.PublicKey, bool) {
	return d.key, member == d.member
}

func (d soloDirectory) MemberIDs() []string { return []string{d.member} }

// writerPragmas are the writer's settings that a connection string cannot
// carry.
const writerPragmas = "PRAGMA temp_store = MEMORY"

// OpenConns opens the database at path with exactly the connection settings
// of a node's writer (one connection) or, readOnly, of its read pool, and
// nothing else: no migrations, no writer goroutine. It exists so that the
// bench's bare-SQLite baselines run with the node's own pragmas and cannot
// drift from them.
func OpenConns(path string, readOnly bool) (*sql.DB, error) {
	db, err := sql.Open("sqlite3", dsn(path, readOnly))
	if err != nil {
		return nil, err
	}
	db.SetConnMaxLifetime(0)
	if readOnly {
		return db, nil
	}
	// temp_store is per connection: keep the one connection for good.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	if _, err := db.Exec(writerPragmas); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// BackupInfo is what Backup copied: whose database, its size, and how far
// it holds each origin's log.
type BackupInfo struct {
	Member string
	Bytes  int64
	Heads  []BackupHead
}

// BackupHead is the last sequence number of one origin's log in a backup.
type BackupHead struct {
	Origin string
	Seq    uint64
}

// Backup writes a consistent copy of the database at path to out, while a
// node may hold path open and write to it. The copy is one self-contained
// file (no -wal), owner-only, written atomically; out, and any -wal or -shm
// beside it, must not exist, as SQLite would read a stale WAL into the
// copy. Copying a backup into a data directory is the same operation.
//
// It reads through a connection of its own rather than Open: Open writes
// (migrations, rollups, statistics) and would compete with the serving
// node's writer, while VACUUM INTO copies one read transaction's snapshot
// and never blocks it.
func Backup(ctx context.Context, path, out string) (*BackupInfo, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("backup: no database at %s: %w", path, err)
	}
	for _, f := range []string{out, out + "-wal", out + "-shm"} {
		if _, err := os.Lstat(f); err == nil {
			return nil, fmt.Errorf("backup: %s already exists; a backup never overwrites a file: give another name or move it away", f)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("backup: %w", err)
		}
	}
	// Read-only, but without query_only: that forbids VACUUM INTO writing
	// its output even though the source is never written.
	q := url.Values{}
	q.Set("mode", "ro")
	q.Set("_busy_timeout", strconv.Itoa(busyTimeout))
	src, err := sql.Open("sqlite3", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("backup %s: %w", path, err)
	}
	defer src.Close()
	src.SetMaxOpenConns(1)
	var info *BackupInfo
	err = atomicfile.Fill(out, ownerfile.FileMode, false, func(f *os.File) error {
		// A VACUUM INTO that fails (a full disk) can leave the copy's
		// rollback journal beside it, which atomicfile does not know of.
		defer os.Remove(f.Name() + "-journal")
		if _, err := src.ExecContext(ctx, "VACUUM INTO ?", f.Name()); err != nil {
			return err
		}
		var err error
		if info, err = describeBackup(ctx, f.Name()); err != nil {
			return err
		}
		fi, err := f.Stat()
		info.Bytes = fi.Size()
		return err
	})
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("backup: %s appeared while the copy was made; a backup never overwrites a file", out)
	}
	if err != nil {
		return nil, fmt.Errorf("copy %s to %s: %w", path, out, err)
	}
	return info, nil
}

// describeBackup reads whose database the copy at path is and its logs'
// heads. A file that is not a provex database fails here, before it takes
// its name.
func describeBackup(ctx context.Context, path string) (*BackupInfo, error) {
	db, err := sql.Open("sqlite3", dsn(path, true))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	info := &BackupInfo{}
	if err := db.QueryRowContext(ctx, "SELECT member FROM node").Scan(&info.Member); err != nil {
		return nil, fmt.Errorf("not a provex node's database (it does not say whose it is): %w", err)
	}
	// One index seek per origin, as in Origins, rather than a scan.
	origin := ""
	for {
		var next sql.NullString
		if err := db.QueryRowContext(ctx, "SELECT min(origin) FROM changes WHERE origin > ?", origin).Scan(&next); err != nil {
			return nil, err
		}
		if !next.Valid {
			return info, nil
		}
		origin = next.String
		h := BackupHead{Origin: origin}
		if err := db.QueryRowContext(ctx, "SELECT max(seq) FROM changes WHERE origin = ?", origin).Scan(&h.Seq); err != nil {
			return nil, err
		}
		info.Heads = append(info.Heads, h)
	}
}

// busyTimeout is how long a connection waits for a lock another holds, in
// milliseconds.
const busyTimeout = 10000

// dsn builds the connection string. Every connection gets the same pragmas
// because database/sql may open new ones at any time.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Set("_busy_timeout", strconv.Itoa(busyTimeout))
	q.Set("_foreign_keys", "on")
	q.Set("_cache_size", "-16000") // KiB: 16 MB per connection
	if readOnly {
		q.Set("mode", "ro")
		q.Set("_query_only", "true")
	} else {
		q.Set("_journal_mode", "WAL")
		// FULL: the WAL is fsynced at every commit, so an acknowledged
		// write survives power loss, not only a process crash.
		q.Set("_synchronous", "FULL")
		q.Set("_txlock", "immediate")
		// Deleted content is overwritten, freed pages too: a record taken
		// away from this node (a later state was sealed to others) leaves
		// no old copy in the file's free space. FAST, which skips what
		// would cost more I/O, left the overflow pages of a record longer
		// than a page on the free list as they were.
		q.Set("_secure_delete", "on")
		// The writer sends every statement as its text (writeTx), its
		// multi-row inserts (a pull's rows, words and elements; a merge of
		// pending words) in a few sizes each (insertRows: 1, 4, 16 ...
		// rows), again and again: the driver keeps the last 64 compiled
		// instead of SQLite parsing each, some of up to 30,000 parameters,
		// every time (BenchmarkWriteMixedKinds: a write of every kind in
		// turn finds its statements still there). Each kept
		// statement holds the bytes of its largest call's arguments (the
		// driver's buffer): a few MiB per kind a pull brings
		// (BENCHMARKS.md, "The writer keeps its compiled statements").
		q.Set("_stmt_cache_size", "64")
	}
	return "file:" + path + "?" + q.Encode()
}

// formatMigration is the schema version that brought change-log format 3
// (changelog.FormatVersion): sealed entries instead of redacted ones.
const formatMigration = 6

// ErrOldFormat is the error of opening a data directory whose change log
// an older provex wrote.
var ErrOldFormat = fmt.Errorf("the database holds a change log in format %d or older, written by an older provex; "+
	"this provex seals confidential records and cannot convert it. There is no release to upgrade from: "+
	"move the data directory away and start the node on an empty one, which in a federation provex restore fills from its peers (for the demo, remove provex-demo)", changelog.FormatVersion-1)

// dropTriggers drops every trigger of a SQLite database being upgraded.
// The node's schema has none since rollups are kept by the writer (issue
// 11); nodes before that made rollup triggers that name record_values,
// which migration 10 drops, so the first update of a record after it
// (reindex, at this very start) failed, and the node could not start on
// a data directory of 25-26 November (an outside review). They go in the
// transaction of the first migration: dropped on their own, a first start
// killed before that migration committed left the file at its old schema
// without them, and the release that made it, started again on it, kept
// its national totals wrong without a word (an outside review).
func dropTriggers(ctx context.Context, tx *sql.Tx) error {
	names, err := queryStrings(ctx, tx, "SELECT name FROM sqlite_master WHERE type = 'trigger'")
	if err != nil {
		return err
	}
	for _, name := range names {
		// The name is the database's own, quoted as an identifier.
		if _, err := tx.ExecContext(ctx, "DROP TRIGGER IF EXISTS "+quoteIdent(name)); err != nil {
			return fmt.Errorf("drop the old trigger %s: %w", name, err)
		}
	}
	return nil
}

// queryStrings returns the one text column of query's rows, read whole
// before the caller uses the connection again.
func queryStrings(ctx context.Context, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, args ...any) ([]string, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// migrate applies the embedded migrations above the database's user_version,
// each in its own transaction, except on a new database: there they run in
// one, with made's rows (nil: none), so that an open cut short leaves no
// schema without them. A restore's claim and hold are made's (claimNew): a
// database made and not yet claimed, which a node opening it would claim as
// a new one and write on, was a moment when a killed restore forked the
// node's log (an outside review).
func migrate(ctx context.Context, db *sql.DB, made func(*sql.Tx) error) error {
	names := sqliteMigrationNames()
	if err := numberedInOrder(names); err != nil {
		return err
	}
	var version int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return err
	}
	if version > len(names) {
		return fmt.Errorf("database is at schema version %d, newer than this binary's %d", version, len(names))
	}
	if version > 0 && version < formatMigration {
		var held bool
		if err := db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM changes)").Scan(&held); err != nil {
			return err
		}
		if held {
			return ErrOldFormat
		}
	}
	fresh := version == 0
	var tx *sql.Tx
	defer func() {
		if tx != nil {
			tx.Rollback()
		}
	}()
	for i := version; i < len(names); i++ {
		body, err := migrations.ReadFile(names[i])
		if err != nil {
			return err
		}
		if tx == nil {
			if tx, err = db.BeginTx(ctx, nil); err != nil {
				return err
			}
			if i == version {
				if err := dropTriggers(ctx, tx); err != nil {
					return err
				}
			}
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			from := i
			if fresh {
				from = 0 // the new database's one transaction rolls back whole
			}
			return migrationFailed(names[i], from, err)
		}
		// PRAGMA takes no bound parameters; i+1 is our own integer.
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1)); err != nil {
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
			return fmt.Errorf("%s: %w", names[i], err)
		}
	}
	if fresh {
		// One transaction for the whole schema left a WAL holding all of
		// its pages, a file SQLite keeps at that size for later frames (a
		// transaction per migration let the WAL start over from its
		// beginning): truncated, so that a node whose disk fills finds it
		// full as before, not with that room left in its WAL
		// (TestFullDiskRefusesWritesAndTheNodeWritesOnOnceThereIsRoom).
		if _, err := db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			return err
		}
	}
	return nil
}

// migrationFailed is the error of a migration that failed on a database at
// schema version from, rolled back whole. Released migrations are never
// changed (TestMigrationsAreAppendOnly), so one fails on a database a
// development build of provex made, whose migrations were numbered
// otherwise, or one changed by hand.
func migrationFailed(name string, from int, err error) error {
	return fmt.Errorf("schema migration %s failed on a database at version %d, and nothing of it was applied: %w. "+
		"If the error is of the disk or the server (full, read-only, locked), mend that and start again. "+
		"If it names the schema, the database was made by another build of provex whose migrations differ from this one's (a development build), "+
		"or changed by hand: run the provex that made it, or move the data directory aside and restore the node "+
		"from its peers into a new one (provex restore; for the demo, remove provex-demo)", path.Base(name), from, err)
}

// sqliteMigrationNames are the embedded SQLite migrations, in order.
func sqliteMigrationNames() []string {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		panic(err) // a constant pattern
	}
	sort.Strings(names)
	return names
}

// numberedInOrder checks that the migration files are numbered 1 to N
// without a gap or a repeat: user_version counts the migrations applied, so
// a file whose number is not its place (two branches each adding one, one
// left out) would make a database that has version n skip or re-run one.
func numberedInOrder(names []string) error {
	for i, name := range names {
		if want := fmt.Sprintf("%04d_", i+1); !strings.HasPrefix(path.Base(name), want) {
			return fmt.Errorf("migration %s is number %d in order: its name must begin %q (migrations are numbered 1 to N without gaps)", name, i+1, want)
		}
	}
	return nil
}

// loadHead restores the origin's log head and starts the clock past every
// time of its own log, so a restarted node never reuses a sequence number
// or goes back in time, and past the other origins' (as far as
// Clock.Observe goes).
func (db *DB) loadHead(ctx context.Context, wall func() time.Time) error {
	db.head = changelog.Entry{Origin: db.origin, PrevHash: changelog.ZeroHash, Hash: changelog.ZeroHash}
	head, err := scanEntry(db.writer.QueryRowContext(ctx,
		"SELECT "+entryColumns+" FROM changes WHERE origin = ? ORDER BY seq DESC LIMIT 1", db.origin))
	switch {
	case err == nil:
		head.Data = nil
		db.head = head
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("load log head: %w", err)
	}
	var maxHLC sql.NullInt64
	if err := db.writer.QueryRowContext(ctx, "SELECT max(hlc) FROM changes").Scan(&maxHLC); err != nil {
		return fmt.Errorf("load clock: %w", err)
	}
	db.clock = changelog.NewClock(db.head.HLC, wall)
	db.clock.Observe(maxHLC.Int64)
	return nil
}

// Member is the member the database belongs to.
func (db *DB) Member() string { return db.origin }

// Close stops accepting writes, lets queued ones finish, and closes the
// database.
func (db *DB) Close() error {
	db.closeMu.Lock()
	if db.closed {
		db.closeMu.Unlock()
		return nil
	}
	db.closed = true
	close(db.stop)
	db.closeMu.Unlock()
	<-db.stopped
	// A store closed cleanly holds no pending words (search.go); a tool
	// beside the serving node leaves them to it.
	if !db.beside {
		if err := db.mergeAllPendingWords(); err != nil {
			db.log.Warn("index the pending words on close", "err", err)
		}
	}
	rerr := errors.Join(db.reader.Close(), db.queries.Close(), db.tokens.Close())
	// A clean checkpoint folds the WAL back into the main file.
	if db.dialect.postgres {
		// Released now, not when the server ends the session after the
		// connection closes: a node (or tool) opening the store right
		// after this one closed it would otherwise find it still held.
		// Bounded as the writer's begin is: a node stopping on a silent
		// server stops all the same.
		ctx, cancel := context.WithTimeout(context.Background(), deadServerAfter)
		_, err := db.writer.ExecContext(ctx, "SELECT pg_advisory_unlock_all()")
		cancel()
		if err != nil {
			db.log.Warn("release the writer's lock on close", "err", err)
		}
	} else if !db.beside {
		// A tool beside the serving node leaves the WAL to it: this
		// checkpoint holds the WAL's write lock while it waits (up to
		// busyTimeout) for the node's reads, and the node's writes
		// stalled, or failed, meanwhile.
		if emptied, err := db.truncateWAL(); err != nil {
			db.log.Warn("checkpoint on close", "err", err)
		} else if !emptied {
			db.log.Warn("checkpoint on close: reads kept the WAL from being emptied; it holds pages written before this store closed, records withdrawn from the node among them, until the next start")
		}
	}
	werr := db.writer.Close()
	if db.writerLock != nil {
		// After the writer's connection: the next node to open the file
		// finds its last checkpoint done.
		db.writerLock.Close()
	}
	if werr != nil {
		return werr
	}
	return rerr
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// reindex recomputes the filter columns and search text of every row of
// the kinds a migration listed in the reindex table (columns it added),
// from the stored records, one transaction per kind.
func reindex(ctx context.Context, db *sql.DB, d dialect, log *slog.Logger) error {
	pending, err := queryStrings(ctx, db, "SELECT kind FROM reindex")
	if err != nil {
		return err
	}
	for _, collection := range pending {
		k, ok := resource.KindOf(collection)
		if !ok {
			return fmt.Errorf("reindex: unknown kind %q", collection)
		}
		if err := reindexKind(ctx, db, d, k, log); err != nil {
			return fmt.Errorf("reindex %s: %w", collection, err)
		}
	}
	return nil
}

// reindexKind recomputes k's columns, repeated fields' record_elements and
// search text (search.go). A row
// whose state cannot be read (its change-log entry is damaged, or the row
// was changed outside the node) keeps its columns, and the kind stays
// listed in reindex, so the next start tries again, once peers have
// repaired the log or the node was restored; it must not keep the node
// from starting, which repairs need.
func reindexKind(ctx context.Context, db *sql.DB, d dialect, k *resource.Kind, log *slog.Logger) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	sets := []string{"search_text = ?"}
	for _, f := range k.Schema.Fields() {
		if !f.Repeated {
			sets = append(sets, f.Column+" = ?")
		}
	}
	update, err := tx.PrepareContext(ctx, "UPDATE "+k.Table()+" SET "+strings.Join(sets, ", ")+" WHERE id = ?")
	if err != nil {
		return err
	}
	t := k.Table()
	insertWords, err := tx.PrepareContext(ctx, insertWordsSQL(d, t))
	if err != nil {
		return err
	}
	deleteWords, err := tx.PrepareContext(ctx, deleteWordsSQL(d, t))
	if err != nil {
		return err
	}
	deleteValues, err := tx.PrepareContext(ctx, "DELETE FROM record_elements WHERE list = ? AND record = ?")
	if err != nil {
		return err
	}
	insertValue, err := tx.PrepareContext(ctx, insertElementSQL)
	if err != nil {
		return err
	}
	stateCols, from := stateJoin(t, t)
	rows, err := tx.QueryContext(ctx, "SELECT "+t+".id, "+t+".search_text, "+stateCols+" FROM "+from)
	if err != nil {
		return err
	}
	type row struct {
		id       int64
		old, new string // search_text
		args     []any
		elements [][]any // per repeated field of k.Schema, in order
	}
	var (
		updates    []row
		unreadable int
	)
	for rows.Next() {
		var (
			id     int64
			old    string
			stored recordState
		)
		if err := rows.Scan(append([]any{&id, &old}, stored.dest()...)...); err != nil {
			rows.Close()
			return err
		}
		m, err := stored.decode(k, fmt.Sprintf("a record of %s (row %d)", k.Collection, id), nil)
		if e, ok := apperr.As(err); ok && (e.Code == codes.Unavailable || e.Code == codes.DataLoss) {
			unreadable++
			continue
		}
		if err != nil {
			rows.Close()
			return err
		}
		text := searchText(k, m)
		args := []any{text}
		var elements [][]any
		for _, f := range k.Schema.Fields() {
			if f.Repeated {
				elements = append(elements, f.Values(m.ProtoReflect()))
			} else {
				args = append(args, f.Values(m.ProtoReflect())[0])
			}
		}
		updates = append(updates, row{id, old, text, append(args, id), elements})
	}
	rows.Close()
	for _, u := range updates {
		if _, err := update.ExecContext(ctx, u.args...); err != nil {
			return err
		}
		i := 0
		for _, f := range k.Schema.Fields() {
			if !f.Repeated {
				continue
			}
			list := filter.ListID(k.Collection, f.Path)
			if _, err := deleteValues.ExecContext(ctx, list, u.id); err != nil {
				return err
			}
			for _, v := range u.elements[i] {
				if _, err := insertValue.ExecContext(ctx, list, v, u.id); err != nil {
					return err
				}
			}
			i++
		}
		// The words of the row's text before (none, for a row older than
		// search_text), then those of its text now.
		for _, c := range []struct {
			stmt *sql.Stmt
			text string
		}{{deleteWords, u.old}, {insertWords, u.new}} {
			if c.text == "" {
				continue
			}
			words, err := json.Marshal(searchWords(c.text))
			if err != nil {
				return err
			}
			if _, err := c.stmt.ExecContext(ctx, u.id, string(words)); err != nil {
				return err
			}
		}
	}
	if unreadable > 0 {
		log.Warn("records not re-indexed: their change-log entries are damaged or their rows were changed outside the node (provex verify names them); the next start tries again", "kind", k.Collection, "records", unreadable)
	} else if _, err := tx.ExecContext(ctx, "DELETE FROM reindex WHERE kind = ?", k.Collection); err != nil {
		return err
	}
	// The rows changed under the kind's rollups: ensureRollups, next,
	// builds them again from the rows.
	for _, r := range rollups[k] {
		if _, err := tx.ExecContext(ctx, "UPDATE rollups SET definition = '' WHERE name = ?", r.table); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// claimDatabase records which member the database belongs to on first
// open, and refuses to open it as another member's. A restore (restoring)
// claims it with a hold on the node's own log (claimNew).
func claimDatabase(ctx context.Context, db *sql.DB, origin string, restoring bool) (string, error) {
	var owner string
	switch err := db.QueryRowContext(ctx, "SELECT member FROM node").Scan(&owner); {
	case err == sql.ErrNoRows:
		if origin == "" {
			return "", fmt.Errorf("the database holds no node's store yet (it does not say whose it is): start the node on it first (provex serve --member ID), copy a store into it (provex migrate-store), or give the tool --member where it takes one")
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return "", err
		}
		defer tx.Rollback()
		if err := claimNew(ctx, tx, origin, restoring); err != nil {
			return "", err
		}
		return origin, tx.Commit()
	case err != nil:
		return "", err
	case origin != "" && owner != origin:
		return "", fmt.Errorf("the database belongs to %s, not %s", owner, origin)
	}
	return owner, nil
}

// claimNew records in tx that the database is origin's and, for a restore
// (restoring), holds its own log, in the transaction that makes the
// database (migrate) or, on one made before, claims it: a restore stopped
// after (killed, the machine lost) leaves a store that refuses writes until
// one run again finishes it. The hold, written after the claim, left a
// moment when a restore killed left a store claimed, empty and not held,
// whose node wrote seq 1 where its peers held the log: a fork (an outside
// review).
func claimNew(ctx context.Context, tx *sql.Tx, origin string, restoring bool) error {
	if _, err := tx.ExecContext(ctx, "INSERT INTO node (member) VALUES (?)", origin); err != nil {
		return err
	}
	if !restoring {
		return nil
	}
	_, err := tx.ExecContext(ctx, "INSERT INTO log_damage (origin, first, last, found, problem) VALUES (?, ?, ?, ?, ?)",
		origin, 1, OpenEnded, time.Now().UnixNano(), RestoreUnfinished(origin))
	return err
}
