package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/changelog"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/internal/filter"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
)

var errClosed = apperr.Unavailable("the store is shutting down")

type pendingWrite struct {
	ctx  context.Context
	w    storage.Write
	msg  proto.Message
	err  error
	done chan struct{}
}

// Write queues w for the writer goroutine and waits for its commit. Once
// queued, a write is carried to the end even if ctx ends meanwhile, so the
// caller's answer never disagrees with what was stored; a write whose ctx
// ended before its turn is skipped.
func (db *DB) Write(ctx context.Context, w storage.Write) (proto.Message, error) {
	p := &pendingWrite{ctx: ctx, w: w, done: make(chan struct{})}
	db.closeMu.RLock()
	if db.closed {
		db.closeMu.RUnlock()
		return nil, errClosed
	}
	select {
	case db.queue <- p:
		db.closeMu.RUnlock()
	case <-ctx.Done():
		db.closeMu.RUnlock()
		return nil, ctx.Err()
	}
	<-p.done
	return p.msg, p.err
}

// optimizeEvery is how often the writer refreshes planner statistics when
// it is idle.
const optimizeEvery = 30 * time.Minute

func (db *DB) runWriter() {
	defer close(db.stopped)
	batch := make([]*pendingWrite, 0, db.maxBatch)
	optimize := time.NewTicker(optimizeEvery)
	defer optimize.Stop()
	for {
		select {
		case <-optimize.C:
			if _, err := db.writer.Exec("PRAGMA optimize"); err != nil {
				db.log.Warn("optimize", "err", err)
			}
			continue
		case p := <-db.queue:
			batch = append(batch[:0], p)
		case <-db.stop:
			// Writes queued before Close still get their commit.
			for {
				select {
				case p := <-db.queue:
					db.commit([]*pendingWrite{p})
				default:
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
	}
}

// commit applies a batch in one transaction. With more than one write, each
// runs inside a savepoint, so a failing write is rolled back alone.
func (db *DB) commit(batch []*pendingWrite) {
	defer func() {
		for _, p := range batch {
			close(p.done)
		}
	}()
	headBefore := db.currentHead()
	tx, err := db.writer.Begin()
	if err != nil {
		db.failAll(batch, fmt.Errorf("begin: %w", err))
		return
	}
	isolate := len(batch) > 1
	applied := 0
	for _, p := range batch {
		if err := p.ctx.Err(); err != nil {
			p.err = err
			continue
		}
		if isolate {
			if _, err := tx.Exec("SAVEPOINT write"); err != nil {
				p.err = err
				continue
			}
		}
		mark := db.currentHead()
		p.msg, p.err = db.apply(tx, p.w)
		if p.err != nil {
			p.msg = nil
			db.setHead(mark)
			if !isolate {
				break
			}
			if _, err := tx.Exec("ROLLBACK TO write"); err != nil {
				// The transaction is unusable; fail everything in it.
				tx.Rollback()
				db.setHead(headBefore)
				db.failAll(batch, fmt.Errorf("rollback to savepoint: %w", err))
				return
			}
		}
		if isolate {
			if _, err := tx.Exec("RELEASE write"); err != nil {
				tx.Rollback()
				db.setHead(headBefore)
				db.failAll(batch, fmt.Errorf("release savepoint: %w", err))
				return
			}
		}
		if p.err == nil {
			applied++
		}
	}
	if applied == 0 {
		tx.Rollback()
		return
	}
	if err := tx.Commit(); err != nil {
		tx.Rollback()
		db.setHead(headBefore)
		db.failAll(batch, fmt.Errorf("commit: %w", err))
	}
}

func (db *DB) failAll(batch []*pendingWrite, err error) {
	db.log.Error("write transaction failed", "err", err, "writes", len(batch))
	for _, p := range batch {
		if p.err == nil {
			p.msg, p.err = nil, err
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

// apply performs one write inside tx: the record row, its repeated values,
// the change-log entry and the request id.
func (db *DB) apply(tx *sql.Tx, w storage.Write) (proto.Message, error) {
	k := w.Kind
	st, err := db.kindStmts(k)
	if err != nil {
		return nil, err
	}
	if w.RequestID != "" {
		var name string
		err := tx.Stmt(st.shared.selectRequest).QueryRow(w.RequestID).Scan(&name)
		switch {
		case err == nil:
			// Request ids are shared by every kind: one used for a record
			// of another kind must not read as that record missing.
			if c, _ := resource.SplitCollection(name); c != k.Collection {
				return nil, apperr.Invalid("request_id", "request id %q was already used to create %s", w.RequestID, name)
			}
			return db.getTx(tx, k, name)
		case !errors.Is(err, sql.ErrNoRows):
			return nil, fmt.Errorf("look up request id: %w", err)
		}
	}

	var (
		id      int64
		data    []byte
		current proto.Message
	)
	switch err := tx.Stmt(st.selectForWrite).QueryRow(w.Name).Scan(&id, &data); {
	case err == nil:
		current = k.New()
		if err := proto.Unmarshal(data, current); err != nil {
			return nil, fmt.Errorf("decode stored %s: %w", w.Name, err)
		}
	case !errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("read %s: %w", w.Name, err)
	}

	head := db.currentHead()
	hlc := db.clock.Now()
	stamp := storage.Stamp{Time: time.Unix(0, hlc).UTC(), Seq: head.Seq + 1}
	next, err := mutate(w, current, stamp)
	if err != nil {
		return nil, err
	}
	if got := k.Name(next); got != w.Name {
		return nil, fmt.Errorf("write of %s produced a record named %q", w.Name, got)
	}
	data, err = proto.MarshalOptions{Deterministic: true}.Marshal(next)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", w.Name, err)
	}

	args := make([]any, 0, len(st.columns)+3)
	args = append(args, stamp.Seq, data)
	r := next.ProtoReflect()
	for _, f := range st.columns {
		args = append(args, f.Values(r)[0])
	}
	if current == nil {
		res, err := tx.Stmt(st.insert).Exec(append([]any{w.Name, provinceOf(w.Name)}, args...)...)
		if err != nil {
			return nil, fmt.Errorf("insert %s: %w", w.Name, err)
		}
		if id, err = res.LastInsertId(); err != nil {
			return nil, err
		}
	} else {
		if _, err := tx.Stmt(st.update).Exec(append(args, id)...); err != nil {
			return nil, fmt.Errorf("update %s: %w", w.Name, err)
		}
		if len(st.repeated) > 0 {
			if _, err := tx.Stmt(st.shared.deleteValues).Exec(k.Collection, id); err != nil {
				return nil, fmt.Errorf("clear values of %s: %w", w.Name, err)
			}
		}
	}
	for _, f := range st.repeated {
		for _, v := range f.Values(r) {
			// OR IGNORE: a repeated field may hold the same element twice.
			if _, err := tx.Stmt(st.shared.insertValue).Exec(k.Collection, f.Path, v, id); err != nil {
				return nil, fmt.Errorf("index %s of %s: %w", f.Path, w.Name, err)
			}
		}
	}

	entry := changelog.Entry{Origin: db.origin, Seq: stamp.Seq, HLC: hlc, Name: w.Name, Data: data, PrevHash: head.Hash}
	entry.Hash = changelog.Sum(&entry)
	if _, err := tx.Stmt(st.shared.insertChange).Exec(entry.Origin, entry.Seq, entry.HLC, entry.Name, entry.Data, entry.PrevHash, entry.Hash); err != nil {
		return nil, fmt.Errorf("append change %d: %w", entry.Seq, err)
	}
	if w.RequestID != "" {
		if _, err := tx.Stmt(st.shared.insertRequest).Exec(w.RequestID, w.Name, hlc); err != nil {
			return nil, fmt.Errorf("record request id: %w", err)
		}
	}
	entry.Data = nil
	db.setHead(entry)
	return next, nil
}

// mutate runs the caller's function, turning a panic into an error so that
// one bad write cannot take the writer goroutine (and every node write) down.
func mutate(w storage.Write, current proto.Message, stamp storage.Stamp) (next proto.Message, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in write of %s: %v\n%s", w.Name, r, debug.Stack())
		}
	}()
	next, err = w.Mutate(current, stamp)
	if err == nil && next == nil {
		err = fmt.Errorf("write of %s produced no record", w.Name)
	}
	return next, err
}

// sharedStmts are the writer's statements that every kind uses.
type sharedStmts struct {
	selectRequest, insertRequest, insertChange, deleteValues, insertValue *sql.Stmt
}

type kindStmts struct {
	shared         *sharedStmts
	columns        []filter.Field // non-repeated schema fields, in column order
	repeated       []filter.Field
	selectForWrite *sql.Stmt
	insert, update *sql.Stmt
	get            *sql.Stmt // on the reader pool
}

// prepareAll prepares every statement the store runs repeatedly, at open:
// the writer has a single connection, so preparing one while a write
// transaction holds it would wait forever.
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
	shared := &sharedStmts{
		selectRequest: prepare(db.writer, "SELECT name FROM request_ids WHERE request_id = ?"),
		insertRequest: prepare(db.writer, "INSERT INTO request_ids (request_id, name, hlc) VALUES (?, ?, ?)"),
		insertChange:  prepare(db.writer, "INSERT INTO changes (origin, seq, hlc, name, data, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)"),
		deleteValues:  prepare(db.writer, "DELETE FROM record_values WHERE kind = ? AND record = ?"),
		insertValue:   prepare(db.writer, "INSERT OR IGNORE INTO record_values (kind, field, value, record) VALUES (?, ?, ?, ?)"),
	}
	for _, k := range resource.Kinds() {
		st := &kindStmts{shared: shared}
		var cols, sets []string
		for _, f := range k.Schema.Fields() {
			if f.Repeated {
				st.repeated = append(st.repeated, f)
				continue
			}
			st.columns = append(st.columns, f)
			cols = append(cols, f.Column)
			sets = append(sets, f.Column+" = ?")
		}
		t := k.Table()
		st.selectForWrite = prepare(db.writer, "SELECT id, data FROM "+t+" WHERE name = ?")
		st.insert = prepare(db.writer, fmt.Sprintf("INSERT INTO %s (name, province, seq, data, %s) VALUES (?, ?, ?, ?, %s)",
			t, strings.Join(cols, ", "), placeholders(len(cols))))
		st.update = prepare(db.writer, fmt.Sprintf("UPDATE %s SET seq = ?, data = ?, %s WHERE id = ?", t, strings.Join(sets, ", ")))
		st.get = prepare(db.reader, "SELECT data FROM "+t+" WHERE name = ?")
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
