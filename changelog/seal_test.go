package changelog

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"slices"
	"strings"
	"testing"
)

func newKey(t testing.TB) *ecdh.PrivateKey {
	t.Helper()
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newSealer(t testing.TB, keys ...*ecdh.PrivateKey) *Sealer {
	t.Helper()
	s, err := NewSealer(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSealOpensForReadersOnly: the origin, the ministry and a listed
// province open the state; another member gets ErrNotAddressed; a member
// that could read the previous state and no longer may gets only the
// name, as a withdrawal.
func TestSealOpensForReadersOnly(t *testing.T) {
	origin, mofa, reader, other, exReader := newKey(t), newKey(t), newKey(t), newKey(t), newKey(t)
	s := newSealer(t, origin)
	state := []byte("marker 45/2 condition DAMAGED")
	name := "provinces/cao-bang/border-markers/m45-2"
	env, err := s.Seal("cao-bang", 7, name, state, []*ecdh.PublicKey{origin.PublicKey(), mofa.PublicKey(), reader.PublicKey(), mofa.PublicKey()},
		[]*ecdh.PublicKey{exReader.PublicKey()})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(env, state) || bytes.Contains(env, []byte(name)) {
		t.Fatal("the envelope holds the plaintext")
	}
	sum := sha256.Sum256(state)
	if bytes.Contains(env, sum[:]) {
		t.Fatal("the envelope holds the plaintext's hash")
	}
	for who, k := range map[string]*ecdh.PrivateKey{"origin": origin, "mofa": mofa, "reader": reader} {
		got, err := newSealer(t, k).Open("cao-bang", 7, env)
		if err != nil || got.Withdrawn || got.Name != name || !bytes.Equal(got.Data, state) {
			t.Errorf("%s opened %+v, %v", who, got, err)
		}
	}
	if got, err := newSealer(t, exReader).Open("cao-bang", 7, env); err != nil || !got.Withdrawn || got.Name != name || got.Data != nil {
		t.Errorf("ex-reader opened %+v, %v; want the name as a withdrawal", got, err)
	}
	if _, err := newSealer(t, other).Open("cao-bang", 7, env); !errors.Is(err, ErrNotAddressed) {
		t.Errorf("another member: %v, want ErrNotAddressed", err)
	}
	// The envelope is bound to its entry.
	if _, err := newSealer(t, mofa).Open("cao-bang", 8, env); err == nil || errors.Is(err, ErrNotAddressed) {
		t.Errorf("opened as another seq: %v", err)
	}
	if _, err := newSealer(t, mofa).Open("lang-son", 7, env); err == nil || errors.Is(err, ErrNotAddressed) {
		t.Errorf("opened as another origin: %v", err)
	}
}

// TestSealedEntriesAreUnlinkable: two sealings of the same state share no
// tag, stanza or body bytes, so nothing a relay holds shows they are the
// same.
func TestSealedEntriesAreUnlinkable(t *testing.T) {
	origin, mofa := newKey(t), newKey(t)
	s := newSealer(t, origin)
	readers := []*ecdh.PublicKey{origin.PublicKey(), mofa.PublicKey()}
	a, _ := s.Seal("cao-bang", 1, "provinces/cao-bang/agreements/a", []byte("same state"), readers, nil)
	b, _ := s.Seal("cao-bang", 1, "provinces/cao-bang/agreements/a", []byte("same state"), readers, nil)
	const header = 1 + 32 // version and sender key are shared by design
	if bytes.Equal(a[header:], b[header:]) || len(a) != len(b) {
		t.Fatal("two sealings differ not, or differ in length")
	}
	for i := header; i+16 <= len(a); i++ {
		if bytes.Contains(b[header:], a[i:i+16]) {
			t.Fatalf("16 bytes at %d of one sealing appear in the other", i)
		}
	}
}

// TestOpenWithOldKey: after a member rotates its encryption key, entries
// sealed to the old key still open with it, and new ones with the new.
func TestOpenWithOldKey(t *testing.T) {
	origin, oldKey, newKey := newKey(t), newKey(t), newKey(t)
	s := newSealer(t, origin)
	old, _ := s.Seal("cao-bang", 1, "provinces/cao-bang/agreements/a", []byte("before"), []*ecdh.PublicKey{oldKey.PublicKey()}, nil)
	fresh, _ := s.Seal("cao-bang", 2, "provinces/cao-bang/agreements/a", []byte("after"), []*ecdh.PublicKey{newKey.PublicKey()}, nil)
	rotated := newSealer(t, newKey, oldKey)
	for seq, env := range map[uint64][]byte{1: old, 2: fresh} {
		if _, err := rotated.Open("cao-bang", seq, env); err != nil {
			t.Errorf("entry %d: %v", seq, err)
		}
	}
	if _, err := newSealer(t, newKey).Open("cao-bang", 1, old); !errors.Is(err, ErrNotAddressed) {
		t.Errorf("without the old key: %v", err)
	}
	// The origin rotates too: readers open with the sender key the
	// envelope names, whatever the manifest says now.
	s2 := newSealer(t, newKey, origin)
	env, _ := s2.Seal("cao-bang", 3, "provinces/cao-bang/agreements/a", []byte("x"), []*ecdh.PublicKey{oldKey.PublicKey()}, nil)
	if _, err := newSealer(t, oldKey).Open("cao-bang", 3, env); err != nil {
		t.Errorf("sealed with a rotated sender key: %v", err)
	}
}

// TestOpenDamaged: a changed byte anywhere in an envelope never opens to a
// wrong state: it is malformed, addressed-but-broken, not addressed (its
// tag changed), or, when the byte is in another reader's stanza, opens to
// the right one. (The entry's hash, over the envelope, shows every change.)
func TestOpenDamaged(t *testing.T) {
	origin, mofa := newKey(t), newKey(t)
	env, _ := newSealer(t, origin).Seal("cao-bang", 1, "provinces/cao-bang/agreements/a", []byte("the state"),
		[]*ecdh.PublicKey{origin.PublicKey(), mofa.PublicKey()}, nil)
	reader := newSealer(t, mofa)
	for i := range env {
		bad := bytes.Clone(env)
		bad[i] ^= 0x40
		got, err := reader.Open("cao-bang", 1, bad)
		if err == nil && !bytes.Equal(got.Data, []byte("the state")) {
			t.Fatalf("byte %d changed: opened %q", i, got.Data)
		}
	}
	for _, cut := range []int{0, 1, 33, 50, len(env) - 1} {
		if _, err := reader.Open("cao-bang", 1, env[:cut]); !errors.Is(err, ErrMalformed) {
			t.Errorf("cut at %d: %v, want ErrMalformed", cut, err)
		}
	}
	if _, err := reader.Open("cao-bang", 1, append(bytes.Clone(env), 0)); !errors.Is(err, ErrMalformed) {
		t.Errorf("trailing byte: %v", err)
	}
}

func TestPadding(t *testing.T) {
	for n := 0; n < 5000; n++ {
		p := pad(bytes.Repeat([]byte{0xAB}, n))
		if len(p) < n+1 || float64(len(p)) > float64(n+1)*1.13+1 {
			t.Fatalf("%d bytes padded to %d", n, len(p))
		}
		got, ok := unpad(p)
		if !ok || len(got) != n {
			t.Fatalf("%d bytes: unpadded %d, %v", n, len(got), ok)
		}
	}
	// Lengths collapse into few buckets.
	sizes := map[int]bool{}
	for n := 300; n < 400; n++ {
		sizes[len(pad(make([]byte, n)))] = true
	}
	if len(sizes) > 8 {
		t.Errorf("100 lengths padded to %d sizes", len(sizes))
	}
}

func TestNewSealerRefusesWrongKeys(t *testing.T) {
	if _, err := NewSealer(); err == nil {
		t.Error("no keys: no error")
	}
	p256, _ := ecdh.P256().GenerateKey(rand.Reader)
	if _, err := NewSealer(p256); err == nil || !strings.Contains(err.Error(), "X25519") {
		t.Errorf("P-256 key: %v", err)
	}
	if _, err := newSealer(t, newKey(t)).Seal("cao-bang", 1, "n", nil, nil, nil); err == nil {
		t.Error("sealed to nobody")
	}
}

func BenchmarkSealOpen(b *testing.B) {
	origin, mofa, p := newKey(b), newKey(b), newKey(b)
	s, r := newSealer(b, origin), newSealer(b, mofa)
	readers := []*ecdh.PublicKey{origin.PublicKey(), mofa.PublicKey(), p.PublicKey()}
	state := bytes.Repeat([]byte("x"), 400)
	b.Run("seal", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			s.Seal("cao-bang", uint64(i), "provinces/cao-bang/agreements/a", state, readers, nil)
		}
	})
	env, _ := s.Seal("cao-bang", 1, "provinces/cao-bang/agreements/a", state, readers, nil)
	b.Run("open", func(b *testing.B) {
		for b.Loop() {
			if _, err := r.Open("cao-bang", 1, env); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("not-addressed", func(b *testing.B) {
		other := newSealer(b, newKey(b))
		for b.Loop() {
			other.Open("cao-bang", 1, env)
		}
	})
}

// FuzzOpen feeds arbitrary envelopes to a reader, as a malicious origin
// could: nothing may panic, and nothing opens but what was sealed to it.
func FuzzOpen(f *testing.F) {
	origin, mofa := newKey(f), newKey(f)
	s := newSealer(f, origin)
	env, _ := s.Seal("cao-bang", 1, "provinces/cao-bang/agreements/a", []byte("the state"), []*ecdh.PublicKey{mofa.PublicKey()}, []*ecdh.PublicKey{origin.PublicKey()})
	f.Add(env)
	f.Add(env[:60])
	f.Add([]byte{1})
	f.Add([]byte{})
	reader := newSealer(f, mofa)
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := reader.Open("cao-bang", 1, data)
		if err == nil && (got.Name != "provinces/cao-bang/agreements/a" || string(got.Data) != "the state") {
			// Forging a stanza needs the pair key: only the origin's
			// envelope opens.
			t.Fatalf("opened %+v", got)
		}
	})
}

// TestEnvelopeCommitsToOneKey: an origin that wraps a different data key
// for one reader (to show readers different states under one signed
// envelope) is caught by the key commitment: that reader cannot open it,
// while the others open the committed state.
func TestEnvelopeCommitsToOneKey(t *testing.T) {
	origin, honest, misled := newKey(t), newKey(t), newKey(t)
	s := newSealer(t, origin)
	salt := make([]byte, saltSize)
	sender := origin.PublicKey().Bytes()
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	commit := keyCommitment(k1)
	ad := associatedData("cao-bang", 1, sender, salt, purposeState, commit)
	env := append([]byte{envelopeVersion}, sender...)
	env = append(env, salt...)
	env = append(env, 1, purposeState)
	env = append(env, commit...)
	env = append(env, 2)
	for _, r := range []struct {
		key     *ecdh.PrivateKey
		dataKey []byte
	}{{honest, k1}, {misled, k2}} {
		pair, _ := s.pairKey(true, 0, r.key.PublicKey())
		tag, kek, _ := stanzaKeys(pair, salt, purposeState)
		wrap, _ := gcm(kek)
		env = append(env, tag...)
		env = wrap.Seal(env, zeroNonce, r.dataKey, ad)
	}
	body, _ := gcm(k1)
	padded := pad(plaintext("provex/cao-bang/agreements/a", []byte("the state")))
	env = append(env, byte(len(padded)+body.Overhead()))
	env = body.Seal(env, zeroNonce, padded, ad)
	if got, err := newSealer(t, honest).Open("cao-bang", 1, env); err != nil || string(got.Data) != "the state" {
		t.Fatalf("the honest reader: %+v, %v", got, err)
	}
	_, err := newSealer(t, misled).Open("cao-bang", 1, env)
	if err == nil || errors.Is(err, ErrNotAddressed) || !strings.Contains(err.Error(), "commits to") {
		t.Fatalf("the reader given another data key: %v", err)
	}
}

// TestSealedToTellsTheSenderItsRecipients: the sender, with its own key
// rotated since, finds the stanzas of the readers whose keys it is given,
// not of keys sealed to nothing, and counts those of keys it was not given
// (a reader's earlier key, a reader it no longer knows), never its own or
// a withdrawal notice's.
func TestSealedToTellsTheSenderItsRecipients(t *testing.T) {
	origin, reader, rotatedReader, removed, notSealed, exReader := newKey(t), newKey(t), newKey(t), newKey(t), newKey(t), newKey(t)
	env, err := newSealer(t, origin).Seal("cao-bang", 3, "provinces/cao-bang/agreements/a", []byte("x"),
		[]*ecdh.PublicKey{origin.PublicKey(), reader.PublicKey(), rotatedReader.PublicKey(), removed.PublicKey()},
		[]*ecdh.PublicKey{exReader.PublicKey()})
	if err != nil {
		t.Fatal(err)
	}
	sender := newSealer(t, newKey(t), origin)
	found, others, err := sender.SealedTo(env, []*ecdh.PublicKey{reader.PublicKey(), newKey(t).PublicKey(), nil, notSealed.PublicKey(), exReader.PublicKey()})
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{true, false, false, false, false}; !slices.Equal(found, want) || others != 2 {
		t.Errorf("sealed to %v and %d others, want %v and 2", found, others, want)
	}
	if _, _, err := newSealer(t, reader).SealedTo(env, nil); err == nil {
		t.Error("a reader told the recipients of an entry it did not seal")
	}
}
