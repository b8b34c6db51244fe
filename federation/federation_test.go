package federation

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/provex/provex/pki"
)

var testNow = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)

func devFederation(t testing.TB) (*Manifest, map[string]NodeKeys) {
	t.Helper()
	m, keys, fed, err := DevFederationKey(
		[]string{"nghe-an", "mofa", "cao-bang"},
		[]string{"localhost:7401", "localhost:7499", "localhost:7400"},
		testNow)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Sign(fed); err != nil {
		t.Fatal(err)
	}
	return m, keys
}

func equalManifests(a, b *Manifest) bool {
	if a.Serial != b.Serial || !a.Issued.Equal(b.Issued) || !a.Expires.Equal(b.Expires) ||
		a.Issued.IsZero() != b.Issued.IsZero() || a.Expires.IsZero() != b.Expires.IsZero() ||
		len(a.Members) != len(b.Members) {
		return false
	}
	for i := range a.Members {
		x, y := a.Members[i], b.Members[i]
		if x.ID != y.ID || x.Role != y.Role || x.Address != y.Address || !x.PublicKey.Equal(y.PublicKey) || !x.EncryptionKey.Equal(y.EncryptionKey) {
			return false
		}
	}
	return true
}

func TestDevFederation(t *testing.T) {
	m, keys := devFederation(t)
	if m.Serial != 1 || !m.Issued.Equal(testNow) || !m.Expires.Equal(testNow.AddDate(1, 0, 0)) {
		t.Errorf("header = %d %v %v", m.Serial, m.Issued, m.Expires)
	}
	var ids []string
	for _, mem := range m.Members {
		ids = append(ids, mem.ID)
		if !keys[mem.ID].SigningPublic().Equal(mem.PublicKey) || !keys[mem.ID].EncryptionPublic().Equal(mem.EncryptionKey) {
			t.Errorf("%s: private keys do not match public keys", mem.ID)
		}
	}
	if got := strings.Join(ids, ","); got != "cao-bang,mofa,nghe-an" {
		t.Errorf("members = %s, want sorted by id", got)
	}
	if min, ok := m.Ministry(); !ok || min.ID != "mofa" || min.Role != RoleMinistry || min.Address != "localhost:7499" {
		t.Errorf("Ministry() = %+v, %v", min, ok)
	}
	if mem, ok := m.Member("cao-bang"); !ok || mem.Role != RoleProvince || mem.Address != "localhost:7400" {
		t.Errorf("Member(cao-bang) = %+v, %v", mem, ok)
	}
	if _, ok := m.Member("ha-noi"); ok {
		t.Error("Member(ha-noi) found")
	}
	if pk, ok := m.PublicKey("nghe-an"); !ok || !pk.Equal(keys["nghe-an"].SigningPublic()) {
		t.Error("PublicKey(nghe-an) wrong")
	}
	if ek, ok := m.EncryptionKey("nghe-an"); !ok || !ek.Equal(keys["nghe-an"].EncryptionPublic()) {
		t.Error("EncryptionKey(nghe-an) wrong")
	}
	if got := strings.Join(m.MemberIDs(), ","); got != "cao-bang,mofa,nghe-an" {
		t.Errorf("MemberIDs() = %s", got)
	}
	if _, ok := m.PublicKey("ha-noi"); ok {
		t.Error("PublicKey(ha-noi) found")
	}
	if m.Expired(testNow.AddDate(0, 11, 0)) || !m.Expired(testNow.AddDate(1, 0, 1)) {
		t.Error("Expired wrong")
	}
	if (&Manifest{}).Expired(testNow) {
		t.Error("manifest without expiry expired")
	}

	if _, _, err := DevFederation([]string{"cao-bang"}, nil, testNow); err == nil {
		t.Error("DevFederation with mismatched lengths: no error")
	}
	if _, _, err := DevFederation([]string{"atlantis"}, []string{"localhost:1"}, testNow); err == nil {
		t.Error("DevFederation with unknown province: no error")
	}
}

