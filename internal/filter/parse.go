package filter

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/provex/provex/internal/workdays"
)

const (
	maxSourceLen    = 4096
	maxDepth        = 32
	maxRestrictions = 64
)

// Error is what Parse and ParseOrderBy return for bad input.
type Error struct {
	Pos   int    // 0-based byte offset into the input
	Msg   string // what is wrong, phrased for the API caller
	Param string // the request parameter the input came from: "filter" (when empty) or "order_by"
}

func (e *Error) Error() string {
	param := e.Param
	if param == "" {
		param = "filter"
	}
	return fmt.Sprintf("%s: at position %d: %s", param, e.Pos, e.Msg)
}

// Expr is a parsed and type-checked filter; compile it with SQL.
type Expr interface{ isExpr() }

type andExpr struct{ terms []Expr }
type orExpr struct{ terms []Expr }
type notExpr struct{ x Expr }

// compareExpr compares a scalar column with an encoded literal.
type compareExpr struct {
	field Field
	op    string
	value any
}

// prefixExpr is a String field compared with "prefix*".
type prefixExpr struct {
	field  Field
	prefix string
}

// hasExpr is a repeated field restricted with ':'; anyValue means ":*".
type hasExpr struct {
	field    Field
	value    string
	anyValue bool
}

func (andExpr) isExpr()     {}
func (orExpr) isExpr()      {}
func (notExpr) isExpr()     {}
func (compareExpr) isExpr() {}
func (prefixExpr) isExpr()  {}
func (hasExpr) isExpr()     {}
func (setExpr) isExpr()     {}

// setExpr holds when a date or timestamp field is set (not 0): what has no
// date has no age.
type setExpr struct{ field Field }

// Parse parses and type-checks src against s, ages (".age") relative to
// the current time. An empty or all-whitespace src yields (nil, nil), which
// SQL compiles to a condition matching all rows.
func Parse(src string, s *Schema) (Expr, error) {
	return ParseAt(src, s, time.Now())
}

// ParseAt is Parse with ages relative to now, so that a summary's filter
// and its ".age" buckets use one clock.
func ParseAt(src string, s *Schema, now time.Time) (Expr, error) {
	if err := checkSource(src, "filter"); err != nil {
		return nil, err
	}
	p := &parser{src: src, schema: s, now: now}
	p.skipSpace()
	if p.eof() {
		return nil, nil
	}
	e, err := p.expression()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if !p.eof() {
		if p.src[p.pos] == ')' {
			return nil, p.errorf(p.pos, "unbalanced ')': no '(' to close")
		}
		return nil, p.errorf(p.pos, "unexpected %s", p.describeAt(p.pos))
	}
	return e, nil
}

func checkSource(src, param string) error {
	if len(src) > maxSourceLen {
		return &Error{Pos: maxSourceLen, Param: param, Msg: fmt.Sprintf("%s is %d bytes long; the limit is %d", param, len(src), maxSourceLen)}
	}
	for i := 0; i < len(src); {
		r, size := utf8.DecodeRuneInString(src[i:])
		if r == utf8.RuneError && size == 1 {
			return &Error{Pos: i, Param: param, Msg: "invalid UTF-8"}
		}
		i += size
	}
	return nil
}

type parser struct {
	src          string
	pos          int
	schema       *Schema
	now          time.Time
	depth        int
	restrictions int
}

func (p *parser) errorf(pos int, format string, args ...any) error {
	return &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) eof() bool { return p.pos >= len(p.src) }

