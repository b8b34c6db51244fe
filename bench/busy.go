package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// startBusy starts n CPU-bound processes beside a run (this binary
// re-executed as `bench spin`), so that a measurement can say what it gets
// when the machine's cores are not all its own. Each spinner ends when the
// returned func is called or when this process dies (its stdin closes).
func startBusy(n int) (stop func(), err error) {
	if n <= 0 {
		return func() {}, nil
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	var cmds []*exec.Cmd
	var pipes []io.Closer
	stop = func() {
		for i, c := range cmds {
			pipes[i].Close()
			c.Process.Kill()
			c.Wait()
		}
	}
	var pids []string
	for range n {
		c := exec.Command(self, "spin")
		in, err := c.StdinPipe()
		if err != nil {
			stop()
			return nil, err
		}
		if err := c.Start(); err != nil {
			stop()
			return nil, err
		}
		cmds, pipes = append(cmds, c), append(pipes, in)
		pids = append(pids, fmt.Sprint(c.Process.Pid))
	}
	fmt.Printf("busy: %d CPU-bound process(es) spinning beside the whole run (pid %s)\n\n", n, strings.Join(pids, ", "))
	return stop, nil
}

// runSpin burns one core until its stdin closes.
func runSpin() error {
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	for x := uint64(1); ; x = x*6364136223846793005 + 1442695040888963407 {
		if x == 0 {
			runtime.Gosched()
		}
	}
}

// loadAvg is the first three fields of /proc/loadavg, or "unknown".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
