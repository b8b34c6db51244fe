package server

import (
	"context"
	"net/http"
	"net/netip"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/provex/provex/auth"
	"github.com/provex/provex/internal/apperr"
)

// The limits whose refusals provex_rate_limit_refusals_total counts.
const (
	limitCalls          = "calls"           // a caller's calls a second
	limitBadCredentials = "bad_credentials" // calls with bad credentials, together
	limitPulls          = "pulls"           // a peer's open pulls
	limitPeerWatches    = "peer_watches"    // a peer's other open streams (health watches)
	limitWriteTime      = "write_time"      // a summary.csv cut off at the HTTP write timeout
)

// nodeMetrics are a node's Prometheus metrics, in a registry of its own:
// tests and the demo run several nodes in one process.
type nodeMetrics struct {
	registry *prometheus.Registry
	grpc     *grpcprom.ServerMetrics
	refusals *prometheus.CounterVec
	// commitWrites and commitSeconds describe the writer's transactions
	// (sqlite.Options.Observe).
	commitWrites, commitSeconds prometheus.Histogram
}

func newNodeMetrics() *nodeMetrics {
	m := &nodeMetrics{
		registry: prometheus.NewRegistry(),
		grpc:     grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram()),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "provex_rate_limit_refusals_total",
			Help: "Calls refused by a limit: calls (a caller's rate), bad_credentials (the shared rate of calls with bad credentials), pulls (a peer's open pulls), peer_watches (a peer's open health watches), write_time (a summary.csv cut off at the HTTP write timeout).",
		}, []string{"limit"}),
		commitWrites: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "provex_store_commit_writes",
			Help:    "Writes committed together in one transaction of the store's writer (group commit).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "provex_store_commit_seconds",
			Help:    "Time from the start of a transaction of the store's writer to its commit.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
	}
	for _, l := range []string{limitCalls, limitBadCredentials, limitPulls, limitPeerWatches, limitWriteTime} {
		m.refusals.WithLabelValues(l) // every limit shows, at 0 until it refuses
	}
	m.registry.MustRegister(m.grpc, m.refusals, m.commitWrites, m.commitSeconds,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observeCommit is the store's Observe.
func (m *nodeMetrics) observeCommit(writes int, took time.Duration) {
	m.commitWrites.Observe(float64(writes))
	m.commitSeconds.Observe(took.Seconds())
}

// stateCollector reads what the node holds at each scrape: sync lag by
// origin and by peer (against the heads peers said they hold, the only
// news of entries not applied yet), entries applied and rejected (the engine's counters),
// open connections by listener and the audit trail's length.
type stateCollector struct {
	n *Node
}

var (
	descOriginSeq = prometheus.NewDesc("provex_sync_origin_applied_seq",
		"Last entry of an origin's log this node has applied.", []string{"origin"}, nil)
	descOriginKnown = prometheus.NewDesc("provex_sync_origin_known_seq",
		"Highest checkpointed entry of an origin's log this node knows exists: the highest its peers said they hold, or what it applied.", []string{"origin"}, nil)
	descOriginLag = prometheus.NewDesc("provex_sync_origin_lag_entries",
		"Entries of an origin's log some peer said it holds that this node has not applied.", []string{"origin"}, nil)
	descPeerLag = prometheus.NewDesc("provex_sync_peer_lag_entries",
		"Entries a peer said it holds that this node has not applied, summed over origins.", []string{"peer"}, nil)
	descPeerAge = prometheus.NewDesc("provex_sync_peer_last_contact_age_seconds",
		"Seconds since the last successful exchange with a peer (absent until the first).", []string{"peer"}, nil)
	descPeerReceived = prometheus.NewDesc("provex_sync_peer_entries_received_total",
		"Entries received from a peer and applied.", []string{"peer"}, nil)
	descApplied = prometheus.NewDesc("provex_sync_entries_applied_total",
		"Entries of other origins' logs applied to this node's store.", nil, nil)
	descRejected = prometheus.NewDesc("provex_sync_entries_rejected_total",
		"Entries received from peers and refused (they did not verify or apply).", nil, nil)
	descUnopened = prometheus.NewDesc("provex_sync_entries_unopened_total",
		"Entries sealed to this node that did not open with its keys.", nil, nil)
	descPullErrors = prometheus.NewDesc("provex_sync_pull_errors_total",
		"Pulls from peers that failed.", nil, nil)
	descConnections = prometheus.NewDesc("provex_open_connections",
		"Connections open now, by listener.", []string{"listener"}, nil)
	descAudit = prometheus.NewDesc("provex_audit_chain_length",
		"Records in the audit trail's hash chain.", nil, nil)
)

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descOriginSeq, descOriginKnown, descOriginLag, descPeerLag, descPeerAge, descPeerReceived,
		descApplied, descRejected, descUnopened, descPullErrors, descConnections, descAudit} {
		ch <- d
	}
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if st, err := c.n.sync.State(ctx); err == nil {
		// Lag is measured against what peers said they hold: an origin
		// this node holds nothing of yet is behind from 0.
		peerHeads := c.n.sync.PeerHeads()
		applied := map[string]uint64{}
		known := map[string]uint64{}
		for _, o := range st.GetOrigins() {
			applied[o.GetOrigin()] = o.GetSeq()
			known[o.GetOrigin()] = o.GetSeq()
		}
		for _, heads := range peerHeads {
			for origin, seq := range heads {
				known[origin] = max(known[origin], seq)
			}
		}
		manifest := c.n.manifest.Load()
		for origin, k := range known {
			// A removed member's log stays where it was; its series go
			// with it from the manifest.
			if _, member := manifest.Member(origin); !member {
				continue
			}
			ch <- prometheus.MustNewConstMetric(descOriginSeq, prometheus.GaugeValue, float64(applied[origin]), origin)
			ch <- prometheus.MustNewConstMetric(descOriginKnown, prometheus.GaugeValue, float64(k), origin)
			ch <- prometheus.MustNewConstMetric(descOriginLag, prometheus.GaugeValue, float64(k-applied[origin]), origin)
		}
		now := time.Now()
		for _, p := range st.GetPeers() {
			var behind uint64
			for origin, seq := range peerHeads[p.GetMember()] {
				behind += seq - min(seq, applied[origin])
			}
			ch <- prometheus.MustNewConstMetric(descPeerLag, prometheus.GaugeValue, float64(behind), p.GetMember())
			if p.GetLastContact() != nil {
				ch <- prometheus.MustNewConstMetric(descPeerAge, prometheus.GaugeValue, now.Sub(p.GetLastContact().AsTime()).Seconds(), p.GetMember())
			}
			ch <- prometheus.MustNewConstMetric(descPeerReceived, prometheus.CounterValue, float64(p.GetEntriesReceived()), p.GetMember())
		}
		m := st.GetMetrics()
		ch <- prometheus.MustNewConstMetric(descApplied, prometheus.CounterValue, float64(m.GetEntriesApplied()))
		ch <- prometheus.MustNewConstMetric(descRejected, prometheus.CounterValue, float64(m.GetEntriesRejected()))
		ch <- prometheus.MustNewConstMetric(descUnopened, prometheus.CounterValue, float64(m.GetEntriesUnopened()))
		ch <- prometheus.MustNewConstMetric(descPullErrors, prometheus.CounterValue, float64(m.GetPullErrors()))
	} else {
		c.n.log.Warn("metrics: the sync state cannot be read", "err", err)
	}
	for name, l := range c.n.listeners {
		open, _ := l.Open(netip.Addr{})
		ch <- prometheus.MustNewConstMetric(descConnections, prometheus.GaugeValue, float64(open), name)
	}
	ch <- prometheus.MustNewConstMetric(descAudit, prometheus.GaugeValue, float64(c.n.store.AuditLength()))
}

