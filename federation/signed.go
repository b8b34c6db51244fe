package federation

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/provex/provex/internal/atomicfile"
	"github.com/provex/provex/internal/ownerfile"
)

// manifestDomain separates manifest signatures from every other signature
// a federation key could be asked to make.
const manifestDomain = "provex/manifest/v1\x00"

// ExpiryWarning is how long before a manifest's expiry nodes start warning
// (in health, logs and sync status) that a new one is due.
const ExpiryWarning = 14 * 24 * time.Hour

// ExpiryGrace is how long past its expiry a node keeps syncing on a
// manifest. After it the node fails closed: it neither pulls from peers nor
// serves them, until a newer signed manifest arrives (from a file, or from
// a peer that asks this node for nothing else: a node past its grace still
// takes a newer manifest offered to it). Its own API keeps serving.
const ExpiryGrace = 7 * 24 * time.Hour

// Freshness is where a manifest stands against its expiry.
type Freshness int

const (
	// Fresh: no expiry, or more than ExpiryWarning before it.
	Fresh Freshness = iota
	// ExpiresSoon: within ExpiryWarning of its expiry.
	ExpiresSoon
	// InGrace: expired less than ExpiryGrace ago; sync goes on, with warnings.
	InGrace
	// Stale: expired ExpiryGrace ago or more; sync has stopped.
	Stale
)

// Freshness reports where m stands at now, and a sentence for operators
// (empty when Fresh).
func (m *Manifest) Freshness(now time.Time) (Freshness, string) {
	if m.Expires.IsZero() {
		return Fresh, ""
	}
	exp := m.Expires.Format(time.RFC3339)
	switch {
	case now.After(m.Expires.Add(ExpiryGrace)):
		return Stale, fmt.Sprintf("the federation manifest (serial %d) expired at %s and its %s grace is over: sync has stopped until a newer signed manifest arrives", m.Serial, exp, ExpiryGrace)
	case now.After(m.Expires):
		return InGrace, fmt.Sprintf("the federation manifest (serial %d) expired at %s; sync stops at %s unless a newer signed manifest arrives", m.Serial, exp, m.Expires.Add(ExpiryGrace).Format(time.RFC3339))
	case now.After(m.Expires.Add(-ExpiryWarning)):
		return ExpiresSoon, fmt.Sprintf("the federation manifest (serial %d) expires at %s: the ministry should sign a new one", m.Serial, exp)
	}
	return Fresh, ""
}

// Sign signs the manifest with the federation's private key. A manifest
// that names no federation key gets key's public half; one that names
// another key (the federation key is being rotated) is signed by key, the
// key nodes trust now, and names the key that signs the next one.
func (m *Manifest) Sign(key ed25519.PrivateKey) error {
	if len(key) != ed25519.PrivateKeySize {
		return errors.New("federation: sign manifest: not an Ed25519 private key")
	}
	if m.FederationKey == nil {
		m.FederationKey = key.Public().(ed25519.PublicKey)
	}
	m.Signature = nil
	body, err := m.body()
	if err != nil {
		return err
	}
	m.Signature = ed25519.Sign(key, append([]byte(manifestDomain), body...))
	return nil
}

// VerifySignature checks that trusted signed the manifest.
func (m *Manifest) VerifySignature(trusted ed25519.PublicKey) error {
	if m.Signature == nil {
		return fmt.Errorf("federation: manifest serial %d is not signed (sign it with provex manifest sign)", m.Serial)
	}
	if len(trusted) != ed25519.PublicKeySize {
		return errors.New("federation: no federation key to check the manifest's signature with")
	}
	body, err := m.body()
	if err != nil {
		return err
	}
	if !ed25519.Verify(trusted, append([]byte(manifestDomain), body...), m.Signature) {
		return fmt.Errorf("federation: manifest serial %d: the signature does not verify with the federation key %s", m.Serial, EncodePublicKey(trusted))
	}
	return nil
}

