package netlimit_test

import (
	"bytes"
	"log/slog"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/provex/provex/internal/netlimit"
)

// outOfFilesListener fails its first accepts as accept4 does when the
// process has no file descriptor left, then accepts from its listener.
type outOfFilesListener struct {
	net.Listener
	failures int
}

func (l *outOfFilesListener) Accept() (net.Conn, error) {
	if l.failures > 0 {
		l.failures--
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// TestAcceptWaitsOutOfFiles: accepts that find no file descriptor left are
// not returned to the server (net/http logged each, once a second: an
// outside review) but tried again until one succeeds, and said once in
// the log, with their count.
func TestAcceptWaitsOutOfFiles(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	l := netlimit.Limit(&outOfFilesListener{Listener: inner, failures: 6}, "test", 5, 3, slog.New(slog.NewTextHandler(&logs, nil)))
	defer l.Close()
	client, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c, err := l.Accept()
	if err != nil {
		t.Fatalf("accept with descriptors out, then back: %v", err)
	}
	defer c.Close()
	if c.RemoteAddr().String() != client.LocalAddr().String() {
		t.Errorf("accepted %v, want the client's %v", c.RemoteAddr(), client.LocalAddr())
	}
	if lines := strings.Count(logs.String(), "no file descriptor left"); lines != 1 {
		t.Errorf("%d log lines of descriptors out over 6 failed accepts, want 1:\n%s", lines, logs.String())
	}
	if !strings.Contains(logs.String(), "listener=test") || !strings.Contains(logs.String(), "too many open files") {
		t.Errorf("the line does not say which listener, or the error:\n%s", logs.String())
	}
}
