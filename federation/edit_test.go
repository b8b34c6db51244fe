package federation

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestEntryRoundTrip(t *testing.T) {
	k, err := GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id, addr string
		role     Role
	}{
		{"cao-bang", "cao-bang.example:9400", RoleProvince},
		{"mofa", "mofa.example:9400", RoleMinistry},
		{"", "", ""}, // placeholders read back as not given, the role too
	} {
		text := FormatEntry(c.id, c.addr, k.SigningPublic(), k.EncryptionPublic())
		e, err := ParseEntry([]byte(text))
		if err != nil {
			t.Fatalf("%q: %v\n%s", c.id, err, text)
		}
		if e.ID != c.id || e.Address != c.addr || e.Role != c.role || !e.PublicKey.Equal(k.SigningPublic()) || !e.EncryptionKey.Equal(k.EncryptionPublic()) {
			t.Errorf("%q: read back %+v from\n%s", c.id, e, text)
		}
		// The bare mapping, without the list's dash, is an entry too.
		if _, err := ParseEntry([]byte(strings.Replace(text, "  - id:", "    id:", 1))); err != nil {
			t.Errorf("%q as a mapping: %v", c.id, err)
		}
	}
	// What keygen --rotate-encryption prints alone.
	e, err := ParseEntry([]byte("    encryption_key: " + EncodeEncryptionKey(k.EncryptionPublic()) + "\n"))
	if err != nil || e.PublicKey != nil || !e.EncryptionKey.Equal(k.EncryptionPublic()) {
		t.Errorf("encryption key alone: %+v, %v", e, err)
	}
}

