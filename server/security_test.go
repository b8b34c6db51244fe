package server_test

// Negative tests of the node's security (DESIGN.md section 5, issue 5): who
// may call what on the API, over gRPC and HTTP alike, what is refused and
// with which status, the audit trail of writes, and the limits that keep one
// caller from starving the others. Every test runs real nodes on loopback.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // the audit tamper test edits the database file
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/provex/provex/auth"
	"github.com/provex/provex/client"
	"github.com/provex/provex/federation"
	auditv1 "github.com/provex/provex/gen/go/provex/audit/v1"
	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	nodev1 "github.com/provex/provex/gen/go/provex/node/v1"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/pki"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/server"
)

// Full method names the tests look for in allowed-method lists.
const (
	methodCreateAgreement = "/provex.twinning.v1.TwinningService/CreateAgreement"
	methodUpdateAgreement = "/provex.twinning.v1.TwinningService/UpdateAgreement"
	methodDeleteAgreement = "/provex.twinning.v1.TwinningService/DeleteAgreement"
	methodListAgreements  = "/provex.twinning.v1.TwinningService/ListAgreements"
	methodGetCaller       = "/provex.node.v1.NodeService/GetCaller"
	healthRule            = "/grpc.health.v1.Health/*"
)

// startSecNode starts a node of member like startNode, with mod applied to
// its configuration first, and dials its gRPC API with the admin token and
// dial (after client.Dial's defaults). BaseURL is https:// when the API is
// served over TLS; httpClient then needs the CA (secHTTPClient).
func startSecNode(t *testing.T, member string, mod func(*server.Config), dial ...grpc.DialOption) *testNode {
	t.Helper()
	dir := t.TempDir()
	cfg := server.Config{
		Member:          member,
		DataDir:         dir,
		GRPCAddr:        "127.0.0.1:0",
		HTTPAddr:        "127.0.0.1:0",
		ShutdownTimeout: 10 * time.Second,
		Version:         "test",
		Logger:          slog.New(slog.DiscardHandler),
		PlaintextAPI:    true,
		Limits:          server.Limits{RatePerSecond: 1e6, Burst: 1e6},
	}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n, err := server.New(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("server.New: %v", err)
	}
	if err := n.Listen(); err != nil {
		cancel()
		t.Fatalf("Listen: %v", err)
	}
	scheme := "http://"
	if !cfg.PlaintextAPI {
		scheme = "https://"
	}
	tn := &testNode{Srv: n, Member: member, DataDir: dir, BaseURL: scheme + n.HTTPAddr(), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(tn.done)
		tn.serveErr = n.Serve(ctx)
	}()
	if tn.Token, err = n.IssueToken(ctx, auth.RoleAdmin, "test admin", time.Time{}); err != nil {
		tn.Stop(t)
		t.Fatalf("IssueToken: %v", err)
	}
	c, err := client.Dial(n.GRPCAddr(), append([]grpc.DialOption{client.WithToken(tn.Token)}, dial...)...)
	if err != nil {
		tn.Stop(t)
		t.Fatalf("Dial: %v", err)
	}
	tn.Client = c
	t.Cleanup(func() { tn.Stop(t) })
	return tn
}

// issue makes a token of role on tn's node.
func issue(t *testing.T, tn *testNode, role auth.Role) string {
	t.Helper()
	tok, err := tn.Srv.IssueToken(context.Background(), role, "sec "+string(role), time.Time{})
	mustf(t, err, "issue %s token", role)
	return tok
}

// tokenID is the id part of a plaintext token.
func tokenID(t *testing.T, tok string) string {
	t.Helper()
	id, _, err := auth.ParseToken(tok)
	mustf(t, err, "parse token")
	return id
}

// dialAs connects to addr sending token (none when ""), plaintext unless
// opts say otherwise.
func dialAs(t *testing.T, addr, token string, opts ...grpc.DialOption) *client.Client {
	t.Helper()
	if token != "" {
		opts = append(opts, client.WithToken(token))
	}
	c, err := client.Dial(addr, opts...)
	mustf(t, err, "dial %s", addr)
	t.Cleanup(func() { c.Close() })
	return c
}

// secHTTP sends an HTTP request to tn's gateway with token as bearer (no
// Authorization header at all when token is "") and returns the status and
// body.
func secHTTP(t *testing.T, tn *testNode, hc *http.Client, method, path, body, token string) (int, []byte) {
	t.Helper()
	return secHTTPAt(t, tn.BaseURL, hc, method, path, body, token)
}

// secHTTPAt is secHTTP to the gateway at base (scheme://host:port). It
// reports failures with Errorf (status 0), so goroutines may call it.
func secHTTPAt(t *testing.T, base string, hc *http.Client, method, path, body, token string) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, r)
	if err != nil {
		t.Errorf("%s %s: %v", method, path, err)
		return 0, nil
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", method, path, err)
		return 0, nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Errorf("%s %s: read body: %v", method, path, err)
	}
	return resp.StatusCode, b
}

// wantHTTPDenied checks an HTTP refusal: the status, the gRPC code in the
// JSON body, and a message containing every one of words.
func wantHTTPDenied(t *testing.T, what string, gotStatus int, body []byte, wantStatus int, wantCode codes.Code, words ...string) {
	t.Helper()
	if gotStatus != wantStatus {
		t.Errorf("%s: HTTP %d, want %d (body %s)", what, gotStatus, wantStatus, body)
		return
	}
	var e httpError
	if err := json.Unmarshal(body, &e); err != nil {
		t.Errorf("%s: error body %s: %v", what, body, err)
		return
	}
	if codes.Code(e.Code) != wantCode {
		t.Errorf("%s: body code %v, want %v (body %s)", what, codes.Code(e.Code), wantCode, body)
	}
	for _, w := range words {
		if !strings.Contains(e.Message, w) {
			t.Errorf("%s: message %q does not say %q", what, e.Message, w)
		}
	}
}

// wantDenied checks a gRPC refusal: the code and a message containing every
// one of words.
func wantDenied(t *testing.T, err error, want codes.Code, what string, words ...string) {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != want {
		t.Errorf("%s: code %v (%v), want %v", what, st.Code(), err, want)
		return
	}
	for _, w := range words {
		if !strings.Contains(st.Message(), w) {
			t.Errorf("%s: message %q does not say %q", what, st.Message(), w)
		}
	}
}

func agreementsIn(t *testing.T, tn *testNode, parent string) []*twinningv1.Agreement {
	t.Helper()
	resp, err := tn.Twinning.ListAgreements(testCtx(t), &twinningv1.ListAgreementsRequest{Parent: parent, PageSize: 1000, ShowDeleted: true})
	mustf(t, err, "admin lists %s", parent)
	return resp.GetAgreements()
}

