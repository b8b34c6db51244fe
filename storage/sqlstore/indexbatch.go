package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/provex/provex/resource"
)

// indexBatch holds, while a run of entries of another origin is applied
// (ApplyRemote), the rows of the new records it brings and their search
// words and repeated-field elements, which flushIndex then inserts many
// rows a statement instead of a statement or more a record: on PostgreSQL
// every statement is a round trip to the server, and a catch-up made four
// of them, about 0.6 ms, per entry. On PostgreSQL they go by COPY, a chunk
// at a time while the run goes on (copyQueue). Whatever reads or changes a
// row in the run (newestApplied, takeRow, rebuildOrigin) flushes them
// first, and the writer flushes at the end of the run, inside its
// transaction.
type indexBatch struct {
	on bool
	// inserts are the queued rows in entry order, by kind (count in all);
	// queued names them and those of the flight under way (one row a
	// name: a name queued again flushes first).
	inserts map[*resource.Kind][]queuedRow
	count   int
	queued  map[string]bool
	words   map[*resource.Kind][]any // record, word, ...
	// elements: list, value, record, ...
	elements []any
	// flight is the COPY under way on the writer's connection, or nil.
	flight *flight
}

// queuedRow is a record row waiting for its insert.
type queuedRow struct {
	*recordRow
	seq uint64
}

func newIndexBatch() indexBatch {
	return indexBatch{inserts: map[*resource.Kind][]queuedRow{}, queued: map[string]bool{}, words: map[*resource.Kind][]any{}}
}

func (b *indexBatch) reset() {
	clear(b.inserts)
	b.count = 0
	clear(b.queued)
	clear(b.words)
	b.elements = b.elements[:0]
}

// queueInsert queues the insert of a record's row; it reports false (nothing
// queued) when the run queued that name already, after flushing, so the
// caller applies the state over the row now there.
func (db *DB) queueInsert(tx *writeTx, r *recordRow, seq uint64) (bool, error) {
	b := &db.index
	if b.queued[r.name] {
		return false, db.flushIndex(tx)
	}
	b.inserts[r.k] = append(b.inserts[r.k], queuedRow{recordRow: r, seq: seq})
	b.count++
	b.queued[r.name] = true
	if b.count >= copyChunk && db.copies(b.count) {
		return true, db.copyQueue(tx)
	}
	return true, nil
}

// eachElement calls f with each element of a record's repeated fields
// (elements as rowValues gives them) and its list, once: a repeated field
// may hold an element twice. A long field is checked with a set: a member
// may sign a record of tens of thousands of elements, and comparing each
// with those before it held the writer for seconds.
func eachElement(st *kindStmts, elements map[string][]any, f func(list int64, v any)) {
	for i, field := range st.repeated {
		values := elements[field.Path]
		var seen map[any]bool
		if len(values) > 16 {
			seen = make(map[any]bool, len(values))
		}
		for j, v := range values {
			switch {
			case seen != nil && !seen[v]:
				seen[v] = true
			case seen == nil && !slices.Contains(values[:j], v):
			default:
				continue
			}
			f(st.lists[i], v)
		}
	}
}

func (b *indexBatch) add(k *resource.Kind, st *kindStmts, id int64, words []string, elements map[string][]any) {
	for _, w := range words {
		b.words[k] = append(b.words[k], id, w)
	}
	eachElement(st, elements, func(list int64, v any) {
		b.elements = append(b.elements, list, v, id)
	})
}

// maxParameters bounds the parameters of one multi-row insert, within both
// databases' limits (SQLite 32,766, PostgreSQL 65,535).
const maxParameters = 30000

// flushIndex inserts the queued rows, then the words and elements of the
// run's new rows. A queued row whose name turns out taken (a record this
// node held before the run) gets its state the way a single write would.
func (db *DB) flushIndex(tx *writeTx) error {
	if err := db.land(tx); err != nil {
		return err
	}
	b := &db.index
	if db.copies(b.count) {
		if err := db.copyQueue(tx); err != nil {
			return err
		}
		return db.land(tx)
	}
	for k, rows := range b.inserts {
		delete(b.inserts, k)
		for _, r := range rows {
			delete(b.queued, r.name)
		}
		ids, err := insertQueued(tx, rows)
		if err != nil {
			return fmt.Errorf("insert records of %s: %w", k.Collection, err)
		}
		if err := db.inserted(tx, k, rows, ids, true); err != nil {
			return err
		}
	}
	b.count = 0
	for k, args := range b.words {
		if err := insertRows(tx, k.Table()+"_words (record, word)", 2, args, " ON CONFLICT DO NOTHING", nil); err != nil {
			return fmt.Errorf("index the words of %s: %w", k.Collection, err)
		}
		delete(b.words, k)
	}
	if err := insertRows(tx, "record_elements (list, value, record)", 3, b.elements, " ON CONFLICT DO NOTHING", nil); err != nil {
		return fmt.Errorf("index repeated fields: %w", err)
	}
	b.elements = b.elements[:0]
	return nil
}

