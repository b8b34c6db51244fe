package replication_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
)

const (
	p1   = "cao-bang"
	p2   = "lang-son"
	p3   = "nghe-an"
	mofa = "mofa"
)

// createVisible creates agreement id on n with the given visibility.
func createVisible(t *testing.T, n *testNode, id string, v typev1.Visibility, visibleTo ...string) *twinningv1.Agreement {
	t.Helper()
	a, err := n.client.Twinning.CreateAgreement(context.Background(), &twinningv1.CreateAgreementRequest{
		Parent: "provinces/" + n.member, AgreementId: id,
		Agreement: &twinningv1.Agreement{DisplayName: "agreement " + id, Kind: twinningv1.Agreement_KIND_MOU, Visibility: v, VisibleTo: visibleTo},
	})
	if err != nil {
		t.Fatalf("create %s on %s: %v", id, n.member, err)
	}
	return a
}

// setVisibility changes a record's visibility on its owner.
func setVisibility(t *testing.T, n *testNode, name string, v typev1.Visibility, visibleTo ...string) *twinningv1.Agreement {
	t.Helper()
	a, err := n.client.Twinning.UpdateAgreement(context.Background(), &twinningv1.UpdateAgreementRequest{
		Agreement:  &twinningv1.Agreement{Name: name, Visibility: v, VisibleTo: visibleTo},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"visibility", "visible_to"}},
	})
	if err != nil {
		t.Fatalf("update %s on %s: %v", name, n.member, err)
	}
	return a
}

// holes is how many entries of origin n holds redacted but wants.
func holes(t *testing.T, n *testNode, origin string) int64 {
	t.Helper()
	return n.origin(t, origin).GetHoles()
}

// waitNoHoles waits until no running node of f wants any entry.
func (f *testFederation) waitNoHoles(t *testing.T, within time.Duration) {
	t.Helper()
	eventually(t, within, func() (bool, string) {
		for _, n := range f.nodes {
			if n.cancel == nil {
				continue
			}
			for _, o := range n.state(t).GetOrigins() {
				if o.GetHoles() != 0 {
					return false, n.member + " still has holes in " + o.GetOrigin()
				}
			}
		}
		return true, ""
	})
}

// logOf pulls origin's whole log from n as member as would (a raw client,
// not an engine), so a test sees exactly what n holds and serves.
func logOf(t *testing.T, n *testNode, as, origin string) map[uint64]*syncv1.Entry {
	t.Helper()
	stream, err := n.fed.peerClient(t, n, as).Pull(context.Background(), &syncv1.PullRequest{Member: as})
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint64]*syncv1.Entry{}
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("pull from %s: %v", n.member, err)
		}
		for _, e := range resp.GetEntries() {
			if e.GetOrigin() == origin {
				out[e.GetSeq()] = e
			}
		}
	}
}

// TestVisibilityEveryPair: one record of each visibility, owned by P1, in a
// full mesh of three provinces and the ministry: every node holds exactly
// what it may read, and the others' copies of the log carry the rest
// redacted.
func TestVisibilityEveryPair(t *testing.T) {
	members := []string{p1, p2, p3, mofa}
	f := newFederation(t, members, mesh(members))
	f.startAll()
	owner := f.nodes[p1]
	records := map[string]*twinningv1.Agreement{
		"public":     createVisible(t, owner, "public", typev1.Visibility_VISIBILITY_PUBLIC),
		"national":   createVisible(t, owner, "national", typev1.Visibility_VISIBILITY_NATIONAL),
		"restricted": createVisible(t, owner, "restricted", typev1.Visibility_VISIBILITY_RESTRICTED, p2),
	}
	seqOf := map[string]uint64{"public": 1, "national": 2, "restricted": 3}
	f.waitConverged(t, map[string]uint64{p1: 3}, 10*time.Second)
	f.waitNoHoles(t, 10*time.Second)

	readers := map[string]map[string]bool{
		"public":     {p1: true, p2: true, p3: true, mofa: true},
		"national":   {p1: true, mofa: true},
		"restricted": {p1: true, p2: true, mofa: true},
	}
	for id, want := range records {
		for _, m := range members {
			n := f.nodes[m]
			got, code := getAgreement(t, n, want.GetName())
			switch {
			case readers[id][m] && code != codes.OK:
				t.Errorf("%s: Get %s: %v, want the record", m, id, code)
			case readers[id][m] && !proto.Equal(got, want):
				t.Errorf("%s: Get %s differs from the owner's: %v", m, id, got)
			case !readers[id][m] && code != codes.NotFound:
				t.Errorf("%s: Get %s: %v, want NOT_FOUND", m, id, code)
			}
			if _, listed := listAgreementNames(t, n, true)[want.GetName()]; listed != readers[id][m] {
				t.Errorf("%s: %s listed = %v, want %v", m, id, listed, readers[id][m])
			}
			// The node's own copy of the log: the data only where it may
			// read it, yet the entry is there (the head hash matched).
			e := logOf(t, n, mofa, p1)[seqOf[id]]
			if e == nil {
				t.Errorf("%s holds no entry %d of %s", m, seqOf[id], p1)
			} else if redacted := e.GetRedacted() || len(e.GetData()) == 0; redacted == readers[id][m] {
				t.Errorf("%s holds the entry of %s redacted = %v", m, id, redacted)
			}
		}
	}
	// P3 never received the restricted data, yet holds P1's log in full
	// (same head hash as the owner) and wants nothing.
	o3, o1 := f.nodes[p3].origin(t, p1), owner.origin(t, p1)
	if o3.GetSeq() != 3 || !bytes.Equal(o3.GetHeadHash(), o1.GetHeadHash()) || o3.GetHoles() != 0 {
		t.Errorf("P3's state of %s: seq %d holes %d; want 3, the owner's head hash, no holes", p1, o3.GetSeq(), o3.GetHoles())
	}
}

