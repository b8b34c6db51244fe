// Command jetstream is the catch-up bench's comparison with a generic log
// shipper: NATS JetStream, embedded in-process with a file store, replayed
// into SQLite. It lives in a module of its own so that the node's go.mod
// never carries nats; `go run ./bench catchup` builds it and runs it as a
// subprocess, one step per invocation, each printing JSON on stdout:
//
//	load   -origin DB -dir D           copy the origin's change log into a JetStream stream (untimed)
//	replay -dir D -into minimal -db F  replay the stream into the minimal table
//	replay -dir D -into provex -db F -member M -keys K
//	                                   replay the stream through the store's own ApplyRemote
//	plain  -dir D -db F                the same rows as the minimal replay, inserted directly
//	sizes  DB...                       bytes by table and index (SQLite's dbstat)
//
// It is built with the sqlite_dbstat tag (the node's build has no dbstat
// virtual table), which is why the sizes step is here too.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
)

var ctx = context.Background()

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: jetstream load|replay|plain|sizes [flags]")
		os.Exit(2)
	}
	var (
		out any
		err error
	)
	switch os.Args[1] {
	case "load":
		out, err = runLoad(os.Args[2:])
	case "replay":
		out, err = runReplay(os.Args[2:])
	case "plain":
		out, err = runPlain(os.Args[2:])
	case "sizes":
		out, err = runSizes(os.Args[2:])
	default:
		err = fmt.Errorf("unknown step %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "jetstream:", err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "jetstream:", err)
		os.Exit(1)
	}
}

// Timing is what a timed step reports.
type Timing struct {
	Entries int     `json:"entries"`
	Seconds float64 `json:"seconds"`
}
