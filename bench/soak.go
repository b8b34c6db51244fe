package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/provex/provex/client"
	"github.com/provex/provex/federation"
	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	investmentv1 "github.com/provex/provex/gen/go/provex/investment/v1"
	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	nodev1 "github.com/provex/provex/gen/go/provex/node/v1"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/freeport"
	"github.com/provex/provex/resource"
)

// soakMembers: two provinces and the ministry, each peering with the other
// two. The restarted one is soakRestarted, so the other two run throughout
// and their figures show leaks.
var soakMembers = []string{"cao-bang", "lang-son", resource.Ministry}

const soakRestarted = "lang-son"

// runSoak drives three provex processes (a real federation: mutual TLS
// between nodes, tokens on the API) with mixed load for a bounded time and
// reports each process's RSS, open files and goroutines at the start, at
// intervals and at the end, with every call's outcome. It fails on an
// outcome no correct node gives (INTERNAL, a bad request accepted, ...) or
// when the nodes do not converge to the same logs and records after the
// load stops.
func runSoak(args []string) error {
	fs := flag.NewFlagSet("soak", flag.ExitOnError)
	duration := fs.Duration("duration", time.Minute, "length of the load, after the warm-up")
	warmup := fs.Duration("warmup", 15*time.Second, "load before the start figures are taken")
	every := fs.Duration("every", time.Minute, "figures are taken this often during the load")
	rate := fs.Float64("rate", 30, "calls a second, all workers together")
	workers := fs.Int("workers", 6, "concurrent clients")
	restartEvery := fs.Duration("restart-every", 30*time.Second, "SIGTERM and restart "+soakRestarted+" this often (0: never)")
	settle := fs.Duration("settle", 2*time.Minute, "how long the nodes may take to converge after the load")
	bin := fs.String("bin", "", "the provex binary (default: go build ./cmd/provex into the temporary directory)")
	keep := fs.Bool("keep", false, "keep the temporary directory (data, logs) even when the run passes")
	tolerance := fs.Float64("tolerance", 0.5, "flat: RSS and goroutines at the end at most this fraction above the start (plus a small slack)")
	strict := fs.Bool("strict", false, "also fail when the figures are not flat")
	fs.Parse(args)

	dir, err := os.MkdirTemp("", "provex-bench-soak-")
	if err != nil {
		return err
	}
	s := &soak{rate: *rate, workers: *workers, tally: newTally()}
	failed := true
	defer func() {
		if failed || *keep {
			fmt.Fprintf(os.Stderr, "soak: data and node logs kept in %s\n", dir)
			return
		}
		os.RemoveAll(dir)
	}()
	if err := s.setUp(dir, *bin); err != nil {
		return err
	}
	defer s.stopAll()

	fmt.Printf("Soak: %s, %s, %s as processes (mutual TLS between nodes, tokens on the API); %.0f calls/s from %d clients for %s after a %s warm-up; %s restarted every %s.\n\n",
		soakMembers[0], soakMembers[1], soakMembers[2], *rate, *workers, *duration, *warmup, soakRestarted, *restartEvery)
	load, stopLoad := contextWithCancel()
	var wg sync.WaitGroup
	for w := range *workers {
		wg.Add(1)
		go func() { defer wg.Done(); s.worker(load, w) }()
	}
	restartsDone := make(chan error, 1)
	go func() { restartsDone <- s.restarts(load, *restartEvery) }()

	started := time.Now()
	time.Sleep(*warmup)
	fmt.Printf("| at | node | RSS MiB | database MiB | open files | goroutines | calls so far | unexpected so far |\n|---|---|---|---|---|---|---|---|\n")
	first := s.figures("start")
	var last map[string]soakSample
	for end := time.Now().Add(*duration); ; {
		wait := min(*every, time.Until(end))
		if wait <= 0 {
			break
		}
		time.Sleep(wait)
		at := fmt.Sprint(time.Since(started).Round(time.Second))
		if time.Until(end) <= 0 {
			at = "end"
		}
		last = s.figures(at)
	}
	stopLoad()
	wg.Wait()
	if err := <-restartsDone; err != nil {
		return err
	}

	fmt.Println()
	s.tally.print(os.Stdout)
	for _, n := range s.nodes {
		fmt.Printf("\n%s: restarted %d times; %d ERROR and %d WARN lines in its log", n.member, n.restarts, n.errorLines.Load(), n.warnLines.Load())
	}
	fmt.Println()
	problems := s.converge(*settle)
	if len(problems) == 0 {
		// Idle and converged, what is still held is what would pile up:
		// these are the figures judged.
		fmt.Printf("\n| at | node | RSS MiB | database MiB | open files | goroutines | calls so far | unexpected so far |\n|---|---|---|---|---|---|---|---|\n")
		last = s.figures("settled")
	}
	flat := s.verdict(first, last, *tolerance)
	if unexpected := s.tally.unexpectedTotal(); unexpected > 0 {
		problems = append(problems, fmt.Sprintf("%d calls had an outcome no correct node gives (table above)", unexpected))
	}
	if !flat && *strict {
		problems = append(problems, "the figures are not flat (-strict)")
	}
	if len(problems) > 0 {
		return fmt.Errorf("soak failed:\n  %s", strings.Join(problems, "\n  "))
	}
	failed = false
	fmt.Println("\nsoak passed")
	return nil
}

type soak struct {
	rate    float64
	workers int
	nodes   []*soakNode
	byName  map[string]*soakNode
	tally   *tally
	http    *http.Client

	mu      sync.Mutex
	records []*soakRecord // of every worker, for the end check
}

