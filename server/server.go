// Package server wires a provex node together: the SQLite store, the gRPC
// server with its interceptors, health and reflection, the domain services,
// and the HTTP/JSON gateway that reaches the same gRPC server (so HTTP calls
// pass through the same interceptors), plus graceful shutdown.
package server

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/provex/provex/federation"
	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	investmentv1 "github.com/provex/provex/gen/go/provex/investment/v1"
	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	nodev1 "github.com/provex/provex/gen/go/provex/node/v1"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/gen/openapi"
	"github.com/provex/provex/internal/validation"
	"github.com/provex/provex/replication"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/services/border"
	"github.com/provex/provex/services/collection"
	"github.com/provex/provex/services/investment"
	"github.com/provex/provex/services/national"
	"github.com/provex/provex/services/node"
	"github.com/provex/provex/services/twinning"
	"github.com/provex/provex/storage/sqlite"
)

// Config is what a node needs to run.
type Config struct {
	// Member is the node's member id: a province slug, or "mofa".
	Member string
	// DataDir holds the node's database (provex.db).
	DataDir string
	// GRPCAddr and HTTPAddr are listen addresses; port 0 picks a free one.
	GRPCAddr string
	HTTPAddr string
	// ShutdownTimeout bounds how long in-flight calls may take to finish
	// after a stop signal (default 15s).
	ShutdownTimeout time.Duration
	Version         string
	Logger          *slog.Logger

	// Key signs the node's change-log checkpoints. Without one the node
	// uses (creating it if needed) node.key in DataDir.
	Key ed25519.PrivateKey
	// Manifest lists the federation's members. Without one the node runs
	// alone: a manifest of itself only, no peers.
	Manifest *federation.Manifest
	// Peers are the members this node pulls from and announces to.
	Peers []string
	// SyncInterval is the period of the background exchange with each peer
	// (default 5s).
	SyncInterval time.Duration
	// SyncDial connects to peers (default: plaintext gRPC).
	SyncDial func(addr string) (*grpc.ClientConn, error)
}

// MaxMessageBytes is the largest request or response message.
const MaxMessageBytes = 4 << 20

// Node is a running province (or ministry) node.
type Node struct {
	cfg    Config
	log    *slog.Logger
	store  *sqlite.DB
	sync   *replication.Engine
	grpc   *grpc.Server
	health *health.Server
	http   *http.Server
	// inproc carries the gateway's calls into the gRPC server without a
	// network hop, through the same interceptors as every other call.
	inproc       *bufconn.Listener
	gateway      *grpc.ClientConn
	grpcListener net.Listener
	httpListener net.Listener
}

// DatabaseFile is the name of a node's database inside its data directory.
const DatabaseFile = "provex.db"

