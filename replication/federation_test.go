package replication_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/provex/provex/auth"
	"github.com/provex/provex/client"
	"github.com/provex/provex/federation"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/internal/freeport"
	"github.com/provex/provex/pki"
	"github.com/provex/provex/server"
)

// testNode is a real node (SQLite file, gRPC on loopback) in a test federation.
type testNode struct {
	member string
	dir    string
	// store, when set, is the node's PostgreSQL store (else provex.db in dir).
	store string
	// addr is the peer endpoint (the manifest's address); client talks to
	// the API, with an admin token.
	addr   string
	fed    *testFederation
	node   *server.Node
	cancel context.CancelFunc
	done   chan error
	client *client.Client
	// auditAllReads starts the node auditing every read.
	auditAllReads bool
	// diskReserve, when not 0, is the room the node keeps on its disk.
	diskReserve int64
	// keyFile and manifestFile, when set, are the node's key file (read
	// again when a manifest rotates its key) and watched manifest file.
	keyFile, manifestFile string
	// logs, when set, receives the node's log, from logLevel up (Info
	// unless set).
	logs     io.Writer
	logLevel slog.Level
}

type testFederation struct {
	t        *testing.T
	ca       *pki.CA
	pool     *x509.CertPool
	manifest *federation.Manifest
	keys     map[string]federation.NodeKeys
	peers    map[string][]string
	nodes    map[string]*testNode
	// logCheck and logScrub, when set, are the nodes' periods of checking
	// their stored logs.
	logCheck, logScrub time.Duration
}

// freeAddrs picks n distinct loopback addresses no other socket will take
// before the nodes bind them.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	addrs, err := freeport.Addrs(n)
	if err != nil {
		t.Fatal(err)
	}
	return addrs
}

