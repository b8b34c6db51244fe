package national_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/pgtest"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/services/collection"
	"github.com/provex/provex/services/national"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

// TestSummaryTotalsNeverWrap stores trade reports past the API's bounds
// (as a store below validation can hold them: the 5e18 VND in each
// of two gates, and 9e18 and 1e18 in one) and checks that a total or a
// group past int64 is OUT_OF_RANGE naming it, never a wrapped number or
// INTERNAL, while the groups that fit are still answered: on SQLite and on
// PostgreSQL, whose sum(bigint) is numeric and never raises.
func TestSummaryTotalsNeverWrap(t *testing.T) {
	onEachStore(t, summaryTotalsNeverWrap)
}

func summaryTotalsNeverWrap(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	put := func(id, gate string, units int64) {
		t.Helper()
		name := "provinces/cao-bang/trade-reports/" + id
		m := &borderv1.TradeReport{Name: name, BorderGate: gate, PeriodKind: borderv1.TradeReport_PERIOD_KIND_YEAR,
			PeriodStart: &typev1.Date{Year: 2024}, PeriodEnd: &typev1.Date{Year: 2024},
			ExportValue: &typev1.Money{CurrencyCode: "VND", Units: units}, VehicleCount: units}
		if _, err := db.Write(ctx, storage.Write{Kind: resource.TradeReports, Name: name, Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
			return m, nil
		}}); err != nil {
			t.Fatal(err)
		}
	}
	s := national.New(&collection.Node{Store: db}, func(context.Context) ([]*nationalv1.ProvinceFreshness, error) { return nil, nil }, 4<<20)
	summarize := func(groupBy, sum string) (*nationalv1.SummarizeResponse, error) {
		return s.Summarize(ctx, &nationalv1.SummarizeRequest{Collection: "trade-reports", GroupBy: strings.Fields(groupBy), Sum: []string{sum}})
	}
	wantOutOfRange := func(what string, err error, names ...string) {
		t.Helper()
		st, _ := status.FromError(err)
		if st.Code() != codes.OutOfRange {
			t.Fatalf("%s: %v, want OUT_OF_RANGE", what, err)
		}
		for _, n := range names {
			if !strings.Contains(st.Message(), n) {
				t.Errorf("%s: %q does not name %q", what, st.Message(), n)
			}
		}
	}

	put("a", "provinces/cao-bang/border-gates/ta-lung", 5e18)
	put("b", "provinces/cao-bang/border-gates/tra-linh", 5e18)
	// Each gate fits, their total does not.
	_, err := summarize("border_gate", "export_value")
	wantOutOfRange("total of money", err, "export_value in VND", "all groups")
	_, err = summarize("border_gate", "vehicle_count")
	wantOutOfRange("total of a count", err, "vehicle_count", "all groups")
	resp, err := s.Summarize(ctx, &nationalv1.SummarizeRequest{Collection: "trade-reports", GroupBy: []string{"border_gate"}, Sum: []string{"export_value"},
		Filter: `border_gate = "provinces/cao-bang/border-gates/ta-lung"`})
	if err != nil || resp.GetTotal().GetSums()[0].GetValue() != 5e18 {
		t.Fatalf("one gate: %v %v", resp, err)
	}
	_, err = summarize("", "export_value") // one group of 1e19: from the rollup
	wantOutOfRange("one money group", err, "export_value in VND", "the only group")
	_, err = summarize("", "vehicle_count")
	wantOutOfRange("one count group", err, "vehicle_count", "the only group")
	_, err = summarize("create_time.year", "export_value") // no rollup: a scan
	wantOutOfRange("scanned group", err, "export_value in VND", "create_time.year=unset")

	put("a", "provinces/cao-bang/border-gates/ta-lung", 9e18)
	put("b", "provinces/cao-bang/border-gates/ta-lung", 1e18)
	put("c", "provinces/cao-bang/border-gates/ta-lung", 1000)
	_, err = summarize("border_gate province", "export_value")
	wantOutOfRange("9e18 + 1e18", err, "border_gate=provinces/cao-bang/border-gates/ta-lung, province=cao-bang")
	put("a", "", 0)
	put("b", "", 0)
	resp, err = summarize("border_gate", "export_value")
	if err != nil || resp.GetTotal().GetSums()[0].GetValue() != 1000 {
		t.Fatalf("after the large figures went: %v %v", resp, err)
	}
}

