package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/provex/provex/client"
	"github.com/provex/provex/federation"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/resource"
)

// These tests run the real binary as separate processes.

// built is the binary the tests run, built once per run of the package's
// tests: linking it took about 5.5 s, and some 20 tests each linked their
// own.
var built struct {
	once     sync.Once
	dir, bin string
	err      error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// buildBinary gives the path of the package's binary, built at the first
// call. Tests run it and put its folder on PATH; none may write there.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "provex-test-bin-"); built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "provex")
		if out, err := exec.Command("go", "build", "-o", built.bin, ".").CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

type process struct {
	cmd      *exec.Cmd
	grpcAddr string
	httpAddr string
	// token is an admin token of the node, made with provex token create.
	token string
	done  chan error

	mu sync.Mutex
	// logs holds the node's stderr, one log line each.
	logs []string
}

// logCount counts the JSON lines the node logged with msg at level (slog's
// "WARN", "INFO", ...).
func (p *process) logCount(level, msg string) int { return len(p.logged(level, msg)) }

// logged returns the JSON lines the node logged with msg at level.
func (p *process) logged(level, msg string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var found []string
	for _, l := range p.logs {
		var line struct{ Level, Msg string }
		if json.Unmarshal([]byte(l), &line) == nil && line.Level == level && line.Msg == msg {
			found = append(found, l)
		}
	}
	return found
}

// startServe runs "provex serve" on free ports and waits until it logs that
// it is serving, reading the bound addresses from that log line.
func startServe(t *testing.T, bin, dataDir string) *process {
	t.Helper()
	p := startProcess(t, bin, "serve", "--member", "cao-bang", "--data", dataDir, "--dev", "--rate-limit", "1000000",
		"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0")
	p.token = adminToken(t, bin, dataDir, "")
	return p
}

// adminToken makes an admin token on a node's database with the CLI, as an
// operator would.
func adminToken(t *testing.T, bin, dataDir, member string) string {
	t.Helper()
	out, stderr, code := runCLI(t, bin, "", "", "token", "create", "--role", "admin", "--label", "e2e", "--data", dataDir, "--member", member)
	if code != 0 || !strings.HasPrefix(out, "pvx_") {
		t.Fatalf("token create: exit %d, %q, %q", code, out, stderr)
	}
	return strings.TrimSpace(out)
}

// startProcess runs the binary with args (a serve command) and waits for its
// "node serving" log line.
func startProcess(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, done: make(chan error, 1)}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.logs = append(p.logs, sc.Text())
			p.mu.Unlock()
			var line struct{ Msg, GRPC, HTTP string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "node serving" {
				p.grpcAddr, p.httpAddr = line.GRPC, line.HTTP
				close(ready)
			}
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() { cmd.Process.Kill() })
	select {
	case <-ready:
	case err := <-p.done:
		t.Fatalf("provex serve exited before serving: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("provex serve did not start in 30s")
	}
	return p
}

func (p *process) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if sig == syscall.SIGTERM && err != nil {
			t.Fatalf("provex serve exited with %v after SIGTERM, want 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("provex serve did not stop in 30s")
	}
}

// writeSignedManifest signs m with a new federation key and writes it to
// path, as nodes started from a file take only signed manifests; it returns
// the key, to sign the manifests that follow.
func writeSignedManifest(t *testing.T, m *federation.Manifest, path string) ed25519.PrivateKey {
	t.Helper()
	_, key, err := federation.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	m.FederationKey = nil
	if err := m.Sign(key); err != nil {
		t.Fatal(err)
	}
	if err := m.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	return key
}

// runCLI runs the binary with PROVEX_TOKEN set to token (when not "").
func runCLI(t *testing.T, bin, token, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "PROVEX_TOKEN="+token)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// jsonField reads a top-level string field of the JSON the CLI printed
// (protojson varies its whitespace on purpose, so the text is not compared).
func jsonField(t *testing.T, out, field string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("CLI output is not one JSON object: %v\n%s", err, out)
	}
	s, _ := m[field].(string)
	return s
}

