package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"

	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/internal/diskspace"
)

// Failure is err, or, when the store itself failed rather than the call,
// the status a caller should get and act on:
//
//   - the database file damaged: UNAVAILABLE saying what to do (the first
//     such error is logged and kept for the node's health, FileDamage;
//     before, such a read was INTERNAL while the node reported itself
//     healthy);
//   - the disk full (SQLite's, or PostgreSQL's server's): RESOURCE_EXHAUSTED,
//     as gRPC names an exhausted file system;
//   - the node out of file descriptors (its open-file limit, or the
//     system's), so that a read connection SQLite opens when a pool needs
//     one, or a connection to the PostgreSQL server, cannot be opened:
//     UNAVAILABLE, which passes when the connections holding them close
//     (a connection flood within the caps was INTERNAL: an outside review);
//   - the PostgreSQL server out of reach (refused, gone, shutting down or
//     starting, out of connections, or refusing this node's connection
//     for its database, role or password): UNAVAILABLE, the code a client
//     retries on;
//   - the PostgreSQL database taking no writes (a standby after a
//     failover, or default_transaction_read_only): UNAVAILABLE, and the
//     writer marks it for the node's health (ReadOnly) until it stores
//     something again;
//   - the PostgreSQL server cancelling a statement that ran past its
//     statement_timeout, or waiting past its lock_timeout for a table
//     another session holds locked: UNAVAILABLE, the store unable to
//     answer in time; or one another session cancelled (a DBA's
//     pg_cancel_backend): UNAVAILABLE, saying so (cancelReason);
//   - the PostgreSQL server ending a transaction for its conflict with
//     another session's: a deadlock (a DBA's REINDEX or LOCK TABLE of
//     the tables a write holds and waits for) or a serialization failure:
//     UNAVAILABLE, as the call succeeds when retried (a deadlock was
//     INTERNAL: an outside review).
//
// A call whose own context ended (ctx), or whose deadline has passed, is
// never called the server away: its deadline may have cut its connection
// short (an outside review), and it gets its context's end
// (DEADLINE_EXCEEDED or CANCELED). The deadline is compared too because a
// dial times out on it before the context's own timer marks it done.
// Anything else is the caller's to map (INTERNAL for an error that is not
// an application error). A full disk or an unreachable server is logged
// with its cause at most once a minute each: every call fails the same way
// meanwhile, and each call's own line says so.
func (db *DB) Failure(ctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case fileDamaged(err):
		msg := err.Error()
		if db.fileDamage.CompareAndSwap(nil, &msg) {
			db.log.Error("SQLite finds the database file damaged", "err", err, "advice", restoreAdvice)
		}
		return apperr.Unavailable("%s (%v)", restoreAdvice, err)
	case diskFull(err):
		db.logFailure(err)
		return apperr.ResourceExhausted("%s", diskFullAdvice).RetryAfter(diskFullRetry)
	case filesExhausted(err):
		db.logFailure(err)
		return apperr.Unavailable("%s", filesExhaustedAdvice).RetryAfter(5 * time.Second)
	case db.Fenced() != "":
		return apperr.Unavailable("%s", db.Fenced())
	case db.dialect.postgres && errors.Is(err, errLockHeld):
		db.logFailure(err)
		return apperr.Unavailable("the node cannot write now: %v; retry later (a write retried with its request_id is made at most once)", err).RetryAfter(5 * time.Second)
	case db.dialect.postgres && callEnded(ctx) && (serverAway(err) || timedOut(err)):
		// Its own time was up: the call's deadline, not a bug
		// (INTERNAL) and not an outage (an outside review).
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return context.DeadlineExceeded
	case db.dialect.postgres && serverAway(err):
		db.logFailure(err)
		return apperr.Unavailable("the node's database server cannot be reached; retry later (a write retried with its request_id is made at most once)").RetryAfter(5 * time.Second)
	case db.dialect.postgres && readOnly(err):
		db.logFailure(err)
		return apperr.Unavailable("%s", readOnlyAdvice).RetryAfter(repairRetry)
	case db.dialect.postgres && conflict(err) != "":
		db.logFailure(err)
		return apperr.Unavailable("the node's database server %s; retry (a write retried with its request_id is made at most once)", conflict(err)).RetryAfter(time.Second)
	case db.dialect.postgres && timedOut(err):
		db.logFailure(err)
		return apperr.Unavailable("the node's database server %s; retry later (a write retried with its request_id is made at most once)", cancelReason(err)).RetryAfter(5 * time.Second)
	}
	return err
}

