package changelog

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"sync"
)

// A sealed entry's Data is an envelope:
//
//	version   1 byte (1)
//	sender    32 bytes: the origin's X25519 public key it sealed with
//	salt      16 random bytes, fresh per entry
//	sections  1 byte: their number, then each section:
//	  purpose   1 byte: 1 the state (for its readers), 2 a withdrawal
//	            notice (for members that could read the previous state and
//	            no longer may)
//	  commit    32 bytes: HMAC-SHA256 of a constant under the data key
//	  stanzas   uvarint count, then per recipient: tag (16) and the
//	            section's data key wrapped under a key-encryption key (48)
//	  body      uvarint length, then AES-256-GCM under the data key of the
//	            padded plaintext: uvarint name length, name, record state
//
// Wrapping uses one key per pair of members, derived once from their static
// X25519 keys (HKDF over the shared secret, bound to both public keys and
// to the direction), so sealing and opening cost symmetric operations only:
// per entry and recipient, one HKDF expansion of the pair key over the salt
// gives the stanza's tag and key-encryption key. A tag tells its recipient
// which stanza is its own without naming anyone to other readers of the
// envelope; the tags of two entries are unrelated. Bodies are padded
// (Padmé) so their lengths say little about the records.
//
// The data keys are fresh for every section, so AES-GCM's nonce can be
// fixed; the associated data binds each section to the origin, sequence
// number, sender key, salt, purpose and key commitment, so a body cannot be
// moved to another entry. AES-GCM alone does not commit to its key: an
// origin could wrap different data keys for different readers over one
// body crafted to decrypt under each. The commitment rules that out, so
// every reader opens the same state, and a signed envelope is evidence of
// exactly one.

const (
	envelopeVersion = 1
	saltSize        = 16
	tagSize         = 16
	commitSize      = 32
	wrappedSize     = 32 + 16
	purposeState    = 1
	purposeWithdraw = 2
	// maxStanzas bounds the recipients of one section: every member of a
	// federation of provinces and the ministry fits many times over.
	maxStanzas = 512
)

// ErrNotAddressed means the envelope holds nothing for this member: it is
// a relay of that entry, not a reader.
var ErrNotAddressed = errors.New("sealed entry is not addressed to this member")

// ErrMalformed means the envelope is not one: its origin wrote something
// no reader can open.
var ErrMalformed = errors.New("malformed sealed entry")

// Directory gives the encryption keys of the federation's members
// (federation.Manifest is one).
type Directory interface {
	EncryptionKey(member string) (*ecdh.PublicKey, bool)
	MemberIDs() []string
}

// Opened is what a sealed entry held for the member that opened it: the
// record's name and new state, or, when Withdrawn, only the name of a
// record the member may no longer read.
type Opened struct {
	Name      string
	Data      []byte
	Withdrawn bool
}

// A Sealer seals one member's confidential states and opens the entries
// sealed to it. It keeps the pair keys it derives, so catching up on many
// entries of one origin costs one X25519 operation, not one per entry. It
// is safe for concurrent use.
type Sealer struct {
	keys []*ecdh.PrivateKey // newest first; keys[0] seals

	mu    sync.Mutex
	pairs map[pairID][]byte
}

type pairID struct {
	sending bool
	own     int
	peer    [32]byte
}

// maxPairs bounds the pair-key cache: a federation has a few dozen
// members, but an origin could name a new sender key in every entry.
const maxPairs = 4096

// NewSealer makes a sealer of a member's encryption keys, newest first:
// it seals with the first and opens with any.
func NewSealer(keys ...*ecdh.PrivateKey) (*Sealer, error) {
	if len(keys) == 0 {
		return nil, errors.New("changelog: a sealer needs an encryption key")
	}
	for _, k := range keys {
		if k == nil || k.Curve() != ecdh.X25519() {
			return nil, errors.New("changelog: encryption keys must be X25519")
		}
	}
	return &Sealer{keys: keys, pairs: map[pairID][]byte{}}, nil
}

