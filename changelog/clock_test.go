package changelog

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/provex/provex/internal/filter"
)

// now is c.Now's time, failing t on an error.
func now(t *testing.T, c *Clock) int64 {
	t.Helper()
	got, err := c.Now()
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestClockFollowsOthersOnlySoFarAhead: a time seen in another node's
// entry moves the clock at most MaxClockAhead past the wall clock (an entry
// dated in 2262 must not date every later write of the node then), while
// the node's own times, at start or given back, are never gone back from.
func TestClockFollowsOthersOnlySoFarAhead(t *testing.T) {
	wallNow := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	wall := func() time.Time { return wallNow }
	far := time.Date(2262, 4, 11, 0, 0, 0, 0, time.UTC).UnixNano()

	c := NewClock(0, wall)
	c.Observe(wallNow.Add(time.Minute).UnixNano())
	if got := now(t, c); got != wallNow.Add(time.Minute).UnixNano()+1 {
		t.Errorf("after a time a minute ahead: %v, want just past it", time.Unix(0, got).UTC())
	}
	c.Observe(far)
	if got, limit := now(t, c), wallNow.Add(MaxClockAhead).UnixNano(); got > limit+1 || got < limit {
		t.Errorf("after a time in 2262: %v, want %v", time.Unix(0, got).UTC(), time.Unix(0, limit).UTC())
	}

	own := NewClock(far, wall)
	if got := now(t, own); got <= far {
		t.Errorf("a clock started past its own log's time %d went back to %d", far, got)
	}
	c.Continue(far)
	if got := now(t, c); got <= far {
		t.Errorf("after its own entry given back: %d, want past %d", got, far)
	}
}

// TestClockKeepsToTheTimesNodesKeep: a wall clock outside
// filter.MinTimestamp..MaxTimestamp counts as the bound, and a clock with
// no later time to give says so instead of wrapping. A wall at the end of
// int64 nanoseconds dated a write past MaxTimestamp and the next in 1677;
// a wall past it, in 1970 (an outside review).
func TestClockKeepsToTheTimesNodesKeep(t *testing.T) {
	first, last := filter.MinTimestamp.UnixNano(), filter.MaxTimestamp.UnixNano()
	for name, wall := range map[string]time.Time{
		"int64's end":     time.Unix(0, math.MaxInt64),
		"a year after it": time.Unix(0, math.MaxInt64).AddDate(1, 0, 0),
		"the year 9999":   time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC),
		"MaxTimestamp":    filter.MaxTimestamp,
		"a second before": filter.MaxTimestamp.Add(-time.Second),
	} {
		c := NewClock(0, func() time.Time { return wall })
		var times []int64
		for {
			got, err := c.Now()
			if err != nil {
				if !errors.Is(err, ErrNoTime) {
					t.Errorf("%s: %v, want ErrNoTime", name, err)
				}
				break
			}
			if got > last || len(times) > 0 && got <= times[len(times)-1] {
				t.Fatalf("%s: %v after %v", name, time.Unix(0, got).UTC(), times)
			}
			times = append(times, got)
			if len(times) > 2 {
				// A wall a second before the end gives times up to it.
				c.Continue(last - 1)
			}
		}
		if len(times) == 0 || times[len(times)-1] != last {
			t.Errorf("%s: times %v, want them to end at MaxTimestamp", name, times)
		}
		c.Observe(math.MaxInt64)
		if _, err := c.Now(); !errors.Is(err, ErrNoTime) {
			t.Errorf("%s: a time after the end: %v", name, err)
		}
	}
	// A clock whose log holds a time past MaxTimestamp (written before
	// the bound) gives no time either, with the wall right.
	if _, err := NewClock(math.MaxInt64, time.Now).Now(); !errors.Is(err, ErrNoTime) {
		t.Errorf("a clock past MaxTimestamp: %v, want ErrNoTime", err)
	}
	c := NewClock(math.MinInt64, func() time.Time { return time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC) })
	if a, b := now(t, c), now(t, c); a != first || b != first+1 {
		t.Errorf("a wall in the year 1: %v then %v, want MinTimestamp and a nanosecond after", time.Unix(0, a).UTC(), time.Unix(0, b).UTC())
	}
}