// TestSecurityAnonymousCallers: without a token, data methods are refused
// with UNAUTHENTICATED (HTTP 401) and the same clear message on both, while
// health, reflection, GetCaller, /healthz and /openapi.json stay open.
func TestSecurityAnonymousCallers(t *testing.T) {
	t.Parallel()
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	anon := dialAs(t, tn.Srv.GRPCAddr(), "")

	_, listErr := anon.Twinning.ListAgreements(ctx, &twinningv1.ListAgreementsRequest{Parent: tn.parent()})
	wantDenied(t, listErr, codes.Unauthenticated, "anonymous ListAgreements", "bearer token", "authorization: Bearer")
	_, err := anon.Twinning.GetAgreement(ctx, &twinningv1.GetAgreementRequest{Name: "provinces/cao-bang/agreements/x"})
	wantDenied(t, err, codes.Unauthenticated, "anonymous GetAgreement", "bearer token")
	_, err = anon.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), Agreement: newAgreement("anon")})
	wantDenied(t, err, codes.Unauthenticated, "anonymous CreateAgreement", "bearer token")
	_, err = auditv1.NewAuditServiceClient(anon.Conn()).ListAuditEntries(ctx, &auditv1.ListAuditEntriesRequest{})
	wantDenied(t, err, codes.Unauthenticated, "anonymous ListAuditEntries", "bearer token")
	_, err = syncv1.NewSyncServiceClient(anon.Conn()).GetSyncState(ctx, &syncv1.GetSyncStateRequest{})
	wantDenied(t, err, codes.Unauthenticated, "anonymous GetSyncState", "bearer token")
	// The node's peers and lag are the operators' (THREATS A21): a viewer
	// or editor token is refused too, over gRPC and HTTP.
	for _, role := range []auth.Role{auth.RoleViewer, auth.RoleEditor} {
		tok := issue(t, tn, role)
		_, err = syncv1.NewSyncServiceClient(dialAs(t, tn.Srv.GRPCAddr(), tok).Conn()).GetSyncState(ctx, &syncv1.GetSyncStateRequest{})
		wantDenied(t, err, codes.PermissionDenied, string(role)+" GetSyncState", "needs an admin token")
		resp, body := tn.httpDo(t, http.MethodGet, "/v1/sync/state", "", map[string]string{"Authorization": "Bearer " + tok})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s GET /v1/sync/state: %d %s, want 403", role, resp.StatusCode, body)
		}
	}
	if got := agreementsIn(t, tn, "provinces/-"); len(got) != 0 {
		t.Errorf("an anonymous Create wrote %d records", len(got))
	}

	// Open to everyone.
	hr, err := healthpb.NewHealthClient(anon.Conn()).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || hr.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("anonymous health Check = %v, %v; want SERVING", hr, err)
	}
	stream, err := reflectionpb.NewServerReflectionClient(anon.Conn()).ServerReflectionInfo(ctx)
	mustf(t, err, "anonymous reflection stream")
	mustf(t, stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}), "send ListServices")
	rr, err := stream.Recv()
	if err != nil {
		t.Errorf("anonymous reflection ListServices: %v", err)
	} else if svcs := rr.GetListServicesResponse().GetService(); !slices.ContainsFunc(svcs, func(s *reflectionpb.ServiceResponse) bool {
		return s.GetName() == "provex.twinning.v1.TwinningService"
	}) {
		t.Errorf("anonymous reflection lists %v, without TwinningService", svcs)
	}
	stream.CloseSend()
	caller, err := anon.Node.GetCaller(ctx, &nodev1.GetCallerRequest{})
	if err != nil || caller.GetIdentity() != "anonymous" {
		t.Errorf("anonymous GetCaller = %v, %v; want identity anonymous", caller, err)
	}
	// A token sent with them must still be valid (README): a mistyped
	// one is refused, not taken for none.
	wrong := dialAs(t, tn.Srv.GRPCAddr(), "pvx_0000000000000000_mistyped")
	_, err = healthpb.NewHealthClient(wrong.Conn()).Check(ctx, &healthpb.HealthCheckRequest{})
	wantDenied(t, err, codes.Unauthenticated, "health Check with a wrong token")
	_, err = wrong.Node.GetCaller(ctx, &nodev1.GetCallerRequest{})
	wantDenied(t, err, codes.Unauthenticated, "GetCaller with a wrong token")

	// HTTP: the same refusal, 401, with the gRPC message.
	code, body := secHTTP(t, tn, nil, "GET", "/v1/provinces/cao-bang/agreements", "", "")
	wantHTTPDenied(t, "anonymous HTTP list", code, body, http.StatusUnauthorized, codes.Unauthenticated, "bearer token")
	var e httpError
	if json.Unmarshal(body, &e) == nil && e.Message != status.Convert(listErr).Message() {
		t.Errorf("HTTP message %q differs from the gRPC message %q", e.Message, status.Convert(listErr).Message())
	}
	code, body = secHTTP(t, tn, nil, "POST", "/v1/provinces/cao-bang/agreements", `{"display_name":"anon","kind":"KIND_MOU"}`, "")
	wantHTTPDenied(t, "anonymous HTTP create", code, body, http.StatusUnauthorized, codes.Unauthenticated, "bearer token")
	code, body = secHTTP(t, tn, nil, "GET", "/v1/audit/entries", "", "")
	wantHTTPDenied(t, "anonymous HTTP audit", code, body, http.StatusUnauthorized, codes.Unauthenticated, "bearer token")
	if code, body = secHTTP(t, tn, nil, "GET", "/healthz", "", ""); code != http.StatusOK || strings.TrimSpace(string(body)) != "ok" {
		t.Errorf("anonymous /healthz: HTTP %d %q, want 200 ok", code, body)
	}
	if code, body = secHTTP(t, tn, nil, "GET", "/openapi.json", "", ""); code != http.StatusOK || !json.Valid(body) {
		t.Errorf("anonymous /openapi.json: HTTP %d, want 200 and JSON", code)
	}
	if code, body = secHTTP(t, tn, nil, "GET", "/v1/caller", "", ""); code != http.StatusOK || !strings.Contains(string(body), `"anonymous"`) {
		t.Errorf("anonymous /v1/caller: HTTP %d %s", code, body)
	}
}

// TestSecurityViewerCannotWrite: a viewer token reads (Get, List, over gRPC
// and HTTP) but every write is PERMISSION_DENIED (HTTP 403) and changes
// nothing.
func TestSecurityViewerCannotWrite(t *testing.T) {
	t.Parallel()
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	rec, err := tn.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), AgreementId: "seen", Agreement: newAgreement("seen")})
	mustf(t, err, "admin create")
	viewerTok := issue(t, tn, auth.RoleViewer)
	viewer := dialAs(t, tn.Srv.GRPCAddr(), viewerTok)

	if got, err := viewer.Twinning.GetAgreement(ctx, &twinningv1.GetAgreementRequest{Name: rec.Name}); err != nil || got.GetName() != rec.Name {
		t.Errorf("viewer Get = %v, %v", got, err)
	}
	if got, err := viewer.Twinning.ListAgreements(ctx, &twinningv1.ListAgreementsRequest{Parent: "provinces/-"}); err != nil || len(got.GetAgreements()) != 1 {
		t.Errorf("viewer List = %v, %v; want the one record", got, err)
	}
	_, err = viewer.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), AgreementId: "by-viewer", Agreement: newAgreement("by viewer")})
	wantDenied(t, err, codes.PermissionDenied, "viewer Create", "viewer", "editor or admin token")
	changed := newAgreement("changed by viewer")
	changed.Name, changed.Etag = rec.Name, rec.Etag
	_, err = viewer.Twinning.UpdateAgreement(ctx, &twinningv1.UpdateAgreementRequest{Agreement: changed, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}})
	wantDenied(t, err, codes.PermissionDenied, "viewer Update", "viewer")
	_, err = viewer.Twinning.DeleteAgreement(ctx, &twinningv1.DeleteAgreementRequest{Name: rec.Name})
	wantDenied(t, err, codes.PermissionDenied, "viewer Delete", "viewer")
	_, err = viewer.Twinning.UndeleteAgreement(ctx, &twinningv1.UndeleteAgreementRequest{Name: rec.Name})
	wantDenied(t, err, codes.PermissionDenied, "viewer Undelete", "viewer")

	code, body := secHTTP(t, tn, nil, "POST", "/v1/provinces/cao-bang/agreements?agreement_id=by-viewer-http", `{"display_name":"by viewer","kind":"KIND_MOU"}`, viewerTok)
	wantHTTPDenied(t, "viewer HTTP create", code, body, http.StatusForbidden, codes.PermissionDenied, "viewer")
	code, body = secHTTP(t, tn, nil, "DELETE", "/v1/"+rec.Name, "", viewerTok)
	wantHTTPDenied(t, "viewer HTTP delete", code, body, http.StatusForbidden, codes.PermissionDenied, "viewer")
	if code, body = secHTTP(t, tn, nil, "GET", "/v1/"+rec.Name, "", viewerTok); code != http.StatusOK {
		t.Errorf("viewer HTTP get: HTTP %d %s", code, body)
	}

	got := agreementsIn(t, tn, "provinces/-")
	if len(got) != 1 || got[0].GetEtag() != rec.Etag || got[0].GetDeleteTime() != nil || got[0].GetDisplayName() != rec.DisplayName {
		t.Errorf("after the viewer's attempts the node holds %v, want only %v unchanged", got, rec)
	}
}

