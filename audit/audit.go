// Package audit is the node's audit trail: one record per write made on
// the node (a user's create, update, delete or undelete, or a run of
// entries pulled from a sync peer), saying who made it, when, through
// which call and which change-log entries it produced. Records are
// hash-chained like the change log and written in the same transaction as
// the write they describe (storage/sqlite does that), so a write without
// its audit record cannot exist.
//
// Verify checks two things: the chain (an edited, inserted or removed
// record breaks it) and its cover of the change log (every change-log
// entry the node holds was written by exactly one audited write, so
// removing the newest records, which the chain alone cannot show, is found
// too).
package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sort"
)

// Record is one audited write.
type Record struct {
	Seq       int64 // consecutive from 1
	Time      int64 // Unix nanoseconds
	Actor     string
	RequestID string
	Action    string
	Resource  string
	// The change-log entries the write made: Origin's FirstSeq..LastSeq,
	// the last of which has hash ChangeHash.
	Origin     string
	FirstSeq   int64
	LastSeq    int64
	ChangeHash []byte
	PrevHash   []byte
	Hash       []byte
}

// ZeroHash is the PrevHash of record 1.
var ZeroHash = make([]byte, sha256.Size)

const hashDomain = "provex/audit/v1\x00"

// Sum is the hash of a record: every field but Hash, length-prefixed.
func Sum(r *Record) []byte {
	h := sha256.New()
	var buf [binary.MaxVarintLen64]byte
	str := func(b []byte) {
		n := binary.PutUvarint(buf[:], uint64(len(b)))
		h.Write(buf[:n])
		h.Write(b)
	}
	num := func(v int64) {
		binary.BigEndian.PutUint64(buf[:8], uint64(v))
		h.Write(buf[:8])
	}
	h.Write([]byte(hashDomain))
	num(r.Seq)
	num(r.Time)
	str([]byte(r.Actor))
	str([]byte(r.RequestID))
	str([]byte(r.Action))
	str([]byte(r.Resource))
	str([]byte(r.Origin))
	num(r.FirstSeq)
	num(r.LastSeq)
	str(r.ChangeHash)
	str(r.PrevHash)
	return h.Sum(nil)
}

// Next completes r as the record after prev (nil for the first): its
// sequence number, previous hash and hash.
func Next(prev *Record, r *Record) {
	r.Seq, r.PrevHash = 1, ZeroHash
	if prev != nil {
		r.Seq, r.PrevHash = prev.Seq+1, prev.Hash
	}
	r.Hash = Sum(r)
}

// MaxProblems bounds the problems a Verifier reports.
const MaxProblems = 100

// Verifier checks records fed to it in sequence order, then their cover of
// the change log (Finish). The zero value is ready.
type Verifier struct {
	prev     *Record
	count    int64
	problems []string
	covered  map[string][][2]int64
}

func (v *Verifier) problem(format string, args ...any) {
	if len(v.problems) < MaxProblems {
		v.problems = append(v.problems, fmt.Sprintf(format, args...))
	}
}

// Add checks the next record.
func (v *Verifier) Add(r Record) {
	v.count++
	wantSeq, wantPrev := int64(1), ZeroHash
	if v.prev != nil {
		wantSeq, wantPrev = v.prev.Seq+1, v.prev.Hash
	}
	switch {
	case r.Seq != wantSeq:
		v.problem("record %d follows record %d: %d record(s) missing or renumbered", r.Seq, wantSeq-1, r.Seq-wantSeq)
	case !bytes.Equal(r.PrevHash, wantPrev):
		v.problem("record %d does not link to record %d (a record was edited, removed or inserted)", r.Seq, wantSeq-1)
	}
	if !bytes.Equal(Sum(&r), r.Hash) {
		v.problem("record %d was edited: its hash does not match its content", r.Seq)
	}
	if r.Origin != "" {
		if v.covered == nil {
			v.covered = map[string][][2]int64{}
		}
		v.covered[r.Origin] = append(v.covered[r.Origin], [2]int64{r.FirstSeq, r.LastSeq})
	}
	v.prev = &r
}

// Finish checks that the records cover every origin's change log exactly:
// heads gives, per origin, the highest sequence number the node holds.
// It returns the number of records, the hash of the last and the problems
// found (none when the trail is intact).
func (v *Verifier) Finish(heads map[string]int64) (int64, []byte, []string) {
	origins := make([]string, 0, len(heads))
	for o := range heads {
		origins = append(origins, o)
	}
	for o := range v.covered {
		if _, ok := heads[o]; !ok {
			origins = append(origins, o)
		}
	}
	sort.Strings(origins)
	for _, o := range origins {
		ranges := v.covered[o]
		sort.Slice(ranges, func(i, j int) bool { return ranges[i][0] < ranges[j][0] })
		next := int64(1)
		for _, r := range ranges {
			switch {
			case r[0] > next:
				v.problem("changes %s/%d..%d have no audit record", o, next, r[0]-1)
			case r[0] < next:
				v.problem("changes %s/%d..%d are audited twice", o, r[0], min(next-1, r[1]))
			}
			next = max(next, r[1]+1)
		}
		if head := heads[o]; next <= head {
			v.problem("changes %s/%d..%d have no audit record", o, next, head)
		} else if next > head+1 {
			v.problem("audit records name changes %s/%d..%d that the change log does not hold", o, head+1, next-1)
		}
	}
	var head []byte
	if v.prev != nil {
		head = v.prev.Hash
	}
	return v.count, head, v.problems
}
