package netlimit

import (
	"errors"
	"log/slog"
	"time"
)

// A Listener's Resets bound, per connection, the streams its client
// resets while the server still holds them (streams.go): a budget of
// perSecond a second, up to burst at once. A stream opened and reset at
// once costs the server the decoding of its headers, a goroutine and a
// context, yet no call the rate limit counts (no message comes): one
// connection with no token opened and reset 289,606 streams in 10 s,
// about 6 s of a core, refused, logged and counted by nothing (an outside
// review; CVE-2023-44487, "rapid reset"). A reset past the budget resets
// the connection, as a stream past the Streams caps does. Resets of
// streams the server has ended, or never opened, cost it nothing and take
// nothing; an honest client resets only the calls it cancels.
type Resets struct {
	perSecond, burst float64
	// refusals logs the connections reset past their budget, as Caps log
	// their refusals; it caps nothing.
	refusals *Caps
}

// NewResets makes a budget of perSecond resets a second, up to burst at
// once, for each connection of the listener called name.
func NewResets(name string, perSecond float64, burst int, log *slog.Logger) *Resets {
	return &Resets{perSecond: perSecond, burst: float64(burst), refusals: NewCaps(name, "stream resets", 0, 0, log)}
}

// errTooManyResets is what a server reads from a connection reset for
// resetting streams past its budget.
var errTooManyResets = errors.New("netlimit: the client reset its streams past its budget; connection reset")

// resetBudget is what a connection has left of its Resets budget, as of
// at (zero: the whole burst).
type resetBudget struct {
	left float64
	at   time.Time
}

// spend takes one reset from b at now, or reports false, taking nothing,
// when none is left.
func (r *Resets) spend(b *resetBudget, now time.Time) bool {
	if b.at.IsZero() {
		b.left = r.burst
	} else {
		b.left = min(r.burst, b.left+now.Sub(b.at).Seconds()*r.perSecond)
	}
	b.at = now
	if b.left < 1 {
		return false
	}
	b.left--
	return true
}
