package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/changelog"
	"github.com/provex/provex/resource"
)

// RecordsCheck is what CheckRecords found.
type RecordsCheck struct {
	// Checked is the number of record rows read.
	Checked int
	// SealedUnchecked counts rows of sealed entries whose opened state was
	// not compared with its envelope: the store was opened without the
	// node's keys (Options.Sealer).
	SealedUnchecked int
	// HeldUnchecked counts sealed entries held unapplied whose refusal was
	// not worked out again, for the same reason.
	HeldUnchecked int
	// Problems describe the first rows that differ from their entries
	// (at most maxRecordProblems); Found counts them all.
	Problems []string
	Found    int
}

const maxRecordProblems = 20

// recordCheckPage is how many rows CheckRecords reads at a time.
const recordCheckPage = 1000

// CheckRecords compares every record row with the change-log entry it was
// applied from (its province and seq): the state the row keeps (a sealed
// entry's opened state, which reads serve as it is), the columns filters
// read, the repeated fields' elements and the search words, each as the
// writer would make them from the entry, and that no later entry of the
// record was applied (newestEntries). The logs' hashes cover the
// entries, not what was derived from them: a row edited on disk, its
// index columns or words, made List and search answer wrongly, and a
// sealed record's state served altered, without any check noticing. A
// record whose row is gone (taken away whole, with its elements and
// words) while the log holds an entry of it this node reads, and has not
// withdrawn it, is found too: that passed every check (an outside
// review).
func (db *DB) CheckRecords(ctx context.Context) (RecordsCheck, error) {
	var out RecordsCheck
	tx, err := db.readSnapshot(ctx, db.reader)
	if err != nil {
		return out, err
	}
	defer tx.Rollback()
	problem := func(name, format string, args ...any) {
		if out.Found++; len(out.Problems) < maxRecordProblems {
			out.Problems = append(out.Problems, name+": "+fmt.Sprintf(format, args...))
		}
	}
	newest, held, unchecked, err := db.newestEntries(ctx, tx)
	out.HeldUnchecked = unchecked
	if err != nil {
		return out, fmt.Errorf("read the change logs: %w", err)
	}
	for _, h := range held {
		if h.state == "" {
			problem(h.name, "entry %s/%d of it is held unapplied (as %q), but the rules apply it: refused by a version before this one, or held by a hand on the file; provex verify --repair applies it", h.origin, h.seq, h.stored)
			continue
		}
		problem(h.name, "entry %s/%d is held unapplied as %q, but is refused as %q: the row was made by hand, or by a version before this one; provex verify --repair holds it as refused", h.origin, h.seq, h.stored, h.state)
	}
	seen := make(map[string]bool, len(newest))
	for _, k := range resource.Kinds() {
		if err := db.checkKindRecords(ctx, tx, k, newest, seen, &out, problem); err != nil {
			return out, fmt.Errorf("check the records of %s: %w", k.Collection, err)
		}
	}
	stmt, err := tx.PrepareContext(ctx, "SELECT name FROM withdrawn")
	if err != nil {
		return out, err
	}
	defer stmt.Close()
	withdrawn, err := stringsOf(ctx, stmt)
	if err != nil {
		return out, fmt.Errorf("read the withdrawn records: %w", err)
	}
	for _, name := range withdrawn {
		seen[name] = true
	}
	var missing []string
	for name := range newest {
		if !seen[name] {
			missing = append(missing, name)
		}
	}
	slices.Sort(missing)
	for _, name := range missing {
		problem(name, "the log holds entry %d of it, which this node reads, but no row holds the record: its row was taken away", newest[name])
	}
	return out, nil
}

