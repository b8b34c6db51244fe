package sqlstore

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"database/sql"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/provex/provex/audit"
	"github.com/provex/provex/changelog"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/internal/filter"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
)

var errClosed = apperr.Unavailable("the store is shutting down").RetryAfter(5 * time.Second)

type pendingWrite struct {
	ctx context.Context
	// Either w (a record write) or run (a batch operation of sync) is set.
	w   storage.Write
	run func(tx *writeTx) error
	msg proto.Message
	// read: apply returned the stored record without writing it (a
	// retried create, an update that changes nothing). The caller read
	// it, and Write audits that as a Get.
	read bool
	err  error
	// begun: the writer started it (its context had not ended).
	begun bool
	done  chan struct{}
}

// Write queues w for the writer goroutine and waits for its commit. Once
// queued, a write is carried to the end even if ctx ends meanwhile, so the
// caller's answer never disagrees with what was stored; a write whose ctx
// ended before its turn is skipped.
//
// A write that returns the stored record without writing it is a read of
// that record, audited as Get audits it. That happens here, in the
// caller's goroutine, not in apply: the writer goroutine drains the read
// queue, so it must never wait for room in it.
func (db *DB) Write(ctx context.Context, w storage.Write) (proto.Message, error) {
	if err := db.mayLog(); err != nil {
		return nil, err
	}
	p := &pendingWrite{ctx: ctx, w: w, done: make(chan struct{})}
	if err := db.enqueue(ctx, p); err != nil {
		return nil, err
	}
	if p.read {
		if err := db.auditRead(ctx, w.Kind.Name(p.msg), w.Kind, []proto.Message{p.msg}, false); err != nil {
			return nil, err
		}
	}
	return p.msg, nil
}

// mayLog refuses what would write change-log entries in a store opened
// beside its serving node (Options.Beside): on PostgreSQL it does not hold
// the writer's lock, and its entries would fork the node's log.
func (db *DB) mayLog() error {
	if db.beside {
		return apperr.FailedPrecondition("this store was opened beside its node (a tool's, without the writer's lock): it writes no change-log entry")
	}
	return nil
}

// runInWriter runs fn in a write transaction of the writer goroutine, like
// a Write.
func (db *DB) runInWriter(ctx context.Context, fn func(tx *writeTx) error) error {
	return db.enqueue(ctx, &pendingWrite{ctx: ctx, run: fn, done: make(chan struct{})})
}

func (db *DB) enqueue(ctx context.Context, p *pendingWrite) error {
	db.closeMu.RLock()
	if db.closed {
		db.closeMu.RUnlock()
		return errClosed
	}
	select {
	case db.queue <- p:
		db.closeMu.RUnlock()
	case <-ctx.Done():
		db.closeMu.RUnlock()
		return ctx.Err()
	}
	<-p.done
	return p.err
}

// roomProbeEvery is how often the writer, while its disk is marked full or
// its database read-only, commits a probe to learn whether it may write
// again: reads the audit trail must record are refused meanwhile, and a
// node that nobody writes to would otherwise refuse them for good (an
// outside review).
const roomProbeEvery = 5 * time.Second

// probeRoom commits a change of one row that changes nothing (a page
// written all the same), and clears the marks of a full disk and of a
// read-only database if it commits.
func (db *DB) probeRoom() {
	tx, err := db.beginWrite()
	defer db.endWrite()
	if err == nil {
		if _, err = tx.Exec("UPDATE node SET member = member"); err == nil {
			err = tx.Commit()
		}
	}
	if err != nil {
		db.noteRefused(err)
		return
	}
	if db.noteStored() {
		db.log.Info("the database's disk has room again")
	}
}

// optimizeEvery is how often the writer refreshes planner statistics when
// it is idle.
const optimizeEvery = 30 * time.Minute

// readCommitDelay is how long the writer lets read records gather before
// it commits them: one commit (an fsync and a head signature) per period
// whatever the rate of reads, for records of reads answered at most that
// long before.
const readCommitDelay = 10 * time.Millisecond

func (db *DB) runWriter() {
	defer close(db.stopped)
	batch := make([]*pendingWrite, 0, db.maxBatch)
	optimize := time.NewTicker(optimizeEvery)
	defer optimize.Stop()
	roomProbe := time.NewTicker(roomProbeEvery)
	defer roomProbe.Stop()
	defer optimize.Stop()
	// The first read record queued starts readTimer; reads is nil until it
	// fires, and then every record queued meanwhile commits at once. A
	// commit that fails keeps reads nil and readTimer set to retry it
	// after readRetry.
	reads, readTimer, readRetry := db.reads, time.NewTimer(time.Hour), time.Duration(0)
	readTimer.Stop()
	defer readTimer.Stop()
	wipeRetry := time.NewTimer(time.Hour)
	wipeRetry.Stop()
	defer wipeRetry.Stop()
	wipeArmed := false
	for {
		select {
		case <-optimize.C:
			// PostgreSQL's autovacuum keeps its statistics.
			if db.dialect.postgres {
				continue
			}
			if _, err := db.writer.Exec("PRAGMA optimize"); err != nil {
				db.log.Warn("optimize", "err", err)
			}
			continue
		case <-roomProbe.C:
			if !db.DiskFull().IsZero() || !db.ReadOnly().IsZero() {
				db.probeRoom()
			}
			continue
		case p := <-db.queue:
			batch = append(batch[:0], p)
		case r := <-reads:
			db.readBatch = append(db.readBatch[:0], r)
			reads = nil
			readTimer.Reset(readCommitDelay)
			continue
		case <-readTimer.C:
			if readRetry = db.tryCommitReads(readRetry); readRetry > 0 {
				readTimer.Reset(readRetry)
			} else {
				reads = db.reads
			}
			continue
		case <-wipeRetry.C:
			if db.wipeWAL(); db.wipePending {
				wipeRetry.Reset(wipeRetryEvery)
			} else {
				wipeArmed = false
			}
			continue
		case <-db.stop:
			// Writes and reads queued before Close still get their commit.
			for {
				select {
				case p := <-db.queue:
					db.commit([]*pendingWrite{p})
				default:
					db.closeReads()
					return
				}
			}
		}
		// Whatever queued up while the last commit was being fsynced joins
		// this one: that is the whole group-commit policy, no timers.
	fill:
		for len(batch) < db.maxBatch {
			select {
			case p := <-db.queue:
				batch = append(batch, p)
			default:
				break fill
			}
		}
		db.commit(batch)
		// The commit that withdrew a record tries at once; after that the
		// timer does, not every commit (each try holds writes up).
		if db.wipePending && !wipeArmed {
			if db.wipeWAL(); db.wipePending {
				wipeRetry.Reset(wipeRetryEvery)
				wipeArmed = true
			}
		}
	}
}

