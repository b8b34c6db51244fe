package changelog

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// testLog is an origin's log of n entries with a checkpoint every `every`
// entries and at the end.
func testLog(t *testing.T, n, every int) ([]Entry, []Checkpoint, ed25519.PublicKey) {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(nil)
	entries, cps := testLogSignedBy(key, n, every)
	return entries, cps, key.Public().(ed25519.PublicKey)
}

// testLogSignedBy is testLog with checkpoints signed by key.
func testLogSignedBy(key ed25519.PrivateKey, n, every int) ([]Entry, []Checkpoint) {
	prev := ZeroHash
	var entries []Entry
	var cps []Checkpoint
	for i := 1; i <= n; i++ {
		e := Entry{Origin: "cao-bang", Seq: uint64(i), HLC: int64(i), Name: fmt.Sprintf("provinces/cao-bang/agreements/a%d", i),
			Data: []byte(fmt.Sprintf("state %d", i)), PrevHash: prev}
		if i%3 == 0 {
			e.Name, e.Sealed = "", true
		}
		e.Hash = Sum(&e)
		prev = e.Hash
		entries = append(entries, e)
		if i%every == 0 || i == n {
			cps = append(cps, SignCheckpoint(key, "cao-bang", e.Seq, e.Hash))
		}
	}
	return entries, cps
}

// check feeds a log to a checker as storage does: entries in order, each
// checkpoint after the entry it names.
func check(entries []Entry, cps []Checkpoint, key ed25519.PublicKey, after uint64, afterHash []byte) *Checker {
	return feed(NewChecker("cao-bang", []ed25519.PublicKey{key}, after, afterHash), entries, cps)
}

// feed gives c a log as storage does and ends the check.
func feed(c *Checker, entries []Entry, cps []Checkpoint) *Checker {
	i := 0
	for _, cp := range cps {
		for ; i < len(entries) && entries[i].Seq <= cp.Seq; i++ {
			c.Entry(&entries[i])
		}
		c.Checkpoint(cp)
	}
	for ; i < len(entries); i++ {
		c.Entry(&entries[i])
	}
	head := uint64(0)
	if len(entries) > 0 {
		head = entries[len(entries)-1].Seq
	}
	c.End(head)
	return c
}

func clone(entries []Entry) []Entry {
	out := make([]Entry, len(entries))
	for i, e := range entries {
		e.Data, e.Hash, e.PrevHash = bytes.Clone(e.Data), bytes.Clone(e.Hash), bytes.Clone(e.PrevHash)
		out[i] = e
	}
	return out
}

func TestCheckerFindsDamage(t *testing.T) {
	entries, cps, key := testLog(t, 40, 10)
	if c := check(entries, cps, key, 0, nil); len(c.Damaged()) != 0 || c.Verified() != 40 {
		t.Fatalf("intact log: damaged %v, verified %d, %v", c.Damaged(), c.Verified(), c.Problems())
	}
	r := func(first, last uint64) Range { return Range{"cao-bang", first, last} }
	cases := []struct {
		name     string
		edit     func(es []Entry, cps []Checkpoint) ([]Entry, []Checkpoint)
		damaged  []Range
		verified uint64
		badCPs   int
	}{
		{"a byte of data", func(es []Entry, cps []Checkpoint) ([]Entry, []Checkpoint) {
			es[14].Data[0] ^= 1
			return es, cps
		}, []Range{r(15, 15)}, 10, 0},
		{"a byte of a sealed entry", func(es []Entry, cps []Checkpoint) ([]Entry, []Checkpoint) {
			es[23].Data[2] ^= 1
			return es, cps
		}, []Range{r(24, 24)}, 20, 0},
		{"a byte of a hash", func(es []Entry, cps []Checkpoint) ([]Entry, []Checkpoint) {
			es[4].Hash[0] ^= 1
			return es, cps
		}, []Range{r(5, 5)}, 0, 0},
		{"entries deleted", func(es []Entry, cps []Checkpoint) ([]Entry, []Checkpoint) {
			return append(es[:11:11], es[14:]...), cps
		}, []Range{r(12, 14)}, 10, 0},
		{"newest entries deleted", func(es []Entry, cps []Checkpoint) ([]Entry, []Checkpoint) {
			return es[:36], cps
		}, []Range{r(37, 40)}, 30, 0},
		{"an entry rewritten whole", func(es []Entry, cps []Checkpoint) ([]Entry, []Checkpoint) {
			es[16].Data = []byte("forged")
			es[16].Hash = Sum(&es[16])
			return es, cps
		}, []Range{r(17, 18)}, 10, 0},
		{"a run rewritten whole up to the head", func(es []Entry, cps []Checkpoint) ([]Entry, []Checkpoint) {
			for i := 33; i < 40; i++ {
				es[i].Data = []byte("forged")
				es[i].PrevHash = es[i-1].Hash
				es[i].Hash = Sum(&es[i])
			}
			return es, cps
		}, []Range{r(31, 40)}, 30, 0},
		{"a checkpoint's signature", func(es []Entry, cps []Checkpoint) ([]Entry, []Checkpoint) {
			cps[1].Signature[0] ^= 1
			return es, cps
		}, nil, 40, 1},
		{"the newest checkpoint's signature", func(es []Entry, cps []Checkpoint) ([]Entry, []Checkpoint) {
			cps[3].Signature[0] ^= 1
			return es, cps
		}, []Range{r(31, 40)}, 30, 1},
		// A checkpoint that does not verify names no entry: its seq made
		// 4,096 entries past the head looked missing, for good (an
		// outside review).
		{"the newest checkpoint's seq past the head", func(es []Entry, cps []Checkpoint) ([]Entry, []Checkpoint) {
			cps[3].Seq += 4096
			return es, cps
		}, []Range{r(31, 40)}, 30, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			es := clone(entries)
			cs := append([]Checkpoint(nil), cps...)
			for i := range cs {
				cs[i].Signature = bytes.Clone(cs[i].Signature)
			}
			es, cs = tc.edit(es, cs)
			c := check(es, cs, key, 0, nil)
			if len(c.Why()) != len(c.Damaged()) {
				t.Errorf("%d ranges damaged, %d said why", len(c.Damaged()), len(c.Why()))
			}
			for i, why := range c.Why() {
				if !strings.Contains(why, "entr") || strings.Contains(why, "checkpoint "+c.origin) {
					t.Errorf("range %v: why %q is not about its entries", c.Damaged()[i], why)
				}
			}
			if !reflect.DeepEqual(c.Damaged(), tc.damaged) || c.Verified() != tc.verified || len(c.BadCheckpoints()) != tc.badCPs {
				t.Errorf("damaged %v verified %d bad checkpoints %v, want %v %d %d\n%v", c.Damaged(), c.Verified(), c.BadCheckpoints(),
					tc.damaged, tc.verified, tc.badCPs, c.Problems())
			}
		})
	}
}

