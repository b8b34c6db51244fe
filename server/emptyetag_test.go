package server_test

import (
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
