package sqlstore_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	investmentv1 "github.com/provex/provex/gen/go/provex/investment/v1"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

// TestChecksBesideAWritingNode: provex verify and audit verify open the
// store beside its serving node (Options.Beside), which keeps writing new
// records and changing old ones meanwhile. Every check reads what agrees:
// on PostgreSQL, whose read transactions took a new snapshot for every
// statement, the log check found entries "missing" that a checkpoint read
// a moment later named, the records check found elements and words of a
// later state, and the log check wrote the damage it imagined into the
// node's database. Now no check finds anything in the honest store, and
// the tool writes nothing.
func TestChecksBesideAWritingNode(t *testing.T) {
	ctx := context.Background()
	for _, store := range databases {
		t.Run(store, func(t *testing.T) {
			path := newLocation(t, store)
			pub, key, _ := ed25519.GenerateKey(nil)
			node, err := sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{Key: key})
			if err != nil {
				t.Fatal(err)
			}
			defer node.Close()
			write := func(i, v int) error {
				p := &investmentv1.Project{Name: fmt.Sprintf("provinces/cao-bang/projects/p%d", i),
					DisplayName: fmt.Sprintf("Dự án số %d phiên bản %d", i, v), Kind: investmentv1.Project_KIND_FDI,
					Organizations: []string{fmt.Sprintf("provinces/mofa/organizations/o%d", v)}}
				_, err := node.Write(ctx, storage.Write{Kind: resource.Projects, Name: p.Name,
					Mutate: func(_ proto.Message, st storage.Stamp) (proto.Message, error) {
						p := proto.Clone(p).(*investmentv1.Project)
						p.CreateTime, p.UpdateTime = timestamppb.New(st.Time), timestamppb.New(st.Time)
						return p, nil
					}})
				return err
			}
			// Written by 16 at once, so that they group-commit: one at a
			// time, under the race detector, they took most of a minute.
			var g errgroup.Group
			g.SetLimit(16)
			for i := 0; i < 2000; i++ {
				g.Go(func() error { return write(i, 0) })
			}
			if err := g.Wait(); err != nil {
				t.Fatal(err)
			}
			tool, err := sqlstore.Open(ctx, path, "", sqlstore.Options{Beside: true, PublicKey: pub})
			if err != nil {
				t.Fatal(err)
			}
			defer tool.Close()
			var stop atomic.Bool
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for v := 1; !stop.Load(); v++ {
					for i := 0; i < 2000 && !stop.Load(); i += 97 {
						if err := write(i, v); err != nil {
							t.Error(err)
							return
						}
					}
					if err := write(2000+v, 0); err != nil {
						t.Error(err)
						return
					}
				}
			}()
			for run := 0; run < 3; run++ {
				res, err := tool.VerifyLog(ctx, "cao-bang", []ed25519.PublicKey{pub}, true)
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Damaged) > 0 || len(res.Problems) > 0 || res.BadCheckpoints > 0 {
					t.Errorf("run %d: the log check beside the node found: damaged %v, problems %v, bad checkpoints %d", run, res.Damaged, res.Problems, res.BadCheckpoints)
				}
				if _, _, problems, err := tool.VerifyAudit(ctx); err != nil || len(problems) > 0 {
					t.Errorf("run %d: the audit check beside the node found %v (%v)", run, problems, err)
				}
				got, err := tool.CheckRecords(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range got.Problems {
					t.Errorf("run %d: the records check beside the node found: %s", run, p)
				}
			}
			stop.Store(true)
			wg.Wait()
			raw := openRaw(t, path)
			var damage int
			if err := raw.QueryRow("SELECT count(*) FROM log_damage").Scan(&damage); err != nil || damage != 0 {
				t.Errorf("the node's database holds %d damage ranges after the tool's checks (%v)", damage, err)
			}
		})
	}
}

// TestToolBesideLeavesPendingWords: a node's clean close indexes the words
// its writes left pending (search.go), but a tool opened beside the node
// (provex verify, tokens) writes nothing of the node's when it closes.
func TestToolBesideLeavesPendingWords(t *testing.T) {
	ctx := context.Background()
	for _, store := range databases {
		t.Run(store, func(t *testing.T) {
			path := newLocation(t, store)
			node, err := sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer node.Close()
			for i := range 3 {
				p := &investmentv1.Project{Name: fmt.Sprintf("provinces/cao-bang/projects/p%d", i), DisplayName: "Dự án Tà Lùng"}
				if _, err := node.Write(ctx, storage.Write{Kind: resource.Projects, Name: p.Name,
					Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) { return p, nil }}); err != nil {
					t.Fatal(err)
				}
			}
			raw := openRaw(t, path)
			pending := func() int {
				t.Helper()
				var n int
				if err := raw.QueryRow("SELECT count(*) FROM projects_words_pending").Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			if n := pending(); n != 3 {
				t.Fatalf("%d rows pending after 3 writes, want 3", n)
			}
			tool, err := sqlstore.Open(ctx, path, "", sqlstore.Options{Beside: true})
			if err != nil {
				t.Fatal(err)
			}
			if err := tool.Close(); err != nil {
				t.Fatal(err)
			}
			if n := pending(); n != 3 {
				t.Errorf("%d rows pending after a tool beside the node closed, want 3", n)
			}
			if err := node.Close(); err != nil {
				t.Fatal(err)
			}
			if n := pending(); n != 0 {
				t.Errorf("%d rows pending after the node closed, want 0", n)
			}
		})
	}
}
