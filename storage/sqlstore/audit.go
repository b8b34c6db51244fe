package sqlstore

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/audit"
	"github.com/provex/provex/changelog"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
)

// appendAudit writes the audit record of a write inside its transaction:
// who (from ctx), and which change-log entries it made (origin's first..last,
// the last with hash).
//
// The writer goroutine keeps the head of the trail in db.auditHead (and
// restores it when a write rolls back to its savepoint), so a write costs one
// insert; only this node's writer appends to its trail.
func (db *DB) appendAudit(ctx context.Context, tx *writeTx, resource, origin string, first, last uint64, hash []byte) error {
	if db.noAudit {
		return nil
	}
	r := newAuditRecord(ctx, resource, origin, first, last, hash)
	if db.auditHead.Seq == 0 {
		audit.Next(nil, &r)
	} else {
		audit.Next(&db.auditHead, &r)
	}
	if err := db.insertAudit(tx, &r); err != nil {
		return err
	}
	db.auditHead = audit.Record{Seq: r.Seq, Hash: r.Hash}
	return nil
}

// loadAuditHead reads the trail's last record for the writer. A store
// that signs (opened with its key) checks first that the trail ends at the
// head its key signed, with that key or, while the node has signed nothing
// with it yet (signedOwnHeadWithCurrentKey), one of pastKeys: the writer
// signs the head in every commit that extends the trail, so a trail that ends
// elsewhere, or whose head signature does not verify, was changed outside
// it (records removed, added or re-chained), and signing its head on the
// next commit would make the change pass every check after. A trail with
// no signed head is signed, with a warning: a store of an older release,
// or written without a key, has none.
func (db *DB) loadAuditHead(ctx context.Context, pastKeys []ed25519.PublicKey) error {
	err := db.writer.QueryRowContext(ctx, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").Scan(&db.auditHead.Seq, &db.auditHead.Hash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	db.auditLength.Store(db.auditHead.Seq)
	if db.key == nil {
		return nil
	}
	var signed audit.SignedHead
	err = db.writer.QueryRowContext(ctx, "SELECT seq, hash, signature FROM audit_head").Scan(&signed.Seq, &signed.Hash, &signed.Signature)
	if errors.Is(err, sql.ErrNoRows) {
		if db.auditHead.Seq > 0 {
			// A store of a release before signed heads, or written
			// without a key; or its signed head was removed, which only
			// a check of the trail before this start can tell.
			db.log.Warn("the audit trail's head carries no signature; the node signs it at its next commit. If this node signed it before, the signature was removed: check the trail with provex audit verify", "head", db.auditHead.Seq)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the audit trail's signed head: %w", err)
	}
	problems := audit.CheckHead(signed, db.origin, db.auditHead.Seq, db.auditHead.Hash, db.publicKey())
	if len(problems) == 0 {
		return nil
	}
	rotated, err := db.signedOwnHeadWithCurrentKey(ctx)
	if err != nil {
		return err
	}
	if rotated {
		// The node signed its trail's head with the current key when it
		// took it (UseKeys, or the commit that signed this checkpoint): a
		// head of a retired key was signed since, by whoever holds that
		// key (an outside review rewrote the trail with a leaked one).
		problems = append(problems, "this node signed its log and its trail with its current key before, so a head signed with a previous key was written after that, outside the node")
	} else {
		for _, pub := range pastKeys {
			if len(audit.CheckHead(signed, db.origin, db.auditHead.Seq, db.auditHead.Hash, pub)) == 0 {
				return nil
			}
		}
	}
	return fmt.Errorf("the audit trail is not as this node signed it, and the node will not sign it: %s; see what changed with `provex audit verify`, then move the data directory aside and restore it from a backup (provex verify checks one) or from the peers (provex restore, into an empty data directory)", strings.Join(problems, "; "))
}

// signedOwnHeadWithCurrentKey reports whether the newest checkpoint of the
// node's own log verifies with the key it signs with now. Every commit that
// signs one extends the trail and signs its head too, and so does taking a
// new key (UseKeys): when it does, the trail's head was signed with the
// current key, and a previous key's signature of it is not the node's. A
// store from before the rotation (a backup restored, or a key replaced
// while the node was stopped) holds none.
func (db *DB) signedOwnHeadWithCurrentKey(ctx context.Context) (bool, error) {
	cp := changelog.Checkpoint{Origin: db.origin}
	err := db.writer.QueryRowContext(ctx, "SELECT seq, hash, signature FROM checkpoints WHERE origin = ? ORDER BY seq DESC LIMIT 1", db.origin).Scan(&cp.Seq, &cp.Hash, &cp.Signature)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read the newest checkpoint of the node's own log: %w", err)
	}
	return cp.Verify(db.publicKey()), nil
}

// AuditLength is the number of records in the audit trail (the seq of its
// head), as of the last commit.
func (db *DB) AuditLength() int64 { return db.auditLength.Load() }

func newAuditRecord(ctx context.Context, resource, origin string, first, last uint64, hash []byte) audit.Record {
	a := storage.ActorFrom(ctx)
	r := audit.Record{Time: time.Now().UnixNano(), Actor: a.Name, RequestID: a.RequestID, Action: a.Action,
		Resource: resource, Origin: origin, FirstSeq: int64(first), LastSeq: int64(last), ChangeHash: hash}
	if r.ChangeHash == nil {
		r.ChangeHash = []byte{}
	}
	return r
}

// insertAuditNames indexes the names read record r holds (audit_names),
// in one statement: a statement a name made a batch of 4,096 Lists of
// about 300 names each hold the writer for seconds, and editors' writes
// waited up to 24 s behind it (an outside review).
func (db *DB) insertAuditNames(tx *writeTx, r *audit.Record) error {
	if len(r.Names) == 0 {
		return nil
	}
	list, err := json.Marshal(r.Names)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(db.shared.insertAuditNames, r.Seq, string(list)); err != nil {
		return fmt.Errorf("index audit record: %w", err)
	}
	return nil
}

const insertAuditSQL = "INSERT INTO audit (" + auditColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

// insertAudit stores r with the writer's prepared statement.
func (db *DB) insertAudit(tx *writeTx, r *audit.Record) error {
	if _, err := tx.Exec(db.shared.insertAudit, r.Seq, r.Time, r.Actor, r.RequestID, r.Action, r.Resource, r.Origin, r.FirstSeq, r.LastSeq,
		r.ChangeHash, r.PrevHash, r.Hash, r.Read, strings.Join(r.Names, "\n")); err != nil {
		return fmt.Errorf("append audit record: %w", err)
	}
	return nil
}

// auditRead queues the read record of records (of kind k) that a call of
// ctx's actor read, as the actor's Reads asks: resource is what the call
// named (a record, or a collection and its province). A summary
// (aggregate) is recorded even though it names no records.
//
// Reads do not wait for a commit: the writer appends queued read records
// in batches of their own every readCommitDelay at most (commitReads),
// hash-chained with the writes. When the queue is full (the writer is
// behind, or the commit of read records fails and the writer keeps them)
// a read waits up to Options.ReadAuditWait for room, then is refused
// rather than served unaudited.
func (db *DB) auditRead(ctx context.Context, what string, k *resource.Kind, records []proto.Message, aggregate bool) error {
	a := storage.ActorFrom(ctx)
	if db.noAudit || a.Reads == storage.ReadsNotAudited {
		return nil
	}
	var names []string
	for _, m := range records {
		if v, _ := k.Audience(m); a.Reads == storage.ReadsAll || !resource.Public(v) {
			names = append(names, k.Name(m))
		}
	}
	if len(names) == 0 && !aggregate && a.Reads != storage.ReadsAll {
		return nil
	}
	r := audit.Record{Time: time.Now().UnixNano(), Actor: a.Name, RequestID: a.RequestID, Action: a.Action, Resource: what,
		Read: true, Names: names, ChangeHash: []byte{}}
	if why := db.Fenced(); why != "" {
		// Its record could not be stored: refused rather than served
		// unaudited.
		return apperr.Unavailable("the audit trail cannot record this read of confidential records: %s", why)
	}
	if !db.ReadOnly().IsZero() {
		// Its record would be lost: refused rather than served unaudited.
		return apperr.Unavailable("the node's database takes no writes now (it is read-only): the audit trail cannot record this read of confidential records; retry once the node's operator has made it writable").RetryAfter(repairRetry)
	}
	if !db.DiskFull().IsZero() {
		// Its record would be lost: refused rather than served unaudited.
		return apperr.ResourceExhausted("the node's disk is full: the audit trail cannot record this read of confidential records; retry once the node's operator has made room").RetryAfter(diskFullRetry)
	}
	db.closeMu.RLock()
	defer db.closeMu.RUnlock()
	if db.closed {
		return errClosed
	}
	select {
	case db.reads <- r:
		return nil
	default:
	}
	// The writer is behind: readers wait for it a while (which paces
	// them to the rate it records reads at), then are refused.
	wait := time.NewTimer(db.readWait)
	defer wait.Stop()
	select {
	case db.reads <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-wait.C:
		return apperr.ResourceExhausted("the audit trail is behind in recording reads of confidential records; retry shortly").RetryAfter(time.Second)
	}
}

// commitReads appends the read records gathered in db.readBatch and those
// queued behind them, up to the queue's size or readBatchNames names, to
// the trail, in one transaction of the writer goroutine, signing the new
// head. The reads
// were answered already, so a batch whose commit fails is not dropped (a
// statement_timeout, or the writer's session ended, lost thousands: an
// outside review): it stays in db.readBatch for the writer to try again,
// its records taking their seq and hash anew then, and until it commits
// the writer takes no record off the queue, so that reads beyond the
// queue wait, then are refused (auditRead).
func (db *DB) commitReads() error {
	batch := db.readBatch
	names := 0
	for _, r := range batch {
		names += len(r.Names)
	}
fill:
	for len(batch) < cap(db.reads) && names < readBatchNames {
		select {
		case r := <-db.reads:
			batch = append(batch, r)
			names += len(r.Names)
		default:
			break fill
		}
	}
	db.readBatch = batch
	if len(batch) == 0 {
		return nil
	}
	before := db.auditHead
	err := func() error {
		tx, err := db.beginWrite()
		if err != nil {
			return err
		}
		defer db.endWrite()
		for i := range batch {
			r := &batch[i]
			if db.auditHead.Seq == 0 {
				audit.Next(nil, r)
			} else {
				audit.Next(&db.auditHead, r)
			}
			if err := db.insertAudit(tx, r); err != nil {
				return err
			}
			if err := db.insertAuditNames(tx, r); err != nil {
				return err
			}
			db.auditHead = audit.Record{Seq: r.Seq, Hash: r.Hash}
		}
		if err := db.signAuditHead(tx, before); err != nil {
			return err
		}
		return tx.Commit()
	}()
	if err != nil {
		db.auditHead = before
		// Once the disk is marked full, reads to be recorded are refused
		// (auditRead) until a commit stores something again.
		db.noteRefused(err)
		return err
	}
	db.noteStored()
	db.auditLength.Store(db.auditHead.Seq)
	clear(batch)
	db.readBatch = batch[:0]
	return nil
}

// readBatchNames bounds the names of a batch of read records: the
// records queued after it wait for the next batch (readCommitDelay later),
// and writes queued meanwhile commit between the two. A batch of 4,096
// Lists of about 300 names each held the writer for seconds (an outside
// review).
const readBatchNames = 16384

// readRetryFirst is how long the writer waits before it tries again to
// commit read records whose commit failed; each failure after doubles the
// wait, up to readRetryMax.
const (
	readRetryFirst = 100 * time.Millisecond
	readRetryMax   = 5 * time.Second
)

// tryCommitReads commits the read records gathered (commitReads); waited
// is how long the writer waited since their commit last failed (0 if it
// has not). It returns how long to wait before the next try, or 0 once
// they are stored.
func (db *DB) tryCommitReads(waited time.Duration) time.Duration {
	err := db.commitReads()
	if err == nil {
		if waited > 0 {
			db.log.Info("read audit records stored after their commit failed")
		}
		return 0
	}
	wait := min(max(2*waited, readRetryFirst), readRetryMax)
	db.log.Error("read audit records not stored yet: their commit failed; the writer keeps them and tries again, and reads the trail must record wait for room in its queue meanwhile, then are refused",
		"records", len(db.readBatch), "retry", wait, "err", err)
	return wait
}

// closeReads commits the read records left when the store closes, trying
// a batch whose commit fails once more, and only then logs them lost with
// those still queued: the reads were answered, and nothing writes after.
func (db *DB) closeReads() {
	for len(db.readBatch) > 0 || len(db.reads) > 0 {
		if db.commitReads() == nil {
			continue
		}
		if err := db.commitReads(); err != nil {
			db.log.Error("read audit records lost: their commit failed as the store closed, and again when tried once more", "records", len(db.readBatch)+len(db.reads), "err", err)
			return
		}
	}
}

// signAuditHead signs the trail's head when this transaction extended it,
// in the same commit: someone with the database file but not the node key
// can then neither rewrite and re-chain records nor drop the newest ones
// unseen.
//
// The writer signs it itself, after the log's checkpoint: handed to
// another goroutine to sign beside that one, a signature of about 35 µs
// took 120–135 µs to come back on a 2-core virtual machine (the goroutine
// waits for a thread to wake), and a write at a time took about 35 µs
// longer than signing both in turn (BENCHMARKS.md, "Create and Get").
func (db *DB) signAuditHead(tx *writeTx, before audit.Record) error {
	if db.key == nil || db.auditHead.Seq == before.Seq {
		return nil
	}
	signature := audit.SignHead(db.key, db.origin, db.auditHead.Seq, db.auditHead.Hash)
	if _, err := tx.Exec(db.shared.upsertAuditHead, db.auditHead.Seq, db.auditHead.Hash, signature); err != nil {
		return fmt.Errorf("sign audit head: %w", err)
	}
	return nil
}

const auditColumns = "seq, time, actor, request_id, action, resource, origin, first_seq, last_seq, change_hash, prev_hash, hash, read, names"

func scanAudit(rows *sql.Rows) (audit.Record, error) {
	var (
		r     audit.Record
		names string
	)
	err := rows.Scan(&r.Seq, &r.Time, &r.Actor, &r.RequestID, &r.Action, &r.Resource, &r.Origin, &r.FirstSeq, &r.LastSeq, &r.ChangeHash, &r.PrevHash, &r.Hash, &r.Read, &names)
	if names != "" {
		r.Names = strings.Split(names, "\n")
	}
	return r, err
}

// AuditRecords implements storage.AuditLog. A resource matches the records
// about it and the read records that name it among the records read.
func (db *DB) AuditRecords(ctx context.Context, after int64, limit int, actor, resource string) ([]audit.Record, error) {
	q := "SELECT " + auditColumns + " FROM audit WHERE seq > ?"
	args := []any{after}
	if actor != "" {
		q += " AND actor = ?"
		args = append(args, actor)
	}
	if resource != "" {
		q += " AND (resource = ? OR seq IN (SELECT seq FROM audit_names WHERE name = ? AND seq > ?))"
		args = append(args, resource, resource, after)
	}
	return readAudit(db.reader.QueryContext(ctx, q+" ORDER BY seq LIMIT ?", append(args, limit)...))
}

// VerifyAudit implements storage.AuditLog (CheckAudit).
func (db *DB) VerifyAudit(ctx context.Context) (int64, []byte, []string, error) {
	c, err := db.CheckAudit(ctx)
	return c.Records, c.Head, c.Problems, err
}

// AuditCheck is what CheckAudit found.
type AuditCheck struct {
	Records  int64
	Head     []byte // hash of the last record
	Problems []string
	// NamesWrong counts the rows of the lookup of who read a record
	// (audit_names) that the read records do not name, and the names of
	// read records it lacks; Problems lists the first of them.
	NamesWrong int
	// OwnRecordsLost are the node's own entries, as ranges first..last,
	// whose only audit record is a repair from a peer (audit.Verifier's
	// RepairedOnly): the trail is intact, but no longer says who made
	// those writes.
	OwnRecordsLost [][2]int64
}

// auditPage is how many records CheckAudit reads at a time: the lookup
// rows of a page are compared once it is read, since PostgreSQL runs one
// query at a time on a connection.
const auditPage = 1000

// CheckAudit checks the whole trail: its chain, its cover of the change
// log, the signed head, and that audit_names holds exactly the names of
// the read records (it is not hashed, and ListAuditEntries finds reads by
// name through it alone). It reads the trail and the change-log heads in
// one read transaction, so concurrent writes cannot make them disagree.
func (db *DB) CheckAudit(ctx context.Context) (AuditCheck, error) {
	var c AuditCheck
	tx, err := db.readSnapshot(ctx, db.queries)
	if err != nil {
		return c, err
	}
	defer tx.Rollback()
	logHeads, err := changeHeads(ctx, tx)
	if err != nil {
		return c, err
	}
	heads := map[string]int64{}
	for _, h := range logHeads {
		heads[h.origin] = int64(h.seq)
	}
	var (
		v            audit.Verifier
		nameProblems []string
	)
	named := newNameSetDigest()
	after := int64(math.MinInt64)
	for {
		page, err := auditRecordsAfter(ctx, tx, after, auditPage)
		if err != nil {
			return c, err
		}
		for _, r := range page {
			v.Add(r)
			named.addRecord(r)
		}
		if len(page) < auditPage {
			break
		}
		after = page[len(page)-1].Seq
	}
	// The lookup rows are compared with the records' names as two sets,
	// each digested in one pass: compared a page at a time, every page
	// scanned the whole table, which has no index on seq (200,000 reads
	// took 33 s on PostgreSQL, an outside review). Only when the sets
	// differ are the rows compared page by page, to name them.
	same, err := named.matchesRows(ctx, tx)
	if err != nil {
		return c, err
	}
	for after := int64(math.MinInt64); !same; {
		page, err := auditRecordsAfter(ctx, tx, after, auditPage)
		if err != nil {
			return c, err
		}
		// The last page's lookup rows go on to the end: rows of records
		// that do not exist are wrong too.
		upTo := int64(math.MaxInt64)
		if len(page) == auditPage {
			upTo = page[len(page)-1].Seq
		}
		wrong, listed, err := auditNameMismatches(ctx, tx, page, after, upTo)
		if err != nil {
			return c, err
		}
		c.NamesWrong += wrong
		nameProblems = append(nameProblems, listed[:min(len(listed), audit.MaxProblems-len(nameProblems))]...)
		if len(page) < auditPage {
			break
		}
		after = upTo
	}
	c.Records, c.Head, c.Problems = v.Finish(heads)
	c.OwnRecordsLost = v.RepairedOnly(db.origin)
	var signed audit.SignedHead
	err = tx.QueryRowContext(ctx, "SELECT seq, hash, signature FROM audit_head").Scan(&signed.Seq, &signed.Hash, &signed.Signature)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		signed = audit.SignedHead{}
	case err != nil:
		return c, err
	}
	c.Problems = append(c.Problems, audit.CheckHead(signed, db.origin, v.Last(), c.Head, db.publicKey())...)
	c.Problems = append(c.Problems, nameProblems...)
	if more := c.NamesWrong - len(nameProblems); more > 0 {
		c.Problems = append(c.Problems, fmt.Sprintf("and %d more rows of audit_names that disagree with the read records", more))
	}
	return c, nil
}

