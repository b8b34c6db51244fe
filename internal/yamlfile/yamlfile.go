// Package yamlfile reads the YAML files an operator writes by hand (a
// node's config, the federation manifest, a member entry) strictly, and
// says what is wrong in the file's own terms: the YAML library answers in
// those of its JSON conversion ("error unmarshaling JSON: while decoding
// JSON: json: unknown field") and of Go ("Go struct field C.rate_limit of
// type int").
package yamlfile

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// Decode reads data into v, refusing unknown fields and a key given twice
// in one spelling (field names match whatever their case, as in
// encoding/json).
func Decode(data []byte, v any) error {
	err := yaml.UnmarshalStrict(data, v)
	if err == nil {
		return nil
	}
	return errors.New(plain(err.Error(), data, v))
}

var (
	unknownField = regexp.MustCompile(`unknown field "([^"]*)"`)
	wrongType    = regexp.MustCompile(`cannot unmarshal (\w+)(?: (\S+))? into Go (?:struct field \S*?\.|value of type )(\S+?)(?: of type (\S+))?$`)
)

// keyLine is the line (from 1) where key is first given in data at the
// top level (not indented, not a list item) or, with top false, further
// in; 0 when it is not given there.
func keyLine(data []byte, key string, top bool) int {
	re := regexp.MustCompile(`(?m)^([ \t]*(?:-[ \t]+)?)["']?` + regexp.QuoteMeta(key) + `["']?[ \t]*:`)
	for _, m := range re.FindAllSubmatchIndex(data, -1) {
		if (m[3] == m[2]) == top {
			return bytes.Count(data[:m[0]], []byte("\n")) + 1
		}
	}
	return 0
}

// at prefixes s with line, when it is known.
func at(line int, s string) string {
	if line > 0 {
		return fmt.Sprintf("line %d: %s", line, s)
	}
	return s
}

func plain(msg string, data []byte, v any) string {
	for _, prefix := range []string{"error unmarshaling JSON: ", "while decoding JSON: ", "json: "} {
		msg = strings.TrimPrefix(msg, prefix)
	}
	if rest, ok := strings.CutPrefix(msg, "error converting YAML to JSON: yaml: "); ok {
		return "not valid YAML: " + strings.Join(strings.Fields(strings.TrimPrefix(rest, "unmarshal errors:")), " ")
	}
	if m := unknownField.FindStringSubmatch(msg); m != nil {
		s := fmt.Sprintf("unknown field %q", m[1])
		// The library does not say where. A name of the top level's is
		// unknown further in; another given at the top level may be a
		// misspelling of one there (one further in, of a field of whatever
		// holds it, which the suggestion does not know).
		names := fieldNames(v)
		line := 0
		if !slices.Contains(names, m[1]) {
			line = keyLine(data, m[1], true)
		}
		if line > 0 {
			if near := nearest(m[1], names); near != "" {
				s += fmt.Sprintf(" (did you mean %s?)", near)
			}
		} else {
			line = keyLine(data, m[1], false)
		}
		return at(line, s)
	}
	if m := wrongType.FindStringSubmatch(msg); m != nil {
		what := given[m[1]]
		if m[2] != "" {
			what += " (" + m[2] + ")"
		}
		if m[4] == "" {
			return fmt.Sprintf("the file holds %s where %s is wanted", what, wanted(m[3]))
		}
		field := m[3]
		dot := strings.LastIndexByte(field, '.')
		line := keyLine(data, field[dot+1:], dot < 0)
		return at(line, fmt.Sprintf("field %s: %s where %s is wanted", field, what, wanted(m[4])))
	}
	return msg
}

// given names the JSON kinds of value the library reports in YAML's terms.
var given = map[string]string{"array": "a list", "object": "a mapping", "string": "a string", "number": "a number", "bool": "true or false"}

// wanted names a Go type in the file's terms.
func wanted(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case goType == "time.Duration":
		return "a duration such as 30s or 5m"
	case strings.HasPrefix(goType, "map["), strings.Contains(goType, "."):
		return "a mapping of fields"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "a whole number"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "bool":
		return "true or false"
	case goType == "string":
		return "a string"
	}
	return goType
}

// fieldNames are the names v's top-level fields take in the file.
func fieldNames(v any) []string {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}

// nearest is the one name within two edits of s, if there is exactly one.
func nearest(s string, names []string) string {
	found := ""
	for _, n := range names {
		if distance(s, n) <= 2 {
			if found != "" {
				return ""
			}
			found = n
		}
	}
	return found
}

// distance is the Levenshtein distance of a and b, in bytes.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
