package federation

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// next returns a copy of m with a higher serial, signed by key.
func next(t *testing.T, m *Manifest, key ed25519.PrivateKey) *Manifest {
	t.Helper()
	n := *m
	n.Members = append([]Member(nil), m.Members...)
	n.Serial++
	if err := n.Sign(key); err != nil {
		t.Fatal(err)
	}
	return &n
}

func TestSignedManifestSurvivesItsFile(t *testing.T) {
	m, fed := signedFederation(t)
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := parsed.VerifySignature(fed.Public().(ed25519.PublicKey)); err != nil {
		t.Fatalf("a signed manifest read back does not verify: %v", err)
	}
	// Any change of content breaks the signature, however the YAML is laid out.
	for _, change := range []struct{ from, to string }{
		{"address: localhost:1", "address: localhost:9"},
		{"serial: 1", "serial: 2"},
		{"role: province", "role: ministry"},
		{"expires: 2027", "expires: 2028"},
	} {
		tampered, err := ParseManifest(bytes.Replace(data, []byte(change.from), []byte(change.to), 1))
		if err != nil {
			continue // refused outright is as good
		}
		if err := tampered.VerifySignature(m.FederationKey); err == nil {
			t.Errorf("%q -> %q: the signature still verifies", change.from, change.to)
		}
	}
	unsigned := *m
	unsigned.Signature = nil
	if err := unsigned.VerifySignature(m.FederationKey); err == nil || !strings.Contains(err.Error(), "not signed") {
		t.Errorf("unsigned: %v", err)
	}
}

func TestAcceptOnlyHigherSerialsSignedByTheTrustedKey(t *testing.T) {
	m, fed := signedFederation(t)
	_, stranger, _ := GenerateKey()
	n2 := next(t, m, fed)
	if err := Accept(m, n2, time.Now()); err != nil {
		t.Fatalf("a newer manifest signed by the federation key: %v", err)
	}
	if err := Accept(n2, m, time.Now()); !errors.Is(err, ErrNotNewer) {
		t.Errorf("older: %v, want ErrNotNewer", err)
	}
	if err := Accept(m, m, time.Now()); !errors.Is(err, ErrNotNewer) {
		t.Errorf("same serial: %v, want ErrNotNewer", err)
	}
	forged := *n2
	forged.FederationKey = nil
	if err := forged.Sign(stranger); err != nil {
		t.Fatal(err)
	}
	if err := Accept(m, &forged, time.Now()); err == nil {
		t.Error("a manifest signed by a key of its own naming was accepted")
	}
	unsigned := *n2
	unsigned.Signature = nil
	if err := Accept(m, &unsigned, time.Now()); err == nil {
		t.Error("an unsigned manifest was accepted")
	}
	// Rotating the federation key: the old key signs the manifest naming
	// the new one; after it only the new key is trusted.
	_, fed2, _ := GenerateKey()
	rotated := *n2
	rotated.Serial++
	rotated.FederationKey = fed2.Public().(ed25519.PublicKey)
	if err := rotated.Sign(fed); err != nil {
		t.Fatal(err)
	}
	if err := Accept(n2, &rotated, time.Now()); err != nil {
		t.Fatalf("federation key rotation signed by the old key: %v", err)
	}
	if err := Accept(&rotated, next(t, &rotated, fed), time.Now()); err == nil {
		t.Error("the retired federation key still signs manifests")
	}
	if err := Accept(&rotated, next(t, &rotated, fed2), time.Now()); err != nil {
		t.Errorf("the new federation key: %v", err)
	}
	legacy := *m
	legacy.FederationKey, legacy.Signature = nil, nil
	if err := Accept(&legacy, n2, time.Now()); err == nil {
		t.Error("a node without a federation key took a manifest from a peer")
	}
}

