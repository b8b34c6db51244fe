package server_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/auth"
	auditv1 "github.com/provex/provex/gen/go/provex/audit/v1"
	"github.com/provex/provex/server"
)

// TestGatewayFastGetIsTheGateway: the Get of every kind is served by the
// fast path (fastGet), and answers every kind of request as grpc-gateway
// does, over real HTTP: status, headers, body bytes, and the read it
// records in the audit trail (the node audits every read).
func TestGatewayFastGetIsTheGateway(t *testing.T) {
	tn := startNodeWith(t, "cao-bang", t.TempDir(), func(c *server.Config) { c.AuditAllReads = true })
	ctx := testCtx(t)
	viaGateway := httptest.NewServer(server.ViaGateway(tn.Srv))
	defer viaGateway.Close()
	viewer := issue(t, tn, auth.RoleViewer)

	type request struct {
		what, path string
		header     map[string]string
	}
	var requests []request
	for _, ex := range kindExamples() {
		k := ex.kind
		// A province's node holds none of the ministry's records until
		// synced: their Get is answered NOT_FOUND, by both paths alike.
		name := "provinces/mofa/" + k.Collection + "/fast-get"
		if !k.MinistryOwned() {
			created, err := tn.Create(ctx, tn.parent(), k, "fast-get", "", ex.example())
			mustf(t, err, "Create %s", k.Collection)
			name = k.Name(created)
		}
		admin := map[string]string{"Authorization": "Bearer " + tn.Token}
		requests = append(requests,
			request{k.Collection + ": a record", "/v1/" + name, admin},
			request{k.Collection + ": a record, for a viewer, trailers accepted", "/v1/" + name,
				map[string]string{"Authorization": "Bearer " + viewer, "TE": "trailers", "Accept": "application/json"}},
			request{k.Collection + ": no such record", "/v1/" + tn.parent() + "/" + k.Collection + "/missing", admin},
			request{k.Collection + ": a record of another province", "/v1/provinces/ha-giang/" + k.Collection + "/fast-get", admin},
			request{k.Collection + ": a bad name", "/v1/" + tn.parent() + "/" + k.Collection + "/Not_An-ID", admin},
			request{k.Collection + ": no token", "/v1/" + name, nil},
			request{k.Collection + ": a token that is not one", "/v1/" + name, map[string]string{"Authorization": "Bearer nope"}},
			request{k.Collection + ": two credentials", "/v1/" + name,
				map[string]string{"Authorization": "Bearer " + viewer, "Grpc-Metadata-Authorization": "Bearer " + tn.Token}},
			request{k.Collection + ": a Grpc-Timeout that is not one", "/v1/" + name,
				map[string]string{"Authorization": "Bearer " + viewer, "Grpc-Timeout": "soon"}},
		)
	}

	type answer struct {
		status int
		header http.Header
		body   []byte
	}
	get := func(base, path, id string, header map[string]string, wantFast bool) answer {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, "GET", base+path, nil)
		mustf(t, err, "request %s", path)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		req.Header.Set("X-Request-Id", id)
		if wantFast && !server.ServesFastGet(tn.Srv, req) {
			t.Errorf("GET %s: not served by the fast path", path)
		}
		resp, err := http.DefaultClient.Do(req)
		mustf(t, err, "GET %s", path)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		mustf(t, err, "read %s", path)
		if got := resp.Header.Get("X-Request-Id"); got != id {
			t.Errorf("GET %s: X-Request-Id %q, want %q", path, got, id)
		}
		h := resp.Header.Clone()
		h.Del("Date")
		h.Del("X-Request-Id")
		return answer{resp.StatusCode, h, body}
	}
	statuses := map[int]int{}
	var answered []int // the requests answered 200
	for i, r := range requests {
		fast := get(tn.BaseURL, r.path, fmt.Sprintf("fast-%d", i), r.header, true)
		gw := get(viaGateway.URL, r.path, fmt.Sprintf("gateway-%d", i), r.header, false)
		statuses[fast.status]++
		if fast.status == http.StatusOK {
			answered = append(answered, i)
		}
		if fast.status != gw.status || !reflect.DeepEqual(fast.header, gw.header) || string(fast.body) != string(gw.body) {
			t.Errorf("%s: the fast path answers\n%d %v %s\nthe gateway\n%d %v %s", r.what, fast.status, fast.header, fast.body, gw.status, gw.header, gw.body)
		}
	}
	// Each kind of answer the test means to compare was given.
	for _, want := range []int{http.StatusOK, http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound} {
		if statuses[want] == 0 {
			t.Errorf("no request was answered %d: %v", want, statuses)
		}
	}

	// The audit trail records the same reads of both, under each one's id.
	audit := auditv1.NewAuditServiceClient(tn.Conn())
	var byID map[string][]*auditv1.AuditEntry
	deadline := time.Now().Add(10 * time.Second)
	for {
		byID = map[string][]*auditv1.AuditEntry{}
		token := ""
		for {
			resp, err := audit.ListAuditEntries(ctx, &auditv1.ListAuditEntriesRequest{PageSize: 1000, PageToken: token})
			mustf(t, err, "ListAuditEntries")
			for _, e := range resp.GetEntries() {
				byID[e.GetRequestId()] = append(byID[e.GetRequestId()], e)
			}
			if token = resp.GetNextPageToken(); token == "" {
				break
			}
		}
		// The reads are recorded after they are answered.
		recorded := true
		for _, i := range answered {
			recorded = recorded && len(byID[fmt.Sprintf("fast-%d", i)]) > 0 && len(byID[fmt.Sprintf("gateway-%d", i)]) > 0
		}
		if recorded || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	reads := 0
	for i, r := range requests {
		fast, gw := byID[fmt.Sprintf("fast-%d", i)], byID[fmt.Sprintf("gateway-%d", i)]
		if len(fast) != len(gw) {
			t.Errorf("%s: %d audit entries of the fast path, %d of the gateway", r.what, len(fast), len(gw))
			continue
		}
		for j := range fast {
			if !proto.Equal(auditFacts(fast[j]), auditFacts(gw[j])) {
				t.Errorf("%s: audit entry of the fast path %v, of the gateway %v", r.what, fast[j], gw[j])
			}
			if fast[j].GetRead() {
				reads++
			}
		}
	}
	if reads < len(kindExamples()) {
		t.Errorf("%d reads audited, want one at least for each kind's record", reads)
	}
}

