package replication

import (
	"testing"
	"time"
)

// TestStaleAfterADayOfSilence checks the rule behind
// ProvinceFreshness.stale: the latest of a province's last change and the
// last contact with its node counts, and only past StaleAfter.
func TestStaleAfterADayOfSilence(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	for _, tc := range []struct {
		name            string
		change, contact time.Time
		want            bool
	}{
		{"changed an hour ago, never contacted", ago(time.Hour), time.Time{}, false},
		{"changed two days ago, never contacted", ago(48 * time.Hour), time.Time{}, true},
		{"changed two days ago, contacted a minute ago", ago(48 * time.Hour), ago(time.Minute), false},
		{"changed a week ago, contacted 25 hours ago", ago(7 * 24 * time.Hour), ago(25 * time.Hour), true},
		{"exactly StaleAfter", ago(StaleAfter), time.Time{}, false},
		{"just past StaleAfter", ago(StaleAfter + time.Second), ago(StaleAfter + time.Second), true},
	} {
		if got := stale(now, tc.change, tc.contact); got != tc.want {
			t.Errorf("%s: stale %v, want %v", tc.name, got, tc.want)
		}
	}
}
