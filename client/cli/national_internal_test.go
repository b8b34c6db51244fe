package cli

import (
	"bytes"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
)

// TestSummaryPrintsFreshness: the summary's table and its CSV both carry
// each province's freshness, a stale province flagged.
func TestSummaryPrintsFreshness(t *testing.T) {
	zero := int64(0)
	resp := &nationalv1.SummarizeResponse{
		GroupBy: []string{"province"},
		Groups:  []*nationalv1.Group{{Keys: []string{"cao-bang"}, Count: 2, Sums: []*nationalv1.Sum{{Field: "member_count", Value: &zero}}}},
		Total:   &nationalv1.Group{Count: 2, Sums: []*nationalv1.Sum{{Field: "member_count", Value: &zero}}},
		Freshness: []*nationalv1.ProvinceFreshness{
			{Province: "cao-bang", Seq: 7, LastChangeTime: timestamppb.New(testTime)},
			{Province: "nghe-an", Seq: 3, LastChangeTime: timestamppb.New(testTime.AddDate(0, 0, -3)), Stale: true},
		},
	}
	for _, asCSV := range []bool{false, true} {
		var out bytes.Buffer
		if err := printSummary(&out, resp, asCSV); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(out.String(), "\n")
		var stale, fresh bool
		for _, l := range lines {
			f := strings.FieldsFunc(l, func(r rune) bool { return r == ',' || r == ' ' })
			// No contact time: an empty cell, so four fields.
			if len(f) == 4 && f[0] == "nghe-an" && f[2] == "2026-11-22T00:00:00Z" && f[3] == "true" {
				stale = true
			}
			if len(f) == 4 && f[0] == "cao-bang" && f[3] == "false" {
				fresh = true
			}
		}
		if !stale || !fresh || !strings.Contains(out.String(), "last_contact_time") || !strings.Contains(out.String(), "member_count") {
			t.Errorf("csv=%v: freshness missing or wrong:\n%s", asCSV, out.String())
		}
	}
}
