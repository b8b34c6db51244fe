package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/provex/provex/federation"
	"github.com/provex/provex/internal/freeport"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/server"
)

// runManifest measures how long a signed manifest given to one member
// takes to reach every member of a loopback federation: nodes in one
// process, mutual TLS between them as a node dials by default, the default
// sync interval (so the announcements, not the periodic exchange, must
// carry it). Each change raises the serial by one and goes to the next
// member in turn; every member's latency is the time from the offer until
// its node uses the new serial, polled every millisecond.
func runManifest(args []string) error {
	fs := flag.NewFlagSet("manifest", flag.ExitOnError)
	size := fs.Int("members", 35, "members: the ministry and the first members-1 provinces")
	changes := fs.Int("changes", 20, "manifest changes to time, one at a time")
	topology := fs.String("topology", "ring", "who peers with whom: ring (each member with the 2 nearest on each side), line (with the one before and after), star (provinces with the ministry, the ministry with all)")
	interval := fs.Duration("interval", 0, "the nodes' sync interval (default: the node's, 5s); a long one leaves the announcements alone to carry the manifest")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the timed changes to this file")
	fs.Parse(args)
	provinces := resource.Provinces()
	if *size < 2 || *size > len(provinces)+1 {
		return fmt.Errorf("-members must be 2 to %d", len(provinces)+1)
	}
	members := []string{resource.Ministry}
	for _, p := range provinces[:*size-1] {
		members = append(members, p.Slug)
	}
	peers, err := manifestPeers(members, *topology)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "provex-bench-manifest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	addrs, err := freeport.Addrs(len(members))
	if err != nil {
		return err
	}
	manifest, keys, fedKey, err := federation.DevFederationKey(members, addrs, time.Now())
	if err != nil {
		return err
	}
	certOf, err := devPKI(filepath.Join(dir, "ca"), manifest)
	if err != nil {
		return err
	}
	if err := manifest.Sign(fedKey); err != nil {
		return err
	}
	nodes := make([]*runningNode, len(members))
	for i, m := range members {
		n, err := startNode(server.Config{Member: m, DataDir: filepath.Join(dir, m), GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
			Keys: keys[m], Manifest: manifest, Peers: peers[m], SyncInterval: *interval, Logger: slog.New(slog.DiscardHandler), Cert: certOf(m), PlaintextAPI: true})
		if err != nil {
			return err
		}
		defer n.stop()
		nodes[i] = n
	}
	time.Sleep(3 * time.Second) // the first exchanges settle
	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()

	var all, slowest []time.Duration
	cur := manifest
	for c := 0; c < *changes; c++ {
		next := *cur
		next.Members = append([]federation.Member(nil), cur.Members...)
		next.Serial++
		next.Issued = time.Now().UTC().Truncate(time.Second)
		if err := next.Sign(fedKey); err != nil {
			return err
		}
		cur = &next
		first := c % len(members)
		reached := make([]time.Duration, len(members))
		start := time.Now()
		if err := nodes[first].node.OfferManifest(cur); err != nil {
			return fmt.Errorf("offer serial %d to %s: %w", cur.Serial, members[first], err)
		}
		for left := len(members); left > 0; {
			if time.Since(start) > 30*time.Second {
				return fmt.Errorf("serial %d given to %s reached %d of %d members in 30s", cur.Serial, members[first], len(members)-left, len(members))
			}
			now := time.Since(start)
			for i, n := range nodes {
				if reached[i] == 0 && n.node.Manifest().Serial >= cur.Serial {
					reached[i], left = now, left-1
				}
			}
			time.Sleep(time.Millisecond)
		}
		var worst time.Duration
		for i, d := range reached {
			if i != first {
				all = append(all, d)
				worst = max(worst, d)
			}
		}
		slowest = append(slowest, worst)
		fmt.Fprintf(os.Stderr, "serial %d given to %s: all %d members in %s\n", cur.Serial, members[first], len(members), worst.Round(time.Millisecond))
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	sort.Slice(slowest, func(i, j int) bool { return slowest[i] < slowest[j] })
	every := "default 5 s"
	if *interval > 0 {
		every = interval.String()
	}
	fmt.Printf("Manifest change on a %d-member loopback federation (%s topology; mutual TLS; sync interval %s), %d changes, each to another member:\n\n",
		len(members), *topology, every, *changes)
	fmt.Printf("| offer → in use on | samples | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|\n")
	fmt.Printf("| each other member | %d | %s | %s | %s |\n", len(all), ms(all[len(all)/2]), ms(all[len(all)*99/100]), ms(all[len(all)-1]))
	fmt.Printf("| all %d members (the slowest of each change) | %d | %s | %s | %s |\n", len(members), len(slowest),
		ms(slowest[len(slowest)/2]), ms(slowest[len(slowest)*99/100]), ms(slowest[len(slowest)-1]))
	return nil
}

// manifestPeers says whom each member pulls from and announces to.
func manifestPeers(members []string, topology string) (map[string][]string, error) {
	n := len(members)
	peers := map[string][]string{}
	add := func(a, b int) {
		if a != b && a >= 0 && b >= 0 && a < n && b < n && !slices.Contains(peers[members[a]], members[b]) {
			peers[members[a]] = append(peers[members[a]], members[b])
		}
	}
	for i := range members {
		switch topology {
		case "ring":
			for _, d := range []int{-2, -1, 1, 2} {
				add(i, (i+d+n)%n)
			}
		case "line":
			add(i, i-1)
			add(i, i+1)
		case "star":
			if i == 0 { // the ministry
				for j := 1; j < n; j++ {
					add(0, j)
				}
			} else {
				add(i, 0)
			}
		default:
			return nil, fmt.Errorf("unknown topology %q (ring, line or star)", topology)
		}
	}
	return peers, nil
}
