package main

import (
	"errors"
	"net"
	"os"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestVmRSS(t *testing.T) {
	status := []byte("Name:\tprovex\nVmPeak:\t  900000 kB\nVmHWM:\t   51200 kB\nVmRSS:\t   45312 kB\nThreads:\t12\n")
	if got, err := vmRSS(status); err != nil || got != 45312<<10 {
		t.Errorf("vmRSS = %d, %v; want %d", got, err, 45312<<10)
	}
	// bench memory reads the peak from the same text.
	if got, err := procStatusBytes(status, "VmHWM"); err != nil || got != 51200<<10 {
		t.Errorf("VmHWM = %d, %v; want %d", got, err, 51200<<10)
	}
	for _, bad := range []string{"Name:\tprovex\n", "VmRSS:\t 12 MB\n", "VmRSS:\t lots kB\n"} {
		if got, err := vmRSS([]byte(bad)); err == nil {
			t.Errorf("vmRSS(%q) = %d, want an error", bad, got)
		}
	}
	// This process's own status parses, with a plausible size.
	own, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc:", err)
	}
	if got, err := vmRSS(own); err != nil || got < 1<<20 {
		t.Errorf("vmRSS of this process = %d, %v", got, err)
	}
}

func TestCountFDs(t *testing.T) {
	before, err := countFDs(os.Getpid())
	if err != nil {
		t.Skip("no /proc:", err)
	}
	f, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if after, err := countFDs(os.Getpid()); err != nil || after != before+1 {
		t.Errorf("open files %d, then %d after opening one more (%v)", before, after, err)
	}
}

func TestClassifyGRPC(t *testing.T) {
	invalid := status.Error(codes.InvalidArgument, "bad")
	unavailable := status.Error(codes.Unavailable, "down")
	cases := []struct {
		err        error
		want       []codes.Code
		restarting bool
		outcome    string
		expected   bool
	}{
		{nil, wantOK, false, "OK", true},
		{nil, []codes.Code{codes.InvalidArgument}, false, "OK", false}, // bad input accepted
		{invalid, []codes.Code{codes.InvalidArgument}, false, "INVALID_ARGUMENT", true},
		{status.Error(codes.Internal, "boom"), []codes.Code{codes.InvalidArgument}, false, "INTERNAL", false},
		{unavailable, wantOK, true, "UNAVAILABLE (restart)", true},
		{unavailable, wantOK, false, "UNAVAILABLE", false},
		{status.Error(codes.DeadlineExceeded, "slow"), wantOK, true, "DEADLINE_EXCEEDED (restart)", true},
		{errors.New("not a status"), wantOK, true, "UNKNOWN", false},
	}
	for _, c := range cases {
		outcome, expected := classifyGRPC(c.err, c.want, c.restarting)
		if outcome != c.outcome || expected != c.expected {
			t.Errorf("classifyGRPC(%v, %v, %v) = %q, %v; want %q, %v", c.err, c.want, c.restarting, outcome, expected, c.outcome, c.expected)
		}
	}
	if o, ok := classifyHTTP(429, nil, []int{413}, false); o != "HTTP 429" || ok {
		t.Errorf("classifyHTTP(429) = %q, %v; want unexpected", o, ok)
	}
	if _, ok := classifyHTTP(0, errors.New("refused"), []int{413}, true); !ok {
		t.Error("a refused connection during a restart is unexpected")
	}
}

func TestFlatFigures(t *testing.T) {
	start := soakSample{rss: 40 << 20, fds: 30, goroutines: 50}
	if ok, why := flatFigures(start, soakSample{rss: 60 << 20, fds: 35, goroutines: 70}, 0.5); !ok {
		t.Errorf("modest growth judged not flat: %s", why)
	}
	if ok, _ := flatFigures(start, soakSample{rss: 200 << 20, fds: 30, goroutines: 50}, 0.5); ok {
		t.Error("RSS growing fivefold judged flat")
	}
	if ok, _ := flatFigures(start, soakSample{rss: 40 << 20, fds: 300, goroutines: 50}, 0.5); ok {
		t.Error("open files growing tenfold judged flat")
	}
	if ok, _ := flatFigures(start, soakSample{rss: 40 << 20, fds: 30, goroutines: 500}, 0.5); ok {
		t.Error("goroutines growing tenfold judged flat")
	}
}

// TestGarbageOutcome: a server that closes after garbage is "closed by the
// node"; a port nobody listens on is "refused".
func TestGarbageOutcome(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Read(make([]byte, 16))
			c.Close()
		}
	}()
	if got, msg := garbageOutcome(addr, 64); got != "closed by the node" {
		t.Errorf("garbage to a closing server: %q (%s)", got, msg)
	}
	l.Close()
	if got, _ := garbageOutcome(addr, 64); got != "refused" {
		t.Errorf("garbage to a closed port: %q, want refused", got)
	}
}
