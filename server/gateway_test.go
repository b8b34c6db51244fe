package server_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	auditv1 "github.com/provex/provex/gen/go/provex/audit/v1"
	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/server"
)

// TestGatewayCallsInProcess: an HTTP call reaches the services through the
// interceptors (its log line has the HTTP request's id and the method) with
// the HTTP client's address as its peer, not over a second gRPC connection
// (which would come from the node's own loopback address).
func TestGatewayCallsInProcess(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	tn := startSecNode(t, "cao-bang", func(c *server.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	req, err := http.NewRequest("GET", tn.BaseURL+"/v1/provinces/cao-bang/agreements/missing", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tn.Token)
	req.Header.Set("X-Request-Id", "gateway-call-1")
	req.Header.Set("Grpc-Metadata-X-Request-Id", "smuggled")
	resp, err := httpFrom("127.0.0.4").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wantHTTPError(t, "GET a missing record", resp, body, http.StatusNotFound, int(codes.NotFound))
	lines := logs.linesWith("gateway-call-1")
	if len(lines) != 1 || lines[0]["method"] != twinningv1.TwinningService_GetAgreement_FullMethodName || lines[0]["code"] != "NotFound" {
		t.Fatalf("log lines of the call: %v, want one of GetAgreement, NotFound", lines)
	}
	if peer, _ := lines[0]["peer"].(string); !strings.HasPrefix(peer, "127.0.0.4:") {
		t.Errorf("the call's peer is %q, want the HTTP client's address 127.0.0.4:port", peer)
	}
	if smuggled := logs.linesWith("smuggled"); len(smuggled) != 0 {
		t.Errorf("the id in Grpc-Metadata-X-Request-Id reached the call: %v", smuggled)
	}
}

// TestGatewayLimits: what the gRPC server's options bound, the gateway
// bounds alike: List and audit pages are cut before MaxMessageBytes, a
// summary's groups are paged, and a call gets CallTimeout as its deadline.
func TestGatewayLimits(t *testing.T) {
	t.Parallel()
	t.Run("response size", func(t *testing.T) {
		t.Parallel()
		const limit = 8 << 10
		tn := startSecNode(t, "cao-bang", func(c *server.Config) { c.Limits.MaxMessageBytes = limit })
		ctx := testCtx(t)
		for i := 0; i < 40; i++ {
			a := &twinningv1.Agreement{DisplayName: fmt.Sprintf("agreement %d %s", i, strings.Repeat("d", 250)), Kind: twinningv1.Agreement_KIND_MOU, Summary: strings.Repeat("s", 1000)}
			if _, err := tn.Client.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: "provinces/cao-bang", AgreementId: fmt.Sprintf("a%d", i), Agreement: a}); err != nil {
				t.Fatalf("create %d: %v", i, err)
			}
		}
		// 40 KB of records at a limit of 8 KiB: the page ends before it.
		list, err := tn.Client.Twinning.ListAgreements(ctx, &twinningv1.ListAgreementsRequest{Parent: "provinces/cao-bang", PageSize: 50})
		if err != nil || len(list.GetAgreements()) >= 8 || list.GetNextPageToken() == "" {
			t.Fatalf("gRPC List of 40 KB at a limit of 8 KiB: %d records, next %q, %v; want a page cut under the limit", len(list.GetAgreements()), list.GetNextPageToken(), err)
		}
		resp, body := tn.httpDo(t, "GET", "/v1/provinces/cao-bang/agreements?page_size=50", "", nil)
		wantOK(t, "HTTP List of 40 KB at a limit of 8 KiB", resp, body)
		// 40 audit records of about 450 bytes each: cut like a List page.
		entries, err := auditv1.NewAuditServiceClient(tn.Conn()).ListAuditEntries(ctx, &auditv1.ListAuditEntriesRequest{PageSize: 1000})
		if err != nil || len(entries.GetEntries()) >= 40 || entries.GetNextPageToken() == "" {
			t.Fatalf("gRPC audit entries of 18 KB at a limit of 8 KiB: %d entries, next %q, %v; want a page cut under the limit", len(entries.GetEntries()), entries.GetNextPageToken(), err)
		}
		// 40 groups of about 280 bytes each: not in one answer, refused
		// as such rather than sent in part; in pages with a page_size.
		national := nationalv1.NewNationalServiceClient(tn.Conn())
		_, err = national.Summarize(ctx, &nationalv1.SummarizeRequest{Collection: "agreements", GroupBy: []string{"display_name"}})
		if codeOf(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "page_size") {
			t.Fatalf("gRPC summary over 8 KiB: %v, want INVALID_ARGUMENT on page_size", err)
		}
		resp, body = tn.httpDo(t, "GET", "/v1/national/agreements:summarize?group_by=display_name", "", nil)
		wantHTTPError(t, "HTTP summary over 8 KiB", resp, body, http.StatusBadRequest, int(codes.InvalidArgument))
		groups, pages := 0, 0
		for token := "start"; token != ""; pages++ {
			if token == "start" {
				token = ""
			}
			page, err := national.Summarize(ctx, &nationalv1.SummarizeRequest{Collection: "agreements", GroupBy: []string{"display_name"}, PageSize: 1000, PageToken: token})
			if err != nil {
				t.Fatalf("summary page %d: %v", pages+1, err)
			}
			groups += len(page.GetGroups())
			token = page.GetNextPageToken()
		}
		if groups != 40 || pages < 2 {
			t.Errorf("summary in pages: %d groups in %d pages, want 40 in several", groups, pages)
		}
		// A file has no message size: summary.csv holds every group.
		resp, body = tn.httpDo(t, "GET", "/v1/national/agreements/summary.csv?group_by=display_name", "", nil)
		wantOK(t, "summary.csv of 40 groups over 8 KiB", resp, body)
		if n := strings.Count(string(body), `"agreement `); n != 40 {
			t.Errorf("summary.csv: %d groups, want 40:\n%s", n, body)
		}
		resp, body = tn.httpDo(t, "GET", "/v1/national/agreements:summarize?group_by=kind", "", nil)
		wantOK(t, "HTTP summary by kind", resp, body)
	})
	t.Run("deadline", func(t *testing.T) {
		t.Parallel()
		// A deadline already past when the call starts: the store refuses.
		tn := startSecNode(t, "cao-bang", func(c *server.Config) { c.Limits.CallTimeout = time.Nanosecond })
		resp, body := tn.httpDo(t, "GET", "/v1/provinces/cao-bang/agreements/a1", "", nil)
		wantHTTPError(t, "HTTP Get with CallTimeout 1ns", resp, body, http.StatusGatewayTimeout, int(codes.DeadlineExceeded))
	})
}