// PublicKey is the key others seal to.
func (s *Sealer) PublicKey() *ecdh.PublicKey { return s.keys[0].PublicKey() }

// pairKey derives (once) the key of sender → recipient between one of this
// member's keys and a peer's public key.
func (s *Sealer) pairKey(sending bool, own int, peer *ecdh.PublicKey) ([]byte, error) {
	id := pairID{sending: sending, own: own}
	copy(id.peer[:], peer.Bytes())
	s.mu.Lock()
	k, ok := s.pairs[id]
	s.mu.Unlock()
	if ok {
		return k, nil
	}
	secret, err := s.keys[own].ECDH(peer)
	if err != nil {
		return nil, err
	}
	sender, recipient := s.keys[own].PublicKey().Bytes(), peer.Bytes()
	if !sending {
		sender, recipient = recipient, sender
	}
	k, err = hkdf.Key(sha256.New, secret, nil, "provex/pair/v1\x00"+string(sender)+string(recipient), 32)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if len(s.pairs) >= maxPairs {
		clear(s.pairs)
	}
	s.pairs[id] = k
	s.mu.Unlock()
	return k, nil
}

// stanzaKeys derives a recipient's tag and key-encryption key for one
// section of one entry.
func stanzaKeys(pair, salt []byte, purpose byte) (tag, kek []byte, err error) {
	okm, err := hkdf.Expand(sha256.New, pair, "provex/stanza/v1\x00"+string(salt)+string([]byte{purpose}), tagSize+32)
	if err != nil {
		return nil, nil, err
	}
	return okm[:tagSize], okm[tagSize:], nil
}

func associatedData(origin string, seq uint64, sender, salt []byte, purpose byte, commit []byte) []byte {
	ad := make([]byte, 0, 32+len(origin)+8+len(sender)+len(salt)+1+len(commit))
	ad = append(ad, "provex/sealed/v1\x00"...)
	ad = binary.AppendUvarint(ad, uint64(len(origin)))
	ad = append(ad, origin...)
	ad = binary.BigEndian.AppendUint64(ad, seq)
	ad = append(ad, sender...)
	ad = append(ad, salt...)
	ad = append(ad, purpose)
	return append(ad, commit...)
}

// keyCommitment commits to a data key: two keys with one commitment would
// be a collision of HMAC-SHA256.
func keyCommitment(dataKey []byte) []byte {
	m := hmac.New(sha256.New, dataKey)
	m.Write([]byte("provex/key-commitment/v1"))
	return m.Sum(nil)
}