// wipeRetryEvery is how often the writer tries again to empty the WAL
// after a withdrawal when reads kept it from doing so; wipeWait, how long
// a try waits for the reads of the WAL to end.
const (
	wipeRetryEvery = time.Second
	wipeWait       = 100 * time.Millisecond
)

// wipeWAL empties the WAL after a record was withdrawn from this node: the
// page copies written before the withdrawal would otherwise hold the record
// until later writes wrap the WAL (secure_delete overwrites it in the
// database file, not in the WAL). A checkpoint that truncates the WAL must
// wait for every read of the WAL to end. While it waits no write commits,
// so reads that begin meanwhile find every frame checkpointed and read the
// database file alone: a wait of wipeWait lets the short reads end, where
// without one a node that reads and writes all the time always had a read
// of the WAL running (an outside review: still not emptied after 6 s). A
// read longer than that fails the try, and the writer tries again every
// wipeRetryEvery, holding writes up for at most wipeWait each time.
func (db *DB) wipeWAL() {
	if db.dialect.postgres {
		db.wipePending = false
		return
	}
	emptied := false
	_, err := db.writer.Exec(fmt.Sprintf("PRAGMA busy_timeout = %d", wipeWait.Milliseconds()))
	if err == nil {
		emptied, err = db.truncateWAL()
		if _, rerr := db.writer.Exec(fmt.Sprintf("PRAGMA busy_timeout = %d", busyTimeout)); rerr != nil && err == nil {
			err = rerr
		}
	}
	if err != nil {
		db.log.Warn("empty the WAL after a withdrawal", "err", err)
	}
	db.wipePending = err != nil || !emptied
}

// truncateWAL checkpoints every frame of the WAL into the database file and
// truncates the WAL to nothing, waiting on reads of it as long as the
// writer's busy timeout allows; emptied is false when reads outlasted that
// (SQLite reports it in the pragma's answer, not as an error).
func (db *DB) truncateWAL() (emptied bool, err error) {
	var busy, frames, checkpointed int
	if err := db.writer.QueryRow("PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &checkpointed); err != nil {
		return false, err
	}
	return busy == 0, nil
}

// commit applies a batch in one transaction, each write alone: one that
// fails leaves nothing behind, and the others are stored.
//
// Savepoints around each write would do that by themselves, but inside a
// savepoint SQLite first copies each page a write changes to the
// savepoint's journal: they made each write of a group commit of 64 about
// a fifth slower (BenchmarkWrite/c64; BENCHMARKS.md, "Group commit without
// a savepoint per write"). So a batch of record writes runs without them.
// A write refused before it ran a statement that may change the
// transaction (writeTx.changes: a record not found, an etag that does not
// match, a change its kind does not allow) leaves nothing to undo. One
// that fails later, or whose read failed (on PostgreSQL a failed statement
// aborts the transaction), which takes a damaged database, a bug or a
// value PostgreSQL refuses, sends the whole batch round again, each write
// in a savepoint. A batch holding a run (a pull, a repair) uses savepoints
// from the start: a run is long, may fail midway for its peer's reasons,
// and is not worth running twice.
func (db *DB) commit(batch []*pendingWrite) {
	defer func() {
		for _, p := range batch {
			close(p.done)
		}
	}()
	savepoints := len(batch) > 1 && slices.ContainsFunc(batch, func(p *pendingWrite) bool { return p.run != nil })
	if err := db.commitOnce(batch, savepoints); err != nil {
		db.reruns++
		db.log.Warn("a write of a group commit failed after a statement that may have changed its transaction; the batch runs again, each write in a savepoint", "err", err, "writes", len(batch))
		db.commitOnce(batch, true)
	}
}