// readOnlyAdvice is what a caller is told of a write refused by a
// database that takes no writes: its transaction was rolled back.
const readOnlyAdvice = "the node's database takes no writes now (it is read-only: a standby after a failover, or default_transaction_read_only): nothing of this call was stored; retry once the node's operator has made it writable"

// Plainly is err said for anyone, for the node's health: what failed in
// plain words, with PostgreSQL's SQLSTATE where it gave one, and none of
// the driver's text, which names the store's user, host, port and
// database, or SQLite's file (THREATS H17; an outside review found them
// on an anonymous /healthz). The error itself is logged, at most once a
// minute.
func (db *DB) Plainly(err error) string {
	if !db.logFailure(err) {
		now, then := time.Now().UnixNano(), db.otherFailureLogged.Load()
		if now-then >= int64(time.Minute) && db.otherFailureLogged.CompareAndSwap(then, now) {
			db.log.Error("the store failed", "err", err)
		}
	}
	var what string
	switch {
	case fileDamaged(err):
		return "SQLite finds the database file damaged"
	case diskFull(err):
		return "the database's disk is full"
	case filesExhausted(err):
		return "the node has no file descriptor left to open its database with (its open-file limit)"
	case !db.dialect.postgres:
		return "the SQLite store failed (the node's log has the error)"
	case serverAway(err):
		what = "the PostgreSQL store cannot be reached"
	case readOnly(err):
		what = "the PostgreSQL store takes no writes"
	case conflict(err) != "":
		what = "the PostgreSQL store " + conflict(err)
	case timedOut(err):
		what = "the PostgreSQL store " + cancelReason(err)
	default:
		what = "the PostgreSQL store failed"
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return what + " (SQLSTATE " + pe.Code + "; the node's log has the error)"
	}
	return what + " (the node's log has the error)"
}

// callEnded reports whether ctx is done or its deadline has passed.
func callEnded(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	deadline, ok := ctx.Deadline()
	return ok && !time.Now().Before(deadline)
}

// What a refused caller is told to wait before trying again
// (google.rpc.RetryInfo, HTTP's Retry-After): room is made by an operator,
// and a log is repaired from the peers at their next exchange, so neither
// comes back within seconds.
const (
	diskFullRetry = time.Minute
	repairRetry   = 10 * time.Second
)

// diskFullAdvice is what a caller is told of a call refused for a full
// disk: its transaction was rolled back, so nothing of it is kept.
const diskFullAdvice = "the node's disk is full: nothing of this call was stored; retry once the node's operator has made room"

// filesExhaustedAdvice is what a caller is told of a call refused because
// the node could not open a connection to its database for want of file
// descriptors.
const filesExhaustedAdvice = "the node has no file descriptor left (its open-file limit) to open its database with; retry later (a write retried with its request_id is made at most once)"

// logFailure logs err, when the store itself failed (its disk full, its
// server away, read-only, out of time or in a conflict with another
// session, or the node out of file descriptors), at most once a minute for each,
// and reports whether err was such a failure.
func (db *DB) logFailure(err error) bool {
	msg, last := "the database's disk is full: writes are refused until there is room", &db.diskFullLogged
	switch {
	case diskFull(err):
	case filesExhausted(err):
		msg, last = "the node has no file descriptor left to open its database with; raise its open-file limit (ulimit -n, systemd LimitNOFILE) or lower --max-connections (max_connections in the config file)", &db.filesExhaustedLogged
	case db.dialect.postgres && serverAway(err):
		msg, last = "the database server cannot be reached", &db.serverAwayLogged
	case db.dialect.postgres && errors.Is(err, errLockHeld):
		msg, last = "the writer's session cannot take the writer's lock back", &db.serverAwayLogged
	case db.dialect.postgres && readOnly(err):
		msg, last = "the database takes no writes (read-only): writes are refused until it takes them again", &db.readOnlyLogged
	case db.dialect.postgres && conflict(err) != "":
		msg, last = "the database server "+conflict(err), &db.conflictLogged
	case db.dialect.postgres && timedOut(err):
		msg, last = "the database server "+cancelReason(err), &db.timeoutLogged
	default:
		return false
	}
	now, then := time.Now().UnixNano(), last.Load()
	if now-then >= int64(time.Minute) && last.CompareAndSwap(then, now) {
		db.log.Error(msg, "err", err)
	}
	return true
}

