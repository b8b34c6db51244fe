package replication_test

// Review of issue 12 (signed manifests that travel, key rotation): attacks
// by a member with a valid certificate, on real nodes over mutual TLS.
// Tests named TestReview... that fail on the current code are skipped with
// the finding they show; the others pass and guard what holds.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
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
	"github.com/provex/provex/internal/testlog"
	"github.com/provex/provex/pki"
	"github.com/provex/provex/server"
	"github.com/provex/provex/storage/sqlstore"
)

// scriptedPeer serves fixed Pull responses (entries closed by their
// checkpoint, and/or a manifest) and counts the pulls it got.
type scriptedPeer struct {
	syncv1.UnimplementedSyncServiceServer
	resp  *syncv1.PullResponse
	more  []*syncv1.PullResponse // sent after resp
	pulls atomic.Int64
}

func (p *scriptedPeer) Announce(context.Context, *syncv1.AnnounceRequest) (*syncv1.AnnounceResponse, error) {
	return &syncv1.AnnounceResponse{}, nil
}

func (p *scriptedPeer) Pull(_ *syncv1.PullRequest, stream grpc.ServerStreamingServer[syncv1.PullResponse]) error {
	defer p.pulls.Add(1)
	for _, r := range append([]*syncv1.PullResponse{p.resp}, p.more...) {
		if err := stream.Send(r); err != nil {
			return err
		}
	}
	return nil
}

// waitPulls waits until p served n pulls. A peer's loop pulls again only
// after it has applied (or refused) the previous pull, so after two pulls
// the first one's response has been dealt with.
func (p *scriptedPeer) waitPulls(t *testing.T, n int64) {
	t.Helper()
	eventually(t, 15*time.Second, func() (bool, string) {
		got := p.pulls.Load()
		return got >= n, fmt.Sprintf("the scripted peer served %d pulls, want %d", got, n)
	})
}

// forgedNext is an entry of origin after (seq, prev) naming one of its
// records, and a checkpoint over it signed by key.
func forgedNext(t *testing.T, origin string, seq uint64, prev []byte, key ed25519.PrivateKey) (*syncv1.Entry, *syncv1.Checkpoint) {
	t.Helper()
	rec := &twinningv1.Agreement{Name: "provinces/" + origin + "/agreements/forged-after-rotation", DisplayName: "FORGED with a retired key", Kind: twinningv1.Agreement_KIND_MOU}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	e := changelog.Entry{Origin: origin, Seq: seq, HLC: time.Now().UnixNano(), Name: rec.GetName(), Data: data, PrevHash: prev}
	e.Hash = changelog.Sum(&e)
	c := changelog.SignCheckpoint(key, origin, e.Seq, e.Hash)
	return &syncv1.Entry{Origin: e.Origin, Seq: e.Seq, Hlc: e.HLC, Name: e.Name, Data: e.Data, PrevHash: e.PrevHash, Hash: e.Hash},
		&syncv1.Checkpoint{Origin: c.Origin, Seq: c.Seq, Hash: c.Hash, Signature: c.Signature}
}

// rotateMember returns the next manifest, signed by fedKey, that publishes
// rotated's keys for member and lists its old signing key as retired, as
// provex manifest rotate does.
func rotateMember(t *testing.T, m *federation.Manifest, fedKey ed25519.PrivateKey, member string, old ed25519.PublicKey, rotated federation.NodeKeys) *federation.Manifest {
	t.Helper()
	return nextManifest(t, m, fedKey, func(m *federation.Manifest) {
		for i := range m.Members {
			if m.Members[i].ID == member {
				m.Members[i].PreviousPublicKeys = []ed25519.PublicKey{old}
				m.Members[i].PublicKey = rotated.SigningPublic()
				m.Members[i].EncryptionKey = rotated.EncryptionPublic()
			}
		}
	})
}

