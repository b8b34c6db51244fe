package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/server"
)

// runSealing measures what sealing costs a write: Create at concurrency 1
// of a public, a national (sealed to the ministry) and a restricted record
// (sealed to the ministry and two provinces) on one node of a federation,
// in alternating rounds of the same run.
func runSealing(args []string) error {
	fs := flag.NewFlagSet("sealing", flag.ExitOnError)
	duration := fs.Duration("duration", 2*time.Second, "length of each round")
	rounds := fs.Int("rounds", 4, "rounds of each kind, alternating")
	fs.Parse(args)
	dir, err := os.MkdirTemp("", "provex-bench-sealing-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// The other members' keys are in the manifest; their nodes do not run
	// (a write seals to their keys all the same).
	manifest, keys, err := devFederation([]string{"cao-bang", "lang-son", "quang-ninh", "mofa"})
	if err != nil {
		return err
	}
	certOf, err := devPKI(filepath.Join(dir, "ca"), manifest)
	if err != nil {
		return err
	}
	node, token, err := benchNode(server.Config{Member: "cao-bang", DataDir: filepath.Join(dir, "cao-bang"), GRPCAddr: "127.0.0.1:0",
		HTTPAddr: "127.0.0.1:0", Keys: keys["cao-bang"], Manifest: manifest, Cert: certOf("cao-bang"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer node.stop()
	c, conn, err := dial(node.node.GRPCAddr(), token)
	if err != nil {
		return err
	}
	defer conn.Close()
	kinds := []struct {
		name string
		set  func(*twinningv1.Agreement)
	}{
		{"public", func(*twinningv1.Agreement) {}},
		{"national", func(a *twinningv1.Agreement) { a.Visibility = typev1.Visibility_VISIBILITY_NATIONAL }},
		{"restricted to 2 provinces", func(a *twinningv1.Agreement) {
			a.Visibility, a.VisibleTo = typev1.Visibility_VISIBILITY_RESTRICTED, []string{"lang-son", "quang-ninh"}
		}},
	}
	lat := make([][]time.Duration, len(kinds))
	n := 0
	for r := 0; r < *rounds; r++ {
		for k, kind := range kinds {
			res := measure(1, *duration, func(_, i int) error {
				n++
				a := benchAgreement(n)
				kind.set(a)
				t0 := time.Now()
				_, err := c.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: "provinces/cao-bang", Agreement: a})
				lat[k] = append(lat[k], time.Since(t0))
				return err
			})
			if res.errors > 0 {
				return fmt.Errorf("%s: %d errors", kind.name, res.errors)
			}
		}
	}
	p50 := func(d []time.Duration) time.Duration {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return d[len(d)/2]
	}
	fmt.Printf("Create at concurrency 1 on a node of a 4-member federation, %d alternating rounds of %s per kind, same run:\n\n", *rounds, *duration)
	fmt.Printf("| record | creates | p50 ms | p50 / public (target for national: within 1.2x) |\n|---|---|---|---|\n")
	base := p50(lat[0])
	for k, kind := range kinds {
		p := p50(lat[k])
		fmt.Printf("| %s | %d | %s | %.2fx |\n", kind.name, len(lat[k]), ms(p), float64(p)/float64(base))
	}
	return nil
}
