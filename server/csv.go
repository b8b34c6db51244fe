package server

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/provex/provex/auth"
	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/services/national"
)

// summaryCSV serves NationalService.Summarize as CSV for spreadsheets:
// GET /v1/national/{collection}/summary.csv?group_by=province&group_by=signed_date.year&sum=...&count_distinct=...&filter=...
// group_by, sum and count_distinct may also be comma-separated. The call goes through the
// gRPC server, so it passes the same interceptors as every other call.
// Rows as national.Report lays them out (the summary's table, an empty row,
// then each province's freshness with its stale flag), text cells quoted
// and escaped (national.WriteCSV), written a page of groups at a time as
// the pages arrive (national.ReportWriter): a file has no message size,
// and holds every group, but the node holds a page of them.
//
// The HTTP server drops a reply still being written at its write timeout
// (Limits.WriteTimeout), with neither a status nor a word: the pages are
// read within the timeout less a tenth (csvDeadline), so that time running
// out before the first row is answered as an error (504), and after it
// ends the reply as HTTP allows once its status is sent: cut off before
// its end (HTTP/1.1: no last chunk, so clients report the transfer
// incomplete, curl with exit code 18; HTTP/2: the stream reset), logged,
// and counted in provex_rate_limit_refusals_total{limit="write_time"}.
// Any other error after the first row ends it alike, logged.
func summaryCSV(client nationalv1.NationalServiceClient, errs *httpErrors, c csvLimits) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := summaryCSVRequest(r)
		if err != nil {
			errs.write(w, r, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), c.writeTimeout-c.writeTimeout/10)
		defer cancel()
		if a := r.Header.Get("Authorization"); a != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, auth.AuthorizationKey, a)
		}
		req.PageSize = c.pageSize
		report := national.NewReportWriter(w)
		for page := 1; ; page++ {
			resp, err := client.Summarize(ctx, req)
			if err == nil && page == 1 {
				w.Header().Set("Content-Type", "text/csv; charset=utf-8")
				w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-summary.csv"`, req.GetCollection()))
			}
			if err == nil {
				err = report.Page(resp)
			}
			if err == nil {
				if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
					err = report.End()
				}
			}
			switch {
			case err == nil && req.PageToken != "":
				continue
			case err == nil:
				return
			case page == 1 && resp == nil:
				errs.write(w, r, err)
				return
			case errors.Is(err, errAnswerRefused):
				return // nothing of it was sent: its 429 is
			}
			late := ctx.Err() != nil && r.Context().Err() == nil
			if late {
				c.refused(limitWriteTime)
			}
			errs.log.Warn("summary.csv cut off before its end", "path", r.URL.Path, "request_id", RequestID(r.Context()),
				"page", page, "past_write_time", late, "err", err)
			// Its status sent, the reply can only end incomplete.
			panic(http.ErrAbortHandler)
		}
	})
}

// csvLimits are summary.csv's: the groups of a page it asks for, the HTTP
// server's write timeout, and where a reply cut off at it is counted.
type csvLimits struct {
	pageSize     int32
	writeTimeout time.Duration
	refused      func(limit string)
}

// summaryCSVRequest is the SummarizeRequest r's query asks for. A
// parameter summary.csv does not take, a single one given twice, or an
// empty entry of a list is refused, naming it: dropped, it gave a summary
// of what was not asked (grop_by=province: the national total alone).
func summaryCSVRequest(r *http.Request) (*nationalv1.SummarizeRequest, error) {
	q := r.URL.Query()
	for _, key := range slices.Sorted(maps.Keys(q)) {
		values := q[key]
		switch key {
		case "parent", "filter":
			if len(values) > 1 {
				return nil, apperr.Invalid(key, "%s", givenTimes(values))
			}
		case "group_by", "sum", "count_distinct", cacheBuster:
		case "":
			return nil, apperr.Invalid(key, "%s", noName(values))
		default:
			return nil, apperr.Invalid(key, "is not a parameter of summary.csv, which takes parent, filter, group_by, sum and count_distinct")
		}
	}
	req := &nationalv1.SummarizeRequest{Collection: r.PathValue("collection"), Parent: q.Get("parent"), Filter: q.Get("filter")}
	for _, l := range []struct {
		name string
		to   *[]string
	}{{"group_by", &req.GroupBy}, {"sum", &req.Sum}, {"count_distinct", &req.CountDistinct}} {
		for _, v := range q[l.name] {
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p == "" {
					return nil, apperr.Invalid(fmt.Sprintf("%s[%d]", l.name, len(*l.to)), "is empty")
				}
				*l.to = append(*l.to, p)
			}
		}
	}
	return req, nil
}
