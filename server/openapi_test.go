package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestOpenAPIDocumentSaysWhatTheNodeServes: the served /openapi.json has a
// title, the API's version, the bearer scheme required of every operation
// but health and the document itself, and the routes served by plain HTTP
// handlers (/healthz, the CSV summaries), each of which the node answers as
// documented. Once the title was the first proto file's name, the version
// "version not set", and neither security nor those routes were there.
func TestOpenAPIDocumentSaysWhatTheNodeServes(t *testing.T) {
	t.Parallel()
	tn := startNode(t, "cao-bang")
	resp, body := tn.httpDo(t, "GET", "/openapi.json", "", map[string]string{"Authorization": ""})
	wantOK(t, "openapi", resp, body)
	type operation struct {
		OperationID string                 `json:"operationId"`
		Produces    []string               `json:"produces"`
		Security    *[]map[string][]string `json:"security"`
		Parameters  []struct {
			Name string `json:"name"`
			In   string `json:"in"`
		} `json:"parameters"`
	}
	var doc struct {
		Info struct {
			Title, Version string
		} `json:"info"`
		SecurityDefinitions map[string]struct {
			Type, Name, In string
		} `json:"securityDefinitions"`
		Security []map[string][]string           `json:"security"`
		Paths    map[string]map[string]operation `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.Info.Title != "provex API" || doc.Info.Version != "v1" {
		t.Errorf("info: title %q, version %q; want provex API, v1", doc.Info.Title, doc.Info.Version)
	}
	if b := doc.SecurityDefinitions["bearer"]; b.Type != "apiKey" || b.In != "header" || b.Name != "Authorization" {
		t.Errorf("securityDefinitions.bearer = %+v, want an apiKey in the Authorization header", b)
	}
	if len(doc.Security) != 1 || doc.Security[0]["bearer"] == nil {
		t.Errorf("security = %v, want bearer on every operation", doc.Security)
	}
	// GetCaller (who am I) is open to anyone, as docs/API.md says: a client
	// generated from the document must not need a token for it.
	for path, open := range map[string]bool{"/healthz": true, "/openapi.json": true, "/v1/caller": true, "/v1/national/{collection}/summary.csv": false, "/v1/node": false} {
		op, ok := doc.Paths[path]["get"]
		if !ok {
			t.Errorf("openapi.json has no GET %s", path)
			continue
		}
		if gotOpen := op.Security != nil && len(*op.Security) == 0; gotOpen != open {
			t.Errorf("GET %s: open without a token = %v, want %v", path, gotOpen, open)
		}
	}
	csv := doc.Paths["/v1/national/{collection}/summary.csv"]["get"]
	params := map[string]string{}
	for _, p := range csv.Parameters {
		params[p.Name] = p.In
	}
	for name, in := range map[string]string{"collection": "path", "group_by": "query", "sum": "query", "count_distinct": "query", "filter": "query", "parent": "query"} {
		if params[name] != in {
			t.Errorf("CSV route: parameter %s in %q, want %q", name, params[name], in)
		}
	}
	if len(csv.Produces) != 1 || csv.Produces[0] != "text/csv" {
		t.Errorf("CSV route produces %v, want text/csv", csv.Produces)
	}

	// The documented routes are served as documented.
	resp, body = tn.httpDo(t, "GET", "/healthz", "", map[string]string{"Authorization": ""})
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "ok") {
		t.Errorf("GET /healthz without a token: HTTP %d %q", resp.StatusCode, body)
	}
	if code, body := get(t, http.DefaultClient, tn.BaseURL+"/v1/caller", ""); code != http.StatusOK || !strings.Contains(string(body), "anonymous") {
		t.Errorf("GET /v1/caller without a token: HTTP %d %q, want 200 and anonymous", code, body)
	}
	resp, body = tn.httpDo(t, "GET", "/v1/national/delegations/summary.csv?group_by=province", "", nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Errorf("GET summary.csv: HTTP %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	resp, _ = tn.httpDo(t, "GET", "/v1/national/delegations/summary.csv?group_by=province", "", map[string]string{"Authorization": ""})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET summary.csv without a token: HTTP %d, want 401 as documented", resp.StatusCode)
	}
}
