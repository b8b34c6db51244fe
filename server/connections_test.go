package server_test

// Tests of the connection limits (issue 10, point 1): caps on the
// connections each listener holds, per client address and in total, and
// the timeouts that close connections which say nothing, send a body that
// never ends, or sit idle. Real nodes on loopback; a flood comes from
// 127.0.0.1 while honest callers dial from 127.0.0.2 and 127.0.0.3, as
// callers on other machines would (Linux routes all of 127/8 to lo).

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/provex/provex/auth"
	"github.com/provex/provex/client"
	"github.com/provex/provex/federation"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/internal/freeport"
	"github.com/provex/provex/pki"
	"github.com/provex/provex/replication"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/server"
)

// fromAddr is a dialer whose connections come from the loopback address ip.
func fromAddr(ip string) *net.Dialer {
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
}

// pairNode is one node of a two-member federation, with an admin client and
// an HTTP client that dial from 127.0.0.2.
type pairNode struct {
	srv   *server.Node
	api   *client.Client
	http  *http.Client
	token string
}

// pair is a federation of cao-bang and the ministry syncing with each other,
// its nodes started one by one, and of the other members newPair is given,
// whose nodes do not run. The ministry dials cao-bang's peer endpoint
// from 127.0.0.3.
type pair struct {
	t        *testing.T
	limits   server.Limits
	tlsAPI   bool // the API listeners serve TLS (HTTP/2 on the HTTP one)
	manifest *federation.Manifest
	keys     map[string]federation.NodeKeys
	ca       *pki.CA
	pool     *x509.CertPool
}

func newPair(t *testing.T, limits server.Limits, others ...string) *pair {
	t.Helper()
	members := append([]string{"cao-bang", resource.Ministry}, others...)
	addrs, err := freeport.Addrs(len(members))
	if err != nil {
		t.Fatal(err)
	}
	m, keys, err := federation.DevFederation(members, addrs, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.InitCA(t.TempDir(), pki.DefaultCAName, pki.DefaultCAValidity, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	m.CA = ca.CertPEM()
	pool := x509.NewCertPool()
	pool.AddCert(ca.Certificate())
	limits.RatePerSecond, limits.Burst = 1e6, 1e6
	return &pair{t: t, limits: limits, manifest: m, keys: keys, ca: ca, pool: pool}
}

func (p *pair) start(id string) *pairNode {
	t := p.t
	t.Helper()
	cert, err := p.ca.IssueTLS(id, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{
		Member: id, DataDir: t.TempDir(), GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Keys: p.keys[id], Manifest: p.manifest, Peers: []string{"cao-bang"}, SyncInterval: 200 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler), Cert: &cert, PlaintextAPI: !p.tlsAPI, Limits: p.limits, ShutdownTimeout: 10 * time.Second,
	}
	if id == "cao-bang" {
		cfg.Peers = []string{resource.Ministry}
	} else {
		cfg.SyncDial = func(member, addr string) (*grpc.ClientConn, error) {
			creds := credentials.NewTLS(pki.PeerClientConfig(cert, p.pool, member))
			d := fromAddr("127.0.0.3")
			return grpc.NewClient(addr, append(replication.DialOptions(200*time.Millisecond), grpc.WithTransportCredentials(creds),
				grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }))...)
		}
	}
	n, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s: Serve: %v", id, err)
		}
	})
	token, err := n.IssueToken(ctx, auth.RoleAdmin, "test", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	d := fromAddr("127.0.0.2")
	c, err := client.Dial(n.GRPCAddr(), client.WithToken(token),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 20 * time.Second}
	t.Cleanup(hc.CloseIdleConnections)
	return &pairNode{srv: n, api: c, http: hc, token: token}
}

// flood opens count connections from 127.0.0.1 to addr that send nothing,
// and returns them (closed at cleanup). Connections the node refuses at
// once may fail to dial; they are not returned.
func flood(t *testing.T, addr string, count int) []net.Conn {
	t.Helper()
	return floodFrom(t, "127.0.0.1", addr, count)
}