func TestRoundTrip(t *testing.T) {
	m, _ := devFederation(t)
	path := filepath.Join(t.TempDir(), "federation.yaml")
	if err := m.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode = %#o, want 0644", fi.Mode().Perm())
	}
	got, err := LoadManifest(path)
	if err != nil {
		t.Fatal(err)
	}
	if !equalManifests(got, m) {
		t.Errorf("loaded %+v, want %+v", got, m)
	}

	// Overwrite with a new version; no temporary files are left behind.
	m.Serial = 2
	if err := m.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	if got, err := LoadManifest(path); err != nil || got.Serial != 2 {
		t.Errorf("after rewrite: %v, %v", got, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want 1", len(entries))
	}

	if _, err := LoadManifest(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("LoadManifest of a missing file: no error")
	}
}

func TestMarshalDeterministic(t *testing.T) {
	m, _ := devFederation(t)
	a, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// Same content in another member order and time zone marshals the same.
	shuffled := *m
	shuffled.Members = []Member{m.Members[2], m.Members[0], m.Members[1]}
	shuffled.Issued = m.Issued.In(time.FixedZone("ICT", 7*3600))
	b, err := shuffled.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("Marshal not deterministic:\n%s\n%s", a, b)
	}
	if want := "serial: 1\nissued: 2026-11-24T00:00:00Z\nexpires: 2027-11-24T00:00:00Z\nfederation_key: " + EncodePublicKey(m.FederationKey) +
		"\nmembers:\n  - id: cao-bang\n    role: province\n    address: localhost:7400\n    public_key: "; !strings.HasPrefix(string(a), want) {
		t.Errorf("unexpected format:\n%s", a)
	}
	if !strings.HasSuffix(string(a), "\nsignature: "+base64.StdEncoding.EncodeToString(m.Signature)+"\n") {
		t.Errorf("the signature is not the last line:\n%s", a)
	}
	if m.Members[0].ID != "cao-bang" {
		t.Error("Marshal reordered the caller's members")
	}
	if _, err := (&Manifest{}).Marshal(); err == nil {
		t.Error("Marshal of an invalid manifest: no error")
	}
}

