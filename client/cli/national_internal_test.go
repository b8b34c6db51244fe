package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc"
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

// pagedNational serves a summary of groups in pages of two, as a node does
// when they do not fit one answer.
type pagedNational struct {
	nationalv1.UnimplementedNationalServiceServer
	groups []string
}

func (p *pagedNational) Summarize(_ context.Context, req *nationalv1.SummarizeRequest) (*nationalv1.SummarizeResponse, error) {
	start := 0
	if req.GetPageToken() != "" {
		fmt.Sscan(req.GetPageToken(), &start)
	}
	end := min(start+2, len(p.groups))
	resp := &nationalv1.SummarizeResponse{GroupBy: []string{"investor"}, Total: &nationalv1.Group{Count: int64(len(p.groups))}}
	for _, g := range p.groups[start:end] {
		resp.Groups = append(resp.Groups, &nationalv1.Group{Keys: []string{g}, Count: 1})
	}
	if end < len(p.groups) {
		resp.NextPageToken = fmt.Sprint(end)
	}
	return resp, nil
}

// TestSummaryReadsEveryPage: national summary prints the groups of every
// page the node answers in, from a gRPC server on loopback.
func TestSummaryReadsEveryPage(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	nodeGroups := []string{"alpha", "bravo", "charlie", "delta", "echo"}
	nationalv1.RegisterNationalServiceServer(srv, &pagedNational{groups: nodeGroups})
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	t.Setenv("PROVEX_TOKEN", "")
	var out, errOut bytes.Buffer
	if err := runNationalSummary(context.Background(), &Env{Stdout: &out, Stderr: &errOut}, []string{"projects", "--group-by", "investor", "--addr", lis.Addr().String()}); err != nil {
		t.Fatalf("national summary: %v %s", err, errOut.String())
	}
	for _, g := range nodeGroups {
		if !strings.Contains(out.String(), g) {
			t.Errorf("group %s of the node's pages is not printed:\n%s", g, out.String())
		}
	}
}
