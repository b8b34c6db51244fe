package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/provex/provex/client"
	"github.com/provex/provex/federation"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/freeport"
)

// lineFederation is a federation made with the CLI as an operator would
// (ca init, keygen, ca issue, token create), whose nodes run as separate
// processes with TLS on every port, each pulling only from the members
// peersOf names: its neighbours in members' order, for a line.
type lineFederation struct {
	bin, dir, manifest, ca string
	members                []string
	procs                  map[string]*process
	clients                map[string]*client.Client
	// args are each node's serve command, on fixed addresses, to start it
	// again (restart).
	args map[string][]string
}

func newLineFederation(t *testing.T, members []string) *lineFederation {
	t.Helper()
	return newFederation(t, members, func(i int) []string {
		var peers []string
		if i > 0 {
			peers = append(peers, members[i-1])
		}
		if i+1 < len(members) {
			peers = append(peers, members[i+1])
		}
		return peers
	})
}

func newFederation(t *testing.T, members []string, peersOf func(i int) []string) *lineFederation {
	t.Helper()
	f := &lineFederation{bin: buildBinary(t), dir: t.TempDir(), members: members, procs: map[string]*process{}, clients: map[string]*client.Client{},
		args: map[string][]string{}}
	cli := func(args ...string) string {
		t.Helper()
		out, stderr, code := runCLI(t, f.bin, "", "", args...)
		if code != 0 {
			t.Fatalf("provex %s: exit %d: %s", strings.Join(args, " "), code, stderr)
		}
		return out
	}
	caBlock := cli("ca", "init", "--dir", filepath.Join(f.dir, "ca"))
	f.ca = filepath.Join(f.dir, "ca", "ca.pem")
	// Peer endpoints, then the API's and the metrics' listeners.
	addrs, err := freeport.Addrs(3 * len(members))
	if err != nil {
		t.Fatal(err)
	}
	var manifest strings.Builder
	now := time.Now().UTC().Truncate(time.Second)
	fmt.Fprintf(&manifest, "version: 1\nissued: %s\nexpires: %s\nmembers:\n", now.Format(time.RFC3339), now.AddDate(1, 0, 0).Format(time.RFC3339))
	for i, m := range members {
		manifest.WriteString(cli("keygen", "--out", filepath.Join(f.dir, m+".key"), "--member", m, "--address", addrs[i]))
		cli("ca", "issue", "--ca-dir", filepath.Join(f.dir, "ca"), "--member", m, "--out", filepath.Join(f.dir, m))
	}
	manifest.WriteString(caBlock)
	f.manifest = filepath.Join(f.dir, "manifest.yaml")
	parsed, err := federation.ParseManifest([]byte(manifest.String()))
	if err != nil {
		t.Fatal(err)
	}
	writeSignedManifest(t, parsed, f.manifest)
	// The nodes file of the convergence check: half the entries name the
	// CA, the others take it from PROVEX_CA.
	var nodes strings.Builder
	for i, m := range members {
		data := filepath.Join(f.dir, m)
		token := adminToken(t, f.bin, data, m)
		if err := os.WriteFile(filepath.Join(f.dir, m+".token"), []byte(token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		f.args[m] = []string{"serve", "--member", m, "--data", data, "--grpc-addr", addrs[len(members)+i], "--http-addr", "127.0.0.1:0",
			"--metrics-addr", addrs[2*len(members)+i],
			"--manifest", f.manifest, "--key", filepath.Join(f.dir, m+".key"), "--peers", strings.Join(peersOf(i), ","), "--sync-interval", "500ms",
			"--rate-limit", "100000"}
		p := startProcess(t, f.bin, f.args[m]...)
		p.token = token
		f.procs[m] = p
		caPEM, err := os.ReadFile(f.ca)
		if err != nil {
			t.Fatal(err)
		}
		tlsOpt, err := client.WithCA(caPEM)
		if err != nil {
			t.Fatal(err)
		}
		c, err := client.Dial(p.grpcAddr, client.WithToken(token), tlsOpt)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		f.clients[m] = c
		fmt.Fprintf(&nodes, "- member: %s\n  addr: %s\n  token_file: %s.token\n", m, p.grpcAddr, m)
		if i%2 == 0 {
			nodes.WriteString("  ca_file: ca/ca.pem\n")
		}
	}
	if err := os.WriteFile(filepath.Join(f.dir, "nodes.yaml"), []byte(nodes.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// restart starts a member's node again, stopped or killed, on the same
// data directory and addresses.
func (f *lineFederation) restart(t *testing.T, member string) {
	t.Helper()
	token := f.procs[member].token
	f.procs[member] = startProcess(t, f.bin, f.args[member]...)
	f.procs[member].token = token
}

// waitConverged waits until the convergence check exits 0 saying so.
func (f *lineFederation) waitConverged(t *testing.T, within time.Duration, when string) {
	t.Helper()
	var out string
	waitFor(t, within, func() (bool, string) {
		var code int
		out, code = f.status(t)
		return code == 0, when + ": " + out
	})
	if !strings.Contains(out, "converged: yes") {
		t.Errorf("%s: sync status --all:\n%s", when, out)
	}
}

// status runs the convergence check as an operator would.
func (f *lineFederation) status(t *testing.T) (string, int) {
	t.Helper()
	cmd := []string{"sync", "status", "--all", "--manifest", f.manifest, "--nodes", filepath.Join(f.dir, "nodes.yaml")}
	t.Setenv("PROVEX_CA", f.ca)
	out, stderr, code := runCLI(t, f.bin, "", "", cmd...)
	return out + stderr, code
}

func (f *lineFederation) get(t *testing.T, member, name string) (*twinningv1.Agreement, codes.Code) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a, err := f.clients[member].Twinning.GetAgreement(ctx, &twinningv1.GetAgreementRequest{Name: name})
	return a, status.Code(err)
}

// holds reports which needles are in any file of a member's data directory.
func (f *lineFederation) holds(t *testing.T, member string, needles map[string][]byte) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(filepath.Join(f.dir, member), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for what, needle := range needles {
			if bytes.Contains(data, needle) {
				found = append(found, what+" in "+filepath.Base(path))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func waitFor(t *testing.T, within time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestLineFederationDeliversSealedRecords is the line of issue 9, run as six
// processes over mutual TLS: cao-bang - lang-son - nghe-an - lao-cai -
// dien-bien - mofa, each pulling only from its neighbours. A record of
// cao-bang restricted to nghe-an reaches nghe-an and, through four
// provinces that may not read it, the ministry; a national record reaches
// the ministry; a public record made national with a new text leaves the
// provinces that held it. The nodes in between hold only sealed bytes: the
// test searches their files for the text and for the states' hashes. The
// convergence check, against the TLS APIs, agrees, and says no while a node
// is down; provex verify and provex audit verify pass on a relay's files.
func TestLineFederationDeliversSealedRecords(t *testing.T) {
	members := []string{"cao-bang", "lang-son", "nghe-an", "lao-cai", "dien-bien", "mofa"}
	f := newLineFederation(t, members)
	origin := f.clients["cao-bang"]
	ctx := context.Background()
	create := func(id, text string, v typev1.Visibility, to ...string) *twinningv1.Agreement {
		t.Helper()
		a, err := origin.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: "provinces/cao-bang", AgreementId: id,
			Agreement: &twinningv1.Agreement{DisplayName: id, Summary: text, Kind: twinningv1.Agreement_KIND_MOU, Visibility: v, VisibleTo: to}})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	restricted := create("for-nghe-an", "RESTRICTED-7731 border patrol schedule", typev1.Visibility_VISIBILITY_RESTRICTED, "nghe-an")
	national := create("national-note", "NATIONAL-4410 draft position", typev1.Visibility_VISIBILITY_NATIONAL)
	watched := create("marker-watch", "marker 108/3 condition good", typev1.Visibility_VISIBILITY_PUBLIC)
	waitFor(t, 20*time.Second, func() (bool, string) {
		_, code := f.get(t, "dien-bien", watched.GetName())
		return code == codes.OK, "the public record has not reached dien-bien"
	})
	changed, err := origin.Twinning.UpdateAgreement(ctx, &twinningv1.UpdateAgreementRequest{
		Agreement:  &twinningv1.Agreement{Name: watched.GetName(), Summary: "LANDSLIDE-9020 marker 108/3 destroyed", Visibility: typev1.Visibility_VISIBILITY_NATIONAL},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"summary", "visibility"}},
	})
	if err != nil {
		t.Fatal(err)
	}

	readable := map[string][]*twinningv1.Agreement{
		"nghe-an": {restricted},
		"mofa":    {restricted, national, changed},
	}
	waitFor(t, 30*time.Second, func() (bool, string) {
		for m, recs := range readable {
			for _, r := range recs {
				got, code := f.get(t, m, r.GetName())
				if code != codes.OK || !proto.Equal(got, r) {
					return false, fmt.Sprintf("%s: %s is %v", m, r.GetName(), code)
				}
			}
		}
		return true, ""
	})
	for _, m := range members[1:] {
		for _, r := range []*twinningv1.Agreement{restricted, national, changed} {
			want := codes.NotFound
			for _, ok := range readable[m] {
				if ok.GetName() == r.GetName() {
					want = codes.OK
				}
			}
			if _, code := f.get(t, m, r.GetName()); code != want {
				t.Errorf("%s: Get %s: %v, want %v", m, r.GetName(), code, want)
			}
		}
	}
	f.waitConverged(t, 20*time.Second, "")

	// A node down: the check says no, and exits non-zero.
	f.procs["lao-cai"].stop(t, syscall.SIGTERM)
	if out, code := f.status(t); code == 0 || !strings.Contains(out, "lao-cai unreachable") || !strings.Contains(out, "converged: no") {
		t.Errorf("sync status --all with lao-cai down: exit %d\n%s", code, out)
	}
	for _, m := range members {
		if m != "lao-cai" {
			f.procs[m].stop(t, syscall.SIGTERM)
		}
	}

	// What the relays' disks hold: no text, no state, no state hash of
	// what they may not read.
	needles := map[string][]byte{}
	for _, r := range []*twinningv1.Agreement{restricted, national, changed} {
		state, err := proto.MarshalOptions{Deterministic: true}.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(state)
		needles[r.GetDisplayName()+" state"] = state
		needles[r.GetDisplayName()+" state hash"] = sum[:]
	}
	needles["restricted text"] = []byte("RESTRICTED-7731")
	needles["national text"] = []byte("NATIONAL-4410")
	needles["changed text"] = []byte("LANDSLIDE-9020")
	for _, m := range []string{"lang-son", "lao-cai", "dien-bien"} {
		if found := f.holds(t, m, needles); len(found) > 0 {
			t.Errorf("%s, a relay, holds %v", m, found)
		}
	}
	if found := f.holds(t, "nghe-an", map[string][]byte{"national text": needles["national text"], "changed text": needles["changed text"]}); len(found) > 0 {
		t.Errorf("nghe-an holds %v", found)
	}

	for _, args := range [][]string{
		{"verify", "--data", filepath.Join(f.dir, "lao-cai"), "--manifest", f.manifest},
		{"audit", "verify", "--data", filepath.Join(f.dir, "lao-cai"), "--key", filepath.Join(f.dir, "lao-cai.key")},
	} {
		out, stderr, code := runCLI(t, f.bin, "", "", args...)
		if code != 0 || strings.Contains(out, "PROBLEM") {
			t.Errorf("provex %s: exit %d\n%s%s", strings.Join(args, " "), code, out, stderr)
		}
	}
	// One byte of a stored entry changed on the relay's disk: provex
	// verify says which and exits 1.
	raw, err := sql.Open("sqlite3", "file:"+filepath.Join(f.dir, "lao-cai", "provex.db"))
	if err != nil {
		t.Fatal(err)
	}
	var data []byte
	if err := raw.QueryRow("SELECT data FROM changes WHERE origin = 'cao-bang' AND seq = 2").Scan(&data); err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 1
	if _, err := raw.Exec("UPDATE changes SET data = ? WHERE origin = 'cao-bang' AND seq = 2", data); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	out, _, code := runCLI(t, f.bin, "", "", "verify", "--data", filepath.Join(f.dir, "lao-cai"), "--manifest", f.manifest)
	if code != 1 || !strings.Contains(out, "PROBLEM: cao-bang: entries cao-bang/2 damaged") {
		t.Errorf("provex verify of a changed byte: exit %d\n%s", code, out)
	}
	// A member rotates its encryption key: the key file keeps the old one
	// and the command prints the manifest line to change.
	out, stderr, code := runCLI(t, f.bin, "", "", "keygen", "--rotate-encryption", filepath.Join(f.dir, "nghe-an.key"))
	if code != 0 || !strings.HasPrefix(out, "    encryption_key: ") || !strings.Contains(stderr, "the 1 older ones stay") {
		t.Errorf("keygen --rotate-encryption: exit %d\n%s%s", code, out, stderr)
	}
}