// commitOnce applies the batch in one transaction, each write in a
// savepoint if savepoints is set. Without savepoints, when a write of a
// batch of several fails after a statement that may have changed the
// transaction, it stores nothing, makes every write ready to run again,
// and returns that write's error.
func (db *DB) commitOnce(batch []*pendingWrite, savepoints bool) (again error) {
	start := time.Now()
	before := db.saveState()
	clear(db.txDeltas)
	tx, err := db.beginWrite()
	defer db.endWrite()
	if err != nil {
		db.failAll(batch, fmt.Errorf("begin: %w", err))
		return nil
	}
	applied := 0
	for _, p := range batch {
		// A write begun is carried to the end, also when its batch runs
		// again after its context ended.
		if !p.begun {
			if err := p.ctx.Err(); err != nil {
				p.err = err
				continue
			}
			p.begun = true
		}
		if p.run != nil {
			// A run (a pull, a repair) may rebuild rollup groups whole:
			// what the writes before it changed goes in first.
			if err := db.flushRollups(tx, db.txDeltas); err != nil {
				tx.Rollback()
				db.restoreState(before)
				db.failAll(batch, err)
				return nil
			}
		}
		if savepoints {
			if _, err := tx.Exec(db.shared.savepoint); err != nil {
				p.err = err
				continue
			}
		}
		mark, changesMark := db.saveState(), tx.changes
		clear(db.deltas)
		db.index.reset()
		if p.run != nil {
			p.err = recovered(tx, "a run", func() error { return p.run(tx) })
			if p.err == nil {
				p.err = db.flushIndex(tx)
			}
			// A failed run's COPY must end before its savepoint undoes it.
			if err := db.dropFlight(); err != nil {
				if p.err != nil {
					err = fmt.Errorf("%w (then: %v)", err, p.err)
				}
				p.err = err
			}
			db.index.on = false
		} else {
			p.err = recovered(tx, p.w.Name, func() (err error) {
				p.msg, p.read, err = db.apply(p.ctx, tx, p.w)
				return err
			})
		}
		if p.err == nil {
			// A record write's groups join the transaction's, added once
			// at its end; a run's are added before its savepoint ends.
			if p.run != nil {
				p.err = db.flushRollups(tx, db.deltas)
			} else {
				db.txDeltas.merge(db.deltas)
			}
		}
		if p.err != nil {
			db.noteRefused(p.err)
			p.msg, p.read = nil, false
			db.restoreState(mark)
			if txLost(p.err) {
				// SQLite may have rolled the whole transaction back:
				// nothing of it is kept, and a statement run after
				// this would run outside it, alone (on a full disk the
				// batch's other writes were told "no such savepoint":
				// TestFullDiskRefusesWritesAndKeepsNothingOfThem).
				tx.Rollback()
				db.restoreState(before)
				clear(db.pended)
				db.failAll(batch, p.err)
				return nil
			}
			if !savepoints {
				if tx.changes != changesMark && len(batch) > 1 {
					tx.Rollback()
					db.restoreState(before)
					clear(db.pended)
					again = p.err
					for _, p := range batch {
						if p.begun {
							p.msg, p.read, p.err = nil, false, nil
						}
					}
					return again
				}
				// Nothing to undo, or the batch's only write: the
				// transaction rolls back whole below.
				continue
			}
			if _, err := tx.Exec(db.shared.rollbackTo); err != nil {
				// The transaction is unusable; fail everything in it.
				tx.Rollback()
				db.restoreState(before)
				db.failAll(batch, fmt.Errorf("rollback to savepoint after %w: %w", p.err, err))
				return nil
			}
		}
		if savepoints {
			if _, err := tx.Exec(db.shared.release); err != nil {
				tx.Rollback()
				db.restoreState(before)
				db.failAll(batch, fmt.Errorf("release savepoint: %w", err))
				return nil
			}
		}
		if p.err == nil {
			applied++
		}
	}
	if applied == 0 {
		tx.Rollback()
		db.damageTx = nil
		clear(db.pended)
		return nil
	}
	err = db.mergeDueWords(tx)
	if err == nil {
		err = db.flushRollups(tx, db.txDeltas)
	}
	if err == nil {
		err = db.signHead(tx, before.head)
	}
	if err == nil {
		err = db.signAuditHead(tx, before.audit)
	}
	if err != nil {
		tx.Rollback()
		db.restoreState(before)
		db.failAll(batch, err)
		return nil
	}
	if err := tx.Commit(); err != nil {
		tx.Rollback()
		db.restoreState(before)
		db.failAll(batch, fmt.Errorf("commit: %w", err))
		return nil
	}
	db.publishDamage()
	headMoved := db.currentHead().Seq != before.head.Seq
	// A write answered from its request id, or a run that kept nothing,
	// stored no record: the disk may be as full as before. A commit that
	// stored one moved the log's head or the audit trail's.
	if headMoved || db.auditHead.Seq != before.audit.Seq {
		db.noteStored()
	}
	db.auditLength.Store(db.auditHead.Seq)
	if db.observe != nil {
		db.observe(applied, time.Since(start))
	}
	if db.committed != nil && headMoved {
		db.committed()
	}
	return nil
}

// writerState is what the writer keeps in memory of its open
// transaction, saved before each write and before the transaction to be
// restored when either rolls back.
type writerState struct {
	head   changelog.Entry
	audit  audit.Record
	damage map[string][]storage.Damage
	// unsigned: a checkpoint signed by a write rolled back is gone, and
	// the entries before it are unsigned again.
	unsigned int
}

func (db *DB) saveState() writerState {
	return writerState{head: db.currentHead(), audit: db.auditHead, damage: db.snapshotDamageTx(), unsigned: db.unsigned}
}

func (db *DB) restoreState(s writerState) {
	db.setHead(s.head)
	db.auditHead = s.audit
	db.damageTx = s.damage
	db.unsigned = s.unsigned
}

// beginWrite starts the writer's transaction (writeTx) on a connection held
// for it until endWrite, on which COPY can run inside the transaction too.
// Only the writer goroutine writes, or code that runs while it does not.
//
// On PostgreSQL, taking the connection (pgx's check of an idle one, or a
// new session and the writer's lock) and beginning are bounded by
// deadServerAfter: a connection gone silent held the writer, and every
// write, until the kernel gave up on it (an outside review). Past it the
// connection is dropped, the batch is answered the server away, and the
// next begins on a new session.
func (db *DB) beginWrite() (*writeTx, error) {
	ctx := context.Background()
	if db.dialect.postgres {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, deadServerAfter)
		defer cancel()
	}
	conn, err := db.writer.Conn(ctx)
	if err != nil {
		return nil, writerSilent(ctx, err)
	}
	tx, err := beginWriteTx(ctx, conn, db.dialect)
	if err != nil {
		conn.Close()
		return nil, writerSilent(ctx, err)
	}
	db.openTx = tx
	return tx, nil
}

// writerSilent is err, of a call on the writer's connection under ctx,
// said to be the server's silence when ctx's deadline passed.
func writerSilent(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w within %v (%v)", errServerSilent, deadServerAfter, err)
	}
	return err
}

// endWrite rolls back the writer's transaction unless it was committed,
// and gives its connection back to the pool.
func (db *DB) endWrite() {
	if tx := db.openTx; tx != nil {
		tx.Rollback()
		tx.conn.Close()
		db.openTx = nil
	}
}

func (db *DB) failAll(batch []*pendingWrite, err error) {
	db.damageTx = nil
	db.noteRefused(err)
	if !db.logFailure(err) {
		db.log.Error("write transaction failed", "err", err, "writes", len(batch))
	}
	for _, p := range batch {
		if p.err == nil {
			p.msg, p.read, p.err = nil, false, err
		}
	}
}

func (db *DB) currentHead() changelog.Entry {
	db.headMu.Lock()
	defer db.headMu.Unlock()
	return db.head
}

