package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	investmentv1 "github.com/provex/provex/gen/go/provex/investment/v1"
	"github.com/provex/provex/internal/filter"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

// TestProjectOrganizationsAcrossMigration19: projects' organizations are a
// ':' filter and their distinct values are counted (each once, per group
// and in all); after the database goes back before migration 0019 (no
// organizations table, no element rows for the field, as on a node that
// kept projects from a newer peer with the field unknown) and migrates
// again, the re-index brings the elements back, so nothing drops out.
func TestProjectOrganizationsAcrossMigration19(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "provex.db")
	db, err := sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	org := func(id string) string { return "provinces/cao-bang/organizations/" + id }
	for id, p := range map[string]*investmentv1.Project{
		"road":    {Kind: investmentv1.Project_KIND_ODA, Organizations: []string{org("adb"), org("jica")}},
		"health":  {Kind: investmentv1.Project_KIND_ODA, Organizations: []string{org("adb")}},
		"school":  {Kind: investmentv1.Project_KIND_NGO_AID, Organizations: []string{org("plan")}},
		"factory": {Kind: investmentv1.Project_KIND_FDI},
	} {
		name := "provinces/cao-bang/projects/" + id
		p.Name, p.DisplayName = name, id
		if _, err := db.Write(ctx, storage.Write{Kind: resource.Projects, Name: name, Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
			return p, nil
		}}); err != nil {
			t.Fatal(err)
		}
	}
	orgs, _ := resource.Projects.Schema.Lookup("organizations")
	kind, _ := resource.Projects.Schema.Lookup("kind")
	check := func(db *sqlstore.DB, when string) {
		t.Helper()
		expr, err := filter.Parse(`organizations:"`+org("adb")+`"`, resource.Projects.Schema)
		if err != nil {
			t.Fatal(err)
		}
		page, err := db.List(ctx, storage.Query{Kind: resource.Projects, Province: "cao-bang", Filter: expr, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range page.Records {
			got = append(got, resource.Projects.Name(m))
		}
		slices.Sort(got)
		if fmt.Sprint(got) != "[provinces/cao-bang/projects/health provinces/cao-bang/projects/road]" {
			t.Errorf("%s: projects of the ADB: %q", when, got)
		}
		rows, err := db.Summarize(ctx, storage.SummaryQuery{Kind: resource.Projects, Province: resource.AllProvinces,
			Dims: []storage.Dim{{Field: &kind}}, Distinct: &orgs})
		if err != nil {
			t.Fatal(err)
		}
		counts := map[any]int64{}
		for _, r := range rows {
			counts[r.Keys[0]] = r.Count
		}
		// ODA: adb (twice) and jica; NGO: plan; FDI: none, and still a group.
		if fmt.Sprint(counts) != "map[1:0 2:2 4:1]" {
			t.Errorf("%s: distinct organisations by kind: %v", when, counts)
		}
		rows, err = db.Summarize(ctx, storage.SummaryQuery{Kind: resource.Projects, Province: resource.AllProvinces, Distinct: &orgs})
		if err != nil || len(rows) != 1 || rows[0].Count != 3 {
			t.Errorf("%s: distinct organisations of all projects: %v, %v; want 3", when, rows, err)
		}
	}
	check(db, "written")
	db.Close()

	raw, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	// Back to just before 0019.
	if _, err := raw.Exec(sqlstore.UndoMigration20()+sqlstore.UndoMigration19()+"DELETE FROM record_elements WHERE list = ?; DELETE FROM reindex; "+
		"PRAGMA user_version = 18", filter.ListID("projects", "organizations")); err != nil {
		t.Fatal(err)
	}
	var left int
	raw.QueryRow("SELECT count(*) FROM record_elements WHERE list = ?", filter.ListID("projects", "organizations")).Scan(&left)
	raw.Close()
	if left != 0 {
		t.Fatalf("%d element rows left before migrating again", left)
	}
	db, err = sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	check(db, "migrated again")
}