// floodFrom is flood from the loopback address from.
func floodFrom(t *testing.T, from, addr string, count int) []net.Conn {
	t.Helper()
	var out []net.Conn
	d := fromAddr(from)
	for range count {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			continue
		}
		out = append(out, c)
	}
	t.Cleanup(func() {
		for _, c := range out {
			c.Close()
		}
	})
	return out
}

// closedWithin reports whether the node closes c (or has closed it) within
// d, discarding whatever it sends first (an HTTP error, a GOAWAY).
func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// refusedAtOnce reports whether a new connection from 127.0.0.1 to addr is
// closed by the node at once.
func refusedAtOnce(addr string) bool {
	c, err := fromAddr("127.0.0.1").Dial("tcp", addr)
	if err != nil {
		return true
	}
	defer c.Close()
	return closedWithin(c, 5*time.Second)
}

// slowBody sends an HTTP request from 127.0.0.1 whose body stops after its
// first bytes.
func slowBody(t *testing.T, addr, token string) net.Conn {
	t.Helper()
	c, err := fromAddr("127.0.0.1").Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST /v1/provinces/cao-bang/agreements?agreement_id=slow HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"display_name\": ", addr, token)
	return c
}

// floodLimits are connection caps of total and perAddress, with timeouts
// long enough that a flood holds its connections throughout: the caps
// alone must let the others in.
func floodLimits(total, perAddress int) server.Limits {
	return server.Limits{
		Connections: total, ConnectionsPerAddress: perAddress,
		HandshakeTimeout: 5 * time.Minute, ReadTimeout: 5 * time.Minute, IdleTimeout: 5 * time.Minute,
	}
}

// waitReaches waits until api (the ministry's) serves the agreement name.
func waitReaches(t *testing.T, api *client.Client, name string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := api.Twinning.GetAgreement(testCtx(t), &twinningv1.GetAgreementRequest{Name: name})
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not reach the ministry: %v", name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestConnectionFlood: one address holding thousands of idle connections and
// slow request bodies to every listener of a node does not keep an API
// client (gRPC and HTTP) or a peer's sync out. The caps per address keep the
// flood to its share; what is over them is closed at once.
func TestConnectionFlood(t *testing.T) {
	p := newPair(t, floodLimits(400, 40))
	province := p.start("cao-bang")
	ctx := testCtx(t)
	n := province.srv
	var ministry *pairNode
	create := func(id string) {
		t.Helper()
		_, err := province.api.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{
			Parent: "provinces/cao-bang", AgreementId: id, Agreement: newAgreement("flood " + id),
		})
		mustf(t, err, "create %s over gRPC during the flood", id)
	}
	for range 20 {
		slowBody(t, n.HTTPAddr(), province.token)
	}
	for _, addr := range []string{n.GRPCAddr(), n.HTTPAddr(), n.PeerAddr()} {
		flood(t, addr, 1000)
		if !refusedAtOnce(addr) {
			t.Errorf("%s: a connection from the flooding address, over its cap, was not closed at once", addr)
		}
	}

	// Honest callers from other addresses still get through.
	create("during")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.HTTPAddr()+"/v1/provinces/cao-bang/agreements/during", nil)
	mustf(t, err, "request")
	req.Header.Set("Authorization", "Bearer "+province.token)
	resp, err := province.http.Do(req)
	mustf(t, err, "GET over HTTP during the flood")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "flood during") {
		t.Errorf("GET over HTTP during the flood: %d %s", resp.StatusCode, body)
	}
	// The ministry, started now, connects to the flooded peer endpoint
	// from its own address and pulls.
	ministry = p.start(resource.Ministry)
	waitReaches(t, ministry.api, "provinces/cao-bang/agreements/during")
}

// countingDialer dials from 127.0.0.2 and counts its connections.
type countingDialer struct {
	d     *net.Dialer
	dials atomic.Int32
}

func (c *countingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c.dials.Add(1)
	return c.d.DialContext(ctx, network, addr)
}