// noteRefused marks the disk full, or the database read-only, when err
// says so. Only the writer goroutine marks them, and clears them when it
// stores something again (noteStored): a call's own mapping (Failure) may
// come after that.
func (db *DB) noteRefused(err error) {
	switch {
	case diskFull(err):
		db.diskFullSince.CompareAndSwap(0, time.Now().UnixNano())
	case db.dialect.postgres && readOnly(err):
		db.readOnlySince.CompareAndSwap(0, time.Now().UnixNano())
	}
}

// noteStored clears the marks of a read-only database and of a full disk
// once a commit stored something and, on SQLite, its file system has room
// again (minRoom): a commit that fits in the WAL's and the file's free
// pages stores with no byte free, and the writer's probe cleared the mark
// every 5 s on a disk still full (an outside review). Every commit calls
// it: loads, not stores, when unmarked. It reports whether the mark of a
// full disk was cleared.
func (db *DB) noteStored() bool {
	if db.readOnlySince.Load() != 0 {
		db.readOnlySince.Store(0)
		db.log.Info("the database takes writes again")
	}
	if db.diskFullSince.Load() == 0 {
		return false
	}
	if db.dir != "" {
		if free, _, err := diskspace.Of(db.dir); err == nil && free < minRoom {
			return false
		}
	}
	db.diskFullSince.Store(0)
	return true
}

// minRoom is the free space that ends a full disk's mark on SQLite.
const minRoom = 1 << 20

// DiskFull is when the writer was first refused for a full disk since it
// last stored something, or the zero time: for the node's health, which
// says so until a write is stored again, and for reads that the audit
// trail must record, which are refused meanwhile.
func (db *DB) DiskFull() time.Time {
	if at := db.diskFullSince.Load(); at != 0 {
		return time.Unix(0, at)
	}
	return time.Time{}
}

// ReadOnly is when the writer was first refused by a database that takes
// no writes (PostgreSQL's read_only_sql_transaction) since it last stored
// something, or the zero time: for the node's health, which said ok while
// every write failed INTERNAL (an outside review), and for reads the audit
// trail must record, which are refused meanwhile.
func (db *DB) ReadOnly() time.Time {
	if at := db.readOnlySince.Load(); at != 0 {
		return time.Unix(0, at)
	}
	return time.Time{}
}

// IsDiskFull says whether err is a write refused for want of room.
func IsDiskFull(err error) bool { return diskFull(err) }

// IsFileDamaged says whether err is SQLite finding the database file
// damaged.
func IsFileDamaged(err error) bool { return fileDamaged(err) }

// fileDamaged says whether err is SQLite finding the database file damaged.
func fileDamaged(err error) bool {
	var serr sqlite3.Error
	return errors.As(err, &serr) && (serr.Code == sqlite3.ErrCorrupt || serr.Code == sqlite3.ErrNotADB)
}