// soakNode is one provex process and the clients of its API.
type soakNode struct {
	member, bin, log string
	data             string // data directory
	args             []string
	grpcAddr         string
	httpAddr         string
	syncAddr         string
	token            string
	errorLines       atomic.Int64
	warnLines        atomic.Int64
	// exited hears of a process that ended without being asked to.
	exited   func(error)
	stopping atomic.Bool

	// mu is held while the process is down for a restart, so figures
	// are never taken of a stopping or starting node.
	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan error
	restarts int

	windowMu sync.Mutex
	windows  []restartWindow

	api, badToken, noToken *client.Client
}

// restartWindow is when a node was going down or coming up: calls to it
// then may fail with UNAVAILABLE. to is zero while the restart goes on.
type restartWindow struct{ from, to time.Time }

// restartGrace covers what surrounds a restart: calls already in flight
// when SIGTERM arrived, and clients reconnecting after.
const restartGrace = 3 * time.Second

// restarting reports whether a call made from t0 to t1 overlapped a
// restart of the node.
func (n *soakNode) restarting(t0, t1 time.Time) bool {
	n.windowMu.Lock()
	defer n.windowMu.Unlock()
	for _, w := range n.windows {
		if !t1.Before(w.from.Add(-restartGrace)) && (w.to.IsZero() || !t0.After(w.to.Add(restartGrace))) {
			return true
		}
	}
	return false
}

// setUp builds the binary, makes the federation (manifest, keys, CA and
// node certificates with the CLI, as operators do), an admin token per
// node, and starts the three nodes.
func (s *soak) setUp(dir, bin string) error {
	if bin == "" {
		bin = filepath.Join(dir, "provex")
		if out, err := exec.Command("go", "build", "-o", bin, "github.com/provex/provex/cmd/provex").CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	manifest, keys, err := devFederation(soakMembers)
	if err != nil {
		return err
	}
	cli := func(args ...string) (string, error) {
		out, err := exec.Command(bin, args...).Output()
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			return "", fmt.Errorf("provex %s: %v: %s", strings.Join(args, " "), err, ee.Stderr)
		}
		return strings.TrimSpace(string(out)), err
	}
	caDir := filepath.Join(dir, "ca")
	if _, err := cli("ca", "init", "--dir", caDir); err != nil {
		return err
	}
	if manifest.CA, err = os.ReadFile(filepath.Join(caDir, "ca.pem")); err != nil {
		return err
	}
	manifestFile := filepath.Join(dir, "manifest.yaml")
	if err := writeSigned(manifest, manifestFile); err != nil {
		return err
	}
	apiAddrs, err := freeport.Addrs(2 * len(soakMembers))
	if err != nil {
		return err
	}
	s.byName = map[string]*soakNode{}
	s.http = &http.Client{Timeout: 10 * time.Second}
	for i, m := range soakMembers {
		data := filepath.Join(dir, m)
		if err := os.MkdirAll(data, 0o700); err != nil {
			return err
		}
		keyFile := filepath.Join(dir, m+".key")
		if err := federation.WriteKeyFile(keyFile, keys[m]); err != nil {
			return err
		}
		if _, err := cli("ca", "issue", "--member", m, "--ca-dir", caDir, "--out", data); err != nil {
			return err
		}
		token, err := cli("token", "create", "--role", "admin", "--label", "soak", "--data", data, "--member", m)
		if err != nil {
			return err
		}
		var peers []string
		for _, p := range soakMembers {
			if p != m {
				peers = append(peers, p)
			}
		}
		n := &soakNode{member: m, bin: bin, log: filepath.Join(dir, m+".log"), data: data, token: token,
			grpcAddr: apiAddrs[2*i], httpAddr: apiAddrs[2*i+1], syncAddr: manifest.Members[i].Address}
		if manifest.Members[i].ID != m {
			return fmt.Errorf("manifest lists %s where %s was expected", manifest.Members[i].ID, m)
		}
		n.args = []string{"serve", "--member", m, "--data", data, "--dev", "--grpc-addr", n.grpcAddr, "--http-addr", n.httpAddr,
			"--manifest", manifestFile, "--key", keyFile, "--peers", strings.Join(peers, ",")}
		// Clients reconnect quickly after a restart rather than backing
		// off for up to two minutes.
		fast := grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, MaxDelay: time.Second}, MinConnectTimeout: 5 * time.Second})
		if n.api, err = client.Dial(n.grpcAddr, fast, client.WithToken(token)); err != nil {
			return err
		}
		if n.badToken, err = client.Dial(n.grpcAddr, fast, client.WithToken("pvx_soak0000.bm90IGEgdG9rZW4gb2YgdGhpcyBub2Rl")); err != nil {
			return err
		}
		if n.noToken, err = client.Dial(n.grpcAddr, fast); err != nil {
			return err
		}
		n.exited = func(err error) { s.tally.add("node process", "exited by itself", false, fmt.Sprintf("%s: %v", m, err)) }
		s.nodes = append(s.nodes, n)
		s.byName[m] = n
	}
	for _, n := range s.nodes {
		if err := n.start(); err != nil {
			return err
		}
	}
	return nil
}

