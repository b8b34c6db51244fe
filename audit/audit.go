// Package audit is the node's audit trail: one record per write made on
// the node (a user's create, update, delete or undelete, or a run of
// entries pulled from a sync peer), saying who made it, when, through
// which call and which change-log entries it produced. Records are
// hash-chained like the change log and written in the same transaction as
// the write they describe (storage/sqlstore does that), so a write without
// its audit record cannot exist.
//
// Reads are in the same chain: one read record per call that read national
// or restricted records (or any record, when the node audits every read),
// naming the records it returned. They name no change-log entries.
//
// Verification checks three things: the chain (an edited, inserted or
// removed record breaks it); its cover of the change log (every change-log
// entry the node holds was written by exactly one audited write, and every
// record names entries the log holds); and the head, which the node signs
// with its key in the commit that writes it, so that someone with the
// database file but not the key can neither rewrite and re-chain the
// records nor drop the newest ones unseen.
package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
)

// Record is one audited write or read.
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
	// Read marks a read record: Resource is what the call asked for (a
	// record, or a collection for a list or a summary) and Names the
	// records it returned; it names no change-log entries.
	Read     bool
	Names    []string
	PrevHash []byte
	Hash     []byte
}

// ActionRepair is the action of a record that restored damaged change-log
// entries from a peer's copies: it names entries the log already held, so
// it does not count toward the cover.
const ActionRepair = "sync.repair"

// ZeroHash is the PrevHash of record 1.
var ZeroHash = make([]byte, sha256.Size)

const (
	hashDomain = "provex/audit/v1\x00"
	// A read record has a domain of its own, so that the hashes of write
	// records are those of trails written before reads were audited.
	readDomain = "provex/audit-read/v1\x00"
)

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
	if r.Read {
		h.Write([]byte(readDomain))
	} else {
		h.Write([]byte(hashDomain))
	}
	num(r.Seq)
	num(r.Time)
	str([]byte(r.Actor))
	str([]byte(r.RequestID))
	str([]byte(r.Action))
	str([]byte(r.Resource))
	if r.Read {
		num(int64(len(r.Names)))
		for _, n := range r.Names {
			str([]byte(n))
		}
	}
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
	repairs  map[string][][2]int64
	// repairedOnly are, per origin, the entries whose only record is a
	// repair (Finish).
	repairedOnly map[string][][2]int64
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
	switch {
	case r.Read:
		if r.Origin != "" || r.FirstSeq != 0 || r.LastSeq != 0 || len(r.ChangeHash) != 0 {
			v.problem("read record %d names change-log entries", r.Seq)
		}
	case r.Origin == "" || r.FirstSeq < 1 || r.LastSeq < r.FirstSeq:
		v.problem("record %d names no change-log entries", r.Seq)
	case r.Action == ActionRepair:
		if v.repairs == nil {
			v.repairs = map[string][][2]int64{}
		}
		v.repairs[r.Origin] = append(v.repairs[r.Origin], [2]int64{r.FirstSeq, r.LastSeq})
	default:
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
	for _, m := range []map[string][][2]int64{v.covered, v.repairs} {
		for o := range m {
			if _, ok := heads[o]; !ok && !slices.Contains(origins, o) {
				origins = append(origins, o)
			}
		}
	}
	sort.Strings(origins)
	for _, o := range origins {
		ranges := v.covered[o]
		sort.Slice(ranges, func(i, j int) bool { return ranges[i][0] < ranges[j][0] })
		repairs := v.repairs[o]
		// Entries a repair put back where the log had none (a node
		// started on an older copy of its store takes its own newest
		// entries back from its peers; the records of their writes were
		// lost with the newer copy) have the repair as their only record.
		uncovered := func(first, last int64) {
			from := first
			for _, gap := range notCoveredBy(repairs, first, last) {
				v.problem("changes %s/%d..%d have no audit record", o, gap[0], gap[1])
				v.repaired(o, from, gap[0]-1)
				from = gap[1] + 1
			}
			v.repaired(o, from, last)
		}
		next := int64(1)
		for _, r := range ranges {
			switch {
			case r[0] > next:
				uncovered(next, r[0]-1)
			case r[0] < next:
				v.problem("changes %s/%d..%d are audited twice", o, r[0], min(next-1, r[1]))
			}
			next = max(next, r[1]+1)
		}
		for _, r := range repairs {
			if r[1] > heads[o] {
				v.problem("a repair names changes %s/%d..%d that the change log does not hold", o, r[0], r[1])
			}
		}
		if head := heads[o]; next <= head {
			uncovered(next, head)
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

func (v *Verifier) repaired(origin string, first, last int64) {
	if first > last {
		return
	}
	if v.repairedOnly == nil {
		v.repairedOnly = map[string][][2]int64{}
	}
	v.repairedOnly[origin] = append(v.repairedOnly[origin], [2]int64{first, last})
}

// RepairedOnly returns, after Finish, the ranges first..last of origin's
// entries whose only audit record is a repair, in order: entries a peer
// gave back where the log had none. Of the node's own origin, they are its
// own writes whose records were lost with the entries (the data directory
// rolled back, or restored from an older copy): the trail no longer says
// who made them.
func (v *Verifier) RepairedOnly(origin string) [][2]int64 { return v.repairedOnly[origin] }

// Last is the seq of the last record added, 0 when none was. It is the
// count of records only while none is missing.
func (v *Verifier) Last() int64 {
	if v.prev == nil {
		return 0
	}
	return v.prev.Seq
}

// notCoveredBy is what of first..last ranges together do not cover, in
// order.
func notCoveredBy(ranges [][2]int64, first, last int64) [][2]int64 {
	sorted := slices.Clone(ranges)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i][0] < sorted[j][0] })
	var gaps [][2]int64
	next := first
	for _, r := range sorted {
		if next > last {
			break
		}
		if r[0] > next {
			gaps = append(gaps, [2]int64{next, min(r[0]-1, last)})
		}
		next = max(next, r[1]+1)
	}
	if next <= last {
		gaps = append(gaps, [2]int64{next, last})
	}
	return gaps
}

