package replication

import (
	"io"
	"log/slog"
	"maps"
	"testing"
	"time"

	"github.com/provex/provex/federation"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
)

// TestPeerHeadsAreBoundedAndReplacedByAPull: the heads a peer announces
// are kept only for origins the manifest lists, other than this node's
// own, so a peer cannot add series to the metrics; a lower head does not
// undo a higher one; and a pull that ends well replaces what the peer
// said before it, while what it said during the pull stays.
func TestPeerHeadsAreBoundedAndReplacedByAPull(t *testing.T) {
	m, _, err := federation.DevFederation([]string{"cao-bang", "tuyen-quang", "lang-son"}, []string{"h:1", "h:2", "h:3"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{member: "tuyen-quang"}
	e := &Engine{cfg: Config{Member: "cao-bang", Manifest: federation.NewLive(m, nil)}, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		peers: map[string]*peer{"tuyen-quang": p}}
	before := time.Now().Add(-time.Minute)
	e.heard(p, []*syncv1.Position{
		{Origin: "tuyen-quang", Seq: 40}, {Origin: "lang-son", Seq: 7},
		{Origin: "cao-bang", Seq: 1000}, {Origin: "no-such-province", Seq: 5}, {Origin: "", Seq: 5},
	}, before)
	e.heard(p, []*syncv1.Position{{Origin: "tuyen-quang", Seq: 30}}, before)
	want := map[string]uint64{"tuyen-quang": 40, "lang-son": 7}
	if got := e.PeerHeads()["tuyen-quang"]; !maps.Equal(got, want) {
		t.Fatalf("heads after announcements: %v, want %v", got, want)
	}

	start := time.Now()
	e.heard(p, []*syncv1.Position{{Origin: "tuyen-quang", Seq: 45}}, start.Add(time.Millisecond))
	p.pulled(start, map[string]uint64{"tuyen-quang": 42})
	want = map[string]uint64{"tuyen-quang": 45}
	if got := e.PeerHeads()["tuyen-quang"]; !maps.Equal(got, want) {
		t.Errorf("heads after a pull: %v, want %v (lang-son's claim was older than the pull, which showed none)", got, want)
	}
}
