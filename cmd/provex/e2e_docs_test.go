package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/provex/provex/internal/freeport"
)

// docCommand is one command of a document's ```sh block: a line, or lines
// joined where they end in a backslash.
type docCommand struct {
	where string // README.md:57
	text  string
}

// docCommands returns the commands of every ```sh block of a document, in
// its order, but those of the README's operator path (the blocks after an
// "<!-- operator path:" marker), which TestREADMEOperatorPathRunsTheFederation
// runs on a federation of its own.
func docCommands(t *testing.T, file string) []docCommand {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(file)
	var (
		cmds     []docCommand
		in, skip bool
		prev     string
		cont     strings.Builder
		contLine int
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case !in && strings.HasPrefix(line, "```"):
			in, skip = true, line != "```sh" || strings.HasPrefix(prev, operatorPathMarker)
			continue
		case in && line == "```":
			in = false
			continue
		case !in:
			if strings.TrimSpace(line) != "" {
				prev = line
			}
			continue
		case skip:
			continue
		}
		if cont.Len() == 0 {
			contLine = n
		}
		if body, ok := strings.CutSuffix(line, "\\"); ok {
			cont.WriteString(body)
			continue
		}
		cont.WriteString(line)
		text := strings.TrimSpace(cont.String())
		cont.Reset()
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		cmds = append(cmds, docCommand{fmt.Sprintf("%s:%d", name, contLine), text})
	}
	if in {
		t.Fatalf("%s: a code block is not closed", name)
	}
	return cmds
}

// docNotRun lists the documented commands this test does not run, each
// with the reason, matched by a part of the command. Every entry must
// match a command, so that the list cannot outlive what it excuses.
var docNotRun = []struct{ part, why string }{
	{"go run ./cmd/provex demo", "starts the demo and serves until interrupted: this test starts it itself"},
	{"go test ./...", "runs the tests, this one included"},
	{"go install github.com/fullstorydev/grpcurl/", "installs a tool: the test runs grpcurl from PATH or GOPATH/bin, or logs its commands as not run"},
	{"go build -o provex ./cmd/provex", "builds the binary, which the test has built to run the commands"},
	{"cp /etc/provex/", "copies an operator's key file into its data directory"},
	{"provex serve ", "starts a node that serves until stopped (the operator path starts nodes in the background)"},
	{"/var/lib/provex", "works on an operator's data directory or key file (the operator path runs token, verify, backup and restore on its nodes)"},
	{"/backups/", "works on an operator's backup (the operator path backs a node up and verifies the copy)"},
	{"cao-bang-check.db", "verifies a copy of an operator's backup file (the operator path verifies its own)"},
	{"http://10.0.0.5:9464", "scrapes an operator's private metrics address"},
	{"provex manifest remove", "changes the operator path's federation (its manifest and federation key)"},
	{"./scripts/gen.sh", "development: regenerates gen/ (CI runs --check)"},
	{".ci/run", "development: runs CI, this test included"},
	{"./scripts/breaking.sh", "development: compares proto/ with the previous commit in a checkout (CI runs it)"},
	{"./scripts/deps.sh", "development: checks the checkout's go.mod files (CI runs it)"},
	{"scripts/postgres.sh", "development: installs and starts a PostgreSQL server for the tests (CI runs it)"},
	{"go run ./bench ", "development: a benchmark"},
	{"scripts/release.sh", "builds a release (TestReleaseScriptBuildsAVersionedBinary runs the script)"},
	{"tar -xzf provex-", "unpacks a release tarball (TestReleaseScriptBuildsAVersionedBinary checks its contents)"},
	{"sudo ", "installs the node on an operator's machine under systemd (TestSystemdUnitVerifiesAndIsConfined checks the unit)"},
	{"journalctl -u provex", "reads the log of the systemd unit on an operator's machine"},
	{"docker ", "needs a Docker engine, which the machines tests run on do not have (TestDockerfileAgreesWithItsConfig checks the Dockerfile against its config)"},
	{"--out tls", "issues the container's certificate on an operator's machine"},
	{"--out cao-bang-tls", "issues the node's certificate on the CA's machine, for systemd"},
}

