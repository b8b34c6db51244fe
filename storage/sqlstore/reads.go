package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/changelog"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/internal/filter"
	"github.com/provex/provex/internal/pagetoken"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
)

// Get reads one record from the read pool.
func (db *DB) Get(ctx context.Context, k *resource.Kind, name string) (proto.Message, error) {
	st, err := db.kindStmts(k)
	if err != nil {
		return nil, err
	}
	m, err := db.decodeRow(k, name, st.get.QueryRowContext(ctx, name))
	if err != nil {
		return nil, db.noticeDamage(err)
	}
	if err := db.auditRead(ctx, name, k, []proto.Message{m}, false); err != nil {
		return nil, err
	}
	return m, nil
}

// scope names what a list or a summary read: the collection of one
// province, or of all ("provinces/-/agreements").
func scope(province string, k *resource.Kind) string {
	return "provinces/" + province + "/" + k.Collection
}

// getTx reads one record inside the write transaction.
func (db *DB) getTx(tx *writeTx, k *resource.Kind, name string) (proto.Message, error) {
	st, err := db.kindStmts(k)
	if err != nil {
		return nil, err
	}
	var (
		id     int64
		stored recordState
	)
	err = tx.QueryRow(st.selectForWrite, name).Scan(append([]any{&id}, stored.dest()...)...)
	return db.decodeScanned(k, name, err, &stored)
}

func (db *DB) decodeRow(k *resource.Kind, name string, row *sql.Row) (proto.Message, error) {
	var stored recordState
	err := row.Scan(stored.dest()...)
	return db.decodeScanned(k, name, err, &stored)
}

func (db *DB) decodeScanned(k *resource.Kind, name string, scanErr error, stored *recordState) (proto.Message, error) {
	if scanErr != nil {
		if errors.Is(scanErr, sql.ErrNoRows) {
			return nil, apperr.NotFound("%s not found", name)
		}
		return nil, fmt.Errorf("read %s: %w", name, scanErr)
	}
	return stored.decode(k, name, db.knownDamaged)
}

// recordState is a record's state as a read selects it (stateColumns): the
// row's own copy, or else the change-log entry that holds it.
type recordState struct {
	row string // the record's name
	own []byte
	// The entry the row was applied from.
	rowOrigin string
	rowSeq    int64
	entry     changelog.Entry
	// Set when the join found the entry.
	origin sql.NullString
	seq    sql.NullInt64
	hlc    sql.NullInt64
	name   sql.NullString
	form   sql.NullInt64 // of the row (entryNamed ...); also set for a row keeping a state whose entry is not sealed
}

func (r *recordState) dest() []any {
	return []any{&r.row, &r.own, &r.rowOrigin, &r.rowSeq, &r.origin, &r.seq, &r.hlc, &r.name, &r.entry.Data, &r.form, &r.entry.PrevHash, &r.entry.Hash}
}

// joinedEntry is the change-log entry the join found, whole.
func (r *recordState) joinedEntry() *changelog.Entry {
	e := &r.entry
	e.Origin, e.Seq, e.HLC, e.Sealed = r.origin.String, uint64(r.seq.Int64), r.hlc.Int64, r.form.Int64 == entrySealed
	e.Name = entryName(r.name.String, r.form.Int64, e.Data)
	return e
}

