// Package server wires a provex node together: the SQLite store, the gRPC
// server with its interceptors, health and reflection, the domain services,
// and the HTTP/JSON gateway that calls the same services in process through
// the same interceptors, plus graceful shutdown.
package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	otelresource "go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/provex/provex/auth"
	"github.com/provex/provex/changelog"
	"github.com/provex/provex/federation"
	auditv1 "github.com/provex/provex/gen/go/provex/audit/v1"
	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	investmentv1 "github.com/provex/provex/gen/go/provex/investment/v1"
	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	nodev1 "github.com/provex/provex/gen/go/provex/node/v1"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/gen/openapi"
	"github.com/provex/provex/internal/netlimit"
	"github.com/provex/provex/internal/ownerfile"
	"github.com/provex/provex/internal/validation"
	"github.com/provex/provex/pki"
	"github.com/provex/provex/replication"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/server/web"
	"github.com/provex/provex/services/auditlog"
	"github.com/provex/provex/services/border"
	"github.com/provex/provex/services/collection"
	"github.com/provex/provex/services/investment"
	"github.com/provex/provex/services/national"
	"github.com/provex/provex/services/node"
	"github.com/provex/provex/services/twinning"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

// Config is what a node needs to run.
type Config struct {
	// Member is the node's member id: a province slug, or "mofa".
	Member string
	// DataDir holds the node's database (provex.db). It is made owner-only
	// (0700), as are the database's files (0600).
	DataDir string
	// Store, when set, is a PostgreSQL URL (postgres://...) of the database
	// that holds the node's store instead of provex.db in DataDir, which
	// still holds the node's key (issue 15: the ministry's national store
	// on a database server).
	Store string
	// GRPCAddr and HTTPAddr are listen addresses; port 0 picks a free one.
	GRPCAddr string
	HTTPAddr string
	// PeerAddr is where the node listens for its peers; "" is its
	// address in the manifest, which peers dial (not the machine's own in
	// a container or behind NAT).
	PeerAddr string
	// MetricsAddr, when set, serves /metrics on a listener of its own,
	// without a token, and no longer on HTTPAddr, where it needs an admin
	// token: for operators who scrape on a private network.
	MetricsAddr string
	// TraceExporter, when set, receives a span of every gRPC call and HTTP
	// request the node serves (OpenTelemetry, W3C trace context taken from
	// callers); off by default. The node flushes and shuts it down when it
	// stops.
	TraceExporter sdktrace.SpanExporter
	// ShutdownTimeout bounds how long in-flight calls may take to finish
	// after a stop signal (default 15s).
	ShutdownTimeout time.Duration
	Version         string
	Logger          *slog.Logger

	// Keys are the node's private keys: its signing key signs its
	// change-log checkpoints and audit heads, its encryption keys open what
	// others seal to it. Without them the node uses (creating it if needed)
	// node.key in DataDir.
	Keys federation.NodeKeys
	// Manifest lists the federation's members. Without one the node runs
	// alone: a manifest of itself only, no peers. A signed manifest the node
	// saved earlier with a higher serial (one that came through sync) is
	// used instead (federation.Newest); an unsigned one (tests, benches) is
	// used as given and cannot be replaced while the node runs.
	Manifest *federation.Manifest
	// ManifestFile, when set, is watched: a newer signed manifest written
	// there takes effect without a restart, and reaches the peers.
	ManifestFile string
	// KeyFile, when set, is read again when a new manifest names a signing
	// key of this node's that Keys does not hold (rotated with provex
	// keygen --rotate while the node ran).
	KeyFile string
	// Peers are the members this node pulls from and announces to.
	Peers []string
	// SyncInterval is the period of the background exchange with each peer
	// (default 5s).
	SyncInterval time.Duration
	// DiskReserve is the free space, in bytes, a node whose store is a
	// SQLite file keeps for its own writes: below it, it pulls nothing from
	// its peers (0: DefaultDiskReserve, or a tenth of the file system if
	// that is less; negative: none).
	DiskReserve int64
	// LogCheckInterval and LogScrubInterval are the periods of the
	// incremental and the full check of the stored logs (defaults 30s, 1h).
	LogCheckInterval, LogScrubInterval time.Duration
	// SyncDial connects to the peer member at addr (default: mutual TLS
	// with Cert, checking that the peer's certificate names member).
	SyncDial func(member, addr string) (*grpc.ClientConn, error)

	// Cert is the node's TLS certificate, issued by the federation CA (the
	// manifest's ca) for Member (provex ca issue). It serves the API and the
	// peer endpoint and dials peers. Required, unless PlaintextAPI for a node
	// without peers.
	Cert *tls.Certificate
	// PlaintextAPI serves the API for people and programs (gRPC and HTTP)
	// without TLS: for the demo and tests on one machine only (dev mode).
	// Node-to-node sync uses mutual TLS regardless.
	PlaintextAPI bool
	// Limits bound what one caller can take (see Limits for defaults).
	Limits Limits
	// AuditAllReads records every read in the audit trail, public records
	// included. Without it, reads that return national or restricted
	// records are recorded, and summaries.
	AuditAllReads bool
	// Unprotected turns off TLS, tokens, authorization and the audit trail,
	// and believes the member a sync caller claims: only to measure what
	// security costs (bench). Never for a node anyone else can reach.
	Unprotected bool
	// Wall, when set, is the wall clock under the node's change-log clock,
	// so a test can run a node whose changes are days old (a stale
	// province); time.Now when nil.
	Wall func() time.Time
}

// MaxMessageBytes is the default largest request or response message.
const MaxMessageBytes = 4 << 20

// answerHeadroom is what an answer holds beside its records: a List
// page's token and field tags.
const answerHeadroom = 16 << 10

