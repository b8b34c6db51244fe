package sqlstore_test

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/provex/provex/internal/pgtest"
	"github.com/provex/provex/storage/sqlstore"
)

// TestCopyGoesIntoADatabaseWithAnExtension: a server that puts an
// extension in every database (pg_stat_statements here; PostGIS makes a
// table) gives the node's database the extension's views. The node serves
// on such a database; migrate-store refused it as "holding tables that are
// not a node's". An extension's objects are the server's: the copy goes in.
func TestCopyGoesIntoADatabaseWithAnExtension(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "provex.db")
	db, err := sqlstore.Open(ctx, src, "cao-bang", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	dst := pgtest.NewDatabase(t)
	u, err := url.Parse(dst)
	if err != nil {
		t.Fatal(err)
	}
	// CREATE EXTENSION of an untrusted extension takes a superuser: the
	// server's own, on the machine that runs it (as .ci/run does).
	out, err := exec.Command("runuser", "-u", "postgres", "--", "psql", "-v", "ON_ERROR_STOP=1", "-d", strings.TrimPrefix(u.Path, "/"),
		"-c", "CREATE EXTENSION pg_stat_statements").CombinedOutput()
	if err != nil {
		if os.Getenv("PROVEX_REQUIRE_POSTGRES") == "" {
			t.Skipf("cannot create the extension as the server's superuser (needs root and a local server): %v %s", err, out)
		}
		t.Fatalf("create the extension as the server's superuser (needs root and a local server): %v %s", err, out)
	}
	if _, err := sqlstore.CopyStore(ctx, src, dst); err != nil {
		t.Fatalf("migrate-store into a database with an extension: %v", err)
	}
}
