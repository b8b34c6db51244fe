// Package changelog defines the append-only change log every node keeps:
// one entry per record change, numbered consecutively per origin, stamped
// with a hybrid logical clock and chained by hash to the entry before it.
// Storage appends entries in the same transaction as the record change; sync
// ships and verifies them. The hash covers every field, so a relaying node
// can neither alter an entry nor drop one without breaking the chain, and
// the origin signs checkpoints (sequence number and head hash) so nobody can
// forge a chain either.
//
// Every entry travels whole to every node. A state that not everyone may
// read is sealed at its origin (Sealer): the entry carries only ciphertext,
// and the hash covers that ciphertext, so any node can store, verify and
// relay it while only its readers can open it. Checker verifies a stored log
// (chain, checkpoint signatures) and names the damaged ranges.
package changelog

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/provex/provex/internal/filter"
)

// HashSize is the size of entry hashes (SHA-256).
const HashSize = sha256.Size

// FormatVersion is the version of the entry format and its hash; a node
// refuses a data directory written in another.
const FormatVersion = 3

// Entry is one change in an origin's log.
type Entry struct {
	// Origin is the member that made the change and owns the record.
	Origin string
	// Seq numbers the origin's entries 1, 2, 3 ... without gaps.
	Seq uint64
	// HLC is the hybrid logical clock time of the change (see Clock).
	HLC int64
	// Name is the resource name of the changed record; empty when the entry
	// is sealed (the name is inside).
	Name string
	// Data is the record's full new state, deterministic protobuf bytes (a
	// delete is a state with delete_time set: a tombstone that syncs), or,
	// when Sealed, the envelope that holds it (see Sealer).
	Data []byte
	// Sealed says Data is an envelope only the record's readers can open.
	Sealed bool
	// PrevHash is the hash of entry Seq-1 (all zero for Seq 1).
	PrevHash []byte
	// Hash is Sum(entry).
	Hash []byte
}

// hashDomain separates entry hashes from any other SHA-256 use.
const hashDomain = "provex/changelog/v3\x00"

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
	if e.Sealed {
		h.Write([]byte{1})
	} else {
		h.Write([]byte{0})
	}
	writeBytes([]byte(e.Name))
	writeBytes(e.Data)
	writeBytes(e.PrevHash)
	return h.Sum(nil)
}

// Verify checks that the entry is internally consistent: its hash matches
// its content, and a sealed entry names no record. Chain continuity
// (PrevHash and Seq) is the caller's to check against the entry before.
func Verify(e *Entry) bool {
	return len(e.PrevHash) == HashSize && (!e.Sealed || e.Name == "") && bytes.Equal(Sum(e), e.Hash)
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

// Verify checks the signature with the origin's public keys: its current
// one and those it retired by a rotation; any of them will do.
func (c Checkpoint) Verify(keys ...ed25519.PublicKey) bool {
	if len(c.Signature) != ed25519.SignatureSize {
		return false
	}
	msg := checkpointMessage(c.Origin, c.Seq, c.Hash)
	for _, pub := range keys {
		if len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, msg, c.Signature) {
			return true
		}
	}
	return false
}

// ZeroHash is the PrevHash of an origin's first entry.
var ZeroHash = make([]byte, HashSize)

// Clock is a hybrid logical clock packed into Unix nanoseconds: it follows
// the wall clock but never repeats or goes back, and it moves past any time
// it observes from other nodes, so causally later changes always carry a
// later time even across machines whose clocks disagree. Its times are
// within filter.MinTimestamp..MaxTimestamp, the times a node keeps (an
// entry's time is its state's update time): a wall clock outside them
// counts as the bound, and past the last of them the clock has no time
// to give.
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

// ErrNoTime is the error of Clock.Now when no time a node keeps is later
// than the clock's last.
var ErrNoTime = errors.New("the node's clock has no later time a node keeps")

// Now returns a time greater than every time returned or observed before,
// or an error wrapping ErrNoTime when that would be after
// filter.MaxTimestamp. A wall clock at 2262 or later dated a node's
// writes past what nanoseconds hold, and then, last+1 wrapping, in 1677:
// its own log's times went back (an outside review).
func (c *Clock) Now() (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	wall, max := c.wall(), filter.MaxTimestamp.UnixNano()
	t := keptTime(wall).UnixNano()
	if t <= c.last {
		if c.last >= max {
			if wall.After(filter.MaxTimestamp) {
				return 0, fmt.Errorf("%w: the machine's clock reads %s, past %s, the last time a node keeps; set it right", ErrNoTime,
					wall.UTC().Format(time.RFC3339Nano), filter.MaxTimestamp.Format(time.RFC3339))
			}
			return 0, fmt.Errorf("%w: the node's log is already dated %s, at or past %s, the last time a node keeps", ErrNoTime,
				time.Unix(0, c.last).UTC().Format(time.RFC3339Nano), filter.MaxTimestamp.Format(time.RFC3339))
		}
		t = c.last + 1
	}
	c.last = t
	return t, nil
}

// keptTime is wall within filter.MinTimestamp..MaxTimestamp: past them, a
// time has no Unix nanoseconds.
func keptTime(wall time.Time) time.Time {
	switch {
	case wall.Before(filter.MinTimestamp):
		return filter.MinTimestamp
	case wall.After(filter.MaxTimestamp):
		return filter.MaxTimestamp
	}
	return wall
}

// MaxClockAhead is how far past its wall clock a node's clock moves for a
// time seen in another node's entry. Precedence is decided within one
// origin's log, so the clock orders causally later changes across machines
// whose clocks disagree by up to this much; beyond it, one member's entry
// dated far ahead (a machine's clock set wrong, or on purpose) would carry
// every node's clock with it, and every later write everywhere would be
// dated then: past the times nodes accept, and refused by all the others.
const MaxClockAhead = 5 * time.Minute

// Observe moves the clock past a time seen in another node's entry, up to
// MaxClockAhead past the wall clock (and no further than
// filter.MaxTimestamp).
func (c *Clock) Observe(remote int64) {
	c.mu.Lock()
	if limit := keptTime(c.wall().Add(MaxClockAhead)).UnixNano(); remote > limit {
		remote = limit
	}
	if remote > c.last {
		c.last = remote
	}
	c.mu.Unlock()
}

// Continue moves the clock past a time of the node's own log (its entries
// given back by peers): its own times never go back, wherever they are.
func (c *Clock) Continue(own int64) {
	c.mu.Lock()
	if own > c.last {
		c.last = own
	}
	c.mu.Unlock()
}
