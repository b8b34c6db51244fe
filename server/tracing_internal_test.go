package server

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// TestTraceErrorsAreLogLines: OpenTelemetry's errors become the node's
// JSON log lines, one a minute at most, counting the rest.
func TestTraceErrorsAreLogLines(t *testing.T) {
	var logs strings.Builder
	handle := traceErrors(slog.New(slog.NewJSONHandler(&logs, nil)))
	for range 3 {
		handle.Handle(errors.New("exporter export timeout"))
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], `"msg":"traces not exported"`) || !strings.Contains(lines[0], "exporter export timeout") {
		t.Errorf("three errors logged as %q, want one JSON line", lines)
	}
}
