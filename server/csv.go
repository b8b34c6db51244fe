package server

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

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
// and escaped (national.WriteCSV).
func summaryCSV(client nationalv1.NationalServiceClient, errs *httpErrors) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := summaryCSVRequest(r)
		if err != nil {
			errs.write(w, r, err)
			return
		}
		ctx := r.Context()
		if a := r.Header.Get("Authorization"); a != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, auth.AuthorizationKey, a)
		}
		// A file has no message size: every group, a page at a time.
		req.PageSize = national.MaxSummaryPage
		var groups []*nationalv1.Group
		var resp *nationalv1.SummarizeResponse
		for {
			if resp, err = client.Summarize(ctx, req); err != nil {
				errs.write(w, r, err)
				return
			}
			groups = append(groups, resp.GetGroups()...)
			if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
				break
			}
		}
		resp.Groups = groups
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-summary.csv"`, req.GetCollection()))
		national.WriteCSV(w, national.Report(resp))
	})
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