// nameSetDigest digests a set of (read record, name) pairs, in any order,
// as the sum modulo 2^256 of each pair's SHA-256 under a key drawn for the
// one check: equal sets give equal sums, and whoever edits audit_names
// cannot choose rows whose sum matches, not knowing the key (an unkeyed
// sum of hashes is open to generalized-birthday searches).
type nameSetDigest struct {
	key   [32]byte
	sum   [4]uint64
	count int64
}

func newNameSetDigest() *nameSetDigest {
	d := &nameSetDigest{}
	rand.Read(d.key[:])
	return d
}

// add adds the pair (seq, name) to the set.
func (d *nameSetDigest) add(seq int64, name string) {
	h := sha256.New()
	h.Write(d.key[:])
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(seq)))
	h.Write([]byte(name))
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	var carry uint64
	for i := range d.sum {
		d.sum[i], carry = bits.Add64(d.sum[i], binary.BigEndian.Uint64(sum[8*i:]), carry)
	}
	d.count++
}

// addRecord adds the names of r, a read record, once each, as the
// lookup's key (name, seq) holds them.
func (d *nameSetDigest) addRecord(r audit.Record) {
	if !r.Read {
		return
	}
	seen := make(map[string]bool, len(r.Names))
	for _, name := range r.Names {
		if !seen[name] {
			seen[name] = true
			d.add(r.Seq, name)
		}
	}
}