// start runs the node's serve command and waits for its "node serving"
// log line. Its stderr goes to the node's log file; ERROR lines are
// counted.
func (n *soakNode) start() error {
	logFile, err := os.OpenFile(n.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(n.bin, n.args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		logFile.Close()
		return err
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return err
	}
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() {
		defer logFile.Close()
		r := bufio.NewReader(stderr)
		serving := false
		for {
			line, err := r.ReadBytes('\n')
			logFile.Write(line)
			var l struct{ Level, Msg string }
			if json.Unmarshal(line, &l) == nil {
				switch l.Level {
				case "ERROR":
					n.errorLines.Add(1)
				case "WARN":
					n.warnLines.Add(1)
				}
				if l.Msg == "node serving" && !serving {
					serving = true
					close(ready)
				}
			}
			if err != nil {
				break
			}
		}
		err := cmd.Wait()
		if !n.stopping.Load() {
			n.exited(err)
		}
		done <- err
	}()
	select {
	case <-ready:
	case err := <-done:
		return fmt.Errorf("%s exited before serving: %v (log: %s)", n.member, err, n.log)
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("%s did not start in a minute (log: %s)", n.member, n.log)
	}
	n.cmd, n.done = cmd, done
	n.stopping.Store(false)
	return nil
}

// stop sends SIGTERM and waits for a clean exit: in-flight calls finish
// within the node's 15 s shutdown timeout, so 30 s is a hang.
func (n *soakNode) stop() error {
	n.stopping.Store(true)
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case err := <-n.done:
		if err != nil {
			return fmt.Errorf("%s exited with %v after SIGTERM", n.member, err)
		}
		return nil
	case <-time.After(30 * time.Second):
		n.cmd.Process.Kill()
		<-n.done
		return fmt.Errorf("%s did not stop within 30 s of SIGTERM", n.member)
	}
}

func (s *soak) stopAll() {
	for _, n := range s.nodes {
		if n.cmd != nil {
			n.stop()
		}
		for _, c := range []*client.Client{n.api, n.badToken, n.noToken} {
			if c != nil {
				c.Close()
			}
		}
	}
}

// restarts restarts soakRestarted every interval until ctx ends: SIGTERM,
// a clean exit, and a start on the same data directory and addresses.
func (s *soak) restarts(ctx context.Context, every time.Duration) error {
	if every <= 0 {
		return nil
	}
	n := s.byName[soakRestarted]
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		n.mu.Lock()
		n.windowMu.Lock()
		n.windows = append(n.windows, restartWindow{from: time.Now()})
		n.windowMu.Unlock()
		if err := n.stop(); err != nil {
			s.tally.add("restart", "did not stop cleanly", false, err.Error())
		}
		err := n.start()
		n.windowMu.Lock()
		n.windows[len(n.windows)-1].to = time.Now()
		n.windowMu.Unlock()
		if err != nil {
			n.mu.Unlock()
			return err
		}
		n.restarts++
		n.mu.Unlock()
		s.tally.add("restart", "OK", true, "")
	}
}

// soakSample is what one node's process looked like at one time.
type soakSample struct {
	rss        uint64
	db         int64 // bytes of provex.db and its WAL: SQLite's page cache grows with them
	fds        int
	goroutines int
	err        error
}

// sample reads a node's RSS and open files from /proc and its goroutines
// from GetNodeInfo (admin tokens only), waiting out a restart.
func (n *soakNode) sample() soakSample {
	n.mu.Lock()
	defer n.mu.Unlock()
	pid := n.cmd.Process.Pid
	var s soakSample
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err == nil {
		s.rss, err = vmRSS(st)
	}
	if err == nil {
		s.fds, err = countFDs(pid)
	}
	if err == nil {
		s.db, err = databaseBytes(n.data)
	}
	if err == nil {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		var info *nodev1.GetNodeInfoResponse
		// Waits for the client to reconnect after a restart.
		info, err = n.api.Node.GetNodeInfo(c, &nodev1.GetNodeInfoRequest{}, grpc.WaitForReady(true))
		cancel()
		s.goroutines = int(info.GetRuntime().GetGoroutines())
		if err == nil && info.GetRuntime() == nil {
			err = errors.New("the node does not report its goroutines")
		}
	}
	s.err = err
	return s
}

// databaseBytes is the size of the database and its WAL in a data
// directory.
func databaseBytes(dir string) (int64, error) {
	var total int64
	for _, f := range []string{"provex.db", "provex.db-wal"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, err
		}
		total += st.Size()
	}
	return total, nil
}

// vmRSS reads the resident set size from the text of /proc/<pid>/status.
func vmRSS(status []byte) (uint64, error) { return procStatusBytes(status, "VmRSS") }

