package yamlfile

import (
	"testing"
)

type config struct {
	RateLimit int    `json:"rate_limit"`
	Member    string `json:"member"`
	Peers     []struct {
		Address string `json:"address"`
	} `json:"peers"`
}

// TestErrorsInTheFilesTerms: each mistake is told without the JSON
// conversion's or Go's words.
func TestErrorsInTheFilesTerms(t *testing.T) {
	cases := map[string]struct{ yaml, want string }{
		"typo":           {"member: x\nrate_limt: 5\n", `line 2: unknown field "rate_limt" (did you mean rate_limit?)`},
		"unknown":        {"colour: red\n", `line 1: unknown field "colour"`},
		"nested unknown": {"peers:\n- adress: x\n", `line 2: unknown field "adress"`},
		// A top-level field's name given further in is not a misspelling
		// of it.
		"nested, named like the top": {"peers:\n- address: x\n  member: y\n", `line 3: unknown field "member"`},
		// The same, given at the top level too, before it.
		"nested, the top's name given there too":  {"member: x\npeers:\n- address: y\n  member: z\n", `line 4: unknown field "member"`},
		"nested wrong type after a top-level key": {"member: x\npeers:\n- address: [1]\n", "line 3: field peers.address: a list where a string is wanted"},
		"wrong type":        {"rate_limit: abc\n", "line 1: field rate_limit: a string where a whole number is wanted"},
		"a fraction":        {"member: x\nrate_limit: 1.5\n", "line 2: field rate_limit: a number (1.5) where a whole number is wanted"},
		"past 64 bits":      {"rate_limit: 99999999999999999999\n", "line 1: field rate_limit: a number (100000000000000000000) where a whole number is wanted"},
		"nested wrong type": {"peers:\n- address: [1]\n", "line 2: field peers.address: a list where a string is wanted"},
		"not YAML":          {"member: [\n", "not valid YAML: line 1: did not find expected node content"},
		"given twice":       {"member: a\nmember: b\n", `not valid YAML: line 2: key "member" already set in map`},
		"list for a field":  {"- a\n", "the file holds a list where a mapping of fields is wanted"},
	}
	for name, c := range cases {
		var cfg config
		err := Decode([]byte(c.yaml), &cfg)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if err.Error() != c.want {
			t.Errorf("%s: %q, want %q", name, err, c.want)
		}
	}
	var cfg config
	if err := Decode([]byte("rate_limit: 5\nmember: cao-bang\n"), &cfg); err != nil || cfg.RateLimit != 5 || cfg.Member != "cao-bang" {
		t.Errorf("a good file: %v, %+v", err, cfg)
	}
}
