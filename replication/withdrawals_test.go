package replication_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/provex/provex/federation"
	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/pgtest"
)

// TestWithdrawalReachesMembersOutOfTheManifest: a reader is out of the
// manifest while its owner narrows two records (a restricted one, a public
// one made national), so no notice can be sealed to it then. Taken back
// into the manifest, it drops both as soon as the owner takes that
// manifest, with no write by a user; a member that joins after, and pulls
// the public record's old state from the logs, drops it too, and is not
// told of the record it never could read. The owner's store (SQLite, then
// PostgreSQL) keeps what it owes (an outside review: the reader served both
// for good, and a later write of the owner did not mend it).
func TestWithdrawalReachesMembersOutOfTheManifest(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { withdrawalReachesMembersOutOfTheManifest(t, "") })
	t.Run("postgres", func(t *testing.T) { withdrawalReachesMembersOutOfTheManifest(t, pgtest.NewDatabase(t)) })
}

func withdrawalReachesMembersOutOfTheManifest(t *testing.T, ownerStore string) {
	members := []string{p1, p2, p3, mofa}
	f, fedKey := signedFederation(t, members, mesh(members))
	f.nodes[p1].store = ownerStore
	f.startAll()
	owner, reader, removed := f.nodes[p1], f.nodes[p2], f.nodes[p3]
	restricted := createVisible(t, owner, "r1", typev1.Visibility_VISIBILITY_RESTRICTED, p3, p2)
	public := createVisible(t, owner, "p1", typev1.Visibility_VISIBILITY_PUBLIC)
	served := func(n *testNode, name string) func() (bool, string) {
		return func() (bool, string) {
			_, c := getAgreement(t, n, name)
			return c == codes.OK, fmt.Sprintf("%s does not serve %s: %v", n.member, name, c)
		}
	}
	eventually(t, 15*time.Second, served(removed, restricted.GetName()))
	eventually(t, 15*time.Second, served(removed, public.GetName()))

	without, saved := withoutMember(t, f.manifest, fedKey, p3)
	if err := owner.node.OfferManifest(without); err != nil {
		t.Fatal(err)
	}
	f.waitSerial(t, 2, p1, p2, mofa)
	narrowed := setVisibility(t, owner, restricted.GetName(), typev1.Visibility_VISIBILITY_RESTRICTED, p2)
	setVisibility(t, owner, public.GetName(), typev1.Visibility_VISIBILITY_NATIONAL)

	back := nextManifest(t, without, fedKey, func(m *federation.Manifest) {
		m.Members = append(m.Members, saved)
	})
	if err := owner.node.OfferManifest(back); err != nil {
		t.Fatal(err)
	}
	f.manifest = back
	f.waitSerial(t, 3, members...)
	for _, name := range []string{restricted.GetName(), public.GetName()} {
		eventually(t, 20*time.Second, func() (bool, string) {
			got, c := getAgreement(t, removed, name)
			return c == codes.NotFound, fmt.Sprintf("%s, back in the manifest, answers Get %s with %v %v; want NOT_FOUND", p3, name, c, got.GetVisibleTo())
		})
	}
	// Entries 1-4 are the users'; 5 and 6 carry the notices owed.
	f.waitConverged(t, map[string]uint64{p1: 6}, 30*time.Second)
	// The readers keep the record as its owner wrote it: the entry that
	// carried the notice holds the same state, etag and all.
	for _, n := range []*testNode{owner, reader} {
		if got, c := getAgreement(t, n, restricted.GetName()); c != codes.OK || got.GetEtag() != narrowed.GetEtag() || got.GetDisplayName() != narrowed.GetDisplayName() {
			t.Errorf("%s serves %s as %v %v, want etag %s", n.member, restricted.GetName(), c, got, narrowed.GetEtag())
		}
	}

	// A member that joins pulls p1's public state from the logs; the owner,
	// taking the manifest that adds it, owes it that record's notice, and
	// not r1's, which never was public.
	_, joiner := f.join(t, back, fedKey, owner, "ha-noi", []string{mofa}, members...)
	eventually(t, 30*time.Second, func() (bool, string) {
		held := joiner.origin(t, p1).GetSeq()
		got, c := getAgreement(t, joiner, public.GetName())
		return held >= 6 && c == codes.NotFound, fmt.Sprintf("ha-noi, which joined after %s was made national, holds %s's log up to %d and answers Get with %v %v; want NOT_FOUND",
			public.GetName(), p1, held, c, got.GetVisibility())
	})
	// One entry more, p1's: r1's name goes to no member that was not its reader.
	f.waitConverged(t, map[string]uint64{p1: 7}, 30*time.Second)

	ctx := context.Background()
	for _, n := range []*testNode{owner, removed, joiner} {
		if rc, err := n.node.Store().CheckRecords(ctx); err != nil || rc.Found != 0 {
			t.Errorf("%s's record check: %v %v", n.member, rc.Problems, err)
		}
	}
	if _, _, problems, err := owner.node.Store().VerifyAudit(ctx); err != nil || len(problems) != 0 {
		t.Errorf("the owner's audit trail with the entries it made: %v %v", problems, err)
	}
}