// New opens the node's store and builds its servers; Serve starts them.
func New(ctx context.Context, cfg Config) (*Node, error) {
	if !resource.IsMember(cfg.Member) {
		return nil, fmt.Errorf("member %q is neither a province slug nor %q", cfg.Member, resource.Ministry)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 15 * time.Second
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	validator, err := validation.New()
	if err != nil {
		return nil, err
	}
	if cfg.Key == nil {
		if cfg.Key, err = nodeKey(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	if cfg.Manifest == nil {
		if cfg.Manifest, err = soloManifest(cfg.Member, cfg.GRPCAddr, cfg.Key); err != nil {
			return nil, err
		}
		if len(cfg.Peers) > 0 {
			return nil, errors.New("peers need a federation manifest that lists them")
		}
	}
	if m, ok := cfg.Manifest.Member(cfg.Member); !ok {
		return nil, fmt.Errorf("member %q is not in the federation manifest", cfg.Member)
	} else if !m.PublicKey.Equal(cfg.Key.Public()) {
		return nil, fmt.Errorf("the node key does not match %s's public key in the federation manifest", cfg.Member)
	}
	if cfg.Manifest.Expired(time.Now()) {
		cfg.Logger.Warn("the federation manifest has expired; still using it", "expires", cfg.Manifest.Expires)
	}
	var engine *replication.Engine
	store, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, DatabaseFile), cfg.Member, sqlite.Options{
		Logger:    cfg.Logger,
		Key:       cfg.Key,
		Committed: func() { engine.Changed() },
	})
	if err != nil {
		return nil, err
	}
	engine, err = replication.New(replication.Config{
		Member: cfg.Member, Store: store, Manifest: cfg.Manifest, Peers: cfg.Peers,
		Interval: cfg.SyncInterval, Dial: cfg.SyncDial, Logger: cfg.Logger,
	})
	if err != nil {
		store.Close()
		return nil, err
	}
	n := &Node{cfg: cfg, log: cfg.Logger, store: store, sync: engine}

	ic := &interceptors{log: cfg.Logger, validator: validator}
	n.grpc = grpc.NewServer(
		grpc.ChainUnaryInterceptor(ic.unary),
		grpc.ChainStreamInterceptor(ic.stream),
		grpc.MaxRecvMsgSize(MaxMessageBytes),
		grpc.MaxSendMsgSize(MaxMessageBytes),
	)
	shared := &collection.Node{Store: store, Member: cfg.Member, Validator: validator}
	twinningv1.RegisterTwinningServiceServer(n.grpc, twinning.New(shared))
	borderv1.RegisterBorderServiceServer(n.grpc, border.New(shared))
	investmentv1.RegisterInvestmentServiceServer(n.grpc, investment.New(shared))
	nodev1.RegisterNodeServiceServer(n.grpc, node.New(cfg.Member, cfg.Version, time.Now()))
	syncv1.RegisterSyncServiceServer(n.grpc, engine.Service())
	nationalv1.RegisterNationalServiceServer(n.grpc, national.New(store, engine.Freshness))
	n.health = health.NewServer()
	healthpb.RegisterHealthServer(n.grpc, n.health)
	reflection.Register(n.grpc)

	if err := n.buildGateway(ctx); err != nil {
		store.Close()
		return nil, err
	}
	return n, nil
}

func (n *Node) buildGateway(ctx context.Context) error {
	n.inproc = bufconn.Listen(1 << 20)
	conn, err := grpc.NewClient("passthrough:///provex-inproc",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return n.inproc.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes)),
	)
	if err != nil {
		return fmt.Errorf("gateway connection: %w", err)
	}
	n.gateway = conn
	mux := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.JSONPb{
			MarshalOptions:   protojson.MarshalOptions{UseProtoNames: true},
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
		}),
		runtime.WithIncomingHeaderMatcher(func(h string) (string, bool) {
			if http.CanonicalHeaderKey(h) == http.CanonicalHeaderKey(RequestIDHeader) {
				return RequestIDHeader, true
			}
			return runtime.DefaultHeaderMatcher(h)
		}),
		runtime.WithOutgoingHeaderMatcher(func(h string) (string, bool) {
			if h == RequestIDHeader {
				return "X-Request-Id", true
			}
			return "", false
		}),
	)
	for _, register := range []func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error{
		twinningv1.RegisterTwinningServiceHandler,
		borderv1.RegisterBorderServiceHandler,
		investmentv1.RegisterInvestmentServiceHandler,
		nodev1.RegisterNodeServiceHandler,
		syncv1.RegisterSyncServiceHandler,
		nationalv1.RegisterNationalServiceHandler,
	} {
		if err := register(ctx, mux, conn); err != nil {
			return fmt.Errorf("gateway: %w", err)
		}
	}
	root := http.NewServeMux()
	root.Handle("/v1/", mux)
	root.Handle("GET /v1/national/{collection}/summary.csv", summaryCSV(nationalv1.NewNationalServiceClient(conn)))
	root.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openapi.JSON)
	})
	root.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		resp, err := n.health.Check(r.Context(), &healthpb.HealthCheckRequest{})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			http.Error(w, "not serving", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	n.http = &http.Server{
		Handler:           root,
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(n.log.Handler(), slog.LevelWarn),
	}
	return nil
}