// Node is a running province (or ministry) node.
type Node struct {
	cfg          Config
	log          *slog.Logger
	store        *sqlstore.DB
	sync         *replication.Engine
	manifest     *federation.Live
	grpc         *grpc.Server
	health       *health.Server
	http         *http.Server
	grpcListener net.Listener
	httpListener net.Listener
	// peer is the node-to-node endpoint (sync only, mutual TLS), at the
	// member's address in the manifest; nil for a node without peers.
	peer         *grpc.Server
	peerListener net.Listener
	peerAddr     string
	httpTLS      *tls.Config
	// metrics is the node's registry and the collectors it feeds; the
	// metrics listener and server are set with Config.MetricsAddr only.
	metrics         *nodeMetrics
	metricsHTTP     *http.Server
	metricsListener net.Listener
	// listeners are the bound listeners by name, whose open connections
	// the metrics show; set by Listen, read at scrapes after it.
	listeners map[string]*netlimit.Listener
	// tracer is the trace provider of Config.TraceExporter, or nil.
	tracer *sdktrace.TracerProvider
	// routes and httpErrs are the HTTP API's routes and errors, under the
	// HTTP chain (tests).
	routes   *http.ServeMux
	httpErrs *httpErrors
	// httpUnsent bounds the bytes of answers the HTTP API is writing
	// (boundUnsent).
	httpUnsent *netlimit.Unsent
	// owed delivers what the store owes; nil for a node alone.
	owed *owedDeliveries
	// shuttingDown is done once shutdown begins: it ends the streams that
	// end only when their callers end them (shutdown.go).
	shuttingDown   context.Context
	endOpenStreams context.CancelFunc
	// grpcCalls count the calls of the gRPC servers (API and peer) until
	// their handlers return (capCalls).
	grpcCalls []*netlimit.Caps
}

// DatabaseFile is the name of a node's database inside its data directory.
const DatabaseFile = "provex.db"

// storeName names the node's store in messages, never repeating a URL
// (it may hold a password).
func (cfg *Config) storeName() string {
	if cfg.Store != "" {
		return "the PostgreSQL store"
	}
	return cfg.DataDir
}

// storeLocation is where the node's store is: Store, else its database
// file in the data directory.
func (cfg *Config) storeLocation() string {
	if cfg.Store != "" {
		return cfg.Store
	}
	return filepath.Join(cfg.DataDir, DatabaseFile)
}

