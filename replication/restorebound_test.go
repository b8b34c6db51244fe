package replication_test

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/provex/provex/changelog"
	"github.com/provex/provex/federation"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	"github.com/provex/provex/replication"
	"github.com/provex/provex/server"
)

// floodingPeer is a member gone bad: on every pull it streams new entries
// of its own log, each signed (checkpoint) with its key from the
// manifest, one message every tick, without end.
type floodingPeer struct {
	syncv1.UnimplementedSyncServiceServer
	t     *testing.T
	f     *testFederation
	self  string
	tick  time.Duration
	sent  atomic.Int64
	pulls atomic.Int64
}

func (s *floodingPeer) Announce(context.Context, *syncv1.AnnounceRequest) (*syncv1.AnnounceResponse, error) {
	return &syncv1.AnnounceResponse{}, nil
}

func (s *floodingPeer) Pull(req *syncv1.PullRequest, stream grpc.ServerStreamingServer[syncv1.PullResponse]) error {
	s.pulls.Add(1)
	seq, prev := uint64(0), changelog.ZeroHash
	for _, h := range req.GetHave() {
		if h.GetOrigin() == s.self {
			seq, prev = h.GetSeq(), h.GetHash()
		}
	}
	return sendEvery(stream, s.tick, &s.sent, func() *syncv1.PullResponse {
		seq++
		entry, cp := forgedNext(s.t, s.self, seq, prev, s.f.keys[s.self].Signing)
		prev = entry.GetHash()
		return &syncv1.PullResponse{Entries: []*syncv1.Entry{entry}, Checkpoints: []*syncv1.Checkpoint{cp}}
	})
}

// sendEvery sends next's message every tick, counting each in sent, until
// the stream ends.
func sendEvery(stream grpc.ServerStreamingServer[syncv1.PullResponse], every time.Duration, sent *atomic.Int64, next func() *syncv1.PullResponse) error {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if err := stream.Send(next()); err != nil {
			return err
		}
		sent.Add(1)
		select {
		case <-tick.C:
		case <-stream.Context().Done():
			return stream.Context().Err()
		}
	}
}

// TestRestoreMovesOnFromAMemberSendingWithoutEnd: lang-son (p2) is a
// member gone bad, with its valid key and certificate, that streams valid
// entries of its own log without end, each one new. cao-bang (p1) is
// restored; nghe-an (p3), honest, holds p1's log. p2 sorts before p3, so
// the restore asks it first: it never ended, never asked p3, and left the
// node's writes held for good (an outside review). The pull from p2 is
// now cut short past p1's own log, p3 is asked, and the node writes at
// once.
func TestRestoreMovesOnFromAMemberSendingWithoutEnd(t *testing.T) {
	replication.SetRestoreOthersFor(t, time.Second)
	f := newFederation(t, []string{p1, p2, p3}, map[string][]string{p1: {p3}, p3: {p1}})
	f.start(p1)
	f.start(p3)
	createAgreements(t, f.nodes[p1], 4, "real")
	f.waitConverged(t, map[string]uint64{p1: 4}, 10*time.Second)
	f.stop(p1)
	flood := &floodingPeer{t: t, f: f, self: p2, tick: 10 * time.Millisecond}
	f.peerServer(t, p2, flood)

	n := f.nodes[p1]
	n.dir = t.TempDir()
	cert := f.cert(p1)
	res := restoreWithin(t, server.Config{Member: p1, DataDir: n.dir, Keys: f.keys[p1], Manifest: f.manifest, Cert: &cert}, func() string {
		return fmt.Sprintf("%s sent %d entries of its own log in %d pull(s)", p2, flood.sent.Load(), flood.pulls.Load())
	})
	if res.Held != "" || res.Head != 4 || len(res.Unreached) != 0 || !slices.Contains(res.Reached, p3) {
		t.Fatalf("restore: head %d, held %q, reached %v, unreached %v", res.Head, res.Held, res.Reached, res.Unreached)
	}
	if why, cut := res.CutShort[p2]; !cut || !strings.Contains(why, "cut short") {
		t.Errorf("%s not reported cut short: %v", p2, res.CutShort)
	}
	if _, cut := res.CutShort[p3]; cut {
		t.Errorf("the honest %s reported cut short: %v", p3, res.CutShort)
	}
	if flood.sent.Load() == 0 {
		t.Fatalf("%s sent nothing: the restore did not pull from it", p2)
	}
	a := f.start(p1)
	if err := tryCreate(a, "after-restore"); err != nil {
		t.Fatalf("a write after the restore: %v", err)
	}
}

