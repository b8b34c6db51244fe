package sqlstore

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/provex/provex/audit"
	"github.com/provex/provex/changelog"
	"github.com/provex/provex/federation"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/storage"
)

// checkChunk is how many entries VerifyLog reads per read transaction: a
// long one would keep the WAL from being checkpointed.
const checkChunk = 2000

// loadDamage reads the damage recorded by earlier checks.
func (db *DB) loadDamage(ctx context.Context) error {
	rows, err := db.writer.QueryContext(ctx, "SELECT origin, first, last, found, problem FROM log_damage ORDER BY origin, first")
	if err != nil {
		return fmt.Errorf("read log damage: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			d     storage.Damage
			found int64
		)
		if err := rows.Scan(&d.Origin, &d.First, &d.Last, &found, &d.Problem); err != nil {
			return err
		}
		d.Found = time.Unix(0, found)
		db.damage[d.Origin] = append(db.damage[d.Origin], d)
	}
	return rows.Err()
}

// Damaged returns origin's damaged ranges.
func (db *DB) Damaged(origin string) []storage.Damage {
	db.damageMu.Lock()
	defer db.damageMu.Unlock()
	return append([]storage.Damage(nil), db.damage[origin]...)
}

// knownDamaged says whether entry origin/seq lies in a range the log
// checks found damaged (as committed).
func (db *DB) knownDamaged(origin string, seq uint64) bool {
	db.damageMu.Lock()
	defer db.damageMu.Unlock()
	return slices.ContainsFunc(db.damage[origin], func(d storage.Damage) bool { return d.First <= seq && seq <= d.Last })
}

// damagedNow is origin's damage as the writer's open transaction sees it:
// its own changes, or else what is committed. Writer goroutine only.
func (db *DB) damagedNow(origin string) []storage.Damage {
	if d, ok := db.damageTx[origin]; ok {
		return append([]storage.Damage(nil), d...)
	}
	return db.Damaged(origin)
}

// publishDamage makes the damage a committed transaction recorded the
// damage readers see. Writer goroutine only (or before it starts).
func (db *DB) publishDamage() {
	db.damageMu.Lock()
	for origin, d := range db.damageTx {
		if len(d) == 0 {
			delete(db.damage, origin)
		} else {
			db.damage[origin] = d
		}
	}
	db.damageMu.Unlock()
	db.damageTx = nil
}

// snapshotDamageTx copies the transaction's damage changes, to restore
// them when one write of a batch rolls back to its savepoint.
func (db *DB) snapshotDamageTx() map[string][]storage.Damage {
	if db.damageTx == nil {
		return nil
	}
	out := make(map[string][]storage.Damage, len(db.damageTx))
	for k, v := range db.damageTx {
		out[k] = v
	}
	return out
}

// ownLogBrokenReason says why the node's own log cannot be extended: its
// newest entry is damaged or its newest entries are missing (as the
// writer's open transaction sees it: writer goroutine only). An entry
// appended after a damaged head would link to a hash that may not be the
// real one, and one appended where entries are missing would reuse their
// numbers: either forks the log.
func (db *DB) ownLogBrokenReason() string {
	head := db.currentHead().Seq
	for _, d := range db.damagedNow(db.origin) {
		if d.Last >= head {
			return d.Problem
		}
	}
	return ""
}

// ReportDamage records a damaged range (merged with those known). The
// origin's next check reads all of its log: the damage is then confirmed,
// or cleared if it was not real.
func (db *DB) ReportDamage(ctx context.Context, d storage.Damage) error {
	if d.Found.IsZero() {
		d.Found = time.Now()
	}
	db.needFullCheck(d.Origin)
	return db.runInWriter(ctx, func(tx *writeTx) error {
		return db.storeDamage(tx, d.Origin, mergeDamage(append(db.damagedNow(d.Origin), d)))
	})
}

// storeDamage replaces origin's damage rows inside a write transaction;
// readers see them once it commits (publishDamage).
func (db *DB) storeDamage(tx *writeTx, origin string, ranges []storage.Damage) error {
	if _, err := tx.Exec("DELETE FROM log_damage WHERE origin = ?", origin); err != nil {
		return err
	}
	for _, d := range ranges {
		if _, err := tx.Exec("INSERT INTO log_damage (origin, first, last, found, problem) VALUES (?, ?, ?, ?, ?)",
			origin, d.First, d.Last, d.Found.UnixNano(), d.Problem); err != nil {
			return err
		}
	}
	if db.damageTx == nil {
		db.damageTx = map[string][]storage.Damage{}
	}
	db.damageTx[origin] = ranges
	return nil
}

// mergeDamage sorts ranges and merges those that touch.
func mergeDamage(ranges []storage.Damage) []storage.Damage {
	sort.Slice(ranges, func(i, j int) bool { return ranges[i].First < ranges[j].First })
	var out []storage.Damage
	for _, d := range ranges {
		if n := len(out); n > 0 && out[n-1].Last+1 >= d.First {
			out[n-1].Last = max(out[n-1].Last, d.Last)
			continue
		}
		out = append(out, d)
	}
	return out
}

