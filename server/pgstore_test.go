package server_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/internal/pgtest"
	"github.com/provex/provex/server"
)

// TestPostgresStoreTroubleIsShownPlainly: a node on PostgreSQL whose
// database is closed to connections, then read-only. Its writes were
// INTERNAL both times, /healthz said ok while the database took no writes,
// and an anonymous /healthz repeated the driver's error: the store's user,
// host, port and database (an outside review; THREATS H17, H23). Writes
// are UNAVAILABLE; /healthz is degraded saying in plain words what
// failed, naming none of the store's connection details; and once the
// database takes writes again the node writes on and is healthy.
func TestPostgresStoreTroubleIsShownPlainly(t *testing.T) {
	target := pgtest.NewDatabase(t)
	u, err := url.Parse(target)
	mustf(t, err, "parse the test database's URL")
	tn := startNodeWith(t, "cao-bang", t.TempDir(), func(c *server.Config) { c.Store = target })
	ctx := testCtx(t)
	create := func(name string) error {
		_, err := tn.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), Agreement: newAgreement(name)})
		return err
	}
	mustf(t, create("before"), "create")
	health := func() string {
		t.Helper()
		resp, err := http.Get(tn.BaseURL + "/healthz")
		mustf(t, err, "GET /healthz")
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		mustf(t, err, "read /healthz")
		for _, detail := range []string{strings.TrimPrefix(u.Path, "/"), "user=", u.Hostname(), u.Port(), "localhost"} {
			if strings.Contains(string(body), detail) {
				t.Errorf("anonymous /healthz names %q: %s", detail, body)
			}
		}
		return string(body)
	}
	// Each of the read pools' idle sessions, ended by AlterDatabase, fails
	// once (57P01) before a new one meets the database as it is now.
	healthSaying := func(want string) string {
		t.Helper()
		body := health()
		for try := 0; try < 10 && !strings.Contains(body, want); try++ {
			body = health()
		}
		return body
	}

	pgtest.AlterDatabase(t, target, "ALLOW_CONNECTIONS false")
	// The first calls may meet the node's ended sessions (the server away
	// already); the next make new ones, which the server refuses.
	for try := range 3 {
		if err := create(fmt.Sprintf("refused %d", try)); codeOf(err) != codes.Unavailable {
			t.Errorf("a write, try %d, the database closed to connections: %v, want UNAVAILABLE", try, err)
		}
	}
	if body := healthSaying("SQLSTATE 55000"); !strings.Contains(body, "degraded") || !strings.Contains(body, "the PostgreSQL store cannot be reached (SQLSTATE 55000") {
		t.Errorf("/healthz, the database closed to connections: %s", body)
	}
	pgtest.AlterDatabase(t, target, "ALLOW_CONNECTIONS true")

	pgtest.AlterDatabase(t, target, "SET default_transaction_read_only = on")
	for try := range 3 {
		err := create(fmt.Sprintf("read-only %d", try))
		if try > 0 && (codeOf(err) != codes.Unavailable || !strings.Contains(err.Error(), "takes no writes")) {
			t.Errorf("a write, try %d, the database read-only: %v, want UNAVAILABLE saying it takes no writes", try, err)
		}
	}
	if body := healthSaying("takes no writes"); !strings.Contains(body, "degraded") || !strings.Contains(body, "the PostgreSQL store takes no writes") {
		t.Errorf("/healthz, the database read-only: %s", body)
	}
	pgtest.AlterDatabase(t, target, "RESET default_transaction_read_only")
	for try := range 3 {
		if err = create(fmt.Sprintf("after %d", try)); err == nil {
			break
		}
	}
	mustf(t, err, "a write once the database takes writes again")
	if body := healthSaying("ok"); body != "ok\n" {
		t.Errorf("/healthz once the database takes writes again: %s", body)
	}
}
