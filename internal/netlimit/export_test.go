package netlimit

import "time"

// SetLogEvery sets c's shortest time between two log lines of refusals.
func SetLogEvery(c *Caps, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.logEvery = d
}
