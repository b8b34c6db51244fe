package cli

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"slices"
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
		var rows [][]string
		if asCSV {
			r := csv.NewReader(&out)
			r.FieldsPerRecord = -1
			all, err := r.ReadAll()
			if err != nil {
				t.Fatalf("csv: %v", err)
			}
			for _, row := range all {
				rows = append(rows, slices.DeleteFunc(row, func(c string) bool { return c == "" }))
			}
		} else {
			for _, l := range strings.Split(out.String(), "\n") {
				rows = append(rows, strings.Fields(l))
			}
		}
		var stale, fresh bool
		for _, f := range rows {
			// No contact time: an empty cell, so four fields.
			if len(f) == 4 && f[0] == "nghe-an" && f[2] == "2026-11-22T00:00:00Z" && f[3] == "true" {
				stale = true
			}
			if len(f) == 4 && f[0] == "cao-bang" && f[3] == "false" {
				fresh = true
			}
		}
		if !stale || !fresh || !strings.Contains(fmt.Sprint(rows), "last_contact_time") || !strings.Contains(fmt.Sprint(rows), "member_count") {
			t.Errorf("csv=%v: freshness missing or wrong: %q", asCSV, rows)
		}
	}
}

// TestSummaryCSVEscapesFormulas: the CLI's --csv escapes text a
// spreadsheet would run as a formula, as summary.csv does (THREATS A16).
func TestSummaryCSVEscapesFormulas(t *testing.T) {
	zero := int64(0)
	resp := &nationalv1.SummarizeResponse{
		GroupBy: []string{"display_name"},
		Groups:  []*nationalv1.Group{{Keys: []string{`=HYPERLINK("http://x";"a,b")`}, Count: 1, Sums: []*nationalv1.Sum{{Field: "member_count", Value: &zero}}}},
		Total:   &nationalv1.Group{Count: 1, Sums: []*nationalv1.Sum{{Field: "member_count", Value: &zero}}},
	}
	var out bytes.Buffer
	if err := printSummary(&out, resp, true); err != nil {
		t.Fatal(err)
	}
	if want := `"'=HYPERLINK(""http://x"";""a,b"")",1,0`; !strings.Contains(out.String(), want) {
		t.Errorf("--csv:\n%s\nwant a row %s", out.String(), want)
	}
}
