package national

import (
	"fmt"
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
	type column struct{ field, currency string }
	var columns []column
	seen := map[column]bool{}
	for _, g := range append(resp.GetGroups(), resp.GetTotal()) {
		for _, s := range g.GetSums() {
			if c := (column{s.GetField(), s.GetCurrencyCode()}); !seen[c] {
				seen[c] = true
				columns = append(columns, c)
			}
		}
	}
	header := append(append([]string(nil), resp.GetGroupBy()...), "count")
	for _, c := range columns {
		name := c.field
		if c.currency != "" {
			name += " " + c.currency
		}
		header = append(header, name)
	}
	var distinct []string
	for _, d := range resp.GetTotal().GetDistinctCounts() {
		distinct = append(distinct, d.GetField())
		header = append(header, "distinct "+d.GetField())
	}
	rows := [][]string{header}
	add := func(keys []string, g *nationalv1.Group) {
		values := map[column]int64{}
		for _, s := range g.GetSums() {
			values[column{s.GetField(), s.GetCurrencyCode()}] = s.GetValue()
		}
		row := append(append([]string(nil), keys...), fmt.Sprint(g.GetCount()))
		for _, c := range columns {
			row = append(row, fmt.Sprint(values[c]))
		}
		counts := map[string]int64{}
		for _, d := range g.GetDistinctCounts() {
			counts[d.GetField()] = d.GetCount()
		}
		for _, f := range distinct {
			row = append(row, fmt.Sprint(counts[f]))
		}
		rows = append(rows, row)
	}
	if len(resp.GetGroupBy()) == 0 {
		// One group, the whole: the total row alone (it came twice).
		add(nil, resp.GetTotal())
		return rows
	}
	for _, g := range resp.GetGroups() {
		add(g.GetKeys(), g)
	}
	total := make([]string, len(resp.GetGroupBy()))
	if len(total) > 0 {
		total[0] = "total"
	}
	add(total, resp.GetTotal())
	return rows
}