// decode returns the state. One read from the change log is checked
// against the entry's hash, as every entry served to a peer is: a byte
// changed on disk is an error naming the record, never a wrong answer.
// An entry in a range the log checks found damaged (damaged says which)
// is refused too, although its hash may agree with it: a run rewritten
// with its hashes and links recomputed disagrees only with its origin's
// signed checkpoint. A row keeping a state of its own is served as it is
// only when its entry is sealed (the envelope is checked by the log
// checks, the opened state by provex verify): a public record's row
// keeping one was changed outside the node.
func (r *recordState) decode(k *resource.Kind, name string, damaged func(origin string, seq uint64) bool) (proto.Message, error) {
	data := r.own
	if len(data) == 0 {
		if !r.origin.Valid {
			return nil, &damagedState{apperr.Unavailable("the stored state of %s is missing from this node's change log; the node repairs its log from its peers", name).RetryAfter(repairRetry), r.rowOrigin, uint64(r.rowSeq)}
		}
		e := r.joinedEntry()
		if !changelog.Verify(e) {
			return nil, &damagedState{apperr.Unavailable("the stored state of %s (change-log entry %s/%d) does not verify; the node repairs its log from its peers", name, e.Origin, e.Seq).RetryAfter(repairRetry), e.Origin, e.Seq}
		}
		if e.Sealed || e.Name != r.row {
			// The entry is intact, and a repair from peers would put the
			// same one back: the row was changed (an outside review
			// found such a record UNAVAILABLE for good, its owner's
			// updates refused, said to wait for a repair that never came).
			return nil, &rowDamage{apperr.DataLoss("this node's row of %s does not agree with change-log entry %s/%d, which it names and which verifies: the row was changed outside the node. provex verify names every such row; restore the node from its peers (provex restore) or from a backup", name, e.Origin, e.Seq), r.row}
		}
		if damaged != nil && damaged(e.Origin, e.Seq) {
			return nil, &damagedState{apperr.Unavailable("the stored state of %s (change-log entry %s/%d) is in a range of the log that this node's checks found damaged; the node repairs its log from its peers", name, e.Origin, e.Seq).RetryAfter(repairRetry), e.Origin, e.Seq}
		}
		data = e.Data
	} else if r.form.Valid {
		// The row keeps a state of its own, and its entry is not sealed
		// (entryFound): a public record's state is the entry's alone,
		// so this one was written into the row by a hand on the file,
		// and a repair from peers would leave it there.
		return nil, &rowDamage{apperr.DataLoss("this node's row of %s keeps a state of its own, but change-log entry %s/%d, which it names, is not sealed: the row was changed outside the node. provex verify names every such row; restore the node from its peers (provex restore) or from a backup", name, r.rowOrigin, r.rowSeq), r.row}
	} else if damaged != nil && damaged(r.rowOrigin, uint64(r.rowSeq)) {
		// The opened state of a sealed entry: the envelope is what the
		// log checks verify, and one they found damaged is not served
		// from the copy either.
		return nil, &damagedState{apperr.Unavailable("the stored state of %s (change-log entry %s/%d) is in a range of the log that this node's checks found damaged; the node repairs its log from its peers", name, r.rowOrigin, r.rowSeq).RetryAfter(repairRetry), r.rowOrigin, uint64(r.rowSeq)}
	}
	m, err := k.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", name, err)
	}
	return m, nil
}

// damagedState is the error of a read whose state's change-log entry is
// missing or does not verify: UNAVAILABLE to the caller (it unwraps to
// that), and noticed by noticeDamage.
type damagedState struct {
	err    *apperr.Error
	origin string
	seq    uint64 // the entry's, or the one the row names when it is missing
}

func (d *damagedState) Error() string { return d.err.Error() }
func (d *damagedState) Unwrap() error { return d.err }

// rowDamage is the error of a read whose record row names a change-log
// entry that verifies but does not hold the row's record (or holds it
// sealed, whose opened state the row lost): DATA_LOSS to the caller, and
// noticed by noticeDamage, for the node's health.
type rowDamage struct {
	err  *apperr.Error
	name string // the record's
}

func (d *rowDamage) Error() string { return d.err.Error() }
func (d *rowDamage) Unwrap() error { return d.err }

// RowDamage is the first record whose row a read found changed outside
// the node (rowDamage) while it ran, and how many such reads there were,
// or "" and 0.
func (db *DB) RowDamage() (string, int64) {
	if p := db.rowDamage.Load(); p != nil {
		return *p, db.rowDamageReads.Load()
	}
	return "", 0
}

// noticeDamage has the next check of the stored logs read all of the log
// of the origin whose entry a read found damaged (err a damagedState),
// unless the checks found that entry damaged already (readFoundDamage): it
// is then reported (health, sync status) and repaired from the peers within
// a check's interval, not at the next full check, hours later. Damage known
// elsewhere in the log does not stand for it (a missing entry counted any
// as known: a second damage found by a read went unchecked).
func (db *DB) noticeDamage(err error) error {
	var rd *rowDamage
	if errors.As(err, &rd) {
		db.rowDamage.CompareAndSwap(nil, &rd.name)
		db.rowDamageReads.Add(1)
		return err
	}
	var d *damagedState
	if errors.As(err, &d) && !db.knownDamaged(d.origin, d.seq) {
		db.readFoundDamage(d.origin, d.seq)
	}
	return err
}

