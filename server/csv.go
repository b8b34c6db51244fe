package server

import (
	"fmt"
	"net/http"
	"strings"

	"google.golang.org/grpc/metadata"

	"github.com/provex/provex/auth"
	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
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
		q := r.URL.Query()
		req := &nationalv1.SummarizeRequest{
			Collection:    r.PathValue("collection"),
			Parent:        q.Get("parent"),
			Filter:        q.Get("filter"),
			GroupBy:       splitList(q["group_by"]),
			Sum:           splitList(q["sum"]),
			CountDistinct: splitList(q["count_distinct"]),
		}
		ctx := r.Context()
		if a := r.Header.Get("Authorization"); a != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, auth.AuthorizationKey, a)
		}
		resp, err := client.Summarize(ctx, req)
		if err != nil {
			errs.write(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-summary.csv"`, req.GetCollection()))
		national.WriteCSV(w, national.Report(resp))
	})
}

func splitList(values []string) []string {
	var out []string
	for _, v := range values {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}
