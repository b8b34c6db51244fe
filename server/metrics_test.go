package server_test

// Tests of the node's metrics (issue 14, point 1): /metrics in Prometheus
// format, who may read it, what it counts, and the optional traces.

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/provex/provex/auth"
	nodev1 "github.com/provex/provex/gen/go/provex/node/v1"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/pki"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/server"
)

// scrape reads url (a node's /metrics) with token, or none, and parses it.
func scrape(t *testing.T, hc *http.Client, url, token string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := get(t, hc, url, token)
	if code != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d %s", url, code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("GET %s: not the Prometheus text format: %v\n%s", url, err, body)
	}
	return families
}

func get(t *testing.T, hc *http.Client, url, token string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	mustf(t, err, "request %s", url)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	mustf(t, err, "GET %s", url)
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.Bytes()
}

// value is the value of the series of name whose labels include labels
// (a counter's, a gauge's, or a histogram's count), and whether there is
// one.
func value(families map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	f, ok := families[name]
	if !ok {
		return 0, false
	}
series:
	for _, m := range f.GetMetric() {
		for k, v := range labels {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue series
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

func wantValue(t *testing.T, families map[string]*dto.MetricFamily, name string, labels map[string]string, want float64) {
	t.Helper()
	got, ok := value(families, name, labels)
	if !ok || got != want {
		t.Errorf("%s%v = %v (present %v), want %v", name, labels, got, ok, want)
	}
}

// TestMetricsCountCallsByMethodAndCode: after gRPC and HTTP calls, a
// node's /metrics counts them by method and code, the HTTP ones (which the
// gateway serves through the same interceptors) with the gRPC ones, with
// their latency histograms, and shows the store's commits, the audit
// trail's length and the open connections.
func TestMetricsCountCallsByMethodAndCode(t *testing.T) {
	t.Parallel()
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	for range 2 {
		_, err := tn.Twinning.ListAgreements(ctx, &twinningv1.ListAgreementsRequest{Parent: tn.parent()})
		mustf(t, err, "ListAgreements")
	}
	_, err := tn.Twinning.GetAgreement(ctx, &twinningv1.GetAgreementRequest{Name: tn.parent() + "/agreements/none"})
	wantCode(t, err, codes.NotFound, "GetAgreement of none")
	_, err = tn.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), AgreementId: "mou",
		Agreement: &twinningv1.Agreement{DisplayName: "MoU", Kind: twinningv1.Agreement_KIND_MOU}})
	mustf(t, err, "CreateAgreement")
	for _, path := range []string{"/v1/provinces/cao-bang/agreements", "/v1/provinces/cao-bang/agreements/mou", "/v1/provinces/cao-bang/agreements/none"} {
		tn.httpDo(t, http.MethodGet, path, "", nil)
	}

	m := scrape(t, http.DefaultClient, tn.BaseURL+"/metrics", tn.Token)
	const svc = "provex.twinning.v1.TwinningService"
	wantValue(t, m, "grpc_server_handled_total", map[string]string{"grpc_service": svc, "grpc_method": "ListAgreements", "grpc_code": "OK"}, 3)
	wantValue(t, m, "grpc_server_handled_total", map[string]string{"grpc_service": svc, "grpc_method": "GetAgreement", "grpc_code": "OK"}, 1)
	wantValue(t, m, "grpc_server_handled_total", map[string]string{"grpc_service": svc, "grpc_method": "GetAgreement", "grpc_code": "NotFound"}, 2)
	wantValue(t, m, "grpc_server_handled_total", map[string]string{"grpc_service": svc, "grpc_method": "CreateAgreement", "grpc_code": "OK"}, 1)
	wantValue(t, m, "grpc_server_handling_seconds", map[string]string{"grpc_service": svc, "grpc_method": "ListAgreements"}, 3)
	wantValue(t, m, "grpc_server_handling_seconds", map[string]string{"grpc_service": svc, "grpc_method": "GetAgreement"}, 3)
	if n, _ := value(m, "provex_store_commit_writes", nil); n < 1 {
		t.Errorf("provex_store_commit_writes counts %v commits, want the create's at least", n)
	}
	if n, _ := value(m, "provex_store_commit_seconds", nil); n < 1 {
		t.Errorf("provex_store_commit_seconds counts %v commits, want the create's at least", n)
	}
	if n, _ := value(m, "provex_audit_chain_length", nil); n < 1 {
		t.Errorf("provex_audit_chain_length = %v, want the create's record at least", n)
	}
	if n, _ := value(m, "provex_open_connections", map[string]string{"listener": "gRPC"}); n < 1 {
		t.Errorf("provex_open_connections{listener=gRPC} = %v, want the test's client's", n)
	}
	wantValue(t, m, "provex_rate_limit_refusals_total", map[string]string{"limit": "calls"}, 0)
}

