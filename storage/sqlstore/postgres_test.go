package sqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/auth"
	"github.com/provex/provex/changelog"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/internal/pgtest"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

// TestPostgresSchemaMatchesSQLite checks that a store made on PostgreSQL
// has the tables, columns and indexes of one made on SQLite, rollups
// included: the two are written by one engine, which reads and writes the
// same tables on both, and a SQLite migration without its PostgreSQL
// counterpart must fail here, not on the ministry's server.
func TestPostgresSchemaMatchesSQLite(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	path := filepath.Join(t.TempDir(), "provex.db")
	for _, where := range []string{path, url} {
		store, err := sqlstore.Open(ctx, where, "mofa", sqlstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		store.Close()
	}
	lite, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	pg, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()

	want := shape(t, lite,
		"SELECT m.name, p.name FROM sqlite_schema m, pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
		"SELECT name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL")
	got := shape(t, pg,
		"SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> 'schema_version'",
		"SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND indexname NOT LIKE '%_pkey' AND indexname NOT LIKE '%_key'")
	for _, d := range diff(want, got) {
		t.Error(d)
	}
	if len(want) < 50 {
		t.Fatalf("only %d tables and indexes read from SQLite: the query is wrong", len(want))
	}
}

// shape is the set of "table.column" and "index name" a database holds.
func shape(t *testing.T, db *sql.DB, columns, indexes string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, q := range []string{columns, indexes} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(q, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]string, len(cols))
			dest := make([]any, len(cols))
			for i := range vals {
				dest[i] = &vals[i]
			}
			if err := rows.Scan(dest...); err != nil {
				t.Fatal(err)
			}
			if len(vals) == 2 {
				out["column "+vals[0]+"."+vals[1]] = true
			} else {
				out["index "+vals[0]] = true
			}
		}
		rows.Close()
	}
	return out
}

func diff(sqlite, postgres map[string]bool) []string {
	var out []string
	for k := range sqlite {
		if !postgres[k] {
			out = append(out, "on SQLite, not on PostgreSQL: "+k)
		}
	}
	for k := range postgres {
		if !sqlite[k] {
			out = append(out, "on PostgreSQL, not on SQLite: "+k)
		}
	}
	slices.Sort(out)
	return out
}