func (db *DB) checkKindRecords(ctx context.Context, tx *sql.Tx, k *resource.Kind, newest map[string]uint64, seen map[string]bool, out *RecordsCheck, problem func(name, format string, args ...any)) error {
	st, err := db.kindStmts(k)
	if err != nil {
		return err
	}
	t := k.Table()
	cols := make([]string, len(st.columns))
	for i, f := range st.columns {
		cols[i] = "t." + f.Column
	}
	query := "SELECT t.id, EXISTS (SELECT 1 FROM " + t + "_words_pending p WHERE p.record = t.id), t.province, " + strings.Join(cols, ", ") + ", t.search_text, " +
		"t.name, t.data, t.province, t.seq, c.origin, c.seq, c.hlc, c.name, c.data, c.sealed, c.prev_hash, c.hash " +
		"FROM " + t + " t LEFT JOIN changes c ON c.origin = t.province AND c.seq = t.seq WHERE t.id > ? ORDER BY t.id LIMIT " + fmt.Sprint(recordCheckPage)
	countWords, err := tx.PrepareContext(ctx, "SELECT count(*) FROM "+t+"_words WHERE record = ?1 AND word IN (SELECT value FROM "+db.dialect.jsonStrings("?2")+")")
	if err != nil {
		return err
	}
	defer countWords.Close()
	elementsOf, err := tx.PrepareContext(ctx, "SELECT value FROM record_elements WHERE list = ? AND record = ?")
	if err != nil {
		return err
	}
	defer elementsOf.Close()
	type row struct {
		id      int64
		pending bool  // its words wait for the index (search.go)
		got     []any // province, columns, search_text
		stored  recordState
	}
	var words, elements int64
	for after := int64(0); ; {
		// A page at a time: PostgreSQL runs no other statement of the
		// transaction while a result is being read.
		var page []row
		rows, err := tx.QueryContext(ctx, query, after)
		if err != nil {
			return err
		}
		for rows.Next() {
			r := row{got: make([]any, len(st.columns)+2)}
			dest := []any{&r.id, &r.pending}
			for i := range r.got {
				dest = append(dest, &r.got[i])
			}
			if err := rows.Scan(append(dest, r.stored.dest()...)...); err != nil {
				rows.Close()
				return err
			}
			page = append(page, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(page) == 0 {
			break
		}
		after = page[len(page)-1].id
		for _, r := range page {
			out.Checked++
			name := r.stored.row
			seen[name] = true
			m, ok := db.checkRowState(k, &r.stored, out, problem)
			if !ok {
				continue
			}
			if got := k.Name(m); got != name {
				problem(name, "its state names %s", got)
				continue
			}
			if n := newest[name]; n > uint64(r.stored.seq.Int64) {
				// Its columns and words are still checked against the
				// entry it holds, and counted.
				problem(name, "its row holds entry %s/%d, but the log holds a later one, %d, that this node reads: the row was set back, or that entry was never applied", r.stored.origin.String, r.stored.seq.Int64, n)
			}
			province, want, wantElements, text := rowValues(k, st, name, m)
			want = append(append([]any{province}, want...), text)
			for i := range want {
				if columnValue(r.got[i]) != columnValue(want[i]) {
					column := "province"
					switch {
					case i == len(want)-1:
						column = "search_text"
					case i > 0:
						column = st.columns[i-1].Column
					}
					problem(name, "its column %s holds %s, its entry %s/%d says %s", column, columnValue(r.got[i]), r.stored.origin.String, r.stored.seq.Int64, columnValue(want[i]))
				}
			}
			for i, f := range st.repeated {
				held, err := stringsOf(ctx, elementsOf, st.lists[i], r.id)
				if err != nil {
					return err
				}
				if expected := uniqueStrings(wantElements[f.Path]); !slices.Equal(held, expected) {
					problem(name, "its %s are %q, its entry says %q", f.Path, held, expected)
				}
				elements += int64(len(held))
			}
			if w := searchWords(text); len(w) > 0 && !r.pending {
				list, err := json.Marshal(w)
				if err != nil {
					return err
				}
				var n int
				if err := countWords.QueryRowContext(ctx, r.id, string(list)).Scan(&n); err != nil {
					return err
				}
				if n != len(w) {
					problem(name, "the search index holds %d of its %d words", n, len(w))
				}
				words += int64(len(w))
			}
		}
	}
	// Words and elements of no row, or more than a row's own, are found by
	// their counts: each row's were checked above. The words of a pending
	// row are checked once merged (they may be in part indexed already).
	var held int64
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM "+t+"_words WHERE record NOT IN (SELECT record FROM "+t+"_words_pending)").Scan(&held); err != nil {
		return err
	}
	if held != words {
		problem(k.Collection, "the search index holds %d words, its records %d", held, words)
	}
	if len(st.lists) > 0 {
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM record_elements WHERE list IN ("+placeholders(len(st.lists))+")", int64sToAny(st.lists)...).Scan(&held); err != nil {
			return err
		}
		if held != elements {
			problem(k.Collection, "the repeated fields hold %d elements, its records %d", held, elements)
		}
	}
	return nil
}

