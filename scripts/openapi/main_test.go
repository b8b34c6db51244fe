package main

import (
	"os"
	"strings"
	"testing"
)

// TestApplyKeepsTheGeneratedDocument: an empty overlay rewrites the
// generated document byte for byte, so the step changes only what the
// overlay says; and a path the protos already generate cannot be replaced.
func TestApplyKeepsTheGeneratedDocument(t *testing.T) {
	doc, err := os.ReadFile("../../gen/openapi/provex.swagger.json")
	if err != nil {
		t.Fatal(err)
	}
	out, err := apply(doc, []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != string(doc) {
		t.Errorf("an empty overlay changed the document")
	}
	if _, err := apply(doc, []byte(`{"paths": {"/v1/node": {}}}`)); err == nil || !strings.Contains(err.Error(), "already generated") {
		t.Errorf("an overlay path over a generated one: err %v, want an error", err)
	}
}

// TestOpenMarksOnlyExistingOperations: "open" gives a generated operation
// an empty security requirement, and names only operations that exist.
func TestOpenMarksOnlyExistingOperations(t *testing.T) {
	doc, err := os.ReadFile("../../gen/openapi/provex.swagger.json")
	if err != nil {
		t.Fatal(err)
	}
	out, err := apply(doc, []byte(`{"open": ["get /v1/node"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"operationId": "NodeService_GetNodeInfo",`) || strings.Count(string(out), `"security": []`) != strings.Count(string(doc), `"security": []`)+1 {
		t.Errorf("open get /v1/node did not add one empty security requirement")
	}
	for _, bad := range []string{`["get /v1/no-such-path"]`, `["post /v1/node"]`, `["/v1/node"]`, `["get /healthz"]`} {
		if _, err := apply(doc, []byte(`{"open": `+bad+`}`)); err == nil {
			t.Errorf("open %s: no error", bad)
		}
	}
}
