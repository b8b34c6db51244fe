package twinning

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/internal/filter"
	"github.com/provex/provex/internal/pagetoken"
	"github.com/provex/provex/internal/workdays"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/services/collection"
	"github.com/provex/provex/storage"
)

// The deadlines of Law 70/2020 on international agreements for a
// province's agreements (DOMAIN.md): the opinions it asks of MOFA and the
// agencies concerned are due within 7 working days ("ngày làm việc"); the
// report of a signed agreement to the Prime Minister within 15 days of
// signing. The law says working days where it means them, so the 15 are
// calendar days, ending on a working day (Civil Code 2015 Art. 148(5):
// workdays.AddCalendarDays).
const (
	opinionWorkingDays = 7
	reportDays         = 15
)

// opinionAgreement is the field of the ministry's opinions that names the
// agreement answered.
var opinionAgreement, _ = resource.AgreementOpinions.Schema.Lookup("agreement")

// lawInForce is the day Law 70/2020 took effect: agreements signed before
// it owe no report under it.
var lawInForce = workdays.Date(2021, 7, 1)

// A phase of the overdue views: the agreements that may owe opinions, or
// a report, each read from its own index in that index's order (the
// planner then never prefers walking every live agreement in arrival
// order, as it does for an OR of the two or for arrival order: its
// statistics cannot tell that few agreements are candidates).
type phase struct {
	name string
	// filter of the candidates on today; order the index's columns.
	filter func(today time.Time) string
	order  string
	// items are the deadlines of a candidate passed unmet today.
	items func(s *Server, ctx context.Context, a *twinningv1.Agreement, today time.Time) ([]*twinningv1.OverdueDeadline, error)
}

var phases = []phase{
	{
		// Awaiting opinions (consultation.state = REQUESTED) asked at most
		// on the last day whose 7 working days ran out before today: a seek
		// in agreements_consultation_due (consultation_state,
		// consultation_requested_date). An agency asked later than the
		// consultation is found too, as its request must not precede the
		// consultation's (a rule of Agreement.Consultation).
		name: "opinions",
		filter: func(today time.Time) string {
			return fmt.Sprintf("consultation.state = REQUESTED AND consultation.requested_date <= %s",
				workdays.LatestStart(today, opinionWorkingDays).Format(time.DateOnly))
		},
		order: "consultation.state, consultation.requested_date",
		items: (*Server).overdueOpinions,
	},
	{
		// Unreported (report_date unset, stored 0: "< 0001" compiles to an
		// equality), signed from 1 July 2021 to the last day whose report
		// was due before today (16 days before, or more when a due date
		// moved past days off), and under the procedure
		// (consultation.state is not NOT_REQUIRED): a seek in
		// agreements_report_due (delete_time, report_date, signed_date,
		// consultation_state, province), which holds every column read.
		// Every agreement this matches has its report overdue (the filter
		// compares partial dates as overdueReport does), so the reports
		// are counted in SQL, without reading the agreements.
		name: "reports",
		filter: func(today time.Time) string {
			return fmt.Sprintf("report_date < 0001 AND signed_date >= %s AND signed_date <= %s AND consultation.state != NOT_REQUIRED",
				lawInForce.Format(time.DateOnly), workdays.LatestCalendarStart(today, reportDays).Format(time.DateOnly))
		},
		order: "report_date, signed_date, consultation.state",
		items: func(_ *Server, _ context.Context, a *twinningv1.Agreement, today time.Time) ([]*twinningv1.OverdueDeadline, error) {
			return overdueReport(a, today), nil
		},
	},
}

// phasesOf are the phases that hold a deadline.
func phasesOf(d twinningv1.Deadline) []phase {
	switch d {
	case twinningv1.Deadline_DEADLINE_MOFA_OPINION, twinningv1.Deadline_DEADLINE_AGENCY_OPINION:
		return phases[:1]
	case twinningv1.Deadline_DEADLINE_REPORT:
		return phases[1:]
	}
	return phases
}

// query is the store's query of p's candidates. A partial date (a month, a
// year) counts from its last day, as the filter compares it, so no
// agreement is late on a guess.
func (p phase) query(province string, today time.Time) (storage.Query, error) {
	k := resource.Agreements
	expr, err := filter.Parse(p.filter(today), k.Schema)
	if err != nil {
		return storage.Query{}, err
	}
	order, err := filter.ParseOrderBy(p.order, k.Schema)
	if err != nil {
		return storage.Query{}, err
	}
	return storage.Query{Kind: k, Province: province, Filter: expr, OrderBy: order}, nil
}

