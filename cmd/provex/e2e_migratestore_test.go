package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/federation"
	"github.com/provex/provex/internal/pgtest"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

// TestMigrateStoreMovesTheMinistryToPostgres moves the demo ministry's
// store (every province's records, sealed national and restricted ones
// opened, tokens, an audit trail) from a backup of its SQLite file to
// PostgreSQL, as an operator would: provex verify --store passes on the
// copy, which answers every Get, List and Summarize as the file does, and
// a node served on it goes on at the next sequence number of its log.
func TestMigrateStoreMovesTheMinistryToPostgres(t *testing.T) {
	url := pgtest.NewDatabase(t)
	bin := buildBinary(t)
	dir := t.TempDir()
	startDemo(t, bin, dir)
	demo := filepath.Join(dir, "provex-demo")
	mofa := filepath.Join(demo, "mofa")
	// A serving node's file is copied with provex backup first.
	backup := filepath.Join(t.TempDir(), "mofa.db")
	if out, stderr, code := runCLI(t, bin, "", "", "backup", "--data", mofa, "--out", backup); code != 0 {
		t.Fatalf("backup: exit %d, %s%s", code, out, stderr)
	}
	out, stderr, code := runCLI(t, bin, "", "", "migrate-store", "--from", "sqlite:"+backup, "--to", url)
	if code != 0 || !strings.HasPrefix(out, "moved mofa's store from "+backup+" to postgres://") {
		t.Fatalf("migrate-store: exit %d, %s%s", code, out, stderr)
	}
	if strings.Contains(out, ":provex@") {
		t.Fatalf("migrate-store printed the database's password:\n%s", out)
	}
	t.Log(out)
	key := filepath.Join(mofa, "node.key")
	manifest := filepath.Join(demo, "manifest.yaml")
	out, stderr, code = runCLI(t, bin, "", "", "verify", "--store", url, "--key", key, "--manifest", manifest)
	if code != 0 || !strings.Contains(out, "the store is on PostgreSQL") || !strings.Contains(out, "audit trail intact") ||
		!strings.Contains(out, "summary rollups: all") {
		t.Fatalf("verify --store: exit %d, %s%s", code, out, stderr)
	}
	mofaSeq := sameStores(t, backup, url, key)

	// The node's data directory keeps its key; its store is the copy.
	data := t.TempDir()
	keyPEM, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "node.key"), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	token, err := os.ReadFile(filepath.Join(mofa, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	p := startProcess(t, bin, "serve", "--member", "mofa", "--data", data, "--store", url, "--dev", "--rate-limit", "1000000",
		"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0")
	p.token = strings.TrimSpace(string(token))
	if got, _ := originSeq(t, p, "mofa"); got != mofaSeq {
		t.Fatalf("the node on the copy holds its log up to %d, the file up to %d", got, mofaSeq)
	}
	yaml := "agreement: provinces/cao-bang/agreements/after-move\nposition: OPINION_POSITION_AGREE\nopinion_date: {year: 2026, month: 3, day: 2}\n"
	if out, stderr, code := runCLI(t, bin, p.token, yaml, "create", "provinces/mofa/agreement-opinions", "-f", "-", "--id", "after-move", "--addr", p.grpcAddr); code != 0 {
		t.Fatalf("create on the node served on the copy: exit %d, %s%s", code, out, stderr)
	}
	if got, _ := originSeq(t, p, "mofa"); got != mofaSeq+1 {
		t.Fatalf("the first write on the copy is at seq %d, want %d", got, mofaSeq+1)
	}
	// Beside the serving node, as docs/POSTGRES.md says: the checks open
	// the store without the writer's lock, which the node holds.
	if out, stderr, code := runCLI(t, bin, "", "", "verify", "--store", url, "--key", key, "--manifest", manifest); code != 0 || !strings.Contains(out, "a node is serving on this store") {
		t.Fatalf("verify --store beside the serving node: exit %d\n%s%s", code, out, stderr)
	}
	if out, stderr, code := runCLI(t, bin, "", "", "audit", "verify", "--store", url, "--key", key); code != 0 || !strings.Contains(out, "audit trail intact") {
		t.Fatalf("audit verify --store beside the serving node: exit %d\n%s%s", code, out, stderr)
	}
	p.stop(t, syscall.SIGTERM)
	out, stderr, code = runCLI(t, bin, "", "", "verify", "--store", url, "--key", key, "--manifest", manifest)
	if want := fmt.Sprintf("mofa: %d entries intact, signed up to %d", mofaSeq+1, mofaSeq+1); code != 0 || !strings.Contains(out, want) {
		t.Fatalf("verify --store after a write on the copy: exit %d, want %q\n%s%s", code, want, out, stderr)
	}
}

// sameStores checks that the stores at a and b hold the same node: the
// same logs, tokens and audit trail, and the same answer to every Get, List
// and a summary of every kind by province and by each enum field. It
// returns the head of the node's own log. keyFile is the node's, to check
// its signature of the audit trail.
func sameStores(t *testing.T, a, b, keyFile string) uint64 {
	t.Helper()
	ctx := context.Background()
	keys, err := federation.ReadKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	var dbs [2]*sqlstore.DB
	for i, s := range []string{a, b} {
		db, err := sqlstore.Open(ctx, s, "", sqlstore.Options{Logger: slog.New(slog.DiscardHandler), PublicKey: keys.SigningPublic()})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		dbs[i] = db
	}
	both := func(what string, read func(db *sqlstore.DB) (any, error)) any {
		t.Helper()
		x, err := read(dbs[0])
		if err != nil {
			t.Fatalf("%s on %s: %v", what, dbs[0].Dialect(), err)
		}
		y, err := read(dbs[1])
		if err != nil {
			t.Fatalf("%s on %s: %v", what, dbs[1].Dialect(), err)
		}
		if !reflect.DeepEqual(x, y) {
			t.Fatalf("%s differs:\n%s: %+v\n%s: %+v", what, dbs[0].Dialect(), x, dbs[1].Dialect(), y)
		}
		return x
	}
	audit := both("the audit trail", func(db *sqlstore.DB) (any, error) {
		n, head, problems, err := db.VerifyAudit(ctx)
		return fmt.Sprint(n, head, problems), err
	})
	if !strings.HasSuffix(audit.(string), " []") {
		t.Fatalf("the audit trail does not verify: %s", audit)
	}
	origins := both("the logs", func(db *sqlstore.DB) (any, error) {
		os, err := db.Origins(ctx)
		// How far provex verify checked differs: it ran on the copy.
		for i := range os {
			os[i].Verified = 0
		}
		return os, err
	}).([]storage.OriginState)
	var own uint64
	opened := int64(0)
	for _, o := range origins {
		opened += o.Opened
		if o.Origin == dbs[0].Member() {
			own = o.Seq
		}
	}
	if len(origins) < 3 || opened == 0 || own == 0 {
		t.Fatalf("the store holds %d origins' logs, %d sealed entries opened, its own log up to %d: not the store this test needs", len(origins), opened, own)
	}
	if tokens := both("the tokens", func(db *sqlstore.DB) (any, error) { return db.ListTokens(ctx) }); reflect.ValueOf(tokens).Len() == 0 {
		t.Fatal("the store holds no token")
	}
	records, kinds := 0, 0
	for _, k := range resource.Kinds() {
		var names []string
		for _, db := range dbs {
			var got []proto.Message
			q := storage.Query{Kind: k, Province: resource.AllProvinces, ShowDeleted: true, Limit: 100}
			for {
				page, err := db.List(ctx, q)
				if err != nil {
					t.Fatalf("list %s on %s: %v", k.Collection, db.Dialect(), err)
				}
				got = append(got, page.Records...)
				if page.Next == nil {
					break
				}
				q.After = page.Next
			}
			if names == nil {
				names = make([]string, 0, len(got))
				for _, m := range got {
					names = append(names, nameOf(m))
				}
				continue
			}
			if len(got) != len(names) {
				t.Fatalf("%s: %d records on %s, %d on %s", k.Collection, len(names), dbs[0].Dialect(), len(got), db.Dialect())
			}
			for i, m := range got {
				if nameOf(m) != names[i] {
					t.Fatalf("%s: record %d is %s on %s, %s on %s", k.Collection, i, names[i], dbs[0].Dialect(), nameOf(m), db.Dialect())
				}
			}
		}
		for _, name := range names {
			x, err := dbs[0].Get(ctx, k, name)
			if err != nil {
				t.Fatal(err)
			}
			y, err := dbs[1].Get(ctx, k, name)
			if err != nil {
				t.Fatalf("get %s on %s: %v", name, dbs[1].Dialect(), err)
			}
			if !proto.Equal(x, y) {
				t.Fatalf("%s differs:\n%v\n%v", name, x, y)
			}
		}
		records += len(names)
		if len(names) > 0 {
			kinds++
		}
		dims := [][]storage.Dim{{{}}}
		for _, f := range k.Schema.Fields() {
			if f.Enum != nil && !f.Repeated {
				dims = append(dims, []storage.Dim{{}, {Field: &f}})
			}
		}
		for _, d := range dims {
			both("a summary of "+k.Collection, func(db *sqlstore.DB) (any, error) {
				return db.Summarize(ctx, storage.SummaryQuery{Kind: k, Province: resource.AllProvinces, Dims: d})
			})
		}
	}
	if kinds < 3 {
		t.Fatalf("records of %d kinds only (%d records): not the store this test needs", kinds, records)
	}
	t.Logf("%d records of %d kinds, %d origins, %d sealed entries opened: the same on both", records, kinds, len(origins), opened)
	return own
}

// TestMigrateStoreRefusals: a destination that holds a node's log is
// refused and left as it was; a URL that does not parse is a usage error
// that does not repeat its password; and a byte changed in a copied
// change-log entry makes provex verify --store fail.
func TestMigrateStoreRefusals(t *testing.T) {
	url := pgtest.NewDatabase(t)
	bin := buildBinary(t)
	data := t.TempDir()
	p := startServe(t, bin, data)
	for i := range 3 {
		yaml := fmt.Sprintf("display_name: moved %d\nkind: KIND_MOU\n", i)
		if out, stderr, code := runCLI(t, bin, p.token, yaml, "create", "provinces/cao-bang/agreements", "-f", "-", "--id", fmt.Sprintf("m%d", i), "--addr", p.grpcAddr); code != 0 {
			t.Fatalf("create: exit %d, %s%s", code, out, stderr)
		}
	}
	p.stop(t, syscall.SIGTERM)

	_, stderr, code := runCLI(t, bin, "", "", "migrate-store", "--from", "sqlite:"+data)
	if code != 2 || !strings.Contains(stderr, "--to is required") {
		t.Fatalf("migrate-store without --to: exit %d, %s", code, stderr)
	}
	// A libpq keyword string made a SQLite file named after it, its
	// password printed (an outside review).
	for _, bad := range []string{"postgres://provex:s3cret-pw@localhost:notaport/x", "mysql://provex:s3cret-pw@localhost/x", "host=localhost user=provex password=s3cret-pw dbname=x"} {
		_, stderr, code = runCLI(t, bin, "", "", "migrate-store", "--from", data, "--to", bad)
		if code != 2 || strings.Contains(stderr, "s3cret-pw") || !strings.Contains(stderr, "usage: provex migrate-store") {
			t.Fatalf("migrate-store --to %s: exit %d, want 2 without the password:\n%s", bad, code, stderr)
		}
	}
	_, stderr, code = runCLI(t, bin, "", "", "verify", "--store", "postgres://provex:s3cret-pw@localhost:notaport/x")
	if code != 2 || strings.Contains(stderr, "s3cret-pw") {
		t.Fatalf("verify --store with a bad URL: exit %d, want 2 without the password:\n%s", code, stderr)
	}

	// A database holding something else is refused and left as it was:
	// no table of a node made in it, nothing of its own dropped, even with
	// a table named as the node's schema version (as other tools make).
	other := pgtest.NewDatabase(t)
	odb, err := sql.Open("pgx", other)
	if err != nil {
		t.Fatal(err)
	}
	defer odb.Close()
	if _, err := odb.Exec("CREATE TABLE other_app (a int); INSERT INTO other_app VALUES (1); CREATE SCHEMA national; CREATE VIEW national.mine AS SELECT 1 AS one; " +
		"CREATE TABLE schema_version (version int); INSERT INTO schema_version VALUES (3)"); err != nil {
		t.Fatal(err)
	}
	catalog := func() string {
		var s string
		if err := odb.QueryRow(`SELECT string_agg(n.nspname || '.' || c.relname, ',' ORDER BY 1) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	was := catalog()
	_, stderr, code = runCLI(t, bin, "", "", "migrate-store", "--from", data, "--to", other)
	if code != 1 || !strings.Contains(stderr, "not a node's (national.mine, public.other_app)") {
		t.Fatalf("migrate-store into a database of something else: exit %d, %s", code, stderr)
	}
	if now := catalog(); now != was {
		t.Fatalf("the refused copy changed the database:\n was %s\n now %s", was, now)
	}

	// The data directory form of --from: its provex.db.
	if out, stderr, code := runCLI(t, bin, "", "", "migrate-store", "--from", data, "--to", url); code != 0 || !strings.Contains(out, "cao-bang: change log up to 3") {
		t.Fatalf("migrate-store: exit %d, %s%s", code, out, stderr)
	}
	pg, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	dump := func() string {
		var s string
		if err := pg.QueryRow("SELECT string_agg(origin || '/' || seq || '/' || encode(hash, 'hex'), ',' ORDER BY origin, seq) FROM changes").Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := dump()
	_, stderr, code = runCLI(t, bin, "", "", "migrate-store", "--from", "sqlite:"+filepath.Join(data, "provex.db"), "--to", url)
	if code != 1 || !strings.Contains(stderr, "already holds change-log entries") {
		t.Fatalf("migrate-store into a store with entries: exit %d, %s", code, stderr)
	}
	if after := dump(); after != before {
		t.Fatalf("the refused copy changed the destination's log:\n%s\n%s", before, after)
	}

	key := filepath.Join(data, "node.key")
	if out, stderr, code := runCLI(t, bin, "", "", "verify", "--store", url, "--key", key); code != 0 || !strings.Contains(out, "records: 3 rows hold what their change-log entries say") {
		t.Fatalf("verify of the unchanged copy: exit %d, %s%s", code, out, stderr)
	}
	// A filter column, which no log hash covers, changed with its index.
	if _, err := pg.Exec("UPDATE agreements SET display_name = 'TAMPERED' WHERE name = 'provinces/cao-bang/agreements/m1'"); err != nil {
		t.Fatal(err)
	}
	if out, stderr, code := runCLI(t, bin, "", "", "verify", "--store", url, "--key", key); code != 1 ||
		!strings.Contains(out, `PROBLEM: record provinces/cao-bang/agreements/m1: its column display_name holds "TAMPERED"`) {
		t.Fatalf("verify with a record's column changed: exit %d, want 1 naming the record\n%s%s", code, out, stderr)
	}
	if _, err := pg.Exec("UPDATE agreements SET display_name = 'moved 1' WHERE name = 'provinces/cao-bang/agreements/m1'"); err != nil {
		t.Fatal(err)
	}
	// One bit of the second entry's content, as a hand on the server could.
	if _, err := pg.Exec("UPDATE changes SET data = set_byte(data, length(data) / 2, get_byte(data, length(data) / 2) # 1) WHERE origin = 'cao-bang' AND seq = 2"); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := runCLI(t, bin, "", "", "verify", "--store", url, "--key", key)
	if code != 1 || !strings.Contains(out, "PROBLEM: ") || !strings.Contains(stderr, "does not verify") {
		t.Fatalf("verify with a changed byte in a change-log entry: exit %d, want 1 with a PROBLEM\n%s%s", code, out, stderr)
	}
}

// nameOf is a record's resource name.
func nameOf(m proto.Message) string {
	return m.(interface{ GetName() string }).GetName()
}