// TestMetricsNeedAnAdminTokenOnTheAPIListener: on the API's HTTP listener
// /metrics is for admin tokens: none is 401, a viewer's 403.
func TestMetricsNeedAnAdminTokenOnTheAPIListener(t *testing.T) {
	t.Parallel()
	tn := startNode(t, "cao-bang")
	if code, body := get(t, http.DefaultClient, tn.BaseURL+"/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics without a token: HTTP %d %s, want 401", code, body)
	}
	viewer, err := tn.Srv.IssueToken(testCtx(t), auth.RoleViewer, "viewer", time.Time{})
	mustf(t, err, "viewer token")
	if code, body := get(t, http.DefaultClient, tn.BaseURL+"/metrics", viewer); code != http.StatusForbidden {
		t.Errorf("/metrics with a viewer token: HTTP %d %s, want 403", code, body)
	}
	if code, body := get(t, http.DefaultClient, tn.BaseURL+"/metrics", "pvx_not-a-token"); code != http.StatusUnauthorized {
		t.Errorf("/metrics with a bad token: HTTP %d %s, want 401", code, body)
	}
	scrape(t, http.DefaultClient, tn.BaseURL+"/metrics", tn.Token)
}

// TestMetricsOnTheirOwnListener: with MetricsAddr, /metrics is served
// there without a token, and no longer on the API's listener.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	t.Parallel()
	tn := startNodeWith(t, "cao-bang", t.TempDir(), func(c *server.Config) { c.MetricsAddr = "127.0.0.1:0" })
	_, err := tn.Node.GetNodeInfo(testCtx(t), &nodev1.GetNodeInfoRequest{})
	mustf(t, err, "GetNodeInfo")
	m := scrape(t, http.DefaultClient, "http://"+tn.Srv.MetricsAddr()+"/metrics", "")
	wantValue(t, m, "grpc_server_handled_total", map[string]string{"grpc_method": "GetNodeInfo", "grpc_code": "OK"}, 1)
	if code, body := get(t, http.DefaultClient, tn.BaseURL+"/metrics", tn.Token); code != http.StatusNotFound {
		t.Errorf("/metrics on the API's listener with MetricsAddr set: HTTP %d %s, want 404", code, body)
	}
}

