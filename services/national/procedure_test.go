package national_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/workdays"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/services/collection"
)

func civil(t time.Time) *typev1.Date {
	return &typev1.Date{Year: int32(t.Year()), Month: int32(t.Month()), Day: int32(t.Day())}
}

// waitCounts asks member's node for the overdue counts until ok accepts
// them, and fails t at the deadline.
func waitCounts(t *testing.T, n node, member string, ok func(*twinningv1.SummarizeOverdueAgreementDeadlinesResponse) bool) *twinningv1.SummarizeOverdueAgreementDeadlinesResponse {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := n.twinning.SummarizeOverdueAgreementDeadlines(context.Background(), &twinningv1.SummarizeOverdueAgreementDeadlinesRequest{Parent: "provinces/-"})
		if err == nil && ok(c) {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: overdue counts never as wanted: %v, %v", member, c, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAgreementProcedureAcrossNodes: Lạng Sơn asks MOFA and two ministries
// for their opinions on a draft MoU a month ago (one ministry has
// answered), and has not reported an agreement it signed 40 days ago;
// Quảng Ninh asked today. Once synced, the ministry's node counts Lạng
// Sơn's two late opinions and its late report, and lists them with due
// dates counted in working days; the ministry answers by a record of its
// own, and the MOFA opinion is late no more, on its node and on Lạng
// Sơn's (late again while the opinion is deleted).
func TestAgreementProcedureAcrossNodes(t *testing.T) {
	ctx := context.Background()
	nodes := startNodes(t, "lang-son", "quang-ninh")
	ls, qn, mofa := nodes["lang-son"].twinning, nodes["quang-ninh"].twinning, nodes[resource.Ministry].twinning
	today := workdays.Day(time.Now().In(time.FixedZone("ICT", 7*3600)))
	asked, signed := today.AddDate(0, 0, -30), today.AddDate(0, 0, -40)

	create := func(c twinningv1.TwinningServiceClient, parent, id string, a *twinningv1.Agreement) *twinningv1.Agreement {
		t.Helper()
		got, err := c.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: parent, AgreementId: id, Agreement: a})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	draft := create(ls, "provinces/lang-son", "mou-chongzuo-2026", &twinningv1.Agreement{
		DisplayName: "MoU on border trade with Chongzuo", Kind: twinningv1.Agreement_KIND_MOU,
		Consultation: &twinningv1.Agreement_Consultation{State: twinningv1.Agreement_CONSULTATION_STATE_REQUESTED, RequestedDate: civil(asked),
			AgencyOpinions: []*twinningv1.Agreement_AgencyOpinion{
				{Agency: "Ministry of Public Security"},
				{Agency: "Ministry of Industry and Trade", OpinionDate: civil(asked.AddDate(0, 0, 5)), Position: twinningv1.OpinionPosition_OPINION_POSITION_AGREE},
			}},
	})
	unreported := create(ls, "provinces/lang-son", "tourism-baise", &twinningv1.Agreement{
		DisplayName: "Tourism cooperation with Baise", Kind: twinningv1.Agreement_KIND_COOPERATION_PROGRAMME,
		State: twinningv1.Agreement_STATE_SIGNED, SignedDate: civil(signed),
		Consultation: &twinningv1.Agreement_Consultation{State: twinningv1.Agreement_CONSULTATION_STATE_OPINION_RECEIVED,
			RequestedDate: civil(signed.AddDate(0, 0, -30)), OpinionDate: civil(signed.AddDate(0, 0, -25))},
	})
	create(ls, "provinces/lang-son", "reported", &twinningv1.Agreement{
		DisplayName: "Reported in time", Kind: twinningv1.Agreement_KIND_MOU,
		SignedDate: civil(signed), ReportDate: civil(signed.AddDate(0, 0, 10)),
	})
	create(qn, "provinces/quang-ninh", "mou-fangchenggang", &twinningv1.Agreement{
		DisplayName: "MoU with Fangchenggang", Kind: twinningv1.Agreement_KIND_MOU,
		Consultation: &twinningv1.Agreement_Consultation{State: twinningv1.Agreement_CONSULTATION_STATE_REQUESTED, RequestedDate: civil(today)},
	})

	// A province cannot write the ministry's opinion: not under its own
	// name, not under the ministry's.
	opinion := &twinningv1.AgreementOpinion{Agreement: draft.GetName(), Position: twinningv1.OpinionPosition_OPINION_POSITION_AGREE_WITH_COMMENTS,
		OpinionDate: civil(today), Summary: "No objection; name the border gates concerned."}
	_, err := ls.CreateAgreementOpinion(ctx, &twinningv1.CreateAgreementOpinionRequest{Parent: "provinces/lang-son", AgreementOpinion: opinion})
	if field, reason := violation(t, err); field != "parent" || reason != collection.ReasonNotMinistry {
		t.Errorf("a province's own opinion: violation %s %s", field, reason)
	}
	_, err = ls.CreateAgreementOpinion(ctx, &twinningv1.CreateAgreementOpinionRequest{Parent: "provinces/mofa", AgreementOpinion: opinion})
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("a province writing under provinces/mofa: %v, want PERMISSION_DENIED", err)
	}

	c := waitCounts(t, nodes[resource.Ministry], resource.Ministry, func(c *twinningv1.SummarizeOverdueAgreementDeadlinesResponse) bool {
		return c.GetOverdueOpinions() == 2 && c.GetOverdueReports() == 1
	})
	want := &twinningv1.SummarizeOverdueAgreementDeadlinesResponse{OverdueOpinions: 2, OverdueReports: 1,
		Provinces: []*twinningv1.ProvinceOverdueCount{{Province: "lang-son", OverdueOpinions: 2, OverdueReports: 1}}}
	if !proto.Equal(c, want) {
		t.Errorf("ministry's counts: %v, want %v", c, want)
	}

	// Quảng Ninh's node holds Lạng Sơn's public agreements, not every
	// opinion the ministry gives on them (the owner's and the ministry's):
	// it does not judge the ministry's opinion late (it called it late
	// when it was given: an outside review), the agencies' and the report
	// it does.
	c = waitCounts(t, nodes["quang-ninh"], "quang-ninh", func(c *twinningv1.SummarizeOverdueAgreementDeadlinesResponse) bool {
		return c.GetOverdueReports() == 1
	})
	if c.GetOverdueOpinions() != 1 {
		t.Errorf("Quảng Ninh's node counts %d opinions overdue, want the one agency's, not the ministry's", c.GetOverdueOpinions())
	}
	qnList, err := qn.ListOverdueAgreementDeadlines(ctx, &twinningv1.ListOverdueAgreementDeadlinesRequest{Parent: "provinces/-"})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range qnList.GetOverdueDeadlines() {
		if it.GetDeadline() == twinningv1.Deadline_DEADLINE_MOFA_OPINION {
			t.Errorf("Quảng Ninh's node judges the ministry's opinion on %s late", it.GetAgreement())
		}
	}

	opinionDue, _ := workdays.AddWorkingDays(asked, 7)
	reportDue, reportEstimated := workdays.AddCalendarDays(signed, 15)
	list := func(req *twinningv1.ListOverdueAgreementDeadlinesRequest) []*twinningv1.OverdueDeadline {
		t.Helper()
		var all []*twinningv1.OverdueDeadline
		for {
			resp, err := mofa.ListOverdueAgreementDeadlines(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, resp.GetOverdueDeadlines()...)
			if resp.GetNextPageToken() == "" {
				return all
			}
			req.PageToken = resp.GetNextPageToken()
		}
	}
	wantItems := []*twinningv1.OverdueDeadline{
		{Agreement: draft.GetName(), Province: "lang-son", DisplayName: draft.GetDisplayName(), Deadline: twinningv1.Deadline_DEADLINE_MOFA_OPINION,
			StartDate: civil(asked), DueDate: civil(opinionDue), DaysLate: int32(today.Sub(opinionDue).Hours() / 24)},
		{Agreement: draft.GetName(), Province: "lang-son", DisplayName: draft.GetDisplayName(), Deadline: twinningv1.Deadline_DEADLINE_AGENCY_OPINION,
			Agency: "Ministry of Public Security", StartDate: civil(asked), DueDate: civil(opinionDue), DaysLate: int32(today.Sub(opinionDue).Hours() / 24)},
		{Agreement: unreported.GetName(), Province: "lang-son", DisplayName: unreported.GetDisplayName(), Deadline: twinningv1.Deadline_DEADLINE_REPORT,
			StartDate: civil(signed), DueDate: civil(reportDue), DaysLate: int32(today.Sub(reportDue).Hours() / 24), Estimated: reportEstimated},
	}
	for _, size := range []int32{0, 1} {
		got := list(&twinningv1.ListOverdueAgreementDeadlinesRequest{Parent: "provinces/-", PageSize: size})
		if len(got) != len(wantItems) {
			t.Fatalf("page size %d: %d overdue deadlines, want %d: %v", size, len(got), len(wantItems), got)
		}
		for i := range got {
			if !proto.Equal(got[i], wantItems[i]) {
				t.Errorf("page size %d: item %d = %v, want %v", size, i, got[i], wantItems[i])
			}
		}
	}
	if got := list(&twinningv1.ListOverdueAgreementDeadlinesRequest{Parent: "provinces/lang-son", Deadline: twinningv1.Deadline_DEADLINE_REPORT}); len(got) != 1 || got[0].GetAgreement() != unreported.GetName() {
		t.Errorf("Lạng Sơn's overdue reports: %v", got)
	}
	if got := list(&twinningv1.ListOverdueAgreementDeadlinesRequest{Parent: "provinces/quang-ninh"}); len(got) != 0 {
		t.Errorf("Quảng Ninh, asked today, has overdue deadlines: %v", got)
	}

	// The ministry answers with its own record; its opinion is late no
	// more, on its node and, once synced, on Lạng Sơn's.
	answer, err := mofa.CreateAgreementOpinion(ctx, &twinningv1.CreateAgreementOpinionRequest{Parent: "provinces/mofa", AgreementOpinionId: "mou-chongzuo-2026", AgreementOpinion: opinion})
	if err != nil {
		t.Fatal(err)
	}
	if answer.GetName() != "provinces/mofa/agreement-opinions/mou-chongzuo-2026" {
		t.Errorf("opinion named %s", answer.GetName())
	}
	for _, member := range []string{resource.Ministry, "lang-son"} {
		waitCounts(t, nodes[member], member, func(c *twinningv1.SummarizeOverdueAgreementDeadlinesResponse) bool {
			return c.GetOverdueOpinions() == 1 && c.GetOverdueReports() == 1
		})
	}

	// A deleted opinion meets no deadline.
	if _, err := mofa.DeleteAgreementOpinion(ctx, &twinningv1.DeleteAgreementOpinionRequest{Name: answer.GetName()}); err != nil {
		t.Fatal(err)
	}
	waitCounts(t, nodes[resource.Ministry], resource.Ministry, func(c *twinningv1.SummarizeOverdueAgreementDeadlinesResponse) bool {
		return c.GetOverdueOpinions() == 2
	})
	if _, err := mofa.UndeleteAgreementOpinion(ctx, &twinningv1.UndeleteAgreementOpinionRequest{Name: answer.GetName()}); err != nil {
		t.Fatal(err)
	}
	waitCounts(t, nodes[resource.Ministry], resource.Ministry, func(c *twinningv1.SummarizeOverdueAgreementDeadlinesResponse) bool {
		return c.GetOverdueOpinions() == 1
	})

	// Over HTTP, as the national dashboard reads it.
	req, _ := http.NewRequest(http.MethodGet, "http://"+nodes[resource.Ministry].http+"/v1/provinces/-/agreements/-/overdue-summary", nil)
	req.Header.Set("Authorization", "Bearer "+nodes[resource.Ministry].token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		OverdueOpinions int `json:"overdue_opinions"`
		OverdueReports  int `json:"overdue_reports"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.OverdueOpinions != 1 || body.OverdueReports != 1 {
		t.Errorf("HTTP counts: %d %+v %v", resp.StatusCode, body, err)
	}
	// The late reports over HTTP, as the README spells the query, agree
	// with the count; a negative page size is a 400.
	get := func(query string) (int, []map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+nodes[resource.Ministry].http+"/v1/provinces/-/agreements/-/overdue-deadlines?"+query, nil)
		req.Header.Set("Authorization", "Bearer "+nodes[resource.Ministry].token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var list struct {
			OverdueDeadlines []map[string]any `json:"overdue_deadlines"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&list)
		return resp.StatusCode, list.OverdueDeadlines
	}
	for _, q := range []string{"deadline=DEADLINE_REPORT"} {
		code, items := get(q)
		if code != http.StatusOK || len(items) != body.OverdueReports {
			t.Errorf("HTTP %s: %d, %d items, want 200 and %d", q, code, len(items), body.OverdueReports)
		}
		for _, it := range items {
			if it["deadline"] != "DEADLINE_REPORT" {
				t.Errorf("HTTP %s: %v", q, it)
			}
		}
	}
	if code, _ := get("page_size=-1"); code != http.StatusBadRequest {
		t.Errorf("HTTP page_size=-1: %d, want 400", code)
	}
}