// metricsHandler serves the registry. On the API's HTTP listener it asks
// for an admin token (admin): call counts by method and caller-visible
// codes, peers and sync state are the operators' business, not every token
// holder's. On a listener of its own (Config.MetricsAddr), which the
// operator keeps on a private network, it is open.
func (n *Node) metricsHandler(ic *interceptors, errs *httpErrors, admin bool) http.Handler {
	h := promhttp.HandlerFor(n.metrics.registry, promhttp.HandlerOpts{ErrorLog: slogPrinter{n}, Registry: n.metrics.registry})
	if !admin {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := ic.guard.admitAdmin(r); err != nil {
			errs.write(w, r, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// admitAdmin lets an HTTP request through if it carries an admin token of
// this node, within the caller's rate.
func (g *guard) admitAdmin(r *http.Request) error {
	id, err := g.authenticateHTTP(r)
	switch {
	case err != nil:
		return err
	case id.Kind != auth.KindUser:
		return apperr.Unauthenticated("/metrics on the API's listener needs an admin token: 'Authorization: Bearer <token>'")
	case !id.Role.CanAdmin():
		return apperr.PermissionDenied("%s tokens may not read /metrics; it needs an admin token", id.Role)
	}
	return nil
}

// authenticateHTTP authenticates an HTTP request the gateway does not
// serve (health, the API description, metrics) by its Authorization
// header, as the guard does a call, within the caller's rate.
func (g *guard) authenticateHTTP(r *http.Request) (auth.Identity, error) {
	md := metadata.MD{}
	for _, v := range r.Header.Values("Authorization") {
		md.Append(auth.AuthorizationKey, v)
	}
	// The gateway's peer names the client, for its rate limit and its
	// connection (vouchForConnection), as for a gateway call.
	ctx := peer.NewContext(r.Context(), gatewayPeer(r.Context()))
	_, id, err := g.authenticate(metadata.NewIncomingContext(ctx, md))
	return id, err
}

// openToAll serves h to anyone, but refuses a request whose token does not
// authenticate (UNAUTHENTICATED, 401), as the guard refuses such a call to
// gRPC health: a mistyped token shows at once.
func openToAll(g *guard, errs *httpErrors, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			if _, err := g.authenticateHTTP(r); err != nil {
				errs.write(w, r, err)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// slogPrinter logs promhttp's errors.
type slogPrinter struct{ n *Node }

func (p slogPrinter) Println(v ...any) { p.n.log.Warn("metrics", "err", v) }
