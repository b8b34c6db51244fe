// Command openapi completes the OpenAPI v2 document that protoc-gen-openapiv2
// merges from the protos with what the protos cannot say: the document's
// title and version, the bearer security scheme applied to every operation,
// and the routes served by plain HTTP handlers (/healthz, /openapi.json and
// the CSV summaries). It is the one place these are written; scripts/gen.sh
// runs it after buf generate, so the served /openapi.json always has them.
// (The openapiv2_swagger file option could set the title and security but
// not paths, and two ways to write the document's top would be one too many.)
//
// Usage:
//
//	go run ./scripts/openapi FILE
//
// FILE is rewritten in place: overlay.json's "paths" and "definitions" are
// added to the document's (a path already there is an error, so the
// overlay never hides a generated route); "open" lists generated
// operations ("get /v1/caller") that need no token, which get an empty
// security requirement (the document's own bearer one applies to every
// other); its other keys replace the document's. Key order is kept, so the output differs from the generator's
// only where the overlay says.
package main

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

//go:embed overlay.json
var overlay []byte

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run ./scripts/openapi FILE")
		os.Exit(2)
	}
	if err := rewrite(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "openapi:", err)
		os.Exit(1)
	}
}

func rewrite(file string) error {
	doc, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	out, err := apply(doc, overlay)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return os.WriteFile(file, out, 0o644)
}

// member is one key of a JSON object, in the order it came.
type member struct {
	key string
	val json.RawMessage
}

func apply(doc, over []byte) ([]byte, error) {
	top, err := readObject(doc)
	if err != nil {
		return nil, err
	}
	add, err := readObject(over)
	if err != nil {
		return nil, fmt.Errorf("overlay: %w", err)
	}
	var open []string
	for _, a := range add {
		i := index(top, a.key)
		switch {
		case a.key == "open":
			if err := json.Unmarshal(a.val, &open); err != nil {
				return nil, fmt.Errorf("overlay open: %w", err)
			}
		case i < 0:
			top = append(top, a)
		case a.key == "paths" || a.key == "definitions":
			have, err := readObject(top[i].val)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", a.key, err)
			}
			more, err := readObject(a.val)
			if err != nil {
				return nil, fmt.Errorf("overlay %s: %w", a.key, err)
			}
			for _, m := range more {
				if index(have, m.key) >= 0 {
					return nil, fmt.Errorf("overlay %s %q is already generated from the protos", a.key, m.key)
				}
				have = append(have, m)
			}
			top[i].val = writeObject(have)
		default:
			top[i].val = a.val
		}
	}
	for _, o := range open {
		if err := openOperation(top, o); err != nil {
			return nil, fmt.Errorf("overlay open %q: %w", o, err)
		}
	}
	var out bytes.Buffer
	if err := json.Indent(&out, writeObject(top), "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// openOperation gives the operation "method path" of top's paths an empty
// security requirement: no token needed.
func openOperation(top []member, op string) error {
	method, path, ok := strings.Cut(op, " ")
	if !ok {
		return fmt.Errorf(`want "method path"`)
	}
	p := index(top, "paths")
	if p < 0 {
		return fmt.Errorf("the document has no paths")
	}
	paths, err := readObject(top[p].val)
	if err != nil {
		return err
	}
	i := index(paths, path)
	if i < 0 {
		return fmt.Errorf("no such path")
	}
	item, err := readObject(paths[i].val)
	if err != nil {
		return err
	}
	j := index(item, method)
	if j < 0 {
		return fmt.Errorf("no such method")
	}
	fields, err := readObject(item[j].val)
	if err != nil {
		return err
	}
	if index(fields, "security") >= 0 {
		return fmt.Errorf("it has a security requirement already")
	}
	item[j].val = writeObject(append(fields, member{"security", json.RawMessage("[]")}))
	paths[i].val = writeObject(item)
	top[p].val = writeObject(paths)
	return nil
}

func index(ms []member, key string) int {
	for i, m := range ms {
		if m.key == key {
			return i
		}
	}
	return -1
}

// readObject reads a JSON object's members in order, their values compacted.
func readObject(raw []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object")
	}
	var ms []member
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		var c bytes.Buffer
		if err := json.Compact(&c, v); err != nil {
			return nil, err
		}
		ms = append(ms, member{t.(string), c.Bytes()})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	return ms, nil
}

// writeObject writes members as one compact JSON object.
func writeObject(ms []member) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(m.val)
	}
	b.WriteByte('}')
	return b.Bytes()
}