// TestConnectionFloodFromManyAddresses: idle connections without
// credentials from more addresses than the cap per address stops fill
// every listener; a caller with a token still gets in, over gRPC and HTTP,
// and keeps its connection while the flood goes on connecting, and a peer
// still syncs. A full listener closes the flood's idlest connection to
// make room; before, the caller's connection was closed at once.
func TestConnectionFloodFromManyAddresses(t *testing.T) {
	for _, tlsAPI := range []bool{false, true} {
		t.Run(map[bool]string{false: "plaintext", true: "TLS"}[tlsAPI], func(t *testing.T) { floodFromManyAddresses(t, tlsAPI) })
	}
}

func floodFromManyAddresses(t *testing.T, tlsAPI bool) {
	const perAddress, total = 20, 60
	p := newPair(t, floodLimits(total, perAddress))
	p.tlsAPI = tlsAPI
	province := p.start("cao-bang")
	ctx := testCtx(t)
	n := province.srv
	// start's own clients hold a connection each already; from now on,
	// the callers' connections are counted.
	floodAll := func(from ...string) {
		for _, ip := range from {
			for _, addr := range []string{n.GRPCAddr(), n.HTTPAddr(), n.PeerAddr()} {
				floodFrom(t, ip, addr, perAddress)
			}
		}
	}
	floodAll("127.0.0.10", "127.0.0.11", "127.0.0.12")

	grpcDialer := &countingDialer{d: fromAddr("127.0.0.2")}
	opts := []grpc.DialOption{client.WithToken(province.token), grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
		return grpcDialer.DialContext(ctx, "tcp", addr)
	})}
	httpDialer := &countingDialer{d: fromAddr("127.0.0.2")}
	transport := &http.Transport{DialContext: httpDialer.DialContext}
	scheme := "http"
	if tlsAPI {
		withCA, err := client.WithCA(p.ca.CertPEM())
		mustf(t, err, "CA")
		opts = append(opts, withCA)
		transport.TLSClientConfig = &tls.Config{RootCAs: p.pool, ServerName: "localhost"}
		transport.ForceAttemptHTTP2 = true
		scheme = "https"
	}
	api, err := client.Dial(n.GRPCAddr(), opts...)
	mustf(t, err, "dial")
	t.Cleanup(func() { api.Close() })
	hc := &http.Client{Transport: transport, Timeout: 20 * time.Second}
	t.Cleanup(hc.CloseIdleConnections)
	get := func(id string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+n.HTTPAddr()+"/v1/provinces/cao-bang/agreements/"+id, nil)
		mustf(t, err, "request")
		req.Header.Set("Authorization", "Bearer "+province.token)
		resp, err := hc.Do(req)
		mustf(t, err, "GET %s over HTTP during the flood", id)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if tlsAPI && resp.ProtoMajor != 2 {
			t.Fatalf("GET %s over %s, want HTTP/2", id, resp.Proto)
		}
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "many "+id) {
			t.Fatalf("GET %s over HTTP during the flood: %d %s", id, resp.StatusCode, body)
		}
	}
	for _, id := range []string{"one", "two"} {
		_, err := api.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{
			Parent: "provinces/cao-bang", AgreementId: id, Agreement: newAgreement("many " + id),
		})
		mustf(t, err, "create %s over gRPC during the flood", id)
		get(id)
		// The flood comes again from new addresses: it closes its own
		// idle connections, not the callers'.
		floodAll("127.0.0.13", "127.0.0.14", "127.0.0.15")
	}
	if g, h := grpcDialer.dials.Load(), httpDialer.dials.Load(); g != 1 || h != 1 {
		t.Errorf("the caller connected %d times over gRPC and %d over HTTP, want once each: the flood closed its connection", g, h)
	}
	// The ministry, started now, connects to the flooded peer endpoint
	// and pulls.
	ministry := p.start(resource.Ministry)
	ministryAPI := ministry.api
	if tlsAPI {
		withCA, err := client.WithCA(p.ca.CertPEM())
		mustf(t, err, "CA")
		ministryAPI, err = client.Dial(ministry.srv.GRPCAddr(), client.WithToken(ministry.token), withCA)
		mustf(t, err, "dial the ministry")
		t.Cleanup(func() { ministryAPI.Close() })
	}
	waitReaches(t, ministryAPI, "provinces/cao-bang/agreements/two")
}

