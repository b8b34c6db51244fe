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

// TestFormerProvince plays Bắc Ninh's node across the migration that added
// former_province: projects of the former Bắc Giang are a filter and a
// summary dimension; a project written without the field still reads and
// counts under the empty key; and after the database goes back before the
// migration (columns gone) and migrates again, the re-index fills the
// column from the records, so nothing written earlier drops out.
func TestFormerProvince(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "provex.db")
	db, err := sqlstore.Open(ctx, path, "bac-ninh", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for id, former := range map[string]string{"fdi-001": "bac-giang", "fdi-002": "bac-giang", "vsip": "bac-ninh", "old": ""} {
		name := "provinces/bac-ninh/projects/" + id
		if _, err := db.Write(ctx, storage.Write{Kind: resource.Projects, Name: name, Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
			return &investmentv1.Project{Name: name, DisplayName: id, Investor: "Investor " + id, FormerProvince: former}, nil
		}}); err != nil {
			t.Fatal(err)
		}
	}
	f, ok := resource.Projects.Schema.Lookup("former_province")
	if !ok {
		t.Fatal("former_province is not filterable on projects")
	}
	check := func(db *sqlstore.DB, when string) {
		t.Helper()
		expr, err := filter.Parse(`former_province = "bac-giang"`, resource.Projects.Schema)
		if err != nil {
			t.Fatal(err)
		}
		page, err := db.List(ctx, storage.Query{Kind: resource.Projects, Province: "bac-ninh", Filter: expr, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range page.Records {
			got = append(got, resource.Projects.Name(m))
		}
		slices.Sort(got) // written in map order
		if fmt.Sprint(got) != "[provinces/bac-ninh/projects/fdi-001 provinces/bac-ninh/projects/fdi-002]" {
			t.Errorf("%s: projects from bac-giang: %q", when, got)
		}
		rows, err := db.Summarize(ctx, storage.SummaryQuery{Kind: resource.Projects, Province: resource.AllProvinces, Dims: []storage.Dim{{Field: &f}}})
		if err != nil {
			t.Fatal(err)
		}
		counts := map[any]int64{}
		for _, r := range rows {
			counts[r.Keys[0]] = r.Count
		}
		if fmt.Sprint(counts) != "map[:1 bac-giang:2 bac-ninh:1]" {
			t.Errorf("%s: projects by former province: %v", when, counts)
		}
		old, err := db.Get(ctx, resource.Projects, "provinces/bac-ninh/projects/old")
		if err != nil || old.(*investmentv1.Project).GetDisplayName() != "old" {
			t.Errorf("%s: a project without former_province reads %v, %v", when, old, err)
		}
	}
	check(db, "written")
	db.Close()

	// Back before migration 17 (and 18, which follows it): no column, the records' states keep the
	// field (as a node holds what came from a newer peer).
	raw, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	// Schema 16: before 0017 and the migrations after it.
	if _, err := raw.Exec(sqlstore.UndoMigration20() + sqlstore.UndoMigration19() + sqlstore.UndoMigration18() + sqlstore.UndoMigration17() + "DELETE FROM reindex; PRAGMA user_version = 16"); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	db, err = sqlstore.Open(ctx, path, "bac-ninh", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	check(db, "migrated again")
}