// snapshot lists every record of every kind, deleted ones included, by
// name and etag.
func snapshot(t *testing.T, p *process) map[string]string {
	t.Helper()
	c, err := client.Dial(p.grpcAddr, client.WithToken(p.token))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	all := map[string]string{}
	for _, k := range resource.Kinds() {
		opts := client.ListOptions{PageSize: 1000, ShowDeleted: true}
		for {
			items, next, err := c.List(context.Background(), "provinces/-", k, opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range items {
				all[k.Name(m)] = k.Etag(m)
			}
			if next == "" {
				break
			}
			opts.PageToken = next
		}
	}
	return all
}

func TestServeStopRestartKeepsEverything(t *testing.T) {
	bin := buildBinary(t)
	data := t.TempDir()
	p := startServe(t, bin, data)

	out, stderr, code := runCLI(t, bin, p.token, "", "seed", "--addr", p.grpcAddr)
	if code != 0 || !strings.Contains(out, "loaded 546 sample records of cao-bang") {
		t.Fatalf("seed: exit %d, out %q, err %q", code, out, stderr)
	}
	yaml := "display_name: MoU on border tourism\nkind: KIND_MOU\npartner_countries: [CN]\nsigned_date: {year: 2025, month: 3, day: 14}\n"
	out, stderr, code = runCLI(t, bin, p.token, yaml, "create", "provinces/cao-bang/agreements", "-f", "-", "--id", "e2e-mou", "--addr", p.grpcAddr)
	if code != 0 || jsonField(t, out, "name") != "provinces/cao-bang/agreements/e2e-mou" {
		t.Fatalf("create: exit %d, out %q, err %q", code, out, stderr)
	}
	out, stderr, code = runCLI(t, bin, p.token, "state: STATE_SIGNED\n", "update", "provinces/cao-bang/agreements/e2e-mou", "-f", "-", "--addr", p.grpcAddr)
	if code != 0 || jsonField(t, out, "state") != "STATE_SIGNED" || jsonField(t, out, "display_name") != "MoU on border tourism" {
		t.Fatalf("update: exit %d, out %q, err %q", code, out, stderr)
	}
	if _, stderr, code = runCLI(t, bin, p.token, "", "delete", "provinces/cao-bang/delegations/out-001", "--addr", p.grpcAddr); code != 0 {
		t.Fatalf("delete: exit %d, err %q", code, stderr)
	}
	out, _, code = runCLI(t, bin, p.token, "", "list", "provinces/cao-bang/agreements", "--filter", "kind = MOU AND signed_date >= 2025-03", "--all", "--addr", p.grpcAddr)
	if code != 0 || !strings.Contains(out, "e2e-mou") {
		t.Fatalf("list with filter: exit %d, out %q", code, out)
	}
	// Errors are one line with the status code.
	_, stderr, code = runCLI(t, bin, p.token, "", "get", "provinces/cao-bang/agreements/nope", "--addr", p.grpcAddr)
	if code != 1 || stderr != "provex: NOT_FOUND: provinces/cao-bang/agreements/nope not found\n" {
		t.Fatalf("get missing: exit %d, stderr %q", code, stderr)
	}
	_, stderr, code = runCLI(t, bin, p.token, "", "list", "provinces/cao-bang/agreements", "--filter", "sate = 1", "--addr", p.grpcAddr)
	if code != 1 || !strings.HasPrefix(stderr, "provex: INVALID_ARGUMENT: ") || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("bad filter: exit %d, stderr %q", code, stderr)
	}

	before := snapshot(t, p)
	if len(before) != 547 {
		t.Fatalf("%d records before restart, want 547", len(before))
	}
	p.stop(t, syscall.SIGTERM)

	p = startServe(t, bin, data)
	after := snapshot(t, p)
	if len(after) != len(before) {
		t.Fatalf("%d records after restart, want %d", len(after), len(before))
	}
	for name, etag := range before {
		if after[name] != etag {
			t.Fatalf("%s: etag %q after restart, want %q", name, after[name], etag)
		}
	}
	// Seeding again is idempotent: request ids make it create nothing.
	if out, _, code = runCLI(t, bin, p.token, "", "seed", "--addr", p.grpcAddr); code != 0 {
		t.Fatalf("second seed: exit %d, %s", code, out)
	}
	if again := snapshot(t, p); len(again) != len(before) {
		t.Fatalf("second seed changed the record count: %d", len(again))
	}
	p.stop(t, syscall.SIGTERM)
}

