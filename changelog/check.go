package changelog

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
)

// Range is a run of one origin's entries, First to Last inclusive.
type Range struct {
	Origin      string
	First, Last uint64
}

func (r Range) String() string {
	if r.First == r.Last {
		return fmt.Sprintf("%s/%d", r.Origin, r.First)
	}
	return fmt.Sprintf("%s/%d..%d", r.Origin, r.First, r.Last)
}

// A Checker verifies one origin's log as a node stores it, fed in sequence
// order: each entry must match its hash and link to the entry before, and
// each checkpoint must carry the origin's signature and the hash of the
// entry it names. It finds what a changed byte, a deleted row or a
// consistently rewritten run leaves behind, and names the damaged ranges,
// which the node then never serves and fetches again from its peers.
type Checker struct {
	origin string
	keys   []ed25519.PublicKey
	next   uint64
	// prev is the hash entry next must link to; nil when entry next-1 is
	// damaged, so the link cannot be judged.
	prev []byte
	// hashes holds the stored hash of each entry since the last verified
	// checkpoint, to compare with the next checkpoint.
	hashes map[uint64][]byte
	// verified is the newest checkpoint that matched its entry, with every
	// entry up to it found intact.
	verified uint64
	// matched is the newest checkpoint that matched its entry, damaged
	// entries before it or not.
	matched        uint64
	damagedSince   uint64 // 0: nothing damaged after verified
	damaged        []Range
	badCheckpoints []uint64
	maxCheckpoint  uint64
	problems       []string
	why            []string // what was found first in each damaged range
	// dropped are keys a manifest once listed for the origin and a later
	// one dropped (DroppedKeys); waiting are the checkpoints they sign
	// until a checkpoint of a listed key proves the chain past them, and
	// superseded those it did.
	dropped             []ed25519.PublicKey
	waiting, superseded []uint64
}

// DroppedKeys has the check take checkpoints that keys, which the origin
// held once and the manifest no longer lists, signed of an entry the chain
// holds, when a later checkpoint of a listed key proves every entry up to
// it intact: such a checkpoint is no damage, though no listed key verifies
// it (Superseded), and goes. One the next listed checkpoint does not prove
// is a bad checkpoint, as are those no dropped key verifies.
func (c *Checker) DroppedKeys(keys []ed25519.PublicKey) { c.dropped = keys }

// NewChecker starts checking origin's log after entry `after`, whose hash
// is afterHash (the zero hash for 0). keys (the origin's current and retired
// ones) verify checkpoint signatures.
func NewChecker(origin string, keys []ed25519.PublicKey, after uint64, afterHash []byte) *Checker {
	if after == 0 {
		afterHash = ZeroHash
	}
	return &Checker{origin: origin, keys: keys, next: after + 1, prev: afterHash, hashes: map[uint64][]byte{}, verified: after, matched: after}
}

func (c *Checker) damage(first, last uint64, format string, args ...any) {
	if n := len(c.damaged); n > 0 && c.damaged[n-1].Last+1 >= first {
		c.damaged[n-1].Last = max(c.damaged[n-1].Last, last)
	} else {
		c.damaged = append(c.damaged, Range{Origin: c.origin, First: first, Last: last})
		c.why = append(c.why, fmt.Sprintf(format, args...))
	}
	if c.damagedSince == 0 || first < c.damagedSince {
		c.damagedSince = first
	}
	if len(c.problems) < 100 {
		c.problems = append(c.problems, fmt.Sprintf(format, args...))
	}
}

// Entry checks the next stored entry (its Seq may skip: the skipped ones
// are missing).
func (c *Checker) Entry(e *Entry) {
	if e.Seq < c.next {
		return
	}
	if e.Seq > c.next {
		c.damage(c.next, e.Seq-1, "entries %s are missing", Range{c.origin, c.next, e.Seq - 1})
		c.prev = nil
	}
	intact := e.Origin == c.origin && Verify(e)
	switch {
	case !intact:
		c.damage(e.Seq, e.Seq, "entry %s/%d does not match its hash", c.origin, e.Seq)
	case c.prev != nil && !bytes.Equal(e.PrevHash, c.prev):
		// Both are self-consistent: one of them was rewritten whole (entry
		// 1 alone when it is the first).
		c.damage(max(e.Seq-1, 1), e.Seq, "entry %s/%d does not link to entry %d", c.origin, e.Seq, e.Seq-1)
	}
	c.hashes[e.Seq] = e.Hash
	c.prev = nil
	if intact {
		c.prev = e.Hash
	}
	c.next = e.Seq + 1
}

