package replication

import (
	"sync"
	"time"
)

// failureLogEvery is how often the same failure is logged again (and
// linesEvery how many lines of one kind are logged in that time): a peer's
// pulls failing the same way, its manifest refused at every exchange, a
// run it sends failing to apply, a caller whose log diverges from this
// node's. A new failure is logged at once, and so is the first pull that
// works after them. A peer down for a day (or a removed member left among
// a node's peers, or a member that forked its log pulling every few
// seconds) so fills no log, and sync status tells each failure as it
// comes.
const failureLogEvery = 10 * time.Minute

// linesEvery is how many lines a repeatLog logs every failureLogEvery at
// most: a peer chooses the text of the errors it answers with, and each
// new one would be a new line.
const linesEvery = 10

// repeatLog remembers the line a kind of failure last logged, and when,
// so that the same line is logged again only every failureLogEvery, and
// at most linesEvery lines are.
type repeatLog struct {
	mu   sync.Mutex
	line string
	at   time.Time
	// lines are those logged since since.
	lines int
	since time.Time
}

// due says whether line is to be logged at now (it is not the line last
// logged, or that was failureLogEvery ago, and fewer than linesEvery were
// logged in the last failureLogEvery), and if so notes it as logged.
func (r *repeatLog) due(line string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if line == r.line && now.Sub(r.at) < failureLogEvery {
		return false
	}
	if now.Sub(r.since) >= failureLogEvery {
		r.lines, r.since = 0, now
	}
	if r.lines >= linesEvery {
		return false
	}
	r.lines++
	r.line, r.at = line, now
	return true
}

// clear forgets the line last logged, so the next one is logged at once.
func (r *repeatLog) clear() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.line = ""
}

// clear is repeatLog.clear for every key's lines.
func (r *repeatLogs) clear() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.logs {
		l.clear()
	}
}

// repeatLogs is a repeatLog per key (a caller and an origin, a kind of
// failure): each key's lines have a budget of their own, so a kind's
// first line is logged whatever others came before it.
type repeatLogs struct {
	mu   sync.Mutex
	logs map[string]*repeatLog
}

// due is repeatLog.due for key's lines.
func (r *repeatLogs) due(key, line string, now time.Time) bool {
	r.mu.Lock()
	l := r.logs[key]
	if l == nil {
		if r.logs == nil {
			r.logs = map[string]*repeatLog{}
		}
		l = &repeatLog{}
		r.logs[key] = l
	}
	r.mu.Unlock()
	return l.due(line, now)
}