// subtractDamage removes first..last from ranges.
func subtractDamage(ranges []storage.Damage, first, last uint64) []storage.Damage {
	var out []storage.Damage
	for _, d := range ranges {
		if d.Last < first || d.First > last {
			out = append(out, d)
			continue
		}
		if d.First < first {
			left := d
			left.Last = first - 1
			out = append(out, left)
		}
		if d.Last > last {
			right := d
			right.First = last + 1
			out = append(out, right)
		}
	}
	return out
}

// VerifyLog checks origin's stored log (see storage.Store). An incremental
// check reads what came after the last entry checks have read; a full one,
// or the next one after damage was found elsewhere or a repair ran, reads
// all of it.
func (db *DB) VerifyLog(ctx context.Context, origin string, keys []ed25519.PublicKey, full bool) (storage.LogCheck, error) {
	var (
		verified, checked         uint64
		verifiedHash, checkedHash []byte
	)
	if full = db.takeFullCheck(origin) || full; !full {
		err := db.reader.QueryRowContext(ctx, "SELECT seq, hash, checked, checked_hash FROM log_verified WHERE origin = ?", origin).
			Scan(&verified, &verifiedHash, &checked, &checkedHash)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return storage.LogCheck{}, err
		}
	}
	// Past damage already found, the check resumes where the last one
	// stopped, and proves nothing about what lies before.
	from, fromHash := verified, verifiedHash
	resumed := checked > verified
	if resumed {
		from, fromHash = checked, checkedHash
	}
	if !full && from > 0 && fromHash != nil {
		// The entry the check resumes after must still be the one it
		// remembers: an entry after it links to its hash whether it is
		// held or not, and the node's own newest entry deleted was seen
		// by no check (an outside review: its peers stopped pulling, told
		// they diverge). One seek; an entry missing further back is left
		// to the full check. (A check that stopped in damage remembers no
		// hash: it resumes past it, as before, not from the start each
		// time.)
		var held []byte
		err := db.reader.QueryRowContext(ctx, "SELECT hash FROM changes WHERE origin = ? AND seq = ?", origin, from).Scan(&held)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return storage.LogCheck{}, err
		}
		if !bytes.Equal(held, fromHash) {
			full, resumed = true, false
			verified, verifiedHash, checked, checkedHash = 0, nil, 0, nil
			from, fromHash = 0, nil
		}
	}
	gen := db.damageGeneration(origin)
	c := changelog.NewChecker(origin, keys, from, fromHash)
	dropped, err := db.droppedKeys(ctx, origin)
	if err != nil {
		return storage.LogCheck{}, err
	}
	c.DroppedKeys(dropped)
	res := storage.LogCheck{Verified: verified}
	last := from
	for after := from; ; {
		end, n, err := db.checkChunk(ctx, c, origin, after)
		if err != nil {
			return res, err
		}
		res.Checked += n
		last = end
		if n < checkChunk {
			break
		}
		after = end
	}
	if !resumed {
		res.Verified = c.Verified()
	}
	res.BadCheckpoints = len(c.BadCheckpoints())
	res.Superseded = len(c.Superseded())
	res.Problems = c.Problems()
	now := time.Now()
	for i, r := range c.Damaged() {
		res.Damaged = append(res.Damaged, storage.Damage{Range: r, Found: now, Problem: c.Why()[i]})
	}
	if db.reportOnly {
		// A tool's check beside the serving node, or with keys other than
		// the node's (Options.ReportOnly), reports what it found; the
		// node's own checks record damage and act on it.
		return res, nil
	}
	err = db.runInWriter(ctx, func(tx *writeTx) error {
		if db.damageGeneration(origin) != gen {
			// A repair ran, or damage was found elsewhere, while this check
			// read: what it read may be stale, and the next check reads it all.
			return nil
		}
		for _, seq := range append(c.BadCheckpoints(), c.Superseded()...) {
			if _, err := tx.Exec("DELETE FROM checkpoints WHERE origin = ? AND seq = ?", origin, seq); err != nil {
				return err
			}
		}
		// What this check read (after from, up to last) it found damaged
		// or not; damage known elsewhere stays, as this check did not read
		// it: up to from, or beyond the last entry held (the node's own
		// newest entries lost, which only its audit trail may name).
		kept := append([]storage.Damage(nil), res.Damaged...)
		for _, d := range db.damagedNow(origin) {
			if d.First <= from || d.First > last {
				kept = append(kept, d)
			}
		}
		kept = mergeDamage(kept)
		if err := db.storeDamage(tx, origin, kept); err != nil {
			return err
		}
		// The last entry read, and its hash if it is intact, is where the
		// next incremental check starts.
		var lastHash []byte
		if last > 0 && !inDamage(kept, last) {
			if err := tx.QueryRow("SELECT hash FROM changes WHERE origin = ? AND seq = ?", origin, last).Scan(&lastHash); err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		vHash := verifiedHash
		if res.Verified != verified || vHash == nil {
			vHash = changelog.ZeroHash
			if res.Verified > 0 {
				if err := tx.QueryRow("SELECT hash FROM changes WHERE origin = ? AND seq = ?", origin, res.Verified).Scan(&vHash); err != nil {
					return err
				}
			}
		}
		_, err := tx.Exec("INSERT INTO log_verified (origin, seq, hash, checked, checked_hash) VALUES (?, ?, ?, ?, ?)"+
			" ON CONFLICT (origin) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, checked = excluded.checked, checked_hash = excluded.checked_hash",
			origin, res.Verified, vHash, max(last, res.Verified), lastHash)
		return err
	})
	if err != nil {
		return res, err
	}
	if len(res.Damaged) > 0 || res.BadCheckpoints > 0 {
		db.log.Error("stored change log does not verify", "origin", origin, "damaged", fmt.Sprint(c.Damaged()),
			"bad_checkpoints", res.BadCheckpoints, "problems", res.Problems)
	}
	if res.Superseded > 0 {
		db.log.Info("dropped checkpoints signed with keys the manifest no longer lists, proven by later ones", "origin", origin, "checkpoints", res.Superseded)
	}
	return res, nil
}

