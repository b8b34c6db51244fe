package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"

	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/changelog"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/internal/pgtest"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
)

// TestFailedRunUndoesItsCopies: two runs in one transaction, each in its
// savepoint: the first applies 300 entries, the second fails just after
// its rows left for PostgreSQL by COPY in flights (the change-log entries,
// then a chunk of record rows). The second leaves nothing, not even in
// the rollups; the first is whole; the failed entries applied again later
// hold every record.
func TestFailedRunUndoesItsCopies(t *testing.T) {
	ctx := context.Background()
	origin, err := Open(ctx, filepath.Join(t.TempDir(), "nghe-an.db"), "nghe-an", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer origin.Close()
	const records = copyChunk + 300
	name := func(i int) string { return fmt.Sprintf("provinces/nghe-an/agreements/r%04d", i) }
	var g errgroup.Group
	g.SetLimit(32)
	for i := range records {
		g.Go(func() error {
			a := &twinningv1.Agreement{Name: name(i), DisplayName: fmt.Sprintf("lychee export %d", i), PartnerCountries: []string{"CN"}}
			_, err := origin.Write(ctx, storage.Write{Kind: resource.Agreements, Name: a.Name, Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) { return a, nil }})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	entries, err := origin.Changes(ctx, "nghe-an", 0, 2*records)
	if err != nil || len(entries) != records {
		t.Fatalf("origin's log: %d entries, %v", len(entries), err)
	}

	db, err := Open(ctx, pgtest.NewDatabase(t), "cao-bang", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// What ApplyRemote does with a run, failing (when fail is set) as soon
	// as a chunk of its records is under way.
	apply := func(run []changelog.Entry, fail error) func(tx *writeTx) error {
		return func(tx *writeTx) error {
			if err := db.appendEntries(tx, run); err != nil {
				return err
			}
			db.index.on = true
			for i := range run {
				p := db.prepareEntry(&run[i], db.sealer.Load())
				if _, _, err := db.applyEntry(tx, &run[i], &p); err != nil {
					return err
				}
				if fail != nil && db.index.flight != nil && db.index.count == 0 && i > 0 {
					return fail
				}
			}
			if fail != nil {
				return errors.New("no chunk of records was sent while the run went on: the test tried nothing")
			}
			return nil
		}
	}
	first, second := entries[:300], entries[300:]
	// The writer takes both runs in one batch: it is held busy until they
	// are queued. It must be inside that hold before they are: had it
	// not taken the hold yet, it could take the hold and the first run
	// together, and the queue would never hold two.
	release, holding := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- db.runInWriter(ctx, func(*writeTx) error { close(holding); <-release; return nil })
	}()
	<-holding
	boom := errors.New("the run fails after its flights left")
	results := make([]chan error, 2)
	for i, run := range []func(*writeTx) error{apply(first, nil), apply(second, boom)} {
		results[i] = make(chan error, 1)
		go func() { results[i] <- db.runInWriter(ctx, run) }()
		for len(db.queue) < i+1 {
			runtime.Gosched()
		}
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if err := <-results[0]; err != nil {
		t.Fatalf("the first run: %v", err)
	}
	if err := <-results[1]; !errors.Is(err, boom) {
		t.Fatalf("the second run: %v, want %v", err, boom)
	}
	count := func(table string) (n int) {
		t.Helper()
		if err := db.reader.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if c, r := count("changes"), count("agreements"); c != len(first) || r != len(first) {
		t.Fatalf("after the failed run: %d entries and %d record rows held, want the first run's %d", c, r, len(first))
	}
	if bad, err := db.CheckRollups(ctx, false); err != nil || bad.Groups > 0 {
		t.Fatalf("rollups after the failed run: %v %v", bad, err)
	}

	last := entries[len(entries)-1]
	if _, err := db.ApplyRemote(ctx, second, changelog.Checkpoint{Origin: last.Origin, Seq: last.Seq, Hash: last.Hash, Signature: []byte("unchecked by storage")}); err != nil {
		t.Fatalf("the failed entries again: %v", err)
	}
	for i := range records {
		got, err := db.Get(ctx, resource.Agreements, name(i))
		if err != nil || got.(*twinningv1.Agreement).GetDisplayName() != fmt.Sprintf("lychee export %d", i) {
			t.Fatalf("%s after the run again: %v %v", name(i), got, err)
		}
	}
	if bad, err := db.CheckRollups(ctx, false); err != nil || bad.Groups > 0 {
		t.Fatalf("rollups after the run again: %v %v", bad, err)
	}
}
