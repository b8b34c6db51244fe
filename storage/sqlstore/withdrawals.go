package sqlstore

import (
	"context"
	"crypto/ecdh"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/federation"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
)

// Withdrawal notices owed. When a record's readers shrink, its entry
// carries a notice, sealed to each member that loses it, and the member
// drops its copy. Only the owner can link a sealed entry to its record,
// so only the owner can send that notice; a member out of the manifest
// has no encryption key to seal it to, and was skipped: back in the
// manifest, it served the record for good (an outside review). The owner
// now keeps (name, member) in withdrawals_owed for each member that loses
// the record and has no key in its directory, seals the notice to it in
// the first entry of the record written once it has one, and writes such
// an entry as soon as it takes a manifest that gives it one
// (DeliverOwed). Members that never could read the record are never sent
// its name.
//
// Readers owed, the other way round. A reader of a state that is not
// public, out of the manifest when it was written (the ministry removed
// then added back, a province in visible_to that joins later), had no key
// to seal it to and read the record only from the owner's next change of
// it, which may never come: the ministry's national views missed it while
// the convergence check said yes (an outside review). The owner keeps
// (name, reader) in readers_owed for each reader of a record's latest
// state that had no key (oweReaders), and delivers them like withdrawal
// notices: a manifest that gives one a key makes it write an entry of the
// record's unchanged state, sealed to its readers (DeliverOwed).

// everyMemberToCome stands, in withdrawals_owed, for the members the node
// has not known yet. A public state stays in every log, so a member that
// joins later, or one the owner had not heard of when it narrowed the
// record, still applies it from a relay: a record narrowed from public is
// owed to each of them once a manifest the node takes names it
// (knowMembers). Its name was public, in the clear in every log.
const everyMemberToCome = "*"

// withdrawalKeys returns the keys to seal the withdrawal notice of name to,
// in the entry of its next state, read by readers (the owner first): the
// members that could read its state current and may not read the next,
// and those it owed a notice to already, that the directory gives a key
// now. The others that lose it are kept owed, and those that read it
// again, or are sent the notice now, are owed it no longer. A member the
// node never knew is not owed a restricted or national state: it never had
// a key it could have been sealed to.
func (db *DB) withdrawalKeys(tx *writeTx, k *resource.Kind, name string, current proto.Message, readers []string) ([]*ecdh.PublicKey, error) {
	var losing []string
	if current != nil {
		if v, to := k.Audience(current); resource.Public(v) {
			known, err := db.knownMembers(tx)
			if err != nil {
				return nil, err
			}
			losing = append(append(known, db.directory.MemberIDs()...), everyMemberToCome)
		} else {
			losing = resource.Readers(db.origin, v, to)
		}
	}
	owed := map[string]bool{}
	if db.anyOwed {
		rows, err := tx.Query("SELECT member FROM withdrawals_owed WHERE name = ?", name)
		if err != nil {
			return nil, fmt.Errorf("read the withdrawals owed of %s: %w", name, err)
		}
		for rows.Next() {
			var m string
			if err := rows.Scan(&m); err != nil {
				rows.Close()
				return nil, err
			}
			owed[m] = true
			losing = append(losing, m)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read the withdrawals owed of %s: %w", name, err)
		}
	}
	var keys []*ecdh.PublicKey
	seen := map[string]bool{db.origin: true}
	for _, m := range losing {
		if seen[m] {
			continue
		}
		seen[m] = true
		key, keyed := db.directory.EncryptionKey(m)
		reader := slices.Contains(readers, m)
		if keyed && !reader {
			keys = append(keys, key)
		}
		switch {
		case keyed || reader:
			if owed[m] {
				if _, err := tx.Exec("DELETE FROM withdrawals_owed WHERE name = ? AND member = ?", name, m); err != nil {
					return nil, fmt.Errorf("settle the withdrawal of %s owed to %s: %w", name, m, err)
				}
			}
		case !owed[m]:
			if m != everyMemberToCome {
				known, err := db.knownMember(tx, m)
				if err != nil {
					return nil, err
				}
				if !known {
					continue
				}
			}
			if _, err := tx.Exec("INSERT INTO withdrawals_owed (name, member) VALUES (?, ?) ON CONFLICT DO NOTHING", name, m); err != nil {
				return nil, fmt.Errorf("keep the withdrawal of %s owed to %s: %w", name, m, err)
			}
			db.anyOwed = true
		}
	}
	return keys, nil
}