// List runs one keyset-paginated query over indexed columns. Rows come in
// order_by order, then in arrival order (the row id), which every index
// carries implicitly.
func (db *DB) List(ctx context.Context, q storage.Query) (storage.Page, error) {
	k := q.Kind
	var (
		where []string
		args  []any
	)
	if q.Province != resource.AllProvinces {
		where = append(where, "province = ?")
		args = append(args, q.Province)
	}
	if !q.ShowDeleted {
		where = append(where, "delete_time = 0")
	}
	if q.Filter != nil {
		s, a := filter.SQL(q.Filter, k.Collection)
		where = append(where, s)
		args = append(args, a...)
	}
	if q.Text != "" {
		s, a, err := db.searchWhere(ctx, k, q.Text)
		if err != nil {
			return storage.Page{}, err
		}
		where = append(where, s)
		args = append(args, a...)
	}
	cols := make([]string, 0, len(q.OrderBy)+1)
	desc := make([]bool, 0, len(q.OrderBy)+1)
	for _, o := range q.OrderBy {
		cols = append(cols, o.Field.Column)
		desc = append(desc, o.Desc)
	}
	cols = append(cols, "id")
	desc = append(desc, false)
	if q.After != nil {
		if len(q.After.Values) != len(q.OrderBy) {
			return storage.Page{}, pagetoken.Unreadable()
		}
		// A token is not keyed: a client can build one whose values do
		// not suit their columns, which PostgreSQL would refuse to compare.
		for i, o := range q.OrderBy {
			if !cursorValueFits(o.Field.Type, q.After.Values[i]) {
				return storage.Page{}, pagetoken.Unreadable()
			}
		}
		s, a := keysetAfter(cols, desc, append(append([]any(nil), q.After.Values...), q.After.Row))
		where = append(where, s)
		args = append(args, a...)
	}
	order := make([]string, len(cols))
	for i, c := range cols {
		order[i] = c
		if desc[i] {
			order[i] += " DESC"
		}
	}
	from := k.Table()
	if len(q.OrderBy) > 0 && q.Filter == nil {
		// With nothing to filter on, the first order key's index yields the
		// rows in order and the query stops after one page. SQLite's planner
		// prefers the province index and sorts every row instead, even when
		// its statistics show that index selects the whole table.
		from += db.dialect.indexedBy(k.Table() + "_" + q.OrderBy[0].Field.Column)
	}
	// The page's rows are found first, by the filter and order alone, and
	// only they join their states: a sort of every match (a prefix, a
	// filter on one field ordered by another) then moves keys, not states.
	pageQuery := "SELECT " + strings.Join(cols, ", ") + " FROM " + from
	if len(where) > 0 {
		pageQuery += " WHERE " + strings.Join(where, " AND ")
	}
	pageQuery += " ORDER BY " + strings.Join(order, ", ") + " LIMIT ?"
	args = append(args, q.Limit+1)
	t := k.Table()
	pageCols := make([]string, len(cols))
	pageOrder := make([]string, len(order))
	for i, c := range cols {
		pageCols[i] = "page." + c
		pageOrder[i] = "page." + order[i]
	}
	stateCols, joined := stateJoin(t, "("+pageQuery+") page JOIN "+t+" ON "+t+".id = page.id")
	query := "SELECT " + stateCols + ", " + strings.Join(pageCols, ", ") + " FROM " + joined + " ORDER BY " + strings.Join(pageOrder, ", ")

	rows, err := db.queries.QueryContext(ctx, query, args...)
	if err != nil {
		return storage.Page{}, fmt.Errorf("list %s: %w", k.Collection, err)
	}
	defer rows.Close()
	var page storage.Page
	keys := make([]any, len(cols))
	var (
		stored   recordState
		lastKeys []any
	)
	dest := stored.dest()
	for i := range keys {
		dest = append(dest, &keys[i])
	}
	next := func() *storage.Cursor {
		return &storage.Cursor{Values: lastKeys[:len(lastKeys)-1], Row: lastKeys[len(lastKeys)-1].(int64)}
	}
	size := q.Used
	for rows.Next() {
		if len(page.Records) == q.Limit {
			page.Next = next()
			break
		}
		if err := rows.Scan(dest...); err != nil {
			return storage.Page{}, fmt.Errorf("list %s: %w", k.Collection, err)
		}
		m, err := stored.decode(k, fmt.Sprintf("a record of %s (row %d)", k.Collection, keys[len(keys)-1]), db.knownDamaged)
		if err != nil {
			return storage.Page{}, db.noticeDamage(err)
		}
		// Each record of a List answer is a field: a tag and a length
		// before its bytes. A page holds one record at least, unless the
		// answer held something before it.
		n := proto.Size(m) + 6 + q.PerRecord
		if size+n > db.maxPage && (len(page.Records) > 0 || q.Used > 0) {
			page.Full = true
			if len(page.Records) > 0 {
				page.Next = next()
			}
			break
		}
		size += n
		page.Bytes += n
		page.Records = append(page.Records, m)
		lastKeys = append(lastKeys[:0], keys...)
	}
	if err := rows.Err(); err != nil {
		return storage.Page{}, fmt.Errorf("list %s: %w", k.Collection, err)
	}
	if err := db.auditRead(ctx, scope(q.Province, k), k, page.Records, false); err != nil {
		return storage.Page{}, err
	}
	return page, nil
}