func TestManifestPastItsGraceIsNotTaken(t *testing.T) {
	m, fed := signedFederation(t)
	now := time.Now()
	signedWith := func(base *Manifest, expires time.Time) *Manifest {
		n := next(t, base, fed)
		n.Issued, n.Expires = expires.Add(-365*24*time.Hour), expires
		if err := n.Sign(fed); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Signed on a machine whose clock was a year behind: already past its
	// grace when it arrives.
	stale := signedWith(m, now.Add(-ExpiryGrace-time.Hour))
	if err := Accept(m, stale, now); err == nil || !strings.Contains(err.Error(), "would stop sync") {
		t.Errorf("a manifest past its grace, offered to a node on a current one: %v", err)
	}
	// Expired but within its grace: taken, the node warns.
	if err := Accept(m, signedWith(m, now.Add(-time.Hour)), now); err != nil {
		t.Errorf("a manifest expired an hour ago: %v", err)
	}
	// One handing the federation key over is a step to the current
	// manifest, which the next key signed: a node behind takes it.
	_, fed2, _ := GenerateKey()
	handover := next(t, m, fed)
	handover.FederationKey = fed2.Public().(ed25519.PublicKey)
	handover.Issued, handover.Expires = now.Add(-60*24*time.Hour), now.Add(-ExpiryGrace-time.Hour)
	if err := handover.Sign(fed); err != nil {
		t.Fatal(err)
	}
	if err := Accept(m, handover, now); err != nil {
		t.Errorf("a stale manifest handing the federation key over, offered to a node behind: %v", err)
	}
	// A node already stopped takes it: it is no worse off, and it is newer.
	old := signedWith(m, now.Add(-ExpiryGrace-48*time.Hour))
	if err := Accept(old, signedWith(old, now.Add(-ExpiryGrace-time.Hour)), now); err != nil {
		t.Errorf("a stale node offered a newer stale manifest: %v", err)
	}
}

func TestDigestTellsManifestsOfOneSerialApart(t *testing.T) {
	m, fed := signedFederation(t)
	a, b := next(t, m, fed), next(t, m, fed)
	if !bytes.Equal(a.Digest(), b.Digest()) || len(a.Digest()) != 32 {
		t.Fatalf("one content, two digests: %x %x", a.Digest(), b.Digest())
	}
	b.Members = b.Members[:len(b.Members)-1]
	if err := b.Sign(fed); err != nil {
		t.Fatal(err)
	}
	if a.Serial != b.Serial || bytes.Equal(a.Digest(), b.Digest()) {
		t.Errorf("a member removed at the same serial: digests %x and %x", a.Digest(), b.Digest())
	}
}

func TestNewestAtStart(t *testing.T) {
	m, fed := signedFederation(t)
	n2 := next(t, m, fed)
	for _, tc := range []struct {
		name          string
		stored, given *Manifest
		want          *Manifest
	}{
		{"new node", nil, m, m},
		{"file newer", m, n2, n2},
		{"synced newer than the file", n2, m, n2},
	} {
		got, err := Newest(tc.stored, tc.given)
		if err != nil || got != tc.want {
			t.Errorf("%s: got serial %v, %v", tc.name, got, err)
		}
	}
	unsigned := *n2
	unsigned.Signature = nil
	if _, err := Newest(m, &unsigned); err == nil {
		t.Error("an unsigned file replaced a signed manifest")
	}
	if _, err := Newest(nil, &unsigned); err == nil {
		t.Error("a new node started on an unsigned manifest")
	}
	_, stranger, _ := GenerateKey()
	other := *n2
	other.FederationKey = nil
	if err := other.Sign(stranger); err != nil {
		t.Fatal(err)
	}
	if _, err := Newest(m, &other); err == nil {
		t.Error("a file signed by another federation key replaced the stored manifest")
	}
	// A stored manifest changed in the database since the node took it (a
	// key added, its signature left as it was) is refused, newer or not.
	planted := *n2
	planted.Serial = 101
	if _, err := Newest(&planted, m); err == nil || !strings.Contains(err.Error(), "the manifest the node saved in its database (serial 101) does not verify") {
		t.Errorf("a stored manifest whose signature no longer verifies: %v", err)
	}
	// A node that stored an unsigned manifest before signing existed takes
	// the signed copy of it from its operator.
	legacy := *m
	legacy.FederationKey, legacy.Signature = nil, nil
	if got, err := Newest(&legacy, m); err != nil || got != m {
		t.Errorf("upgrade from an unsigned stored manifest: %v, %v", got, err)
	}
}

func TestFreshness(t *testing.T) {
	m := &Manifest{Serial: 3, Expires: testNow}
	for _, tc := range []struct {
		at   time.Time
		want Freshness
	}{
		{testNow.Add(-ExpiryWarning - time.Hour), Fresh},
		{testNow.Add(-ExpiryWarning + time.Hour), ExpiresSoon},
		{testNow.Add(time.Hour), InGrace},
		{testNow.Add(ExpiryGrace + time.Hour), Stale},
	} {
		got, msg := m.Freshness(tc.at)
		if got != tc.want || (got != Fresh) != (msg != "") {
			t.Errorf("at %s: %v %q, want %v", tc.at, got, msg, tc.want)
		}
	}
	if f, _ := (&Manifest{Serial: 1}).Freshness(testNow); f != Fresh {
		t.Errorf("no expiry: %v", f)
	}
}

func TestLiveKeepsTheOldManifestWhenSavingFails(t *testing.T) {
	m, fed := signedFederation(t)
	fail := errors.New("disk full")
	var saved, seen []int
	l := NewLive(m, func(n *Manifest) error {
		if n.Serial == 2 {
			return fail
		}
		saved = append(saved, n.Serial)
		return nil
	})
	l.OnChange(func(n *Manifest) { seen = append(seen, n.Serial) })
	n2 := next(t, m, fed)
	if err := l.Offer(n2); !errors.Is(err, fail) || l.Load() != m {
		t.Fatalf("a manifest that could not be saved: %v, in effect serial %d", err, l.Load().Serial)
	}
	n3 := next(t, n2, fed)
	if err := l.Offer(n3); err != nil || l.Load() != n3 {
		t.Fatalf("offer 3: %v", err)
	}
	if len(saved) != 1 || saved[0] != 3 || len(seen) != 1 || seen[0] != 3 {
		t.Errorf("saved %v, listeners saw %v", saved, seen)
	}
}

func TestSigningKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "federation.key")
	pub, key, _ := GenerateKey()
	if err := WriteSigningKeyFile(path, key); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSigningKeyFile(path)
	if err != nil || !got.Equal(key) || !pub.Equal(got.Public()) {
		t.Fatalf("read back: %v", err)
	}
	_, other, _ := GenerateKey()
	if err := WriteSigningKeyFile(path, other); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("overwrite: %v", err)
	}
}