// callerOn sends GET /v1/caller with token ("": none) on c, an HTTP/1.1
// connection it keeps open, and returns the answer's status, or 0 when the
// node closed c instead of answering.
func callerOn(c net.Conn, addr, token string) int {
	return getOn(c, addr, "/v1/caller", token)
}

// getOn is callerOn of path.
func getOn(c net.Conn, addr, path, token string) int {
	auth := ""
	if token != "" {
		auth = "Authorization: Bearer " + token + "\r\n"
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", path, addr, auth); err != nil {
		return 0
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// churn connects to each of addrs from the addresses of 127.0.1.0/24 in
// turn, as fast as it can, until ctx ends, keeping the last 100 of its
// connections to each open: a flood from one network that holds every
// place a full listener can make room in. It reports how many it made.
func churn(ctx context.Context, addrs ...string) <-chan int {
	made := make(chan int, len(addrs))
	for _, addr := range addrs {
		go func() {
			var held []net.Conn
			n := 0
			defer func() {
				for _, c := range held {
					c.Close()
				}
				made <- n
			}()
			for ctx.Err() == nil {
				c, err := fromAddr(fmt.Sprintf("127.0.1.%d", 1+n%250)).DialContext(ctx, "tcp", addr)
				n++
				if err != nil {
					continue
				}
				if held = append(held, c); len(held) > 100 {
					held[0].Close()
					held = held[1:]
				}
			}
		}()
	}
	return made
}

// TestConnectionChurnCannotCloseANewCaller: a flood that connects without
// pause from many addresses of one network, each new connection making a
// full listener close another, does not close a new caller's connection
// before its first call (one that comes a third of a second after the
// connection, as from far away) or a peer's: the connection closed to make
// room is the flood's own, from the network that holds the most. Closing
// the listener's idlest instead let such a flood close a token holder's
// new connection before its first call said who calls (an outside review:
// 29 of 33 first calls failed at 200 ms round trips).
func TestConnectionChurnCannotCloseANewCaller(t *testing.T) {
	p := newPair(t, floodLimits(60, 20))
	province := p.start("cao-bang")
	n := province.srv
	ctx, stop := context.WithCancel(testCtx(t))
	made := churn(ctx, n.HTTPAddr(), n.PeerAddr())
	defer func() {
		stop()
		total := <-made + <-made
		// Each listener holds 60: fewer than twice as many for each
		// means the flood did not fill them over and over.
		if total < 2*2*60 {
			t.Errorf("the flood made %d connections, too few to have filled the listeners over and over", total)
		}
	}()
	for i := range 5 {
		c, err := fromAddr("127.0.0.2").Dial("tcp", n.HTTPAddr())
		mustf(t, err, "dial")
		time.Sleep(time.Second / 3)
		if status := callerOn(c, n.HTTPAddr(), province.token); status != http.StatusOK {
			t.Errorf("new caller %d, its first call a third of a second after connecting: status %d (0: its connection was closed)", i, status)
		}
		c.Close()
	}
	// The ministry connects to the flooded peer endpoint and pulls.
	_, err := province.api.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{
		Parent: "provinces/cao-bang", AgreementId: "churn", Agreement: newAgreement("churn"),
	})
	mustf(t, err, "create")
	ministry := p.start(resource.Ministry)
	waitReaches(t, ministry.api, "provinces/cao-bang/agreements/churn")
}

// holderPair starts cao-bang of a pair whose listeners hold 3*perAddress
// connections, perAddress from one address, and issues a viewer token for
// a holder of its places.
func holderPair(t *testing.T, perAddress int) (*pair, *pairNode, string) {
	t.Helper()
	p := newPair(t, floodLimits(3*perAddress, perAddress))
	province := p.start("cao-bang")
	viewer, err := province.srv.IssueToken(testCtx(t), auth.RoleViewer, "holder", time.Time{})
	mustf(t, err, "issue")
	return p, province, viewer
}

// TestRevokedTokenLosesItsConnectionsPlace: connections whose calls came
// with a token hold their place on a full listener, and a caller with
// another token is refused; once that token is revoked, a connection whose
// next call comes with it is the first closed to make room. Before, a
// revoked token's connections kept their place until they closed, and the
// holder kept them open with calls without a token.
func TestRevokedTokenLosesItsConnectionsPlace(t *testing.T) {
	const perAddress = 10
	_, province, viewer := holderPair(t, perAddress)
	n := province.srv
	ctx := testCtx(t)
	var held []net.Conn
	// From the third address the holder's calls are health checks, which
	// the gateway does not serve: a token there vouches too.
	for _, from := range []struct{ ip, path string }{{"127.0.0.20", "/v1/caller"}, {"127.0.0.21", "/v1/caller"}, {"127.0.0.22", "/healthz"}} {
		for range perAddress {
			c, err := fromAddr(from.ip).Dial("tcp", n.HTTPAddr())
			mustf(t, err, "dial")
			t.Cleanup(func() { c.Close() })
			if status := getOn(c, n.HTTPAddr(), from.path, viewer); status != http.StatusOK {
				t.Fatalf("the holder's call of %s from %s: status %d", from.path, from.ip, status)
			}
			held = append(held, c)
		}
	}
	// Each caller keeps its connection, so the listener stays full.
	admin := func() int {
		c, err := fromAddr("127.0.0.2").Dial("tcp", n.HTTPAddr())
		if err != nil {
			return 0
		}
		t.Cleanup(func() { c.Close() })
		return callerOn(c, n.HTTPAddr(), province.token)
	}
	if status := admin(); status != 0 {
		t.Fatalf("with every place held by calls with a token, another caller got status %d, want its connection closed", status)
	}
	mustf(t, n.Store().RevokeToken(ctx, tokenID(t, viewer), time.Now()), "revoke")
	if status := callerOn(held[0], n.HTTPAddr(), viewer); status != http.StatusUnauthorized {
		t.Fatalf("a call with the revoked token: status %d, want 401", status)
	}
	if status := admin(); status != http.StatusOK {
		t.Errorf("after a call with the revoked token, another caller got status %d, want 200: the revoked token's connection kept its place", status)
	}
	if !closedWithin(held[0], 5*time.Second) {
		t.Error("the connection whose call came with the revoked token was not the one closed to make room")
	}
	// A health check without a token, which authenticates nothing, leaves
	// a connection no place either (the holder kept its places that way).
	if status := getOn(held[1], n.HTTPAddr(), "/healthz", ""); status != http.StatusOK {
		t.Fatalf("a health check without a token: status %d", status)
	}
	if status := admin(); status != http.StatusOK {
		t.Errorf("after a health check without a token, another caller got status %d, want 200", status)
	}
	if !closedWithin(held[1], 5*time.Second) {
		t.Error("the connection of the health check without a token was not the one closed to make room")
	}
}

// TestCallsThatNeverShowCredentialsKeepNoPlace: gRPC connections whose
// calls came with a token hold their place; once it is revoked, calls
// whose message never comes (so never reach the check of their token)
// leave them no place, and another caller gets in. Connections with a
// certificate of a member the manifest no longer lists, through their TLS
// handshake and with no call, have no place on the peer endpoint either:
// vouched for at their handshake, they held it, and the ministry could
// not sync.
func TestCallsThatNeverShowCredentialsKeepNoPlace(t *testing.T) {
	const perAddress = 10
	p, province, viewer := holderPair(t, perAddress)
	n := province.srv
	ctx := testCtx(t)
	removed, err := p.ca.IssueTLS("lao-cai", time.Now()) // signed by the CA, not in the manifest
	mustf(t, err, "issue a certificate")
	dialFrom := func(ip, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
		d := fromAddr(ip)
		cc, err := grpc.NewClient(addr, append(opts, grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) { return d.DialContext(ctx, "tcp", a) }))...)
		mustf(t, err, "client")
		t.Cleanup(func() { cc.Close() })
		return cc
	}
	messageless := func(cc *grpc.ClientConn, method string) {
		if _, err := cc.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, method); err != nil {
			t.Fatalf("a call whose message never comes: %v", err)
		}
	}
	var heldAPI []*grpc.ClientConn
	for _, ip := range []string{"127.0.0.20", "127.0.0.21", "127.0.0.22"} {
		for range perAddress {
			api := client.New(dialFrom(ip, n.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()), client.WithToken(viewer)))
			_, err := api.Twinning.ListAgreements(ctx, &twinningv1.ListAgreementsRequest{Parent: "provinces/cao-bang"})
			mustf(t, err, "the holder's call")
			heldAPI = append(heldAPI, api.Conn())
			// Connected through its TLS handshake, with no call.
			peer := dialFrom(ip, n.PeerAddr(), grpc.WithTransportCredentials(credentials.NewTLS(pki.PeerClientConfig(removed, p.pool, "cao-bang"))))
			peer.Connect()
			waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			for s := peer.GetState(); s != connectivity.Ready; s = peer.GetState() {
				if !peer.WaitForStateChange(waitCtx, s) {
					t.Fatalf("the removed member's connection: %v", s)
				}
			}
			cancel()
		}
	}
	mustf(t, n.Store().RevokeToken(ctx, tokenID(t, viewer), time.Now()), "revoke")
	for _, cc := range heldAPI {
		messageless(cc, "/provex.twinning.v1.TwinningService/ListAgreements")
	}
	admin, err := client.Dial(n.GRPCAddr(), client.WithToken(province.token), grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) {
		return fromAddr("127.0.0.2").DialContext(ctx, "tcp", a)
	}))
	mustf(t, err, "dial")
	t.Cleanup(func() { admin.Close() })
	// The node sees each call begin when its headers arrive, a moment
	// after NewStream returns: until then a new connection is refused.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, err = admin.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: "provinces/cao-bang", AgreementId: "held", Agreement: newAgreement("held")})
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	mustf(t, err, "another caller, after the revoked token's connections began calls whose message never comes")
	ministry := p.start(resource.Ministry)
	waitReaches(t, ministry.api, "provinces/cao-bang/agreements/held")
}

