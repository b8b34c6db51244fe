package replication_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/provex/provex/federation"
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

// filesHold reports which of the needles appear in any file of the node's
// data directory (database, WAL, keys): what someone who took the node's
// disk would find. The node is stopped first if running, so the WAL is
// whatever it left.
func filesHold(t *testing.T, n *testNode, needles ...[]byte) []int {
	t.Helper()
	var found []int
	err := filepath.WalkDir(n.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, needle := range needles {
			if bytes.Contains(data, needle) && !slices.Contains(found, i) {
				found = append(found, i)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// stateBytes is a record's state as its owner stores it and seals it.
func stateBytes(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitOpened waits until every running node has opened all the entries
// sealed to it that the owner reports, and none is unopened.
func (f *testFederation) waitOpened(t *testing.T, owner string, within time.Duration) {
	t.Helper()
	eventually(t, within, func() (bool, string) {
		sealedFor := f.nodes[owner].origin(t, owner).GetSealedFor()
		for _, n := range f.nodes {
			if n.cancel == nil || n.member == owner {
				continue
			}
			o := n.origin(t, owner)
			if o.GetUnopened() != 0 || o.GetOpened() != sealedFor[n.member] {
				return false, fmt.Sprintf("%s opened %d of the %d entries of %s sealed to it (%d unopened)", n.member, o.GetOpened(), sealedFor[n.member], owner, o.GetUnopened())
			}
		}
		return true, ""
	})
}

// TestVisibilityEveryPair: one record of each visibility, owned by P1, in a
// full mesh of three provinces and the ministry: every node holds exactly
// the records it may read, every node holds P1's whole log (the same head
// hash), and the entries of the others' states are sealed: no name, and
// nothing of the state in the files of a node that may not read it.
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
	f.waitOpened(t, p1, 10*time.Second)

	readers := map[string]map[string]bool{
		"public":     {p1: true, p2: true, p3: true, mofa: true},
		"national":   {p1: true, mofa: true},
		"restricted": {p1: true, p2: true, mofa: true},
	}
	if got := owner.origin(t, p1).GetSealedFor(); got[mofa] != 2 || got[p2] != 1 || got[p3] != 0 {
		t.Errorf("%s sealed entries for %v; want 2 for %s, 1 for %s", p1, got, mofa, p2)
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
			// Every node holds the entry whole, sealed unless public.
			e := logOf(t, n, mofa, p1)[seqOf[id]]
			switch {
			case e == nil:
				t.Errorf("%s holds no entry %d of %s", m, seqOf[id], p1)
			case e.GetSealed() != (id != "public") || len(e.GetData()) == 0:
				t.Errorf("%s holds the entry of %s sealed = %v (%d bytes)", m, id, e.GetSealed(), len(e.GetData()))
			case e.GetSealed() && (e.GetName() != "" || bytes.Contains(e.GetData(), []byte(want.GetDisplayName()))):
				t.Errorf("%s's sealed entry of %s shows its name or text", m, id)
			}
		}
	}
	// What a non-reader's disk holds: neither the text nor the state's hash.
	for _, m := range []string{p2, p3} {
		f.stop(m)
	}
	for id, rec := range records {
		state := stateBytes(t, rec)
		sum := sha256.Sum256(state)
		for _, m := range []string{p2, p3} {
			if readers[id][m] {
				continue
			}
			if found := filesHold(t, f.nodes[m], []byte(rec.GetDisplayName()), state, sum[:]); len(found) > 0 {
				t.Errorf("%s's files hold the %s record (needles %v: text, state, state hash)", m, id, found)
			}
		}
	}
}

// TestSealedRecordsCrossRelays: in a line P1 - P2 - P3 - ministry, where
// each node pulls only from its neighbours, a record restricted to P3 and a
// national one, both P1's, reach P3 and the ministry at the far end
// through nodes that may not read them and hold only their sealed bytes.
func TestSealedRecordsCrossRelays(t *testing.T) {
	members := []string{p1, p2, p3, mofa}
	f := newFederation(t, members, line(members))
	f.startAll()
	owner := f.nodes[p1]
	forP3 := createVisible(t, owner, "for-p3", typev1.Visibility_VISIBILITY_RESTRICTED, p3)
	national := createVisible(t, owner, "national", typev1.Visibility_VISIBILITY_NATIONAL)
	f.waitConverged(t, map[string]uint64{p1: 2}, 15*time.Second)
	f.waitOpened(t, p1, 10*time.Second)
	for _, c := range []struct {
		node string
		rec  *twinningv1.Agreement
		want codes.Code
	}{{p3, forP3, codes.OK}, {mofa, forP3, codes.OK}, {mofa, national, codes.OK},
		{p2, forP3, codes.NotFound}, {p2, national, codes.NotFound}, {p3, national, codes.NotFound}} {
		got, code := getAgreement(t, f.nodes[c.node], c.rec.GetName())
		if code != c.want || (code == codes.OK && !proto.Equal(got, c.rec)) {
			t.Errorf("%s: Get %s: %v %v, want %v", c.node, c.rec.GetName(), code, got, c.want)
		}
	}
	f.stop(p2)
	if found := filesHold(t, f.nodes[p2], []byte(forP3.GetDisplayName()), []byte(national.GetDisplayName())); len(found) > 0 {
		t.Errorf("the relay's files hold the text of records %v", found)
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
	f.waitOpened(t, p1, 10*time.Second)
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
	if e := logOf(t, f.nodes[p3], mofa, p1)[2]; !e.GetSealed() {
		t.Errorf("P3 holds the restricted state unsealed")
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

// TestVisibilityChangeIsNotRecoverable: a border marker's record is public;
// its owner changes its condition and makes it national. A province that
// held the public state keeps nothing from which the new one follows: not
// the text, not the state, not its hash (which a guess could be checked
// against), while the ministry reads it.
func TestVisibilityChangeIsNotRecoverable(t *testing.T) {
	members := []string{p1, p2, mofa}
	f := newFederation(t, members, mesh(members))
	f.startAll()
	owner := f.nodes[p1]
	rec := createVisible(t, owner, "marker-note", typev1.Visibility_VISIBILITY_PUBLIC)
	f.waitConverged(t, map[string]uint64{p1: 1}, 10*time.Second)
	changed, err := owner.client.Twinning.UpdateAgreement(context.Background(), &twinningv1.UpdateAgreementRequest{
		Agreement:  &twinningv1.Agreement{Name: rec.GetName(), Summary: "Marker 108/3 found DAMAGED by a landslide", Visibility: typev1.Visibility_VISIBILITY_NATIONAL},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"summary", "visibility"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.waitConverged(t, map[string]uint64{p1: 2}, 10*time.Second)
	f.waitOpened(t, p1, 10*time.Second)
	if got, code := getAgreement(t, f.nodes[mofa], rec.GetName()); code != codes.OK || !proto.Equal(got, changed) {
		t.Fatalf("the ministry: Get the national state: %v %v", code, got)
	}
	if _, code := getAgreement(t, f.nodes[p2], rec.GetName()); code != codes.NotFound {
		t.Errorf("P2 still holds the record: %v", code)
	}
	f.stop(p2)
	state := stateBytes(t, changed)
	sum := sha256.Sum256(state)
	if found := filesHold(t, f.nodes[p2], []byte("DAMAGED by a landslide"), state, sum[:]); len(found) > 0 {
		t.Errorf("P2's files hold the national state (needles %v: text, state, state hash)", found)
	}
}

// TestRotatedKeyStillOpensOldEntries: P2 rotates its encryption key (its
// key file keeps the old one; the manifest publishes the new one). Entries
// sealed to the old key before and to the new one after both open: P2,
// started afresh on an empty data directory, catches up and reads both.
func TestRotatedKeyStillOpensOldEntries(t *testing.T) {
	f := newFederation(t, []string{p1, p2}, mesh([]string{p1, p2}))
	f.startAll()
	before := createVisible(t, f.nodes[p1], "before", typev1.Visibility_VISIBILITY_RESTRICTED, p2)
	f.waitConverged(t, map[string]uint64{p1: 1}, 10*time.Second)
	f.stop(p1)
	f.stop(p2)

	keyFile := filepath.Join(t.TempDir(), "p2.key")
	if err := federation.WriteKeyFile(keyFile, f.keys[p2]); err != nil {
		t.Fatal(err)
	}
	rotated, err := federation.RotateEncryptionKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	f.keys[p2] = rotated
	for i := range f.manifest.Members {
		if f.manifest.Members[i].ID == p2 {
			f.manifest.Members[i].EncryptionKey = rotated.EncryptionPublic()
		}
	}
	f.start(p1)
	after := createVisible(t, f.nodes[p1], "after", typev1.Visibility_VISIBILITY_RESTRICTED, p2)
	f.nodes[p2].dir = t.TempDir()
	n := f.start(p2)
	f.waitConverged(t, map[string]uint64{p1: 2}, 10*time.Second)
	f.waitOpened(t, p1, 10*time.Second)
	for _, want := range []*twinningv1.Agreement{before, after} {
		if got, code := getAgreement(t, n, want.GetName()); code != codes.OK || !proto.Equal(got, want) {
			t.Errorf("P2 after the rotation: Get %s: %v %v", want.GetName(), code, got)
		}
	}
}

// TestWithdrawnRecordLeavesNoCopy: P3 reads a record restricted to P2 and
// P3; its owner then restricts it to P2 alone. P3 drops its copy, and its
// files keep no trace of the text P3 could once read (its log holds that
// state only sealed), while it runs (the WAL emptied) and once stopped.
func TestWithdrawnRecordLeavesNoCopy(t *testing.T) {
	members := []string{p1, p2, p3, mofa}
	f := newFederation(t, members, mesh(members))
	f.startAll()
	owner := f.nodes[p1]
	// Longer than a page: its row spills to overflow pages, which a
	// deletion puts on the free list.
	summary := "WITHDRAWN-TEXT-5521 " + strings.Repeat("joint patrol plan along the border ", 200) + "WITHDRAWN-TAIL-7731"
	rec, err := owner.client.Twinning.CreateAgreement(context.Background(), &twinningv1.CreateAgreementRequest{
		Parent: "provinces/" + p1, AgreementId: "shared",
		Agreement: &twinningv1.Agreement{DisplayName: "Zqxwithdrawn patrol", Summary: summary, Kind: twinningv1.Agreement_KIND_MOU,
			Visibility: typev1.Visibility_VISIBILITY_RESTRICTED, VisibleTo: []string{p2, p3}},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.waitConverged(t, map[string]uint64{p1: 1}, 10*time.Second)
	if _, code := getAgreement(t, f.nodes[p3], rec.GetName()); code != codes.OK {
		t.Fatalf("P3 cannot read the record restricted to it: %v", code)
	}
	if found := filesHold(t, f.nodes[p3], []byte("zqxwithdrawn"), []byte("WITHDRAWN-TAIL-7731")); len(found) != 2 {
		t.Fatal("P3's files do not hold the search words and the text of the record it may read, so their absence below would prove nothing")
	}
	setVisibility(t, owner, rec.GetName(), typev1.Visibility_VISIBILITY_RESTRICTED, p2)
	f.waitConverged(t, map[string]uint64{p1: 2}, 10*time.Second)
	f.waitOpened(t, p1, 10*time.Second)
	if _, code := getAgreement(t, f.nodes[p3], rec.GetName()); code != codes.NotFound {
		t.Fatalf("P3 still reads the record: %v", code)
	}
	// While P3 runs: its WAL held page copies written before the
	// withdrawal, until the writer emptied it.
	for deadline := time.Now().Add(10 * time.Second); len(filesHold(t, f.nodes[p3], []byte("WITHDRAWN-TEXT-5521"), []byte("WITHDRAWN-TAIL-7731"), []byte("patrol plan along"), []byte("zqxwithdrawn"))) > 0; {
		if time.Now().After(deadline) {
			t.Fatal("10 s after the withdrawal, the running P3's files still hold the record withdrawn from it")
		}
		time.Sleep(50 * time.Millisecond)
	}
	f.stop(p3)
	if found := filesHold(t, f.nodes[p3], []byte("WITHDRAWN-TEXT-5521"), []byte("WITHDRAWN-TAIL-7731"), []byte("patrol plan along")); len(found) > 0 {
		t.Errorf("P3's files still hold the text of the record withdrawn from it (needles %v)", found)
	}
	// Nor its title's words, which text search indexed folded.
	if found := filesHold(t, f.nodes[p3], []byte("zqxwithdrawn")); len(found) > 0 {
		t.Errorf("P3's files still hold the search words of the record withdrawn from it")
	}
}