// procStatusBytes reads a field given in kB (VmRSS, VmHWM) from the text of
// /proc/<pid>/status, in bytes.
func procStatusBytes(status []byte, field string) (uint64, error) {
	for line := range strings.Lines(string(status)) {
		rest, ok := strings.CutPrefix(line, field+":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("%s line %q: want a number of kB", field, strings.TrimSpace(line))
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s line %q: %v", field, strings.TrimSpace(line), err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("no %s line in the process status", field)
}

// countFDs counts a process's open file descriptors (sockets, database
// files, the log pipe).
func countFDs(pid int) (int, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(fds), err
}

// figures prints and returns every node's sample.
func (s *soak) figures(at string) map[string]soakSample {
	out := map[string]soakSample{}
	calls, unexpected := s.tally.total(), s.tally.unexpectedTotal()
	for _, n := range s.nodes {
		sm := n.sample()
		out[n.member] = sm
		if sm.err != nil {
			fmt.Printf("| %s | %s | error: %v | | | | %d | %d |\n", at, n.member, sm.err, calls, unexpected)
			continue
		}
		fmt.Printf("| %s | %s | %.1f | %.1f | %d | %d | %d | %d |\n", at, n.member, float64(sm.rss)/(1<<20), float64(sm.db)/(1<<20), sm.fds, sm.goroutines, calls, unexpected)
	}
	return out
}

// verdict prints whether each node that ran throughout kept flat figures:
// RSS and goroutines at the end (once settled) within tolerance of the
// start (under load) (plus 16 MiB
// and 10 goroutines of slack, for caches warming and work in flight), open
// files within 10. The restarted node's figures start again at each
// restart, so they are shown but not judged.
func (s *soak) verdict(first, last map[string]soakSample, tolerance float64) bool {
	flat := true
	fmt.Println()
	for _, n := range s.nodes {
		a, b := first[n.member], last[n.member]
		if n.member == soakRestarted && n.restarts > 0 {
			fmt.Printf("%s: restarted, not judged\n", n.member)
			continue
		}
		if a.err != nil || b.err != nil {
			fmt.Printf("%s: figures missing, not judged\n", n.member)
			flat = false
			continue
		}
		ok, why := flatFigures(a, b, tolerance)
		word := "flat"
		if !ok {
			word, flat = "NOT flat: "+why, false
		}
		fmt.Printf("%s: RSS %.1f → %.1f MiB, open files %d → %d, goroutines %d → %d: %s\n", n.member,
			float64(a.rss)/(1<<20), float64(b.rss)/(1<<20), a.fds, b.fds, a.goroutines, b.goroutines, word)
	}
	return flat
}

// flatFigures compares a node's figures at the end of a soak with those at
// its start.
func flatFigures(start, end soakSample, tolerance float64) (bool, string) {
	var why []string
	if float64(end.rss) > float64(start.rss)*(1+tolerance)+16<<20 {
		why = append(why, "RSS grew")
	}
	if end.fds > start.fds+10 {
		why = append(why, "open files grew")
	}
	if float64(end.goroutines) > float64(start.goroutines)*(1+tolerance)+10 {
		why = append(why, "goroutines grew")
	}
	return len(why) == 0, strings.Join(why, ", ")
}

// tally counts every call's outcome per operation, and whether a correct
// node could have given it.
type tally struct {
	mu       sync.Mutex
	outcomes map[string]map[string]int // op -> outcome -> calls
	bad      map[string]bool           // op + "\x00" + outcome: unexpected
	example  map[string]string         // the first message of an unexpected outcome
}

func newTally() *tally {
	return &tally{outcomes: map[string]map[string]int{}, bad: map[string]bool{}, example: map[string]string{}}
}

func (t *tally) add(op, outcome string, expected bool, msg string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.outcomes[op] == nil {
		t.outcomes[op] = map[string]int{}
	}
	t.outcomes[op][outcome]++
	if !expected {
		key := op + "\x00" + outcome
		t.bad[key] = true
		if _, ok := t.example[key]; !ok {
			t.example[key] = msg
		}
	}
}

func (t *tally) total() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, o := range t.outcomes {
		for _, c := range o {
			n += c
		}
	}
	return n
}

func (t *tally) unexpectedTotal() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for op, o := range t.outcomes {
		for outcome, c := range o {
			if t.bad[op+"\x00"+outcome] {
				n += c
			}
		}
	}
	return n
}