// New opens the node's store and builds its servers; Serve starts them.
func New(ctx context.Context, cfg Config) (*Node, error) {
	if !resource.IsMember(cfg.Member) {
		return nil, fmt.Errorf("member %q is neither a province slug nor %q", cfg.Member, resource.Ministry)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	grpcLog.logTo(cfg.Logger)
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 15 * time.Second
	}
	if cfg.Store != "" {
		if err := sqlstore.CheckStoreURL(cfg.Store); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	if err := ownerfile.MkdirPrivate(cfg.DataDir, cfg.Logger); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	validator, err := validation.New(resource.FieldRules())
	if err != nil {
		return nil, err
	}
	if cfg.Keys.Signing == nil {
		if cfg.Keys, err = nodeKeys(cfg.DataDir, cfg.Store == ""); err != nil {
			return nil, err
		}
		if cfg.KeyFile == "" {
			cfg.KeyFile = filepath.Join(cfg.DataDir, KeyFile)
		}
	}
	sealer, err := changelog.NewSealer(cfg.Keys.Encryption...)
	if err != nil {
		return nil, err
	}
	solo := cfg.Manifest == nil
	// stored is the manifest the node saved, if it has one: a newer file
	// given at start is checked against its logs once the store is open.
	var stored *federation.Manifest
	if solo {
		if cfg.Manifest, err = soloManifest(cfg.Member, cfg.GRPCAddr, cfg.Keys); err != nil {
			return nil, err
		}
		if len(cfg.Peers) > 0 {
			return nil, errors.New("peers need a federation manifest that lists them")
		}
	} else if stored, err = takeSavedManifest(ctx, &cfg); err != nil {
		return nil, err
	}
	signingKey, err := ownKeys(cfg.Manifest, cfg.Member, &cfg.Keys, cfg.KeyFile)
	if err != nil {
		return nil, err
	}
	self, _ := cfg.Manifest.Member(cfg.Member)
	hasPeers := len(cfg.Manifest.Members) > 1
	// The sync address the peer listener serves until a restart: where
	// the manifest said at start, or what --peer-addr maps that to.
	listening := ""
	if hasPeers {
		listening = self.Address
	}
	cfg.Limits = cfg.Limits.withDefaults()
	if !cfg.Unprotected {
		if cfg.Cert == nil && (hasPeers || !cfg.PlaintextAPI) {
			return nil, errors.New(needCertificate("the node", cfg) + "; only --dev runs a lone node without one")
		}
		if hasPeers {
			if _, err = cfg.Manifest.CAPool(); err != nil {
				return nil, fmt.Errorf("mutual TLS between nodes: %w", err)
			}
		}
		if cfg.Cert != nil {
			if err := checkNodeCert(cfg.Cert, cfg.Member); err != nil {
				return nil, err
			}
		}
		if cfg.Cert != nil && hasPeers {
			if err := checkNodeCertCA(cfg.Cert, cfg.Manifest, cfg.Member, cfg.Logger); err != nil {
				return nil, err
			}
		}
	}
	var (
		engine *replication.Engine
		store  *sqlstore.DB
		live   *federation.Live
	)
	save := func(m *federation.Manifest) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return keepManifest(ctx, &cfg, store, live.Load(), m)
	}
	if solo || cfg.Manifest.Signature == nil {
		save = func(*federation.Manifest) error {
			return errors.New("this node's manifest is unsigned: it takes no other while it runs")
		}
	}
	live = federation.NewLive(cfg.Manifest, save)
	roots := caRoots(live)
	metrics := newNodeMetrics()
	// A record, and a List page with room for its token, fit an answer.
	answer := max(cfg.Limits.MaxMessageBytes-answerHeadroom, cfg.Limits.MaxMessageBytes/2)
	store, err = sqlstore.Open(ctx, cfg.storeLocation(), cfg.Member, sqlstore.Options{
		MaxRecordBytes: min(sqlstore.DefaultMaxRecordBytes, answer),
		MaxPageBytes:   answer,
		Observe:        metrics.observeCommit,
		Logger:         cfg.Logger,
		Key:            signingKey,
		PastKeys:       pastKeys(live.Load(), cfg.Member),
		Sealer:         sealer,
		Directory:      live,
		Committed:      func() { engine.Changed() },
		NoAudit:        cfg.Unprotected,
		Wall:           cfg.Wall,
		Release:        cfg.Version,
	})
	if err != nil {
		return nil, err
	}
	// A data directory a node cannot write in (a store on PostgreSQL
	// needs only its key there) serves on: the record is for the tools.
	if err := recordStore(&cfg); err != nil {
		cfg.Logger.Warn("the data directory does not say where the node's store is: provex backup --data may copy a stale provex.db", "file", StoreFile, "err", err)
	}
	if !solo {
		if err := checkTakenAtStart(ctx, store, stored, cfg.Manifest); err != nil {
			store.Close()
			return nil, err
		}
		if err := store.SaveManifest(ctx, cfg.Manifest); err != nil {
			store.Close()
			return nil, err
		}
		if err := signHeadsWithNewKey(ctx, store, cfg.Manifest, cfg.Member, signingKey); err != nil {
			store.Close()
			return nil, err
		}
	}
	dial := cfg.SyncDial
	if dial == nil && !cfg.Unprotected && hasPeers {
		interval := cfg.SyncInterval
		if interval <= 0 {
			interval = 5 * time.Second
		}
		dial = peerDial(*cfg.Cert, roots, interval)
	}
	// The encryption key the store seals with and opens first: a manifest
	// may rotate it alone (provex keygen --rotate-encryption), and the
	// store must then open with the new one at once, or it passes the
	// records sealed to it over as not addressed to this node.
	var keysMu sync.Mutex
	sealingWith := cfg.Keys.EncryptionPublic()
	live.OnChange(func(m *federation.Manifest) {
		keysMu.Lock()
		defer keysMu.Unlock()
		key, err := ownKeys(m, cfg.Member, &cfg.Keys, cfg.KeyFile)
		if err == nil && (!store.SigningKey().Equal(key.Public()) || !cfg.Keys.EncryptionPublic().Equal(sealingWith)) {
			var sealer *changelog.Sealer
			if sealer, err = changelog.NewSealer(cfg.Keys.Encryption...); err != nil {
				cfg.Logger.Error("the node's encryption keys", "err", err)
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err = store.UseKeys(ctx, key, sealer)
			if err == nil {
				sealingWith = cfg.Keys.EncryptionPublic()
				cfg.Logger.Info("using the keys the new manifest names", "serial", m.Serial, "public_key", federation.EncodePublicKey(key.Public().(ed25519.PublicKey)))
			}
		}
		if err != nil {
			cfg.Logger.Error("the new manifest's key for this node cannot be used", "serial", m.Serial, "err", err)
		}
	})
	engine, err = replication.New(replication.Config{
		Member: cfg.Member, Store: store, Manifest: live, Peers: cfg.Peers, Address: listening,
		Interval: cfg.SyncInterval, CheckInterval: cfg.LogCheckInterval, ScrubInterval: cfg.LogScrubInterval,
		Dial: dial, Logger: cfg.Logger, TrustClaimedMember: cfg.Unprotected, NoRoom: cfg.noRoom(),
	})
	if err != nil {
		store.Close()
		return nil, err
	}
	var owed *owedDeliveries
	if !solo {
		// A manifest that gives a member a key again (or a first one) lets
		// the node seal to it the withdrawal notices and the records it
		// owes it; what a start finds owed is delivered too (owedDeliveries).
		retry := cfg.SyncInterval
		if retry <= 0 {
			retry = 5 * time.Second
		}
		owed = newOwedDeliveries(store, cfg.Logger, retry)
		live.OnChange(func(*federation.Manifest) { owed.ask() })
	}
	n := &Node{cfg: cfg, log: cfg.Logger, store: store, sync: engine, owed: owed, manifest: live, metrics: metrics, listeners: map[string]*netlimit.Listener{}}
	n.shuttingDown, n.endOpenStreams = context.WithCancel(context.Background())
	metrics.registry.MustRegister(stateCollector{n})
	if cfg.TraceExporter != nil {
		n.tracer = sdktrace.NewTracerProvider(sdktrace.WithBatcher(cfg.TraceExporter),
			sdktrace.WithResource(otelresource.NewSchemaless(attribute.String("service.name", "provex"), attribute.String("provex.member", cfg.Member))))
		otel.SetErrorHandler(traceErrors(cfg.Logger))
	}

	policy := auth.DefaultPolicy()
	policy.Set(nodev1.NodeService_GetCaller_FullMethodName, auth.RequireOpen)
	// GetCaller does not offer the writes this node refuses to everyone:
	// a province's of the records only the ministry owns, the ministry's
	// of responses to its own requests (the provinces' records).
	for _, k := range resource.Kinds() {
		if !k.WrittenBy(cfg.Member) {
			for _, verb := range []string{"Create", "Update", "Delete", "Undelete"} {
				m := k.Method(verb)
				policy.Unserved("/" + string(m.Parent().FullName()) + "/" + string(m.Name()))
			}
		}
	}
	reads := storage.ReadsConfidential
	if cfg.AuditAllReads {
		reads = storage.ReadsAll
	}
	ic := &interceptors{log: cfg.Logger, validator: validator, reads: reads, guard: &guard{
		member: cfg.Member, manifest: live, roots: roots, tokens: store, policy: policy, limits: cfg.Limits,
		rates:       newRateLimiter(cfg.Limits.RatePerSecond, cfg.Limits.Burst, 0),
		byAddress:   newRateLimiter(cfg.Limits.RatePerSecond, cfg.Limits.Burst, maxRateBuckets),
		pulls:       &streamLimiter{what: "pulls", max: cfg.Limits.PullsPerPeer, open: map[string]int{}},
		peerWatches: &streamLimiter{what: "health watches", max: cfg.Limits.PullsPerPeer, open: map[string]int{}},
		unprotected: cfg.Unprotected,
		refusals:    metrics.refusals,
	}, codec: newRequestCodec(), metrics: metrics.grpc, queries: newQueryShare(cfg.Limits.QueriesPerIdentity), storeFailure: store.Failure}
	// One concern each, in an order explained at interceptors.chain: the
	// call's place under the calls caps, request id, log, metrics, error
	// mapping, panic recovery, answers left unread, the request's bytes,
	// guard (authentication, rate limit, authorization), the bounds of
	// the methods open to all, decoding and validation, each
	// identity's share of queries. The gateway runs the same chain
	// (ic.unary).
	unary, stream := ic.chain()
	n.health = health.NewServer()
	calls := &deadlines{call: cfg.Limits.CallTimeout, stream: cfg.Limits.StreamTimeout, streaming: map[string]bool{}}
	serverOptions := func(name string, creds credentials.TransportCredentials) []grpc.ServerOption {
		opts := []grpc.ServerOption{
			// Each call gets its deadline (and a reflection session its
			// end at shutdown), then is counted until it ends.
			grpc.InTapHandle(tapChain(calls.tap, untilShutdown(n.shuttingDown), touchConnection, capCalls(n.grpcCallCaps(name)))),
			grpc.ChainUnaryInterceptor(unary...),
			grpc.ChainStreamInterceptor(stream...),
			grpc.UnknownServiceHandler(unknownMethod),
			grpc.ForceServerCodecV2(ic.codec),
			//lint:ignore SA1019 the one way to refuse gzip for these servers alone (uncompressedOnly says why)
			grpc.RPCDecompressor(uncompressedOnly{}),
			grpc.MaxRecvMsgSize(cfg.Limits.MaxMessageBytes),
			grpc.MaxSendMsgSize(cfg.Limits.MaxMessageBytes),
			grpc.MaxConcurrentStreams(cfg.Limits.StreamsPerConnection),
			// grpc-go's default is 16 MiB of decoded headers a call, held
			// until the call ends: HPACK lets a client repeat an indexed
			// header with a byte or two, so 2 MB sent held 4 GB.
			grpc.MaxHeaderListSize(maxHeaderListBytes),
			// Calls run on goroutines kept between calls, whose stacks
			// have grown already: a new goroutine per call grew its stack
			// through validation and the interceptors each time (about
			// 30 µs of a call; BENCHMARKS.md, "Calls on kept goroutines").
			// When every worker is busy (a long sync stream holds one),
			// grpc-go starts a goroutine for the call, as without them.
			grpc.NumStreamWorkers(uint32(goruntime.GOMAXPROCS(0))),
		}
		opts = append(opts, connectionOptions(cfg.Limits)...)
		if n.tracer != nil {
			opts = append(opts, grpc.StatsHandler(otelgrpc.NewServerHandler(
				otelgrpc.WithTracerProvider(n.tracer), otelgrpc.WithPropagators(propagation.TraceContext{}))))
		}
		if creds == nil {
			creds = insecure.NewCredentials()
		}
		return append(opts, grpc.Creds(countFrames{creds}))
	}
	shared := &collection.Node{Store: store, Member: cfg.Member, Validator: validator}
	// The gRPC API and the HTTP gateway serve the same service values.
	services := func(g grpc.ServiceRegistrar) {
		twinningv1.RegisterTwinningServiceServer(g, twinning.New(shared))
		borderv1.RegisterBorderServiceServer(g, border.New(shared))
		investmentv1.RegisterInvestmentServiceServer(g, investment.New(shared))
		nodev1.RegisterNodeServiceServer(g, node.New(cfg.Member, cfg.Version, time.Now(), policy))
		syncv1.RegisterSyncServiceServer(g, engine.Service())
		nationalv1.RegisterNationalServiceServer(g, national.New(shared, engine.Freshness, answer))
		auditv1.RegisterAuditServiceServer(g, auditlog.New(store, answer))
	}
	var apiCreds credentials.TransportCredentials
	if !cfg.Unprotected && !cfg.PlaintextAPI {
		n.httpTLS = pki.ServerConfig(*cfg.Cert)
		apiCreds = credentials.NewTLS(n.httpTLS)
	}
	n.grpc = grpc.NewServer(serverOptions("gRPC", apiCreds)...)
	services(n.grpc)
	healthpb.RegisterHealthServer(n.grpc, healthService{n.health, n.shuttingDown})
	reflection.Register(n.grpc)
	calls.learn(n.grpc)
	channel := newGatewayChannel(ic.unary(), calls, cfg.Limits.MaxMessageBytes)
	if n.tracer != nil {
		channel.tracer = n.tracer.Tracer("github.com/provex/provex/server")
	}
	services(channel)
	if hasPeers {
		var peerCreds credentials.TransportCredentials
		if !cfg.Unprotected {
			peerCreds = credentials.NewTLS(pki.PeerServerConfigLive(*cfg.Cert, roots))
		}
		n.peer = grpc.NewServer(append(serverOptions("peer", peerCreds), grpc.MaxSendMsgSize(peerMaxMessageBytes))...)
		syncv1.RegisterSyncServiceServer(n.peer, engine.Service())
		healthpb.RegisterHealthServer(n.peer, healthService{n.health, n.shuttingDown})
		calls.learn(n.peer)
		n.peerAddr = self.Address
		if cfg.PeerAddr != "" {
			n.peerAddr = cfg.PeerAddr
		}
		live.OnChange(func(m *federation.Manifest) {
			if mem, ok := m.Member(cfg.Member); ok && mem.Address != listening {
				cfg.Logger.Warn("the federation manifest moves this node to another sync address: restart it to listen there; until then, nodes on this manifest cannot reach it",
					"serial", m.Serial, "address", mem.Address, "listening", listening)
			}
		})
	}

	if err := n.buildGateway(ctx, channel, ic); err != nil {
		store.Close()
		return nil, err
	}
	return n, nil
}

// buildGateway serves HTTP/JSON by calling the services through conn.
func (n *Node) buildGateway(ctx context.Context, conn *gatewayChannel, ic *interceptors) error {
	errs := &httpErrors{log: n.log, readTimeout: n.cfg.Limits.ReadTimeout, refuseBody: conn.refuseBody, marshaler: bodyJSON{&runtime.JSONPb{
		MarshalOptions:   protojson.MarshalOptions{UseProtoNames: true},
		UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
	}}}
	errs.admit = conn.admitBeforeBody(ic.guard, func(r *http.Request, method string) (context.Context, error) {
		return runtime.AnnotateContext(r.Context(), errs.mux, r, method)
	}, errs.write)
	mux := errs.newMux(errs.routing)
	errs.mux = mux
	root := http.NewServeMux()
	n.routes, n.httpErrs = root, errs
	// Everything else goes to the gateway, whose 404 is JSON like its other
	// errors.
	root.Handle("/", mux)
	if err := routeGateway(ctx, root, mux, errs.newMux, gatewayServices(conn), conn); err != nil {
		return err
	}
	root.Handle("/v1/national/{collection}/summary.csv", errs.only(http.MethodGet, summaryCSV(nationalv1.NewNationalServiceClient(conn), errs,
		csvLimits{pageSize: national.MaxSummaryPage, writeTimeout: n.cfg.Limits.WriteTimeout, refused: ic.guard.refused})))
	// The dashboard at "/" exactly and its two assets; every other path
	// stays the gateway's.
	for _, p := range web.Patterns() {
		root.Handle(p, errs.only(http.MethodGet, web.Handler()))
	}
	root.Handle("/openapi.json", errs.only(http.MethodGet, openToAll(ic.guard, errs, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openapi.JSON)
	}))))
	if n.cfg.MetricsAddr == "" {
		root.Handle("/metrics", errs.only(http.MethodGet, n.metricsHandler(ic, errs, true)))
	} else {
		own := http.NewServeMux()
		own.Handle("/metrics", errs.only(http.MethodGet, n.metricsHandler(ic, errs, false)))
		n.metricsHTTP = n.httpServer(errs.httpChain(own, n.cfg.Limits.MaxMessageBytes, n.callCaps("metrics"), n.unsentHTTP()))
	}
	root.Handle("/healthz", errs.only(http.MethodGet, openToAll(ic.guard, errs, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := n.health.Check(r.Context(), &healthpb.HealthCheckRequest{})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			http.Error(w, "not serving", http.StatusServiceUnavailable)
			return
		}
		problems := n.Problems(r.Context())
		if len(problems) == 0 {
			w.Write([]byte("ok\n"))
			return
		}
		// Still serving: the node answers its API; what is wrong is being
		// repaired, and operators should know.
		fmt.Fprintln(w, "degraded")
		for _, p := range problems {
			fmt.Fprintln(w, "-", p)
		}
	}))))
	n.httpUnsent = n.unsentHTTP()
	h := errs.httpChain(root, n.cfg.Limits.MaxMessageBytes, n.callCaps("HTTP"), n.httpUnsent)
	if n.tracer != nil {
		// Outermost, so a request refused by the chain (413, 404) has its
		// span too; the gateway's call is its child (gatewayChannel).
		h = otelhttp.NewHandler(h, "provex.http", otelhttp.WithTracerProvider(n.tracer), otelhttp.WithPropagators(propagation.TraceContext{}))
	}
	n.http = n.httpServer(h)
	n.http.TLSConfig = n.httpTLS
	return nil
}

