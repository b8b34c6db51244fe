package filter

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// dateDays is the period of a date as day numbers [first, last]: a day, a
// whole month (day 0) or a whole year (month and day 0). An unset date (all
// zero) is one point before every day.
func dateDays(d [3]int32) (first, last int64) {
	if d == [3]int32{} {
		return math.MinInt64, math.MinInt64
	}
	dayNum := func(y, m, dd int) int64 {
		return time.Date(y, time.Month(m), dd, 0, 0, 0, 0, time.UTC).Unix() / 86400
	}
	y, m, dd := int(d[0]), int(d[1]), int(d[2])
	switch {
	case m == 0:
		return dayNum(y, 1, 1), dayNum(y, 12, 31)
	case dd == 0:
		return dayNum(y, m, 1), dayNum(y, m+1, 0)
	}
	return dayNum(y, m, dd), dayNum(y, m, dd)
}

// dateHolds is the documented meaning of "stored op literal" (docs/API.md,
// date.go), computed on day numbers rather than on the column encoding.
func dateHolds(stored [3]int32, op string, literal [3]int32) bool {
	sf, sl := dateDays(stored)
	lf, ll := dateDays(literal)
	switch op {
	case "=":
		return lf <= sf && sl <= ll
	case "!=":
		return !(lf <= sf && sl <= ll)
	case "<":
		return sl < lf
	case "<=":
		return sl <= ll
	case ">":
		return sf > ll
	case ">=":
		return sf >= lf
	}
	panic("unknown operator " + op)
}

// dateParts decodes a column value into year, month and day.
func dateParts(v int64) [3]int32 {
	y, m, d := decodeDate(v)
	return [3]int32{int32(y), int32(m), int32(d)}
}

func parseTestDate(t testing.TB, s string) [3]int32 {
	t.Helper()
	var d [3]int32
	if s == "unset" {
		return d
	}
	for i, part := range strings.Split(s, "-") {
		if _, err := fmt.Sscan(part, &d[i]); err != nil {
			t.Fatalf("bad test date %q", s)
		}
	}
	return d
}

func dateRecords(t testing.TB, dates []string) []rec {
	recs := make([]rec, len(dates))
	for i, s := range dates {
		recs[i] = rec{id: int64(i + 1), date: parseTestDate(t, s)}
	}
	return recs
}

