package national

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
)

// Report is a summary as people and spreadsheets get it (the CLI and
// summary.csv): its Table, an empty row, then its Freshness, so that
// figures never travel without how current they are. Rows are padded with
// empty cells to one width, since CSV readers (encoding/csv, pandas) refuse
// a file whose rows differ in length; they skip the empty row.
func Report(resp *nationalv1.SummarizeResponse) [][]string {
	table, fresh := Table(resp), Freshness(resp.GetFreshness())
	width := max(len(table[0]), len(fresh[0]))
	rows := make([][]string, 0, len(table)+1+len(fresh))
	for _, r := range table {
		rows = append(rows, pad(r, width))
	}
	rows = append(rows, nil)
	for _, r := range fresh {
		rows = append(rows, pad(r, width))
	}
	return rows
}

func pad(row []string, width int) []string {
	for len(row) < width {
		row = append(row, "")
	}
	return row
}

// Freshness lays out how current each province's records are: a header
// ("freshness of", seq, last_change_time, last_contact_time, stale), then
// a row per province with times in RFC 3339 (UTC, empty when unknown) and
// stale as "true" or "false".
func Freshness(provinces []*nationalv1.ProvinceFreshness) [][]string {
	rows := [][]string{{"freshness of", "seq", "last_change_time", "last_contact_time", "stale"}}
	for _, p := range provinces {
		rows = append(rows, []string{p.GetProvince(), fmt.Sprint(p.GetSeq()), rfc3339(p.GetLastChangeTime().AsTime(), p.GetLastChangeTime() != nil),
			rfc3339(p.GetLastContactTime().AsTime(), p.GetLastContactTime() != nil), fmt.Sprint(p.GetStale())})
	}
	return rows
}

func rfc3339(t time.Time, ok bool) string {
	if !ok {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// Table lays a summary out for people and spreadsheets: a header (the
// dimensions, count, then one column per summed field, money fields one per
// currency as "registered_capital USD", then one per count_distinct field as
// "distinct organizations"), a row per group, and a last row of totals
// whose first key is "total"; without dimensions, the totals' row alone.
func Table(resp *nationalv1.SummarizeResponse) [][]string {
	l := layoutOf(resp, resp.GetGroups())
	rows := [][]string{l.header()}
	if len(resp.GetGroupBy()) == 0 {
		// One group, the whole: the total row alone (it came twice).
		return append(rows, l.totalRow(resp.GetTotal()))
	}
	for _, g := range resp.GetGroups() {
		rows = append(rows, l.row(g.GetKeys(), g))
	}
	return append(rows, l.totalRow(resp.GetTotal()))
}

// column is a Table's column of sums: a field, and a currency for money.
type column struct{ field, currency string }

// layout is a Table's columns.
type layout struct {
	groupBy  []string
	columns  []column
	distinct []string
}

// layoutOf is the layout of resp's total and groups: the sums' columns in
// the order they come in.
func layoutOf(resp *nationalv1.SummarizeResponse, groups []*nationalv1.Group) *layout {
	l := &layout{groupBy: resp.GetGroupBy()}
	seen := map[column]bool{}
	for _, g := range append(slices.Clip(groups), resp.GetTotal()) {
		for _, s := range g.GetSums() {
			if c := (column{s.GetField(), s.GetCurrencyCode()}); !seen[c] {
				seen[c] = true
				l.columns = append(l.columns, c)
			}
		}
	}
	for _, d := range resp.GetTotal().GetDistinctCounts() {
		l.distinct = append(l.distinct, d.GetField())
	}
	return l
}

func (l *layout) header() []string {
	header := append(append([]string(nil), l.groupBy...), "count")
	for _, c := range l.columns {
		name := c.field
		if c.currency != "" {
			name += " " + c.currency
		}
		header = append(header, name)
	}
	for _, d := range l.distinct {
		header = append(header, "distinct "+d)
	}
	return header
}

// holds says whether every sum of g has a column.
func (l *layout) holds(g *nationalv1.Group) bool {
	for _, s := range g.GetSums() {
		if !slices.Contains(l.columns, column{s.GetField(), s.GetCurrencyCode()}) {
			return false
		}
	}
	return true
}

func (l *layout) row(keys []string, g *nationalv1.Group) []string {
	values := map[column]int64{}
	for _, s := range g.GetSums() {
		values[column{s.GetField(), s.GetCurrencyCode()}] = s.GetValue()
	}
	row := append(append([]string(nil), keys...), fmt.Sprint(g.GetCount()))
	for _, c := range l.columns {
		row = append(row, fmt.Sprint(values[c]))
	}
	counts := map[string]int64{}
	for _, d := range g.GetDistinctCounts() {
		counts[d.GetField()] = d.GetCount()
	}
	for _, f := range l.distinct {
		row = append(row, fmt.Sprint(counts[f]))
	}
	return row
}

// totalRow is the row of the total, keyed "total" (without dimensions,
// no key).
func (l *layout) totalRow(total *nationalv1.Group) []string {
	keys := make([]string, len(l.groupBy))
	if len(keys) > 0 {
		keys[0] = "total"
	}
	return l.row(keys, total)
}

// ReportWriter writes a summary read in pages as its Report, a page's rows
// as the page arrives, so that no more than a page is held: the header
// from the first page (whose total has a sum in every column, as each
// group has), each page's groups, and at End the total and freshness of
// the last page.
type ReportWriter struct {
	w      io.Writer
	layout *layout
	width  int
	last   *nationalv1.SummarizeResponse
}

// NewReportWriter writes a Report to w as WriteCSV does.
func NewReportWriter(w io.Writer) *ReportWriter { return &ReportWriter{w: w} }

// Page writes resp's groups (and before the first page's, the header).
// Pages read under writes may differ in their columns: a group with a sum
// in a currency the first page did not have cannot be laid out, and is an
// error rather than a row without it.
func (rw *ReportWriter) Page(resp *nationalv1.SummarizeResponse) error {
	var rows [][]string
	if rw.layout == nil {
		rw.layout = layoutOf(resp, resp.GetGroups())
		header := rw.layout.header()
		rw.width = max(len(header), len(Freshness(nil)[0]))
		rows = append(rows, pad(header, rw.width))
	}
	if len(resp.GetGroupBy()) > 0 {
		for _, g := range resp.GetGroups() {
			if !rw.layout.holds(g) {
				return fmt.Errorf("a sum of group %q has a currency the summary's first page had not: it changed while being read; ask again", strings.Join(g.GetKeys(), ", "))
			}
			rows = append(rows, pad(rw.layout.row(g.GetKeys(), g), rw.width))
		}
	}
	rw.last = resp
	return WriteCSV(rw.w, rows)
}

// End writes the last page's total, an empty row and its freshness.
func (rw *ReportWriter) End() error {
	if rw.last == nil {
		return errors.New("a report of no page")
	}
	if !rw.layout.holds(rw.last.GetTotal()) {
		return errors.New("the summary's total has a currency its first page had not: it changed while being read; ask again")
	}
	rows := [][]string{pad(rw.layout.totalRow(rw.last.GetTotal()), rw.width), nil}
	for _, r := range Freshness(rw.last.GetFreshness()) {
		rows = append(rows, pad(r, rw.width))
	}
	return WriteCSV(rw.w, rows)
}
