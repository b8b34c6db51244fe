package filter

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

func TestNewSchema(t *testing.T) {
	want := map[string]struct {
		typ      Type
		repeated bool
		column   string
	}{
		"display_name":         {String, false, "display_name"},
		"state":                {Enum, false, "state"},
		"member_count":         {Int, false, "member_count"},
		"active":               {Bool, false, "active"},
		"signed_date":          {Date, false, "signed_date"},
		"update_time":          {Timestamp, false, "update_time"},
		"partner.country_code": {String, false, "partner_country_code"},
		"countries":            {String, true, "countries"},
		"tags":                 {Enum, true, "tags"},
	}
	var got []string
	for _, f := range testSchema.Fields() {
		got = append(got, f.Path)
		w := want[f.Path]
		if f.Type != w.typ || f.Repeated != w.repeated || f.Column != w.column {
			t.Errorf("%s: got (%v, %v, %q), want (%v, %v, %q)", f.Path, f.Type, f.Repeated, f.Column, w.typ, w.repeated, w.column)
		}
		if (f.Type == Enum) != (f.Enum != nil) {
			t.Errorf("%s: Enum descriptor %v for type %v", f.Path, f.Enum, f.Type)
		}
	}
	if !slices.Equal(got, testPaths) {
		t.Errorf("Fields() order = %v, want %v", got, testPaths)
	}
	if _, ok := testSchema.Lookup("partner"); ok {
		t.Error("Lookup(partner) found a field that was not listed")
	}

	for _, paths := range [][]string{
		{"nope"},
		{"parties"},        // repeated message as a leaf
		{"display_name.x"}, // not a message
		{"partner"},        // message that is not Date/Timestamp
		{"blob"},           // bytes
		{"score"},          // double
		{"numbers"},        // repeated int
		{"state", "state"}, // duplicate
		{""},               // empty
		{"partner.country_code", "partner_country_code"}, // same column
	} {
		if _, err := NewSchema(resourceDesc, paths...); err == nil {
			t.Errorf("NewSchema(%q) succeeded, want error", paths)
		}
	}
	if s, err := NewSchema(resourceDesc, "big", "signed_date.year"); err != nil || s.Fields()[0].Type != Int || s.Fields()[1].Type != Int {
		t.Errorf("NewSchema(big, signed_date.year) = %v, %v", s, err)
	}
}

// TestThroughRepeatedMessage checks a path through a repeated message
// field: it is a repeated field whose elements are the set leaves, so a
// party without the leaf (recorded before it existed) adds none.
func TestThroughRepeatedMessage(t *testing.T) {
	s, err := NewSchema(resourceDesc, "parties.country_code")
	if err != nil {
		t.Fatal(err)
	}
	f := s.Fields()[0]
	if f.Type != String || !f.Repeated || f.Column != "parties_country_code" {
		t.Fatalf("parties.country_code = %+v, want a repeated string", f)
	}
	m := dynamicpb.NewMessage(resourceDesc)
	if got := f.Values(m); len(got) != 0 {
		t.Errorf("no parties: %#v", got)
	}
	parties := m.Mutable(resourceDesc.Fields().ByName("parties")).List()
	partyDesc := resourceDesc.Fields().ByName("parties").Message()
	for _, cc := range []string{"CN", "", "LA", "CN"} {
		p := dynamicpb.NewMessage(partyDesc)
		if cc != "" {
			p.Set(partyDesc.Fields().ByName("country_code"), protoreflect.ValueOfString(cc))
		}
		parties.Append(protoreflect.ValueOfMessage(p))
	}
	if got, want := f.Values(m), []any{"CN", "LA", "CN"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Values = %#v, want %#v", got, want)
	}
	if _, err := Parse("parties.country_code:LA", s); err != nil {
		t.Errorf("':' on it: %v", err)
	}
	if _, err := Parse(`parties.country_code = "LA"`, s); err == nil {
		t.Error("'=' on it succeeded; only ':' applies to repeated fields")
	}
	if _, err := ParseOrderBy("parties.country_code", s); err == nil {
		t.Error("ordering by it succeeded")
	}
}

