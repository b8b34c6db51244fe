package replication

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// isolatedAfter is how long the pulls from every peer of a node may fail
// before its health says it is cut off.
var isolatedAfter = 5 * time.Minute

// Isolated says, when the node has peers and its pulls from every one of
// them have failed for isolatedAfter, that it receives nothing, with each
// peer's last error; else "". A node whose peers are all removed members,
// or all away, said it was healthy, and `sync status --all` called the
// federation converged while it took in no write (an outside review).
func (e *Engine) Isolated(now time.Time) string {
	peers := e.peerList()
	if len(peers) == 0 {
		return ""
	}
	why := make([]string, 0, len(peers))
	for _, p := range peers {
		p.mu.Lock()
		since, err := p.failingSince, p.lastError
		p.mu.Unlock()
		if since.IsZero() || now.Sub(since) < isolatedAfter {
			return ""
		}
		why = append(why, p.member+": "+err)
	}
	slices.Sort(why)
	return fmt.Sprintf("no pull from any of this node's %d peers has worked for %s, so it receives no other node's writes: %s", len(peers), isolatedAfter, strings.Join(why, "; "))
}
