package replication_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/changelog"
	auditv1 "github.com/provex/provex/gen/go/provex/audit/v1"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/server"
	"github.com/provex/provex/storage/sqlstore"
)

// editDB runs statements on a stopped node's database file, as someone
// with the disk could.
func editDB(t *testing.T, n *testNode, stmts ...string) {
	t.Helper()
	raw, err := sql.Open("sqlite3", "file:"+filepath.Join(n.dir, server.DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, s := range stmts {
		if _, err := raw.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// flipByte changes one byte in the middle of entry origin/seq's data on a
// stopped node's disk.
func flipByte(t *testing.T, n *testNode, origin string, seq int) {
	t.Helper()
	raw, err := sql.Open("sqlite3", "file:"+filepath.Join(n.dir, server.DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var data []byte
	if err := raw.QueryRow("SELECT data FROM changes WHERE origin = ? AND seq = ?", origin, seq).Scan(&data); err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x01
	if _, err := raw.Exec("UPDATE changes SET data = ? WHERE origin = ? AND seq = ?", data, origin, seq); err != nil {
		t.Fatal(err)
	}
}

// healthz is what the node's /healthz says.
func healthz(t *testing.T, n *testNode) string {
	t.Helper()
	resp, err := http.Get("http://" + n.node.HTTPAddr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%d %s", resp.StatusCode, body)
}

// TestCorruptEntryIsNeverServedAndIsRepaired: in a line O - N - M, one byte
// of an entry of O's log changes on N's disk. N never serves it: M, which
// can reach O's log only through N, gets the intact prefix; N finds the
// damage when it serves it, says so in health and sync status, fetches the
// entry again from O, and then M gets the rest. The repair is audited
// (under the request id of the pull) and the audit trail verifies.
func TestCorruptEntryIsNeverServedAndIsRepaired(t *testing.T) {
	const o, n, m = p1, p2, p3
	f := newFederation(t, []string{o, n, m}, line([]string{o, n, m}))
	f.start(o)
	f.start(n)
	createAgreements(t, f.nodes[o], 20, "a")
	f.waitConverged(t, map[string]uint64{o: 20}, 10*time.Second)
	f.stop(n)
	flipByte(t, f.nodes[n], o, 7)

	// O is away: N cannot repair yet.
	f.stop(o)
	nn := f.start(n)
	mm := f.start(m)
	eventually(t, 10*time.Second, func() (bool, string) {
		d := nn.origin(t, o).GetDamaged()
		return len(d) == 1 && d[0].GetRange().GetFirst() == 7 && d[0].GetRange().GetLast() == 7,
			fmt.Sprintf("N's damage of %s: %v", o, d)
	})
	if h := healthz(t, nn); !strings.HasPrefix(h, "200 degraded") || !strings.Contains(h, o+"/7") {
		t.Errorf("N's health: %q, want degraded naming %s/7", h, o)
	}
	// M holds at most the intact prefix, and nothing it holds is wrong.
	time.Sleep(time.Second)
	if got := mm.origin(t, o).GetSeq(); got >= 7 {
		t.Errorf("M holds %s up to %d, past N's damaged entry 7", o, got)
	}
	if got := mm.metrics(t).GetRunsRefused(); got != 0 {
		t.Errorf("M refused %d runs: N served what does not verify", got)
	}

	f.start(o)
	f.waitConverged(t, map[string]uint64{o: 20}, 15*time.Second)
	eventually(t, 10*time.Second, func() (bool, string) {
		st := nn.origin(t, o)
		return len(st.GetDamaged()) == 0 && st.GetVerifiedSeq() == 20, fmt.Sprintf("N's log of %s: damaged %v verified %d", o, st.GetDamaged(), st.GetVerifiedSeq())
	})
	if h := healthz(t, nn); h != "200 ok\n" {
		t.Errorf("N's health after the repair: %q", h)
	}
	if got := nn.metrics(t).GetEntriesRepaired(); got != 1 {
		t.Errorf("N repaired %d entries, want 1", got)
	}
	ctx := context.Background()
	repairs, err := nn.node.Store().AuditRecords(ctx, 0, 100, "peer:"+o, "")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range repairs {
		// Under the id of the pull that brought the copy, as a pulled run.
		found = found || (r.Action == "sync.repair" && r.FirstSeq == 7 && r.LastSeq == 7 && r.RequestID != "")
	}
	if !found {
		t.Errorf("no audit record of the repair by peer:%s with a request id: %+v", o, repairs)
	}
	if _, _, problems, err := nn.node.Store().VerifyAudit(ctx); err != nil || len(problems) != 0 {
		t.Errorf("N's audit trail after the repair: %v %v", problems, err)
	}
}

// TestDeletedEntriesFoundByScrubAndRepaired: rows of another origin's log
// are deleted from N's file below what N had verified, so only a full
// check finds them: the background scrub does, N stops serving past them,
// and restores them from a peer.
func TestDeletedEntriesFoundByScrubAndRepaired(t *testing.T) {
	const o, n = p1, p2
	f := newFederation(t, []string{o, n, p3}, map[string][]string{n: {o}, p3: {n}})
	f.logCheck, f.logScrub = 200*time.Millisecond, 400*time.Millisecond
	f.start(o)
	nn := f.start(n)
	createAgreements(t, f.nodes[o], 15, "a")
	f.waitConverged(t, map[string]uint64{o: 15}, 10*time.Second)
	eventually(t, 10*time.Second, func() (bool, string) {
		return nn.origin(t, o).GetVerifiedSeq() == 15, "N has not verified O's log"
	})
	f.stop(n)
	f.stop(o)
	editDB(t, f.nodes[n], fmt.Sprintf("DELETE FROM changes WHERE origin = '%s' AND seq BETWEEN 10 AND 12", o))
	nn = f.start(n)
	eventually(t, 10*time.Second, func() (bool, string) {
		d := nn.origin(t, o).GetDamaged()
		return len(d) == 1 && d[0].GetRange().GetFirst() == 10 && d[0].GetRange().GetLast() == 12, fmt.Sprintf("N's damage: %v", d)
	})
	p3n := f.start(p3)
	time.Sleep(time.Second)
	if got := p3n.origin(t, o).GetSeq(); got >= 10 {
		t.Errorf("p3 got %s up to %d from N, past the missing entries", o, got)
	}
	f.start(o)
	f.waitConverged(t, map[string]uint64{o: 15}, 15*time.Second)
	eventually(t, 10*time.Second, func() (bool, string) {
		return len(nn.origin(t, o).GetDamaged()) == 0, "N's damage is not repaired"
	})
}

// TestOwnEntryDeletedOnARunningNodeIsRepaired: an entry of a node's own
// log, the last one a peer holds, is deleted from its file while it runs,
// after the node wrote the next (before a check read the log). The peer
// asks for what follows the deleted entry: the node finds its own log
// lacks it, records the damage, and takes it back from the peer, which
// then gets the newer entry (an outside review: the node told the peer its
// log diverged, and the peer stayed behind for good). A write after the
// node's newest entry was deleted is refused (its checks then find the
// entry missing, as storage/sqlstore's TestOwnHeadDeletedWhileRunning
// shows).
func TestOwnEntryDeletedOnARunningNodeIsRepaired(t *testing.T) {
	const o, n = p1, p2
	f := newFederation(t, []string{o, n}, mesh([]string{o, n}))
	f.logCheck, f.logScrub = time.Hour, time.Hour
	on := f.start(o)
	f.start(n)
	createAgreements(t, on, 5, "a")
	f.waitConverged(t, map[string]uint64{o: 5}, 10*time.Second)
	f.stop(n)
	createAgreements(t, on, 1, "after")
	editDB(t, on, fmt.Sprintf("DELETE FROM changes WHERE origin = '%s' AND seq = 5", o))
	f.start(n)
	eventually(t, 10*time.Second, func() (bool, string) {
		return len(on.origin(t, o).GetDamaged()) > 0, fmt.Sprintf("the node's own log: %v", on.origin(t, o))
	})
	f.waitConverged(t, map[string]uint64{o: 6}, 15*time.Second)
	eventually(t, 10*time.Second, func() (bool, string) {
		st := on.origin(t, o)
		return len(st.GetDamaged()) == 0, fmt.Sprintf("the node's own log is not repaired: %v", st)
	})

	editDB(t, on, fmt.Sprintf("DELETE FROM changes WHERE origin = '%s' AND seq = 6", o))
	_, err := on.client.Twinning.CreateAgreement(context.Background(), &twinningv1.CreateAgreementRequest{
		Parent: "provinces/" + o, AgreementId: "past-a-hole", Agreement: &twinningv1.Agreement{DisplayName: "x", Kind: twinningv1.Agreement_KIND_MOU}})
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "is missing") {
		t.Fatalf("a write after the node's newest entry was deleted: %v, want UNAVAILABLE", err)
	}
}

// TestOwnNewestEntriesLostAreRestoredNotForked: a node's own newest entries
// are deleted from its file. It notices at start-up (its checkpoints and
// audit trail name them), refuses to write until a peer gives them back,
// and then continues its log where it was, without a fork.
func TestOwnNewestEntriesLostAreRestoredNotForked(t *testing.T) {
	const o, n = p1, p2
	f := newFederation(t, []string{o, n}, mesh([]string{o, n}))
	f.startAll()
	createAgreements(t, f.nodes[o], 10, "a")
	f.waitConverged(t, map[string]uint64{o: 10}, 10*time.Second)
	f.stop(o)
	f.stop(n)
	editDB(t, f.nodes[o], fmt.Sprintf("DELETE FROM changes WHERE origin = '%s' AND seq > 8", o))

	on := f.start(o)
	_, err := on.client.Twinning.CreateAgreement(context.Background(), &twinningv1.CreateAgreementRequest{
		Parent: "provinces/" + o, AgreementId: "too-soon", Agreement: &twinningv1.Agreement{DisplayName: "x", Kind: twinningv1.Agreement_KIND_MOU}})
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "repaired") {
		t.Fatalf("a write while the node's own newest entries are missing: %v, want UNAVAILABLE", err)
	}
	if h := healthz(t, on); !strings.Contains(h, "degraded") {
		t.Errorf("health while the own log is incomplete: %q", h)
	}
	f.start(n)
	eventually(t, 10*time.Second, func() (bool, string) {
		st := on.origin(t, o)
		return st.GetSeq() == 10 && len(st.GetDamaged()) == 0, fmt.Sprintf("own log: seq %d damaged %v", st.GetSeq(), st.GetDamaged())
	})
	createAgreements(t, on, 2, "after")
	f.waitConverged(t, map[string]uint64{o: 12}, 10*time.Second)
	if got := f.nodes[n].metrics(t).GetRunsRefused(); got != 0 {
		t.Errorf("the peer refused %d runs: the node forked its log", got)
	}
}

// TestOwnEntriesGivenBackBringTheirRecords: a node started on an older copy
// of its store (a backup taken before its last writes, or a WAL lost) gets
// its newest entries back from a peer, and with them the records they
// wrote: readable as they were, sealed ones included, and not created
// again under the same id (which would overwrite them on every node).
func TestOwnEntriesGivenBackBringTheirRecords(t *testing.T) {
	const o, n = p1, p2
	f := newFederation(t, []string{o, n}, mesh([]string{o, n}))
	f.startAll()
	createAgreements(t, f.nodes[o], 4, "a")
	f.waitConverged(t, map[string]uint64{o: 4}, 10*time.Second)
	f.stop(o)
	db := filepath.Join(f.nodes[o].dir, server.DatabaseFile)
	older, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(db + "-wal"); err == nil {
		t.Fatal("the stopped node left a WAL: its file alone is not a copy of its store")
	}
	on := f.start(o)
	createAgreements(t, on, 3, "b")
	createVisible(t, on, "sealed", typev1.Visibility_VISIBILITY_NATIONAL)
	f.waitConverged(t, map[string]uint64{o: 8}, 10*time.Second)
	want := map[string]*twinningv1.Agreement{}
	for _, id := range []string{"b-000", "b-001", "b-002", "sealed"} {
		name := "provinces/" + o + "/agreements/" + id
		a, code := getAgreement(t, on, name)
		if code != codes.OK {
			t.Fatalf("%s before the restore: %v", name, code)
		}
		want[name] = a
	}
	f.stop(o)
	if err := os.WriteFile(db, older, 0o600); err != nil {
		t.Fatal(err)
	}

	on = f.start(o)
	eventually(t, 10*time.Second, func() (bool, string) {
		st := on.origin(t, o)
		return st.GetSeq() == 8 && len(st.GetDamaged()) == 0, fmt.Sprintf("own log: seq %d damaged %v", st.GetSeq(), st.GetDamaged())
	})
	for name, w := range want {
		got, code := getAgreement(t, on, name)
		if code != codes.OK || !proto.Equal(got, w) {
			t.Errorf("%s after its entry came back: %v %v, want %v", name, code, got, w)
		}
	}
	_, err = on.client.Twinning.CreateAgreement(context.Background(), &twinningv1.CreateAgreementRequest{
		Parent: "provinces/" + o, AgreementId: "b-001", Agreement: &twinningv1.Agreement{DisplayName: "again", Kind: twinningv1.Agreement_KIND_MOU}})
	if status.Code(err) != codes.AlreadyExists {
		t.Errorf("create of an id whose record came back: %v, want ALREADY_EXISTS", err)
	}
	if got, _ := getAgreement(t, f.nodes[n], "provinces/"+o+"/agreements/b-001"); !proto.Equal(got, want["provinces/"+o+"/agreements/b-001"]) {
		t.Errorf("the peer's copy changed: %v", got)
	}
	// The records of the writes that made 5..8 were lost with the newer
	// copy; the repair that gave the entries back is their record, and the
	// trail still verifies (provex audit verify, provex verify, a backup's
	// check).
	createAgreements(t, on, 1, "after")
	v, err := auditv1.NewAuditServiceClient(on.client.Conn()).VerifyAuditLog(context.Background(), &auditv1.VerifyAuditLogRequest{})
	if err != nil || !v.GetOk() {
		t.Errorf("VerifyAuditLog after the node's own entries came back from a peer: %v, %v", v, err)
	}
	// But the check says whose records were lost (provex audit verify
	// prints it), which passed silently (an outside review).
	f.stop(o)
	store, err := sqlstore.Open(context.Background(), db, o, sqlstore.Options{PublicKey: f.keys[o].Signing.Public().(ed25519.PublicKey), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	c, err := store.CheckAudit(context.Background())
	if err != nil || len(c.Problems) > 0 || !slices.Equal(c.OwnRecordsLost, [][2]int64{{5, 8}}) {
		t.Errorf("the audit check after the node's own entries came back from a peer: own writes whose records were lost %v (want 5..8), problems %q, %v", c.OwnRecordsLost, c.Problems, err)
	}
}

// twoFaced serves a member's own signed log and, when repair is set, also
// pushes "repair" copies nobody asked for: another chain of the same log,
// also signed with the member's key.
type twoFaced struct {
	syncv1.UnimplementedSyncServiceServer
	mu     sync.Mutex
	serve  *forger
	repair *forger
}

func (p *twoFaced) Announce(context.Context, *syncv1.AnnounceRequest) (*syncv1.AnnounceResponse, error) {
	return &syncv1.AnnounceResponse{}, nil
}

func (p *twoFaced) Pull(req *syncv1.PullRequest, stream grpc.ServerStreamingServer[syncv1.PullResponse]) error {
	p.mu.Lock()
	serve, rep := p.serve, p.repair
	p.mu.Unlock()
	if rep != nil {
		if err := stream.Send(&syncv1.PullResponse{Repair: &syncv1.Repair{Entries: rep.entries, Checkpoint: rep.cp}}); err != nil {
			return err
		}
	}
	return serve.Pull(req, stream)
}

// TestUnsolicitedRepairIsRefused: a member pushes, as a "repair" nobody
// asked for, another chain of its own log that it also signed. A node
// without damage refuses it and keeps what it holds: a member cannot swap
// its history (its forgeries included) on the nodes that hold it.
func TestUnsolicitedRepairIsRefused(t *testing.T) {
	const bad = "tuyen-quang"
	f := newFederation(t, []string{p1, bad}, map[string][]string{p1: {bad}})
	chain := func(text string) *forger {
		return forgedLog(t, f, bad, []forgedState{{rec: &twinningv1.Agreement{Name: "provinces/" + bad + "/agreements/x", DisplayName: text, Kind: twinningv1.Agreement_KIND_MOU}}})
	}
	a, b := chain("chain A"), chain("chain B")
	tf := &twoFaced{serve: a}
	f.peerServer(t, bad, tf)
	n := f.start(p1)
	name := "provinces/" + bad + "/agreements/x"
	eventually(t, 10*time.Second, func() (bool, string) {
		got, code := getAgreement(t, n, name)
		return code == codes.OK && got.GetDisplayName() == "chain A", fmt.Sprintf("%s: %v %v", name, code, got)
	})
	tf.mu.Lock()
	tf.repair = b
	tf.mu.Unlock()
	refused := n.metrics(t).GetRunsRefused()
	eventually(t, 10*time.Second, func() (bool, string) {
		return n.metrics(t).GetRunsRefused() >= refused+2, "the node has not refused the unsolicited repair twice"
	})
	if got, _ := getAgreement(t, n, name); got.GetDisplayName() != "chain A" {
		t.Errorf("the node now holds %q", got.GetDisplayName())
	}
	if got := n.metrics(t).GetEntriesRepaired(); got != 0 {
		t.Errorf("the node repaired %d entries it did not ask for", got)
	}
	if o := n.origin(t, bad); !bytes.Equal(o.GetHeadHash(), a.entries[0].GetHash()) || len(o.GetDamaged()) != 0 {
		t.Errorf("the node's log of %s changed: head %x, damage %v", bad, o.GetHeadHash(), o.GetDamaged())
	}
}

// TestLargeRepairComesInPieces: a range to repair whose copies are larger
// than any one message may be (46 records of about 1.5 MB, 69 MB in all)
// comes in many messages and is put in place, while sync of the other
// origins goes on.
func TestLargeRepairComesInPieces(t *testing.T) {
	if testing.Short() {
		t.Skip("a repair of 50 large entries: CI's race step runs -short, the tests' step runs it")
	}
	const big = "tuyen-quang"
	f := newFederation(t, []string{p1, p2, big}, map[string][]string{p1: {big}, p2: {p1}})
	states := make([]forgedState, 50)
	for i := range states {
		states[i] = forgedState{rec: &twinningv1.Agreement{Name: fmt.Sprintf("provinces/%s/agreements/big-%02d", big, i),
			DisplayName: "big", Kind: twinningv1.Agreement_KIND_MOU, Summary: strings.Repeat("ệ", 500_000)}}
	}
	log := forgedLog(t, f, big, states)
	log.perEntry = true
	f.peerServer(t, big, log)
	f.start(p1)
	victim := f.start(p2)
	f.waitConverged(t, map[string]uint64{big: 50}, 60*time.Second)
	f.stop(p2)
	editDB(t, f.nodes[p2], fmt.Sprintf("DELETE FROM changes WHERE origin = '%s' AND seq BETWEEN 3 AND 48", big),
		fmt.Sprintf("DELETE FROM checkpoints WHERE origin = '%s' AND seq BETWEEN 3 AND 49", big))
	f.logCheck, f.logScrub = 200*time.Millisecond, 400*time.Millisecond
	victim = f.start(p2)
	createAgreements(t, f.nodes[p1], 3, "meanwhile")
	f.waitConverged(t, map[string]uint64{p1: 3, big: 50}, 30*time.Second)
	eventually(t, 30*time.Second, func() (bool, string) {
		o := victim.origin(t, big)
		return len(o.GetDamaged()) == 0 && victim.metrics(t).GetEntriesRepaired() == 46, fmt.Sprintf("damage %v, repaired %d", o.GetDamaged(), victim.metrics(t).GetEntriesRepaired())
	})
}

// TestDamagedFirstEntryDoesNotStopSync: entry 1 of an origin is rewritten
// whole (its link to nothing changed). The damage is entry 1 alone; the
// node keeps syncing every other origin and repairs it.
func TestDamagedFirstEntryDoesNotStopSync(t *testing.T) {
	const o, n = p1, p2
	f := newFederation(t, []string{o, n, p3}, map[string][]string{n: {o, p3}})
	f.logCheck = 200 * time.Millisecond
	f.start(o)
	f.start(p3)
	nn := f.start(n)
	createAgreements(t, f.nodes[o], 3, "a")
	eventually(t, 10*time.Second, func() (bool, string) { return nn.origin(t, o).GetSeq() == 3, "N lacks o's entries" })
	f.stop(n)
	raw, err := sql.Open("sqlite3", "file:"+filepath.Join(f.nodes[n].dir, server.DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	e := changelog.Entry{Origin: o, Seq: 1}
	var form int
	if err := raw.QueryRow("SELECT hlc, name, data, sealed FROM changes WHERE origin = ? AND seq = 1", o).Scan(&e.HLC, &e.Name, &e.Data, &form); err != nil {
		t.Fatal(err)
	}
	// The row's form (storage/sqlstore entryrow.go): 1 sealed, 2 the name is
	// the state's own.
	e.Sealed = form == 1
	if form == 2 {
		var a twinningv1.Agreement
		if err := proto.Unmarshal(e.Data, &a); err != nil {
			t.Fatal(err)
		}
		e.Name = a.GetName()
	}
	e.PrevHash = bytes.Repeat([]byte{1}, 32)
	e.Hash = changelog.Sum(&e)
	if _, err := raw.Exec("UPDATE changes SET prev_hash = ?, hash = ? WHERE origin = ? AND seq = 1", e.PrevHash, e.Hash, o); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	f.logScrub = 400 * time.Millisecond
	nn = f.start(n)
	createAgreements(t, f.nodes[p3], 4, "p3")
	eventually(t, 15*time.Second, func() (bool, string) {
		return nn.origin(t, p3).GetSeq() == 4, fmt.Sprintf("N holds %s up to %d; last error %q", p3, nn.origin(t, p3).GetSeq(), nn.peerState(t, p3).GetLastError())
	})
	eventually(t, 15*time.Second, func() (bool, string) {
		st := nn.origin(t, o)
		return len(st.GetDamaged()) == 0 && nn.metrics(t).GetEntriesRepaired() == 1, fmt.Sprintf("N's damage of %s: %v", o, st.GetDamaged())
	})
}

// TestServedDamageIsNotForgotten: damage a node finds while serving, in a
// range it had verified before, stays reported until it is repaired: the
// next incremental check does not clear it.
func TestServedDamageIsNotForgotten(t *testing.T) {
	const o, n, m = p1, p2, p3
	f := newFederation(t, []string{o, n, m}, line([]string{o, n, m}))
	f.logCheck, f.logScrub = 200*time.Millisecond, time.Hour
	f.start(o)
	nn := f.start(n)
	createAgreements(t, f.nodes[o], 20, "a")
	f.waitConverged(t, map[string]uint64{o: 20}, 10*time.Second)
	eventually(t, 10*time.Second, func() (bool, string) { return nn.origin(t, o).GetVerifiedSeq() == 20, "N has not verified o's log" })
	f.stop(n)
	f.stop(o)
	flipByte(t, f.nodes[n], o, 7)
	nn = f.start(n)
	f.start(m)
	eventually(t, 10*time.Second, func() (bool, string) {
		return len(nn.origin(t, o).GetDamaged()) == 1, fmt.Sprintf("N's damage %v", nn.origin(t, o).GetDamaged())
	})
	f.stop(m)
	time.Sleep(time.Second) // several incremental checks
	if d := nn.origin(t, o).GetDamaged(); len(d) != 1 || d[0].GetRange().GetFirst() != 7 {
		t.Errorf("N's damage after its checks: %v, want 7", d)
	}
	if h := healthz(t, nn); !strings.Contains(h, "degraded") {
		t.Errorf("N's health: %q", h)
	}
}

// TestDamageMadeWhileStoppedIsFoundAtStart: entries changed on disk while
// the node was stopped, in a range its checks had verified before, are
// found by its first check after it starts, not by the full check an
// hour later: its own log rewritten consistently (each changed entry's
// hash and the next one's link recomputed, so only the signed checkpoint
// disagrees) and a byte of a peer's entry.
func TestDamageMadeWhileStoppedIsFoundAtStart(t *testing.T) {
	const o, n = p1, p2
	f := newFederation(t, []string{o, n}, mesh([]string{o, n}))
	f.logCheck, f.logScrub = 200*time.Millisecond, time.Hour
	f.startAll()
	createAgreements(t, f.nodes[o], 12, "a")
	createAgreements(t, f.nodes[n], 12, "b")
	f.waitConverged(t, map[string]uint64{o: 12, n: 12}, 10*time.Second)
	on := f.nodes[o]
	eventually(t, 10*time.Second, func() (bool, string) {
		return on.origin(t, o).GetVerifiedSeq() == 12 && on.origin(t, n).GetVerifiedSeq() == 12, "O has not verified both logs"
	})
	f.stop(o)
	f.stop(n)
	rewritten := rechain(t, on, o, 5)
	flipByte(t, on, n, 6)
	on = f.start(o)
	eventually(t, 10*time.Second, func() (bool, string) {
		own, peer := on.origin(t, o).GetDamaged(), on.origin(t, n).GetDamaged()
		return len(own) == 1 && len(peer) == 1 && peer[0].GetRange().GetFirst() == 6, fmt.Sprintf("O's damage of its own log %v, of %s's %v", own, n, peer)
	})
	if h := healthz(t, on); !strings.Contains(h, "degraded") {
		t.Errorf("O's health: %q", h)
	}
	got, err := on.client.Twinning.GetAgreement(context.Background(), &twinningv1.GetAgreementRequest{Name: rewritten})
	if status.Code(err) != codes.Unavailable {
		t.Errorf("Get of the rewritten %s once the damage is found: %v, %v; want UNAVAILABLE", rewritten, got.GetDisplayName(), err)
	}
	if _, err := on.client.Twinning.ListAgreements(context.Background(), &twinningv1.ListAgreementsRequest{Parent: "provinces/" + o}); status.Code(err) != codes.Unavailable {
		t.Errorf("List over the rewritten %s once the damage is found: %v; want UNAVAILABLE", rewritten, err)
	}
	// The peer's copies mend both logs, and the record reads as written.
	f.start(n)
	eventually(t, 15*time.Second, func() (bool, string) {
		own, peer := on.origin(t, o).GetDamaged(), on.origin(t, n).GetDamaged()
		return len(own) == 0 && len(peer) == 0, fmt.Sprintf("O's damage of its own log %v, of %s's %v", own, n, peer)
	})
	got, err = on.client.Twinning.GetAgreement(context.Background(), &twinningv1.GetAgreementRequest{Name: rewritten})
	if err != nil || got.GetDisplayName() != o+" agreement 4" {
		t.Errorf("Get of %s after the repair: %q, %v; want %q", rewritten, got.GetDisplayName(), err, o+" agreement 4")
	}
}

// rechain changes the display name in the state of entry origin/seq, an
// agreement's, on a stopped node's disk, and recomputes its hash and the
// links and hashes of every entry after it, as someone who knows the
// format would: the chain holds, reads find each state as its hash says,
// and only the origin's signed checkpoints disagree. It returns the name
// of the record changed.
func rechain(t *testing.T, n *testNode, origin string, seq int) string {
	t.Helper()
	raw, err := sql.Open("sqlite3", "file:"+filepath.Join(n.dir, server.DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	rows, err := raw.Query("SELECT seq, hlc, data, prev_hash FROM changes WHERE origin = ? AND seq >= ? ORDER BY seq", origin, seq)
	if err != nil {
		t.Fatal(err)
	}
	var entries []changelog.Entry
	for rows.Next() {
		e := changelog.Entry{Origin: origin}
		if err := rows.Scan(&e.Seq, &e.HLC, &e.Data, &e.PrevHash); err != nil {
			t.Fatal(err)
		}
		var a twinningv1.Agreement
		if err := proto.Unmarshal(e.Data, &a); err != nil {
			t.Fatal(err)
		}
		e.Name = a.GetName()
		if len(entries) == 0 {
			a.DisplayName = "Rewritten while the node was stopped"
			if e.Data, err = (proto.MarshalOptions{Deterministic: true}).Marshal(&a); err != nil {
				t.Fatal(err)
			}
		}
		entries = append(entries, e)
	}
	rows.Close()
	if len(entries) < 2 {
		t.Fatalf("%s has %d entries from %d", origin, len(entries), seq)
	}
	prev := entries[0].PrevHash
	for _, e := range entries {
		e.PrevHash = prev
		e.Hash = changelog.Sum(&e)
		prev = e.Hash
		if _, err := raw.Exec("UPDATE changes SET data = ?, prev_hash = ?, hash = ? WHERE origin = ? AND seq = ?", e.Data, e.PrevHash, e.Hash, origin, e.Seq); err != nil {
			t.Fatal(err)
		}
	}
	return entries[0].Name
}

// TestOwnEntriesNamedOnlyByTheAuditTrail: a node's newest entries and
// their checkpoints are gone; only its audit trail still names them. Its
// checks (which look at checkpoints) cannot see the loss, yet it stays
// recorded, writes stay refused, and a peer gives the entries back.
func TestOwnEntriesNamedOnlyByTheAuditTrail(t *testing.T) {
	const o, n = p1, p2
	f := newFederation(t, []string{o, n}, mesh([]string{o, n}))
	f.logCheck, f.logScrub = 200*time.Millisecond, 400*time.Millisecond
	f.startAll()
	createAgreements(t, f.nodes[o], 10, "a")
	f.waitConverged(t, map[string]uint64{o: 10}, 10*time.Second)
	f.stop(o)
	f.stop(n)
	editDB(t, f.nodes[o],
		fmt.Sprintf("DELETE FROM changes WHERE origin = '%s' AND seq > 8", o),
		fmt.Sprintf("DELETE FROM checkpoints WHERE origin = '%s' AND seq > 8", o))
	on := f.start(o)
	time.Sleep(time.Second) // several incremental checks and a full one
	if d := on.origin(t, o).GetDamaged(); len(d) != 1 || d[0].GetRange().GetFirst() != 9 || d[0].GetRange().GetLast() != 10 {
		t.Fatalf("the node's damage of its own log after its checks: %v, want 9..10", d)
	}
	_, err := on.client.Twinning.CreateAgreement(context.Background(), &twinningv1.CreateAgreementRequest{
		Parent: "provinces/" + o, AgreementId: "would-fork", Agreement: &twinningv1.Agreement{DisplayName: "x", Kind: twinningv1.Agreement_KIND_MOU}})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("a write while entries 9 and 10 are missing: %v, want UNAVAILABLE", err)
	}
	f.start(n)
	eventually(t, 10*time.Second, func() (bool, string) {
		st := on.origin(t, o)
		return st.GetSeq() == 10 && len(st.GetDamaged()) == 0, fmt.Sprintf("own log: seq %d damaged %v", st.GetSeq(), st.GetDamaged())
	})
	createAgreements(t, on, 1, "after")
	f.waitConverged(t, map[string]uint64{o: 11}, 10*time.Second)
}

// ghost serves, to every pull, one entry of an origin the manifest does
// not list (a member removed), with a valid hash.
type ghost struct {
	syncv1.UnimplementedSyncServiceServer
	entry *syncv1.Entry
	pulls atomic.Int64
}

func (g *ghost) Announce(context.Context, *syncv1.AnnounceRequest) (*syncv1.AnnounceResponse, error) {
	return &syncv1.AnnounceResponse{}, nil
}

func (g *ghost) Pull(_ *syncv1.PullRequest, stream grpc.ServerStreamingServer[syncv1.PullResponse]) error {
	g.pulls.Add(1)
	return stream.Send(&syncv1.PullResponse{Entries: []*syncv1.Entry{g.entry}})
}

// TestOriginsNotInTheManifestArePassedOver: two peers serve the log of an
// origin the manifest does not list. The node passes it over without
// counting a refusal or waking its other peers: no storm of pulls.
func TestOriginsNotInTheManifestArePassedOver(t *testing.T) {
	f := newFederation(t, []string{p1, p2, p3}, map[string][]string{p1: {p2, p3}})
	e := changelog.Entry{Origin: "ha-noi", Seq: 1, HLC: 1, Name: "provinces/ha-noi/agreements/a", Data: []byte("x"), PrevHash: changelog.ZeroHash}
	e.Hash = changelog.Sum(&e)
	pe := &syncv1.Entry{Origin: e.Origin, Seq: e.Seq, Hlc: e.HLC, Name: e.Name, Data: e.Data, PrevHash: e.PrevHash, Hash: e.Hash}
	a, b := &ghost{entry: pe}, &ghost{entry: pe}
	f.peerServer(t, p2, a)
	f.peerServer(t, p3, b)
	n := f.start(p1)
	time.Sleep(3 * time.Second)
	// Every 300 ms ±20%, from each of two peers: about 20 pulls.
	if got := a.pulls.Load() + b.pulls.Load(); got > 40 {
		t.Errorf("%d pulls in 3 s", got)
	}
	if got := n.metrics(t).GetRunsRefused(); got != 0 {
		t.Errorf("%d runs refused", got)
	}
	if o := n.origin(t, "ha-noi"); o != nil {
		t.Errorf("the node holds entries of an origin not in the manifest: %v", o)
	}
}

// TestCheckpointMadeToNamePastTheHead: someone with the disk moves the
// newest checkpoint of a peer's log, and of the node's own, 4,096 entries
// past the head. Its signature no longer verifies, so it names nothing:
// before, the checks took the entries up to it for missing, for good, and
// the peer's later entries were stored and never applied (an outside
// review; the node's own writes stayed refused). Now the checkpoints are
// dropped, the entries they covered are proved again by the peer's copies,
// and both nodes' new records reach the other.
func TestCheckpointMadeToNamePastTheHead(t *testing.T) {
	const o, n = p1, p2
	f := newFederation(t, []string{o, n}, mesh([]string{o, n}))
	f.logCheck, f.logScrub = 200*time.Millisecond, time.Hour
	f.startAll()
	createAgreements(t, f.nodes[o], 6, "a")
	createAgreements(t, f.nodes[n], 6, "b")
	f.waitConverged(t, map[string]uint64{o: 6, n: 6}, 10*time.Second)
	f.stop(o)
	f.stop(n)
	for _, origin := range []string{o, n} {
		editDB(t, f.nodes[o], fmt.Sprintf("UPDATE checkpoints SET seq = seq + 4096 WHERE origin = '%s' AND seq = (SELECT max(seq) FROM checkpoints WHERE origin = '%s')", origin, origin))
	}
	on := f.start(o)
	peer := f.start(n)
	ctx := context.Background()
	eventually(t, 15*time.Second, func() (bool, string) {
		own, other := on.origin(t, o).GetDamaged(), on.origin(t, n).GetDamaged()
		return len(own) == 0 && len(other) == 0, fmt.Sprintf("%s's damage of its own log %v, of %s's %v", o, own, n, other)
	})
	fromPeer, err := peer.client.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: "provinces/" + n, Agreement: &twinningv1.Agreement{DisplayName: "after the edit", Kind: twinningv1.Agreement_KIND_MOU}})
	if err != nil {
		t.Fatal(err)
	}
	var own *twinningv1.Agreement
	eventually(t, 15*time.Second, func() (bool, string) {
		own, err = on.client.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: "provinces/" + o, Agreement: &twinningv1.Agreement{DisplayName: "after the edit", Kind: twinningv1.Agreement_KIND_MOU}})
		return err == nil, fmt.Sprintf("%s's write: %v", o, err)
	})
	eventually(t, 15*time.Second, func() (bool, string) {
		_, errOn := on.client.Twinning.GetAgreement(ctx, &twinningv1.GetAgreementRequest{Name: fromPeer.GetName()})
		_, errPeer := peer.client.Twinning.GetAgreement(ctx, &twinningv1.GetAgreementRequest{Name: own.GetName()})
		return errOn == nil && errPeer == nil, fmt.Sprintf("%s reads %s's new record: %v; %s reads %s's: %v", o, n, errOn, n, o, errPeer)
	})
}

// TestDamagedSealedEntryIsNotServed: a byte changes in the sealed entry of
// a record restricted to lang-son, on lang-son's disk while it is stopped.
// Its row keeps the opened state, which reads served without looking at
// the entry: the record was answered though the node's checks had found
// its entry damaged (an outside review). Now it is UNAVAILABLE until the
// origin's copy repairs the entry.
func TestDamagedSealedEntryIsNotServed(t *testing.T) {
	const o, n = p1, p2
	f := newFederation(t, []string{o, n}, mesh([]string{o, n}))
	f.logCheck, f.logScrub = 200*time.Millisecond, time.Hour
	f.startAll()
	restricted := createVisible(t, f.nodes[o], "sealed", typev1.Visibility_VISIBILITY_RESTRICTED, n)
	f.waitConverged(t, map[string]uint64{o: 1}, 10*time.Second)
	if _, code := getAgreement(t, f.nodes[n], restricted.GetName()); code != codes.OK {
		t.Fatalf("lang-son reads the record restricted to it: %v", code)
	}
	f.stop(o)
	f.stop(n)
	flipByte(t, f.nodes[n], o, 1)
	reader := f.start(n)
	eventually(t, 10*time.Second, func() (bool, string) {
		return len(reader.origin(t, o).GetDamaged()) == 1, "lang-son has not found the damaged entry"
	})
	if _, code := getAgreement(t, reader, restricted.GetName()); code != codes.Unavailable {
		t.Errorf("a read of the record whose sealed entry is damaged: %v, want UNAVAILABLE", code)
	}
	f.start(o)
	eventually(t, 15*time.Second, func() (bool, string) {
		_, code := getAgreement(t, reader, restricted.GetName())
		return code == codes.OK, fmt.Sprintf("after the repair, a read of the record: %v", code)
	})
}