// httpServer is an HTTP server of h under the node's limits: every listener
// of the node (the API's, the metrics' own) reads and writes within them.
func (n *Node) httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ConnContext:       withGatewayPeer,
		ReadHeaderTimeout: n.cfg.Limits.HandshakeTimeout,
		ReadTimeout:       n.cfg.Limits.ReadTimeout,
		WriteTimeout:      n.cfg.Limits.WriteTimeout,
		IdleTimeout:       n.cfg.Limits.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(n.log.Handler(), slog.LevelWarn),
	}
}

// Listen binds the gRPC and HTTP addresses, so callers know the ports (for
// ":0") before Serve. Each listener is capped at Limits.Connections and
// Limits.ConnectionsPerAddress.
func (n *Node) Listen() error {
	var err error
	if n.grpcListener, err = n.listen("gRPC", n.cfg.GRPCAddr); err != nil {
		return fmt.Errorf("listen gRPC on %s: %w", n.cfg.GRPCAddr, err)
	}
	if n.httpListener, err = n.listen("HTTP", n.cfg.HTTPAddr); err != nil {
		n.grpcListener.Close()
		return fmt.Errorf("listen HTTP on %s: %w", n.cfg.HTTPAddr, err)
	}
	listeners := 2
	if n.metricsHTTP != nil {
		if n.metricsListener, err = n.listen("metrics", n.cfg.MetricsAddr); err != nil {
			n.grpcListener.Close()
			n.httpListener.Close()
			return fmt.Errorf("listen for metrics on %s: %w", n.cfg.MetricsAddr, err)
		}
		listeners++
	}
	if n.peer != nil {
		if n.peerListener, err = n.listen("peer", n.peerAddr); err != nil {
			n.grpcListener.Close()
			n.httpListener.Close()
			if n.metricsListener != nil {
				n.metricsListener.Close()
			}
			if n.cfg.PeerAddr != "" {
				return fmt.Errorf("listen for peers on %s (--peer-addr): %w", n.peerAddr, err)
			}
			return fmt.Errorf("listen for peers on %s (the member's address in the manifest; where that is not this machine's, a container or NAT, give --peer-addr): %w", n.peerAddr, err)
		}
		listeners++
	}
	n.checkFileLimit(listeners)
	return nil
}

