package sqlstore

import (
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/resource"
)

// indexBatch holds, while a run of entries of another origin is applied
// (ApplyRemote), the rows of the new records it brings and their search
// words and repeated-field elements, which flushIndex then inserts many
// rows a statement instead of a statement or more a record (on PostgreSQL,
// many rows by COPY): on PostgreSQL every statement is a round trip to the
// server, and a catch-up made four of them, about 0.6 ms, per entry. Whatever reads or changes a row in
// the run (newestApplied, takeRow, rebuildOrigin) flushes them first, and
// the writer flushes at the end of the run, inside its transaction.
type indexBatch struct {
	on bool
	// inserts are the queued rows in entry order, by kind; queued names
	// them all (one row a name: a name queued again flushes first).
	inserts map[*resource.Kind][]queuedRow
	queued  map[string]bool
	words   map[*resource.Kind][]any // record, word, ...
	// elements: list, value, record, ...
	elements []any
}

// queuedRow is a record row waiting for its insert.
type queuedRow struct {
	st                   *kindStmts
	name, province, text string
	seq                  uint64
	data                 []byte
	cols                 []any
	elements             map[string][]any
	m                    proto.Message
}

func newIndexBatch() indexBatch {
	return indexBatch{inserts: map[*resource.Kind][]queuedRow{}, queued: map[string]bool{}, words: map[*resource.Kind][]any{}}
}

func (b *indexBatch) reset() {
	clear(b.inserts)
	clear(b.queued)
	clear(b.words)
	b.elements = b.elements[:0]
}

// queueInsert queues the insert of a record's row; it reports false (nothing
// queued) when the run queued that name already, after flushing, so the
// caller applies the state over the row now there.
func (db *DB) queueInsert(tx *sql.Tx, k *resource.Kind, st *kindStmts, name string, m proto.Message, data []byte, seq uint64) (bool, error) {
	b := &db.index
	if b.queued[name] {
		return false, db.flushIndex(tx)
	}
	province, cols, elements, text := rowValues(k, st, name, m)
	b.inserts[k] = append(b.inserts[k], queuedRow{st: st, name: name, province: province, text: text, seq: seq, data: data, cols: cols, elements: elements, m: m})
	b.queued[name] = true
	return true, nil
}

func (b *indexBatch) add(k *resource.Kind, st *kindStmts, id int64, words []string, elements map[string][]any) {
	for _, w := range words {
		b.words[k] = append(b.words[k], id, w)
	}
	for i, f := range st.repeated {
		values := elements[f.Path]
		for j, v := range values {
			// A repeated field may hold an element twice; its row once.
			if !slices.Contains(values[:j], v) {
				b.elements = append(b.elements, st.lists[i], v, id)
			}
		}
	}
}

// maxParameters bounds the parameters of one multi-row insert, within both
// databases' limits (SQLite 32,766, PostgreSQL 65,535).
const maxParameters = 30000

// flushIndex inserts the queued rows, then the words and elements of the
// run's new rows. A queued row whose name turns out taken (a record this
// node held before the run) gets its state the way a single write would.
func (db *DB) flushIndex(tx *sql.Tx) error {
	b := &db.index
	for k, rows := range b.inserts {
		delete(b.inserts, k)
		for _, r := range rows {
			delete(b.queued, r.name)
		}
		var ids map[string]int64
		var err error
		if db.copies(len(rows)) {
			ids, err = db.copyQueued(rows)
		} else {
			ids, err = insertQueued(tx, rows)
		}
		if err != nil {
			return fmt.Errorf("insert records of %s: %w", k.Collection, err)
		}
		for _, r := range rows {
			id, ok := ids[r.name]
			if !ok {
				if err := db.putStateOver(tx, k, r.st, r.name, r.m, r.data, r.seq); err != nil {
					return err
				}
				continue
			}
			b.add(k, r.st, id, searchWords(r.text), r.elements)
			db.deltas.add(k, r.province, r.cols, r.elements, 1)
		}
	}
	for k, args := range b.words {
		if err := db.insertNew(tx, k.Table()+"_words", []string{"record", "word"}, args); err != nil {
			return fmt.Errorf("index the words of %s: %w", k.Collection, err)
		}
		delete(b.words, k)
	}
	if err := db.insertNew(tx, "record_elements", []string{"list", "value", "record"}, b.elements); err != nil {
		return fmt.Errorf("index repeated fields: %w", err)
	}
	b.elements = b.elements[:0]
	return nil
}

// insertNew inserts args, a row per len(columns) values, into table: rows
// of records the run inserted, which no row there can conflict with, each
// once (add leaves out an element a repeated field holds twice). Many go
// in by COPY, which refuses a duplicate.
func (db *DB) insertNew(tx *sql.Tx, table string, columns []string, args []any) error {
	width := len(columns)
	if !db.copies(len(args) / width) {
		return insertRows(tx, table+" ("+strings.Join(columns, ", ")+")", width, args, " ON CONFLICT DO NOTHING", nil)
	}
	rows := make([][]any, 0, len(args)/width)
	for i := 0; i < len(args); i += width {
		rows = append(rows, args[i:i+width:i+width])
	}
	return db.copyInto(table, columns, rows)
}

// insertQueued inserts rows (of one kind) but those whose name is taken,
// and returns the ids of those it inserted, by name.
func insertQueued(tx *sql.Tx, rows []queuedRow) (map[string]int64, error) {
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
func insertRows(tx *sql.Tx, into string, width int, args []any, tail string, scan func(*sql.Rows) error) error {
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
