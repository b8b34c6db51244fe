package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestEmptyEtagIsRefused: DELETE ?etag= (a script's ?etag=$ETAG with the
// variable unset) deleted the record unconditionally (an outside review);
// it is INVALID_ARGUMENT on etag, spelled plainly or %-escaped, and the
// record stays. Without the parameter the delete has no condition.
func TestEmptyEtagIsRefused(t *testing.T) {
	t.Parallel()
	tn := startSecNode(t, "cao-bang", nil)
	const rec = "/v1/provinces/cao-bang/agreements/kept"
	if code, body := secHTTP(t, tn, nil, "POST", "/v1/provinces/cao-bang/agreements?agreement_id=kept", `{"display_name":"Kept","kind":"KIND_MOU"}`, tn.Token); code != http.StatusOK {
		t.Fatalf("create: HTTP %d %s", code, body)
	}
	for _, q := range []string{"?etag=", "?etag", "?%65tag=", "?etag=&etag="} {
		code, body := secHTTP(t, tn, nil, "DELETE", rec+q, "", tn.Token)
		if code != http.StatusBadRequest || !strings.Contains(string(body), `"field":"etag"`) {
			t.Errorf("DELETE %s: HTTP %d %s, want 400 naming etag", q, code, body)
		}
	}
	if code, body := secHTTP(t, tn, nil, "GET", rec, "", tn.Token); code != http.StatusOK || strings.Contains(string(body), "delete_time") {
		t.Errorf("after the refused deletes: HTTP %d %s, want the record live", code, body)
	}
	if code, body := secHTTP(t, tn, nil, "DELETE", rec, "", tn.Token); code != http.StatusOK {
		t.Errorf("DELETE without etag: HTTP %d %s, want 200", code, body)
	}
}

// TestFormPostIsAPost: a form-encoded POST with X-HTTP-Method-Override,
// or to a path with no POST route, was served as the method the header
// named or as a GET, its body read as the query, past the HTTP chain's
// checks of methods and queries: an empty etag made a DELETE
// unconditional, unknown parameters and the path's own field were
// dropped unseen (an outside review). It is a POST, answered as one.
func TestFormPostIsAPost(t *testing.T) {
	t.Parallel()
	tn := startSecNode(t, "cao-bang", nil)
	const rec = "/v1/provinces/cao-bang/agreements/kept"
	if code, body := secHTTP(t, tn, nil, "POST", "/v1/provinces/cao-bang/agreements?agreement_id=kept", `{"display_name":"Kept","kind":"KIND_MOU"}`, tn.Token); code != http.StatusOK {
		t.Fatalf("create: HTTP %d %s", code, body)
	}
	for _, tc := range []struct {
		path, override, form string
		want                 int
	}{
		{rec, "DELETE", "etag=", http.StatusMethodNotAllowed},
		{rec, "GET", "bogus=1", http.StatusMethodNotAllowed},
		{rec, "", "bogus=1", http.StatusMethodNotAllowed},
		{rec, "GET", "name=provinces/cao-bang/agreements/other", http.StatusMethodNotAllowed},
		{"/v1/national/freshness", "", "x=1", http.StatusMethodNotAllowed},
		// A path with a POST route (Create): the form is no JSON body.
		{"/v1/provinces/cao-bang/agreements", "GET", "filter=kind%3DKIND_ODA;x", http.StatusBadRequest},
	} {
		req, err := http.NewRequest("POST", tn.BaseURL+tc.path, strings.NewReader(tc.form))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+tn.Token)
		if tc.override != "" {
			req.Header.Set("X-HTTP-Method-Override", tc.override)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("form POST %s (X-HTTP-Method-Override %q) %q: HTTP %d %s, want %d", tc.path, tc.override, tc.form, resp.StatusCode, body, tc.want)
		}
	}
	if code, body := secHTTP(t, tn, nil, "GET", rec, "", tn.Token); code != http.StatusOK || strings.Contains(string(body), "delete_time") {
		t.Errorf("after the form POSTs: HTTP %d %s, want the record live", code, body)
	}
}

// TestHTTPPreconditionsOnWritesAreRefused: a PATCH or DELETE with If-Match
// (a standard HTTP client's concurrency check) was written unconditionally,
// the header dropped unseen (an outside review). A write carrying an HTTP
// precondition is INVALID_ARGUMENT naming the header and saying where the
// etag goes, and the record stays; a GET with one is answered.
func TestHTTPPreconditionsOnWritesAreRefused(t *testing.T) {
	tn := startNode(t, "cao-bang")
	const rec = "/v1/provinces/cao-bang/agreements/kept"
	resp, body := tn.httpDo(t, "POST", "/v1/provinces/cao-bang/agreements?agreement_id=kept", `{"display_name":"Kept","kind":"KIND_MOU"}`, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("create: HTTP %d %s", resp.StatusCode, body)
	}
	for _, tc := range []struct{ method, path, body, header string }{
		{"PATCH", rec + "?update_mask=summary", `{"summary":"changed"}`, "If-Match"},
		{"DELETE", rec, "", "If-Match"},
		{"DELETE", rec, "", "If-None-Match"},
		{"DELETE", rec, "", "If-Unmodified-Since"},
		{"POST", rec + ":undelete", `{}`, "If-Match"},
		{"POST", "/v1/provinces/cao-bang/agreements?agreement_id=other", `{"display_name":"Other","kind":"KIND_MOU"}`, "If-None-Match"},
	} {
		resp, body := tn.httpDo(t, tc.method, tc.path, tc.body, map[string]string{tc.header: `"stale"`})
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"field":"`+tc.header+`"`) || !strings.Contains(string(body), "?etag=") {
			t.Errorf("%s %s with %s: HTTP %d %s, want 400 naming %s and saying to use ?etag= or the etag field", tc.method, tc.path, tc.header, resp.StatusCode, body, tc.header)
		}
	}
	resp, body = tn.httpDo(t, "GET", rec, "", map[string]string{"If-Match": `"stale"`})
	if resp.StatusCode != http.StatusOK || strings.Contains(string(body), "changed") || strings.Contains(string(body), "delete_time") {
		t.Errorf("GET with If-Match after the refused writes: HTTP %d %s, want the record as created", resp.StatusCode, body)
	}
	resp, body = tn.httpDo(t, "GET", "/v1/provinces/cao-bang/agreements/other", "", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("the refused create: GET answered HTTP %d %s, want 404", resp.StatusCode, body)
	}
}