// MetricsAddr is the bound address of the metrics listener after Listen
// ("" without Config.MetricsAddr).
func (n *Node) MetricsAddr() string {
	if n.metricsListener == nil {
		return ""
	}
	return n.metricsListener.Addr().String()
}

// GRPCAddr and HTTPAddr are the bound addresses after Listen.
func (n *Node) GRPCAddr() string { return n.grpcListener.Addr().String() }
func (n *Node) HTTPAddr() string { return n.httpListener.Addr().String() }

// Serve runs the node until ctx is done, then shuts down gracefully: health
// turns NOT_SERVING, new calls are refused, in-flight calls finish (within
// ShutdownTimeout), health watches and reflection sessions are ended, and
// the store is closed after its last commit.
func (n *Node) Serve(ctx context.Context) error {
	if n.grpcListener == nil {
		if err := n.Listen(); err != nil {
			return err
		}
	}
	n.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	errs := make(chan error, 5)
	go func() { errs <- n.grpc.Serve(n.grpcListener) }()
	if n.peer != nil {
		go func() { errs <- n.peer.Serve(n.peerListener) }()
	}
	if n.metricsHTTP != nil {
		go func() {
			if err := n.metricsHTTP.Serve(n.metricsListener); !errors.Is(err, http.ErrServerClosed) {
				errs <- err
			}
		}()
	}
	go func() {
		var err error
		if n.httpTLS != nil {
			err = n.http.ServeTLS(n.httpListener, "", "")
		} else {
			err = n.http.Serve(n.httpListener)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			errs <- err
		}
	}()
	switch {
	case n.cfg.Unprotected:
		n.log.Warn("UNPROTECTED: no TLS, no tokens, no audit trail; for measurements only")
	case n.cfg.PlaintextAPI:
		n.log.Warn("dev mode: the API is served without TLS; use it on this machine only")
	}
	n.log.Info("node serving", "member", n.cfg.Member, "grpc", n.GRPCAddr(), "http", n.HTTPAddr(), "peer", n.peerAddr, "metrics", n.MetricsAddr(), "tls", n.httpTLS != nil, "tracing", n.tracer != nil, "data", n.cfg.DataDir, "store", n.store.Dialect(), "peers", n.cfg.Peers)
	syncCtx, stopSync := context.WithCancel(ctx)
	syncDone := make(chan struct{})
	go func() { n.sync.Run(syncCtx); close(syncDone) }()
	owedDone := make(chan struct{})
	go func() {
		defer close(owedDone)
		if n.owed != nil {
			n.owed.run(syncCtx, n.sync.Exchanged())
		}
	}()
	if n.cfg.ManifestFile != "" {
		go n.watchManifest(syncCtx, n.cfg.ManifestFile)
	}
	go n.watchExpiry(syncCtx, time.Minute)
	defer func() { stopSync(); <-syncDone; <-owedDone }()

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errs:
		n.log.Error("server stopped", "err", serveErr)
	}
	// Sync stops before the store closes: it may be applying a batch, or
	// delivering what the node owes.
	stopSync()
	<-syncDone
	<-owedDone
	n.shutdown()
	return serveErr
}

