package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/changelog"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/internal/pgtest"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
)

// TestFailedRunUndoesItsCopies: a run that fails after its rows went to
// PostgreSQL by COPY in flights (the change-log entries, then a chunk of
// record rows while the run went on) leaves nothing of them: the writer
// waits for the flights before undoing the run. The same run applied
// again then holds every record.
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
	boom := errors.New("the run fails after its flights left")
	launched := false
	err = db.runInWriter(ctx, func(tx *sql.Tx) error {
		// What ApplyRemote does, then a failure.
		if err := db.appendEntries(tx, entries); err != nil {
			return err
		}
		db.index.on = true
		for i := range entries {
			if _, _, err := db.applyEntry(tx, &entries[i]); err != nil {
				return err
			}
			launched = launched || db.index.flight != nil && db.index.count < copyChunk && i >= copyChunk
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("the run: %v, want %v", err, boom)
	}
	if !launched {
		t.Fatal("no chunk of records was sent while the run went on: the test tried nothing")
	}
	var changes, rows, words int
	for q, n := range map[string]*int{"changes": &changes, "agreements": &rows, "agreements_words": &words} {
		if err := db.reader.QueryRowContext(ctx, "SELECT count(*) FROM "+q).Scan(n); err != nil {
			t.Fatal(err)
		}
	}
	if changes+rows+words != 0 {
		t.Fatalf("after the failed run: %d entries, %d record rows, %d words held", changes, rows, words)
	}

	last := entries[len(entries)-1]
	if _, err := db.ApplyRemote(ctx, entries, changelog.Checkpoint{Origin: last.Origin, Seq: last.Seq, Hash: last.Hash, Signature: []byte("unchecked by storage")}); err != nil {
		t.Fatalf("the run again: %v", err)
	}
	for i := range records {
		got, err := db.Get(ctx, resource.Agreements, name(i))
		if err != nil || got.(*twinningv1.Agreement).GetDisplayName() != fmt.Sprintf("lychee export %d", i) {
			t.Fatalf("%s after the run again: %v %v", name(i), got, err)
		}
	}
}