// TestRecordReachesReadersOutOfTheManifest: the ministry is out of the
// manifest while its owner writes a national record and a restricted one
// for a province not yet a member, so neither can be sealed to them then.
// Taken back, the ministry opens both and counts them in its national
// summary as soon as the owner takes that manifest, with no write by a
// user; the province that joins after opens the one it is listed in. A
// record deleted meanwhile is owed to no one. The owner's store (SQLite,
// then PostgreSQL) keeps what it owes (an outside review: the ministry
// answered NOT_FOUND and counted without it for good, converged).
func TestRecordReachesReadersOutOfTheManifest(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { recordReachesReadersOutOfTheManifest(t, "") })
	t.Run("postgres", func(t *testing.T) { recordReachesReadersOutOfTheManifest(t, pgtest.NewDatabase(t)) })
}

func recordReachesReadersOutOfTheManifest(t *testing.T, ownerStore string) {
	members := []string{p1, p2, mofa}
	f, fedKey := signedFederation(t, members, mesh(members))
	f.nodes[p1].store = ownerStore
	f.startAll()
	owner, ministry := f.nodes[p1], f.nodes[mofa]

	without, saved := withoutMember(t, f.manifest, fedKey, mofa)
	if err := owner.node.OfferManifest(without); err != nil {
		t.Fatal(err)
	}
	f.waitSerial(t, 2, p1, p2)
	national := createVisible(t, owner, "national", typev1.Visibility_VISIBILITY_NATIONAL)
	forJoiner := createVisible(t, owner, "for-ha-noi", typev1.Visibility_VISIBILITY_RESTRICTED, "ha-noi")
	deleted := createVisible(t, owner, "deleted", typev1.Visibility_VISIBILITY_NATIONAL)
	if _, err := owner.client.Twinning.DeleteAgreement(context.Background(), &twinningv1.DeleteAgreementRequest{Name: deleted.GetName()}); err != nil {
		t.Fatal(err)
	}

	back := nextManifest(t, without, fedKey, func(m *federation.Manifest) {
		m.Members = append(m.Members, saved)
	})
	if err := owner.node.OfferManifest(back); err != nil {
		t.Fatal(err)
	}
	f.manifest = back
	f.waitSerial(t, 3, members...)
	for _, want := range []*twinningv1.Agreement{national, forJoiner} {
		eventually(t, 20*time.Second, func() (bool, string) {
			got, c := getAgreement(t, ministry, want.GetName())
			return c == codes.OK && got.GetEtag() == want.GetEtag(), fmt.Sprintf("the ministry, back in the manifest, answers Get %s with %v %v; want it as written", want.GetName(), c, got.GetEtag())
		})
	}
	// Entries 1-4 are the users'; 5 and 6 seal the records owed to the
	// ministry, and the deleted record is not among them.
	f.waitConverged(t, map[string]uint64{p1: 6}, 30*time.Second)
	summary, err := nationalv1.NewNationalServiceClient(ministry.client.Conn()).Summarize(context.Background(),
		&nationalv1.SummarizeRequest{Collection: "agreements", GroupBy: []string{"province"}})
	if err != nil || summary.GetTotal().GetCount() != 2 {
		t.Errorf("the ministry's national count of agreements: %v, %v; want the 2 not deleted", summary.GetTotal(), err)
	}

	_, joiner := f.join(t, back, fedKey, owner, "ha-noi", []string{mofa}, members...)
	eventually(t, 30*time.Second, func() (bool, string) {
		got, c := getAgreement(t, joiner, forJoiner.GetName())
		return c == codes.OK && got.GetEtag() == forJoiner.GetEtag(), fmt.Sprintf("ha-noi, which joined after %s was written for it, answers Get with %v %v", forJoiner.GetName(), c, got.GetEtag())
	})
	if _, c := getAgreement(t, joiner, national.GetName()); c != codes.NotFound {
		t.Errorf("ha-noi answers Get %s, national, with %v; want NOT_FOUND", national.GetName(), c)
	}
	f.waitConverged(t, map[string]uint64{p1: 7}, 30*time.Second)

	ctx := context.Background()
	for _, n := range []*testNode{owner, ministry, joiner} {
		if rc, err := n.node.Store().CheckRecords(ctx); err != nil || rc.Found != 0 {
			t.Errorf("%s's record check: %v %v", n.member, rc.Problems, err)
		}
	}
	if _, _, problems, err := owner.node.Store().VerifyAudit(ctx); err != nil || len(problems) != 0 {
		t.Errorf("the owner's audit trail with the entries it made: %v %v", problems, err)
	}
}