// TestRestoreKeepsTheDiskReserve: a restore kept no room on the disk (its
// engine had no NoRoom), and a member writing without end filled it (an
// outside review). Given a reserve the disk cannot hold, it now pulls
// nothing and stops, saying why; the store it leaves refuses writes as a
// restore that did not finish; run again with room, it finishes.
func TestRestoreKeepsTheDiskReserve(t *testing.T) {
	members := []string{p1, p2}
	f := newFederation(t, members, mesh(members))
	if f.nodes[p1].store != "" {
		t.Skip("a store on PostgreSQL keeps no reserve")
	}
	f.startAll()
	createAgreements(t, f.nodes[p1], 3, "a")
	f.waitConverged(t, map[string]uint64{p1: 3}, 10*time.Second)
	f.stop(p1)
	n := f.nodes[p1]
	n.dir = t.TempDir()
	cert := f.cert(p1)
	_, err := server.Restore(context.Background(), server.Config{Member: p1, DataDir: n.dir, Keys: f.keys[p1], Manifest: f.manifest, Cert: &cert,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), DiskReserve: 1 << 50}, server.RestoreOptions{})
	if err == nil || !strings.Contains(err.Error(), "MiB it keeps for its own writes") || !strings.Contains(err.Error(), "run provex restore again") {
		t.Fatalf("a restore without the room it keeps: %v, want it stopped saying why", err)
	}
	// Counted in the file before the node starts: started, it may pull
	// its own entries from its peer before a look at its sync state.
	raw, err := sql.Open("sqlite3", "file:"+filepath.Join(n.dir, server.DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	var stored int
	if err := raw.QueryRow("SELECT count(*) FROM changes WHERE origin = ?", p1).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if stored != 0 {
		t.Errorf("the restore without room stored %d entries of %s's log", stored, p1)
	}
	a := f.start(p1)
	if err := tryCreate(a, "too-soon"); status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "did not finish") {
		t.Fatalf("a write on the store of a restore stopped for want of room: %v, want UNAVAILABLE", err)
	}
	f.stop(p1)
	got, err := f.restore(t, p1, false, server.RestoreOptions{})
	if err != nil {
		t.Fatalf("the restore run again with room: %v", err)
	}
	if got.Held != "" || got.Head != 3 {
		t.Fatalf("the restore run again with room: head %d, held %q", got.Head, got.Held)
	}
}

// ownLogScanningPeer is a member gone bad that holds the retired key of
// the node it serves (it is what the node rotated from): it streams
// made-up entries of the node's own log, with one checkpoint of them
// signed by that key, one entry every tick, without end. No message
// carries another origin.
type ownLogScanningPeer struct {
	syncv1.UnimplementedSyncServiceServer
	t       *testing.T
	victim  string
	retired ed25519.PrivateKey
	tick    time.Duration
	sent    atomic.Int64
}

func (s *ownLogScanningPeer) Announce(context.Context, *syncv1.AnnounceRequest) (*syncv1.AnnounceResponse, error) {
	return &syncv1.AnnounceResponse{}, nil
}

func (s *ownLogScanningPeer) Pull(req *syncv1.PullRequest, stream grpc.ServerStreamingServer[syncv1.PullResponse]) error {
	seq, prev := uint64(0), changelog.ZeroHash
	next := func() (*syncv1.Entry, *syncv1.Checkpoint) {
		seq++
		entry, cp := forgedNext(s.t, s.victim, seq, prev, s.retired)
		prev = entry.GetHash()
		return entry, cp
	}
	e1, _ := next()
	e2, cp := next()
	if err := stream.Send(&syncv1.PullResponse{Entries: []*syncv1.Entry{e1, e2}, Checkpoints: []*syncv1.Checkpoint{cp}}); err != nil {
		return err
	}
	// Past what a pull holds: the rest is scanned (proven.go).
	var batch []*syncv1.Entry
	for range 200 {
		e, _ := next()
		batch = append(batch, e)
	}
	if err := stream.Send(&syncv1.PullResponse{Entries: batch}); err != nil {
		return err
	}
	return sendEvery(stream, s.tick, &s.sent, func() *syncv1.PullResponse {
		e, _ := next()
		return &syncv1.PullResponse{Entries: []*syncv1.Entry{e}}
	})
}