// droppedKeys are origin's signing keys that a manifest the node took no
// longer lists (SaveManifest).
func (db *DB) droppedKeys(ctx context.Context, origin string) ([]ed25519.PublicKey, error) {
	rows, err := db.reader.QueryContext(ctx, "SELECT public_key FROM dropped_keys WHERE member = ?", origin)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys []ed25519.PublicKey
	for rows.Next() {
		var k []byte
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		if len(k) == ed25519.PublicKeySize {
			keys = append(keys, ed25519.PublicKey(k))
		}
	}
	return keys, rows.Err()
}

// inDamage reports whether seq falls in one of the ranges.
func inDamage(ranges []storage.Damage, seq uint64) bool {
	for _, d := range ranges {
		if d.First <= seq && seq <= d.Last {
			return true
		}
	}
	return false
}

// needFullCheck has origin's next check read all of its log, and tells a
// check reading it now that its findings are stale (a repair ran, or
// damage was found elsewhere).
func (db *DB) needFullCheck(origin string) {
	db.damageMu.Lock()
	db.fullCheck[origin] = true
	db.damageGen[origin]++
	db.damageMu.Unlock()
}

// readFoundDamage has origin's next check read all of its log: a read
// found its entry seq damaged. Each entry asks once in readCheckEvery at
// most, and entries found within one check's interval share the check that
// follows: a record read again and again whose damage the check does not
// see (its row, not the log) costs one full read of the log in that while.
// Another entry found damaged asks at once (throttled by origin, a second
// damage found by a read waited up to 10 minutes, its UNAVAILABLE promising
// a repair nothing had asked for: an outside review). Unlike needFullCheck
// it leaves a check under way to record what it finds (the damage itself,
// most likely).
func (db *DB) readFoundDamage(origin string, seq uint64) {
	db.damageMu.Lock()
	defer db.damageMu.Unlock()
	now := time.Now()
	asked := db.readFound[origin]
	if now.Sub(asked[seq]) < readCheckEvery {
		return
	}
	if len(asked) >= readFoundEntries {
		maps.DeleteFunc(asked, func(_ uint64, at time.Time) bool { return now.Sub(at) >= readCheckEvery })
		if len(asked) >= readFoundEntries {
			// Every one of them asked for a full check within the while:
			// the memory of them stays bounded, and so does the work.
			return
		}
	}
	if asked == nil {
		asked = map[uint64]time.Time{}
		db.readFound[origin] = asked
	}
	asked[seq] = now
	db.fullCheck[origin] = true
}

// readCheckEvery bounds how often reads of one damaged entry have its
// origin's log checked in full; readFoundEntries bounds how many entries
// of an origin reads remember asking for in that while.
const (
	readCheckEvery   = 10 * time.Minute
	readFoundEntries = 1024
)

func (db *DB) damageGeneration(origin string) uint64 {
	db.damageMu.Lock()
	defer db.damageMu.Unlock()
	return db.damageGen[origin]
}

func (db *DB) takeFullCheck(origin string) bool {
	db.damageMu.Lock()
	defer db.damageMu.Unlock()
	full := db.fullCheck[origin]
	delete(db.fullCheck, origin)
	return full
}

