package server

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/metadata"

	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
)

// summaryCSV serves NationalService.Summarize as CSV for spreadsheets:
// GET /v1/national/{collection}/summary.csv?group_by=province&group_by=signed_date.year&sum=...&filter=...
// group_by and sum may also be comma-separated. The call goes through the
// gRPC server, so it passes the same interceptors as every other call.
// Columns: the dimensions, count, then one per summed field (money fields
// one per currency, e.g. registered_capital_USD).
func summaryCSV(client nationalv1.NationalServiceClient) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		req := &nationalv1.SummarizeRequest{
			Collection: r.PathValue("collection"),
			Parent:     q.Get("parent"),
			Filter:     q.Get("filter"),
			GroupBy:    splitList(q["group_by"]),
			Sum:        splitList(q["sum"]),
		}
		ctx := r.Context()
		if id := r.Header.Get(RequestIDHeader); id != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, RequestIDHeader, id)
		}
		resp, err := client.Summarize(ctx, req)
		if err != nil {
			runtime.HTTPError(ctx, runtime.NewServeMux(), &runtime.JSONPb{}, w, r, err)
			return
		}
		type column struct{ field, currency string }
		var columns []column
		seen := map[column]bool{}
		for _, g := range append(resp.GetGroups(), resp.GetTotal()) {
			for _, s := range g.GetSums() {
				c := column{s.GetField(), s.GetCurrencyCode()}
				if !seen[c] {
					seen[c] = true
					columns = append(columns, c)
				}
			}
		}
		header := append(append([]string(nil), resp.GetGroupBy()...), "count")
		for _, c := range columns {
			if c.currency != "" {
				header = append(header, c.field+"_"+c.currency)
			} else {
				header = append(header, c.field)
			}
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-summary.csv"`, req.GetCollection()))
		out := csv.NewWriter(w)
		out.Write(header)
		row := func(keys []string, g *nationalv1.Group) {
			values := map[column]int64{}
			for _, s := range g.GetSums() {
				values[column{s.GetField(), s.GetCurrencyCode()}] = s.GetValue()
			}
			rec := append(append([]string(nil), keys...), fmt.Sprint(g.GetCount()))
			for _, c := range columns {
				rec = append(rec, fmt.Sprint(values[c]))
			}
			out.Write(rec)
		}
		for _, g := range resp.GetGroups() {
			row(g.GetKeys(), g)
		}
		total := make([]string, len(resp.GetGroupBy()))
		if len(total) > 0 {
			total[0] = "total"
		}
		row(total, resp.GetTotal())
		out.Flush()
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
