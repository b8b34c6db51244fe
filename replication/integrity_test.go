package replication_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/server"
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
// entry again from O, and then M gets the rest. The repair is audited and
// the audit trail verifies.
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
		found = found || (r.Action == "sync.repair" && r.FirstSeq == 7 && r.LastSeq == 7)
	}
	if !found {
		t.Errorf("no audit record of the repair by peer:%s: %+v", o, repairs)
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