// docEventually marks commands that read what sync brings from another
// node, or the whole federation's state: "a moment later", so they are
// retried until they succeed, within a deadline.
var docEventually = []string{"flood-demo", "sync status --all", "acknowledgement-status"}

// docRunner runs documented commands in bash, one process each, in one
// directory, with the exports seen so far in the same document before
// them, as a reader in one terminal would. curl gets --fail-with-body (the
// command must answer 2xx) and pipelines fail with any of their commands.
type docRunner struct {
	t       *testing.T
	dir     string
	env     []string
	grpcurl bool
	rewrite func(string) string
	exports []string
	used    map[string]bool
}

func newDocRunner(t *testing.T, bin, dir string, rewrite func(string) string) *docRunner {
	r := &docRunner{t: t, dir: dir, rewrite: rewrite, used: map[string]bool{}}
	path := filepath.Dir(bin)
	if p, err := exec.LookPath("grpcurl"); err == nil {
		path += string(os.PathListSeparator) + filepath.Dir(p)
		r.grpcurl = true
	} else if gopath, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(gopath)), "bin")
		if _, err := os.Stat(filepath.Join(p, "grpcurl")); err == nil {
			path += string(os.PathListSeparator) + p
			r.grpcurl = true
		}
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PROVEX_") && !strings.HasPrefix(kv, "PATH=") {
			r.env = append(r.env, kv)
		}
	}
	r.env = append(r.env, "PATH="+path+string(os.PathListSeparator)+os.Getenv("PATH"))
	if !r.grpcurl {
		t.Log("grpcurl is neither on PATH nor in GOPATH/bin: its commands are not run (go install github.com/fullstorydev/grpcurl/cmd/grpcurl)")
	}
	return r
}

// run runs the commands of one document in order.
func (r *docRunner) run(cmds []docCommand) {
	r.exports = nil
	for _, c := range cmds {
		if why := r.notRun(c.text); why != "" {
			r.t.Logf("%s: not run (%s): %s", c.where, why, c.text)
			continue
		}
		text := r.rewrite(c.text)
		if strings.HasPrefix(c.text, "export ") {
			r.exports = append(r.exports, text)
		}
		if !r.grpcurl && strings.Contains(text, "grpcurl ") {
			r.t.Logf("%s: not run (no grpcurl): %s", c.where, text)
			continue
		}
		retry := false
		for _, e := range docEventually {
			retry = retry || strings.Contains(text, e)
		}
		out, err := r.runOne(text)
		for deadline := time.Now().Add(30 * time.Second); err != nil && retry && time.Now().Before(deadline); {
			time.Sleep(500 * time.Millisecond)
			out, err = r.runOne(text)
		}
		if err != nil {
			r.t.Errorf("%s fails as documented: %v\n$ %s\n%s", c.where, err, text, tail(out, 3000))
		}
	}
}

func (r *docRunner) notRun(text string) string {
	for _, n := range docNotRun {
		if strings.Contains(text, n.part) {
			r.used[n.part] = true
			return n.why
		}
	}
	return ""
}