// TestToolBesideTheNodeWritesNoEntry: a tool opens the store of a running
// node (Options.Beside) without the writer's lock, which the node holds, so it may make tokens but never extend a change log: a write
// or an applied run through it is refused, and the node's log stays as the
// node wrote it.
func TestToolBesideTheNodeWritesNoEntry(t *testing.T) {
	ctx := context.Background()
	for _, store := range databases {
		t.Run(store, func(t *testing.T) {
			url := newLocation(t, store)
			node, err := sqlstore.Open(ctx, url, "cao-bang", sqlstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer node.Close()
			if _, err := sqlstore.Open(ctx, url, "cao-bang", sqlstore.Options{}); err == nil || !strings.Contains(err.Error(), "another provex node") {
				t.Fatalf("a second writer on the node's database: %v", err)
			}
			tool, err := sqlstore.Open(ctx, url, "", sqlstore.Options{Beside: true})
			if err != nil {
				t.Fatalf("a tool beside the node: %v", err)
			}
			defer tool.Close()
			_, tok, err := auth.NewToken(auth.RoleViewer, time.Time{}, "beside", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if err := tool.CreateToken(ctx, tok); err != nil {
				t.Fatalf("a token made beside the node: %v", err)
			}
			if _, err := node.LookupToken(ctx, tok.ID); err != nil {
				t.Errorf("the node does not find the token made beside it: %v", err)
			}
			w := storage.Write{Kind: resource.Agreements, Name: "provinces/cao-bang/agreements/beside",
				Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
					return &twinningv1.Agreement{Name: "provinces/cao-bang/agreements/beside", DisplayName: "x"}, nil
				}}
			if _, err := tool.Write(ctx, w); status.Code(err) != codes.FailedPrecondition {
				t.Errorf("a write through the tool's store: %v, want FAILED_PRECONDITION", err)
			}
			e := changelog.Entry{Origin: "lang-son", Seq: 1, Name: "provinces/lang-son/agreements/a", Data: []byte{}, PrevHash: changelog.ZeroHash}
			e.Hash = changelog.Sum(&e)
			if _, err := tool.ApplyRemote(ctx, []changelog.Entry{e}, changelog.Checkpoint{Origin: "lang-son", Seq: 1, Hash: e.Hash}); status.Code(err) != codes.FailedPrecondition {
				t.Errorf("a run applied through the tool's store: %v, want FAILED_PRECONDITION", err)
			}
			if head, err := node.Head(ctx); err != nil || head.Seq != 0 {
				t.Errorf("the node's log after the tool's attempts: seq %d, %v", head.Seq, err)
			}
			if origins, err := node.Origins(ctx); err != nil || len(origins) != 0 {
				t.Errorf("origins held after the tool's attempts: %v, %v", origins, err)
			}
			if _, err := node.Write(ctx, w); err != nil {
				t.Errorf("the node's own write: %v", err)
			}
		})
	}
}

// TestPostgresDatabaseNotTheRolesSaysWhatToDo: a database the superuser
// made (createdb without -O) refuses the node's role its schema, and the
// node said only "permission denied for schema public (SQLSTATE 42501)"
// (an outside review as a DBA); docs/POSTGRES.md gives the cause, and now
// the refusal does too. Nothing else is asked of the empty store: it says
// whose it is not.
func TestPostgresDatabaseNotTheRolesSaysWhatToDo(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	admin, err := sql.Open("pgx", os.Getenv(pgtest.Env))
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	rand.Read(b[:])
	role := "provex_node_" + hex.EncodeToString(b[:])
	// A name of our own making; CREATE ROLE takes no parameters.
	if _, err := admin.Exec("CREATE ROLE " + role + " LOGIN PASSWORD 'node'"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.Exec("DROP ROLE " + role); err != nil {
			t.Errorf("drop role %s: %v", role, err)
		}
	})
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(role, "node")
	_, err = sqlstore.Open(context.Background(), u.String(), "mofa", sqlstore.Options{})
	if err == nil || !strings.Contains(err.Error(), "SQLSTATE 42501") || !strings.Contains(err.Error(), "make the database its own (ALTER DATABASE name OWNER TO role") {
		t.Fatalf("a database the node's role does not own: %v", err)
	}
}

// TestPostgresConnectionRefusalsSayWhatToDo: a URL with no password said
// only pgx's "failed SASL auth" (an outside review as a DBA); each refusal
// of a connection now says what to do about it.
func TestPostgresConnectionRefusalsSayWhatToDo(t *testing.T) {
	pgtest.Skip(t)
	t.Setenv("PGPASSWORD", "")
	t.Setenv("PGPASSFILE", filepath.Join(t.TempDir(), "none"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	with := func(edit func(u *url.URL)) string {
		u, err := url.Parse(os.Getenv(pgtest.Env))
		if err != nil {
			t.Fatal(err)
		}
		edit(u)
		return u.String()
	}
	for _, c := range []struct{ what, url, want string }{
		{"no password", with(func(u *url.URL) { u.User = url.User(u.User.Username()) }), "no password was given"},
		{"a wrong password", with(func(u *url.URL) { u.User = url.UserPassword(u.User.Username(), "not-it") }), "the password is not the role's"},
		{"no such database", with(func(u *url.URL) { u.Path = "/provex_none_such" }), "createdb -O"},
		{"no server", with(func(u *url.URL) { u.Host = closed }), "is the server running"},
	} {
		db, err := sqlstore.Open(context.Background(), c.url, "mofa", sqlstore.Options{})
		if err == nil {
			db.Close()
			t.Errorf("%s: the store opened", c.what)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want it to say %q", c.what, err, c.want)
		}
	}
}