// TestSecurityEditorWritesOnlyOwnProvince: an editor token of cao-bang's
// node writes cao-bang's records but none of nghe-an's, over gRPC and HTTP
// (PERMISSION_DENIED, 403), and nothing is written.
func TestSecurityEditorWritesOnlyOwnProvince(t *testing.T) {
	t.Parallel()
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	editorTok := issue(t, tn, auth.RoleEditor)
	editor := dialAs(t, tn.Srv.GRPCAddr(), editorTok)

	_, err := editor.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), AgreementId: "own", Agreement: newAgreement("own")})
	mustf(t, err, "editor creates under its own province")
	_, err = editor.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: "provinces/nghe-an", AgreementId: "foreign", Agreement: newAgreement("foreign")})
	wantDenied(t, err, codes.PermissionDenied, "editor Create under nghe-an", "nghe-an", "cao-bang")
	_, err = editor.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: "provinces/nghe-an", RequestId: "foreign-req", Agreement: newAgreement("foreign")})
	wantDenied(t, err, codes.PermissionDenied, "editor Create under nghe-an with a request id", "nghe-an")
	foreign := newAgreement("foreign")
	foreign.Name = "provinces/nghe-an/agreements/foreign"
	_, err = editor.Twinning.UpdateAgreement(ctx, &twinningv1.UpdateAgreementRequest{Agreement: foreign})
	wantDenied(t, err, codes.PermissionDenied, "editor Update of a nghe-an record", "nghe-an")
	_, err = editor.Twinning.DeleteAgreement(ctx, &twinningv1.DeleteAgreementRequest{Name: foreign.Name})
	wantDenied(t, err, codes.PermissionDenied, "editor Delete of a nghe-an record", "nghe-an")

	// Refused before validation: a body that breaks the schema's rules
	// told the editor what nghe-an's record must hold (INVALID_ARGUMENT)
	// before it was refused (an outside review; AIP-211).
	_, err = editor.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: "provinces/nghe-an", Agreement: &twinningv1.Agreement{}})
	wantDenied(t, err, codes.PermissionDenied, "editor Create under nghe-an of an invalid agreement", "nghe-an")
	_, err = editor.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), Agreement: &twinningv1.Agreement{}})
	wantDenied(t, err, codes.InvalidArgument, "editor Create under its own province of an invalid agreement", "display_name")

	code, body := secHTTP(t, tn, nil, "POST", "/v1/provinces/nghe-an/agreements?agreement_id=foreign-http", `{"display_name":"foreign","kind":"KIND_MOU"}`, editorTok)
	wantHTTPDenied(t, "editor HTTP create under nghe-an", code, body, http.StatusForbidden, codes.PermissionDenied, "nghe-an")
	code, body = secHTTP(t, tn, nil, "POST", "/v1/provinces/nghe-an/agreements", `{}`, editorTok)
	wantHTTPDenied(t, "editor HTTP create under nghe-an of an invalid agreement", code, body, http.StatusForbidden, codes.PermissionDenied, "nghe-an")
	code, body = secHTTP(t, tn, nil, "DELETE", "/v1/provinces/nghe-an/agreements/foreign", "", editorTok)
	wantHTTPDenied(t, "editor HTTP delete of a nghe-an record", code, body, http.StatusForbidden, codes.PermissionDenied, "nghe-an")

	if got := agreementsIn(t, tn, "provinces/nghe-an"); len(got) != 0 {
		t.Errorf("nghe-an holds %d records after refused writes: %v", len(got), got)
	}
	if got := agreementsIn(t, tn, "provinces/-"); len(got) != 1 || got[0].GetName() != "provinces/cao-bang/agreements/own" {
		t.Errorf("the node holds %v, want only provinces/cao-bang/agreements/own", got)
	}
	// Nothing refused reached the audit trail or the change log.
	entries, err := auditv1.NewAuditServiceClient(tn.Conn()).ListAuditEntries(ctx, &auditv1.ListAuditEntriesRequest{})
	mustf(t, err, "admin lists the audit trail")
	for _, e := range entries.GetEntries() {
		if strings.Contains(e.GetResource(), "nghe-an") {
			t.Errorf("audit entry of a refused write: %v", e)
		}
	}
}