func (p *parser) skipSpace() {
	for p.pos < len(p.src) && isSpace(p.src[p.pos]) {
		p.pos++
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isIdentStart(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isIdentChar(c byte) bool { return isIdentStart(c) || '0' <= c && c <= '9' }

// isBareChar reports whether c may appear in an unquoted value. Non-ASCII
// bytes are allowed so that names such as Zürich need no quotes.
func isBareChar(c byte) bool {
	return isIdentChar(c) || c == '.' || c == ':' || c == '+' || c == '-' || c == '*' || c >= utf8.RuneSelf
}

// keywordAt reports whether the keyword kw starts at pos as a whole word.
func (p *parser) keywordAt(pos int, kw string) bool {
	if !strings.HasPrefix(p.src[pos:], kw) {
		return false
	}
	end := pos + len(kw)
	return end == len(p.src) || !isBareChar(p.src[end])
}

func (p *parser) describeAt(pos int) string {
	if pos >= len(p.src) {
		return "end of input"
	}
	r, _ := utf8.DecodeRuneInString(p.src[pos:])
	return strconv.QuoteRune(r)
}

func (p *parser) expression() (Expr, error) {
	terms, err := p.keywordList("AND", p.sequence)
	if err != nil {
		return nil, err
	}
	return joinAnd(terms), nil
}

// keywordList parses one or more operands separated by a keyword (AND or
// OR).
func (p *parser) keywordList(keyword string, operand func() (Expr, error)) ([]Expr, error) {
	first, err := operand()
	if err != nil {
		return nil, err
	}
	terms := []Expr{first}
	for {
		save := p.pos
		p.skipSpace()
		if p.eof() || !p.keywordAt(p.pos, keyword) {
			p.pos = save
			return terms, nil
		}
		p.pos += len(keyword)
		next, err := operand()
		if err != nil {
			return nil, err
		}
		terms = append(terms, next)
	}
}

func (p *parser) sequence() (Expr, error) {
	first, err := p.factor()
	if err != nil {
		return nil, err
	}
	terms := []Expr{first}
	for {
		save := p.pos
		p.skipSpace()
		if p.eof() || p.src[p.pos] == ')' || p.keywordAt(p.pos, "AND") {
			p.pos = save
			break
		}
		next, err := p.factor()
		if err != nil {
			return nil, err
		}
		terms = append(terms, next)
	}
	return joinAnd(terms), nil
}

func joinAnd(terms []Expr) Expr {
	if len(terms) == 1 {
		return terms[0]
	}
	var flat []Expr
	for _, t := range terms {
		if a, ok := t.(andExpr); ok {
			flat = append(flat, a.terms...)
		} else {
			flat = append(flat, t)
		}
	}
	return andExpr{terms: flat}
}

func (p *parser) factor() (Expr, error) {
	terms, err := p.keywordList("OR", p.term)
	if err != nil {
		return nil, err
	}
	first := terms[0]
	if len(terms) == 1 {
		return first, nil
	}
	return orExpr{terms: terms}, nil
}

func (p *parser) term() (Expr, error) {
	p.skipSpace()
	negate := false
	switch {
	case p.eof():
	case p.src[p.pos] == '-':
		negate = true
		p.pos++
	case strings.HasPrefix(p.src[p.pos:], "NOT") &&
		(p.pos+3 == len(p.src) || isSpace(p.src[p.pos+3]) || p.src[p.pos+3] == '('):
		negate = true
		p.pos += len("NOT")
	}
	x, err := p.simple()
	if err != nil {
		return nil, err
	}
	if negate {
		return notExpr{x: x}, nil
	}
	return x, nil
}

func (p *parser) simple() (Expr, error) {
	p.skipSpace()
	if p.eof() {
		return nil, p.errorf(p.pos, "unexpected end of filter; expected a restriction such as field = value")
	}
	if p.src[p.pos] != '(' {
		return p.restriction()
	}
	open := p.pos
	p.depth++
	if p.depth > maxDepth {
		return nil, p.errorf(open, "parentheses nested deeper than %d levels", maxDepth)
	}
	p.pos++
	e, err := p.expression()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.eof() || p.src[p.pos] != ')' {
		return nil, p.errorf(open, "unbalanced '(': no matching ')'")
	}
	p.pos++
	p.depth--
	return e, nil
}

var comparators = []string{"<=", ">=", "!=", "=", "<", ">", ":"}

func (p *parser) comparatorAt(pos int) string {
	for _, op := range comparators {
		if strings.HasPrefix(p.src[pos:], op) {
			return op
		}
	}
	return ""
}

func (p *parser) restriction() (Expr, error) {
	start := p.pos
	c := p.src[start]
	if !isIdentStart(c) {
		if c != '"' && c != '\'' && !isBareChar(c) {
			return nil, p.errorf(start, "unexpected %s; expected a restriction such as field = value", p.describeAt(start))
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if !p.eof() && p.comparatorAt(p.pos) != "" {
			return nil, p.errorf(start, "expected a field name, found %s", p.src[start:v.end])
		}
		return nil, p.errorf(start, "bare value %s; use field = value", p.src[start:v.end])
	}
	path := p.path()
	switch path {
	case "AND", "OR", "NOT":
		return nil, p.errorf(start, "unexpected keyword %s; expected a restriction such as field = value", path)
	}
	if !p.eof() && p.src[p.pos] == '(' {
		return nil, p.errorf(start, "function calls such as %s(...) are not supported", path)
	}
	p.skipSpace()
	opPos := p.pos
	op := ""
	if !p.eof() {
		op = p.comparatorAt(p.pos)
	}
	if op == "" {
		end := start
		for end < len(p.src) && isBareChar(p.src[end]) {
			end++
		}
		word := p.src[start:end]
		switch strings.ToUpper(word) {
		case "AND", "OR", "NOT":
			return nil, p.errorf(start, "bare value %q; keywords must be upper case: %s", word, strings.ToUpper(word))
		}
		return nil, p.errorf(start, "bare value %q; use field = value", word)
	}
	p.restrictions++
	if p.restrictions > maxRestrictions {
		return nil, p.errorf(start, "more than %d restrictions", maxRestrictions)
	}
	f, ok := p.schema.Lookup(path)
	base, age := strings.CutSuffix(path, ".age")
	if !ok && age {
		f, ok = p.schema.Lookup(base)
	} else {
		age = false
	}
	if !ok {
		return nil, p.errorf(start, "unknown field %q; filterable fields: %s", path, strings.Join(p.schema.paths(false), ", "))
	}
	if age && (f.Repeated || f.Type != Date && f.Type != Timestamp) {
		return nil, p.errorf(start, "%s is a %s field; only dates and timestamps have an age (.age, in days)", base, f.Type)
	}
	p.pos += len(op)
	p.skipSpace()
	if p.eof() {
		return nil, p.errorf(p.pos, "missing value after %s %s", path, op)
	}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	if age {
		return p.age(f, op, opPos, v)
	}
	return p.check(f, op, opPos, v)
}

// path scans ident { "." ident }; the caller has checked the first byte.
func (p *parser) path() string {
	start := p.pos
	for {
		for p.pos < len(p.src) && isIdentChar(p.src[p.pos]) {
			p.pos++
		}
		if p.pos+1 < len(p.src) && p.src[p.pos] == '.' && isIdentStart(p.src[p.pos+1]) {
			p.pos++
			continue
		}
		return p.src[start:p.pos]
	}
}

// literal is a scanned value. wildcard records an unescaped trailing '*',
// which text no longer contains.
type literal struct {
	text     string
	pos, end int
	quoted   bool
	wildcard bool
}

func (l literal) String() string {
	s := l.text
	if l.wildcard {
		s += "*"
	}
	return strconv.Quote(s)
}

func (p *parser) value() (literal, error) {
	start := p.pos
	c := p.src[start]
	if c == '"' || c == '\'' {
		return p.quoted(c)
	}
	if !isBareChar(c) {
		return literal{}, p.errorf(start, "expected a value, found %s", p.describeAt(start))
	}
	for p.pos < len(p.src) && isBareChar(p.src[p.pos]) {
		p.pos++
	}
	text := p.src[start:p.pos]
	switch text {
	case "AND", "OR", "NOT":
		return literal{}, p.errorf(start, "expected a value, found keyword %s; quote it to use it as text", text)
	}
	l := literal{text: text, pos: start, end: p.pos}
	if i := strings.IndexByte(text, '*'); i >= 0 {
		if i != len(text)-1 {
			return literal{}, p.errorf(start+i, "'*' is only allowed at the end of a value (prefix match)")
		}
		l.text, l.wildcard = text[:i], true
	}
	return l, nil
}

func (p *parser) quoted(quote byte) (literal, error) {
	start := p.pos
	p.pos++
	var b strings.Builder
	wildcard := false
	for {
		if p.eof() {
			return literal{}, p.errorf(start, "unterminated string")
		}
		c := p.src[p.pos]
		if wildcard {
			if c != quote {
				return literal{}, p.errorf(p.pos-1, `'*' is only allowed at the end of a value (prefix match); write \* for a literal *`)
			}
		}
		switch c {
		case quote:
			p.pos++
			return literal{text: b.String(), pos: start, end: p.pos, quoted: true, wildcard: wildcard}, nil
		case '*':
			wildcard = true
			p.pos++
		case '\\':
			if p.pos+1 >= len(p.src) {
				return literal{}, p.errorf(start, "unterminated string")
			}
			switch e := p.src[p.pos+1]; e {
			case '"', '\'', '\\', '*':
				b.WriteByte(e)
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			default:
				return literal{}, p.errorf(p.pos, `unknown escape sequence \%s; use \", \', \\, \n, \t or \*`, p.src[p.pos+1:p.pos+1+utf8RuneLen(p.src[p.pos+1:])])
			}
			p.pos += 2
		default:
			b.WriteByte(c)
			p.pos++
		}
	}
}

func utf8RuneLen(s string) int {
	_, n := utf8.DecodeRuneInString(s)
	return n
}

// check type-checks one restriction and converts its literal with the same
// encoding Field.Values uses.
func (p *parser) check(f Field, op string, opPos int, v literal) (Expr, error) {
	if f.Repeated {
		if op != ":" {
			return nil, p.errorf(opPos, "%s is a repeated field; only ':' applies, e.g. %s:VALUE or %s:*", f.Path, f.Path, f.Path)
		}
		if v.wildcard {
			if v.text != "" {
				return nil, p.errorf(v.pos, "prefix match is not supported on repeated field %s", f.Path)
			}
			return hasExpr{field: f, anyValue: true}, nil
		}
		if f.Type == Enum {
			n, err := p.enumValue(f, v)
			if err != nil {
				return nil, err
			}
			return hasExpr{field: f, value: enumName(f.Enum, n)}, nil
		}
		return hasExpr{field: f, value: v.text}, nil
	}
	if op == ":" && v.wildcard && v.text == "" {
		return nil, p.errorf(opPos, "':*' (presence) applies only to repeated fields; %s always has a value", f.Path)
	}
	if op == ":" {
		return nil, p.errorf(opPos, "':' (has) applies only to repeated fields; use %s = %s", f.Path, v.display())
	}
	if v.wildcard {
		if f.Type != String {
			return nil, p.errorf(v.pos, "prefix match (*) applies only to string fields; %s is a %s field", f.Path, f.Type)
		}
		switch op {
		case "=":
			return prefixExpr{field: f, prefix: v.text}, nil
		case "!=":
			return notExpr{x: prefixExpr{field: f, prefix: v.text}}, nil
		}
		return nil, p.errorf(opPos, "prefix match (*) works only with = and !=")
	}
	if (f.Type == Bool || f.Type == Enum) && op != "=" && op != "!=" {
		return nil, p.errorf(opPos, "%s is a %s field; only = and != apply", f.Path, f.Type)
	}
	var value any
	switch f.Type {
	case String:
		value = v.text
	case Int:
		n, err := strconv.ParseInt(v.text, 10, 64)
		if err != nil {
			u, uerr := strconv.ParseUint(v.text, 10, 64)
			if uerr != nil || !f.unsigned64() {
				return nil, p.errorf(v.pos, "%s is an integer field; %s is not a 64-bit integer", f.Path, v.display())
			}
			n = int64(u) // wraps like Values does for uint64 fields
		}
		value = n
	case Bool:
		switch v.text {
		case "true":
			value = int64(1)
		case "false":
			value = int64(0)
		default:
			return nil, p.errorf(v.pos, "%s is a boolean field; want true or false, got %s", f.Path, v.display())
		}
	case Enum:
		n, err := p.enumValue(f, v)
		if err != nil {
			return nil, err
		}
		value = int64(n)
	case Date:
		d, msg := parseDate(v.text)
		if msg != "" {
			return nil, p.errorf(v.pos, "%s is a date field; want YYYY-MM-DD, YYYY-MM or YYYY, got %s: %s", f.Path, v.display(), msg)
		}
		value = d
	case Timestamp:
		t, err := time.Parse(time.RFC3339, v.text)
		if err != nil {
			return nil, p.errorf(v.pos, "%s is a timestamp field; want RFC 3339 such as 2024-05-27T10:00:00Z, got %s", f.Path, v.display())
		}
		if t.Before(MinTimestamp) || t.After(MaxTimestamp) {
			return nil, p.errorf(v.pos, "timestamp %s is outside the supported range %s..%s", v.display(), MinTimestamp.Format(time.RFC3339), MaxTimestamp.Format(time.RFC3339))
		}
		value = t.UnixNano()
	}
	return compareExpr{field: f, op: op, value: value}, nil
}

// maxAgeDays bounds ".age" literals: a century, which keeps now minus the
// age inside the timestamps' range (1678..2262).
const maxAgeDays = 36500

// age compiles "field.age op N": the field is set and lies more (>), at
// least (>=), less (<) or at most (<=) N days before p.now. A timestamp's
// age is the time elapsed, N days being N×24 hours; a date's is whole days
// from it to today in Vietnam (workdays.Vietnam, the day deadlines count
// in and a summary's timestamp buckets use), compared as date restrictions
// are (date.go), so "signed_date.age > 30" is "signed_date < today minus
// 30 days".
func (p *parser) age(f Field, op string, opPos int, v literal) (Expr, error) {
	switch op {
	case "<", "<=", ">", ">=":
	default:
		return nil, p.errorf(opPos, "%s.age compares with <, <=, > or >= only, e.g. %s.age > 30 (days)", f.Path, f.Path)
	}
	n, err := strconv.ParseInt(v.text, 10, 64)
	if err != nil || v.wildcard || n < 0 || n > maxAgeDays {
		return nil, p.errorf(v.pos, "%s.age is in whole days from 0 to %d; got %s", f.Path, maxAgeDays, v.display())
	}
	// An older record has an earlier value: age > N is value < now - N.
	cmp := map[string]string{"<": ">", "<=": ">=", ">": "<", ">=": "<="}[op]
	var cutoff int64
	if f.Type == Timestamp {
		cutoff = p.now.UnixNano() - n*int64(24*time.Hour)
	} else {
		cutoff = encodeDate(dayOf(p.now.In(workdays.Vietnam).AddDate(0, 0, -int(n))).ymd())
	}
	return andExpr{terms: []Expr{setExpr{field: f}, compareExpr{field: f, op: cmp, value: cutoff}}}, nil
}

// MinTimestamp and MaxTimestamp bound the times a timestamp field may
// hold: filter columns keep a timestamp as int64 nanoseconds since 1970,
// so a time outside them can be neither ordered nor filtered (it sorts
// with the bound itself). The API refuses any other time, and a node
// applies no other member's state that holds one (validation.WellFormed).
// They are whole seconds, inside what int64 nanoseconds hold, so that the
// bounds as written (RFC 3339, no fraction) are themselves times kept.
var (
	MinTimestamp = time.Unix(math.MinInt64/int64(time.Second), 0).UTC()
	MaxTimestamp = time.Unix(math.MaxInt64/int64(time.Second), 0).UTC()
)

func (l literal) display() string {
	if l.quoted || l.wildcard {
		return l.String()
	}
	return l.text
}

func (f Field) unsigned64() bool {
	k := f.chain[len(f.chain)-1].Kind()
	return k == protoreflect.Uint64Kind || k == protoreflect.Fixed64Kind
}

func (p *parser) enumValue(f Field, v literal) (protoreflect.EnumNumber, error) {
	values := f.Enum.Values()
	if ev := values.ByName(protoreflect.Name(v.text)); ev != nil {
		return ev.Number(), nil
	}
	prefix := enumPrefix(f.Enum)
	if prefix != "" {
		if ev := values.ByName(protoreflect.Name(prefix + v.text)); ev != nil {
			return ev.Number(), nil
		}
	}
	names := make([]string, values.Len())
	for i := range names {
		name := string(values.Get(i).Name())
		if short, ok := strings.CutPrefix(name, prefix); ok && prefix != "" && short != "" {
			name = short
		}
		names[i] = name
	}
	return 0, p.errorf(v.pos, "unknown value %s for enum field %s; valid values: %s", v.display(), f.Path, strings.Join(names, ", "))
}

// parseDate returns the encoded date, or a reason the text is not a date.
func parseDate(s string) (int64, string) {
	var parts [3]int64
	fields := strings.Split(s, "-")
	widths := [3]int{4, 2, 2}
	if len(fields) > 3 {
		return 0, "too many parts"
	}
	for i, field := range fields {
		if len(field) != widths[i] {
			return 0, fmt.Sprintf("part %d must have %d digits", i+1, widths[i])
		}
		for j := 0; j < len(field); j++ {
			if field[j] < '0' || field[j] > '9' {
				return 0, fmt.Sprintf("part %d must have %d digits", i+1, widths[i])
			}
		}
		parts[i], _ = strconv.ParseInt(field, 10, 64)
	}
	// A missing month or day stays 0, as in a stored partial date: the
	// literal names that whole month or year (see date.go).
	year, month, day := parts[0], parts[1], parts[2]
	if year < 1 {
		return 0, "year must be at least 0001"
	}
	if len(fields) >= 2 && (month < 1 || month > 12) {
		return 0, "month must be 01..12"
	}
	if len(fields) == 3 {
		if days := time.Date(int(year), time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day(); day < 1 || day > int64(days) {
			return 0, fmt.Sprintf("day must be 01..%02d", days)
		}
	}
	return encodeDate(year, month, day), ""
}
