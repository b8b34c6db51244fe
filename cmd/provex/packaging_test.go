package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/provex/provex/storage/sqlite"
)

// runVersionJSON runs bin version --json and decodes it.
func runVersionJSON(t *testing.T, bin string) buildInfo {
	t.Helper()
	out, err := exec.Command(bin, "version", "--json").Output()
	if err != nil {
		t.Fatalf("%s version --json: %v", bin, err)
	}
	var b buildInfo
	if err := json.Unmarshal(out, &b); err != nil {
		t.Fatalf("version --json printed %q: %v", out, err)
	}
	return b
}

var sqliteVersion = regexp.MustCompile(`^3\.\d+\.\d+$`)

func TestVersionPrintsVersionCommitGoAndSQLite(t *testing.T) {
	bin := buildBinary(t)
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("provex version: %v", err)
	}
	text := string(out)
	for _, want := range []string{"provex dev\n", "commit: ", "go:     " + runtime.Version() + "\n", "sqlite: " + sqlite.LibraryVersion() + "\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("provex version printed %q, want it to contain %q", text, want)
		}
	}
	b := runVersionJSON(t, bin)
	if b.Version != "dev" || b.Commit == "" || b.Go != runtime.Version() || !sqliteVersion.MatchString(b.SQLite) {
		t.Errorf("provex version --json = %+v, want version dev, a commit, Go %s and a SQLite 3.x.y", b, runtime.Version())
	}
	if err := exec.Command(bin, "version", "extra").Run(); err == nil {
		t.Error("provex version extra exited 0, want a usage error")
	}
}

// TestReleaseScriptBuildsAVersionedBinary runs scripts/release.sh, the
// build the Dockerfile runs too, and checks what it ships.
func TestReleaseScriptBuildsAVersionedBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a release")
	}
	dist := t.TempDir()
	const ver, commit = "v9.8.7-rc.1", "0123456789abcdef0123456789abcdef01234567"
	cmd := exec.Command("../../scripts/release.sh", ver)
	cmd.Env = append(os.Environ(), "DIST="+dist, "COMMIT="+commit)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("release.sh: %v\n%s", err, out)
	}
	name := "provex-" + ver + "-linux-" + runtime.GOARCH
	b := runVersionJSON(t, filepath.Join(dist, name, "provex"))
	if b.Version != ver || b.Commit != commit || b.Go != runtime.Version() || !sqliteVersion.MatchString(b.SQLite) {
		t.Errorf("the release's provex version --json = %+v, want version %s, commit %s", b, ver, commit)
	}

	tarball, err := os.ReadFile(filepath.Join(dist, name+".tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(tarball)
	sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	if want := hex.EncodeToString(sum[:]) + "  " + name + ".tar.gz\n"; string(sums) != want {
		t.Errorf("SHA256SUMS = %q, want %q", sums, want)
	}
	list, err := exec.Command("tar", "-tzf", filepath.Join(dist, name+".tar.gz")).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{name + "/provex", name + "/README.md", name + "/packaging/provex.service"} {
		if !bytes.Contains(list, []byte(f+"\n")) {
			t.Errorf("the tarball lacks %s; it holds:\n%s", f, list)
		}
	}

	// A version names files and directories: one that would climb out of
	// dist is refused before anything is built.
	bad := exec.Command("../../scripts/release.sh", "../x")
	bad.Env = append(os.Environ(), "DIST="+dist)
	if out, err := bad.CombinedOutput(); err == nil {
		t.Errorf("release.sh ../x succeeded:\n%s", out)
	}
}