// TestSecurityBadTokens: expired, revoked, malformed, wrong-secret, unknown
// and other nodes' tokens are UNAUTHENTICATED (HTTP 401), with a message
// that says why; a revoked token stops working on the very next call.
func TestSecurityBadTokens(t *testing.T) {
	t.Parallel()
	tn := startNode(t, "cao-bang")
	other := startNode(t, "nghe-an")
	ctx := testCtx(t)
	addr := tn.Srv.GRPCAddr()
	list := func(tok string) error {
		_, err := dialAs(t, addr, tok).Twinning.ListAgreements(ctx, &twinningv1.ListAgreementsRequest{Parent: tn.parent()})
		return err
	}

	// Expired: made two hours ago, valid for one.
	expiredTok, expired, err := auth.NewToken(auth.RoleAdmin, time.Now().Add(-time.Hour), "expired", time.Now().Add(-2*time.Hour))
	mustf(t, err, "NewToken")
	mustf(t, tn.Srv.Store().CreateToken(ctx, expired), "store expired token")
	wantDenied(t, list(expiredTok), codes.Unauthenticated, "expired token", "expired")

	// Expires in a moment: works, then does not.
	soonExpiry := time.Now().Add(time.Second)
	soonTok, err := tn.Srv.IssueToken(ctx, auth.RoleAdmin, "soon", soonExpiry)
	mustf(t, err, "issue short-lived token")
	soon := dialAs(t, addr, soonTok)
	_, err = soon.Twinning.ListAgreements(ctx, &twinningv1.ListAgreementsRequest{Parent: tn.parent()})
	mustf(t, err, "a token before its expiry")

	// Revoked: works, is revoked, is refused on the next call of the same
	// connection.
	revTok := issue(t, tn, auth.RoleEditor)
	rev := dialAs(t, addr, revTok)
	_, err = rev.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), AgreementId: "before-revoke", Agreement: newAgreement("x")})
	mustf(t, err, "create before revocation")
	mustf(t, tn.Srv.Store().RevokeToken(ctx, tokenID(t, revTok), time.Now()), "revoke")
	_, err = rev.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), AgreementId: "after-revoke", Agreement: newAgreement("x")})
	wantDenied(t, err, codes.Unauthenticated, "create after revocation", "revoked")
	_, err = rev.Twinning.ListAgreements(ctx, &twinningv1.ListAgreementsRequest{Parent: tn.parent()})
	wantDenied(t, err, codes.Unauthenticated, "list after revocation", "revoked")

	// Wrong secret for a real id, unknown id, garbage, another node's token:
	// the answer does not tell a wrong secret from an unknown id.
	goodID := tokenID(t, issue(t, tn, auth.RoleAdmin))
	wrongSecret := auth.FormatToken(goodID, make([]byte, 32))
	unknownID := auth.FormatToken("0123456789abcdef", make([]byte, 32))
	wantDenied(t, list(wrongSecret), codes.Unauthenticated, "wrong secret", "token is not valid")
	wantDenied(t, list(unknownID), codes.Unauthenticated, "unknown id", "token is not valid")
	wantDenied(t, list("not-a-token"), codes.Unauthenticated, "garbage token", "malformed bearer token")
	wantDenied(t, list(strings.Repeat("x", 2000)), codes.Unauthenticated, "huge token", "bytes long")
	wantDenied(t, list(other.Token), codes.Unauthenticated, "another node's admin token", "or made by another node (a token works only on the node where")

	// A scheme other than Bearer, and two credentials at once.
	basic := metadata.AppendToOutgoingContext(ctx, "authorization", "Basic YWRtaW46YWRtaW4=")
	_, err = dialAs(t, addr, "").Twinning.ListAgreements(basic, &twinningv1.ListAgreementsRequest{Parent: tn.parent()})
	wantDenied(t, err, codes.Unauthenticated, "Basic credentials", "not supported")
	double := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tn.Token)
	_, err = dialAs(t, addr, tn.Token).Twinning.ListAgreements(double, &twinningv1.ListAgreementsRequest{Parent: tn.parent()})
	wantDenied(t, err, codes.Unauthenticated, "two authorization values", "exactly one")

	time.Sleep(time.Until(soonExpiry) + 50*time.Millisecond)
	_, err = soon.Twinning.ListAgreements(ctx, &twinningv1.ListAgreementsRequest{Parent: tn.parent()})
	wantDenied(t, err, codes.Unauthenticated, "a token after its expiry", "expired")

	// HTTP: the same answers, 401.
	for _, c := range []struct{ what, tok, word string }{
		{"expired", expiredTok, "expired"},
		{"revoked", revTok, "revoked"},
		{"wrong secret", wrongSecret, "token is not valid"},
		{"garbage", "not-a-token", "malformed bearer token"},
		{"another node's", other.Token, "token is not valid"},
	} {
		code, body := secHTTP(t, tn, nil, "GET", "/v1/provinces/cao-bang/agreements", "", c.tok)
		wantHTTPDenied(t, "HTTP "+c.what+" token", code, body, http.StatusUnauthorized, codes.Unauthenticated, c.word)
		code, body = secHTTP(t, tn, nil, "POST", "/v1/provinces/cao-bang/agreements", `{"display_name":"x","kind":"KIND_MOU"}`, c.tok)
		wantHTTPDenied(t, "HTTP create with "+c.what+" token", code, body, http.StatusUnauthorized, codes.Unauthenticated, c.word)
	}
	// A Grpc-Metadata-Authorization header smuggles no credential in,
	// neither beside a refused Authorization header nor alone.
	for _, c := range []struct {
		what   string
		header map[string]string
		word   string
	}{
		{"a revoked token and an admin token in Grpc-Metadata-Authorization",
			map[string]string{"Authorization": "Bearer " + revTok, "Grpc-Metadata-Authorization": "Bearer " + tn.Token}, ""},
		{"an admin token in Grpc-Metadata-Authorization only",
			map[string]string{"Grpc-Metadata-Authorization": "Bearer " + tn.Token}, "bearer token"},
	} {
		req, _ := http.NewRequest("GET", tn.BaseURL+"/v1/provinces/cao-bang/agreements", nil)
		for k, v := range c.header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		mustf(t, err, "HTTP with %s", c.what)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		wantHTTPDenied(t, "HTTP with "+c.what, resp.StatusCode, body, http.StatusUnauthorized, codes.Unauthenticated, c.word)
	}

	got := agreementsIn(t, tn, "provinces/-")
	if len(got) != 1 || got[0].GetName() != "provinces/cao-bang/agreements/before-revoke" {
		t.Errorf("the node holds %v, want only before-revoke", got)
	}
}

// TestSecurityAuditTrail: an editor's create, update and delete are in the
// audit trail with its token id, role, request ids, methods and resource
// names; only admin tokens read or verify the trail; the trail verifies,
// and an edit of a row in the database file is reported by VerifyAuditLog.
func TestSecurityAuditTrail(t *testing.T) {
	t.Parallel()
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	editorTok := issue(t, tn, auth.RoleEditor)
	viewerTok := issue(t, tn, auth.RoleViewer)
	editor := dialAs(t, tn.Srv.GRPCAddr(), editorTok)
	actor := "token:" + tokenID(t, editorTok) + " (editor)"
	const name = "provinces/cao-bang/agreements/audited"

	withID := func(id string) context.Context { return metadata.AppendToOutgoingContext(ctx, "x-request-id", id) }
	rec, err := editor.Twinning.CreateAgreement(withID("audit-create"), &twinningv1.CreateAgreementRequest{Parent: tn.parent(), AgreementId: "audited", Agreement: newAgreement("audited")})
	mustf(t, err, "editor create")
	rec.DisplayName = "audited, changed"
	rec, err = editor.Twinning.UpdateAgreement(withID("audit-update"), &twinningv1.UpdateAgreementRequest{Agreement: rec, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}})
	mustf(t, err, "editor update")
	_, err = editor.Twinning.DeleteAgreement(withID("audit-delete"), &twinningv1.DeleteAgreementRequest{Name: rec.Name, Etag: rec.Etag})
	mustf(t, err, "editor delete")
	// An admin write without a request id gets a server-made one.
	_, err = tn.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), AgreementId: "by-admin", Agreement: newAgreement("by admin")})
	mustf(t, err, "admin create")

	audit := auditv1.NewAuditServiceClient(tn.Conn())
	// A page size over 1000 is served as 1000, as every List's.
	resp, err := audit.ListAuditEntries(ctx, &auditv1.ListAuditEntriesRequest{Actor: actor, PageSize: 5000})
	mustf(t, err, "admin lists the editor's audit entries")
	want := []struct{ method, requestID string }{
		{methodCreateAgreement, "audit-create"},
		{methodUpdateAgreement, "audit-update"},
		{methodDeleteAgreement, "audit-delete"},
	}
	if len(resp.GetEntries()) != len(want) {
		t.Fatalf("editor's audit entries: %v, want %d", resp.GetEntries(), len(want))
	}
	for i, e := range resp.GetEntries() {
		if e.GetActor() != actor || e.GetAction() != want[i].method || e.GetRequestId() != want[i].requestID ||
			e.GetResource() != name || e.GetChangeOrigin() != "cao-bang" || e.GetChangeFirstSeq() == 0 || len(e.GetHash()) != 32 {
			t.Errorf("audit entry %d = %v, want actor %q, action %s, request id %s, resource %s", i, e, actor, want[i].method, want[i].requestID, name)
		}
	}
	all, err := audit.ListAuditEntries(ctx, &auditv1.ListAuditEntriesRequest{})
	mustf(t, err, "admin lists the whole audit trail")
	adminActor := "token:" + tokenID(t, tn.Token) + " (admin)"
	if n := len(all.GetEntries()); n != 4 || all.GetEntries()[3].GetActor() != adminActor || all.GetEntries()[3].GetResource() != "provinces/cao-bang/agreements/by-admin" ||
		!requestIDPattern.MatchString(all.GetEntries()[3].GetRequestId()) {
		t.Errorf("whole trail: %v; want the editor's 3 entries and the admin's create with a server-made request id", all.GetEntries())
	}
	byResource, err := audit.ListAuditEntries(ctx, &auditv1.ListAuditEntriesRequest{Resource: name})
	if err != nil || len(byResource.GetEntries()) != 3 {
		t.Errorf("entries of %s: %v, %v; want 3", name, byResource.GetEntries(), err)
	}
	v, err := audit.VerifyAuditLog(ctx, &auditv1.VerifyAuditLogRequest{})
	if err != nil || !v.GetOk() || v.GetEntries() != 4 || len(v.GetProblems()) != 0 {
		t.Errorf("VerifyAuditLog = %v, %v; want ok with 4 entries", v, err)
	}

	// Only admin tokens read or verify the trail.
	for role, tok := range map[string]string{"viewer": viewerTok, "editor": editorTok} {
		c := auditv1.NewAuditServiceClient(dialAs(t, tn.Srv.GRPCAddr(), tok).Conn())
		_, err := c.ListAuditEntries(ctx, &auditv1.ListAuditEntriesRequest{})
		wantDenied(t, err, codes.PermissionDenied, role+" ListAuditEntries", role, "admin token")
		_, err = c.VerifyAuditLog(ctx, &auditv1.VerifyAuditLogRequest{})
		wantDenied(t, err, codes.PermissionDenied, role+" VerifyAuditLog", role, "admin token")
		code, body := secHTTP(t, tn, nil, "GET", "/v1/audit/entries", "", tok)
		wantHTTPDenied(t, role+" HTTP audit entries", code, body, http.StatusForbidden, codes.PermissionDenied, "admin token")
		code, body = secHTTP(t, tn, nil, "GET", "/v1/audit:verify", "", tok)
		wantHTTPDenied(t, role+" HTTP audit verify", code, body, http.StatusForbidden, codes.PermissionDenied, "admin token")
	}
	code, body := secHTTP(t, tn, nil, "GET", "/v1/audit/entries?actor="+strings.NewReplacer(":", "%3A", " ", "%20", "(", "%28", ")", "%29").Replace(actor), "", tn.Token)
	if code != http.StatusOK || strings.Count(string(body), `"request_id"`) != 3 {
		t.Errorf("admin HTTP audit entries: HTTP %d %s", code, body)
	}

	// Someone with the database file edits who made entry 2: the node's
	// own check finds it.
	raw, err := sql.Open("sqlite3", "file:"+filepath.Join(tn.DataDir, server.DatabaseFile)+"?_busy_timeout=10000")
	mustf(t, err, "open the database file")
	defer raw.Close()
	_, err = raw.Exec("UPDATE audit SET actor = ? WHERE seq = 2", adminActor)
	mustf(t, err, "edit an audit row")
	v, err = audit.VerifyAuditLog(ctx, &auditv1.VerifyAuditLogRequest{})
	if err != nil || v.GetOk() || !strings.Contains(strings.Join(v.GetProblems(), "\n"), "record 2 was edited") {
		t.Errorf("VerifyAuditLog after an edit = %v, %v; want not ok, naming record 2", v, err)
	}
}