func (r *docRunner) runOne(text string) (string, error) {
	script := "set -o pipefail\ncurl() { command curl --fail-with-body -sS \"$@\"; }\n" + strings.Join(r.exports, "\n") + "\n" + text + "\n"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir, cmd.Env, cmd.Stdin = r.dir, r.env, strings.NewReader("")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// startDemo runs "provex demo" in dir on ports it claims, until the test
// ends, and waits until it has printed its examples and the federation has
// converged. It returns the demo's gRPC base port and what it printed.
func startDemo(t *testing.T, bin, dir string) (int, string) {
	t.Helper()
	base, err := freeport.Base(5, 0, 1000, 2000)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(dir, "demo.out"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	logs, err := os.Create(filepath.Join(dir, "demo.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logs.Close() })
	cmd := exec.Command(bin, "demo", "--data", "provex-demo", "--base-port", strconv.Itoa(base))
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, out, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { stopGroup(t, cmd.Process.Pid) })
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		printed, _ := os.ReadFile(out.Name())
		if strings.Contains(string(printed), "Stop with Ctrl-C") {
			break
		}
		select {
		case err := <-exited:
			l, _ := os.ReadFile(logs.Name())
			t.Fatalf("provex demo exited: %v\n%s\n%s", err, printed, tail(string(l), 4000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("provex demo printed no examples within 3 minutes:\n%s", printed)
		}
	}
	var last string
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(500 * time.Millisecond) {
		sync := exec.Command(bin, "sync", "status", "--all", "--manifest", "provex-demo/manifest.yaml", "--nodes", "provex-demo/nodes.yaml")
		sync.Dir = dir
		o, err := sync.CombinedOutput()
		if err == nil {
			break
		}
		last = string(o)
		if time.Now().After(deadline) {
			t.Fatalf("the demo's federation did not converge within 2 minutes:\n%s", last)
		}
	}
	printed, _ := os.ReadFile(out.Name())
	return base, string(printed)
}

// demoPorts rewrites the documents' demo addresses (gRPC localhost:7400+i,
// HTTP localhost:8400+i, for the demo's five nodes) to the ports of a demo
// started at base, and "go run ./cmd/provex" to the built binary.
func demoPorts(base int) func(string) string {
	re := regexp.MustCompile(`localhost:([78])40([0-4])\b`)
	return func(s string) string {
		s = strings.ReplaceAll(s, "go run ./cmd/provex ", "provex ")
		return re.ReplaceAllStringFunc(s, func(m string) string {
			sub := re.FindStringSubmatch(m)
			port := base + int(sub[2][0]-'0')
			if sub[1] == "8" {
				port += 1000
			}
			return "localhost:" + strconv.Itoa(port)
		})
	}
}

// TestDocsCommandsRunAgainstTheDemo runs every command of the README's and
// docs/API.md's sh blocks against a demo federation, in document order,
// each with the token the document gives it: each must exit 0 (curl: with
// a 2xx answer). Those it cannot run are listed in docNotRun with the
// reason, and the operator path's blocks are run by
// TestREADMEOperatorPathRunsTheFederation. Then it runs the commands the
// demo prints, on a fresh demo (they write the same records as the
// README's). Once the README's national views used a province's token on
// the ministry's node, and docs/API.md's examples sent no token at all.
func TestDocsCommandsRunAgainstTheDemo(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("runs the documents' commands in bash")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("no curl")
	}
	bin := buildBinary(t)

	t.Run("README.md and docs/API.md", func(t *testing.T) {
		dir := t.TempDir()
		base, _ := startDemo(t, bin, dir)
		r := newDocRunner(t, bin, dir, demoPorts(base))
		// The documents' client commands without --addr talk to the
		// default, Cao Bằng's node at localhost:7400.
		r.env = append(r.env, "PROVEX_ADDR=localhost:"+strconv.Itoa(base))
		readme, api := docCommands(t, "../../README.md"), docCommands(t, "../../docs/API.md")
		if len(readme) < 40 || len(api) < 16 {
			t.Fatalf("found %d commands in README.md and %d in docs/API.md: is the block parser broken?", len(readme), len(api))
		}
		r.run(readme)
		r.run(api)
		for _, n := range docNotRun {
			if !r.used[n.part] {
				t.Errorf("docNotRun excuses %q, which no documented command has any more: remove it", n.part)
			}
		}
	})

	t.Run("the demo's printed examples", func(t *testing.T) {
		dir := t.TempDir()
		_, printed := startDemo(t, bin, dir)
		var cmds []docCommand
		for i, line := range strings.Split(printed, "\n") {
			text, ok := strings.CutPrefix(line, "  ")
			if ok && regexp.MustCompile(`^(export|grpcurl|curl|go run) `).MatchString(text) {
				cmds = append(cmds, docCommand{fmt.Sprintf("demo output:%d", i+1), text})
			}
		}
		if len(cmds) < 15 {
			t.Fatalf("the demo printed %d commands, want its examples:\n%s", len(cmds), printed)
		}
		newDocRunner(t, bin, dir, demoPorts(0)).run(cmds)
	})
}