// SignedHead is the node's signature of its trail's last record.
type SignedHead struct {
	Seq       int64
	Hash      []byte
	Signature []byte
}

const headDomain = "provex/audit-head/v1\x00"

func headMessage(member string, seq int64, hash []byte) []byte {
	msg := append([]byte(headDomain), member...)
	msg = append(msg, 0)
	msg = binary.BigEndian.AppendUint64(msg, uint64(seq))
	return append(msg, hash...)
}

// SignHead signs the head of member's trail: record seq has hash hash.
func SignHead(key ed25519.PrivateKey, member string, seq int64, hash []byte) []byte {
	return ed25519.Sign(key, headMessage(member, seq, hash))
}

// CheckHead checks the signed head against the trail's last record (seq
// last, hash head) with the node's public key; nil pub means the key was
// not at hand, which is a problem too, since nothing else shows a
// re-chained trail. A record missing before the last is not its to find:
// Verifier says which (CheckHead, given the count of records, said the
// newest were removed).
func CheckHead(signed SignedHead, member string, last int64, head []byte, pub ed25519.PublicKey) []string {
	switch {
	case last == 0 && signed.Seq == 0:
		return nil
	case signed.Signature == nil:
		return []string{fmt.Sprintf("the trail's head (record %d) carries no signature of the node key", last)}
	case signed.Seq != last || !bytes.Equal(signed.Hash, head):
		return []string{fmt.Sprintf("the node key signed record %d as the head, but the trail ends at record %d with another hash (records were removed, added or re-chained)", signed.Seq, last)}
	case pub == nil:
		return []string{"the head's signature was not checked: the node's public key was not given"}
	case !ed25519.Verify(pub, headMessage(member, signed.Seq, signed.Hash), signed.Signature):
		return []string{fmt.Sprintf("the signature of head record %d does not verify with the node's key", signed.Seq)}
	}
	return nil
}
