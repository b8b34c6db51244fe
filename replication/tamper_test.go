package replication_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/changelog"
	"github.com/provex/provex/federation"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
)

// fakePeer is a lying member: it serves the honest origin's entries (taken
// from a real pull), changed by tamper, to whoever pulls from it.
type fakePeer struct {
	syncv1.UnimplementedSyncServiceServer
	origin string
	// tamper changes the entries from seq tamperFrom on, and the checkpoint
	// that closes them.
	tamper func(entries []*syncv1.Entry, cp *syncv1.Checkpoint) ([]*syncv1.Entry, *syncv1.Checkpoint)

	mu      sync.Mutex
	entries []*syncv1.Entry               // the origin's honest log, seq 1 ... in order
	cps     map[uint64]*syncv1.Checkpoint // its honest checkpoints by seq
	lying   bool
	served  atomic.Int64 // pulls answered with tampered entries
}

// tamperFrom is the first seq the fake lies about; it passes the entries
// before it on honestly, with their checkpoint.
const tamperFrom = 7

func (p *fakePeer) Announce(context.Context, *syncv1.AnnounceRequest) (*syncv1.AnnounceResponse, error) {
	return &syncv1.AnnounceResponse{}, nil
}

func (p *fakePeer) Pull(req *syncv1.PullRequest, stream grpc.ServerStreamingServer[syncv1.PullResponse]) error {
	p.mu.Lock()
	lying, all, cps := p.lying, p.entries, p.cps
	p.mu.Unlock()
	if !lying {
		return nil
	}
	var from uint64
	for _, h := range req.GetHave() {
		if h.GetOrigin() == p.origin {
			from = h.GetSeq()
		}
	}
	var honest, rest []*syncv1.Entry
	for _, e := range all {
		switch {
		case e.GetSeq() <= from:
		case e.GetSeq() < tamperFrom:
			honest = append(honest, proto.Clone(e).(*syncv1.Entry))
		default:
			rest = append(rest, proto.Clone(e).(*syncv1.Entry))
		}
	}
	if len(honest) > 0 {
		last := honest[len(honest)-1].GetSeq()
		if err := stream.Send(&syncv1.PullResponse{Entries: honest, Checkpoints: []*syncv1.Checkpoint{cps[last]}}); err != nil {
			return err
		}
	}
	if len(rest) == 0 {
		return nil
	}
	entries, cp := p.tamper(rest, proto.Clone(cps[rest[len(rest)-1].GetSeq()]).(*syncv1.Checkpoint))
	p.served.Add(1)
	return stream.Send(&syncv1.PullResponse{Entries: entries, Checkpoints: []*syncv1.Checkpoint{cp}})
}

