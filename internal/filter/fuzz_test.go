package filter

import (
	"cmp"
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"
)

var fuzzSeeds = []string{
	"",
	"state = IN_FORCE",
	"display_name = Ber*",
	`display_name != "Ber\*"`,
	"display_name = *",
	"member_count >= -5 AND active = true OR state != DRAFT",
	"signed_date >= 2021 signed_date < 2022-07",
	"signed_date = 2021-07 OR signed_date <= 2021 OR signed_date > 2020-12-31 OR signed_date != 2021",
	"update_time > 2024-05-28T07:00:00.003Z",
	"countries:DE OR countries:*",
	"-tags:CAPITAL NOT (tags:COASTAL)",
	"(((partner.country_code = DE)))",
	"partner.country_code <= 'F'",
	"sate = 1",
	"IN_FORCE",
	"state:DRAFT",
	"(state = DRAFT",
	"state = DRAFT)",
	`display_name = "unterminated`,
	"signed_date = 2021-02-30",
	"update_time < 3000-01-01T00:00:00Z",
	"display_name = \"\xf4\x8f\xbf\xbf*\"",
	"NOT NOT a",
	"a = (b)",
	"update_time.age > 30",
	"signed_date.age <= 400",
	"display_name.age > 1",
	"update_time.age > -1",
}

// evalExpr is the meaning of an Expr in Go, over the encoded values; the
// fuzzer checks that the SQL selects exactly the rows it accepts.
func evalExpr(e Expr, m protoreflect.Message) bool {
	switch e := e.(type) {
	case andExpr:
		for _, t := range e.terms {
			if !evalExpr(t, m) {
				return false
			}
		}
		return true
	case orExpr:
		for _, t := range e.terms {
			if evalExpr(t, m) {
				return true
			}
		}
		return false
	case notExpr:
		return !evalExpr(e.x, m)
	case prefixExpr:
		return strings.HasPrefix(e.field.Values(m)[0].(string), e.prefix)
	case setExpr:
		return e.field.Values(m)[0].(int64) != 0
	case hasExpr:
		values := e.field.Values(m)
		if e.anyValue {
			return len(values) > 0
		}
		return slices.Contains(values, any(e.value))
	case compareExpr:
		if e.field.Type == Date {
			return dateHolds(dateParts(e.field.Values(m)[0].(int64)), e.op, dateParts(e.value.(int64)))
		}
		var c int
		switch v := e.field.Values(m)[0].(type) {
		case string:
			c = cmp.Compare(v, e.value.(string))
		case int64:
			c = cmp.Compare(v, e.value.(int64))
		}
		switch e.op {
		case "=":
			return c == 0
		case "!=":
			return c != 0
		case "<":
			return c < 0
		case "<=":
			return c <= 0
		case ">":
			return c > 0
		case ">=":
			return c >= 0
		}
	}
	panic("unknown Expr")
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	recs := testRecords()
	db := openTestDB(f, f.TempDir(), testSchema, recs)
	messages := make([]protoreflect.Message, len(recs))
	for i, r := range recs {
		messages[i] = r.message()
	}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Parse(src, testSchema)
		if err != nil {
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("Parse(%q) returned %T, want *Error", src, err)
			}
			if perr.Pos < 0 || perr.Pos > len(src) {
				t.Fatalf("Parse(%q) error position %d outside the input", src, perr.Pos)
			}
			if !utf8.ValidString(perr.Error()) && utf8.ValidString(src) {
				t.Fatalf("Parse(%q) error %q is not valid UTF-8", src, perr.Error())
			}
			return
		}
		where, args := SQL(e, testKind)
		got, err := queryIDs(t, db, where, args)
		if err != nil {
			t.Fatalf("Parse(%q) compiled to invalid SQL %s %v: %v", src, where, args, err)
		}
		if e == nil {
			return
		}
		var want []int64
		for i, m := range messages {
			if evalExpr(e, m) {
				want = append(want, recs[i].id)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("Parse(%q): SQL %s %v selects %v, Go semantics select %v", src, where, args, got, want)
		}
	})
}

func FuzzParseOrderBy(f *testing.F) {
	for _, s := range []string{
		"", "state", "state desc, update_time", " partner.country_code DESC ,display_name asc ",
		"sate", "countries", "state, state", "state descending", "state,", ", state", "state desc desc",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		keys, err := ParseOrderBy(src, testSchema)
		if err != nil {
			var perr *Error
			if !errors.As(err, &perr) || perr.Param != "order_by" {
				t.Fatalf("ParseOrderBy(%q) returned %#v", src, err)
			}
			if perr.Pos < 0 || perr.Pos > len(src) {
				t.Fatalf("ParseOrderBy(%q) error position %d outside the input", src, perr.Pos)
			}
			return
		}
		seen := map[string]bool{}
		for _, k := range keys {
			if k.Field.Repeated || seen[k.Field.Path] {
				t.Fatalf("ParseOrderBy(%q) = %v", src, keys)
			}
			seen[k.Field.Path] = true
		}
	})
}
