package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// comments maps a declaration to its leading comment. Keys are full names
// (provex.twinning.v1.Agreement, provex.twinning.v1.Agreement.state,
// provex.twinning.v1.TwinningService.GetAgreement); enum values are keyed
// under their enum (provex.twinning.v1.Agreement.State.STATE_IN_FORCE), not
// under the enum's parent as protobuf scopes them.
type comments map[string]string

// The generated descriptors carry no source info, so comments come from the
// .proto text. This is a line-based reader for buf-formatted files, not a
// full parser: it tracks message/enum/service nesting by braces and takes
// the // block directly above a declaration (a blank line detaches it), or
// else a trailing // comment on the declaration's line.
var (
	declRE    = regexp.MustCompile(`^(message|enum|service|oneof)\s+(\w+)\s*\{`)
	rpcRE     = regexp.MustCompile(`^rpc\s+(\w+)\s*\(`)
	packageRE = regexp.MustCompile(`^package\s+([\w.]+)\s*;`)
	fieldRE   = regexp.MustCompile(`^(?:(?:repeated|optional|required)\s+)?(?:map\s*<[^>]*>|[\w.]+)\s+(\w+)\s*=\s*\d+`)
	valueRE   = regexp.MustCompile(`^(\w+)\s*=\s*-?\d+`)
)

// readComments reads every .proto file under dir.
func readComments(dir string) (comments, error) {
	c := comments{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".proto") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		c.parse(string(src))
		return nil
	})
	return c, err
}

type scope struct {
	kind string // message, enum, service, oneof or "" for any other brace
	name string
}

func (c comments) parse(src string) {
	var (
		pkg     string
		stack   []scope
		pending []string
	)
	// prefix is the full name of the innermost named scope; oneofs are
	// transparent because their fields belong to the message.
	prefix := func() string {
		p := pkg
		for _, s := range stack {
			if s.kind == "message" || s.kind == "enum" || s.kind == "service" {
				p += "." + s.name
			}
		}
		return p
	}
	top := func() string {
		if len(stack) == 0 {
			return ""
		}
		return stack[len(stack)-1].kind
	}
	for _, line := range strings.Split(src, "\n") {
		t := strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(t, "//"); ok {
			pending = append(pending, strings.TrimPrefix(rest, " "))
			continue
		}
		if t == "" {
			pending = nil
			continue
		}
		code, trailing := splitCode(t)
		doc := strings.TrimSpace(strings.Join(pending, "\n"))
		if doc == "" {
			doc = trailing
		}
		pending = nil

		var open *scope
		switch m := declRE.FindStringSubmatch(code); {
		case m != nil:
			if m[1] != "oneof" {
				c.add(prefix()+"."+m[2], doc)
			}
			open = &scope{kind: m[1], name: m[2]}
		case packageRE.MatchString(code):
			pkg = packageRE.FindStringSubmatch(code)[1]
		case top() == "service" && rpcRE.MatchString(code):
			c.add(prefix()+"."+rpcRE.FindStringSubmatch(code)[1], doc)
		case (top() == "message" || top() == "oneof") && fieldRE.MatchString(code):
			c.add(prefix()+"."+fieldRE.FindStringSubmatch(code)[1], doc)
		case top() == "enum" && valueRE.MatchString(code):
			c.add(prefix()+"."+valueRE.FindStringSubmatch(code)[1], doc)
		}
		for _, r := range code {
			switch r {
			case '{':
				if open != nil {
					stack = append(stack, *open)
					open = nil
				} else {
					stack = append(stack, scope{})
				}
			case '}':
				if len(stack) > 0 {
					stack = stack[:len(stack)-1]
				}
			}
		}
	}
}

func (c comments) add(key, doc string) {
	if doc != "" {
		c[key] = doc
	}
}

// splitCode blanks out string literals (so braces inside them do not count)
// and splits off a trailing // comment.
func splitCode(line string) (code, comment string) {
	var b strings.Builder
	var quote rune
	escaped := false
	for i, r := range line {
		switch {
		case quote != 0:
			switch {
			case escaped:
				escaped = false
			case r == '\\':
				escaped = true
			case r == quote:
				quote = 0
				b.WriteRune(r)
				continue
			}
			b.WriteRune('_')
		case r == '"' || r == '\'':
			quote = r
			b.WriteRune(r)
		case r == '/' && strings.HasPrefix(line[i:], "//"):
			return b.String(), strings.TrimSpace(line[i+2:])
		default:
			b.WriteRune(r)
		}
	}
	return b.String(), ""
}
