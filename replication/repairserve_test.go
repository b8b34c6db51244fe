package replication_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"math"
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
	"github.com/provex/provex/internal/testlog"
	"github.com/provex/provex/replication"
	"github.com/provex/provex/server"
)

// TestRepairServesNoRemovedMembersLog: a node still holds the log of a
// member the manifest no longer lists. A plain pull passes that log over
// (N3), and so does a request to repair a range of it: any member could
// otherwise pull a removed member's whole log, range by range.
func TestRepairServesNoRemovedMembersLog(t *testing.T) {
	f, fedKey := signedFederation(t, []string{p1, p2, mofa}, map[string][]string{p1: {p2}})
	f.start(p2)
	n := f.start(p1)
	createAgreements(t, f.nodes[p2], 5, "gone")
	eventually(t, 20*time.Second, func() (bool, string) {
		o := n.origin(t, p2)
		return o.GetSeq() == 5 && o.GetCheckpoint().GetSeq() == 5, fmt.Sprintf("%s holds %s up to %d", p1, p2, o.GetSeq())
	})
	count := func(req *syncv1.PullRequest) (entries, copies int) {
		t.Helper()
		st, err := f.peerClient(t, n, mofa).Pull(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		for {
			r, err := st.Recv()
			if err != nil {
				return
			}
			for _, e := range r.GetEntries() {
				if e.GetOrigin() == p2 {
					entries++
				}
			}
			copies += len(r.GetRepair().GetEntries())
		}
	}
	repair := []*syncv1.Range{{Origin: p2, First: 1, Last: 5}}
	// While p2 is a member, the copies are served: the check below can fail.
	if _, copies := count(&syncv1.PullRequest{Member: mofa, ManifestSerial: uint64(f.manifest.Serial), Repair: repair}); copies != 5 {
		t.Fatalf("%d copies of a member's range 1-5 served, want 5", copies)
	}
	f.stop(p2)
	f.stop(p1)
	f.manifest = nextManifest(t, f.manifest, fedKey, func(m *federation.Manifest) {
		if err := m.RemoveMember(p2); err != nil {
			t.Fatal(err)
		}
	})
	f.peers[p1] = nil
	n = f.start(p1)
	serial := uint64(f.manifest.Serial)
	entries, _ := count(&syncv1.PullRequest{Member: mofa, ManifestSerial: serial})
	_, copies := count(&syncv1.PullRequest{Member: mofa, ManifestSerial: serial, Repair: repair})
	if entries != 0 || copies != 0 {
		t.Errorf("%s served %d entries and %d repair copies of %s, which the manifest no longer lists", p1, entries, copies, p2)
	}
}

// TestRepairOfRangesThatAreNotOnesLoggedOnce: a pull may ask to repair 64
// ranges, and a member can make each one that is not a range; the node
// logs that once, not once a range of every pull, and the pull goes on.
// Sequence numbers past int64's, which no log reaches, are not ones
// either: the store could not look them up, and each such pull failed
// INTERNAL with an ERROR line (an outside review).
func TestRepairOfRangesThatAreNotOnesLoggedOnce(t *testing.T) {
	f := newFederation(t, []string{p1, mofa}, map[string][]string{})
	var logs testlog.Buffer
	f.nodes[p1].logs = &logs
	n := f.start(p1)
	c := f.peerClient(t, n, mofa)
	var bogus []*syncv1.Range
	for i := range 62 {
		bogus = append(bogus, &syncv1.Range{Origin: fmt.Sprint("origin-", i), First: 0, Last: 0})
	}
	bogus = append(bogus, &syncv1.Range{Origin: p1, First: 1 << 63, Last: 1<<63 + 5}, &syncv1.Range{Origin: p1, First: math.MaxUint64 - 1, Last: math.MaxUint64})
	for range 20 {
		st, err := c.Pull(context.Background(), &syncv1.PullRequest{Member: mofa, ManifestSerial: uint64(f.manifest.Serial), Repair: bogus})
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err = st.Recv(); err != nil {
				break
			}
		}
		if err != io.EOF {
			t.Fatalf("a pull asking to repair ranges that are not ones: %v", err)
		}
	}
	if got := strings.Count(logs.String(), "peer asked to repair a range that is not one"); got != 1 {
		t.Errorf("20 pulls asking to repair 64 ranges that are not ones logged %d lines, want 1", got)
	}
}