// TestMetricsCountRateLimitRefusals: every call a caller's rate limit, or
// the shared one of bad credentials, refuses is counted, and only those.
func TestMetricsCountRateLimitRefusals(t *testing.T) {
	t.Parallel()
	tn := startSecNode(t, "cao-bang", func(c *server.Config) {
		c.Limits = server.Limits{RatePerSecond: 1, Burst: 3}
		c.MetricsAddr = "127.0.0.1:0"
	})
	c := dialAs(t, tn.Srv.GRPCAddr(), issue(t, tn, auth.RoleViewer))
	refused := 0
	for range 10 {
		_, err := c.Twinning.ListAgreements(testCtx(t), &twinningv1.ListAgreementsRequest{Parent: "provinces/-"})
		switch status.Code(err) {
		case codes.OK:
		case codes.ResourceExhausted:
			refused++
		default:
			t.Fatalf("ListAgreements: %v", err)
		}
	}
	if refused == 0 {
		t.Fatal("no call was refused: the test exercises nothing")
	}
	forger := dialAs(t, tn.Srv.GRPCAddr(), "pvx_forged")
	badRefused := 0
	for range 10 {
		_, err := forger.Twinning.ListAgreements(testCtx(t), &twinningv1.ListAgreementsRequest{Parent: "provinces/-"})
		switch status.Code(err) {
		case codes.Unauthenticated:
		case codes.ResourceExhausted:
			badRefused++
		default:
			t.Fatalf("ListAgreements with a forged token: %v", err)
		}
	}
	if badRefused == 0 {
		t.Fatal("no call with bad credentials was refused: the test exercises nothing")
	}
	m := scrape(t, http.DefaultClient, "http://"+tn.Srv.MetricsAddr()+"/metrics", "")
	wantValue(t, m, "provex_rate_limit_refusals_total", map[string]string{"limit": "calls"}, float64(refused))
	wantValue(t, m, "provex_rate_limit_refusals_total", map[string]string{"limit": "bad_credentials"}, float64(badRefused))
	wantValue(t, m, "grpc_server_handled_total", map[string]string{"grpc_method": "ListAgreements", "grpc_code": "ResourceExhausted"}, float64(refused+badRefused))
}