// TestOneMemberCannotHoldThePeerEndpoint: one member's certificate, shown
// by a call on each of its connections to a node's peer endpoint, keeps
// at most Limits.VouchedConnectionsPerIdentity of them from being closed
// to make room: with the endpoint full of them, another member's node
// connects and pulls. Before, every connection whose last call showed a
// member's certificate kept its place, so one member held all 4096 of a
// node's peer endpoint, announcing every 30 s from 17 addresses, and
// another member's node was refused (an outside review).
func TestOneMemberCannotHoldThePeerEndpoint(t *testing.T) {
	limits := floodLimits(12, 6)
	limits.VouchedConnectionsPerIdentity = 4
	p := newPair(t, limits, "nghe-an")
	province := p.start("cao-bang")
	n := province.srv
	ctx := testCtx(t)
	cert, err := p.ca.IssueTLS("nghe-an", time.Now())
	mustf(t, err, "issue nghe-an's certificate")
	creds := grpc.WithTransportCredentials(credentials.NewTLS(pki.PeerClientConfig(cert, p.pool, "cao-bang")))
	for _, ip := range []string{"127.0.1.1", "127.0.1.2"} {
		d := fromAddr(ip)
		for range 6 {
			cc, err := grpc.NewClient(n.PeerAddr(), creds, grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) { return d.DialContext(ctx, "tcp", a) }))
			mustf(t, err, "client")
			t.Cleanup(func() { cc.Close() })
			_, err = syncv1.NewSyncServiceClient(cc).Announce(ctx, &syncv1.AnnounceRequest{Member: "nghe-an"})
			mustf(t, err, "nghe-an's announcement from %s", ip)
		}
	}
	m := scrape(t, province.http, "http://"+n.HTTPAddr()+"/metrics", province.token)
	if open, _ := value(m, "provex_open_connections", map[string]string{"listener": "peer"}); open != 12 {
		t.Fatalf("the peer endpoint holds %v connections, want 12, all nghe-an's", open)
	}
	_, err = province.api.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{
		Parent: "provinces/cao-bang", AgreementId: "held", Agreement: newAgreement("held"),
	})
	mustf(t, err, "create")
	ministry := p.start(resource.Ministry)
	waitReaches(t, ministry.api, "provinces/cao-bang/agreements/held")
}

