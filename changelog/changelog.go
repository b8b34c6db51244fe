// Package changelog defines the append-only change log every node keeps:
// one entry per record change, numbered consecutively per origin, stamped
// with a hybrid logical clock and chained by hash to the entry before it.
// Storage appends entries in the same transaction as the record change; sync
// ships and verifies them. The hash covers every field, so a relaying node
// can neither alter an entry nor drop one without breaking the chain.
package changelog

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"
)

// HashSize is the size of entry hashes (SHA-256).
const HashSize = sha256.Size

// Entry is one change in an origin's log.
type Entry struct {
	// Origin is the member that made the change and owns the record.
	Origin string
	// Seq numbers the origin's entries 1, 2, 3 ... without gaps.
	Seq uint64
	// HLC is the hybrid logical clock time of the change (see Clock).
	HLC int64
	// Name is the resource name of the changed record.
	Name string
	// Data is the record's full new state, deterministic protobuf bytes; a
	// delete is a state with delete_time set (a tombstone that syncs).
	Data []byte
	// PrevHash is the hash of entry Seq-1 (all zero for Seq 1).
	PrevHash []byte
	// Hash is Sum(entry).
	Hash []byte
}

// hashDomain separates entry hashes from any other SHA-256 use.
const hashDomain = "provex/changelog/v1\x00"

// Sum computes the entry's hash from every field but Hash itself. Variable
// fields are length-prefixed so no two entries encode alike.
func Sum(e *Entry) []byte {
	h := sha256.New()
	var buf [binary.MaxVarintLen64]byte
	writeBytes := func(b []byte) {
		n := binary.PutUvarint(buf[:], uint64(len(b)))
		h.Write(buf[:n])
		h.Write(b)
	}
	h.Write([]byte(hashDomain))
	writeBytes([]byte(e.Origin))
	binary.BigEndian.PutUint64(buf[:8], e.Seq)
	h.Write(buf[:8])
	binary.BigEndian.PutUint64(buf[:8], uint64(e.HLC))
	h.Write(buf[:8])
	writeBytes([]byte(e.Name))
	writeBytes(e.Data)
	writeBytes(e.PrevHash)
	return h.Sum(nil)
}

// ZeroHash is the PrevHash of an origin's first entry.
var ZeroHash = make([]byte, HashSize)

// Clock is a hybrid logical clock packed into Unix nanoseconds: it follows
// the wall clock but never repeats or goes back, and it moves past any time
// it observes from other nodes, so causally later changes always carry a
// later time even across machines whose clocks disagree.
type Clock struct {
	mu   sync.Mutex
	last int64
	wall func() time.Time
}

// NewClock starts a clock that will never return a time at or below last
// (the highest time already written to the log).
func NewClock(last int64, wall func() time.Time) *Clock {
	if wall == nil {
		wall = time.Now
	}
	return &Clock{last: last, wall: wall}
}

// Now returns a time greater than every time returned or observed before.
func (c *Clock) Now() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.wall().UnixNano()
	if t <= c.last {
		t = c.last + 1
	}
	c.last = t
	return t
}

// Observe moves the clock past a time seen in another node's entry.
func (c *Clock) Observe(remote int64) {
	c.mu.Lock()
	if remote > c.last {
		c.last = remote
	}
	c.mu.Unlock()
}