// checkChunk feeds the entries of origin after `after` (up to checkChunk)
// and the checkpoints among them to c, in one read transaction; at the end
// of the log it also closes the check.
func (db *DB) checkChunk(ctx context.Context, c *changelog.Checker, origin string, after uint64) (last uint64, n int, err error) {
	tx, err := db.readSnapshot(ctx, db.reader)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, "SELECT "+entryColumns+" FROM changes WHERE origin = ? AND seq > ? ORDER BY seq LIMIT ?", origin, after, checkChunk)
	if err != nil {
		return 0, 0, err
	}
	var entries []changelog.Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			rows.Close()
			return 0, 0, err
		}
		entries = append(entries, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, err
	}
	end := len(entries) < checkChunk
	last = after
	if len(entries) > 0 {
		last = entries[len(entries)-1].Seq
	}
	q := "SELECT seq, hash, signature FROM checkpoints WHERE origin = ? AND seq > ? AND seq <= ? ORDER BY seq"
	args := []any{origin, after, last}
	if end {
		q = "SELECT seq, hash, signature FROM checkpoints WHERE origin = ? AND seq > ? ORDER BY seq"
		args = args[:2]
	}
	cps, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return 0, 0, err
	}
	defer cps.Close()
	i := 0
	for cps.Next() {
		cp := changelog.Checkpoint{Origin: origin}
		if err := cps.Scan(&cp.Seq, &cp.Hash, &cp.Signature); err != nil {
			return 0, 0, err
		}
		for ; i < len(entries) && entries[i].Seq <= cp.Seq; i++ {
			c.Entry(&entries[i])
		}
		c.Checkpoint(cp)
	}
	if err := cps.Err(); err != nil {
		return 0, 0, err
	}
	for ; i < len(entries); i++ {
		c.Entry(&entries[i])
	}
	if end {
		c.End(last)
	}
	return last, len(entries), nil
}

// Repair replaces damaged stored entries by verified copies.
func (db *DB) Repair(ctx context.Context, entries []changelog.Entry, cp changelog.Checkpoint) (int, error) {
	if len(entries) == 0 {
		return 0, nil
	}
	if err := db.mayLog(); err != nil {
		return 0, err
	}
	origin, first := entries[0].Origin, entries[0].Seq
	last := entries[len(entries)-1]
	if cp.Origin != origin || cp.Seq != last.Seq || !bytes.Equal(cp.Hash, last.Hash) {
		return 0, apperr.Invalid("checkpoint", "the checkpoint does not name the last entry of the repair")
	}
	written := 0
	forked := ""
	err := db.runInWriter(ctx, func(tx *writeTx) error {
		written = 0
		prev := changelog.ZeroHash
		if first > 1 {
			switch err := tx.QueryRow("SELECT hash FROM changes WHERE origin = ? AND seq = ?", origin, first-1).Scan(&prev); {
			case errors.Is(err, sql.ErrNoRows):
				return fmt.Errorf("repair of %s from %d: this node does not hold entry %d, the one before it", origin, first, first-1)
			case err != nil:
				return fmt.Errorf("repair of %s from %d: read entry %d: %w", origin, first, first-1, err)
			}
		}
		for i := range entries {
			e := &entries[i]
			if i == 0 && first > 1 && e.Origin == origin && e.Seq == first && !bytes.Equal(e.PrevHash, prev) && changelog.Verify(e) {
				// The peer's copy goes on from another entry than the one
				// this node holds before the range: two histories of the
				// log from there on, which no repair joins.
				why := fmt.Sprintf("repair entry %s/%d does not follow entry %d as this node holds it: the peer's copy is of another history of %s's log from there (a fork, or a peer that lies), which no repair joins", origin, first, first-1, origin)
				if origin == db.origin && db.followsHeldHead(tx, origin, first) {
					// Copies the node's own key signed (the caller checked
					// their checkpoint) that go on from another entry than
					// its own: its key signed two histories, and this
					// node holds the one its peers do not.
					forked = fmt.Sprintf(storage.ForkedLog+": a peer holds entries from %d on, signed with this node's key, that follow another entry %d than this node's "+
						"(the node was run on an old copy of its data directory and wrote again); writes are held: move the data directory aside and run provex restore, "+
						"which takes the peers' history back (what this node wrote from the fork on is lost)", first, first-1)
				}
				return apperr.Invalid("entries", "%s", why)
			}
			if e.Origin != origin || e.Seq != first+uint64(i) || !bytes.Equal(e.PrevHash, prev) || !changelog.Verify(e) {
				return apperr.Invalid("entries", "repair entry %s/%d does not continue the chain", origin, first+uint64(i))
			}
			prev = e.Hash
		}
		// Only damaged entries are written. Every other copy must be the
		// very entry this node holds: otherwise the origin signed two
		// histories, or the peer sends what was not asked for, and
		// nothing changes.
		damaged := db.damagedNow(origin)
		head, _, err := lastEntry(tx, origin)
		if err != nil {
			return err
		}
		lastWritten := uint64(0)
		// An intact entry of a damaged range replaced by another means this
		// node held another chain than the origin's (one its checks found
		// not to match the origin's signature): what it applied from it
		// goes.
		replacedIntact := false
		for i := range entries {
			e := &entries[i]
			row := tx.QueryRow("SELECT "+entryColumns+" FROM changes WHERE origin = ? AND seq = ?", origin, e.Seq)
			stored, err := scanEntry(row)
			held := err == nil
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if !inDamage(damaged, e.Seq) {
				if e.Seq > head {
					break // newer than this node holds: for ordinary sync
				}
				if !held || !bytes.Equal(stored.Hash, e.Hash) {
					return apperr.Aborted("the copy of %s/%d differs from the intact entry this node holds: the origin signed two histories, or the peer sends another", origin, e.Seq)
				}
				continue
			}
			if held && changelog.Verify(&stored) {
				if bytes.Equal(stored.Hash, e.Hash) {
					continue // intact after all
				}
				replacedIntact = true
			}
			if _, err := tx.Exec("INSERT INTO changes ("+entryColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)"+
				" ON CONFLICT (origin, seq) DO UPDATE SET hlc = excluded.hlc, name = excluded.name, data = excluded.data, sealed = excluded.sealed, prev_hash = excluded.prev_hash, hash = excluded.hash",
				appendEntryArgs(nil, e)...); err != nil {
				return err
			}
			written++
			lastWritten = e.Seq
		}
		limit := max(head, lastWritten)
		if replacedIntact {
			if err := db.rebuildOrigin(tx, origin); err != nil {
				return err
			}
		} else if origin == db.origin && lastWritten > head {
			// The node's own newest entries, lost from this copy of its
			// store (an older backup, a lost WAL) with the records they
			// wrote: the records come back with them.
			if err := db.applyOwnRestored(tx, entries, head); err != nil {
				return err
			}
		}
		covered := min(cp.Seq, limit)
		if cp.Seq <= limit {
			// A checkpoint held of the same entry stays: the checks dropped
			// it had its signature been bad, and it may be the origin's
			// newer one (signed with the key it rotated to), which a peer's
			// copy signed with the retired key must not replace.
			if _, err := tx.Exec(db.shared.repairCheckpoint, cp.Origin, cp.Seq, cp.Hash, cp.Signature); err != nil {
				return err
			}
		}
		if err := db.storeDamage(tx, origin, subtractDamage(damaged, first, covered)); err != nil {
			return err
		}
		if written > 0 {
			if err := db.appendAudit(withAction(ctx, audit.ActionRepair), tx, origin, origin, first, lastWritten, entries[lastWritten-first].Hash); err != nil {
				return err
			}
		}
		// The node's own head restored, or rewritten where it was damaged:
		// new entries link to the repaired one.
		if origin == db.origin && written > 0 && lastWritten >= db.currentHead().Seq {
			e := entries[lastWritten-first]
			db.setHead(changelog.Entry{Origin: origin, Seq: e.Seq, HLC: e.HLC, PrevHash: e.PrevHash, Hash: e.Hash})
			db.clock.Continue(e.HLC)
		}
		return nil
	})
	if hold, held := db.OwnLogHold(); forked != "" && !(held && strings.HasPrefix(hold.Problem, storage.ForkedLog)) && db.holdForkedLog(ctx, forked) == nil {
		// Once: the peers send the same copies at every pull.
		db.log.Error("own change log forked from the peers' copy; writes are held", "problem", forked)
	}
	if err != nil {
		return 0, err
	}
	db.needFullCheck(origin)
	if written > 0 {
		db.log.Info("repaired stored change log from a peer", "origin", origin, "from", first, "entries", written)
	}
	return written, nil
}