// TestDateLiterals is the table of what date restrictions match, written out
// by hand: full, year-month and year-only literals against full, year-month
// and year-only stored dates, for every operator.
func TestDateLiterals(t *testing.T) {
	stored := []string{
		"unset", "2024-12-31",
		"2025", "2025-01", "2025-01-01",
		"2025-05", "2025-05-01", "2025-05-17", "2025-05-31",
		"2025-06", "2025-12", "2025-12-31",
		"2026", "2026-01-01",
	}
	const (
		all2025 = "2025 2025-01 2025-01-01 2025-05 2025-05-01 2025-05-17 2025-05-31 2025-06 2025-12 2025-12-31"
		all2026 = "2026 2026-01-01"
	)
	recs := dateRecords(t, stored)
	db := openTestDB(t, t.TempDir(), testSchema, recs)
	for _, tc := range []struct{ filter, want string }{
		// Year literals: the whole year.
		{"= 2025", all2025},
		{"!= 2025", "unset 2024-12-31 " + all2026},
		{"< 2025", "unset 2024-12-31"},
		{"< 0001", "unset"},
		{">= 0001", "2024-12-31 " + all2025 + " " + all2026},
		{"<= 2025", "unset 2024-12-31 " + all2025}, // the issue: all of 2025 was left out
		{"> 2025", all2026},
		{">= 2025", all2025 + " " + all2026},
		{"< 2026", "unset 2024-12-31 " + all2025},
		// Year-month literals: the whole month; a stored year is not within
		// a month, nor before or after it.
		{"= 2025-05", "2025-05 2025-05-01 2025-05-17 2025-05-31"}, // the issue: 2025-05-01 did not match
		{"!= 2025-05", "unset 2024-12-31 2025 2025-01 2025-01-01 2025-06 2025-12 2025-12-31 " + all2026},
		{"< 2025-05", "unset 2024-12-31 2025-01 2025-01-01"},
		{"<= 2025-05", "unset 2024-12-31 2025-01 2025-01-01 2025-05 2025-05-01 2025-05-17 2025-05-31"},
		{"> 2025-05", "2025-06 2025-12 2025-12-31 " + all2026},
		{">= 2025-05", "2025-05 2025-05-01 2025-05-17 2025-05-31 2025-06 2025-12 2025-12-31 " + all2026},
		{"< 2025-06", "unset 2024-12-31 2025-01 2025-01-01 2025-05 2025-05-01 2025-05-17 2025-05-31"},
		{"> 2025-04", "2025-05 2025-05-01 2025-05-17 2025-05-31 2025-06 2025-12 2025-12-31 " + all2026},
		// A year starts with its January and ends with its December.
		{"= 2025-01", "2025-01 2025-01-01"},
		{"< 2025-01", "unset 2024-12-31"},
		{">= 2025-01", all2025 + " " + all2026},
		{"<= 2025-12", "unset 2024-12-31 " + all2025},
		{"> 2025-12", all2026},
		// Full-date literals: one day; a stored month or year is within no
		// single day.
		{"= 2025-05-17", "2025-05-17"},
		{"!= 2025-05-17", "unset 2024-12-31 2025 2025-01 2025-01-01 2025-05 2025-05-01 2025-05-31 2025-06 2025-12 2025-12-31 " + all2026},
		{"< 2025-05-17", "unset 2024-12-31 2025-01 2025-01-01 2025-05-01"},
		{"<= 2025-05-17", "unset 2024-12-31 2025-01 2025-01-01 2025-05-01 2025-05-17"},
		{"> 2025-05-17", "2025-05-31 2025-06 2025-12 2025-12-31 " + all2026},
		{">= 2025-05-17", "2025-05-17 2025-05-31 2025-06 2025-12 2025-12-31 " + all2026},
		// A day that starts or ends a month or a year.
		{"= 2025-05-01", "2025-05-01"},
		{"< 2025-05-01", "unset 2024-12-31 2025-01 2025-01-01"},
		{">= 2025-05-01", "2025-05 2025-05-01 2025-05-17 2025-05-31 2025-06 2025-12 2025-12-31 " + all2026},
		{"<= 2025-05-31", "unset 2024-12-31 2025-01 2025-01-01 2025-05 2025-05-01 2025-05-17 2025-05-31"},
		{"> 2025-05-31", "2025-06 2025-12 2025-12-31 " + all2026},
		{"< 2025-01-01", "unset 2024-12-31"},
		{">= 2025-01-01", all2025 + " " + all2026},
		{"> 2024-12-31", all2025 + " " + all2026},
		{"<= 2025-12-31", "unset 2024-12-31 " + all2025},
		{"> 2025-12-31", all2026},
	} {
		src := "signed_date " + tc.filter
		e, err := Parse(src, testSchema)
		if err != nil {
			t.Fatalf("Parse(%q): %v", src, err)
		}
		where, args := SQL(e, testKind)
		ids, err := queryIDs(t, db, where, args)
		if err != nil {
			t.Fatalf("%q: %s: %v", src, where, err)
		}
		var got []string
		for _, id := range ids {
			got = append(got, stored[id-1])
		}
		want := strings.Fields(tc.want)
		if !slices.Equal(got, want) {
			t.Errorf("%s (%s %v)\ngot  %v\nwant %v", src, where, args, got, want)
		}
		// The hand-written table and the definition used by the other tests
		// must agree, so that a mistake in either shows.
		lit := parseTestDate(t, strings.Fields(tc.filter)[1])
		op := strings.Fields(tc.filter)[0]
		var defined []string
		for _, s := range stored {
			if dateHolds(parseTestDate(t, s), op, lit) {
				defined = append(defined, s)
			}
		}
		if !slices.Equal(defined, want) {
			t.Errorf("%s: table says %v, dateHolds says %v", src, want, defined)
		}
	}
}

