package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"reflect"
	"strings"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/provex/provex/client/cli"
	"github.com/provex/provex/federation"
	"github.com/provex/provex/internal/yamlfile"
	"github.com/provex/provex/pki"
	"github.com/provex/provex/server"
	"github.com/provex/provex/storage/sqlstore"
)

// serveConfig is the config file of "provex serve" (YAML or JSON); flags
// given on the command line override it.
type serveConfig struct {
	Member   string `json:"member"`
	GRPCAddr string `json:"grpc_addr"`
	HTTPAddr string `json:"http_addr"`
	DataDir  string `json:"data_dir"`
	// Store is a PostgreSQL URL for the node's store instead of provex.db
	// in the data directory (the ministry's node on a database server).
	Store    string `json:"store"`
	LogLevel string `json:"log_level"`
	// Manifest is the federation manifest file; KeyFile the node's keys
	// (default: node.key in the data directory, created if missing).
	Manifest string   `json:"manifest"`
	KeyFile  string   `json:"key_file"`
	Peers    []string `json:"peers"`
	// SyncInterval is the periodic exchange with each peer, e.g. "5s".
	SyncInterval string `json:"sync_interval"`
	// DiskReserveMB is the free space, in MiB, a node on a SQLite store
	// keeps for its own writes: below it, it pulls nothing from its peers
	// (default 256, at most a tenth of the disk; -1: none).
	DiskReserveMB int64 `json:"disk_reserve_mb"`
	// TLSDir holds the node's certificate, tls.crt and tls.key, from
	// provex ca issue (default: the data directory).
	TLSDir string `json:"tls_dir"`
	// Dev serves the API without TLS (dev mode, one machine only).
	Dev bool `json:"dev"`
	// RateLimit is the calls a second each caller may make (default 5000).
	RateLimit float64 `json:"rate_limit"`
	// MaxConnections and MaxConnectionsPerClient cap each listener's open
	// connections, in total and from one client (an IPv4 address or an
	// IPv6 /64) (defaults 4096 and 256).
	MaxConnections          int `json:"max_connections"`
	MaxConnectionsPerClient int `json:"max_connections_per_client"`
	// MaxCalls and MaxCallsPerClient cap each server's calls in flight,
	// in total and from one client (defaults 16384 and 1024), and the
	// HTTP/2 streams each gRPC server holds open (server.Limits.Streams).
	MaxCalls          int `json:"max_calls"`
	MaxCallsPerClient int `json:"max_calls_per_client"`
	// AuditAllReads records every read in the audit trail, not only those
	// of national and restricted records.
	AuditAllReads bool `json:"audit_all_reads"`
	// MetricsAddr serves /metrics on a listener of its own, without a
	// token (default: on the HTTP listener, for admin tokens).
	MetricsAddr string `json:"metrics_addr"`
	// PeerAddr is where the node listens for its peers (default: its
	// address in the manifest, which peers dial): set it where that
	// address is not the machine's own (a container, NAT), e.g. ":9400".
	PeerAddr string `json:"peer_addr"`
	// TraceOTLP is an OpenTelemetry collector's OTLP/gRPC address
	// (HOST:PORT, plaintext) that receives a span of every gRPC call
	// (default: no tracing, unless OTEL_EXPORTER_OTLP_ENDPOINT is set).
	TraceOTLP string `json:"trace_otlp"`
}

// configKeys lists the config file's keys, from serveConfig itself, so the
// help cannot fall behind it (it once named 5 of them).
func configKeys() string {
	t := reflect.TypeFor[serveConfig]()
	keys := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		keys = append(keys, t.Field(i).Tag.Get("json"))
	}
	return strings.Join(keys, ", ")
}

func defaultServeConfig() serveConfig {
	return serveConfig{GRPCAddr: "localhost:7400", HTTPAddr: "localhost:8400", DataDir: "data", LogLevel: "info"}
}

// storeFlag checks the --store of command cmd: empty (the data
// directory's provex.db), or a PostgreSQL URL that parses.
func storeFlag(cmd, store string) error {
	if store == "" {
		return nil
	}
	if err := sqlstore.CheckStoreURL(store); err != nil {
		return &cli.UsageError{Msg: cmd + ": --store: " + err.Error()}
	}
	return nil
}

// diskReserveFlag checks the --disk-reserve-mb of command cmd.
func diskReserveFlag(cmd string, mb int64) error {
	if mb < -1 || mb > 1<<30 {
		return &cli.UsageError{Msg: fmt.Sprintf("%s: --disk-reserve-mb %d: want -1 (none), 0 (the default) or a number of MiB up to 1073741824", cmd, mb)}
	}
	return nil
}

