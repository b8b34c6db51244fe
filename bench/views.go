package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/server"
)

// runViews times the workflow views on the ministry's node holding the
// records of every member: who has not acknowledged an incident, which
// requests for information are overdue, and which agreements are overdue
// for an opinion or a report.
func runViews(args []string) error {
	fs := flag.NewFlagSet("views", flag.ExitOnError)
	records := fs.Int("records", 3_500_000, "records in all, spread evenly over the 35 members")
	dataDir := fs.String("data", "", "keep the loaded node here and reuse it (default: temporary)")
	queries := fs.Int("queries", 20, "queries per view")
	only := fs.String("only", "", "time only the views whose name contains this")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the queries here")
	store := fs.String("store", "", "the ministry's store on this PostgreSQL database (postgres://...; an empty one, loaded once, remembered by -data) instead of SQLite in -data")
	fs.Parse(args)

	conn, stop, err := ministryOver(*dataDir, *store, *records, "workflow", workflowRecord, server.Limits{})
	if err != nil {
		return err
	}
	defer stop()
	border, national, twinning := borderv1.NewBorderServiceClient(conn), nationalv1.NewNationalServiceClient(conn), twinningv1.NewTwinningServiceClient(conn)

	type view struct {
		name string
		call func() (items int, err error)
	}
	views := []view{
		{"incidents not acknowledged, national, page of 50", func() (int, error) {
			r, err := border.ListIncidentAcknowledgementStatuses(ctx, &borderv1.ListIncidentAcknowledgementStatusesRequest{Parent: "provinces/-", PageSize: 50, WaitingOnly: true})
			return len(r.GetStatuses()), err
		}},
		{"incidents not acknowledged, one province's, page of 50", func() (int, error) {
			r, err := border.ListIncidentAcknowledgementStatuses(ctx, &borderv1.ListIncidentAcknowledgementStatusesRequest{Parent: "provinces/cao-bang", PageSize: 50, WaitingOnly: true})
			return len(r.GetStatuses()), err
		}},
		{"open incidents older than 30 days not acknowledged, page of 50", func() (int, error) {
			r, err := border.ListIncidentAcknowledgementStatuses(ctx, &borderv1.ListIncidentAcknowledgementStatusesRequest{Parent: "provinces/-", PageSize: 50, WaitingOnly: true, Filter: "state = OPEN AND occur_time.age > 30"})
			return len(r.GetStatuses()), err
		}},
		{"requests for information overdue, page of 50", func() (int, error) {
			r, err := national.ListInformationRequestStatuses(ctx, &nationalv1.ListInformationRequestStatusesRequest{Parent: "provinces/mofa", PageSize: 50, OverdueOnly: true})
			return len(r.GetStatuses()), err
		}},
	}
	for _, parent := range []string{"provinces/-", "provinces/cao-bang"} {
		for _, d := range []twinningv1.Deadline{twinningv1.Deadline_DEADLINE_UNSPECIFIED, twinningv1.Deadline_DEADLINE_MOFA_OPINION, twinningv1.Deadline_DEADLINE_REPORT} {
			views = append(views, view{fmt.Sprintf("overdue agreement deadlines (%s), %s, page of 50", d, parent), func() (int, error) {
				r, err := twinning.ListOverdueAgreementDeadlines(ctx, &twinningv1.ListOverdueAgreementDeadlinesRequest{Parent: parent, Deadline: d, PageSize: 50})
				return len(r.GetOverdueDeadlines()), err
			}})
		}
		views = append(views, view{"overdue opinions and reports counted by province, " + parent, func() (int, error) {
			r, err := twinning.SummarizeOverdueAgreementDeadlines(ctx, &twinningv1.SummarizeOverdueAgreementDeadlinesRequest{Parent: parent})
			return int(r.GetOverdueReports() + r.GetOverdueOpinions()), err
		}})
	}
	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	fmt.Printf("Workflow views on the ministry's node over %d records of 35 members, %d queries each, concurrency 1:\n\n", *records, *queries)
	fmt.Printf("| view | items on the page (counts: overdue in all) | p50 ms | p99 ms |\n|---|---|---|---|\n")
	for _, v := range views {
		if !strings.Contains(v.name, *only) {
			continue
		}
		var items int
		r := measureN(*queries, func() error {
			n, err := v.call()
			items = n
			return err
		})
		if r.errors > 0 {
			_, err := v.call()
			return fmt.Errorf("%s: %v", v.name, err)
		}
		fmt.Printf("| %s | %d | %s | %s |\n", v.name, items, ms(r.p50), ms(r.p99))
	}
	return nil
}