// withAction returns ctx whose actor's action is action (the actor stays).
func withAction(ctx context.Context, action string) context.Context {
	a := storage.ActorFrom(ctx)
	a.Action = action
	return storage.WithActor(ctx, a)
}

// restoredThrough is the last seq of the damaged range that seq falls in
// (0 when none): a pull that appends there restores missing entries.
func (db *DB) restoredThrough(origin string, seq uint64) uint64 {
	for _, d := range db.damagedNow(origin) {
		if d.First <= seq && seq <= d.Last {
			return d.Last
		}
	}
	return 0
}

// auditAppended audits a run of another origin's entries first..last
// appended by a pull. Entries that restore a damaged (missing) range were
// applied before and audited then: they are audited as a repair.
func (db *DB) auditAppended(ctx context.Context, tx *writeTx, origin string, first uint64, last changelog.Entry) error {
	restored := min(db.restoredThrough(origin, first), last.Seq)
	if restored == 0 {
		return db.appendAudit(ctx, tx, origin, origin, first, last.Seq, last.Hash)
	}
	if err := db.appendAudit(withAction(ctx, audit.ActionRepair), tx, origin, origin, first, restored, last.Hash); err != nil {
		return err
	}
	if err := db.storeDamage(tx, origin, subtractDamage(db.damagedNow(origin), first, restored)); err != nil {
		return err
	}
	if restored < last.Seq {
		return db.appendAudit(ctx, tx, origin, origin, restored+1, last.Seq, last.Hash)
	}
	return nil
}

