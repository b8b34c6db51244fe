package twinning

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/provex/provex/internal/filter"
	"github.com/provex/provex/internal/workdays"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage/sqlstore"
)

// TestOverdueCandidatesAreSeekedInIndexes: the page query of the overdue
// views (the store's List: delete_time = 0, the candidates filter, in
// arrival order) starts from agreements_consultation_due for opinions and
// agreements_report_due for reports, never a scan of every agreement, so
// that it stays fast over millions of records (BENCHMARKS.md). Both without
// planner statistics and with those of a node's table (mostly live
// agreements signed and reported, as the store's optimize gathers them).
func TestOverdueCandidatesAreSeekedInIndexes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "provex.db")
	db, err := sqlstore.Open(context.Background(), path, "lang-son", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	checkPlans(t, raw, "without statistics")
	for i := range 2000 {
		state, report := 3, 20240110+i%20
		if i%50 == 0 {
			state, report = 2, 0
		}
		if _, err := raw.Exec(`INSERT INTO agreements (name, province, seq, data, consultation_state, consultation_requested_date, signed_date, report_date)
			VALUES (?, 'lang-son', ?, x'', ?, 20231201, 20240101, ?)`, fmt.Sprintf("provinces/lang-son/agreements/a%d", i), i+1, state, report); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := raw.Exec("ANALYZE"); err != nil {
		t.Fatal(err)
	}
	checkPlans(t, raw, "with statistics")
}

func checkPlans(t *testing.T, raw *sql.DB, when string) {
	t.Helper()
	today := workdays.Date(2026, 3, 4)
	for i, want := range []string{"agreements_consultation_due", "agreements_report_due"} {
		q, err := phases[i].query(resource.AllProvinces, today)
		if err != nil {
			t.Fatal(err)
		}
		where, args := filter.SQL(q.Filter, resource.Agreements.Collection)
		var order []string
		for _, o := range q.OrderBy {
			order = append(order, o.Field.Column)
		}
		p := plan(t, raw, "SELECT id FROM agreements WHERE delete_time = 0 AND "+where+" ORDER BY "+strings.Join(order, ", ")+", id LIMIT 51", args)
		// Sorting the ties of the index's order (LAST TERM) is fine; a sort
		// of every candidate is not.
		if !strings.Contains(p, "INDEX "+want+" ") || !strings.HasPrefix(p, "SEARCH agreements USING ") || strings.Contains(p, "TEMP B-TREE FOR ORDER BY") {
			t.Errorf("%s, %s: the candidates are not read in order from %s: %s", when, phases[i].name, want, p)
		}
		if phases[i].name != "reports" {
			// The count of the ministry's late opinions, as Store.Summarize
			// asks it: the candidates from the index, one seek each in the
			// opinions' agreement index.
			mofa := plan(t, raw, "SELECT s.province, count(*) FROM (SELECT * FROM agreements WHERE delete_time = 0 AND "+where+
				" AND NOT EXISTS (SELECT 1 FROM agreement_opinions a INDEXED BY agreement_opinions_agreement WHERE a.agreement = agreements.name AND a.province = ? AND a.delete_time = 0)) s GROUP BY 1 ORDER BY 1",
				append(args, "mofa"))
			if !strings.Contains(mofa, "INDEX "+want+" ") || !strings.Contains(mofa, "INDEX agreement_opinions_agreement (agreement=?)") {
				t.Errorf("%s: the ministry's late opinions are not counted from %s with a seek per candidate: %s", when, want, mofa)
			}
			continue
		}
		// The count of late reports, as Store.Summarize asks it by
		// province: a seek in the index, which holds every column read.
		if p := plan(t, raw, "SELECT s.province, count(*) FROM (SELECT * FROM agreements WHERE delete_time = 0 AND "+where+") s GROUP BY 1 ORDER BY 1", args); !strings.Contains(p, "COVERING INDEX "+want+" (delete_time=? AND report_date=? AND signed_date>? AND signed_date<?)") {
			t.Errorf("%s: the late reports are not counted by a seek in %s alone: %s", when, want, p)
		}
	}
}

// plan is the query plan of query, its steps joined by "; ".
func plan(t *testing.T, raw *sql.DB, query string, args []any) string {
	t.Helper()
	rows, err := raw.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var steps []string
	for rows.Next() {
		var (
			a, b, x int
			detail  string
		)
		rows.Scan(&a, &b, &x, &detail)
		steps = append(steps, detail)
	}
	return strings.Join(steps, "; ")
}