// matchesRows says whether audit_names holds exactly the set d digests.
func (d *nameSetDigest) matchesRows(ctx context.Context, q querier) (bool, error) {
	rows, err := q.QueryContext(ctx, "SELECT seq, name FROM audit_names")
	if err != nil {
		return false, fmt.Errorf("read audit_names: %w", err)
	}
	defer rows.Close()
	held := &nameSetDigest{key: d.key}
	for rows.Next() {
		var (
			seq  int64
			name string
		)
		if err := rows.Scan(&seq, &name); err != nil {
			return false, err
		}
		held.add(seq, name)
	}
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("read audit_names: %w", err)
	}
	return held.count == d.count && held.sum == d.sum, nil
}

// auditRecordsAfter reads up to limit records of the trail after seq
// after, in order.
func auditRecordsAfter(ctx context.Context, q querier, after int64, limit int) ([]audit.Record, error) {
	return readAudit(q.QueryContext(ctx, "SELECT "+auditColumns+" FROM audit WHERE seq > ? ORDER BY seq LIMIT ?", after, limit))
}

// readAudit reads the records a query of auditColumns returned.
func readAudit(rows *sql.Rows, err error) ([]audit.Record, error) {
	if err != nil {
		return nil, fmt.Errorf("read audit: %w", err)
	}
	defer rows.Close()
	var out []audit.Record
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// auditNameMismatches compares the rows of audit_names with seq in
// after..upTo (after excluded) with the names of the read records of page,
// which are those records: it returns how many rows disagree, one way or
// the other, and the first audit.MaxProblems of them described.
func auditNameMismatches(ctx context.Context, q querier, page []audit.Record, after, upTo int64) (int, []string, error) {
	type row struct {
		seq  int64
		name string
	}
	want := map[row]bool{}
	for _, r := range page {
		if r.Read {
			for _, name := range r.Names {
				want[row{r.Seq, name}] = true
			}
		}
	}
	rows, err := q.QueryContext(ctx, "SELECT seq, name FROM audit_names WHERE seq > ? AND seq <= ? ORDER BY seq, name", after, upTo)
	if err != nil {
		return 0, nil, fmt.Errorf("read audit_names: %w", err)
	}
	defer rows.Close()
	var (
		wrong  int
		listed []string
	)
	note := func(format string, args ...any) {
		wrong++
		if len(listed) < audit.MaxProblems {
			listed = append(listed, fmt.Sprintf(format, args...))
		}
	}
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.seq, &r.name); err != nil {
			return 0, nil, err
		}
		if !want[r] {
			note("audit_names says record %d read %s, which that record does not name (the lookup was edited)", r.seq, r.name)
		}
		delete(want, r)
	}
	if err := rows.Err(); err != nil {
		return 0, nil, err
	}
	missing := make([]row, 0, len(want))
	for r := range want {
		missing = append(missing, r)
	}
	slices.SortFunc(missing, func(a, b row) int { return cmp.Or(cmp.Compare(a.seq, b.seq), strings.Compare(a.name, b.name)) })
	for _, r := range missing {
		note("read record %d names %s, but audit_names lacks the row, so a lookup of who read it does not find this read (rows were removed): provex verify --repair rewrites audit_names from the records", r.seq, r.name)
	}
	return wrong, listed, nil
}