// ErrNotNewer is Accept's answer to a manifest whose serial is not above
// the current one: nothing to do, and nothing wrong with it.
var ErrNotNewer = errors.New("federation: the manifest's serial is not above the current one")

// Accept decides whether a node using current may move to next at now:
// next must be signed by current's federation key and carry a higher
// serial, and must not be past its grace while current is not. A manifest
// signed on a machine whose clock was far behind arrives expired; taken,
// it would stop sync on every node it reached at once, with none of the
// warning weeks of ExpiryWarning and ExpiryGrace (an outside review). A
// node whose manifest names no federation key (one made before manifests
// were signed) takes a new one only from its operator (see Newest).
func Accept(current, next *Manifest, now time.Time) error {
	if next.Serial <= current.Serial {
		return fmt.Errorf("%w (offered %d, current %d)", ErrNotNewer, next.Serial, current.Serial)
	}
	if current.FederationKey == nil {
		return fmt.Errorf("federation: manifest serial %d refused: the node's manifest (serial %d) names no federation key; give the node the signed manifest file and restart it", next.Serial, current.Serial)
	}
	if err := next.VerifySignature(current.FederationKey); err != nil {
		return err
	}
	// One that hands the federation key over is a step in the chain to
	// the current manifest, signed by the next key: a node behind that
	// refused it could take no later one (an outside review).
	if f, _ := next.Freshness(now); f == Stale && bytes.Equal(next.FederationKey, current.FederationKey) {
		if cf, _ := current.Freshness(now); cf != Stale {
			return fmt.Errorf("federation: manifest serial %d refused: it expired at %s, more than %s ago, and would stop sync; sign it again with the signing machine's clock right (provex manifest sign)", next.Serial, next.Expires.UTC().Format(time.RFC3339), ExpiryGrace)
		}
	}
	return nil
}

// OneSerialAdvice is what to do about two manifests signed with serial:
// neither ever wins by serial.
func OneSerialAdvice(serial int) string {
	return fmt.Sprintf("sign the one meant, from the master copy, as serial %d (provex manifest sign) and give it to a node both manifests list (a member one of them removed is refused by the nodes on that one)", serial+1)
}

// Digest is the SHA-256 of the manifest's signed content: two manifests
// of one serial with different digests are two manifests, signed apart
// (from two copies of the master), that nodes holding one or the other
// never resolve by serial. Nil for a manifest that does not validate.
func (m *Manifest) Digest() []byte {
	body, err := m.body()
	if err != nil {
		return nil
	}
	sum := sha256.Sum256(body)
	return sum[:]
}

// Newest picks the manifest a starting node uses from the one its operator
// gave (a file) and the one it stored (nil for a new node). The operator's
// must be signed, whatever its serial: by its own federation key when the
// node has nothing stored or stored one that predates signing (the file
// then wins, being the first signed one), else by the stored one's key. A
// stored manifest with a higher serial (it came through sync) wins over an
// older file if its own signature still verifies.
func Newest(stored, given *Manifest) (*Manifest, error) {
	if stored == nil || stored.FederationKey == nil {
		if err := given.VerifySignature(given.FederationKey); err != nil {
			return nil, err
		}
		return given, nil
	}
	if err := given.VerifySignature(stored.FederationKey); err != nil {
		return nil, fmt.Errorf("%w (the node holds serial %d, signed by that key: a manifest that changes the federation key must be signed with the old one, and a node that missed it needs that one first)", err, stored.Serial)
	}
	if given.Serial > stored.Serial {
		return given, nil
	}
	// The stored one came through a check when the node took it; one that
	// no longer verifies, with its own federation key or (one handing the
	// key over) the file's, was changed in the database since: a key added
	// to a member, to have the node vouch for entries signed with it.
	if stored.VerifySignature(stored.FederationKey) != nil && stored.VerifySignature(given.FederationKey) != nil {
		return nil, fmt.Errorf("the manifest the node saved in its database (serial %d) does not verify, with its federation key or the file's: it was changed there since the node took it; check the database (provex verify --manifest with your copy) and restore it from a backup or from the peers", stored.Serial)
	}
	return stored, nil
}

