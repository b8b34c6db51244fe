package replication

import (
	"bytes"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/provex/provex/changelog"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
)

// A member's checkpoints from before a key rotation are signed with its
// retired key, which may be in other hands: a pull takes them as proof only
// of entries the node holds, and waits for the current key's checkpoint
// for the rest, holding the entries (maxPendingBytes). A relay that held the
// log before the rotation has only the retired key's checkpoints of it and
// the current key's of the head, so a log longer than a pull may hold could
// never be caught up from it.
//
// So when a run passes what a pull holds and the peer's checkpoints of it are
// the retired key's, the pull goes on verifying the chain link by link
// without holding the entries (scanning), noting the retired checkpoints
// that name an entry of it. When the current key's checkpoint names an
// entry of the same chain, every checkpoint noted before it is shown
// genuine: a forged entry cannot link to a hash the current key signed. Those
// are kept (proven), and the next pull, from the same position, applies the
// entries up to each in turn, as it would a relay's checkpoint signed before
// the rotation that the node's own copy of the log already held.

// maxProven bounds the proven checkpoints kept per origin, and the ones a
// scan notes: a few MB of them. When more are proven, those of the lowest
// seqs are kept, the ones a pull reaches first; as it applies past them
// they go (forget), and the next scan proves further ones. A peer sending
// a checkpoint for every entry, or for seqs far ahead, so fills the room
// no longer for good.
const maxProven = 1 << 14

// maxScanned bounds the entries one scan verifies: a peer that sends a chain
// without end is refused there, not read for ever.
const maxScanned = 50_000_000

// provenCheckpoints are the retired-key checkpoints of each origin that a
// scan showed to be on the chain its current key signed: each names a
// genuine entry, so a pull holding that entry applies up to it by the
// checkpoint kept here, whichever peer sends the entry and whether or not
// it sends that checkpoint again.
type provenCheckpoints struct {
	mu     sync.Mutex
	origin map[string]map[uint64]changelog.Checkpoint
	// some is whether any origin has one: a pull looks up each entry it
	// holds (of), and almost never needs to.
	some atomic.Bool
}

// add keeps the checkpoints noted up to seq, which a checkpoint of the
// current key proved, within maxProven the lowest; it returns how many it
// kept that it did not hold.
func (p *provenCheckpoints) add(origin string, noted map[uint64]changelog.Checkpoint, seq uint64) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.origin == nil {
		p.origin = map[string]map[uint64]changelog.Checkpoint{}
	}
	kept := p.origin[origin]
	if kept == nil {
		kept = map[uint64]changelog.Checkpoint{}
		p.origin[origin] = kept
	}
	added := map[uint64]bool{}
	for s, cp := range noted {
		if _, held := kept[s]; s <= seq && !held {
			kept[s] = cp
			added[s] = true
		}
	}
	if len(kept) > maxProven {
		seqs := slices.Sorted(maps.Keys(kept))
		for _, s := range seqs[maxProven:] {
			delete(kept, s)
			delete(added, s)
		}
	}
	if len(kept) == 0 {
		delete(p.origin, origin)
	}
	p.some.Store(len(p.origin) > 0)
	return len(added)
}

// proves says whether cp is a checkpoint a scan proved.
func (p *provenCheckpoints) proves(cp changelog.Checkpoint) bool {
	_, ok := p.of(cp.Origin, cp.Seq, cp.Hash)
	return ok
}

// of is the proven checkpoint of the entry (origin, seq, hash), if any.
func (p *provenCheckpoints) of(origin string, seq uint64, hash []byte) (changelog.Checkpoint, bool) {
	if !p.some.Load() {
		return changelog.Checkpoint{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	cp, ok := p.origin[origin][seq]
	return cp, ok && bytes.Equal(cp.Hash, hash)
}

// forget drops origin's proven checkpoints up to seq, entries the node
// holds now.
func (p *provenCheckpoints) forget(origin string, seq uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for s := range p.origin[origin] {
		if s <= seq {
			delete(p.origin[origin], s)
		}
	}
	if len(p.origin[origin]) == 0 {
		delete(p.origin, origin)
	}
	p.some.Store(len(p.origin) > 0)
}

// chainHash is the hash of the entry seq of r's chain, if this pull
// verified it and still knows it: a pending entry, the last one verified,
// or one of the message resp.
func (r *originRun) chainHash(origin string, seq uint64, resp *syncv1.PullResponse) ([]byte, bool) {
	if seq+1 == r.next {
		return r.prev, true
	}
	if len(r.pending) > 0 && seq >= r.pending[0].Seq && seq < r.next {
		return r.pending[seq-r.pending[0].Seq].Hash, true
	}
	for _, pe := range resp.GetEntries() {
		if pe.GetOrigin() == origin && pe.GetSeq() == seq && seq < r.next {
			return pe.GetHash(), true
		}
	}
	return nil, false
}

// note keeps a retired-key checkpoint of r's chain until a current-key
// checkpoint proves it.
func (r *originRun) note(cp changelog.Checkpoint) {
	if r.noted == nil {
		r.noted = map[uint64]changelog.Checkpoint{}
	}
	if len(r.noted) < maxProven {
		r.noted[cp.Seq] = cp
	}
}