// TestOneTokenCannotHoldAListener: one token's connections past
// Limits.VouchedConnectionsPerIdentity are closed to make room on a full
// listener for another token's new connections, oldest first, and a token
// within it keeps every one of its own.
func TestOneTokenCannotHoldAListener(t *testing.T) {
	const perIdentity = 4
	limits := floodLimits(12, 12)
	limits.VouchedConnectionsPerIdentity = perIdentity
	p := newPair(t, limits)
	province := p.start("cao-bang")
	n := province.srv
	flooder, err := n.IssueToken(testCtx(t), auth.RoleViewer, "flooder", time.Time{})
	mustf(t, err, "issue")
	holder, err := n.IssueToken(testCtx(t), auth.RoleViewer, "holder", time.Time{})
	mustf(t, err, "issue")
	connect := func(ip, token string) net.Conn {
		t.Helper()
		c, err := fromAddr(ip).Dial("tcp", n.HTTPAddr())
		mustf(t, err, "dial")
		t.Cleanup(func() { c.Close() })
		if status := callerOn(c, n.HTTPAddr(), token); status != http.StatusOK {
			t.Fatalf("a call from %s: status %d (0: its connection was closed)", ip, status)
		}
		return c
	}
	var flood []net.Conn
	for i := range 10 {
		flood = append(flood, connect(fmt.Sprintf("127.0.1.%d", 1+i), flooder))
	}
	held := []net.Conn{connect("127.0.2.1", holder), connect("127.0.2.2", holder)}
	// Full. The holder's next two, and the admin's two, each close one
	// of the flooder's six past its bound, oldest first.
	for i, newcomer := range []struct{ ip, token string }{
		{"127.0.2.3", holder}, {"127.0.2.4", holder}, {"127.0.0.2", province.token}, {"127.0.0.2", province.token},
	} {
		held = append(held, connect(newcomer.ip, newcomer.token))
		if !closedWithin(flood[perIdentity+i], 5*time.Second) {
			t.Fatalf("newcomer %d: the flooder's connection %d, past its token's bound, was not closed to make room", i, perIdentity+i)
		}
	}
	// The flooder's last two past its bound, then its four within it,
	// calling again, keep theirs; so does the holder, at its bound.
	for _, c := range append(flood[:perIdentity], flood[8:]...) {
		callerOn(c, n.HTTPAddr(), flooder)
	}
	held = append(held, connect("127.0.0.2", province.token), connect("127.0.0.2", province.token))
	if !closedWithin(flood[8], 5*time.Second) || !closedWithin(flood[9], 5*time.Second) {
		t.Fatal("the flooder's last connections, past its token's bound, were not closed to make room")
	}
	if !refusedAtOnce(n.HTTPAddr()) {
		t.Fatal("with every place held within each token's bound, a new connection was not refused")
	}
	for i, c := range append(flood[:perIdentity], held...) {
		token := holder
		switch {
		case i < perIdentity:
			token = flooder
		case i >= perIdentity+4:
			token = province.token
		}
		if status := callerOn(c, n.HTTPAddr(), token); status != http.StatusOK {
			t.Errorf("connection %d, within its token's bound: status %d (0: closed)", i, status)
		}
	}
}