func runServe(ctx context.Context, env *cli.Env, args []string) error {
	cfg := defaultServeConfig()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	configFile := fs.String("config", "", "YAML config file (keys: "+configKeys()+"; flags override them)")
	member := fs.String("member", "", "this node's member id: a province slug (e.g. cao-bang) or mofa")
	grpcAddr := fs.String("grpc-addr", cfg.GRPCAddr, "gRPC listen address")
	httpAddr := fs.String("http-addr", cfg.HTTPAddr, "HTTP/JSON gateway listen address")
	dataDir := fs.String("data", cfg.DataDir, "data directory (holds provex.db and node.key)")
	store := fs.String("store", "", "keep the store in this PostgreSQL database instead of provex.db: postgres://USER@HOST:PORT/DATABASE (password from PGPASSWORD or ~/.pgpass)")
	logLevel := fs.String("log-level", cfg.LogLevel, "debug, info, warn or error")
	manifest := fs.String("manifest", "", "federation manifest file (without one the node runs alone)")
	keyFile := fs.String("key", "", "the node's key file, from provex keygen (default: node.key in the data directory)")
	peers := fs.String("peers", "", "comma-separated members to sync with, e.g. mofa,lang-son")
	syncInterval := fs.String("sync-interval", "", "periodic exchange with each peer (default 5s)")
	diskReserve := fs.Int64("disk-reserve-mb", 0, "free space (MiB) kept for the node's own writes: below it the node pulls nothing from its peers (default 256, at most a tenth of the disk; -1: none)")
	tlsDir := fs.String("tls-dir", "", "directory of the node's certificate, tls.crt and tls.key (default: the data directory)")
	rateLimit := fs.Float64("rate-limit", 0, "calls a second each token or peer may make, bursts of twice that (default 5000)")
	maxConns := fs.Int("max-connections", 0, "open connections each listener holds at most (default 4096; keep 3 times it, plus what the node holds itself (its database, its peers and 64 more; the start warns when they do not fit), under ulimit -n)")
	maxConnsPerClient := fs.Int("max-connections-per-client", 0, "open connections each listener holds from one IPv4 address or IPv6 /64 (default 256)")
	maxCalls := fs.Int("max-calls", 0, "calls in flight each server (API gRPC, HTTP, peer endpoint) holds at most, and HTTP/2 streams each gRPC server holds open (default 16384)")
	maxCallsPerClient := fs.Int("max-calls-per-client", 0, "calls in flight each server holds from one IPv4 address or IPv6 /64, and HTTP/2 streams each gRPC server holds open for it (default 1024)")
	auditAllReads := fs.Bool("audit-all-reads", false, "record every read in the audit trail, public records too (default: reads of national and restricted records, and summaries)")
	metricsAddr := fs.String("metrics-addr", "", "serve /metrics here, without a token, instead of on the HTTP listener for admin tokens")
	peerAddr := fs.String("peer-addr", "", "listen for peers here (default: the node's address in the manifest, which peers dial); for a container or NAT, e.g. :9400")
	traceOTLP := fs.String("trace-otlp", "", "send a trace span of every gRPC call to this OpenTelemetry collector (OTLP/gRPC HOST:PORT, plaintext); default off, or OTEL_EXPORTER_OTLP_ENDPOINT")
	dev := fs.Bool("dev", false, "dev mode: serve the API without TLS (this machine only); sync keeps mutual TLS")
	if err := fs.Parse(args); err != nil {
		return cli.FlagError(fs, err)
	}
	if fs.NArg() > 0 {
		// Ignored, it started the node on the default addresses (an
		// outside review); so did a flag's missing value.
		return &cli.UsageError{Msg: fmt.Sprintf("serve: unexpected argument %q: serve takes flags only", fs.Arg(0)), Flags: fs}
	}
	if *configFile != "" {
		raw, err := os.ReadFile(*configFile)
		if err != nil {
			return err
		}
		if err := yamlfile.Decode(raw, &cfg); err != nil {
			return fmt.Errorf("config %s: %w", *configFile, err)
		}
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "member":
			cfg.Member = *member
		case "grpc-addr":
			cfg.GRPCAddr = *grpcAddr
		case "http-addr":
			cfg.HTTPAddr = *httpAddr
		case "data":
			cfg.DataDir = *dataDir
		case "store":
			cfg.Store = *store
		case "log-level":
			cfg.LogLevel = *logLevel
		case "manifest":
			cfg.Manifest = *manifest
		case "key":
			cfg.KeyFile = *keyFile
		case "peers":
			// "" (--peers "") or a trailing comma names no member.
			cfg.Peers = strings.FieldsFunc(*peers, func(r rune) bool { return r == ',' || r == ' ' })
		case "sync-interval":
			cfg.SyncInterval = *syncInterval
		case "disk-reserve-mb":
			cfg.DiskReserveMB = *diskReserve
		case "tls-dir":
			cfg.TLSDir = *tlsDir
		case "dev":
			cfg.Dev = *dev
		case "rate-limit":
			cfg.RateLimit = *rateLimit
		case "max-connections":
			cfg.MaxConnections = *maxConns
		case "max-connections-per-client":
			cfg.MaxConnectionsPerClient = *maxConnsPerClient
		case "max-calls":
			cfg.MaxCalls = *maxCalls
		case "max-calls-per-client":
			cfg.MaxCallsPerClient = *maxCallsPerClient
		case "audit-all-reads":
			cfg.AuditAllReads = *auditAllReads
		case "metrics-addr":
			cfg.MetricsAddr = *metricsAddr
		case "peer-addr":
			cfg.PeerAddr = *peerAddr
		case "trace-otlp":
			cfg.TraceOTLP = *traceOTLP
		}
	})
	if cfg.Member == "" {
		return &cli.UsageError{Msg: "serve: --member (or member: in the config file) is required"}
	}
	for _, p := range cfg.Peers {
		if !pki.ValidMemberID(p) {
			// "--peers --grpc-addr ..." took the next flag for a peer.
			return &cli.UsageError{Msg: fmt.Sprintf("serve: --peers: %q is not a member id (a province slug such as cao-bang, or mofa)", p)}
		}
	}
	if err := storeFlag("serve", cfg.Store); err != nil {
		return err
	}
	if math.IsNaN(cfg.RateLimit) || math.IsInf(cfg.RateLimit, 0) || cfg.RateLimit < 0 || cfg.RateLimit > 1e9 {
		// NaN refused nothing (an outside review).
		return &cli.UsageError{Msg: fmt.Sprintf("serve: --rate-limit %v: want calls a second from 0 (the default) to 1e9", cfg.RateLimit)}
	}
	if err := diskReserveFlag("serve", cfg.DiskReserveMB); err != nil {
		return err
	}
	logger, err := newLogger(env.Stderr, cfg.LogLevel)
	if err != nil {
		return &cli.UsageError{Msg: "serve: " + err.Error()}
	}
	sc := server.Config{
		Member: cfg.Member, DataDir: cfg.DataDir, Store: cfg.Store, GRPCAddr: cfg.GRPCAddr, HTTPAddr: cfg.HTTPAddr,
		Version: version(), Logger: logger, Peers: cfg.Peers, PlaintextAPI: cfg.Dev,
		Limits: server.Limits{RatePerSecond: cfg.RateLimit, Burst: int(math.Ceil(2 * cfg.RateLimit)),
			Connections: cfg.MaxConnections, ConnectionsPerAddress: cfg.MaxConnectionsPerClient,
			Calls: cfg.MaxCalls, CallsPerAddress: cfg.MaxCallsPerClient},
		AuditAllReads: cfg.AuditAllReads, MetricsAddr: cfg.MetricsAddr, PeerAddr: cfg.PeerAddr, DiskReserve: cfg.DiskReserveMB << 20,
	}
	if sc.TraceExporter, err = traceExporter(ctx, cfg.TraceOTLP); err != nil {
		return err
	}
	if cfg.TLSDir == "" {
		cfg.TLSDir = cfg.DataDir
	}
	switch cert, err := pki.LoadNodeCert(cfg.TLSDir); {
	case err == nil:
		sc.Cert = &cert
	case !errors.Is(err, os.ErrNotExist):
		return err
	}
	if cfg.Manifest != "" {
		if sc.Manifest, err = federation.LoadManifest(cfg.Manifest); err != nil {
			return err
		}
		if sc.Manifest.Signature == nil {
			return fmt.Errorf("the manifest %s is not signed: nodes take only manifests signed by the federation key (provex manifest sign)", cfg.Manifest)
		}
		// A newer signed manifest written to the file later takes effect
		// without a restart.
		sc.ManifestFile = cfg.Manifest
	}
	if cfg.KeyFile != "" {
		sc.KeyFile = cfg.KeyFile
		if sc.Keys, err = federation.ReadKeyFile(cfg.KeyFile); err != nil {
			return err
		}
	}
	if cfg.SyncInterval != "" {
		if sc.SyncInterval, err = time.ParseDuration(cfg.SyncInterval); err != nil {
			return &cli.UsageError{Msg: "serve: sync interval: " + err.Error()}
		}
	}
	node, err := server.New(ctx, sc)
	if err != nil {
		return err
	}
	return node.Serve(ctx)
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// traceExporter is the OTLP/gRPC exporter of the node's traces: to addr,
// or where OTEL_EXPORTER_OTLP_ENDPOINT (and the exporter's other standard
// variables) say when addr is empty; nil, no tracing, when neither is set.
func traceExporter(ctx context.Context, addr string) (sdktrace.SpanExporter, error) {
	switch {
	case addr != "":
		return otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(addr), otlptracegrpc.WithInsecure())
	case os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "":
		return otlptracegrpc.New(ctx)
	}
	return nil, nil
}