// SigningKeys returns the keys that verify what the member signed: the
// current one first, then the retired ones.
func (m *Manifest) SigningKeys(id string) ([]ed25519.PublicKey, bool) {
	mem, ok := m.Member(id)
	if !ok {
		return nil, false
	}
	return append([]ed25519.PublicKey{mem.PublicKey}, mem.PreviousPublicKeys...), true
}

// Live is the manifest a running node uses. A newer signed manifest, from
// a peer or the operator, replaces it without a restart; every reader
// takes the current one at the moment it needs it.
type Live struct {
	cur atomic.Pointer[Manifest]
	mu  sync.Mutex // orders Offers
	// save persists a manifest before it takes effect, so a node never
	// uses one it would forget on restart.
	save      func(*Manifest) error
	listeners []func(*Manifest)
}

// NewLive starts from m; save (may be nil) persists each manifest that
// replaces it.
func NewLive(m *Manifest, save func(*Manifest) error) *Live {
	l := &Live{save: save}
	l.cur.Store(m)
	return l
}

// Load returns the manifest in effect.
func (l *Live) Load() *Manifest { return l.cur.Load() }

// OnChange registers f to run, in order of registration, after each
// manifest that takes effect from then on.
func (l *Live) OnChange(f func(*Manifest)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.listeners = append(l.listeners, f)
}

// ErrNotKept is Offer's answer when next is acceptable but the node's
// save hook refused or failed to keep it: the same manifest may be taken
// later (the node's logs, its key file or its store change), unlike one
// Accept refuses, which never will.
var ErrNotKept = errors.New("federation: the node did not keep the manifest")

// Offer moves to next if Accept allows it (ErrNotNewer when next is not
// newer; ErrNotKept when the save hook refuses it) and reports the
// manifest in effect afterwards.
func (l *Live) Offer(next *Manifest) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := Accept(l.cur.Load(), next, time.Now()); err != nil {
		return err
	}
	if l.save != nil {
		if err := l.save(next); err != nil {
			return fmt.Errorf("%w serial %d: %w", ErrNotKept, next.Serial, err)
		}
	}
	l.cur.Store(next)
	for _, f := range l.listeners {
		f(next)
	}
	return nil
}

// The changelog.Directory of a node: the current manifest's members.

// EncryptionKey returns the current encryption key of a member.
func (l *Live) EncryptionKey(id string) (*ecdh.PublicKey, bool) { return l.Load().EncryptionKey(id) }

// MemberIDs lists the current members.
func (l *Live) MemberIDs() []string { return l.Load().MemberIDs() }

const signingKeyType = "PRIVATE KEY"

// WriteSigningKeyFile writes a lone Ed25519 private key (the federation's
// signing key) to path as PKCS #8 PEM, mode 0600, never overwriting a file.
func WriteSigningKeyFile(path string, key ed25519.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("federation: write signing key: %w", err)
	}
	if err := atomicfile.Write(path, pem.EncodeToMemory(&pem.Block{Type: signingKeyType, Bytes: der}), 0o600, false); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("federation: write signing key: %s already exists; refusing to overwrite a key (move it away first)", path)
		}
		return fmt.Errorf("federation: write signing key: %w", err)
	}
	return nil
}

// ReadSigningKeyFile reads a key written by WriteSigningKeyFile, refusing a
// file that group or others may read.
func ReadSigningKeyFile(path string) (ed25519.PrivateKey, error) {
	data, err := ownerfile.ReadPrivate(path, maxKeyFileSize)
	if err != nil {
		return nil, fmt.Errorf("federation: read signing key: %w", err)
	}
	block, rest := pem.Decode(data)
	if block == nil || block.Type != signingKeyType || len(rest) != 0 && len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("federation: read signing key %s: want one PEM %q block", path, signingKeyType)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("federation: read signing key %s: %w", path, err)
	}
	k, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("federation: read signing key %s: key is %T, want Ed25519", path, key)
	}
	return k, nil
}
