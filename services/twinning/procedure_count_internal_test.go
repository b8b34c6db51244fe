package twinning

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/provex/provex/changelog"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/services/collection"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

// TestOverdueCountAgreesWithList: over a varied set of agreements in
// several provinces (answered, unanswered, answered by a deleted opinion
// or by an opinion under a province's own name, deleted agreements,
// partial dates, agencies asked with or after the consultation, moved out
// of REQUESTED, reports signed before the law, outside the procedure, a
// month or a year known only), on several days around the deadlines, the
// summary counts, per province and per kind of deadline, exactly the
// items the list gives, walked at several page sizes.
func TestOverdueCountAgreesWithList(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dbs := map[string]*sqlstore.DB{}
	open := func(member string) *sqlstore.DB {
		t.Helper()
		if dbs[member] == nil {
			db, err := sqlstore.Open(ctx, filepath.Join(dir, member+".db"), member, sqlstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			dbs[member] = db
		}
		return dbs[member]
	}
	put := func(k *resource.Kind, name string, m proto.Message, deleted bool) {
		t.Helper()
		n, err := resource.ParseName(name, k.Collection)
		if err != nil {
			t.Fatal(err)
		}
		db := open(n.Province)
		k.SetName(m, name)
		if deleted {
			k.SetDeleteTime(m, timestamppb.New(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)))
		}
		if _, err := db.Write(ctx, storage.Write{Kind: k, Name: name, Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
			return m, nil
		}}); err != nil {
			t.Fatal(err)
		}
	}
	asked := func(state twinningv1.Agreement_ConsultationState, d *typev1.Date, agencies ...*twinningv1.Agreement_AgencyOpinion) *twinningv1.Agreement_Consultation {
		return &twinningv1.Agreement_Consultation{State: state, RequestedDate: d, AgencyOpinions: agencies}
	}
	const req = twinningv1.Agreement_CONSULTATION_STATE_REQUESTED
	agency := func(name string, requested, answered *typev1.Date) *twinningv1.Agreement_AgencyOpinion {
		return &twinningv1.Agreement_AgencyOpinion{Agency: name, RequestedDate: requested, OpinionDate: answered}
	}
	n := 0
	for _, p := range []string{"lang-son", "cao-bang", "tuyen-quang"} {
		a := func(m *twinningv1.Agreement, deleted bool) string {
			n++
			name := fmt.Sprintf("provinces/%s/agreements/a%02d", p, n)
			m.DisplayName = name
			put(resource.Agreements, name, m, deleted)
			return name
		}
		a(&twinningv1.Agreement{Consultation: asked(req, day(2026, 2, 13))}, false)
		answered := a(&twinningv1.Agreement{Consultation: asked(req, day(2026, 2, 13))}, false)
		put(resource.AgreementOpinions, fmt.Sprintf("provinces/mofa/agreement-opinions/o%02d", n), &twinningv1.AgreementOpinion{Agreement: answered, Position: twinningv1.OpinionPosition_OPINION_POSITION_AGREE, OpinionDate: day(2026, 2, 24)}, false)
		withdrawn := a(&twinningv1.Agreement{Consultation: asked(req, day(2026, 2, 10))}, false)
		put(resource.AgreementOpinions, fmt.Sprintf("provinces/mofa/agreement-opinions/o%02d", n), &twinningv1.AgreementOpinion{Agreement: withdrawn, Position: twinningv1.OpinionPosition_OPINION_POSITION_AGREE, OpinionDate: day(2026, 2, 24)}, true)
		self := a(&twinningv1.Agreement{Consultation: asked(req, day(2026, 2, 9))}, false)
		put(resource.AgreementOpinions, fmt.Sprintf("provinces/%s/agreement-opinions/o%02d", p, n), &twinningv1.AgreementOpinion{Agreement: self, Position: twinningv1.OpinionPosition_OPINION_POSITION_AGREE, OpinionDate: day(2026, 2, 24)}, false)
		a(&twinningv1.Agreement{Consultation: asked(req, day(2026, 2, 13))}, true)
		a(&twinningv1.Agreement{Consultation: asked(req, day(2026, 2, 0))}, false)
		a(&twinningv1.Agreement{Consultation: asked(req, day(2025, 0, 0))}, false)
		a(&twinningv1.Agreement{Consultation: asked(req, nil)}, false)
		a(&twinningv1.Agreement{Consultation: asked(req, day(2026, 2, 20),
			agency("Ministry of Public Security", nil, nil),
			agency("Ministry of Defence", day(2026, 2, 26), nil),
			agency("Ministry of Industry and Trade", nil, day(2026, 2, 27)))}, false)
		a(&twinningv1.Agreement{Consultation: asked(req, day(2026, 2, 0),
			agency("Ministry of Public Security", day(2026, 2, 5), nil))}, false)
		a(&twinningv1.Agreement{Consultation: asked(twinningv1.Agreement_CONSULTATION_STATE_OPINION_RECEIVED, day(2026, 1, 5),
			agency("Ministry of Defence", nil, nil))}, false)
		a(&twinningv1.Agreement{SignedDate: day(2026, 2, 16)}, false)
		a(&twinningv1.Agreement{SignedDate: day(2026, 2, 17)}, false)
		a(&twinningv1.Agreement{SignedDate: day(2026, 2, 1)}, true)
		a(&twinningv1.Agreement{SignedDate: day(2026, 1, 0)}, false)
		a(&twinningv1.Agreement{SignedDate: day(2021, 0, 0)}, false)
		a(&twinningv1.Agreement{SignedDate: day(2021, 7, 0)}, false)
		a(&twinningv1.Agreement{SignedDate: day(2021, 6, 30)}, false)
		a(&twinningv1.Agreement{SignedDate: day(2025, 12, 1), ReportDate: day(2025, 12, 10)}, false)
		a(&twinningv1.Agreement{SignedDate: day(2025, 12, 1), Consultation: asked(twinningv1.Agreement_CONSULTATION_STATE_NOT_REQUIRED, nil)}, false)
		a(&twinningv1.Agreement{SignedDate: day(2025, 12, 1), Consultation: asked(req, day(2025, 11, 3))}, false)
	}

	// The ministry's node holds every province's log, as synced.
	db := open(resource.Ministry)
	for member, from := range dbs {
		if member == resource.Ministry {
			continue
		}
		entries, err := from.Changes(ctx, member, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		last := entries[len(entries)-1]
		// Each province's opinion under its own name is refused.
		refused, err := db.ApplyRemote(ctx, entries, changelog.Checkpoint{Origin: member, Seq: last.Seq, Hash: last.Hash, Signature: []byte("unchecked by storage")})
		if err != nil || len(refused) != 1 || !strings.Contains(refused[0].Reason, "only the ministry writes agreement-opinions") {
			t.Fatalf("apply %s: %v %v", member, refused, err)
		}
	}
	s := New(&collection.Node{Store: db, Member: "mofa"})
	for _, bad := range []*twinningv1.ListOverdueAgreementDeadlinesRequest{
		{Parent: "provinces/-", PageSize: -1},
		{Parent: "provinces/-", Deadline: 99},
		{Parent: "provinces/-", PageToken: "not a token"},
		{Parent: "provinces/nowhere"},
		{Parent: "provinces/ha-giang"},
		{Parent: "agreements"},
	} {
		if _, err := s.ListOverdueAgreementDeadlines(ctx, bad); status.Code(err) != codes.InvalidArgument {
			t.Errorf("%v: %v, want INVALID_ARGUMENT", bad, err)
		}
	}
	for _, bad := range []string{"provinces/nowhere", "provinces/ha-giang", "agreements", ""} {
		if _, err := s.SummarizeOverdueAgreementDeadlines(ctx, &twinningv1.SummarizeOverdueAgreementDeadlinesRequest{Parent: bad}); status.Code(err) != codes.InvalidArgument {
			t.Errorf("summary of %q: %v, want INVALID_ARGUMENT", bad, err)
		}
	}
	if resp, err := s.ListOverdueAgreementDeadlines(ctx, &twinningv1.ListOverdueAgreementDeadlinesRequest{Parent: "provinces/-", PageSize: 1 << 30}); err != nil || len(resp.GetOverdueDeadlines()) == 0 {
		t.Errorf("a huge page: %v", err)
	}
	type key struct {
		province string
		deadline twinningv1.Deadline
	}
	for _, now := range []time.Time{
		time.Date(2026, 3, 3, 16, 59, 0, 0, time.UTC), // 23:59 on 3 March in Hà Nội
		time.Date(2026, 3, 3, 17, 0, 0, 0, time.UTC),  // midnight: 4 March
		time.Date(2026, 3, 10, 23, 30, 0, 0, time.UTC),
		time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC),
	} {
		s.now = func() time.Time { return now }
		for _, parent := range []string{"provinces/-", "provinces/cao-bang"} {
			sum, err := s.SummarizeOverdueAgreementDeadlines(ctx, &twinningv1.SummarizeOverdueAgreementDeadlinesRequest{Parent: parent})
			if err != nil {
				t.Fatal(err)
			}
			counted := map[key]int32{}
			for _, c := range sum.GetProvinces() {
				counted[key{c.GetProvince(), twinningv1.Deadline_DEADLINE_MOFA_OPINION}] += 0
				counted[key{c.GetProvince(), twinningv1.Deadline_DEADLINE_REPORT}] = c.GetOverdueReports()
				counted[key{c.GetProvince(), -1}] = c.GetOverdueOpinions()
			}
			for _, size := range []int32{0, 1, 2, 3, 7} {
				listed := map[key]int32{}
				var opinions, reports int32
				tok := ""
				for pages := 0; ; pages++ {
					if pages > 500 {
						t.Fatalf("%v %s size %d: paging does not end", now, parent, size)
					}
					resp, err := s.ListOverdueAgreementDeadlines(ctx, &twinningv1.ListOverdueAgreementDeadlinesRequest{Parent: parent, PageSize: size, PageToken: tok})
					if err != nil {
						t.Fatalf("%v %s size %d: %v", now, parent, size, err)
					}
					for _, it := range resp.GetOverdueDeadlines() {
						if it.GetDeadline() == twinningv1.Deadline_DEADLINE_REPORT {
							listed[key{it.GetProvince(), twinningv1.Deadline_DEADLINE_REPORT}]++
							reports++
						} else {
							listed[key{it.GetProvince(), -1}]++
							opinions++
						}
					}
					if tok = resp.GetNextPageToken(); tok == "" {
						break
					}
				}
				for k, v := range listed {
					if counted[k] != v {
						t.Errorf("%v %s size %d: %v listed %d, counted %d", now, parent, size, k, v, counted[k])
					}
				}
				for k, v := range counted {
					if listed[k] != v {
						t.Errorf("%v %s size %d: %v counted %d, listed %d", now, parent, size, k, v, listed[k])
					}
				}
				if opinions != sum.GetOverdueOpinions() || reports != sum.GetOverdueReports() {
					t.Errorf("%v %s size %d: listed %d opinions %d reports, counted %d, %d", now, parent, size, opinions, reports, sum.GetOverdueOpinions(), sum.GetOverdueReports())
				}
				// Asked for one kind of deadline at a time, the list gives
				// the same items split.
				var split int32
				for _, d := range []twinningv1.Deadline{twinningv1.Deadline_DEADLINE_MOFA_OPINION, twinningv1.Deadline_DEADLINE_AGENCY_OPINION, twinningv1.Deadline_DEADLINE_REPORT} {
					for tok := ""; ; {
						resp, err := s.ListOverdueAgreementDeadlines(ctx, &twinningv1.ListOverdueAgreementDeadlinesRequest{Parent: parent, PageSize: size, PageToken: tok, Deadline: d})
						if err != nil {
							t.Fatalf("%v %s size %d %v: %v", now, parent, size, d, err)
						}
						for _, it := range resp.GetOverdueDeadlines() {
							if it.GetDeadline() != d {
								t.Errorf("%v %s: asked for %v, got %v", now, parent, d, it)
							}
							split++
						}
						if tok = resp.GetNextPageToken(); tok == "" {
							break
						}
						// Another deadline's token is refused.
						if _, err := s.ListOverdueAgreementDeadlines(ctx, &twinningv1.ListOverdueAgreementDeadlinesRequest{Parent: parent, PageToken: tok}); status.Code(err) != codes.InvalidArgument {
							t.Errorf("%v's token reused without the deadline: %v", d, err)
						}
					}
				}
				if split != opinions+reports {
					t.Errorf("%v %s size %d: %d items by deadline, %d in all", now, parent, size, split, opinions+reports)
				}
			}
		}
	}
}