func (n *Node) shutdown() {
	n.log.Info("shutting down", "timeout", n.cfg.ShutdownTimeout)
	n.health.Shutdown()
	// Health watches and reflection sessions end only when their callers
	// end them: ended now (a watch once it has sent NOT_SERVING), they do
	// not hold the stop until the timeout.
	n.endOpenStreams()
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ShutdownTimeout)
	defer cancel()
	// HTTP first: its in-flight calls (which run the services in the HTTP
	// handler's goroutine) finish before the store closes.
	if err := n.http.Shutdown(ctx); err != nil {
		n.log.Warn("HTTP shutdown", "err", err)
	}
	if n.metricsHTTP != nil {
		if err := n.metricsHTTP.Shutdown(ctx); err != nil {
			n.log.Warn("metrics shutdown", "err", err)
		}
	}
	servers := []*grpc.Server{n.grpc}
	if n.peer != nil {
		servers = append(servers, n.peer)
	}
	stopped := make(chan struct{})
	go func() {
		for _, g := range servers {
			g.GracefulStop()
		}
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-n.handlersReturned(ctx):
		// What the graceful stop waits for now is answers queued for
		// callers that read no more: grpc-go holds a stream until its
		// trailers, queued behind them, are written. A peer that stopped
		// reading a Pull held the stop for the whole timeout, its handler
		// ended at once (untilShutdown).
		select {
		case <-stopped:
		case <-time.After(unreadAnswersGrace):
			n.log.Info("answers their callers did not read dropped at shutdown")
			for _, g := range servers {
				g.Stop()
			}
		}
	case <-ctx.Done():
		n.log.Warn("in-flight calls did not finish in time; stopping")
		for _, g := range servers {
			g.Stop()
		}
	}
	if err := n.store.Close(); err != nil {
		n.log.Error("close store", "err", err)
	}
	if n.tracer != nil {
		if err := n.tracer.Shutdown(ctx); err != nil {
			n.log.Warn("trace exporter shutdown", "err", err)
		}
	}
	n.log.Info("stopped")
}

// KeyFile is the node key's file inside the data directory, used when no key
// is configured.
const KeyFile = "node.key"

// nodeKeys reads the node's keys from its data directory, creating them the
// first time: when the directory holds no database yet (local says the
// store is its provex.db). A database there without its key (a backup
// restored without node.key) was signed with a key a new one would not
// match, and the node would refuse it with a misleading error.
func nodeKeys(dataDir string, local bool) (federation.NodeKeys, error) {
	path := filepath.Join(dataDir, KeyFile)
	keys, err := federation.ReadKeyFile(path)
	if err == nil {
		return keys, nil
	}
	if _, statErr := os.Stat(path); statErr == nil {
		return federation.NodeKeys{}, err
	}
	if st, statErr := os.Stat(filepath.Join(dataDir, DatabaseFile)); local && statErr == nil && st.Size() > 0 {
		// One that holds nothing signed yet (tokens made before the node
		// first ran, as the README shows) takes a new key.
		signed, err := sqlstore.HoldsSigned(context.Background(), filepath.Join(dataDir, DatabaseFile))
		if err != nil {
			return federation.NodeKeys{}, err
		}
		if !signed {
			return newNodeKeys(path)
		}
		return federation.NodeKeys{}, fmt.Errorf("%s holds a database (%s) but no %s: its change log and audit trail are signed with the node's key, which a new one would not match. "+
			"Copy the node's key file in as %s, or give --key", dataDir, DatabaseFile, KeyFile, path)
	}
	return newNodeKeys(path)
}

// newNodeKeys makes the node's keys and writes them to path.
func newNodeKeys(path string) (federation.NodeKeys, error) {
	keys, err := federation.GenerateKeys()
	if err != nil {
		return federation.NodeKeys{}, err
	}
	if err := federation.WriteKeyFile(path, keys); err != nil {
		return federation.NodeKeys{}, err
	}
	return keys, nil
}

// peerDial connects to peers over mutual TLS with the node's certificate,
// checking that the peer's names the member it meant to reach.
func peerDial(cert tls.Certificate, roots func() *x509.CertPool, interval time.Duration) func(member, addr string) (*grpc.ClientConn, error) {
	return func(member, addr string) (*grpc.ClientConn, error) {
		creds := credentials.NewTLS(pki.PeerClientConfigLive(cert, roots, member))
		return grpc.NewClient(addr, append(replication.DialOptions(interval), grpc.WithTransportCredentials(creds))...)
	}
}

