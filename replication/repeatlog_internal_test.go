package replication

import (
	"fmt"
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
