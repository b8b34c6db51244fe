package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/provex/provex/client"
	"github.com/provex/provex/federation"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
)

// startMember runs "provex serve" for one member of a manifest on its
// manifest address.
func startMember(t *testing.T, bin, dir, manifest, member, peers string, addr string) *process {
	t.Helper()
	cmd := []string{"serve", "--member", member, "--data", filepath.Join(dir, member), "--grpc-addr", addr,
		"--http-addr", "127.0.0.1:0", "--manifest", manifest, "--key", filepath.Join(dir, member+".key"), "--sync-interval", "500ms"}
	if peers != "" {
		cmd = append(cmd, "--peers", peers)
	}
	return startProcess(t, bin, cmd...)
}

func originSeq(t *testing.T, addr, origin string) (uint64, []byte) {
	t.Helper()
	c, err := client.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := syncv1.NewSyncServiceClient(c.Conn()).GetSyncState(ctx, &syncv1.GetSyncStateRequest{})
	if err != nil {
		return 0, nil
	}
	for _, o := range st.GetOrigins() {
		if o.GetOrigin() == origin {
			return o.GetSeq(), o.GetHeadHash()
		}
	}
	return 0, nil
}

// TestFollowerKilledMidApplyRecovers kills a follower with SIGKILL while it
// applies a long catch-up, restarts it, and checks it ends with exactly the
// origin's log and records: nothing lost, nothing twice.
func TestFollowerKilledMidApplyRecovers(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	addrs := make([]string, 2)
	for i := range addrs {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs[i] = l.Addr().String()
		l.Close()
	}
	m, keys, err := federation.DevFederation([]string{"cao-bang", "lang-son"}, addrs, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(dir, "manifest.yaml")
	if err := m.WriteFile(manifest); err != nil {
		t.Fatal(err)
	}
	for id, k := range keys {
		if err := federation.WriteKeyFile(filepath.Join(dir, id+".key"), k); err != nil {
			t.Fatal(err)
		}
	}
	origin := startMember(t, bin, dir, manifest, "cao-bang", "", addrs[0])
	c, err := client.Dial(addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const records = 12000
	g := new(errgroup.Group)
	g.SetLimit(32)
	for i := 0; i < records; i++ {
		g.Go(func() error {
			_, err := c.Twinning.CreateAgreement(context.Background(), &twinningv1.CreateAgreementRequest{
				Parent: "provinces/cao-bang", AgreementId: fmt.Sprintf("k%05d", i),
				Agreement: &twinningv1.Agreement{DisplayName: fmt.Sprintf("agreement %d", i), Kind: twinningv1.Agreement_KIND_MOU, PartnerCountries: []string{"CN"}},
			})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}

	follower := startMember(t, bin, dir, manifest, "lang-son", "cao-bang", addrs[1])
	// Kill it once it has applied part of the log, in the middle of the
	// catch-up.
	deadline := time.Now().Add(60 * time.Second)
	for {
		seq, _ := originSeq(t, addrs[1], "cao-bang")
		if seq > 0 && seq < records {
			break
		}
		if seq >= records || time.Now().After(deadline) {
			t.Fatalf("follower at %d: could not catch it mid-way", seq)
		}
		time.Sleep(5 * time.Millisecond)
	}
	follower.stop(t, syscall.SIGKILL)
	killedAt, _ := originSeq(t, addrs[0], "cao-bang")
	t.Logf("follower killed mid catch-up (origin at %d)", killedAt)

	follower = startMember(t, bin, dir, manifest, "lang-son", "cao-bang", addrs[1])
	wantSeq, wantHash := originSeq(t, addrs[0], "cao-bang")
	for {
		seq, hash := originSeq(t, addrs[1], "cao-bang")
		if seq == wantSeq && bytes.Equal(hash, wantHash) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("follower at %d after restart, origin at %d", seq, wantSeq)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Same records on both, each exactly once.
	fc, err := client.Dial(addrs[1])
	if err != nil {
		t.Fatal(err)
	}
	defer fc.Close()
	seen := map[string]bool{}
	token := ""
	for {
		resp, err := fc.Twinning.ListAgreements(context.Background(), &twinningv1.ListAgreementsRequest{Parent: "provinces/cao-bang", PageSize: 1000, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range resp.GetAgreements() {
			if seen[a.GetName()] {
				t.Fatalf("%s listed twice", a.GetName())
			}
			seen[a.GetName()] = true
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if len(seen) != records {
		t.Fatalf("follower holds %d records, want %d", len(seen), records)
	}
	follower.stop(t, syscall.SIGTERM)
	origin.stop(t, syscall.SIGTERM)
}