// checkOwnHead looks, when the store opens, at the end of the node's own
// log: the newest entry must match its hash, and neither a checkpoint nor
// an audit record may name a newer entry than the log holds. Otherwise the
// log cannot be extended (ownLogBrokenReason) until peers repair it.
func (db *DB) checkOwnHead(ctx context.Context, keys []ed25519.PublicKey) error {
	head := db.head
	var problems []storage.Damage
	now := time.Now()
	if head.Seq > 0 {
		row := db.writer.QueryRowContext(ctx, "SELECT "+entryColumns+" FROM changes WHERE origin = ? AND seq = ?", db.origin, head.Seq)
		e, err := scanEntry(row)
		if err != nil {
			return err
		}
		if !changelog.Verify(&e) {
			problems = append(problems, storage.Damage{Range: changelog.Range{Origin: db.origin, First: head.Seq, Last: head.Seq}, Found: now,
				Problem: fmt.Sprintf("this node's newest entry %s/%d does not match its hash", db.origin, head.Seq)})
		}
	}
	signed, err := db.signedPast(ctx, head.Seq, keys)
	if err != nil {
		return err
	}
	var audited sql.NullInt64
	if err := db.writer.QueryRowContext(ctx, "SELECT max(last_seq) FROM audit WHERE origin = ?", db.origin).Scan(&audited); err != nil {
		return err
	}
	if newest := max(signed, uint64(max(audited.Int64, 0))); newest > head.Seq {
		problems = append(problems, storage.Damage{Range: changelog.Range{Origin: db.origin, First: head.Seq + 1, Last: newest}, Found: now,
			Problem: fmt.Sprintf("this node's newest entries %s/%d..%d are missing from its change log", db.origin, head.Seq+1, newest)})
	}
	if len(problems) == 0 {
		return nil
	}
	tx, err := db.beginWrite()
	if err != nil {
		return err
	}
	defer db.endWrite()
	if err := db.storeDamage(tx, db.origin, mergeDamage(append(db.damage[db.origin], problems...))); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		db.damageTx = nil
		return err
	}
	db.publishDamage()
	for _, p := range problems {
		db.log.Error("own change log damaged; writes wait for a repair from peers", "problem", p.Problem)
	}
	return nil
}

// signedPast is the newest seq after head that a checkpoint of the node's
// own log names with a signature of keys (all of them when keys is
// empty: a store opened without the node's key cannot tell). A checkpoint
// that does not verify names nothing: one moved past the head on disk made
// the node take entries for lost that never were, and refuse its writes
// for good (an outside review).
func (db *DB) signedPast(ctx context.Context, head uint64, keys []ed25519.PublicKey) (uint64, error) {
	rows, err := db.writer.QueryContext(ctx, "SELECT seq, hash, signature FROM checkpoints WHERE origin = ? AND seq > ?", db.origin, head)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	newest := uint64(0)
	for rows.Next() {
		cp := changelog.Checkpoint{Origin: db.origin}
		if err := rows.Scan(&cp.Seq, &cp.Hash, &cp.Signature); err != nil {
			return 0, err
		}
		if len(keys) == 0 || cp.Verify(keys...) {
			newest = max(newest, cp.Seq)
		}
	}
	return newest, rows.Err()
}

// SaveManifest keeps a copy of the manifest the node runs with, so that
// offline checks (provex verify) know the members' keys, and adds its
// members to those the node has known (knowMembers).
func (db *DB) SaveManifest(ctx context.Context, m *federation.Manifest) error {
	data, err := m.Marshal()
	if err != nil {
		return err
	}
	var dropping []string
	err = db.runInWriter(ctx, func(tx *writeTx) error {
		var before []byte
		if err := tx.QueryRow("SELECT data FROM manifest").Scan(&before); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var err error
		if dropping, err = db.keepDroppedKeys(tx, before, m); err != nil {
			return err
		}
		if err := db.knowMembers(tx, m); err != nil {
			return err
		}
		_, err = tx.Exec("INSERT INTO manifest (id, data) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data", data)
		return err
	})
	// Their checkpoints go at the next check, which reads the whole log.
	for _, origin := range dropping {
		db.needFullCheck(origin)
	}
	return err
}

// keepDroppedKeys records the signing keys of each member of next that
// the manifest saved before (its bytes; none, or unreadable: nothing to
// compare) listed and next does not, and forgets those next lists again.
// It returns the members that lost keys.
func (db *DB) keepDroppedKeys(tx *writeTx, before []byte, next *federation.Manifest) (dropping []string, err error) {
	var prev *federation.Manifest
	if before != nil {
		prev, _ = federation.ParseManifest(before)
	}
	for _, id := range next.MemberIDs() {
		keys, _ := next.SigningKeys(id)
		for _, k := range keys {
			if _, err := tx.Exec("DELETE FROM dropped_keys WHERE member = ? AND public_key = ?", id, []byte(k)); err != nil {
				return nil, err
			}
		}
		if prev == nil {
			continue
		}
		had, _ := prev.SigningKeys(id)
		lost := false
		for _, k := range had {
			if slices.ContainsFunc(keys, func(l ed25519.PublicKey) bool { return l.Equal(k) }) {
				continue
			}
			if _, err := tx.Exec("INSERT INTO dropped_keys (member, public_key) VALUES (?, ?) ON CONFLICT DO NOTHING", id, []byte(k)); err != nil {
				return nil, err
			}
			lost = true
		}
		if lost {
			dropping = append(dropping, id)
		}
	}
	return dropping, nil
}