func (t *tally) print(w io.Writer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(w, "| operation | calls | expected outcomes | unexpected outcomes |\n|---|---|---|---|\n")
	ops := make([]string, 0, len(t.outcomes))
	for op := range t.outcomes {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		var good, bad []string
		calls := 0
		outcomes := make([]string, 0, len(t.outcomes[op]))
		for o := range t.outcomes[op] {
			outcomes = append(outcomes, o)
		}
		sort.Strings(outcomes)
		for _, o := range outcomes {
			c := t.outcomes[op][o]
			calls += c
			if key := op + "\x00" + o; t.bad[key] {
				bad = append(bad, fmt.Sprintf("%s %d (%q)", o, c, truncate(t.example[key], 160)))
			} else {
				good = append(good, fmt.Sprintf("%s %d", o, c))
			}
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s |\n", op, calls, strings.Join(good, ", "), strings.Join(bad, ", "))
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// classifyGRPC names a call's outcome by its gRPC code and says whether a
// correct node gives it: a code in want, or UNAVAILABLE or
// DEADLINE_EXCEEDED while the node was restarting.
func classifyGRPC(err error, want []codes.Code, restarting bool) (string, bool) {
	c := status.Code(err)
	outcome := snake(c)
	if slices.Contains(want, c) {
		return outcome, true
	}
	if restarting && (c == codes.Unavailable || c == codes.DeadlineExceeded) {
		return outcome + " (restart)", true
	}
	return outcome, false
}

// snake spells a code as the gRPC spec does: INVALID_ARGUMENT.
func snake(c codes.Code) string {
	s := c.String()
	var b strings.Builder
	for i, r := range s {
		if i > 0 && r >= 'A' && r <= 'Z' && s[i-1] >= 'a' && s[i-1] <= 'z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}

// classifyHTTP does for HTTP what classifyGRPC does for gRPC: a status in
// want, or a refused connection while the node was restarting.
func classifyHTTP(code int, err error, want []int, restarting bool) (string, bool) {
	if err != nil {
		return "transport error", restarting
	}
	return fmt.Sprintf("HTTP %d", code), slices.Contains(want, code)
}

// soakRecord is a record one worker wrote; only that worker changes it.
type soakRecord struct {
	name, origin string
	kind         *soakKind
	national     bool
	title        string
	live         bool
	// certain is false once a write of it ended without an answer (a
	// restart): the end check then takes its owner's copy as the truth.
	certain bool
	version int
}

// soakKind is a collection the soak writes, with valid records: real
// dates, ISO codes, counts that fit together, small amounts.
type soakKind struct {
	kind    *resource.Kind
	title   string // the string field updates change and the end check compares
	build   func(r *mrand.Rand, title string) proto.Message
	filters []string
}

func soakDate(r *mrand.Rand) time.Time {
	return time.Date(2018, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, r.IntN(2900))
}

func pbDate(t time.Time) *typev1.Date {
	return &typev1.Date{Year: int32(t.Year()), Month: int32(t.Month()), Day: int32(t.Day())}
}

var soakCountries = []string{"CN", "LA"}

var soakKinds = []*soakKind{
	{kind: resource.Agreements, title: "display_name", filters: []string{"kind = MOU", "state = SIGNED AND signed_date >= 2022", "partner_countries:CN"},
		build: func(r *mrand.Rand, title string) proto.Message {
			return &twinningv1.Agreement{DisplayName: title, Kind: twinningv1.Agreement_KIND_MOU, State: twinningv1.Agreement_STATE_SIGNED,
				PartnerCountries: []string{soakCountries[r.IntN(2)]}, SignedDate: pbDate(soakDate(r)), SignedPlace: "Cao Bằng",
				Summary: "Cooperation in border-gate management, trade facilitation and tourism."}
		}},
	{kind: resource.Delegations, title: "display_name", filters: []string{"direction = OUTGOING", "start_date >= 2024-01", "member_count > 3"},
		build: func(r *mrand.Rand, title string) proto.Message {
			start := soakDate(r)
			members := int32(2 + r.IntN(10))
			return &twinningv1.Delegation{DisplayName: title, Direction: twinningv1.Delegation_Direction(1 + r.IntN(2)),
				Level: twinningv1.Delegation_LEVEL_DEPARTMENT, Leader: "Vice-Chairman", MemberCount: members, ForeignerCount: int32(r.IntN(int(members) + 1)),
				Countries: []string{soakCountries[r.IntN(2)]}, StartDate: pbDate(start), EndDate: pbDate(start.AddDate(0, 0, r.IntN(5))),
				Purpose: "Working visit on trade and border cooperation."}
		}},
	{kind: resource.Projects, title: "display_name", filters: []string{"kind = FDI AND state != TERMINATED", "approved_date >= 2023", "investor_country = CN"},
		build: func(r *mrand.Rand, title string) proto.Message {
			registered := int64(1_000_000 + r.IntN(100_000_000))
			return &investmentv1.Project{DisplayName: title, Kind: investmentv1.Project_KIND_FDI, State: investmentv1.Project_State(1 + r.IntN(6)),
				Sector: investmentv1.Sector(1 + r.IntN(15)), Investor: fmt.Sprintf("Investor %d Co., Ltd.", r.IntN(500)), InvestorCountry: "CN",
				RegisteredCapital: &typev1.Money{CurrencyCode: "USD", Units: registered},
				DisbursedCapital:  &typev1.Money{CurrencyCode: "USD", Units: registered / int64(1+r.IntN(4))},
				ApprovedDate:      pbDate(soakDate(r)), Location: "Industrial park"}
		}},
	{kind: resource.TradeReports, title: "notes", filters: []string{"period_start >= 2024", "period_kind = MONTH"},
		build: func(r *mrand.Rand, title string) proto.Message {
			month := time.Date(2018, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, r.IntN(90), 0)
			return &borderv1.TradeReport{PeriodKind: borderv1.TradeReport_PERIOD_KIND_MONTH,
				PeriodStart: pbDate(month), PeriodEnd: pbDate(month.AddDate(0, 1, -1)),
				ExportValue:  &typev1.Money{CurrencyCode: "USD", Units: int64(r.IntN(50_000_000))},
				ImportValue:  &typev1.Money{CurrencyCode: "VND", Units: int64(r.IntN(900_000_000_000))},
				VehicleCount: int64(r.IntN(20_000)), PassengerCount: int64(r.IntN(100_000)), Notes: title}
		}},
}

func titleOf(m proto.Message, field string) string {
	r := m.ProtoReflect()
	return r.Get(r.Descriptor().Fields().ByName(protoreflect.Name(field))).String()
}

func setField(m proto.Message, field string, v protoreflect.Value) {
	r := m.ProtoReflect()
	r.Set(r.Descriptor().Fields().ByName(protoreflect.Name(field)), v)
}

// soakOps are the operations with their weights.
var soakOps = []struct {
	name   string
	weight int
	run    func(s *soak, w *soakWorker)
}{
	{"create", 18, (*soak).create},
	{"update", 12, (*soak).update},
	{"delete", 5, (*soak).remove},
	{"get", 15, (*soak).get},
	{"list", 15, (*soak).list},
	{"summarize", 5, (*soak).summarize},
	{"sync state", 3, (*soak).syncState},
	{"bad field", 8, (*soak).badField},
	{"bad token", 4, (*soak).badTokens},
	{"bad UTF-8 (gRPC)", 2, (*soak).badUTF8},
	{"bad HTTP request", 4, (*soak).badHTTP},
	{"garbage bytes", 3, (*soak).garbage},
	{"oversized message", 1, (*soak).oversized},
}

// soakWorker is one client: its own random stream and its own records.
type soakWorker struct {
	id      int
	r       *mrand.Rand
	seq     int
	records []*soakRecord
}

func (s *soak) worker(ctx context.Context, id int) {
	w := &soakWorker{id: id, r: mrand.New(mrand.NewPCG(uint64(id), uint64(time.Now().UnixNano())))}
	total := 0
	for _, op := range soakOps {
		total += op.weight
	}
	t := time.NewTicker(time.Duration(float64(time.Second) * float64(s.workers) / s.rate))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pick := w.r.IntN(total)
		for _, op := range soakOps {
			if pick < op.weight {
				op.run(s, w)
				break
			}
			pick -= op.weight
		}
	}
}

func (s *soak) node(w *soakWorker) *soakNode { return s.nodes[w.r.IntN(len(s.nodes))] }

// call runs a gRPC call on n with a deadline and records its outcome.
func (s *soak) call(op string, n *soakNode, want []codes.Code, f func(c context.Context) error) error {
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	t0 := time.Now()
	err := f(c)
	outcome, ok := classifyGRPC(err, want, n.restarting(t0, time.Now()))
	msg := ""
	if err != nil {
		msg = status.Convert(err).Message()
	}
	s.tally.add(op, outcome, ok, n.member+": "+msg)
	return err
}

var wantOK = []codes.Code{codes.OK}

func (s *soak) create(w *soakWorker) {
	n := s.node(w)
	k := soakKinds[w.r.IntN(len(soakKinds))]
	w.seq++
	id := fmt.Sprintf("w%d-%06d", w.id, w.seq)
	title := fmt.Sprintf("Soak record %d of worker %d", w.seq, w.id)
	m := k.build(w.r, title)
	rec := &soakRecord{name: "provinces/" + n.member + "/" + k.kind.Collection + "/" + id, origin: n.member, kind: k, title: title,
		national: w.r.IntN(5) == 0}
	if rec.national {
		setField(m, "visibility", protoreflect.ValueOfEnum(protoreflect.EnumNumber(typev1.Visibility_VISIBILITY_NATIONAL)))
	}
	err := s.call("create", n, wantOK, func(c context.Context) error {
		_, err := n.api.Create(c, "provinces/"+n.member, k.kind, id, "", m)
		return err
	})
	rec.live, rec.certain = err == nil, err == nil
	w.records = append(w.records, rec)
	s.mu.Lock()
	s.records = append(s.records, rec)
	s.mu.Unlock()
}

// pick is one of the worker's records known to exist, or nil.
func (w *soakWorker) pick() *soakRecord {
	for range 8 {
		if len(w.records) == 0 {
			return nil
		}
		if r := w.records[w.r.IntN(len(w.records))]; r.live && r.certain {
			return r
		}
	}
	return nil
}

func (s *soak) update(w *soakWorker) {
	rec := w.pick()
	if rec == nil {
		return
	}
	n := s.byName[rec.origin]
	rec.version++
	title := fmt.Sprintf("%s, version %d", strings.SplitN(rec.title, ",", 2)[0], rec.version)
	m := rec.kind.kind.New()
	rec.kind.kind.SetName(m, rec.name)
	setField(m, rec.kind.title, protoreflect.ValueOfString(title))
	err := s.call("update", n, wantOK, func(c context.Context) error {
		_, err := n.api.Update(c, m, []string{rec.kind.title})
		return err
	})
	if err == nil {
		rec.title = title
	} else {
		rec.certain = false
	}
}

func (s *soak) remove(w *soakWorker) {
	rec := w.pick()
	if rec == nil {
		return
	}
	n := s.byName[rec.origin]
	err := s.call("delete", n, wantOK, func(c context.Context) error {
		_, err := n.api.Delete(c, rec.name, "")
		return err
	})
	if err == nil {
		rec.live = false
	} else {
		rec.certain = false
	}
}

// get reads one of the worker's records from its owner and checks it is
// the last version written.
func (s *soak) get(w *soakWorker) {
	rec := w.pick()
	if rec == nil {
		return
	}
	n := s.byName[rec.origin]
	var got proto.Message
	err := s.call("get", n, wantOK, func(c context.Context) error {
		var err error
		got, err = n.api.Get(c, rec.name)
		return err
	})
	if err == nil && titleOf(got, rec.kind.title) != rec.title {
		s.tally.add("get", "stale record", false, fmt.Sprintf("%s: %s has %q, want %q", n.member, rec.name, titleOf(got, rec.kind.title), rec.title))
	}
}

func (s *soak) list(w *soakWorker) {
	n := s.node(w)
	k := soakKinds[w.r.IntN(len(soakKinds))]
	parent := "provinces/-"
	if i := w.r.IntN(len(soakMembers) + 1); i < len(soakMembers) {
		parent = "provinces/" + soakMembers[i]
	}
	filter := k.filters[w.r.IntN(len(k.filters))]
	s.call("list", n, wantOK, func(c context.Context) error {
		_, _, err := n.api.List(c, parent, k.kind, client.ListOptions{PageSize: 50, Filter: filter})
		return err
	})
}

var soakSummaries = []*nationalv1.SummarizeRequest{
	{Collection: "agreements", GroupBy: []string{"province", "kind"}},
	{Collection: "projects", GroupBy: []string{"province"}, Sum: []string{"registered_capital", "disbursed_capital"}},
	{Collection: "delegations", GroupBy: []string{"direction", "start_date.year"}, Sum: []string{"member_count", "foreigner_count"}},
	{Collection: "trade-reports", GroupBy: []string{"province"}, Sum: []string{"export_value", "import_value"}, Filter: "period_start >= 2024"},
}

// summarize asks the ministry for a national summary.
func (s *soak) summarize(w *soakWorker) {
	n := s.byName[resource.Ministry]
	req := soakSummaries[w.r.IntN(len(soakSummaries))]
	s.call("summarize", n, wantOK, func(c context.Context) error {
		_, err := nationalv1.NewNationalServiceClient(n.api.Conn()).Summarize(c, req)
		return err
	})
}

func (s *soak) syncState(w *soakWorker) {
	n := s.node(w)
	s.call("sync state", n, wantOK, func(c context.Context) error {
		_, err := syncv1.NewSyncServiceClient(n.api.Conn()).GetSyncState(c, &syncv1.GetSyncStateRequest{})
		return err
	})
}

// badField sends requests that break the schema's rules; each must be
// refused with INVALID_ARGUMENT and change nothing.
func (s *soak) badField(w *soakWorker) {
	n := s.node(w)
	parent := "provinces/" + n.member
	valid := func() *twinningv1.Agreement {
		return soakKinds[0].build(w.r, "A valid agreement").(*twinningv1.Agreement)
	}
	cases := []func(c context.Context) error{
		func(c context.Context) error { // empty display name
			a := valid()
			a.DisplayName = ""
			_, err := n.api.Create(c, parent, resource.Agreements, "", "", a)
			return err
		},
		func(c context.Context) error { // a resource id that breaks its pattern
			_, err := n.api.Create(c, parent, resource.Agreements, "Not A Valid ID!", "", valid())
			return err
		},
		func(c context.Context) error { // a count below zero
			d := soakKinds[1].build(w.r, "A delegation").(*twinningv1.Delegation)
			d.MemberCount = -3
			_, err := n.api.Create(c, parent, resource.Delegations, "", "", d)
			return err
		},
		func(c context.Context) error { // a country code that is not two letters
			p := soakKinds[2].build(w.r, "A project").(*investmentv1.Project)
			p.InvestorCountry = "china"
			_, err := n.api.Create(c, parent, resource.Projects, "", "", p)
			return err
		},
		func(c context.Context) error { // a filter that does not parse
			_, _, err := n.api.List(c, parent, resource.Agreements, client.ListOptions{Filter: "kind = = MOU AND ("})
			return err
		},
		func(c context.Context) error { // a negative page size
			_, _, err := n.api.List(c, parent, resource.Agreements, client.ListOptions{PageSize: -5})
			return err
		},
		func(c context.Context) error { // a page token that was never issued
			_, _, err := n.api.List(c, parent, resource.Agreements, client.ListOptions{PageToken: "bm90IGEgcGFnZSB0b2tlbg"})
			return err
		},
	}
	s.call("bad field", n, []codes.Code{codes.InvalidArgument}, cases[w.r.IntN(len(cases))])
}

// badTokens calls with a made-up token and with none.
func (s *soak) badTokens(w *soakWorker) {
	n := s.node(w)
	c := n.badToken
	if w.r.IntN(2) == 0 {
		c = n.noToken
	}
	s.call("bad token", n, []codes.Code{codes.Unauthenticated}, func(ctx context.Context) error {
		_, _, err := c.List(ctx, "provinces/"+n.member, resource.Agreements, client.ListOptions{})
		return err
	})
}

// badUTF8 sends a request whose string field holds invalid UTF-8, which a
// Go client cannot marshal: a BytesValue has the same wire form as a
// request whose field 1 (parent in List and Create) is those bytes.
func (s *soak) badUTF8(w *soakWorker) {
	n := s.node(w)
	method := "/provex.twinning.v1.TwinningService/ListAgreements"
	var resp proto.Message = &twinningv1.ListAgreementsResponse{}
	if w.r.IntN(2) == 0 {
		method, resp = "/provex.twinning.v1.TwinningService/CreateAgreement", &twinningv1.Agreement{}
	}
	s.call("bad UTF-8 (gRPC)", n, []codes.Code{codes.InvalidArgument}, func(c context.Context) error {
		return n.api.Conn().Invoke(c, method, wrapperspb.Bytes([]byte("provinces/\xff\xfe"+n.member)), resp)
	})
}

// badHTTP sends malformed requests to the gateway: invalid UTF-8 in a
// query, a body that is not JSON, a body over the size limit.
func (s *soak) badHTTP(w *soakWorker) {
	n := s.node(w)
	base := "http://" + n.httpAddr + "/v1/provinces/" + n.member + "/agreements"
	var (
		req  *http.Request
		want = []int{http.StatusBadRequest}
		err  error
	)
	switch w.r.IntN(3) {
	case 0:
		req, err = http.NewRequest("GET", base+"?filter="+url.QueryEscape("display_name = \"\xff\xfe\""), nil)
	case 1:
		req, err = http.NewRequest("POST", base, strings.NewReader(`{"display_name": "unfinished`))
	default:
		body := append(append([]byte(`{"display_name": "`), bytes.Repeat([]byte("a"), 5<<20)...), `"}`...)
		req, err = http.NewRequest("POST", base, bytes.NewReader(body))
		want = []int{http.StatusRequestEntityTooLarge}
	}
	if err != nil {
		panic(err)
	}
	req.Header.Set("Authorization", "Bearer "+n.token)
	t0 := time.Now()
	resp, err := s.http.Do(req)
	code := 0
	msg := ""
	if err == nil {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		resp.Body.Close()
		code, msg = resp.StatusCode, string(b)
	} else {
		msg = err.Error()
	}
	outcome, ok := classifyHTTP(code, err, want, n.restarting(t0, time.Now()))
	s.tally.add("bad HTTP request", outcome, ok, n.member+" "+req.Method+": "+msg)
}

// garbage writes random bytes to one of a node's ports (gRPC, HTTP or
// sync) and expects the node to close the connection within its handshake
// or header timeout (random bytes without a line break are an HTTP request
// line still arriving, cut after 10 s).
func (s *soak) garbage(w *soakWorker) {
	n := s.node(w)
	addr := []string{n.grpcAddr, n.httpAddr, n.syncAddr}[w.r.IntN(3)]
	t0 := time.Now()
	outcome, msg := garbageOutcome(addr, 256+w.r.IntN(4096))
	expected := outcome == "closed by the node" || (outcome == "refused" && n.restarting(t0, time.Now()))
	s.tally.add("garbage bytes", outcome, expected, n.member+" "+addr+": "+msg)
}

// garbageWait is how long garbageOutcome waits for the node to close: its
// 10 s handshake and header timeouts (server.Limits) and a margin.
const garbageWait = 15 * time.Second

func garbageOutcome(addr string, size int) (string, string) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "refused", err.Error()
	}
	defer conn.Close()
	junk := make([]byte, size)
	rand.Read(junk)
	conn.SetDeadline(time.Now().Add(garbageWait))
	if _, err := conn.Write(junk); err != nil {
		return "closed by the node", err.Error() // it closed while we wrote
	}
	if _, err := io.Copy(io.Discard, conn); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return "held open " + garbageWait.String(), err.Error()
		}
	}
	return "closed by the node", ""
}

