package main

import (
	"strings"
	"testing"
)

// TestSeedAfterTheSampleChangedKeepsWhatTheNodeHolds: a demo directory kept
// across an upgrade holds records an older provex seeded from its own
// version of the sample, each under the request id "seed:NAME". Seeding
// again sent the new sample's content under the same id, the node refused
// it as a reused request id (INVALID_ARGUMENT), and `provex demo` stopped
// (found by running the demo of a974bf2, then this one, on one directory).
// Seeding now adds what the node lacks and leaves what it holds as it is.
func TestSeedAfterTheSampleChangedKeepsWhatTheNodeHolds(t *testing.T) {
	bin := buildBinary(t)
	p := startServe(t, bin, t.TempDir())

	// As the older provex's seed wrote Baise: its own content, its old request id.
	older := "display_name: Cao Bằng – Baise City (older sample)\nlocal_unit: {level: LOCAL_LEVEL_PROVINCE, name: Cao Bằng province}\n" +
		"partner: {name: Baise City, country_code: CN, level: city}\nkind: KIND_FRIENDSHIP_COOPERATION\n"
	out, stderr, code := runCLI(t, bin, p.token, older, "create", "provinces/cao-bang/partnerships", "-f", "-", "--id", "baise",
		"--request-id", "seed:provinces/cao-bang/partnerships/baise", "--addr", p.grpcAddr)
	if code != 0 {
		t.Fatalf("create as the older seed did: exit %d, out %q, err %q", code, out, stderr)
	}
	for range 2 {
		out, stderr, code = runCLI(t, bin, p.token, "", "seed", "--addr", p.grpcAddr)
		if code != 0 || !strings.Contains(out, "loaded 546 sample records of cao-bang") {
			t.Fatalf("seed: exit %d, out %q, err %q", code, out, stderr)
		}
	}
	out, stderr, code = runCLI(t, bin, p.token, "", "get", "provinces/cao-bang/partnerships/baise", "--addr", p.grpcAddr)
	if code != 0 || jsonField(t, out, "display_name") != "Cao Bằng – Baise City (older sample)" {
		t.Fatalf("the record the node held: exit %d, out %q, err %q", code, out, stderr)
	}
	if n := len(snapshot(t, p)); n != 546 {
		t.Fatalf("%d records after seeding, want the sample's 546", n)
	}
}
