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