// liarPeer answers every pull with an entry of its own log that does not
// verify, or, with fail set, fails it with an error of new text each time.
type liarPeer struct {
	syncv1.UnimplementedSyncServiceServer
	origin string
	fail   bool
	pulls  atomic.Int64
}

func (l *liarPeer) Announce(context.Context, *syncv1.AnnounceRequest) (*syncv1.AnnounceResponse, error) {
	return &syncv1.AnnounceResponse{}, nil
}

func (l *liarPeer) Pull(_ *syncv1.PullRequest, stream grpc.ServerStreamingServer[syncv1.PullResponse]) error {
	n := l.pulls.Add(1)
	if l.fail {
		return status.Errorf(codes.Unavailable, "busy #%d %s", n, strings.Repeat("x", 4000))
	}
	e := &syncv1.Entry{Origin: l.origin, Seq: 1, Hlc: 1, Name: "provinces/" + l.origin + "/agreements/a", Data: []byte("x"),
		PrevHash: make([]byte, 32), Hash: bytes.Repeat([]byte{byte(n)}, 32)}
	return stream.Send(&syncv1.PullResponse{Entries: []*syncv1.Entry{e},
		Checkpoints: []*syncv1.Checkpoint{{Origin: l.origin, Seq: 1, Hash: e.Hash, Signature: make([]byte, 64)}}})
}

// TestAnnouncementsOfAFailingPeerWakeNoPulls: a member announces news
// every few milliseconds, and answers each pull with entries that do not
// verify, or with a new error each time. Each announcement made the node
// pull from it at once, refuse or fail, and log a line: 1,200 pulls and
// lines in 5 s (an outside review). Such a peer is now pulled from at the
// sync interval (300 ms here), and its refusals and failures fill no log.
func TestAnnouncementsOfAFailingPeerWakeNoPulls(t *testing.T) {
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprint("fail=", fail), func(t *testing.T) {
			f := newFederation(t, []string{p1, p2}, map[string][]string{p1: {p2}})
			liar := &liarPeer{origin: p2, fail: fail}
			f.peerServer(t, p2, liar)
			var logs testlog.Buffer
			f.nodes[p1].logs = &logs
			n := f.start(p1)
			c := f.peerClient(t, n, p2)
			const lasting = 3 * time.Second
			for start := time.Now(); time.Since(start) < lasting; time.Sleep(2 * time.Millisecond) {
				if _, err := c.Announce(context.Background(), &syncv1.AnnounceRequest{Member: p2}); err != nil {
					t.Fatal(err)
				}
			}
			// 3 s at 300 ms, less 20% of jitter, and the first pull.
			if pulls := liar.pulls.Load(); pulls < 2 || pulls > 14 {
				t.Errorf("%d pulls from a failing peer that announced every 2 ms for %v, want one every 240-360 ms", pulls, lasting)
			}
			// Refusals of its entries are logged once; failures of new
			// text each time, at most 10 every 10 minutes.
			linesLogged := 1
			if fail {
				linesLogged = 10
			}
			if lines := strings.Count(logs.String(), "peer="+p2); lines > linesLogged {
				t.Errorf("%d lines logged of a failing peer in %v, want at most %d:\n%s", lines, lasting, linesLogged, logs.String())
			}
		})
	}
}

// stallingPeer answers a pull with one message and then nothing, the
// stream kept open.
type stallingPeer struct {
	syncv1.UnimplementedSyncServiceServer
	pulls atomic.Int64
}

func (s *stallingPeer) Announce(context.Context, *syncv1.AnnounceRequest) (*syncv1.AnnounceResponse, error) {
	return &syncv1.AnnounceResponse{}, nil
}