// cursorValueFits reports whether v, a cursor's value for an order key of
// type t, is of the type the key's column holds: text for strings (UTF-8
// without U+0000, as every stored text is, and all PostgreSQL's text
// takes), an integer for the rest (numbers, booleans, enums, dates, times).
func cursorValueFits(t filter.Type, v any) bool {
	switch v := v.(type) {
	case string:
		return t == filter.String && utf8.ValidString(v) && !strings.ContainsRune(v, 0)
	case []byte:
		return t == filter.String && utf8.Valid(v) && !bytes.ContainsRune(v, 0)
	case int64:
		return t != filter.String
	}
	return false
}

// keysetAfter builds the condition "row sorts after these key values" for
// mixed sort directions: (a > ?) OR (a = ? AND b > ?) OR ...
func keysetAfter(cols []string, desc []bool, values []any) (string, []any) {
	var (
		ors  []string
		args []any
	)
	for i := range cols {
		var ands []string
		for j := 0; j < i; j++ {
			ands = append(ands, cols[j]+" = ?")
			args = append(args, values[j])
		}
		op := " > ?"
		if desc[i] {
			op = " < ?"
		}
		ands = append(ands, cols[i]+op)
		args = append(args, values[i])
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	return "(" + strings.Join(ors, " OR ") + ")", args
}

// readSnapshot begins a read-only transaction that sees one state of the
// store throughout, for reads whose statements must agree (the logs' heads
// and their counts, entries and their checkpoints, the audit trail and the
// heads it covers, records and their entries) while the writer commits:
// SQLite's read transactions do; PostgreSQL's default, READ COMMITTED,
// takes a new snapshot for every statement, so it asks REPEATABLE READ.
// pool is db.reader, or db.queries for a read a caller makes as long as
// it likes (readPools).
func (db *DB) readSnapshot(ctx context.Context, pool *sql.DB) (*sql.Tx, error) {
	opts := &sql.TxOptions{ReadOnly: true}
	if db.dialect.postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	return pool.BeginTx(ctx, opts)
}

// Head returns the last entry of the node's own log.
func (db *DB) Head(ctx context.Context) (changelog.Entry, error) {
	return db.currentHead(), nil
}

// Changes returns entries of origin's log after a sequence number.
func (db *DB) Changes(ctx context.Context, origin string, after uint64, limit int) ([]changelog.Entry, error) {
	rows, err := db.reader.QueryContext(ctx, "SELECT "+entryColumns+" FROM changes WHERE origin = ? AND seq > ? ORDER BY seq LIMIT ?", origin, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read changes: %w", err)
	}
	defer rows.Close()
	var out []changelog.Entry
	for size := 0; size < storage.ChangesBytes && rows.Next(); {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
		// The name too: a member can sign entries whose name holds the
		// megabytes (one read held 15.7 MB, counting the data alone).
		size += len(e.Name) + len(e.Data)
	}
	return out, rows.Err()
}

const entryColumns = "origin, seq, hlc, name, data, sealed, prev_hash, hash"

// entryColumnList is entryColumns as COPY names them.
var entryColumnList = strings.Split(entryColumns, ", ")

func scanEntry(row interface{ Scan(...any) error }) (changelog.Entry, error) {
	var (
		e    changelog.Entry
		form int64
	)
	if err := row.Scan(&e.Origin, &e.Seq, &e.HLC, &e.Name, &e.Data, &form, &e.PrevHash, &e.Hash); err != nil {
		return e, fmt.Errorf("read change: %w", err)
	}
	e.Sealed, e.Name = form == entrySealed, entryName(e.Name, form, e.Data)
	return e, nil
}

// likeEscaper makes text match literally in a LIKE pattern.
var likeEscaper = strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`)
