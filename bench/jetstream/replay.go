package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/changelog"
	"github.com/provex/provex/federation"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

// txRows is the rows per transaction of the minimal table's writers.
const txRows = 1000

// minimalSchema is the least a log shipper's SQLite sink holds: each entry
// once, unique by (origin, seq), findable by name.
const minimalSchema = `CREATE TABLE entries (origin TEXT NOT NULL, seq INTEGER NOT NULL, name TEXT NOT NULL, data BLOB NOT NULL, UNIQUE (origin, seq));
CREATE INDEX entries_name ON entries (name);`

// openMinimal creates the minimal table in a new database at path, opened
// with the node's own connection settings.
func openMinimal(path string) (*sql.DB, *sql.Stmt, error) {
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		os.Remove(f)
	}
	db, err := sqlstore.OpenConns(path, false)
	if err != nil {
		return nil, nil, err
	}
	if _, err := db.Exec(minimalSchema); err != nil {
		db.Close()
		return nil, nil, err
	}
	ins, err := db.Prepare("INSERT INTO entries (origin, seq, name, data) VALUES (?, ?, ?, ?)")
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, ins, nil
}

// minimalRow is one row of the minimal table: the entry's origin, seq and
// name (empty for a sealed entry, as provex stores it), and the message as
// JetStream holds it (the whole entry, hashes included).
func minimalRow(msg []byte, e *syncv1.Entry) []any {
	return []any{e.GetOrigin(), int64(e.GetSeq()), e.GetName(), msg}
}

// insertRows writes rows in transactions of txRows.
func insertRows(db *sql.DB, ins *sql.Stmt, rows [][]any) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	st := tx.Stmt(ins)
	for _, r := range rows {
		if _, err := st.Exec(r...); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// sink takes the replayed entries one consumer batch at a time.
type sink interface {
	apply(msgs [][]byte, entries []*syncv1.Entry) error
	// finish applies what it still holds.
	finish() error
	close() error
}

type minimalSink struct {
	db  *sql.DB
	ins *sql.Stmt
}

func (s *minimalSink) apply(msgs [][]byte, entries []*syncv1.Entry) error {
	rows := make([][]any, len(msgs))
	for i := range msgs {
		rows[i] = minimalRow(msgs[i], entries[i])
	}
	return insertRows(s.db, s.ins, rows)
}

func (s *minimalSink) finish() error { return nil }
func (s *minimalSink) close() error  { return s.db.Close() }

// provexSink applies entries through the store's own path, ApplyRemote,
// in runs that end at a checkpoint of the origin, as provex's sync engine
// does. It does not verify hashes or signatures (a generic shipper trusts
// its transport), so it does less than provex's sync.
type provexSink struct {
	ctx     context.Context
	store   *sqlstore.DB
	cps     []changelog.Checkpoint // ascending
	pending []changelog.Entry
}

func (s *provexSink) apply(_ [][]byte, entries []*syncv1.Entry) error {
	for _, p := range entries {
		e := changelog.Entry{Origin: p.GetOrigin(), Seq: p.GetSeq(), HLC: p.GetHlc(), Name: p.GetName(), Data: p.GetData(),
			Sealed: p.GetSealed(), PrevHash: p.GetPrevHash(), Hash: p.GetHash()}
		if e.Data == nil {
			e.Data = []byte{}
		}
		s.pending = append(s.pending, e)
	}
	return s.applyCovered()
}

// applyCovered applies the pending entries up to the newest checkpoint
// among them.
func (s *provexSink) applyCovered() error {
	if len(s.pending) == 0 {
		return nil
	}
	first, last := s.pending[0].Seq, s.pending[len(s.pending)-1].Seq
	i := sort.Search(len(s.cps), func(i int) bool { return s.cps[i].Seq > last }) - 1
	if i < 0 || s.cps[i].Seq < first {
		return nil
	}
	cp := s.cps[i]
	n := int(cp.Seq-first) + 1
	refusals, err := s.store.ApplyRemote(s.ctx, s.pending[:n:n], cp)
	if err != nil {
		return err
	}
	if len(refusals) > 0 {
		return fmt.Errorf("%d entries refused, the first: %s", len(refusals), refusals[0].Reason)
	}
	s.pending = append(s.pending[:0], s.pending[n:]...)
	return nil
}

func (s *provexSink) finish() error {
	if err := s.applyCovered(); err != nil {
		return err
	}
	if len(s.pending) > 0 {
		return fmt.Errorf("%d entries after the last checkpoint", len(s.pending))
	}
	return nil
}

func (s *provexSink) close() error { return s.store.Close() }

// openProvex opens a follower's store for member in a new directory, with
// the keys and directory of members a node has.
func openProvex(path, member, keysDir string) (*provexSink, error) {
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		os.Remove(f)
	}
	keys, err := federation.ReadKeyFile(filepath.Join(keysDir, member+".key"))
	if err != nil {
		return nil, err
	}
	manifest, err := federation.LoadManifest(filepath.Join(keysDir, "manifest.yaml"))
	if err != nil {
		return nil, err
	}
	sealer, err := changelog.NewSealer(keys.Encryption...)
	if err != nil {
		return nil, err
	}
	store, err := sqlstore.Open(ctx, path, member, sqlstore.Options{Logger: slog.New(slog.DiscardHandler), Key: keys.Signing,
		Sealer: sealer, Directory: manifest})
	if err != nil {
		return nil, err
	}
	return &provexSink{store: store,
		ctx: storage.WithActor(ctx, storage.Actor{Name: "peer:jetstream", Action: "sync.pull"})}, nil
}

