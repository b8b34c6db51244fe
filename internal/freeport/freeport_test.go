package freeport

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestAddrsAreDistinctBindableAndClaimed(t *testing.T) {
	addrs, err := Addrs(20)
	if err != nil {
		t.Fatal(err)
	}
	if len(addrs) != 20 {
		t.Fatalf("got %d addresses, want 20", len(addrs))
	}
	more, err := Addrs(20)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	eph := ephemeralStart()
	for _, a := range append(addrs, more...) {
		if seen[a] {
			t.Fatalf("%s handed out twice", a)
		}
		seen[a] = true
		_, p, err := net.SplitHostPort(a)
		if err != nil {
			t.Fatal(err)
		}
		port, _ := strconv.Atoi(p)
		if port >= eph {
			t.Errorf("%s is inside the ephemeral range (from %d), where the kernel may hand it out", a, eph)
		}
		// Another process's claim is another open file description: it
		// must be refused while this process holds the port.
		if f, ok := claim(filepath.Join(os.TempDir(), "provex-freeport"), port); ok {
			f.Close()
			t.Errorf("port %d could be claimed twice", port)
		}
		l, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatalf("%s is not bindable: %v", a, err)
		}
		l.Close()
	}
}

func TestBoundPortsAreSkipped(t *testing.T) {
	addr, err := Addr()
	if err != nil {
		t.Fatal(err)
	}
	_, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	mu.Lock()
	claimed[port].Close() // forget the claim, as if another program bound the port
	delete(claimed, port)
	mu.Unlock()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if got, err := pick(port, port+1, 1); err == nil {
		t.Fatalf("pick handed out %v while %s is bound", got, addr)
	}
}