// newestEntries maps each record this node can name in its logs to the
// seq of the newest entry of it that it should have applied: every entry that verifies
// (damage is the log check's to report), is not held unapplied, and is
// public or opens with the node's keys. A row must hold that entry's
// state, or one after it: a row set back to an older entry of its record
// (its columns and words made to match) reads as intact otherwise.
// It also returns the entries held unapplied whose refusal, worked out
// again (heldNow), is not the state they are held in: the rules apply
// them (a version before this one refused them, or a hand on the file
// made their row, which hid their record or set it back: an outside
// review), and until applied the node's copy of their records lacks
// them; or they are refused for another reason than their row says. A
// sealed entry held is counted in unchecked when the store has not the
// node's keys.
func (db *DB) newestEntries(ctx context.Context, tx *sql.Tx) (newest map[string]uint64, held []heldEntry, unchecked int, err error) {
	unapplied := map[entryKey]string{} // its state
	rows, err := tx.QueryContext(ctx, "SELECT origin, seq, state FROM unapplied")
	if err != nil {
		return nil, nil, 0, err
	}
	for rows.Next() {
		var (
			k     entryKey
			state string
		)
		if err := rows.Scan(&k.origin, &k.seq, &state); err != nil {
			rows.Close()
			return nil, nil, 0, err
		}
		unapplied[k] = state
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, 0, err
	}
	newest = map[string]uint64{}
	query := func(q string, args ...any) (*sql.Rows, error) { return tx.QueryContext(ctx, q, args...) }
	for after := (entryKey{}); ; {
		// A page at a time, as in checkKindRecords, of bounded size: a
		// member decides how large its entries are (entryPageBytes).
		end, more, err := entryPageEnd(query, "SELECT origin, seq, length(data) FROM changes WHERE origin > ? OR (origin = ? AND seq > ?) ORDER BY origin, seq LIMIT ?",
			after.origin, after.origin, after.seq, recordCheckPage*10)
		if err != nil {
			return nil, nil, 0, err
		}
		var page []changelog.Entry
		if more {
			page, err = readEntries(query, "SELECT "+entryColumns+" FROM changes WHERE (origin > ? OR (origin = ? AND seq > ?)) AND (origin < ? OR (origin = ? AND seq <= ?)) ORDER BY origin, seq",
				after.origin, after.origin, after.seq, end.origin, end.origin, end.seq)
			if err != nil {
				return nil, nil, 0, err
			}
		}
		if len(page) == 0 {
			// One before an entry of its record applied changes nothing.
			held = slices.DeleteFunc(held, func(h heldEntry) bool { return h.state == "" && newest[h.name] > h.seq })
			return newest, held, unchecked, nil
		}
		for i := range page {
			e := &page[i]
			if stored, ok := unapplied[entryKey{e.Origin, e.Seq}]; ok {
				p, state, known := db.heldNow(e, db.Damaged(e.Origin))
				switch {
				case !known:
					if e.Sealed && !db.keyed {
						unchecked++
					}
				case state != stored:
					name := p.recordName()
					if name == "" {
						// Refused, or relayed unread: no record of it here.
						name = fmt.Sprintf("%s/%d", e.Origin, e.Seq)
					}
					held = append(held, heldEntry{name, e.Origin, e.Seq, stored, state})
				}
				continue
			}
			if !changelog.Verify(e) {
				continue
			}
			name := e.Name
			if e.Sealed {
				if !db.keyed {
					continue
				}
				o, err := db.sealer.Load().Open(e.Origin, e.Seq, e.Data)
				if err != nil {
					continue
				}
				name = o.Name
			}
			newest[name] = e.Seq
		}
		last := page[len(page)-1]
		after = entryKey{last.Origin, last.Seq}
	}
}

// heldEntry is an entry held unapplied in another state than its
// refusal: the state it is held in (stored), and the one it is refused as
// ("" when the rules apply it).
type heldEntry struct {
	name          string
	origin        string
	seq           uint64
	stored, state string
}

// checkRowState returns the state a row stands for, checked against its
// entry: a public one's is read from the entry (its hash checked, reads
// do the same); a sealed one's is the row's own copy, which reads serve as
// it is, compared with the envelope opened when the store has the node's
// keys.
func (db *DB) checkRowState(k *resource.Kind, stored *recordState, out *RecordsCheck, problem func(name, format string, args ...any)) (proto.Message, bool) {
	name := stored.row
	if len(stored.own) == 0 {
		m, err := stored.decode(k, name, db.knownDamaged)
		if err != nil {
			problem(name, "%v", err)
			return nil, false
		}
		return m, true
	}
	if !stored.origin.Valid {
		problem(name, "no change-log entry holds the state its row keeps")
		return nil, false
	}
	e := stored.joinedEntry()
	switch {
	case !e.Sealed:
		problem(name, "its row keeps a state of its own, but its entry %s/%d is not sealed", e.Origin, e.Seq)
		return nil, false
	case !changelog.Verify(e):
		problem(name, "its entry %s/%d does not verify", e.Origin, e.Seq)
		return nil, false
	case !db.keyed:
		out.SealedUnchecked++
	default:
		o, err := db.sealer.Load().Open(e.Origin, e.Seq, e.Data)
		switch {
		case err != nil:
			problem(name, "its sealed entry %s/%d does not open: %v", e.Origin, e.Seq, err)
			return nil, false
		case o.Withdrawn || o.Name != name || !bytes.Equal(o.Data, stored.own):
			problem(name, "the state its row keeps is not the one its sealed entry %s/%d holds", e.Origin, e.Seq)
			return nil, false
		}
	}
	m, err := k.Decode(stored.own)
	if err != nil {
		problem(name, "the state its row keeps does not decode: %v", err)
		return nil, false
	}
	return m, true
}

func columnValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return fmt.Sprintf("%q", v)
	case string:
		return fmt.Sprintf("%q", v)
	case bool:
		if v {
			return "1"
		}
		return "0"
	default:
		return fmt.Sprint(v)
	}
}

func stringsOf(ctx context.Context, stmt *sql.Stmt, args ...any) ([]string, error) {
	rows, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v any
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, elementString(v))
	}
	slices.Sort(out)
	return out, rows.Err()
}

func uniqueStrings(vs []any) []string {
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		out = append(out, elementString(v))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func elementString(v any) string {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return fmt.Sprint(v)
}
