package replication_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/changelog"
	"github.com/provex/provex/federation"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/testlog"
	"github.com/provex/provex/pki"
	"github.com/provex/provex/replication"
)

// signedFederation is newFederation with a manifest signed by a federation
// key, which it returns to sign the manifests that follow.
func signedFederation(t *testing.T, members []string, peers map[string][]string) (*testFederation, ed25519.PrivateKey) {
	t.Helper()
	f := newFederation(t, members, peers)
	_, fedKey, err := federation.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.manifest.Sign(fedKey); err != nil {
		t.Fatal(err)
	}
	return f, fedKey
}

// nextManifest copies m with the serial raised, changes it, and signs it.
func nextManifest(t *testing.T, m *federation.Manifest, key ed25519.PrivateKey, change func(*federation.Manifest)) *federation.Manifest {
	t.Helper()
	n := *m
	n.Members = append([]federation.Member(nil), m.Members...)
	n.Serial++
	if change != nil {
		change(&n)
	}
	if err := n.Sign(key); err != nil {
		t.Fatal(err)
	}
	return &n
}

// withoutMember is the manifest after prev, signed by fedKey, that removes
// member, and member's entry in prev.
func withoutMember(t *testing.T, prev *federation.Manifest, fedKey ed25519.PrivateKey, member string) (*federation.Manifest, federation.Member) {
	t.Helper()
	var removed federation.Member
	m := nextManifest(t, prev, fedKey, func(m *federation.Manifest) {
		m.Members = slices.DeleteFunc(m.Members, func(mem federation.Member) bool {
			if mem.ID == member {
				removed = mem
				return true
			}
			return false
		})
	})
	return m, removed
}

// join adds member, a province with keys of its own at a free address,
// to the manifest after prev, signed by fedKey; gives that manifest to via
// and waits until members have taken it; and starts member's node pulling
// from peers. It returns the manifest and the node.
func (f *testFederation) join(t *testing.T, prev *federation.Manifest, fedKey ed25519.PrivateKey, via *testNode, member string, peers []string, members ...string) (*federation.Manifest, *testNode) {
	t.Helper()
	keys, err := federation.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddrs(t, 1)[0]
	m := nextManifest(t, prev, fedKey, func(m *federation.Manifest) {
		m.Members = append(m.Members, federation.Member{ID: member, Role: federation.RoleProvince, Address: addr,
			PublicKey: keys.SigningPublic(), EncryptionKey: keys.EncryptionPublic()})
	})
	if err := via.node.OfferManifest(m); err != nil {
		t.Fatal(err)
	}
	f.waitSerial(t, uint64(m.Serial), members...)
	f.keys[member], f.manifest = keys, m
	f.peers[member] = peers
	f.nodes[member] = &testNode{member: member, dir: t.TempDir(), addr: addr, fed: f}
	return m, f.start(member)
}

func (f *testFederation) waitSerial(t *testing.T, serial uint64, members ...string) {
	t.Helper()
	eventually(t, 10*time.Second, func() (bool, string) {
		for _, m := range members {
			if got := f.nodes[m].state(t).GetManifest().GetSerial(); got != serial {
				return false, fmt.Sprintf("%s is on manifest serial %d, want %d", m, got, serial)
			}
		}
		return true, ""
	})
}

