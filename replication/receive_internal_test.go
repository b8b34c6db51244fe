package replication

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/provex/provex/internal/testlog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/provex/provex/changelog"
	"github.com/provex/provex/federation"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	"github.com/provex/provex/storage"
)

// TestReceiveHoldsBoundedMemory: a peer that streams entries and never a
// checkpoint cannot make the puller hold more than maxPendingBytes: entries
// of origins the manifest does not list are passed over at once, and a
// member's entries beyond the bound are refused.
func TestReceiveHoldsBoundedMemory(t *testing.T) {
	m, _, err := federation.DevFederation([]string{"cao-bang", "tuyen-quang"}, []string{"h:1", "h:2"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{cfg: Config{Member: "cao-bang", Manifest: federation.NewLive(m, nil)}, log: slog.New(slog.NewTextHandler(io.Discard, nil)), peers: map[string]*peer{}}
	p := &peer{member: "tuyen-quang"}
	ap := &applier{e: e, p: p, jobs: make(chan applyJob, 4), done: make(chan struct{}), failed: map[string]bool{}}
	st := &pullState{runs: map[string]*originRun{}, requested: map[repairStart]bool{}, heads: map[string]uint64{}}
	held := func() int {
		n := 0
		for _, r := range st.runs {
			n += pendingSize(r.pending)
		}
		return n
	}
	send := func(origin string, count, size int) {
		t.Helper()
		r := st.runs[origin]
		seq, prev := uint64(1), changelog.ZeroHash
		if r != nil {
			seq, prev = r.next, r.prev
		}
		resp := &syncv1.PullResponse{}
		for i := 0; i < count; i++ {
			en := changelog.Entry{Origin: origin, Seq: seq, Data: make([]byte, size), PrevHash: prev}
			en.Hash = changelog.Sum(&en)
			seq, prev = seq+1, en.Hash
			resp.Entries = append(resp.Entries, entryToProto(&en))
		}
		if err := e.receive(context.Background(), p, st, resp, ap); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 16; i++ {
		send(fmt.Sprintf("nobody-%d", i), 4, 1<<20)
	}
	if got := held(); got != 0 {
		t.Errorf("held %d bytes of origins that are not members", got)
	}
	for i := 0; i < 100; i++ {
		send("tuyen-quang", 1, 1<<20)
	}
	if got := held(); got > maxPendingBytes {
		t.Errorf("held %d bytes waiting for a checkpoint, more than %d", got, maxPendingBytes)
	}
	// The member's run is refused; the others were passed over uncounted.
	if !st.runs["tuyen-quang"].refused || e.metrics.refused.Load() != 1 {
		t.Errorf("refused: member %v, %d runs in all; want the member's run alone", st.runs["tuyen-quang"].refused, e.metrics.refused.Load())
	}
}

// sizedStore is a store that asks for runs of its own size and records
// the size of each run it is given.
type sizedStore struct {
	storage.Store
	entries, bytes int
	applied        []int
}

func (s *sizedStore) ApplyRunSize() (int, int) { return s.entries, s.bytes }

func (*sizedStore) DiskFull() time.Time { return time.Time{} }
func (*sizedStore) ReadOnly() time.Time { return time.Time{} }

func (s *sizedStore) ApplyRemote(_ context.Context, entries []changelog.Entry, _ changelog.Checkpoint, _ ...changelog.Checkpoint) ([]storage.Refusal, error) {
	s.applied = append(s.applied, len(entries))
	return nil, nil
}

// TestRunsTakeTheStoresSize: a pull joins the runs queued while one is
// applied up to the size its store asks for (storage.RunSizer), with room
// to queue that many entries' messages; zero keeps the default.
func TestRunsTakeTheStoresSize(t *testing.T) {
	for _, c := range []struct {
		entries, bytes int
		want           []int // entries of each run applied, from full queue
	}{
		{0, 0, []int{maxApplyEntries}},
		{2000, 32 << 20, []int{2000, 2000}},
		{16000, 32 << 20, []int{16000}},
		// Runs of half a MiB each: three make 1.5 MiB.
		{16000, 3 * MaxBatchBytes / 2, []int{1500, 1500, 1500, 1500, 1500, 1500, 1500, 1500, 1500, 1500, 1000}},
	} {
		store := &sizedStore{entries: c.entries, bytes: c.bytes}
		e := &Engine{cfg: Config{Store: store}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		a := newApplier(e, &peer{member: "tuyen-quang"})
		// The queue full of runs of 500 entries, half a MiB in all,
		// before the applier starts.
		for range cap(a.jobs) {
			entries := make([]changelog.Entry, DefaultBatchSize)
			entries[0].Data = make([]byte, MaxBatchBytes/2)
			a.jobs <- applyJob{entries: entries, cp: changelog.Checkpoint{Origin: "tuyen-quang"}}
		}
		go a.run(context.Background())
		a.wait()
		if fmt.Sprint(store.applied) != fmt.Sprint(c.want) {
			t.Errorf("store asking %d entries, %d bytes: runs of %v entries, want %v", c.entries, c.bytes, store.applied, c.want)
		}
	}
}

// TestQueuedRunsHoldBoundedBytes: the runs a pull has verified and not
// yet applied hold at most the applier's room, two transactions' worth,
// whatever size the peer makes them (it chooses where runs end by the
// checkpoints it sends), or a single run larger than the room.
func TestQueuedRunsHoldBoundedBytes(t *testing.T) {
	for _, c := range []struct {
		entries, bytes int // the store's run size; 0 is the default
		run            int // bytes of each run the peer sends
		bound          int // bytes queued before the next run waits: at most this, at least a run less
	}{
		{0, 0, MaxBatchBytes, 8 * MaxBatchBytes}, // the queue's 8 messages
		{0, 0, 4 * MaxBatchBytes, 2 * maxApplyBytes},
		{0, 0, 40 << 20, 40 << 20}, // one run larger than the room
		{16000, 32 << 20, MaxBatchBytes, 32 * MaxBatchBytes},
		{16000, 32 << 20, 8 << 20, 64 << 20},
	} {
		store := &sizedStore{entries: c.entries, bytes: c.bytes}
		a := newApplier(&Engine{cfg: Config{Store: store}}, &peer{member: "tuyen-quang"})
		// Nothing applies them: the runs stay queued. One buffer serves
		// every run (a run's size is what its entries hold).
		data := make([]byte, c.run)
		queued := 0
		for queued <= 4*c.bound {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			err := a.queue(ctx, applyJob{entries: []changelog.Entry{{Data: data}}, cp: changelog.Checkpoint{Origin: "tuyen-quang"}})
			cancel()
			if err != nil {
				break
			}
			queued += c.run
		}
		if queued > c.bound || queued < c.bound-c.run {
			t.Errorf("store asking %d entries, %d bytes, runs of %d bytes: %d bytes queued before one waited, want %d at most and %d at least",
				c.entries, c.bytes, c.run, queued, c.bound, c.bound-c.run)
		}
	}
}

// failingStore refuses every run, as a store on a full disk does.
type failingStore struct{ storage.Store }

func (failingStore) DiskFull() time.Time { return time.Time{} }
func (failingStore) ReadOnly() time.Time { return time.Time{} }

func (failingStore) ApplyRemote(context.Context, []changelog.Entry, changelog.Checkpoint, ...changelog.Checkpoint) ([]storage.Refusal, error) {
	return nil, errors.New("commit: database or disk is full")
}

// TestFailedApplyIsShownAndLoggedOnce: a store that refuses every run (a
// full disk) made each pull log "apply failed", and the peer's status
// showed no error (an outside test); the failure is now the peer's last
// error, and logged again only every failureLogEvery.
func TestFailedApplyIsShownAndLoggedOnce(t *testing.T) {
	var logs testlog.Buffer
	e := &Engine{cfg: Config{Store: failingStore{}}, log: slog.New(slog.NewTextHandler(&logs, nil))}
	p := &peer{member: "tuyen-quang"}
	for range 3 { // three pulls
		a := newApplier(e, p)
		go a.run(context.Background())
		if err := a.queue(context.Background(), applyJob{entries: make([]changelog.Entry, 1), cp: changelog.Checkpoint{Origin: "tuyen-quang"}}); err != nil {
			t.Fatal(err)
		}
		a.wait()
	}
	if n := strings.Count(logs.String(), `msg="apply failed"`); n != 1 {
		t.Errorf("%d lines of apply failed for three pulls, want 1:\n%s", n, logs.String())
	}
	if got := p.state().GetLastError(); got != "apply: commit: database or disk is full" {
		t.Errorf("the peer's last error: %q", got)
	}
}

// fullStore is a store whose disk is full, or whose database takes no
// writes: every pull would bring what it cannot keep.
type fullStore struct {
	storage.Store
	diskFull, readOnly time.Time
	origins            atomic.Int32
}

func (s *fullStore) DiskFull() time.Time { return s.diskFull }
func (s *fullStore) ReadOnly() time.Time { return s.readOnly }

func (s *fullStore) Origins(context.Context) ([]storage.OriginState, error) {
	s.origins.Add(1)
	return nil, errors.New("disk full")
}

// TestFullDiskPausesPulls: a follower whose disk filled pulled its whole
// backlog again at every pull, from every peer, to fail to apply it each
// time (an outside test); while its store says the disk is full it pulls
// nothing, and the peer's status says why. So does one whose database
// takes no writes (PostgreSQL left read-only: an outside review).
func TestFullDiskPausesPulls(t *testing.T) {
	since := time.Date(2026, 11, 29, 1, 0, 0, 0, time.UTC)
	t.Run("disk full", func(t *testing.T) {
		pullsPausedBy(t, &fullStore{diskFull: since}, "disk is full since 2026-11-29T01:00:00Z")
	})
	t.Run("read-only", func(t *testing.T) {
		pullsPausedBy(t, &fullStore{readOnly: since}, "database takes no writes since 2026-11-29T01:00:00Z")
	})
}

func pullsPausedBy(t *testing.T, store *fullStore, why string) {
	// The peer is a member, and dialling it is counted: a pull begins
	// there (with the manifest empty, every pull failed before it, and
	// the test could not fail; an outside review).
	var dials atomic.Int32
	m := &federation.Manifest{Members: []federation.Member{{ID: "tuyen-quang", Role: federation.RoleProvince, Address: "127.0.0.1:1"}}}
	dial := func(string, string) (*grpc.ClientConn, error) {
		dials.Add(1)
		return nil, errors.New("no dialling in this test")
	}
	e := &Engine{cfg: Config{Store: store, Interval: 10 * time.Millisecond, Manifest: federation.NewLive(m, nil), Dial: dial}, log: slog.New(slog.DiscardHandler)}
	p := &peer{member: "tuyen-quang", address: "127.0.0.1:1", wake: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.peerLoop(ctx, p); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(p.state().GetLastError(), why) {
		if time.Now().After(deadline) {
			t.Fatalf("the peer's last error: %q, want it to say %q", p.state().GetLastError(), why)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for range 5 { // woken by announcements too
		p.wake <- struct{}{}
	}
	time.Sleep(50 * time.Millisecond) // several intervals, for a pull that should not come
	cancel()
	<-done
	if n, d := store.origins.Load(), dials.Load(); n != 0 || d != 0 {
		t.Errorf("%d pulls began (%d dials), want none: %s", n, d, why)
	}
}

// repairingStore records the copies it is given to repair.
type repairingStore struct {
	storage.Store
	repaired [][]changelog.Entry
}

func (s *repairingStore) Repair(_ context.Context, entries []changelog.Entry, _ changelog.Checkpoint) (int, error) {
	s.repaired = append(s.repaired, entries)
	return len(entries), nil
}

// TestRepairCopyWithAnOverlongNameIsRefused: the copies of a range this
// node asked to repair are refused when one's unsealed name is over
// sync.proto's bound, as the entries of a pull are
// (TestEntryNameOverTheBoundIsRefused), though the origin signed them.
func TestRepairCopyWithAnOverlongNameIsRefused(t *testing.T) {
	m, keys, err := federation.DevFederation([]string{"cao-bang", "tuyen-quang"}, []string{"h:1", "h:2"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	store := &repairingStore{}
	e := &Engine{cfg: Config{Member: "cao-bang", Manifest: federation.NewLive(m, nil), Store: store}, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		peers: map[string]*peer{}, recheck: make(chan struct{}, 1)}
	p := &peer{member: "tuyen-quang"}
	copyOf := func(name string) *syncv1.Repair {
		en := changelog.Entry{Origin: "tuyen-quang", Seq: 1, Name: name, Data: []byte("state"), PrevHash: changelog.ZeroHash}
		en.Hash = changelog.Sum(&en)
		cp := changelog.SignCheckpoint(keys["tuyen-quang"].Signing, "tuyen-quang", 1, en.Hash)
		return &syncv1.Repair{Entries: []*syncv1.Entry{entryToProto(&en)}, Checkpoint: checkpointToProto(cp)}
	}
	for _, c := range []struct {
		name    string
		refused bool
	}{
		{"provinces/tuyen-quang/agreements/" + strings.Repeat("x", maxEntryName), true},
		{"provinces/tuyen-quang/agreements/x", false},
	} {
		store.repaired = nil
		refusedBefore := p.refusedRuns()
		st := &pullState{runs: map[string]*originRun{}, requested: map[repairStart]bool{{"tuyen-quang", 1}: true}, heads: map[string]uint64{}}
		e.receiveRepair(context.Background(), p, st, copyOf(c.name))
		if refused := p.refusedRuns() > refusedBefore; refused != c.refused || refused == (len(store.repaired) > 0) {
			t.Errorf("a copy named with %d characters: refused %v, repaired %d runs; want refused %v", len(c.name), refused, len(store.repaired), c.refused)
		}
	}
	if got := p.state().GetLastError(); !strings.Contains(got, fmt.Sprintf("has a name of %d characters, over the %d an entry may", len("provinces/tuyen-quang/agreements/")+maxEntryName, maxEntryName)) {
		t.Errorf("the refusal says %q", got)
	}
}

// keepingStore counts the checkpoints it is given to keep.
type keepingStore struct {
	storage.Store
	kept int
}

func (s *keepingStore) KeepCheckpoint(context.Context, changelog.Checkpoint) (bool, error) {
	s.kept++
	return true, nil
}

// rotatedFederation is a manifest of cao-bang and tuyen-quang in which
// tuyen-quang rotated its signing key: its current keys, and the retired
// signing key, which the manifest lists as previous.
func rotatedFederation(t testing.TB) (*federation.Manifest, federation.NodeKeys, ed25519.PrivateKey) {
	m, keys, err := federation.DevFederation([]string{"cao-bang", "tuyen-quang"}, []string{"h:1", "h:2"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := federation.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.Members {
		if m.Members[i].ID == "tuyen-quang" {
			m.Members[i].PreviousPublicKeys = []ed25519.PublicKey{m.Members[i].PublicKey}
			m.Members[i].PublicKey = rotated.SigningPublic()
		}
	}
	return m, rotated, keys["tuyen-quang"].Signing
}

// TestHeadCheckpointLookedAtOncePerPull: a checkpoint of the head a node
// holds, other than the one it holds, is looked at once an origin, a pull
// (refreshCheckpoint), as many as a peer sends: a peer sent 200,000 with
// bad signatures in a pull, each verified, none refused (an outside
// review), and each copy of a valid one was a write. One with a bad
// signature is refused as other checkpoints are; the new key's, after a
// rotation, is kept, and a retired key's is passed over.
func TestHeadCheckpointLookedAtOncePerPull(t *testing.T) {
	m, rotated, retired := rotatedFederation(t)
	store := &keepingStore{}
	e := &Engine{cfg: Config{Member: "cao-bang", Manifest: federation.NewLive(m, nil), Store: store}, log: slog.New(slog.NewTextHandler(io.Discard, nil)), peers: map[string]*peer{}}
	p := &peer{member: "tuyen-quang"}
	ap := &applier{e: e, p: p, jobs: make(chan applyJob, 4), done: make(chan struct{}), failed: map[string]bool{}}
	head := changelog.Entry{Origin: "tuyen-quang", Seq: 1, Data: []byte("state"), PrevHash: changelog.ZeroHash}
	head.Hash = changelog.Sum(&head)
	held := changelog.SignCheckpoint(retired, "tuyen-quang", 1, head.Hash) // signed before the rotation
	copies := func(cp changelog.Checkpoint, n int, badSignatures bool) *syncv1.PullResponse {
		resp := &syncv1.PullResponse{}
		for range n {
			c := checkpointToProto(cp)
			if badSignatures {
				c.Signature = make([]byte, 64)
				rand.Read(c.Signature[:32])
			}
			resp.Checkpoints = append(resp.Checkpoints, c)
		}
		return resp
	}
	renewed := changelog.SignCheckpoint(rotated.Signing, "tuyen-quang", 1, head.Hash)
	for _, c := range []struct {
		what          string
		messages      []*syncv1.PullResponse
		refused, kept int
	}{
		{"the new key's, 1,000 times in 2 messages", []*syncv1.PullResponse{copies(renewed, 500, false), copies(renewed, 500, false)}, 0, 1},
		{"the retired key's (a relay that holds no other)", []*syncv1.PullResponse{copies(held, 1, false)}, 0, 0},
		{"1,000 with bad signatures, then the new key's", []*syncv1.PullResponse{copies(renewed, 1000, true), copies(renewed, 1, false)}, 1, 0},
	} {
		store.kept = 0
		refusedBefore := p.refusedRuns()
		st := &pullState{runs: map[string]*originRun{"tuyen-quang": {next: 2, prev: head.Hash, held: held}}, requested: map[repairStart]bool{}, heads: map[string]uint64{}}
		for _, resp := range c.messages {
			if err := e.receive(context.Background(), p, st, resp, ap); err != nil {
				t.Fatal(err)
			}
		}
		if refused := int(p.refusedRuns() - refusedBefore); refused != c.refused || store.kept != c.kept {
			t.Errorf("%s: %d refused, %d kept; want %d refused, %d kept", c.what, refused, store.kept, c.refused, c.kept)
		}
	}
	if got := p.state().GetLastError(); !strings.Contains(got, "checkpoint tuyen-quang/1 of the head this node holds has a bad signature") {
		t.Errorf("the refusal says %q", got)
	}
}

// TestCheckpointsPastTheEntriesAreRefused: a checkpoint signed with its
// origin's own key, for a seq past the entries received, is refused as one
// that does not match them, however far past: one at 2^63+1 was indexed
// into the entries as a negative int, and every node pulling it fell, at
// each start again (an outside review).
func TestCheckpointsPastTheEntriesAreRefused(t *testing.T) {
	m, keys, err := federation.DevFederation([]string{"cao-bang", "tuyen-quang"}, []string{"h:1", "h:2"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{cfg: Config{Member: "cao-bang", Manifest: federation.NewLive(m, nil), Store: &keepingStore{}}, log: slog.New(slog.NewTextHandler(io.Discard, nil)), peers: map[string]*peer{}}
	p := &peer{member: "tuyen-quang"}
	ap := &applier{e: e, p: p, jobs: make(chan applyJob, 4), done: make(chan struct{}), failed: map[string]bool{}}
	first := changelog.Entry{Origin: "tuyen-quang", Seq: 1, Data: []byte("state"), PrevHash: changelog.ZeroHash}
	first.Hash = changelog.Sum(&first)
	for _, seq := range []uint64{2, 1<<31 + 1, 1<<63 + 1, 1<<64 - 1} {
		refusedBefore := p.refusedRuns()
		cp := changelog.SignCheckpoint(keys["tuyen-quang"].Signing, "tuyen-quang", seq, first.Hash)
		resp := &syncv1.PullResponse{Entries: []*syncv1.Entry{entryToProto(&first)}, Checkpoints: []*syncv1.Checkpoint{checkpointToProto(cp)}}
		st := &pullState{runs: map[string]*originRun{"tuyen-quang": {next: 1, prev: changelog.ZeroHash}}, requested: map[repairStart]bool{}, heads: map[string]uint64{}}
		if err := e.receive(context.Background(), p, st, resp, ap); err != nil {
			t.Fatal(err)
		}
		if p.refusedRuns() != refusedBefore+1 || len(ap.jobs) != 0 {
			t.Errorf("checkpoint at %d over an entry at 1: %d refused, %d runs queued; want it refused, none queued", seq, p.refusedRuns()-refusedBefore, len(ap.jobs))
		}
		if got, want := p.state().GetLastError(), fmt.Sprintf("checkpoint tuyen-quang/%d does not match the entries received", seq); !strings.Contains(got, want) {
			t.Errorf("the refusal says %q, want %q", got, want)
		}
	}
}

// TestPullThatPanicsFailsAlone: a fault a pull reaches fails that pull,
// logged with its stack, and the node stays up (here the store's Origins
// panics, as no peer's message can make it do; a checkpoint's seq did
// reach such a fault in receive, TestCheckpointsPastTheEntriesAreRefused).
func TestPullThatPanicsFailsAlone(t *testing.T) {
	m, _, err := federation.DevFederation([]string{"cao-bang", "tuyen-quang"}, []string{"h:1", "h:2"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	e := &Engine{cfg: Config{Member: "cao-bang", Manifest: federation.NewLive(m, nil), Store: &keepingStore{},
		Dial: func(_, addr string) (*grpc.ClientConn, error) {
			return grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		}}, log: slog.New(slog.NewTextHandler(&logged, nil)), peers: map[string]*peer{}}
	p := &peer{member: "tuyen-quang"}
	t.Cleanup(func() {
		if p.conn != nil {
			p.conn.Close()
		}
	})
	err = e.pullFrom(context.Background(), p, "pull-that-panics")
	if err == nil || !strings.Contains(err.Error(), "fault of this node's") {
		t.Fatalf("a pull that panicked: %v, want its failure", err)
	}
	if !strings.Contains(logged.String(), "a pull from a peer failed on a fault") || !strings.Contains(logged.String(), "stack=") ||
		!strings.Contains(logged.String(), "request_id=pull-that-panics") {
		t.Errorf("the fault's log line: %q", logged.String())
	}
}