// rotateSigningKey rotates member's keys in its key file, as provex keygen
// --rotate does, offers the manifest that publishes them (rotateMember) to
// the ministry's node, waits until the members hold it, and until node,
// member's running node, signs with the new key. It returns the new keys
// and that manifest.
func rotateSigningKey(t *testing.T, f *testFederation, fedKey ed25519.PrivateKey, member, keyFile string, node *testNode, members ...string) (federation.NodeKeys, *federation.Manifest) {
	t.Helper()
	rotated, err := federation.RotateKeys(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	m := rotateMember(t, f.manifest, fedKey, member, f.keys[member].SigningPublic(), rotated)
	if err := f.nodes[mofa].node.OfferManifest(m); err != nil {
		t.Fatal(err)
	}
	f.waitSerial(t, uint64(m.Serial), members...)
	eventually(t, 10*time.Second, func() (bool, string) {
		return node.node.Store().SigningKey().Equal(rotated.SigningPublic()), member + " still signs with its old key"
	})
	return rotated, m
}

// TestReviewRetiredKeySignsNewCheckpoints: cao-bang rotates its signing key
// (the usual answer to a suspected compromise, THREATS.md) and writes on
// with the new one; the manifest lists the old key under
// previous_public_keys so that what it signed before still verifies. Whoever
// holds the old private key then extends cao-bang's log past the rotation:
// entry 4, after the three cao-bang wrote, with a checkpoint signed by the
// retired key, handed to the ministry by a member (lang-son) that relays
// it. The ministry must refuse it: the retired key signed nothing after the
// rotation; taking it would fork its copy of cao-bang's log, which
// cao-bang's own next entry 4 would not extend.
func TestReviewRetiredKeySignsNewCheckpoints(t *testing.T) {
	members := []string{p1, p2, mofa}
	f, fedKey := signedFederation(t, members, map[string][]string{p1: {mofa}, mofa: {p1, p2}})
	keyFile := f.withKeyFile(p1)
	f.start(p1)
	f.start(mofa)
	createAgreements(t, f.nodes[p1], 2, "before")
	f.waitConverged(t, map[string]uint64{p1: 2}, 15*time.Second)

	oldPriv := f.keys[p1].Signing
	rotateSigningKey(t, f, fedKey, p1, keyFile, f.nodes[p1], p1, mofa)
	createAgreements(t, f.nodes[p1], 1, "after") // entry 3, under the new key
	f.waitConverged(t, map[string]uint64{p1: 3}, 15*time.Second)
	head := f.nodes[mofa].origin(t, p1)

	entry, cp := forgedNext(t, p1, 4, head.GetHeadHash(), oldPriv)
	relay := &scriptedPeer{resp: &syncv1.PullResponse{Entries: []*syncv1.Entry{entry}, Checkpoints: []*syncv1.Checkpoint{cp}}}
	f.peerServer(t, p2, relay)
	relay.waitPulls(t, 2)
	if o := f.nodes[mofa].origin(t, p1); o.GetSeq() != 3 {
		t.Errorf("the ministry holds cao-bang's log up to %d: it took entry 4 signed by cao-bang's retired key after the rotation", o.GetSeq())
	}
}

// TestReviewDroppedCAStillTrusted: the ministry replaces the federation CA
// in a signed manifest (the old CA's key is feared lost). The node takes
// the manifest live, and its mutual TLS must follow at once: a certificate
// of the dropped CA (here the ministry's, which anyone holding the old CA
// key can mint) is no longer let in, without a restart.
func TestReviewDroppedCAStillTrusted(t *testing.T) {
	members := []string{p1, mofa}
	f, fedKey := signedFederation(t, members, line(members))
	f.startAll()
	ca2, err := pki.InitCA(t.TempDir(), pki.DefaultCAName, pki.DefaultCAValidity, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	m2 := nextManifest(t, f.manifest, fedKey, func(m *federation.Manifest) { m.CA = ca2.CertPEM() })
	if err := f.nodes[p1].node.OfferManifest(m2); err != nil {
		t.Fatal(err)
	}
	f.waitSerial(t, 2, p1)
	stream, err := f.peerClient(t, f.nodes[p1], mofa).Pull(context.Background(), &syncv1.PullRequest{Member: mofa, ManifestSerial: 2})
	if err == nil {
		_, err = stream.Recv()
	}
	if err == nil || errors.Is(err, io.EOF) { // served, with nothing to send
		t.Error("cao-bang, on a manifest whose only CA is the new one, let in a certificate of the dropped CA")
	}
}

// TestReviewRestoreKeepsTheNewerManifest: a restore starts from the
// operator's manifest file (serial 1) while the peers run on serial 2. The
// restore takes serial 2 from the first peer and saves it (the save hook),
// and must not, at its end, save the operator's serial 1 over it: a node
// that lost a federation-key handover that way could not catch up.
func TestReviewRestoreKeepsTheNewerManifest(t *testing.T) {
	members := []string{p1, p2}
	f, fedKey := signedFederation(t, members, line(members))
	f.startAll()
	createAgreements(t, f.nodes[p1], 2, "pub")
	f.waitConverged(t, map[string]uint64{p1: 2}, 15*time.Second)
	m2 := nextManifest(t, f.manifest, fedKey, nil)
	if err := f.nodes[p2].node.OfferManifest(m2); err != nil {
		t.Fatal(err)
	}
	f.waitSerial(t, 2, p1, p2)
	f.stop(p1)
	if _, err := f.restore(t, p1, true, server.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	saved, err := sqlstore.ReadSavedManifest(context.Background(), filepath.Join(f.nodes[p1].dir, server.DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	if saved == nil || saved.Serial != 2 {
		t.Errorf("after the restore the node keeps manifest serial %d, want serial 2, which its peer sent", saved.Serial)
	}
}

// TestReviewMovedAddressStillChecksIdentity: a manifest moves lang-son to
// an address where another member (the ministry, with its own valid
// certificate of the federation CA) listens. cao-bang dials the new
// address, and mutual TLS refuses the server: its certificate names mofa,
// not lang-son. The impostor gets no pull at all.
func TestReviewMovedAddressStillChecksIdentity(t *testing.T) {
	members := []string{p1, p2, mofa}
	f, fedKey := signedFederation(t, members, map[string][]string{p1: {p2}})
	f.start(p1)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	impostor := &scriptedPeer{resp: &syncv1.PullResponse{}}
	gs := grpc.NewServer(grpc.Creds(credentials.NewTLS(pki.PeerServerConfig(f.cert(mofa), f.pool))))
	syncv1.RegisterSyncServiceServer(gs, impostor)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	m2 := nextManifest(t, f.manifest, fedKey, func(m *federation.Manifest) {
		for i := range m.Members {
			if m.Members[i].ID == p2 {
				m.Members[i].Address = lis.Addr().String()
			}
		}
	})
	offered := time.Now()
	if err := f.nodes[p1].node.OfferManifest(m2); err != nil {
		t.Fatal(err)
	}
	// Wait until cao-bang has dialled the new address and failed there.
	eventually(t, 15*time.Second, func() (bool, string) {
		ps := f.nodes[p1].peerState(t, p2)
		return ps.GetAddress() == lis.Addr().String() && ps.GetLastErrorTime().AsTime().After(offered),
			fmt.Sprintf("cao-bang's state of lang-son: %v", ps)
	})
	t.Logf("cao-bang on lang-son's new address: %s", f.nodes[p1].peerState(t, p2).GetLastError())
	if n := impostor.pulls.Load(); n != 0 {
		t.Errorf("the impostor at lang-son's new address served %d pulls", n)
	}
}

// TestReviewConcurrentOffersWhileWriting: eight manifests (serials 2..9,
// the fifth rotating cao-bang's keys) are offered at once, from many
// goroutines, to cao-bang while it writes. The node ends on serial 9,
// signing with its new key, and every entry it wrote verifies on its peer.
// Run with -race.
func TestReviewConcurrentOffersWhileWriting(t *testing.T) {
	members := []string{p1, mofa}
	f, fedKey := signedFederation(t, members, line(members))
	keyFile := f.withKeyFile(p1)
	f.startAll()
	rotated, err := federation.RotateKeys(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	var ms []*federation.Manifest
	cur := f.manifest
	for s := 2; s <= 9; s++ {
		if s == 5 {
			cur = rotateMember(t, cur, fedKey, p1, f.keys[p1].SigningPublic(), rotated)
		} else {
			cur = nextManifest(t, cur, fedKey, nil)
		}
		ms = append(ms, cur)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); createAgreementsConcurrently(t, f.nodes[p1], 40, 4, "race") }()
	for i := len(ms) - 1; i >= 0; i-- {
		wg.Add(1)
		go func(m *federation.Manifest) {
			defer wg.Done()
			_ = f.nodes[p1].node.OfferManifest(m) // most are not newer by then
		}(ms[i])
	}
	wg.Wait()
	// Whatever order they came in, serial 9 is the newest: offer it last
	// for sure, as a peer would keep doing.
	_ = f.nodes[p1].node.OfferManifest(ms[len(ms)-1])
	f.waitSerial(t, 9, members...)
	eventually(t, 10*time.Second, func() (bool, string) {
		return f.nodes[p1].node.Store().SigningKey().Equal(rotated.SigningPublic()), "cao-bang still signs with its old key"
	})
	createAgreements(t, f.nodes[p1], 1, "last")
	f.waitConverged(t, map[string]uint64{p1: 41}, 20*time.Second)
	for _, id := range members {
		keys, _ := f.nodes[id].node.Manifest().SigningKeys(p1)
		res, err := f.nodes[id].node.Store().VerifyLog(context.Background(), p1, keys, true)
		if err != nil || len(res.Damaged) != 0 || res.BadCheckpoints != 0 || res.Verified != 41 {
			t.Errorf("%s: cao-bang's log: %+v, %v", id, res, err)
		}
	}
	if r := f.nodes[mofa].metrics(t).GetRunsRefused(); r != 0 {
		t.Errorf("the ministry refused %d runs of cao-bang's", r)
	}
}

// TestReviewRetiredKeyFreezesItsOwnersWrites: the same retired key, used
// against its owner. A member that cao-bang pulls from (lang-son) shows it
// a checkpoint of cao-bang's own log at seq 1000, signed by cao-bang's
// retired key after the rotation. Believing it, cao-bang would think
// entries 4..1000 were written and lost and refuse its own writes until a
// repair that can never come: it must go on writing.
func TestReviewRetiredKeyFreezesItsOwnersWrites(t *testing.T) {
	members := []string{p1, p2, mofa}
	f, fedKey := signedFederation(t, members, map[string][]string{p1: {mofa, p2}, mofa: {p1}})
	keyFile := f.withKeyFile(p1)
	f.start(p1)
	f.start(mofa)
	createAgreements(t, f.nodes[p1], 3, "before")
	oldPriv := f.keys[p1].Signing
	rotateSigningKey(t, f, fedKey, p1, keyFile, f.nodes[p1], p1, mofa)
	c := changelog.SignCheckpoint(oldPriv, p1, 1000, make([]byte, changelog.HashSize))
	relay := &scriptedPeer{resp: &syncv1.PullResponse{Checkpoints: []*syncv1.Checkpoint{{Origin: c.Origin, Seq: c.Seq, Hash: c.Hash, Signature: c.Signature}}}}
	f.peerServer(t, p2, relay)
	relay.waitPulls(t, 2)
	if err := tryCreate(f.nodes[p1], "after-forged-checkpoint"); err != nil {
		t.Errorf("cao-bang refuses its own writes after a checkpoint signed by its retired key: %v", err)
	}
}

// TestReviewPeerManifestsRefused: a member that cao-bang pulls from
// (lang-son, with its valid certificate) answers each pull with manifests:
// garbage bytes, one over 1 MiB, one signed by lang-son's own key (serial
// 99, naming lang-son's key as the federation's and moving the ministry to
// lang-son's address), an unsigned one, and the genuine serial-1 manifest
// again. cao-bang stays on serial 1 and goes on syncing with the ministry.
func TestReviewPeerManifestsRefused(t *testing.T) {
	members := []string{p1, p2, mofa}
	f, _ := signedFederation(t, members, map[string][]string{p1: {p2, mofa}, mofa: {p1}})
	f.start(p1)
	f.start(mofa)
	own := nextManifest(t, f.manifest, f.keys[p2].Signing, func(m *federation.Manifest) {
		m.Serial = 99
		m.FederationKey = f.keys[p2].SigningPublic()
		for i := range m.Members {
			if m.Members[i].ID == mofa {
				m.Members[i].Address = f.nodes[p2].addr
			}
		}
	})
	unsigned := *nextManifest(t, f.manifest, f.keys[p2].Signing, nil)
	unsigned.Signature, unsigned.FederationKey = nil, nil
	var wire [][]byte
	for _, m := range []*federation.Manifest{own, &unsigned, f.manifest} {
		data, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		wire = append(wire, data)
	}
	huge := append([]byte("serial: 100\nmembers: []\n# "), make([]byte, federation.MaxManifestSize+1)...)
	relay := &scriptedPeer{resp: &syncv1.PullResponse{Manifest: []byte("\x00\xffnot yaml: [")}}
	for _, data := range append(wire, huge) {
		relay.more = append(relay.more, &syncv1.PullResponse{Manifest: data})
	}
	f.peerServer(t, p2, relay)
	relay.waitPulls(t, 2)
	if got := f.nodes[p1].node.Manifest().Serial; got != 1 {
		t.Fatalf("cao-bang took manifest serial %d from a member", got)
	}
	createAgreements(t, f.nodes[mofa], 2, "still")
	eventually(t, 15*time.Second, func() (bool, string) {
		o := f.nodes[p1].origin(t, mofa)
		return o.GetSeq() == 2, fmt.Sprintf("cao-bang holds mofa up to %d", o.GetSeq())
	})
}

// newNode runs server.New for member on f's current manifest, and closes
// the node it made.
func (f *testFederation) newNode(t *testing.T, member string) (*federation.Manifest, error) {
	t.Helper()
	cert := f.cert(member)
	node, err := server.New(context.Background(), server.Config{
		Member: member, DataDir: f.nodes[member].dir, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Keys: f.keys[member], Manifest: f.manifest, Peers: f.peers[member],
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Cert: &cert, PlaintextAPI: true,
	})
	if err != nil {
		return nil, err
	}
	m := node.Manifest()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // closes the node it started
	if err := node.Serve(ctx); err != nil {
		t.Fatal(err)
	}
	return m, nil
}

// TestReviewStartOnTamperedOrForeignFile: a node is started on a manifest
// file altered after signing (refused, as it should be), then, holding the
// genuine serial 1, on a file of serial 1 signed by a stranger's key that
// moves the ministry to another address. The node must refuse that file,
// or at least say it ignores it; it starts on the stored manifest with
// only an info line that calls the stored one "newer ... took through
// sync", while its operator believes it runs on the file.
func TestReviewStartOnTamperedOrForeignFile(t *testing.T) {
	members := []string{p1, mofa}
	f, _ := signedFederation(t, members, line(members))
	genuine := f.manifest
	tampered := *genuine
	tampered.Members = append([]federation.Member(nil), genuine.Members...)
	tampered.Members[1].Address = "attacker.example:443"
	f.manifest = &tampered
	if _, err := f.newNode(t, p1); err == nil {
		t.Fatal("a node started on a manifest altered after signing")
	}
	f.manifest = genuine
	if _, err := f.newNode(t, p1); err != nil {
		t.Fatal(err)
	}

	_, stranger, _ := federation.GenerateKey()
	foreign := tampered
	foreign.FederationKey = nil
	if err := foreign.Sign(stranger); err != nil {
		t.Fatal(err)
	}
	f.manifest = &foreign
	if m, err := f.newNode(t, p1); err == nil {
		t.Errorf("the node started on serial %d, no error about its file, signed by another federation key", m.Serial)
	}
}

// TestReviewManifestsSentInPullsRefused: since a caller sends its newer
// manifest in a Pull, a member with a valid certificate can send any
// bytes there. One signed by its own key (naming itself the federation
// key), one not signed, the node's own again and bytes that are not YAML
// are refused, and the node stays on its manifest and keeps serving.
func TestReviewManifestsSentInPullsRefused(t *testing.T) {
	members := []string{p1, p2, mofa}
	f, _ := signedFederation(t, members, map[string][]string{p1: {mofa}, mofa: {p1}})
	var logs testlog.Buffer
	f.nodes[p1].logs = &logs
	f.start(p1)
	own := nextManifest(t, f.manifest, f.keys[p2].Signing, func(m *federation.Manifest) {
		m.Serial = 99
		m.FederationKey = f.keys[p2].SigningPublic()
	})
	unsigned := *nextManifest(t, f.manifest, f.keys[p2].Signing, nil)
	unsigned.Signature, unsigned.FederationKey = nil, nil
	var offers [][]byte
	for _, m := range []*federation.Manifest{own, &unsigned, f.manifest} {
		data, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		offers = append(offers, data)
	}
	offers = append(offers, []byte("\x00\xffnot yaml: ["))
	c := f.peerClient(t, f.nodes[p1], p2)
	for _, data := range offers {
		time.Sleep(time.Second) // one offer a second is parsed
		stream, err := c.Pull(context.Background(), &syncv1.PullRequest{Member: p2, ManifestSerial: 99, Manifest: data})
		if err != nil {
			t.Fatal(err)
		}
		first, err := stream.Recv()
		if err != nil {
			t.Fatalf("pull with an offered manifest: %v", err)
		}
		if got := first.GetManifestSerial(); got != 1 {
			t.Errorf("the node says it holds serial %d after an offer it must refuse", got)
		}
	}
	if got := f.nodes[p1].node.Manifest().Serial; got != 1 {
		t.Fatalf("cao-bang took manifest serial %d from a member's pull", got)
	}
	// The first twice more, as a peer on another key offers it at every
	// exchange: refused each time, logged once.
	for range 2 {
		time.Sleep(time.Second)
		stream, err := c.Pull(context.Background(), &syncv1.PullRequest{Member: p2, ManifestSerial: 99, Manifest: offers[0]})
		if err == nil {
			_, err = stream.Recv()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// Each was parsed and refused, not passed over: all but the node's own
	// (not newer, taken silently) are logged, the same refusal twice in a
	// row once.
	if n := strings.Count(logs.String(), `msg="refused a federation manifest from a peer" component=sync peer=lang-son`); n != 4 {
		t.Errorf("%d refusals logged, want 4:\n%s", n, logs.String())
	}
	huge := make([]byte, federation.MaxManifestSize+1)
	stream, err := c.Pull(context.Background(), &syncv1.PullRequest{Member: p2, ManifestSerial: 99, Manifest: huge})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.InvalidArgument && status.Code(err) != codes.ResourceExhausted {
		t.Errorf("a manifest over 1 MiB in a pull: %v", err)
	}
}

// failingClosedPeer answers every pull as a node failing closed on an
// expired manifest does: its serial, then an error; it keeps the manifests
// callers sent it.
type failingClosedPeer struct {
	syncv1.UnimplementedSyncServiceServer
	mu       sync.Mutex
	received [][]byte
}

func (p *failingClosedPeer) Pull(req *syncv1.PullRequest, stream grpc.ServerStreamingServer[syncv1.PullResponse]) error {
	p.mu.Lock()
	p.received = append(p.received, req.GetManifest())
	p.mu.Unlock()
	if err := stream.Send(&syncv1.PullResponse{ManifestSerial: 1}); err != nil {
		return err
	}
	return status.Error(codes.FailedPrecondition, "the federation manifest expired: sync stopped until a newer one arrives")
}

// TestManifestReachesAPeerThatFailsClosed: a peer on an expired manifest
// says its serial and ends every pull with an error. A node that learned
// it was behind only from a pull that ended well never sent it the newer
// manifest, and a peer that cannot dial anyone (its manifest's addresses
// are old) stayed stopped for good.
func TestManifestReachesAPeerThatFailsClosed(t *testing.T) {
	f, fedKey := signedFederation(t, []string{p1, p2}, map[string][]string{p1: {p2}})
	f.manifest = nextManifest(t, f.manifest, fedKey, nil)
	want, err := f.manifest.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	closed := &failingClosedPeer{}
	f.peerServer(t, p2, closed)
	f.start(p1)
	eventually(t, 15*time.Second, func() (bool, string) {
		closed.mu.Lock()
		defer closed.mu.Unlock()
		for _, got := range closed.received {
			if bytes.Equal(got, want) {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d pulls, none carrying the node's manifest", len(closed.received))
	})
}

// TestDivergingCallerLoggedOnce: a member whose copy of a log is not this
// node's (its own log forked from an old data directory, say) pulls every
// few seconds, and each pull finds the divergence again. It is logged
// once, not once a pull.
func TestDivergingCallerLoggedOnce(t *testing.T) {
	members := []string{p1, p2, mofa}
	f, _ := signedFederation(t, members, map[string][]string{p1: {mofa}, mofa: {p1}})
	var logs testlog.Buffer
	f.nodes[p1].logs = &logs
	n := f.start(p1)
	createAgreements(t, n, 3, "d")
	c := f.peerClient(t, n, p2)
	forged := bytes.Repeat([]byte{7}, 32)
	pull := func(origin string) {
		t.Helper()
		stream, err := c.Pull(context.Background(), &syncv1.PullRequest{Member: p2, Have: []*syncv1.Position{{Origin: origin, Seq: 2, Hash: forged}}})
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := stream.Recv(); err == io.EOF {
				return
			} else if err != nil {
				t.Fatalf("pull with a diverging log: %v", err)
			}
		}
	}
	for range 5 {
		pull(p1)
	}
	// Under the request id of the pull that found it.
	line := regexp.MustCompile(`msg="caller's log diverges from ours" component=sync caller=lang-son request_id=[0-9a-f]{16} origin=` + p1 + ` seq=2`)
	if got := len(line.FindAllString(logs.String(), -1)); got != 1 {
		t.Errorf("a divergence found by 5 pulls logged %d times, want 1:\n%s", got, logs.String())
	}
}