func gcm(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

var zeroNonce = make([]byte, 12)

// Seal makes the envelope of entry seq of origin: the record's name and
// state for readers, and, when exReaders is not empty, a notice that names
// the record for them (members that could read its previous state and no
// longer may, so they drop their copy).
func (s *Sealer) Seal(origin string, seq uint64, name string, data []byte, readers, exReaders []*ecdh.PublicKey) ([]byte, error) {
	if len(readers) == 0 {
		return nil, errors.New("changelog: a sealed state needs at least one reader")
	}
	salt := make([]byte, saltSize)
	rand.Read(salt)
	sender := s.keys[0].PublicKey().Bytes()
	env := make([]byte, 0, 64+len(data)+len(data)/8+len(readers)*(tagSize+wrappedSize))
	env = append(env, envelopeVersion)
	env = append(env, sender...)
	env = append(env, salt...)
	sections := byte(1)
	if len(exReaders) > 0 {
		sections = 2
	}
	env = append(env, sections)
	var err error
	if env, err = s.sealSection(env, origin, seq, sender, salt, purposeState, plaintext(name, data), readers); err != nil {
		return nil, err
	}
	if len(exReaders) > 0 {
		if env, err = s.sealSection(env, origin, seq, sender, salt, purposeWithdraw, plaintext(name, nil), exReaders); err != nil {
			return nil, err
		}
	}
	return env, nil
}

func (s *Sealer) sealSection(env []byte, origin string, seq uint64, sender, salt []byte, purpose byte, plain []byte, recipients []*ecdh.PublicKey) ([]byte, error) {
	recipients = distinct(recipients)
	if len(recipients) > maxStanzas {
		return nil, fmt.Errorf("changelog: %d recipients, at most %d", len(recipients), maxStanzas)
	}
	dataKey := make([]byte, 32)
	rand.Read(dataKey)
	commit := keyCommitment(dataKey)
	ad := associatedData(origin, seq, sender, salt, purpose, commit)
	env = append(env, purpose)
	env = append(env, commit...)
	env = binary.AppendUvarint(env, uint64(len(recipients)))
	for _, r := range recipients {
		pair, err := s.pairKey(true, 0, r)
		if err != nil {
			return nil, fmt.Errorf("changelog: seal to %x: %w", r.Bytes(), err)
		}
		tag, kek, err := stanzaKeys(pair, salt, purpose)
		if err != nil {
			return nil, err
		}
		wrap, err := gcm(kek)
		if err != nil {
			return nil, err
		}
		env = append(env, tag...)
		env = wrap.Seal(env, zeroNonce, dataKey, ad)
	}
	body, err := gcm(dataKey)
	if err != nil {
		return nil, err
	}
	padded := pad(plain)
	env = binary.AppendUvarint(env, uint64(len(padded)+body.Overhead()))
	return body.Seal(env, zeroNonce, padded, ad), nil
}

func distinct(keys []*ecdh.PublicKey) []*ecdh.PublicKey {
	out := make([]*ecdh.PublicKey, 0, len(keys))
	for _, k := range keys {
		dup := false
		for _, o := range out {
			if o.Equal(k) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, k)
		}
	}
	return out
}

func plaintext(name string, data []byte) []byte {
	p := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64+len(name)+len(data)), uint64(len(name)))
	p = append(p, name...)
	return append(p, data...)
}

// pad appends 0x80 and zeros up to the Padmé length of the result, which
// leaks O(log log n) bits of the length instead of all of it.
func pad(p []byte) []byte {
	n := padme(len(p) + 1)
	out := make([]byte, n)
	copy(out, p)
	out[len(p)] = 0x80
	return out
}

func padme(n int) int {
	if n < 2 {
		return n
	}
	e := bits.Len(uint(n)) - 1
	s := bits.Len(uint(e))
	mask := (1 << (e - s)) - 1
	return (n + mask) &^ mask
}

func unpad(p []byte) ([]byte, bool) {
	for i := len(p) - 1; i >= 0; i-- {
		switch p[i] {
		case 0:
			continue
		case 0x80:
			return p[:i], true
		}
		return nil, false
	}
	return nil, false
}

// section is one parsed section of an envelope.
type section struct {
	purpose byte
	commit  []byte
	stanzas []byte // count × (tag, wrapped key)
	body    []byte
}

func parseEnvelope(env []byte) (sender, salt []byte, sections []section, err error) {
	bad := func(why string) ([]byte, []byte, []section, error) {
		return nil, nil, nil, fmt.Errorf("%w: %s", ErrMalformed, why)
	}
	if len(env) < 1+32+saltSize+1 || env[0] != envelopeVersion {
		return bad("unknown version or too short")
	}
	sender, salt = env[1:33], env[33:33+saltSize]
	n := int(env[33+saltSize])
	rest := env[34+saltSize:]
	if n < 1 || n > 2 {
		return bad("wrong number of sections")
	}
	for i := 0; i < n; i++ {
		if len(rest) < 1 {
			return bad("truncated")
		}
		sec := section{purpose: rest[0]}
		if sec.purpose != purposeState+byte(i) {
			return bad("sections out of order")
		}
		if len(rest) < 1+commitSize {
			return bad("truncated")
		}
		sec.commit = rest[1 : 1+commitSize]
		rest = rest[1+commitSize:]
		count, k := binary.Uvarint(rest)
		if k <= 0 || count == 0 || count > maxStanzas {
			return bad("bad stanza count")
		}
		rest = rest[k:]
		size := int(count) * (tagSize + wrappedSize)
		if len(rest) < size {
			return bad("truncated stanzas")
		}
		sec.stanzas, rest = rest[:size], rest[size:]
		length, k := binary.Uvarint(rest)
		if k <= 0 || length > uint64(len(rest)-k) {
			return bad("truncated body")
		}
		sec.body, rest = rest[k:k+int(length)], rest[k+int(length):]
		sections = append(sections, sec)
	}
	if len(rest) != 0 {
		return bad("trailing bytes")
	}
	return sender, salt, sections, nil
}