// TestMetricsShowSyncOfAFederation: after cao-bang writes, the ministry's
// metrics show the entries it applied, cao-bang's log applied up to its
// head with no lag, and a recent contact with its peer.
func TestMetricsShowSyncOfAFederation(t *testing.T) {
	t.Parallel()
	p := newPair(t, server.Limits{})
	cb := p.start("cao-bang")
	mofa := p.start(resource.Ministry)
	ctx := testCtx(t)
	_, err := cb.api.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: "provinces/cao-bang", AgreementId: "mou",
		Agreement: &twinningv1.Agreement{DisplayName: "MoU", Kind: twinningv1.Agreement_KIND_MOU}})
	mustf(t, err, "CreateAgreement")
	own := scrape(t, cb.http, "http://"+cb.srv.HTTPAddr()+"/metrics", cb.token)
	head, ok := value(own, "provex_sync_origin_applied_seq", map[string]string{"origin": "cao-bang"})
	if !ok || head < 1 {
		t.Fatalf("cao-bang's own log is at %v (present %v)", head, ok)
	}
	url := "http://" + mofa.srv.HTTPAddr() + "/metrics"
	deadline := time.Now().Add(20 * time.Second)
	for {
		m := scrape(t, mofa.http, url, mofa.token)
		seq, _ := value(m, "provex_sync_origin_applied_seq", map[string]string{"origin": "cao-bang"})
		if seq >= head {
			if n, _ := value(m, "provex_sync_entries_applied_total", nil); n < head {
				t.Errorf("provex_sync_entries_applied_total = %v, want cao-bang's %v entries at least", n, head)
			}
			wantValue(t, m, "provex_sync_origin_lag_entries", map[string]string{"origin": "cao-bang"}, 0)
			if age, ok := value(m, "provex_sync_peer_last_contact_age_seconds", map[string]string{"peer": "cao-bang"}); !ok || age < 0 || age > 60 {
				t.Errorf("provex_sync_peer_last_contact_age_seconds{peer=cao-bang} = %v (present %v), want a recent contact", age, ok)
			}
			wantValue(t, m, "provex_sync_entries_rejected_total", nil, 0)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the ministry's metrics show cao-bang's log at %v, not %v, after 20s", seq, head)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTracingSpansOfGRPCCalls: with a trace exporter, every gRPC call
// served is a span named after its method; without one (the default)
// nothing is traced, which the other tests run.
func TestTracingSpansOfGRPCCalls(t *testing.T) {
	t.Parallel()
	spans := keptSpans{tracetest.NewInMemoryExporter()}
	tn := startNodeWith(t, "cao-bang", t.TempDir(), func(c *server.Config) { c.TraceExporter = spans })
	_, err := tn.Node.GetNodeInfo(testCtx(t), &nodev1.GetNodeInfoRequest{})
	mustf(t, err, "GetNodeInfo")
	tn.Stop(t) // flushes the spans
	for _, s := range spans.GetSpans() {
		if s.Name == "provex.node.v1.NodeService/GetNodeInfo" {
			return
		}
	}
	t.Errorf("no span of GetNodeInfo among %d: %v", len(spans.GetSpans()), spans.GetSpans().Snapshots())
}

// keptSpans keeps the spans when the node shuts its exporter down, which
// the in-memory exporter's Shutdown would drop.
type keptSpans struct{ *tracetest.InMemoryExporter }

func (keptSpans) Shutdown(context.Context) error { return nil }

// TestMetricsUnknownMethodsShareOneSeries: calls of methods the node does
// not serve, with or without a token, are counted, but under one method
// label: a caller who sends many distinct made-up method names must not
// add a series per name to every scrape (and to the node's memory).
func TestMetricsUnknownMethodsShareOneSeries(t *testing.T) {
	t.Parallel()
	tn := startNodeWith(t, "cao-bang", t.TempDir(), func(c *server.Config) { c.MetricsAddr = "127.0.0.1:0" })
	anonymous := dialAs(t, tn.Srv.GRPCAddr(), "")
	const calls = 20
	for i := range calls {
		c := tn.Client
		if i%2 == 1 {
			c = anonymous
		}
		method := fmt.Sprintf("/bogus%d.Service/Method%d", i, i)
		err := c.Conn().Invoke(testCtx(t), method, &emptypb.Empty{}, &emptypb.Empty{})
		if code := status.Code(err); code != codes.Unimplemented && code != codes.Unauthenticated {
			t.Fatalf("%s: %v, want UNIMPLEMENTED or UNAUTHENTICATED", method, err)
		}
	}
	m := scrape(t, http.DefaultClient, "http://"+tn.Srv.MetricsAddr()+"/metrics", "")
	handled := 0.0
	for _, f := range []string{"grpc_server_started_total", "grpc_server_handled_total", "grpc_server_handling_seconds", "grpc_server_msg_received_total", "grpc_server_msg_sent_total"} {
		for _, s := range m[f].GetMetric() {
			for _, l := range s.GetLabel() {
				if strings.HasPrefix(l.GetValue(), "bogus") || strings.HasPrefix(l.GetValue(), "Method") {
					t.Fatalf("%s has a series of the made-up method %s=%q", f, l.GetName(), l.GetValue())
				}
			}
			if f == "grpc_server_handled_total" {
				for _, l := range s.GetLabel() {
					if l.GetName() == "grpc_method" && l.GetValue() == "unknown" {
						handled += s.GetCounter().GetValue()
					}
				}
			}
		}
	}
	if handled != calls {
		t.Errorf("grpc_server_handled_total{grpc_method=unknown} sums to %v, want the %d calls", handled, calls)
	}
}

// waitMetrics scrapes n's /metrics until ok holds of them, for 30s at
// most, and returns the last scrape.
func waitMetrics(t *testing.T, n *pairNode, what string, ok func(map[string]*dto.MetricFamily) bool) map[string]*dto.MetricFamily {
	t.Helper()
	url := "http://" + n.srv.HTTPAddr() + "/metrics"
	deadline := time.Now().Add(30 * time.Second)
	for {
		m := scrape(t, n.http, url, n.token)
		if ok(m) {
			return m
		}
		if time.Now().After(deadline) {
			var sync bytes.Buffer
			for name, f := range m {
				if strings.HasPrefix(name, "provex_sync_") || strings.HasPrefix(name, "provex_rate_") {
					fmt.Fprintf(&sync, "%s %v\n", name, f.GetMetric())
				}
			}
			t.Fatalf("after 30s, %s does not hold:\n%s", what, sync.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMetricsShowSyncLagAndPullRefusals: while cao-bang refuses the
// ministry's pulls (another pull of the ministry's holds the only one it
// allows a peer), cao-bang writes and announces; the ministry's metrics
// show the entries it was told of and has not applied as the lag of
// cao-bang's log and of the peer cao-bang, and cao-bang counts the pulls
// it refused. Once the held pull ends, the lag falls to 0.
func TestMetricsShowSyncLagAndPullRefusals(t *testing.T) {
	t.Parallel()
	p := newPair(t, server.Limits{PullsPerPeer: 1})
	cb := p.start("cao-bang")
	mofa := p.start(resource.Ministry)
	ctx := testCtx(t)
	create := func(id string, size int) {
		_, err := cb.api.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: "provinces/cao-bang", AgreementId: id,
			Agreement: &twinningv1.Agreement{DisplayName: "bulk", Kind: twinningv1.Agreement_KIND_MOU, Summary: strings.Repeat("s", size)}})
		mustf(t, err, "CreateAgreement %s", id)
	}
	// About 250 kB of log: with 64 kB flow-control windows and a client
	// that stops reading, a Pull of it from the start cannot finish.
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < 100; i += 4 {
				create(fmt.Sprintf("bulk-%03d", i), 2000)
			}
		})
	}
	wg.Wait()
	headOf := func(n *pairNode, origin string) float64 {
		m := scrape(t, n.http, "http://"+n.srv.HTTPAddr()+"/metrics", n.token)
		v, _ := value(m, "provex_sync_origin_applied_seq", map[string]string{"origin": origin})
		return v
	}
	h0 := headOf(cb, "cao-bang")
	cbLabels, peerLabels := map[string]string{"origin": "cao-bang"}, map[string]string{"peer": "cao-bang"}
	waitMetrics(t, mofa, "the ministry applied cao-bang's log with no lag", func(m map[string]*dto.MetricFamily) bool {
		seq, _ := value(m, "provex_sync_origin_applied_seq", cbLabels)
		lag, _ := value(m, "provex_sync_origin_lag_entries", cbLabels)
		peerLag, _ := value(m, "provex_sync_peer_lag_entries", peerLabels)
		return seq == h0 && lag == 0 && peerLag == 0
	})

	// Hold the ministry's one pull: a stream opened with its certificate
	// that reads one message and no more. The ministry's own engine may
	// hold it for a moment; the test tries until it has it.
	cert, err := p.ca.IssueTLS(resource.Ministry, time.Now())
	mustf(t, err, "ministry certificate")
	conn, err := grpc.NewClient(cb.srv.PeerAddr(), grpc.WithTransportCredentials(credentials.NewTLS(pki.PeerClientConfig(cert, p.pool, "cao-bang"))),
		grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	mustf(t, err, "dial cao-bang's peer endpoint")
	t.Cleanup(func() { conn.Close() })
	hold, release := context.WithCancel(ctx)
	defer release()
	for deadline := time.Now().Add(20 * time.Second); ; {
		stream, err := syncv1.NewSyncServiceClient(conn).Pull(hold, &syncv1.PullRequest{Member: resource.Ministry, BatchSize: 1})
		if err == nil {
			_, err = stream.Recv()
		}
		if err == nil {
			break
		}
		if status.Code(err) != codes.ResourceExhausted || time.Now().After(deadline) {
			t.Fatalf("holding a pull of the ministry's: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// cao-bang writes, one record at a time, until the ministry hears of
	// it (cao-bang's first announcements may find the ministry's node not
	// up yet), then once more.
	late := 0
	for deadline := time.Now().Add(20 * time.Second); ; late++ {
		create(fmt.Sprintf("late-%d", late), 10)
		m := scrape(t, mofa.http, "http://"+mofa.srv.HTTPAddr()+"/metrics", mofa.token)
		if lag, _ := value(m, "provex_sync_origin_lag_entries", cbLabels); lag > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the ministry heard of none of %d records cao-bang wrote while its pulls were refused", late+1)
		}
		time.Sleep(100 * time.Millisecond)
	}
	create("last", 10)
	h1 := headOf(cb, "cao-bang")
	if h1-h0 < float64(late+2) {
		t.Fatalf("cao-bang's log went from %v to %v after %d creates", h0, h1, late+2)
	}
	m := waitMetrics(t, mofa, "the ministry shows the lag cao-bang announced", func(m map[string]*dto.MetricFamily) bool {
		lag, _ := value(m, "provex_sync_origin_lag_entries", cbLabels)
		return lag == h1-h0
	})
	wantValue(t, m, "provex_sync_origin_known_seq", cbLabels, h1)
	wantValue(t, m, "provex_sync_origin_applied_seq", cbLabels, h0)
	wantValue(t, m, "provex_sync_peer_lag_entries", peerLabels, h1-h0)
	waitMetrics(t, cb, "cao-bang counted a refused pull", func(m map[string]*dto.MetricFamily) bool {
		n, _ := value(m, "provex_rate_limit_refusals_total", map[string]string{"limit": "pulls"})
		return n >= 1
	})

	release()
	waitMetrics(t, mofa, "the ministry caught up", func(m map[string]*dto.MetricFamily) bool {
		seq, _ := value(m, "provex_sync_origin_applied_seq", cbLabels)
		lag, _ := value(m, "provex_sync_origin_lag_entries", cbLabels)
		peerLag, _ := value(m, "provex_sync_peer_lag_entries", peerLabels)
		return seq == h1 && lag == 0 && peerLag == 0
	})
}

// TestAPeerLyingAboutHeadsMovesOnlyItsGauges tries THREATS A24 from
// outside: cao-bang, with its valid certificate, announces to the ministry
// a head of its log a million entries past the real one, heads of 50
// origins that are not members, and a head of the ministry's own log. The
// lie shows as lag of cao-bang's log only (a head is a peer's word), no
// invented origin gets a series, nothing is applied that cao-bang did not
// sign, and the next pull from cao-bang replaces the lie with what it
// served.
func TestAPeerLyingAboutHeadsMovesOnlyItsGauges(t *testing.T) {
	t.Parallel()
	p := newPair(t, server.Limits{})
	cb := p.start("cao-bang")
	mofa := p.start(resource.Ministry)
	ctx := testCtx(t)
	_, err := cb.api.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: "provinces/cao-bang", AgreementId: "real",
		Agreement: &twinningv1.Agreement{DisplayName: "real", Kind: twinningv1.Agreement_KIND_MOU}})
	mustf(t, err, "CreateAgreement")
	cbLabels := map[string]string{"origin": "cao-bang"}
	m := waitMetrics(t, mofa, "the ministry applied cao-bang's log with no lag", func(m map[string]*dto.MetricFamily) bool {
		seq, _ := value(m, "provex_sync_origin_applied_seq", cbLabels)
		lag, _ := value(m, "provex_sync_origin_lag_entries", cbLabels)
		return seq > 0 && lag == 0
	})
	applied, _ := value(m, "provex_sync_origin_applied_seq", cbLabels)

	cert, err := p.ca.IssueTLS("cao-bang", time.Now())
	mustf(t, err, "cao-bang certificate")
	conn, err := grpc.NewClient(mofa.srv.PeerAddr(), grpc.WithTransportCredentials(credentials.NewTLS(pki.PeerClientConfig(cert, p.pool, resource.Ministry))))
	mustf(t, err, "dial the ministry's peer endpoint")
	t.Cleanup(func() { conn.Close() })
	lie := []*syncv1.Position{{Origin: "cao-bang", Seq: uint64(applied) + 1_000_000}, {Origin: resource.Ministry, Seq: 1 << 40}}
	for i := range 50 {
		lie = append(lie, &syncv1.Position{Origin: fmt.Sprintf("invented-%02d", i), Seq: 1 << 30})
	}
	// The ministry pulls from cao-bang at once and may replace the lie
	// before the scrape: lie until a scrape shows it.
	for deadline := time.Now().Add(20 * time.Second); ; {
		_, err := syncv1.NewSyncServiceClient(conn).Announce(ctx, &syncv1.AnnounceRequest{Member: "cao-bang", Heads: lie})
		mustf(t, err, "Announce")
		m = scrape(t, mofa.http, "http://"+mofa.srv.HTTPAddr()+"/metrics", mofa.token)
		if lag, _ := value(m, "provex_sync_origin_lag_entries", cbLabels); lag == 1_000_000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the ministry never showed the lag cao-bang announced")
		}
	}
	wantValue(t, m, "provex_sync_origin_applied_seq", cbLabels, applied)
	for _, f := range m {
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if strings.HasPrefix(l.GetValue(), "invented-") {
					t.Fatalf("%s has a series of an origin a peer made up: %s", f.GetName(), l.GetValue())
				}
				if l.GetName() == "origin" && l.GetValue() == resource.Ministry && strings.Contains(f.GetName(), "lag") {
					if v := s.GetGauge().GetValue(); v != 0 {
						t.Errorf("%s shows the ministry %v behind its own log", f.GetName(), v)
					}
				}
			}
		}
	}
	waitMetrics(t, mofa, "a pull from cao-bang replaced the lie", func(m map[string]*dto.MetricFamily) bool {
		lag, _ := value(m, "provex_sync_origin_lag_entries", cbLabels)
		seq, _ := value(m, "provex_sync_origin_applied_seq", cbLabels)
		return lag == 0 && seq == applied
	})
}

