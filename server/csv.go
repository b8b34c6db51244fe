package server

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"regexp"
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
// and escaped (writeCSV).
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
		writeCSV(w, national.Report(resp))
	})
}

// writeCSV writes rows with every text cell double-quoted (quotes doubled)
// and escaped (csvCell); whole numbers stay bare, so they stay numbers, and
// so do empty cells.
// encoding/csv cannot do this: it quotes a cell only when it holds a comma,
// a quote, a line break or a leading space, and a spreadsheet whose list
// separator is ";" (decimal-comma locales) splits the bare cell
// "x;=cmd|' /C calc'!A0" and runs its second half. Quoting every text cell is
// OWASP's advice for CSV injection along with the leading quote.
func writeCSV(w io.Writer, rows [][]string) error {
	out := bufio.NewWriter(w)
	for _, row := range rows {
		for i, cell := range row {
			if i > 0 {
				out.WriteByte(',')
			}
			// An empty cell stays bare too: quoted, the padding of a
			// row ("-42,1,\"\"") would be one text cell starting with
			// "-" to a spreadsheet that splits on ";".
			if cell == "" || integer.MatchString(cell) {
				out.WriteString(cell)
				continue
			}
			out.WriteByte('"')
			out.WriteString(strings.ReplaceAll(csvCell(cell), `"`, `""`))
			out.WriteByte('"')
		}
		out.WriteByte('\n')
	}
	return out.Flush()
}

// integer is a cell a spreadsheet reads as a number and nothing else.
var integer = regexp.MustCompile(`^-?[0-9]+$`)

// csvCell defuses a cell a spreadsheet would run as a formula (OWASP's
// advice for CSV injection): text starting with =, +, -, @, tab or CR gets
// a leading single quote, which spreadsheets show as text. Counts and sums
// are left alone, so a negative sum stays a number.
func csvCell(s string) string {
	if s == "" || !strings.ContainsRune("=+-@\t\r", rune(s[0])) || integer.MatchString(s) {
		return s
	}
	return "'" + s
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