func TestRotateKeysKeepsTheOldOnes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.key")
	before, err := GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteKeyFile(path, before); err != nil {
		t.Fatal(err)
	}
	if _, err := RotateKeys(path); err != nil {
		t.Fatal(err)
	}
	after, err := ReadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if after.Signing.Equal(before.Signing) || after.EncryptionPublic().Equal(before.EncryptionPublic()) {
		t.Fatal("rotation kept the same newest keys")
	}
	if k, ok := after.SigningKeyFor(before.SigningPublic()); !ok || !k.Equal(before.Signing) {
		t.Error("the old signing key is gone: the node could not sign until the manifest names the new one")
	}
	if !after.HasEncryptionKey(before.EncryptionPublic()) {
		t.Error("the old encryption key is gone: what was sealed to it cannot be opened")
	}
	if _, ok := after.SigningKeyFor(after.SigningPublic()); !ok {
		t.Error("the new signing key is not found by its public key")
	}
}

func signedFederation(t *testing.T) (*Manifest, ed25519.PrivateKey) {
	t.Helper()
	m, _, fed, err := DevFederationKey([]string{"cao-bang", "mofa"}, []string{"localhost:1", "localhost:2"}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Sign(fed); err != nil {
		t.Fatal(err)
	}
	return m, fed
}