// TestAgreementProcedureRefused: opinions of agencies without the
// consultation's request date, or asked before it, and a ministry opinion
// naming no agreement, are INVALID_ARGUMENT with the field at fault.
func TestAgreementProcedureRefused(t *testing.T) {
	ctx := context.Background()
	nodes := startNodes(t, "lang-son")
	ls, mofa := nodes["lang-son"].twinning, nodes[resource.Ministry].twinning
	for _, c := range []struct {
		what  string
		cons  *twinningv1.Agreement_Consultation
		field string
	}{
		{"agency opinions without requested_date", &twinningv1.Agreement_Consultation{
			AgencyOpinions: []*twinningv1.Agreement_AgencyOpinion{{Agency: "Ministry of Public Security"}}}, "consultation.agency_opinions"},
		{"an agency asked before the consultation", &twinningv1.Agreement_Consultation{RequestedDate: civil(workdays.Date(2026, 3, 2)),
			AgencyOpinions: []*twinningv1.Agreement_AgencyOpinion{{Agency: "Ministry of Public Security", RequestedDate: civil(workdays.Date(2026, 2, 27))}}}, "consultation.agency_opinions"},
		{"a position without its date", &twinningv1.Agreement_Consultation{RequestedDate: civil(workdays.Date(2026, 3, 2)),
			AgencyOpinions: []*twinningv1.Agreement_AgencyOpinion{{Agency: "Ministry of Public Security", Position: twinningv1.OpinionPosition_OPINION_POSITION_OBJECT}}}, "consultation.agency_opinions[0].position"},
		{"an agency without a name", &twinningv1.Agreement_Consultation{RequestedDate: civil(workdays.Date(2026, 3, 2)),
			AgencyOpinions: []*twinningv1.Agreement_AgencyOpinion{{}}}, "consultation.agency_opinions[0].agency"},
		// No opinion could ever be late: a province hid the ministry's
		// lateness so (an outside review).
		{"opinions awaited without requested_date", &twinningv1.Agreement_Consultation{State: twinningv1.Agreement_CONSULTATION_STATE_REQUESTED}, "consultation.requested_date"},
	} {
		_, err := ls.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: "provinces/lang-son",
			Agreement: &twinningv1.Agreement{DisplayName: "MoU", Kind: twinningv1.Agreement_KIND_MOU, Consultation: c.cons}})
		if field, _ := violation(t, err); field != "agreement."+c.field {
			t.Errorf("%s: violation on %s, want agreement.%s", c.what, field, c.field)
		}
	}
	_, err := mofa.CreateAgreementOpinion(ctx, &twinningv1.CreateAgreementOpinionRequest{Parent: "provinces/mofa",
		AgreementOpinion: &twinningv1.AgreementOpinion{Agreement: "provinces/lang-son/partnerships/p1",
			Position: twinningv1.OpinionPosition_OPINION_POSITION_AGREE, OpinionDate: civil(workdays.Date(2026, 3, 2))}})
	if field, _ := violation(t, err); field != "agreement_opinion.agreement" {
		t.Errorf("an opinion naming a partnership: violation on %s", field)
	}
	_, err = mofa.ListOverdueAgreementDeadlines(ctx, &twinningv1.ListOverdueAgreementDeadlinesRequest{Parent: "provinces/-", PageToken: "garbage"})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("a bad page token: %v", err)
	}
}