// HoldsSigned reports whether the SQLite database at path holds anything
// the node's key signed: change-log entries, their checkpoints, audit
// records or the audit trail's signed head. One that holds none (made by
// `provex token create` before the node first ran) may be given a new key.
func HoldsSigned(ctx context.Context, path string) (bool, error) {
	conn, err := OpenConns(path, true)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	var tables int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('changes', 'checkpoints', 'audit', 'audit_head')").Scan(&tables); err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	if tables < 4 {
		// Not a database of this release's making: what it holds is for
		// the store to tell when it opens it.
		return true, nil
	}
	var signed bool
	err = conn.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM changes) OR EXISTS (SELECT 1 FROM checkpoints) OR EXISTS (SELECT 1 FROM audit) OR EXISTS (SELECT 1 FROM audit_head)").Scan(&signed)
	if err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	return signed, nil
}

// ReadSavedManifest returns the manifest saved in the node database at path
// (a file, or a PostgreSQL URL) without opening the node: nil if there is
// no database yet, or it has none.
// A starting node compares it with the one its operator gave
// (federation.Newest), as a newer one may have come through sync.
func ReadSavedManifest(ctx context.Context, path string) (*federation.Manifest, error) {
	var conn *sql.DB
	exists := "SELECT count(*) > 0 FROM sqlite_schema WHERE name = 'manifest'"
	if IsPostgres(path) {
		cfg, err := parsePostgresURL(path)
		if err != nil {
			return nil, err
		}
		conn = postgresReader(cfg)
		exists = "SELECT to_regclass('manifest') IS NOT NULL"
	} else {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		var err error
		if conn, err = OpenConns(path, true); err != nil {
			return nil, err
		}
	}
	defer conn.Close()
	// Read before the store opens: a damaged file is told as Open tells
	// it, with what to do.
	failed := func(err error) error {
		if fileDamaged(err) {
			return fmt.Errorf("read the manifest saved in %s: %w: %s", path, err, restoreAdvice)
		}
		return fmt.Errorf("read saved manifest: %w", err)
	}
	var found bool
	if err := conn.QueryRowContext(ctx, exists).Scan(&found); err != nil {
		return nil, failed(err)
	}
	if !found {
		return nil, nil
	}
	var data []byte
	err := conn.QueryRowContext(ctx, "SELECT data FROM manifest").Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, failed(err)
	}
	where := path
	if IsPostgres(path) {
		where = "the PostgreSQL store" // its URL may hold a password
	}
	return parseSavedManifest(data, where)
}

// parseSavedManifest parses the manifest a node saved in its database
// (where). One that does not parse was changed there, as the node saves
// only manifests it took: told as the file's ("federation: manifest
// federation_key: not valid base64"), it sent the operator to a file that
// was intact (an outside review).
func parseSavedManifest(data []byte, where string) (*federation.Manifest, error) {
	m, err := federation.ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("the copy of the federation manifest the node saved in its database (%s), not the manifest file, is damaged: %w. "+
			"It was changed there since the node took it: check the database (provex verify --manifest with your copy) and restore it from a backup or from the peers", where, err)
	}
	return m, nil
}

// UseKeys makes key the one the node signs with from now on, and sealer
// (unless nil) the one it seals and opens with: its manifest rotated the
// node's keys. The heads of its log and of its audit trail are signed with
// the new key at once, so all the node holds is covered by it, not only
// what it writes next.
func (db *DB) UseKeys(ctx context.Context, key ed25519.PrivateKey, sealer *changelog.Sealer) error {
	pub := key.Public().(ed25519.PublicKey)
	return db.runInWriter(ctx, func(tx *writeTx) error {
		// Only the writer signs and seals: set here, the keys change
		// between two transactions. Runs prepared with the sealer before
		// are opened again when applied (ApplyPrepared).
		if sealer != nil {
			db.sealer.Store(sealer)
		}
		db.key = key
		db.pub.Store(&pub)
		db.serving.Store(&key)
		if head := db.currentHead(); head.Seq > 0 {
			if err := db.signCheckpoint(tx, head.Seq, head.Hash); err != nil {
				return err
			}
		}
		if db.auditHead.Seq > 0 {
			signature := audit.SignHead(key, db.origin, db.auditHead.Seq, db.auditHead.Hash)
			if _, err := tx.Exec(db.shared.upsertAuditHead, db.auditHead.Seq, db.auditHead.Hash, signature); err != nil {
				return fmt.Errorf("sign audit head: %w", err)
			}
		}
		return nil
	})
}

// SignOwnCheckpoint signs a checkpoint of the node's own entry seq, whose
// hash is hash, with the key it signs with now, storing nothing (see
// storage.Store).
func (db *DB) SignOwnCheckpoint(seq uint64, hash []byte) (changelog.Checkpoint, bool) {
	key := db.serving.Load()
	if key == nil {
		return changelog.Checkpoint{}, false
	}
	return changelog.SignCheckpoint(*key, db.origin, seq, hash), true
}

// SigningKey is the public half of the key the node signs with now (nil if
// none).
func (db *DB) SigningKey() ed25519.PublicKey { return db.publicKey() }

