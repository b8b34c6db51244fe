package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/provex/provex/auth"
)

// TestEveryRouteRefusesAParameterItDoesNotRead sends each route of every
// HTTP rule of provex's services, with an admin token, a query parameter
// that names no field (?zz_unknown=1), and, on a route whose path and body
// set every field, the field its path sets (?name=...): each is refused
// naming it, before the call. grpc-gateway parses no query on such a route,
// so both were dropped: an Undelete's ?etag= undeleted whatever the etag
// (an outside review).
func TestEveryRouteRefusesAParameterItDoesNotRead(t *testing.T) {
	ctx, stop := context.WithCancel(context.Background())
	n, err := New(ctx, Config{
		Member: "cao-bang", DataDir: t.TempDir(), GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Logger: slog.New(slog.DiscardHandler), PlaintextAPI: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Listen(); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- n.Serve(ctx) }()
	t.Cleanup(func() { stop(); <-served })
	token, err := n.IssueToken(ctx, auth.RoleAdmin, "sweep", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	variable := regexp.MustCompile(`\{([^}=]+)(=([^}]*))?\}`)
	routes, unread := 0, 0
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(fd.Package()), "provex.") {
			return true
		}
		for i := 0; i < fd.Services().Len(); i++ {
			rules, err := httpRules(string(fd.Services().Get(i).FullName()))
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rules {
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
		}
		return true
	})
	if routes < 50 || unread < 10 {
		t.Fatalf("%d routes, %d reading no query: the sweep found too few", routes, unread)
	}
}
