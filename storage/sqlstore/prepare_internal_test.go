package sqlstore

import (
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/changelog"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
)

// nationalLog writes n national agreements on cao-bang's store, sealed to
// the ministry's key mofaKey, and returns cao-bang's log with its signing
// key.
func nationalLog(t *testing.T, n int, mofaKey *ecdh.PublicKey) ([]changelog.Entry, ed25519.PrivateKey) {
	t.Helper()
	ctx := context.Background()
	own, sealer := newSealer(t)
	_, sign, _ := ed25519.GenerateKey(nil)
	origin, err := Open(ctx, filepath.Join(t.TempDir(), "cao-bang.db"), "cao-bang", Options{Key: sign, Sealer: sealer,
		Directory: changelog.Keys{"cao-bang": own.PublicKey(), "mofa": mofaKey}})
	if err != nil {
		t.Fatal(err)
	}
	defer origin.Close()
	for i := range n {
		name := fmt.Sprintf("provinces/cao-bang/agreements/a%d", i+1)
		if _, err := origin.Write(ctx, storage.Write{Kind: resource.Agreements, Name: name, Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
			return &twinningv1.Agreement{Name: name, DisplayName: name, Kind: twinningv1.Agreement_KIND_MOU, Visibility: typev1.Visibility_VISIBILITY_NATIONAL}, nil
		}}); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := origin.Changes(ctx, "cao-bang", 0, n)
	if err != nil || len(entries) != n {
		t.Fatalf("%d entries, %v", len(entries), err)
	}
	return entries, sign
}

// ministry opens the ministry's store with sealer, closed when the test
// ends.
func ministry(t *testing.T, sealer *changelog.Sealer) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "mofa.db"), "mofa", Options{Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// newSealer makes an encryption key and the sealer holding it.
func newSealer(t *testing.T) (*ecdh.PrivateKey, *changelog.Sealer) {
	t.Helper()
	key, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := changelog.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	return key, sealer
}

// TestRunsPreparedUnderDifferentKeysOpenWithTheCurrent: runs joined into
// one transaction were prepared under the keys the node had then, which
// changed twice and came back (A, B, A). Every sealed state opens with the
// keys of when the runs are applied, the middle run's too, as ApplyRemote
// of the joined entries would.
func TestRunsPreparedUnderDifferentKeysOpenWithTheCurrent(t *testing.T) {
	ctx := context.Background()
	keyA, sealerA := newSealer(t)
	_, sealerB := newSealer(t)
	entries, sign := nationalLog(t, 3, keyA.PublicKey())
	mofa := ministry(t, sealerA)
	_, mofaSign, _ := ed25519.GenerateKey(nil)
	var runs []storage.PreparedRun
	for i, sealer := range []*changelog.Sealer{sealerA, sealerB, sealerA} {
		if err := mofa.UseKeys(ctx, mofaSign, sealer); err != nil {
			t.Fatal(err)
		}
		runs = append(runs, mofa.PrepareRemote(entries[i:i+1]))
	}
	cp := changelog.SignCheckpoint(sign, "cao-bang", 3, entries[2].Hash)
	if refused, _, err := mofa.ApplyPrepared(ctx, runs, cp); err != nil || len(refused) > 0 {
		t.Fatalf("apply: %v %v", refused, err)
	}
	for _, e := range entries {
		opened, err := sealerA.Open(e.Origin, e.Seq, e.Data)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := mofa.Get(ctx, resource.Agreements, opened.Name); err != nil {
			t.Errorf("%s, prepared under the keys then: %v; want it opened with the keys now", opened.Name, err)
		}
	}
}

// TestHeldEntriesAreNotPrepared: a run the node holds already (another
// peer's pull brought it) is not opened and decoded again ahead of the
// writer, which skips it; the entries it does not hold are.
func TestHeldEntriesAreNotPrepared(t *testing.T) {
	ctx := context.Background()
	key, sealer := newSealer(t)
	entries, sign := nationalLog(t, 4, key.PublicKey())
	mofa := ministry(t, sealer)
	if _, err := mofa.ApplyRemote(ctx, entries[:2], changelog.SignCheckpoint(sign, "cao-bang", 2, entries[1].Hash)); err != nil {
		t.Fatal(err)
	}
	run := mofa.PrepareRemote(entries).(*preparedRun)
	for i, p := range run.prepared {
		if held := i < 2; p.done == held {
			t.Errorf("entry %d (held %v): prepared %v", i+1, held, p.done)
		}
	}
	if refused, _, err := mofa.ApplyPrepared(ctx, []storage.PreparedRun{run}, changelog.SignCheckpoint(sign, "cao-bang", 4, entries[3].Hash)); err != nil || len(refused) > 0 {
		t.Fatalf("apply: %v %v", refused, err)
	}
	for i := range entries {
		name := fmt.Sprintf("provinces/cao-bang/agreements/a%d", i+1)
		if _, err := mofa.Get(ctx, resource.Agreements, name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
