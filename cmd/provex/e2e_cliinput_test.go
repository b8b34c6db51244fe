package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLITakesWhatItIsGivenOrSaysWhy: what an outside review gave the
// command line, which it ignored, cut or read otherwise than written.
// Each is now refused before anything is sent, with what to do, or taken
// as written. No node listens at 127.0.0.1:1: a refusal that reached for
// one would say UNAVAILABLE.
func TestCLITakesWhatItIsGivenOrSaysWhy(t *testing.T) {
	bin := buildBinary(t)
	const nowhere = "127.0.0.1:1"
	other := filepath.Join(t.TempDir(), "other.yaml")
	if err := os.WriteFile(other, []byte("name: provinces/cao-bang/agreements/mou-other\ndisplay_name: renamed\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"", []string{"national", "search", "nanning", "--addr", nowhere}, 2, `national search: unexpected argument "nanning": it takes flags only`},
		{"", []string{"national", "search", "--page-size", "4294967297", "--addr", nowhere}, 2, "want a whole number from 0 to 2147483647"},
		{"", []string{"list", "provinces/cao-bang/agreements", "--page-size", "-1", "--addr", nowhere}, 2, "want a whole number from 0 to 2147483647"},
		{"", []string{"national", "freshness", "extra", "--addr", nowhere}, 2, `unexpected argument "extra"`},
		{"", []string{"seed", "extra", "--addr", nowhere}, 2, `unexpected argument "extra"`},
		{"", []string{"sync", "status", "--manifest", "m.yaml", "--addr", nowhere}, 2, "--manifest and --nodes are for --all"},
		{"", []string{"get", "provinces/cao-bang/agreements/\xff", "--addr", nowhere}, 1, "INVALID_ARGUMENT: name is not valid UTF-8 text"},
		// A name of no known collection is a usage error, as an unknown
		// collection is to list (it was exit 1, after a dial).
		{"", []string{"get", "Provinces/cao-bang/agreements/x", "--addr", nowhere}, 2, `get: "Provinces/cao-bang/agreements/x" is not a resource name`},
		{"", []string{"delete", "provinces/cao-bang/treaties/x", "--addr", nowhere}, 2, `delete: "provinces/cao-bang/treaties/x" is not a resource name`},
		{"", []string{"undelete", "x", "--addr", nowhere}, 2, `undelete: "x" is not a resource name`},
		// A rate of NaN refused nothing (an outside review).
		{"", []string{"serve", "--member", "cao-bang", "--dev", "--rate-limit", "NaN"}, 2, "--rate-limit NaN: want calls a second"},
		{"", []string{"serve", "--member", "cao-bang", "--dev", "--rate-limit", "-1"}, 2, "--rate-limit -1: want calls a second"},
		// Arguments, and a flag taken for --peers' missing value, started
		// the node on the default addresses (outside reviews).
		{"", []string{"serve", "--member", "cao-bang", "--dev", "extra"}, 2, `serve: unexpected argument "extra"`},
		{"", []string{"serve", "--member", "cao-bang", "--peers", "--dev"}, 2, `--peers: "--dev" is not a member id`},
		{"", []string{}, 2, "Commands:"},
		{"", []string{"token", "list", "--member", "cao-bang", "--data", filepath.Join(t.TempDir(), "mistyped")}, 2, "flag provided but not defined: -member"},
		{"", []string{"list", "provinces/cao-bang/agreements", "--filter", "display_name = \"\xfe\"", "--addr", nowhere}, 1, "INVALID_ARGUMENT: filter is not valid UTF-8 text"},
		{"display_name: one\nkind: KIND_MOU\n---\ndisplay_name: two\nkind: KIND_MOU\n", []string{"create", "provinces/cao-bang/agreements", "-f", "-", "--addr", nowhere}, 1,
			"stdin is not one Agreement: holds more than one record"},
		{"", []string{"update", "provinces/cao-bang/agreements/dup-test", "-f", other, "--addr", nowhere}, 1,
			"names provinces/cao-bang/agreements/mou-other, and the command provinces/cao-bang/agreements/dup-test"},
	} {
		_, stderr, code := runCLI(t, bin, "", tc.stdin, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "UNAVAILABLE") {
			t.Errorf("provex %q: exit %d, %q; want exit %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
	_, stderr, code := runCLI(t, bin, "tok\nen", "", "get", "provinces/cao-bang/agreements/x", "--addr", nowhere)
	if code != 1 || !strings.Contains(stderr, `PROVEX_TOKEN holds "\n" at byte 3`) {
		t.Errorf("a token with a line break: exit %d, %q", code, stderr)
	}

	// Against a node: text stays text, as written.
	p := startServe(t, bin, t.TempDir())
	out, stderr, code := runCLI(t, bin, p.token, "display_name: yes\nkind: KIND_MOU\npartner_countries: [NO]\n",
		"create", "provinces/cao-bang/agreements", "-f", "-", "--id", "norway", "--addr", p.grpcAddr)
	if code != 0 || jsonField(t, out, "display_name") != "yes" || !strings.Contains(out, `"NO"`) {
		t.Fatalf("create with YAML 1.1's booleans: exit %d, out %q, err %q", code, out, stderr)
	}
}
