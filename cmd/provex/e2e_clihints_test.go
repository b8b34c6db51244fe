package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/provex/provex/federation"
)

// TestCLIRefusalsSayWhatToChange: the CLI's user sets PROVEX_TOKEN and
// --addr, not headers and endpoints: a refusal or a wrong address is
// followed by what to change, in those words. Without a token the CLI said
// to send 'authorization: Bearer <token>'; --addr at a node's peer
// endpoint said "tls: certificate required", at its HTTP listener
// "unexpected HTTP status code received from server: 404" (an outside
// review).
func TestCLIRefusalsSayWhatToChange(t *testing.T) {
	f := newLineFederation(t, []string{"cao-bang", "lang-son"})
	t.Setenv("PROVEX_CA", f.ca)
	node := f.procs["cao-bang"]
	m, err := federation.LoadManifest(f.manifest)
	if err != nil {
		t.Fatal(err)
	}
	self, _ := m.Member("cao-bang")
	const name = "provinces/cao-bang/agreements/none"
	viewer := strings.TrimSpace(cliOK(t, f.bin, "token", "create", "--role", "viewer", "--data", filepath.Join(f.dir, "cao-bang"), "--member", "cao-bang"))

	for _, c := range []struct {
		what, token string
		args        []string
		want        []string
	}{
		{"no PROVEX_TOKEN", "", []string{"get", name, "--addr", node.grpcAddr},
			[]string{"UNAUTHENTICATED", "set PROVEX_TOKEN to a token of this node"}},
		{"a viewer's token writing", viewer, []string{"delete", name, "--addr", node.grpcAddr},
			[]string{"PERMISSION_DENIED", "needs an editor or admin token", "set PROVEX_TOKEN to such a token of this node: provex token create --role editor makes one there"}},
		{"--addr at the peer endpoint", node.token, []string{"get", name, "--addr", self.Address},
			[]string{"UNAVAILABLE", "a node's peer endpoint, for sync between nodes: give the node's gRPC address"}},
		{"--addr at the HTTP listener", node.token, []string{"get", name, "--addr", node.httpAddr},
			[]string{"UNIMPLEMENTED", "that address answers HTTP, not gRPC: give the node's gRPC address"}},
	} {
		_, stderr, code := runCLI(t, f.bin, c.token, "", c.args...)
		t.Logf("%s: %s", c.what, stderr)
		for _, w := range c.want {
			if code != 1 || !strings.Contains(stderr, w) {
				t.Errorf("%s: exit %d, %q; want 1 saying %q", c.what, code, stderr, w)
			}
		}
	}
}

// cliOK runs the binary without a token and returns its output, failing
// the test unless it exits 0.
func cliOK(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, stderr, code := runCLI(t, bin, "", "", args...)
	if code != 0 {
		t.Fatalf("provex %s: exit %d: %s", strings.Join(args, " "), code, stderr)
	}
	return out
}
