// Package changelog defines the append-only change log every node keeps:
// one entry per record change, numbered consecutively per origin, stamped
// with a hybrid logical clock and chained by hash to the entry before it.
// Storage appends entries in the same transaction as the record change; sync
// ships and verifies them. The hash covers every field, so a relaying node
// can neither alter an entry nor drop one without breaking the chain, and
// the origin signs checkpoints (sequence number and head hash) so nobody can
// forge a chain either.
//
// The hash covers the data through its own hash, so an entry can travel
// without its data (redacted) to a node that may not see the record, and
// still verify there.
package changelog

import (
	"bytes"
	"crypto/ed25519"
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
	// delete is a state with delete_time set (a tombstone that syncs). Nil
	// when the entry is redacted.
	Data []byte
	// DataHash is the SHA-256 of Data, kept when Data is redacted.
	DataHash []byte
	// Visibility and VisibleTo are those of the recorded state (the values
	// of provex.type.v1.Visibility), so any node can tell who may read it.
	Visibility int32
	VisibleTo  []string
	// PrevHash is the hash of entry Seq-1 (all zero for Seq 1).
	PrevHash []byte
	// Hash is Sum(entry).
	Hash []byte
}

// Redacted reports whether the entry travels without its data.
func (e *Entry) Redacted() bool { return e.Data == nil }

// DataSum is the hash of an entry's data.
func DataSum(data []byte) []byte {
	h := sha256.Sum256(data)
	return h[:]
}

// hashDomain separates entry hashes from any other SHA-256 use.
const hashDomain = "provex/changelog/v2\x00"

// Sum computes the entry's hash from every field but Hash itself (the data
// through DataHash). Variable fields are length-prefixed so no two entries
// encode alike.
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
	writeBytes(e.DataHash)
	binary.BigEndian.PutUint32(buf[:4], uint32(e.Visibility))
	h.Write(buf[:4])
	n := binary.PutUvarint(buf[:], uint64(len(e.VisibleTo)))
	h.Write(buf[:n])
	for _, v := range e.VisibleTo {
		writeBytes([]byte(v))
	}
	writeBytes(e.PrevHash)
	return h.Sum(nil)
}

// Verify checks that the entry is internally consistent: its data matches
// its data hash and its hash matches its content. Chain continuity (PrevHash
// and Seq) is the caller's to check against the entry before.
func Verify(e *Entry) bool {
	if e.Data != nil && !bytes.Equal(DataSum(e.Data), e.DataHash) {
		return false
	}
	return len(e.DataHash) == HashSize && bytes.Equal(Sum(e), e.Hash)
}

// Checkpoint is an origin's signed statement that entry Seq of its log has
// hash Hash. Verifying the signature of the newest checkpoint a node holds
// authenticates, through the hash chain, every entry up to it.
type Checkpoint struct {
	Origin    string
	Seq       uint64
	Hash      []byte
	Signature []byte
}

const checkpointDomain = "provex/checkpoint/v1\x00"

func checkpointMessage(origin string, seq uint64, hash []byte) []byte {
	msg := make([]byte, 0, len(checkpointDomain)+len(origin)+1+8+len(hash))
	msg = append(msg, checkpointDomain...)
	msg = append(msg, origin...)
	msg = append(msg, 0)
	msg = binary.BigEndian.AppendUint64(msg, seq)
	return append(msg, hash...)
}

// SignCheckpoint signs (origin, seq, hash) with the origin's key.
func SignCheckpoint(key ed25519.PrivateKey, origin string, seq uint64, hash []byte) Checkpoint {
	return Checkpoint{Origin: origin, Seq: seq, Hash: hash, Signature: ed25519.Sign(key, checkpointMessage(origin, seq, hash))}
}

// Verify checks the signature with the origin's public key.
func (c Checkpoint) Verify(pub ed25519.PublicKey) bool {
	return len(pub) == ed25519.PublicKeySize && len(c.Signature) == ed25519.SignatureSize &&
		ed25519.Verify(pub, checkpointMessage(c.Origin, c.Seq, c.Hash), c.Signature)
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
