package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"

	"github.com/provex/provex/client/cli"
	"github.com/provex/provex/federation"
	"github.com/provex/provex/pki"
	"github.com/provex/provex/server"
)

var restoreCommand = cli.Command{Name: "restore", Usage: "--member SLUG --data DIR --key F --manifest F [--store URL] [--tls-dir DIR] [--accept-unreached] [--disk-reserve-mb N] [--log-level warn]",
	Summary: "rebuild a node whose data directory is lost from its peers (its own log, its records, every origin), then exit; start the node with serve after", Run: runRestore}

func runRestore(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	member := fs.String("member", "", "this node's member id")
	dataDir := fs.String("data", "data", "the data directory to rebuild (empty, or left by an earlier restore)")
	store := fs.String("store", "", "rebuild into this PostgreSQL database (postgres://...; empty, or left by an earlier restore) instead of provex.db in the data directory")
	keyFile := fs.String("key", "", "the node's key file, from provex keygen (required: the data directory's copy is gone)")
	manifest := fs.String("manifest", "", "federation manifest file (required)")
	tlsDir := fs.String("tls-dir", "", "directory of the node's certificate, tls.crt and tls.key (default: the data directory)")
	acceptUnreached := fs.Bool("accept-unreached", false, "write on even though some members could not be reached (they may hold later entries of this node's log)")
	diskReserve := fs.Int64("disk-reserve-mb", 0, "free space (MiB) kept, as serve keeps it: below it the restore stops, unfinished, and writes stay held (default 256, at most a tenth of the disk; -1: none)")
	logLevel := fs.String("log-level", "warn", "debug, info, warn or error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *member == "" || *keyFile == "" || *manifest == "" {
		return &cli.UsageError{Msg: "restore: --member, --key and --manifest are required"}
	}
	logger, err := newLogger(env.Stderr, *logLevel)
	if err != nil {
		return &cli.UsageError{Msg: "restore: " + err.Error()}
	}
	if err := storeFlag("restore", *store); err != nil {
		return err
	}
	if err := diskReserveFlag("restore", *diskReserve); err != nil {
		return err
	}
	cfg := server.Config{Member: *member, DataDir: *dataDir, Store: *store, Logger: logger, KeyFile: *keyFile, DiskReserve: *diskReserve << 20}
	if cfg.Keys, err = federation.ReadKeyFile(*keyFile); err != nil {
		return err
	}
	if cfg.Manifest, err = federation.LoadManifest(*manifest); err != nil {
		return err
	}
	if err := cfg.Manifest.VerifySignature(cfg.Manifest.FederationKey); err != nil {
		return fmt.Errorf("%w (in %s)", err, *manifest)
	}
	if *tlsDir == "" {
		*tlsDir = *dataDir
	}
	switch cert, err := pki.LoadNodeCert(*tlsDir); {
	case err == nil:
		cfg.Cert = &cert
	case !errors.Is(err, os.ErrNotExist):
		return err
	}
	res, err := server.Restore(ctx, cfg, server.RestoreOptions{AcceptUnreached: *acceptUnreached})
	if err != nil {
		return err
	}
	printRestore(env.Stdout, *member, res)
	if res.Held != "" {
		return fmt.Errorf("writes are held: %s", res.Held)
	}
	return nil
}

// printRestore says what a restore got back: per origin, the entries held
// and the newest signed checkpoint, and for the node's own log how far
// its peers' copies go.
func printRestore(w io.Writer, member string, res *server.RestoreResult) {
	fmt.Fprintf(w, "reached: %v\n", res.Reached)
	for _, m := range slices.Sorted(maps.Keys(res.Unreached)) {
		fmt.Fprintf(w, "not reached: %s: %s\n", m, res.Unreached[m])
	}
	for _, m := range slices.Sorted(maps.Keys(res.CutShort)) {
		fmt.Fprintf(w, "cut short: %s: %s (its copy of the own log was taken; the node gets other origins' entries from its peers once it serves)\n", m, res.CutShort[m])
	}
	for _, o := range res.Origins {
		fmt.Fprintf(w, "origin %s: entries 1..%d, signed through %d, head %x\n", o.Origin, o.Seq, o.Checkpoint.Seq, o.Hash)
	}
	if missing, ok := res.Missing(); ok {
		fmt.Fprintf(w, "own log %s: got back through %d; MISSING %s (%s holds checkpoint %d)\n", member, res.Head, missing, res.SignedBy, res.Signed.Seq)
	} else {
		fmt.Fprintf(w, "own log %s: got back through %d; no member reached holds a later checkpoint; next write is %d\n", member, res.Head, res.Head+1)
	}
}
