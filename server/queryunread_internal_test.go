package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// TestEveryRouteRefusesAParameterItDoesNotRead sends each route of every
// HTTP rule of provex's services, with an admin token, a query parameter
// that names no field (?zz_unknown=1), and, on a route whose path and body
// set every field, the field its path sets (?name=...): each is refused
// naming it, before the call. grpc-gateway parses no query on such a route,
// so both were dropped: an Undelete's ?etag= undeleted whatever the etag
// (an outside review).
func TestEveryRouteRefusesAParameterItDoesNotRead(t *testing.T) {
	n, token := startAdminNode(t, Limits{})
	variable := regexp.MustCompile(`\{([^}=]+)(=([^}]*))?\}`)
	routes, unread := 0, 0
	for _, r := range provexHTTPRules() {
		routes++
		path := variable.ReplaceAllStringFunc(r.template, func(v string) string {
			tmpl := variable.FindStringSubmatch(v)[3]
			if tmpl == "" {
				tmpl = "*"
			}
			return strings.ReplaceAll(strings.ReplaceAll(tmpl, "**", "x"), "*", "cao-bang")
		})
		params := []string{"zz_unknown"}
		if !r.readsQuery() {
			unread++
			if m := variable.FindStringSubmatch(r.template); m != nil {
				params = append(params, m[1])
			}
		}
		for _, param := range params {
			body := io.Reader(http.NoBody)
			if r.body != "" {
				body = strings.NewReader("{}")
			}
			req := httptest.NewRequest(r.verb, "http://node"+path+"?"+param+"=1", body)
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			n.http.Handler.ServeHTTP(w, req)
			var st struct {
				Details []struct {
					FieldViolations []struct{ Field string } `json:"field_violations"`
				}
			}
			json.Unmarshal(w.Body.Bytes(), &st)
			named := len(st.Details) > 0 && len(st.Details[0].FieldViolations) > 0 && st.Details[0].FieldViolations[0].Field == param
			if w.Code != http.StatusBadRequest || !named {
				t.Errorf("%s %s?%s=1 (%s): HTTP %d %s; want 400 naming %s", r.verb, path, param, r.method.Name(), w.Code, w.Body.String(), param)
			}
		}
	}
	if routes < 50 || unread < 10 {
		t.Fatalf("%d routes, %d reading no query: the sweep found too few", routes, unread)
	}
}
