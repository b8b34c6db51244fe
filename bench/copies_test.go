package main

import (
	"testing"

	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	"github.com/provex/provex/internal/pgtest"
)

// TestCopiesMultiplyEverySummary: a ministry's store loaded through sync
// apply and then multiplied by SQL answers every summary of bench summary
// with three times the counts and sums it gave before and the same
// distinct counts, on each database: the copies carry every column the
// summaries read, their elements and rebuilt rollups.
func TestCopiesMultiplyEverySummary(t *testing.T) {
	for _, database := range []string{"sqlite", "postgres"} {
		t.Run(database, func(t *testing.T) {
			store := ""
			if database == "postgres" {
				store = pgtest.NewDatabase(t)
			}
			dir := t.TempDir()
			const records, copies = 2100, 3
			dataset := "national-copies3"
			if err := loadMultiplied(dir, store, records, copies, dataset); err != nil {
				t.Fatal(err)
			}
			conn, stop, err := ministryOver(dir, store, records, dataset, nationalRecord)
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			c := nationalv1.NewNationalServiceClient(conn)
			if err := checkAgainstBefore(c, dir, copies); err != nil {
				t.Fatal(err)
			}
			total, err := c.Summarize(ctx, &nationalv1.SummarizeRequest{Collection: "projects"})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := total.GetTotal().GetCount(), int64(records/20*8); got != want {
				t.Fatalf("%d projects after the copies, want %d (40%% of %d records)", got, want, records)
			}
		})
	}
}

// TestCheckMultipliedRefusesWrongAnswers: a group missing or new, a count,
// a sum or a distinct count not as the copies make it, each fails.
func TestCheckMultipliedRefusesWrongAnswers(t *testing.T) {
	value := func(v int64) *int64 { return &v }
	group := func(key string, n, sum, distinct int64) *nationalv1.Group {
		return &nationalv1.Group{Keys: []string{key}, Count: n,
			Sums:           []*nationalv1.Sum{{Field: "registered_capital", CurrencyCode: "USD", Value: value(sum)}},
			DistinctCounts: []*nationalv1.DistinctCount{{Field: "investor_country", Count: value(distinct)}}}
	}
	before := &nationalv1.SummarizeResponse{Groups: []*nationalv1.Group{group("FDI", 4, 100, 3), group("ODA", 2, 50, 1)}}
	right := &nationalv1.SummarizeResponse{Groups: []*nationalv1.Group{group("FDI", 12, 300, 3), group("ODA", 6, 150, 1)}}
	if err := checkMultiplied(before, right, 3); err != nil {
		t.Fatalf("the right answer refused: %v", err)
	}
	for _, wrong := range []struct {
		what   string
		groups []*nationalv1.Group
	}{
		{"a group missing", []*nationalv1.Group{group("FDI", 12, 300, 3)}},
		{"a new group", []*nationalv1.Group{group("FDI", 12, 300, 3), group("NGO", 6, 150, 1)}},
		{"a count", []*nationalv1.Group{group("FDI", 12, 300, 3), group("ODA", 4, 150, 1)}},
		{"a sum", []*nationalv1.Group{group("FDI", 12, 200, 3), group("ODA", 6, 150, 1)}},
		{"a distinct count", []*nationalv1.Group{group("FDI", 12, 300, 9), group("ODA", 6, 150, 1)}},
	} {
		err := checkMultiplied(before, &nationalv1.SummarizeResponse{Groups: wrong.groups}, 3)
		if err == nil {
			t.Errorf("%s passed", wrong.what)
		}
	}
}
