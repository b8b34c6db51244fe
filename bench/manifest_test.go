package main

import (
	"slices"
	"testing"
)

// TestManifestPeers: every topology of bench manifest is symmetric (who
// pulls from a member also hears its announcements and is pulled from)
// and connected, and ring gives each member its two nearest on each side.
func TestManifestPeers(t *testing.T) {
	members := []string{"mofa", "a", "b", "c", "d", "e", "f"}
	for _, topology := range []string{"ring", "line", "star"} {
		peers, err := manifestPeers(members, topology)
		if err != nil {
			t.Fatal(err)
		}
		for m, ps := range peers {
			for _, p := range ps {
				if p == m || !slices.Contains(peers[p], m) {
					t.Errorf("%s: %s peers with %s, not the other way round", topology, m, p)
				}
			}
		}
		seen, queue := map[string]bool{"mofa": true}, []string{"mofa"}
		for len(queue) > 0 {
			m := queue[0]
			queue = queue[1:]
			for _, p := range peers[m] {
				if !seen[p] {
					seen[p], queue = true, append(queue, p)
				}
			}
		}
		if len(seen) != len(members) {
			t.Errorf("%s reaches %d of %d members", topology, len(seen), len(members))
		}
	}
	ring, _ := manifestPeers(members, "ring")
	if got := ring["mofa"]; !slices.Equal(got, []string{"e", "f", "a", "b"}) {
		t.Errorf("ring peers of mofa: %v", got)
	}
	if small, _ := manifestPeers(members[:3], "ring"); len(small["mofa"]) != 2 {
		t.Errorf("a ring of 3 gives mofa %v, want its 2 others once each", small["mofa"])
	}
	if _, err := manifestPeers(members, "mesh"); err == nil {
		t.Error("an unknown topology was taken")
	}
}
