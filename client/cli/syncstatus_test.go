package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/provex/provex/federation"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
)

var testTime = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)

// TestConvergenceCheckCannotBeFooled: the check says yes only when every
// member answers with the same heads, has opened as many entries of each
// origin as the origin sealed to it, and has no damaged log.
func TestConvergenceCheckCannotBeFooled(t *testing.T) {
	m, _, err := federation.DevFederation([]string{"cao-bang", "nghe-an", "mofa"}, []string{"h:1", "h:2", "h:3"}, testTime)
	if err != nil {
		t.Fatal(err)
	}
	head := []byte{1, 2, 3}
	// cao-bang holds 10 entries of its own, 3 of them sealed to nghe-an
	// and 5 to the ministry.
	good := func() map[string]*syncv1.GetSyncStateResponse {
		st := map[string]*syncv1.GetSyncStateResponse{}
		for _, id := range []string{"cao-bang", "nghe-an", "mofa"} {
			o := &syncv1.OriginState{Origin: "cao-bang", Seq: 10, HeadHash: head}
			switch id {
			case "cao-bang":
				o.SealedFor = map[string]int64{"nghe-an": 3, "mofa": 5}
			case "nghe-an":
				o.Opened = 3
			case "mofa":
				o.Opened = 5
			}
			st[id] = &syncv1.GetSyncStateResponse{Member: id, Origins: []*syncv1.OriginState{o}, Manifest: &syncv1.ManifestState{Serial: 4}}
		}
		return st
	}
	run := func(states map[string]*syncv1.GetSyncStateResponse) (string, error) {
		var out bytes.Buffer
		err := federationStatus(context.Background(), &out, m, func(_ context.Context, mem federation.Member) (*syncv1.GetSyncStateResponse, error) {
			st, ok := states[mem.ID]
			if !ok {
				return nil, fmt.Errorf("connection refused")
			}
			return st, nil
		})
		return out.String(), err
	}
	if out, err := run(good()); err != nil || !strings.Contains(out, "converged: yes") {
		t.Fatalf("a converged federation: %v\n%s", err, out)
	}
	cases := map[string]struct {
		edit func(map[string]*syncv1.GetSyncStateResponse)
		want string
	}{
		"a member that cannot open what was sealed to it (it cannot tell itself)": {func(s map[string]*syncv1.GetSyncStateResponse) {
			s["nghe-an"].Origins[0].Opened = 1
		}, "nghe-an opened 1 of the 3 entries cao-bang sealed to it"},
		"counts that disagree the other way": {func(s map[string]*syncv1.GetSyncStateResponse) {
			s["mofa"].Origins[0].Opened = 7
		}, "mofa counts 7 entries of cao-bang opened, but cao-bang sealed only 5 to it"},
		"unopened entries a member reports": {func(s map[string]*syncv1.GetSyncStateResponse) {
			s["mofa"].Origins[0].Unopened = 2
		}, "mofa holds 2 entries of cao-bang sealed to it that it cannot open"},
		"a damaged log": {func(s map[string]*syncv1.GetSyncStateResponse) {
			s["nghe-an"].Origins[0].Damaged = []*syncv1.Damage{{Range: &syncv1.Range{Origin: "cao-bang", First: 4, Last: 4}, Problem: "entry does not match its hash"}}
		}, "nghe-an: stored log of cao-bang damaged at 4..4"},
		"a hold on a member's own writes": {func(s map[string]*syncv1.GetSyncStateResponse) {
			s["cao-bang"].Origins[0].Damaged = []*syncv1.Damage{{Range: &syncv1.Range{Origin: "cao-bang", First: 11, Last: math.MaxInt64}, Problem: "this node's log forked"}}
		}, "cao-bang: writes of cao-bang held from 11 on (this node's log forked)"},
		"a lagging member": {func(s map[string]*syncv1.GetSyncStateResponse) {
			s["mofa"].Origins[0].Seq = 9
		}, "9 (lag 1)"},
		"another chain": {func(s map[string]*syncv1.GetSyncStateResponse) {
			s["mofa"].Origins[0].HeadHash = []byte{9}
		}, "DIVERGED"},
		"a member on an older manifest": {func(s map[string]*syncv1.GetSyncStateResponse) {
			s["nghe-an"].Manifest.Serial = 3
		}, "3 (behind)"},
		"a member past its manifest's grace": {func(s map[string]*syncv1.GetSyncStateResponse) {
			s["mofa"].Manifest = &syncv1.ManifestState{Serial: 4, SyncStopped: true, Warning: "expired"}
		}, "mofa has stopped syncing: manifest serial 4, SYNC STOPPED: expired"},
		"two manifests of one serial among the nodes": {func(s map[string]*syncv1.GetSyncStateResponse) {
			s["mofa"].Manifest.Digest = m.Digest()
			s["nghe-an"].Manifest.Digest = []byte{9, 9}
		}, "two or more manifests were signed with serial 4: mofa (" + short(m.Digest()) + ") and nghe-an (0909) hold different ones"},
		"a member that tells of a peer on another manifest of its serial": {func(s map[string]*syncv1.GetSyncStateResponse) {
			s["nghe-an"].Manifest.Conflict = "lao-cai hold another federation manifest of serial 4"
		}, "nghe-an: lao-cai hold another federation manifest of serial 4"},
		"a member down": {func(s map[string]*syncv1.GetSyncStateResponse) {
			delete(s, "nghe-an")
		}, "nghe-an unreachable"},
		"a member's address reaching another member's node": {func(s map[string]*syncv1.GetSyncStateResponse) {
			s["nghe-an"] = s["cao-bang"]
		}, `the node at its address is "cao-bang"'s, not "nghe-an"'s`},
	}
	for name, c := range cases {
		states := good()
		c.edit(states)
		out, err := run(states)
		if !errors.Is(err, ErrNotConverged) || !strings.Contains(out, c.want) || !strings.Contains(out, "converged: no") {
			t.Errorf("%s: %v, want %q in\n%s", name, err, c.want, out)
		}
	}
	// Rejected entries are the origin's doing, held and refused alike by
	// every node: a warning, not a lack of convergence.
	states := good()
	for _, st := range states {
		st.Origins[0].Rejected = 1
	}
	if out, err := run(states); err != nil || !strings.Contains(out, "WARNING: nghe-an holds 1 entries of cao-bang it has not applied (a record cao-bang does not own") {
		t.Errorf("rejected entries: %v\n%s", err, out)
	}
	// One node alone refusing an entry the others apply (its version does
	// not know the record's kind, during a rolling upgrade) is not told
	// that no node applies it (an outside review).
	states = good()
	states["mofa"].Origins[0].Rejected = 1
	out, err := run(states)
	if err != nil || !strings.Contains(out, "WARNING: mofa holds 1 entries of cao-bang it has not applied, 1 more than cao-bang at the same head, which applies them: is mofa on an older version") ||
		strings.Contains(out, "no node applies") || strings.Contains(out, "nghe-an holds") {
		t.Errorf("entries one node alone refused: %v\n%s", err, out)
	}
	// A removed member's log, as far as it reached one node before the
	// removal: held, never to be pulled further, and not compared.
	states = good()
	states["mofa"].Origins = append(states["mofa"].Origins, &syncv1.OriginState{Origin: "lao-cai", Seq: 3, HeadHash: head})
	if out, err := run(states); err != nil || !strings.Contains(out, "converged: yes") || !strings.Contains(out, "not compared: lao-cai") {
		t.Errorf("a removed member's log held by one node: %v\n%s", err, out)
	}
	// A manifest newer than every node's, in the checker's hands: it has
	// not reached them yet.
	m.Serial = 5
	if out, err := run(good()); !errors.Is(err, ErrNotConverged) || !strings.Contains(out, "4 (behind)") {
		t.Errorf("nodes behind the checker's manifest: %v\n%s", err, out)
	}
	m.Serial = 4
	// Nodes on the file's own manifest, digest and all, agree.
	states = good()
	for _, st := range states {
		st.Manifest.Digest = m.Digest()
	}
	if out, err := run(states); err != nil || !strings.Contains(out, "converged: yes") {
		t.Errorf("every node on the file's manifest: %v\n%s", err, out)
	}
	// Nodes on one manifest of the file's serial, not the file's.
	for _, st := range states {
		st.Manifest.Digest = []byte{7}
	}
	if out, err := run(states); !errors.Is(err, ErrNotConverged) || !strings.Contains(out, "cao-bang, mofa, nghe-an (07) and the file checked against ("+short(m.Digest())+")") {
		t.Errorf("nodes on another manifest of the file's serial: %v\n%s", err, out)
	}
	// A manifest nearing expiry is a warning on a federation that works.
	states = good()
	states["cao-bang"].Manifest.Warning = "expires in 3 days"
	if out, err := run(states); err != nil || !strings.Contains(out, "WARNING: cao-bang: manifest serial 4: expires in 3 days") {
		t.Errorf("a manifest nearing expiry: %v\n%s", err, out)
	}
}