// testDates are full, year-month and year-only dates around the edges of
// months and years, leap days included.
func testDates() []string {
	var out []string
	for _, y := range []int{2023, 2024, 2025} {
		out = append(out, fmt.Sprintf("%04d", y))
		for _, m := range []int{1, 2, 6, 12} {
			out = append(out, fmt.Sprintf("%04d-%02d", y, m))
			last := time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
			for _, d := range []int{1, 2, 15, last - 1, last} {
				out = append(out, fmt.Sprintf("%04d-%02d-%02d", y, m, d))
			}
		}
	}
	return out
}

// TestDateSemantics checks every operator and every literal of testDates
// against every stored date of testDates (and unset) in SQLite, and that
// the SQL holds for partial stored dates exactly when it holds for every
// day of their period.
func TestDateSemantics(t *testing.T) {
	dates := testDates()
	stored := append([]string{"unset"}, dates...)
	recs := dateRecords(t, stored)
	db := openTestDB(t, t.TempDir(), testSchema, recs)
	for _, op := range []string{"=", "!=", "<", "<=", ">", ">="} {
		for _, lit := range dates {
			src := "signed_date " + op + " " + lit
			e, err := Parse(src, testSchema)
			if err != nil {
				t.Fatalf("Parse(%q): %v", src, err)
			}
			where, args := SQL(e, testKind)
			got, err := queryIDs(t, db, where, args)
			if err != nil {
				t.Fatalf("%q: %s: %v", src, where, err)
			}
			l := parseTestDate(t, lit)
			want := filterIDs(recs, func(r rec) bool { return dateHolds(r.date, op, l) })
			if !slices.Equal(got, want) {
				t.Errorf("%s (%s %v)\ngot  %v\nwant %v", src, where, args, got, want)
			}
			// A partial stored date matches when every day in it would.
			if op == "!=" {
				continue
			}
			for _, r := range recs {
				if r.date[2] != 0 || !r.hasDate() {
					continue
				}
				first, last := dateDays(r.date)
				every := true
				for d := first; d <= last; d++ {
					tm := time.Unix(d*86400, 0).UTC()
					every = every && dateHolds([3]int32{int32(tm.Year()), int32(tm.Month()), int32(tm.Day())}, op, l)
				}
				if every != slices.Contains(got, r.id) {
					t.Errorf("%s: stored %v matches %v, its every day %v", src, r.date, !every, every)
				}
			}
		}
	}
}

// TestDateFiltersUseIndex checks that every date restriction is answered
// by a search of the column's index, not a scan of the table.
func TestDateFiltersUseIndex(t *testing.T) {
	db := openTestDB(t, t.TempDir(), testSchema, dateRecords(t, testDates()))
	for _, op := range []string{"=", "!=", "<", "<=", ">", ">="} {
		for _, lit := range []string{"0001", "2025", "2025-01", "2025-05", "2025-12", "2025-01-01", "2025-05-01", "2025-05-17", "2025-12-31"} {
			src := "signed_date " + op + " " + lit
			e, err := Parse(src, testSchema)
			if err != nil {
				t.Fatal(err)
			}
			where, args := SQL(e, testKind)
			rows, err := db.Query("EXPLAIN QUERY PLAN SELECT rowid FROM t WHERE "+where, args...)
			if err != nil {
				t.Fatal(err)
			}
			var plan []string
			for rows.Next() {
				var id, parent, notused int
				var detail string
				if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			rows.Close()
			text := strings.Join(plan, "; ")
			for _, step := range plan {
				if step == "SCAN t" || !strings.Contains(text, "INDEX t_signed_date") {
					t.Errorf("%s (%s) is not served from the index: %s", src, where, text)
					break
				}
			}
		}
	}
}
