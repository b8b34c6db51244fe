package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
)

// TestRingFederationConvergesAsPeersComeAndGo: five nodes in a ring, each
// pulling only from its two neighbours, as separate processes over mutual
// TLS (the README's promise is that delivery does not depend on who peers
// with whom; the tests before drew only lines). Provinces write public,
// national and restricted records at once, so each entry reaches most
// nodes from both sides; then a node is killed (the ring is a line) while
// its neighbours write, their records going the long way round; then two
// nodes that are not neighbours stop (the ring is two arcs) while both
// arcs write. After each, every node reads exactly what it may, the
// convergence check agrees, and once writes stop the ring goes quiet: no
// announcement goes round for good. The stopped directories verify.
func TestRingFederationConvergesAsPeersComeAndGo(t *testing.T) {
	members := []string{"cao-bang", "lang-son", "nghe-an", "lao-cai", "mofa"}
	n := len(members)
	f := newFederation(t, members, func(i int) []string { return []string{members[(i+n-1)%n], members[(i+1)%n]} })
	provinces := members[:n-1]

	var (
		mu      sync.Mutex
		written []*twinningv1.Agreement
	)
	// round has each origin write, at once, three public records, one
	// national and one restricted to the next province of the ring.
	round := func(tag string, origins ...string) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make(chan error, 5*len(origins))
		for _, origin := range origins {
			next := provinces[0]
			for i, p := range provinces {
				if p == origin && i+1 < len(provinces) {
					next = provinces[i+1]
				}
			}
			kinds := []struct {
				id string
				v  typev1.Visibility
				to []string
			}{
				{"pub-" + tag + "-0", typev1.Visibility_VISIBILITY_PUBLIC, nil},
				{"pub-" + tag + "-1", typev1.Visibility_VISIBILITY_PUBLIC, nil},
				{"pub-" + tag + "-2", typev1.Visibility_VISIBILITY_PUBLIC, nil},
				{"nat-" + tag, typev1.Visibility_VISIBILITY_NATIONAL, nil},
				{"res-" + tag, typev1.Visibility_VISIBILITY_RESTRICTED, []string{next}},
			}
			for _, k := range kinds {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					a, err := f.clients[origin].Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: "provinces/" + origin, AgreementId: k.id,
						Agreement: &twinningv1.Agreement{DisplayName: origin + " " + k.id, Kind: twinningv1.Agreement_KIND_MOU, Visibility: k.v, VisibleTo: k.to}})
					if err != nil {
						errs <- fmt.Errorf("%s creates %s: %w", origin, k.id, err)
						return
					}
					mu.Lock()
					written = append(written, a)
					mu.Unlock()
				}()
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	readable := func(member string, a *twinningv1.Agreement) bool {
		owner := strings.Split(a.GetName(), "/")[1]
		switch a.GetVisibility() {
		case typev1.Visibility_VISIBILITY_PUBLIC:
			return true
		case typev1.Visibility_VISIBILITY_RESTRICTED:
			return member == owner || member == "mofa" || member == a.GetVisibleTo()[0]
		default:
			return member == owner || member == "mofa"
		}
	}
	// reads says whether the running members read exactly what they may
	// of the records written, and if not the first that differs.
	reads := func(running ...string) (bool, string) {
		t.Helper()
		mu.Lock()
		records := append([]*twinningv1.Agreement(nil), written...)
		mu.Unlock()
		for _, m := range running {
			for _, a := range records {
				got, code := f.get(t, m, a.GetName())
				switch {
				case readable(m, a) && (code != codes.OK || !proto.Equal(got, a)):
					return false, fmt.Sprintf("%s reads %s: %v", m, a.GetName(), code)
				case !readable(m, a) && code != codes.NotFound:
					return false, fmt.Sprintf("%s, which may not, reads %s: %v", m, a.GetName(), code)
				}
			}
		}
		return true, ""
	}
	converged := func(when string) {
		t.Helper()
		waitFor(t, 60*time.Second, func() (bool, string) { return reads(members...) })
		f.waitConverged(t, 30*time.Second, when)
	}

	round("a", provinces...)
	converged("the whole ring")

	// lang-son killed: the ring is a line, and what its neighbours write
	// goes the long way round (cao-bang - mofa - lao-cai - nghe-an).
	f.procs["lang-son"].stop(t, syscall.SIGKILL)
	round("b", "cao-bang", "nghe-an")
	waitFor(t, 60*time.Second, func() (bool, string) { return reads("cao-bang", "nghe-an", "lao-cai", "mofa") })
	f.restart(t, "lang-son")
	converged("lang-son back after a kill")

	// Two nodes that are not neighbours stop: the ring is two arcs,
	// nghe-an alone and mofa - cao-bang, and both write.
	f.procs["lang-son"].stop(t, syscall.SIGTERM)
	f.procs["lao-cai"].stop(t, syscall.SIGTERM)
	round("c", "cao-bang", "nghe-an")
	mofaHolds := "provinces/cao-bang/agreements/nat-c"
	waitFor(t, 30*time.Second, func() (bool, string) {
		_, code := f.get(t, "mofa", mofaHolds)
		return code == codes.OK, "mofa does not read " + mofaHolds + " across its arc"
	})
	if _, code := f.get(t, "nghe-an", "provinces/cao-bang/agreements/pub-c-0"); code != codes.NotFound {
		t.Errorf("nghe-an, cut off from cao-bang, reads its new record: %v", code)
	}
	f.restart(t, "lao-cai")
	f.restart(t, "lang-son")
	converged("the arcs joined again")

	// Once writes stop the ring goes quiet: each node answers its two
	// neighbours' periodic pulls (every 500 ms), no more, and applies
	// nothing. An announcement that went round the ring for good would
	// show in both.
	before := map[string][2]float64{}
	for _, m := range members {
		before[m] = syncCalls(t, f, m)
	}
	time.Sleep(5 * time.Second)
	for _, m := range members {
		now := syncCalls(t, f, m)
		calls, applied := now[0]-before[m][0], now[1]-before[m][1]
		t.Logf("%s, idle for 5 s: %v sync calls answered, %v entries applied", m, calls, applied)
		if calls == 0 || calls > 100 || applied != 0 {
			t.Errorf("%s, with nothing written for 5 s: %v sync calls answered and %v entries applied, want its neighbours' pulls (at most 100) and none", m, calls, applied)
		}
	}

	for _, m := range members {
		f.procs[m].stop(t, syscall.SIGTERM)
		out, stderr, code := runCLI(t, f.bin, "", "", "verify", "--data", filepath.Join(f.dir, m), "--manifest", f.manifest)
		if code != 0 || strings.Contains(out, "PROBLEM") {
			t.Errorf("provex verify of %s: exit %d\n%s%s", m, code, out, stderr)
		}
	}
}

// syncCalls reads a member's metrics: the sync calls it has answered
// (Pull and Announce, peers' calls of its peer endpoint) and the entries of
// other origins it has applied.
func syncCalls(t *testing.T, f *lineFederation, member string) [2]float64 {
	t.Helper()
	var addr string
	for i, a := range f.args[member] {
		if a == "--metrics-addr" {
			addr = f.args[member][i+1]
		}
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got [2]float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		name, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(name, "grpc_server_handled_total{") && strings.Contains(name, `grpc_service="provex.sync.v1.SyncService"`) &&
			(strings.Contains(name, `grpc_method="Pull"`) || strings.Contains(name, `grpc_method="Announce"`)):
			got[0] += v
		case name == "provex_sync_entries_applied_total":
			got[1] += v
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}
