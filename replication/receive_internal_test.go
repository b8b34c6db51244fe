package replication

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/provex/provex/changelog"
	"github.com/provex/provex/federation"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
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
