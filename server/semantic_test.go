package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	investmentv1 "github.com/provex/provex/gen/go/provex/investment/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/filter"
	"github.com/provex/provex/resource"
)

// TestSemanticValidation sends records that are well-formed but meaningless
// through the node's gRPC API: each is refused with INVALID_ARGUMENT naming
// exactly the field to fix, nothing is stored, and the same records with
// that field fixed are accepted.
func TestSemanticValidation(t *testing.T) {
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	p := tn.parent()
	d := func(y, m, day int32) *typev1.Date { return &typev1.Date{Year: y, Month: m, Day: day} }
	occur := time.Date(2024, 9, 8, 6, 0, 0, 0, time.UTC)

	delegation := func(edit func(*twinningv1.Delegation)) func(string) error {
		return func(id string) error {
			x := &twinningv1.Delegation{DisplayName: "Guangxi delegation", Direction: 1, MemberCount: 10, ForeignerCount: 8,
				Countries: []string{"CN"}, StartDate: d(2024, 5, 6), EndDate: d(2024, 5, 8)}
			edit(x)
			_, err := tn.Twinning.CreateDelegation(ctx, &twinningv1.CreateDelegationRequest{Parent: p, DelegationId: id, Delegation: x})
			return err
		}
	}
	agreement := func(edit func(*twinningv1.Agreement)) func(string) error {
		return func(id string) error {
			x := &twinningv1.Agreement{DisplayName: "MoU with Baise", Kind: 2, PartnerCountries: []string{"CN"}, SignedDate: d(2024, 3, 1)}
			edit(x)
			_, err := tn.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: p, AgreementId: id, Agreement: x})
			return err
		}
	}
	incident := func(edit func(*borderv1.BorderIncident)) func(string) error {
		return func(id string) error {
			x := &borderv1.BorderIncident{DisplayName: "Flood at marker 836", Category: 5, OccurTime: timestamppb.New(occur)}
			edit(x)
			_, err := tn.Border.CreateBorderIncident(ctx, &borderv1.CreateBorderIncidentRequest{Parent: p, BorderIncidentId: id, BorderIncident: x})
			return err
		}
	}
	trade := func(edit func(*borderv1.TradeReport)) func(string) error {
		return func(id string) error {
			x := &borderv1.TradeReport{PeriodKind: 3, PeriodStart: d(2024, 1, 1), PeriodEnd: d(2024, 12, 31),
				ExportValue: &typev1.Money{CurrencyCode: "USD", Units: 1000}}
			edit(x)
			_, err := tn.Border.CreateTradeReport(ctx, &borderv1.CreateTradeReportRequest{Parent: p, TradeReportId: id, TradeReport: x})
			return err
		}
	}
	project := func(edit func(*investmentv1.Project)) func(string) error {
		return func(id string) error {
			x := &investmentv1.Project{DisplayName: "Hydropower plant", Kind: 1, InvestorCountry: "GB",
				RegisteredCapital: &typev1.Money{CurrencyCode: "VND", Units: 1e9}, ApprovedDate: d(2020, 3, 0)}
			edit(x)
			_, err := tn.Investment.CreateProject(ctx, &investmentv1.CreateProjectRequest{Parent: p, ProjectId: id, Project: x})
			return err
		}
	}
	lead := func(edit func(*investmentv1.InvestorLead)) func(string) error {
		return func(id string) error {
			x := &investmentv1.InvestorLead{Investor: "Foxconn", Country: "TW", ExpectedCapital: &typev1.Money{CurrencyCode: "EUR", Units: 5}}
			edit(x)
			_, err := tn.Investment.CreateInvestorLead(ctx, &investmentv1.CreateInvestorLeadRequest{Parent: p, InvestorLeadId: id, InvestorLead: x})
			return err
		}
	}

	for i, c := range []struct {
		name  string
		bad   func(id string) error
		field string
		good  func(id string) error
	}{
		{"31 February", agreement(func(a *twinningv1.Agreement) { a.SignedDate = d(2023, 2, 31) }), "agreement.signed_date",
			agreement(func(a *twinningv1.Agreement) { a.SignedDate = d(2024, 2, 29) })},
		{"a day without a month", agreement(func(a *twinningv1.Agreement) { a.SignedDate = d(2023, 0, 12) }), "agreement.signed_date",
			agreement(func(a *twinningv1.Agreement) { a.SignedDate = d(2023, 0, 0) })},
		{"end before start", delegation(func(x *twinningv1.Delegation) { x.EndDate = d(2024, 5, 5) }), "delegation.end_date",
			delegation(func(x *twinningv1.Delegation) { x.EndDate = d(2024, 5, 0) })},
		{"expiry before signing", agreement(func(a *twinningv1.Agreement) { a.ExpiryDate = d(2023, 0, 0) }), "agreement.expiry_date",
			agreement(func(a *twinningv1.Agreement) { a.ExpiryDate = d(2024, 0, 0) })},
		{"period end before its start", trade(func(r *borderv1.TradeReport) { r.PeriodEnd = d(2023, 12, 31) }), "trade_report.period_end",
			trade(func(r *borderv1.TradeReport) { r.PeriodEnd = d(2024, 1, 1) })},
		{"completed before approved", project(func(x *investmentv1.Project) { x.CompletedDate = d(2020, 2, 28) }), "project.completed_date",
			project(func(x *investmentv1.Project) { x.CompletedDate = d(2020, 3, 1) })},
		{"resolved before it occurred", incident(func(x *borderv1.BorderIncident) { x.ResolveTime = timestamppb.New(occur.Add(-time.Second)) }), "border_incident.resolve_time",
			incident(func(x *borderv1.BorderIncident) { x.ResolveTime = timestamppb.New(occur) })},
		{"more foreigners than members", delegation(func(x *twinningv1.Delegation) { x.ForeignerCount = 11 }), "delegation.foreigner_count",
			delegation(func(x *twinningv1.Delegation) { x.ForeignerCount = 10 })},
		{"whitespace-only display name", delegation(func(x *twinningv1.Delegation) { x.DisplayName = "   " }), "delegation.display_name",
			delegation(func(x *twinningv1.Delegation) { x.DisplayName = "Đoàn Quảng Tây" })},
		{"NUL in a display name", incident(func(x *borderv1.BorderIncident) { x.DisplayName = "Flood\x00" }), "border_incident.display_name",
			incident(func(x *borderv1.BorderIncident) { x.DisplayName = "Flood" })},
		{"country UK", delegation(func(x *twinningv1.Delegation) { x.Countries = []string{"CN", "UK"} }), "delegation.countries[1]",
			delegation(func(x *twinningv1.Delegation) { x.Countries = []string{"CN", "GB"} })},
		{"country ZZ", project(func(x *investmentv1.Project) { x.InvestorCountry = "ZZ" }), "project.investor_country",
			project(func(x *investmentv1.Project) { x.InvestorCountry = "KH" })},
		{"foreign party of country UK", agreement(func(a *twinningv1.Agreement) {
			a.ForeignParties = []*typev1.ForeignParty{{Name: "Baise", CountryCode: "CN"}, {Name: "Kent", CountryCode: "UK"}}
		}), "agreement.foreign_parties[1].country_code",
			agreement(func(a *twinningv1.Agreement) {
				a.ForeignParties = []*typev1.ForeignParty{{Name: "Kent", CountryCode: "GB"}}
			})},
		{"currency XYZ", trade(func(r *borderv1.TradeReport) { r.ImportValue = &typev1.Money{CurrencyCode: "XYZ", Units: 1} }), "trade_report.import_value.currency_code",
			trade(func(r *borderv1.TradeReport) { r.ImportValue = &typev1.Money{CurrencyCode: "VND", Units: 1} })},
		{"merged-away province in visible_to", delegation(func(x *twinningv1.Delegation) { x.Visibility, x.VisibleTo = 3, []string{"lang-son", "bac-giang"} }), "delegation.visible_to[1]",
			delegation(func(x *twinningv1.Delegation) { x.Visibility, x.VisibleTo = 3, []string{"lang-son", "bac-ninh"} })},
		{"readers of a public record", delegation(func(x *twinningv1.Delegation) { x.Visibility, x.VisibleTo = 1, []string{"lang-son"} }), "delegation.visible_to",
			delegation(func(x *twinningv1.Delegation) { x.Visibility, x.VisibleTo = 3, []string{"lang-son"} })},
		{"readers of a national record", agreement(func(a *twinningv1.Agreement) { a.Visibility, a.VisibleTo = 2, []string{"lang-son"} }), "agreement.visible_to",
			agreement(func(a *twinningv1.Agreement) { a.Visibility = 2 })},
		{"readers without a visibility", delegation(func(x *twinningv1.Delegation) { x.VisibleTo = []string{"lang-son"} }), "delegation.visible_to",
			delegation(func(x *twinningv1.Delegation) {})},
		{"the owner among the readers", delegation(func(x *twinningv1.Delegation) { x.Visibility, x.VisibleTo = 3, []string{"lang-son", "cao-bang"} }), "delegation.visible_to[1]",
			delegation(func(x *twinningv1.Delegation) { x.Visibility, x.VisibleTo = 3, []string{"lang-son"} })},
		{"the owner among the provinces to notify", incident(func(x *borderv1.BorderIncident) { x.NotifyProvinces = []string{"lang-son", "cao-bang"} }), "border_incident.notify_provinces[1]",
			incident(func(x *borderv1.BorderIncident) { x.NotifyProvinces = []string{"lang-son"} })},
		{"a local level the schema does not define", agreement(func(a *twinningv1.Agreement) { a.Signatory = &typev1.LocalUnit{Level: 99, Name: "Ha Lang commune"} }), "agreement.signatory.level",
			agreement(func(a *twinningv1.Agreement) {
				a.Signatory = &typev1.LocalUnit{Level: typev1.LocalLevel_LOCAL_LEVEL_COMMUNE, Name: "Ha Lang commune"}
			})},
		{"unknown province to notify", incident(func(x *borderv1.BorderIncident) { x.NotifyProvinces = []string{"lang-son", "ha-giang", "quang-tay"} }), "border_incident.notify_provinces[1] border_incident.notify_provinces[2]",
			incident(func(x *borderv1.BorderIncident) { x.NotifyProvinces = []string{"lang-son", "tuyen-quang"} })},
		{"border gate that is not a name", incident(func(x *borderv1.BorderIncident) { x.BorderGate = "Tà Lùng" }), "border_incident.border_gate",
			incident(func(x *borderv1.BorderIncident) { x.BorderGate = p + "/border-gates/ta-lung" })},
		{"trade report of a marker", trade(func(r *borderv1.TradeReport) { r.BorderGate = p + "/border-markers/m836" }), "trade_report.border_gate",
			trade(func(r *borderv1.TradeReport) { r.BorderGate = p + "/border-gates/ta-lung" })},
		{"partnership of another kind", agreement(func(a *twinningv1.Agreement) { a.Partnership = p + "/agreements/baise" }), "agreement.partnership",
			agreement(func(a *twinningv1.Agreement) { a.Partnership = p + "/partnerships/baise" })},
		{"project link to a lead of a merged province", project(func(x *investmentv1.Project) { x.InvestorLead = "provinces/ha-giang/investor-leads/x" }), "project.investor_lead",
			project(func(x *investmentv1.Project) { x.InvestorLead = "provinces/tuyen-quang/investor-leads/x" })},
		{"lead from an event of another kind", lead(func(x *investmentv1.InvestorLead) { x.PromotionEvent = p + "/projects/x" }), "investor_lead.promotion_event",
			lead(func(x *investmentv1.InvestorLead) { x.PromotionEvent = p + "/promotion-events/x" })},
	} {
		t.Run(c.name, func(t *testing.T) {
			id := fmt.Sprintf("case-%d", i)
			err := c.bad(id)
			wantInvalid(t, err, c.name, strings.Fields(c.field)...)
			st, _ := status.FromError(err)
			for _, det := range st.Details() {
				if br, ok := det.(*errdetails.BadRequest); ok {
					for _, fv := range br.GetFieldViolations() {
						if fv.GetDescription() == "" || fv.GetReason() == "" {
							t.Errorf("violation %v has no description or reason", fv)
						}
					}
				}
			}
			// The good twin goes in under the id the bad one asked for:
			// nothing was stored for it.
			if err := c.good(id); err != nil {
				t.Errorf("fixed record refused: %v", err)
			}
		})
	}
}

