package netlimit

import (
	"testing"
	"time"
)

// TestResetsBudgetRefills: a connection's budget starts at the burst,
// comes back at the rate, and never holds more than the burst.
func TestResetsBudgetRefills(t *testing.T) {
	r := NewResets("gRPC", 100, 2, nil)
	var b resetBudget
	start := time.Now()
	for i, step := range []struct {
		after time.Duration
		taken bool
	}{
		{0, true}, {0, true}, {0, false}, // a fresh connection's burst
		{10 * time.Millisecond, true}, {10 * time.Millisecond, false}, // one back after 10 ms at 100/s
		{time.Hour, true}, {time.Hour, true}, {time.Hour, false}, // an hour's quiet gives back the burst alone
	} {
		if got := r.spend(&b, start.Add(step.after)); got != step.taken {
			t.Fatalf("reset %d, %v in: taken %v, want %v", i, step.after, got, step.taken)
		}
	}
}
