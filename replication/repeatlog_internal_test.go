package replication

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestRepeatLogBudget: the same line is logged again only every
// failureLogEvery, and lines of new text, which a peer chooses, at most
// linesEvery in that time.
func TestRepeatLogBudget(t *testing.T) {
	var r repeatLog
	now := time.Unix(1_800_000_000, 0)
	if !r.due("a", now) || r.due("a", now.Add(time.Minute)) {
		t.Fatal("a line is logged at once, and not again within failureLogEvery")
	}
	logged := 1
	for i := range 3 * linesEvery {
		if r.due(fmt.Sprint("new ", i), now.Add(time.Duration(i)*time.Second)) {
			logged++
		}
	}
	if logged != linesEvery {
		t.Errorf("%d lines of new text logged within failureLogEvery, want %d", logged, linesEvery)
	}
	later := now.Add(failureLogEvery)
	if !r.due("after", later) {
		t.Error("no line logged once failureLogEvery passed")
	}
	r.clear()
	if r.due("after", later.Add(time.Second)) != true {
		t.Error("a line cleared is not logged at once")
	}
}

// TestRefusalsOfNewKindsAreLogged: a peer's refusals were logged by what
// was refused alone, all kinds in one budget: a refusal for a new reason
// (a fork after a bad signature), or of an eleventh kind, went unlogged
// for 10 minutes (an outside review). Each reason is a line, each kind
// has its budget.
func TestRefusalsOfNewKindsAreLogged(t *testing.T) {
	var logs bytes.Buffer
	e := &Engine{log: slog.New(slog.NewTextHandler(&logs, nil))}
	p := &peer{member: "tuyen-quang"}
	e.refusedFrom(context.Background(), p, "entries of lang-son", "checkpoint lang-son/5 has a bad signature")
	e.refusedFrom(context.Background(), p, "entries of lang-son", "checkpoint lang-son/5 has a bad signature")
	e.refusedFrom(context.Background(), p, "entries of lang-son", "entry lang-son/3 does not follow entry 2 as this node holds it")
	for i := range 10 {
		e.refusedFrom(context.Background(), p, fmt.Sprint("entries of origin-", i), "checkpoint has a bad signature")
	}
	e.refusedFrom(context.Background(), p, "a checkpoint of this node's own log", "checkpoint cao-bang/9 does not verify with this node's key")
	out := logs.String()
	if n := strings.Count(out, "bad signature\" refused_so_far"); n != 11 {
		t.Errorf("%d bad signatures logged, want 11 (the same one once):\n%s", n, out)
	}
	for _, want := range []string{"does not follow entry 2", "own log"} {
		if !strings.Contains(out, want) {
			t.Errorf("a refusal (%s) not logged:\n%s", want, out)
		}
	}
}