// RepairAuditNames rewrites audit_names from the names of the read
// records, which their hashes cover, and returns how many rows it wrote.
func (db *DB) RepairAuditNames(ctx context.Context) (int, error) {
	written := 0
	err := db.runInWriter(ctx, func(tx *writeTx) error {
		written = 0
		if _, err := tx.ExecContext(ctx, "DELETE FROM audit_names"); err != nil {
			return err
		}
		after := int64(math.MinInt64)
		for {
			page, err := auditRecordsAfter(ctx, tx, after, auditPage)
			if err != nil {
				return err
			}
			for _, r := range page {
				if !r.Read {
					continue
				}
				if err := db.insertAuditNames(tx, &r); err != nil {
					return err
				}
				written += len(r.Names)
			}
			if len(page) < auditPage {
				return nil
			}
			after = page[len(page)-1].Seq
		}
	})
	if err != nil {
		return 0, err
	}
	db.log.Warn("rewrote audit_names from the read records", "rows", written)
	return written, nil
}

// logHead is the last entry of one origin's change log.
type logHead struct {
	origin string
	seq    uint64
	hash   []byte
}

// changeHeads returns every origin's last change-log entry, by index seeks
// (as Origins does): a GROUP BY would read the whole log.
func changeHeads(ctx context.Context, tx *sql.Tx) ([]logHead, error) {
	var out []logHead
	origin := ""
	for {
		var next sql.NullString
		if err := tx.QueryRowContext(ctx, "SELECT min(origin) FROM changes WHERE origin > ?", origin).Scan(&next); err != nil {
			return nil, fmt.Errorf("read origins: %w", err)
		}
		if !next.Valid {
			return out, nil
		}
		origin = next.String
		h := logHead{origin: origin}
		if err := tx.QueryRowContext(ctx, "SELECT seq, hash FROM changes WHERE origin = ? ORDER BY seq DESC LIMIT 1", origin).Scan(&h.seq, &h.hash); err != nil {
			return nil, fmt.Errorf("read head of %s: %w", origin, err)
		}
		out = append(out, h)
	}
}

// publicKey is the key the node signs with now (nil if none).
func (db *DB) publicKey() ed25519.PublicKey {
	if p := db.pub.Load(); p != nil {
		return *p
	}
	return nil
}
