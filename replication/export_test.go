package replication

import (
	"testing"
	"time"
)

// SetMaxPendingBytes sets what a pull holds waiting for checkpoints for the
// rest of t; call it before starting nodes.
func SetMaxPendingBytes(t testing.TB, n int) {
	old := maxPendingBytes
	maxPendingBytes = n
	t.Cleanup(func() { maxPendingBytes = old })
}

// SetPullIdle sets how long a pull waits for a peer's next message for the
// rest of t; call it before starting nodes.
func SetPullIdle(t testing.TB, d time.Duration) {
	old := pullIdle
	pullIdle = d
	t.Cleanup(func() { pullIdle = old })
}

// SetSplitForgetAfter sets how long a peer said to hold another manifest of
// the node's serial stays named, for the rest of t.
func SetSplitForgetAfter(t testing.TB, d time.Duration) {
	old := splitForgetAfter
	splitForgetAfter = d
	t.Cleanup(func() { splitForgetAfter = old })
}

// SetIsolatedAfter sets how long every peer's pulls may fail before the
// node says it is cut off, for the rest of t.
func SetIsolatedAfter(t testing.TB, d time.Duration) {
	old := isolatedAfter
	isolatedAfter = d
	t.Cleanup(func() { isolatedAfter = old })
}

// SetRestoreOthersFor sets how long a restore's pull goes on past the
// node's own log, for the rest of t.
func SetRestoreOthersFor(t testing.TB, d time.Duration) {
	old := restoreOthersFor
	restoreOthersFor = d
	t.Cleanup(func() { restoreOthersFor = old })
}
