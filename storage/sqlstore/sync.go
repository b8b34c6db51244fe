package sqlstore

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"database/sql"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/changelog"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/internal/filter"
	"github.com/provex/provex/internal/validation"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
)

// Origins reports, per origin, the last entry, the newest checkpoint, the
// entries not applied and the damage found. Entries are appended only in
// order, so the highest seq of an origin is its last entry. Every step is
// an index seek: a GROUP BY over the log would read all of it, and pulls
// ask for this every time.
func (db *DB) Origins(ctx context.Context) ([]storage.OriginState, error) {
	// One read transaction: the heads and the counts agree.
	conn, err := db.readSnapshot(ctx, db.reader)
	if err != nil {
		return nil, err
	}
	defer conn.Rollback()
	rows, err := conn.QueryContext(ctx, originsSQL)
	if err != nil {
		return nil, fmt.Errorf("read origins: %w", err)
	}
	var out []storage.OriginState
	for rows.Next() {
		var (
			o                    storage.OriginState
			cpSeq, verified, opn sql.NullInt64
		)
		if err := rows.Scan(&o.Origin, &o.Seq, &o.Hash, &o.HLC, &cpSeq, &o.Checkpoint.Hash, &o.Checkpoint.Signature, &verified, &opn); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read origins: %w", err)
		}
		o.Checkpoint.Origin, o.Checkpoint.Seq = o.Origin, uint64(cpSeq.Int64)
		o.Verified, o.Opened = uint64(verified.Int64), opn.Int64
		o.Damaged = db.Damaged(o.Origin)
		out = append(out, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read origins: %w", err)
	}
	// Entries held but not applied: few, counted for all origins at once.
	unapplied := map[string][2]int{}
	rows, err = conn.QueryContext(ctx, `SELECT origin, count(*) FILTER (WHERE state = 'rejected'), count(*) FILTER (WHERE state = 'unopened')
		FROM unapplied GROUP BY origin`)
	if err != nil {
		return nil, fmt.Errorf("count unapplied entries: %w", err)
	}
	for rows.Next() {
		var origin string
		var n [2]int
		if err := rows.Scan(&origin, &n[0], &n[1]); err != nil {
			rows.Close()
			return nil, err
		}
		unapplied[origin] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count unapplied entries: %w", err)
	}
	for i := range out {
		out[i].Rejected, out[i].Unopened = unapplied[out[i].Origin][0], unapplied[out[i].Origin][1]
		if out[i].Origin == db.origin {
			if out[i].SealedFor, err = sealedCounts(ctx, conn); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// originsSQL reads every origin whose log the node holds, with its head,
// newest checkpoint, verified mark and opened count, in one statement (on
// PostgreSQL a statement is a round trip, and a statement each per origin
// made every national summary wait 20 ms for its freshness). Origins are
// found by skipping through the log's primary key, one seek each (the
// recursive min), and each value is a seek: a GROUP BY or DISTINCT would
// read the whole log.
const originsSQL = `WITH RECURSIVE o(origin) AS (
		SELECT min(origin) FROM changes
		UNION ALL
		SELECT (SELECT min(c.origin) FROM changes c WHERE c.origin > o.origin) FROM o WHERE o.origin IS NOT NULL)
	SELECT o.origin,
		(SELECT c.seq FROM changes c WHERE c.origin = o.origin ORDER BY c.seq DESC LIMIT 1),
		(SELECT c.hash FROM changes c WHERE c.origin = o.origin ORDER BY c.seq DESC LIMIT 1),
		(SELECT c.hlc FROM changes c WHERE c.origin = o.origin ORDER BY c.seq DESC LIMIT 1),
		(SELECT k.seq FROM checkpoints k WHERE k.origin = o.origin ORDER BY k.seq DESC LIMIT 1),
		(SELECT k.hash FROM checkpoints k WHERE k.origin = o.origin ORDER BY k.seq DESC LIMIT 1),
		(SELECT k.signature FROM checkpoints k WHERE k.origin = o.origin ORDER BY k.seq DESC LIMIT 1),
		(SELECT v.seq FROM log_verified v WHERE v.origin = o.origin),
		(SELECT p.entries FROM opened_counts p WHERE p.origin = o.origin)
	FROM o WHERE o.origin IS NOT NULL ORDER BY o.origin`

func sealedCounts(ctx context.Context, conn *sql.Tx) (map[string]int64, error) {
	rows, err := conn.QueryContext(ctx, "SELECT member, entries FROM sealed_counts")
	if err != nil {
		return nil, fmt.Errorf("read sealed counts: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var (
			m string
			n int64
		)
		if err := rows.Scan(&m, &n); err != nil {
			return nil, err
		}
		out[m] = n
	}
	return out, rows.Err()
}

// Checkpoint returns origin's newest checkpoint with seq <= upTo.
func (db *DB) Checkpoint(ctx context.Context, origin string, upTo uint64) (changelog.Checkpoint, error) {
	return db.checkpointWhere(ctx, origin, "seq <= ? ORDER BY seq DESC", upTo)
}

// NextCheckpoint returns origin's oldest checkpoint with seq >= from.
func (db *DB) NextCheckpoint(ctx context.Context, origin string, from uint64) (changelog.Checkpoint, error) {
	return db.checkpointWhere(ctx, origin, "seq >= ? ORDER BY seq", from)
}

// KeepCheckpoint stores a newer signature of an entry held (see
// storage.Store).
func (db *DB) KeepCheckpoint(ctx context.Context, cp changelog.Checkpoint) (bool, error) {
	kept := false
	err := db.runInWriter(ctx, func(tx *writeTx) error {
		var hash []byte
		err := tx.QueryRowContext(ctx, "SELECT hash FROM changes WHERE origin = ? AND seq = ?", cp.Origin, cp.Seq).Scan(&hash)
		if errors.Is(err, sql.ErrNoRows) || err == nil && !bytes.Equal(hash, cp.Hash) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(db.shared.insertCheckpoint, cp.Origin, cp.Seq, cp.Hash, cp.Signature); err != nil {
			return fmt.Errorf("store checkpoint of %s: %w", cp.Origin, err)
		}
		kept = true
		return nil
	})
	return kept, err
}

func (db *DB) checkpointWhere(ctx context.Context, origin, where string, seq uint64) (changelog.Checkpoint, error) {
	c := changelog.Checkpoint{Origin: origin}
	err := db.reader.QueryRowContext(ctx, "SELECT seq, hash, signature FROM checkpoints WHERE origin = ? AND "+where+" LIMIT 1", origin, seq).
		Scan(&c.Seq, &c.Hash, &c.Signature)
	if errors.Is(err, sql.ErrNoRows) {
		return changelog.Checkpoint{Origin: origin}, nil
	}
	if err != nil {
		return c, fmt.Errorf("read checkpoint of %s: %w", origin, err)
	}
	return c, nil
}

// lastEntry reads the last entry of origin inside tx (seq 0 if none).
func lastEntry(tx *writeTx, origin string) (uint64, []byte, error) {
	var (
		seq  uint64
		hash []byte
	)
	err := tx.QueryRow("SELECT seq, hash FROM changes WHERE origin = ? ORDER BY seq DESC LIMIT 1", origin).Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, changelog.ZeroHash, nil
	}
	return seq, hash, err
}

// ApplyRemote appends a verified run of another origin's entries and
// applies the record states they carry, in one transaction. The node's own
// entries come back this way only into a store opened to restore them
// (Options.Restore): they continue its log, which its writes then extend.
func (db *DB) ApplyRemote(ctx context.Context, entries []changelog.Entry, cp changelog.Checkpoint, earlier ...changelog.Checkpoint) ([]storage.Refusal, error) {
	// Prepared by the writer, after it skipped what it holds.
	unprepared := &preparedRun{entries: entries, prepared: make([]preparedEntry, len(entries))}
	refusals, _, err := db.ApplyPrepared(ctx, []storage.PreparedRun{unprepared}, cp, earlier...)
	return refusals, err
}

// preparedRun is a run of entries with each one's preparedEntry, and the
// sealer that opened them.
type preparedRun struct {
	entries  []changelog.Entry
	prepared []preparedEntry
	sealer   *changelog.Sealer
}

func (r *preparedRun) Entries() []changelog.Entry { return r.entries }

// PrepareRemote does, on the caller's goroutine, what applying entries
// takes before the writer: opening, decoding and checking their states and
// making their rows' values (storage.Preparer). About a third of what the
// writer did for each entry of a catch-up. Entries the store holds already
// (another peer's pull brought them) are left to the writer, which skips
// them: a run held whole costs a lookup, as it did before.
func (db *DB) PrepareRemote(entries []changelog.Entry) storage.PreparedRun {
	r := &preparedRun{entries: entries, prepared: make([]preparedEntry, len(entries)), sealer: db.sealer.Load()}
	if len(entries) == 0 {
		return r
	}
	held := db.heldThrough(entries[0].Origin)
	for i := range entries {
		if entries[i].Seq > held {
			r.prepared[i] = db.prepareEntry(&entries[i], r.sealer)
		}
	}
	return r
}

// heldThrough is the last seq of origin's log the store's readers see (0
// when that cannot be read): a lower bound of what the writer skips.
func (db *DB) heldThrough(origin string) uint64 {
	var seq sql.NullInt64
	if err := db.reader.QueryRow("SELECT max(seq) FROM changes WHERE origin = ?", origin).Scan(&seq); err != nil {
		return 0
	}
	return uint64(max(seq.Int64, 0))
}

// ApplyPrepared is ApplyRemote of the entries of consecutive runs
// PrepareRemote prepared, joined.
func (db *DB) ApplyPrepared(ctx context.Context, runs []storage.PreparedRun, cp changelog.Checkpoint, earlier ...changelog.Checkpoint) ([]storage.Refusal, int, error) {
	var (
		pr    preparedRun
		mixed bool // runs prepared with different sealers
	)
	for i, r := range runs {
		p, ok := r.(*preparedRun)
		if !ok {
			return nil, 0, fmt.Errorf("a run of %T, not one this store prepared", r)
		}
		if len(runs) == 1 {
			pr = *p
			break
		}
		// New arrays: a caller may hold the rest of the ones a run's
		// entries are cut from.
		pr.entries = append(pr.entries, p.entries...)
		pr.prepared = append(pr.prepared, p.prepared...)
		mixed = mixed || (i > 0 && p.sealer != pr.sealer)
		pr.sealer = p.sealer
	}
	if mixed {
		pr.sealer = nil // every sealed entry is opened again below
	}
	entries := pr.entries
	if len(entries) == 0 {
		return nil, 0, nil
	}
	if err := db.mayLog(); err != nil {
		return nil, 0, err
	}
	origin := entries[0].Origin
	own := origin == db.origin
	if own && !db.restoring {
		return nil, 0, apperr.PermissionDenied("entries of %s come only from this node itself", origin)
	}
	var (
		refusals []storage.Refusal
		stored   int
	)
	err := db.runInWriter(ctx, func(tx *writeTx) error {
		refusals, stored = refusals[:0], 0
		seq, hash, err := lastEntry(tx, origin)
		if err != nil {
			return err
		}
		// Idempotent on (origin, seq): entries this node already holds (a
		// concurrent pull from another peer brought them) are skipped, once
		// the last of them is found to be the very entry stored.
		run, prepared := entries, pr.prepared
		if skip := int(min(uint64(len(run)), seq-min(seq, run[0].Seq-1))); skip > 0 {
			last := run[skip-1]
			var stored []byte
			if err := tx.QueryRow("SELECT hash FROM changes WHERE origin = ? AND seq = ?", origin, last.Seq).Scan(&stored); err != nil {
				return fmt.Errorf("read %s/%d: %w", origin, last.Seq, err)
			}
			if !bytes.Equal(stored, last.Hash) {
				return apperr.Aborted("entry %s/%d differs from the one this node holds", origin, last.Seq)
			}
			run, prepared = run[skip:], prepared[skip:]
			if len(run) == 0 {
				return nil
			}
		}
		if run[0].Seq != seq+1 || !bytes.Equal(run[0].PrevHash, hash) {
			return apperr.Aborted("entries of %s start at %d but this node holds up to %d (or another chain)", origin, run[0].Seq, seq)
		}
		// What was not prepared is prepared now; and if the node's keys
		// changed since (UseKeys), its sealed entries open with the new
		// ones, as if they came after.
		sealer := db.sealer.Load()
		for i := range run {
			if p := &prepared[i]; !p.done || (run[i].Sealed && pr.sealer != sealer) {
				*p = db.prepareEntry(&run[i], sealer)
			}
		}
		var (
			maxHLC int64
			opened int
		)
		// Entries that restore a damaged range were opened (and counted)
		// when they first came.
		restored := db.restoredThrough(origin, run[0].Seq)
		for i := range run {
			if run[i].Origin != origin {
				return fmt.Errorf("batch mixes origins %s and %s", origin, run[i].Origin)
			}
		}
		if err := db.appendEntries(tx, run); err != nil {
			return err
		}
		stored = len(run)
		// The new records' words and elements go in a few statements at
		// the end of the run (the writer flushes them).
		db.index.on = true
		for i := range run {
			e := &run[i]
			r, read, err := db.applyEntry(tx, e, &prepared[i])
			if err != nil {
				return err
			}
			if r != nil {
				refusals = append(refusals, *r)
			}
			if read && e.Seq > restored && !own {
				opened++
			}
			if own && e.Sealed {
				// What seal counted when the node first wrote the entry.
				if err := db.recountSealed(tx, e); err != nil {
					return err
				}
			}
			maxHLC = max(maxHLC, e.HLC)
		}
		if err := db.countOpened(tx, origin, opened); err != nil {
			return err
		}
		for _, c := range append(earlier, cp) {
			if c.Origin != origin || c.Seq < run[0].Seq || c.Seq > cp.Seq {
				continue // not of these entries (the caller verified the rest)
			}
			if _, err := tx.Exec(db.shared.insertCheckpoint, c.Origin, c.Seq, c.Hash, c.Signature); err != nil {
				return fmt.Errorf("store checkpoint of %s: %w", origin, err)
			}
		}
		if err := db.auditAppended(ctx, tx, origin, run[0].Seq, run[len(run)-1]); err != nil {
			return err
		}
		if own {
			db.clock.Continue(maxHLC)
		} else {
			db.clock.Observe(maxHLC)
		}
		if own {
			// The node's next write continues the restored log.
			e := run[len(run)-1]
			db.setHead(changelog.Entry{Origin: origin, Seq: e.Seq, HLC: e.HLC, PrevHash: e.PrevHash, Hash: e.Hash})
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	for _, r := range refusals {
		db.log.Warn("entry held but not applied", "origin", r.Origin, "seq", r.Seq, "unopened", r.Unopened, "reason", r.Reason)
	}
	return refusals, stored, nil
}

// countOpened adds n to the entries of origin this node opened.
func (db *DB) countOpened(tx *writeTx, origin string, n int) error {
	if n == 0 {
		return nil
	}
	_, err := tx.Exec(db.shared.countOpened, origin, n)
	return err
}

// preparedEntry is what applying an entry of another origin takes that
// needs no transaction (prepareEntry): its state opened when sealed to
// this node, decoded and checked, and the values of its row.
type preparedEntry struct {
	// done: prepared (a zero preparedEntry is not).
	done bool
	// err fails the whole run.
	err error
	// refused: the entry is held but not applied, for reason; unopened,
	// it was sealed to this node and did not open.
	refused, unopened bool
	reason            string
	// opened: a sealed state opened for this node as one of its readers.
	opened bool
	// withdraw is the kind of the record (name) whose copy goes; row is
	// the state to put. Both are nil for an entry this node relays unread.
	withdraw *resource.Kind
	name     string
	row      *recordRow
}

// heldAs is the state an entry refused as p is held in (unapplied.state).
func (p *preparedEntry) heldAs() string {
	if p.unopened {
		return "unopened"
	}
	return "rejected"
}

// recordName is the record p puts or withdraws ("" for an entry relayed
// unread).
func (p *preparedEntry) recordName() string {
	if p.row != nil {
		return p.row.name
	}
	return p.name
}

// prepareEntry prepares the state an entry of another origin carries to
// become this node's copy of the record, where this node may read it. An
// entry whose state it may not apply (a record of another origin, not a
// record, or sealed to it but not opening) is to be recorded as unapplied.
// It reads nothing of the store but what never changes after open, so it
// runs beside the writer (PrepareRemote).
func (db *DB) prepareEntry(e *changelog.Entry, sealer *changelog.Sealer) (p preparedEntry) {
	refuse := func(unopened bool, format string, args ...any) preparedEntry {
		// The reason may quote what the member signed: kept as text that
		// either database stores, or the refusal would fail the run.
		p.refused, p.unopened = true, unopened
		p.reason = strings.ToValidUTF8(strings.ReplaceAll(fmt.Sprintf(format, args...), "\x00", `\x00`), "\uFFFD")
		return p
	}
	defer func() {
		// A bug that a member's signed entry reaches refuses that entry,
		// as a state that does not decode is refused: the origin's log
		// goes on, and the node stays up (it would fall again on the
		// same entry at each start).
		if r := recover(); r != nil {
			db.log.Error("preparing an entry panicked", "origin", e.Origin, "seq", e.Seq, "panic", r, "stack", string(debug.Stack()))
			p = preparedEntry{}
			refuse(false, "preparing the entry panicked: %v", r)
		}
		p.done = true
	}()
	name, data, withdrawn := e.Name, e.Data, false
	if e.Sealed {
		o, err := sealer.Open(e.Origin, e.Seq, e.Data)
		switch {
		case errors.Is(err, changelog.ErrNotAddressed):
			return p // this node relays it, and cannot read it
		case errors.Is(err, changelog.ErrMalformed):
			return refuse(false, "%v", err)
		case err != nil:
			return refuse(true, "sealed to this node but does not open: %v", err)
		}
		name, data, withdrawn = o.Name, o.Data, o.Withdrawn
		p.opened = !withdrawn
	}
	k, err := resource.CheckOwned(name, e.Origin)
	if err != nil {
		return refuse(false, "%v", err)
	}
	if withdrawn {
		p.withdraw, p.name = k, name
		return p
	}
	m, err := k.Decode(data)
	if err != nil {
		return refuse(false, "the state of %s does not decode: %v", name, err)
	}
	if got := k.Name(m); got != name {
		return refuse(false, "the entry names %s but its state is %s", name, apperr.Quote(got))
	}
	// Besides text and times, numbers past their schema's bounds (two
	// amounts past Money.units' put every national total of their currency
	// past int64), and a record too large for its answers (a List page
	// holding it failed for every caller, the records after it out of
	// reach): what the API refuses for what it does to everyone's answers.
	if err := validation.Storable(m); err != nil {
		return refuse(false, "the state of %s holds values this store does not keep: %v", name, err)
	}
	// A number its field cannot hold, which decoding cut to its low 32
	// bits: every node would show another number than its origin signed.
	if err := validation.NumbersFit(data, m.ProtoReflect().Descriptor()); err != nil {
		return refuse(false, "the state of %s holds numbers its fields cannot hold: %v", name, err)
	}
	if len(data) > db.maxRecord {
		return refuse(false, "the state of %s is %d bytes encoded, over the %d this node keeps in one record (its answers could not be sent)", name, len(data), db.maxRecord)
	}
	if why := overlongIndexed(k, m); why != "" {
		return refuse(false, "the state of %s holds %s", name, why)
	}
	if v, to := k.Audience(m); !resource.MayRead(db.origin, e.Origin, v, to) {
		// Not for this node (a state its origin published unsealed
		// though it says otherwise): any copy goes.
		p.withdraw, p.name = k, name
		return p
	}
	st, err := db.kindStmts(k)
	if err != nil {
		p.err = err
		return p
	}
	p.row = newRecordRow(k, st, name, m, recordData(data, e.Sealed))
	return p
}

// applyEntry applies entry e as prepareEntry prepared it (p), in the
// writer's transaction, and returns the refusal it records, if any.
// opened says a sealed state opened for this node as one of its readers.
func (db *DB) applyEntry(tx *writeTx, e *changelog.Entry, p *preparedEntry) (refusal *storage.Refusal, opened bool, err error) {
	switch {
	case p.err != nil:
		return nil, false, p.err
	case p.refused:
		r := &storage.Refusal{Origin: e.Origin, Seq: e.Seq, Unopened: p.unopened, Reason: p.reason}
		_, err := tx.Exec("INSERT INTO unapplied (origin, seq, state, reason) VALUES (?, ?, ?, ?)"+
			" ON CONFLICT (origin, seq) DO UPDATE SET state = excluded.state, reason = excluded.reason", e.Origin, e.Seq, p.heldAs(), r.Reason)
		return r, p.opened, err
	case p.withdraw != nil:
		return nil, p.opened, db.withdraw(tx, p.withdraw, p.name, e.Seq)
	case p.row != nil:
		return nil, p.opened, db.putState(tx, p.row, e.Seq)
	}
	return nil, false, nil
}

// maxIndexedText bounds, in bytes, a text the store indexes: a filterable
// field's value, a repeated field's element, a search word. A PostgreSQL
// b-tree entry holds about 2,700 bytes at most, and a state over it fails
// its whole run there while SQLite stores it. The API's longest filterable
// text, 500 characters, is at most 2,000 bytes. A variable so that tests
// can be a version that applied longer ones.
var maxIndexedText = 2500

// overlongIndexed says where m holds a text longer than this store can
// index, or returns "": a state only a member signing it can make, refused
// on both databases alike. That is a filterable field's value or a
// repeated field's element over maxIndexedText, or the texts keying one of
// the kind's summary rollups, over it together: each key is one b-tree
// entry (two currency codes of 1,500 bytes failed a run on PostgreSQL).
func overlongIndexed(k *resource.Kind, m proto.Message) string {
	r := m.ProtoReflect()
	fields := k.Schema.Fields()
	longest := make([]int, len(fields)) // each field's longest text
	for i, f := range fields {
		for _, v := range f.Values(r) {
			if s, ok := v.(string); ok {
				if len(s) > maxIndexedText {
					return fmt.Sprintf("in %s a text longer than the %d bytes this store indexes", f.Path, maxIndexedText)
				}
				longest[i] = max(longest[i], len(s))
			}
		}
	}
	for _, ru := range rollups[k] {
		total := 0
		for _, i := range ru.keyFields {
			total += longest[i]
		}
		if total > maxIndexedText {
			var paths []string
			for _, i := range ru.keyFields {
				if longest[i] > 0 {
					paths = append(paths, fields[i].Path)
				}
			}
			return fmt.Sprintf("in %s, which key a summary of its kind, texts together longer than the %d bytes this store indexes", strings.Join(paths, ", "), maxIndexedText)
		}
	}
	return ""
}

// newestApplied returns the seq of the newest entry applied to the record
// (its row, or the entry that took it away, then withdrawn is set), the
// row's id, and whether the row exists. Entries of a record all come from
// its owner, so seqs compare.
func (db *DB) newestApplied(tx *writeTx, k *resource.Kind, name string) (seq uint64, id int64, exists, withdrawn bool, err error) {
	// The row may be one of the run's queued inserts.
	if err := db.flushIndex(tx); err != nil {
		return 0, 0, false, false, err
	}
	st, err := db.kindStmts(k)
	if err != nil {
		return 0, 0, false, false, err
	}
	switch err := tx.QueryRow(st.selectState, name).Scan(&id, &seq); {
	case err == nil:
		exists = true
	case !errors.Is(err, sql.ErrNoRows):
		return 0, 0, false, false, fmt.Errorf("read %s: %w", name, err)
	}
	if !db.anyWithdrawn {
		return seq, id, exists, false, nil
	}
	var gone uint64
	switch err := tx.QueryRow(db.shared.selectWithdrawn, name).Scan(&gone); {
	case err == nil:
		seq, withdrawn = max(seq, gone), true
	case !errors.Is(err, sql.ErrNoRows):
		return 0, 0, false, false, err
	}
	return seq, id, exists, withdrawn, nil
}

// putState stores a record state of entry seq unless a newer one was
// applied already (an older entry repaired or rebuilt late).
func (db *DB) putState(tx *writeTx, r *recordRow, seq uint64) error {
	if !db.anyWithdrawn {
		// Most entries a pull brings make records this node has not seen:
		// try the insert first, and look for what is there only when the
		// name is taken. In a run, the inserts wait to go many at a time
		// (flushInserts), which comes back here for the names taken.
		if db.index.on {
			queued, err := db.queueInsert(tx, r, seq)
			if err != nil || queued {
				return err
			}
		}
		if err := db.putRecord(tx, r, 0, false, seq); !errors.Is(err, errRowExists) {
			return err
		}
	}
	return db.putStateOver(tx, r, seq)
}

// putStateOver is putState for a record whose row exists or was withdrawn.
func (db *DB) putStateOver(tx *writeTx, r *recordRow, seq uint64) error {
	newest, id, exists, withdrawn, err := db.newestApplied(tx, r.k, r.name)
	if err != nil || newest >= seq {
		return err
	}
	if err := db.putRecord(tx, r, id, exists, seq); err != nil {
		return err
	}
	if withdrawn {
		_, err = tx.Exec("DELETE FROM withdrawn WHERE name = ?", r.name)
	}
	return err
}

// withdraw removes this node's copy of a record it may no longer read, as
// of entry seq.
func (db *DB) withdraw(tx *writeTx, k *resource.Kind, name string, seq uint64) error {
	newest, id, exists, _, err := db.newestApplied(tx, k, name)
	if err != nil || newest >= seq {
		return err
	}
	if exists {
		st, _ := db.kindStmts(k)
		if err := db.takeRow(tx, k, st, id, true); err != nil {
			return err
		}
	}
	db.anyWithdrawn = true
	db.wipePending = true
	_, err = tx.Exec("INSERT INTO withdrawn (name, seq) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET seq = excluded.seq", name, seq)
	return err
}

// rebuildOrigin rebuilds every record of origin from its stored log: the
// records are deleted and each entry applied again in order (sealed ones
// opened again). A repair calls it when it replaced entries that were
// intact but not the origin's (another chain, or a consistent rewrite):
// what this node applied from them cannot be trusted.
func (db *DB) rebuildOrigin(tx *writeTx, origin string) error {
	// A record rebuilt from entries this node may not read is gone: as
	// after a withdrawal, its old pages leave the WAL.
	db.wipePending = true
	if err := db.flushIndex(tx); err != nil {
		return err
	}
	// The origin's rows go all at once, and with them their groups in the
	// rollups (every group is one province's); what this write changed
	// before goes in first, so that nothing of it is counted twice.
	if err := db.flushRollups(tx, db.deltas); err != nil {
		return err
	}
	for _, k := range resource.Kinds() {
		for _, r := range rollups[k] {
			if _, err := tx.Exec("DELETE FROM "+r.table+" WHERE province = ?", origin); err != nil {
				return err
			}
		}
		for _, f := range k.Schema.Fields() {
			if !f.Repeated {
				continue
			}
			if _, err := tx.Exec("DELETE FROM record_elements WHERE list = ? AND record IN (SELECT id FROM "+k.Table()+" WHERE province = ?)",
				filter.ListID(k.Collection, f.Path), origin); err != nil {
				return err
			}
		}
		if err := db.takeAllWords(tx, k, origin); err != nil {
			return err
		}
		if _, err := tx.Exec("DELETE FROM "+k.Table()+" WHERE province = ?", origin); err != nil {
			return err
		}
	}
	// Names under provinces/{origin}/ sort from that prefix up to
	// provinces/{origin}0 ('0' follows '/').
	if _, err := tx.Exec("DELETE FROM withdrawn WHERE name >= ? AND name < ?", "provinces/"+origin+"/", "provinces/"+origin+"0"); err != nil {
		return err
	}
	for _, table := range []string{"unapplied", "opened_counts"} {
		if _, err := tx.Exec("DELETE FROM "+table+" WHERE origin = ?", origin); err != nil {
			return err
		}
	}
	own := origin == db.origin
	if own {
		if _, err := tx.Exec("DELETE FROM sealed_counts"); err != nil {
			return err
		}
	}
	opened := 0
	for after := uint64(0); ; {
		rows, err := tx.Query("SELECT "+entryColumns+" FROM changes WHERE origin = ? AND seq > ? ORDER BY seq LIMIT 1000", origin, after)
		if err != nil {
			return err
		}
		var entries []changelog.Entry
		for rows.Next() {
			e, err := scanEntry(rows)
			if err != nil {
				rows.Close()
				return err
			}
			entries = append(entries, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(entries) == 0 {
			break
		}
		for i := range entries {
			e := &entries[i]
			p := db.prepareEntry(e, db.sealer.Load())
			_, read, err := db.applyEntry(tx, e, &p)
			if err != nil {
				return err
			}
			if read && !own {
				opened++
			}
			if own && e.Sealed {
				if err := db.recountSealed(tx, e); err != nil {
					return err
				}
			}
		}
		after = entries[len(entries)-1].Seq
	}
	db.log.Warn("rebuilt the records of an origin from its repaired log", "origin", origin)
	return db.countOpened(tx, origin, opened)
}

// recountSealed counts again, for one of the node's own sealed entries,
// the members seal counted when it wrote the entry: the readers of its
// state its envelope holds a stanza for. Readers are not those of today's
// manifest: a member added since was not sealed to, one removed since
// was. A reader the manifest gives no key, or a key that is not the one
// sealed to (rotated since), is counted when the envelope's other
// stanzas are exactly as many as such readers; when fewer (some of them
// were no members when it was written), which of them it was sealed to
// cannot be told, and none is counted.
func (db *DB) recountSealed(tx *writeTx, e *changelog.Entry) error {
	// An entry whose readers cannot be told is counted for none, said
	// once here: it is the node's own, which it wrote and could open.
	uncounted := func(why string, args ...any) error {
		db.log.Warn("one of the node's own sealed entries is counted for no reader: sync status --all may count its readers short",
			append([]any{"seq", e.Seq, "why", why}, args...)...)
		return nil
	}
	sealer := db.sealer.Load()
	o, err := sealer.Open(e.Origin, e.Seq, e.Data)
	if err != nil {
		return uncounted("it does not open", "err", err)
	}
	if o.Withdrawn {
		return nil
	}
	k, ok := resource.KindOfName(o.Name)
	if !ok {
		return uncounted("it names no kind of record", "record", o.Name)
	}
	m, err := k.Decode(o.Data)
	if err != nil {
		return uncounted("its state does not decode", "record", o.Name, "err", err)
	}
	v, to := k.Audience(m)
	sealedTo, untold, err := db.readersSealedTo(sealer, e.Data, resource.Readers(db.origin, v, to)[1:])
	if err != nil {
		return uncounted("its stanzas cannot be told", "record", o.Name, "err", err)
	}
	if len(untold) > 0 {
		db.log.Warn("cannot tell which readers one of the node's sealed entries was sealed to: sync status --all may count them short",
			"seq", e.Seq, "record", o.Name, "readers", untold)
	}
	for _, r := range sealedTo {
		if _, err := tx.Exec(db.shared.countSealed, r); err != nil {
			return fmt.Errorf("count sealed entries: %w", err)
		}
	}
	return nil
}

// readersSealedTo returns which of readers (the node itself left out) one
// of the node's own sealed entries, env, was sealed to. A reader the
// manifest gives no key, or a key that is not the one sealed to (rotated
// since), was sealed to when the envelope's other stanzas are exactly as
// many as such readers, and was not when there are none; when there are
// fewer (some of them were no members when it was written), which of them
// it was sealed to cannot be told: they are untold.
func (db *DB) readersSealedTo(sealer *changelog.Sealer, env []byte, readers []string) (sealedTo, untold []string, err error) {
	keys := make([]*ecdh.PublicKey, len(readers))
	for i, r := range readers {
		keys[i], _ = db.directory.EncryptionKey(r)
	}
	found, others, err := sealer.SealedTo(env, keys)
	if err != nil {
		return nil, nil, err
	}
	var unknown []string
	for i, r := range readers {
		if found[i] {
			sealedTo = append(sealedTo, r)
		} else {
			unknown = append(unknown, r)
		}
	}
	switch {
	case others == len(unknown):
		sealedTo = append(sealedTo, unknown...)
	case others > 0:
		untold = unknown
	}
	return sealedTo, untold, nil
}

// entryPageBytes bounds the data of a page of entries read from the change
// logs (applyRejected, CheckRecords): a member decides how large its
// entries are, and a thousand of a few megabytes each would not fit a
// node's memory. An entry larger than it is read alone.
var entryPageBytes int64 = 64 << 20

// entryPageRead, set by tests alone, is told the entries and bytes of data
// of each page readEntries reads.
var entryPageRead func(entries int, bytes int64)

// entryKey is an entry's place in the change logs.
type entryKey struct {
	origin string
	seq    uint64
}

// entryPageEnd reads the keys keysSQL returns (origin, seq and the length
// of the entry's data, in log order) and returns the last of them a page
// of at most entryPageBytes of data holds (the first alone when larger);
// ok is false when keysSQL returns none.
func entryPageEnd(query func(string, ...any) (*sql.Rows, error), keysSQL string, args ...any) (end entryKey, ok bool, err error) {
	rows, err := query(keysSQL, args...)
	if err != nil {
		return end, false, err
	}
	defer rows.Close()
	var total int64
	for rows.Next() {
		var (
			k    entryKey
			size int64
		)
		if err := rows.Scan(&k.origin, &k.seq, &size); err != nil {
			return end, false, err
		}
		if total += size; ok && total > entryPageBytes {
			break
		}
		end, ok = k, true
	}
	return end, ok, rows.Err()
}

// readEntries reads the entries entriesSQL returns.
func readEntries(query func(string, ...any) (*sql.Rows, error), entriesSQL string, args ...any) ([]changelog.Entry, error) {
	rows, err := query(entriesSQL, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var (
		page  []changelog.Entry
		bytes int64
	)
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, err
		}
		page = append(page, e)
		bytes += int64(len(e.Data))
	}
	if entryPageRead != nil {
		entryPageRead(len(page), bytes)
	}
	return page, rows.Err()
}

// heldKeysSQL reads the keys of the entries held unapplied after an
// (origin, seq), in log order, and the length of their data, for
// entryPageEnd; heldSQL reads those entries up to the (origin, seq) it
// returned.
const (
	heldKeysSQL = "SELECT u.origin, u.seq, length(c.data) FROM unapplied u JOIN changes c ON c.origin = u.origin AND c.seq = u.seq" +
		" WHERE u.origin > ? OR (u.origin = ? AND u.seq > ?) ORDER BY u.origin, u.seq LIMIT 1000"
	heldSQL = "SELECT " + entryColumns + " FROM changes WHERE (origin, seq) IN (SELECT origin, seq FROM unapplied" +
		" WHERE (origin > ? OR (origin = ? AND seq > ?)) AND (origin < ? OR (origin = ? AND seq <= ?))) ORDER BY origin, seq"
)

// heldNow works out again why entry e, which the store holds unapplied,
// is held: the state applyEntry would hold it in now, or "" when the rules
// apply it, with e prepared. The row's own state is not to be trusted: a
// hand on the file that adds one hides the entry's record, or sets it
// back, from every check (an outside review). known is false where it
// cannot be told here: an entry in a damaged range, or whose hash does
// not verify, is left to the repair (which rebuilds its origin); a sealed
// one to a store with the node's keys (another key would call it
// unopened). damaged are the ranges of e's origin found damaged.
func (db *DB) heldNow(e *changelog.Entry, damaged []storage.Damage) (p preparedEntry, state string, known bool) {
	if e.Sealed && !db.keyed || inDamage(damaged, e.Seq) || !changelog.Verify(e) {
		return preparedEntry{}, "", false
	}
	p = db.prepareEntry(e, db.sealer.Load())
	switch {
	case p.err != nil:
		return p, "", false
	case p.refused:
		return p, p.heldAs(), true
	}
	return p, "", true
}

// applyRejected applies the entries held unapplied that this version
// applies (heldNow): an earlier version refused them (a record of a kind
// it did not know, during a rolling upgrade; a state past a bound since
// widened), and the log holding them, no pull brings them again. A node
// runs it as it opens its store, once per release (its rules,
// rejectedRetryRules): an entry refused for a reason that still holds is
// not read again at every start. It returns how many it applied and how
// many refused ones it found held in another state than their refusal's.
func (db *DB) applyRejected(ctx context.Context) (applied, restated int, err error) {
	// Most stores hold none: then no write transaction at each start.
	var held bool
	if err := db.reader.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM unapplied)").Scan(&held); err != nil || !held {
		return 0, 0, err
	}
	rules := db.rejectedRetryRules()
	var retried string
	switch err := db.reader.QueryRowContext(ctx, "SELECT rules FROM rejected_retried").Scan(&retried); {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return 0, 0, err
	case retried == rules:
		return 0, 0, nil
	}
	return db.applyHeld(ctx, rules)
}

// ApplyHeld applies the entries held unapplied that the rules apply, and
// holds each one they refuse in the state of its refusal (heldNow), each
// origin's in log order: what CheckRecords names of the entries held
// unapplied, repaired (provex verify --repair). An entry older than one
// of its record applied since changes nothing (putState and withdraw keep
// the newest). It reads the entries in pages of bounded size
// (entryPageEnd), and returns how many it applied and how many it held in
// another state.
func (db *DB) ApplyHeld(ctx context.Context) (applied, restated int, err error) {
	return db.applyHeld(ctx, "")
}

// applyHeld is ApplyHeld; rules, when not "", are recorded as the ones
// the entries held were last retried by (applyRejected).
func (db *DB) applyHeld(ctx context.Context, rules string) (applied, restated int, err error) {
	for after := (entryKey{}); ; {
		// Set by the run alone, which the writer may run again.
		var (
			end  entryKey
			more bool
			n, m int
		)
		err := db.runInWriter(ctx, func(tx *writeTx) error {
			var err error
			end, more, err = entryPageEnd(tx.Query, heldKeysSQL, after.origin, after.origin, after.seq)
			if err != nil || !more {
				// Done: the entries held now were refused by these rules.
				if err == nil && rules != "" {
					_, err = tx.Exec("DELETE FROM rejected_retried")
					if err == nil {
						_, err = tx.Exec("INSERT INTO rejected_retried (rules) VALUES (?)", rules)
					}
				}
				return err
			}
			page, err := readEntries(tx.Query, heldSQL, after.origin, after.origin, after.seq, end.origin, end.origin, end.seq)
			if err != nil {
				return err
			}
			n, m = 0, 0
			for i := range page {
				e := &page[i]
				p, state, known := db.heldNow(e, db.damagedNow(e.Origin))
				switch {
				case !known:
				case state == "":
					if _, _, err := db.applyEntry(tx, e, &p); err != nil {
						return err
					}
					if _, err := tx.Exec("DELETE FROM unapplied WHERE origin = ? AND seq = ?", e.Origin, e.Seq); err != nil {
						return err
					}
					n++
				default:
					res, err := tx.Exec("UPDATE unapplied SET state = ? WHERE origin = ? AND seq = ? AND state <> ?", state, e.Origin, e.Seq, state)
					if err != nil {
						return err
					}
					if k, err := res.RowsAffected(); err != nil {
						return err
					} else if k > 0 {
						m++
					}
				}
			}
			return nil
		})
		if err != nil {
			return applied, restated, err
		}
		applied, restated = applied+n, restated+m
		if !more {
			return applied, restated, nil
		}
		after = end
	}
}

// rejectedRetryRules names the rules by which this node refuses an entry:
// its release (Options.Release, and the build Go recorded: a module
// version, a VCS revision; a test's records neither), the kinds it knows,
// and the bounds its options set. An entry the store holds rejected is
// retried once under each (applyRejected).
func (db *DB) rejectedRetryRules() string {
	build := db.release
	if bi, ok := debug.ReadBuildInfo(); ok {
		build += " " + bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" || s.Key == "vcs.modified" {
				build += " " + s.Value
			}
		}
	}
	var kinds []string
	for _, k := range resource.Kinds() {
		kinds = append(kinds, k.Collection)
	}
	return fmt.Sprintf("build %q; kinds %s; records up to %d bytes; indexed texts up to %d; keyed %t",
		build, strings.Join(kinds, ","), db.maxRecord, maxIndexedText, db.keyed)
}