func TestValues(t *testing.T) {
	get := func(m protoreflect.Message, path string) []any {
		f, ok := testSchema.Lookup(path)
		if !ok {
			t.Fatalf("no field %s", path)
		}
		return f.Values(m)
	}
	empty := dynamicpb.NewMessage(resourceDesc)
	for path, want := range map[string][]any{
		"display_name":         {""},
		"state":                {int64(0)},
		"member_count":         {int64(0)},
		"active":               {int64(0)},
		"signed_date":          {int64(0)},
		"update_time":          {int64(0)},
		"partner.country_code": {""},
		"countries":            nil,
		"tags":                 nil,
	} {
		if got := get(empty, path); !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("empty message: %s = %#v, want %#v", path, got, want)
		}
	}

	cc := "PL"
	r := rec{
		name: "Gdańsk", state: 2, members: -7, active: true, date: [3]int32{2021, 7, 1},
		update: time.Date(1969, 12, 31, 23, 59, 59, 5, time.UTC), hasUpdate: true, partner: &cc,
		countries: []string{"DE", "FR"}, tags: []string{"TAG_COASTAL", "TAG_CAPITAL"},
	}
	m := r.message()
	for path, want := range map[string][]any{
		"display_name":         {"Gdańsk"},
		"state":                {int64(2)},
		"member_count":         {int64(-7)},
		"active":               {int64(1)},
		"signed_date":          {int64(20210701)},
		"update_time":          {int64(-999999995)},
		"partner.country_code": {"PL"},
		"countries":            {"DE", "FR"},
		"tags":                 {"TAG_COASTAL", "TAG_CAPITAL"},
	} {
		if got := get(m, path); !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", path, got, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	const fieldList = "display_name, state, member_count, active, signed_date, update_time, partner.country_code, countries, tags"
	many := strings.Repeat("active = true AND ", 64) + "active = true"
	for _, tc := range []struct {
		src string
		pos int
		msg string
	}{
		{"sate = 1", 0, `unknown field "sate"; filterable fields: ` + fieldList},
		{"state = RUNNING", 8, "unknown value RUNNING for enum field state; valid values: UNSPECIFIED, DRAFT, IN_FORCE, EXPIRED"},
		{"state = in_force", 8, "unknown value in_force"},
		{"state >= DRAFT", 6, "state is a enum field; only = and != apply"},
		{"signed_date >= 2021-13", 15, "month must be 01..12"},
		{"signed_date = 2021-02-30", 14, "day must be 01..28"},
		{"signed_date = 21-01-01", 14, "want YYYY-MM-DD, YYYY-MM or YYYY"},
		{"signed_date = 0000", 14, "year must be at least 0001"},
		{"state:DRAFT", 5, "':' (has) applies only to repeated fields; use state = DRAFT"},
		{"state:*", 5, "':*' (presence) applies only to repeated fields; state always has a value"},
		{"active = true and state = DRAFT", 14, `bare value "and"; keywords must be upper case: AND`},
		{"IN_FORCE", 0, `bare value "IN_FORCE"; use field = value`},
		{"state = DRAFT 'x'", 14, `bare value 'x'; use field = value`},
		{"-42", 1, `bare value 42; use field = value`},
		{"(state = DRAFT", 0, "unbalanced '(': no matching ')'"},
		{"((state = DRAFT)", 0, "unbalanced '('"},
		{"state = DRAFT)", 13, "unbalanced ')': no '(' to close"},
		{"()", 1, "unexpected ')'"},
		{"state = DRAFT ]", 14, "unexpected ']'"},
		{"state = DRAFT AND", 17, "unexpected end of filter"},
		{"state = DRAFT OR ", 17, "unexpected end of filter"},
		{"NOT NOT state = DRAFT", 4, "unexpected keyword NOT"},
		{"active = yes", 9, "active is a boolean field; want true or false, got yes"},
		{"active > true", 7, "only = and != apply"},
		{"member_count = 1.5", 15, "member_count is an integer field; 1.5 is not a 64-bit integer"},
		{"member_count = 9223372036854775808", 15, "not a 64-bit integer"},
		{"member_count = 1*", 15, "prefix match (*) applies only to string fields"},
		{"countries = DE", 10, "countries is a repeated field; only ':' applies"},
		{"countries:DE*", 10, "prefix match is not supported on repeated field countries"},
		{"tags:SMALL", 5, "unknown value SMALL for enum field tags; valid values: UNSPECIFIED, CAPITAL, COASTAL, UNIVERSITY"},
		{"update_time > yesterday", 14, "update_time is a timestamp field; want RFC 3339"},
		{"update_time > 3000-01-01T00:00:00Z", 14, "outside the supported range"},
		{`display_name = "Ber`, 15, "unterminated string"},
		{`display_name = "a\qb"`, 17, `unknown escape sequence \q`},
		{`display_name = B*r`, 16, "'*' is only allowed at the end of a value"},
		{`display_name = "B*r"`, 17, `write \* for a literal *`},
		{`display_name > Ber*`, 13, "prefix match (*) works only with = and !="},
		{`display_name =`, 14, "missing value after display_name ="},
		{`display_name = AND`, 15, "found keyword AND; quote it"},
		{`display_name = )`, 15, "expected a value, found ')'"},
		{`size(countries) > 1`, 0, "function calls such as size(...) are not supported"},
		{`"state" = DRAFT`, 0, `expected a field name, found "state"`},
		{"display_name = \"\xff\"", 16, "invalid UTF-8"},
		{strings.Repeat("a", 4097), 4096, "filter is 4097 bytes long; the limit is 4096"},
		{strings.Repeat("(", 33) + "active = true" + strings.Repeat(")", 33), 32, "parentheses nested deeper than 32 levels"},
		{many, 64 * len("active = true AND "), "more than 64 restrictions"},
	} {
		e, err := Parse(tc.src, testSchema)
		var perr *Error
		if !errors.As(err, &perr) {
			t.Errorf("Parse(%q) = %v, %v; want *Error", tc.src, e, err)
			continue
		}
		if perr.Pos != tc.pos || !strings.Contains(perr.Msg, tc.msg) {
			t.Errorf("Parse(%q) error at %d: %q\nwant at %d: %q", tc.src, perr.Pos, perr.Msg, tc.pos, tc.msg)
		}
	}

	_, err := Parse("sate = 1", testSchema)
	if got, want := err.Error(), `filter: at position 0: unknown field "sate"; filterable fields: `+fieldList; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestParseEmpty(t *testing.T) {
	for _, src := range []string{"", "   ", "\n\t"} {
		e, err := Parse(src, testSchema)
		if e != nil || err != nil {
			t.Errorf("Parse(%q) = %v, %v; want nil, nil", src, e, err)
		}
	}
	if where, args := SQL(nil, testKind); where != "true" || args != nil {
		t.Errorf("SQL(nil) = %q, %v", where, args)
	}
}

// TestPrecedence checks AIP-160 precedence by running filters whose
// readings select different rows.
func TestPrecedence(t *testing.T) {
	recs := testRecords()
	db := openTestDB(t, t.TempDir(), testSchema, recs)
	a := func(r rec) bool { return r.active }
	b := func(r rec) bool { return r.state == 1 }
	c := func(r rec) bool { return r.members > 0 }
	aip := filterIDs(recs, func(r rec) bool { return a(r) && (b(r) || c(r)) })
	leftToRight := filterIDs(recs, func(r rec) bool { return (a(r) && b(r)) || c(r) })
	if slices.Equal(aip, leftToRight) {
		t.Fatal("test data does not tell the two readings apart")
	}
	orFirst := filterIDs(recs, func(r rec) bool { return (b(r) || c(r)) && a(r) })
	for _, tc := range []struct {
		src  string
		want []int64
	}{
		{"active = true AND state = DRAFT OR member_count > 0", aip},
		{"active = true state = DRAFT OR member_count > 0", aip},
		{"state = DRAFT OR member_count > 0 active = true", orFirst},
		{"state = DRAFT OR member_count > 0 AND active = true", orFirst},
		{"(active = true AND state = DRAFT) OR member_count > 0", leftToRight},
		{"(active = true state = DRAFT) OR member_count > 0", leftToRight},
		{"NOT active = true OR state = DRAFT", filterIDs(recs, func(r rec) bool { return !a(r) || b(r) })},
		{"-(active = true OR state = DRAFT) member_count > 0", filterIDs(recs, func(r rec) bool { return !(a(r) || b(r)) && c(r) })},
	} {
		e, err := Parse(tc.src, testSchema)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.src, err)
			continue
		}
		where, args := SQL(e, testKind)
		got, err := queryIDs(t, db, where, args)
		if err != nil {
			t.Errorf("%q: %s: %v", tc.src, where, err)
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q (%s)\ngot  %v\nwant %v", tc.src, where, got, tc.want)
		}
	}
}

