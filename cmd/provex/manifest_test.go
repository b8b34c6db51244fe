package main

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/provex/provex/federation"
)

// provexIn runs the command line's entry point in dir, the test's working
// directory (t.Chdir), so that relative paths resolve there as in a shell,
// and returns stdout, stderr and the exit status.
func provexIn(t *testing.T, dir, stdin string, args ...string) (string, string, int) {
	t.Helper()
	if wd, err := os.Getwd(); err != nil || wd != dir {
		t.Fatalf("run in %s, not %s (%v)", dir, wd, err)
	}
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), code
}

// manifestAt reads the manifest in dir and checks that the federation key
// in dir signed it, with the serial want.
func manifestAt(t *testing.T, dir string, want int) *federation.Manifest {
	t.Helper()
	return manifestFileAt(t, dir, "manifest.yaml", want)
}

// manifestFileAt is manifestAt of the manifest file name in dir.
func manifestFileAt(t *testing.T, dir, name string, want int) *federation.Manifest {
	t.Helper()
	m, err := federation.LoadManifest(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	key, err := federation.ReadSigningKeyFile(filepath.Join(dir, "federation.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.VerifySignature(key.Public().(ed25519.PublicKey)); err != nil {
		t.Fatalf("serial %d: %v", m.Serial, err)
	}
	if m.Serial != want {
		t.Fatalf("serial %d, want %d", m.Serial, want)
	}
	return m
}

func TestManifestCommands(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	ok := func(stdin string, args ...string) string {
		t.Helper()
		out, stderr, code := provexIn(t, dir, stdin, args...)
		if code != 0 {
			t.Fatalf("provex %s: exit %d\n%s", strings.Join(args, " "), code, stderr)
		}
		return out
	}
	// refused runs a command that must fail with status code, naming want,
	// and leave the manifest as it was.
	refused := func(code int, want string, stdin string, args ...string) {
		t.Helper()
		before, _ := os.ReadFile(filepath.Join(dir, "manifest.yaml"))
		_, stderr, got := provexIn(t, dir, stdin, args...)
		if got != code || !strings.Contains(stderr, want) {
			t.Errorf("provex %s: exit %d, want %d with %q:\n%s", strings.Join(args, " "), got, code, want, stderr)
		}
		if after, _ := os.ReadFile(filepath.Join(dir, "manifest.yaml")); !bytes.Equal(before, after) {
			t.Fatalf("provex %s changed the manifest", strings.Join(args, " "))
		}
	}
	ok("", "ca", "init", "--dir", "provex-ca")
	refused(2, "first member", "", "manifest", "init")
	// keygen told neither the member nor its address: the flags name
	// them, and the role follows from the member (an outside review found
	// the placeholder's province role kept for mofa).
	mofaEntry := ok("", "keygen", "--out", "mofa.key")
	mofaFlags := []string{"--member", "mofa", "--address", "mofa.example:9400"}
	refused(1, "ca.pem", mofaEntry, append([]string{"manifest", "init", "--entry", "-", "--ca-dir", "nowhere"}, mofaFlags...)...)
	if _, err := os.Stat(filepath.Join(dir, "federation.key")); err == nil {
		t.Fatal("a failed init left a federation key behind")
	}
	ok(mofaEntry, append([]string{"manifest", "init", "--entry", "-", "--federation-key", "federation.key", "--ca-dir", "provex-ca", "--out", "manifest.yaml", "--valid", "90d"}, mofaFlags...)...)
	m := manifestAt(t, dir, 1)
	if strings.Join(m.MemberIDs(), ",") != "mofa" || len(m.CA) == 0 || m.Expires.Sub(m.Issued) != 90*24*time.Hour {
		t.Fatalf("init wrote members %v, ca %d bytes, valid %s", m.MemberIDs(), len(m.CA), m.Expires.Sub(m.Issued))
	}
	if mofa, _ := m.Member("mofa"); mofa.Role != federation.RoleMinistry || mofa.Address != "mofa.example:9400" {
		t.Fatalf("init wrote mofa as %+v", mofa)
	}
	if runtime.GOOS != "windows" {
		if fi, err := os.Stat(filepath.Join(dir, "federation.key")); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("federation.key: %v, %v", fi.Mode(), err)
		}
	}
	refused(1, "refusing to replace a manifest", mofaEntry, append([]string{"manifest", "init", "--entry", "-"}, mofaFlags...)...)

	// Members join from their keygen output: a file, stdin or flags.
	ok("", "keygen", "--out", "cao-bang.key", "--member", "cao-bang", "--address", "cao-bang.example:9400")
	cbEntry := ok("", "keygen", "--out", "cao-bang2.key", "--member", "cao-bang", "--address", "cao-bang.example:9400")
	if err := os.WriteFile(filepath.Join(dir, "cao-bang.entry"), []byte(cbEntry), 0o644); err != nil {
		t.Fatal(err)
	}
	ok("", "manifest", "add", "--entry", "cao-bang.entry")
	manifestAt(t, dir, 2)
	refused(1, "already a member", cbEntry, "manifest", "add", "--entry", "-")
	refused(2, "not lang-son's", cbEntry, "manifest", "add", "--entry", "-", "--member", "lang-son")
	k, _ := federation.GenerateKeys()
	pub, enc := federation.EncodePublicKey(k.SigningPublic()), federation.EncodeEncryptionKey(k.EncryptionPublic())
	k2, _ := federation.GenerateKeys()
	pub2, enc2 := federation.EncodePublicKey(k2.SigningPublic()), federation.EncodeEncryptionKey(k2.EncryptionPublic())
	refused(2, "--public-key: federation: public key: not valid base64", "", "manifest", "add", "--member", "nghe-an", "--address", "n:1", "--public-key", "%%%", "--encryption-key", enc)
	refused(2, "lacks address", "", "manifest", "add", "--member", "nghe-an", "--public-key", pub, "--encryption-key", enc)
	refused(1, "not a known province", "", "manifest", "add", "--member", "atlantis", "--address", "n:1", "--public-key", pub, "--encryption-key", enc)
	// keygen's placeholders are filled in by flags.
	anon := federation.FormatEntry("", "", k.SigningPublic(), k.EncryptionPublic())
	refused(2, "give --member", anon, "manifest", "add", "--entry", "-")
	ok(anon, "manifest", "add", "--entry", "-", "--member", "nghe-an", "--address", "nghe-an.example:9400")
	m = manifestAt(t, dir, 3)
	if mem, _ := m.Member("nghe-an"); mem.Address != "nghe-an.example:9400" || !mem.PublicKey.Equal(k.SigningPublic()) {
		t.Fatalf("nghe-an: %+v", mem)
	}

	// Rotation: keygen --rotate prints the entry that manifest rotate takes.
	cb, _ := m.Member("cao-bang")
	rotated := ok("", "keygen", "--rotate", "cao-bang2.key", "--member", "cao-bang")
	ok(rotated, "manifest", "rotate", "--entry", "-")
	m = manifestAt(t, dir, 4)
	now, _ := m.Member("cao-bang")
	keys, err := federation.ReadKeyFile(filepath.Join(dir, "cao-bang2.key"))
	if err != nil {
		t.Fatal(err)
	}
	if !now.PublicKey.Equal(keys.SigningPublic()) || len(now.PreviousPublicKeys) != 1 || !now.PreviousPublicKeys[0].Equal(cb.PublicKey) || !now.EncryptionKey.Equal(keys.EncryptionPublic()) {
		t.Fatalf("after rotate, cao-bang is %+v", now)
	}
	refused(1, "already publishes", rotated, "manifest", "rotate", "--entry", "-")
	encOnly := ok("", "keygen", "--rotate-encryption", "cao-bang2.key")
	ok(encOnly, "manifest", "rotate", "--member", "cao-bang", "--entry", "-")
	m = manifestAt(t, dir, 5)
	if now, _ = m.Member("cao-bang"); !now.PublicKey.Equal(keys.SigningPublic()) || len(now.PreviousPublicKeys) != 1 {
		t.Fatalf("an encryption rotation moved the signing keys: %+v", now)
	}
	refused(2, "no new key", "", "manifest", "rotate", "--member", "cao-bang")
	// An entry with another address was signed with the address unchanged,
	// and no word said so (an outside review); move is the command for it.
	movedEntry := ok("", "keygen", "--rotate-encryption", "cao-bang2.key", "--member", "cao-bang", "--address", "cao-bang.example:9500")
	refused(1, "rotate publishes keys only; move the member first (provex manifest move --member cao-bang --address cao-bang.example:9500)", movedEntry, "manifest", "rotate", "--entry", "-")
	ok("", "manifest", "move", "--member", "cao-bang", "--address", "cao-bang.example:9500")
	m = manifestAt(t, dir, 6)
	if now, _ = m.Member("cao-bang"); now.Address != "cao-bang.example:9500" || !now.PublicKey.Equal(keys.SigningPublic()) {
		t.Fatalf("after move, cao-bang is %+v", now)
	}
	ok(movedEntry, "manifest", "rotate", "--entry", "-")
	if now, _ = manifestAt(t, dir, 7).Member("cao-bang"); now.Address != "cao-bang.example:9500" {
		t.Fatalf("after a rotation whose entry gives the new address, cao-bang is %+v", now)
	}
	refused(1, "already gives it address cao-bang.example:9500", "", "manifest", "move", "--member", "cao-bang", "--address", "cao-bang.example:9500")
	refused(1, "not a member", "", "manifest", "move", "--member", "lang-son", "--address", "l:1")
	refused(1, "contains a space", "", "manifest", "move", "--member", "cao-bang", "--address", "no port")
	refused(2, "--member and --address are required", "", "manifest", "move", "--member", "cao-bang")
	// An address no node can dial, or another member's, was taken as well.
	refused(1, "address 0.0.0.0:9400 is no address to dial", "", "manifest", "move", "--member", "cao-bang", "--address", "0.0.0.0:9400")
	refused(1, "address [::]:9400 is no address to dial", "", "manifest", "move", "--member", "cao-bang", "--address", "[::]:9400")
	refused(1, "address mofa.example:9400 is mofa's", "", "manifest", "move", "--member", "cao-bang", "--address", "mofa.example:9400")
	refused(1, "address MOFA.example.:9400 is mofa's", "", "manifest", "move", "--member", "cao-bang", "--address", "MOFA.example.:9400")
	refused(1, "is no address to dial", "", "manifest", "move", "--member", "cao-bang", "--address", "[::%eth0]:9400")
	refused(1, "is no address to dial", "", "manifest", "move", "--member", "cao-bang", "--address", "[::ffff:0.0.0.0]:9400")
	refused(1, "address nghe-an.example:9400 is nghe-an's", "", "manifest", "add", "--member", "lang-son", "--address", "nghe-an.example:9400", "--public-key", pub2, "--encryption-key", enc2)
	refused(1, "is no address to dial", "", "manifest", "add", "--member", "lang-son", "--address", "0.0.0.0:9400", "--public-key", pub2, "--encryption-key", enc2)

	ok("", "manifest", "remove", "--member", "nghe-an")
	if m = manifestAt(t, dir, 8); strings.Join(m.MemberIDs(), ",") != "cao-bang,mofa" {
		t.Fatalf("after remove: %v", m.MemberIDs())
	}
	refused(1, `"nghe-an" is not a member`, "", "manifest", "remove", "--member", "nghe-an")

	ok("", "manifest", "sign", "--valid", "30d")
	if m = manifestAt(t, dir, 9); m.Expires.Sub(m.Issued) != 30*24*time.Hour || time.Since(m.Issued) > time.Hour {
		t.Fatalf("sign: issued %s, expires %s", m.Issued, m.Expires)
	}
	refused(2, "--valid", "", "manifest", "sign", "--valid", "-3d")
	// The cap is named, and holds for durations too.
	refused(2, `"100000d": at most 36500d (100 years)`, "", "manifest", "sign", "--valid", "100000d")
	refused(2, `"9223372036854775807ns": at most 36500d (100 years)`, "", "manifest", "sign", "--valid", "9223372036854775807ns")
	refused(2, `"876001h": at most 36500d (100 years)`, "", "manifest", "sign", "--valid", "876001h")

	out := ok("", "manifest", "show")
	for _, want := range []string{"serial:         9\n", "freshness:      fresh\n", "federation key: " + federation.EncodePublicKey(m.FederationKey), "signature:      verifies", "cao-bang", "previous key:", "ca:             provex federation CA"} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	ok("", "manifest", "show", "--federation-key-pub", federation.EncodePublicKey(m.FederationKey))
	refused(1, "does not verify", "", "manifest", "show", "--federation-key-pub", pub)
	// The retired key goes once the new one signed the log's head everywhere.
	refused(1, "signs with that key now", "", "manifest", "drop-key", "--member", "cao-bang", "--public-key", federation.EncodePublicKey(keys.SigningPublic()))
	refused(1, "not among cao-bang's retired keys", "", "manifest", "drop-key", "--member", "cao-bang", "--public-key", pub)
	refused(2, "--public-key: federation: public key", "", "manifest", "drop-key", "--member", "cao-bang", "--public-key", "%%%")
	ok("", "manifest", "drop-key", "--member", "cao-bang", "--public-key", federation.EncodePublicKey(cb.PublicKey))
	if now, _ = manifestAt(t, dir, 10).Member("cao-bang"); len(now.PreviousPublicKeys) != 0 || !now.PublicKey.Equal(keys.SigningPublic()) {
		t.Fatalf("after drop-key, cao-bang is %+v", now)
	}
	// Each change kept the signed manifest it replaced: the rotation's,
	// which a node that missed it must be given before the drop, is there.
	for _, serial := range []int{4, 9} {
		kept, _ := manifestFileAt(t, dir, fmt.Sprintf("manifest.serial-%d.yaml", serial), serial).Member("cao-bang")
		if !slices.ContainsFunc(kept.PreviousPublicKeys, func(k ed25519.PublicKey) bool { return k.Equal(cb.PublicKey) }) {
			t.Errorf("the kept serial %d lists cao-bang as %+v, without its retired key", serial, kept)
		}
	}

	// Another federation's key: nodes would refuse what it signs.
	_, stranger, _ := federation.GenerateKey()
	if err := federation.WriteSigningKeyFile(filepath.Join(dir, "other.key"), stranger); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		mustChmod(t, filepath.Join(dir, "federation.key"), 0o644)
		refused(1, "chmod 600", "", "manifest", "sign")
		mustChmod(t, filepath.Join(dir, "federation.key"), 0o600)
	}
	refused(1, "names the federation key", "", "manifest", "sign", "--federation-key", "other.key")
	refused(1, "names the federation key", "", "manifest", "sign", "--federation-key", "other.key", "--accept-changes")
	refused(1, "names the federation key", "", "manifest", "remove", "--member", "cao-bang", "--federation-key", "other.key")

	// A hand edit after signing: changes refuse it, sign takes it only
	// when told the change is meant.
	path := filepath.Join(dir, "manifest.yaml")
	data, _ := os.ReadFile(path)
	if err := os.WriteFile(path, bytes.Replace(data, []byte("mofa.example:9400"), []byte("evil.example:9400"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	refused(1, "changed since it was signed", anon, "manifest", "add", "--entry", "-", "--member", "lang-son", "--address", "l:1")
	refused(1, "changed since it was signed", "", "manifest", "sign")
	refused(1, "signature does not verify", "", "manifest", "show")
	ok("", "manifest", "sign", "--accept-changes")
	if m = manifestAt(t, dir, 11); m.Members[1].Address != "evil.example:9400" {
		t.Fatalf("sign --accept-changes: %+v", m.Members[1])
	}
	if _, err := os.Stat(filepath.Join(dir, "manifest.serial-10.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the edited serial 10, whose signature no longer verified, was kept (%v)", err)
	}
	// A kept file of the serial with other content (a second master copy)
	// is not replaced, and nothing changes.
	other := filepath.Join(dir, "manifest.serial-11.yaml")
	if err := os.WriteFile(other, []byte("another serial 11\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	refused(1, "holds another manifest of serial 11", "", "manifest", "sign")
	if data, _ := os.ReadFile(other); string(data) != "another serial 11\n" {
		t.Errorf("the kept file of serial 11 was replaced: %q", data)
	}
}

// A manifest from before manifests were signed: the first sign adopts it.
func TestManifestSignAdoptsAnUnsignedManifest(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	m, _, err := federation.DevFederation([]string{"cao-bang", "mofa"}, []string{"a:1", "b:1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	m.Serial, m.FederationKey, m.Signature = 3, nil, nil
	if err := m.WriteFile(filepath.Join(dir, "manifest.yaml")); err != nil {
		t.Fatal(err)
	}
	_, fed, _ := federation.GenerateKey()
	if err := federation.WriteSigningKeyFile(filepath.Join(dir, "federation.key"), fed); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := provexIn(t, dir, "", "manifest", "sign")
	if code != 0 || !strings.Contains(stderr, "was never signed") {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	manifestAt(t, dir, 4)
}

func TestManifestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, args := range [][]string{
		{"manifest"},
		{"manifest", "frobnicate"},
		{"manifest", "init", "--ca", "a.pem", "--ca-dir", "d", "--public-key", "x"},
		{"manifest", "init", "--valid", "a year"},
		{"manifest", "add", "extra"},
		{"manifest", "remove"},
		{"manifest", "show", "--federation-key-pub", "short"},
		{"keygen", "--rotate", "a.key", "--rotate-encryption", "a.key"},
		{"keygen", "--rotate", "a.key", "--out", "b.key"},
	} {
		if _, stderr, code := provexIn(t, dir, "", args...); code != 2 {
			t.Errorf("provex %q: exit %d, want 2 (usage)\n%s", args, code, stderr)
		}
	}
}

// readmeBlock returns the commands of the fenced block that follows the
// line marker in README.md.
func readmeBlock(t *testing.T, marker string) []string {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, found := strings.Cut(string(data), marker+"\n")
	if !found {
		t.Fatalf("README.md has no %q", marker)
	}
	sc := bufio.NewScanner(strings.NewReader(after))
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "```") {
		t.Fatalf("README.md: no fenced block after %q", marker)
	}
	var cmds []string
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "```" {
			return cmds
		}
		if line != "" && !strings.HasPrefix(line, "#") {
			cmds = append(cmds, line)
		}
	}
	t.Fatalf("README.md: the block after %q does not end", marker)
	return nil
}

// TestREADMEOperatorPathMakesTheFederation runs the README's commands that
// make a federation, literally, in a shell, with the built binary first on
// PATH, so the README cannot drift from what the commands do.
func TestREADMEOperatorPathMakesTheFederation(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("runs the README's commands in sh")
	}
	bin := buildBinary(t)
	cmds := readmeBlock(t, "<!-- operator path: making the federation (run by cmd/provex TestREADMEOperatorPathMakesTheFederation) -->")
	all := strings.Join(cmds, "\n")
	for _, want := range []string{"provex ca init", "provex keygen", "provex manifest init", "provex manifest add", "provex manifest sign", "provex manifest show", "provex ca issue"} {
		if !strings.Contains(all, want) {
			t.Errorf("the README's operator path no longer runs %q", want)
		}
	}
	dir := t.TempDir()
	for _, c := range cmds {
		cmd := exec.Command("sh", "-c", c)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("README: %s: %v\n%s", c, err, out)
		}
	}
	m, err := federation.LoadManifest(filepath.Join(dir, "manifest.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := federation.ReadSigningKeyFile(filepath.Join(dir, "federation.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.VerifySignature(key.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CAPool(); err != nil {
		t.Fatal(err)
	}
	for _, id := range m.MemberIDs() {
		keys, err := federation.ReadKeyFile(filepath.Join(dir, id+".key"))
		if err != nil {
			t.Fatal(err)
		}
		if mem, _ := m.Member(id); !mem.PublicKey.Equal(keys.SigningPublic()) || !mem.EncryptionKey.Equal(keys.EncryptionPublic()) {
			t.Errorf("%s: the manifest publishes other keys than %s.key holds", id, id)
		}
		if _, err := os.Stat(filepath.Join(dir, id, "tls.crt")); err != nil {
			t.Errorf("%s has no certificate: %v", id, err)
		}
	}
	// Every change the block makes is signed with the next serial.
	changes := 0
	for _, c := range cmds {
		if strings.HasPrefix(c, "provex manifest ") && !strings.HasPrefix(c, "provex manifest show") {
			changes++
		}
	}
	if m.Serial != changes {
		t.Errorf("serial %d after %d changes", m.Serial, changes)
	}
	if len(m.Members) < 3 {
		t.Errorf("the README's federation has %d members", len(m.Members))
	}
}
