package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/resource"
)

// httpError is the JSON body of a failed gateway call.
type httpError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Details []struct {
		Type            string `json:"@type"`
		FieldViolations []struct {
			Field       string `json:"field"`
			Description string `json:"description"`
		} `json:"field_violations"`
	} `json:"details"`
}

func decodeHTTPError(t *testing.T, body []byte) httpError {
	t.Helper()
	var e httpError
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %s: %v", body, err)
	}
	return e
}

func (e httpError) fields() []string {
	var out []string
	for _, d := range e.Details {
		if d.Type == "type.googleapis.com/google.rpc.BadRequest" {
			for _, v := range d.FieldViolations {
				out = append(out, v.Field)
			}
		}
	}
	return out
}

// wantHTTPError checks the status, the gRPC code in the body and, when given,
// the field violations.
func wantHTTPError(t *testing.T, what string, resp *http.Response, body []byte, status, code int, fields ...string) httpError {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("%s: HTTP %d, want %d (body %s)", what, resp.StatusCode, status, body)
	}
	e := decodeHTTPError(t, body)
	if e.Code != code || e.Message == "" {
		t.Errorf("%s: body code %d message %q, want code %d and a message", what, e.Code, e.Message, code)
	}
	if fields != nil && !sameSet(e.fields(), fields) {
		t.Errorf("%s: field violations %q, want %q (body %s)", what, e.fields(), fields, body)
	}
	return e
}

func decodeAgreement(t *testing.T, what string, body []byte) *twinningv1.Agreement {
	t.Helper()
	a := &twinningv1.Agreement{}
	if err := protojson.Unmarshal(body, a); err != nil {
		t.Fatalf("%s: decode %s: %v", what, body, err)
	}
	return a
}

func wantOK(t *testing.T, what string, resp *http.Response, body []byte) {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: HTTP %d, want 200 (body %s)", what, resp.StatusCode, body)
	}
}

var requestIDPattern = regexp.MustCompile(`^[0-9a-f]{16}$`)

