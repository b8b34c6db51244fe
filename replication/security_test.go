package replication_test

// Negative tests of node-to-node security (DESIGN.md section 5, issue 5):
// only nodes with a certificate of the federation CA, for a member of the
// manifest, may pull, and only as themselves; a node checks whom it dials;
// pulls per peer are bounded; what sync writes is audited.

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	auditv1 "github.com/provex/provex/gen/go/provex/audit/v1"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/pki"
)

// secDial connects to addr with creds and extra options; Cleanup closes it.
func secDial(t *testing.T, addr string, creds credentials.TransportCredentials, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, append([]grpc.DialOption{grpc.WithTransportCredentials(creds)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// pullAll runs one Pull on conn and returns every entry received (by
// origin/seq) and the stream's final error (nil at a clean end).
func pullAll(ctx context.Context, conn *grpc.ClientConn, req *syncv1.PullRequest) (map[string]*syncv1.Entry, []*syncv1.PullResponse, error) {
	stream, err := syncv1.NewSyncServiceClient(conn).Pull(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	entries := map[string]*syncv1.Entry{}
	var msgs []*syncv1.PullResponse
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return entries, msgs, nil
		}
		if err != nil {
			return entries, msgs, err
		}
		msgs = append(msgs, resp)
		for _, e := range resp.GetEntries() {
			entries[fmt.Sprintf("%s/%d", e.GetOrigin(), e.GetSeq())] = e
		}
	}
}

// wantRefused checks err's code and that its message says every one of words.
func wantRefused(t *testing.T, err error, want codes.Code, what string, words ...string) {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != want {
		t.Errorf("%s: code %v (%v), want %v", what, st.Code(), err, want)
		return
	}
	for _, w := range words {
		if !strings.Contains(st.Message(), w) {
			t.Errorf("%s: message %q does not say %q", what, st.Message(), w)
		}
	}
}

// TestSecurityPullNeedsFederationCertificate: a client whose certificate is
// from another CA (even naming a member), a client without a certificate
// and a plaintext client cannot pull from a node's peer endpoint; nothing
// is served to them, while a member's certificate of the federation CA pulls.
func TestSecurityPullNeedsFederationCertificate(t *testing.T) {
	f := newFederation(t, []string{p1, p2}, nil)
	a := f.start(p1)
	createAgreements(t, a, 3, "sec")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	rogueCA, err := pki.InitCA(t.TempDir(), "rogue CA", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rogueCert, err := rogueCA.IssueTLS(p2, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	noCert := pki.PeerClientConfig(tls.Certificate{}, f.pool, p1)
	noCert.Certificates = nil
	// The federation's own certificate, over TLS 1.2.
	tls12 := pki.PeerClientConfig(f.cert(p2), f.pool, p1)
	tls12.MinVersion, tls12.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	for _, c := range []struct {
		what  string
		creds credentials.TransportCredentials
	}{
		{"a certificate for " + p2 + " from another CA", credentials.NewTLS(pki.PeerClientConfig(rogueCert, f.pool, p1))},
		{"no client certificate", credentials.NewTLS(noCert)},
		{"plaintext", insecure.NewCredentials()},
		{p2 + "'s federation certificate over TLS 1.2", credentials.NewTLS(tls12)},
	} {
		got, _, err := pullAll(ctx, secDial(t, a.addr, c.creds), &syncv1.PullRequest{Member: p2})
		if err == nil || len(got) > 0 {
			t.Errorf("pull with %s: %d entries, err %v; want a refusal and nothing", c.what, len(got), err)
		} else if code := status.Code(err); code != codes.Unavailable {
			t.Errorf("pull with %s: %v, want the handshake to fail (UNAVAILABLE)", c.what, err)
		}
		_, err = syncv1.NewSyncServiceClient(secDial(t, a.addr, c.creds)).Announce(ctx, &syncv1.AnnounceRequest{Member: p2})
		wantRefused(t, err, codes.Unavailable, "announce with "+c.what)
	}
	if served := a.metrics(t).GetEntriesServed(); served != 0 {
		t.Errorf("the node served %d entries to clients without a federation certificate", served)
	}

	// The control: the federation's certificate for p2 pulls all three.
	got, _, err := pullAll(ctx, f.peerClientConn(t, a, p2), &syncv1.PullRequest{Member: p2})
	if err != nil || len(got) != 3 {
		t.Errorf("pull with %s's federation certificate: %d entries, %v; want 3", p2, len(got), err)
	}
}

// peerClientConn is peerClient's connection.
func (f *testFederation) peerClientConn(t *testing.T, n *testNode, as string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	return secDial(t, n.addr, credentials.NewTLS(pki.PeerClientConfig(f.cert(as), f.pool, n.member)), opts...)
}

// TestSecurityPullOnlyAsOneself: a peer's certificate decides who it is: a
// member claiming another member in the request is PERMISSION_DENIED (Pull
// and Announce). Whoever pulls gets every entry whole, and the states it
// may not read only sealed: claiming to be someone else would not open them
// anyway.
func TestSecurityPullOnlyAsOneself(t *testing.T) {
	f := newFederation(t, []string{p1, p2, p3}, nil)
	a := f.start(p1)
	createVisible(t, a, "public", typev1.Visibility_VISIBILITY_PUBLIC)
	createVisible(t, a, "for-p3", typev1.Visibility_VISIBILITY_RESTRICTED, p3)
	createVisible(t, a, "national", typev1.Visibility_VISIBILITY_NATIONAL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	asP2 := f.peerClientConn(t, a, p2)

	_, _, err := pullAll(ctx, asP2, &syncv1.PullRequest{Member: p3})
	wantRefused(t, err, codes.PermissionDenied, p2+" pulling as "+p3, p2, p3)
	_, _, err = pullAll(ctx, asP2, &syncv1.PullRequest{Member: p1})
	wantRefused(t, err, codes.PermissionDenied, p2+" pulling as the node itself", p2, p1)
	_, err = syncv1.NewSyncServiceClient(asP2).Announce(ctx, &syncv1.AnnounceRequest{Member: p3})
	wantRefused(t, err, codes.PermissionDenied, p2+" announcing as "+p3, p2, p3)
	_, err = syncv1.NewSyncServiceClient(asP2).Announce(ctx, &syncv1.AnnounceRequest{Member: p2})
	if err != nil {
		t.Errorf("%s announcing as itself: %v", p2, err)
	}
	// Claiming no one is refused as invalid.
	_, _, err = pullAll(ctx, asP2, &syncv1.PullRequest{})
	wantRefused(t, err, codes.InvalidArgument, p2+" pulling without a member", "member")

	// As itself: all three entries, the public one in clear, the others
	// sealed, without a name, and without their text.
	got, _, err := pullAll(ctx, asP2, &syncv1.PullRequest{Member: p2})
	if err != nil || len(got) != 3 {
		t.Fatalf("%s pulling as itself: %d entries, %v; want 3", p2, len(got), err)
	}
	for seq, wantSealed := range map[int]bool{1: false, 2: true, 3: true} {
		e := got[fmt.Sprintf("%s/%d", p1, seq)]
		if e.GetSealed() != wantSealed || (e.GetName() == "") != wantSealed || len(e.GetData()) == 0 {
			t.Errorf("entry %d: sealed %v name %q, want sealed %v", seq, e.GetSealed(), e.GetName(), wantSealed)
		}
		if wantSealed && (bytes.Contains(e.GetData(), []byte("for-p3")) || bytes.Contains(e.GetData(), []byte("agreement national"))) {
			t.Errorf("entry %d holds its record's text", seq)
		}
	}
}

// TestSecurityPullFromMemberNotInManifest: a certificate the federation CA
// issued for a member the manifest does not list is PERMISSION_DENIED.
func TestSecurityPullFromMemberNotInManifest(t *testing.T) {
	f := newFederation(t, []string{p1, p2}, nil)
	a := f.start(p1)
	createAgreements(t, a, 2, "sec")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const stranger = "ha-noi"
	conn := f.peerClientConn(t, a, stranger)
	got, _, err := pullAll(ctx, conn, &syncv1.PullRequest{Member: stranger})
	wantRefused(t, err, codes.PermissionDenied, stranger+" pulling", stranger, "not in this node's federation manifest")
	if len(got) > 0 {
		t.Errorf("%s got %d entries", stranger, len(got))
	}
	_, err = syncv1.NewSyncServiceClient(conn).Announce(ctx, &syncv1.AnnounceRequest{Member: stranger})
	wantRefused(t, err, codes.PermissionDenied, stranger+" announcing", "not in this node's federation manifest")
	// Even health checks: an unlisted member is no one to this node.
	_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	wantRefused(t, err, codes.PermissionDenied, stranger+" checking health", "not in this node's federation manifest")
}

// TestSecurityAPIPortRefusesSync: the API endpoint refuses Pull and
// Announce even with an admin token (they are for peers over mutual TLS),
// and the peer endpoint serves peers sync only: no reads, no writes.
func TestSecurityAPIPortRefusesSync(t *testing.T) {
	f := newFederation(t, []string{p1, p2}, nil)
	a := f.start(p1)
	createAgreements(t, a, 2, "sec")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	for _, member := range []string{p1, p2} {
		got, _, err := pullAll(ctx, a.client.Conn(), &syncv1.PullRequest{Member: member})
		wantRefused(t, err, codes.PermissionDenied, "Pull as "+member+" with an admin token on the API", "only for sync peers, on a node's peer endpoint", "this API endpoint takes bearer tokens")
		if len(got) > 0 {
			t.Errorf("the API served %d entries to a token", len(got))
		}
		_, err = syncv1.NewSyncServiceClient(a.client.Conn()).Announce(ctx, &syncv1.AnnounceRequest{Member: member})
		wantRefused(t, err, codes.PermissionDenied, "Announce as "+member+" with an admin token on the API", "only for sync peers, on a node's peer endpoint", "this API endpoint takes bearer tokens")
	}
	anon := secDial(t, a.node.GRPCAddr(), insecure.NewCredentials())
	_, _, err := pullAll(ctx, anon, &syncv1.PullRequest{Member: p2})
	wantRefused(t, err, codes.Unauthenticated, "anonymous Pull on the API", "sync peers, on a node's peer endpoint")
	// The admin token may read the sync state, as any token may.
	if _, err := syncv1.NewSyncServiceClient(a.client.Conn()).GetSyncState(ctx, &syncv1.GetSyncStateRequest{}); err != nil {
		t.Errorf("GetSyncState with an admin token: %v", err)
	}

	// On the peer endpoint a peer may not read the sync state, and the
	// record services are not there at all.
	peer := f.peerClientConn(t, a, p2)
	_, err = syncv1.NewSyncServiceClient(peer).GetSyncState(ctx, &syncv1.GetSyncStateRequest{})
	wantRefused(t, err, codes.PermissionDenied, "GetSyncState by a peer", "the peer endpoint serves sync peers Pull and Announce only", "on the node's API address", "with an admin token")
	_, err = twinningv1.NewTwinningServiceClient(peer).ListAgreements(ctx, &twinningv1.ListAgreementsRequest{Parent: "provinces/-"})
	wantRefused(t, err, codes.Unimplemented, "ListAgreements on the peer endpoint")
	_, err = twinningv1.NewTwinningServiceClient(peer).CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{
		Parent: "provinces/" + p1, Agreement: &twinningv1.Agreement{DisplayName: "by a peer", Kind: twinningv1.Agreement_KIND_MOU}})
	wantRefused(t, err, codes.Unimplemented, "CreateAgreement on the peer endpoint")
	_, err = auditv1.NewAuditServiceClient(peer).ListAuditEntries(ctx, &auditv1.ListAuditEntriesRequest{})
	wantRefused(t, err, codes.Unimplemented, "ListAuditEntries on the peer endpoint")
	if n := countAll(t, a); n != 2 {
		t.Errorf("the node holds %d agreements, want 2", n)
	}
}

// recordedPeer replays a pull recorded from a real node, counting the pulls
// it answers.
type recordedPeer struct {
	syncv1.UnimplementedSyncServiceServer
	msgs  []*syncv1.PullResponse
	pulls atomic.Int64
}

func (p *recordedPeer) Pull(_ *syncv1.PullRequest, stream grpc.ServerStreamingServer[syncv1.PullResponse]) error {
	p.pulls.Add(1)
	for _, m := range p.msgs {
		if err := stream.Send(m); err != nil {
			return err
		}
	}
	return nil
}

func (p *recordedPeer) Announce(context.Context, *syncv1.AnnounceRequest) (*syncv1.AnnounceResponse, error) {
	return &syncv1.AnnounceResponse{}, nil
}

// servePeerAs serves srv at addr with member's certificate (mutual TLS);
// the returned func stops it.
func (f *testFederation) servePeerAs(t *testing.T, addr, member string, srv syncv1.SyncServiceServer) func() {
	t.Helper()
	var lis net.Listener
	var err error
	for i := 0; i < 50; i++ { // the port was just released by a stopped server
		if lis, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(grpc.Creds(credentials.NewTLS(pki.PeerServerConfig(f.cert(member), f.pool))))
	syncv1.RegisterSyncServiceServer(gs, srv)
	go gs.Serve(lis)
	var once sync.Once
	stop := func() { once.Do(gs.Stop) }
	t.Cleanup(stop)
	return stop
}

// TestSecurityNodeChecksPeerIdentity: at p2's address a server presents
// p3's certificate (of the federation CA) and offers p2's real, correctly
// signed entries. The node pulling from p2 never sends it a Pull and applies
// nothing; its sync state names the mismatch. The same server with p2's
// certificate is believed, so it was the identity check that refused it.
func TestSecurityNodeChecksPeerIdentity(t *testing.T) {
	f := newFederation(t, []string{p1, p2, p3}, map[string][]string{p1: {p2}})
	b := f.start(p2)
	createAgreements(t, b, 3, "real")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, msgs, err := pullAll(ctx, f.peerClientConn(t, b, p1), &syncv1.PullRequest{Member: p1})
	if err != nil || len(msgs) == 0 {
		t.Fatalf("recording %s's log: %d messages, %v", p2, len(msgs), err)
	}
	f.stop(p2)

	impostor := &recordedPeer{msgs: msgs}
	stopImpostor := f.servePeerAs(t, b.addr, p3, impostor)
	a := f.start(p1)
	eventually(t, 10*time.Second, func() (bool, string) {
		ps := a.peerState(t, p2)
		return ps.GetLastError() != "", fmt.Sprintf("%s's peer state of %s shows no error: %v", p1, p2, ps)
	})
	// Let a few more exchanges (every 300ms) try.
	time.Sleep(time.Second)
	ps := a.peerState(t, p2)
	if !strings.Contains(ps.GetLastError(), p2) || !strings.Contains(ps.GetLastError(), p3) {
		t.Errorf("last error %q does not name the expected (%s) and presented (%s) members", ps.GetLastError(), p2, p3)
	}
	if n := impostor.pulls.Load(); n != 0 {
		t.Errorf("the node sent %d pulls to a server with %s's certificate at %s's address", n, p3, p2)
	}
	if o := a.origin(t, p2); o != nil || ps.GetEntriesReceived() != 0 || a.metrics(t).GetEntriesApplied() != 0 {
		t.Errorf("the node applied entries from the impostor: origin %v, received %d", o, ps.GetEntriesReceived())
	}

	// The control: the same replay with p2's own certificate is applied.
	stopImpostor()
	genuine := &recordedPeer{msgs: msgs}
	f.servePeerAs(t, b.addr, p2, genuine)
	eventually(t, 10*time.Second, func() (bool, string) {
		o := a.origin(t, p2)
		return o.GetSeq() == 3, fmt.Sprintf("%s holds %s up to %d, want 3", p1, p2, o.GetSeq())
	})
}

// TestSecurityPullsPerPeer: a peer may hold at most Limits.PullsPerPeer
// (default 4) pulls open at once: the fifth is RESOURCE_EXHAUSTED while
// another peer still pulls, and once one ends the peer may pull again.
func TestSecurityPullsPerPeer(t *testing.T) {
	f := newFederation(t, []string{p1, p2, p3}, nil)
	a := f.start(p1)
	// About 250 kB of log: with fixed 64 kB flow-control windows and a
	// client that stops reading, the node's Pull cannot finish.
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < 100; i += 4 {
				_, err := a.client.Twinning.CreateAgreement(context.Background(), &twinningv1.CreateAgreementRequest{
					Parent: "provinces/" + p1, AgreementId: fmt.Sprintf("bulk-%03d", i),
					Agreement: &twinningv1.Agreement{DisplayName: "bulk", Kind: twinningv1.Agreement_KIND_MOU, Summary: strings.Repeat("s", 2000)},
				})
				if err != nil {
					t.Errorf("create: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	window := []grpc.DialOption{grpc.WithInitialWindowSize(64 << 10), grpc.WithInitialConnWindowSize(64 << 10)}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()

	// open starts a pull as member on a new connection and reads its first
	// message, so the node has admitted it; it then stays open, unread.
	open := func(member string) (context.CancelFunc, error) {
		sctx, scancel := context.WithCancel(ctx)
		stream, err := syncv1.NewSyncServiceClient(f.peerClientConn(t, a, member, window...)).Pull(sctx, &syncv1.PullRequest{Member: member, BatchSize: 1})
		if err == nil {
			_, err = stream.Recv()
		}
		if err != nil {
			scancel()
			return nil, err
		}
		return scancel, nil
	}
	var held []context.CancelFunc
	t.Cleanup(func() {
		for _, c := range held {
			c()
		}
	})
	for i := 0; i < 4; i++ {
		c, err := open(p2)
		if err != nil {
			t.Fatalf("pull %d of %s: %v", i+1, p2, err)
		}
		held = append(held, c)
	}
	_, err := open(p2)
	wantRefused(t, err, codes.ResourceExhausted, "a fifth pull of "+p2, "peer:"+p2, "4 pulls open")
	// Another peer is not held back by p2's pulls.
	c, err := open(p3)
	if err != nil {
		t.Errorf("a pull of %s while %s holds 4: %v", p3, p2, err)
	} else {
		c()
	}
	// One of p2's pulls ends: p2 may pull again.
	held[0]()
	eventually(t, 5*time.Second, func() (bool, string) {
		c, err := open(p2)
		if err != nil {
			return false, fmt.Sprintf("a pull of %s after one ended: %v", p2, err)
		}
		held = append(held, c)
		return true, ""
	})
}

// TestSecurityFederationAudit: after two nodes converge, each node's audit
// trail verifies, and the entries it pulled are audited as the peer's
// ("peer:<member>", action sync.pull), covering the peer's log exactly once;
// its own writes are audited as the token that made them.
func TestSecurityFederationAudit(t *testing.T) {
	members := []string{p1, p2}
	f := newFederation(t, members, mesh(members))
	f.startAll()
	createAgreements(t, f.nodes[p1], 4, "audit")
	createAgreements(t, f.nodes[p2], 4, "audit")
	f.waitConverged(t, map[string]uint64{p1: 4, p2: 4}, 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	for _, m := range members {
		n := f.nodes[m]
		other := p2
		if m == p2 {
			other = p1
		}
		count, head, problems, err := n.node.Store().VerifyAudit(ctx)
		if err != nil || len(problems) != 0 || count == 0 || len(head) != 32 {
			t.Errorf("%s: VerifyAudit: %d records, problems %q, %v", m, count, problems, err)
		}
		v, err := auditv1.NewAuditServiceClient(n.client.Conn()).VerifyAuditLog(ctx, &auditv1.VerifyAuditLogRequest{})
		if err != nil || !v.GetOk() {
			t.Errorf("%s: VerifyAuditLog = %v, %v", m, v, err)
		}

		records, err := n.node.Store().AuditRecords(ctx, 0, 1000, "peer:"+other, "")
		if err != nil || len(records) == 0 {
			t.Errorf("%s: audit records of peer:%s: %v, %v; want some", m, other, records, err)
			continue
		}
		next := int64(1)
		for _, r := range records {
			if r.Action != "sync.pull" || r.Resource != other || r.Origin != other || r.FirstSeq != next || r.LastSeq < r.FirstSeq {
				t.Errorf("%s: audit record %+v; want action sync.pull, resource and origin %s, entries from %d", m, r, other, next)
			}
			next = r.LastSeq + 1
		}
		if next != 5 {
			t.Errorf("%s: audit records of peer:%s cover %s's entries 1..%d, want 1..4", m, other, other, next-1)
		}
		// Through the API, filtered by actor, the same.
		resp, err := auditv1.NewAuditServiceClient(n.client.Conn()).ListAuditEntries(ctx, &auditv1.ListAuditEntriesRequest{Actor: "peer:" + other})
		if err != nil || len(resp.GetEntries()) != len(records) {
			t.Errorf("%s: ListAuditEntries(peer:%s): %d entries, %v; want %d", m, other, len(resp.GetEntries()), err, len(records))
		}
		// Its own writes are the token's, and nothing else is in the trail.
		all, err := n.node.Store().AuditRecords(ctx, 0, 1000, "", "")
		if err != nil {
			t.Fatal(err)
		}
		own := 0
		for _, r := range all {
			switch {
			case r.Actor == "peer:"+other:
			case strings.HasPrefix(r.Actor, "token:") && strings.HasSuffix(r.Actor, " (admin)") && r.Origin == m && strings.HasPrefix(r.Resource, "provinces/"+m+"/agreements/"):
				own++
			default:
				t.Errorf("%s: unexpected audit record %+v", m, r)
			}
		}
		if own != 4 {
			t.Errorf("%s: %d audit records of its own writes, want 4", m, own)
		}
	}
}

// TestSecurityLargeRecordsDoNotStallSync: an editor's valid records must
// not stop sync. 200 agreements with an 8000-character Vietnamese summary
// (about 24 kB each) are valid writes, but Pull batches entries by count
// (500) while the peer endpoint sends at most Limits.MaxMessageBytes
// (4 MiB): every pull fails with RESOURCE_EXHAUSTED and the peer never gets
// a single entry. Skipped until Pull bounds its messages by size.
func TestSecurityLargeRecordsDoNotStallSync(t *testing.T) {
	f := newFederation(t, []string{p1, p2}, map[string][]string{p2: {p1}})
	a := f.start(p1)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < 200; i += 8 {
				_, err := a.client.Twinning.CreateAgreement(context.Background(), &twinningv1.CreateAgreementRequest{
					Parent: "provinces/" + p1, AgreementId: fmt.Sprintf("big-%03d", i),
					Agreement: &twinningv1.Agreement{DisplayName: "big", Kind: twinningv1.Agreement_KIND_MOU, Summary: strings.Repeat("ệ", 8000)},
				})
				if err != nil {
					t.Errorf("create: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	f.start(p2)
	f.waitConverged(t, map[string]uint64{p1: 200}, 10*time.Second)
}
