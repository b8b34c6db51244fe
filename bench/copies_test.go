package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	"github.com/provex/provex/internal/pgtest"
	"github.com/provex/provex/server"
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
			conn, stop, err := ministryOver(dir, store, records, dataset, nationalRecord, server.Limits{})
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
// a sum or a distinct count not as the copies make it, a sum gone or one
// more, or a total not as the copies make it, each fails.
func TestCheckMultipliedRefusesWrongAnswers(t *testing.T) {
	value := func(v int64) *int64 { return &v }
	group := func(key string, n, sum, distinct int64) *nationalv1.Group {
		return &nationalv1.Group{Keys: []string{key}, Count: n,
			Sums:           []*nationalv1.Sum{{Field: "registered_capital", CurrencyCode: "USD", Value: value(sum)}},
			DistinctCounts: []*nationalv1.DistinctCount{{Field: "investor_country", Count: value(distinct)}}}
	}
	before := &nationalv1.SummarizeResponse{Groups: []*nationalv1.Group{group("FDI", 4, 100, 3), group("ODA", 2, 50, 1)}, Total: group("", 6, 150, 4)}
	right := func() *nationalv1.SummarizeResponse {
		return &nationalv1.SummarizeResponse{Groups: []*nationalv1.Group{group("FDI", 12, 300, 3), group("ODA", 6, 150, 1)}, Total: group("", 18, 450, 4)}
	}
	if err := checkMultiplied(before, right(), 3); err != nil {
		t.Fatalf("the right answer refused: %v", err)
	}
	for _, wrong := range []struct {
		what   string
		change func(r *nationalv1.SummarizeResponse)
	}{
		{"a group missing", func(r *nationalv1.SummarizeResponse) { r.Groups = r.Groups[:1] }},
		{"a new group", func(r *nationalv1.SummarizeResponse) { r.Groups[1].Keys = []string{"NGO"} }},
		{"a count", func(r *nationalv1.SummarizeResponse) { r.Groups[1].Count = 4 }},
		{"a sum", func(r *nationalv1.SummarizeResponse) { r.Groups[0].Sums[0].Value = value(200) }},
		{"a sum gone", func(r *nationalv1.SummarizeResponse) { r.Groups[0].Sums = nil }},
		{"a sum more", func(r *nationalv1.SummarizeResponse) {
			r.Groups[0].Sums = append(r.Groups[0].Sums, &nationalv1.Sum{Field: "disbursed_capital", Value: value(1)})
		}},
		{"a sum in another currency", func(r *nationalv1.SummarizeResponse) { r.Groups[0].Sums[0].CurrencyCode = "VND" }},
		{"a distinct count", func(r *nationalv1.SummarizeResponse) { r.Groups[0].DistinctCounts[0].Count = value(9) }},
		{"the total's count", func(r *nationalv1.SummarizeResponse) { r.Total.Count = 6 }},
		{"the total's distinct count", func(r *nationalv1.SummarizeResponse) { r.Total.DistinctCounts[0].Count = nil }},
	} {
		r := right()
		wrong.change(r)
		if err := checkMultiplied(before, r, 3); err == nil {
			t.Errorf("%s passed", wrong.what)
		}
	}
}

// TestInterruptedMultiplicationIsRefused: a -data folder holding the
// answers of a multiplication without its marker (stopped part way, its
// store holding some copies) is refused, not taken as the store before.
func TestInterruptedMultiplicationIsRefused(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, answersFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := loadMultiplied(dir, "", 2100, 3, "national-copies3")
	if err == nil || !strings.Contains(err.Error(), "did not finish") {
		t.Fatalf("got %v, want a refusal", err)
	}
	if _, err := os.Stat(filepath.Join(dir, server.DatabaseFile)); !os.IsNotExist(err) {
		t.Fatalf("a store was made beside the refusal: %v", err)
	}
}