// inserted finishes rows whose inserts went in (ids, by name): their
// rollup groups, and their words and elements when queue is set (else
// they went with the rows). A row whose name was taken gets its state the
// way a single write would.
func (db *DB) inserted(tx *writeTx, k *resource.Kind, rows []queuedRow, ids map[string]int64, queue bool) error {
	for _, r := range rows {
		id, ok := ids[r.name]
		if !ok {
			if err := db.putStateOver(tx, r.recordRow, r.seq); err != nil {
				return err
			}
			continue
		}
		if queue {
			db.index.add(k, r.st, id, r.words, r.elements)
		}
		db.deltas.add(k, r.province, r.cols, r.elements, 1)
	}
	return nil
}

// copyQueue sends the queued rows, with their words and elements, by COPY
// in a flight (PostgreSQL): the run goes on while the server loads them.
func (db *DB) copyQueue(tx *writeTx) error {
	b := &db.index
	inserts := b.inserts
	b.inserts, b.count = map[*resource.Kind][]queuedRow{}, 0
	ids := make(map[*resource.Kind]map[string]int64, len(inserts))
	return db.launch(tx, func(ctx context.Context, c *pgx.Conn) error {
		for k, rows := range inserts {
			var err error
			if ids[k], err = copyRecords(ctx, c, k, rows); err != nil {
				return fmt.Errorf("insert records of %s: %w", k.Collection, err)
			}
		}
		return nil
	}, func(tx *writeTx) error {
		for _, rows := range inserts {
			for _, r := range rows {
				delete(b.queued, r.name)
			}
		}
		for k, rows := range inserts {
			if err := db.inserted(tx, k, rows, ids[k], false); err != nil {
				return err
			}
		}
		return nil
	})
}

// insertQueued inserts rows (of one kind) but those whose name is taken,
// and returns the ids of those it inserted, by name.
func insertQueued(tx *writeTx, rows []queuedRow) (map[string]int64, error) {
	width := 5 + len(rows[0].cols)
	args := make([]any, 0, width*len(rows))
	for _, r := range rows {
		args = append(append(args, r.name, r.province, r.seq, r.data, r.text), r.cols...)
	}
	ids := make(map[string]int64, len(rows))
	err := insertRows(tx, rows[0].st.insertColumns, width, args, " ON CONFLICT (name) DO NOTHING RETURNING id, name", func(rs *sql.Rows) error {
		var id int64
		var name string
		if err := rs.Scan(&id, &name); err != nil {
			return err
		}
		ids[name] = id
		return nil
	})
	return ids, err
}

// insertRows inserts args, width values a row, into into ("table
// (columns)"), each statement ending with tail; scan, when set, reads each
// row it returns. Statements hold a number of rows from a fixed ladder
// (powers of 4, up to what maxParameters allows), so their text repeats
// and PostgreSQL's driver prepares each once (pgx caches statements by
// text): a statement of any number of rows was planned anew every time.
func insertRows(tx *writeTx, into string, width int, args []any, tail string, scan func(*sql.Rows) error) error {
	row := "(" + placeholders(width) + ")"
	for len(args) > 0 {
		n := 1
		for n*4 <= len(args)/width && n*4*width <= maxParameters {
			n *= 4
		}
		q := "INSERT INTO " + into + " VALUES " + strings.TrimSuffix(strings.Repeat(row+", ", n), ", ") + tail
		if scan == nil {
			if _, err := tx.Exec(q, args[:n*width]...); err != nil {
				return err
			}
		} else {
			rs, err := tx.Query(q, args[:n*width]...)
			if err != nil {
				return err
			}
			for rs.Next() {
				if err := scan(rs); err != nil {
					rs.Close()
					return err
				}
			}
			rs.Close()
			if err := rs.Err(); err != nil {
				return err
			}
		}
		args = args[n*width:]
	}
	return nil
}