// workflowsAsOf is the day the workflow dataset describes: incidents,
// requests and agreements are dated in the years before it.
var workflowsAsOf = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// The slots of i%20 the workflow dataset gives to its workflows; the
// other slots are nationalRecord's (projects, delegations, agreements,
// trade reports).
const (
	slotAcknowledgeSecond = 16 // acknowledges the incident of the member two before, at i+1
	slotIncident          = 17 // an incident telling the next two members; the ministry: a request for information
	slotAcknowledgeFirst  = 18 // acknowledges the incident of the member before, at i-1
	slotAnswer            = 19 // answers a request for information addressed to this member
)

// workflowRecord is record i of a member in a federation at work: besides
// nationalRecord's records, incidents that notify the next two provinces,
// their acknowledgements (70% and 60% of them), the ministry's requests
// for information to five provinces each and the provinces' answers (80%),
// and agreements going through the Law 70/2020 procedure, with the
// ministry's opinions on some of the drafts.
func workflowRecord(member string, memberIndex, i int) proto.Message {
	provinces := resource.Provinces()
	r := rand.New(rand.NewPCG(uint64(i), uint64(memberIndex)+1000))
	ago := func(maxDays int) time.Time {
		return workflowsAsOf.Add(-time.Duration(r.IntN(maxDays*24)) * time.Hour)
	}
	stamp := func(m proto.Message, t time.Time) proto.Message {
		k, _ := resource.KindOfMessage(m.ProtoReflect().Descriptor())
		k.SetCreateTime(m, timestamppb.New(t))
		k.SetUpdateTime(m, timestamppb.New(t))
		k.SetEtag(m, "1")
		return m
	}
	public := typev1.Visibility_VISIBILITY_PUBLIC
	n := len(provinces)
	other := func(delta int) string { return provinces[((memberIndex+delta)%n+n)%n].Slug }
	incidentName := func(owner string, j int) string {
		return fmt.Sprintf("provinces/%s/border-incidents/i%07d", owner, j)
	}
	acknowledge := func(owner string, j, percent int) proto.Message {
		if r.IntN(100) >= percent {
			return nil
		}
		t := ago(900)
		return stamp(&borderv1.IncidentAcknowledgement{
			Name:            fmt.Sprintf("provinces/%s/incident-acknowledgements/a%07d", member, i),
			BorderIncident:  incidentName(owner, j),
			AcknowledgeTime: timestamppb.New(t), Note: "Received; the commune's border guard post informed.", Visibility: public}, t)
	}
	var m proto.Message
	switch slot := i % 20; {
	case member == resource.Ministry && slot == slotIncident:
		addressed := make([]string, 5)
		for k := range addressed {
			addressed[k] = provinces[(i/20+k)%n].Slug
		}
		t := ago(720)
		m = &nationalv1.InformationRequest{Name: fmt.Sprintf("provinces/%s/information-requests/r%07d", member, i),
			DisplayName: fmt.Sprintf("Report on IUU fishing, round %d", i), Collection: "border-incidents",
			Question: "Vessels and incidents of the quarter, with measures taken.", Provinces: addressed,
			DueTime: timestamppb.New(t.AddDate(0, 0, 30)), Visibility: public}
		return m // the ministry's own records are stamped by its write path
	case member == resource.Ministry && slot == slotAcknowledgeFirst:
		// The ministry's opinion on the m-th draft of province q, for 70%
		// of the drafts: its records of this slot take the provinces in
		// turn, so they cover about as many drafts as the provinces hold.
		k := i / 20
		q, m := k%n, k/n
		if drafts := draftsOf(q); m < len(drafts) && r.IntN(100) < 70 {
			return &twinningv1.AgreementOpinion{Name: fmt.Sprintf("provinces/%s/agreement-opinions/o%07d", member, i),
				Agreement: fmt.Sprintf("provinces/%s/agreements/a%07d", provinces[q].Slug, drafts[m]), Position: twinningv1.OpinionPosition(1 + r.IntN(3)),
				OpinionDate: &typev1.Date{Year: 2026, Month: 10, Day: int32(1 + r.IntN(28))}, Summary: "No objection; align the text with Law 70/2020.", Visibility: public}
		}
	case member == resource.Ministry:
	case slot == slotIncident:
		t := ago(1000)
		m = stamp(&borderv1.BorderIncident{Name: incidentName(member, i), DisplayName: fmt.Sprintf("Incident %d near marker %d", i, r.IntN(1971)),
			Category: borderv1.BorderIncident_Category(1 + r.IntN(7)), Severity: borderv1.BorderIncident_Severity(1 + r.IntN(4)),
			State: borderv1.BorderIncident_State(1 + r.IntN(3)), OccurTime: timestamppb.New(t.Add(-time.Hour)),
			NeighbourCountry: "CN", NotifyProvinces: []string{other(1), other(2)}, Visibility: public}, t)
	case slot == slotAcknowledgeFirst:
		m = acknowledge(other(-1), i-1, 70)
	case slot == slotAcknowledgeSecond:
		m = acknowledge(other(-2), i+1, 60)
	case slot == slotAnswer && r.IntN(100) < 80:
		// Request j of the ministry (j%20 == slotIncident) is addressed to
		// provinces (j/20 ... j/20+4) mod n: answer the latest one before i
		// addressed to this member.
		t := i / 20
		for t >= 0 && (memberIndex-t%n+n)%n >= 5 {
			t--
		}
		if t >= 0 {
			at := ago(700)
			m = stamp(&nationalv1.InformationResponse{Name: fmt.Sprintf("provinces/%s/information-responses/s%07d", member, i),
				Request: fmt.Sprintf("provinces/%s/information-requests/r%07d", resource.Ministry, t*20+slotIncident),
				Answer:  "Two vessels inspected; no violation found.", Visibility: public}, at)
		}
	}
	if m != nil {
		return m
	}
	m = nationalRecord(member, memberIndex, i)
	if a, ok := m.(*twinningv1.Agreement); ok {
		inProcedure(a, r)
	}
	if member != resource.Ministry {
		stamp(m, ago(3000))
	}
	return m
}