func (db *DB) setHead(e changelog.Entry) {
	db.headMu.Lock()
	db.head = e
	db.headMu.Unlock()
}

// headRowMissing says why a write may not extend the node's own log when
// its newest entry, which the write's entry links to, is not held as the
// node wrote it: a hand on the database deleted or changed it while the
// node ran, and its checks have not read it yet. Written on, the log would
// go on past an entry the node cannot serve, and its peers holding it
// would wait for what follows (an outside review). One seek, by a
// transaction's first write only: those after it follow an entry the
// transaction wrote or read.
func (db *DB) headRowMissing(tx *writeTx) (string, error) {
	head := db.currentHead()
	if tx.headFound || head.Seq == 0 {
		return "", nil
	}
	var held []byte
	if err := tx.ReadRow([]any{&held}, db.shared.selectHash, db.origin, head.Seq); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("read the head of the node's own log: %w", err)
	}
	if !bytes.Equal(held, head.Hash) {
		db.needFullCheck(db.origin)
		return fmt.Sprintf("its newest entry %s/%d is missing from its database or changed", db.origin, head.Seq), nil
	}
	tx.headFound = true
	return "", nil
}

// apply performs one write inside tx: the record row, its repeated values,
// the change-log entry, the request id and the audit record (of ctx's
// actor). read says the record returned is the stored one, not written.
func (db *DB) apply(ctx context.Context, tx *writeTx, w storage.Write) (proto.Message, bool, error) {
	if why := db.WritesHeld(); why != "" {
		return nil, false, apperr.Unavailable("this node's writes are held: %s", why)
	}
	why := db.ownLogBrokenReason()
	if why == "" {
		var err error
		if why, err = db.headRowMissing(tx); err != nil {
			return nil, false, err
		}
	}
	if why != "" {
		return nil, false, apperr.Unavailable("this node's own change log cannot be extended until it is repaired from its peers: %s", why).RetryAfter(repairRetry)
	}
	k := w.Kind
	st, err := db.kindStmts(k)
	if err != nil {
		return nil, false, err
	}
	if p := provinceOf(w.Name); p != db.origin {
		// The services refuse this first; the store holds to it too, since
		// a row's state is read from the log of its province.
		return nil, false, apperr.PermissionDenied("%s belongs to %s; this node writes only records of %s", w.Name, p, db.origin)
	}
	if w.RequestID != "" {
		var (
			name        string
			fingerprint []byte
		)
		err := tx.ReadRow([]any{&name, &fingerprint}, st.shared.selectRequest, w.RequestID)
		switch {
		case err == nil:
			// Request ids are shared by every kind: one used for a record
			// of another kind must not read as that record missing.
			if c, _ := resource.SplitCollection(name); c != k.Collection {
				return nil, false, apperr.Invalid("request_id", "request id %q was already used to create %s", w.RequestID, name)
			}
			if len(fingerprint) > 0 && !bytes.Equal(fingerprint, w.Fingerprint) {
				return nil, false, apperr.Invalid("request_id", "request id %q was used for a different request (the one that created %s); a new request needs a new request id", w.RequestID, name)
			}
			m, err := db.getTx(tx, k, name)
			return m, err == nil, err
		case !errors.Is(err, sql.ErrNoRows):
			return nil, false, fmt.Errorf("look up request id: %w", err)
		}
	}

	var (
		id      int64
		stored  recordState
		current proto.Message
	)
	switch err := tx.ReadRow(append([]any{&id}, stored.dest()...), st.selectForWrite, w.Name); {
	case err == nil:
		if current, err = stored.decode(k, w.Name, db.knownDamaged); err != nil {
			return nil, false, db.noticeDamage(err)
		}
	case !errors.Is(err, sql.ErrNoRows):
		return nil, false, fmt.Errorf("read %s: %w", w.Name, err)
	}

	head := db.currentHead()
	hlc, err := db.clock.Now()
	if err != nil {
		// Nothing is written: an entry dated past the times nodes keep
		// would be refused as malformed by every other node.
		return nil, false, apperr.FailedPrecondition("%v", err)
	}
	stamp := storage.Stamp{Time: time.Unix(0, hlc).UTC(), Seq: head.Seq + 1}
	next, err := mutate(w, current, stamp)
	if errors.Is(err, storage.ErrUnchanged) && current != nil {
		return current, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	if got := k.Name(next); got != w.Name {
		return nil, false, fmt.Errorf("write of %s produced a record named %q", w.Name, got)
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(next)
	if err != nil {
		return nil, false, fmt.Errorf("encode %s: %w", w.Name, err)
	}
	// A record stored larger by an earlier release may still be deleted,
	// undeleted or changed so long as it does not grow.
	if len(data) > db.maxRecord && (current == nil || len(data) > proto.Size(current)+recordGrowth) {
		return nil, false, apperr.Invalid(k.Field, "the record would be %d bytes encoded, over the %d this node keeps in one record (its answers could not be sent)", len(data), db.maxRecord)
	}

	entry := changelog.Entry{Origin: db.origin, Seq: stamp.Seq, HLC: hlc, Name: w.Name, Data: data, PrevHash: head.Hash}
	if visibility, visibleTo := k.Audience(next); !resource.Public(visibility) {
		if entry.Data, err = db.seal(tx, k, w.Name, stamp.Seq, data, current, k.Deleted(next), visibility, visibleTo); err != nil {
			return nil, false, err
		}
		entry.Name, entry.Sealed = "", true
	} else if err := db.settleWithdrawals(tx, w.Name); err != nil {
		return nil, false, err
	} else if err := db.oweReaders(tx, w.Name, nil); err != nil {
		return nil, false, err
	}
	if err := db.putRecord(tx, newRecordRow(k, st, w.Name, next, recordData(data, entry.Sealed)), id, current != nil, stamp.Seq); err != nil {
		return nil, false, err
	}
	entry.Hash = changelog.Sum(&entry)
	if err := db.appendEntry(tx, &entry); err != nil {
		return nil, false, err
	}
	if err := db.signEvery(tx, &entry); err != nil {
		return nil, false, err
	}
	if err := db.appendAudit(ctx, tx, w.Name, db.origin, entry.Seq, entry.Seq, entry.Hash); err != nil {
		return nil, false, err
	}
	if w.RequestID != "" {
		if _, err := tx.Exec(st.shared.insertRequest, w.RequestID, w.Name, hlc, w.Fingerprint); err != nil {
			return nil, false, fmt.Errorf("record request id: %w", err)
		}
	}
	entry.Data = nil
	db.setHead(entry)
	return next, false, nil
}

// recordGrowth is what a write adds to a record besides its fields' values
// (a delete time, a later update time), at most.
const recordGrowth = 64

// seal makes the envelope of a state not every member may read: for its
// readers, and a withdrawal notice for the members that could read the
// record's previous state and no longer may, or were owed one
// (withdrawalKeys). Readers the directory gives no encryption key (not in
// the manifest now) cannot be sealed to: they are owed the record
// (oweReaders), unless the state is deleted.
func (db *DB) seal(tx *writeTx, k *resource.Kind, name string, seq uint64, data []byte, current proto.Message, deleted bool, visibility int32, visibleTo []string) ([]byte, error) {
	readers := resource.Readers(db.origin, visibility, visibleTo)
	others, unkeyed, err := db.countSealedFor(tx, readers)
	if err != nil {
		return nil, err
	}
	if deleted {
		unkeyed = nil
	}
	if err := db.oweReaders(tx, name, unkeyed); err != nil {
		return nil, err
	}
	keys := append([]*ecdh.PublicKey{db.sealer.Load().PublicKey()}, others...)
	exKeys, err := db.withdrawalKeys(tx, k, name, current, readers)
	if err != nil {
		return nil, err
	}
	env, err := db.sealer.Load().Seal(db.origin, seq, name, data, keys, exKeys)
	if err != nil {
		return nil, fmt.Errorf("seal %s: %w", name, err)
	}
	return env, nil
}

// countSealedFor counts one more entry sealed to each of readers but the
// node itself (readers[0]) that the directory knows, and returns their
// keys, and the readers it gives no key.
func (db *DB) countSealedFor(tx *writeTx, readers []string) (keys []*ecdh.PublicKey, unkeyed []string, err error) {
	for _, r := range readers[1:] {
		key, ok := db.directory.EncryptionKey(r)
		if !ok {
			unkeyed = append(unkeyed, r)
			continue
		}
		keys = append(keys, key)
		if _, err := tx.Exec(db.shared.countSealed, r); err != nil {
			return nil, nil, fmt.Errorf("count sealed entries: %w", err)
		}
	}
	return keys, unkeyed, nil
}

// errRowExists is putRecord's answer when asked to insert a row whose name
// is taken: nothing was written.
var errRowExists = errors.New("a row of that name exists")

// putRecord stores a record's new state: its row (inserted when exists is
// false, else updated at id), its words and its repeated filter values.
// r.data is what the row keeps of the state (recordData): nothing when the
// change-log entry seq holds the state itself.
func (db *DB) putRecord(tx *writeTx, r *recordRow, id int64, exists bool, seq uint64) error {
	st := r.st
	if !exists {
		var err error
		if id, err = db.insertRow(tx, st, append([]any{r.name, r.province, seq, r.data, r.text}, r.cols...)); err != nil {
			return fmt.Errorf("insert %s: %w", r.name, err)
		}
		if id == 0 {
			return errRowExists
		}
	} else {
		if err := db.takeRow(tx, r.k, st, id, false); err != nil {
			return fmt.Errorf("update %s: %w", r.name, err)
		}
		if _, err := tx.Exec(st.update, append(append([]any{seq, r.data, r.text}, r.cols...), id)...); err != nil {
			return fmt.Errorf("update %s: %w", r.name, err)
		}
	}
	// A pull's run indexes its words now (a run's rows share their
	// pages); a write of this node leaves them pending (search.go).
	if db.index.on {
		if err := db.putWords(tx, st, id, r.words); err != nil {
			return err
		}
	} else if err := db.pendWords(tx, r.k, st, id, r.words); err != nil {
		return err
	}
	for i, f := range st.repeated {
		for _, v := range r.elements[f.Path] {
			// OR IGNORE: a repeated field may hold the same element twice.
			if _, err := tx.Exec(st.shared.insertValue, st.lists[i], v, id); err != nil {
				return fmt.Errorf("index %s of %s: %w", f.Path, r.name, err)
			}
		}
	}
	db.deltas.add(r.k, r.province, r.cols, r.elements, 1)
	return nil
}

// insertRow inserts a record's row (args bound to st.insert) and returns
// its id, or 0 when the name is taken. PostgreSQL has no last insert id:
// its statement returns the id. On SQLite that RETURNING made bench
// crud's Create c=64 beside a busy core 5-15% slower (mattn/go-sqlite3's
// query path against its exec), so there the id comes from the result.
func (db *DB) insertRow(tx *writeTx, st *kindStmts, args []any) (int64, error) {
	if db.dialect.postgres {
		var id int64
		err := tx.QueryRow(st.insert, args...).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, nil
		}
		return id, err
	}
	res, err := tx.Exec(st.insert, args...)
	if err != nil {
		return 0, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return 0, err
	}
	return res.LastInsertId()
}

// recordRow is a record's next state with what its row and indexes hold
// of it (rowValues and the search words), all made from the state alone:
// a run of other origins' entries makes them before the writer takes the
// run (PrepareRemote), so that the writer only writes them.
type recordRow struct {
	k        *resource.Kind
	st       *kindStmts
	name     string
	data     []byte // what the row keeps of the state (recordData)
	province string
	cols     []any
	elements map[string][]any
	text     string
	words    []string
}

func newRecordRow(k *resource.Kind, st *kindStmts, name string, m proto.Message, data []byte) *recordRow {
	r := &recordRow{k: k, st: st, name: name, data: data}
	r.province, r.cols, r.elements, r.text = rowValues(k, st, name, m)
	r.words = searchWords(r.text)
	return r
}

// rowValues are what a record's row holds besides its name, seq and data:
// its province, its filter columns (in st.columns order), its repeated
// fields' elements and its search text.
func rowValues(k *resource.Kind, st *kindStmts, name string, m proto.Message) (province string, cols []any, elements map[string][]any, text string) {
	cols = make([]any, 0, len(st.columns))
	r := m.ProtoReflect()
	for _, f := range st.columns {
		cols = append(cols, f.Values(r)[0])
	}
	elements = make(map[string][]any, len(st.repeated))
	for _, f := range st.repeated {
		elements[f.Path] = f.Values(r)
	}
	return provinceOf(name), cols, elements, searchText(k, m)
}

// takeRow takes the row id of kind k out of the rollups and deletes its
// repeated values and its words, and the row itself when remove is set
// (else the caller writes its next state).
func (db *DB) takeRow(tx *writeTx, k *resource.Kind, st *kindStmts, id int64, remove bool) error {
	// The row may be one this run inserted, its words and elements not
	// written yet.
	if err := db.flushIndex(tx); err != nil {
		return err
	}
	cols := make([]any, len(st.columns)+2) // province, columns, search_text
	dest := make([]any, len(cols))
	for i := range cols {
		dest[i] = &cols[i]
	}
	if err := tx.QueryRow(st.selectColumns, id).Scan(dest...); err != nil {
		return fmt.Errorf("read row %d of %s: %w", id, k.Collection, err)
	}
	elements := make(map[string][]any, len(st.repeated))
	for i, f := range st.repeated {
		list := st.lists[i]
		rows, err := tx.Query(st.shared.selectValues, list, id)
		if err != nil {
			return fmt.Errorf("read %s of row %d of %s: %w", f.Path, id, k.Collection, err)
		}
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return err
			}
			elements[f.Path] = append(elements[f.Path], v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if _, err := tx.Exec(st.shared.deleteValues, list, id); err != nil {
			return fmt.Errorf("clear %s of row %d of %s: %w", f.Path, id, k.Collection, err)
		}
	}
	text, _ := cols[len(cols)-1].(string)
	if err := db.takeWords(tx, st, id, text); err != nil {
		return err
	}
	province, _ := cols[0].(string)
	db.deltas.add(k, province, cols[1:len(cols)-1], elements, -1)
	if remove {
		if _, err := tx.Exec(st.deleteRow, id); err != nil {
			return fmt.Errorf("delete row %d of %s: %w", id, k.Collection, err)
		}
	}
	return nil
}

// recordData is what a record row keeps of its state, data, recorded by an
// entry whose data is sealed or not. A state the log holds as it is (every
// public one) is stored there only, and the row keeps an empty blob, which
// no record's encoding is (it has a name): the row's seq and province name
// that entry, and reads select it (stateColumns). A sealed entry holds an
// envelope, so the row keeps the opened state, the only plain copy.
func recordData(data []byte, sealed bool) []byte {
	if sealed {
		return data
	}
	return []byte{}
}

// stateColumns are what a read of one record of a kind's table selects for
// recordState (its dest order): the row's name, own copy and entry, and the fields
// of the change-log entry that holds the state of a row keeping none itself
// (recordData). They are correlated subqueries: with mattn/go-sqlite3's
// SQLite 3.54 a join to changes made a Get cost 30 µs against 9 (measured
// on one record, found or not), a cost paid once per execution.
//
// The sealed column is also selected for a row keeping a state of its own
// whose entry is not sealed (entryFound): only a sealed entry's row keeps
// one, and a hand that wrote a state into a public record's row must not
// have it served and signed into the next entry. It costs a sealed
// record's read one seek of its entry, and a public one's nothing.
func stateColumns(table string) string {
	cols := []string{table + ".name", table + ".data", table + ".province", table + ".seq"}
	for _, c := range []string{"origin", "seq", "hlc", "name", "data", "sealed", "prev_hash", "hash"} {
		found := "length(" + table + ".data) = 0"
		if c == "sealed" {
			found = entryFound(table)
		}
		cols = append(cols, "(SELECT c."+c+" FROM changes c WHERE "+found+" AND c.origin = "+table+".province AND c.seq = "+table+".seq)")
	}
	return strings.Join(cols, ", ")
}

// entryFound is the condition on which a read of a row of table finds the
// change-log entry c the row names: when the row keeps no state (the
// entry holds it), or when it keeps one but its entry is not sealed,
// which is damage (recordState.decode).
func entryFound(table string) string {
	return "(length(" + table + ".data) = 0 OR c.sealed <> " + strconv.Itoa(entrySealed) + ")"
}

// stateJoin is the same for a read of many rows (List, a re-index): a join
// seeks each row's entry once, where the subqueries seek it once per
// column, and its cost per execution is paid once per page. from is the
// table as the query names it (with an INDEXED BY clause, say).
func stateJoin(table, from string) (columns, fromClause string) {
	return table + ".name, " + table + ".data, " + table + ".province, " + table + ".seq, c.origin, c.seq, c.hlc, c.name, c.data, c.sealed, c.prev_hash, c.hash",
		from + " LEFT JOIN changes c ON " + entryFound(table) + " AND c.origin = " + table + ".province AND c.seq = " + table + ".seq"
}

// entriesPerInsert is how many entries one statement of appendEntries
// inserts: a pull appends thousands, and each statement executed costs
// more in Go and cgo than SQLite takes to store a row.
const entriesPerInsert = 64

// appendEntries adds a run of entries to the change log, whole.
func (db *DB) appendEntries(tx *writeTx, es []changelog.Entry) error {
	if db.copies(len(es)) {
		// By COPY, while the run goes on to its records (a flight).
		rows := make([][]any, len(es))
		for i := range es {
			rows[i] = appendEntryArgs(make([]any, 0, 8), &es[i])
		}
		return db.launch(tx, func(ctx context.Context, c *pgx.Conn) error {
			if err := copyRows(ctx, c, "changes", entryColumnList, rows); err != nil {
				return fmt.Errorf("append changes %s/%d..%d: %w", es[0].Origin, es[0].Seq, es[len(es)-1].Seq, err)
			}
			return nil
		}, nil)
	}
	args := make([]any, 0, 8*entriesPerInsert)
	for len(es) >= entriesPerInsert {
		args = args[:0]
		for i := range es[:entriesPerInsert] {
			args = appendEntryArgs(args, &es[i])
		}
		if _, err := tx.Exec(db.shared.insertChanges, args...); err != nil {
			return fmt.Errorf("append changes %s/%d..%d: %w", es[0].Origin, es[0].Seq, es[entriesPerInsert-1].Seq, err)
		}
		es = es[entriesPerInsert:]
	}
	for i := range es {
		if err := db.appendEntry(tx, &es[i]); err != nil {
			return err
		}
	}
	return nil
}

func appendEntryArgs(args []any, e *changelog.Entry) []any {
	data := e.Data
	if data == nil {
		data = []byte{}
	}
	name, form := storedName(e)
	return append(args, e.Origin, e.Seq, e.HLC, name, data, form, e.PrevHash, e.Hash)
}

// appendEntry adds an entry to the change log, whole.
func (db *DB) appendEntry(tx *writeTx, e *changelog.Entry) error {
	if _, err := tx.Exec(db.shared.insertChange, appendEntryArgs(nil, e)...); err != nil {
		return fmt.Errorf("append change %s/%d: %w", e.Origin, e.Seq, err)
	}
	return nil
}

// signHead signs a checkpoint of the node's own log when this transaction
// advanced it, so every committed head is signed: peers can verify
// whatever they pull, and relays pass the proof on.
func (db *DB) signHead(tx *writeTx, before changelog.Entry) error {
	head := db.currentHead()
	if db.key == nil || head.Seq == before.Seq {
		return nil
	}
	return db.signCheckpoint(tx, head.Seq, head.Hash)
}

// signCheckpoint signs and stores a checkpoint of the node's own entry
// seq, whose hash is hash.
func (db *DB) signCheckpoint(tx *writeTx, seq uint64, hash []byte) error {
	db.unsigned = 0
	cp := changelog.SignCheckpoint(db.key, db.origin, seq, hash)
	if _, err := tx.Exec(db.shared.insertCheckpoint, cp.Origin, cp.Seq, cp.Hash, cp.Signature); err != nil {
		return fmt.Errorf("store checkpoint %d: %w", cp.Seq, err)
	}
	return nil
}

// checkpointEvery bounds the bytes of the node's own entries between two
// of its checkpoints, also within one commit: a peer holds what it
// receives until a checkpoint proves it, so a commit of many large records
// must not make it hold them all.
const checkpointEvery = 1 << 20

// signEvery signs a checkpoint at e when checkpointEvery bytes of entries
// have been appended since the last one.
func (db *DB) signEvery(tx *writeTx, e *changelog.Entry) error {
	db.unsigned += len(e.Data)
	if db.key == nil || db.unsigned < checkpointEvery {
		return nil
	}
	return db.signCheckpoint(tx, e.Seq, e.Hash)
}

// recovered runs a write or a run of the writer (what names it), turning a
// panic into its error: a bug that a request or a member's signed entry
// reaches then fails that write alone, where it took the writer goroutine
// and the node down (and the entry, pulled again, every node that holds
// it, at each start). It closes the rows the write left open, as the
// writes after it share its connection.
func recovered(tx *writeTx, what string, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			tx.closeRows()
			err = fmt.Errorf("panic in %s: %v\n%s", what, r, debug.Stack())
		}
	}()
	return f()
}

