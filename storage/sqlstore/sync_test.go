package sqlstore_test

import (
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/provex/provex/changelog"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/filter"
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

// TestRunPreparedBeforeARotationOpensWithTheNewKeys: a sync engine
// prepares a run (opening its sealed states) while the writer applies the
// one before, and the node's keys may change in between (UseKeys, a
// manifest that rotated its encryption key). A state sealed to the new key
// that the old keys could not open is opened again when the run is
// applied, not passed over as addressed to others; one prepared and
// applied under the same keys is opened once, and held the same.
func TestRunPreparedBeforeARotationOpensWithTheNewKeys(t *testing.T) {
	ctx := context.Background()
	keys, sealers, origin, sign := sealingOrigin(t, "cao-bang", "mofa")
	oldKey, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	oldSealer, _ := changelog.NewSealer(oldKey)
	// The origin seals to the ministry's new key (keys["mofa"], whose
	// sealer is sealers["mofa"]): it saw the new manifest first.
	name := "provinces/cao-bang/agreements/national"
	if _, err := origin.Write(ctx, storage.Write{Kind: resource.Agreements, Name: name, Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
		return &twinningv1.Agreement{Name: name, DisplayName: "National", Kind: twinningv1.Agreement_KIND_MOU, Visibility: typev1.Visibility_VISIBILITY_NATIONAL}, nil
	}}); err != nil {
		t.Fatal(err)
	}
	entries, err := origin.Changes(ctx, "cao-bang", 0, 10)
	if err != nil || len(entries) != 1 || !entries[0].Sealed {
		t.Fatalf("%d entries (%v), want one sealed", len(entries), err)
	}
	cp := changelog.SignCheckpoint(sign, "cao-bang", 1, entries[0].Hash)

	for _, rotate := range []bool{false, true} {
		mofa, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "mofa.db"), "mofa", sqlstore.Options{Sealer: oldSealer, Directory: keys})
		if err != nil {
			t.Fatal(err)
		}
		defer mofa.Close()
		run := mofa.PrepareRemote(entries)
		_, mofaSign, _ := ed25519.GenerateKey(nil)
		if rotate {
			if err := mofa.UseKeys(ctx, mofaSign, sealers["mofa"]); err != nil {
				t.Fatal(err)
			}
		}
		refused, _, err := mofa.ApplyPrepared(ctx, []storage.PreparedRun{run}, cp)
		if err != nil || len(refused) > 0 {
			t.Fatalf("rotated %v: apply: %v %v", rotate, refused, err)
		}
		_, err = mofa.Get(ctx, resource.Agreements, name)
		switch {
		case rotate && err != nil:
			t.Errorf("a state sealed to the new key, prepared before the rotation and applied after: %v; want it opened", err)
		case !rotate && status.Code(err) != codes.NotFound:
			t.Errorf("a state sealed to a key the node does not hold: %v; want NOT_FOUND (relayed unread)", err)
		}
		if got, err := mofa.Changes(ctx, "cao-bang", 0, 10); err != nil || len(got) != 1 {
			t.Errorf("rotated %v: %d entries held (%v), want the one", rotate, len(got), err)
		}
	}
}

