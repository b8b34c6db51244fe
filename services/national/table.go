package national

import (
	"fmt"

	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
)

// Table lays a summary out for people and spreadsheets: a header (the
// dimensions, count, then one column per summed field, money fields one per
// currency as "registered_capital USD"), a row per group, and a last row of
// totals whose first key is "total".
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
		rows = append(rows, row)
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