// TestSecurityOversizeMessage: a request over Limits.MaxMessageBytes is
// RESOURCE_EXHAUSTED on gRPC and 413 on HTTP (with a declared length or
// streamed), writes nothing, and the same connection serves a normal call
// right after.
func TestSecurityOversizeMessage(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	tn := startSecNode(t, "cao-bang", func(c *server.Config) { c.Limits.MaxMessageBytes = limit })
	ctx := testCtx(t)

	big := newAgreement("big")
	big.Summary = strings.Repeat("x", limit+1024)
	_, err := tn.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), AgreementId: "big", Agreement: big})
	wantDenied(t, err, codes.ResourceExhausted, "oversized gRPC create", "larger than max")
	_, err = tn.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), AgreementId: "small", Agreement: newAgreement("small")})
	mustf(t, err, "a normal create right after an oversized one")

	bigJSON := `{"display_name":"big","kind":"KIND_MOU","summary":"` + strings.Repeat("x", limit+1024) + `"}`
	// With a Content-Length: refused before the body is read.
	code, body := secHTTP(t, tn, nil, "POST", "/v1/provinces/cao-bang/agreements?agreement_id=big-http", bigJSON, tn.Token)
	wantHTTPDenied(t, "oversized HTTP body", code, body, http.StatusRequestEntityTooLarge, codes.ResourceExhausted, "larger than the maximum")
	// Streamed without a length: cut off while reading.
	req, _ := http.NewRequest("POST", tn.BaseURL+"/v1/provinces/cao-bang/agreements?agreement_id=big-chunked", io.MultiReader(strings.NewReader(bigJSON)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tn.Token)
	resp, err := http.DefaultClient.Do(req)
	mustf(t, err, "chunked oversized body")
	chunkedBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if req.ContentLength != 0 {
		t.Fatalf("the request was not streamed (ContentLength %d)", req.ContentLength)
	}
	wantHTTPDenied(t, "chunked oversized HTTP body", resp.StatusCode, chunkedBody, http.StatusRequestEntityTooLarge, codes.ResourceExhausted, "larger than the maximum")

	code, body = secHTTP(t, tn, nil, "POST", "/v1/provinces/cao-bang/agreements?agreement_id=small-http", `{"display_name":"small","kind":"KIND_MOU"}`, tn.Token)
	if code != http.StatusOK {
		t.Errorf("a normal HTTP create after oversized ones: HTTP %d %s", code, body)
	}
	var names []string
	for _, a := range agreementsIn(t, tn, "provinces/-") {
		names = append(names, a.GetName())
	}
	slices.Sort(names)
	if want := []string{"provinces/cao-bang/agreements/small", "provinces/cao-bang/agreements/small-http"}; !slices.Equal(names, want) {
		t.Errorf("the node holds %q, want %q", names, want)
	}
}