// TestBackupThatOwesDeliversAfterItsPeersCopy: an owner is started on an
// old copy of its data directory (a backup) that still owes the ministry a
// national record, with the manifest that takes the ministry back, while
// its peer holds entries of its log the copy lacks. It writes nothing of
// what it owes before its peer's checkpoint of its log has told it it is
// behind, and delivers the record once the peer has given those entries
// back: no fork (an outside review: the start's delivery wrote on the old
// head, before any exchange, and the node held its writes as forked). Also
// when the owner has no peers of its own and hears of its log only from
// the members that pull from it (adopted), which closed the wait at once.
//
// Also when the owner starts on the manifest it held then, so that its
// peer's first message is the manifest that gives the ministry a key back:
// it wrote the record on the old head as it took it, before the peer's
// checkpoint of its log came (a review of the fix).
func TestBackupThatOwesDeliversAfterItsPeersCopy(t *testing.T) {
	t.Run("peers", func(t *testing.T) { backupThatOwesDelivers(t, false, false) })
	t.Run("no peers of its own", func(t *testing.T) { backupThatOwesDelivers(t, true, false) })
	t.Run("on its older manifest", func(t *testing.T) { backupThatOwesDelivers(t, false, true) })
}

func backupThatOwesDelivers(t *testing.T, noPeers, olderManifest bool) {
	members := []string{p1, p2, mofa}
	peers := mesh(members)
	if noPeers {
		peers[p1] = nil
	}
	f, fedKey := signedFederation(t, members, peers)
	f.startAll()
	owner, ministry := f.nodes[p1], f.nodes[mofa]
	without, saved := withoutMember(t, f.manifest, fedKey, mofa)
	if err := owner.node.OfferManifest(without); err != nil {
		t.Fatal(err)
	}
	f.manifest = without
	f.waitSerial(t, 2, p1, p2)
	national := createVisible(t, owner, "national", typev1.Visibility_VISIBILITY_NATIONAL)

	f.stop(p1)
	backup := t.TempDir()
	if err := os.CopyFS(backup, os.DirFS(owner.dir)); err != nil {
		t.Fatal(err)
	}
	owner = f.start(p1)
	createAgreements(t, owner, 2, "after-backup")
	eventually(t, 10*time.Second, func() (bool, string) {
		seq := f.nodes[p2].origin(t, p1).GetSeq()
		return seq == 3, fmt.Sprintf("%s holds %s's log up to %d, want 3", p2, p1, seq)
	})
	f.stop(p1)

	back := nextManifest(t, without, fedKey, func(m *federation.Manifest) {
		m.Members = append(m.Members, saved)
	})
	if err := f.nodes[p2].node.OfferManifest(back); err != nil {
		t.Fatal(err)
	}
	f.waitSerial(t, 3, p2, mofa)
	owner.dir = backup
	if olderManifest {
		f.manifest = without
	}
	owner = f.start(p1)
	f.manifest = back

	eventually(t, 20*time.Second, func() (bool, string) {
		got, c := getAgreement(t, ministry, national.GetName())
		return c == codes.OK && got.GetEtag() == national.GetEtag(), fmt.Sprintf("the ministry answers Get %s with %v %v; want it as written", national.GetName(), c, got.GetEtag())
	})
	// 1-3 as the peer held them, 4 the delivery after them.
	f.waitConverged(t, map[string]uint64{p1: 4}, 20*time.Second)
	if d := owner.origin(t, p1).GetDamaged(); len(d) != 0 {
		t.Errorf("the owner's own log is held: %v", d)
	}
	for _, n := range []*testNode{f.nodes[p2], ministry} {
		if r := n.metrics(t).GetRunsRefused(); r != 0 {
			t.Errorf("%s refused %d runs of the owner: it forked its log", n.member, r)
		}
	}
	if err := tryCreate(owner, "after-delivery"); err != nil {
		t.Errorf("a write after the delivery: %v", err)
	}
}

