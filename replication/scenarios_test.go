package replication_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/internal/testlog"
	"github.com/provex/provex/server"
	"github.com/provex/provex/storage/sqlstore"
)

// TestPartitionHeals: in a line A-B-C, B goes down, A and C keep writing
// (each cut off from the other), B comes back on the same data and everyone
// converges.
func TestPartitionHeals(t *testing.T) {
	const (
		a = "cao-bang"
		b = "lang-son"
		c = "quang-ninh"
	)
	members := []string{a, b, c}
	f := newFederation(t, members, line(members))
	f.startAll()
	for _, m := range members {
		createAgreements(t, f.nodes[m], 5, "before")
	}
	f.waitConverged(t, map[string]uint64{a: 5, b: 5, c: 5}, 10*time.Second)

	f.stop(b)
	done := make(chan struct{})
	go func() { defer close(done); createAgreements(t, f.nodes[a], 20, "cut") }()
	createAgreements(t, f.nodes[c], 25, "cut")
	<-done
	// Nothing crosses the partition: A and C only have their own news.
	time.Sleep(400 * time.Millisecond) // more than a sync interval
	if got := f.nodes[a].origin(t, c).GetSeq(); got != 5 {
		t.Errorf("A holds C up to %d during the partition, want 5", got)
	}
	if got := f.nodes[c].origin(t, a).GetSeq(); got != 5 {
		t.Errorf("C holds A up to %d during the partition, want 5", got)
	}

	f.start(b)
	createAgreements(t, f.nodes[b], 3, "after") // B writes too as soon as it is back
	want := map[string]uint64{a: 25, b: 8, c: 30}
	f.waitConverged(t, want, 20*time.Second)
	for _, m := range members {
		if got := countAll(t, f.nodes[m]); got != 63 {
			t.Errorf("%s lists %d agreements, want 63", m, got)
		}
		if got := f.nodes[m].metrics(t).GetEntriesRejected(); got != 0 {
			t.Errorf("%s rejected %d entries", m, got)
		}
	}
	// Same records, not just the same count.
	ref := listAgreementNames(t, f.nodes[a], true)
	for _, m := range []string{b, c} {
		got := listAgreementNames(t, f.nodes[m], true)
		for name, ra := range ref {
			if ga, ok := got[name]; !ok || ga.GetEtag() != ra.GetEtag() {
				t.Errorf("%s: %s missing or at another version", m, name)
			}
		}
	}
}

// TestPeerDownIsLoggedOnceAndBackOnce: a peer that stays down fails every
// pull (each in sync status and the metrics), but the node's log says so
// once, not at every try; once it is back the log says pulls work again,
// and a new failure is logged at once.
func TestPeerDownIsLoggedOnceAndBackOnce(t *testing.T) {
	const a, b = "cao-bang", "lang-son"
	f := newFederation(t, []string{a, b}, map[string][]string{a: {b}})
	var logs testlog.Buffer
	f.nodes[a].logs = &logs
	na := f.start(a)
	const failed, back = `msg="pull failed" component=sync peer=lang-son`, `msg="pulls from the peer work again" component=sync peer=lang-son`
	eventually(t, 20*time.Second, func() (bool, string) {
		n := na.metrics(t).GetPullErrors()
		return n >= 6, fmt.Sprintf("%d pulls from the stopped peer failed", n)
	})
	if got := strings.Count(logs.String(), failed); got != 1 {
		t.Errorf("%d pull failures logged for 6 or more tries, want 1:\n%s", got, logs.String())
	}
	if e := na.peerState(t, b).GetLastError(); e == "" {
		t.Error("sync status shows no error of the stopped peer")
	}
	f.start(b)
	eventually(t, 20*time.Second, func() (bool, string) {
		return strings.Contains(logs.String(), back), "no log line saying pulls work again:\n" + logs.String()
	})
	f.stop(b)
	eventually(t, 20*time.Second, func() (bool, string) {
		n := strings.Count(logs.String(), failed)
		return n >= 2, fmt.Sprintf("%d pull failures logged after the peer stopped again, want a new one", n)
	})
}

