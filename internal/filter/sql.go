package filter

import (
	"hash/fnv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ListID is the number that stands for the repeated field path of kind in
// record_elements(list, value, record), the side table of the elements of
// repeated fields: a hash of the two names, so that it never changes and
// no table has to map it. It fits in two bytes of a SQLite integer, where
// the two names took 20 to 40 bytes in every row and index entry; the
// store checks at start-up that no two of its fields share one.
func ListID(kind, path string) int64 {
	h := fnv.New32a()
	h.Write([]byte(kind + "/" + path))
	return int64(h.Sum32() & 0x7FFF)
}

// SQL compiles a checked Expr into a WHERE fragment (without "WHERE") with ?
// placeholders. Scalar fields compare their Column; repeated fields look up
// record_elements rows of the given resource kind (ListID). All user text travels in
// the args, never in the SQL string. A nil Expr (empty filter) compiles to a
// condition that holds for every row.
func SQL(e Expr, kind string) (string, []any) {
	if e == nil {
		return "true", nil
	}
	c := compiler{kind: kind}
	c.expr(e)
	return c.b.String(), c.args
}

type compiler struct {
	kind string
	b    strings.Builder
	args []any
}

func (c *compiler) expr(e Expr) {
	switch e := e.(type) {
	case andExpr:
		c.join(e.terms, " AND ")
	case orExpr:
		c.join(e.terms, " OR ")
	case notExpr:
		c.b.WriteString("NOT (")
		c.expr(e.x)
		c.b.WriteString(")")
	case compareExpr:
		if e.field.Type == Date {
			c.date(e)
			return
		}
		c.column(e.field)
		c.b.WriteString(" " + e.op + " ?")
		c.args = append(c.args, e.value)
	case prefixExpr:
		c.prefix(e)
	case setExpr:
		c.column(e.field)
		c.b.WriteString(" != 0")
	case hasExpr:
		c.b.WriteString("id IN (SELECT record FROM record_elements WHERE list = ?")
		c.args = append(c.args, ListID(c.kind, e.field.Path))
		if !e.anyValue {
			c.b.WriteString(" AND value = ?")
			c.args = append(c.args, e.value)
		}
		c.b.WriteString(")")
	default:
		panic("filter: SQL of an Expr not made by Parse")
	}
}

func (c *compiler) join(terms []Expr, sep string) {
	c.b.WriteString("(")
	for i, t := range terms {
		if i > 0 {
			c.b.WriteString(sep)
		}
		c.expr(t)
	}
	c.b.WriteString(")")
}

// column writes the column quoted, because proto field names such as
// "order" or "group" are SQL keywords.
func (c *compiler) column(f Field) {
	c.b.WriteString(`"` + f.Column + `"`)
}

// prefix compiles to a range so that an index on the column serves it:
// in byte order (SQLite's BINARY collation, PostgreSQL's "C") the strings
// starting with p are those in [p, upper), where upper is p with its last
// character replaced by the next one, as UTF-8 keeps characters in byte
// order. upper must be text too: PostgreSQL refuses a parameter that is
// not UTF-8, as incrementing the last byte made of "Tiế" (E1 BA BF) or
// "¿". A last character U+10FFFF has no next one: it is dropped and the
// one before it moved on instead; a prefix of only U+10FFFF (or an empty
// one) has no upper bound.
func (c *compiler) prefix(e prefixExpr) {
	upper, bounded := e.prefix, false
	for upper != "" && !bounded {
		r, size := utf8.DecodeLastRuneInString(upper)
		last := upper[len(upper)-size:]
		upper = upper[:len(upper)-size]
		switch {
		case r == utf8.RuneError && size == 1:
			// Not UTF-8 (no request's filter is): the byte order still holds.
			if last[0] < 0xFF {
				upper, bounded = upper+string([]byte{last[0] + 1}), true
			}
		case r == unicode.MaxRune:
		case r == 0xD7FF: // the surrogates are no characters
			upper, bounded = upper+"\uE000", true
		default:
			upper, bounded = upper+string(r+1), true
		}
	}
	if !bounded {
		c.column(e.field)
		c.b.WriteString(" >= ?")
		c.args = append(c.args, e.prefix)
		return
	}
	c.b.WriteString("(")
	c.column(e.field)
	c.b.WriteString(" >= ? AND ")
	c.column(e.field)
	c.b.WriteString(" < ?)")
	c.args = append(c.args, e.prefix, upper)
}

// Restrictions calls fn with the field and encoded literal of every
// restriction in e (the prefix for "prefix*", the element for ':', nil for
// ":*") and reports whether fn held for all of them. It lets a caller tell
// whether a filter can run on a table other than the kind's own, such as a
// pre-aggregated one.
func Restrictions(e Expr, fn func(f Field, value any) bool) bool {
	switch e := e.(type) {
	case nil:
		return true
	case andExpr:
		return allRestrictions(e.terms, fn)
	case orExpr:
		return allRestrictions(e.terms, fn)
	case notExpr:
		return Restrictions(e.x, fn)
	case compareExpr:
		return fn(e.field, e.value)
	case prefixExpr:
		return fn(e.field, e.prefix)
	case setExpr:
		return fn(e.field, int64(0))
	case hasExpr:
		if e.anyValue {
			return fn(e.field, nil)
		}
		return fn(e.field, e.value)
	}
	panic("filter: Restrictions of an Expr not made by Parse")
}

func allRestrictions(terms []Expr, fn func(Field, any) bool) bool {
	for _, t := range terms {
		if !Restrictions(t, fn) {
			return false
		}
	}
	return true
}