// settleWithdrawals forgets the withdrawal notices owed of name, whose
// next state is public: every member reads it again.
func (db *DB) settleWithdrawals(tx *writeTx, name string) error {
	if !db.anyOwed {
		return nil
	}
	if _, err := tx.Exec("DELETE FROM withdrawals_owed WHERE name = ?", name); err != nil {
		return fmt.Errorf("settle the withdrawals owed of %s: %w", name, err)
	}
	return nil
}

// oweReaders keeps unkeyed, the readers of name's next state the
// directory gives no key, as the readers it owes that record, in place of
// those it owed: the entry is sealed to each reader that has a key now,
// and a member no longer a reader is owed nothing. A public state (nil)
// reaches every member, and a deleted one is owed to no one.
func (db *DB) oweReaders(tx *writeTx, name string, unkeyed []string) error {
	if db.anyReadersOwed {
		if _, err := tx.Exec("DELETE FROM readers_owed WHERE name = ?", name); err != nil {
			return fmt.Errorf("settle the readers owed %s: %w", name, err)
		}
	}
	for _, m := range unkeyed {
		if _, err := tx.Exec("INSERT INTO readers_owed (name, member) VALUES (?, ?) ON CONFLICT DO NOTHING", name, m); err != nil {
			return fmt.Errorf("keep %s owed to %s: %w", name, m, err)
		}
		db.anyReadersOwed = true
	}
	return nil
}