// TestSecurityFlood: one token calling far faster than its rate gets
// RESOURCE_EXHAUSTED (HTTP 429) beyond its burst, while another token and
// anonymous health checks are served throughout.
func TestSecurityFlood(t *testing.T) {
	t.Parallel()
	const rate, burst = 20, 20
	tn := startSecNode(t, "cao-bang", func(c *server.Config) { c.Limits = server.Limits{RatePerSecond: rate, Burst: burst} })
	ctx := testCtx(t)
	flooderTok := issue(t, tn, auth.RoleViewer)
	honestTok := issue(t, tn, auth.RoleViewer)
	flooder := dialAs(t, tn.Srv.GRPCAddr(), flooderTok)
	honest := dialAs(t, tn.Srv.GRPCAddr(), honestTok)

	const calls, workers = 200, 10
	var (
		ok, refused, other atomic.Int64
		firstOther         atomic.Value
		refusedMsg         atomic.Value
		badWait            atomic.Value
		wg                 sync.WaitGroup
	)
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < calls/workers; i++ {
				_, err := flooder.Twinning.ListAgreements(ctx, &twinningv1.ListAgreementsRequest{Parent: "provinces/-"})
				switch status.Code(err) {
				case codes.OK:
					ok.Add(1)
				case codes.ResourceExhausted:
					refused.Add(1)
					refusedMsg.Store(status.Convert(err).Message())
					// The wait until the bucket holds a token: at most
					// one token's refill.
					if d := apperr.RetryDelay(status.Convert(err)); d <= 0 || d > time.Second/rate {
						badWait.Store(fmt.Sprintf("RetryInfo %v, want a wait in (0, %v]", d, time.Second/rate))
					}
				default:
					other.Add(1)
					firstOther.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}
	// Meanwhile, the honest token and anonymous health checks.
	health := healthpb.NewHealthClient(dialAs(t, tn.Srv.GRPCAddr(), "").Conn())
	var honestErrs []string
	for i := 0; i < 10; i++ {
		if _, err := honest.Twinning.ListAgreements(ctx, &twinningv1.ListAgreementsRequest{Parent: "provinces/-"}); err != nil {
			honestErrs = append(honestErrs, err.Error())
		}
		if _, err := health.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			honestErrs = append(honestErrs, "health: "+err.Error())
		}
		time.Sleep(5 * time.Millisecond)
	}
	wg.Wait()
	elapsed := time.Since(start)
	t.Logf("flood of %d calls in %v: %d served, %d refused", calls, elapsed, ok.Load(), refused.Load())
	if len(honestErrs) > 0 {
		t.Errorf("honest calls during the flood failed: %q", honestErrs)
	}
	if other.Load() > 0 {
		t.Errorf("%d flood calls failed with another code than RESOURCE_EXHAUSTED, e.g. %v", other.Load(), firstOther.Load())
	}
	// The bucket starts full (burst) and refills at rate: no more can pass.
	maxOK := int64(burst + rate*elapsed.Seconds() + 1)
	if ok.Load() < burst || ok.Load() > maxOK || refused.Load() != calls-ok.Load() {
		t.Errorf("flood of %d calls in %v: %d served, %d refused; want between %d and %d served, the rest refused",
			calls, elapsed, ok.Load(), refused.Load(), burst, maxOK)
	}
	if bad := badWait.Load(); bad != nil {
		t.Errorf("a refusal of the flood: %v", bad)
	}
	if msg, _ := refusedMsg.Load().(string); !strings.Contains(msg, "token:"+tokenID(t, flooderTok)) || !strings.Contains(msg, "slow down") {
		t.Errorf("refusal message %q does not name the caller and say to slow down", msg)
	}
	// The honest token is still served after the flood.
	if _, err := honest.Twinning.ListAgreements(ctx, &twinningv1.ListAgreementsRequest{Parent: "provinces/-"}); err != nil {
		t.Errorf("honest call after the flood: %v", err)
	}

	// HTTP: a third token floods the gateway: 429 beyond its burst.
	httpTok := issue(t, tn, auth.RoleViewer)
	counts := map[int]int{}
	var (
		lastRefusal []byte
		mu          sync.Mutex
	)
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 3*burst/6; i++ {
				code, body := secHTTP(t, tn, nil, "GET", "/v1/provinces/cao-bang/agreements", "", httpTok)
				mu.Lock()
				counts[code]++
				if code == http.StatusTooManyRequests {
					lastRefusal = body
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if counts[http.StatusOK] < burst || counts[http.StatusTooManyRequests] == 0 || counts[http.StatusOK]+counts[http.StatusTooManyRequests] != 3*burst {
		t.Errorf("HTTP flood of %d calls: statuses %v; want at least %d 200s, some 429s and nothing else", 3*burst, counts, burst)
	} else {
		wantHTTPDenied(t, "HTTP flood refusal", http.StatusTooManyRequests, lastRefusal, http.StatusTooManyRequests, codes.ResourceExhausted, "slow down")
	}
	if code, body := secHTTP(t, tn, nil, "GET", "/v1/provinces/cao-bang/agreements", "", honestTok); code != http.StatusOK {
		t.Errorf("honest HTTP call after the HTTP flood: HTTP %d %s", code, body)
	}

	// Bad credentials, each a different made-up token, share one bucket:
	// beyond it they are refused before they cost a lookup and a hash,
	// and a valid token is still served.
	const bad = 3 * burst
	var unauthenticated, exhausted int64
	badStart := time.Now()
	for i := range bad {
		_, err := dialAs(t, tn.Srv.GRPCAddr(), fmt.Sprintf("pvx_made-up-%d", i)).Twinning.ListAgreements(ctx, &twinningv1.ListAgreementsRequest{Parent: "provinces/-"})
		switch status.Code(err) {
		case codes.Unauthenticated:
			unauthenticated++
		case codes.ResourceExhausted:
			exhausted++
		default:
			t.Fatalf("a call with a made-up token: %v", err)
		}
	}
	if maxPassed := int64(burst + rate*time.Since(badStart).Seconds() + 1); exhausted == 0 || unauthenticated > maxPassed {
		t.Errorf("%d calls with made-up tokens: %d UNAUTHENTICATED, %d RESOURCE_EXHAUSTED; want at most %d looked up (one bucket for all bad credentials)", bad, unauthenticated, exhausted, maxPassed)
	}
	if _, err := honest.Twinning.ListAgreements(ctx, &twinningv1.ListAgreementsRequest{Parent: "provinces/-"}); err != nil {
		t.Errorf("honest call after the flood of bad credentials: %v", err)
	}
}

// fromAddress dials from a local address of its own on loopback (ip, in
// 127.0.0.0/8), so a node counts the connection as another client's;
// httpFrom is an HTTP client that does.
func fromAddress(ip string) grpc.DialOption {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
		return d.DialContext(ctx, "tcp", addr)
	})
}

func httpFrom(ip string) *http.Client {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// TestSecurityAnonymousFloodSlowsOnlyItsAddress: the anonymous callers of
// one address, and the bad tokens they send, have a bucket of their own.
// All anonymous callers shared one, and so did all bad credentials: a
// flood of health checks from one address made a load balancer's health
// checks RESOURCE_EXHAUSTED, and a flood of made-up tokens made a
// mistyped token elsewhere look like a rate problem, not a bad token.
// Over HTTP the gateway gives the call the HTTP client's address.
func TestSecurityAnonymousFloodSlowsOnlyItsAddress(t *testing.T) {
	t.Parallel()
	const burst = 5
	tn := startSecNode(t, "cao-bang", func(c *server.Config) { c.Limits = server.Limits{RatePerSecond: 0.001, Burst: burst} })
	ctx := testCtx(t)
	health := func(c *client.Client) error {
		_, err := healthpb.NewHealthClient(c.Conn()).Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}
	flooder := dialAs(t, tn.Srv.GRPCAddr(), "", fromAddress("127.0.0.2"))
	for i := range burst {
		if err := health(flooder); err != nil {
			t.Fatalf("health check %d of the burst: %v", i+1, err)
		}
	}
	if err := health(flooder); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("a health check past the burst: %v, want RESOURCE_EXHAUSTED", err)
	}
	// Over HTTP from the same address: the same bucket, empty.
	if code, body := secHTTP(t, tn, httpFrom("127.0.0.2"), "GET", "/v1/caller", "", ""); code != http.StatusTooManyRequests {
		t.Errorf("an anonymous HTTP call from the flooding address: HTTP %d %s, want 429", code, body)
	}
	// Bad tokens from the flooding address use up their own bucket.
	var exhausted bool
	for i := range 2 * burst {
		_, err := dialAs(t, tn.Srv.GRPCAddr(), fmt.Sprintf("pvx_made-up-%d", i), fromAddress("127.0.0.2")).Node.GetCaller(ctx, &nodev1.GetCallerRequest{})
		exhausted = exhausted || status.Code(err) == codes.ResourceExhausted
	}
	if !exhausted {
		t.Errorf("%d made-up tokens from one address were all looked up, past a burst of %d", 2*burst, burst)
	}

	// Another address: its anonymous calls and its mistyped token are
	// answered as ever.
	other := dialAs(t, tn.Srv.GRPCAddr(), "", fromAddress("127.0.0.3"))
	if err := health(other); err != nil {
		t.Errorf("a health check from another address during the flood: %v", err)
	}
	if code, body := secHTTP(t, tn, nil, "GET", "/v1/caller", "", ""); code != http.StatusOK {
		t.Errorf("an anonymous HTTP call from another address: HTTP %d %s, want 200", code, body)
	}
	_, err := dialAs(t, tn.Srv.GRPCAddr(), "pvx_mistyped", fromAddress("127.0.0.3")).Node.GetCaller(ctx, &nodev1.GetCallerRequest{})
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("a mistyped token from another address: %v, want UNAUTHENTICATED", err)
	}
}