func TestEndToEnd(t *testing.T) {
	recs := testRecords()
	db := openTestDB(t, t.TempDir(), testSchema, recs)
	ts := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UnixNano()
	}
	has := func(list []string, v string) bool { return slices.Contains(list, v) }
	partner := func(r rec) string {
		if r.partner == nil {
			return ""
		}
		return *r.partner
	}
	d := func(y, m, dd int32) [3]int32 { return [3]int32{y, m, dd} }
	t3 := ts("2024-05-28T07:00:00.003Z")
	for _, tc := range []struct {
		src  string
		pred func(rec) bool
	}{
		// String
		{"display_name = Berlin", func(r rec) bool { return r.name == "Berlin" }},
		{`display_name = "O'Hare"`, func(r rec) bool { return r.name == "O'Hare" }},
		{`display_name = 'Quote"d'`, func(r rec) bool { return r.name == `Quote"d` }},
		{`display_name = "Quote\"d"`, func(r rec) bool { return r.name == `Quote"d` }},
		{`display_name = "a\tb"`, func(r rec) bool { return r.name == "a\tb" }},
		{`display_name = ""`, func(r rec) bool { return r.name == "" }},
		{"display_name != Berlin", func(r rec) bool { return r.name != "Berlin" }},
		{"display_name < Bern", func(r rec) bool { return r.name < "Bern" }},
		{"display_name <= Bern", func(r rec) bool { return r.name <= "Bern" }},
		{"display_name > Bern", func(r rec) bool { return r.name > "Bern" }},
		{"display_name >= Bern", func(r rec) bool { return r.name >= "Bern" }},
		{"display_name = Ber*", func(r rec) bool { return strings.HasPrefix(r.name, "Ber") }},
		{`display_name = "Bern*"`, func(r rec) bool { return strings.HasPrefix(r.name, "Bern") }},
		{"display_name = Zü*", func(r rec) bool { return strings.HasPrefix(r.name, "Zü") }},
		{"display_name != Ber*", func(r rec) bool { return !strings.HasPrefix(r.name, "Ber") }},
		{`display_name = "Ber\*"`, func(r rec) bool { return r.name == "Ber*" }},
		{"display_name = *", func(r rec) bool { return true }},
		{"display_name=Bonn", func(r rec) bool { return r.name == "Bonn" }},
		{"partner.country_code = DE", func(r rec) bool { return partner(r) == "DE" }},
		{"partner.country_code = ''", func(r rec) bool { return partner(r) == "" }},
		{"partner.country_code > E", func(r rec) bool { return partner(r) > "E" }},
		// Int
		{"member_count = 27", func(r rec) bool { return r.members == 27 }},
		{`member_count = "27"`, func(r rec) bool { return r.members == 27 }},
		{"member_count != 27", func(r rec) bool { return r.members != 27 }},
		{"member_count < 0", func(r rec) bool { return r.members < 0 }},
		{"member_count <= -5", func(r rec) bool { return r.members <= -5 }},
		{"member_count > -5", func(r rec) bool { return r.members > -5 }},
		{"member_count >= 27", func(r rec) bool { return r.members >= 27 }},
		// Bool
		{"active = true", func(r rec) bool { return r.active }},
		{"active = false", func(r rec) bool { return !r.active }},
		{"active != true", func(r rec) bool { return !r.active }},
		{"active != false", func(r rec) bool { return r.active }},
		// Enum
		{"state = IN_FORCE", func(r rec) bool { return r.state == 2 }},
		{"state = STATE_DRAFT", func(r rec) bool { return r.state == 1 }},
		{`state = "EXPIRED"`, func(r rec) bool { return r.state == 3 }},
		{"state = UNSPECIFIED", func(r rec) bool { return r.state == 0 }},
		{"state != DRAFT", func(r rec) bool { return r.state != 1 }},
		// Date (date_test.go has the full table)
		{"signed_date = 2021-11-23", func(r rec) bool { return r.date == d(2021, 11, 23) }},
		{"signed_date != 2021-11-23", func(r rec) bool { return r.date != d(2021, 11, 23) }},
		{"signed_date >= 2021", func(r rec) bool { return dateHolds(r.date, ">=", d(2021, 0, 0)) }},
		{"signed_date < 2021", func(r rec) bool { return dateHolds(r.date, "<", d(2021, 0, 0)) }},
		{"signed_date = 2021", func(r rec) bool { return r.date[0] == 2021 }},
		{"signed_date <= 2021", func(r rec) bool { return !r.hasDate() || r.date[0] <= 2021 }},
		{"signed_date < 2021-07", func(r rec) bool { return dateHolds(r.date, "<", d(2021, 7, 0)) }},
		{"signed_date = 2021-07", func(r rec) bool { return r.date[0] == 2021 && r.date[1] == 7 }},
		{"signed_date <= 2022-04-06", func(r rec) bool { return dateHolds(r.date, "<=", d(2022, 4, 6)) }},
		{"signed_date > 2020-06-12", func(r rec) bool { return dateHolds(r.date, ">", d(2020, 6, 12)) }},
		{"signed_date = 0001 OR signed_date > 2022", func(r rec) bool {
			return r.date[0] == 1 || r.date[0] > 2022
		}},
		// Timestamp
		{"update_time = 2024-05-28T07:00:00.003Z", func(r rec) bool { return r.updateNanos() == t3 }},
		{"update_time != 2024-05-28T07:00:00.003Z", func(r rec) bool { return r.updateNanos() != t3 }},
		{"update_time < 2024-05-28T07:00:00.003Z", func(r rec) bool { return r.updateNanos() < t3 }},
		{"update_time <= 2024-05-28T09:00:00.003+02:00", func(r rec) bool { return r.updateNanos() <= t3 }},
		{"update_time > 2024-05-28T07:00:00.003Z", func(r rec) bool { return r.updateNanos() > t3 }},
		// An unset timestamp is stored as 0, so it counts as the Unix epoch.
		{"update_time >= 1970-01-01T00:00:00Z", func(r rec) bool { return r.updateNanos() >= 0 }},
		{"update_time < 1970-01-01T00:00:00Z", func(r rec) bool { return r.hasUpdate && r.update.Before(time.Unix(0, 0)) }},
		// Repeated
		{"countries:DE", func(r rec) bool { return has(r.countries, "DE") }},
		{"countries : 'Zürich'", func(r rec) bool { return has(r.countries, "Zürich") }},
		{"countries:*", func(r rec) bool { return len(r.countries) > 0 }},
		{"-countries:*", func(r rec) bool { return len(r.countries) == 0 }},
		{"tags:CAPITAL", func(r rec) bool { return has(r.tags, "TAG_CAPITAL") }},
		{"tags:TAG_COASTAL", func(r rec) bool { return has(r.tags, "TAG_COASTAL") }},
		{"tags:*", func(r rec) bool { return len(r.tags) > 0 }},
		{"NOT tags:UNIVERSITY", func(r rec) bool { return !has(r.tags, "TAG_UNIVERSITY") }},
		{"tags:CAPITAL tags:COASTAL", func(r rec) bool { return has(r.tags, "TAG_CAPITAL") && has(r.tags, "TAG_COASTAL") }},
		// Combinations
		{"NOT state = DRAFT", func(r rec) bool { return r.state != 1 }},
		{"NOT(state = DRAFT)", func(r rec) bool { return r.state != 1 }},
		{"-state = DRAFT", func(r rec) bool { return r.state != 1 }},
		{"state = DRAFT OR state = IN_FORCE", func(r rec) bool { return r.state == 1 || r.state == 2 }},
		{"active = true AND member_count > 0", func(r rec) bool { return r.active && r.members > 0 }},
		{"(state = DRAFT OR active = true) AND countries:FR", func(r rec) bool { return (r.state == 1 || r.active) && has(r.countries, "FR") }},
		{"display_name = Ber* -display_name = Bern* NOT (tags:CAPITAL OR countries:IT)", func(r rec) bool {
			return strings.HasPrefix(r.name, "Ber") && !strings.HasPrefix(r.name, "Bern") && !(has(r.tags, "TAG_CAPITAL") || has(r.countries, "IT"))
		}},
	} {
		e, err := Parse(tc.src, testSchema)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.src, err)
			continue
		}
		where, args := SQL(e, testKind)
		got, err := queryIDs(t, db, where, args)
		if err != nil {
			t.Errorf("%q: %s: %v", tc.src, where, err)
			continue
		}
		if want := filterIDs(recs, tc.pred); !slices.Equal(got, want) {
			t.Errorf("%q (%s %v)\ngot  %v\nwant %v", tc.src, where, args, got, want)
		}
		if strings.Contains(where, "'") {
			t.Errorf("%q: SQL %s contains a string literal", tc.src, where)
		}
	}
}

