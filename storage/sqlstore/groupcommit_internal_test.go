package sqlstore

import (
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"database/sql"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/changelog"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
)

// poisonAudit makes the audit record of any write of a record whose name
// ends in /poison fail: the write has changed the database by then (its
// record row, its words, its change-log entry).
var poisonAudit = map[string][]string{
	"sqlite": {`CREATE TRIGGER poison BEFORE INSERT ON audit WHEN NEW.resource LIKE '%/poison'
		BEGIN SELECT RAISE(ABORT, 'poisoned'); END`},
	"postgres": {`CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF NEW.resource LIKE '%/poison' THEN RAISE EXCEPTION 'poisoned'; END IF; RETURN NEW; END $$`,
		`CREATE TRIGGER poison BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION poison()`},
}

// TestGroupCommitStoresEachWriteAlone checks a group commit, whose record
// writes run without a savepoint each: a write refused before it changed
// anything is dropped alone, without the batch running again; a write that
// fails after changing the database (its audit record refused) sends the
// batch round again in savepoints, and leaves nothing of itself while its
// neighbours are stored whole; on PostgreSQL, a read that fails (a request
// id PostgreSQL cannot hold), which aborts the transaction there, costs its
// neighbours nothing either. The log, its head, the audit trail and the
// rollups agree afterwards, also after reopening.
func TestGroupCommitStoresEachWriteAlone(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			db, path, key := openKeyed(t, backend)
			defer func() { db.Close() }()
			for _, q := range poisonAudit[backend] {
				if _, err := db.writer.ExecContext(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			name := func(id string) string { return "provinces/cao-bang/agreements/" + id }
			create := func(id, requestID string) storage.Write {
				a := &twinningv1.Agreement{Name: name(id), DisplayName: "lychee export " + id, PartnerCountries: []string{"CN", "LA"}}
				return storage.Write{Kind: resource.Agreements, Name: name(id), RequestID: requestID,
					Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) { return a, nil }}
			}
			refuse := func(id string) storage.Write {
				return storage.Write{Kind: resource.Agreements, Name: name(id),
					Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
						return nil, apperr.FailedPrecondition("refused")
					}}
			}
			batch := func(writes ...storage.Write) []error { t.Helper(); return holdWriter(t, db, writes...) }
			stored := func(id string) bool {
				t.Helper()
				_, err := db.Get(ctx, resource.Agreements, name(id))
				if e, ok := apperr.As(err); err != nil && (!ok || e.Code != codes.NotFound) {
					t.Fatal(err)
				}
				return err == nil
			}
			errs := batch(create("a", ""), refuse("refused"), create("b", ""))
			if errs[0] != nil || errs[1] == nil || errs[2] != nil {
				t.Fatalf("a, refused, b: %v", errs)
			}
			if db.reruns != 0 {
				t.Errorf("a write refused before it changed anything ran its batch again (%d)", db.reruns)
			}
			errs = batch(create("c", ""), create("poison", ""), refuse("refused"), create("d", ""))
			if errs[0] != nil || errs[1] == nil || errs[2] == nil || errs[3] != nil {
				t.Fatalf("c, poison, refused, d: %v", errs)
			}
			if db.reruns != 1 {
				t.Errorf("batches run again: %d, want 1", db.reruns)
			}
			entries := 4
			if backend == "postgres" {
				errs = batch(create("e", ""), create("f", "bad \xff request id"), create("g", ""))
				if errs[0] != nil || errs[1] == nil || errs[2] != nil {
					t.Fatalf("e, f (a request id PostgreSQL refuses), g: %v", errs)
				}
				entries += 2
			}
			for _, id := range []string{"a", "b", "c", "d", "e", "g"} {
				if want := entries > 4 || id < "e"; stored(id) != want {
					t.Errorf("%s stored: %v, want %v", id, !want, want)
				}
			}
			for _, id := range []string{"refused", "poison", "f"} {
				if stored(id) {
					t.Errorf("%s, refused, is stored", id)
				}
			}
			var rows, strays, elements int
			if err := db.reader.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM agreements),
				(SELECT count(*) FROM agreements_words WHERE word = 'poison' OR record NOT IN (SELECT id FROM agreements)) +
				(SELECT count(*) FROM agreements_words_pending WHERE record NOT IN (SELECT id FROM agreements)),
				(SELECT count(*) FROM record_elements)`).Scan(&rows, &strays, &elements); err != nil {
				t.Fatal(err)
			}
			if rows != entries || strays != 0 || elements != 2*entries {
				t.Errorf("%d agreement rows, %d words of none or of poison, %d elements; want %d, 0, %d", rows, strays, elements, entries, 2*entries)
			}
			agreeAfterWrites(t, db, key, entries)
			db = reopenKeyed(t, db, path, key)
			agreeAfterWrites(t, db, key, entries)
		})
	}
}

// TestCheckpointBoundHoldsAfterARolledBackWrite checks that a checkpoint
// signed by a write that then failed, and rolled back with it, leaves the
// entries before it unsigned: the next checkpoint still comes within
// checkpointEvery bytes of entries, in a batch run again with savepoints.
func TestCheckpointBoundHoldsAfterARolledBackWrite(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			db, _, _ := openKeyed(t, backend)
			defer db.Close()
			for _, q := range poisonAudit[backend] {
				if _, err := db.writer.ExecContext(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			big := func(id string, size int) storage.Write {
				name := "provinces/cao-bang/agreements/" + id
				a := &twinningv1.Agreement{Name: name, DisplayName: id, Summary: strings.Repeat("a", size)}
				return storage.Write{Kind: resource.Agreements, Name: name,
					Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) { return a, nil }}
			}
			// poison crosses checkpointEvery, so it signs a checkpoint
			// before its audit record fails.
			errs := holdWriter(t, db, big("w1", 900<<10), big("poison", 200<<10), big("w3", 900<<10), big("w4", 900<<10))
			if errs[0] != nil || errs[1] == nil || errs[2] != nil || errs[3] != nil {
				t.Fatalf("w1, poison, w3, w4: %v", errs)
			}
			rows, err := db.reader.QueryContext(ctx, `SELECT c.seq, length(c.data), k.seq IS NOT NULL FROM changes c
				LEFT JOIN checkpoints k ON k.origin = c.origin AND k.seq = c.seq WHERE c.origin = 'cao-bang' ORDER BY c.seq`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			unsigned := 0
			for rows.Next() {
				var (
					seq, size int
					signed    bool
				)
				if err := rows.Scan(&seq, &size, &signed); err != nil {
					t.Fatal(err)
				}
				if signed {
					unsigned = 0
					continue
				}
				if unsigned += size; unsigned >= checkpointEvery {
					t.Errorf("entries up to %d hold %d bytes after the last checkpoint, past checkpointEvery (%d)", seq, unsigned, checkpointEvery)
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestWriteOfAnotherKindIsRefused checks that a write whose change makes a
// record of another kind is refused, not a panic of the writer that would
// take the node down.
func TestWriteOfAnotherKindIsRefused(t *testing.T) {
	db, _, _ := openKeyed(t, "sqlite")
	defer db.Close()
	name := "provinces/cao-bang/agreements/wrong"
	_, err := db.Write(context.Background(), storage.Write{Kind: resource.Agreements, Name: name,
		Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
			return &twinningv1.Delegation{Name: name}, nil
		}})
	if err == nil || !strings.Contains(err.Error(), "provex.twinning.v1.Delegation, not a provex.twinning.v1.Agreement") {
		t.Errorf("a write making a delegation of an agreement: %v", err)
	}
	if _, err := db.Get(context.Background(), resource.Agreements, name); err == nil {
		t.Error("it was stored")
	}
}

// holdWriter queues writes while db's writer is held, so that they make
// one group commit, and returns their errors.
func holdWriter(t *testing.T, db *DB, writes ...storage.Write) []error {
	t.Helper()
	ctx := context.Background()
	release, holding, held := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		held <- db.runInWriter(ctx, func(*writeTx) error { close(holding); <-release; return nil })
	}()
	<-holding
	errs := make([]chan error, len(writes))
	for i, w := range writes {
		errs[i] = make(chan error, 1)
		go func() { _, err := db.Write(ctx, w); errs[i] <- err }()
		for deadline := time.Now().Add(10 * time.Second); len(db.queue) < i+1; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("writes not queued")
			}
		}
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	out := make([]error, len(writes))
	for i := range errs {
		out[i] = <-errs[i]
	}
	return out
}

// agreeAfterWrites checks that db, which holds entries of its own writes
// (cao-bang's, signed with key) and nothing else, agrees with itself: the
// log and its in-memory head, the log's chain and signatures, the audit
// trail, the rollups and the record rows.
func agreeAfterWrites(t *testing.T, db *DB, key ed25519.PrivateKey, entries int) {
	t.Helper()
	ctx := context.Background()
	var n, max sql.NullInt64
	if err := db.reader.QueryRowContext(ctx, "SELECT count(*), max(seq) FROM changes WHERE origin = 'cao-bang'").Scan(&n, &max); err != nil {
		t.Fatal(err)
	}
	if n.Int64 != int64(entries) || max.Int64 != int64(entries) || db.currentHead().Seq != uint64(entries) {
		t.Errorf("log holds %d entries up to %d, in-memory head %d; want %d", n.Int64, max.Int64, db.currentHead().Seq, entries)
	}
	if res, err := db.VerifyLog(ctx, "cao-bang", []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}, true); err != nil || len(res.Damaged) > 0 {
		t.Errorf("own log: %+v, %v", res.Damaged, err)
	}
	if length, _, problems, err := db.VerifyAudit(ctx); err != nil || len(problems) > 0 || length != int64(entries) {
		t.Errorf("audit trail: %d records, %v, %v; want %d", length, problems, err, entries)
	}
	if bad, err := db.CheckRollups(ctx, false); err != nil || bad.Groups > 0 {
		t.Errorf("rollups against a recount: %+v, %v", bad, err)
	}
	if check, err := db.CheckRecords(ctx); err != nil || len(check.Problems) > 0 {
		t.Errorf("records against the log: %+v, %v", check, err)
	}
}

// TestPanicFailsItsWriteAlone checks that a panic in a write (its Mutate)
// or in a run (after it wrote, with rows of a query left open) fails that
// write alone, in a group commit with and without savepoints, instead of
// taking the writer goroutine and the node down.
func TestPanicFailsItsWriteAlone(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			// Not closed if the writer is stuck: Close would wait for it.
			db, _, key := openKeyed(t, backend)
			if _, err := db.writer.ExecContext(ctx, "CREATE TABLE scratch (x INTEGER)"); err != nil {
				t.Fatal(err)
			}
			create := func(id string, panics bool) storage.Write {
				name := "provinces/cao-bang/agreements/" + id
				return storage.Write{Kind: resource.Agreements, Name: name,
					Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
						if panics {
							panic("a bug")
						}
						return &twinningv1.Agreement{Name: name, DisplayName: id}, nil
					}}
			}
			errs := holdWriter(t, db, create("a", false), create("panics", true), create("b", false))
			if errs[0] != nil || errs[1] == nil || !strings.Contains(errs[1].Error(), "panic in provinces/cao-bang/agreements/panics: a bug") || errs[2] != nil {
				t.Fatalf("a, panics, b: %v", errs)
			}

			// A run joins the batch of c and d, which then has savepoints.
			release, holding, held := make(chan struct{}), make(chan struct{}), make(chan error, 1)
			go func() {
				held <- db.runInWriter(ctx, func(*writeTx) error { close(holding); <-release; return nil })
			}()
			<-holding
			done := make(chan error, 3)
			go func() { _, err := db.Write(ctx, create("c", false)); done <- err }()
			ran := make(chan error, 1)
			go func() {
				for len(db.queue) < 1 {
					time.Sleep(time.Millisecond)
				}
				ran <- db.runInWriter(ctx, func(tx *writeTx) error {
					if _, err := tx.Exec("INSERT INTO scratch (x) VALUES (1)"); err != nil {
						return err
					}
					rows, err := tx.Query("SELECT x FROM scratch")
					if err != nil {
						return err
					}
					rows.Next()
					panic("a bug in a run")
				})
			}()
			for len(db.queue) < 2 {
				time.Sleep(time.Millisecond)
			}
			go func() { _, err := db.Write(ctx, create("d", false)); done <- err }()
			for len(db.queue) < 3 {
				time.Sleep(time.Millisecond)
			}
			close(release)
			if err := <-held; err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-ran:
				if err == nil || !strings.Contains(err.Error(), "panic in a run: a bug in a run") {
					t.Errorf("the run that panicked: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the writer is stuck after a run that panicked with rows open")
			}
			for range 2 {
				if err := <-done; err != nil {
					t.Errorf("c or d: %v", err)
				}
			}
			var scratch int
			if err := db.reader.QueryRowContext(ctx, "SELECT count(*) FROM scratch").Scan(&scratch); err != nil || scratch != 0 {
				t.Errorf("the run's insert: %d rows, %v", scratch, err)
			}
			agreeAfterWrites(t, db, key, 4)
			db.Close()
		})
	}
}

// TestEntryWhosePreparingPanicsIsRefused checks that an entry of another
// origin that reaches a panic while it is prepared (here: opened with no
// sealer) is refused, held but not applied, as a state that does not
// decode is, instead of taking the node down.
func TestEntryWhosePreparingPanicsIsRefused(t *testing.T) {
	db, _, _ := openKeyed(t, "sqlite")
	defer db.Close()
	sealer := db.sealer.Load()
	name := "provinces/nghe-an/agreements/a"
	data, err := proto.Marshal(&twinningv1.Agreement{Name: name, DisplayName: "a"})
	if err != nil {
		t.Fatal(err)
	}
	env, err := sealer.Seal("nghe-an", 1, name, data, []*ecdh.PublicKey{sealer.PublicKey()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := changelog.Entry{Origin: "nghe-an", Seq: 1, Sealed: true, Data: env}
	p := db.prepareEntry(&e, nil)
	if !p.done || !p.refused || p.row != nil || !strings.Contains(p.reason, "preparing the entry panicked") {
		t.Errorf("prepared: %+v", p)
	}
}