// TestManifestTravelsAddsRotatesAndRemoves runs a line of four nodes and
// gives each new signed manifest to one node only, at one end: it reaches
// all, and takes effect without a restart. A member's keys are rotated
// (what it signed before still verifies, what it writes after verifies with
// the new key), a new member joins and is synced (its first peer pulls from
// it once it announces, though no node was configured to), and a removed
// one is refused, and its adopted peer dropped, until it comes back.
func TestManifestTravelsAddsRotatesAndRemoves(t *testing.T) {
	members := []string{"cao-bang", "lang-son", "quang-ninh", "mofa"}
	f, fedKey := signedFederation(t, members, line(members))
	keyFile := f.withKeyFile("cao-bang")
	f.startAll()
	createAgreements(t, f.nodes["cao-bang"], 5, "before")
	f.waitConverged(t, map[string]uint64{"cao-bang": 5}, 15*time.Second)

	// Rotation: the member puts new keys in its key file, the ministry
	// publishes them; the manifest goes to mofa, at the far end.
	rotated, m2 := rotateSigningKey(t, f, fedKey, "cao-bang", keyFile, f.nodes["cao-bang"], members...)
	// Before it writes anything new, its re-signed head reaches every
	// copy: the new key alone proves the whole log everywhere, so the old
	// one could be dropped from the manifest.
	for _, id := range members {
		eventually(t, 10*time.Second, func() (bool, string) {
			held, err := f.nodes[id].node.Store().Checkpoint(context.Background(), "cao-bang", 5)
			return err == nil && held.Seq == 5 && held.Verify(rotated.SigningPublic()),
				fmt.Sprintf("%s holds cao-bang's checkpoint %d, not of the new key (%v)", id, held.Seq, err)
		})
	}
	createAgreements(t, f.nodes["cao-bang"], 5, "after")
	f.waitConverged(t, map[string]uint64{"cao-bang": 10}, 15*time.Second)
	for _, id := range members {
		keys, _ := f.nodes[id].node.Manifest().SigningKeys("cao-bang")
		res, err := f.nodes[id].node.Store().VerifyLog(context.Background(), "cao-bang", keys, true)
		if err != nil || len(res.Damaged) != 0 || res.BadCheckpoints != 0 || res.Verified != 10 {
			t.Errorf("%s: cao-bang's log across the rotation: %+v, %v", id, res, err)
		}
		// The newest checkpoint is the new key's: it covers the whole log.
		newOnly := []ed25519.PublicKey{rotated.SigningPublic()}
		if res, err := f.nodes[id].node.Store().VerifyLog(context.Background(), "cao-bang", newOnly, true); err != nil || res.Verified != 10 {
			t.Errorf("%s: the new key alone does not cover cao-bang's log: %+v, %v", id, res, err)
		}
	}

	// What is not newer, not signed, or signed by another key is refused.
	if err := f.nodes["lang-son"].node.OfferManifest(f.manifest); !errors.Is(err, federation.ErrNotNewer) {
		t.Errorf("an older manifest: %v", err)
	}
	unsigned := *nextManifest(t, m2, fedKey, nil)
	unsigned.Signature = nil
	if err := f.nodes["lang-son"].node.OfferManifest(&unsigned); err == nil {
		t.Error("an unsigned manifest was taken")
	}
	_, stranger, _ := federation.GenerateKey()
	forged := nextManifest(t, m2, stranger, nil)
	if err := f.nodes["lang-son"].node.OfferManifest(forged); err == nil {
		t.Error("a manifest signed by another key was taken")
	}
	if got := f.nodes["lang-son"].node.Manifest().Serial; got != 2 {
		t.Fatalf("lang-son is on serial %d after refusals", got)
	}

	// A new member joins through a manifest given to cao-bang, and its
	// node, started on it, is synced; quang-ninh leaves and is refused.
	m3, _ := f.join(t, m2, fedKey, f.nodes["cao-bang"], "ha-noi", []string{"mofa"}, members...)
	haNoi := m3.Members[len(m3.Members)-1]
	createAgreements(t, f.nodes["ha-noi"], 3, "new")
	f.waitConverged(t, map[string]uint64{"ha-noi": 3, "cao-bang": 10}, 15*time.Second)

	f.nodes["mofa"].peerState(t, "ha-noi") // adopted: ha-noi pulls from it

	// ha-noi leaves, by a manifest given to cao-bang: the others take it,
	// ha-noi cannot (it does not list ha-noi), and its peer refuses it.
	m4, _ := withoutMember(t, m3, fedKey, "ha-noi")
	if err := f.nodes["cao-bang"].node.OfferManifest(m4); err != nil {
		t.Fatal(err)
	}
	f.waitSerial(t, 4, members...)
	if got := f.nodes["ha-noi"].node.Manifest().Serial; got != 3 {
		t.Errorf("ha-noi took serial %d, which removes it", got)
	}
	stream, err := f.peerClient(t, f.nodes["mofa"], "ha-noi").Pull(context.Background(), &syncv1.PullRequest{Member: "ha-noi"})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("a removed member's pull: %v, want PermissionDenied", err)
	}
	// What it wrote while a member stays, verified, on the others.
	if o := f.nodes["cao-bang"].origin(t, "ha-noi"); o.GetSeq() != 3 {
		t.Errorf("cao-bang holds ha-noi up to %d", o.GetSeq())
	}
	// mofa pulled from ha-noi because ha-noi pulled from it (no node
	// lists ha-noi as a peer); it stops once ha-noi is no member, where it
	// kept failing pulls until a restart.
	eventually(t, 10*time.Second, func() (bool, string) {
		for _, p := range f.nodes["mofa"].state(t).GetPeers() {
			if p.GetMember() == "ha-noi" {
				return false, fmt.Sprintf("mofa still pulls from ha-noi (%d pulls, last error %q)", p.GetPulls(), p.GetLastError())
			}
		}
		return true, ""
	})
	// ha-noi comes back, with its keys and data: mofa takes it as a peer
	// again, and what it writes then reaches everyone.
	m5 := nextManifest(t, m4, fedKey, func(m *federation.Manifest) {
		m.Members = append(m.Members, haNoi)
	})
	if err := f.nodes["cao-bang"].node.OfferManifest(m5); err != nil {
		t.Fatal(err)
	}
	f.waitSerial(t, 5, append(members, "ha-noi")...)
	createAgreements(t, f.nodes["ha-noi"], 2, "again")
	f.waitConverged(t, map[string]uint64{"ha-noi": 5, "cao-bang": 10}, 20*time.Second)
	f.nodes["mofa"].peerState(t, "ha-noi")
}

