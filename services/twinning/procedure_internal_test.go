package twinning

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/workdays"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/services/collection"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

func day(y, m, d int32) *typev1.Date { return &typev1.Date{Year: y, Month: m, Day: d} }

// TestOverdueOnTheDayAfterTheDeadline: on Wednesday 4 March 2026 (9 a.m.
// in Hà Nội, still 3 March in UTC), opinions asked on Friday 13 February,
// before Tết, were due on Tuesday 3 March and are a day late; those asked
// on Monday 23 February are due today and are not. A report of an
// agreement signed on 16 February was due on 3 March; one signed on 17
// February is due today. An agreement signed before the law took effect
// owes no report, nor one outside the procedure (consultation
// NOT_REQUIRED); one known only by its month counts from the month's last
// day (31 January: its 15th day, 15 February, fell in Tết, so it was due
// on 23 February, Civil Code Art. 148(5)).
func TestOverdueOnTheDayAfterTheDeadline(t *testing.T) {
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "provex.db"), "lang-son", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	put := func(k *resource.Kind, name string, m proto.Message) {
		t.Helper()
		k.SetName(m, name)
		if _, err := db.Write(ctx, storage.Write{Kind: k, Name: name, Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
			return m, nil
		}}); err != nil {
			t.Fatal(err)
		}
	}
	requested := func(d *typev1.Date) *twinningv1.Agreement_Consultation {
		return &twinningv1.Agreement_Consultation{State: twinningv1.Agreement_CONSULTATION_STATE_REQUESTED, RequestedDate: d}
	}
	put(resource.Agreements, "provinces/lang-son/agreements/before-tet", &twinningv1.Agreement{DisplayName: "asked before Tết", Consultation: requested(day(2026, 2, 13))})
	put(resource.Agreements, "provinces/lang-son/agreements/after-tet", &twinningv1.Agreement{DisplayName: "asked after Tết", Consultation: requested(day(2026, 2, 23))})
	put(resource.Agreements, "provinces/lang-son/agreements/signed-16", &twinningv1.Agreement{DisplayName: "signed 16 Feb", SignedDate: day(2026, 2, 16)})
	put(resource.Agreements, "provinces/lang-son/agreements/signed-17", &twinningv1.Agreement{DisplayName: "signed 17 Feb", SignedDate: day(2026, 2, 17)})
	put(resource.Agreements, "provinces/lang-son/agreements/signed-2020", &twinningv1.Agreement{DisplayName: "before the law", SignedDate: day(2020, 5, 4)})
	put(resource.Agreements, "provinces/lang-son/agreements/outside", &twinningv1.Agreement{DisplayName: "a department's MoU with a business", SignedDate: day(2026, 2, 2),
		Consultation: &twinningv1.Agreement_Consultation{State: twinningv1.Agreement_CONSULTATION_STATE_NOT_REQUIRED}})
	put(resource.Agreements, "provinces/lang-son/agreements/signed-jan", &twinningv1.Agreement{DisplayName: "January", SignedDate: day(2026, 1, 0)})

	s := New(&collection.Node{Store: db, Member: "lang-son"})
	s.now = func() time.Time { return time.Date(2026, 3, 4, 2, 0, 0, 0, time.UTC) }
	resp, err := s.ListOverdueAgreementDeadlines(ctx, &twinningv1.ListOverdueAgreementDeadlinesRequest{Parent: "provinces/-"})
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		agreement string
		deadline  twinningv1.Deadline
		due       string
		late      int32
	}
	var items []got
	for _, it := range resp.GetOverdueDeadlines() {
		d := it.GetDueDate()
		items = append(items, got{it.GetAgreement(), it.GetDeadline(), time.Date(int(d.GetYear()), time.Month(d.GetMonth()), int(d.GetDay()), 0, 0, 0, 0, time.UTC).Format(time.DateOnly), it.GetDaysLate()})
	}
	want := []got{
		{"provinces/lang-son/agreements/before-tet", twinningv1.Deadline_DEADLINE_MOFA_OPINION, "2026-03-03", 1},
		{"provinces/lang-son/agreements/signed-jan", twinningv1.Deadline_DEADLINE_REPORT, "2026-02-23", 9},
		{"provinces/lang-son/agreements/signed-16", twinningv1.Deadline_DEADLINE_REPORT, "2026-03-03", 1},
	}
	if len(items) != len(want) {
		t.Fatalf("overdue: %v, want %v", items, want)
	}
	for i := range want {
		if items[i] != want[i] {
			t.Errorf("item %d: %v, want %v", i, items[i], want[i])
		}
	}
	sum, err := s.SummarizeOverdueAgreementDeadlines(ctx, &twinningv1.SummarizeOverdueAgreementDeadlinesRequest{Parent: "provinces/-"})
	if err != nil {
		t.Fatal(err)
	}
	wantSum := &twinningv1.SummarizeOverdueAgreementDeadlinesResponse{OverdueOpinions: 1, OverdueReports: 2, Provinces: []*twinningv1.ProvinceOverdueCount{
		{Province: "lang-son", OverdueOpinions: 1, OverdueReports: 2}}}
	if !proto.Equal(sum, wantSum) {
		t.Errorf("summary %v, want %v", sum, wantSum)
	}
}