// fingerprint of a page token of phase i: a token says which phase it
// continues.
func fingerprint(req *twinningv1.ListOverdueAgreementDeadlinesRequest, name string) []byte {
	return pagetoken.Fingerprint("overdue-agreement-deadlines", req.GetParent(), req.GetDeadline().String(), name)
}

// ListOverdueAgreementDeadlines pages through the candidate agreements of
// each phase in turn and lists each one's passed deadlines.
func (s *Server) ListOverdueAgreementDeadlines(ctx context.Context, req *twinningv1.ListOverdueAgreementDeadlinesRequest) (*twinningv1.ListOverdueAgreementDeadlinesResponse, error) {
	province, err := resource.ParseParent(req.GetParent(), true)
	if err != nil {
		return nil, apperr.Invalid("parent", "%v", err)
	}
	deadline := req.GetDeadline()
	if _, ok := twinningv1.Deadline_name[int32(deadline)]; !ok {
		return nil, apperr.Invalid("deadline", "unknown deadline %d", deadline)
	}
	limit, err := collection.PageLimit(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	todo := phasesOf(deadline)
	// The token's phase: the first whose fingerprint decodes it.
	var after *storage.Cursor
	if tok := req.GetPageToken(); tok != "" {
		for i, p := range todo {
			if c, err := pagetoken.Decode(tok, fingerprint(req, p.name)); err == nil {
				todo, after = todo[i:], c
				break
			} else if i == len(todo)-1 {
				return nil, err
			}
		}
	}
	today := workdays.Day(s.now().In(workdays.Vietnam))
	resp := &twinningv1.ListOverdueAgreementDeadlinesResponse{}
	for i, p := range todo {
		q, err := p.query(province, today)
		if err != nil {
			return nil, err
		}
		q.After, q.Limit = after, limit
		page, err := s.store.List(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, m := range page.Records {
			items, err := p.items(s, ctx, m.(*twinningv1.Agreement), today)
			if err != nil {
				return nil, err
			}
			for _, it := range items {
				if deadline == twinningv1.Deadline_DEADLINE_UNSPECIFIED || it.GetDeadline() == deadline {
					resp.OverdueDeadlines = append(resp.OverdueDeadlines, it)
				}
			}
		}
		if page.Next != nil {
			resp.NextPageToken = pagetoken.Encode(page.Next, fingerprint(req, p.name))
			return resp, nil
		}
		after = nil
		if limit -= len(page.Records); limit == 0 && i+1 < len(todo) {
			// The page is full: the next starts the next phase, before
			// the first key of its order (every key is a date or an enum,
			// never negative).
			start := &storage.Cursor{}
			for range strings.Split(todo[i+1].order, ",") {
				start.Values = append(start.Values, int64(-1))
			}
			resp.NextPageToken = pagetoken.Encode(start, fingerprint(req, todo[i+1].name))
			return resp, nil
		}
	}
	return resp, nil
}

// SummarizeOverdueAgreementDeadlines counts the late reports in SQL
// (Store.Summarize by province over agreements_report_due, which holds
// every column the filters and the grouping read), and the ministry's late
// opinions in SQL too (the agreements awaiting opinions past their
// deadline, from agreements_consultation_due, that no live opinion of
// provinces/mofa names); only the candidates that name another agency are
// read, a page at a time, for the agencies' late opinions. So its cost
// follows the agreements awaiting opinions, not every agreement held.
func (s *Server) SummarizeOverdueAgreementDeadlines(ctx context.Context, req *twinningv1.SummarizeOverdueAgreementDeadlinesRequest) (*twinningv1.SummarizeOverdueAgreementDeadlinesResponse, error) {
	province, err := resource.ParseParent(req.GetParent(), true)
	if err != nil {
		return nil, apperr.Invalid("parent", "%v", err)
	}
	today := workdays.Day(s.now().In(workdays.Vietnam))
	counts := map[string]*twinningv1.ProvinceOverdueCount{}
	resp := &twinningv1.SummarizeOverdueAgreementDeadlinesResponse{}
	count := func(province string) *twinningv1.ProvinceOverdueCount {
		c := counts[province]
		if c == nil {
			c = &twinningv1.ProvinceOverdueCount{Province: province}
			counts[province] = c
		}
		return c
	}
	// countSQL adds to each province's count, by add, the agreements that
	// filter matches (and, with unanswered, that no such answer names),
	// counted by Store.Summarize without reading the agreements.
	countSQLOf := func(province, f string, unanswered *storage.Answers, add func(*twinningv1.ProvinceOverdueCount, int32)) error {
		expr, err := filter.Parse(f, resource.Agreements.Schema)
		if err != nil {
			return err
		}
		rows, err := s.store.Summarize(ctx, storage.SummaryQuery{Kind: resource.Agreements, Province: province, Filter: expr, Dims: []storage.Dim{{}}, Now: today, Unanswered: unanswered})
		for _, r := range rows {
			p, _ := r.Keys[0].(string)
			add(count(p), int32(r.Count))
		}
		return err
	}
	opinions, reports := phases[0], phases[1]
	// Every agreement reports' filter matches has its report overdue.
	if err := countSQLOf(province, reports.filter(today), nil, func(c *twinningv1.ProvinceOverdueCount, n int32) { c.OverdueReports += n }); err != nil {
		return nil, err
	}
	// The ministry's late opinions: the candidates with a request date (an
	// overdue opinion needs one) that no live opinion of provinces/mofa
	// names, one seek each in the opinions' agreement index.
	// A province's node counts only its own (seesMofaOpinionsOf).
	mofaCounted := province
	if s.member != resource.Ministry && province == resource.AllProvinces {
		mofaCounted = s.member
	}
	if s.member == resource.Ministry || mofaCounted == s.member {
		if err := countSQLOf(mofaCounted, opinions.filter(today)+" AND consultation.requested_date >= 0001",
			&storage.Answers{Kind: resource.AgreementOpinions, Field: opinionAgreement, Province: resource.Ministry},
			func(c *twinningv1.ProvinceOverdueCount, n int32) { c.OverdueOpinions += n }); err != nil {
			return nil, err
		}
	}
	// The agencies' late opinions, from the candidates that name an agency
	// (the index of consultation.agency_opinions.agency), a page at a time.
	q, err := opinions.query(province, today)
	if err != nil {
		return nil, err
	}
	if q.Filter, err = filter.Parse(opinions.filter(today)+" AND consultation.agency_opinions.agency:*", resource.Agreements.Schema); err != nil {
		return nil, err
	}
	q.Limit = collection.MaxPageSize
	for {
		page, err := s.store.List(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, m := range page.Records {
			for _, it := range overdueAgencyOpinions(m.(*twinningv1.Agreement), today) {
				count(it.GetProvince()).OverdueOpinions++
			}
		}
		if page.Next == nil {
			break
		}
		q.After = page.Next
	}
	for _, p := range slices.Sorted(maps.Keys(counts)) {
		c := counts[p]
		resp.Provinces = append(resp.Provinces, c)
		resp.OverdueOpinions += c.OverdueOpinions
		resp.OverdueReports += c.OverdueReports
	}
	return resp, nil
}

// item is one deadline of a passed unmet today.
func item(a *twinningv1.Agreement, today time.Time, d twinningv1.Deadline, agency string, start, due time.Time, estimated bool) *twinningv1.OverdueDeadline {
	province := ""
	if n, err := resource.ParseName(a.GetName(), resource.Agreements.Collection); err == nil {
		province = n.Province
	}
	return &twinningv1.OverdueDeadline{Agreement: a.GetName(), Province: province, DisplayName: a.GetDisplayName(),
		Deadline: d, Agency: agency, StartDate: civil(start), DueDate: civil(due),
		DaysLate: int32(today.Sub(due).Hours() / 24), Estimated: estimated}
}

// overdueOpinions returns the opinions awaited past their deadline,
// computed from a's dates with the one calendar (never from a due date
// someone stored). The ministry's opinion is met by a live AgreementOpinion
// of provinces/mofa naming a, found by the index on the agreement column;
// another agency's by its opinion_date on a.
func (s *Server) overdueOpinions(ctx context.Context, a *twinningv1.Agreement, today time.Time) ([]*twinningv1.OverdueDeadline, error) {
	c := a.GetConsultation()
	requested, ok := lastDay(c.GetRequestedDate())
	if !ok || c.GetState() != twinningv1.Agreement_CONSULTATION_STATE_REQUESTED {
		return nil, nil
	}
	var out []*twinningv1.OverdueDeadline
	if due, est := workdays.AddWorkingDays(requested, opinionWorkingDays); due.Before(today) && s.seesMofaOpinionsOf(a.GetName()) {
		answered, err := s.mofaAnswered(ctx, a.GetName())
		if err != nil {
			return nil, err
		}
		if !answered {
			out = append(out, item(a, today, twinningv1.Deadline_DEADLINE_MOFA_OPINION, "", requested, due, est))
		}
	}
	return append(out, overdueAgencyOpinions(a, today)...), nil
}

// overdueAgencyOpinions returns the opinions of other agencies that a's
// province asked for and has not recorded, past their deadline: from the
// consultation's requested_date, or the agency's own when later. Both
// count from their last day, and the later one wins: an agency asked on a
// day within a consultation known by its month only (allowed, as the day
// may be the month's) counts from the month's last day too, as the views
// seek candidates by the consultation's date and would otherwise miss it
// until then.
func overdueAgencyOpinions(a *twinningv1.Agreement, today time.Time) []*twinningv1.OverdueDeadline {
	c := a.GetConsultation()
	requested, ok := lastDay(c.GetRequestedDate())
	if !ok || c.GetState() != twinningv1.Agreement_CONSULTATION_STATE_REQUESTED {
		return nil
	}
	var out []*twinningv1.OverdueDeadline
	for _, o := range c.GetAgencyOpinions() {
		if o.GetOpinionDate() != nil {
			continue
		}
		start := requested
		if d, ok := lastDay(o.GetRequestedDate()); ok && d.After(start) {
			start = d
		}
		if due, est := workdays.AddWorkingDays(start, opinionWorkingDays); due.Before(today) {
			out = append(out, item(a, today, twinningv1.Deadline_DEADLINE_AGENCY_OPINION, o.GetAgency(), start, due, est))
		}
	}
	return out
}

// overdueReport returns a's report if it is past due: signed (on or after
// the law took effect), unreported, and its 15 days gone since, ended on a
// working day. An agreement whose consultation is NOT_REQUIRED is outside
// the procedure of the provincial level (a department's document with a
// business, say, under Decree 64/2021 [U]) and owes no report to the Prime
// Minister.
func overdueReport(a *twinningv1.Agreement, today time.Time) []*twinningv1.OverdueDeadline {
	signed, ok := lastDay(a.GetSignedDate())
	if !ok || a.GetReportDate() != nil || firstDay(a.GetSignedDate()).Before(lawInForce) ||
		a.GetConsultation().GetState() == twinningv1.Agreement_CONSULTATION_STATE_NOT_REQUIRED {
		return nil
	}
	if due, est := workdays.AddCalendarDays(signed, reportDays); due.Before(today) {
		return []*twinningv1.OverdueDeadline{item(a, today, twinningv1.Deadline_DEADLINE_REPORT, "", signed, due, est)}
	}
	return nil
}

// seesMofaOpinionsOf reports whether this node holds every opinion the
// ministry gives on agreement: the ministry's node does, and a province's
// on its own agreements (an opinion is readable by the agreement's owner:
// collection.checkAudience). The ministry's opinion on another province's
// agreement may be kept from this node (national, or restricted to the
// owner), and a province's node called it overdue when it was given (an
// outside review).
func (s *Server) seesMofaOpinionsOf(agreement string) bool {
	if s.member == resource.Ministry {
		return true
	}
	n, err := resource.ParseName(agreement, resource.Agreements.Collection)
	return err == nil && n.Province == s.member
}

// mofaAnswered reports whether a live opinion of the ministry names the
// agreement.
func (s *Server) mofaAnswered(ctx context.Context, agreement string) (bool, error) {
	expr, err := filter.Parse(fmt.Sprintf("agreement = %q", agreement), resource.AgreementOpinions.Schema)
	if err != nil {
		return false, err
	}
	page, err := s.store.List(ctx, storage.Query{Kind: resource.AgreementOpinions, Province: resource.Ministry, Filter: expr, Limit: 1})
	if err != nil {
		return false, err
	}
	return len(page.Records) > 0, nil
}

// lastDay is the last day of the period a date names (a day, a month or a
// year), or false when it is unset.
func lastDay(d *typev1.Date) (time.Time, bool) {
	switch {
	case d == nil || d.GetYear() == 0:
		return time.Time{}, false
	case d.GetMonth() == 0:
		return workdays.Date(int(d.GetYear()), time.December, 31), true
	case d.GetDay() == 0:
		return workdays.Date(int(d.GetYear()), time.Month(d.GetMonth())+1, 0), true
	}
	return workdays.Date(int(d.GetYear()), time.Month(d.GetMonth()), int(d.GetDay())), true
}

// firstDay is the first day of the period of a set date.
func firstDay(d *typev1.Date) time.Time {
	return workdays.Date(int(d.GetYear()), time.Month(max(d.GetMonth(), 1)), int(max(d.GetDay(), 1)))
}

func civil(t time.Time) *typev1.Date {
	return &typev1.Date{Year: int32(t.Year()), Month: int32(t.Month()), Day: int32(t.Day())}
}