// TestRestartResumesWithoutRepulling: the sync cursor is persisted, so a
// restarted node knows how far it got before it pulls anything, and then
// pulls only what is new.
func TestRestartResumesWithoutRepulling(t *testing.T) {
	const (
		a = "cao-bang"
		b = "lang-son"
		n = 40
		m = 7
	)
	f := newFederation(t, []string{a, b}, map[string][]string{a: {b}, b: {a}})
	f.startAll()
	createAgreements(t, f.nodes[a], n, "first")
	f.waitConverged(t, map[string]uint64{a: n}, 10*time.Second)
	headA := f.nodes[a].origin(t, a)
	served := func() int64 { return f.nodes[a].metrics(t).GetEntriesServed() }
	waitCount(t, "entries A served", served, n)
	waitCount(t, "entries B applied", func() int64 { return f.nodes[b].metrics(t).GetEntriesApplied() }, n)
	servedBefore := served()

	f.stop(b)
	// The cursor is in B's database: read it while B is down.
	db, err := sqlstore.Open(context.Background(), filepath.Join(f.nodes[b].dir, server.DatabaseFile), b,
		sqlstore.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	origins, err := db.Origins(context.Background())
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(origins) != 1 || origins[0].Origin != a || origins[0].Seq != n || !bytes.Equal(origins[0].Hash, headA.GetHeadHash()) {
		t.Fatalf("B's stored cursor is %+v, want %s at %d", origins, a, n)
	}

	bn := f.start(b)
	// Straight after the restart, before any pull could have brought anything.
	st := bn.state(t)
	if o := st.GetOrigins(); len(o) != 1 || o[0].GetSeq() != n || !bytes.Equal(o[0].GetHeadHash(), headA.GetHeadHash()) {
		t.Fatalf("restarted B reports %v, want %s at %d", o, a, n)
	}
	// Let B's first exchange with A happen: it must bring nothing.
	eventually(t, 5*time.Second, func() (bool, string) {
		for _, p := range bn.state(t).GetPeers() {
			if p.GetMember() == a && p.GetLastContact() != nil {
				return true, ""
			}
		}
		return false, "B has not pulled from A since its restart"
	})
	if got := f.nodes[a].metrics(t).GetEntriesServed(); got != servedBefore {
		t.Fatalf("A served %d entries to the restarted B, which had them all", got-servedBefore)
	}

	createAgreements(t, f.nodes[a], m, "second")
	f.waitConverged(t, map[string]uint64{a: n + m}, 10*time.Second)
	waitCount(t, "entries A served after B's restart (exactly the new ones)", func() int64 { return served() - servedBefore }, m)
	waitCount(t, "entries B applied after its restart", func() int64 { return bn.metrics(t).GetEntriesApplied() }, m)
	waitCount(t, "entries B received from A after its restart", func() int64 { return bn.peerState(t, a).GetEntriesReceived() }, m)
	if got := countAll(t, bn); got != n+m {
		t.Errorf("B lists %d agreements, want %d", got, n+m)
	}
}

// TestDeleteDisappearsEverywhere: a delete is a tombstone that syncs, and
// so is an undelete.
func TestDeleteDisappearsEverywhere(t *testing.T) {
	const a = "cao-bang"
	members := []string{a, "lang-son", "quang-ninh"}
	f := newFederation(t, members, line(members))
	f.startAll()
	createAgreements(t, f.nodes[a], 3, "d")
	f.waitConverged(t, map[string]uint64{a: 3}, 10*time.Second)
	name := "provinces/" + a + "/agreements/d-001"
	for _, m := range members {
		if _, code := getAgreement(t, f.nodes[m], name); code != codes.OK {
			t.Fatalf("%s: Get before delete: %v", m, code)
		}
	}

	if _, err := f.nodes[a].client.Twinning.DeleteAgreement(context.Background(), &twinningv1.DeleteAgreementRequest{Name: name}); err != nil {
		t.Fatal(err)
	}
	f.waitConverged(t, map[string]uint64{a: 4}, 10*time.Second)
	for _, m := range members {
		n := f.nodes[m]
		got, code := getAgreement(t, n, name)
		if code != codes.OK {
			t.Fatalf("%s: Get of a deleted record: %v, want it with delete_time", m, code)
		}
		if got.GetDeleteTime() == nil {
			t.Errorf("%s: %s has no delete_time after the delete synced", m, name)
		}
		if _, listed := listAgreementNames(t, n, false)[name]; listed {
			t.Errorf("%s lists the deleted %s without show_deleted", m, name)
		}
		all := listAgreementNames(t, n, true)
		if _, listed := all[name]; !listed || len(all) != 3 {
			t.Errorf("%s with show_deleted: %d records, deleted one listed: %v", m, len(all), listed)
		}
		if got := len(listAgreementNames(t, n, false)); got != 2 {
			t.Errorf("%s lists %d live agreements, want 2", m, got)
		}
	}

	if _, err := f.nodes[a].client.Twinning.UndeleteAgreement(context.Background(), &twinningv1.UndeleteAgreementRequest{Name: name}); err != nil {
		t.Fatal(err)
	}
	f.waitConverged(t, map[string]uint64{a: 5}, 10*time.Second)
	for _, m := range members {
		n := f.nodes[m]
		got, code := getAgreement(t, n, name)
		if code != codes.OK || got.GetDeleteTime() != nil {
			t.Errorf("%s: after undelete Get gives %v, delete_time %v", m, code, got.GetDeleteTime())
		}
		if _, listed := listAgreementNames(t, n, false)[name]; !listed {
			t.Errorf("%s does not list the undeleted %s", m, name)
		}
	}
}

// TestConvergenceCheck: converged, which every sync test relies on, must
// notice a node that lags and a node that holds another chain.
func TestConvergenceCheck(t *testing.T) {
	const (
		a = "cao-bang"
		b = "lang-son"
		c = "quang-ninh"
	)
	members := []string{a, b, c}
	f := newFederation(t, members, line(members))
	f.startAll()
	createAgreements(t, f.nodes[a], 5, "x")
	f.waitConverged(t, map[string]uint64{a: 5}, 10*time.Second)
	if ok, why := f.converged(t, map[string]uint64{a: 5}); !ok {
		t.Fatalf("converged federation reported as not converged: %s", why)
	}

	// C misses the last writes: it is down while they sync, then comes
	// back cut off.
	f.stop(c)
	createAgreements(t, f.nodes[a], 3, "y")
	f.waitConverged(t, map[string]uint64{a: 8}, 10*time.Second) // A and B
	f.peers[c] = nil
	f.start(c)
	ok, why := f.converged(t, map[string]uint64{a: 8})
	if ok || !strings.Contains(why, c) || !strings.Contains(why, "up to 5") {
		t.Fatalf("converged = %v, %q; want false naming %s at 5", ok, why, c)
	}
	f.stop(c)
	f.peers[c] = []string{b}
	f.start(c)
	f.waitConverged(t, map[string]uint64{a: 8}, 10*time.Second)

	// An origin that equivocates: restored from a backup, it writes other
	// entries under the numbers it had used. Both chains carry its own
	// signature, so no node can tell which is right; C holds the first, B
	// the second, and the check must say they differ.
	f.stop(c)
	f.stop(b)
	backup := filepath.Join(t.TempDir(), "backup.db")
	raw, err := sql.Open("sqlite3", "file:"+filepath.Join(f.nodes[a].dir, server.DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec("VACUUM INTO ?", backup); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	f.peers[c] = []string{a}
	f.start(c)
	createAgreements(t, f.nodes[a], 2, "first")
	eventually(t, 10*time.Second, func() (bool, string) {
		return f.nodes[c].origin(t, a).GetSeq() == 10, "C has not got A's entries 9 and 10"
	})
	forked := f.nodes[c].origin(t, a).GetHeadHash()
	f.stop(c)
	f.stop(a)
	dbFile := filepath.Join(f.nodes[a].dir, server.DatabaseFile)
	for _, suffix := range []string{"-wal", "-shm"} {
		os.Remove(dbFile + suffix)
	}
	if err := os.Rename(backup, dbFile); err != nil {
		t.Fatal(err)
	}
	f.start(a)
	createAgreements(t, f.nodes[a], 2, "second")
	f.start(b)
	eventually(t, 10*time.Second, func() (bool, string) {
		return f.nodes[b].origin(t, a).GetSeq() == 10, "B has not got A's second entries 9 and 10"
	})
	f.peers[c] = []string{b}
	f.start(c)
	ok, why = f.converged(t, map[string]uint64{a: 10})
	if ok || !strings.Contains(why, "another head hash for "+a) {
		t.Fatalf("converged = %v, %q; want false for another head hash", ok, why)
	}
	// C gets nothing more of A's log from B, and the check keeps saying so.
	createAgreements(t, f.nodes[a], 2, "w")
	eventually(t, 10*time.Second, func() (bool, string) {
		o := f.nodes[b].origin(t, a)
		return o.GetSeq() == 12, "B has not got A's new writes"
	})
	pulls := func() int64 { return f.nodes[c].state(t).GetMetrics().GetPulls() }
	p0 := pulls()
	eventually(t, 5*time.Second, func() (bool, string) {
		return pulls() >= p0+2, "C has not pulled from B since B got A's new writes"
	})
	if o := f.nodes[c].origin(t, a); o.GetSeq() != 10 || !bytes.Equal(o.GetHeadHash(), forked) {
		t.Errorf("forked C holds %s up to %d, want its own chain at 10", a, o.GetSeq())
	}
	ok, why = f.converged(t, map[string]uint64{a: 12})
	if ok || !strings.Contains(why, c+" holds "+a+" up to 10") {
		t.Fatalf("converged = %v, %q; want false naming %s at 10", ok, why, c)
	}
}

// TestForeignChainIsRepaired: C is started on a data directory holding
// another chain of A's log (made in another federation, whose A has
// another key). C's own check finds A's checkpoints do not carry A's
// signature, replaces the chain with the federation's from its peer, and
// rebuilds A's records from it: the foreign records go, A's arrive.
func TestForeignChainIsRepaired(t *testing.T) {
	const (
		a = "cao-bang"
		b = "lang-son"
		c = "quang-ninh"
	)
	members := []string{a, b, c}
	f := newFederation(t, members, line(members))
	f.start(a)
	f.start(b)
	createAgreements(t, f.nodes[a], 8, "x")
	f.waitConverged(t, map[string]uint64{a: 8}, 10*time.Second)

	other := newFederation(t, []string{a, c}, map[string][]string{c: {a}})
	other.startAll()
	createAgreements(t, other.nodes[a], 8, "z")
	other.waitConverged(t, map[string]uint64{a: 8}, 10*time.Second)
	other.stop(a)
	other.stop(c)
	// Its audit trail's head is the other C's, signed with another key,
	// which this node would refuse to sign over: without it, the node
	// signs the trail as a store of an older release's.
	editDB(t, other.nodes[c], "DELETE FROM audit_head")
	f.nodes[c].dir = other.nodes[c].dir
	n := f.start(c)
	t.Cleanup(func() { f.stop(c) })
	f.waitConverged(t, map[string]uint64{a: 8}, 15*time.Second)
	eventually(t, 10*time.Second, func() (bool, string) {
		o := n.origin(t, a)
		return len(o.GetDamaged()) == 0 && o.GetVerifiedSeq() == 8, fmt.Sprintf("C's log of A: damaged %v, verified %d", o.GetDamaged(), o.GetVerifiedSeq())
	})
	names := listAgreementNames(t, n, true)
	for name := range names {
		if strings.Contains(name, "/z") {
			t.Errorf("C still holds %s from the foreign chain", name)
		}
	}
	if len(names) != 8 {
		t.Errorf("C holds %d agreements of A, want its 8", len(names))
	}
	if got := n.metrics(t).GetEntriesRepaired(); got != 8 {
		t.Errorf("C repaired %d entries, want 8", got)
	}
}

// TestEntriesAppliedCountsEachOnce: a node catching up from two peers
// that hold the same entries counts each entry applied once, as the
// metric and sync status say, though both peers send it.
func TestEntriesAppliedCountsEachOnce(t *testing.T) {
	f := newFederation(t, []string{p1, p2, p3}, map[string][]string{p1: {p2}, p2: {p1}, p3: {p1, p2}})
	f.start(p1)
	f.start(p2)
	createAgreementsConcurrently(t, f.nodes[p1], 300, 8, "a")
	f.waitConverged(t, map[string]uint64{p1: 300}, 20*time.Second)
	n := f.start(p3)
	f.waitConverged(t, map[string]uint64{p1: 300}, 20*time.Second)
	// Each peer has been pulled from once at least: both pulls of the
	// catch-up have ended, however much each sent.
	var received int64
	eventually(t, 20*time.Second, func() (bool, string) {
		pulled := 0
		received = 0
		for _, p := range n.state(t).GetPeers() {
			if p.GetPulls() > 0 {
				pulled++
			}
			received += p.GetEntriesReceived()
		}
		return pulled == 2, fmt.Sprintf("%d peers pulled from", pulled)
	})
	t.Logf("entries received from both peers: %d", received)
	if got := n.metrics(t).GetEntriesApplied(); got != 300 {
		t.Errorf("entries applied = %d, but the node holds 300 entries of other origins (received %d)", got, received)
	}
}

// TestNodeWithoutPeersSaysSo: a node of a federation started with no peer
// (or only itself) says at start that it pulls from no one: if no other
// node lists it either, it is cut off, and nothing else on it shows that.
func TestNodeWithoutPeersSaysSo(t *testing.T) {
	const a, b = "cao-bang", "lang-son"
	f := newFederation(t, []string{a, b}, map[string][]string{a: {a}, b: {a}})
	var aLogs, bLogs testlog.Buffer
	f.nodes[a].logs, f.nodes[b].logs = &aLogs, &bLogs
	f.start(a)
	f.start(b)
	const none = `msg="no peers: this node pulls from no member`
	if !strings.Contains(aLogs.String(), none) || !strings.Contains(aLogs.String(), `msg="a node does not pull from itself`) {
		t.Errorf("%s, whose only peer is itself: no warning in its log:\n%s", a, aLogs.String())
	}
	if strings.Contains(bLogs.String(), none) {
		t.Errorf("%s, with a peer, says it has none:\n%s", b, bLogs.String())
	}
}