func (s *stallingPeer) Pull(_ *syncv1.PullRequest, stream grpc.ServerStreamingServer[syncv1.PullResponse]) error {
	s.pulls.Add(1)
	if err := stream.Send(&syncv1.PullResponse{}); err != nil {
		return err
	}
	<-stream.Context().Done()
	return stream.Context().Err()
}

// TestStalledPullFails: a peer that answers a pull with one message and
// then nothing held the pull, and the node's loop for that peer, for
// good, its status saying nothing (an outside review). The pull fails
// after pullIdle (5 minutes; 500 ms here), saying so, and the next
// begins.
func TestStalledPullFails(t *testing.T) {
	replication.SetPullIdle(t, 500*time.Millisecond)
	f := newFederation(t, []string{p1, p2}, map[string][]string{p1: {p2}})
	staller := &stallingPeer{}
	f.peerServer(t, p2, staller)
	n := f.start(p1)
	eventually(t, 10*time.Second, func() (bool, string) {
		st := n.peerState(t, p2)
		return staller.pulls.Load() >= 2 && strings.Contains(st.GetLastError(), "sent nothing new for 500ms"),
			fmt.Sprintf("%d pulls of a stalling peer; its status: %v", staller.pulls.Load(), st)
	})
}

// tricklingPeer answers a pull with a message every 100 ms that brings
// nothing to take in: empty, or the same entry of an origin the manifest
// does not list.
type tricklingPeer struct {
	syncv1.UnimplementedSyncServiceServer
	pulls atomic.Int64
	// forged, when set, makes each message bring an entry of p2's log
	// linked to the last, made up, which no checkpoint ever proves.
	forged bool
}

func (s *tricklingPeer) Announce(context.Context, *syncv1.AnnounceRequest) (*syncv1.AnnounceResponse, error) {
	return &syncv1.AnnounceResponse{}, nil
}