// mutate runs the caller's function and checks what it made.
func mutate(w storage.Write, current proto.Message, stamp storage.Stamp) (next proto.Message, err error) {
	next, err = w.Mutate(current, stamp)
	switch {
	case err != nil:
	case next == nil:
		err = fmt.Errorf("write of %s produced no record", w.Name)
	case next.ProtoReflect().Descriptor() != w.Kind.Message.Descriptor():
		err = fmt.Errorf("write of %s produced a %s, not a %s", w.Name, next.ProtoReflect().Descriptor().FullName(), w.Kind.Message.Descriptor().FullName())
	}
	return next, err
}

// sharedStmts are the writer's statements that every kind uses. Each is
// its text: the driver keeps what it compiled (writeTx).
type sharedStmts struct {
	selectRequest, insertRequest, insertChange, insertChanges, deleteValues, insertValue      string
	insertCheckpoint, insertAudit, upsertAuditHead, countSealed, countOpened, selectWithdrawn string
	insertAuditNames, selectValues, selectHash                                                string
	// repairCheckpoint stores a repair's checkpoint unless one of the same
	// entry is held (Repair).
	repairCheckpoint string
	// Each write of a batch with savepoints runs in one (commit).
	savepoint, rollbackTo, release string
}

type kindStmts struct {
	shared         *sharedStmts
	columns        []filter.Field // non-repeated schema fields, in column order
	repeated       []filter.Field
	lists          []int64 // filter.ListID of each repeated field
	selectForWrite string
	selectState    string // id, seq by name, for applying others' entries
	insert, update string
	insertColumns  string // "table (columns)" of insert
	table          string
	copyColumns    []string // id and insert's columns, for COPY (copyRecords)
	selectColumns  string   // province, columns (as putRecord binds them) and search_text by id
	deleteRow      string
	// The kind's words table and its pending rows (search.go).
	insertWords, deleteWords, pendWords, countPending string
	get                                               *sql.Stmt // on the reader pool
}

