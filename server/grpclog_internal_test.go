package server

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

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
