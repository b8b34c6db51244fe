package replication_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/provex/provex/federation"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	"github.com/provex/provex/internal/testlog"
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
// logs that once, not once a range of every pull.
func TestRepairOfRangesThatAreNotOnesLoggedOnce(t *testing.T) {
	f := newFederation(t, []string{p1, mofa}, map[string][]string{})
	var logs testlog.Buffer
	f.nodes[p1].logs = &logs
	n := f.start(p1)
	c := f.peerClient(t, n, mofa)
	var bogus []*syncv1.Range
	for i := range 64 {
		bogus = append(bogus, &syncv1.Range{Origin: fmt.Sprint("origin-", i), First: 0, Last: 0})
	}
	for range 20 {
		st, err := c.Pull(context.Background(), &syncv1.PullRequest{Member: mofa, ManifestSerial: uint64(f.manifest.Serial), Repair: bogus})
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := st.Recv(); err != nil {
				break
			}
		}
	}
	if got := strings.Count(logs.String(), "peer asked to repair a range that is not one"); got != 1 {
		t.Errorf("20 pulls asking to repair 64 ranges that are not ones logged %d lines, want 1", got)
	}
}
