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

func TestBaseClaimsEveryPortOfItsRanges(t *testing.T) {
	base, err := Base(5, 0, 1000, 2000)
	if err != nil {
		t.Fatal(err)
	}
	other, err := Base(5, 0, 1000, 2000)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []int{base, other} {
		if b < lowest || b+2005 > ephemeralStart() {
			t.Errorf("base %d: its ports are not all in [%d, %d)", b, lowest, ephemeralStart())
		}
	}
	for _, off := range []int{0, 1000, 2000} {
		for i := range 5 {
			port := base + off + i
			if o := port - other; o >= 0 && o%1000 < 5 && o <= 2004 {
				t.Errorf("port %d handed out in two bases (%d and %d)", port, base, other)
			}
			if f, ok := claim(filepath.Join(os.TempDir(), "provex-freeport"), port); ok {
				f.Close()
				t.Errorf("port %d of base %d could be claimed again", port, base)
			}
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if err != nil {
				t.Fatalf("port %d of base %d is not bindable: %v", port, base, err)
			}
			l.Close()
		}
	}
}
