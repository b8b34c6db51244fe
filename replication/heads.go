package replication

import (
	"context"
	"maps"
	"time"

	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
)

// What a node knows exists but has not applied is what its peers say
// they hold: the heads they announce and the checkpoints their pulls
// carry. A node's own checkpoints can say nothing of it (nothing is
// applied past a verified checkpoint), so the sync lag the metrics show
// is measured against these.
//
// A head is a peer's word, not proof (an announcement is not signed): it
// moves a metric, never what is applied. Only origins the manifest lists
// are kept, so a peer cannot grow the set of series, and a pull that ends
// well replaces what the peer said before it with what the pull showed.

// claim is the checkpointed head of an origin's log a peer said it holds,
// and when it said so.
type claim struct {
	seq uint64
	at  time.Time
}

// heard records heads a peer told this node of.
func (e *Engine) heard(p *peer, heads []*syncv1.Position, at time.Time) {
	m := e.manifest()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, h := range heads {
		if h.GetOrigin() == e.cfg.Member {
			continue
		}
		if _, ok := m.Member(h.GetOrigin()); !ok {
			continue
		}
		if p.heads == nil {
			p.heads = map[string]claim{}
		}
		if c := p.heads[h.GetOrigin()]; h.GetSeq() >= c.seq {
			p.heads[h.GetOrigin()] = claim{h.GetSeq(), at}
		}
	}
}

// pulled replaces what the peer said before a pull that ended well,
// started at start, with the heads the pull showed: what it could not
// give is not there.
func (p *peer) pulled(start time.Time, seen map[string]uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	maps.DeleteFunc(p.heads, func(_ string, c claim) bool { return c.at.Before(start) })
	for origin, seq := range seen {
		if p.heads == nil {
			p.heads = map[string]claim{}
		}
		if c, ok := p.heads[origin]; !ok || seq > c.seq {
			p.heads[origin] = claim{seq, start}
		}
	}
}

// maxAnnouncedHeads is AnnounceRequest.heads' limit (its max_items).
const maxAnnouncedHeads = 100

// ownHeads are the checkpointed heads of the logs this node holds, which
// it announces: what a peer pulling from it can get. A read per origin, so
// it is read once per round of announcements, not once per peer.
func (e *Engine) ownHeads(ctx context.Context) []*syncv1.Position {
	origins, err := e.cfg.Store.Origins(ctx)
	if err != nil {
		return nil
	}
	out := make([]*syncv1.Position, 0, len(origins))
	for _, o := range origins {
		if len(out) == maxAnnouncedHeads {
			break // an announcement over the limit would be refused whole
		}
		if o.Checkpoint.Seq > 0 {
			out = append(out, &syncv1.Position{Origin: o.Origin, Seq: o.Checkpoint.Seq, Hash: o.Checkpoint.Hash})
		}
	}
	return out
}

// PeerHeads are, per peer, the checkpointed heads of the origins' logs it
// last said it holds (its announcements, its pulls' checkpoints): with the
// store's positions, how far this node is behind each peer and each
// origin.
func (e *Engine) PeerHeads() map[string]map[string]uint64 {
	out := map[string]map[string]uint64{}
	for _, p := range e.peerList() {
		p.mu.Lock()
		h := make(map[string]uint64, len(p.heads))
		for origin, c := range p.heads {
			h[origin] = c.seq
		}
		p.mu.Unlock()
		out[p.member] = h
	}
	return out
}