// Open opens entry seq of origin with whichever of this member's keys it
// was sealed to. It returns ErrNotAddressed when nothing in it is for this
// member, an error wrapping ErrMalformed when it is not an envelope, and
// any other error when a part is addressed to this member but does not
// open (damaged, or sealed by a broken origin).
func (s *Sealer) Open(origin string, seq uint64, env []byte) (Opened, error) {
	senderBytes, salt, sections, err := parseEnvelope(env)
	if err != nil {
		return Opened{}, err
	}
	sender, err := ecdh.X25519().NewPublicKey(senderBytes)
	if err != nil {
		return Opened{}, fmt.Errorf("%w: sender key: %v", ErrMalformed, err)
	}
	for own := range s.keys {
		pair, err := s.pairKey(false, own, sender)
		if err != nil {
			// A low-order sender key: no member can open this.
			return Opened{}, fmt.Errorf("%w: sender key: %v", ErrMalformed, err)
		}
		for _, sec := range sections {
			tag, kek, err := stanzaKeys(pair, salt, sec.purpose)
			if err != nil {
				return Opened{}, err
			}
			if i := sec.stanzaTagged(tag); i >= 0 {
				at := i * (tagSize + wrappedSize)
				return openSection(origin, seq, senderBytes, salt, sec, kek, sec.stanzas[at+tagSize:at+tagSize+wrappedSize])
			}
		}
	}
	return Opened{}, ErrNotAddressed
}

// stanzaTagged is the index of sec's stanza whose tag is tag, or -1.
func (sec section) stanzaTagged(tag []byte) int {
	for i := 0; i*(tagSize+wrappedSize) < len(sec.stanzas); i++ {
		at := i * (tagSize + wrappedSize)
		if subtle.ConstantTimeCompare(sec.stanzas[at:at+tagSize], tag) == 1 {
			return i
		}
	}
	return -1
}

// SealedTo tells, of an entry this member sealed, which of keys its state
// was sealed to (found[i] for keys[i]; a nil key is not looked for) and
// how many of its other recipients, not counting the member itself, are
// none of them: sealed to a key the caller did not give, such as a
// reader's earlier key or a member's no longer listed. A stanza's tag
// names its recipient only to the two keys it was derived from, so the
// sender, as a reader, can tell its own.
func (s *Sealer) SealedTo(env []byte, keys []*ecdh.PublicKey) (found []bool, others int, err error) {
	senderBytes, salt, sections, err := parseEnvelope(env)
	if err != nil {
		return nil, 0, err
	}
	own := slices.IndexFunc(s.keys, func(k *ecdh.PrivateKey) bool {
		return subtle.ConstantTimeCompare(k.PublicKey().Bytes(), senderBytes) == 1
	})
	if own < 0 {
		return nil, 0, errors.New("changelog: the entry was not sealed with this member's keys")
	}
	state := sections[0]
	n := len(state.stanzas) / (tagSize + wrappedSize)
	claimed := make([]bool, n)
	stanza := func(recipient *ecdh.PublicKey) (int, error) {
		pair, err := s.pairKey(true, own, recipient)
		if err != nil {
			return -1, nil // a low-order key: nothing was sealed to it
		}
		tag, _, err := stanzaKeys(pair, salt, state.purpose)
		if err != nil {
			return -1, err
		}
		return state.stanzaTagged(tag), nil
	}
	found = make([]bool, len(keys))
	for i, k := range append([]*ecdh.PublicKey{s.keys[own].PublicKey()}, keys...) {
		if k == nil {
			continue
		}
		at, err := stanza(k)
		if err != nil {
			return nil, 0, err
		}
		if at < 0 {
			continue
		}
		claimed[at] = true
		if i > 0 {
			found[i-1] = true
		}
	}
	for _, c := range claimed {
		if !c {
			others++
		}
	}
	return found, others, nil
}