// oversized sends a gRPC message over the node's 4 MiB limit.
func (s *soak) oversized(w *soakWorker) {
	n := s.node(w)
	a := soakKinds[0].build(w.r, "An oversized agreement").(*twinningv1.Agreement)
	a.Summary = strings.Repeat("a", 5<<20)
	s.call("oversized message", n, []codes.Code{codes.ResourceExhausted}, func(c context.Context) error {
		_, err := n.api.Twinning.CreateAgreement(c, &twinningv1.CreateAgreementRequest{Parent: "provinces/" + n.member, Agreement: a},
			grpc.MaxCallSendMsgSize(8<<20))
		return err
	})
}

// converge waits until every node holds the same log of every origin, all
// of it opened where it should be, then checks each node's records against
// what the workers wrote. It returns what is wrong.
func (s *soak) converge(settle time.Duration) []string {
	start := time.Now()
	deadline := start.Add(settle)
	var last string
	for {
		heads, why := s.heads()
		if why == "" {
			fmt.Printf("\nconverged %s after the load: every node holds the same logs (%s)\n", time.Since(start).Round(100*time.Millisecond), heads)
			break
		}
		last = why
		if time.Now().After(deadline) {
			return []string{fmt.Sprintf("the nodes did not converge within %s: %s", settle, last)}
		}
		time.Sleep(500 * time.Millisecond)
	}
	return s.checkRecords()
}

