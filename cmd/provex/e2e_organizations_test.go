package main

import (
	"strings"
	"testing"
)

// TestCLISummaryCountsDistinct seeds Cao Bằng's sample records and asks the
// CLI, as a table and as CSV, how many organisations fund its NGO-aid
// projects: 42 projects, 42 distinct organisations (issue 13 point 6), in
// the group and the total; a field that is not a string or enum is refused
// with its count_distinct violation and exit code 1.
func TestCLISummaryCountsDistinct(t *testing.T) {
	bin := buildBinary(t)
	p := startServe(t, bin, t.TempDir())
	if _, stderr, code := runCLI(t, bin, p.token, "", "seed", "--addr", p.grpcAddr); code != 0 {
		t.Fatalf("seed: exit %d, %s", code, stderr)
	}
	args := []string{"national", "summary", "projects", "--group-by", "kind", "--count-distinct", "organizations", "--filter", "kind = NGO_AID", "--addr", p.grpcAddr}
	out, stderr, code := runCLI(t, bin, p.token, "", append(args, "--csv")...)
	// Rows are padded to the freshness table's width; text is quoted
	// (national.WriteCSV).
	if code != 0 || !strings.HasPrefix(out, `"kind","count","distinct organizations",`) || !strings.Contains(out, "\n\"KIND_NGO_AID\",42,42,") ||
		!strings.Contains(out, "\n\"total\",42,42,") {
		t.Errorf("summary --csv: exit %d, want 42 NGOs funding 42 projects:\n%s%s", code, out, stderr)
	}
	out, stderr, code = runCLI(t, bin, p.token, "", args...)
	if code != 0 || !strings.Contains(out, "distinct organizations") || len(strings.Fields(lineOf(out, "KIND_NGO_AID"))) != 3 ||
		strings.Fields(lineOf(out, "KIND_NGO_AID"))[2] != "42" {
		t.Errorf("summary table: exit %d, %s%s", code, out, stderr)
	}
	_, stderr, code = runCLI(t, bin, p.token, "", "national", "summary", "projects", "--count-distinct", "approved_date", "--addr", p.grpcAddr)
	if code != 1 || !strings.Contains(stderr, "count_distinct[0]") {
		t.Errorf("count-distinct of a date: exit %d, %s", code, stderr)
	}
}

// lineOf returns the first line of out that starts with prefix.
func lineOf(out, prefix string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), prefix) {
			return l
		}
	}
	return ""
}
