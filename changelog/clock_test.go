package changelog

import (
	"testing"
	"time"
)

// TestClockFollowsOthersOnlySoFarAhead: a time seen in another node's
// entry moves the clock at most MaxClockAhead past the wall clock (an entry
// dated in 2262 must not date every later write of the node then), while
// the node's own times, at start or given back, are never gone back from.
func TestClockFollowsOthersOnlySoFarAhead(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	wall := func() time.Time { return now }
	far := time.Date(2262, 4, 11, 0, 0, 0, 0, time.UTC).UnixNano()

	c := NewClock(0, wall)
	c.Observe(now.Add(time.Minute).UnixNano())
	if got := c.Now(); got != now.Add(time.Minute).UnixNano()+1 {
		t.Errorf("after a time a minute ahead: %v, want just past it", time.Unix(0, got).UTC())
	}
	c.Observe(far)
	if got, limit := c.Now(), now.Add(MaxClockAhead).UnixNano(); got > limit+1 || got < limit {
		t.Errorf("after a time in 2262: %v, want %v", time.Unix(0, got).UTC(), time.Unix(0, limit).UTC())
	}

	own := NewClock(far, wall)
	if got := own.Now(); got <= far {
		t.Errorf("a clock started past its own log's time %d went back to %d", far, got)
	}
	c.Continue(far)
	if got := c.Now(); got <= far {
		t.Errorf("after its own entry given back: %d, want past %d", got, far)
	}
}