// newFederation makes keys and a manifest for members; peers says whom each
// pulls from. Nodes are not started.
func newFederation(t *testing.T, members []string, peers map[string][]string) *testFederation {
	t.Helper()
	addrs := freeAddrs(t, len(members))
	m, keys, err := federation.DevFederation(members, addrs, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.InitCA(t.TempDir(), pki.DefaultCAName, pki.DefaultCAValidity, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	m.CA = ca.CertPEM()
	pool, err := m.CAPool()
	if err != nil {
		t.Fatal(err)
	}
	f := &testFederation{t: t, ca: ca, pool: pool, manifest: m, keys: keys, peers: peers, nodes: map[string]*testNode{}}
	for _, id := range members {
		mem, _ := m.Member(id)
		f.nodes[id] = &testNode{member: id, dir: t.TempDir(), addr: mem.Address, fed: f}
	}
	t.Cleanup(func() {
		for _, n := range f.nodes {
			f.stop(n.member)
		}
	})
	return f
}

// line returns peers for a line topology: each member pulls from its neighbours.
func line(members []string) map[string][]string {
	peers := map[string][]string{}
	for i, m := range members {
		if i > 0 {
			peers[m] = append(peers[m], members[i-1])
		}
		if i+1 < len(members) {
			peers[m] = append(peers[m], members[i+1])
		}
	}
	return peers
}

func (f *testFederation) start(member string) *testNode {
	f.t.Helper()
	n := f.nodes[member]
	cert := f.cert(member)
	logs := io.Discard
	if n.logs != nil {
		logs = n.logs
	}
	node, err := server.New(context.Background(), server.Config{
		Member: member, DataDir: n.dir, Store: n.store, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Keys: f.keys[member], Manifest: f.manifest, Peers: f.peers[member], SyncInterval: 300 * time.Millisecond,
		LogCheckInterval: f.logCheck, LogScrubInterval: f.logScrub,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: n.logLevel})),
		Cert:   &cert, PlaintextAPI: true, Limits: server.Limits{RatePerSecond: 1e6, Burst: 1e6},
		AuditAllReads: n.auditAllReads, KeyFile: n.keyFile, ManifestFile: n.manifestFile, DiskReserve: n.diskReserve,
	})
	if err != nil {
		f.t.Fatalf("start %s: %v", member, err)
	}
	if err := node.Listen(); err != nil {
		f.t.Fatalf("listen %s: %v", member, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.node, n.cancel, n.done = node, cancel, make(chan error, 1)
	go func() { n.done <- node.Serve(ctx) }()
	token, err := node.IssueToken(ctx, auth.RoleAdmin, "test", time.Time{})
	if err != nil {
		f.t.Fatal(err)
	}
	c, err := client.Dial(node.GRPCAddr(), client.WithToken(token))
	if err != nil {
		f.t.Fatal(err)
	}
	n.client = c
	return n
}

// withKeyFile writes member's keys to a key file its node reads (again
// when a manifest rotates its keys), and returns the file's path.
func (f *testFederation) withKeyFile(member string) string {
	f.t.Helper()
	path := filepath.Join(f.t.TempDir(), member+".key")
	if err := federation.WriteKeyFile(path, f.keys[member]); err != nil {
		f.t.Fatal(err)
	}
	f.nodes[member].keyFile = path
	return path
}

// cert issues a certificate of the federation CA for member.
func (f *testFederation) cert(member string) tls.Certificate {
	f.t.Helper()
	cert, err := f.ca.IssueTLS(member, time.Now())
	if err != nil {
		f.t.Fatal(err)
	}
	return cert
}

// peerClient connects to n's peer endpoint as member would: mutual TLS
// with member's certificate.
func (f *testFederation) peerClient(t *testing.T, n *testNode, as string) syncv1.SyncServiceClient {
	t.Helper()
	creds := credentials.NewTLS(pki.PeerClientConfig(f.cert(as), f.pool, n.member))
	conn, err := grpc.NewClient(n.addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return syncv1.NewSyncServiceClient(conn)
}

// peerServer serves sync at member's address as member's node would
// (mutual TLS with member's certificate), for fake peers.
func (f *testFederation) peerServer(t *testing.T, member string, srv syncv1.SyncServiceServer) {
	t.Helper()
	lis, err := net.Listen("tcp", f.nodes[member].addr)
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(grpc.Creds(credentials.NewTLS(pki.PeerServerConfig(f.cert(member), f.pool))))
	syncv1.RegisterSyncServiceServer(gs, srv)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
}

func (f *testFederation) startAll() {
	for id := range f.nodes {
		f.start(id)
	}
}

func (f *testFederation) stop(member string) {
	n := f.nodes[member]
	if n.cancel == nil {
		return
	}
	n.client.Close()
	n.cancel()
	if err := <-n.done; err != nil {
		f.t.Errorf("stop %s: %v", member, err)
	}
	n.cancel = nil
}

func (n *testNode) state(t *testing.T) *syncv1.GetSyncStateResponse {
	t.Helper()
	s, err := syncv1.NewSyncServiceClient(n.client.Conn()).GetSyncState(context.Background(), &syncv1.GetSyncStateRequest{})
	if err != nil {
		t.Fatalf("state of %s: %v", n.member, err)
	}
	return s
}

// converged reports whether every running node holds every origin up to
// the same head hash, and that seq is want[origin].
func (f *testFederation) converged(t *testing.T, want map[string]uint64) (bool, string) {
	heads := map[string][]byte{}
	for _, n := range f.nodes {
		if n.cancel == nil {
			continue
		}
		st := n.state(t)
		got := map[string]*syncv1.OriginState{}
		for _, o := range st.GetOrigins() {
			got[o.GetOrigin()] = o
		}
		for origin, seq := range want {
			o := got[origin]
			if o.GetSeq() != seq {
				return false, fmt.Sprintf("%s holds %s up to %d, want %d", n.member, origin, o.GetSeq(), seq)
			}
			if h, ok := heads[origin]; ok && !bytes.Equal(h, o.GetHeadHash()) {
				return false, fmt.Sprintf("%s has another head hash for %s", n.member, origin)
			}
			heads[origin] = o.GetHeadHash()
		}
	}
	return true, ""
}

func (f *testFederation) waitConverged(t *testing.T, want map[string]uint64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, why := f.converged(t, want)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no convergence after %s: %s", within, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func createAgreements(t *testing.T, n *testNode, count int, prefix string) {
	t.Helper()
	for i := 0; i < count; i++ {
		_, err := n.client.Twinning.CreateAgreement(context.Background(), &twinningv1.CreateAgreementRequest{
			Parent: "provinces/" + n.member, AgreementId: fmt.Sprintf("%s-%03d", prefix, i),
			Agreement: &twinningv1.Agreement{DisplayName: fmt.Sprintf("%s agreement %d", n.member, i), Kind: twinningv1.Agreement_KIND_MOU},
		})
		if err != nil {
			t.Fatalf("create on %s: %v", n.member, err)
		}
	}
}

func countAll(t *testing.T, n *testNode) int {
	t.Helper()
	total := 0
	token := ""
	for {
		resp, err := n.client.Twinning.ListAgreements(context.Background(), &twinningv1.ListAgreementsRequest{Parent: "provinces/-", PageSize: 1000, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		total += len(resp.GetAgreements())
		if token = resp.GetNextPageToken(); token == "" {
			return total
		}
	}
}

func TestLineOfFiveConverges(t *testing.T) {
	members := []string{"cao-bang", "lang-son", "quang-ninh", "hai-phong", "ha-noi"}
	f := newFederation(t, members, line(members))
	f.startAll()
	var wg sync.WaitGroup
	want := map[string]uint64{}
	for _, m := range members {
		want[m] = 30
		wg.Add(1)
		go func() { defer wg.Done(); createAgreements(t, f.nodes[m], 30, "a") }()
	}
	wg.Wait()
	f.waitConverged(t, want, 20*time.Second)
	for _, m := range members {
		if got := countAll(t, f.nodes[m]); got != 150 {
			t.Errorf("%s lists %d agreements, want 150", m, got)
		}
	}
}

// eventually polls cond until it holds or within passes, then fails with
// cond's last reason.
func eventually(t *testing.T, within time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, why)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// origin returns what n's sync state says of origin (nil when n holds none
// of its entries).
func (n *testNode) origin(t *testing.T, origin string) *syncv1.OriginState {
	t.Helper()
	for _, o := range n.state(t).GetOrigins() {
		if o.GetOrigin() == origin {
			return o
		}
	}
	return nil
}

// createAgreementsConcurrently creates count agreements on n with workers
// concurrent callers (so the node group-commits them). Ids are
// prefix-00000 ... in no particular order of seq.
func createAgreementsConcurrently(t *testing.T, n *testNode, count, workers int, prefix string) {
	t.Helper()
	createSummarisedAgreements(t, n, count, workers, prefix, "")
}

// createSummarisedAgreements is createAgreementsConcurrently with a
// summary in each agreement.
func createSummarisedAgreements(t *testing.T, n *testNode, count, workers int, prefix, summary string) {
	t.Helper()
	var (
		wg   sync.WaitGroup
		next atomic.Int64
		errs atomic.Int64
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= count || errs.Load() > 0 {
					return
				}
				_, err := n.client.Twinning.CreateAgreement(context.Background(), &twinningv1.CreateAgreementRequest{
					Parent: "provinces/" + n.member, AgreementId: fmt.Sprintf("%s-%05d", prefix, i),
					Agreement: &twinningv1.Agreement{DisplayName: fmt.Sprintf("%s agreement %d", n.member, i), Kind: twinningv1.Agreement_KIND_MOU, Summary: summary},
				})
				if err != nil {
					if errs.Add(1) == 1 {
						t.Errorf("create on %s: %v", n.member, err)
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	if errs.Load() > 0 {
		t.FailNow()
	}
}

// getAgreement reads name on n; the code is codes.OK when found.
func getAgreement(t *testing.T, n *testNode, name string) (*twinningv1.Agreement, codes.Code) {
	t.Helper()
	a, err := n.client.Twinning.GetAgreement(context.Background(), &twinningv1.GetAgreementRequest{Name: name})
	if err != nil {
		return nil, status.Code(err)
	}
	return a, codes.OK
}

// listAgreementNames lists every agreement n holds (of every province).
func listAgreementNames(t *testing.T, n *testNode, showDeleted bool) map[string]*twinningv1.Agreement {
	t.Helper()
	out := map[string]*twinningv1.Agreement{}
	token := ""
	for {
		resp, err := n.client.Twinning.ListAgreements(context.Background(), &twinningv1.ListAgreementsRequest{
			Parent: "provinces/-", PageSize: 1000, PageToken: token, ShowDeleted: showDeleted})
		if err != nil {
			t.Fatalf("list on %s: %v", n.member, err)
		}
		for _, a := range resp.GetAgreements() {
			out[a.GetName()] = a
		}
		if token = resp.GetNextPageToken(); token == "" {
			return out
		}
	}
}

// metrics is n's sync counters.
func (n *testNode) metrics(t *testing.T) *syncv1.SyncMetrics {
	t.Helper()
	return n.state(t).GetMetrics()
}

// mesh returns peers for a full mesh: everyone pulls from everyone.
func mesh(members []string) map[string][]string {
	peers := map[string][]string{}
	for _, m := range members {
		for _, o := range members {
			if o != m {
				peers[m] = append(peers[m], o)
			}
		}
	}
	return peers
}

// waitCount waits until a counter reaches want, and fails if it passes it.
// Counters move just after the change they count becomes visible (a pull
// counts what it applied once the commit returns), so a test that has seen
// the change may read a counter a moment early.
func waitCount(t *testing.T, what string, get func() int64, want int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := get()
		if got > want {
			t.Errorf("%s is %d, want %d", what, got, want)
			return
		}
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s is %d, want %d", what, got, want)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// peerState is n's view of its peer member.
func (n *testNode) peerState(t *testing.T, member string) *syncv1.PeerState {
	t.Helper()
	for _, p := range n.state(t).GetPeers() {
		if p.GetMember() == member {
			return p
		}
	}
	t.Fatalf("%s has no peer %s", n.member, member)
	return nil
}

// TestMemberNoOneListsReachesARestartedNode: lang-son pulls from the
// ministry, which lists no peers. Its news reached the ministry only by
// announcement, and an adopted peer lived in memory: after a restart of the
// ministry, an entry lang-son wrote while it was down waited until lang-son
// wrote again (an outside review, the README's own operator set-up). A
// member that pulls from a node is now pulled from by it.
func TestMemberNoOneListsReachesARestartedNode(t *testing.T) {
	f := newFederation(t, []string{p2, mofa}, map[string][]string{p2: {mofa}})
	f.startAll()
	createAgreements(t, f.nodes[p2], 1, "before")
	f.waitConverged(t, map[string]uint64{p2: 1}, 10*time.Second)
	f.stop(mofa)
	createAgreements(t, f.nodes[p2], 1, "while-down")
	ministry := f.start(mofa)
	eventually(t, 15*time.Second, func() (bool, string) {
		got := ministry.origin(t, p2).GetSeq()
		return got == 2, fmt.Sprintf("the ministry holds lang-son's log up to %d, want 2", got)
	})
}

// TestEmptyPeerNameIsNoPeer: --peers "" (or a list with an empty entry)
// made a peer named "", whose pulls failed every few seconds, counted and
// shown in sync status (an outside review).
func TestEmptyPeerNameIsNoPeer(t *testing.T) {
	f := newFederation(t, []string{p1, mofa}, map[string][]string{p1: {"", mofa, ""}})
	n := f.start(p1)
	var peers []string
	for _, p := range n.state(t).GetPeers() {
		peers = append(peers, p.GetMember())
	}
	if !slices.Equal(peers, []string{mofa}) {
		t.Errorf("peers %q, want only %s", peers, mofa)
	}
}