// draftsOf returns the indexes of the drafts inProcedure makes among the
// first records of the member at memberIndex, in order.
func draftsOf(memberIndex int) []int {
	draftsOnce.Do(func() {
		for p := range draftIndexes {
			for i := range 400_000 {
				if draftAgreement(i, p) {
					draftIndexes[p] = append(draftIndexes[p], i)
				}
			}
		}
	})
	return draftIndexes[memberIndex]
}

var (
	draftsOnce   sync.Once
	draftIndexes [34][]int
)

// draftAgreement reports whether record i of the member at memberIndex is
// an agreement inProcedure made a draft waiting for opinions.
func draftAgreement(i, memberIndex int) bool {
	if i < 0 || i%20 < 13 || i%20 > 15 {
		return false
	}
	r := rand.New(rand.NewPCG(uint64(i), uint64(memberIndex)+1000))
	return r.IntN(100) == 0
}

// inProcedure gives an agreement the dates of the Law 70/2020 procedure:
// one in a hundred is a draft awaiting opinions, requested in the last two
// years (5,000 of the 3,500,000 records' 525,000 agreements: some 35 times
// the agreements the provinces sign in a year), 30% of them also asked of
// two other agencies, one of which has not answered; of the signed ones,
// 95% were reported, most within the 15 days.
func inProcedure(a *twinningv1.Agreement, r *rand.Rand) {
	date := func(t time.Time) *typev1.Date {
		return &typev1.Date{Year: int32(t.Year()), Month: int32(t.Month()), Day: int32(t.Day())}
	}
	if r.IntN(100) == 0 {
		requested := workflowsAsOf.AddDate(0, 0, -r.IntN(730))
		a.State, a.SignedDate = twinningv1.Agreement_STATE_DRAFT, nil
		a.Consultation = &twinningv1.Agreement_Consultation{State: twinningv1.Agreement_CONSULTATION_STATE_REQUESTED, RequestedDate: date(requested)}
		if r.IntN(10) < 3 {
			a.Consultation.AgencyOpinions = []*twinningv1.Agreement_AgencyOpinion{
				{Agency: "Ministry of Public Security"},
				{Agency: "Ministry of Industry and Trade", OpinionDate: date(requested.AddDate(0, 0, 6)), Position: twinningv1.OpinionPosition_OPINION_POSITION_AGREE},
			}
		}
		return
	}
	signed := time.Date(int(a.SignedDate.Year), time.Month(a.SignedDate.Month), int(a.SignedDate.Day), 0, 0, 0, 0, time.UTC)
	a.Consultation = &twinningv1.Agreement_Consultation{State: twinningv1.Agreement_CONSULTATION_STATE_OPINION_RECEIVED,
		RequestedDate: date(signed.AddDate(0, 0, -40)), OpinionDate: date(signed.AddDate(0, 0, -33))}
	if r.IntN(100) < 95 {
		a.ReportDate = date(signed.AddDate(0, 0, r.IntN(20)))
	}
}
