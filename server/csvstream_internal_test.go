package server

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	investmentv1 "github.com/provex/provex/gen/go/provex/investment/v1"
	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/services/collection"
	"github.com/provex/provex/services/national"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

// nationalPages is a NationalService client that calls a real national
// server, each page of a summary after before (given the page's number).
type nationalPages struct {
	nationalv1.NationalServiceClient
	srv    *national.Server
	before func(ctx context.Context, page int) error
	pages  int
}

func (c *nationalPages) Summarize(ctx context.Context, req *nationalv1.SummarizeRequest, _ ...grpc.CallOption) (*nationalv1.SummarizeResponse, error) {
	c.pages++
	if err := c.before(ctx, c.pages); err != nil {
		return nil, err
	}
	return c.srv.Summarize(ctx, proto.CloneOf(req))
}

// TestSummaryCSVStreamsItsPages: summary.csv writes each page's rows
// before it asks for the next, so the node holds a page of groups, not
// every group (it held them all, 968 MB in an outside review), and its file
// is the summary's Report as the CLI writes it. When the pages outlast the
// HTTP write timeout, which dropped the reply without a word: before the
// first row it answers 504, after it the reply is cut off (the handler
// aborts), logged and counted as a refusal of limit write_time.
func TestSummaryCSVStreamsItsPages(t *testing.T) {
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "provex.db"), "cao-bang", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := range 25 {
		name := fmt.Sprintf("provinces/cao-bang/projects/p%02d", i)
		m := &investmentv1.Project{Name: name, DisplayName: name, Investor: fmt.Sprintf("investor %02d", i)}
		if _, err := db.Write(ctx, storage.Write{Kind: resource.Projects, Name: name, Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
			return m, nil
		}}); err != nil {
			t.Fatal(err)
		}
	}
	srv := national.New(&collection.Node{Store: db}, func(context.Context) ([]*nationalv1.ProvinceFreshness, error) { return nil, nil }, 4<<20)
	var logs bytes.Buffer
	errs := &httpErrors{log: slog.New(slog.NewJSONHandler(&logs, nil)), marshaler: &runtime.JSONPb{}}
	errs.mux = runtime.NewServeMux(runtime.WithErrorHandler(errs.handle))
	var refused []string
	serve := func(writeTimeout time.Duration, before func(ctx context.Context, page int, body string) error) (w *httptest.ResponseRecorder, aborted bool) {
		t.Helper()
		w = httptest.NewRecorder()
		client := &nationalPages{srv: srv}
		client.before = func(ctx context.Context, page int) error { return before(ctx, page, w.Body.String()) }
		h := summaryCSV(client, errs, csvLimits{pageSize: 10, writeTimeout: writeTimeout, refused: func(l string) { refused = append(refused, l) }})
		defer func() {
			if p := recover(); p != nil {
				if p != http.ErrAbortHandler {
					panic(p)
				}
				aborted = true
			}
		}()
		r := httptest.NewRequest("GET", "/v1/national/projects/summary.csv?group_by=investor", nil)
		r.SetPathValue("collection", "projects")
		h.ServeHTTP(w, r)
		return w, false
	}

	w, aborted := serve(time.Minute, func(_ context.Context, page int, body string) error {
		if rows := strings.Count(body, `"investor `); rows != 10*(page-1) {
			t.Errorf("asking for page %d, the file holds %d groups, want the %d of the pages before", page, rows, 10*(page-1))
		}
		return nil
	})
	whole, err := srv.Summarize(ctx, &nationalv1.SummarizeRequest{Collection: "projects", GroupBy: []string{"investor"}})
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	national.WriteCSV(&want, national.Report(whole))
	if aborted || w.Code != http.StatusOK || w.Body.String() != want.String() {
		t.Errorf("summary.csv in 3 pages: HTTP %d, aborted %v:\n%s\nwant the Report of the whole summary:\n%s", w.Code, aborted, w.Body, want.String())
	}

	// Out of time on its first page: an error answered.
	untilTheDeadline := func(at int) func(context.Context, int, string) error {
		return func(ctx context.Context, page int, _ string) error {
			if page < at {
				return nil
			}
			<-ctx.Done()
			return status.FromContextError(ctx.Err()).Err()
		}
	}
	w, aborted = serve(100*time.Millisecond, untilTheDeadline(1))
	if aborted || w.Code != http.StatusGatewayTimeout || !strings.Contains(w.Body.String(), "deadline") {
		t.Errorf("out of time before the first row: HTTP %d, aborted %v, %s; want 504 saying so", w.Code, aborted, w.Body)
	}
	if len(refused) != 0 {
		t.Errorf("an answered error counted as a reply cut off: %v", refused)
	}
	// Out of time on its second: cut off, logged and counted.
	logs.Reset()
	w, aborted = serve(100*time.Millisecond, untilTheDeadline(2))
	if !aborted || !strings.Contains(w.Body.String(), `"investor 09"`) || strings.Contains(w.Body.String(), "total") {
		t.Errorf("out of time after the first rows: aborted %v, %s; want the first page's rows, then the reply cut off", aborted, w.Body)
	}
	if !strings.Contains(logs.String(), "summary.csv cut off") || !strings.Contains(logs.String(), `"past_write_time":true`) {
		t.Errorf("log %s: want a line saying the file was cut off past its write time", logs.String())
	}
	if strings.Join(refused, " ") != limitWriteTime {
		t.Errorf("refusals counted %v, want one of %s", refused, limitWriteTime)
	}
}
