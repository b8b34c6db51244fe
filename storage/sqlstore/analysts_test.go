package sqlstore_test

import (
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/provex/provex/changelog"
	investmentv1 "github.com/provex/provex/gen/go/provex/investment/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/pgtest"
	"github.com/provex/provex/internal/testlog"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

// analyst makes a login role in the group provex_analysts (and the group,
// if the server has none yet) and returns a function that connects as it
// to a database made after this call. Roles are the server's, not the database's: both go when t ends,
// after the databases made before this call (t.Cleanup runs last in,
// first out), whose grants would keep the group from being dropped.
func analyst(t *testing.T) (connect func(dbURL string) *sql.DB) {
	t.Helper()
	pgtest.Skip(t)
	admin, err := sql.Open("pgx", os.Getenv(pgtest.Env))
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	rand.Read(b[:])
	login := "provex_analyst_" + hex.EncodeToString(b[:])
	var exists bool
	if err := admin.QueryRow("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'provex_analysts')").Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if !exists {
		if _, err := admin.Exec("CREATE ROLE provex_analysts NOLOGIN"); err != nil {
			t.Fatalf("make the group role (the test's role needs CREATEROLE: run scripts/postgres.sh): %v", err)
		}
	}
	// A name of our own making; CREATE ROLE takes no parameters.
	if _, err := admin.Exec("CREATE ROLE " + login + " LOGIN PASSWORD 'analyst' IN ROLE provex_analysts"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.Exec("DROP ROLE " + login); err != nil {
			t.Errorf("drop role %s: %v", login, err)
		}
		if !exists {
			// Another test's database on this server may hold grants to
			// the group at this moment; the group is then left to it.
			if _, err := admin.Exec("DROP ROLE provex_analysts"); err != nil {
				t.Logf("the group role provex_analysts stays: %v", err)
			}
		}
	})
	return func(dbURL string) *sql.DB {
		u, err := url.Parse(dbURL)
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.UserPassword(login, "analyst")
		c, err := sql.Open("pgx", u.String())
		if err != nil {
			t.Fatal(err)
		}
		// Closed before the database goes: the test's role may not end
		// the analyst's sessions, which DROP DATABASE ... FORCE would.
		t.Cleanup(func() { c.Close() })
		return c
	}
}

func putProject(t *testing.T, db *sqlstore.DB, p *investmentv1.Project) {
	t.Helper()
	if _, err := db.Write(context.Background(), storage.Write{Kind: resource.Projects, Name: p.GetName(),
		Mutate: func(_ proto.Message, st storage.Stamp) (proto.Message, error) {
			p := proto.Clone(p).(*investmentv1.Project)
			p.CreateTime, p.UpdateTime = timestamppb.New(st.Time), timestamppb.New(st.Time)
			return p, nil
		}}); err != nil {
		t.Fatal(err)
	}
}

// projectRow is a row of national.projects, its values as text.
type projectRow struct {
	name, province, kind, state, sector, country, approved, approvedYMD, completed, completedYMD, capital, currency, organizations string
	created                                                                                                                        bool
}