// auditFacts is what an audit entry says, less where it is in the trail,
// when, and under which request id.
func auditFacts(e *auditv1.AuditEntry) *auditv1.AuditEntry {
	e = proto.Clone(e).(*auditv1.AuditEntry)
	e.Seq, e.Time, e.RequestId, e.PrevHash, e.Hash = 0, nil, "", nil, nil
	return e
}

// TestGatewayFastGetLeavesTheRest: what the fast path would not serve
// exactly as the gateway does goes to the gateway.
func TestGatewayFastGetLeavesTheRest(t *testing.T) {
	tn := startNode(t, "cao-bang")
	for _, c := range []struct {
		method, target string
		body           string
	}{
		{"GET", "/v1/provinces/cao-bang/agreements/a1?view=full", ""},
		{"GET", "/v1/provinces/cao-bang/agreements/a%31", ""},
		{"GET", "/v1/provinces/cao-bang/agreements/a1:undelete", ""},
		{"GET", "/v1/provinces/cao-bang/agreements/a1", "{}"},
		{"HEAD", "/v1/provinces/cao-bang/agreements/a1", ""},
		{"DELETE", "/v1/provinces/cao-bang/agreements/a1", ""},
		{"GET", "/v1/provinces/cao-bang/agreements", ""},
	} {
		req := httptest.NewRequest(c.method, tn.BaseURL+c.target, strings.NewReader(c.body))
		if c.body == "" {
			req = httptest.NewRequest(c.method, tn.BaseURL+c.target, nil)
		}
		if server.ServesFastGet(tn.Srv, req) {
			t.Errorf("%s %s (body %q): served by the fast path", c.method, c.target, c.body)
		}
	}
	if req := httptest.NewRequest("GET", tn.BaseURL+"/v1/provinces/cao-bang/agreements/a1", nil); !server.ServesFastGet(tn.Srv, req) {
		t.Errorf("GET of a record: not served by the fast path")
	}
}