// onEachStore runs test on a new store of cao-bang's, on SQLite and on
// PostgreSQL.
func onEachStore(t *testing.T, test func(*testing.T, *sqlstore.DB)) {
	for _, store := range []struct {
		name     string
		location func(testing.TB) string
	}{
		{"sqlite", func(t testing.TB) string { return filepath.Join(t.TempDir(), "provex.db") }},
		{"postgres", pgtest.NewDatabase},
	} {
		t.Run(store.name, func(t *testing.T) {
			db, err := sqlstore.Open(context.Background(), store.location(t), "cao-bang", sqlstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			test(t, db)
		})
	}
}

// TestSummaryOfNoRecords: a summary whose filter matches nothing, grouped
// and with a money sum, is an empty list of groups and a total of 0 with
// every sum, 0 included (README, "National views"); it was a panic
// (INTERNAL) indexing the money sums of no group (an outside review).
// On the rollups and on a scan (count_distinct), on SQLite and PostgreSQL.
func TestSummaryOfNoRecords(t *testing.T) {
	onEachStore(t, summaryOfNoRecords)
}

func summaryOfNoRecords(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	name := "provinces/cao-bang/trade-reports/a"
	if _, err := db.Write(ctx, storage.Write{Kind: resource.TradeReports, Name: name, Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
		return &borderv1.TradeReport{Name: name, BorderGate: "provinces/cao-bang/border-gates/ta-lung", PeriodKind: borderv1.TradeReport_PERIOD_KIND_YEAR,
			PeriodStart: &typev1.Date{Year: 2024}, PeriodEnd: &typev1.Date{Year: 2024},
			ExportValue: &typev1.Money{CurrencyCode: "VND", Units: 7}, VehicleCount: 3}, nil
	}}); err != nil {
		t.Fatal(err)
	}
	s := national.New(&collection.Node{Store: db}, func(context.Context) ([]*nationalv1.ProvinceFreshness, error) { return nil, nil }, 4<<20)
	for _, path := range []struct {
		name     string
		distinct []string
	}{{"rollups", nil}, {"scan", []string{"border_gate"}}} {
		for _, groupBy := range [][]string{{"period_kind"}, {"province", "border_gate"}} {
			req := &nationalv1.SummarizeRequest{Collection: "trade-reports", GroupBy: groupBy, Sum: []string{"export_value", "vehicle_count"},
				CountDistinct: path.distinct, Filter: `border_gate = "provinces/cao-bang/border-gates/tra-linh"`}
			resp, err := s.Summarize(ctx, req)
			if err != nil {
				t.Fatalf("%s, group_by %v: %v", path.name, groupBy, err)
			}
			if len(resp.GetGroups()) != 0 || resp.GetTotal().GetCount() != 0 {
				t.Errorf("%s, group_by %v: %v, want no groups and a total of 0", path.name, groupBy, resp)
			}
			var sums []string
			for _, sum := range resp.GetTotal().GetSums() {
				if sum.GetValue() != 0 {
					t.Errorf("%s, group_by %v: sum %v, want 0", path.name, groupBy, sum)
				}
				sums = append(sums, sum.GetField())
			}
			if !slices.Equal(sums, []string{"vehicle_count", "export_value"}) {
				t.Errorf("%s, group_by %v: total sums %v, want vehicle_count and export_value, each 0", path.name, groupBy, sums)
			}
			if d := resp.GetTotal().GetDistinctCounts(); len(d) != len(path.distinct) || len(d) > 0 && d[0].GetCount() != 0 {
				t.Errorf("%s, group_by %v: distinct counts %v, want %d of 0", path.name, groupBy, d, len(path.distinct))
			}
		}
	}
}
