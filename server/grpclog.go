package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/grpclog"
)

// grpcLog is grpc-go's and grpc-gateway's logger (grpclog) for the process:
// their messages go to the log of the node made last, as JSON lines like
// its own, at most grpcLogLines a minute. Their default logger wrote
// lines of its own format to stderr, one for each value of a header
// grpc-gateway could not pass on: one request without a token, 5000
// Cookie headers that are not ASCII, wrote 620 KB of log (an outside
// review). The gateway passes on no such header now (newMux); this bounds
// whatever else of theirs a caller may set off.
var grpcLog = &grpcLogger{}

// grpcLogLines is how many lines of grpc-go's and grpc-gateway's the log
// takes in a minute; the first line after a minute that had more says
// how many were dropped.
const grpcLogLines = 10

// SetLoggerV2 is not safe to call while gRPC runs, and nodes in one process
// (tests) start concurrently: it is set once, before any of them.
func init() { grpclog.SetLoggerV2(grpcLog) }

type grpcLogger struct {
	log atomic.Pointer[slog.Logger]

	mu      sync.Mutex
	minute  time.Time // when the minute of lines counted began
	lines   int       // written in that minute
	dropped int       // not written since the last line written
}

var _ grpclog.LoggerV2 = (*grpcLogger)(nil)

// logTo makes log the one grpc-go's and grpc-gateway's lines go to.
func (g *grpcLogger) logTo(log *slog.Logger) { g.log.Store(log) }

// repeated are what grpc-go says again at each failed reconnection to
// a peer, every few seconds while it is away: the peer's loop logs that
// its pulls fail once for each new error, and sync status shows the last.
// A stranded node's log was more than a third these lines, at the bound,
// for as long as the peer was away (an outside review).
var repeated = []string{"addrConn.createTransport failed to connect"}

func (g *grpcLogger) write(level slog.Level, msg string) {
	for _, r := range repeated {
		if strings.Contains(msg, r) {
			return
		}
	}
	log := g.log.Load()
	if log == nil {
		log = slog.Default()
	}
	if !log.Enabled(context.Background(), level) {
		return
	}
	g.mu.Lock()
	if now := time.Now(); now.Sub(g.minute) >= time.Minute {
		g.minute, g.lines = now, 0
	}
	if g.lines >= grpcLogLines {
		g.dropped++
		g.mu.Unlock()
		return
	}
	g.lines++
	dropped := g.dropped
	g.dropped = 0
	g.mu.Unlock()
	attrs := []any{"component", "grpc"}
	if dropped > 0 {
		attrs = append(attrs, "dropped_before", dropped)
	}
	log.Log(context.Background(), level, msg, attrs...)
}

// Info and its kin drop the line, as grpc-go's default logger does unless
// told otherwise: they tell of connections and resolvers, many a minute,
// and would crowd its warnings and errors out of their bound.
func (g *grpcLogger) Info(...any)           {}
func (g *grpcLogger) Infoln(...any)         {}
func (g *grpcLogger) Infof(string, ...any)  {}
func (g *grpcLogger) Warning(args ...any)   { g.write(slog.LevelWarn, fmt.Sprint(args...)) }
func (g *grpcLogger) Warningln(args ...any) { g.write(slog.LevelWarn, sprintln(args)) }
func (g *grpcLogger) Warningf(format string, args ...any) {
	g.write(slog.LevelWarn, fmt.Sprintf(format, args...))
}
func (g *grpcLogger) Error(args ...any)   { g.write(slog.LevelError, fmt.Sprint(args...)) }
func (g *grpcLogger) Errorln(args ...any) { g.write(slog.LevelError, sprintln(args)) }
func (g *grpcLogger) Errorf(format string, args ...any) {
	g.write(slog.LevelError, fmt.Sprintf(format, args...))
}

// Fatal logs, past the bound, and exits, as grpclog's contract says.
func (g *grpcLogger) Fatal(args ...any)                 { g.fatal(fmt.Sprint(args...)) }
func (g *grpcLogger) Fatalln(args ...any)               { g.fatal(sprintln(args)) }
func (g *grpcLogger) Fatalf(format string, args ...any) { g.fatal(fmt.Sprintf(format, args...)) }

func (g *grpcLogger) fatal(msg string) {
	log := g.log.Load()
	if log == nil {
		log = slog.Default()
	}
	log.Error(msg, "component", "grpc")
	os.Exit(1)
}

// V is whether verbosity l is logged: only 0, grpc-go's default; its
// verbose messages are for debugging gRPC itself.
func (g *grpcLogger) V(l int) bool { return l <= 0 }

// sprintln is fmt.Sprintln without the newline, which a log line has of
// its own.
func sprintln(args []any) string {
	s := fmt.Sprintln(args...)
	return s[:len(s)-1]
}