// soloManifest is the federation of a node running alone: itself only.
func soloManifest(member, addr string, keys federation.NodeKeys) (*federation.Manifest, error) {
	role := federation.RoleProvince
	if member == resource.Ministry {
		role = federation.RoleMinistry
	}
	now := time.Now()
	return &federation.Manifest{
		Serial: 1, Issued: now, Expires: now.AddDate(100, 0, 0),
		Members: []federation.Member{{ID: member, Role: role, Address: addr, PublicKey: keys.SigningPublic(), EncryptionKey: keys.EncryptionPublic()}},
	}, nil
}

// PeerAddr is the bound node-to-node address after Listen ("" without
// peers).
func (n *Node) PeerAddr() string {
	if n.peerListener == nil {
		return ""
	}
	return n.peerListener.Addr().String()
}

// checkNodeCert refuses a certificate made for another member.
func checkNodeCert(cert *tls.Certificate, member string) error {
	leaf, err := leafOf(cert)
	if err != nil {
		return fmt.Errorf("node certificate: %w", err)
	}
	named, err := pki.MemberOf(leaf)
	if err != nil {
		return fmt.Errorf("node certificate: %w", err)
	}
	if named != member {
		// Most often the data directory is another member's node's, whose
		// certificate it holds.
		return fmt.Errorf("the node certificate is %s's, not %s's: is the data directory (--data, or --tls-dir) %s's node's? Give %s's, or issue %s's certificate (provex ca issue --member %s)", named, member, named, member, member, member)
	}
	return nil
}

// checkNodeCertCA refuses a node certificate that names a CA of manifest m
// as its issuer (by its key: a CA made again may keep the name) but does
// not verify with it: damaged or forged, it is refused by every peer at
// every handshake, while the node, health ok, logged only the connections
// reset (an outside review). A certificate of a CA that m does not hold is
// warned of, not refused: replacing the CA (THREATS N17) may give a node
// the new CA's certificate before the node has the manifest naming that
// CA, which it takes from its peers once they accept the certificate.
// Its expiry is certExpiry's to tell: it is checked within its validity.
func checkNodeCertCA(cert *tls.Certificate, m *federation.Manifest, member string, log *slog.Logger) error {
	cas, err := m.CACerts()
	if err != nil {
		return fmt.Errorf("mutual TLS between nodes: %w", err)
	}
	leaf, err := leafOf(cert)
	if err != nil {
		return fmt.Errorf("node certificate: %w", err)
	}
	roots := x509.NewCertPool()
	for _, ca := range cas {
		roots.AddCert(ca)
	}
	at := time.Now()
	if at.Before(leaf.NotBefore) {
		at = leaf.NotBefore
	} else if at.After(leaf.NotAfter) {
		at = leaf.NotAfter
	}
	_, err = leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err == nil {
		return nil
	}
	for _, ca := range cas {
		if len(leaf.AuthorityKeyId) > 0 && bytes.Equal(leaf.AuthorityKeyId, ca.SubjectKeyId) {
			return fmt.Errorf("the node certificate names the federation CA (%s) as its issuer but does not verify with it: it is damaged, or was not issued by that CA, and every peer refuses it (%v). Issue %s's certificate again where the CA is kept: provex ca issue --member %s",
				ca.Subject.CommonName, err, member, member)
		}
	}
	log.Warn("the node certificate is of a CA the federation manifest does not hold: peers whose manifest holds that CA accept it, and the node takes their manifest from them, as when the CA is replaced; peers on this manifest refuse it. If that CA is not the federation's, issue the node's certificate again where the CA is kept (provex ca issue --member "+member+")",
		"issuer", leaf.Issuer.String(), "manifest_serial", m.Serial)
	return nil
}

// traceErrorsEvery is how often a failing trace export is logged: the
// exporter tries every few seconds while its collector is away.
const traceErrorsEvery = time.Minute

// traceErrors logs OpenTelemetry's errors (a trace export that failed) as
// the node's log lines, once a minute at most: by default they went to
// stderr as plain text among the node's JSON lines (an outside review).
func traceErrors(log *slog.Logger) otel.ErrorHandlerFunc {
	var last atomic.Int64
	var missed atomic.Int64
	return func(err error) {
		now := time.Now().UnixNano()
		if prev := last.Load(); now-prev < int64(traceErrorsEvery) || !last.CompareAndSwap(prev, now) {
			missed.Add(1)
			return
		}
		log.Warn("traces not exported", "err", err, "more_since_last", missed.Swap(0))
	}
}

// CertWarning is how long before its TLS certificate expires a node says
// so in /healthz: `provex ca issue` makes them valid a year, all on one
// day, and every node's sync and API then failed within a day with no
// sign before (an outside review).
const CertWarning = 30 * 24 * time.Hour

// leafOf is cert's own certificate, parsed.
func leafOf(cert *tls.Certificate) (*x509.Certificate, error) {
	if cert.Leaf != nil {
		return cert.Leaf, nil
	}
	if len(cert.Certificate) == 0 {
		return nil, errors.New("no certificate")
	}
	return x509.ParseCertificate(cert.Certificate[0])
}

// certExpiry says when the node's TLS certificate expires, from
// CertWarning before, or that it has; "" otherwise (or without one).
func certExpiry(cert *tls.Certificate, now time.Time) string {
	if cert == nil {
		return ""
	}
	leaf, err := leafOf(cert)
	if err != nil {
		return ""
	}
	at := leaf.NotAfter.UTC().Format(time.RFC3339)
	switch {
	case now.After(leaf.NotAfter):
		return "the node's TLS certificate expired at " + at + ": peers and clients refuse it; issue a new one (provex ca issue) and restart the node"
	case now.Add(CertWarning).After(leaf.NotAfter):
		return "the node's TLS certificate expires at " + at + ": issue a new one (provex ca issue) and restart the node before then"
	}
	return ""
}