// TestEntriesDatedFarAheadDoNotDateTheNodesWrites: a member signs entries
// dated in 2262 (its clock set wrong, or on purpose). A node applying them
// dates its own next writes at most changelog.MaxClockAhead past its wall
// clock, before and after it restarts; it took the member's time, and every
// write of every node was then dated past what nodes accept, its records
// refused by all the others.
func TestEntriesDatedFarAheadDoNotDateTheNodesWrites(t *testing.T) {
	ctx := context.Background()
	_, key, _ := ed25519.GenerateKey(nil)
	far := time.Date(2262, 4, 11, 0, 0, 0, 0, time.UTC)
	origin, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "o.db"), "cao-bang", sqlstore.Options{Key: key, Wall: func() time.Time { return far }})
	if err != nil {
		t.Fatal(err)
	}
	defer origin.Close()
	write := func(db *sqlstore.DB, name string) time.Time {
		t.Helper()
		var stamped time.Time
		if _, err := db.Write(ctx, storage.Write{Kind: resource.Agreements, Name: name, Mutate: func(_ proto.Message, st storage.Stamp) (proto.Message, error) {
			stamped = st.Time
			return &twinningv1.Agreement{Name: name, DisplayName: "x", Kind: twinningv1.Agreement_KIND_MOU}, nil
		}}); err != nil {
			t.Fatal(err)
		}
		return stamped
	}
	write(origin, "provinces/cao-bang/agreements/ahead")
	entries, err := origin.Changes(ctx, "cao-bang", 0, 10)
	if err != nil || len(entries) != 1 {
		t.Fatalf("%d entries, %v", len(entries), err)
	}
	cp, err := origin.Checkpoint(ctx, "cao-bang", 1)
	if err != nil {
		t.Fatal(err)
	}

	path := filepath.Join(t.TempDir(), "f.db")
	follower, err := sqlstore.Open(ctx, path, "lang-son", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := follower.ApplyRemote(ctx, entries, cp); err != nil {
		t.Fatal(err)
	}
	limit := func() time.Time { return time.Now().Add(changelog.MaxClockAhead + time.Second) }
	if got := write(follower, "provinces/lang-son/agreements/after"); got.After(limit()) {
		t.Errorf("the node's write after applying an entry of 2262 is dated %v", got)
	}
	follower.Close()
	follower, err = sqlstore.Open(ctx, path, "lang-son", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer follower.Close()
	if got := write(follower, "provinces/lang-son/agreements/restarted"); got.After(limit()) {
		t.Errorf("the node's write after a restart is dated %v", got)
	}
}

// TestOwnWallPastTheLastTimeKept: a node whose own wall clock reads at or
// past filter.MaxTimestamp dates a write at it, and refuses the next
// (FAILED_PRECONDITION, nothing written) rather than date it past what
// nanoseconds hold or, wrapping, in 1677; its log's times never go back,
// also once the clock is set right. A wall at int64's end dated a write in
// 2262, past the bound, and the next in 1677; one a year later, in 1970
// (an outside review).
func TestOwnWallPastTheLastTimeKept(t *testing.T) {
	ctx := context.Background()
	for name, wrong := range map[string]time.Time{
		"int64's end":     time.Unix(0, math.MaxInt64),
		"a year after it": time.Unix(0, math.MaxInt64).AddDate(1, 0, 0),
	} {
		wall := wrong
		db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "o.db"), "cao-bang", sqlstore.Options{Wall: func() time.Time { return wall }})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		write := func(name string) (time.Time, error) {
			var stamped time.Time
			_, err := db.Write(ctx, storage.Write{Kind: resource.Agreements, Name: name, Mutate: func(_ proto.Message, st storage.Stamp) (proto.Message, error) {
				stamped = st.Time
				return &twinningv1.Agreement{Name: name, DisplayName: "x", Kind: twinningv1.Agreement_KIND_MOU}, nil
			}})
			return stamped, err
		}
		if got, err := write("provinces/cao-bang/agreements/a"); err != nil || !got.Equal(filter.MaxTimestamp) {
			t.Errorf("%s: the first write dated %v, %v; want %v", name, got, err, filter.MaxTimestamp)
		}
		for _, wall = range []time.Time{wrong, time.Now()} {
			_, err := write("provinces/cao-bang/agreements/b")
			if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "the last time a node keeps") {
				t.Errorf("%s: a write with the wall at %v: %v, want FAILED_PRECONDITION", name, wall, err)
			}
		}
		entries, err := db.Changes(ctx, "cao-bang", 0, 10)
		if err != nil || len(entries) != 1 || entries[0].HLC != filter.MaxTimestamp.UnixNano() {
			t.Errorf("%s: the log holds %d entries (%v), want the first only, dated at the bound", name, len(entries), err)
		}
		if _, err := db.Get(ctx, resource.Agreements, "provinces/cao-bang/agreements/b"); status.Code(err) != codes.NotFound {
			t.Errorf("%s: the refused write's record: %v", name, err)
		}
	}
}
