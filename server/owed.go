package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/provex/provex/storage/sqlstore"
)

// owedBudget is how long one delivery of what the node owes writes before
// it leaves the rest for the next run.
const owedBudget = 30 * time.Second

// owedDeliveries delivers what the store owes (DeliverOwed: withdrawal
// notices and records owed to members a manifest gives a key), one run at
// a time, on a goroutine of its own. A manifest taken asks for a run and
// returns: the run went inside the manifest's take, under its lock, for up
// to 30 s, and every pull that carried a newer manifest waited for it (58 s
// with serials in a row, an outside review). Asked while a run goes on, it
// makes one more run after it, however many asked. The first run waits for
// the engine's first exchange with its peers (replication.Engine.Exchanged),
// so that a node started on an old copy of its data directory learns it is
// behind before it writes. A run that left records owed for want of time
// or of a log that takes entries (held until peers repair it) is run again
// after retry, without waiting for the next manifest, start or write.
type owedDeliveries struct {
	store  *sqlstore.DB
	log    *slog.Logger
	asked  chan struct{}
	retry  time.Duration
	budget time.Duration
	// beforeRun, when set, runs before each run (tests: a run held).
	beforeRun func()
}

func newOwedDeliveries(store *sqlstore.DB, log *slog.Logger, retry time.Duration) *owedDeliveries {
	d := &owedDeliveries{store: store, log: log, asked: make(chan struct{}, 1), retry: retry, budget: owedBudget}
	d.ask() // at start: a manifest may have been taken while a run failed
	return d
}

// ask asks for a run, which begins once the running one, if any, ends.
func (d *owedDeliveries) ask() {
	select {
	case d.asked <- struct{}{}:
	default: // one asked already, not begun: it delivers this one's too
	}
}

// exchangeWait bounds the wait of the first run for the first exchange:
// a node no member pulls from, and that has no peers, hears from no one.
const exchangeWait = 30 * time.Second

// run delivers until ctx ends, from the moment exchanged is closed, or
// exchangeWait has passed.
func (d *owedDeliveries) run(ctx context.Context, exchanged <-chan struct{}) {
	select {
	case <-ctx.Done():
		return
	case <-exchanged:
	case <-time.After(exchangeWait):
	}
	var (
		again  <-chan time.Time
		warned time.Time
	)
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.asked:
		case <-again:
		}
		if d.beforeRun != nil {
			d.beforeRun()
		}
		left, err := d.store.DeliverOwed(ctx, d.budget)
		// Retried every sync interval while the disk is full or the log
		// held: said once a minute, not at every run.
		if err != nil && ctx.Err() == nil && time.Since(warned) >= time.Minute {
			d.log.Warn("withdrawal notices and records owed stay owed", "err", err)
			warned = time.Now()
		}
		again = nil
		if left {
			again = time.After(d.retry)
		}
	}
}