// TestKillDuringWritesLosesNothingAcknowledged kills the node with SIGKILL
// while clients write; every write that was acknowledged must be there after
// a restart, and the change log must still be a valid chain.
func TestKillDuringWritesLosesNothingAcknowledged(t *testing.T) {
	bin := buildBinary(t)
	data := t.TempDir()
	p := startServe(t, bin, data)
	c, err := client.Dial(p.grpcAddr, client.WithToken(p.token))
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		acked []string
		stop  atomic.Bool
		wg    sync.WaitGroup
	)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				id := fmt.Sprintf("k%02d-%05d", w, i)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err := c.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{
					Parent: "provinces/cao-bang", AgreementId: id,
					Agreement: &twinningv1.Agreement{DisplayName: "kill test " + id, Kind: twinningv1.Agreement_KIND_MOU},
				})
				cancel()
				if err != nil {
					return
				}
				mu.Lock()
				acked = append(acked, "provinces/cao-bang/agreements/"+id)
				mu.Unlock()
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	p.stop(t, syscall.SIGKILL)
	stop.Store(true)
	wg.Wait()
	c.Close()
	if len(acked) < 100 {
		t.Fatalf("only %d writes acknowledged before the kill", len(acked))
	}

	p = startServe(t, bin, data)
	c, err = client.Dial(p.grpcAddr, client.WithToken(p.token))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, name := range acked {
		got, err := c.Get(context.Background(), name)
		if err != nil {
			t.Fatalf("acknowledged %s lost after SIGKILL: %v", name, err)
		}
		if !strings.HasPrefix(got.(*twinningv1.Agreement).GetDisplayName(), "kill test") {
			t.Fatalf("%s has wrong content: %v", name, got)
		}
	}
	// The node keeps writing after recovery.
	if _, err := c.Twinning.CreateAgreement(context.Background(), &twinningv1.CreateAgreementRequest{
		Parent: "provinces/cao-bang", Agreement: &twinningv1.Agreement{DisplayName: "after recovery", Kind: twinningv1.Agreement_KIND_MOU},
	}); err != nil {
		t.Fatalf("write after recovery: %v", err)
	}
	t.Logf("%d acknowledged writes survived SIGKILL", len(acked))
	p.stop(t, syscall.SIGTERM)
}

// TestTokenMadeBeforeTheFirstRun runs the README's order: a token made
// with --member on a data directory the node has not run on, then the
// node started there. The database the token made holds nothing signed,
// so the node makes its key (it refused before, asking for a key file
// that never existed).
func TestTokenMadeBeforeTheFirstRun(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	token := adminToken(t, bin, dir, "cao-bang")
	p := startProcess(t, bin, "serve", "--member", "cao-bang", "--data", dir, "--dev", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0")
	defer p.stop(t, syscall.SIGTERM)
	if _, err := os.Stat(filepath.Join(dir, "node.key")); err != nil {
		t.Errorf("no node key made: %v", err)
	}
	out, stderr, code := runCLI(t, bin, token, "", "list", "provinces/cao-bang/agreements", "--addr", p.grpcAddr)
	if code != 0 {
		t.Errorf("the token made before the first run: exit %d, %q, %q", code, out, stderr)
	}
}

// TestTokenFileIsMadeOwnerOnly: `token create ... > FILE`, as the README
// writes it, leaves FILE owner-only whatever mode the shell made it with.
func TestTokenFileIsMadeOwnerOnly(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "cao-bang.token")
	out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := out.Chmod(0o644); err != nil { // whatever the test's umask
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "token", "create", "--data", filepath.Join(dir, "node"), "--member", "cao-bang", "--role", "admin")
	cmd.Stdout = out
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err = cmd.Run()
	out.Close()
	if err != nil {
		t.Fatalf("token create: %v, %s", err, stderr.String())
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 || !strings.Contains(stderr.String(), "made owner-only") {
		t.Errorf("the token's file is %v after token create (stderr %q), want 0600 and a word of it", st.Mode().Perm(), stderr.String())
	}
	if token, _ := os.ReadFile(path); !strings.HasPrefix(string(token), "pvx_") {
		t.Errorf("the file holds %q, want the token", token)
	}
	// Appended to a file of other content (a shared log): warned of, not
	// tightened under its readers.
	shared := filepath.Join(dir, "ops.log")
	if err := os.WriteFile(shared, []byte("earlier lines\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o644); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.OpenFile(shared, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(bin, "token", "create", "--data", filepath.Join(dir, "node"), "--role", "viewer")
	cmd.Stdout = logFile
	stderr.Reset()
	cmd.Stderr = &stderr
	err = cmd.Run()
	logFile.Close()
	if st, _ := os.Stat(shared); err != nil || st.Mode().Perm() != 0o644 || !strings.Contains(stderr.String(), "WARNING: the file the token is written to is readable by other users") {
		t.Errorf("a token appended to a shared file: %v, mode %v, stderr %q; want it left 0644 and a warning", err, st.Mode().Perm(), stderr.String())
	}
}