func TestParseEntryErrors(t *testing.T) {
	k, _ := GenerateKeys()
	good := FormatEntry("cao-bang", "x:1", k.SigningPublic(), k.EncryptionPublic())
	for _, c := range []struct{ name, text, want string }{
		{"empty", "", "one member, got 0"},
		{"two members", good + good, "one member, got 2"},
		{"unknown field", good + "    colour: red\n", "colour"},
		{"bad base64", strings.Replace(good, "public_key: ", "public_key: not.base64", 1), "public_key: not valid base64"},
		{"short key", "public_key: AAAA\n", "public_key: must decode to 32 bytes"},
		{"bad encryption key", "encryption_key: AAAA\n", "encryption_key: must decode"},
		{"prose", "hello there\n", "not the output of provex keygen"},
		{"nothing in it", "{}\n", "empty"},
	} {
		_, err := ParseEntry([]byte(c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
}

func TestEditMembers(t *testing.T) {
	m, keys, _, err := DevFederationKey([]string{"cao-bang", "mofa"}, []string{"localhost:1", "localhost:2"}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := GenerateKeys()
	newcomer := Member{ID: "nghe-an", Role: RoleProvince, Address: "localhost:3", PublicKey: k.SigningPublic(), EncryptionKey: k.EncryptionPublic()}
	if err := m.AddMember(newcomer); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(m.MemberIDs(), ","); got != "cao-bang,mofa,nghe-an" {
		t.Fatalf("members %s", got)
	}
	before := strings.Join(m.MemberIDs(), ",")
	k2, _ := GenerateKeys()
	for _, c := range []struct {
		name string
		mem  Member
		want string
	}{
		{"duplicate id", newcomer, "already a member"},
		{"another's signing key", Member{ID: "lang-son", Role: RoleProvince, Address: "x:1", PublicKey: keys["mofa"].SigningPublic(), EncryptionKey: k.EncryptionPublic()}, "mofa's"},
		{"another's encryption key", Member{ID: "lang-son", Role: RoleProvince, Address: "x:1", PublicKey: ed25519.PublicKey(make([]byte, 32)), EncryptionKey: keys["cao-bang"].EncryptionPublic()}, "cao-bang's"},
		{"not a province", Member{ID: "atlantis", Role: RoleProvince, Address: "x:1", PublicKey: ed25519.PublicKey(make([]byte, 32)), EncryptionKey: k2.EncryptionPublic()}, "not a known province"},
		{"bad address", Member{ID: "lang-son", Role: RoleProvince, Address: "lang-son", PublicKey: ed25519.PublicKey(make([]byte, 32)), EncryptionKey: k2.EncryptionPublic()}, "address"},
		{"no encryption key", Member{ID: "lang-son", Role: RoleProvince, Address: "x:1", PublicKey: ed25519.PublicKey(make([]byte, 32))}, "encryption_key"},
	} {
		if err := m.AddMember(c.mem); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("add %s: %v, want %q", c.name, err, c.want)
		}
		if got := strings.Join(m.MemberIDs(), ","); got != before {
			t.Fatalf("a refused add changed the members to %s", got)
		}
	}

	// Rotation: the old signing key moves to previous_public_keys.
	oldPub := m.Members[0].PublicKey
	r, _ := GenerateKeys()
	if err := m.RotateMember("cao-bang", r.SigningPublic(), r.EncryptionPublic()); err != nil {
		t.Fatal(err)
	}
	cb, _ := m.Member("cao-bang")
	if !cb.PublicKey.Equal(r.SigningPublic()) || len(cb.PreviousPublicKeys) != 1 || !cb.PreviousPublicKeys[0].Equal(oldPub) || !cb.EncryptionKey.Equal(r.EncryptionPublic()) {
		t.Fatalf("after rotation: %+v", cb)
	}
	if err := m.RotateMember("cao-bang", r.SigningPublic(), r.EncryptionPublic()); err == nil || !strings.Contains(err.Error(), "already publishes") {
		t.Errorf("rotating to the same keys: %v", err)
	}
	if err := m.RotateMember("cao-bang", oldPub, nil); err == nil || !strings.Contains(err.Error(), "retired key of cao-bang") {
		t.Errorf("rotating back to a retired key: %v", err)
	}
	if err := m.RotateMember("nghe-an", keys["mofa"].SigningPublic(), nil); err == nil || !strings.Contains(err.Error(), "mofa's") {
		t.Errorf("rotating to another member's key: %v", err)
	}
	if err := m.RotateMember("lang-son", r.SigningPublic(), nil); err == nil || !strings.Contains(err.Error(), "not a member") {
		t.Errorf("rotating a stranger: %v", err)
	}
	// An encryption key alone: the signing keys stay.
	e2, _ := GenerateKeys()
	if err := m.RotateMember("cao-bang", nil, e2.EncryptionPublic()); err != nil {
		t.Fatal(err)
	}
	if cb, _ = m.Member("cao-bang"); !cb.PublicKey.Equal(r.SigningPublic()) || len(cb.PreviousPublicKeys) != 1 {
		t.Errorf("an encryption rotation moved the signing keys: %+v", cb)
	}

	if err := m.RemoveMember("nghe-an"); err != nil {
		t.Fatal(err)
	}
	if err := m.RemoveMember("nghe-an"); err == nil || !strings.Contains(err.Error(), "not a member") {
		t.Errorf("removing twice: %v", err)
	}
	if err := m.RemoveMember("mofa"); err != nil {
		t.Fatal(err)
	}
	if err := m.RemoveMember("cao-bang"); err == nil || !strings.Contains(err.Error(), "only member") {
		t.Errorf("removing the last member: %v", err)
	}
	if got := strings.Join(m.MemberIDs(), ","); got != "cao-bang" {
		t.Errorf("members %s", got)
	}
}

func TestWriteNewFileNeverReplaces(t *testing.T) {
	m, _, err := DevFederation([]string{"cao-bang"}, []string{"localhost:1"}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "manifest.yaml")
	if err := os.WriteFile(path, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := m.WriteNewFile(path); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("over an existing file: %v", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "keep" {
		t.Fatalf("the file became %q", data)
	}
	os.Remove(path)
	if err := m.WriteNewFile(path); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadManifest(path); err != nil {
		t.Fatal(err)
	}
}

// TestAddressesAreComparedAsDialled: an address is another member's however
// it is written, and an unspecified IP is refused in every form; a demo's
// members on one host at different ports, or link-local addresses of
// different interfaces, are different addresses.
func TestAddressesAreComparedAsDialled(t *testing.T) {
	m, _, err := DevFederation([]string{"cao-bang", "lang-son"}, []string{"127.0.0.1:7400", "[fe80::1%eth0]:7401"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]string{
		"[::ffff:127.0.0.1]:7400": "is cao-bang's",
		"127.0.0.1:07400":         "is cao-bang's",
		"[fe80::0001%eth0]:7401":  "is lang-son's",
		"[::%eth0]:7402":          "no address to dial",
		"[::ffff:0.0.0.0]:7402":   "no address to dial",
		"0.0.0.0:7402":            "no address to dial",
		"127.0.0.1:7402":          "",
		"[fe80::1%eth1]:7401":     "",
		"cao-bang.example.:7400":  "",
		"LOCALHOST.:7400":         "",
	} {
		err := m.checkDialable("nghe-an", addr)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: %v, want %q", addr, err, want)
		}
	}
	m.Members[0].Address = "Host.Example:7400"
	if err := m.checkDialable("nghe-an", "host.example.:7400"); err == nil || !strings.Contains(err.Error(), "is cao-bang's") {
		t.Errorf("a host name in another case, with the root's dot: %v", err)
	}
	if err := m.checkDialable("cao-bang", "host.example:7400"); err != nil {
		t.Errorf("a member's own address: %v", err)
	}
}