// TestAgencyAskedWithinTheConsultationsMonth: a consultation known only by
// its month (February 2026) with an agency asked on 5 February: the
// agency's period runs from the later of the two dates, the month's last
// day, as the overdue views seek their candidates by the consultation's
// date. Otherwise the view of 11 March would call the opinion due on 23
// February while the view of 4 March did not list it at all.
func TestAgencyAskedWithinTheConsultationsMonth(t *testing.T) {
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "provex.db"), "lang-son", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	name := "provinces/lang-son/agreements/feb"
	m := &twinningv1.Agreement{Name: name, Consultation: &twinningv1.Agreement_Consultation{State: twinningv1.Agreement_CONSULTATION_STATE_REQUESTED, RequestedDate: day(2026, 2, 0),
		AgencyOpinions: []*twinningv1.Agreement_AgencyOpinion{{Agency: "Ministry of Public Security", RequestedDate: day(2026, 2, 5)}}}}
	if _, err := db.Write(ctx, storage.Write{Kind: resource.Agreements, Name: name, Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) { return m, nil }}); err != nil {
		t.Fatal(err)
	}
	s := New(&collection.Node{Store: db, Member: "lang-son"})
	list := func(now time.Time) map[twinningv1.Deadline]string {
		t.Helper()
		s.now = func() time.Time { return now }
		resp, err := s.ListOverdueAgreementDeadlines(ctx, &twinningv1.ListOverdueAgreementDeadlinesRequest{Parent: "provinces/-"})
		if err != nil {
			t.Fatal(err)
		}
		got := map[twinningv1.Deadline]string{}
		for _, it := range resp.GetOverdueDeadlines() {
			d := it.GetDueDate()
			got[it.GetDeadline()] = fmt.Sprintf("%04d-%02d-%02d", d.GetYear(), d.GetMonth(), d.GetDay())
		}
		return got
	}
	if got := list(time.Date(2026, 3, 4, 2, 0, 0, 0, time.UTC)); len(got) != 0 {
		t.Errorf("4 March: %v, want nothing overdue (February's last day + 7 working days is 10 March)", got)
	}
	// 11 March in Hà Nội: February 28 + 7 working days = 10 March, passed.
	got := list(time.Date(2026, 3, 10, 23, 30, 0, 0, time.UTC))
	want := map[twinningv1.Deadline]string{twinningv1.Deadline_DEADLINE_MOFA_OPINION: "2026-03-10", twinningv1.Deadline_DEADLINE_AGENCY_OPINION: "2026-03-10"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("11 March: %v, want %v", got, want)
	}
}

