package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/provex/provex/changelog"
	investmentv1 "github.com/provex/provex/gen/go/provex/investment/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/filter"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
)

// randomProject draws a project over few enough values that groups repeat,
// with full, month-only, year-only and missing approval dates.
func randomProject(r *rand.Rand, name string) *investmentv1.Project {
	p := &investmentv1.Project{
		Name:            name,
		DisplayName:     "Project " + name,
		Kind:            investmentv1.Project_Kind(1 + r.IntN(4)),
		State:           investmentv1.Project_State(1 + r.IntN(5)),
		Sector:          investmentv1.Sector(1 + r.IntN(6)),
		InvestorCountry: []string{"KR", "JP", "SG", "CN"}[r.IntN(4)],
		Visibility:      typev1.Visibility_VISIBILITY_PUBLIC,
	}
	currency := []string{"USD", "VND"}[r.IntN(2)]
	p.RegisteredCapital = &typev1.Money{CurrencyCode: currency, Units: int64(1 + r.IntN(1_000_000))}
	if r.IntN(2) == 0 {
		p.DisbursedCapital = &typev1.Money{CurrencyCode: currency, Units: int64(r.IntN(500_000))}
	}
	year := int32(2018 + r.IntN(8))
	switch r.IntN(5) {
	case 0:
	case 1:
		p.ApprovedDate = &typev1.Date{Year: year}
	case 2:
		p.ApprovedDate = &typev1.Date{Year: year, Month: int32(1 + r.IntN(12))}
	default:
		p.ApprovedDate = &typev1.Date{Year: year, Month: int32(1 + r.IntN(12)), Day: int32(1 + r.IntN(28))}
	}
	return p
}

func projectField(t *testing.T, path string) *filter.Field {
	t.Helper()
	f, ok := resource.Projects.Schema.Lookup(path)
	if !ok {
		t.Fatalf("no field %s", path)
	}
	return &f
}