func (db *DB) knownMembers(tx *writeTx) ([]string, error) {
	rows, err := tx.Query("SELECT member FROM known_members")
	if err != nil {
		return nil, fmt.Errorf("read the known members: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func (db *DB) knownMember(tx *writeTx, member string) (bool, error) {
	var one int
	switch err := tx.ReadRow([]any{&one}, "SELECT 1 FROM known_members WHERE member = ?", member); {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read the known members: %w", err)
	}
	return true, nil
}

// knowMembers adds the members of m to those the node has known; a member
// it knows for the first time is owed the withdrawal of every record
// narrowed from public (everyMemberToCome).
func (db *DB) knowMembers(tx *writeTx, m *federation.Manifest) error {
	for _, id := range m.MemberIDs() {
		res, err := tx.Exec("INSERT INTO known_members (member) VALUES (?) ON CONFLICT DO NOTHING", id)
		if err != nil {
			return fmt.Errorf("keep the known member %s: %w", id, err)
		}
		added, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if added == 0 || id == db.origin || !db.anyOwed {
			continue
		}
		if _, err := tx.Exec("INSERT INTO withdrawals_owed (name, member) SELECT name, ? FROM withdrawals_owed WHERE member = ? ON CONFLICT DO NOTHING", id, everyMemberToCome); err != nil {
			return fmt.Errorf("owe %s the withdrawals of records narrowed from public: %w", id, err)
		}
	}
	return nil
}

// DeliverOwed seals each withdrawal notice owed to a member that the
// directory now gives a key, and each record owed to a reader that it now
// gives one, at once: a member taken back into the manifest, or one that
// joins, learns that it lost a record, or reads one it should, without
// waiting for the owner's next write of it, which may never come. Each
// record owing one gets an entry of its state as it is (its etag kept),
// sealed to its readers with the notices (seal): an entry of the node's
// log and audit trail like any write (actor "local", action
// withdrawals.deliver, or readers.deliver for a record that owes no
// notice).
//
// It writes one record after another until budget has passed (checked
// between records, so no write is cut short) or ctx ends, and stops at a
// write the node cannot make now (its log held, its disk full, its
// database away): left then says that records stay owed that a later run
// delivers. A record whose own write fails stays owed too, named in err
// with the count of such records (the first two only: a line of every
// one ran to 706 KB, an outside review).
func (db *DB) DeliverOwed(ctx context.Context, budget time.Duration) (left bool, err error) {
	if db.mayLog() != nil {
		return false, nil
	}
	until := time.Now().Add(budget)
	// Ordered by name, withdrawals first: a record owed to several
	// members is listed once, with the action of its first debt.
	rows, err := db.reader.QueryContext(ctx, "SELECT name, member, 'withdrawals.deliver' AS action FROM withdrawals_owed WHERE member <> ? "+
		"UNION ALL SELECT name, member, 'readers.deliver' AS action FROM readers_owed ORDER BY name, action DESC", everyMemberToCome)
	if err != nil {
		return true, fmt.Errorf("read the withdrawals and readers owed: %w", err)
	}
	type owed struct{ name, action string }
	var records []owed
	for rows.Next() {
		var name, member, action string
		if err := rows.Scan(&name, &member, &action); err != nil {
			rows.Close()
			return true, err
		}
		if _, keyed := db.directory.EncryptionKey(member); keyed && (len(records) == 0 || records[len(records)-1].name != name) {
			records = append(records, owed{name, action})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return true, fmt.Errorf("read the withdrawals and readers owed: %w", err)
	}
	delivered := 0
	var failed []error
	var stopped error
	for _, r := range records {
		if ctx.Err() != nil || time.Now().After(until) {
			stopped = fmt.Errorf("%d records stay owed for a later run: its %s budget is spent", len(records)-delivered-len(failed), budget)
			if ctx.Err() != nil {
				stopped = fmt.Errorf("%d records stay owed: %w", len(records)-delivered-len(failed), context.Cause(ctx))
			}
			break
		}
		name := r.name
		k, err := resource.CheckOwned(name, db.origin)
		if err == nil {
			_, err = db.Write(storage.WithActor(ctx, storage.Actor{Action: r.action}), storage.Write{Kind: k, Name: name, Mutate: func(current proto.Message, _ storage.Stamp) (proto.Message, error) {
				if current == nil {
					return nil, fmt.Errorf("%s is owed to members but this node holds no record of it", name)
				}
				return current, nil
			}})
		}
		if e, ok := apperr.As(err); ok && (e.Code == codes.Unavailable || e.Code == codes.ResourceExhausted) {
			// Every record's write would be refused alike.
			stopped = fmt.Errorf("%d records stay owed for a later run: %w", len(records)-delivered-len(failed), err)
			break
		}
		if err != nil {
			failed = append(failed, fmt.Errorf("%s: %w", name, err))
			continue
		}
		delivered++
	}
	if delivered > 0 {
		db.log.Info("sealed the withdrawal notices and records owed to members the manifest gives a key again", "records", delivered)
	}
	if len(failed) > 0 {
		first := make([]string, 0, 2)
		for _, f := range failed[:min(len(failed), 2)] {
			first = append(first, f.Error())
		}
		err = fmt.Errorf("%d records owed could not be written and stay owed until the next manifest, start or write of them (first: %s)", len(failed), strings.Join(first, "; "))
	}
	return stopped != nil, errors.Join(stopped, err)
}

// RebuildOwed works out again from the node's own log the withdrawal
// notices and records it owes, in place of those it kept: a restore from
// the peers brings the log back but not withdrawals_owed or readers_owed,
// and every member that joined after was served the records narrowed
// from public as public, for good, while sync status said converged (an
// outside review). Walking its log, the node owes, as seal would have
// kept:
//   - the withdrawal of each record whose newest state is not public and
//     an earlier one was, to the members to come (everyMemberToCome);
//   - the withdrawal of a record to each member of the manifest that could
//     read an earlier state, reads not the newest, and was sealed no notice
//     since (NoticedTo; a key rotated since cannot be told, and the notice
//     goes again);
//   - each record's newest state, not deleted, to its readers it was not
//     sealed to (readersSealedTo; those it cannot tell are sent it again).
//
// What it cannot work out is which members out of the manifest held a
// record they no longer may read and were never told: the log does not
// say whether they had a key then. They are owed what members to come
// are, when the manifest takes them back.
func (db *DB) RebuildOwed(ctx context.Context) error {
	sealer := db.sealer.Load()
	var (
		members []string
		keys    []*ecdh.PublicKey
	)
	for _, m := range db.directory.MemberIDs() {
		if key, ok := db.directory.EncryptionKey(m); ok && m != db.origin {
			members, keys = append(members, m), append(keys, key)
		}
	}
	type record struct {
		// public: the newest state is; everPublic: one was.
		public, everPublic bool
		readers            []string
		// losing: the members of the manifest owed its withdrawal.
		losing map[string]bool
		// owed: the readers of its newest state it was not sealed to.
		owed []string
	}
	return db.runInWriter(ctx, func(tx *writeTx) error {
		withdrawals, owedReaders := 0, 0
		records := map[string]*record{}
		of := func(name string) *record {
			r := records[name]
			if r == nil {
				r = &record{}
				records[name] = r
			}
			return r
		}
		for after := uint64(0); ; {
			entries, err := readEntries(tx.Query, "SELECT "+entryColumns+" FROM changes WHERE origin = ? AND seq > ? ORDER BY seq LIMIT 1000", db.origin, after)
			if err != nil {
				return fmt.Errorf("read the node's own log: %w", err)
			}
			if len(entries) == 0 {
				break
			}
			after = entries[len(entries)-1].Seq
			for i := range entries {
				e := &entries[i]
				if !e.Sealed {
					*of(e.Name) = record{public: true, everPublic: true}
					continue
				}
				skip := func(why string, args ...any) {
					db.log.Warn("one of the node's own sealed entries is left out of what it owes: a member may not be sent a withdrawal or a record it is owed",
						append([]any{"seq", e.Seq, "why", why}, args...)...)
				}
				o, err := sealer.Open(e.Origin, e.Seq, e.Data)
				if err != nil {
					skip("it does not open", "err", err)
					continue
				}
				k, ok := resource.KindOfName(o.Name)
				if o.Withdrawn || !ok {
					skip("it names no kind of record", "record", o.Name)
					continue
				}
				state, err := k.Decode(o.Data)
				if err != nil {
					skip("its state does not decode", "record", o.Name, "err", err)
					continue
				}
				v, to := k.Audience(state)
				readers := resource.Readers(db.origin, v, to)
				noticed, err := sealer.NoticedTo(e.Data, keys)
				if err != nil {
					skip("its stanzas cannot be told", "record", o.Name, "err", err)
					continue
				}
				r := of(o.Name)
				losing := map[string]bool{}
				for i, m := range members {
					could := r.public || slices.Contains(r.readers, m) || r.losing[m]
					if could && !noticed[i] && !slices.Contains(readers, m) {
						losing[m] = true
					}
				}
				r.owed = nil
				if !k.Deleted(state) {
					sealedTo, _, err := db.readersSealedTo(sealer, e.Data, readers[1:])
					if err != nil {
						skip("its stanzas cannot be told", "record", o.Name, "err", err)
						continue
					}
					for _, m := range readers[1:] {
						if !slices.Contains(sealedTo, m) {
							r.owed = append(r.owed, m)
						}
					}
				}
				r.public, r.readers, r.losing = false, readers, losing
			}
		}
		for _, table := range []string{"withdrawals_owed", "readers_owed"} {
			if _, err := tx.Exec("DELETE FROM " + table); err != nil {
				return fmt.Errorf("forget the %s kept: %w", table, err)
			}
		}
		for name, r := range records {
			if r.public {
				continue
			}
			losing := slices.Collect(maps.Keys(r.losing))
			if r.everPublic {
				losing = append(losing, everyMemberToCome)
			}
			for _, m := range losing {
				if _, err := tx.Exec("INSERT INTO withdrawals_owed (name, member) VALUES (?, ?)", name, m); err != nil {
					return fmt.Errorf("keep the withdrawal of %s owed to %s: %w", name, m, err)
				}
				withdrawals++
			}
			for _, m := range r.owed {
				if _, err := tx.Exec("INSERT INTO readers_owed (name, member) VALUES (?, ?)", name, m); err != nil {
					return fmt.Errorf("keep %s owed to %s: %w", name, m, err)
				}
				owedReaders++
			}
		}
		db.anyOwed = db.anyOwed || withdrawals > 0
		db.anyReadersOwed = db.anyReadersOwed || owedReaders > 0
		db.log.Info("worked out from the node's own log the withdrawal notices and records it owes", "withdrawals", withdrawals, "records", owedReaders)
		return nil
	})
}
