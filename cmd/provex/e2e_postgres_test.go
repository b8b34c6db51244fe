package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/provex/provex/client"
	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/freeport"
	"github.com/provex/provex/internal/pgtest"
)

// TestMinistryOnPostgresSyncsWithProvincesOnSQLite runs the ministry's
// node as a process on a PostgreSQL store (serve --store) beside two
// province processes on SQLite files (issue 15): the ministry receives
// every province's log, public and sealed to it, and answers national
// summaries from PostgreSQL; an operator makes a token on the running
// node's store; a second node started on the same database is refused;
// a restart keeps everything.
func TestMinistryOnPostgresSyncsWithProvincesOnSQLite(t *testing.T) {
	store := pgtest.NewDatabase(t)
	bin := buildBinary(t)
	dir := t.TempDir()
	members := []string{"cao-bang", "lang-son", "mofa"}
	addrs, err := freeport.Addrs(len(members))
	if err != nil {
		t.Fatal(err)
	}
	manifest := federationFiles(t, bin, dir, members, addrs)

	serveMinistry := func() *process {
		t.Helper()
		out, stderr, code := runCLI(t, bin, "", "", "token", "create", "--role", "admin", "--label", "e2e", "--store", store, "--member", "mofa")
		if code != 0 {
			t.Fatalf("token create --store: exit %d: %s", code, stderr)
		}
		p := startProcess(t, bin, "serve", "--member", "mofa", "--data", filepath.Join(dir, "mofa"), "--store", store,
			"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--dev", "--rate-limit", "1000000",
			"--manifest", manifest, "--key", filepath.Join(dir, "mofa.key"), "--sync-interval", "300ms", "--peers", "cao-bang,lang-son")
		p.token = strings.TrimSpace(out)
		return p
	}
	mofa := serveMinistry()
	if _, err := os.Stat(filepath.Join(dir, "mofa", "provex.db")); err == nil {
		t.Error("the ministry's node made provex.db although its store is on PostgreSQL")
	}
	provinces := map[string]*process{}
	for _, id := range []string{"cao-bang", "lang-son"} {
		provinces[id] = startMember(t, bin, dir, manifest, id, "mofa")
	}

	const public = 40
	for id, p := range provinces {
		c, err := client.Dial(p.grpcAddr, client.WithToken(p.token))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for i := range public + 1 {
			a := &twinningv1.Agreement{DisplayName: fmt.Sprintf("%s agreement %d", id, i), Kind: twinningv1.Agreement_KIND_MOU, PartnerCountries: []string{"CN"}}
			if i == public {
				// National: sealed to the ministry alone.
				a.Visibility = typev1.Visibility_VISIBILITY_NATIONAL
			}
			if _, err := c.Twinning.CreateAgreement(context.Background(), &twinningv1.CreateAgreementRequest{
				Parent: "provinces/" + id, AgreementId: fmt.Sprintf("a%03d", i), Agreement: a}); err != nil {
				t.Fatal(err)
			}
		}
	}
	converged := func(mofa *process) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for id, p := range provinces {
			want, wantHash := originSeq(t, p, id)
			for {
				got, hash := originSeq(t, mofa, id)
				if got == want && string(hash) == string(wantHash) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the ministry holds %s up to %d, the province is at %d", id, got, want)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	counts := func(mofa *process) map[string]int64 {
		t.Helper()
		c, err := client.Dial(mofa.grpcAddr, client.WithToken(mofa.token))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		resp, err := nationalv1.NewNationalServiceClient(c.Conn()).Summarize(context.Background(),
			&nationalv1.SummarizeRequest{Collection: "agreements", GroupBy: []string{"province"}})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int64{}
		for _, g := range resp.GetGroups() {
			out[strings.Join(g.GetKeys(), "/")] = g.GetCount()
		}
		return out
	}
	check := func(mofa *process) {
		t.Helper()
		converged(mofa)
		got := counts(mofa)
		for id := range provinces {
			if got[id] != public+1 {
				t.Errorf("the ministry's summary: %s has %d agreements, want %d (all: %v)", id, got[id], public+1, got)
			}
		}
		// The national record was sealed to the ministry: its node opened it.
		c, err := client.Dial(mofa.grpcAddr, client.WithToken(mofa.token))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		name := fmt.Sprintf("provinces/lang-son/agreements/a%03d", public)
		a, err := c.Twinning.GetAgreement(context.Background(), &twinningv1.GetAgreementRequest{Name: name})
		if err != nil || a.GetDisplayName() != fmt.Sprintf("lang-son agreement %d", public) {
			t.Errorf("the ministry's Get of the national %s: %v, %v", name, a.GetDisplayName(), err)
		}
	}
	check(mofa)

	// An operator's token made on the running node's store works at once.
	out, stderr, code := runCLI(t, bin, "", "", "token", "create", "--role", "viewer", "--label", "analyst", "--store", store)
	if code != 0 {
		t.Fatalf("token create beside the running node: exit %d: %s", code, stderr)
	}
	viewer := &process{grpcAddr: mofa.grpcAddr, token: strings.TrimSpace(out)}
	if got := counts(viewer); got["cao-bang"] != public+1 {
		t.Errorf("with the new token: %v", got)
	}

	// A second node on the same database is refused: one database, one writer.
	second := exec.Command(bin, "serve", "--member", "mofa", "--data", filepath.Join(dir, "mofa2"), "--store", store, "--dev",
		"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--key", filepath.Join(dir, "mofa.key"), "--manifest", manifest, "--tls-dir", filepath.Join(dir, "mofa"))
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			second.Process.Kill()
		}
	}()
	outErr, err := second.CombinedOutput()
	close(done)
	if err == nil || !strings.Contains(string(outErr), "another provex node is writing") {
		t.Fatalf("a second node on the ministry's database: %v, %s", err, outErr)
	}
	if u, _ := url.Parse(store); strings.Contains(string(outErr), store) || strings.Contains(string(outErr), u.User.String()+"@") {
		t.Errorf("the refusal repeats the store's URL and its password: %s", outErr)
	}

	// A restart on the same store keeps everything, and syncs on.
	mofa.stop(t, syscall.SIGTERM)
	mofa = serveMinistry()
	check(mofa)

	// So does one killed (kill -9, a crash) and started again at once: its
	// database session, and the writer's lock with it, ends with the
	// process's connection, not after some timeout.
	mofa.stop(t, syscall.SIGKILL)
	mofa = serveMinistry()
	check(mofa)
}
