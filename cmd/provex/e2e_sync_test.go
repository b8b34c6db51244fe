package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/provex/provex/client"
	"github.com/provex/provex/federation"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/internal/freeport"
)

// startMember runs "provex serve" for one member of a manifest on its
// manifest address.
// The member's certificate (from provex ca issue) is in its data
// directory; its API is in dev mode.
func startMember(t *testing.T, bin, dir, manifest, member, peers string) *process {
	t.Helper()
	data := filepath.Join(dir, member)
	cmd := []string{"serve", "--member", member, "--data", data, "--grpc-addr", "127.0.0.1:0", "--dev", "--rate-limit", "1000000",
		"--http-addr", "127.0.0.1:0", "--manifest", manifest, "--key", filepath.Join(dir, member+".key"), "--sync-interval", "500ms"}
	if peers != "" {
		cmd = append(cmd, "--peers", peers)
	}
	token := adminToken(t, bin, data, member)
	p := startProcess(t, bin, cmd...)
	p.token = token
	return p
}

// federationFiles makes, in dir, the files of a federation of members at
// the manifest addresses addrs: their keys, their certificates (with the
// CLI, as operators would: issueCert, which issues one again) and the
// signed manifest, whose path it returns.
func federationFiles(t *testing.T, bin, dir string, members, addrs []string) string {
	t.Helper()
	m, keys, err := federation.DevFederation(members, addrs, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := runCLI(t, bin, "", "", "ca", "init", "--dir", filepath.Join(dir, "ca")); code != 0 {
		t.Fatalf("ca init: %s", stderr)
	}
	for _, id := range members {
		issueCert(t, bin, dir, id)
	}
	if m.CA, err = os.ReadFile(filepath.Join(dir, "ca", "ca.pem")); err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(dir, "manifest.yaml")
	writeSignedManifest(t, m, manifest)
	for id, k := range keys {
		if err := federation.WriteKeyFile(filepath.Join(dir, id+".key"), k); err != nil {
			t.Fatal(err)
		}
	}
	return manifest
}

// issueCert issues member's certificate from dir's CA into its data
// directory, dir/member.
func issueCert(t *testing.T, bin, dir, member string) {
	t.Helper()
	if _, stderr, code := runCLI(t, bin, "", "", "ca", "issue", "--member", member, "--ca-dir", filepath.Join(dir, "ca"), "--out", filepath.Join(dir, member)); code != 0 {
		t.Fatalf("ca issue %s: %s", member, stderr)
	}
}

// TestPeerAddrBehindAPortMapping: a node in a container or behind NAT
// listens for peers where --peer-addr says, not at its manifest address,
// which is not its machine's (it could not start: an outside review). Here
// a port forward stands for the mapping: the manifest gives cao-bang the
// forward's address, and lang-son, dialling it, syncs.
func TestPeerAddrBehindAPortMapping(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	addrs, err := freeport.Addrs(3)
	if err != nil {
		t.Fatal(err)
	}
	manifest := federationFiles(t, bin, dir, []string{"cao-bang", "lang-son"}, addrs[:2])
	forward, err := net.Listen("tcp", addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer forward.Close()
	go func() {
		for {
			in, err := forward.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", addrs[2])
			if err != nil {
				in.Close()
				continue
			}
			go func() { io.Copy(out, in); out.Close() }()
			go func() { io.Copy(in, out); in.Close() }()
		}
	}()
	data := filepath.Join(dir, "cao-bang")
	token := adminToken(t, bin, data, "cao-bang")
	origin := startProcess(t, bin, "serve", "--member", "cao-bang", "--data", data, "--grpc-addr", "127.0.0.1:0", "--dev",
		"--http-addr", "127.0.0.1:0", "--manifest", manifest, "--key", filepath.Join(dir, "cao-bang.key"), "--sync-interval", "500ms",
		"--peer-addr", addrs[2])
	origin.token = token
	if _, stderr, code := runCLI(t, bin, token, "display_name: qua cổng\nkind: KIND_MOU\n", "create", "provinces/cao-bang/agreements", "-f", "-", "--addr", origin.grpcAddr); code != 0 {
		t.Fatalf("create: %s", stderr)
	}
	follower := startMember(t, bin, dir, manifest, "lang-son", "cao-bang")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if seq, _ := originSeq(t, follower, "cao-bang"); seq == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("lang-son did not pull cao-bang's entry through the port mapping to its --peer-addr")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func originSeq(t *testing.T, p *process, origin string) (uint64, []byte) {
	t.Helper()
	c, err := client.Dial(p.grpcAddr, client.WithToken(p.token))
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
	addrs, err := freeport.Addrs(2)
	if err != nil {
		t.Fatal(err)
	}
	manifest := federationFiles(t, bin, dir, []string{"cao-bang", "lang-son"}, addrs)
	origin := startMember(t, bin, dir, manifest, "cao-bang", "")
	c, err := client.Dial(origin.grpcAddr, client.WithToken(origin.token))
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

	follower := startMember(t, bin, dir, manifest, "lang-son", "cao-bang")
	// Kill it once it has applied part of the log, in the middle of the
	// catch-up.
	deadline := time.Now().Add(60 * time.Second)
	for {
		seq, _ := originSeq(t, follower, "cao-bang")
		if seq > 0 && seq < records {
			break
		}
		if seq >= records || time.Now().After(deadline) {
			t.Fatalf("follower at %d: could not catch it mid-way", seq)
		}
		time.Sleep(5 * time.Millisecond)
	}
	follower.stop(t, syscall.SIGKILL)
	killedAt, _ := originSeq(t, origin, "cao-bang")
	t.Logf("follower killed mid catch-up (origin at %d)", killedAt)

	follower = startMember(t, bin, dir, manifest, "lang-son", "cao-bang")
	wantSeq, wantHash := originSeq(t, origin, "cao-bang")
	for {
		seq, hash := originSeq(t, follower, "cao-bang")
		if seq == wantSeq && bytes.Equal(hash, wantHash) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("follower at %d after restart, origin at %d", seq, wantSeq)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Same records on both, each exactly once.
	fc, err := client.Dial(follower.grpcAddr, client.WithToken(follower.token))
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
