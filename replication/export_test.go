package replication

import "testing"

// SetMaxPendingBytes sets what a pull holds waiting for checkpoints for the
// rest of t; call it before starting nodes.
func SetMaxPendingBytes(t testing.TB, n int) {
	old := maxPendingBytes
	maxPendingBytes = n
	t.Cleanup(func() { maxPendingBytes = old })
}
