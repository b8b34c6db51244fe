package sqlstore_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage/sqlstore"
)

// TestSchemaMatchesKinds checks the migrations against the kinds: every
// filterable field has its column and an index on it, so no filter or
// order_by ever falls back to scanning the whole table for lack of one.
func TestSchemaMatchesKinds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "provex.db")
	store, err := sqlstore.Open(context.Background(), path, "cao-bang", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	store.Close()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, k := range resource.Kinds() {
		columns := map[string]bool{}
		rows, err := db.Query("SELECT name FROM pragma_table_info(?)", k.Table())
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var c string
			rows.Scan(&c)
			columns[c] = true
		}
		rows.Close()
		if len(columns) == 0 {
			t.Errorf("no table %s for %s", k.Table(), k.Collection)
			continue
		}
		for _, f := range k.Schema.Fields() {
			if f.Repeated {
				continue
			}
			if !columns[f.Column] {
				t.Errorf("%s: no column %s for filter field %s", k.Table(), f.Column, f.Path)
			}
			var indexed string
			err := db.QueryRow("SELECT name FROM pragma_index_list(?) WHERE name = ?", k.Table(), k.Table()+"_"+f.Column).Scan(&indexed)
			if err != nil {
				t.Errorf("%s: no index %s_%s for filter field %s: %v", k.Table(), k.Table(), f.Column, f.Path, err)
				continue
			}
			var first string
			db.QueryRow("SELECT name FROM pragma_index_info(?) WHERE seqno = 0", indexed).Scan(&first)
			if first != f.Column {
				t.Errorf("index %s starts with %s, want %s", indexed, first, f.Column)
			}
			// The planner must be able to answer an equality filter from it.
			var plan strings.Builder
			r, err := db.Query("EXPLAIN QUERY PLAN SELECT id FROM "+k.Table()+" WHERE "+f.Column+" = ? ORDER BY id LIMIT 10", 1)
			if err != nil {
				t.Fatal(err)
			}
			for r.Next() {
				var a, b, c int
				var detail string
				r.Scan(&a, &b, &c, &detail)
				plan.WriteString(detail + "; ")
			}
			r.Close()
			if !strings.Contains(plan.String(), "USING") || strings.Contains(plan.String(), "SCAN "+k.Table()+" ") && !strings.Contains(plan.String(), "INDEX") {
				t.Errorf("%s = ? is not served from an index: %s", f.Path, plan.String())
			}
		}
	}
}
