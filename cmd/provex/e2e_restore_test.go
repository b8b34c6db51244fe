package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/provex/provex/client"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/freeport"
)

// TestDataDirLostRestoredFromPeers runs three nodes as processes, writes
// public and confidential records on cao-bang, kills it and deletes its data
// directory while the others run, rebuilds it with provex restore (its key
// file and manifest kept, its certificate issued again), and starts it: it
// holds its log and records as before, confidential ones included, writes
// at the next seq, and all three converge on identical heads. A restore
// into the data directory it now has is refused.
func TestDataDirLostRestoredFromPeers(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	members := []string{"cao-bang", "lang-son", "nghe-an"}
	addrs, err := freeport.Addrs(len(members))
	if err != nil {
		t.Fatal(err)
	}
	manifest := federationFiles(t, bin, dir, members, addrs)
	peersOf := func(id string) string {
		var out []string
		for _, o := range members {
			if o != id {
				out = append(out, o)
			}
		}
		return strings.Join(out, ",")
	}
	nodes := map[string]*process{}
	for _, id := range members {
		nodes[id] = startMember(t, bin, dir, manifest, id, peersOf(id))
	}
	dial := func(p *process) *client.Client {
		c, err := client.Dial(p.grpcAddr, client.WithToken(p.token))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	create := func(c *client.Client, id string, v typev1.Visibility, to ...string) *twinningv1.Agreement {
		a, err := c.Twinning.CreateAgreement(context.Background(), &twinningv1.CreateAgreementRequest{
			Parent: "provinces/cao-bang", AgreementId: id,
			Agreement: &twinningv1.Agreement{DisplayName: "agreement " + id, Kind: twinningv1.Agreement_KIND_MOU, Visibility: v, VisibleTo: to},
		})
		if err != nil {
			t.Fatalf("create %s: %v", id, err)
		}
		return a
	}
	a := dial(nodes["cao-bang"])
	for i := range 20 {
		create(a, fmt.Sprintf("pub-%02d", i), typev1.Visibility_VISIBILITY_PUBLIC)
	}
	confidential := []*twinningv1.Agreement{
		create(a, "national", typev1.Visibility_VISIBILITY_NATIONAL),
		create(a, "restricted", typev1.Visibility_VISIBILITY_RESTRICTED, "nghe-an"),
	}
	// Identical heads of cao-bang's log on every running node.
	converged := func(want uint64) {
		t.Helper()
		waitFor(t, 60*time.Second, func() (bool, string) {
			var hash []byte
			for _, id := range members {
				seq, h := originSeq(t, nodes[id], "cao-bang")
				if seq != want || (hash != nil && !bytes.Equal(h, hash)) {
					return false, fmt.Sprintf("%s holds cao-bang up to %d, want %d", id, seq, want)
				}
				hash = h
			}
			return true, ""
		})
	}
	converged(22)

	nodes["cao-bang"].stop(t, syscall.SIGKILL)
	data := filepath.Join(dir, "cao-bang")
	if err := os.RemoveAll(data); err != nil {
		t.Fatal(err)
	}
	issueCert(t, bin, dir, "cao-bang")
	out, stderr, code := runCLI(t, bin, "", "", "restore", "--member", "cao-bang", "--data", data,
		"--key", filepath.Join(dir, "cao-bang.key"), "--manifest", manifest)
	if code != 0 || !strings.Contains(out, "own log cao-bang: got back through 22;") {
		t.Fatalf("restore: exit %d\n%s\n%s", code, out, stderr)
	}
	t.Logf("restore said:\n%s", out)

	nodes["cao-bang"] = startMember(t, bin, dir, manifest, "cao-bang", peersOf("cao-bang"))
	a = dial(nodes["cao-bang"])
	for _, want := range confidential {
		got, err := a.Twinning.GetAgreement(context.Background(), &twinningv1.GetAgreementRequest{Name: want.GetName()})
		if err != nil || got.GetEtag() != want.GetEtag() || got.GetVisibility() != want.GetVisibility() {
			t.Fatalf("confidential %s after restore: %v %v", want.GetName(), got, err)
		}
	}
	create(a, "after-restore", typev1.Visibility_VISIBILITY_PUBLIC)
	create(a, "after-restore-national", typev1.Visibility_VISIBILITY_NATIONAL)
	converged(24)

	nodes["cao-bang"].stop(t, syscall.SIGTERM)
	_, stderr, code = runCLI(t, bin, "", "", "restore", "--member", "cao-bang", "--data", data,
		"--key", filepath.Join(dir, "cao-bang.key"), "--manifest", manifest)
	if code == 0 || !strings.Contains(stderr, "already holds 24 entries") {
		t.Fatalf("restore into a data directory with the node's log: exit %d, %s", code, stderr)
	}
	for _, id := range members[1:] {
		nodes[id].stop(t, syscall.SIGTERM)
	}
}