// heads describes the origins' log heads when every node agrees on them,
// or says why they do not.
func (s *soak) heads() (string, string) {
	type head struct {
		seq  uint64
		hash string
	}
	want := map[string]head{}
	for _, n := range s.nodes {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		st, err := syncv1.NewSyncServiceClient(n.api.Conn()).GetSyncState(c, &syncv1.GetSyncStateRequest{})
		cancel()
		if err != nil {
			return "", n.member + ": " + err.Error()
		}
		got := map[string]head{}
		for _, o := range st.GetOrigins() {
			got[o.GetOrigin()] = head{o.GetSeq(), fmt.Sprintf("%x", o.GetHeadHash())}
			if o.GetUnopened() > 0 || len(o.GetDamaged()) > 0 {
				return "", fmt.Sprintf("%s: origin %s has %d unopened entries and %d damaged ranges", n.member, o.GetOrigin(), o.GetUnopened(), len(o.GetDamaged()))
			}
		}
		if n.member == soakMembers[0] {
			want = got
			continue
		}
		for _, m := range soakMembers {
			if got[m] != want[m] {
				return "", fmt.Sprintf("%s holds %s's log to %d, %s to %d", n.member, m, got[m].seq, soakMembers[0], want[m].seq)
			}
		}
	}
	var parts []string
	for _, m := range soakMembers {
		parts = append(parts, fmt.Sprintf("%s %d entries", m, want[m].seq))
	}
	return strings.Join(parts, ", "), ""
}