// TestOverdueFollowsTheAgreementsChanges: one agreement, changed in turn,
// is counted and listed as its latest state says: awaiting the ministry's
// opinion and its report, then its opinions received, then reported,
// then deleted, then undeleted unreported and asked again.
func TestOverdueFollowsTheAgreementsChanges(t *testing.T) {
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "provex.db"), "lang-son", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	name := "provinces/lang-son/agreements/changing"
	write := func(change func(a *twinningv1.Agreement)) {
		t.Helper()
		if _, err := db.Write(ctx, storage.Write{Kind: resource.Agreements, Name: name, Mutate: func(cur proto.Message, _ storage.Stamp) (proto.Message, error) {
			a := &twinningv1.Agreement{Name: name}
			if cur != nil {
				a = proto.Clone(cur).(*twinningv1.Agreement)
			}
			change(a)
			return a, nil
		}}); err != nil {
			t.Fatal(err)
		}
	}
	s := New(&collection.Node{Store: db, Member: "lang-son"})
	s.now = func() time.Time { return time.Date(2026, 3, 4, 2, 0, 0, 0, time.UTC) }
	check := func(step string, opinions, reports int32) {
		t.Helper()
		resp, err := s.ListOverdueAgreementDeadlines(ctx, &twinningv1.ListOverdueAgreementDeadlinesRequest{Parent: "provinces/lang-son"})
		if err != nil {
			t.Fatal(err)
		}
		var o, r int32
		for _, it := range resp.GetOverdueDeadlines() {
			if it.GetDeadline() == twinningv1.Deadline_DEADLINE_REPORT {
				r++
			} else {
				o++
			}
		}
		sum, err := s.SummarizeOverdueAgreementDeadlines(ctx, &twinningv1.SummarizeOverdueAgreementDeadlinesRequest{Parent: "provinces/lang-son"})
		if err != nil {
			t.Fatal(err)
		}
		if o != opinions || r != reports || sum.GetOverdueOpinions() != opinions || sum.GetOverdueReports() != reports {
			t.Errorf("%s: listed %d opinions %d reports, counted %d %d, want %d %d", step, o, r, sum.GetOverdueOpinions(), sum.GetOverdueReports(), opinions, reports)
		}
	}
	write(func(a *twinningv1.Agreement) {
		a.SignedDate = day(2026, 2, 16)
		a.Consultation = &twinningv1.Agreement_Consultation{State: twinningv1.Agreement_CONSULTATION_STATE_REQUESTED, RequestedDate: day(2026, 2, 13)}
	})
	check("asked and signed", 1, 1)
	write(func(a *twinningv1.Agreement) {
		a.Consultation.State = twinningv1.Agreement_CONSULTATION_STATE_OPINION_RECEIVED
	})
	check("opinions received", 0, 1)
	write(func(a *twinningv1.Agreement) { a.ReportDate = day(2026, 3, 1) })
	check("reported", 0, 0)
	write(func(a *twinningv1.Agreement) {
		a.ReportDate = nil
		a.Consultation.State = twinningv1.Agreement_CONSULTATION_STATE_REQUESTED
		a.DeleteTime = timestamppb.New(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC))
	})
	check("deleted", 0, 0)
	write(func(a *twinningv1.Agreement) { a.DeleteTime = nil })
	check("undeleted", 1, 1)
	write(func(a *twinningv1.Agreement) {
		a.Consultation.State = twinningv1.Agreement_CONSULTATION_STATE_NOT_REQUIRED
	})
	check("outside the procedure", 0, 0)
}