// diskFull says whether err is a write refused for want of room: SQLite's
// SQLITE_FULL (which its VFS makes of ENOSPC on the database or its WAL),
// any SQLite error whose system error is ENOSPC or EDQUOT (the shared-memory
// file grows with an I/O error of its own), or PostgreSQL's disk_full.
func diskFull(err error) bool {
	var serr sqlite3.Error
	if errors.As(err, &serr) {
		return serr.Code == sqlite3.ErrFull || serr.SystemErrno == syscall.ENOSPC || serr.SystemErrno == syscall.EDQUOT
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "53100"
}

// filesExhausted says whether err is the process, or the system, out of
// file descriptors: go-sqlite3 gives SQLITE_CANTOPEN ("unable to open
// database file") with EMFILE or ENFILE as its system error when a pool
// opens a connection; a dial to PostgreSQL wraps the errno itself. The
// system error is SQLite's last on the connection, kept after the error it
// came with (sqlite3_system_errno), so only an error of opening or of the
// disk is taken for it: a constraint met later on a connection that once
// ran out is not.
func filesExhausted(err error) bool {
	var serr sqlite3.Error
	if errors.As(err, &serr) {
		return (serr.Code == sqlite3.ErrCantOpen || serr.Code == sqlite3.ErrIoErr) && (serr.SystemErrno == syscall.EMFILE || serr.SystemErrno == syscall.ENFILE)
	}
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}

// txLost says whether err may have ended the transaction it came from:
// on a full disk, an I/O error, a lock it could not get or memory it could
// not have, SQLite undoes the statement and, depending on where it was,
// may roll back the whole transaction (https://sqlite.org/lang_transaction.html).
func txLost(err error) bool {
	var serr sqlite3.Error
	if !errors.As(err, &serr) {
		return false
	}
	switch serr.Code {
	case sqlite3.ErrFull, sqlite3.ErrIoErr, sqlite3.ErrBusy, sqlite3.ErrNomem:
		return true
	}
	return false
}

// serverAway says whether an error of a store on PostgreSQL is its server
// out of reach: a connection that could not be made or was lost (whose
// errors are the network's and pgx's own, hence only on PostgreSQL), or the
// server's own words for shutting down, starting, crashing or having no
// connection to give. A connection the server refused is the server away
// whatever its reason (its database renamed, dropped or closed to
// connections, the role's password changed, no pg_hba.conf entry, CONNECT
// revoked): the node cannot reach its store, which its operator mends
// without the caller, who retries. Those came as the server's PgError
// inside pgconn's ConnectError, and were INTERNAL (an outside review), so
// ConnectError is asked first.
func serverAway(err error) bool {
	var connect *pgconn.ConnectError
	if errors.As(err, &connect) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "08P01": // protocol_violation: a bug, not an outage
			return false
		case strings.HasPrefix(pe.Code, "08"), pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", pe.Code == "53300",
			// Sessions the server ends for idling, in a transaction or
			// out of one (settings common on a shared server): the
			// next session is a new one, as after 57P01.
			pe.Code == "25P03", pe.Code == "57P05":
			return true
		}
		return false
	}
	var netErr *net.OpError
	return errors.As(err, &netErr) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, errServerSilent) ||
		// A transaction's connection database/sql found broken (ended
		// by the server) and closed before the statement after.
		errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// readOnly says whether err is PostgreSQL refusing a write in a read-only
// transaction: a standby, or a database set to default_transaction_read_only.
func readOnly(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "25006"
}

// timedOut says whether err is PostgreSQL cancelling a statement: past its
// statement_timeout, or for a call whose context ended (which Failure
// tells apart), or past its lock_timeout (55P03: a table another session
// holds locked; readerLockTimeout).
func timedOut(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "57014" || pe.Code == "55P03")
}

// cancelReason says, of a statement PostgreSQL cancelled (timedOut), why:
// past its lock_timeout (55P03), or, of a 57014, past its
// statement_timeout or at another session's request (pg_cancel_backend,
// a DBA's), which only the server's message tells apart. A cancel by
// request was reported as a timeout (an outside review). The message is
// in the server's language (lc_messages): in another than English the
// words name both.
func cancelReason(err error) string {
	var pe *pgconn.PgError
	errors.As(err, &pe)
	switch {
	case pe == nil:
		return "cancelled a statement"
	case pe.Code == "55P03":
		return "did not answer in time (a table another session holds locked past its lock_timeout)"
	case strings.Contains(pe.Message, "due to statement timeout"):
		return "did not answer in time (its statement_timeout)"
	case strings.Contains(pe.Message, "due to user request"):
		return "cancelled a statement at another session's request (pg_cancel_backend)"
	}
	return "cancelled a statement: it ran past its statement_timeout, or another session asked (pg_cancel_backend)"
}

// conflict says, in words for the caller, how PostgreSQL ended a
// transaction for its conflict with another session's, or "": a deadlock
// (40P01), or a serialization failure (40001, also a standby's conflict
// with recovery). Either passes when the call is retried.
func conflict(err error) string {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return ""
	}
	switch pe.Code {
	case "40P01":
		return "cancelled a statement in a deadlock with another session (each waited for a table the other held)"
	case "40001":
		return "cancelled a transaction in a serialization conflict with another session"
	}
	return ""
}

// FileDamage is the first error of SQLite finding the database file
// damaged while the node ran, or "".
func (db *DB) FileDamage() string {
	if p := db.fileDamage.Load(); p != nil {
		return *p
	}
	return ""
}

// readOnlyHint adds to SQLite's "attempt to write a readonly database"
// what to do: the database file, or its directory (where SQLite makes its
// WAL and lock files), is not this user's to write.
func readOnlyHint(path string, err error) error {
	var se sqlite3.Error
	if errors.As(err, &se) && se.Code == sqlite3.ErrReadonly {
		return fmt.Errorf("%w: this user (uid %d) may not write %s or its directory; run the node as their owner, or give them to its user (chown)", err, os.Getuid(), path)
	}
	return err
}