// TestSemanticValidationOnUpdate checks that Update judges the record after
// its mask is applied, and reports a rule between two fields on the field
// the mask changed.
func TestSemanticValidationOnUpdate(t *testing.T) {
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	x, err := tn.Twinning.CreateDelegation(ctx, &twinningv1.CreateDelegationRequest{Parent: tn.parent(), DelegationId: "d1", Delegation: &twinningv1.Delegation{
		DisplayName: "Guangxi delegation", Direction: 1, Countries: []string{"CN"},
		StartDate: &typev1.Date{Year: 2024, Month: 5, Day: 6}, EndDate: &typev1.Date{Year: 2024, Month: 5, Day: 8},
	}})
	mustf(t, err, "create")
	for _, c := range []struct {
		path  string
		edit  func(*twinningv1.Delegation)
		field string
	}{
		{"start_date", func(x *twinningv1.Delegation) { x.StartDate = &typev1.Date{Year: 2024, Month: 6, Day: 1} }, "delegation.end_date"},
		{"start_date", func(x *twinningv1.Delegation) { x.StartDate = &typev1.Date{Year: 2024, Month: 2, Day: 30} }, "delegation.start_date"},
		{"end_date.month", func(x *twinningv1.Delegation) { x.EndDate = &typev1.Date{Month: 4} }, "delegation.end_date"}, // 2024-04-08
		{"visible_to", func(x *twinningv1.Delegation) { x.VisibleTo = []string{"yen-bai"} }, "delegation.visible_to[0]"},
		{"display_name", func(x *twinningv1.Delegation) { x.DisplayName = "Guangxi\tdelegation" }, "delegation.display_name"},
	} {
		next := &twinningv1.Delegation{Name: x.Name}
		c.edit(next)
		_, err := tn.Twinning.UpdateDelegation(ctx, &twinningv1.UpdateDelegationRequest{Delegation: next, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{c.path}}})
		wantInvalid(t, err, "update "+c.path, c.field)
	}
	got, err := tn.Twinning.GetDelegation(ctx, &twinningv1.GetDelegationRequest{Name: x.Name})
	mustf(t, err, "get")
	if got.Etag != x.Etag {
		t.Errorf("refused updates changed the record: etag %s, want %s", got.Etag, x.Etag)
	}
}

