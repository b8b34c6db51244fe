package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

const operatorPathMarker = "<!-- operator path: "

// readmeOperatorPath returns the fenced blocks that follow the operator
// path's markers in README.md, in the README's order, each as it stands.
func readmeOperatorPath(t *testing.T) (names, blocks []string) {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, operatorPathMarker) {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(line, operatorPathMarker), " (")
		if !sc.Scan() || !strings.HasPrefix(sc.Text(), "```") {
			t.Fatalf("README.md: no fenced block after %q", line)
		}
		var block strings.Builder
		for sc.Scan() && sc.Text() != "```" {
			block.WriteString(sc.Text() + "\n")
		}
		names, blocks = append(names, name), append(blocks, block.String())
	}
	return names, blocks
}

// TestREADMEOperatorPathRunsTheFederation runs every block of the README's
// operator path, literally and in order, in one sh in one directory, with
// the built binary first on PATH: it makes a federation of three nodes
// that run in the background on the README's localhost ports, adds a
// fourth through a manifest given to one node, rotates a member's keys,
// backs a node up and restores the backup, and rebuilds a node from its
// peers. The blocks check themselves (sync status --all until converged,
// verify and restore exit 1 on a problem, sh -e stops at the first
// failure); the test then checks, with the CLI, that every node is on the
// manifest that rotated the keys and holds every record written, the
// restored node's newest included.
func TestREADMEOperatorPathRunsTheFederation(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("runs the README's commands in sh")
	}
	bin := buildBinary(t)
	names, blocks := readmeOperatorPath(t)
	for _, want := range []string{"making the federation", "starting the nodes", "changing the federation", "backing up a node", "restoring a node from its peers"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("the README's operator path has no block %q (it has %q)", want, names)
		}
	}
	all := strings.Join(blocks, "")
	for _, want := range []string{"provex serve ", "--manifest", "--key", "--peers", "provex keygen --rotate", "provex manifest rotate", "provex manifest add",
		"provex backup", "provex verify --db", "provex restore-backup", "provex restore ", "provex sync status --all"} {
		if !strings.Contains(all, want) {
			t.Errorf("the README's operator path no longer runs %q", want)
		}
	}
	// The README's nodes listen on fixed ports of localhost: say so
	// plainly if something else holds one, rather than fail obscurely.
	for _, port := range []string{"7410", "7411", "7412", "7413", "8410", "8411", "8412", "8413", "9410", "9411", "9412", "9413"} {
		l, err := net.Listen("tcp", "localhost:"+port)
		if err != nil {
			t.Fatalf("the README's operator path needs port %s of localhost, which is taken: %v", port, err)
		}
		l.Close()
	}

	dir := t.TempDir()
	script := filepath.Join(dir, "operator-path.sh")
	if err := os.WriteFile(script, []byte("set -ex\n"+all), 0o644); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PROVEX_") {
			env = append(env, kv)
		}
	}
	env = append(env, "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", script)
	cmd.Dir, cmd.Env = dir, env
	// Its own process group: the nodes the README starts in the background
	// stay in it after sh exits, and are stopped with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A file, not a pipe: the nodes keep sh's stdout open after it exits.
	outFile, err := os.Create(filepath.Join(dir, "operator-path.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer outFile.Close()
	cmd.Stdout, cmd.Stderr = outFile, outFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	t.Cleanup(func() { stopGroup(t, pgid) })
	err = cmd.Wait()
	outBytes, _ := os.ReadFile(outFile.Name())
	out := bytes.NewBuffer(outBytes)
	if err != nil {
		logs := ""
		for _, m := range []string{"mofa", "cao-bang", "nghe-an", "lang-son"} {
			data, _ := os.ReadFile(filepath.Join(dir, m+".log"))
			logs += "\n--- " + m + ".log (end)\n" + tail(string(data), 3000)
		}
		t.Fatalf("the README's operator path: %v\n%s%s", err, tail(out.String(), 12000), logs)
	}

	// Checked apart from the README's own commands: every node on serial
	// 6 and holding every record written, the restored node included.
	t.Setenv("PROVEX_CA", filepath.Join(dir, "provex-ca", "ca.pem"))
	nodes := map[string]string{"mofa": "localhost:7410", "cao-bang": "localhost:7411", "nghe-an": "localhost:7412", "lang-son": "localhost:7413"}
	for m, addr := range nodes {
		token, err := os.ReadFile(filepath.Join(dir, m+".token"))
		if err != nil {
			t.Fatal(err)
		}
		st, stderr, code := runCLI(t, bin, strings.TrimSpace(string(token)), "", "sync", "status", "--addr", addr)
		if code != 0 || !strings.Contains(st, "manifest serial 6,") {
			t.Errorf("%s: sync status: exit %d, want manifest serial 6\n%s%s", m, code, st, stderr)
		}
		for _, id := range []string{"mou-tourism", "mou-rotated", "mou-restored"} {
			if got, stderr, code := runCLI(t, bin, strings.TrimSpace(string(token)), "", "get", "provinces/cao-bang/agreements/"+id, "--addr", addr); code != 0 {
				t.Errorf("%s: get %s: exit %d\n%s%s", m, id, code, got, stderr)
			}
		}
	}
	// The backup stays one file, as the README promises: verify ran on a
	// copy of it.
	for _, suffix := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(filepath.Join(dir, "cao-bang-backup.db"+suffix)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("cao-bang-backup.db%s beside the backup after the operator path: %v", suffix, err)
		}
	}
	if !strings.Contains(out.String(), "own log cao-bang: got back through") {
		t.Errorf("provex restore did not say how far it got back cao-bang's log:\n%s", tail(out.String(), 6000))
	}
	t.Setenv("PROVEX_CA", "")
	if got, stderr, code := runCLI(t, bin, "", "", "sync", "status", "--all", "--manifest", filepath.Join(dir, "manifest.yaml"), "--nodes", filepath.Join(dir, "nodes.yaml")); code == 0 {
		t.Errorf("sync status --all without the CA answered yes: %s%s", got, stderr)
	}
}

// stopGroup ends the processes of a process group the test started,
// gracefully first, and waits until none is left.
func stopGroup(t *testing.T, pgid int) {
	t.Helper()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		if errors.Is(syscall.Kill(-pgid, sig), syscall.ESRCH) {
			return
		}
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH) {
				return
			}
		}
	}
	t.Errorf("process group %d did not end", pgid)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