// TestStaleManifestFailsClosed: past its expiry's grace a node neither
// pulls nor serves its peers, says so in its sync state and health, and
// still answers its own API; a newer signed manifest given to one node
// brings sync back on both.
func TestStaleManifestFailsClosed(t *testing.T) {
	members := []string{"cao-bang", "lang-son"}
	f := newFederation(t, members, line(members))
	_, fedKey, err := federation.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	expired := time.Now().Add(-federation.ExpiryGrace - time.Hour)
	f.manifest.Issued, f.manifest.Expires = expired.AddDate(-1, 0, 0), expired
	if err := f.manifest.Sign(fedKey); err != nil {
		t.Fatal(err)
	}
	f.startAll()
	createAgreements(t, f.nodes["cao-bang"], 3, "stale") // its own API still serves
	st := f.nodes["lang-son"].state(t).GetManifest()
	if !st.GetSyncStopped() || st.GetWarning() == "" {
		t.Fatalf("sync state of a stale manifest: %+v", st)
	}
	if problems := f.nodes["lang-son"].node.Problems(context.Background()); len(problems) == 0 {
		t.Error("health shows no problem with a stale manifest")
	}
	stream, err := f.peerClient(t, f.nodes["cao-bang"], "lang-son").Pull(context.Background(), &syncv1.PullRequest{Member: "lang-son", ManifestSerial: 1})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.FailedPrecondition {
		t.Errorf("a pull from a node past its grace: %v, want FailedPrecondition", err)
	}
	if o := f.nodes["lang-son"].origin(t, "cao-bang"); o.GetSeq() != 0 {
		t.Fatalf("lang-son synced %d entries on a stale manifest", o.GetSeq())
	}
	fresh := nextManifest(t, f.manifest, fedKey, func(m *federation.Manifest) {
		m.Issued, m.Expires = time.Now().Truncate(time.Second), time.Now().AddDate(1, 0, 0).Truncate(time.Second)
	})
	if err := f.nodes["cao-bang"].node.OfferManifest(fresh); err != nil {
		t.Fatal(err)
	}
	f.waitSerial(t, 2, members...)
	f.waitConverged(t, map[string]uint64{"cao-bang": 3}, 15*time.Second)
	if st := f.nodes["lang-son"].state(t).GetManifest(); st.GetSyncStopped() || st.GetWarning() != "" {
		t.Errorf("after a fresh manifest: %+v", st)
	}
}