// TestConnectionTimeouts: connections that never finish a handshake, a
// request body that never ends, and idle connections are closed by the
// node, on every listener.
func TestConnectionTimeouts(t *testing.T) {
	province := newPair(t, server.Limits{
		HandshakeTimeout: 300 * time.Millisecond, ReadTimeout: 500 * time.Millisecond, IdleTimeout: 500 * time.Millisecond,
	}).start("cao-bang")
	n := province.srv
	const within = 15 * time.Second
	for _, l := range []struct{ name, addr string }{{"gRPC", n.GRPCAddr()}, {"HTTP", n.HTTPAddr()}, {"peer", n.PeerAddr()}} {
		c, err := fromAddr("127.0.0.1").Dial("tcp", l.addr)
		mustf(t, err, "dial %s", l.name)
		defer c.Close()
		if !closedWithin(c, within) {
			t.Errorf("%s: a connection that sends nothing is still open after %v", l.name, within)
		}
	}
	t.Run("slow body", func(t *testing.T) {
		if c := slowBody(t, n.HTTPAddr(), province.token); !closedWithin(c, within) {
			t.Errorf("a request whose body never ends is still open after %v", within)
		}
	})
	t.Run("idle HTTP", func(t *testing.T) {
		c, err := fromAddr("127.0.0.1").Dial("tcp", n.HTTPAddr())
		mustf(t, err, "dial")
		defer c.Close()
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", n.HTTPAddr())
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		mustf(t, err, "read response")
		resp.Body.Close()
		if resp.Close {
			t.Fatal("the node closed the connection after one request; want keep-alive")
		}
		if !closedWithin(c, within) {
			t.Errorf("an idle keep-alive connection is still open after %v", within)
		}
	})
	t.Run("idle gRPC", func(t *testing.T) {
		ctx := testCtx(t)
		conn := province.api.Conn()
		_, err := province.api.Twinning.ListAgreements(ctx, &twinningv1.ListAgreementsRequest{Parent: "provinces/cao-bang"})
		mustf(t, err, "list")
		// The node's GOAWAY after IdleTimeout sends the client to IDLE.
		for s := conn.GetState(); s != connectivity.Idle; s = conn.GetState() {
			if !conn.WaitForStateChange(ctx, s) {
				t.Fatalf("the gRPC connection stayed %v: not closed for idleness", s)
			}
		}
	})
}