// Listen binds the gRPC and HTTP addresses, so callers know the ports (for
// ":0") before Serve.
func (n *Node) Listen() error {
	var err error
	if n.grpcListener, err = net.Listen("tcp", n.cfg.GRPCAddr); err != nil {
		return fmt.Errorf("listen gRPC on %s: %w", n.cfg.GRPCAddr, err)
	}
	if n.httpListener, err = net.Listen("tcp", n.cfg.HTTPAddr); err != nil {
		n.grpcListener.Close()
		return fmt.Errorf("listen HTTP on %s: %w", n.cfg.HTTPAddr, err)
	}
	return nil
}

// GRPCAddr and HTTPAddr are the bound addresses after Listen.
func (n *Node) GRPCAddr() string { return n.grpcListener.Addr().String() }
func (n *Node) HTTPAddr() string { return n.httpListener.Addr().String() }

// Serve runs the node until ctx is done, then shuts down gracefully: health
// turns NOT_SERVING, new calls are refused, in-flight calls finish (within
// ShutdownTimeout), and the store is closed after its last commit.
func (n *Node) Serve(ctx context.Context) error {
	if n.grpcListener == nil {
		if err := n.Listen(); err != nil {
			return err
		}
	}
	n.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	errs := make(chan error, 3)
	go func() { errs <- n.grpc.Serve(n.grpcListener) }()
	go func() { errs <- n.grpc.Serve(n.inproc) }()
	go func() {
		if err := n.http.Serve(n.httpListener); !errors.Is(err, http.ErrServerClosed) {
			errs <- err
		}
	}()
	n.log.Info("node serving", "member", n.cfg.Member, "grpc", n.GRPCAddr(), "http", n.HTTPAddr(), "data", n.cfg.DataDir, "peers", n.cfg.Peers)
	syncCtx, stopSync := context.WithCancel(ctx)
	syncDone := make(chan struct{})
	go func() { n.sync.Run(syncCtx); close(syncDone) }()
	defer func() { stopSync(); <-syncDone }()

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errs:
		n.log.Error("server stopped", "err", serveErr)
	}
	// Sync stops before the store closes: it may be applying a batch.
	stopSync()
	<-syncDone
	n.shutdown()
	return serveErr
}

func (n *Node) shutdown() {
	n.log.Info("shutting down", "timeout", n.cfg.ShutdownTimeout)
	n.health.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ShutdownTimeout)
	defer cancel()
	// HTTP first: its in-flight calls still need the gRPC server.
	if err := n.http.Shutdown(ctx); err != nil {
		n.log.Warn("HTTP shutdown", "err", err)
	}
	stopped := make(chan struct{})
	go func() { n.grpc.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-ctx.Done():
		n.log.Warn("in-flight calls did not finish in time; stopping")
		n.grpc.Stop()
	}
	n.gateway.Close()
	if err := n.store.Close(); err != nil {
		n.log.Error("close store", "err", err)
	}
	n.log.Info("stopped")
}

// KeyFile is the node key's file inside the data directory, used when no key
// is configured.
const KeyFile = "node.key"

// nodeKey reads the node's key from its data directory, creating it the
// first time.
func nodeKey(dataDir string) (ed25519.PrivateKey, error) {
	path := filepath.Join(dataDir, KeyFile)
	key, err := federation.ReadKeyFile(path)
	if err == nil {
		return key, nil
	}
	if _, statErr := os.Stat(path); statErr == nil {
		return nil, err
	}
	_, key, err = federation.GenerateKey()
	if err != nil {
		return nil, err
	}
	if err := federation.WriteKeyFile(path, key); err != nil {
		return nil, err
	}
	return key, nil
}

// soloManifest is the federation of a node running alone: itself only.
func soloManifest(member, addr string, key ed25519.PrivateKey) (*federation.Manifest, error) {
	role := federation.RoleProvince
	if member == resource.Ministry {
		role = federation.RoleMinistry
	}
	now := time.Now()
	return &federation.Manifest{
		Version: 1, Issued: now, Expires: now.AddDate(100, 0, 0),
		Members: []federation.Member{{ID: member, Role: role, Address: addr, PublicKey: key.Public().(ed25519.PublicKey)}},
	}, nil
}