// checkRecords lists every collection the soak wrote, of every origin, on
// every node, and compares it with the records the workers know: present
// with their last title when live, absent when deleted, absent on a node
// that may not read them; a record whose last write had no answer must be
// as its owner has it.
func (s *soak) checkRecords() []string {
	type key struct{ node, origin, collection string }
	lists := map[key]map[string]string{}
	var problems []string
	for _, n := range s.nodes {
		for _, o := range soakMembers {
			for _, k := range soakKinds {
				got, err := listAll(n, "provinces/"+o, k)
				if err != nil {
					return []string{fmt.Sprintf("%s: list %s of %s: %v", n.member, k.kind.Collection, o, err)}
				}
				lists[key{n.member, o, k.kind.Collection}] = got
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	known := map[string]bool{}
	live, uncertain := 0, 0
	for _, r := range s.records {
		known[r.name] = true
		owner := lists[key{r.origin, r.origin, r.kind.kind.Collection}]
		title, live0 := r.title, r.live
		if !r.certain {
			uncertain++
			title, live0 = owner[r.name]
		}
		if live0 {
			live++
		}
		for _, n := range s.nodes {
			got, ok := lists[key{n.member, r.origin, r.kind.kind.Collection}][r.name]
			readable := !r.national || n.member == r.origin || n.member == resource.Ministry
			switch {
			case live0 && readable && !ok:
				problems = append(problems, fmt.Sprintf("%s: %s missing", n.member, r.name))
			case live0 && readable && got != title:
				problems = append(problems, fmt.Sprintf("%s: %s has %q, want %q", n.member, r.name, got, title))
			case ok && !(live0 && readable):
				problems = append(problems, fmt.Sprintf("%s: %s listed, but it is deleted or not readable there", n.member, r.name))
			}
		}
	}
	for k, l := range lists {
		for name := range l {
			if !known[name] {
				problems = append(problems, fmt.Sprintf("%s: %s listed, but no worker wrote it (origin %s)", k.node, name, k.origin))
			}
		}
	}
	if len(problems) > 20 {
		problems = append(problems[:20], fmt.Sprintf("... and %d more", len(problems)-20))
	}
	if len(problems) == 0 {
		fmt.Printf("every node holds the %d live records it may read, each at its last version (%d writes of %d records had no answer; their owners' copies agree everywhere)\n",
			live, uncertain, len(s.records))
	}
	return problems
}

// listAll lists a whole collection under parent: name -> title.
func listAll(n *soakNode, parent string, k *soakKind) (map[string]string, error) {
	out := map[string]string{}
	token := ""
	for {
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
		page, next, err := n.api.List(c, parent, k.kind, client.ListOptions{PageSize: 1000, PageToken: token})
		cancel()
		if err != nil {
			return nil, err
		}
		for _, m := range page {
			out[k.kind.Name(m)] = titleOf(m, k.title)
		}
		if token = next; token == "" {
			return out, nil
		}
	}
}
