package server_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/provex/provex/auth"
	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/resource"
)

// TestCostlyQueriesOfSeveralIdentitiesLeaveGetsAnswering is A7 tried from
// outside with real costly queries: several readers each run two summaries
// that scan every agreement with a filter of 60 terms (more at once than
// the node's query connections), and while they run another reader's
// Gets, the first call of a token the node has not seen (its check reads
// the token from the store) among them, go on being answered.
func TestCostlyQueriesOfSeveralIdentitiesLeaveGetsAnswering(t *testing.T) {
	n := startNode(t, "cao-bang")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const records = 10000
	var wg sync.WaitGroup
	var first atomic.Value
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < records; i += 32 {
				res, err := n.Client.Create(ctx, n.parent(), resource.Agreements, "", "", &twinningv1.Agreement{DisplayName: fmt.Sprintf("MoU %d", i), Kind: twinningv1.Agreement_KIND_MOU, PartnerCountries: []string{"CN", "LA", "KH"}})
				if err != nil {
					t.Error(err)
					return
				}
				first.CompareAndSwap(nil, res.(*twinningv1.Agreement).GetName())
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	var terms []string
	for i := range 60 {
		terms = append(terms, fmt.Sprintf("partner_countries:%c%c", 'A'+i/13, 'N'+i%13))
	}
	costly := &nationalv1.SummarizeRequest{Collection: "agreements", GroupBy: []string{"partner_countries", "kind", "state"},
		CountDistinct: []string{"partner_countries", "display_name"}, Filter: "NOT (" + strings.Join(terms, " OR ") + ")"}

	// More queries than the node's query connections (sqlstore's default
	// read pools: 2 × GOMAXPROCS, at least 4), two per identity, its share.
	readers := max(4, 2*runtime.GOMAXPROCS(0))
	identities := readers/2 + 1
	var queries sync.WaitGroup
	var answered atomic.Int32
	started := time.Now()
	var firstAnswer atomic.Int64 // since started, in nanoseconds
	queryErrs := make(chan error, 2*identities)
	for range identities {
		nat := nationalv1.NewNationalServiceClient(dialAs(t, n.Srv.GRPCAddr(), issue(t, n, auth.RoleViewer)).Conn())
		for range 2 {
			queries.Add(1)
			go func() {
				defer queries.Done()
				_, err := nat.Summarize(ctx, costly)
				firstAnswer.CompareAndSwap(0, int64(time.Since(started)))
				answered.Add(1)
				queryErrs <- err
			}()
		}
	}
	name := first.Load().(string)
	getter := dialAs(t, n.Srv.GRPCAddr(), issue(t, n, auth.RoleViewer))
	gets := 0
	var slowest time.Duration
	timed := func(get func() error) error {
		start := time.Now()
		err := get()
		slowest = max(slowest, time.Since(start))
		return err
	}
	for answered.Load() == 0 {
		if gets == 20 {
			// The first call of a token the node has not checked yet.
			fresh := dialAs(t, n.Srv.GRPCAddr(), issue(t, n, auth.RoleViewer))
			if err := timed(func() error { _, err := fresh.Get(ctx, name); return err }); err != nil {
				t.Fatalf("a new token's first Get while the queries ran: %v", err)
			}
		}
		if err := timed(func() error { _, err := getter.Get(ctx, name); return err }); err != nil {
			t.Fatalf("Get while the queries ran: %v", err)
		}
		if answered.Load() == 0 {
			gets++
		}
	}
	queries.Wait()
	close(queryErrs)
	for err := range queryErrs {
		if err != nil {
			t.Fatalf("costly summary: %v", err)
		}
	}
	// Queries holding every read connection would leave a Get waiting
	// for the first of them to end: a few Gets before it, the last of
	// them as slow as the rest of that query (with one pool: 11 Gets).
	// How many are answered meanwhile depends on the machine (over 1,000
	// on a quiet one, 98 under the race detector beside other tests), so
	// the slowest Get is weighed against the first query's time.
	firstQuery := time.Duration(firstAnswer.Load())
	if gets < 20 || slowest > firstQuery/2 {
		t.Fatalf("%d Gets answered before the first costly query (%v), the slowest in %v; want at least 20, none slower than half the query: Gets waited for the queries", gets, firstQuery, slowest)
	}
	t.Logf("%d Gets answered while %d costly queries ran (the first for %v), the slowest in %v", gets, 2*identities, firstQuery, slowest)
}