// TestReportDueOnTheNextWorkingDay: a report whose 15th day is not a
// working day is due on the next working day (Civil Code 2015 Art.
// 148(5)), in the list and in the summary's count alike: signed on 1
// February 2026, its 15th day falls in Tết (off 14–22 February), so it is
// not late until 24 February; one whose 15th day is a Sunday is due the
// Monday; one whose 15th day is 1 September 2026 (off 29 August–2
// September) is due on 3 September. A month or a year known alone counts
// from its last day as before, and past the calendar's table the due date
// is flagged estimated.
func TestReportDueOnTheNextWorkingDay(t *testing.T) {
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "provex.db"), "lang-son", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	type report struct {
		due       time.Time
		estimated bool
	}
	want := map[string]report{}
	var days []time.Time
	for _, c := range []struct {
		id        string
		signed    *typev1.Date
		fifteenth time.Time
		report
	}{
		{"tet", day(2026, 2, 1), workdays.Date(2026, 2, 16), report{workdays.Date(2026, 2, 23), false}},
		{"sunday", day(2025, 3, 1), workdays.Date(2025, 3, 16), report{workdays.Date(2025, 3, 17), false}},
		{"national-day", day(2026, 8, 17), workdays.Date(2026, 9, 1), report{workdays.Date(2026, 9, 3), false}},
		{"january", day(2026, 1, 0), workdays.Date(2026, 2, 15), report{workdays.Date(2026, 2, 23), false}},
		{"year-2022", day(2022, 0, 0), workdays.Date(2023, 1, 15), report{workdays.Date(2023, 1, 16), false}},
		{"national-day-2028", day(2028, 8, 18), workdays.Date(2028, 9, 2), report{workdays.Date(2028, 9, 4), true}},
	} {
		name := "provinces/lang-son/agreements/" + c.id
		m := &twinningv1.Agreement{Name: name, DisplayName: c.id, SignedDate: c.signed,
			Consultation: &twinningv1.Agreement_Consultation{State: twinningv1.Agreement_CONSULTATION_STATE_OPINION_RECEIVED}}
		if _, err := db.Write(ctx, storage.Write{Kind: resource.Agreements, Name: name, Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) { return m, nil }}); err != nil {
			t.Fatal(err)
		}
		want[name] = c.report
		for d := c.fifteenth; !d.After(c.due.AddDate(0, 0, 1)); d = d.AddDate(0, 0, 1) {
			days = append(days, d)
		}
	}
	s := New(&collection.Node{Store: db, Member: "lang-son"})
	for _, today := range days {
		// 9 a.m. in Hà Nội.
		s.now = func() time.Time { return today.Add(2 * time.Hour) }
		resp, err := s.ListOverdueAgreementDeadlines(ctx, &twinningv1.ListOverdueAgreementDeadlinesRequest{Parent: "provinces/-"})
		if err != nil {
			t.Fatal(err)
		}
		listed := map[string]bool{}
		for _, it := range resp.GetOverdueDeadlines() {
			listed[it.GetAgreement()] = true
			w, ok := want[it.GetAgreement()]
			d := it.GetDueDate()
			due := workdays.Date(int(d.GetYear()), time.Month(d.GetMonth()), int(d.GetDay()))
			if !ok || it.GetDeadline() != twinningv1.Deadline_DEADLINE_REPORT || !due.Equal(w.due) || it.GetEstimated() != w.estimated ||
				it.GetDaysLate() != int32(today.Sub(w.due).Hours()/24) {
				t.Errorf("%s: listed %v, want a report due %s (estimated %v)", today.Format(time.DateOnly), it, w.due.Format(time.DateOnly), w.estimated)
			}
		}
		var late int32
		for name, w := range want {
			if w.due.Before(today) {
				late++
				if !listed[name] {
					t.Errorf("%s: %s, due %s, is not listed", today.Format(time.DateOnly), name, w.due.Format(time.DateOnly))
				}
			} else if listed[name] {
				t.Errorf("%s: %s, due %s, is listed late", today.Format(time.DateOnly), name, w.due.Format(time.DateOnly))
			}
		}
		sum, err := s.SummarizeOverdueAgreementDeadlines(ctx, &twinningv1.SummarizeOverdueAgreementDeadlinesRequest{Parent: "provinces/-"})
		if err != nil {
			t.Fatal(err)
		}
		if sum.GetOverdueReports() != late || sum.GetOverdueOpinions() != 0 {
			t.Errorf("%s: summary counts %d reports, %d opinions; want %d reports", today.Format(time.DateOnly), sum.GetOverdueReports(), sum.GetOverdueOpinions(), late)
		}
	}
}