// TestSecurityCallerAllowedMethods: GetCaller answers every caller with who
// it is and the methods it may call: anonymous callers health, reflection
// and GetCaller only; viewers reads; editors writes too; admins the audit
// trail too; no token may pull.
func TestSecurityCallerAllowedMethods(t *testing.T) {
	t.Parallel()
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	type want struct {
		identity, role string
		has, hasNot    []string
	}
	viewerTok, editorTok := issue(t, tn, auth.RoleViewer), issue(t, tn, auth.RoleEditor)
	cases := []struct {
		who, tok string
		want     want
	}{
		{"anonymous", "", want{"anonymous", "",
			[]string{healthRule, "/grpc.reflection.v1.ServerReflection/*", methodGetCaller},
			[]string{methodListAgreements, methodCreateAgreement, auth.MethodListAuditEntries, auth.MethodPull}}},
		{"viewer", viewerTok, want{"token:" + tokenID(t, viewerTok) + " (viewer)", "viewer",
			[]string{healthRule, methodListAgreements, "/provex.twinning.v1.TwinningService/GetAgreement"},
			[]string{methodCreateAgreement, methodDeleteAgreement, auth.MethodListAuditEntries, auth.MethodGetSyncState, auth.MethodPull, auth.MethodAnnounce}}},
		{"editor", editorTok, want{"token:" + tokenID(t, editorTok) + " (editor)", "editor",
			[]string{methodListAgreements, methodCreateAgreement, methodDeleteAgreement, nationalv1.NationalService_ListInformationRequests_FullMethodName},
			// The ministry's own records, which a province's node refuses
			// to write for anyone, were listed (an outside review).
			append([]string{auth.MethodListAuditEntries, auth.MethodVerifyAuditLog, auth.MethodPull}, ministryWrites...)}},
		{"admin", tn.Token, want{"token:" + tokenID(t, tn.Token) + " (admin)", "admin",
			[]string{methodCreateAgreement, auth.MethodListAuditEntries, auth.MethodVerifyAuditLog, auth.MethodGetSyncState},
			append([]string{auth.MethodPull, auth.MethodAnnounce}, ministryWrites...)}},
	}
	for _, c := range cases {
		got, err := dialAs(t, tn.Srv.GRPCAddr(), c.tok).Node.GetCaller(ctx, &nodev1.GetCallerRequest{})
		if err != nil {
			t.Errorf("%s GetCaller: %v", c.who, err)
			continue
		}
		wantMember := "cao-bang"
		if c.tok == "" {
			wantMember = ""
		}
		if got.GetIdentity() != c.want.identity || got.GetRole() != c.want.role || got.GetMember() != wantMember {
			t.Errorf("%s GetCaller: identity %q role %q member %q, want %q %q %q", c.who, got.GetIdentity(), got.GetRole(), got.GetMember(), c.want.identity, c.want.role, wantMember)
		}
		allowed := got.GetAllowedMethods()
		if !slices.IsSorted(allowed) {
			t.Errorf("%s: allowed methods are not sorted: %q", c.who, allowed)
		}
		for _, m := range c.want.has {
			if !slices.Contains(allowed, m) {
				t.Errorf("%s may call %s, but GetCaller does not list it", c.who, m)
			}
		}
		for _, m := range c.want.hasNot {
			if slices.Contains(allowed, m) {
				t.Errorf("%s may not call %s, but GetCaller lists it", c.who, m)
			}
		}
		// HTTP gives the same answer.
		code, body := secHTTP(t, tn, nil, "GET", "/v1/caller", "", c.tok)
		var h struct {
			Identity string   `json:"identity"`
			Allowed  []string `json:"allowed_methods"`
		}
		if code != http.StatusOK || json.Unmarshal(body, &h) != nil || h.Identity != c.want.identity || !slices.Equal(h.Allowed, allowed) {
			t.Errorf("%s HTTP /v1/caller: HTTP %d %s; want the gRPC answer", c.who, code, body)
		}
	}
	// The ministry's node writes its own records: its editors may.
	mofa := startNode(t, resource.Ministry)
	got, err := dialAs(t, mofa.Srv.GRPCAddr(), issue(t, mofa, auth.RoleEditor)).Node.GetCaller(ctx, &nodev1.GetCallerRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ministryWrites {
		if !slices.Contains(got.GetAllowedMethods(), m) {
			t.Errorf("the ministry's editor may call %s, but GetCaller does not list it", m)
		}
	}
	// Responses to its requests are the provinces' records, which it
	// refuses to write (an outside review).
	for _, m := range []string{nationalv1.NationalService_CreateInformationResponse_FullMethodName, nationalv1.NationalService_UndeleteInformationResponse_FullMethodName} {
		if slices.Contains(got.GetAllowedMethods(), m) {
			t.Errorf("the ministry's node refuses %s to every caller, but GetCaller lists it", m)
		}
	}
}

// ministryWrites are writes of records only the ministry owns.
var ministryWrites = []string{nationalv1.NationalService_CreateInformationRequest_FullMethodName, nationalv1.NationalService_DeleteInformationRequest_FullMethodName,
	twinningv1.TwinningService_CreateAgreementOpinion_FullMethodName, twinningv1.TwinningService_UndeleteAgreementOpinion_FullMethodName}

// TestSecurityNoSilentPlaintext: a node is refused at start without its
// certificate unless dev mode (PlaintextAPI) is asked for; a certificate of
// another member is refused; a node with peers needs a certificate even in
// dev mode.
func TestSecurityNoSilentPlaintext(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	base := func() server.Config {
		return server.Config{Member: "cao-bang", DataDir: t.TempDir(), GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)}
	}
	cfg := base()
	_, err := server.New(ctx, cfg)
	if err == nil || !strings.Contains(err.Error(), "TLS certificate") || !strings.Contains(err.Error(), "provex ca issue --ca-dir provex-ca --member cao-bang --out "+cfg.DataDir) {
		t.Errorf("New without Cert or PlaintextAPI: %v; want a refusal that says how to get a certificate", err)
	}

	ca, err := pki.InitCA(t.TempDir(), pki.DefaultCAName, pki.DefaultCAValidity, time.Now())
	mustf(t, err, "InitCA")
	wrong, err := ca.IssueTLS("nghe-an", time.Now())
	mustf(t, err, "issue nghe-an's certificate")
	cfg = base()
	cfg.Cert = &wrong
	if _, err := server.New(ctx, cfg); err == nil || !strings.Contains(err.Error(), "nghe-an") {
		t.Errorf("New with nghe-an's certificate for cao-bang: %v; want a refusal naming nghe-an", err)
	}

	m, keys, err := federation.DevFederation([]string{"cao-bang", "nghe-an"}, []string{"127.0.0.1:1", "127.0.0.1:2"}, time.Now())
	mustf(t, err, "DevFederation")
	m.CA = ca.CertPEM()
	cfg = base()
	cfg.Manifest, cfg.Keys, cfg.Peers, cfg.PlaintextAPI = m, keys["cao-bang"], []string{"nghe-an"}, true
	if _, err := server.New(ctx, cfg); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("New with peers, in dev mode, without a certificate: %v; want a refusal", err)
	}
}

