// Package freeport hands out loopback addresses for nodes that must be
// reachable at an address fixed before they start: a federation manifest
// lists every member's sync address, so tests, benchmarks and local
// federations pick the ports first and start the nodes later.
//
// Picking a port by listening on 127.0.0.1:0 and closing it again is racy:
// until the node binds it, the kernel may hand the same port to any other
// socket of any process, and with many nodes starting at once it does. So
// ports come from below the kernel's ephemeral range (which it never assigns
// by itself), and each one is claimed across processes with a lock file held
// until the process exits, so two test binaries running in parallel never
// pick the same port.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

const (
	// lowest is the first port handed out: clear of the well-known and of
	// most registered service ports.
	lowest = 20000
	// defaultEphemeral is Linux's default start of the ephemeral range,
	// used where the running kernel's cannot be read.
	defaultEphemeral = 32768
)

var (
	mu      sync.Mutex
	claimed = map[int]*os.File{} // port -> its lock file, open for the process's life
)

// Addr returns one free loopback address ("127.0.0.1:port") claimed for
// this process.
func Addr() (string, error) {
	addrs, err := Addrs(1)
	if err != nil {
		return "", err
	}
	return addrs[0], nil
}

// Addrs returns n distinct free loopback addresses claimed for this process.
func Addrs(n int) ([]string, error) {
	lo, hi := lowest, ephemeralStart()
	if hi-lo < 1000 { // a kernel with an unusually wide ephemeral range
		lo = 1024
	}
	if hi-lo < 100 { // no room below it: only the locks protect the ports
		lo, hi = lowest, defaultEphemeral
	}
	return pick(lo, hi, n)
}

// pick claims n free ports of [lo, hi), starting at a random one so that
// processes rarely contend for the same locks.
func pick(lo, hi, n int) ([]string, error) {
	mu.Lock()
	defer mu.Unlock()
	dir := filepath.Join(os.TempDir(), "provex-freeport")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, fmt.Errorf("freeport: %w", err)
	}
	span := hi - lo
	out := make([]string, 0, n)
	start := rand.IntN(span)
	for i := 0; i < span && len(out) < n; i++ {
		port := lo + (start+i)%span
		if _, ok := claimed[port]; ok {
			continue
		}
		lock, ok := claim(dir, port)
		if !ok {
			continue
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		l, err := net.Listen("tcp", addr)
		if err != nil { // bound by something that does not take our locks
			lock.Close()
			continue
		}
		l.Close()
		claimed[port] = lock
		out = append(out, addr)
	}
	if len(out) < n {
		return nil, fmt.Errorf("freeport: only %d of %d loopback ports free in [%d, %d)", len(out), n, lo, hi)
	}
	return out, nil
}

// claim takes the cross-process lock for port; ok is false when another
// process holds it.
func claim(dir string, port int) (*os.File, bool) {
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, false
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, false
	}
	return f, true
}

// ephemeralStart is the first port of the kernel's ephemeral range.
func ephemeralStart() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return defaultEphemeral
	}
	fields := strings.Fields(string(b))
	if len(fields) != 2 {
		return defaultEphemeral
	}
	p, err := strconv.Atoi(fields[0])
	if err != nil {
		return defaultEphemeral
	}
	return p
}

// Base returns a loopback port base such that, for each offset, the n ports
// base+offset ... base+offset+n-1 are free, all claimed for this process:
// for programs that lay their ports out from one base, as provex demo
// does (gRPC at base, HTTP at base+1000, sync at base+2000).
func Base(n int, offsets ...int) (int, error) {
	if len(offsets) == 0 {
		offsets = []int{0}
	}
	top := 0
	for _, o := range offsets {
		top = max(top, o+n)
	}
	lo, hi := lowest, ephemeralStart()
	if hi-lo <= top {
		return 0, fmt.Errorf("freeport: no room for %d ports spread over %d below port %d", n*len(offsets), top, hi)
	}
	mu.Lock()
	defer mu.Unlock()
	dir := filepath.Join(os.TempDir(), "provex-freeport")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return 0, fmt.Errorf("freeport: %w", err)
	}
	span := hi - lo - top
	start := rand.IntN(span)
	for i := 0; i < span; i++ {
		base := lo + (start+i)%span
		got := map[int]*os.File{}
		ok := true
		for _, o := range offsets {
			for p := base + o; ok && p < base+o+n; p++ {
				var lock *os.File
				if _, held := claimed[p]; !held {
					lock, ok = claim(dir, p)
				} else {
					ok = false
				}
				if !ok {
					break
				}
				got[p] = lock
				l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
				if ok = err == nil; ok {
					l.Close()
				}
			}
		}
		if ok {
			for p, lock := range got {
				claimed[p] = lock
			}
			return base, nil
		}
		for _, lock := range got {
			lock.Close()
		}
	}
	return 0, fmt.Errorf("freeport: no base with %d free ports at offsets %v in [%d, %d)", n, offsets, lo, hi)
}
