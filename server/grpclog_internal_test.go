package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/provex/provex/internal/testlog"
)

// TestGRPCLogIsBounded: grpc-go's and grpc-gateway's lines reach the log
// as JSON, at most grpcLogLines a minute, and the first line of the next
// minute says how many were dropped.
func TestGRPCLogIsBounded(t *testing.T) {
	var logs testlog.Buffer
	g := &grpcLogger{}
	g.logTo(slog.New(slog.NewJSONHandler(&logs, nil)))
	for range 1000 {
		g.Errorf("Value of HTTP header %q contains non-ASCII value: skipping", "grpcgateway-Cookie")
		g.Info("dropped, as grpc-go's default logger drops it")
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != grpcLogLines {
		t.Fatalf("1000 errors logged as %d lines, want %d", len(lines), grpcLogLines)
	}
	g.minute = g.minute.Add(-time.Minute) // the next minute
	g.Warningln("after", "a minute")
	lines = strings.Split(strings.TrimSpace(logs.String()), "\n")
	var last map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatalf("the line after a minute is not JSON: %v", err)
	}
	if last["msg"] != "after a minute" || last["level"] != "WARN" || last["component"] != "grpc" || last["dropped_before"] != float64(1000-grpcLogLines) {
		t.Errorf("the line after a minute: %v, want its message and the %d lines dropped", last, 1000-grpcLogLines)
	}
}

// TestGRPCReconnectionFailuresAreNotLogged: grpc-go's warning at each
// failed connection to a peer repeated what the node's own "pull failed"
// line says, up to the bound for as long as the peer was away (an outside
// review). A real gRPC client dials an address where nothing listens.
func TestGRPCReconnectionFailuresAreNotLogged(t *testing.T) {
	var logs testlog.Buffer
	old := grpcLog.log.Load()
	grpcLog.logTo(slog.New(slog.NewJSONHandler(&logs, nil)))
	t.Cleanup(func() { grpcLog.log.Store(old) })
	grpcLog.mu.Lock()
	grpcLog.minute, grpcLog.lines = time.Time{}, 0 // the bound drops nothing here
	grpcLog.mu.Unlock()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn.Connect()
	for state := conn.GetState(); state != connectivity.TransientFailure; state = conn.GetState() {
		if !conn.WaitForStateChange(ctx, state) {
			t.Fatalf("the connection to %s stayed %v", addr, state)
		}
	}
	if strings.Contains(logs.String(), "createTransport") {
		t.Errorf("grpc-go's failed connection was logged:\n%s", logs.String())
	}
}
