package filter

import (
	"strings"
	"time"
)

// Dates on both sides of a comparison name periods. A literal YYYY-MM-DD is
// one day, YYYY-MM the whole month and YYYY the whole year; a stored
// provex.type.v1.Date with day 0 is a whole month and with month and day 0 a
// whole year. A restriction holds when it holds for every day the stored
// date may be:
//
//	= L    the stored period lies within L
//	!= L   not = L (so = and != split the records between them)
//	< L    the stored period ends before L's first day
//	<= L   the stored period ends on or before L's last day
//	> L    the stored period starts after L's last day
//	>= L   the stored period starts on or after L's first day
//
// An unset date is stored as 0 and compares as earlier than every date:
// "< 0001" selects the unset dates alone.
//
// Stored dates are encoded yyyymmdd with the missing parts 0, so a partial
// date sorts just before the first day of its period: year Y is Y0000,
// before Y0100 (its January) and Y0101 (its first day). In that order the
// dates within a period form one range, and so do the dates starting on or
// after a day; the dates ending before a day form one range less the
// partial dates that straddle that day. Every restriction therefore
// compiles to comparisons of the column with constants, which an index on
// the column serves.

// day is a calendar day, normalized.
type day struct{ y, m, d int64 }

func decodeDate(v int64) (y, m, d int64) { return v / 10000, v / 100 % 100, v % 100 }

func dayOf(t time.Time) day { return day{int64(t.Year()), int64(t.Month()), int64(t.Day())} }

func (x day) ymd() (y, m, d int64) { return x.y, x.m, x.d }

// firstDay is the first day of the period of the encoded date v.
func firstDay(v int64) day {
	y, m, d := decodeDate(v)
	if m == 0 {
		return day{y, 1, 1}
	}
	return day{y, m, max(d, 1)}
}

// dayAfter is the day after the last day of the period of the encoded date v.
func dayAfter(v int64) day {
	y, m, d := decodeDate(v)
	switch {
	case m == 0:
		return day{y + 1, 1, 1}
	case d == 0:
		return dayOf(time.Date(int(y), time.Month(m)+1, 1, 0, 0, 0, 0, time.UTC))
	}
	return dayOf(time.Date(int(y), time.Month(m), int(d)+1, 0, 0, 0, 0, time.UTC))
}

// span is the width of the encoded range of the dates within the period of
// the encoded literal v, which starts at v itself.
func span(v int64) int64 {
	_, m, d := decodeDate(v)
	switch {
	case m == 0:
		return 10000
	case d == 0:
		return 100
	}
	return 1
}

// from is the smallest encoding of a date starting on or after x: the
// coarsest period whose first day x is.
func (x day) from() int64 {
	switch {
	case x.d != 1:
		return encodeDate(x.y, x.m, x.d)
	case x.m != 1:
		return encodeDate(x.y, x.m, 0)
	}
	return encodeDate(x.y, 0, 0)
}

// straddling lists the partial dates encoded below x.from() that contain x
// and so do not end before it: x's year and month unless x starts them.
func (x day) straddling() []any {
	switch {
	case x.d != 1:
		return []any{encodeDate(x.y, 0, 0), encodeDate(x.y, x.m, 0)}
	case x.m != 1:
		return []any{encodeDate(x.y, 0, 0)}
	}
	return nil
}

// date compiles a restriction on a Date field.
func (c *compiler) date(e compareExpr) {
	v := e.value.(int64)
	switch e.op {
	case "=":
		c.b.WriteString("(")
		c.column(e.field)
		c.b.WriteString(" >= ? AND ")
		c.column(e.field)
		c.b.WriteString(" < ?)")
		c.args = append(c.args, v, v+span(v))
	case "!=":
		c.b.WriteString("(")
		c.column(e.field)
		c.b.WriteString(" < ? OR ")
		c.column(e.field)
		c.b.WriteString(" >= ?)")
		c.args = append(c.args, v, v+span(v))
	case "<":
		c.before(e.field, firstDay(v))
	case "<=":
		c.before(e.field, dayAfter(v))
	case ">":
		c.onOrAfter(e.field, dayAfter(v))
	case ">=":
		c.onOrAfter(e.field, firstDay(v))
	default:
		panic("filter: date comparison " + e.op)
	}
}

// before selects the dates that end before x, and unset dates.
func (c *compiler) before(f Field, x day) {
	if x.from() <= encodeDate(1, 0, 0) {
		// No date is encoded below year 1 but the unset one, 0: an
		// equality, which an index seeks and can go on seeking in its next
		// column ("report_date < 0001 AND signed_date >= 2025" finds the
		// unreported agreements signed since 2025 in an index of both).
		c.column(f)
		c.b.WriteString(" = ?")
		c.args = append(c.args, int64(0))
		return
	}
	straddling := x.straddling()
	if len(straddling) == 0 {
		c.column(f)
		c.b.WriteString(" < ?")
		c.args = append(c.args, x.from())
		return
	}
	c.b.WriteString("(")
	c.column(f)
	c.b.WriteString(" < ? AND ")
	c.column(f)
	c.b.WriteString(" NOT IN (?" + strings.Repeat(", ?", len(straddling)-1) + "))")
	c.args = append(c.args, x.from())
	c.args = append(c.args, straddling...)
}

// onOrAfter selects the dates that start on or after x.
func (c *compiler) onOrAfter(f Field, x day) {
	c.column(f)
	c.b.WriteString(" >= ?")
	c.args = append(c.args, x.from())
}