// TestHoleFilledByAllowedPeer: P2 may read a restricted record but first
// gets P1's log only through P3, which may not: the entry arrives redacted
// and P2 records a hole. Once P2 can pull from a node that may give it the
// entry (the ministry), the hole is filled and the record readable.
func TestHoleFilledByAllowedPeer(t *testing.T) {
	f := newFederation(t, []string{p1, p2, p3, mofa}, map[string][]string{
		p1: {p3, mofa}, p3: {p1}, mofa: {p1}, p2: {p3},
	})
	f.startAll()
	pub := createVisible(t, f.nodes[p1], "public", typev1.Visibility_VISIBILITY_PUBLIC)
	res := createVisible(t, f.nodes[p1], "restricted", typev1.Visibility_VISIBILITY_RESTRICTED, p2)
	f.waitConverged(t, map[string]uint64{p1: 2}, 10*time.Second)

	if got := holes(t, f.nodes[p2], p1); got != 1 {
		t.Fatalf("P2 has %d holes in %s's log, want 1", got, p1)
	}
	if _, code := getAgreement(t, f.nodes[p2], res.GetName()); code != codes.NotFound {
		t.Errorf("P2 reads the restricted record (%v) before anyone could give it", code)
	}
	if _, code := getAgreement(t, f.nodes[p2], pub.GetName()); code != codes.OK {
		t.Errorf("P2: Get public: %v", code)
	}
	if got := holes(t, f.nodes[p3], p1); got != 0 {
		t.Errorf("P3, which may not read the record, has %d holes", got)
	}
	// Asking P3 again does not help, and does not drop the hole.
	pulls := f.nodes[p2].metrics(t).GetPulls()
	eventually(t, 5*time.Second, func() (bool, string) {
		return f.nodes[p2].metrics(t).GetPulls() >= pulls+2, "P2 does not pull from P3"
	})
	if got := holes(t, f.nodes[p2], p1); got != 1 {
		t.Fatalf("P2 has %d holes after asking P3 again, want 1", got)
	}

	f.stop(p2)
	f.peers[p2] = []string{p3, mofa}
	p2n := f.start(p2)
	eventually(t, 10*time.Second, func() (bool, string) {
		return holes(t, p2n, p1) == 0, "P2's hole is not filled"
	})
	got, code := getAgreement(t, p2n, res.GetName())
	if code != codes.OK || !proto.Equal(got, res) {
		t.Fatalf("P2: Get restricted after the fill: %v %v, want %v", code, got, res)
	}
	waitCount(t, "holes P2 filled", func() int64 { return p2n.metrics(t).GetHolesFilled() }, 1)
	if e := logOf(t, p2n, mofa, p1)[2]; e.GetRedacted() || len(e.GetData()) == 0 {
		t.Errorf("P2's log still holds the entry redacted after the fill")
	}
	if o2, o1 := p2n.origin(t, p1), f.nodes[p1].origin(t, p1); o2.GetSeq() != 2 || !bytes.Equal(o2.GetHeadHash(), o1.GetHeadHash()) {
		t.Errorf("P2's chain of %s changed with the fill", p1)
	}
	if _, code := getAgreement(t, f.nodes[p3], res.GetName()); code != codes.NotFound {
		t.Errorf("P3: Get restricted: %v, want NOT_FOUND", code)
	}
}