// TestNewCAIsTrustedLive: a manifest that adds a second CA (the first step
// of replacing the federation CA) lets in, without a restart, a member
// whose certificate the new CA signed; one that then drops the old CA
// shuts out certificates of the old one, even on connections made before.
func TestNewCAIsTrustedLive(t *testing.T) {
	members := []string{"cao-bang", "mofa"}
	f, fedKey := signedFederation(t, members, line(members))
	f.startAll()
	ca2, err := pki.InitCA(t.TempDir(), pki.DefaultCAName, pki.DefaultCAValidity, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	newCert, err := ca2.IssueTLS("mofa", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	bothPool := x509.NewCertPool()
	bothPool.AppendCertsFromPEM(f.manifest.CA)
	bothPool.AppendCertsFromPEM(ca2.CertPEM())
	pull := func(cert tls.Certificate) error {
		// The client trusts both CAs: the node's own certificate is still
		// the old CA's until it is issued again and the node restarted.
		creds := credentials.NewTLS(pki.PeerClientConfig(cert, bothPool, "cao-bang"))
		conn, err := grpc.NewClient(f.nodes["cao-bang"].addr, grpc.WithTransportCredentials(creds))
		if err != nil {
			return err
		}
		defer conn.Close()
		stream, err := syncv1.NewSyncServiceClient(conn).Pull(context.Background(), &syncv1.PullRequest{Member: "mofa", ManifestSerial: 99})
		if err != nil {
			return err
		}
		for {
			if _, err := stream.Recv(); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
		}
	}
	if err := pull(newCert); err == nil {
		t.Fatal("a certificate of a CA the manifest does not list was let in")
	}
	m2 := nextManifest(t, f.manifest, fedKey, func(m *federation.Manifest) {
		m.CA = append(append([]byte(nil), m.CA...), ca2.CertPEM()...)
	})
	if err := f.nodes["cao-bang"].node.OfferManifest(m2); err != nil {
		t.Fatal(err)
	}
	if err := pull(newCert); err != nil {
		t.Fatalf("a certificate of the CA the manifest added: %v", err)
	}
	if err := pull(f.cert("mofa")); err != nil {
		t.Fatalf("a certificate of the CA still listed: %v", err)
	}
	m3 := nextManifest(t, m2, fedKey, func(m *federation.Manifest) { m.CA = ca2.CertPEM() })
	if err := f.nodes["cao-bang"].node.OfferManifest(m3); err != nil {
		t.Fatal(err)
	}
	if err := pull(f.cert("mofa")); err == nil {
		t.Error("a certificate of the CA the manifest dropped was let in")
	}
}

// TestEncryptionKeyRotatedWhileServing: lang-son rotates its encryption key
// alone (provex keygen --rotate-encryption) while its node serves, and the
// ministry publishes the new key. A record sealed to lang-son after that
// opens on its running node. Before, the node took the new key only when
// its signing key changed too: it kept opening with the old one, passed
// the new entries over as not addressed to it, and never applied them,
// even after a restart.
func TestEncryptionKeyRotatedWhileServing(t *testing.T) {
	members := []string{"cao-bang", "lang-son", "mofa"}
	f, fedKey := signedFederation(t, members, line(members))
	keyFile := f.withKeyFile("lang-son")
	f.startAll()
	rotated, err := federation.RotateEncryptionKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	m2 := nextManifest(t, f.manifest, fedKey, func(m *federation.Manifest) {
		for i := range m.Members {
			if m.Members[i].ID == "lang-son" {
				m.Members[i].EncryptionKey = rotated.EncryptionPublic()
			}
		}
	})
	if err := f.nodes["mofa"].node.OfferManifest(m2); err != nil {
		t.Fatal(err)
	}
	f.waitSerial(t, 2, members...)
	rec := createVisible(t, f.nodes["cao-bang"], "after-rotation", typev1.Visibility_VISIBILITY_RESTRICTED, "lang-son")
	eventually(t, 15*time.Second, func() (bool, string) {
		got, code := getAgreement(t, f.nodes["lang-son"], rec.GetName())
		return code == codes.OK && proto.Equal(got, rec), fmt.Sprintf("lang-son reads the record sealed to its new key: %v", code)
	})
}

// TestLongLogCaughtUpAfterARotation: a member rotated its key after
// writing more than a pull holds waiting for a checkpoint (64 MiB, 2 here); its
// checkpoints before the rotation are signed with the retired key, which
// proves no entries a node does not hold, and its new key signed its head
// alone. A node that joins then (or restores from its peers) pulling the
// log from the member catches up the whole of it: before, it held the old
// log waiting for the head's checkpoint, refused the run at the bound, and
// never caught up. One that pulls it only from a relay that held it before
// the rotation, which has only the retired key's checkpoints of it, catches
// up too: a scan of the log proves them by the current key's checkpoint of
// the head (proven.go).
func TestLongLogCaughtUpAfterARotation(t *testing.T) {
	// A pull holds 2 MiB here, not 64: the same with a log of 4.5 MB.
	replication.SetMaxPendingBytes(t, 2<<20)
	members := []string{"cao-bang", "lang-son", "quang-ninh", "mofa"}
	f, fedKey := signedFederation(t, members, map[string][]string{"mofa": {"cao-bang"}, "lang-son": {"cao-bang"}, "quang-ninh": {"lang-son"}})
	keyFile := f.withKeyFile("cao-bang")
	origin := f.start("cao-bang")
	f.start("lang-son")
	const records = 600 // with summaries of 7,500 characters: 4.5 MB
	createSummarisedAgreements(t, origin, records, 32, "long", strings.Repeat("x", 7500))
	f.waitConverged(t, map[string]uint64{"cao-bang": records}, 60*time.Second)
	rotated, err := federation.RotateKeys(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	m2 := rotateMember(t, f.manifest, fedKey, "cao-bang", f.keys["cao-bang"].SigningPublic(), rotated)
	if err := origin.node.OfferManifest(m2); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() (bool, string) {
		held, err := origin.node.Store().Checkpoint(context.Background(), "cao-bang", records)
		return err == nil && held.Seq == records && held.Verify(rotated.SigningPublic()), "cao-bang's head is not signed with its new key"
	})
	f.manifest = m2
	eventually(t, 30*time.Second, func() (bool, string) {
		held, err := f.nodes["lang-son"].node.Store().Checkpoint(context.Background(), "cao-bang", records)
		return err == nil && held.Seq == records && held.Verify(rotated.SigningPublic()), fmt.Sprintf("lang-son, the relay, holds no checkpoint of cao-bang's head of its new key (%d, %v)", held.Seq, err)
	})
	ministry := f.start("mofa")
	relayed := f.start("quang-ninh")
	eventually(t, 60*time.Second, func() (bool, string) {
		got := ministry.origin(t, "cao-bang").GetSeq()
		return got == records, fmt.Sprintf("mofa holds cao-bang up to %d, want %d", got, records)
	})
	eventually(t, 60*time.Second, func() (bool, string) {
		got := relayed.origin(t, "cao-bang").GetSeq()
		return got == records, fmt.Sprintf("quang-ninh holds cao-bang up to %d, want %d (its last error from lang-son: %q)", got, records, relayed.peerState(t, "lang-son").GetLastError())
	})
	keys, _ := m2.SigningKeys("cao-bang")
	for _, member := range []string{"mofa", "quang-ninh"} {
		if res, err := f.nodes[member].node.Store().VerifyLog(context.Background(), "cao-bang", keys, true); err != nil || len(res.Damaged) != 0 || res.Verified != records {
			t.Errorf("%s's copy of cao-bang's log: %+v, %v", member, res, err)
		}
	}
}

// TestRetiredKeyCannotProveAForgedLog: whoever holds cao-bang's retired key
// relays, to a node that holds none of cao-bang's log, a forged one longer
// than a pull holds, each entry under a checkpoint of the retired key, and
// then cao-bang's genuine checkpoint of its head, of its new key. The scan
// that proves retired checkpoints (proven.go) finds that checkpoint not on
// the forged chain: nothing is applied, at the next pulls either, and the
// refusal says why.
func TestRetiredKeyCannotProveAForgedLog(t *testing.T) {
	replication.SetMaxPendingBytes(t, 64<<10)
	f, fedKey := signedFederation(t, []string{p1, p2, mofa}, map[string][]string{mofa: {p2}})
	keyFile := f.withKeyFile(p1)
	origin := f.start(p1)
	createAgreements(t, origin, 3, "genuine")
	retiredKey := f.keys[p1].Signing
	rotated, err := federation.RotateKeys(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	m2 := rotateMember(t, f.manifest, fedKey, p1, f.keys[p1].SigningPublic(), rotated)
	if err := origin.node.OfferManifest(m2); err != nil {
		t.Fatal(err)
	}
	var head changelog.Checkpoint
	eventually(t, 10*time.Second, func() (bool, string) {
		head, err = origin.node.Store().Checkpoint(context.Background(), p1, 3)
		return err == nil && head.Seq == 3 && head.Verify(rotated.SigningPublic()), "cao-bang's head is not signed with its new key"
	})
	f.manifest = m2

	relay := &scriptedPeer{}
	prev := changelog.ZeroHash
	for seq := uint64(1); seq <= 3; seq++ {
		rec := &twinningv1.Agreement{Name: fmt.Sprintf("provinces/%s/agreements/forged-%d", p1, seq), DisplayName: "FORGED", Kind: twinningv1.Agreement_KIND_MOU, Summary: strings.Repeat("f", 40<<10)}
		data, err := proto.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		e := changelog.Entry{Origin: p1, Seq: seq, HLC: time.Now().UnixNano(), Name: rec.GetName(), Data: data, PrevHash: prev}
		e.Hash = changelog.Sum(&e)
		cp := changelog.SignCheckpoint(retiredKey, p1, e.Seq, e.Hash)
		msg := &syncv1.PullResponse{
			Entries:     []*syncv1.Entry{{Origin: e.Origin, Seq: e.Seq, Hlc: e.HLC, Name: e.Name, Data: e.Data, PrevHash: e.PrevHash, Hash: e.Hash}},
			Checkpoints: []*syncv1.Checkpoint{{Origin: cp.Origin, Seq: cp.Seq, Hash: cp.Hash, Signature: cp.Signature}},
		}
		if seq == 1 {
			relay.resp = msg
		} else {
			relay.more = append(relay.more, msg)
		}
		prev = e.Hash
	}
	relay.more = append(relay.more, &syncv1.PullResponse{Checkpoints: []*syncv1.Checkpoint{{Origin: head.Origin, Seq: head.Seq, Hash: head.Hash, Signature: head.Signature}}})
	ministry := f.start(mofa)
	f.peerServer(t, p2, relay)
	relay.waitPulls(t, 3)
	if got := ministry.origin(t, p1).GetSeq(); got != 0 {
		t.Errorf("the ministry holds %d entries of cao-bang's log, from a forged log under its retired key", got)
	}
	if e := ministry.peerState(t, p2).GetLastError(); !strings.Contains(e, "no checkpoint of its current key proving them") {
		t.Errorf("the ministry's last error from the relay: %q", e)
	}
}

// TestProvenCheckpointsOfAnotherPeerDoNotBlockCatchUp: cao-bang wrote more
// than maxProven entries and then rotated its key; lang-son relays its log.
// nghe-an, a member holding the retired key, serves the ministry the
// genuine log once, with a checkpoint of the retired key at every seq
// lang-son sends none for, and the new key's checkpoint of the head, then
// nothing. The ministry proved them all and, its room for proven
// checkpoints full of seqs lang-son never sends, proved nothing of
// lang-son's scans: it never caught up (an outside review; a member
// without the key could do the same with checkpoints it pulled from
// cao-bang before the rotation). A proven checkpoint now applies the
// entries up to it whichever peer sends them, and the lowest seqs are
// kept.
func TestProvenCheckpointsOfAnotherPeerDoNotBlockCatchUp(t *testing.T) {
	if testing.Short() {
		t.Skip("18,000 entries: CI's race step runs -short, the tests' step runs it")
	}
	replication.SetMaxPendingBytes(t, 512<<10)
	const count = 18000
	f, fedKey := signedFederation(t, []string{p1, p2, p3, mofa}, map[string][]string{p2: {p1}, mofa: {p3, p2}})
	keyFile := f.withKeyFile(p1)
	writeAgreementsOffline(t, f, p1, count, "long")
	origin := f.start(p1)
	f.start(p2)
	f.waitConverged(t, map[string]uint64{p1: count}, 120*time.Second)
	retiredKey := f.keys[p1].Signing
	rotated, err := federation.RotateKeys(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	f.manifest = rotateMember(t, f.manifest, fedKey, p1, f.keys[p1].SigningPublic(), rotated)
	if err := origin.node.OfferManifest(f.manifest); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		held, err := f.nodes[p2].node.Store().Checkpoint(context.Background(), p1, count)
		return err == nil && held.Seq == count && held.Verify(rotated.SigningPublic()), "lang-son holds no checkpoint of cao-bang's head of its new key"
	})
	f.stop(p1)
	// What lang-son serves a node that holds nothing, and where its
	// checkpoints are.
	_, msgs, err := pullAll(context.Background(), f.peerClientConn(t, f.nodes[p2], p3), &syncv1.PullRequest{Member: p3, ManifestSerial: uint64(f.manifest.Serial)})
	if err != nil {
		t.Fatal(err)
	}
	f.stop(p2)
	relayed := map[uint64]bool{}
	for _, m := range msgs {
		for _, c := range m.GetCheckpoints() {
			relayed[c.GetSeq()] = true
		}
	}
	attacker := &scriptedPeer{resp: &syncv1.PullResponse{}}
	for _, m := range msgs {
		msg := &syncv1.PullResponse{}
		for _, e := range m.GetEntries() {
			if e.GetOrigin() != p1 {
				continue
			}
			msg.Entries = append(msg.Entries, e)
			if !relayed[e.GetSeq()] {
				c := changelog.SignCheckpoint(retiredKey, p1, e.GetSeq(), e.GetHash())
				msg.Checkpoints = append(msg.Checkpoints, &syncv1.Checkpoint{Origin: p1, Seq: c.Seq, Hash: c.Hash, Signature: c.Signature})
			}
		}
		for _, c := range m.GetCheckpoints() {
			if c.GetSeq() == count { // the new key's, of the head
				msg.Checkpoints = append(msg.Checkpoints, c)
			}
		}
		attacker.more = append(attacker.more, msg)
	}
	var once atomic.Bool
	f.peerServer(t, p3, &oncePeer{scriptedPeer: attacker, served: &once})
	ministry := f.start(mofa)
	eventually(t, 30*time.Second, func() (bool, string) {
		return attacker.pulls.Load() >= 2, "the ministry has not pulled from nghe-an twice"
	})
	f.start(p2)
	eventually(t, 60*time.Second, func() (bool, string) {
		got := ministry.origin(t, p1).GetSeq()
		return got == count, fmt.Sprintf("the ministry holds cao-bang's log up to %d of %d (last error from lang-son: %q)", got, count, ministry.peerState(t, p2).GetLastError())
	})
}

// oncePeer serves its script's pull once, and nothing to the pulls after.
type oncePeer struct {
	*scriptedPeer
	served *atomic.Bool
}

func (p *oncePeer) Pull(req *syncv1.PullRequest, stream grpc.ServerStreamingServer[syncv1.PullResponse]) error {
	if p.served.Swap(true) {
		p.pulls.Add(1)
		return nil
	}
	return p.scriptedPeer.Pull(req, stream)
}

// TestAddressChangeReachesNodesThatCannotDialTheMember: a line cao-bang —
// lang-son — nghe-an; nghe-an is down while the ministry moves lang-son to
// a new address, and lang-son restarts there on the new manifest. cao-bang
// and nghe-an still hold the old manifest, so they dial lang-son where it
// no longer listens; a manifest went only from server to caller in a Pull,
// so they could never take it, and nothing written after reached nghe-an
// (found by an outside review with real processes in a line of six).
// lang-son, pulling from them, is told they hold an older manifest and
// sends its own: both take it, dial the new address, and sync again.
func TestAddressChangeReachesNodesThatCannotDialTheMember(t *testing.T) {
	members := []string{"cao-bang", "lang-son", "nghe-an"}
	f, fedKey := signedFederation(t, members, line(members))
	var logs testlog.Buffer
	f.nodes["lang-son"].logs = &logs
	f.startAll()
	createAgreements(t, f.nodes["cao-bang"], 2, "before")
	f.waitConverged(t, map[string]uint64{"cao-bang": 2}, 15*time.Second)

	f.stop("nghe-an")
	moved := freeAddrs(t, 1)[0]
	old := f.manifest
	f.manifest = nextManifest(t, old, fedKey, func(m *federation.Manifest) {
		for i := range m.Members {
			if m.Members[i].ID == "lang-son" {
				m.Members[i].Address = moved
			}
		}
	})
	// Its node, given the manifest while it runs, says it must restart.
	if err := f.nodes["lang-son"].node.OfferManifest(f.manifest); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() (bool, string) {
		return strings.Contains(logs.String(), `msg="the federation manifest moves this node to another sync address: restart it to listen there`) &&
			strings.Contains(logs.String(), "address="+moved), "lang-son's node did not say it must restart:\n" + logs.String()
	})
	// And its health and sync status say so while it runs: they said ok.
	const mustRestart = "moves this node to another sync address"
	if w := f.nodes["lang-son"].state(t).GetManifest().GetWarning(); !strings.Contains(w, mustRestart) || !strings.Contains(w, moved) {
		t.Errorf("lang-son's sync status does not say it must restart at %s: %q", moved, w)
	}
	if problems := strings.Join(f.nodes["lang-son"].node.Problems(context.Background()), "; "); !strings.Contains(problems, mustRestart) || strings.Contains(problems, moved) {
		t.Errorf("lang-son's health does not say it must restart, or names the address: %q", problems)
	}
	f.stop("lang-son")
	f.nodes["lang-son"].addr = moved
	f.start("lang-son") // on the new manifest, at its new address
	f.manifest = old
	f.start("nghe-an") // on the old one, which its store holds
	f.waitSerial(t, 2, members...)
	if problems := strings.Join(f.nodes["lang-son"].node.Problems(context.Background()), "; "); strings.Contains(problems, mustRestart) {
		t.Errorf("lang-son, restarted at its new address, still says it must restart: %q", problems)
	}

	createAgreements(t, f.nodes["cao-bang"], 3, "after")
	f.waitConverged(t, map[string]uint64{"cao-bang": 5}, 15*time.Second)
	for _, id := range []string{"cao-bang", "nghe-an"} {
		for _, p := range f.nodes[id].state(t).GetPeers() {
			if p.GetMember() == "lang-son" && p.GetAddress() != moved {
				t.Errorf("%s dials lang-son at %s, not its new address %s", id, p.GetAddress(), moved)
			}
		}
	}
}

// Two manifests signed with one serial (from two copies of the master):
// neither node takes the other's, so the federation stays split on who is
// in it. Both sides say so, in sync state and health, until a manifest of
// a higher serial reaches them.
func TestManifestsOfOneSerialAreShown(t *testing.T) {
	members := []string{"cao-bang", "mofa"}
	f, fedKey := signedFederation(t, members, line(members))
	f.startAll()
	base := f.manifest
	var a, b *federation.Manifest
	for try := 0; ; try++ {
		// Each node must take its own before the other's reaches it.
		a = nextManifest(t, base, fedKey, nil)
		b = nextManifest(t, base, fedKey, func(m *federation.Manifest) { m.Expires = m.Expires.Add(time.Hour) })
		if err := f.nodes["cao-bang"].node.OfferManifest(a); err != nil {
			t.Fatal(err)
		}
		err := f.nodes["mofa"].node.OfferManifest(b)
		if err == nil {
			break
		}
		if !errors.Is(err, federation.ErrNotNewer) || try == 3 {
			t.Fatal(err)
		}
		base = a
	}
	f.waitSerial(t, uint64(a.Serial), members...)
	for id, other := range map[string]string{"cao-bang": "mofa", "mofa": "cao-bang"} {
		eventually(t, 15*time.Second, func() (bool, string) {
			ms := f.nodes[id].state(t).GetManifest()
			return strings.Contains(ms.GetConflict(), other), fmt.Sprintf("%s's manifest state: %v", id, ms)
		})
		if problems := strings.Join(f.nodes[id].node.Problems(context.Background()), "; "); !strings.Contains(problems, "holds another federation manifest of serial") {
			t.Errorf("%s's health does not tell the split: %q", id, problems)
		}
	}
	if st := f.nodes["cao-bang"].state(t).GetManifest(); !bytes.Equal(st.GetDigest(), a.Digest()) {
		t.Errorf("cao-bang reports digest %x, its manifest's is %x", st.GetDigest(), a.Digest())
	}

	// The one meant, signed again with the next serial, ends it.
	c := nextManifest(t, b, fedKey, nil)
	if err := f.nodes["mofa"].node.OfferManifest(c); err != nil {
		t.Fatal(err)
	}
	f.waitSerial(t, uint64(c.Serial), members...)
	for _, id := range members {
		eventually(t, 15*time.Second, func() (bool, string) {
			ms := f.nodes[id].state(t).GetManifest()
			return ms.GetConflict() == "", fmt.Sprintf("%s still reports a split: %v", id, ms)
		})
	}
	// And stays so over pulls both ways (each pull, and each pull served,
	// says what the peer holds).
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		for _, id := range members {
			if ms := f.nodes[id].state(t).GetManifest(); ms.GetConflict() != "" {
				t.Fatalf("%s reports a split on one manifest: %v", id, ms.GetConflict())
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestOnePullClaimingAnotherManifestIsForgotten: a member that claims, in
// one pull, to hold another manifest of the node's serial (lying, or gone
// since) is named for a while, then no more: it degraded the node's health
// for good (an outside review). A real split says so at every pull.
func TestOnePullClaimingAnotherManifestIsForgotten(t *testing.T) {
	replication.SetSplitForgetAfter(t, 2*time.Second)
	f := newFederation(t, []string{p1, p2, p3}, map[string][]string{p1: {p2}, p2: {p1}})
	v := f.start(p1)
	f.start(p2)
	liar := f.peerClient(t, v, p3)
	stream, err := liar.Pull(context.Background(), &syncv1.PullRequest{Member: p3, ManifestSerial: uint64(f.manifest.Serial), ManifestDigest: bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := stream.Recv(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if c := v.state(t).GetManifest().GetConflict(); !strings.Contains(c, p3+" holds another federation manifest") {
		t.Fatalf("the claim is not told: %q", c)
	}
	eventually(t, 10*time.Second, func() (bool, string) {
		c := v.state(t).GetManifest().GetConflict()
		return c == "", "still named: " + c
	})
	if problems := strings.Join(v.node.Problems(context.Background()), "; "); strings.Contains(problems, "another federation manifest") {
		t.Errorf("health still tells the claim: %q", problems)
	}
}

// TestContactCountsOnlyWhatWasTakenIn: a node past its manifest's grace
// hears its peer at every pull and takes nothing in; it counted that as
// contact, so national freshness called the peer's province current
// while its figures stood still (an outside review). The peer here holds
// a fresh manifest of the same serial, so it serves the stopped node.
func TestContactCountsOnlyWhatWasTakenIn(t *testing.T) {
	members := []string{"cao-bang", "lang-son"}
	f := newFederation(t, members, map[string][]string{"cao-bang": {"lang-son"}})
	fresh := f.manifest
	stale := *fresh
	stale.Members = slices.Clone(fresh.Members)
	expired := time.Now().Add(-federation.ExpiryGrace - time.Hour)
	stale.Issued, stale.Expires = expired.AddDate(-1, 0, 0), expired
	f.manifest = &stale
	stopped := f.start("cao-bang")
	f.manifest = fresh
	f.start("lang-son")
	createAgreements(t, f.nodes["lang-son"], 2, "unseen")
	eventually(t, 10*time.Second, func() (bool, string) {
		for _, p := range stopped.state(t).GetPeers() {
			if p.GetMember() == "lang-son" && p.GetPulls() >= 3 {
				return true, ""
			}
		}
		return false, "cao-bang has not pulled from lang-son three times"
	})
	for _, p := range stopped.state(t).GetPeers() {
		if p.GetMember() == "lang-son" && (p.GetLastContact() != nil || p.GetLastError() == "") {
			t.Errorf("a node past its grace, its pulls refused by itself: lang-son's last contact %v, last error %q; want none, and the stop told", p.GetLastContact(), p.GetLastError())
		}
	}
	if o := stopped.origin(t, "lang-son"); o.GetSeq() != 0 {
		t.Fatalf("a node past its grace took %d entries", o.GetSeq())
	}
}

// TestRelayServesNoCheckpointOfADroppedKey: the ministry relays cao-bang's
// log, whose older checkpoints are of a key cao-bang rotated and the next
// manifest dropped; they stay stored until the relay's check that reads
// the whole log supersedes them. nghe-an, which joins by that manifest
// and never knew the key, pulls the log from the relay meanwhile. The
// relay served those checkpoints and nghe-an refused every run as forged
// ("bad signature") until the check had run (an outside review); it now
// serves none of them, and nghe-an takes the log, proven by the new key's
// checkpoint of the head.
func TestRelayServesNoCheckpointOfADroppedKey(t *testing.T) {
	f, fedKey := signedFederation(t, []string{p1, p3, mofa}, map[string][]string{p1: {mofa}, mofa: {p1}, p3: {mofa}})
	f.logCheck, f.logScrub = time.Hour, time.Hour // no check drops the retired key's checkpoints during the test
	keyFile := f.withKeyFile(p1)
	newcomer, _ := f.manifest.Member(p3)
	f.manifest = nextManifest(t, f.manifest, fedKey, func(m *federation.Manifest) {
		m.Members = slices.DeleteFunc(m.Members, func(mem federation.Member) bool { return mem.ID == p3 })
	})
	origin, relay := f.start(p1), f.start(mofa)
	const records = 2*replication.DefaultBatchSize + 20 // several messages, each with a checkpoint
	createAgreementsConcurrently(t, origin, records, 8, "before")
	f.waitConverged(t, map[string]uint64{p1: records}, 60*time.Second)

	old := f.keys[p1].SigningPublic()
	rotated, err := federation.RotateKeys(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	f.manifest = rotateMember(t, f.manifest, fedKey, p1, old, rotated)
	if err := relay.node.OfferManifest(f.manifest); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		held, err := relay.node.Store().Checkpoint(context.Background(), p1, records)
		return err == nil && held.Seq == records && held.Verify(rotated.SigningPublic()), "the relay holds no checkpoint of cao-bang's head of its new key"
	})
	f.stop(p1)
	f.manifest = nextManifest(t, f.manifest, fedKey, func(m *federation.Manifest) {
		for i := range m.Members {
			if m.Members[i].ID == p1 {
				m.Members[i].PreviousPublicKeys = nil
			}
		}
		m.Members = append(m.Members, newcomer)
	})
	if err := relay.node.OfferManifest(f.manifest); err != nil {
		t.Fatal(err)
	}
	f.waitSerial(t, uint64(f.manifest.Serial), mofa)
	if held, err := relay.node.Store().Checkpoint(context.Background(), p1, replication.DefaultBatchSize); err != nil || !held.Verify(old) {
		t.Fatalf("the relay no longer holds checkpoints of the dropped key (%d, %v): the test shows nothing", held.Seq, err)
	}

	joined := f.start(p3)
	eventually(t, 30*time.Second, func() (bool, string) {
		got := joined.origin(t, p1).GetSeq()
		return got == records, fmt.Sprintf("nghe-an holds cao-bang up to %d, want %d (its last error from the relay: %q)", got, records, joined.peerState(t, mofa).GetLastError())
	})
	if r := joined.metrics(t).GetRunsRefused(); r != 0 {
		t.Errorf("nghe-an refused %d runs of the relay", r)
	}
}

// TestMissedRotationRefusalSaysWhatToGive: lang-son is stopped while
// cao-bang rotates its key (serial 2) and the ministry drops the old one
// (serial 3). Given serial 3 alone, lang-son refuses it (cao-bang's log it
// holds would no longer verify), and the refusal said to add a removed
// member back (an outside review): it now says to give it the rotation's
// manifest first. Given serial 2, it refuses serial 3 until the new key's
// checkpoint arrives, saying so, and takes it once cao-bang is back.
func TestMissedRotationRefusalSaysWhatToGive(t *testing.T) {
	f, fedKey := signedFederation(t, []string{p1, p2}, mesh([]string{p1, p2}))
	keyFile := f.withKeyFile(p1)
	origin := f.start(p1)
	f.start(p2)
	createAgreements(t, origin, 2, "before")
	f.waitConverged(t, map[string]uint64{p1: 2}, 15*time.Second)
	f.stop(p2)

	rotated, err := federation.RotateKeys(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	rotation := rotateMember(t, f.manifest, fedKey, p1, f.keys[p1].SigningPublic(), rotated)
	drop := nextManifest(t, rotation, fedKey, func(m *federation.Manifest) {
		for i := range m.Members {
			if m.Members[i].ID == p1 {
				m.Members[i].PreviousPublicKeys = nil
			}
		}
	})
	for _, m := range []*federation.Manifest{rotation, drop} {
		if err := origin.node.OfferManifest(m); err != nil {
			t.Fatal(err)
		}
	}
	f.stop(p1)

	reader := f.start(p2)
	err = reader.node.OfferManifest(drop)
	if err == nil || !strings.Contains(err.Error(), "missed a rotation of cao-bang's key") || !strings.Contains(err.Error(), "manifest of that rotation first") {
		t.Fatalf("serial 3 offered to a node on serial 1: %v; want the advice to give it the rotation's manifest first", err)
	}
	if err := reader.node.OfferManifest(rotation); err != nil {
		t.Fatal(err)
	}
	err = reader.node.OfferManifest(drop)
	if err == nil || !strings.Contains(err.Error(), "the checkpoint of its new key has not reached this node yet") {
		t.Fatalf("serial 3 offered to a node on serial 2 without the new key's checkpoint: %v", err)
	}
	f.manifest = drop
	f.start(p1) // offers serial 3 in its pulls, and brings its head's checkpoint of the new key
	f.waitSerial(t, uint64(drop.Serial), p2)
}
