package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/changelog"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
)

// Origins reports, per origin, the last contiguous entry, the newest
// checkpoint and the holes. Entries are applied only in order, so the
// highest seq of an origin is its last contiguous entry. Every step is an
// index seek: a GROUP BY over the log would read all of it, and pulls ask
// for this every time.
func (db *DB) Origins(ctx context.Context) ([]storage.OriginState, error) {
	conn, err := db.reader.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var out []storage.OriginState
	origin := ""
	for {
		var next sql.NullString
		if err := conn.QueryRowContext(ctx, "SELECT min(origin) FROM changes WHERE origin > ?", origin).Scan(&next); err != nil {
			return nil, fmt.Errorf("read origins: %w", err)
		}
		if !next.Valid {
			return out, nil
		}
		origin = next.String
		o := storage.OriginState{Origin: origin, Checkpoint: changelog.Checkpoint{Origin: origin}}
		if err := conn.QueryRowContext(ctx, "SELECT seq, hash, hlc FROM changes WHERE origin = ? ORDER BY seq DESC LIMIT 1", origin).
			Scan(&o.Seq, &o.Hash, &o.HLC); err != nil {
			return nil, fmt.Errorf("read head of %s: %w", origin, err)
		}
		err := conn.QueryRowContext(ctx, "SELECT seq, hash, signature FROM checkpoints WHERE origin = ? ORDER BY seq DESC LIMIT 1", origin).
			Scan(&o.Checkpoint.Seq, &o.Checkpoint.Hash, &o.Checkpoint.Signature)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("read checkpoint of %s: %w", origin, err)
		}
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM holes WHERE origin = ?", origin).Scan(&o.Holes); err != nil {
			return nil, fmt.Errorf("count holes of %s: %w", origin, err)
		}
		out = append(out, o)
	}
}

