package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/provex/provex/server"
)

// runRestore measures provex restore of a node's own log from one peer
// against two plain batched inserts, in interleaved rounds of the same
// run: of the rows the node then holds into its own schema (its own node
// reads every record; bench catchup's "plain batched insert" baseline since
// issue 3, and issue 12's), and of one row per entry into bench catchup's
// minimal table (issue 11's stricter baseline). The origin of
// bench catchup is loaded (or reused from -data), the ministry catches up
// on it once (untimed), the origin stops, and each round restores the
// origin into an empty directory from the ministry.
func runRestore(args []string) error {
	fs := flag.NewFlagSet("restore", flag.ExitOnError)
	records := fs.Int("records", 200_000, "entries in the node's own log")
	confidential := fs.Int("confidential", 30, "percentage of the records that are national or restricted (sealed)")
	dataDir := fs.String("data", "", "keep the loaded origin here and reuse it (default: temporary)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the restores to this file")
	rounds := fs.Int("rounds", 3, "rounds of each path, interleaved; the table gives medians")
	fs.Parse(args)
	o, err := loadOrigin("restore", *dataDir, *records, *confidential)
	if err != nil {
		return err
	}
	defer o.cleanup()
	dir, srcDir, manifest, keys, certOf := o.dir, o.srcDir, o.manifest, o.keys, o.certOf
	quiet := slog.New(slog.DiscardHandler)
	rows, err := baselineRows(filepath.Join(srcDir, server.DatabaseFile), keys["mofa"])
	if err != nil {
		return err
	}
	js, err := newShipper(dir, srcDir, filepath.Join(dir, "keys"), *records)
	if err != nil {
		return err
	}
	// The peer: the ministry, caught up on the origin's log (untimed).
	peerDir := filepath.Join(dir, "restore-peer")
	os.RemoveAll(peerDir)
	src, err := startNode(server.Config{Member: "cao-bang", DataDir: srcDir, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Keys: keys["cao-bang"], Manifest: manifest, Logger: quiet, Cert: certOf("cao-bang"), PlaintextAPI: true})
	if err != nil {
		return err
	}
	peer, err := startNode(server.Config{Member: "mofa", DataDir: peerDir, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Keys: keys["mofa"], Manifest: manifest, Peers: []string{"cao-bang"}, Logger: quiet, Cert: certOf("mofa"), PlaintextAPI: true})
	if err != nil {
		src.stop()
		return err
	}
	defer peer.stop()
	for {
		head, err := peerHead(peer, "cao-bang")
		if err != nil {
			src.stop()
			return err
		}
		if head == uint64(*records) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	src.stop()
	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()

	var restores, bases, minimals []time.Duration
	for round := 0; round < *rounds; round++ {
		base, err := baselineInsert(filepath.Join(dir, "baseline-restore.db"), rows, true)
		if err != nil {
			return err
		}
		bases = append(bases, base)
		minimal, err := js.plainMinimal(filepath.Join(dir, "plain-minimal.db"), *records)
		if err != nil {
			return err
		}
		minimals = append(minimals, minimal)
		dst := filepath.Join(dir, "restored")
		os.RemoveAll(dst)
		start := time.Now()
		// The other members are down: the restore says so and holds the
		// node's writes, which does not change what it got back.
		res, err := server.Restore(ctx, server.Config{Member: "cao-bang", DataDir: dst, Keys: keys["cao-bang"], Manifest: manifest,
			Cert: certOf("cao-bang"), Logger: quiet}, server.RestoreOptions{})
		if err != nil {
			return err
		}
		took := time.Since(start)
		if res.Head != uint64(*records) {
			return fmt.Errorf("restore got back %d entries, want %d", res.Head, *records)
		}
		restores = append(restores, took)
		fmt.Fprintf(os.Stderr, "round %d: restore %s, plain insert into the node's schema %s, into the minimal table %s\n", round+1,
			took.Round(time.Millisecond), base.Round(time.Millisecond), minimal.Round(time.Millisecond))
	}
	rate := func(d time.Duration) float64 { return float64(*records) / d.Seconds() }
	r, b, m := medianDuration(restores), medianDuration(bases), medianDuration(minimals)
	fmt.Printf("Restore of a node's own log of %d entries (%d%% national or restricted, sealed) from one peer, same machine, same run, median of %d interleaved rounds:\n\n",
		*records, *confidential, *rounds)
	fmt.Printf("| path | entries/s | slowest–fastest round | restore / it (target at least 0.5) |\n|---|---|---|---|\n")
	row := func(label string, ds []time.Duration, med time.Duration) {
		fmt.Printf("| %s | %.0f | %.0f–%.0f | %.2f |\n", label, rate(med), rate(slices.Max(ds)), rate(slices.Min(ds)), med.Seconds()/r.Seconds())
	}
	row("provex restore from one peer", restores, r)
	row("plain batched insert of the rows it holds into the node's schema, 500 entries per transaction", bases, b)
	row("plain batched insert of one row per entry into the minimal table (bench catchup's), 1,000 per transaction", minimals, m)
	return nil
}

// peerHead is how far a running node holds origin's log.
func peerHead(n *runningNode, origin string) (uint64, error) {
	origins, err := n.node.Store().Origins(ctx)
	if err != nil {
		return 0, err
	}
	for _, o := range origins {
		if o.Origin == origin {
			return o.Seq, nil
		}
	}
	return 0, nil
}