func readCheckpoints(dir string) ([]changelog.Checkpoint, error) {
	b, err := os.ReadFile(filepath.Join(dir, checkpointsFile))
	if err != nil {
		return nil, err
	}
	var cps []changelog.Checkpoint
	return cps, json.Unmarshal(b, &cps)
}

// runReplay replays the whole stream through a durable pull consumer into
// a sink, timing from the consumer's creation to the last commit. The
// consumer pulls ahead (up to 2 batches) while the sink writes; each
// transaction's last message is acknowledged (AckAll) once it commits, so
// a crash resumes after what is durable.
func runReplay(args []string) (any, error) {
	fs := flag.NewFlagSet("replay", flag.ExitOnError)
	dir := fs.String("dir", "", "JetStream store directory (from load)")
	into := fs.String("into", "minimal", "minimal: the minimal table; provex: a follower's store through ApplyRemote")
	dbPath := fs.String("db", "", "database to create")
	member := fs.String("member", "", "with -into provex: the follower")
	keysDir := fs.String("keys", "", "with -into provex: the members' key files and manifest.yaml")
	fs.Parse(args)
	e, err := startServer(*dir)
	if err != nil {
		return nil, err
	}
	defer e.close()
	var s sink
	switch *into {
	case "minimal":
		db, ins, err := openMinimal(*dbPath)
		if err != nil {
			return nil, err
		}
		s = &minimalSink{db, ins}
	case "provex":
		p, err := openProvex(*dbPath, *member, *keysDir)
		if err != nil {
			return nil, err
		}
		if p.cps, err = readCheckpoints(*dir); err != nil {
			p.close()
			return nil, err
		}
		s = p
	default:
		return nil, fmt.Errorf("unknown sink %q", *into)
	}
	defer s.close()
	st, total, err := e.stream()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	cons, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: fmt.Sprintf("replay-%d", start.UnixNano()),
		DeliverPolicy: jetstream.DeliverAllPolicy, AckPolicy: jetstream.AckAllPolicy, MaxAckPending: 4 * txRows})
	if err != nil {
		return nil, err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(2 * txRows))
	if err != nil {
		return nil, err
	}
	defer it.Stop()
	var (
		msgs    = make([][]byte, 0, txRows)
		entries = make([]*syncv1.Entry, 0, txRows)
	)
	for done := 0; done < total; {
		m, err := it.Next()
		if err != nil {
			return nil, err
		}
		en := &syncv1.Entry{}
		if err := proto.Unmarshal(m.Data(), en); err != nil {
			return nil, err
		}
		msgs, entries = append(msgs, m.Data()), append(entries, en)
		done++
		if len(msgs) < txRows && done < total {
			continue
		}
		if err := s.apply(msgs, entries); err != nil {
			return nil, err
		}
		if done < total {
			err = m.Ack()
		} else {
			err = m.DoubleAck(ctx)
		}
		if err != nil {
			return nil, err
		}
		msgs, entries = msgs[:0], entries[:0]
	}
	if err := s.finish(); err != nil {
		return nil, err
	}
	return Timing{Entries: total, Seconds: time.Since(start).Seconds()}, nil
}

// runPlain reads the stream (untimed) into the rows the minimal replay
// writes, then inserts them into a new minimal table, txRows per
// transaction, timing the inserts alone.
func runPlain(args []string) (any, error) {
	fs := flag.NewFlagSet("plain", flag.ExitOnError)
	dir := fs.String("dir", "", "JetStream store directory (from load)")
	dbPath := fs.String("db", "", "database to create")
	fs.Parse(args)
	e, err := startServer(*dir)
	if err != nil {
		return nil, err
	}
	defer e.close()
	st, total, err := e.stream()
	if err != nil {
		return nil, err
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(2 * txRows))
	if err != nil {
		return nil, err
	}
	rows := make([][]any, 0, total)
	for len(rows) < total {
		m, err := it.Next()
		if err != nil {
			it.Stop()
			return nil, err
		}
		en := &syncv1.Entry{}
		if err := proto.Unmarshal(m.Data(), en); err != nil {
			it.Stop()
			return nil, err
		}
		rows = append(rows, minimalRow(m.Data(), en))
	}
	it.Stop()
	e.close()
	db, ins, err := openMinimal(*dbPath)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	start := time.Now()
	for i := 0; i < len(rows); i += txRows {
		if err := insertRows(db, ins, rows[i:min(i+txRows, len(rows))]); err != nil {
			return nil, err
		}
	}
	return Timing{Entries: total, Seconds: time.Since(start).Seconds()}, nil
}
