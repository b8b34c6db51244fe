package server

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/provex/provex/federation"
	"github.com/provex/provex/storage/sqlstore"
)

// TestManifestTakeDoesNotWaitForADelivery: while a delivery of what the
// node owes is held (its run blocked on purpose), newer manifests are
// taken at once, as a pull carrying one takes it; the runs they ask for
// make one more run once the held one ends, not one each (an outside
// review: the delivery ran inside the take, under the manifest's lock,
// and every pull carrying a newer manifest waited up to 30 s for it).
func TestManifestTakeDoesNotWaitForADelivery(t *testing.T) {
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "provex.db"), "cao-bang", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m, _, fedKey, err := federation.DevFederationKey([]string{"cao-bang", "mofa"}, []string{"localhost:1", "localhost:2"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Sign(fedKey); err != nil {
		t.Fatal(err)
	}
	live := federation.NewLive(m, nil)
	owed := newOwedDeliveries(db, slog.New(slog.DiscardHandler), time.Hour)
	live.OnChange(func(*federation.Manifest) { owed.ask() })
	var runs atomic.Int32
	began, release := make(chan struct{}), make(chan struct{})
	runCtx, stop := context.WithCancel(ctx)
	owed.beforeRun = func() {
		if runs.Add(1) == 2 {
			close(began)
			select {
			case <-release:
			case <-runCtx.Done():
			}
		}
	}
	done := make(chan struct{})
	exchanged := make(chan struct{})
	go func() { owed.run(runCtx, exchanged); close(done) }()
	defer func() { stop(); <-done }()
	offer := func(serial int) {
		t.Helper()
		next := *m
		next.Serial = serial
		if err := next.Sign(fedKey); err != nil {
			t.Fatal(err)
		}
		if err := live.Offer(&next); err != nil {
			t.Error(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	waitFor := func(cond func() bool, what string) {
		t.Helper()
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s (%d runs, serial %d in effect)", what, runs.Load(), live.Load().Serial)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	close(exchanged)
	waitFor(func() bool { return runs.Load() == 1 }, "no run of what the start found owed")
	offer(2)
	<-began // serial 2's run, held
	// Taken means Offer returned: the manifest is in effect before its
	// listeners run.
	var taken atomic.Bool
	go func() { offer(3); offer(4); taken.Store(true) }()
	waitFor(taken.Load, "serials 3 and 4 not taken while a delivery is held")
	close(release)
	waitFor(func() bool { return runs.Load() == 3 }, "no run for serials 3 and 4 after the held one")
	offer(5)
	waitFor(func() bool { return runs.Load() == 4 }, "no run for serial 5")
	if got := runs.Load(); got != 4 {
		t.Errorf("%d runs, want 4: serials 3 and 4 asked for one", got)
	}
}