// TestFileLimitWarning: a node whose connection caps together, with the
// descriptors it holds itself (its store's connections, its peers' and a
// margin), exceed the process's open-file limit says so when it listens,
// naming the numbers and the operator's flag; with caps that fit, it says
// nothing. Caps that fit under the limit only if the node held nothing
// itself are warned of (a flood within them took the store's: an outside
// review).
func TestFileLimitWarning(t *testing.T) {
	limit := server.OpenFileLimit()
	if limit == 0 || limit >= 1<<40 {
		t.Skipf("open-file limit %d: no caps fit just under it", limit)
	}
	for _, tc := range []struct {
		connections int
		warn        bool
	}{{1 << 30, true}, {int(limit/2) - 1, true}, {10, false}} {
		var logs bytes.Buffer
		n, err := server.New(context.Background(), server.Config{
			Member: "cao-bang", DataDir: t.TempDir(), GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", PlaintextAPI: true,
			Logger: slog.New(slog.NewTextHandler(&logs, nil)), Limits: server.Limits{Connections: tc.connections},
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Listen(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := n.Serve(ctx); err != nil {
			t.Fatal(err)
		}
		got := strings.Contains(logs.String(), "exceed the open-file limit")
		if got != tc.warn {
			t.Errorf("connections %d: warned %v, want %v:\n%s", tc.connections, got, tc.warn, logs.String())
		}
		if tc.warn {
			for _, want := range []string{"open_file_limit=", fmt.Sprint("connections_in_total=", 2*tc.connections), "set_aside=", "--max-connections", "max_connections"} {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("connections %d: the warning does not say %s:\n%s", tc.connections, want, logs.String())
				}
			}
			if strings.Contains(logs.String(), "Limits.Connections") {
				t.Errorf("the warning names a Go field, not the operator's flag:\n%s", logs.String())
			}
		}
	}
}