// NoticedTo tells, of an entry this member sealed, which of keys its
// withdrawal notice was sealed to (found[i] for keys[i]; a nil key is not
// looked for): none when it carries no notice. Like SealedTo, it is for
// the sender alone, which can tell its own stanzas' recipients.
func (s *Sealer) NoticedTo(env []byte, keys []*ecdh.PublicKey) ([]bool, error) {
	senderBytes, salt, sections, err := parseEnvelope(env)
	if err != nil {
		return nil, err
	}
	own := slices.IndexFunc(s.keys, func(k *ecdh.PrivateKey) bool {
		return subtle.ConstantTimeCompare(k.PublicKey().Bytes(), senderBytes) == 1
	})
	if own < 0 {
		return nil, errors.New("changelog: the entry was not sealed with this member's keys")
	}
	found := make([]bool, len(keys))
	if len(sections) < 2 {
		return found, nil
	}
	notice := sections[1]
	for i, k := range keys {
		if k == nil {
			continue
		}
		pair, err := s.pairKey(true, own, k)
		if err != nil {
			continue // a low-order key: nothing was sealed to it
		}
		tag, _, err := stanzaKeys(pair, salt, notice.purpose)
		if err != nil {
			return nil, err
		}
		found[i] = notice.stanzaTagged(tag) >= 0
	}
	return found, nil
}

func openSection(origin string, seq uint64, sender, salt []byte, sec section, kek, wrapped []byte) (Opened, error) {
	ad := associatedData(origin, seq, sender, salt, sec.purpose, sec.commit)
	unwrap, err := gcm(kek)
	if err != nil {
		return Opened{}, err
	}
	dataKey, err := unwrap.Open(nil, zeroNonce, wrapped, ad)
	if err != nil {
		return Opened{}, errors.New("the data key addressed to this member does not unwrap")
	}
	if !hmac.Equal(keyCommitment(dataKey), sec.commit) {
		return Opened{}, errors.New("the data key addressed to this member is not the one the envelope commits to")
	}
	body, err := gcm(dataKey)
	if err != nil {
		return Opened{}, err
	}
	padded, err := body.Open(nil, zeroNonce, sec.body, ad)
	if err != nil {
		return Opened{}, errors.New("the body does not decrypt with the data key addressed to this member")
	}
	plain, ok := unpad(padded)
	if !ok {
		return Opened{}, errors.New("the body's padding is broken")
	}
	n, k := binary.Uvarint(plain)
	if k <= 0 || n > uint64(len(plain)-k) {
		return Opened{}, errors.New("the body's name is truncated")
	}
	o := Opened{Name: string(plain[k : k+int(n)]), Withdrawn: sec.purpose == purposeWithdraw}
	if !o.Withdrawn {
		o.Data = plain[k+int(n):]
	}
	return o, nil
}

// Keys is a Directory of fixed keys, for tests and tools.
type Keys map[string]*ecdh.PublicKey

// EncryptionKey returns member's key.
func (k Keys) EncryptionKey(member string) (*ecdh.PublicKey, bool) {
	key, ok := k[member]
	return key, ok
}

// MemberIDs lists the members, sorted.
func (k Keys) MemberIDs() []string {
	ids := make([]string, 0, len(k))
	for id := range k {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