// TestCheckerIncremental: a check that resumes after a verified entry
// sees what came after it, and links to it.
func TestCheckerIncremental(t *testing.T) {
	entries, cps, key := testLog(t, 30, 10)
	c := check(entries[20:], cps[2:], key, 20, entries[19].Hash)
	if len(c.Damaged()) != 0 || c.Verified() != 30 {
		t.Fatalf("resumed check: %v %d %v", c.Damaged(), c.Verified(), c.Problems())
	}
	c = check(entries[20:], cps[2:], key, 20, bytes.Repeat([]byte{1}, 32))
	if want := []Range{{"cao-bang", 20, 21}}; !reflect.DeepEqual(c.Damaged(), want) {
		t.Fatalf("resumed after another chain: %v, want %v", c.Damaged(), want)
	}
	if c := check(nil, nil, key, 0, nil); len(c.Damaged()) != 0 {
		t.Fatalf("empty log: %v", c.Damaged())
	}
}

// TestCheckerDroppedKeys: after the origin rotated its key, signed its
// head with the new one, and the manifest dropped the old key, the old
// key's checkpoints of entries the new checkpoint proves are superseded,
// not bad; one with a changed signature, one of a hash the chain does not
// hold, and those no checkpoint of a listed key proves are bad.
func TestCheckerDroppedKeys(t *testing.T) {
	oldPub, oldKey, _ := ed25519.GenerateKey(nil)
	newPub, newKey, _ := ed25519.GenerateKey(nil)
	entries, old := testLogSignedBy(oldKey, 20, 5) // checkpoints at 5, 10, 15, 20
	// The origin signed its head with the new key: a node kept that one.
	rotated := append(append([]Checkpoint(nil), old[:3]...), SignCheckpoint(newKey, "cao-bang", 20, entries[19].Hash))
	changed := func(i int, edit func(*Checkpoint)) []Checkpoint {
		cs := append([]Checkpoint(nil), rotated...)
		cs[i].Signature = bytes.Clone(cs[i].Signature)
		edit(&cs[i])
		return cs
	}
	damaged := clone(entries)
	damaged[11].Data[0] ^= 1
	cases := []struct {
		name            string
		entries         []Entry
		cps             []Checkpoint
		dropped         bool
		superseded, bad []uint64
		verified        uint64
	}{
		{"the dropped key's, proven by the new head", entries, rotated, true, []uint64{5, 10, 15}, nil, 20},
		{"the same, the dropped keys not given", entries, rotated, false, nil, []uint64{5, 10, 15}, 20},
		{"a changed signature", entries, changed(1, func(cp *Checkpoint) { cp.Signature[0] ^= 1 }), true, []uint64{5, 15}, []uint64{10}, 20},
		{"a hash the chain does not hold, signed with the dropped key", entries, changed(1, func(cp *Checkpoint) {
			*cp = SignCheckpoint(oldKey, "cao-bang", 10, entries[8].Hash)
		}), true, []uint64{5, 15}, []uint64{10}, 20},
		{"no checkpoint of a listed key after them", entries, old, true, nil, []uint64{5, 10, 15, 20}, 0},
		{"an entry damaged before the new head", damaged, rotated, true, nil, []uint64{5, 10, 15}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := NewChecker("cao-bang", []ed25519.PublicKey{newPub}, 0, nil)
			if tc.dropped {
				c.DroppedKeys([]ed25519.PublicKey{oldPub})
			}
			feed(c, tc.entries, tc.cps)
			if fmt.Sprint(c.Superseded()) != fmt.Sprint(tc.superseded) || fmt.Sprint(c.BadCheckpoints()) != fmt.Sprint(tc.bad) || c.Verified() != tc.verified {
				t.Errorf("superseded %v, bad %v, verified %d; want %v, %v, %d\n%v", c.Superseded(), c.BadCheckpoints(), c.Verified(),
					tc.superseded, tc.bad, tc.verified, c.Problems())
			}
		})
	}
}