// Checkpoint checks a stored checkpoint of the origin; entries up to its
// Seq must have been fed already. A checkpoint with a bad signature is
// reported (BadCheckpoints): the node drops it and gets another. A good one
// that does not match its entry means the entries since the last good one
// were rewritten.
func (c *Checker) Checkpoint(cp Checkpoint) {
	if cp.Seq <= c.matched {
		return
	}
	if cp.Origin != c.origin || !cp.Verify(c.keys...) {
		if cp.Origin == c.origin && len(c.dropped) > 0 && bytes.Equal(c.hashes[cp.Seq], cp.Hash) && cp.Verify(c.dropped...) {
			c.waiting = append(c.waiting, cp.Seq)
			return
		}
		// Not the origin's: it says nothing of entries past the head.
		c.badCheckpoint(cp.Seq, "checkpoint %s/%d does not carry %s's signature", c.origin, cp.Seq, c.origin)
		return
	}
	c.maxCheckpoint = max(c.maxCheckpoint, cp.Seq)
	stored, ok := c.hashes[cp.Seq]
	if !ok {
		return // the entry is missing: already damaged
	}
	if !bytes.Equal(stored, cp.Hash) {
		c.damage(c.matched+1, cp.Seq, "entries %s disagree with %s's signed checkpoint %d", Range{c.origin, c.matched + 1, cp.Seq}, c.origin, cp.Seq)
	}
	c.matched = cp.Seq
	if c.damagedSince == 0 {
		c.verified = cp.Seq
		c.superseded = append(c.superseded, c.waiting...)
	} else {
		c.dropWaiting()
	}
	c.waiting = nil
	for s := range c.hashes {
		if s <= cp.Seq {
			delete(c.hashes, s)
		}
	}
}

// End closes the check at the origin's last stored entry: a signed
// checkpoint beyond it means the newest entries are missing, and entries
// beyond the last good checkpoint are unproven (their checkpoint is gone).
func (c *Checker) End(head uint64) {
	c.dropWaiting()
	if c.maxCheckpoint > head {
		c.damage(head+1, c.maxCheckpoint, "entries %s are missing (a checkpoint names %d)", Range{c.origin, head + 1, c.maxCheckpoint}, c.maxCheckpoint)
	}
	if c.matched < head && c.maxCheckpoint <= head {
		c.damage(c.matched+1, head, "entries %s have no valid checkpoint", Range{c.origin, c.matched + 1, head})
	}
}

// badCheckpoint reports the checkpoint at seq as bad, saying why.
func (c *Checker) badCheckpoint(seq uint64, format string, args ...any) {
	c.badCheckpoints = append(c.badCheckpoints, seq)
	if len(c.problems) < 100 {
		c.problems = append(c.problems, fmt.Sprintf(format, args...))
	}
}

// dropWaiting reports the checkpoints of dropped keys that no checkpoint
// of a listed key proved as bad.
func (c *Checker) dropWaiting() {
	for _, seq := range c.waiting {
		c.badCheckpoint(seq, "checkpoint %s/%d is signed with a key the manifest dropped, and no later checkpoint of a key it lists proves its entries", c.origin, seq)
	}
	c.waiting = nil
}

// Superseded returns the seqs of stored checkpoints signed with dropped
// keys (DroppedKeys) that a later checkpoint of a listed key proved.
func (c *Checker) Superseded() []uint64 { return c.superseded }

// Verified is the last entry proven intact: every entry up to it matches
// the chain and a valid checkpoint.
func (c *Checker) Verified() uint64 { return c.verified }

// Damaged returns the damaged ranges found, in order.
func (c *Checker) Damaged() []Range { return c.damaged }

// Why returns, for each range Damaged returns, what was found first in it.
func (c *Checker) Why() []string { return c.why }

// BadCheckpoints returns the seqs of stored checkpoints whose signature
// does not verify.
func (c *Checker) BadCheckpoints() []uint64 { return c.badCheckpoints }

// Problems describes what was found, at most 100 lines.
func (c *Checker) Problems() []string { return c.problems }