// load takes origin's whole log, with a checkpoint per entry, from a real
// node, as member would get it.
func (p *fakePeer) load(t *testing.T, f *testFederation, from *testNode, member string) {
	t.Helper()
	stream, err := f.peerClient(t, from, member).Pull(context.Background(), &syncv1.PullRequest{Member: member, BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	var entries []*syncv1.Entry
	cps := map[uint64]*syncv1.Checkpoint{}
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range resp.GetEntries() {
			if e.GetOrigin() == p.origin {
				entries = append(entries, e)
			}
		}
		for _, c := range resp.GetCheckpoints() {
			if c.GetOrigin() == p.origin {
				cps[c.GetSeq()] = c
			}
		}
	}
	for i, e := range entries {
		if e.GetSeq() != uint64(i+1) || cps[e.GetSeq()] == nil {
			t.Fatalf("honest log of %s: entry %d has seq %d, checkpoint %v", p.origin, i, e.GetSeq(), cps[e.GetSeq()])
		}
	}
	p.mu.Lock()
	p.entries, p.cps, p.lying = entries, cps, true
	p.mu.Unlock()
}

func toEntry(p *syncv1.Entry) changelog.Entry {
	return changelog.Entry{Origin: p.GetOrigin(), Seq: p.GetSeq(), HLC: p.GetHlc(), Name: p.GetName(), Data: p.GetData(),
		Sealed: p.GetSealed(), PrevHash: p.GetPrevHash(), Hash: p.GetHash()}
}

// forgedData is an agreement that says FORGED, as deterministic bytes.
func forgedData(t *testing.T, name string) []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(&twinningv1.Agreement{
		Name: name, DisplayName: "FORGED " + name, Kind: twinningv1.Agreement_KIND_MOU, Etag: "1"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// forgeChain replaces entries by a consistent chain of other records that
// links to the honest entry before them, closed by a checkpoint signed
// with key.
func forgeChain(t *testing.T, entries []*syncv1.Entry, key ed25519.PrivateKey) ([]*syncv1.Entry, *syncv1.Checkpoint) {
	prev := entries[0].GetPrevHash()
	for _, e := range entries {
		e.Name = fmt.Sprintf("provinces/%s/agreements/forged-%d", e.GetOrigin(), e.GetSeq())
		e.Data = forgedData(t, e.GetName())
		e.PrevHash = prev
		ce := toEntry(e)
		e.Hash = changelog.Sum(&ce)
		prev = e.GetHash()
	}
	last := entries[len(entries)-1]
	cp := changelog.SignCheckpoint(key, last.GetOrigin(), last.GetSeq(), last.GetHash())
	return entries, &syncv1.Checkpoint{Origin: cp.Origin, Seq: cp.Seq, Hash: cp.Hash, Signature: cp.Signature}
}

// TestTamperedEntriesRejected: a victim pulls from a lying member and an
// honest one. Whatever way the liar changes the origin's entries, the
// victim rejects them, keeps only what verifies (the honest prefix), never
// shows tampered content, and still converges with the honest node.
func TestTamperedEntriesRejected(t *testing.T) {
	_, strangerKey, err := federation.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		// why is in the victim's error for the liar: it refused the
		// entries for the right reason.
		why    string
		tamper func(t *testing.T, f *testFederation, es []*syncv1.Entry, cp *syncv1.Checkpoint) ([]*syncv1.Entry, *syncv1.Checkpoint)
	}{
		{"data changed", "cao-bang entry 7 does not match its hash", func(t *testing.T, _ *testFederation, es []*syncv1.Entry, cp *syncv1.Checkpoint) ([]*syncv1.Entry, *syncv1.Checkpoint) {
			es[0].Data = forgedData(t, es[0].GetName()) // data_hash and hash left as they were
			return es, cp
		}},
		{"data withheld", "cao-bang entry 7 does not match its hash", func(t *testing.T, _ *testFederation, es []*syncv1.Entry, cp *syncv1.Checkpoint) ([]*syncv1.Entry, *syncv1.Checkpoint) {
			for _, e := range es {
				e.Data = nil
			}
			return es, cp
		}},
		{"public entry passed off as sealed", "cao-bang entry 7 does not match its hash", func(t *testing.T, _ *testFederation, es []*syncv1.Entry, cp *syncv1.Checkpoint) ([]*syncv1.Entry, *syncv1.Checkpoint) {
			es[0].Sealed, es[0].Name = true, ""
			return es, cp
		}},
		{"entry dropped", "cao-bang entry 8 arrived where 7 was due", func(t *testing.T, _ *testFederation, es []*syncv1.Entry, cp *syncv1.Checkpoint) ([]*syncv1.Entry, *syncv1.Checkpoint) {
			return es[1:], cp // seq skips one
		}},
		{"seq changed", "cao-bang entry 8 arrived where 7 was due", func(t *testing.T, _ *testFederation, es []*syncv1.Entry, cp *syncv1.Checkpoint) ([]*syncv1.Entry, *syncv1.Checkpoint) {
			for _, e := range es {
				e.Seq++
			}
			cp.Seq++
			return es, cp
		}},
		{"hash changed", "cao-bang entry 8 does not match its hash", func(t *testing.T, _ *testFederation, es []*syncv1.Entry, cp *syncv1.Checkpoint) ([]*syncv1.Entry, *syncv1.Checkpoint) {
			es[1].Hash[0] ^= 0xff
			es[2].PrevHash = es[1].GetHash() // consistent onwards
			return es, cp
		}},
		{"checkpoint signature changed", "checkpoint cao-bang/10 has a bad signature", func(t *testing.T, _ *testFederation, es []*syncv1.Entry, cp *syncv1.Checkpoint) ([]*syncv1.Entry, *syncv1.Checkpoint) {
			cp.Signature[10] ^= 0x01
			return es, cp
		}},
		{"replayed entries", "cao-bang entry 3 arrived where 7 was due", func(t *testing.T, f *testFederation, es []*syncv1.Entry, cp *syncv1.Checkpoint) ([]*syncv1.Entry, *syncv1.Checkpoint) {
			// Older genuine entries again, under a genuine checkpoint.
			for _, e := range es {
				e.Seq -= 4
			}
			return es, cp
		}},
		{"forged chain signed by a stranger", "checkpoint cao-bang/10 has a bad signature", func(t *testing.T, _ *testFederation, es []*syncv1.Entry, _ *syncv1.Checkpoint) ([]*syncv1.Entry, *syncv1.Checkpoint) {
			return forgeChain(t, es, strangerKey)
		}},
		{"forged chain signed by the liar's own member key", "checkpoint cao-bang/10 has a bad signature", func(t *testing.T, f *testFederation, es []*syncv1.Entry, _ *syncv1.Checkpoint) ([]*syncv1.Entry, *syncv1.Checkpoint) {
			return forgeChain(t, es, f.keys[liar].Signing)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testTamper(t, tc.why, tc.tamper)
		})
	}
}

const (
	honest = "cao-bang"
	victim = "lang-son"
	liar   = "tuyen-quang"
)

func testTamper(t *testing.T, why string, tamper func(*testing.T, *testFederation, []*syncv1.Entry, *syncv1.Checkpoint) ([]*syncv1.Entry, *syncv1.Checkpoint)) {
	// The liar is a member of the federation (it has an address and a key
	// in the manifest) but runs the fake server instead of a node.
	f := newFederation(t, []string{honest, victim, liar}, map[string][]string{victim: {liar, honest}})
	fake := &fakePeer{origin: honest}
	fake.tamper = func(es []*syncv1.Entry, cp *syncv1.Checkpoint) ([]*syncv1.Entry, *syncv1.Checkpoint) {
		return tamper(t, f, es, cp)
	}
	f.peerServer(t, liar, fake)

	// The victim holds the first 5 entries, from the honest node.
	h := f.start(honest)
	f.start(victim)
	createAgreements(t, h, 5, "a")
	f.waitConverged(t, map[string]uint64{honest: 5}, 10*time.Second)
	f.stop(victim)
	createAgreements(t, h, 5, "b") // seq 6 ... 10
	fake.load(t, f, h, victim)
	truth := fake.entries
	f.stop(honest)

	// Now only the liar answers.
	v := f.start(victim)
	eventually(t, 10*time.Second, func() (bool, string) {
		st := v.state(t)
		return st.GetMetrics().GetRunsRefused() > 0 && fake.served.Load() >= 3,
			fmt.Sprintf("victim refused %d runs, liar answered %d pulls", st.GetMetrics().GetRunsRefused(), fake.served.Load())
	})
	o := v.origin(t, honest)
	if o.GetSeq() != tamperFrom-1 || !bytes.Equal(o.GetHeadHash(), truth[tamperFrom-2].GetHash()) {
		t.Errorf("victim holds %s up to %d; want the honest prefix, %d", honest, o.GetSeq(), tamperFrom-1)
	}
	for _, p := range v.state(t).GetPeers() {
		if p.GetMember() == liar && (p.GetRunsRefused() == 0 || !strings.Contains(p.GetLastError(), why)) {
			t.Errorf("victim's view of the liar: %d refused, last error %q", p.GetRunsRefused(), p.GetLastError())
		}
	}
	for _, e := range truth[tamperFrom-1:] {
		if a, code := getAgreement(t, v, e.GetName()); code != codes.NotFound {
			t.Errorf("victim: Get %s: %v %v; it has no verified entry of it", e.GetName(), code, a)
		}
	}
	checkNoForgery(t, v)

	// The honest node comes back: the victim converges with it.
	refused := v.metrics(t).GetRunsRefused()
	f.start(honest)
	f.waitConverged(t, map[string]uint64{honest: 10}, 15*time.Second)
	// Since its restart: the honest prefix's last entry passed on by the
	// liar, the rest from the honest node.
	waitCount(t, "entries the victim applied from the liar", func() int64 { return v.peerState(t, liar).GetEntriesReceived() }, 1)
	waitCount(t, "entries the victim applied from the honest node", func() int64 { return v.peerState(t, honest).GetEntriesReceived() }, 10-(tamperFrom-1))
	if got := v.metrics(t).GetRunsRefused(); got < refused {
		t.Errorf("refused count went back from %d to %d", refused, got)
	}
	for _, e := range truth {
		want, _ := getAgreement(t, f.nodes[honest], e.GetName())
		got, code := getAgreement(t, v, e.GetName())
		if code != codes.OK || !proto.Equal(got, want) {
			t.Errorf("victim: Get %s: %v %v, want %v", e.GetName(), code, got, want)
		}
	}
	checkNoForgery(t, v)
}

func checkNoForgery(t *testing.T, n *testNode) {
	t.Helper()
	for name, a := range listAgreementNames(t, n, true) {
		if strings.Contains(a.GetDisplayName(), "FORGED") || strings.Contains(name, "forged") {
			t.Errorf("%s holds a forged record: %v", n.member, a)
		}
	}
}
