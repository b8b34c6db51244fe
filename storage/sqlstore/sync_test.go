package sqlstore_test

import (
	"context"
	"crypto/ed25519"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/provex/provex/changelog"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

// TestApplyRemoteIsIdempotent applies overlapping runs of another origin's
// log, as two concurrent pulls from different peers do: what is already
// held is skipped, the rest appended, and a run that disagrees with what is
// held is refused.
func TestApplyRemoteIsIdempotent(t *testing.T) {
	ctx := context.Background()
	_, key, _ := ed25519.GenerateKey(nil)
	origin, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "o.db"), "cao-bang", sqlstore.Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer origin.Close()
	for i := 0; i < 10; i++ {
		name := "provinces/cao-bang/agreements/a" + string(rune('a'+i))
		if _, err := origin.Write(ctx, storage.Write{Kind: resource.Agreements, Name: name, Mutate: func(_ proto.Message, st storage.Stamp) (proto.Message, error) {
			return &twinningv1.Agreement{Name: name, DisplayName: name, Kind: twinningv1.Agreement_KIND_MOU, UpdateTime: timestamppb.New(st.Time)}, nil
		}}); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := origin.Changes(ctx, "cao-bang", 0, 100)
	if err != nil || len(entries) != 10 {
		t.Fatalf("%d entries, %v", len(entries), err)
	}
	cp, err := origin.Checkpoint(ctx, "cao-bang", 10)
	if err != nil || cp.Seq != 10 {
		t.Fatalf("checkpoint %+v, %v", cp, err)
	}
	follower, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "f.db"), "lang-son", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer follower.Close()
	cp6 := changelog.SignCheckpoint(key, "cao-bang", 6, entries[5].Hash)
	if _, err := follower.ApplyRemote(ctx, entries[:6], cp6); err != nil {
		t.Fatal(err)
	}
	// Overlapping run 4..10 (held 4..6 are skipped) and a full repeat.
	if _, err := follower.ApplyRemote(ctx, entries[3:], cp); err != nil {
		t.Fatalf("overlapping run: %v", err)
	}
	if _, err := follower.ApplyRemote(ctx, entries, cp); err != nil {
		t.Fatalf("repeated run: %v", err)
	}
	got, err := follower.Changes(ctx, "cao-bang", 0, 100)
	if err != nil || len(got) != 10 {
		t.Fatalf("follower holds %d entries (%v), want 10", len(got), err)
	}
	// A run whose held part differs is refused.
	forged := append([]changelog.Entry(nil), entries...)
	forged[9].Hash = append([]byte(nil), forged[9].Hash...)
	forged[9].Hash[0] ^= 1
	if _, err := follower.ApplyRemote(ctx, forged, cp); err == nil {
		t.Fatal("a run that disagrees with the held log was accepted")
	}
	for _, e := range entries {
		if _, err := follower.Get(ctx, resource.Agreements, e.Name); err != nil {
			t.Fatalf("%s: %v", e.Name, err)
		}
	}
}