// prepareAll makes the text of every statement the writer runs repeatedly
// and prepares each once, at open, so that one the schema does not accept
// fails the open rather than a write; and the reader's Get.
func (db *DB) prepareAll() error {
	var err error
	prepare := func(on *sql.DB, q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var s *sql.Stmt
		if s, err = on.Prepare(q); err != nil {
			err = fmt.Errorf("prepare %q: %w", q, err)
		}
		return s
	}
	text := func(q string) string {
		if s := prepare(db.writer, q); s != nil {
			s.Close()
		}
		return q
	}
	shared := &sharedStmts{
		selectRequest: text("SELECT name, fingerprint FROM request_ids WHERE request_id = ?"),
		selectHash:    text("SELECT hash FROM changes WHERE origin = ? AND seq = ?"),
		insertRequest: text("INSERT INTO request_ids (request_id, name, hlc, fingerprint) VALUES (?, ?, ?, ?)"),
		insertChange:  text("INSERT INTO changes (" + entryColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
		insertChanges: text("INSERT INTO changes (" + entryColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)" +
			strings.Repeat(", (?, ?, ?, ?, ?, ?, ?, ?)", entriesPerInsert-1)),
		upsertAuditHead: text("INSERT INTO audit_head (id, seq, hash, signature) VALUES (1, ?, ?, ?)" +
			" ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, signature = excluded.signature"),
		countSealed:     text("INSERT INTO sealed_counts (member, entries) VALUES (?, 1) ON CONFLICT (member) DO UPDATE SET entries = sealed_counts.entries + 1"),
		selectWithdrawn: text("SELECT seq FROM withdrawn WHERE name = ?"),
		countOpened:     text("INSERT INTO opened_counts (origin, entries) VALUES (?, ?) ON CONFLICT (origin) DO UPDATE SET entries = opened_counts.entries + excluded.entries"),
		insertCheckpoint: text("INSERT INTO checkpoints (origin, seq, hash, signature) VALUES (?, ?, ?, ?)" +
			" ON CONFLICT (origin, seq) DO UPDATE SET hash = excluded.hash, signature = excluded.signature"),
		repairCheckpoint: text("INSERT INTO checkpoints (origin, seq, hash, signature) VALUES (?, ?, ?, ?)" +
			" ON CONFLICT (origin, seq) DO UPDATE SET hash = excluded.hash, signature = excluded.signature WHERE checkpoints.hash <> excluded.hash"),
		deleteValues:     text("DELETE FROM record_elements WHERE list = ? AND record = ?"),
		insertValue:      text(insertElementSQL),
		insertAudit:      text(insertAuditSQL),
		insertAuditNames: text("INSERT INTO audit_names (name, seq) SELECT value, CAST(?1 AS BIGINT) FROM " + db.dialect.jsonStrings("?2") + " WHERE true ON CONFLICT DO NOTHING"),
		selectValues:     text("SELECT value FROM record_elements WHERE list = ? AND record = ?"),
		savepoint:        text("SAVEPOINT write"),
		rollbackTo:       text("ROLLBACK TO write"),
		release:          text("RELEASE write"),
	}
	for _, k := range resource.Kinds() {
		for _, r := range rollups[k] {
			db.rollupUpserts[r] = text(r.upsertSQL())
			db.rollupDeletes[r] = text(r.deleteEmptySQL())
		}
	}
	db.shared = shared
	lists := map[int64]string{}
	for _, k := range resource.Kinds() {
		// Change-log rows leave out the name a record's state holds in
		// field 1 (entryNameInState).
		if f := k.New().ProtoReflect().Descriptor().Fields().ByName("name"); (f == nil || f.Number() != 1 || f.Kind() != protoreflect.StringKind) && err == nil {
			err = fmt.Errorf("%s: a record's name must be its field 1, a string (change-log rows rely on it)", k.Collection)
		}
		for _, f := range k.Schema.Fields() {
			if !f.Repeated {
				continue
			}
			id, field := filter.ListID(k.Collection, f.Path), k.Collection+"/"+f.Path
			if other, taken := lists[id]; taken && err == nil {
				err = fmt.Errorf("repeated fields %s and %s have the same list id %d in record_elements; rename one", other, field, id)
			}
			lists[id] = field
		}
	}
	for _, k := range resource.Kinds() {
		st := &kindStmts{shared: shared}
		var cols, sets []string
		for _, f := range k.Schema.Fields() {
			if f.Repeated {
				st.repeated = append(st.repeated, f)
				st.lists = append(st.lists, filter.ListID(k.Collection, f.Path))
				continue
			}
			st.columns = append(st.columns, f)
			cols = append(cols, f.Column)
			sets = append(sets, f.Column+" = ?")
		}
		t := k.Table()
		st.selectForWrite = text("SELECT " + t + ".id, " + stateColumns(t) + " FROM " + t + " WHERE " + t + ".name = ?")
		st.selectState = text("SELECT id, seq FROM " + t + " WHERE name = ?")
		st.insertColumns = fmt.Sprintf("%s (name, province, seq, data, search_text, %s)", t, strings.Join(cols, ", "))
		st.table = t
		st.copyColumns = append([]string{"id", "name", "province", "seq", "data", "search_text"}, cols...)
		returning := ""
		if db.dialect.postgres {
			returning = " RETURNING id" // see insertRow
		}
		st.insert = text(fmt.Sprintf("INSERT INTO %s VALUES (?, ?, ?, ?, ?, %s) ON CONFLICT (name) DO NOTHING%s",
			st.insertColumns, placeholders(len(cols)), returning))
		st.update = text(fmt.Sprintf("UPDATE %s SET seq = ?, data = ?, search_text = ?, %s WHERE id = ?", t, strings.Join(sets, ", ")))
		st.selectColumns = text(fmt.Sprintf("SELECT province, %s, search_text FROM %s WHERE id = ?", strings.Join(cols, ", "), t))
		st.deleteRow = text("DELETE FROM " + t + " WHERE id = ?")
		st.insertWords = text(insertWordsSQL(db.dialect, t))
		st.deleteWords = text(deleteWordsSQL(db.dialect, t))
		st.pendWords = text("INSERT INTO " + t + "_words_pending (record) VALUES (?) ON CONFLICT DO NOTHING")
		st.countPending = text("SELECT count(*) FROM " + t + "_words_pending")
		st.get = prepare(db.reader, "SELECT "+stateColumns(t)+" FROM "+t+" WHERE "+t+".name = ?")
		db.stmts[k] = st
	}
	return err
}

func (db *DB) kindStmts(k *resource.Kind) (*kindStmts, error) {
	st, ok := db.stmts[k]
	if !ok {
		return nil, fmt.Errorf("no table for kind %s", k.Collection)
	}
	return st, nil
}

// provinceOf is the owner segment of a resource name (names reaching the
// store were parsed by the services already).
func provinceOf(name string) string {
	rest := strings.TrimPrefix(name, "provinces/")
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		return rest[:i]
	}
	return rest
}