// Checkpoint returns origin's newest checkpoint with seq <= upTo.
func (db *DB) Checkpoint(ctx context.Context, origin string, upTo uint64) (changelog.Checkpoint, error) {
	c := changelog.Checkpoint{Origin: origin}
	err := db.reader.QueryRowContext(ctx,
		"SELECT seq, hash, signature FROM checkpoints WHERE origin = ? AND seq <= ? ORDER BY seq DESC LIMIT 1", origin, upTo).
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
func lastEntry(tx *sql.Tx, origin string) (uint64, []byte, error) {
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
// applies the record states they carry, in one transaction.
func (db *DB) ApplyRemote(ctx context.Context, entries []changelog.Entry, cp changelog.Checkpoint) error {
	if len(entries) == 0 {
		return nil
	}
	origin := entries[0].Origin
	if origin == db.origin {
		return apperr.PermissionDenied("entries of %s come only from this node itself", origin)
	}
	return db.runInWriter(ctx, func(tx *sql.Tx) error {
		seq, hash, err := lastEntry(tx, origin)
		if err != nil {
			return err
		}
		// Idempotent on (origin, seq): entries this node already holds (a
		// concurrent pull from another peer brought them) are skipped, once
		// the last of them is found to be the very entry stored.
		if skip := int(min(uint64(len(entries)), seq-min(seq, entries[0].Seq-1))); skip > 0 {
			last := entries[skip-1]
			var stored []byte
			if err := tx.QueryRow("SELECT hash FROM changes WHERE origin = ? AND seq = ?", origin, last.Seq).Scan(&stored); err != nil {
				return fmt.Errorf("read %s/%d: %w", origin, last.Seq, err)
			}
			if !bytes.Equal(stored, last.Hash) {
				return apperr.Aborted("entry %s/%d differs from the one this node holds", origin, last.Seq)
			}
			entries = entries[skip:]
			if len(entries) == 0 {
				return nil
			}
		}
		if entries[0].Seq != seq+1 || !bytes.Equal(entries[0].PrevHash, hash) {
			return apperr.Aborted("entries of %s start at %d but this node holds up to %d (or another chain)", origin, entries[0].Seq, seq)
		}
		var maxHLC int64
		for i := range entries {
			e := &entries[i]
			if e.Origin != origin {
				return fmt.Errorf("batch mixes origins %s and %s", origin, e.Origin)
			}
			if err := db.appendEntry(tx, e); err != nil {
				return err
			}
			if err := db.applyState(tx, e); err != nil {
				return err
			}
			maxHLC = max(maxHLC, e.HLC)
		}
		if _, err := tx.Stmt(db.shared.insertCheckpoint).Exec(cp.Origin, cp.Seq, cp.Hash, cp.Signature); err != nil {
			return fmt.Errorf("store checkpoint of %s: %w", origin, err)
		}
		last := entries[len(entries)-1]
		if err := db.appendAudit(ctx, tx, origin, origin, entries[0].Seq, last.Seq, last.Hash); err != nil {
			return err
		}
		db.clock.Observe(maxHLC)
		return nil
	})
}

// applyState makes the record state an entry carries this node's copy. A
// redacted entry that this node may read is a hole to fill; one it may not
// read means the record is no longer for this node, so its copy goes.
func (db *DB) applyState(tx *sql.Tx, e *changelog.Entry) error {
	k, ok := resource.KindOfName(e.Name)
	if !ok {
		return fmt.Errorf("entry %s/%d names %q, which is no known kind", e.Origin, e.Seq, e.Name)
	}
	st, err := db.kindStmts(k)
	if err != nil {
		return err
	}
	var (
		id      int64
		old     []byte
		exists  = true
		current uint64
	)
	switch err := tx.Stmt(st.selectState).QueryRow(e.Name).Scan(&id, &old, &current); {
	case errors.Is(err, sql.ErrNoRows):
		exists = false
	case err != nil:
		return fmt.Errorf("read %s: %w", e.Name, err)
	}
	if e.Redacted() {
		if resource.MayRead(db.origin, e.Origin, e.Visibility, e.VisibleTo) {
			_, err := tx.Exec("INSERT OR IGNORE INTO holes (origin, seq) VALUES (?, ?)", e.Origin, e.Seq)
			return err
		}
		if exists {
			if _, err := tx.Exec("DELETE FROM "+k.Table()+" WHERE id = ?", id); err != nil {
				return err
			}
			_, err := tx.Stmt(st.shared.deleteValues).Exec(k.Collection, id)
			return err
		}
		return nil
	}
	if exists && current >= e.Seq {
		// A newer state is already here (a hole filled late).
		return nil
	}
	m := k.New()
	if err := proto.Unmarshal(e.Data, m); err != nil {
		return fmt.Errorf("decode entry %s/%d: %w", e.Origin, e.Seq, err)
	}
	if k.Name(m) != e.Name {
		return fmt.Errorf("entry %s/%d is named %s but holds %s", e.Origin, e.Seq, e.Name, k.Name(m))
	}
	return db.putRecord(tx, k, st, e.Name, id, exists, m, e.Data, e.Seq)
}

// Holes lists seqs this node holds redacted but may read.
func (db *DB) Holes(ctx context.Context, origin string, limit int) ([]uint64, error) {
	rows, err := db.reader.QueryContext(ctx, "SELECT seq FROM holes WHERE origin = ? ORDER BY seq LIMIT ?", origin, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []uint64
	for rows.Next() {
		var s uint64
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// Entries returns the listed entries of origin that this node holds.
func (db *DB) Entries(ctx context.Context, origin string, seqs []uint64) ([]changelog.Entry, error) {
	if len(seqs) == 0 {
		return nil, nil
	}
	args := []any{origin}
	for _, s := range seqs {
		args = append(args, s)
	}
	return db.queryEntries(ctx, "origin = ? AND seq IN ("+placeholders(len(seqs))+") ORDER BY seq", args...)
}

// FillHoles replaces redacted entries by their full versions.
func (db *DB) FillHoles(ctx context.Context, entries []changelog.Entry) error {
	return db.runInWriter(ctx, func(tx *sql.Tx) error {
		for i := range entries {
			e := &entries[i]
			if e.Redacted() || !changelog.Verify(e) {
				return fmt.Errorf("entry %s/%d to fill a hole does not verify", e.Origin, e.Seq)
			}
			var hash []byte
			err := tx.QueryRow("SELECT c.hash FROM holes h JOIN changes c ON c.origin = h.origin AND c.seq = h.seq WHERE h.origin = ? AND h.seq = ?",
				e.Origin, e.Seq).Scan(&hash)
			if errors.Is(err, sql.ErrNoRows) {
				continue // filled meanwhile, or never a hole
			}
			if err != nil {
				return err
			}
			if !bytes.Equal(hash, e.Hash) {
				return apperr.PermissionDenied("entry %s/%d does not match the hash this node holds for it", e.Origin, e.Seq)
			}
			if _, err := tx.Exec("UPDATE changes SET data = ?, redacted = 0 WHERE origin = ? AND seq = ?", e.Data, e.Origin, e.Seq); err != nil {
				return err
			}
			if _, err := tx.Exec("DELETE FROM holes WHERE origin = ? AND seq = ?", e.Origin, e.Seq); err != nil {
				return err
			}
			// The entry was audited when it arrived redacted; this records
			// who completed it (no change-log entries of its own).
			if err := db.appendAudit(ctx, tx, e.Name, "", 0, 0, e.Hash); err != nil {
				return err
			}
			// A later entry of the record already decided this node's copy
			// (it may have taken the record away, leaving no row for the
			// seq check in applyState to see): the fill only completes the
			// log.
			var later int
			if err := tx.QueryRow("SELECT EXISTS (SELECT 1 FROM changes WHERE origin = ? AND seq > ? AND name = ?)",
				e.Origin, e.Seq, e.Name).Scan(&later); err != nil {
				return err
			}
			if later != 0 {
				continue
			}
			if err := db.applyState(tx, e); err != nil {
				return err
			}
		}
		return nil
	})
}
