package replication

import (
	"bytes"
	"sync"

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
// scan notes: about 2 MB of them. A relay sends one a message (up to 4 MiB
// of entries), so that covers some 64 GiB of a log; a peer that sends more
// fills them sooner, and the next scan, from where the pull got to, notes
// the next ones.
const maxProven = 1 << 14

// maxScanned bounds the entries one scan verifies: a peer that sends a chain
// without end is refused there, not read for ever.
const maxScanned = 50_000_000

// provenCheckpoints are the retired-key checkpoints of each origin that a
// scan showed to be on the chain its current key signed.
type provenCheckpoints struct {
	mu     sync.Mutex
	origin map[string]map[uint64][]byte
}

// add keeps the checkpoints noted up to seq, which a checkpoint of the
// current key proved; it returns how many.
func (p *provenCheckpoints) add(origin string, noted map[uint64][]byte, seq uint64) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.origin == nil {
		p.origin = map[string]map[uint64][]byte{}
	}
	kept := p.origin[origin]
	if kept == nil {
		kept = map[uint64][]byte{}
		p.origin[origin] = kept
	}
	n := 0
	for s, h := range noted {
		if s <= seq && len(kept) < maxProven {
			kept[s] = h
			n++
		}
	}
	return n
}

// proves says whether cp is a checkpoint a scan proved.
func (p *provenCheckpoints) proves(cp changelog.Checkpoint) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	h, ok := p.origin[cp.Origin][cp.Seq]
	return ok && bytes.Equal(h, cp.Hash)
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
		r.noted = map[uint64][]byte{}
	}
	if len(r.noted) < maxProven {
		r.noted[cp.Seq] = cp.Hash
	}
}