// TestHTTPGateway drives the standard methods over real HTTP and checks
// status codes, JSON bodies and headers.
func TestHTTPGateway(t *testing.T) {
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	const coll = "/v1/provinces/cao-bang/agreements"

	// Create.
	resp, body := tn.httpDo(t, "POST", coll+"?agreement_id=http-one&request_id=h1",
		`{"display_name":"HTTP one","kind":"KIND_MOU","state":"STATE_IN_FORCE","partner_countries":["CN"],"signed_date":{"year":2024,"month":5,"day":2},"etag":"ignored"}`, nil)
	wantOK(t, "create", resp, body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("create: Content-Type %q", ct)
	}
	if id := resp.Header.Get("X-Request-Id"); !requestIDPattern.MatchString(id) {
		t.Errorf("create: X-Request-Id %q, want a server-made id", id)
	}
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatalf("create body: %v", err)
	}
	for field, want := range map[string]any{"name": "provinces/cao-bang/agreements/http-one", "display_name": "HTTP one", "kind": "KIND_MOU", "state": "STATE_IN_FORCE"} {
		if raw[field] != want {
			t.Errorf("create body %s = %v, want %v", field, raw[field], want)
		}
	}
	for _, field := range []string{"etag", "create_time", "update_time"} {
		if s, _ := raw[field].(string); s == "" || s == "ignored" {
			t.Errorf("create body %s = %v", field, raw[field])
		}
	}
	if _, ok := raw["displayName"]; ok {
		t.Errorf("JSON uses lowerCamelCase names: %s", body)
	}
	created := decodeAgreement(t, "create", body)
	grpcGot, err := tn.Twinning.GetAgreement(ctx, &twinningv1.GetAgreementRequest{Name: created.Name})
	if err != nil || !proto.Equal(grpcGot, created) {
		t.Errorf("gRPC Get = %v (%v), want the HTTP create result %v", grpcGot, err, created)
	}
	// A retried create with the same request id returns the same record;
	// the same id with another body is refused, naming request_id.
	resp, body = tn.httpDo(t, "POST", coll+"?agreement_id=http-one&request_id=h1",
		`{"display_name":"HTTP one","kind":"KIND_MOU","state":"STATE_IN_FORCE","partner_countries":["CN"],"signed_date":{"year":2024,"month":5,"day":2},"etag":"ignored"}`, nil)
	wantOK(t, "retried create", resp, body)
	if again := decodeAgreement(t, "retried create", body); !proto.Equal(again, created) {
		t.Errorf("retried create = %v, want %v", again, created)
	}
	resp, body = tn.httpDo(t, "POST", coll+"?agreement_id=http-one&request_id=h1", `{"display_name":"HTTP one","kind":"KIND_MOU"}`, nil)
	wantHTTPError(t, "request id reused with another body", resp, body, 400, 3, "request_id")
	resp, body = tn.httpDo(t, "POST", coll, `{"display_name":"HTTP two","kind":"KIND_OTHER","state":"STATE_IN_FORCE"}`, nil)
	wantOK(t, "create without id", resp, body)
	two := decodeAgreement(t, "create two", body)
	resp, body = tn.httpDo(t, "POST", coll, `{"display_name":"Unrelated","kind":"KIND_OTHER","state":"STATE_IN_FORCE"}`, nil)
	wantOK(t, "create three", resp, body)

	// Get.
	resp, body = tn.httpDo(t, "GET", "/v1/"+created.Name, "", nil)
	wantOK(t, "get", resp, body)
	if got := decodeAgreement(t, "get", body); !proto.Equal(got, created) {
		t.Errorf("get = %v, want %v", got, created)
	}

	// List with a URL-encoded filter, across pages.
	q := url.Values{"filter": {`display_name = "HTTP*" AND state = IN_FORCE`}, "page_size": {"1"}, "order_by": {"display_name desc"}}
	var listed []string
	for page := 0; page < 5; page++ {
		resp, body = tn.httpDo(t, "GET", coll+"?"+q.Encode(), "", nil)
		wantOK(t, "list", resp, body)
		lr := &twinningv1.ListAgreementsResponse{}
		if err := protojson.Unmarshal(body, lr); err != nil {
			t.Fatalf("list body %s: %v", body, err)
		}
		for _, a := range lr.Agreements {
			listed = append(listed, a.Name)
		}
		if lr.NextPageToken == "" {
			break
		}
		q.Set("page_token", lr.NextPageToken)
	}
	if want := []string{two.Name, created.Name}; strings.Join(listed, ",") != strings.Join(want, ",") {
		t.Errorf("list = %q, want %q", listed, want)
	}
	resp, body = tn.httpDo(t, "GET", coll+"?filter="+url.QueryEscape("state = NOPE"), "", nil)
	wantHTTPError(t, "bad filter", resp, body, 400, 3, "filter")
	resp, body = tn.httpDo(t, "GET", coll+"?page_size=-1", "", nil)
	wantHTTPError(t, "negative page size", resp, body, 400, 3, "page_size")

	// Patch with an explicit mask: fields outside it are ignored.
	resp, body = tn.httpDo(t, "PATCH", "/v1/"+created.Name+"?update_mask=summary", `{"summary":"patched","display_name":"ignored"}`, nil)
	wantOK(t, "patch with mask", resp, body)
	patched := decodeAgreement(t, "patch", body)
	if patched.Summary != "patched" || patched.DisplayName != "HTTP one" || patched.Etag == created.Etag {
		t.Errorf("patch with mask = %v", patched)
	}
	// Patch without a mask: the mask is the body's fields, the rest stays.
	resp, body = tn.httpDo(t, "PATCH", "/v1/"+created.Name, `{"summary":"inferred"}`, nil)
	wantOK(t, "patch without mask", resp, body)
	inferred := decodeAgreement(t, "patch", body)
	if inferred.Summary != "inferred" || inferred.DisplayName != "HTTP one" || inferred.State != twinningv1.Agreement_STATE_IN_FORCE ||
		len(inferred.PartnerCountries) != 1 || inferred.SignedDate.GetYear() != 2024 {
		t.Errorf("patch without mask changed other fields: %v", inferred)
	}
	resp, body = tn.httpDo(t, "PATCH", "/v1/"+created.Name+"?update_mask=summary", `{"summary":"x","etag":"`+created.Etag+`"}`, nil)
	wantHTTPError(t, "patch with a stale etag", resp, body, 409, 10)
	resp, body = tn.httpDo(t, "PATCH", "/v1/"+created.Name+"?update_mask=display_name", `{"display_name":""}`, nil)
	wantHTTPError(t, "patch making the record invalid", resp, body, 400, 3, "agreement.display_name")

	// Delete with a stale etag, then the current one.
	resp, body = tn.httpDo(t, "DELETE", "/v1/"+created.Name+"?etag="+url.QueryEscape(created.Etag), "", nil)
	wantHTTPError(t, "delete with a stale etag", resp, body, 409, 10)
	resp, body = tn.httpDo(t, "DELETE", "/v1/"+created.Name+"?etag="+url.QueryEscape(inferred.Etag), "", nil)
	wantOK(t, "delete", resp, body)
	deleted := decodeAgreement(t, "delete", body)
	if deleted.DeleteTime == nil {
		t.Errorf("delete = %v, want delete_time", deleted)
	}
	resp, body = tn.httpDo(t, "DELETE", "/v1/"+created.Name, "", nil)
	wantHTTPError(t, "delete of a deleted record", resp, body, 404, 5)
	resp, body = tn.httpDo(t, "PATCH", "/v1/"+created.Name+"?update_mask=summary", `{"summary":"x"}`, nil)
	wantHTTPError(t, "patch of a deleted record", resp, body, 400, 9)
	resp, body = tn.httpDo(t, "GET", coll+"?filter="+url.QueryEscape(`display_name = "HTTP one"`), "", nil)
	wantOK(t, "list after delete", resp, body)
	if strings.Contains(string(body), created.Name) {
		t.Errorf("deleted record listed: %s", body)
	}
	resp, body = tn.httpDo(t, "GET", coll+"?show_deleted=true&filter="+url.QueryEscape(`display_name = "HTTP one"`), "", nil)
	wantOK(t, "list show_deleted", resp, body)
	if !strings.Contains(string(body), created.Name) {
		t.Errorf("show_deleted list lacks the deleted record: %s", body)
	}

	// Undelete.
	resp, body = tn.httpDo(t, "POST", "/v1/"+created.Name+":undelete", `{"etag":"stale"}`, nil)
	wantHTTPError(t, "undelete with a stale etag", resp, body, 409, 10)
	resp, body = tn.httpDo(t, "POST", "/v1/"+created.Name+":undelete", `{}`, nil)
	wantOK(t, "undelete", resp, body)
	if restored := decodeAgreement(t, "undelete", body); restored.DeleteTime != nil || restored.Summary != "inferred" {
		t.Errorf("undelete = %v", restored)
	}
	resp, body = tn.httpDo(t, "POST", "/v1/"+created.Name+":undelete", `{}`, nil)
	wantHTTPError(t, "undelete of a live record", resp, body, 409, 6)

	// Validation errors carry BadRequest details with proto field names.
	resp, body = tn.httpDo(t, "POST", coll, `{"display_name":"","kind":"KIND_MOU","partner_countries":["CN","xx"]}`, nil)
	e := wantHTTPError(t, "invalid create", resp, body, 400, 3, "agreement.display_name", "agreement.partner_countries[1]")
	if !strings.Contains(string(body), `"field_violations"`) || len(e.Details) != 1 {
		t.Errorf("invalid create body %s", body)
	}
	resp, body = tn.httpDo(t, "POST", coll, `{"display_name":"x","kind":"KIND_MOU","no_such_field":1}`, nil)
	wantHTTPError(t, "unknown JSON field", resp, body, 400, 3)
	resp, body = tn.httpDo(t, "POST", coll, `{"display_name":`, nil)
	wantHTTPError(t, "malformed JSON", resp, body, 400, 3)
	resp, body = tn.httpDo(t, "POST", coll+"?agreement_id=Bad_Id", `{"display_name":"x","kind":"KIND_MOU"}`, nil)
	wantHTTPError(t, "bad id", resp, body, 400, 3, "agreement_id")
	resp, body = tn.httpDo(t, "GET", "/v1/provinces/bac-giang/agreements/x", "", nil)
	e = wantHTTPError(t, "merged province", resp, body, 400, 3, "name")
	if !strings.Contains(e.Message, "bac-ninh") {
		t.Errorf("merged province message %q", e.Message)
	}

	// Not found and permission denied.
	resp, body = tn.httpDo(t, "GET", coll+"/missing", "", nil)
	wantHTTPError(t, "get missing", resp, body, 404, 5)
	resp, body = tn.httpDo(t, "POST", "/v1/provinces/nghe-an/agreements", `{"display_name":"x","kind":"KIND_MOU"}`, nil)
	wantHTTPError(t, "create under nghe-an", resp, body, 403, 7)
	resp, body = tn.httpDo(t, "DELETE", "/v1/provinces/nghe-an/agreements/x", "", nil)
	wantHTTPError(t, "delete of a nghe-an record", resp, body, 403, 7)
	resp, body = tn.httpDo(t, "GET", "/v1/provinces/nghe-an/agreements", "", nil)
	wantOK(t, "list nghe-an", resp, body)
	if lr := (&twinningv1.ListAgreementsResponse{}); protojson.Unmarshal(body, lr) != nil || len(lr.Agreements) != 0 || lr.NextPageToken != "" {
		t.Errorf("list nghe-an = %s, want empty", body)
	}
	resp, _ = tn.httpDo(t, "GET", "/v1/provinces/cao-bang/no-such-collection", "", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown route: HTTP %d, want 404", resp.StatusCode)
	}

	// Request ids: echoed when sent, on success and on error.
	resp, _ = tn.httpDo(t, "GET", "/v1/"+two.Name, "", map[string]string{"X-Request-Id": "my-req-123"})
	if got := resp.Header.Get("X-Request-Id"); got != "my-req-123" {
		t.Errorf("X-Request-Id = %q, want the one sent", got)
	}
	resp, _ = tn.httpDo(t, "GET", coll+"/missing", "", map[string]string{"X-Request-Id": "my-req-404"})
	if got := resp.Header.Get("X-Request-Id"); got != "my-req-404" {
		t.Errorf("X-Request-Id on an error = %q, want the one sent", got)
	}
	resp, _ = tn.httpDo(t, "GET", "/v1/"+two.Name, "", map[string]string{"X-Request-Id": strings.Repeat("x", 65)})
	if got := resp.Header.Get("X-Request-Id"); !requestIDPattern.MatchString(got) {
		t.Errorf("X-Request-Id for an over-long id = %q, want a server-made one", got)
	}
	resp, body = tn.httpDo(t, "GET", "/v1/node", "", nil)
	wantOK(t, "node info", resp, body)
	var info struct{ Member string }
	if err := json.Unmarshal(body, &info); err != nil || info.Member != "cao-bang" {
		t.Errorf("node info = %s (%v)", body, err)
	}

	// OpenAPI document and health.
	resp, body = tn.httpDo(t, "GET", "/openapi.json", "", nil)
	wantOK(t, "openapi", resp, body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("openapi Content-Type %q", ct)
	}
	var doc struct {
		Swagger string `json:"swagger"`
		Paths   map[string]map[string]struct {
			OperationID string `json:"operationId"`
			Parameters  []struct {
				Name    string `json:"name"`
				In      string `json:"in"`
				Pattern string `json:"pattern"`
			} `json:"parameters"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	if doc.Swagger != "2.0" {
		t.Errorf("swagger = %q, want 2.0", doc.Swagger)
	}
	// The collection path of every kind, either as the HTTP rule's template
	// ("/v1/{parent=provinces/*}/agreements") or as protoc-gen-openapiv2
	// v2.16+ writes it: "/v1/{parent}/agreements" with the template's
	// pattern on the parameter.
	for _, k := range resource.Kinds() {
		_, templ := doc.Paths["/v1/{parent=provinces/*}/"+k.Collection]
		simple, ok := doc.Paths["/v1/{parent}/"+k.Collection]
		patterned := false
		if ok {
			for _, prm := range simple["get"].Parameters {
				patterned = patterned || (prm.Name == "parent" && prm.In == "path" && prm.Pattern == "provinces/[^/]+")
			}
		}
		if !templ && !patterned {
			t.Errorf("openapi.json has no collection path for %s (neither /v1/{parent=provinces/*}/%s nor a patterned /v1/{parent}/%s)", k.Collection, k.Collection, k.Collection)
		}
	}
	// Every method of every service is documented.
	ops := map[string]bool{}
	for _, methods := range doc.Paths {
		for _, op := range methods {
			ops[op.OperationID] = true
		}
	}
	for _, k := range resource.Kinds() {
		for _, verb := range []string{"Get", "List", "Create", "Update", "Delete", "Undelete"} {
			m := k.Method(verb)
			if id := string(m.Parent().Name()) + "_" + string(m.Name()); !ops[id] {
				t.Errorf("openapi.json has no operation %s", id)
			}
		}
	}
	resp, body = tn.httpDo(t, "GET", "/healthz", "", nil)
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != "ok" {
		t.Errorf("healthz: HTTP %d %q", resp.StatusCode, body)
	}
	resp, _ = tn.httpDo(t, "POST", "/healthz", "", nil)
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz: HTTP %d, want 405", resp.StatusCode)
	}
	// Open to anyone, but a token sent must be valid, as for gRPC health:
	// a mistyped one shows at once.
	for _, path := range []string{"/healthz", "/openapi.json"} {
		resp, body = tn.httpDo(t, "GET", path, "", map[string]string{"Authorization": "Bearer wrong"})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s with a wrong token: HTTP %d %.80q, want 401", path, resp.StatusCode, body)
		}
		req, err := http.NewRequest("GET", tn.BaseURL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s with no token: HTTP %d, want 200", path, resp.StatusCode)
		}
	}
}