// TestReadersOnUpdate: a reader list stays meaningful whichever fields an
// update changes: making a restricted record public or national without
// clearing its readers, or adding the owner to them, is refused on
// visible_to and changes nothing; both fields together are accepted.
func TestReadersOnUpdate(t *testing.T) {
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	x, err := tn.Twinning.CreateDelegation(ctx, &twinningv1.CreateDelegationRequest{Parent: tn.parent(), DelegationId: "d1", Delegation: &twinningv1.Delegation{
		DisplayName: "Guangxi delegation", Direction: 1, Countries: []string{"CN"}, StartDate: &typev1.Date{Year: 2024, Month: 5, Day: 6},
		Visibility: typev1.Visibility_VISIBILITY_RESTRICTED, VisibleTo: []string{"lang-son"},
	}})
	mustf(t, err, "create")
	update := func(paths []string, edit func(*twinningv1.Delegation)) (*twinningv1.Delegation, error) {
		next := &twinningv1.Delegation{Name: x.Name}
		edit(next)
		return tn.Twinning.UpdateDelegation(ctx, &twinningv1.UpdateDelegationRequest{Delegation: next, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
	}
	_, err = update([]string{"visibility"}, func(d *twinningv1.Delegation) { d.Visibility = typev1.Visibility_VISIBILITY_PUBLIC })
	wantInvalid(t, err, "made public, readers kept", "delegation.visible_to")
	_, err = update([]string{"visibility"}, func(d *twinningv1.Delegation) { d.Visibility = typev1.Visibility_VISIBILITY_NATIONAL })
	wantInvalid(t, err, "made national, readers kept", "delegation.visible_to")
	_, err = update([]string{"visible_to"}, func(d *twinningv1.Delegation) { d.VisibleTo = []string{"cao-bang", "lang-son"} })
	wantInvalid(t, err, "owner added to the readers", "delegation.visible_to[0]")
	got, err := tn.Twinning.GetDelegation(ctx, &twinningv1.GetDelegationRequest{Name: x.Name})
	mustf(t, err, "get")
	if got.Etag != x.Etag {
		t.Errorf("refused updates changed the record: etag %s, want %s", got.Etag, x.Etag)
	}
	got, err = update([]string{"visibility", "visible_to"}, func(d *twinningv1.Delegation) { d.Visibility = typev1.Visibility_VISIBILITY_PUBLIC })
	mustf(t, err, "made public with its readers cleared")
	if got.Visibility != typev1.Visibility_VISIBILITY_PUBLIC || len(got.VisibleTo) != 0 {
		t.Errorf("after the update: visibility %v, visible_to %q", got.Visibility, got.VisibleTo)
	}
}

// TestTimesOutOfRangeAreRefused: a time the node cannot keep (outside
// filter.MinTimestamp..MaxTimestamp, or nanos outside 0-999,999,999) is
// refused over gRPC and over JSON, on create and update, naming the field,
// and nothing is stored. Stored, it made every JSON answer holding it fail
// (protojson writes no time outside years 1-9999 nor negative nanos), on
// every node it reached.
func TestTimesOutOfRangeAreRefused(t *testing.T) {
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	p := tn.parent()
	occur := timestamppb.New(time.Date(2024, 9, 8, 6, 0, 0, 0, time.UTC))
	for i, bad := range []*timestamppb.Timestamp{
		{Seconds: 1 << 62},
		{Seconds: -1 << 63},
		{Seconds: 5, Nanos: -1},
		{Seconds: 5, Nanos: 1_000_000_000},
		timestamppb.New(time.Date(1589, 1, 1, 0, 0, 0, 0, time.UTC)),
		timestamppb.New(time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)),
		timestamppb.New(filter.MinTimestamp.Add(-time.Nanosecond)),
		timestamppb.New(filter.MaxTimestamp.Add(time.Nanosecond)),
	} {
		id := fmt.Sprintf("bad-time-%d", i)
		_, err := tn.Border.CreateBorderIncident(ctx, &borderv1.CreateBorderIncidentRequest{Parent: p, BorderIncidentId: id,
			BorderIncident: &borderv1.BorderIncident{DisplayName: "Flood", Category: 5, OccurTime: bad}})
		wantInvalid(t, err, fmt.Sprintf("occur_time %v", bad), "border_incident.occur_time")
		_, err = tn.Border.CreateBorderIncident(ctx, &borderv1.CreateBorderIncidentRequest{Parent: p, BorderIncidentId: id,
			BorderIncident: &borderv1.BorderIncident{DisplayName: "Flood", Category: 5, OccurTime: occur, ResolveTime: bad}})
		wantInvalid(t, err, fmt.Sprintf("resolve_time %v", bad), "border_incident.resolve_time")
		// Said as a time the node cannot keep, not hidden behind a rule
		// the same field breaks (before occur_time, for one far before).
		if err != nil && !strings.Contains(err.Error(), "is not a time the node keeps") {
			t.Errorf("resolve_time %v: %v, want it told as a time the node cannot keep", bad, err)
		}
	}
	// The bounds themselves are kept: the first as an incident's time,
	// the last as a time that may be in the future (an incident's may not).
	if _, err := tn.Border.CreateBorderIncident(ctx, &borderv1.CreateBorderIncidentRequest{Parent: p, BorderIncidentId: "bound-0",
		BorderIncident: &borderv1.BorderIncident{DisplayName: "Flood", Category: 5, OccurTime: timestamppb.New(filter.MinTimestamp)}}); err != nil {
		t.Errorf("occur_time %s: %v", filter.MinTimestamp, err)
	}
	ministry := startNode(t, resource.Ministry)
	last := filter.MaxTimestamp.Format(time.RFC3339)
	if last != "2262-04-11T23:47:16Z" {
		t.Errorf("filter.MaxTimestamp is %s, docs/API.md says 2262-04-11T23:47:16Z", last)
	}
	resp, body := ministry.httpDo(t, "POST", "/v1/"+ministry.parent()+"/information-requests?information_request_id=bound-1",
		`{"display_name":"Trade","provinces":["lang-son"],"due_time":"`+last+`"}`, nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("due_time %s, the documented bound: %d %s", last, resp.StatusCode, body)
	}
	x, err := tn.Border.CreateBorderIncident(ctx, &borderv1.CreateBorderIncidentRequest{Parent: p, BorderIncidentId: "kept",
		BorderIncident: &borderv1.BorderIncident{DisplayName: "Flood", Category: 5, OccurTime: occur}})
	mustf(t, err, "create")
	_, err = tn.Border.UpdateBorderIncident(ctx, &borderv1.UpdateBorderIncidentRequest{
		BorderIncident: &borderv1.BorderIncident{Name: x.Name, ResolveTime: &timestamppb.Timestamp{Seconds: 1 << 62}},
		UpdateMask:     &fieldmaskpb.FieldMask{Paths: []string{"resolve_time"}}})
	wantInvalid(t, err, "update resolve_time", "border_incident.resolve_time")

	// Over JSON: protojson takes years 1-9999.
	resp, body = tn.httpDo(t, "POST", "/v1/"+p+"/border-incidents?border_incident_id=json-1589",
		`{"display_name":"Flood","category":"CATEGORY_NATURAL_DISASTER","occur_time":"1589-01-01T00:00:00Z"}`, nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"border_incident.occur_time"`) {
		t.Errorf("JSON occur_time in 1589: %d %s, want 400 naming border_incident.occur_time", resp.StatusCode, body)
	}
	// The first bound as docs/API.md writes it is kept.
	for i, at := range []string{"1677-09-21T00:12:44Z"} {
		resp, body := tn.httpDo(t, "POST", fmt.Sprintf("/v1/%s/border-incidents?border_incident_id=json-bound-%d", p, i),
			`{"display_name":"Flood","category":"CATEGORY_NATURAL_DISASTER","occur_time":"`+at+`"}`, nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("JSON occur_time %s, the documented bound: %d %s", at, resp.StatusCode, body)
		}
	}
	resp, body = tn.httpDo(t, "GET", "/v1/"+p+"/border-incidents?page_size=100", "", nil)
	if resp.StatusCode != http.StatusOK || strings.Contains(string(body), "bad-time") || strings.Contains(string(body), "json-1589") {
		t.Errorf("the list after the refusals: %d %s", resp.StatusCode, body)
	}
}

// TestTimeAtTheEpochIsRefused: 1970-01-01T00:00:00Z exactly is refused,
// over gRPC (create and update) and JSON, as a violation of the field that
// says why: a filter column keeps a timestamp as nanoseconds since then
// and 0 as unset, so such an incident was kept and then counted as having
// no time (summaries by occur_time.year put it in "unset", occur_time.age
// filters left it out). A nanosecond after it is kept.
func TestTimeAtTheEpochIsRefused(t *testing.T) {
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	p := tn.parent()
	epoch := &timestamppb.Timestamp{}
	saysWhy := func(what string, err error) {
		t.Helper()
		if err != nil && !strings.Contains(err.Error(), "which the node keeps as a time not set") {
			t.Errorf("%s: %v, want it told why the epoch is refused", what, err)
		}
	}
	_, err := tn.Border.CreateBorderIncident(ctx, &borderv1.CreateBorderIncidentRequest{Parent: p, BorderIncidentId: "at-epoch",
		BorderIncident: &borderv1.BorderIncident{DisplayName: "Flood", Category: 5, OccurTime: epoch}})
	wantInvalid(t, err, "occur_time at the epoch", "border_incident.occur_time")
	saysWhy("occur_time at the epoch", err)
	x, err := tn.Border.CreateBorderIncident(ctx, &borderv1.CreateBorderIncidentRequest{Parent: p, BorderIncidentId: "after-epoch",
		BorderIncident: &borderv1.BorderIncident{DisplayName: "Flood", Category: 5, OccurTime: &timestamppb.Timestamp{Nanos: 1}}})
	mustf(t, err, "create with occur_time a nanosecond after the epoch")
	_, err = tn.Border.UpdateBorderIncident(ctx, &borderv1.UpdateBorderIncidentRequest{
		BorderIncident: &borderv1.BorderIncident{Name: x.GetName(), OccurTime: epoch},
		UpdateMask:     &fieldmaskpb.FieldMask{Paths: []string{"occur_time"}}})
	wantInvalid(t, err, "update occur_time to the epoch", "border_incident.occur_time")
	saysWhy("update occur_time to the epoch", err)

	resp, body := tn.httpDo(t, "POST", "/v1/"+p+"/border-incidents?border_incident_id=json-epoch",
		`{"display_name":"Flood","category":"CATEGORY_NATURAL_DISASTER","occur_time":"1970-01-01T00:00:00Z"}`, nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"border_incident.occur_time"`) ||
		!strings.Contains(string(body), "timestamp.epoch") || !strings.Contains(string(body), "which the node keeps as a time not set") {
		t.Errorf("JSON occur_time at the epoch: %d %s, want 400 naming border_incident.occur_time and saying why", resp.StatusCode, body)
	}
	resp, body = tn.httpDo(t, "GET", "/v1/"+p+"/border-incidents?page_size=100", "", nil)
	if resp.StatusCode != http.StatusOK || strings.Contains(string(body), "at-epoch") || strings.Contains(string(body), "json-epoch") ||
		!strings.Contains(string(body), "after-epoch") {
		t.Errorf("the list after the refusals: %d %s", resp.StatusCode, body)
	}
}

// TestIncidentTimesAreNotInTheFuture: an incident's occur_time and
// resolve_time more than an hour past the node's clock are refused, naming
// the field, on create and update, over gRPC and JSON: an incident dated
// 2262 was kept, its age negative. Half an hour ahead, a clock that runs
// fast, is kept. (An acknowledgement dated ahead counts from when it was
// recorded: services/border/TestIncidentAcknowledgedAcrossNodes.)
func TestIncidentTimesAreNotInTheFuture(t *testing.T) {
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	p := tn.parent()
	now := time.Now()
	ahead := timestamppb.New(now.Add(2 * time.Hour))
	incident := func(occur, resolve *timestamppb.Timestamp) *borderv1.BorderIncident {
		return &borderv1.BorderIncident{DisplayName: "Flood", Category: 5, OccurTime: occur, ResolveTime: resolve}
	}
	_, err := tn.Border.CreateBorderIncident(ctx, &borderv1.CreateBorderIncidentRequest{Parent: p, BorderIncidentId: "ahead", BorderIncident: incident(ahead, nil)})
	wantInvalid(t, err, "occur_time two hours ahead", "border_incident.occur_time")
	if err != nil && !strings.Contains(err.Error(), "must not be in the future") {
		t.Errorf("occur_time two hours ahead: %v, want it to say it is in the future", err)
	}
	_, err = tn.Border.CreateBorderIncident(ctx, &borderv1.CreateBorderIncidentRequest{Parent: p, BorderIncidentId: "ahead",
		BorderIncident: incident(timestamppb.New(now.Add(-time.Hour)), ahead)})
	wantInvalid(t, err, "resolve_time two hours ahead", "border_incident.resolve_time")
	x, err := tn.Border.CreateBorderIncident(ctx, &borderv1.CreateBorderIncidentRequest{Parent: p, BorderIncidentId: "fast-clock",
		BorderIncident: incident(timestamppb.New(now.Add(30*time.Minute)), nil)})
	mustf(t, err, "occur_time half an hour ahead")
	_, err = tn.Border.UpdateBorderIncident(ctx, &borderv1.UpdateBorderIncidentRequest{
		BorderIncident: &borderv1.BorderIncident{Name: x.Name, ResolveTime: ahead},
		UpdateMask:     &fieldmaskpb.FieldMask{Paths: []string{"resolve_time"}}})
	wantInvalid(t, err, "update resolve_time two hours ahead", "border_incident.resolve_time")
	got, err := tn.Border.GetBorderIncident(ctx, &borderv1.GetBorderIncidentRequest{Name: x.Name})
	mustf(t, err, "get")
	if got.Etag != x.Etag || got.ResolveTime != nil {
		t.Errorf("a refused update changed the incident: etag %s (want %s), resolve_time %v", got.Etag, x.Etag, got.ResolveTime)
	}
	resp, body := tn.httpDo(t, "POST", "/v1/"+p+"/border-incidents?border_incident_id=json-2262",
		`{"display_name":"Flood","category":"CATEGORY_NATURAL_DISASTER","occur_time":"2262-04-11T23:47:16Z"}`, nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"border_incident.occur_time"`) || !strings.Contains(string(body), "must not be in the future") {
		t.Errorf("JSON occur_time in 2262: %d %s, want 400 naming border_incident.occur_time as in the future", resp.StatusCode, body)
	}
}

// TestUpdateSaysWhichBadValueIsStored: an update refused for a field it
// leaves as stored (an incident's resolve_time, once the update moves
// occur_time past it; a record stored before a rule was) says that value
// is the stored one and how to correct it, since its caller did not send it.
func TestUpdateSaysWhichBadValueIsStored(t *testing.T) {
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	day := func(d int) *timestamppb.Timestamp {
		return timestamppb.New(time.Date(2024, 9, d, 0, 0, 0, 0, time.UTC))
	}
	x, err := tn.Border.CreateBorderIncident(ctx, &borderv1.CreateBorderIncidentRequest{Parent: tn.parent(), BorderIncidentId: "moved",
		BorderIncident: &borderv1.BorderIncident{DisplayName: "Flood", Category: 5, OccurTime: day(1), ResolveTime: day(3)}})
	mustf(t, err, "create")
	_, err = tn.Border.UpdateBorderIncident(ctx, &borderv1.UpdateBorderIncidentRequest{
		BorderIncident: &borderv1.BorderIncident{Name: x.Name, OccurTime: day(5)},
		UpdateMask:     &fieldmaskpb.FieldMask{Paths: []string{"occur_time"}}})
	wantInvalid(t, err, "occur_time moved past the stored resolve_time", "border_incident.resolve_time")
	if err != nil && !strings.Contains(err.Error(), "it is the stored value, which this update leaves as it is: name resolve_time in update_mask") {
		t.Errorf("occur_time moved past the stored resolve_time: %v, want it to say resolve_time is the stored value", err)
	}
	// Sent in the same update, it is told as any value sent.
	_, err = tn.Border.UpdateBorderIncident(ctx, &borderv1.UpdateBorderIncidentRequest{
		BorderIncident: &borderv1.BorderIncident{Name: x.Name, OccurTime: day(5), ResolveTime: day(4)},
		UpdateMask:     &fieldmaskpb.FieldMask{Paths: []string{"occur_time", "resolve_time"}}})
	wantInvalid(t, err, "resolve_time sent before occur_time", "border_incident.resolve_time")
	if err != nil && strings.Contains(err.Error(), "stored value") {
		t.Errorf("resolve_time sent in the update: %v, said to be the stored value", err)
	}
	_, err = tn.Border.UpdateBorderIncident(ctx, &borderv1.UpdateBorderIncidentRequest{
		BorderIncident: &borderv1.BorderIncident{Name: x.Name, OccurTime: day(5), ResolveTime: day(6)},
		UpdateMask:     &fieldmaskpb.FieldMask{Paths: []string{"occur_time", "resolve_time"}}})
	mustf(t, err, "both corrected in one update")
	// A field inside a message sent (signed_date.day) that makes the
	// message break its rule was said to be the stored value, to be named
	// in the mask it was named in (an outside review).
	a, err := tn.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), AgreementId: "leap",
		Agreement: &twinningv1.Agreement{DisplayName: "Leap", Kind: twinningv1.Agreement_KIND_MOU, SignedDate: &typev1.Date{Year: 2024, Month: 2, Day: 29}}})
	mustf(t, err, "create")
	_, err = tn.Twinning.UpdateAgreement(ctx, &twinningv1.UpdateAgreementRequest{
		Agreement:  &twinningv1.Agreement{Name: a.Name, SignedDate: &typev1.Date{Day: 31}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"signed_date.day"}}})
	wantInvalid(t, err, "signed_date.day set to 31 of February", "agreement.signed_date")
	if err != nil && strings.Contains(err.Error(), "stored value") {
		t.Errorf("signed_date.day sent in the update: %v, said to be the stored value", err)
	}
}

// TestClearingInsideAnAbsentMessageWritesNothing: a PATCH whose mask names
// fields inside messages the record lacks, with none of them sent, changes
// nothing, so it keeps the etag; it made those messages empty, a new version
// synced to every node (an outside review).
func TestClearingInsideAnAbsentMessageWritesNothing(t *testing.T) {
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	a, err := tn.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), AgreementId: "bare",
		Agreement: &twinningv1.Agreement{DisplayName: "Bare", Kind: twinningv1.Agreement_KIND_MOU}})
	mustf(t, err, "create")
	resp, body := tn.httpDo(t, "PATCH", "/v1/"+a.Name+"?update_mask=consultation.opinion,signatory.name,signed_date.day", `{}`, nil)
	wantOK(t, "clearing inside absent messages", resp, body)
	got := decodeAgreement(t, "patch", body)
	if got.Etag != a.Etag || got.Consultation != nil || got.Signatory != nil || got.SignedDate != nil {
		t.Errorf("clearing inside absent messages: etag %q (was %q), consultation %v, signatory %v, signed_date %v; want the record unchanged",
			got.Etag, a.Etag, got.Consultation, got.Signatory, got.SignedDate)
	}
}