// TestHoleFillDoesNotResurrectRecord: P2 holds a hole for a restricted
// record it could read, but by the time the hole is filled the owner has
// made the record national. The old state must not come back as P2's copy.
func TestHoleFillDoesNotResurrectRecord(t *testing.T) {
	f := newFederation(t, []string{p1, p2, p3, mofa}, map[string][]string{
		p1: {p3, mofa}, p3: {p1}, mofa: {p1}, p2: {p3},
	})
	f.startAll()
	res := createVisible(t, f.nodes[p1], "restricted", typev1.Visibility_VISIBILITY_RESTRICTED, p2)
	f.waitConverged(t, map[string]uint64{p1: 1}, 10*time.Second)
	if got := holes(t, f.nodes[p2], p1); got != 1 {
		t.Fatalf("P2 has %d holes in %s's log, want 1", got, p1)
	}
	setVisibility(t, f.nodes[p1], res.GetName(), typev1.Visibility_VISIBILITY_NATIONAL)
	f.waitConverged(t, map[string]uint64{p1: 2}, 10*time.Second)

	f.stop(p2)
	f.peers[p2] = []string{p3, mofa}
	p2n := f.start(p2)
	eventually(t, 10*time.Second, func() (bool, string) {
		return holes(t, p2n, p1) == 0, "P2's hole is not filled"
	})
	if got, code := getAgreement(t, p2n, res.GetName()); code != codes.NotFound {
		t.Errorf("P2 reads the now national record after a late hole fill: %v %v", code, got)
	}
	if _, listed := listAgreementNames(t, p2n, true)[res.GetName()]; listed {
		t.Errorf("P2 lists the now national record")
	}
}

// TestRecordChangesVisibility: a public record that P3 holds is made
// restricted to P2; P3's copy goes, P2 and the ministry keep it, and making
// it public again brings it back to P3.
func TestRecordChangesVisibility(t *testing.T) {
	members := []string{p1, p2, p3, mofa}
	f := newFederation(t, members, mesh(members))
	f.startAll()
	rec := createVisible(t, f.nodes[p1], "changing", typev1.Visibility_VISIBILITY_PUBLIC)
	f.waitConverged(t, map[string]uint64{p1: 1}, 10*time.Second)
	if _, code := getAgreement(t, f.nodes[p3], rec.GetName()); code != codes.OK {
		t.Fatalf("P3: Get public record: %v", code)
	}

	rec = setVisibility(t, f.nodes[p1], rec.GetName(), typev1.Visibility_VISIBILITY_RESTRICTED, p2)
	f.waitConverged(t, map[string]uint64{p1: 2}, 10*time.Second)
	f.waitNoHoles(t, 10*time.Second)
	if got, code := getAgreement(t, f.nodes[p3], rec.GetName()); code != codes.NotFound {
		t.Errorf("P3 still returns the record made restricted to P2: %v %v", code, got)
	}
	if _, listed := listAgreementNames(t, f.nodes[p3], true)[rec.GetName()]; listed {
		t.Errorf("P3 still lists the record made restricted to P2")
	}
	for _, m := range []string{p2, mofa} {
		got, code := getAgreement(t, f.nodes[m], rec.GetName())
		if code != codes.OK || !proto.Equal(got, rec) {
			t.Errorf("%s: Get after the change: %v %v, want %v", m, code, got, rec)
		}
	}
	if e := logOf(t, f.nodes[p3], mofa, p1)[2]; !e.GetRedacted() {
		t.Errorf("P3 holds the restricted state's data")
	}

	rec = setVisibility(t, f.nodes[p1], rec.GetName(), typev1.Visibility_VISIBILITY_PUBLIC)
	f.waitConverged(t, map[string]uint64{p1: 3}, 10*time.Second)
	for _, m := range members {
		got, code := getAgreement(t, f.nodes[m], rec.GetName())
		if code != codes.OK || !proto.Equal(got, rec) {
			t.Errorf("%s: Get after the record is public again: %v %v, want %v", m, code, got, rec)
		}
	}
}
