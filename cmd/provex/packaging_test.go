package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/provex/provex/storage/sqlstore"
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
	// What a plain go build stamps depends on the machine: with VCS
	// stamping on (Go's default in a git checkout) the module's
	// pseudo-version and the revision, with -buildvcs=false neither.
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	wantVersion, wantCommit := "dev", "unknown"
	if v := info.Main.Version; v != "" && v != "(devel)" {
		wantVersion = v
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		wantCommit = rev
		if settings["vcs.modified"] == "true" {
			wantCommit += "-dirty"
		}
	}
	text := string(out)
	for _, want := range []string{"provex " + wantVersion + "\n", "commit: " + wantCommit + "\n", "go:     " + runtime.Version() + "\n", "sqlite: " + sqlstore.LibraryVersion() + "\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("provex version printed %q, want it to contain %q", text, want)
		}
	}
	b := runVersionJSON(t, bin)
	if b.Version != wantVersion || b.Commit != wantCommit || b.Go != runtime.Version() || !sqliteVersion.MatchString(b.SQLite) {
		t.Errorf("provex version --json = %+v, want version %s, commit %s, Go %s and a SQLite 3.x.y", b, wantVersion, wantCommit, runtime.Version())
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

// loadServeConfig reads a packaged config the way serve does.
func loadServeConfig(t *testing.T, path string) serveConfig {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := defaultServeConfig()
	if err := yaml.UnmarshalStrict(raw, &cfg); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return cfg
}

// TestREADMEConfigIsTheNodes: the node.yaml README.md prints parses, key
// for key, as serve reads a config file, and names the keys a node needs in
// a federation (an outside review found them only in serve -h).
func TestREADMEConfigIsTheNodes(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, found := bytes.Cut(readme, []byte("```yaml\n# node.yaml\n"))
	block, _, closed := bytes.Cut(block, []byte("```"))
	if !found || !closed {
		t.Fatal("README.md has no yaml block beginning # node.yaml")
	}
	path := filepath.Join(t.TempDir(), "node.yaml")
	if err := os.WriteFile(path, block, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := loadServeConfig(t, path)
	if cfg.Member != "cao-bang" || cfg.SyncInterval != "5s" {
		t.Errorf("README's node.yaml read as member %q, sync_interval %q", cfg.Member, cfg.SyncInterval)
	}
	for _, key := range []string{"manifest:", "key_file:", "peers:", "peer_addr:", "sync_interval:", "store:"} {
		if !bytes.Contains(block, []byte("\n"+key)) && !bytes.Contains(block, []byte("\n# "+key)) {
			t.Errorf("README's node.yaml does not name %s", key)
		}
	}
}

// TestSystemdUnitVerifiesAndIsConfined runs systemd-analyze on
// packaging/provex.service: no warnings (a misspelt hardening key is only
// a warning, and would leave the node unconfined), and an exposure score
// of at most 1.5 (of 10) offline.
func TestSystemdUnitVerifiesAndIsConfined(t *testing.T) {
	unit, err := os.ReadFile("../../packaging/provex.service")
	if err != nil {
		t.Fatal(err)
	}
	const exec0 = "ExecStart=/usr/local/bin/provex serve --config /etc/provex/node.yaml\n"
	if !bytes.Contains(unit, []byte(exec0)) {
		t.Fatalf("provex.service lacks %q", exec0)
	}
	if cfg := loadServeConfig(t, "../../packaging/node.yaml"); cfg.DataDir != "/var/lib/provex" {
		t.Errorf("packaging/node.yaml: data_dir %q, want the unit's StateDirectory /var/lib/provex", cfg.DataDir)
	}
	for _, key := range []string{"User=provex", "StateDirectory=provex", "UMask=0077", "NoNewPrivileges=yes", "ProtectSystem=strict", "CapabilityBoundingSet=\n"} {
		if !bytes.Contains(unit, []byte(key)) {
			t.Errorf("provex.service lacks %q", key)
		}
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("no systemd-analyze")
	}
	// verify wants ExecStart's binary to exist: point it at one that does.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "provex.service")
	if err := os.WriteFile(path, bytes.Replace(unit, []byte(exec0), []byte(strings.Replace(exec0, "/usr/local/bin/provex", self, 1)), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(analyze, "verify", path).CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	if out, err := exec.Command(analyze, "security", "--offline=true", "--threshold=15", path).CombinedOutput(); err != nil {
		t.Errorf("systemd-analyze security: exposure over 1.5: %v\n%s", err, out)
	}
}

// TestDockerfileAgreesWithItsConfig checks what no docker engine here can
// build: the image runs as a non-root user, builds with the release
// script, exposes the ports its config listens on and declares its data
// directory a volume.
func TestDockerfileAgreesWithItsConfig(t *testing.T) {
	f, err := os.Open("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var froms, users, runs, exposed, volumes, entry, copies []string
	sc := bufio.NewScanner(f)
	logical := ""
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			continue
		}
		if cont, ok := strings.CutSuffix(line, "\\"); ok {
			logical += cont + " "
			continue
		}
		logical += line
		instr, arg, _ := strings.Cut(logical, " ")
		logical = ""
		switch strings.ToUpper(instr) {
		case "FROM":
			froms = append(froms, arg)
			users = nil // USER is per stage: only the last stage's count
		case "USER":
			users = append(users, arg)
		case "RUN":
			runs = append(runs, arg)
		case "EXPOSE":
			exposed = append(exposed, strings.Fields(arg)...)
		case "VOLUME":
			volumes = append(volumes, arg)
		case "ENTRYPOINT":
			entry = append(entry, arg)
		case "COPY":
			copies = append(copies, arg)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(froms) < 2 || !strings.HasSuffix(froms[0], " AS build") {
		t.Errorf("Dockerfile stages %q: want a build stage and a runtime stage", froms)
	}
	if len(users) != 1 || strings.HasPrefix(users[0], "0") || strings.HasPrefix(users[0], "root") {
		t.Errorf("the runtime stage's USER lines %q: want one non-root user", users)
	}
	if !strings.Contains(strings.Join(runs, "\n"), "./scripts/release.sh") {
		t.Errorf("the build stage does not build with scripts/release.sh: %q", runs)
	}
	const configPath = "/etc/provex/node.yaml"
	if !slices.Contains(copies, "packaging/container.yaml "+configPath) {
		t.Errorf("Dockerfile does not copy packaging/container.yaml to %s: %q", configPath, copies)
	}
	if len(entry) != 1 || !strings.Contains(entry[0], `"serve", "--config", "`+configPath+`"`) {
		t.Errorf("ENTRYPOINT %q: want provex serve --config %s", entry, configPath)
	}
	cfg := loadServeConfig(t, "../../packaging/container.yaml")
	for _, addr := range []string{cfg.GRPCAddr, cfg.HTTPAddr, cfg.PeerAddr} {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatalf("container.yaml address %q: %v", addr, err)
		}
		if !slices.Contains(exposed, port) {
			t.Errorf("container.yaml listens on %s, the Dockerfile exposes %q", addr, exposed)
		}
	}
	if len(volumes) != 1 || volumes[0] != `["`+cfg.DataDir+`"]` {
		t.Errorf("VOLUME %q: want container.yaml's data_dir %s", volumes, cfg.DataDir)
	}
}