func TestParseJSONAndQuotedAddress(t *testing.T) {
	key := EncodePublicKey(make([]byte, 32))
	m, err := ParseManifest([]byte(`{"version": 2, "members": [{"id": "ha-noi", "role": "province", "address": "[::1]:7400", "public_key": "` + key + `", "encryption_key": "` + key + `"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if !m.Issued.IsZero() || !m.Expires.IsZero() || m.Members[0].Address != "[::1]:7400" {
		t.Errorf("got %+v", m)
	}
	if _, ok := m.Ministry(); ok {
		t.Error("Ministry() found in a manifest without one")
	}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	m2, err := ParseManifest(data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if !equalManifests(m, m2) {
		t.Errorf("round trip: %+v, want %+v", m2, m)
	}
}

func TestParseManifestErrors(t *testing.T) {
	key := EncodePublicKey(make([]byte, 32))
	enc := "    encryption_key: " + key + "\n"
	member := func(id, role, addr, pk string) string {
		return "  - id: " + id + "\n    role: " + role + "\n    address: " + addr + "\n    public_key: " + pk + "\n" + enc
	}
	head := "version: 3\nissued: 2026-11-24T00:00:00Z\nexpires: 2027-11-24T00:00:00Z\nmembers:\n"
	good := member("cao-bang", "province", "localhost:7400", key)
	if _, err := ParseManifest([]byte(head + good + member("mofa", "ministry", "localhost:7499", key))); err != nil {
		t.Fatalf("valid manifest rejected: %v", err)
	}
	tests := []struct {
		name, data string
		want       []string // all must appear in the error
	}{
		{"version missing", "issued: 2026-11-24T00:00:00Z\nmembers:\n" + good, []string{"serial"}},
		{"version zero", "version: 0\nmembers:\n" + good, []string{"serial", "at least 1"}},
		{"version negative", "version: -4\nmembers:\n" + good, []string{"serial"}},
		{"version not a number", "version: three\nmembers:\n" + good, []string{"version"}},
		{"issued not a time", "version: 1\nissued: yesterday\nmembers:\n" + good, []string{"issued", "RFC 3339"}},
		{"expires not a time", "version: 1\nexpires: 2027-11-24\nmembers:\n" + good, []string{"expires", "RFC 3339"}},
		{"expires before issued", "version: 1\nissued: 2026-11-24T00:00:00Z\nexpires: 2025-11-24T00:00:00Z\nmembers:\n" + good, []string{"expires", "issued"}},
		{"expires equals issued", "version: 1\nissued: 2026-11-24T00:00:00Z\nexpires: 2026-11-24T07:00:00+07:00\nmembers:\n" + good, []string{"expires", "not after"}},
		{"no members key", "version: 1\n", []string{"members", "at least one"}},
		{"empty members", "version: 1\nmembers: []\n", []string{"members", "at least one"}},
		{"duplicate id", head + good + good, []string{"member 1", `"cao-bang"`, "id", "duplicate"}},
		{"missing id", head + good + "  - role: province\n    address: localhost:1\n    public_key: " + key + "\n" + enc, []string{"member 1", "id", "missing"}},
		{"bad role", head + member("cao-bang", "embassy", "localhost:7400", key), []string{"member 0", "role", "embassy"}},
		{"missing role", head + "  - id: cao-bang\n    address: localhost:7400\n    public_key: " + key + "\n" + enc, []string{"member 0", "role", "missing"}},
		{"unknown province", head + member("atlantis", "province", "localhost:7400", key), []string{"member 0", `"atlantis"`, "id", "province slug"}},
		{"pre-merger province", head + member("bac-giang", "province", "localhost:7400", key), []string{"member 0", `"bac-giang"`, "id"}},
		{"mofa as province", head + member("mofa", "province", "localhost:7400", key), []string{"member 0", `"mofa"`, "role", "ministry"}},
		{"ministry not mofa", head + member("ha-noi", "ministry", "localhost:7400", key), []string{"member 0", `"ha-noi"`, "id", `"mofa"`}},
		{"two ministries", head + member("mofa", "ministry", "localhost:7499", key) + member("mofa", "ministry", "localhost:7498", key), []string{"member 1", "id", "duplicate"}},
		{"missing address", head + "  - id: cao-bang\n    role: province\n    public_key: " + key + "\n" + enc, []string{"member 0", "address", "missing"}},
		{"address without port", head + member("cao-bang", "province", "localhost", key), []string{"member 0", "address", "host:port"}},
		{"address without host", head + member("cao-bang", "province", `":7400"`, key), []string{"member 0", "address", "no host"}},
		{"address port zero", head + member("cao-bang", "province", "localhost:0", key), []string{"member 0", "address", "1..65535"}},
		{"address port too big", head + member("cao-bang", "province", "localhost:65536", key), []string{"member 0", "address", "1..65535"}},
		{"address port named", head + member("cao-bang", "province", "localhost:grpc", key), []string{"member 0", "address", "not a number"}},
		{"address port signed", head + member("cao-bang", "province", `"localhost:+80"`, key), []string{"member 0", "address", "not a number"}},
		{"address with space", head + member("cao-bang", "province", `"local host:7400"`, key), []string{"member 0", "address", "space"}},
		{"missing public key", head + "  - id: cao-bang\n    role: province\n    address: localhost:7400\n" + enc, []string{"member 0", "public_key", "missing"}},
		{"missing encryption key (a manifest of an older provex)", head + "  - id: cao-bang\n    role: province\n    address: localhost:7400\n    public_key: " + key + "\n",
			[]string{"member 0", "encryption_key", "missing", "provex keygen"}},
		{"encryption key too short", head + "  - id: cao-bang\n    role: province\n    address: localhost:7400\n    public_key: " + key + "\n    encryption_key: " + EncodePublicKey(make([]byte, 31)) + "\n",
			[]string{"member 0", "encryption_key", "32-byte"}},
		{"public key not base64", head + member("cao-bang", "province", "localhost:7400", "not*base64"), []string{"member 0", "public_key", "base64"}},
		{"public key too short", head + member("cao-bang", "province", "localhost:7400", EncodePublicKey(make([]byte, 31))), []string{"member 0", "public_key", "32 bytes"}},
		{"public key too long", head + member("cao-bang", "province", "localhost:7400", EncodePublicKey(make([]byte, 64))), []string{"member 0", "public_key", "32 bytes"}},
		{"unknown top-level key", head + good + "extra: 1\n", []string{"extra"}},
		{"unknown member key", head + good + "    tls: true\n", []string{"tls"}},
		{"duplicate key", "version: 1\nversion: 2\nmembers:\n" + good, []string{"version"}},
		{"not yaml", "version: [\n", []string{"parse manifest"}},
		{"members not a list", "version: 1\nmembers: cao-bang\n", []string{"members"}},
		{"too large", head + good + "# " + strings.Repeat("x", MaxManifestSize) + "\n", []string{"larger than"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseManifest([]byte(tt.data))
			if err == nil {
				t.Fatalf("no error; got %+v", m)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestLoadManifestTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(path, bytes.Repeat([]byte("#"), MaxManifestSize+10), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadManifest(path); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("err = %v", err)
	}
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	keys, err := GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "node.key")
	if err := WriteKeyFile(path, keys); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %#o, want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), "-----BEGIN PRIVATE KEY-----\n") || strings.Count(string(data), "BEGIN PRIVATE KEY") != 2 {
		t.Errorf("key file:\n%s", data)
	}
	got, err := ReadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("checkpoint cao-bang 42")
	if !ed25519.Verify(keys.SigningPublic(), msg, ed25519.Sign(got.Signing, msg)) {
		t.Error("signature by the read key does not verify with the public key")
	}
	if len(got.Encryption) != 1 || !got.EncryptionPublic().Equal(keys.EncryptionPublic()) {
		t.Error("encryption key not read back")
	}

	// Never overwrite.
	other, _ := GenerateKeys()
	if err := WriteKeyFile(path, other); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("overwrite: err = %v", err)
	}
	if again, err := ReadKeyFile(path); err != nil || !again.Signing.Equal(keys.Signing) {
		t.Errorf("key changed after refused overwrite: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want 1", len(entries))
	}
	if err := WriteKeyFile(filepath.Join(dir, "short.key"), NodeKeys{Signing: keys.Signing[:10], Encryption: keys.Encryption}); err == nil {
		t.Error("WriteKeyFile of a short key: no error")
	}
	if err := WriteKeyFile(filepath.Join(dir, "noenc.key"), NodeKeys{Signing: keys.Signing}); err == nil {
		t.Error("WriteKeyFile without an encryption key: no error")
	}

	// Rotation keeps the old encryption keys, newest first, and the
	// signing key.
	rotated, err := RotateEncryptionKey(path)
	if err != nil {
		t.Fatal(err)
	}
	again, err := ReadKeyFile(path)
	if err != nil || len(again.Encryption) != 2 || !again.Encryption[1].Equal(keys.Encryption[0]) ||
		!again.EncryptionPublic().Equal(rotated.EncryptionPublic()) || again.EncryptionPublic().Equal(keys.EncryptionPublic()) ||
		!again.Signing.Equal(keys.Signing) {
		t.Errorf("after rotation: %v, %d encryption keys", err, len(again.Encryption))
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after rotation = %#o", fi.Mode().Perm())
	}

	// Readable by others.
	open := filepath.Join(dir, "open.key")
	if err := os.WriteFile(open, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o644); err != nil { // in case of a strict umask
		t.Fatal(err)
	}
	if _, err := ReadKeyFile(open); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("mode 0644: err = %v", err)
	}

	bad := func(name string, content []byte, want string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, content, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadKeyFile(p); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want mention of %q", name, err, want)
		}
	}
	blocks := strings.SplitAfter(string(data), "-----END PRIVATE KEY-----\n")
	bad("garbage.key", []byte("not a key at all"), "no PEM block")
	bad("garbage-pem.key", []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), "read key file")
	bad("wrong-type.key", bytes.Replace(data, []byte("PRIVATE KEY"), []byte("EC PRIVATE KEY"), 2), "PEM block is")
	bad("signing-only.key", []byte(blocks[0]), "signing key only")
	bad("encryption-only.key", []byte(blocks[1]), "no signing")
	bad("swapped.key", []byte(blocks[1]+blocks[0]), "must come first")
	bad("two-signing.key", []byte(blocks[0]+blocks[0]+blocks[1]), "same signing key twice")
	if _, err := ReadKeyFile(filepath.Join(dir, "missing.key")); err == nil {
		t.Error("missing key file: no error")
	}
}

func TestPublicKeyEncoding(t *testing.T) {
	pub, _, _ := GenerateKey()
	s := EncodePublicKey(pub)
	if len(s) != 44 {
		t.Errorf("encoded length %d", len(s))
	}
	got, err := DecodePublicKey(s)
	if err != nil || !got.Equal(pub) {
		t.Errorf("DecodePublicKey = %v, %v", got, err)
	}
	for _, s := range []string{"", "!!!", EncodePublicKey(pub[:16]), s[:43]} {
		if _, err := DecodePublicKey(s); err == nil {
			t.Errorf("DecodePublicKey(%q): no error", s)
		}
	}
}

func FuzzParseManifest(f *testing.F) {
	m, _ := devFederation(f)
	valid, err := m.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(bytes.Replace(valid, []byte("version: 1"), []byte("version: 0"), 1))
	f.Add(bytes.Replace(valid, []byte("cao-bang"), []byte("mofa"), 1))
	f.Add(bytes.Replace(valid, []byte("localhost:7400"), []byte(`"[::1]:7400"`), 1))
	f.Add(bytes.Replace(valid, []byte("province"), []byte("ministry"), 1))
	f.Add(valid[:len(valid)/2])
	f.Add([]byte(`{"version": 1, "members": [{"id": "ha-noi", "role": "province", "address": "h:1", "public_key": "` + EncodePublicKey(make([]byte, 32)) + `", "encryption_key": "` + EncodePublicKey(make([]byte, 32)) + `"}]}`))
	f.Add([]byte("version: 1\nissued: 2026-11-24T07:00:00.5+07:00\nmembers:\n  - {id: hue, role: province, address: 'a:1', public_key: " + EncodePublicKey(make([]byte, 32)) + ", encryption_key: " + EncodePublicKey(make([]byte, 32)) + "}\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte(""))
	f.Add([]byte("\x00\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			return
		}
		out, err := m.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed manifest: %v", err)
		}
		m2, err := ParseManifest(out)
		if err != nil {
			t.Fatalf("reparse: %v\n%s", err, out)
		}
		if !equalManifests(m, m2) {
			t.Fatalf("round trip changed the manifest:\n%+v\n%+v", m, m2)
		}
		out2, err := m2.Marshal()
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("Marshal not stable: %v\n%s\n%s", err, out, out2)
		}
	})
}

// TestManifestCA: the federation CA travels in the manifest and comes back
// as a pool that verifies the certificates it issued; anything but CA
// certificates in PEM is refused.
func TestManifestCA(t *testing.T) {
	m, _, err := DevFederation([]string{"cao-bang", "mofa"}, []string{"localhost:9400", "localhost:9401"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.InitCA(t.TempDir(), pki.DefaultCAName, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	m.CA = ca.CertPEM()
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseManifest(data)
	if err != nil {
		t.Fatalf("parse what Marshal wrote: %v\n%s", err, data)
	}
	pool, err := back.CAPool()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.IssueTLS("cao-bang", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("a node certificate does not verify with the manifest's CA: %v", err)
	}
	leafPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	for name, bad := range map[string][]byte{"not PEM": []byte("hello"), "a node certificate": leafPEM, "a key": []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")} {
		m.CA = bad
		if _, err := m.Marshal(); err == nil {
			t.Errorf("a manifest whose ca is %s was accepted", name)
		}
	}
}