// IssueToken makes a bearer token of this node for role and returns its
// plaintext (shown once; only its hash is kept). `provex token create` does
// the same on a stopped or running node's database; this is for dev mode
// and tests.
func (n *Node) IssueToken(ctx context.Context, role auth.Role, label string, expires time.Time) (string, error) {
	plain, t, err := auth.NewToken(role, expires, label, time.Now())
	if err != nil {
		return "", err
	}
	return plain, n.store.CreateToken(ctx, t)
}

// Problems lists what is wrong with the node's stored logs: damaged
// ranges (not served, being repaired from peers) and entries sealed to it
// that it cannot open. /healthz shows them to anyone, so a store's error
// is said plainly (Plainly), its driver's text for the node's log only.
func (n *Node) Problems(ctx context.Context) []string {
	origins, err := n.store.Origins(ctx)
	if err != nil {
		return []string{"the change log cannot be read: " + n.store.Plainly(err)}
	}
	var out []string
	if n.store.FileDamage() != "" {
		out = append(out, "SQLite finds the database file damaged (the node's log has the error): move the data directory aside and restore it from a backup or from the peers")
	}
	if why := n.store.Fenced(); why != "" {
		out = append(out, "writes are stopped: "+why)
	}
	if why := n.store.WritesHeld(); why != "" {
		out = append(out, "writes are held: "+why)
	}
	if name, reads := n.store.RowDamage(); name != "" {
		out = append(out, fmt.Sprintf("records' rows disagree with the change-log entries they name (changed outside the node; %d reads refused, the first of %s): run provex verify, and restore the node from its peers (provex restore) or from a backup", reads, name))
	}
	if at := n.store.DiskFull(); !at.IsZero() {
		out = append(out, "the database's disk is full: writes are refused since "+at.UTC().Format(time.RFC3339)+" until there is room")
	}
	if at := n.store.ReadOnly(); !at.IsZero() {
		out = append(out, "the PostgreSQL store takes no writes (SQLSTATE 25006: read-only, a standby or default_transaction_read_only): writes are refused since "+at.UTC().Format(time.RFC3339)+" until it takes them again")
	}
	if why := n.sync.PullsPaused(); why != "" {
		out = append(out, "pulls from peers are paused: "+why)
	} else if why := n.sync.Isolated(time.Now()); why != "" {
		out = append(out, why)
	}
	if _, msg := n.manifest.Load().Freshness(time.Now()); msg != "" {
		out = append(out, msg)
	}
	if moved := n.sync.MovedAway(false); moved != "" {
		out = append(out, moved)
	}
	if split := n.sync.ManifestConflict(); split != "" {
		out = append(out, split)
	}
	if why := certExpiry(n.cfg.Cert, time.Now()); why != "" {
		out = append(out, why)
	}
	for _, o := range origins {
		for _, d := range o.Damaged {
			if d.Last == sqlstore.OpenEnded {
				out = append(out, fmt.Sprintf("writes of %s are held from %d on: %s", o.Origin, d.First, d.Problem))
				continue
			}
			out = append(out, fmt.Sprintf("stored log %s does not verify (%s); not served, being repaired from peers", d.Range, d.Problem))
		}
		if o.Unopened > 0 {
			out = append(out, fmt.Sprintf("%d entries of %s are sealed to this node but do not open with its keys", o.Unopened, o.Origin))
		}
	}
	return out
}

// Store is the node's database (tests and tools).
func (n *Node) Store() *sqlstore.DB { return n.store }

// gatewayServices are the services the gateway serves, calling them
// through conn.
func gatewayServices(conn grpc.ClientConnInterface) []gatewayService {
	return []gatewayService{
		{twinningv1.TwinningService_ServiceDesc.ServiceName, func(ctx context.Context, m *runtime.ServeMux) error {
			return twinningv1.RegisterTwinningServiceHandlerClient(ctx, m, twinningv1.NewTwinningServiceClient(conn))
		}},
		{borderv1.BorderService_ServiceDesc.ServiceName, func(ctx context.Context, m *runtime.ServeMux) error {
			return borderv1.RegisterBorderServiceHandlerClient(ctx, m, borderv1.NewBorderServiceClient(conn))
		}},
		{investmentv1.InvestmentService_ServiceDesc.ServiceName, func(ctx context.Context, m *runtime.ServeMux) error {
			return investmentv1.RegisterInvestmentServiceHandlerClient(ctx, m, investmentv1.NewInvestmentServiceClient(conn))
		}},
		{nodev1.NodeService_ServiceDesc.ServiceName, func(ctx context.Context, m *runtime.ServeMux) error {
			return nodev1.RegisterNodeServiceHandlerClient(ctx, m, nodev1.NewNodeServiceClient(conn))
		}},
		{auditv1.AuditService_ServiceDesc.ServiceName, func(ctx context.Context, m *runtime.ServeMux) error {
			return auditv1.RegisterAuditServiceHandlerClient(ctx, m, auditv1.NewAuditServiceClient(conn))
		}},
		{syncv1.SyncService_ServiceDesc.ServiceName, func(ctx context.Context, m *runtime.ServeMux) error {
			return syncv1.RegisterSyncServiceHandlerClient(ctx, m, syncv1.NewSyncServiceClient(conn))
		}},
		{nationalv1.NationalService_ServiceDesc.ServiceName, func(ctx context.Context, m *runtime.ServeMux) error {
			return nationalv1.RegisterNationalServiceHandlerClient(ctx, m, nationalv1.NewNationalServiceClient(conn))
		}},
	}
}

// pastKeys are the keys member signed with before its current one, as m
// lists them (none when m does not name it).
func pastKeys(m *federation.Manifest, member string) []ed25519.PublicKey {
	if mem, ok := m.Member(member); ok {
		return mem.PreviousPublicKeys
	}
	return nil
}

// needCertificate says what a node without its TLS certificate needs, and
// the command that makes it, with the flags a stranger would otherwise
// have to look up.
func needCertificate(who string, cfg Config) string {
	return fmt.Sprintf("%s needs its TLS certificate from the federation CA, tls.crt and tls.key in its data directory: provex ca issue --ca-dir provex-ca --member %s --out %s (where the CA is kept)", who, cfg.Member, cfg.DataDir)
}
