package yamlfile

import (
	"strings"
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
		"typo":             {"rate_limt: 5\n", `unknown field "rate_limt" (did you mean rate_limit?)`},
		"unknown":          {"colour: red\n", `unknown field "colour"`},
		"nested unknown":   {"peers:\n- adress: x\n", `unknown field "adress"`},
		"wrong type":       {"rate_limit: abc\n", "field rate_limit: a string where a whole number is wanted"},
		"not YAML":         {"member: [\n", "not valid YAML: line 1: did not find expected node content"},
		"given twice":      {"member: a\nmember: b\n", `not valid YAML: line 2: key "member" already set in map`},
		"list for a field": {"- a\n", "the file holds a list where a mapping of fields is wanted"},
	}
	for name, c := range cases {
		var cfg config
		err := Decode([]byte(c.yaml), &cfg)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if !strings.HasPrefix(err.Error(), c.want) || strings.Contains(err.Error(), "JSON") || strings.Contains(err.Error(), "Go ") {
			t.Errorf("%s: %q, want it to begin %q, without the library's words", name, err, c.want)
		}
	}
	var cfg config
	if err := Decode([]byte("rate_limit: 5\nmember: cao-bang\n"), &cfg); err != nil || cfg.RateLimit != 5 || cfg.Member != "cao-bang" {
		t.Errorf("a good file: %v, %+v", err, cfg)
	}
}