// TestTracingSpansOfHTTPCalls: with a trace exporter, an HTTP/JSON call
// is a span, in the trace its caller's traceparent names, and the
// gateway's call of the gRPC method is its child, named after the method.
func TestTracingSpansOfHTTPCalls(t *testing.T) {
	t.Parallel()
	spans := keptSpans{tracetest.NewInMemoryExporter()}
	tn := startNodeWith(t, "cao-bang", t.TempDir(), func(c *server.Config) { c.TraceExporter = spans })
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	resp, body := tn.httpDo(t, http.MethodGet, "/v1/provinces/cao-bang/agreements", "", map[string]string{"traceparent": "00-" + traceID + "-00f067aa0ba902b7-01"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET agreements: HTTP %d %s", resp.StatusCode, body)
	}
	tn.Stop(t) // flushes the spans
	got := spans.GetSpans()
	var httpSpan, call *tracetest.SpanStub
	for i := range got {
		switch s := &got[i]; {
		case s.InstrumentationScope.Name == "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp":
			httpSpan = s
		case s.Name == "provex.twinning.v1.TwinningService/ListAgreements":
			call = s
		}
	}
	if httpSpan == nil || call == nil {
		t.Fatalf("want a span of the HTTP request and one of ListAgreements; got %d: %v", len(got), got.Snapshots())
	}
	if id := httpSpan.SpanContext.TraceID().String(); id != traceID {
		t.Errorf("the HTTP request's span is in trace %s, not the caller's %s", id, traceID)
	}
	if call.Parent.SpanID() != httpSpan.SpanContext.SpanID() || call.SpanContext.TraceID() != httpSpan.SpanContext.TraceID() {
		t.Errorf("ListAgreements' span (parent %v) is not the HTTP request's (%v) child", call.Parent.SpanID(), httpSpan.SpanContext.SpanID())
	}
}