func (s *tricklingPeer) Pull(req *syncv1.PullRequest, stream grpc.ServerStreamingServer[syncv1.PullResponse]) error {
	s.pulls.Add(1)
	stranger := &syncv1.Entry{Origin: "atlantis", Seq: 1, Data: []byte("x")}
	seq, prev := uint64(0), changelog.ZeroHash
	for _, h := range req.GetHave() {
		if h.GetOrigin() == p2 {
			seq, prev = h.GetSeq(), h.GetHash()
		}
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-stream.Context().Done():
			return stream.Context().Err()
		case <-tick.C:
		}
		resp := &syncv1.PullResponse{}
		switch {
		case s.forged:
			seq++
			e := changelog.Entry{Origin: p2, Seq: seq, HLC: int64(seq), Name: fmt.Sprintf("provinces/%s/agreements/x%d", p2, seq), Data: []byte("made up"), PrevHash: prev}
			e.Hash = changelog.Sum(&e)
			prev = e.Hash
			resp.Entries = []*syncv1.Entry{{Origin: e.Origin, Seq: e.Seq, Hlc: e.HLC, Name: e.Name, Data: e.Data, PrevHash: e.PrevHash, Hash: e.Hash}}
		case i%2 == 1:
			resp.Entries = []*syncv1.Entry{stranger}
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

// TestTricklingPullFails: a peer that sent a message bringing nothing a
// little more often than pullIdle held the pull open for good, its status
// saying nothing (an outside review): the idle wait began again at each
// message. It runs from the last message that brought something to take
// in, so such a pull fails as a silent one does (TestStalledPullFails).
// Entries that link to the last but that no checkpoint proves are not
// taken in: made up, one every few minutes, they held a pull for good,
// and each refreshed the peer's contact (a second review).
func TestTricklingPullFails(t *testing.T) {
	replication.SetPullIdle(t, 500*time.Millisecond)
	for _, forged := range []bool{false, true} {
		t.Run(fmt.Sprintf("forged=%v", forged), func(t *testing.T) {
			f := newFederation(t, []string{p1, p2}, map[string][]string{p1: {p2}})
			trickler := &tricklingPeer{forged: forged}
			f.peerServer(t, p2, trickler)
			n := f.start(p1)
			eventually(t, 10*time.Second, func() (bool, string) {
				st := n.peerState(t, p2)
				return trickler.pulls.Load() >= 2 && strings.Contains(st.GetLastError(), "sent nothing new for 500ms") && st.GetLastContact() == nil,
					fmt.Sprintf("%d pulls of a trickling peer; its status: %v", trickler.pulls.Load(), st)
			})
		})
	}
}

// TestRepairCopiesFoundDamagedMidSend: a relay's copy of a range loses an
// entry past its first checkpoint while it runs, unfound by its checks. A
// peer asks to repair a range across it: the copies up to the damage
// went, and the whole pull failed, at every pull, the relay's damage
// unrecorded (an outside review), so a node pulling only from that relay
// got nothing else either. The relay records the damage, ends that
// pull's repairs (the peer drops copies left without their checkpoint)
// and serves the rest; the next pulls pass the damaged range over.
func TestRepairCopiesFoundDamagedMidSend(t *testing.T) {
	f := newFederation(t, []string{p1, p2, mofa}, map[string][]string{p2: {p1}})
	f.logCheck, f.logScrub = 200*time.Millisecond, time.Hour
	f.start(p1)
	relay := f.start(p2)
	createAgreements(t, f.nodes[p1], 10, "r")
	eventually(t, 20*time.Second, func() (bool, string) {
		o := relay.origin(t, p1)
		return o.GetSeq() == 10 && o.GetVerifiedSeq() == 10, fmt.Sprintf("relay holds %s up to %d, verified %d", p1, o.GetSeq(), o.GetVerifiedSeq())
	})
	f.stop(p1)
	raw, err := sql.Open("sqlite3", "file:"+filepath.Join(f.nodes[p2].dir, server.DatabaseFile)+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var first uint64
	if err := raw.QueryRow("SELECT min(seq) FROM checkpoints WHERE origin = ? AND seq >= 2", p1).Scan(&first); err != nil || first >= 9 {
		t.Fatalf("the relay's first checkpoint of %s from 2 on: %d (%v), want one before 9", p1, first, err)
	}
	// The disk loses an entry past that checkpoint while the relay runs.
	lost := first + 1
	if _, err := raw.Exec("DELETE FROM changes WHERE origin = ? AND seq = ?", p1, lost); err != nil {
		t.Fatal(err)
	}
	c := f.peerClient(t, relay, mofa)
	for try := range 3 {
		st, err := c.Pull(context.Background(), &syncv1.PullRequest{Member: mofa, ManifestSerial: uint64(f.manifest.Serial),
			Repair: []*syncv1.Range{{Origin: p1, First: 2, Last: 10}, {Origin: p1, First: 1, Last: 1}}})
		if err != nil {
			t.Fatal(err)
		}
		copies, entries := 0, 0
		for {
			r, err := st.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("pull %d failed: %v", try, err)
			}
			copies += len(r.GetRepair().GetEntries())
			entries += len(r.GetEntries())
		}
		if entries == 0 {
			t.Errorf("pull %d: no entries served after the repair copies", try)
		}
		if try > 0 && copies > 0 {
			t.Errorf("pull %d: %d copies of a range the relay knows damaged", try, copies)
		}
		if try == 0 && !slices.ContainsFunc(relay.origin(t, p1).GetDamaged(), func(d *syncv1.Damage) bool {
			return d.GetRange().GetFirst() <= lost && lost <= d.GetRange().GetLast()
		}) {
			t.Errorf("the relay did not record entry %d missing: %v", lost, relay.origin(t, p1).GetDamaged())
		}
	}
}

// TestNodeWhosePullsAllFailSaysItIsCutOff: a node whose every peer is away
// (or a removed member, or refuses it) takes in no other node's write;
// its health said ok. Once every peer's pulls have failed for the bound,
// its health says so (sync status tells each peer's error); one peer that
// works again clears it.
func TestNodeWhosePullsAllFailSaysItIsCutOff(t *testing.T) {
	replication.SetIsolatedAfter(t, time.Second)
	f := newFederation(t, []string{p1, p2}, map[string][]string{p1: {p2}})
	n := f.start(p1)
	eventually(t, 20*time.Second, func() (bool, string) {
		problems := strings.Join(n.node.Problems(context.Background()), "; ")
		return strings.Contains(problems, "no pull from any of this node's 1 peers has worked"), problems
	})
	f.start(p2)
	eventually(t, 20*time.Second, func() (bool, string) {
		problems := strings.Join(n.node.Problems(context.Background()), "; ")
		return !strings.Contains(problems, "no pull from any"), problems
	})
}

// hostilePeer fails every pull with a status whose message it chooses.
type hostilePeer struct {
	syncv1.UnimplementedSyncServiceServer
	message string
	pulls   atomic.Int64
}

func (s *hostilePeer) Announce(context.Context, *syncv1.AnnounceRequest) (*syncv1.AnnounceResponse, error) {
	return &syncv1.AnnounceResponse{}, nil
}

func (s *hostilePeer) Pull(*syncv1.PullRequest, grpc.ServerStreamingServer[syncv1.PullResponse]) error {
	s.pulls.Add(1)
	return status.Error(codes.PermissionDenied, s.message)
}

// TestPeersErrorTextIsBoundedAndNotShownToAnyone: a member whose every
// answer was a status of its choosing (markup, a terminal's escapes, lines
// of its own, megabytes) had it kept whole in the peer's status, logged
// whole, and shown raw in each anonymous /healthz once the node was cut
// off: 12 MB answers, fake "ok" lines, the peer's name and address (an
// outside review). The status keeps it bounded and escaped, the log too,
// and /healthz says the node is cut off without naming a peer or its text.
func TestPeersErrorTextIsBoundedAndNotShownToAnyone(t *testing.T) {
	replication.SetIsolatedAfter(t, time.Second)
	f := newFederation(t, []string{p1, p2}, map[string][]string{p1: {p2}})
	hostile := &hostilePeer{message: "<script>alert(1)</script>\x1b[2J\x07\r\nok\n- problem\x00" + strings.Repeat("A", 1<<20)}
	f.peerServer(t, p2, hostile)
	var logs testlog.Buffer
	f.nodes[p1].logs = &logs
	n := f.start(p1)
	var health string
	eventually(t, 20*time.Second, func() (bool, string) {
		health = healthz(t, n)
		return strings.Contains(health, "no pull from any of this node's 1 peers has worked"), health
	})
	if len(health) > 1024 {
		t.Errorf("/healthz of a node cut off is %d bytes", len(health))
	}
	p2Addr := f.nodes[p2].addr
	host := p2Addr[:strings.LastIndex(p2Addr, ":")]
	for _, leak := range []string{"<script>", "\x1b", "\r", "\x00", "AAAA", "- problem", p2, host} {
		if strings.Contains(health, leak) {
			t.Errorf("the anonymous /healthz holds %q:\n%s", leak, health)
		}
	}
	if want := "200 degraded\n- no pull from any"; !strings.HasPrefix(health, want) || strings.Count(health, "\n") != 2 {
		t.Errorf("/healthz: %q, want one problem line after %q", health, want)
	}

	last := n.peerState(t, p2).GetLastError()
	if len(last) > 512 || !strings.Contains(last, "<script>alert(1)</script>\\x1b[2J\\a\\r\\nok\\n- problem\\x00AAA") || !strings.HasSuffix(last, " bytes in all)") {
		t.Errorf("the peer's last error (%d bytes): %.600q; want it escaped, cut and marked so", len(last), last)
	}
	for line := range strings.Lines(logs.String()) {
		if len(line) > 1024 || strings.ContainsAny(strings.TrimSuffix(line, "\n"), "\x1b\x07\r\n\x00") {
			t.Errorf("a log line of %d bytes: %.300q", len(line), line)
		}
	}
	if !strings.Contains(logs.String(), "pull failed") {
		t.Errorf("the failing pulls were not logged: %.1000s", logs.String())
	}
}
