package resource

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestSearchPathsDocumented checks that the API documentation of
// SearchRecordsRequest.text lists each collection's SearchPaths as they are.
func TestSearchPathsDocumented(t *testing.T) {
	src, err := os.ReadFile("../proto/provex/national/v1/national.proto")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)message SearchRecordsRequest \{.*?((?:\n  //[^\n]*)+)\n  string text = `).FindSubmatch(src)
	if m == nil {
		t.Fatal("no comment on SearchRecordsRequest.text")
	}
	doc := strings.Join(strings.Fields(strings.ReplaceAll(string(m[1]), "//", "")), " ")
	for _, k := range Kinds() {
		want := k.Collection + ": " + strings.Join(k.SearchPaths(), ", ") + ";"
		if len(k.SearchPaths()) == 0 {
			want = k.Collection + ": nothing;"
		}
		if !strings.Contains(doc, want) &&
			!strings.Contains(doc, strings.TrimSuffix(want, ";")+". ") {
			t.Errorf("the documentation of text does not say %q", want)
		}
	}
}