// TestRestoreMovesOnFromAMemberScanningItsOwnLog: cao-bang (p1) rotated
// its key and is restored; lang-son (p2), a member gone bad that holds
// p1's retired key, sends made-up entries of p1's own log with a
// checkpoint of that key, past what a pull holds. Each entry scanned
// counted as taken in, and no message carried another origin, so neither
// the pull's idle bound nor the restore's bound past the own log ever
// ended it: the restore stayed on p2's pull for up to 50 million entries
// and never asked nghe-an (p3), who holds p1's log (an outside review).
// A restore's scan of its own log is now taken in only once the current
// key proves it: p2's pull ends idle, and p3 gives the log.
func TestRestoreMovesOnFromAMemberScanningItsOwnLog(t *testing.T) {
	replication.SetRestoreOthersFor(t, time.Second)
	replication.SetPullIdle(t, 2*time.Second)
	replication.SetMaxPendingBytes(t, 4096) // scanning at once (64 MiB otherwise)
	f, fedKey := signedFederation(t, []string{p1, p2, p3}, map[string][]string{p1: {p3}, p3: {p1}})
	keyFile := f.withKeyFile(p1)
	origin := f.start(p1)
	f.start(p3)
	createAgreements(t, origin, 4, "real")
	f.waitConverged(t, map[string]uint64{p1: 4}, 10*time.Second)
	retired := f.keys[p1].Signing
	rotated, err := federation.RotateKeys(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	m2 := rotateMember(t, f.manifest, fedKey, p1, f.keys[p1].SigningPublic(), rotated)
	if err := origin.node.OfferManifest(m2); err != nil {
		t.Fatal(err)
	}
	f.manifest = m2
	eventually(t, 30*time.Second, func() (bool, string) {
		held, err := f.nodes[p3].node.Store().Checkpoint(context.Background(), p1, 4)
		return err == nil && held.Seq == 4 && held.Verify(rotated.SigningPublic()), fmt.Sprintf("%s holds no checkpoint of %s's head of its new key (%d, %v)", p3, p1, held.Seq, err)
	})
	f.stop(p1)
	hostile := &ownLogScanningPeer{t: t, victim: p1, retired: retired, tick: 100 * time.Millisecond}
	f.peerServer(t, p2, hostile)

	cert := f.cert(p1)
	res := restoreWithin(t, server.Config{Member: p1, DataDir: t.TempDir(), Keys: rotated, Manifest: m2, Cert: &cert}, func() string {
		return fmt.Sprintf("(pull idle 2 s, bound past the own log 1 s): %s sent %d made-up entries of %s's own log", p2, hostile.sent.Load(), p1)
	})
	if res.Head != 4 || !slices.Contains(res.Reached, p3) {
		t.Fatalf("restore: head %d, reached %v, unreached %v, cut short %v", res.Head, res.Reached, res.Unreached, res.CutShort)
	}
	if why := res.Unreached[p2]; !strings.Contains(why, "nothing new") {
		t.Errorf("%s, which sent only made-up entries of %s's own log, not reported unreached for it: %v", p2, p1, res.Unreached)
	}
	if hostile.sent.Load() == 0 {
		t.Fatalf("%s sent nothing: the restore did not pull from it", p2)
	}
}

// restoreWithin restores the node cfg names (logging nothing) and returns
// what the restore says, failing when it fails or has not ended within a
// minute, saying what stuck says.
func restoreWithin(t *testing.T, cfg server.Config, stuck func() string) *server.RestoreResult {
	t.Helper()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		res *server.RestoreResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := server.Restore(ctx, cfg, server.RestoreOptions{})
		done <- result{res, err}
	}()
	var got result
	select {
	case got = <-done:
	case <-time.After(60 * time.Second):
		cancel()
		<-done
		t.Fatalf("the restore did not end within a minute: %s", stuck())
	}
	if got.err != nil {
		t.Fatal(got.err)
	}
	return got.res
}
