package replication

import (
	"fmt"
	"time"
)

// isolatedAfter is how long the pulls from every peer of a node may fail
// before its health says it is cut off.
var isolatedAfter = 5 * time.Minute

// Isolated says, when the node has peers and its pulls from every one of
// them have failed for isolatedAfter, that it receives nothing; else "". A
// node whose peers are all removed members, or all away, said it was
// healthy, and `sync status --all` called the federation converged while
// it took in no write (an outside review). It names no peer and none of
// their errors: /healthz shows it to anyone, and a peer's error is the
// peer's text (a hostile member made each health answer 12 MB of its
// choosing, lines of its own among them: an outside review); sync status,
// an admin's, shows each peer's.
func (e *Engine) Isolated(now time.Time) string {
	peers := e.peerList()
	if len(peers) == 0 {
		return ""
	}
	for _, p := range peers {
		p.mu.Lock()
		since := p.failingSince
		p.mu.Unlock()
		if since.IsZero() || now.Sub(since) < isolatedAfter {
			return ""
		}
	}
	return fmt.Sprintf("no pull from any of this node's %d peers has worked for %s, so it receives no other node's writes: provex sync status shows each peer's last error", len(peers), isolatedAfter)
}

// MovedAway says, while the manifest in effect gives this node another
// sync address than Config.Address (the one it listens for), that nodes
// on that manifest cannot reach it until it restarts there, naming both
// addresses if withAddresses; else "". Such a node said so in one log
// line, while its health said ok and sync status nothing (an outside
// review). Health names no address: it is anyone's.
func (e *Engine) MovedAway(withAddresses bool) string {
	m := e.manifest()
	mem, ok := m.Member(e.cfg.Member)
	if e.cfg.Address == "" || !ok || mem.Address == e.cfg.Address {
		return ""
	}
	where := ""
	if withAddresses {
		where = fmt.Sprintf(" (%s; it listens for %s)", mem.Address, e.cfg.Address)
	}
	return fmt.Sprintf("the federation manifest (serial %d) moves this node to another sync address%s: restart it to listen there; until then nodes on this manifest cannot reach it", m.Serial, where)
}