func nationalProjects(t *testing.T, db *sql.DB) []projectRow {
	t.Helper()
	rows, err := db.Query(`SELECT name, province, kind, state, sector, investor_country,
		COALESCE(CAST(approved_date AS TEXT), 'NULL'), CAST(approved_date_ymd AS TEXT),
		COALESCE(CAST(completed_date AS TEXT), 'NULL'), CAST(completed_date_ymd AS TEXT),
		CAST(registered_capital_units AS TEXT), registered_capital_currency_code,
		CAST(organizations AS TEXT), create_time > now() - INTERVAL '1 hour'
		FROM national.projects ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []projectRow
	for rows.Next() {
		var r projectRow
		if err := rows.Scan(&r.name, &r.province, &r.kind, &r.state, &r.sector, &r.country, &r.approved, &r.approvedYMD,
			&r.completed, &r.completedYMD, &r.capital, &r.currency, &r.organizations, &r.created); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNationalViews: a store on PostgreSQL shows its live records in
// national.projects, enums by name, whole dates as dates and partial ones
// only as yyyymmdd, repeated fields as arrays; a member of provex_analysts
// reads the views, and nothing of the tables in public.
func TestNationalViews(t *testing.T) {
	ctx := context.Background()
	connect := analyst(t)
	dbURL := pgtest.NewDatabase(t)
	_, key, _ := ed25519.GenerateKey(nil)
	store, err := sqlstore.Open(ctx, dbURL, "cao-bang", sqlstore.Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	name := func(id string) string { return "provinces/cao-bang/projects/" + id }
	fdi := &investmentv1.Project{Name: name("fdi"), DisplayName: "Factory", Kind: investmentv1.Project_KIND_FDI,
		State: investmentv1.Project_STATE_APPROVED, Sector: investmentv1.Sector_SECTOR_MANUFACTURING, Investor: "Foxconn", InvestorCountry: "TW",
		ApprovedDate:      &typev1.Date{Year: 2024, Month: 3, Day: 15},
		CompletedDate:     &typev1.Date{Year: 2026}, // known only to its year
		RegisteredCapital: &typev1.Money{CurrencyCode: "USD", Units: 250000000},
		Organizations:     []string{"provinces/mofa/organizations/b", "provinces/mofa/organizations/a"}}
	putProject(t, store, fdi)
	gone := &investmentv1.Project{Name: name("gone"), DisplayName: "Withdrawn", Kind: investmentv1.Project_KIND_ODA}
	putProject(t, store, gone)
	gone.DeleteTime = timestamppb.Now()
	putProject(t, store, gone)

	reader := connect(dbURL)
	want := projectRow{name: fdi.Name, province: "cao-bang", kind: "KIND_FDI", state: "STATE_APPROVED", sector: "SECTOR_MANUFACTURING",
		country: "TW", approved: "2024-03-15", approvedYMD: "20240315", completed: "NULL", completedYMD: "20260000",
		capital: "250000000", currency: "USD", organizations: "{provinces/mofa/organizations/a,provinces/mofa/organizations/b}", created: true}
	if got := nationalProjects(t, reader); !slices.Equal(got, []projectRow{want}) {
		t.Errorf("national.projects as an analyst:\n got %+v\nwant %+v", got, []projectRow{want})
	}

	fdi.State = investmentv1.Project_STATE_IMPLEMENTING
	putProject(t, store, fdi)
	want.state = "STATE_IMPLEMENTING"
	if got := nationalProjects(t, reader); !slices.Equal(got, []projectRow{want}) {
		t.Errorf("after an update:\n got %+v\nwant %+v", got, []projectRow{want})
	}

	// Every kind has its view, readable by the analyst.
	for _, k := range resource.Kinds() {
		var n int
		if err := reader.QueryRow("SELECT count(*) FROM national." + k.Table()).Scan(&n); err != nil {
			t.Errorf("national.%s: %v", k.Table(), err)
		}
	}
	for _, table := range []string{"changes", "tokens", "audit", "manifest", "projects", "record_elements", "rollups"} {
		_, err := reader.Exec("SELECT * FROM public." + table + " LIMIT 1")
		if pe := (*pgconn.PgError)(nil); !errors.As(err, &pe) || pe.Code != "42501" {
			t.Errorf("an analyst reading public.%s: %v, want permission denied (42501)", table, err)
		}
	}
	// The examples of docs/POSTGRES.md.
	for _, q := range []string{
		`SELECT investor_country, registered_capital_currency_code AS currency, count(*) AS projects, sum(registered_capital_units) AS capital
		 FROM national.projects WHERE kind = 'KIND_FDI' AND approved_date_ymd >= 20250000
		 GROUP BY investor_country, registered_capital_currency_code ORDER BY capital DESC`,
		`SELECT country, count(*) FROM national.agreements, unnest(partner_countries) AS country
		 WHERE state = 'STATE_IN_FORCE' GROUP BY country ORDER BY 2 DESC`,
	} {
		rows, err := reader.Query(q)
		if err != nil {
			t.Errorf("%s: %v", q, err)
			continue
		}
		rows.Close()
	}
	if _, err := reader.Exec("DELETE FROM national.projects"); err == nil {
		t.Error("an analyst deleted through a view")
	}

	// A function of the analyst's that costs less than the view's
	// condition would run first, on rows the view leaves out, were the
	// views not security barriers: it sees none of the deleted record,
	// even when the analyst makes the view's condition a filter of a
	// scan of the table rather than an index's.
	conn, err := reader.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{
		"SET enable_indexscan = off",
		"SET enable_bitmapscan = off",
		"CREATE TEMP TABLE seen (name text)",
		"CREATE FUNCTION pg_temp.peek(n text) RETURNS bool LANGUAGE plpgsql COST 0.0000001 AS $$BEGIN INSERT INTO seen VALUES (n); RETURN true; END$$",
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var n, leaked int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM national.projects WHERE pg_temp.peek(name) AND name = $1", gone.Name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM seen WHERE name = $1", gone.Name).Scan(&leaked); err != nil {
		t.Fatal(err)
	}
	if n != 0 || leaked != 0 {
		t.Errorf("the analyst's function saw the deleted record %d times (the view showed it %d)", leaked, n)
	}
}

// TestNationalViewsHoldOnlyReadableRecords: a province's node on
// PostgreSQL holds the entry of a record sealed to another province, but
// not the record, so its views do not show it; the ministry's, which reads
// every record, shows both.
func TestNationalViewsHoldOnlyReadableRecords(t *testing.T) {
	ctx := context.Background()
	keys, sealers, origin, sign := sealingOrigin(t, "cao-bang", "nghe-an", "lang-son", "mofa")
	name := func(id string) string { return "provinces/cao-bang/projects/" + id }
	putProject(t, origin, &investmentv1.Project{Name: name("public"), Kind: investmentv1.Project_KIND_FDI})
	putProject(t, origin, &investmentv1.Project{Name: name("sealed"), Kind: investmentv1.Project_KIND_FDI,
		Visibility: typev1.Visibility_VISIBILITY_RESTRICTED, VisibleTo: []string{"lang-son"}})
	entries, err := origin.Changes(ctx, "cao-bang", 0, 100)
	if err != nil || len(entries) != 2 {
		t.Fatalf("%d entries, %v", len(entries), err)
	}
	last := entries[len(entries)-1]
	cp := changelog.SignCheckpoint(sign, "cao-bang", last.Seq, last.Hash)

	for node, want := range map[string][]string{"nghe-an": {name("public")}, "mofa": {name("public"), name("sealed")}} {
		dbURL := pgtest.NewDatabase(t)
		store, err := sqlstore.Open(ctx, dbURL, node, sqlstore.Options{Sealer: sealers[node], Directory: keys})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.ApplyRemote(ctx, entries, cp); err != nil {
			t.Fatal(err)
		}
		store.Close()
		db, err := sql.Open("pgx", dbURL)
		if err != nil {
			t.Fatal(err)
		}
		var held int
		if err := db.QueryRow("SELECT count(*) FROM changes WHERE origin = 'cao-bang'").Scan(&held); err != nil || held != 2 {
			t.Errorf("%s holds %d entries of cao-bang (%v), want 2", node, held, err)
		}
		var got []string
		rows, err := db.Query("SELECT name FROM national.projects ORDER BY name")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			got = append(got, n)
		}
		rows.Close()
		db.Close()
		if !slices.Equal(got, want) {
			t.Errorf("national.projects of %s: %v, want %v", node, got, want)
		}
	}
}

// TestNationalViewsAreMadeAgainOnlyWhenChanged: a store opened again
// keeps its views as they are; a view whose definition differs from this
// binary's (its comment says which it was made from) is made again, and
// granted again to the analysts.
func TestNationalViewsAreMadeAgainOnlyWhenChanged(t *testing.T) {
	ctx := context.Background()
	connect := analyst(t)
	dbURL := pgtest.NewDatabase(t)
	open := func() {
		store, err := sqlstore.Open(ctx, dbURL, "cao-bang", sqlstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		store.Close()
	}
	open()
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	oid := func(view string) (n int64) {
		t.Helper()
		if err := db.QueryRow("SELECT CAST(CAST($1 AS regclass) AS oid)", "national."+view).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	projects, agreements := oid("projects"), oid("agreements")
	open()
	if oid("projects") != projects || oid("agreements") != agreements {
		t.Error("a view was made again though its definition is the same")
	}
	if _, err := db.Exec("COMMENT ON VIEW national.projects IS 'provex national view of an older binary'"); err != nil {
		t.Fatal(err)
	}
	open()
	if oid("projects") == projects {
		t.Error("a view made from another definition was kept")
	}
	if oid("agreements") != agreements {
		t.Error("a view was made again though its definition is the same")
	}
	var n int
	if err := connect(dbURL).QueryRow("SELECT count(*) FROM national.projects").Scan(&n); err != nil {
		t.Errorf("an analyst reading the view made again: %v", err)
	}
}

// TestAnalystHoldingTheWritersLockIsNamed: an analyst's session on the
// primary can take the writer's advisory lock (any role that connects
// can), and a node then cannot start: the refusal names the analyst's role
// and session, not another provex node, while a second node is still
// refused as one.
func TestAnalystHoldingTheWritersLockIsNamed(t *testing.T) {
	ctx := context.Background()
	connect := analyst(t)
	dbURL := pgtest.NewDatabase(t)
	store, err := sqlstore.Open(ctx, dbURL, "mofa", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqlstore.Open(ctx, dbURL, "mofa", sqlstore.Options{}); err == nil || !strings.Contains(err.Error(), "another provex node is writing") {
		t.Errorf("a second node beside the first: %v", err)
	}
	store.Close()
	reader := connect(dbURL)
	defer reader.Close()
	session, err := reader.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer session.Close()
	var role string
	if _, err := session.ExecContext(ctx, "SELECT pg_advisory_lock(123636798612856)"); err != nil {
		t.Fatal(err)
	}
	if err := session.QueryRowContext(ctx, "SELECT current_user").Scan(&role); err != nil {
		t.Fatal(err)
	}
	_, err = sqlstore.Open(ctx, dbURL, "mofa", sqlstore.Options{})
	if err == nil || strings.Contains(err.Error(), "another provex node") || !strings.Contains(err.Error(), role) {
		t.Errorf("a node whose lock an analyst holds: %v, want the analyst %s named", err, role)
	}
}

// sealingOrigin opens cao-bang's store on a SQLite file, with a signing key
// and the encryption keys of members (cao-bang among them), each one's
// sealer, so that its restricted records are sealed to the others.
func sealingOrigin(t *testing.T, members ...string) (changelog.Keys, map[string]*changelog.Sealer, *sqlstore.DB, ed25519.PrivateKey) {
	t.Helper()
	keys := changelog.Keys{}
	sealers := map[string]*changelog.Sealer{}
	for _, id := range members {
		k, err := ecdh.X25519().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		keys[id] = k.PublicKey()
		sealers[id], _ = changelog.NewSealer(k)
	}
	_, sign, _ := ed25519.GenerateKey(nil)
	origin, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "cao-bang.db"), "cao-bang", sqlstore.Options{Key: sign, Sealer: sealers["cao-bang"], Directory: keys})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { origin.Close() })
	return keys, sealers, origin, sign
}

// TestAnalystsKeepNothingOnThePrimary: the statements docs/POSTGRES.md
// gives the DBA, run as printed (on the test's database), leave an
// analyst no temporary table or function and no large object, which
// PostgreSQL's defaults let any role that may connect make.
func TestAnalystsKeepNothingOnThePrimary(t *testing.T) {
	ctx := context.Background()
	connect := analyst(t)
	dbURL := pgtest.NewDatabase(t)
	store, err := sqlstore.Open(ctx, dbURL, "mofa", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	store.Close()
	doc, err := os.ReadFile("../../docs/POSTGRES.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```sql\nREVOKE TEMPORARY")
	block, _, _ := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("docs/POSTGRES.md has no block of REVOKE statements for the DBA")
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	db := strings.TrimPrefix(u.Path, "/")
	statements := strings.ReplaceAll("REVOKE TEMPORARY"+block, "provex_mofa", db)
	// Revoking a built-in function's EXECUTE takes its owner, the
	// server's superuser, on the machine that runs it (as .ci/run does).
	out, err := exec.Command("runuser", "-u", "postgres", "--", "psql", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", statements).CombinedOutput()
	if err != nil {
		if os.Getenv("PROVEX_REQUIRE_POSTGRES") == "" {
			t.Skipf("cannot run the DBA's statements as the server's superuser (needs root and a local server): %v %s", err, out)
		}
		t.Fatalf("the DBA's statements of docs/POSTGRES.md: %v %s", err, out)
	}
	reader := connect(dbURL)
	for _, q := range []string{
		"SELECT lo_from_bytea(0, 'x')",
		"SELECT lo_create(0)",
		"CREATE TEMP TABLE kept (a int)",
		"CREATE FUNCTION pg_temp.kept() RETURNS int LANGUAGE sql AS 'SELECT 1'",
	} {
		if _, err := reader.Exec(q); err == nil {
			t.Errorf("an analyst ran %s", q)
		} else if pe := (*pgconn.PgError)(nil); !errors.As(err, &pe) || pe.Code != "42501" {
			t.Errorf("an analyst running %s: %v, want permission denied (42501)", q, err)
		}
	}
	var n int
	if err := reader.QueryRow("SELECT count(*) FROM national.projects").Scan(&n); err != nil {
		t.Errorf("the analyst's reads after the statements: %v", err)
	}
}

// TestNodeWaitsForAToolHoldingTheWritersLock: provex verify, run while no
// node serves, holds the writer's lock to record what it finds; a node
// started at the same moment (a deploy script starting both) waits for it
// to end, saying so, instead of failing as if another node were writing.
// A second node is still refused at once.
func TestNodeWaitsForAToolHoldingTheWritersLock(t *testing.T) {
	ctx := context.Background()
	for _, store := range databases {
		t.Run(store, func(t *testing.T) {
			dbURL := newLocation(t, store)
			first, err := sqlstore.Open(ctx, dbURL, "mofa", sqlstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			first.Close()
			tool, err := sqlstore.Open(ctx, dbURL, "", sqlstore.Options{Tool: "verify"})
			if err != nil {
				t.Fatal(err)
			}
			var logs testlog.Buffer
			opened := make(chan error, 1)
			var node *sqlstore.DB
			go func() {
				var err error
				node, err = sqlstore.Open(ctx, dbURL, "mofa", sqlstore.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
				opened <- err
			}()
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(logs.String(), "provex verify") {
				if time.Now().After(deadline) {
					t.Fatalf("the node did not say it waits for provex verify: %q", logs.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			select {
			case err := <-opened:
				t.Fatalf("the node opened (%v) while the tool held the lock", err)
			default:
			}
			tool.Close()
			select {
			case err := <-opened:
				if err != nil {
					t.Fatalf("the node, once the tool ended: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the node did not open within 30 s of the tool's end")
			}
			if _, err := sqlstore.Open(ctx, dbURL, "mofa", sqlstore.Options{}); !errors.Is(err, sqlstore.ErrNodeWriting) || errors.Is(err, sqlstore.ErrToolWriting) {
				t.Errorf("a second node beside the first: %v, want refused at once", err)
			}
			node.Close()
			if store != "postgres" {
				return
			}

			// A session that names itself like a tool, but no tool's name, is
			// named and not waited for.
			reader := analyst(t)(dbURL)
			defer reader.Close()
			session, err := reader.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer session.Close()
			if _, err := session.ExecContext(ctx, "SET application_name = 'provex report'"); err != nil {
				t.Fatal(err)
			}
			if _, err := session.ExecContext(ctx, "SELECT pg_advisory_lock(123636798612856)"); err != nil {
				t.Fatal(err)
			}
			within, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			if _, err := sqlstore.Open(within, dbURL, "mofa", sqlstore.Options{}); err == nil || errors.Is(err, sqlstore.ErrNodeWriting) || !strings.Contains(err.Error(), "provex report") {
				t.Errorf("a node whose lock a session named 'provex report' holds: %v, want it named at once", err)
			}
		})
	}
}