func TestPrefixUpperBound(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		want   []any
	}{
		{"Ber", []any{"Ber", "Bes"}},
		{"a\xff", []any{"a\xff", "b"}},
		{"a\xfe\xff\xff", []any{"a\xfe\xff\xff", "a\xff"}},
		{"\xff\xff", []any{"\xff\xff"}},
		{"", []any{""}},
	} {
		f, _ := testSchema.Lookup("display_name")
		_, args := SQL(prefixExpr{field: f, prefix: tc.prefix}, testKind)
		if !reflect.DeepEqual(args, tc.want) {
			t.Errorf("prefix %q: args %q, want %q", tc.prefix, args, tc.want)
		}
	}
}

func TestParseOrderBy(t *testing.T) {
	field := func(path string) Field {
		f, ok := testSchema.Lookup(path)
		if !ok {
			t.Fatalf("no field %s", path)
		}
		return f
	}
	for _, tc := range []struct {
		src  string
		want []OrderKey
	}{
		{"", nil},
		{"  ", nil},
		{"state", []OrderKey{{field("state"), false}}},
		{"state desc, update_time", []OrderKey{{field("state"), true}, {field("update_time"), false}}},
		{"  partner.country_code   DESC ,display_name asc ", []OrderKey{{field("partner.country_code"), true}, {field("display_name"), false}}},
		{"signed_date,member_count desc,active", []OrderKey{{field("signed_date"), false}, {field("member_count"), true}, {field("active"), false}}},
	} {
		got, err := ParseOrderBy(tc.src, testSchema)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseOrderBy(%q) = %v, %v; want %v", tc.src, got, err, tc.want)
		}
	}

	const orderable = "display_name, state, member_count, active, signed_date, update_time, partner.country_code"
	for _, tc := range []struct {
		src string
		pos int
		msg string
	}{
		{"sate", 0, `unknown field "sate"; orderable fields: ` + orderable},
		{"state, countries", 7, "repeated field countries cannot be used for ordering"},
		{"state, update_time, state desc", 20, "field state appears more than once"},
		{"state descending", 6, `unknown direction "descending" after state; use asc or desc`},
		{"state desc desc", 11, "unexpected 'd'; separate fields with ','"},
		{"state,", 6, "expected a field name, found end of input"},
		{", state", 0, "expected a field name, found ','"},
		{"state;", 5, "unexpected ';'"},
		{"1state", 0, "expected a field name"},
		{strings.Repeat("a", 5000), 4096, "order_by is 5000 bytes long"},
	} {
		got, err := ParseOrderBy(tc.src, testSchema)
		var perr *Error
		if !errors.As(err, &perr) {
			t.Errorf("ParseOrderBy(%q) = %v, %v; want *Error", tc.src, got, err)
			continue
		}
		if perr.Pos != tc.pos || !strings.Contains(perr.Msg, tc.msg) {
			t.Errorf("ParseOrderBy(%q) error at %d: %q\nwant at %d: %q", tc.src, perr.Pos, perr.Msg, tc.pos, tc.msg)
		}
		if !strings.HasPrefix(err.Error(), "order_by: at position ") {
			t.Errorf("ParseOrderBy(%q) error %q lacks the order_by prefix", tc.src, err)
		}
	}
}
