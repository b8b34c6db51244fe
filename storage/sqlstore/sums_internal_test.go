package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/filter"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
)

func TestJoinSum(t *testing.T) {
	split := func(v int64) (int64, int64) { return v >> 32, v & 0xFFFFFFFF }
	for _, v := range []int64{0, 1, -1, 1000, 1 << 32, -(1 << 32), math.MaxInt64, math.MinInt64, math.MaxInt32, math.MinInt32, 9e18, -9e18} {
		hi, lo := split(v)
		if got, ok := joinSum(hi, lo); !ok || got != v {
			t.Errorf("joinSum(split(%d)) = %d, %v", v, got, ok)
		}
	}
	// Sums of halves, as SQLite adds them: exact while the total fits.
	add := func(vs ...int64) (int64, bool) {
		var hi, lo int64
		for _, v := range vs {
			h, l := split(v)
			hi, lo = hi+h, lo+l
		}
		return joinSum(hi, lo)
	}
	for _, c := range []struct {
		vs   []int64
		want int64
		ok   bool
	}{
		{[]int64{9e18, 1000}, 9e18 + 1000, true},
		{[]int64{9e18, 1e18}, 0, false},
		{[]int64{9e18, 1e18, -1e18}, 9e18, true},
		{[]int64{math.MaxInt64, 1}, 0, false},
		{[]int64{math.MaxInt64, 1, -1}, math.MaxInt64, true},
		{[]int64{math.MinInt64, -1}, 0, false},
		{[]int64{math.MinInt64, math.MaxInt64}, -1, true},
		{[]int64{5e18, 5e18}, 0, false},
		{[]int64{0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, 3 * 0xFFFFFFFF, true},
	} {
		if got, ok := add(c.vs...); ok != c.ok || (ok && got != c.want) {
			t.Errorf("sum of %v = %d, %v; want %d, %v", c.vs, got, ok, c.want, c.ok)
		}
	}
	if _, ok := joinSum(math.MaxInt64, 1<<40); ok {
		t.Error("a carry past int64 fits")
	}
}

// tradeReports writes and changes trade reports of cao-bang in the store,
// below the API's validation, so any int64 can be stored.
type tradeReports struct {
	t  *testing.T
	db *DB
}

func (tr tradeReports) name(id string) string { return "provinces/cao-bang/trade-reports/" + id }

// put creates or replaces id with export_value units in currency, the
// vehicle count vehicles, at gate (a border gate's name, or empty).
func (tr tradeReports) put(id, gate, currency string, units, vehicles int64) {
	tr.t.Helper()
	tr.write(id, func(cur *borderv1.TradeReport, _ storage.Stamp) *borderv1.TradeReport {
		m := &borderv1.TradeReport{Name: tr.name(id), BorderGate: gate, PeriodKind: borderv1.TradeReport_PERIOD_KIND_MONTH,
			PeriodStart: &typev1.Date{Year: 2024, Month: 1}, PeriodEnd: &typev1.Date{Year: 2024, Month: 1},
			ExportValue: &typev1.Money{CurrencyCode: currency, Units: units}, VehicleCount: vehicles}
		if cur != nil {
			m.DeleteTime = cur.DeleteTime
		}
		return m
	})
}

func (tr tradeReports) setDeleted(id string, deleted bool) {
	tr.t.Helper()
	tr.write(id, func(cur *borderv1.TradeReport, st storage.Stamp) *borderv1.TradeReport {
		cur.DeleteTime = nil
		if deleted {
			cur.DeleteTime = timestamppb.New(st.Time)
		}
		return cur
	})
}

func (tr tradeReports) write(id string, change func(cur *borderv1.TradeReport, st storage.Stamp) *borderv1.TradeReport) {
	tr.t.Helper()
	_, err := tr.db.Write(context.Background(), storage.Write{Kind: resource.TradeReports, Name: tr.name(id),
		Mutate: func(cur proto.Message, st storage.Stamp) (proto.Message, error) {
			c, _ := cur.(*borderv1.TradeReport)
			return change(c, st), nil
		}})
	if err != nil {
		tr.t.Fatalf("write %s: %v", id, err)
	}
}

func tradeField(t *testing.T, path string) *filter.Field {
	t.Helper()
	f, ok := resource.TradeReports.Schema.Lookup(path)
	if !ok {
		t.Fatalf("no field %s", path)
	}
	return &f
}

// tradeQueries are summaries of trade reports that a rollup answers.
func tradeQueries(t *testing.T) []storage.SummaryQuery {
	units, currency := *tradeField(t, "export_value.units"), tradeField(t, "export_value.currency_code")
	vehicles := *tradeField(t, "vehicle_count")
	return []storage.SummaryQuery{
		{Kind: resource.TradeReports, Dims: []storage.Dim{{}}, Sums: []filter.Field{units}, Currency: currency},
		{Kind: resource.TradeReports, Dims: []storage.Dim{{Field: tradeField(t, "border_gate")}}, Sums: []filter.Field{units}, Currency: currency},
		{Kind: resource.TradeReports, Sums: []filter.Field{units}, Currency: currency},
		{Kind: resource.TradeReports, Dims: []storage.Dim{{Field: tradeField(t, "period_kind")}}, Sums: []filter.Field{vehicles}},
		{Kind: resource.TradeReports, Sums: []filter.Field{vehicles}},
	}
}

// checkExact fails unless every rollup equals its recount, and each trade
// query gives the same answer from its rollup as from a scan of the
// records: the same rows, or the same group out of range. It returns the
// answers of the queries over all provinces.
func checkExact(t *testing.T, db *DB, stage string) [][]storage.SummaryRow {
	t.Helper()
	ctx := context.Background()
	bad, err := db.CheckRollups(ctx, false)
	if err != nil {
		t.Fatalf("%s: check rollups: %v", stage, err)
	}
	if bad.Groups > 0 {
		t.Fatalf("%s: rollups disagree with a recount: %+v", stage, bad)
	}
	var answers [][]storage.SummaryRow
	for i, q := range tradeQueries(t) {
		ru := rollupFor(q)
		if ru == nil {
			t.Fatalf("query %d has no rollup", i)
		}
		for _, p := range []string{resource.AllProvinces, "cao-bang"} {
			q.Province = p
			got, errRollup := db.summarize(ctx, q, ru)
			want, errScan := db.summarize(ctx, q, nil)
			var a, b *storage.SumOutOfRangeError
			switch {
			case errors.As(errRollup, &a) && errors.As(errScan, &b):
				if a.Field.Path != b.Field.Path || !reflect.DeepEqual(a.Keys, b.Keys) {
					t.Fatalf("%s: query %d: rollup says %v, scan %v", stage, i, a, b)
				}
			case errRollup != nil || errScan != nil:
				t.Fatalf("%s: query %d: rollup: %v; scan: %v", stage, i, errRollup, errScan)
			case !reflect.DeepEqual(got, want):
				t.Fatalf("%s: query %d over %s:\n rollup %v\n scan   %v", stage, i, ru.table, got, want)
			}
			if p == resource.AllProvinces {
				answers = append(answers, got)
			}
		}
	}
	return answers
}

// TestSumsStayExact replays the trade reports below the API's
// bounds: 1,000, 9e18 and 1e18 VND in one group. A total past int64 is an
// error naming its group, from the rollup as from a scan; once the two
// large reports are deleted the group answers 1,000 again (it answered -1
// for good when the rollup's sum had turned into a float); undeletes and
// moves between groups stay exact.
func TestSumsStayExact(t *testing.T) {
	db := openAt(t, filepath.Join(t.TempDir(), "provex.db"))
	defer db.Close()
	tr := tradeReports{t, db}
	gateA, gateB := "provinces/cao-bang/border-gates/ta-lung", "provinces/cao-bang/border-gates/tra-linh"
	total := func(stage string, want int64) {
		t.Helper()
		if got := checkExact(t, db, stage)[2]; len(got) != 1 || got[0].Sums[0] != want {
			t.Fatalf("%s: total %v, want %d", stage, got, want)
		}
	}
	tr.put("t1", gateA, "VND", 1000, 1)
	tr.put("t2", gateA, "VND", 9e18, 1)
	total("9e18 and 1,000", 9e18+1000)

	tr.put("t3", gateA, "VND", 1e18, 1)
	checkExact(t, db, "past int64")
	q := tradeQueries(t)[1]
	q.Province = resource.AllProvinces
	_, err := db.Summarize(context.Background(), q)
	var oe *storage.SumOutOfRangeError
	if !errors.As(err, &oe) || oe.Field.Path != "export_value.units" || !reflect.DeepEqual(oe.Keys, []any{gateA, "VND"}) {
		t.Fatalf("summary past int64: %v, want the sum of export_value.units of %s, VND out of range", err, gateA)
	}

	tr.setDeleted("t2", true)
	tr.setDeleted("t3", true)
	total("both deleted", 1000)
	tr.setDeleted("t3", false)
	total("1e18 undeleted", 1e18+1000)
	tr.put("t3", gateB, "VND", 1e18, 1) // to another group
	if got := checkExact(t, db, "moved")[1]; len(got) != 2 || got[0].Sums[0] != 1000 || got[1].Sums[0] != 1e18 {
		t.Fatalf("by gate: %v", got)
	}
	// Negative and extreme values (never valid, but storable) stay exact.
	tr.put("t4", gateB, "VND", math.MinInt64, math.MaxInt64)
	tr.put("t5", gateB, "VND", math.MaxInt64, math.MaxInt64)
	checkExact(t, db, "extremes")
	tr.setDeleted("t4", true)
	tr.setDeleted("t5", true)
	total("extremes deleted", 1e18+1000)
}

// TestRollupsMatchRecountUnderChurn writes, replaces, moves, deletes and
// undeletes trade reports with amounts drawn from small figures, the API's
// bound and values near int64's ends, and after every change checks every
// rollup against a recount and every trade summary against a scan.
func TestRollupsMatchRecountUnderChurn(t *testing.T) {
	db := openAt(t, filepath.Join(t.TempDir(), "provex.db"))
	defer db.Close()
	tr := tradeReports{t, db}
	r := rand.New(rand.NewPCG(10, 3))
	amount := func() int64 {
		switch r.IntN(6) {
		case 0:
			return r.Int64N(1_000_000)
		case 1:
			return 1e16 - r.Int64N(3) // the API's bound
		case 2:
			return math.MaxInt64 - r.Int64N(1000)
		case 3:
			return math.MaxInt64 / 2
		case 4:
			return -r.Int64N(1 << 40)
		default:
			return math.MinInt64 + r.Int64N(1000)
		}
	}
	gates := []string{"", "provinces/cao-bang/border-gates/ta-lung", "provinces/cao-bang/border-gates/tra-linh"}
	const n = 30
	exists := make([]bool, n)
	for step := range 300 {
		i := r.IntN(n)
		id := fmt.Sprintf("r%02d", i)
		switch op := r.IntN(4); {
		case !exists[i] || op == 0:
			tr.put(id, gates[r.IntN(len(gates))], []string{"VND", "USD"}[r.IntN(2)], amount(), amount())
			exists[i] = true
		case op == 1:
			tr.setDeleted(id, true)
		case op == 2:
			tr.setDeleted(id, false)
		default:
			tr.write(id, func(cur *borderv1.TradeReport, _ storage.Stamp) *borderv1.TradeReport {
				cur.ExportValue.Units, cur.VehicleCount = amount(), amount()
				return cur
			})
		}
		checkExact(t, db, fmt.Sprintf("step %d", step))
	}
}

// TestCheckRollupsRepairs changes rollup rows by hand (a count, a sum, a
// float where an integer belongs, a row for no records, a row removed) and
// checks that CheckRollups names each group, and that a repair leaves every
// rollup equal to its recount.
func TestCheckRollupsRepairs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "provex.db")
	db := openAt(t, path)
	defer db.Close()
	tr := tradeReports{t, db}
	tr.put("t1", "provinces/cao-bang/border-gates/ta-lung", "VND", 1000, 5)
	tr.put("t2", "provinces/cao-bang/border-gates/tra-linh", "VND", 2000, 7)
	tr.put("t3", "", "USD", 3000, 9)
	before := checkExact(t, db, "written")

	table := rollupFor(tradeQueries(t)[1]).table
	changeByHand(t, path,
		`UPDATE `+table+` SET n = n + 1 WHERE border_gate LIKE '%ta-lung'`,
		`UPDATE `+table+` SET export_value_units_lo = 1.5e19 WHERE border_gate LIKE '%tra-linh'`,
		`DELETE FROM `+table+` WHERE export_value_currency_code = 'USD'`,
		`INSERT INTO `+table+` SELECT province, 'provinces/cao-bang/border-gates/none', period_kind, period_start, export_value_currency_code, import_value_currency_code, budget_revenue_currency_code,
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 FROM `+table+` LIMIT 1`)
	found, err := db.CheckRollups(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	var groups []string
	for _, m := range found.Listed {
		if m.Rollup != table {
			t.Errorf("mismatch in %s, which nobody changed: %+v", m.Rollup, m)
		}
		groups = append(groups, m.Group+": "+m.Stored+" / "+m.Recount)
	}
	got := strings.Join(groups, "\n")
	for _, want := range []string{
		`border_gate="provinces/cao-bang/border-gates/ta-lung" period_kind=PERIOD_KIND_MONTH period_start=20240100 export_value.currency_code="VND"`,
		`count=2 export_value.units=1000`, `count=1 export_value.units=1000`,
		`border-gates/tra-linh`, `export_value.units=(0, 1.5e+19)?`,
		`export_value.currency_code="USD"`, `none / count=1 export_value.units=3000`,
		`border-gates/none" period_kind=PERIOD_KIND_MONTH period_start=20240100 export_value.currency_code="VND" import_value.currency_code="" budget_revenue.currency_code="": count=1 export_value.units=0`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if found.Groups != 4 || len(found.Listed) != 4 || found.Rollups < 10 {
		t.Fatalf("%d rollups, %d mismatches (%d listed), want 4:\n%s", found.Rollups, found.Groups, len(found.Listed), got)
	}
	if found, err := db.CheckRollups(context.Background(), true); err != nil || found.Groups != 4 {
		t.Fatalf("repair: %v, found %+v", err, found)
	}
	if after := checkExact(t, db, "repaired"); !reflect.DeepEqual(after, before) {
		t.Fatalf("repaired answers %v, want %v", after, before)
	}
}

// TestCheckRollupsCountsEveryGroupListsAFew, on each database, changes a
// group's sum and empties a rollup of more groups than CheckRollups
// describes: every group is counted once (a changed one is a row on each
// side), its figures are described as numbers, only ListedPerRollup are
// described, and a repair rebuilds them all.
func TestCheckRollupsCountsEveryGroupListsAFew(t *testing.T) {
	for _, database := range []string{"sqlite", "postgres"} {
		t.Run(database, func(t *testing.T) {
			location := NewLocation(t, database)
			db := openAt(t, location)
			defer db.Close()
			tr := tradeReports{t, db}
			const gates = ListedPerRollup + 50
			for i := range gates {
				tr.put(fmt.Sprint("t", i), fmt.Sprintf("provinces/cao-bang/border-gates/g%03d", i), "VND", 1000, 5)
			}
			before := checkExact(t, db, "written")
			table := rollupFor(tradeQueries(t)[1]).table

			changeByHand(t, location, `UPDATE `+table+` SET export_value_units_lo = export_value_units_lo + 5 WHERE border_gate = 'provinces/cao-bang/border-gates/g007'`)
			found, err := db.CheckRollups(context.Background(), false)
			if err != nil {
				t.Fatal(err)
			}
			if found.Groups != 1 || len(found.Listed) != 1 || !strings.Contains(found.Listed[0].Group, "g007") ||
				!strings.HasPrefix(found.Listed[0].Stored, "count=1 export_value.units=1005 ") || !strings.HasPrefix(found.Listed[0].Recount, "count=1 export_value.units=1000 ") {
				t.Fatalf("a changed sum: %d groups, %+v; want g007's, 1005 stored and 1000 counted", found.Groups, found.Listed)
			}

			changeByHand(t, location,
				`DELETE FROM `+table+` WHERE border_gate < 'provinces/cao-bang/border-gates/g149'`,
				`UPDATE `+table+` SET n = 7 WHERE border_gate = 'provinces/cao-bang/border-gates/g149'`)
			if found, err = db.CheckRollups(context.Background(), false); err != nil {
				t.Fatal(err)
			}
			if found.Groups != gates || len(found.Listed) != ListedPerRollup {
				t.Fatalf("%d groups found, %d listed; want %d and %d", found.Groups, len(found.Listed), gates, ListedPerRollup)
			}
			for i, m := range found.Listed {
				if want := fmt.Sprintf(`border-gates/g%03d"`, i); m.Rollup != table || !strings.Contains(m.Group, want) || m.Stored != "none" || !strings.HasPrefix(m.Recount, "count=1 export_value.units=1000 ") {
					t.Fatalf("listed %d: %+v, want the group of %s missing from %s", i, m, want, table)
				}
			}
			if found, err := db.CheckRollups(context.Background(), true); err != nil || found.Groups != gates {
				t.Fatalf("repair: %v, found %d groups", err, found.Groups)
			}
			if after := checkExact(t, db, "repaired"); !reflect.DeepEqual(after, before) {
				t.Fatalf("repaired answers %v, want %v", after, before)
			}
		})
	}
}

// TestCheckRollupsFindsAKeyOfAnotherType: rollup rows whose key was made a
// BLOB by a hand on the file (its text's bytes) are groups the records do
// not have, beside theirs the rollup lacks: each found on its own, and no
// panic comparing two such keys.
func TestCheckRollupsFindsAKeyOfAnotherType(t *testing.T) {
	path := filepath.Join(t.TempDir(), "provex.db")
	db := openAt(t, path)
	defer db.Close()
	tr := tradeReports{t, db}
	tr.put("u1", "provinces/cao-bang/border-gates/ta-lung", "VND", 1000, 5)
	tr.put("u2", "provinces/cao-bang/border-gates/tra-linh", "VND", 1000, 5)
	table := rollupFor(tradeQueries(t)[1]).table
	changeByHand(t, path, `UPDATE `+table+` SET border_gate = CAST(border_gate AS BLOB)`)
	found, err := db.CheckRollups(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	stored := 0
	for _, m := range found.Listed {
		if m.Recount == "none" {
			stored++
		}
	}
	if found.Groups != 4 || len(found.Listed) != 4 || stored != 2 {
		t.Fatalf("%d groups, %+v; want the rollup's two blob-keyed rows and the records' two groups, each on its own", found.Groups, found.Listed)
	}
}

// changeByHand runs statements on the store's database at location (a
// SQLite file or a PostgreSQL URL) below the store, as a hand on the file
// or the server could.
func changeByHand(t *testing.T, location string, statements ...string) {
	t.Helper()
	driver, source := "sqlite3", "file:"+location
	if IsPostgres(location) {
		driver, source = "pgx", location
	}
	raw, err := sql.Open(driver, source)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, s := range statements {
		if _, err := raw.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}