// SavedManifest returns the manifest the node last ran with (nil if none).
func (db *DB) SavedManifest(ctx context.Context) (*federation.Manifest, error) {
	var data []byte
	err := db.reader.QueryRowContext(ctx, "SELECT data FROM manifest").Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return parseSavedManifest(data, "its manifest table")
}

// Holds on the node's own log. A restore from peers that could not reach
// every member cannot know whether an unreached one holds newer entries of
// the node's log than it got back: writing on could give a seq two
// different entries. It holds the log as damage from the entry after the
// restored head on, open-ended, so that writes are refused (ownLogBrokenReason)
// until an operator runs the restore again or accepts the risk.

// OpenEnded is the last seq of a hold: no entry will ever reach it.
const OpenEnded = storage.OpenEnded

// RestoreUnfinished is the hold on member's own log while a restore from
// peers runs: written with the restore's claim of a new database
// (claimDatabase), lifted when it finishes.
func RestoreUnfinished(member string) string {
	return fmt.Sprintf("a provex restore of %s began here and did not finish: the node does not write until provex restore, run again, finishes it", member)
}

// HoldOwnLog refuses writes of the node's own log after its head, with why.
func (db *DB) HoldOwnLog(ctx context.Context, why string) error {
	after := db.currentHead().Seq
	return db.ReportDamage(ctx, storage.Damage{Range: changelog.Range{Origin: db.origin, First: after + 1, Last: OpenEnded}, Problem: why})
}

// HoldWrites refuses the node's writes of its own from now until it is
// restarted, saying why (the first reason given stays): it runs on
// something a restart must change, such as a key the federation replaced.
// Unlike HoldOwnLog, nothing is stored: the restart the reason asks for
// ends it. Entries from peers are still applied.
func (db *DB) HoldWrites(why string) {
	if db.writesHeld.CompareAndSwap(nil, &why) {
		db.log.Error("writes held until the node is restarted", "why", why)
	}
}

// WritesHeld says why the node's writes are held until a restart
// (HoldWrites), or "".
func (db *DB) WritesHeld() string {
	if p := db.writesHeld.Load(); p != nil {
		return *p
	}
	return ""
}

// followsHeldHead reports whether entry first is the one after origin's
// head, which this node holds intact: copies from there that do not follow
// it are another history; after a damaged entry, or one inside the log,
// they may be the true one (an outside review: an honest node held as
// forked for good).
func (db *DB) followsHeldHead(tx *writeTx, origin string, first uint64) bool {
	head, _, err := lastEntry(tx, origin)
	if err != nil || head != first-1 {
		return false
	}
	for _, d := range db.damagedNow(origin) {
		if d.First <= first-1 && first-1 <= d.Last {
			return false
		}
	}
	return true
}

// holdForkedLog tells the node's own log as forked: the entries it was
// repairing past its head (lost, it thought) are of another history its
// key signed, which no repair joins; what remains is the hold on writes,
// saying why. Damage within the entries it holds stays.
func (db *DB) holdForkedLog(ctx context.Context, why string) error {
	return db.runInWriter(ctx, func(tx *writeTx) error {
		head, _, err := lastEntry(tx, db.origin)
		if err != nil {
			return err
		}
		var kept []storage.Damage
		for _, d := range db.damagedNow(db.origin) {
			if d.Last <= head {
				kept = append(kept, d)
			}
		}
		kept = append(kept, storage.Damage{Range: changelog.Range{Origin: db.origin, First: head + 1, Last: OpenEnded}, Found: time.Now(), Problem: why})
		return db.storeDamage(tx, db.origin, kept)
	})
}

// OwnLogHold returns the hold on the node's own log, if there is one.
func (db *DB) OwnLogHold() (storage.Damage, bool) {
	for _, d := range db.Damaged(db.origin) {
		if d.Last == OpenEnded {
			return d, true
		}
	}
	return storage.Damage{}, false
}

// ReleaseOwnLog lifts the hold on the node's own log; damage known
// elsewhere stays.
func (db *DB) ReleaseOwnLog(ctx context.Context) error {
	return db.runInWriter(ctx, func(tx *writeTx) error {
		var kept []storage.Damage
		for _, d := range db.damagedNow(db.origin) {
			if d.Last != OpenEnded {
				kept = append(kept, d)
			}
		}
		return db.storeDamage(tx, db.origin, kept)
	})
}

// applyOwnRestored applies to their records the node's own entries after
// head among entries, which a repair has just stored, as rebuildOrigin
// applies each entry of a log.
func (db *DB) applyOwnRestored(tx *writeTx, entries []changelog.Entry, head uint64) error {
	for i := range entries {
		e := &entries[i]
		if e.Seq <= head {
			continue
		}
		p := db.prepareEntry(e, db.sealer.Load())
		if _, _, err := db.applyEntry(tx, e, &p); err != nil {
			return fmt.Errorf("apply restored entry %s/%d: %w", e.Origin, e.Seq, err)
		}
		if e.Sealed {
			if err := db.recountSealed(tx, e); err != nil {
				return err
			}
		}
	}
	return nil
}
