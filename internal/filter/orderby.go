package filter

import (
	"fmt"
	"strings"
)

// OrderKey is one field of an order_by, in priority order.
type OrderKey struct {
	Field Field
	Desc  bool
}

// ParseOrderBy parses an AIP-132 order_by such as "state, update_time desc".
// Only non-repeated schema fields may appear, each at most once; asc and
// desc are accepted in any letter case. Empty or all-whitespace src yields
// (nil, nil).
func ParseOrderBy(src string, s *Schema) ([]OrderKey, error) {
	if err := checkSource(src, "order_by"); err != nil {
		return nil, err
	}
	fail := func(pos int, format string, args ...any) error {
		return &Error{Pos: pos, Param: "order_by", Msg: fmt.Sprintf(format, args...)}
	}
	p := &parser{src: src, schema: s}
	p.skipSpace()
	if p.eof() {
		return nil, nil
	}
	var keys []OrderKey
	seen := map[string]bool{}
	for {
		p.skipSpace()
		start := p.pos
		if p.eof() || !isIdentStart(p.src[p.pos]) {
			return nil, fail(start, "expected a field name, found %s", p.describeAt(start))
		}
		path := p.path()
		f, ok := s.Lookup(path)
		switch {
		case !ok:
			return nil, fail(start, "unknown field %q; orderable fields: %s", path, strings.Join(s.paths(true), ", "))
		case f.Repeated:
			return nil, fail(start, "repeated field %s cannot be used for ordering; orderable fields: %s", path, strings.Join(s.paths(true), ", "))
		case seen[path]:
			return nil, fail(start, "field %s appears more than once", path)
		}
		seen[path] = true
		key := OrderKey{Field: f}
		p.skipSpace()
		if !p.eof() && isIdentStart(p.src[p.pos]) {
			wordPos := p.pos
			word := p.path()
			switch strings.ToLower(word) {
			case "asc":
			case "desc":
				key.Desc = true
			default:
				return nil, fail(wordPos, "unknown direction %q after %s; use asc or desc, and separate fields with ','", word, path)
			}
			p.skipSpace()
		}
		keys = append(keys, key)
		if p.eof() {
			return keys, nil
		}
		if p.src[p.pos] != ',' {
			return nil, fail(p.pos, "unexpected %s; separate fields with ','", p.describeAt(p.pos))
		}
		p.pos++
	}
}