// TestSecurityTLSAPI: a node serving its API over TLS with a certificate of
// the federation CA serves clients that trust the CA (gRPC and HTTPS), and
// refuses plaintext clients and clients that trust another CA.
func TestSecurityTLSAPI(t *testing.T) {
	t.Parallel()
	ca, err := pki.InitCA(t.TempDir(), pki.DefaultCAName, pki.DefaultCAValidity, time.Now())
	mustf(t, err, "InitCA")
	cert, err := ca.IssueTLS("cao-bang", time.Now())
	mustf(t, err, "issue cao-bang's certificate")
	withCA, err := client.WithCA(ca.CertPEM())
	mustf(t, err, "WithCA")
	tn := startSecNode(t, "cao-bang", func(c *server.Config) { c.Cert, c.PlaintextAPI = &cert, false }, withCA)
	ctx := testCtx(t)
	_, port, _ := strings.Cut(tn.Srv.GRPCAddr(), ":")
	local := "localhost:" + port

	// Trusting the CA, with a token: served.
	tlsClient := dialAs(t, local, tn.Token, withCA)
	got, err := tlsClient.Node.GetCaller(ctx, &nodev1.GetCallerRequest{})
	if err != nil || got.GetRole() != "admin" {
		t.Errorf("TLS client with the CA and a token: GetCaller = %v, %v", got, err)
	}
	_, err = tlsClient.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), AgreementId: "over-tls", Agreement: newAgreement("over TLS")})
	mustf(t, err, "create over TLS")
	// Trusting the CA, without a token: TLS is not a credential.
	_, err = dialAs(t, local, "", withCA).Twinning.ListAgreements(ctx, &twinningv1.ListAgreementsRequest{Parent: tn.parent()})
	wantDenied(t, err, codes.Unauthenticated, "TLS client without a token", "bearer token")

	// Plaintext, even with a valid token: no connection.
	_, err = dialAs(t, tn.Srv.GRPCAddr(), tn.Token).Twinning.ListAgreements(ctx, &twinningv1.ListAgreementsRequest{Parent: tn.parent()})
	wantDenied(t, err, codes.Unavailable, "plaintext client of a TLS API")
	// Trusting another CA: the server is not believed.
	otherCA, err := pki.InitCA(t.TempDir(), "another CA", 24*time.Hour, time.Now())
	mustf(t, err, "another CA")
	withOther, err := client.WithCA(otherCA.CertPEM())
	mustf(t, err, "WithCA(other)")
	_, err = dialAs(t, local, tn.Token, withOther).Twinning.ListAgreements(ctx, &twinningv1.ListAgreementsRequest{Parent: tn.parent()})
	wantDenied(t, err, codes.Unavailable, "client trusting another CA", "certificate")

	// HTTPS with the CA: served; plain HTTP: refused.
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM())
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	t.Cleanup(hc.CloseIdleConnections)
	if !strings.HasPrefix(tn.BaseURL, "https://") {
		t.Fatalf("BaseURL %s", tn.BaseURL)
	}
	code, body := secHTTP(t, tn, hc, "GET", "/v1/provinces/cao-bang/agreements", "", tn.Token)
	if code != http.StatusOK || !strings.Contains(string(body), "over-tls") {
		t.Errorf("HTTPS list: HTTP %d %s", code, body)
	}
	if code, _ = secHTTP(t, tn, hc, "GET", "/healthz", "", ""); code != http.StatusOK {
		t.Errorf("HTTPS /healthz: HTTP %d", code)
	}
	code, body = secHTTPAt(t, "http://"+tn.Srv.HTTPAddr(), nil, "GET", "/v1/provinces/cao-bang/agreements", "", tn.Token)
	if code == http.StatusOK || strings.Contains(string(body), "over-tls") {
		t.Errorf("plain HTTP to the TLS gateway: HTTP %d %s; want a refusal", code, body)
	}
	// HTTPS trusting another CA fails the handshake.
	otherPool := x509.NewCertPool()
	otherPool.AppendCertsFromPEM(otherCA.CertPEM())
	req, _ := http.NewRequest("GET", tn.BaseURL+"/healthz", nil)
	if resp, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: otherPool}}}).Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("HTTPS trusting another CA: HTTP %d, want a handshake failure", resp.StatusCode)
	}
}

// TestAnswersFitTheMessageLimit: a record whose answer would not fit the
// message limit is refused (INVALID_ARGUMENT) and not stored, where it was
// committed, relayed, and then answered RESOURCE_EXHAUSTED to its writer
// and to every Get and List that held it; List pages of large records end
// where the next would pass the limit, and together hold every record.
func TestAnswersFitTheMessageLimit(t *testing.T) {
	t.Parallel()
	const limit = 32 << 10
	tn := startSecNode(t, "cao-bang", func(c *server.Config) { c.Limits.MaxMessageBytes = limit })
	ctx := testCtx(t)

	big := newAgreement("big")
	big.Summary = strings.Repeat("ệ", 8000) // 24,000 bytes: under the request limit, over what a record may be
	_, err := tn.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), AgreementId: "big", Agreement: big})
	wantInvalid(t, err, "a record whose answer would not fit", "agreement")
	_, err = tn.Twinning.GetAgreement(ctx, &twinningv1.GetAgreementRequest{Name: tn.parent() + "/agreements/big"})
	wantCode(t, err, codes.NotFound, "the refused record")

	const records = 8
	for i := range records {
		a := newAgreement(fmt.Sprintf("large %d", i))
		a.Summary = strings.Repeat("ệ", 1700) // 5,100 bytes
		_, err := tn.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), AgreementId: fmt.Sprintf("large-%d", i), Agreement: a})
		mustf(t, err, "create a large record")
	}
	seen, token := 0, ""
	for pages := 0; pages <= records; pages++ {
		resp, err := tn.Twinning.ListAgreements(ctx, &twinningv1.ListAgreementsRequest{Parent: tn.parent(), PageSize: 1000, PageToken: token})
		mustf(t, err, "list large records")
		seen += len(resp.GetAgreements())
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if seen != records || token != "" {
		t.Errorf("the pages held %d records (next token %q), want %d", seen, token, records)
	}

	// A search across collections fills one answer from several lists.
	for i := range 3 {
		d := &twinningv1.Delegation{DisplayName: fmt.Sprintf("large delegation %d", i), Direction: twinningv1.Delegation_DIRECTION_INCOMING,
			MemberCount: 10, ForeignerCount: 8, Countries: []string{"CN"}, StartDate: &typev1.Date{Year: 2024, Month: 5, Day: 6},
			Outcomes: strings.Repeat("ệ", 1700)}
		_, err := tn.Twinning.CreateDelegation(ctx, &twinningv1.CreateDelegationRequest{Parent: tn.parent(), DelegationId: fmt.Sprintf("d-%d", i), Delegation: d})
		mustf(t, err, "create a large delegation")
	}
	nat := nationalv1.NewNationalServiceClient(tn.Conn())
	found := map[string]bool{}
	token = ""
	for pages := 0; pages <= records+3; pages++ {
		resp, err := nat.SearchRecords(ctx, &nationalv1.SearchRecordsRequest{Parent: "provinces/-", Collections: []string{"agreements", "delegations"}, PageSize: 1000, PageToken: token})
		mustf(t, err, "search across two collections of large records")
		// What the node keeps for a page's records: the message size
		// less its headroom (here half of it).
		if size := proto.Size(resp); size > limit/2 {
			t.Errorf("search page %d holds %d bytes, over the %d a page may", pages, size, limit/2)
		}
		for _, r := range resp.GetRecords() {
			if found[r.GetName()] {
				t.Errorf("%s found twice", r.GetName())
			}
			found[r.GetName()] = true
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if len(found) != records+3 || token != "" {
		t.Errorf("the search's pages held %d records (next token %q), want %d", len(found), token, records+3)
	}
}