// heldOpenPeer answers a pull's first message, then sends nothing until
// the caller gives up: a peer in a long catch-up, or one that holds pulls
// open.
type heldOpenPeer struct {
	syncv1.UnimplementedSyncServiceServer
}

func (heldOpenPeer) Pull(_ *syncv1.PullRequest, stream grpc.ServerStreamingServer[syncv1.PullResponse]) error {
	// A first message of logs (refused: it is signed by no one).
	cp := &syncv1.Checkpoint{Origin: p2, Seq: 1, Hash: make([]byte, 32), Signature: make([]byte, 64)}
	if err := stream.Send(&syncv1.PullResponse{Checkpoints: []*syncv1.Checkpoint{cp}}); err != nil {
		return err
	}
	<-stream.Context().Done()
	return stream.Context().Err()
}

// TestDeliveriesDoNotWaitForAPullToEnd: what the owner owes is written
// once each peer's first pull has taken in its first message, or was not
// made for want of room, within the 30 s the start waits at most. A peer
// whose pull stayed open (5 minutes idle, or for good while it sent
// something) and pulls paused for the disk reserve held every delivery
// (an outside review), while users' writes went on.
func TestDeliveriesDoNotWaitForAPullToEnd(t *testing.T) {
	t.Run("a peer's pull held open", func(t *testing.T) { owedDeliveredWhile(t, true, 0) })
	t.Run("pulls paused for the disk reserve", func(t *testing.T) { owedDeliveredWhile(t, false, 1<<50) })
}

func owedDeliveredWhile(t *testing.T, heldOpen bool, reserve int64) {
	members := []string{p1, p2, mofa}
	f, fedKey := signedFederation(t, members, mesh(members))
	if heldOpen {
		f.peerServer(t, p2, heldOpenPeer{})
	}
	f.nodes[p1].diskReserve = reserve
	owner, ministry := f.start(p1), f.start(mofa)
	without, saved := withoutMember(t, f.manifest, fedKey, mofa)
	if err := owner.node.OfferManifest(without); err != nil {
		t.Fatal(err)
	}
	f.manifest = without
	national := createVisible(t, owner, "national", typev1.Visibility_VISIBILITY_NATIONAL)
	back := nextManifest(t, without, fedKey, func(m *federation.Manifest) { m.Members = append(m.Members, saved) })
	if err := owner.node.OfferManifest(back); err != nil {
		t.Fatal(err)
	}
	f.manifest = back
	// Within less than the start's longest wait.
	eventually(t, 20*time.Second, func() (bool, string) {
		_, c := getAgreement(t, ministry, national.GetName())
		return c == codes.OK, fmt.Sprintf("the ministry answers Get %s with %v; want the record owed to it", national.GetName(), c)
	})
}