// TestRollupsMatchScans writes, updates, deletes and undeletes projects
// locally, applies another origin's entries (including one that takes a
// record away from this node), and checks that every summary a rollup
// answers equals the same summary computed from the records; then that a
// rollup rebuilt from the rows (a changed definition) does too.
func TestRollupsMatchScans(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "provex.db")
	db, err := Open(ctx, path, "cao-bang", Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 7))
	const n = 400
	name := func(i int) string { return fmt.Sprintf("provinces/cao-bang/projects/p%03d", i) }
	write := func(i int, change func(cur *investmentv1.Project, st storage.Stamp) *investmentv1.Project) {
		t.Helper()
		_, err := db.Write(ctx, storage.Write{Kind: resource.Projects, Name: name(i), Mutate: func(cur proto.Message, st storage.Stamp) (proto.Message, error) {
			var p *investmentv1.Project
			if cur != nil {
				p = cur.(*investmentv1.Project)
			}
			return change(p, st), nil
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		write(i, func(_ *investmentv1.Project, _ storage.Stamp) *investmentv1.Project { return randomProject(r, name(i)) })
	}
	for range 300 {
		i := r.IntN(n)
		switch r.IntN(4) {
		case 0: // a new state for every field
			write(i, func(cur *investmentv1.Project, _ storage.Stamp) *investmentv1.Project {
				p := randomProject(r, name(i))
				p.DeleteTime = cur.DeleteTime
				return p
			})
		case 1:
			write(i, func(cur *investmentv1.Project, st storage.Stamp) *investmentv1.Project {
				cur.DeleteTime = timestamppb.New(st.Time)
				return cur
			})
		case 2:
			write(i, func(cur *investmentv1.Project, _ storage.Stamp) *investmentv1.Project {
				cur.DeleteTime = nil
				return cur
			})
		case 3: // one figure changes, the keys stay
			write(i, func(cur *investmentv1.Project, _ storage.Stamp) *investmentv1.Project {
				cur.RegisteredCapital.Units += 1000
				return cur
			})
		}
	}
	applyRemoteProjects(t, db, r)

	queries := []storage.SummaryQuery{
		{Dims: []storage.Dim{{}}},
		{Dims: []storage.Dim{{}, {Field: projectField(t, "kind")}, {Field: projectField(t, "state")}}},
		{Dims: []storage.Dim{{Field: projectField(t, "sector")}}, Currency: projectField(t, "registered_capital.currency_code"),
			Sums: []filter.Field{*projectField(t, "registered_capital.units")}},
		{Dims: []storage.Dim{{Field: projectField(t, "investor_country")}}, Currency: projectField(t, "disbursed_capital.currency_code"),
			Sums: []filter.Field{*projectField(t, "disbursed_capital.units")}, Filter: parse(t, "kind = FDI")},
		{Dims: []storage.Dim{{}, {Field: projectField(t, "approved_date"), Bucket: "year"}}},
		{Dims: []storage.Dim{{Field: projectField(t, "approved_date"), Bucket: "month"}}, Filter: parse(t, "approved_date >= 2021-03 AND approved_date < 2023")},
		{Dims: []storage.Dim{{Field: projectField(t, "approved_date"), Bucket: "quarter"}}, Filter: parse(t, "approved_date > 2020 AND NOT state = COMPLETED")},
		{Dims: []storage.Dim{{Field: projectField(t, "state")}}, Filter: parse(t, "approved_date <= 2022-06 OR approved_date = 2019")},
		{Filter: parse(t, `sector = ENERGY OR investor_country = "KR"`)}, // no rollup has both
		{Dims: []storage.Dim{{Field: projectField(t, "state")}}, Filter: parse(t, "approved_date >= 2021-03-15")},
		{Dims: []storage.Dim{{Field: projectField(t, "approved_date")}}},
	}
	covered := []bool{true, true, true, true, true, true, true, true, false, false, false}
	check := func(stage string) {
		t.Helper()
		for i, q := range queries {
			q.Kind, q.Province = resource.Projects, resource.AllProvinces
			ru := rollupFor(q)
			if (ru != nil) != covered[i] {
				t.Fatalf("%s: query %d: rollup %v, want covered=%v", stage, i, ru != nil, covered[i])
			}
			if ru == nil {
				continue
			}
			got, err := db.summarize(ctx, q, ru)
			if err != nil {
				t.Fatalf("%s: query %d: %v", stage, i, err)
			}
			want, err := db.summarize(ctx, q, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) == 0 || !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: query %d over %s:\n rollup %v\n scan   %v", stage, i, ru.table, got, want)
			}
			for _, p := range []string{"cao-bang", "nghe-an"} {
				q.Province = p
				got, _ := db.summarize(ctx, q, ru)
				want, _ := db.summarize(ctx, q, nil)
				if len(want) == 0 || !reflect.DeepEqual(got, want) {
					t.Fatalf("%s: query %d in %s:\n rollup %v\n scan   %v", stage, i, p, got, want)
				}
			}
		}
	}
	check("maintained")
	db.Close()

	raw, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`UPDATE rollups SET definition = 'old'; DELETE FROM rollup_projects_kind_state_sector`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if db, err = Open(ctx, path, "cao-bang", Options{}); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	check("rebuilt")
}

// applyRemoteProjects applies nghe-an's log: 60 public projects, then a
// change of one to restricted (for lao-cai only), which arrives redacted
// and so takes that record off this node.
func applyRemoteProjects(t *testing.T, db *DB, r *rand.Rand) {
	t.Helper()
	prev := changelog.ZeroHash
	var entries []changelog.Entry
	add := func(p *investmentv1.Project, redact bool) {
		data, err := proto.MarshalOptions{Deterministic: true}.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		vis, to := resource.Projects.Audience(p)
		e := changelog.Entry{Origin: "nghe-an", Seq: uint64(len(entries) + 1), HLC: time.Now().UnixNano(), Name: p.Name,
			Data: data, DataHash: changelog.DataSum(data), Visibility: vis, VisibleTo: to, PrevHash: prev}
		e.Hash = changelog.Sum(&e)
		if redact {
			e.Data = nil
		}
		prev = e.Hash
		entries = append(entries, e)
	}
	var first *investmentv1.Project
	for i := range 60 {
		p := randomProject(r, fmt.Sprintf("provinces/nghe-an/projects/q%02d", i))
		if i == 0 {
			first = p
		}
		add(p, false)
	}
	gone := proto.Clone(first).(*investmentv1.Project)
	gone.Visibility, gone.VisibleTo = typev1.Visibility_VISIBILITY_RESTRICTED, []string{"lao-cai"}
	add(gone, true)
	last := entries[len(entries)-1]
	if err := db.ApplyRemote(context.Background(), entries, changelog.Checkpoint{Origin: "nghe-an", Seq: last.Seq, Hash: last.Hash, Signature: []byte("unchecked by storage")}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Get(context.Background(), resource.Projects, first.Name); err == nil {
		t.Fatal("a record restricted away from this node is still here")
	}
}

func parse(t *testing.T, src string) filter.Expr {
	t.Helper()
	e, err := filter.Parse(src, resource.Projects.Schema)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
