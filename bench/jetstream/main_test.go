package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/changelog"
	"github.com/provex/provex/federation"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

// origin writes n agreements on cao-bang, a third of them national (sealed
// to the ministry), and returns its database and the members' keys
// directory.
func origin(t *testing.T, n int) (string, string) {
	t.Helper()
	dir := t.TempDir()
	members := []string{"cao-bang", "mofa", "nghe-an"}
	m, keys, err := federation.DevFederation(members, []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	keysDir := filepath.Join(dir, "keys")
	if err := os.Mkdir(keysDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, id := range members {
		if err := federation.WriteKeyFile(filepath.Join(keysDir, id+".key"), keys[id]); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.WriteFile(filepath.Join(keysDir, "manifest.yaml")); err != nil {
		t.Fatal(err)
	}
	sealer, err := changelog.NewSealer(keys["cao-bang"].Encryption...)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "origin.db")
	db, err := sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{Logger: slog.New(slog.DiscardHandler), Key: keys["cao-bang"].Signing,
		Sealer: sealer, Directory: m})
	if err != nil {
		t.Fatal(err)
	}
	// Concurrent writers share commits, so the log has checkpoints inside
	// and at its end as a loaded node's does.
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			a := &twinningv1.Agreement{Name: fmt.Sprintf("provinces/cao-bang/agreements/a%05d", i), DisplayName: fmt.Sprint("agreement ", i)}
			if i%3 == 0 {
				a.Visibility = typev1.Visibility_VISIBILITY_NATIONAL
			}
			_, err := db.Write(ctx, storage.Write{Kind: resource.Agreements, Name: a.Name,
				Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) { return a, nil }})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path, keysDir
}

// TestPaths runs every step on a small origin and checks each one handled
// the whole log: the minimal tables hold every entry, and the follower's
// store replayed from JetStream holds the log up to the origin's head and
// every record the follower may read.
func TestPaths(t *testing.T) {
	const n = 300
	originDB, keysDir := origin(t, n)
	dir := filepath.Join(t.TempDir(), "js")
	out, err := runLoad([]string{"-origin", originDB, "-dir", dir})
	if err != nil {
		t.Fatal(err)
	}
	if got := out.(Timing).Entries; got != n {
		t.Fatalf("load: %d entries, want %d", got, n)
	}
	work := t.TempDir()
	minimal, plain := filepath.Join(work, "minimal.db"), filepath.Join(work, "plain.db")
	for _, step := range [][]string{
		{"replay", "-dir", dir, "-into", "minimal", "-db", minimal},
		{"plain", "-dir", dir, "-db", plain},
	} {
		run := runReplay
		if step[0] == "plain" {
			run = runPlain
		}
		out, err := run(step[1:])
		if err != nil {
			t.Fatalf("%s: %v", step[0], err)
		}
		if got := out.(Timing).Entries; got != n {
			t.Fatalf("%s: %d entries, want %d", step[0], got, n)
		}
	}
	for _, mem := range []string{"mofa", "nghe-an"} {
		db := filepath.Join(work, mem+".db")
		if _, err := runReplay([]string{"-dir", dir, "-into", "provex", "-db", db, "-member", mem, "-keys", keysDir}); err != nil {
			t.Fatalf("replay into %s: %v", mem, err)
		}
		store, err := sqlstore.Open(ctx, db, mem, sqlstore.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		origins, err := store.Origins(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(origins) != 1 || origins[0].Origin != "cao-bang" || origins[0].Seq != n || origins[0].Checkpoint.Seq != n {
			t.Fatalf("%s holds %+v, want cao-bang up to %d with its checkpoint", mem, origins, n)
		}
		page, err := store.List(ctx, storage.Query{Kind: resource.Agreements, Province: resource.AllProvinces, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		want := n
		if mem == "nghe-an" {
			want = n - (n+2)/3 // the national ones are sealed to the ministry
		}
		if len(page.Records) != want {
			t.Fatalf("%s holds %d agreements, want %d", mem, len(page.Records), want)
		}
		store.Close()
	}
	out, err = runSizes([]string{minimal, plain})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range out.([]Sizes) {
		var entries, index int64
		for _, o := range s.Objects {
			switch {
			case o.Name == "entries" && !o.Index:
				entries = o.Bytes
			case o.Name == "entries_name" && o.Index && o.Table == "entries":
				index = o.Bytes
			}
		}
		// n entries of a few hundred bytes take more than one page.
		if entries <= 4096 || index == 0 || s.Total < entries+index || s.Free < 0 {
			t.Fatalf("%s: sizes %+v", s.Path, s)
		}
	}
}
