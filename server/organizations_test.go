package server_test

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/provex/provex/client"
	investmentv1 "github.com/provex/provex/gen/go/provex/investment/v1"
	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/resource"
)

// TestOrganizations: donors, NGOs and lenders are records of their own,
// listed and filtered by kind and acronym, found by search by acronym and by
// a name without its diacritics; the ministry records them too; projects
// name them (a province's or the ministry's), and "projects naming ADB" is
// a filter over gRPC and HTTP; an organisation without a kind or
// with a malformed website, and a project naming something that is not an
// organisation, are INVALID_ARGUMENT on that field and write nothing.
func TestOrganizations(t *testing.T) {
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	orgs := map[string]*investmentv1.Organization{
		"adb": {DisplayName: "Asian Development Bank", ShortName: "ADB", Kind: investmentv1.Organization_KIND_MULTILATERAL_LENDER,
			Website: "https://www.adb.org"},
		"jica": {DisplayName: "Japan International Cooperation Agency", ShortName: "JICA", Kind: investmentv1.Organization_KIND_BILATERAL_DONOR, Country: "JP"},
		"world-vision": {DisplayName: "Tổ chức Tầm nhìn Thế giới", ShortName: "WV", Kind: investmentv1.Organization_KIND_FOREIGN_NGO, Country: "US",
			Registration: "Giấy đăng ký số 01/BNG-GĐK"},
	}
	for id, o := range orgs {
		_, err := tn.Investment.CreateOrganization(ctx, &investmentv1.CreateOrganizationRequest{Parent: tn.parent(), OrganizationId: id, Organization: o})
		mustf(t, err, "create %s", id)
	}
	_, err := tn.Investment.CreateOrganization(ctx, &investmentv1.CreateOrganizationRequest{Parent: tn.parent(), OrganizationId: "bad",
		Organization: &investmentv1.Organization{DisplayName: "No kind", Website: "javascript:alert(1)", Country: "XX"}})
	wantInvalid(t, err, "organisation without kind", "organization.kind", "organization.website", "organization.country")

	names := func(k *resource.Kind, filter string) []string {
		t.Helper()
		got, err := listAll(ctx, tn.Client, tn.parent(), k, client.ListOptions{Filter: filter})
		mustf(t, err, "list %s %s", k.Collection, filter)
		out := namesOf(k, got)
		for i, n := range out {
			out[i] = n[strings.LastIndexByte(n, '/')+1:]
		}
		slices.Sort(out)
		return out
	}
	for filter, want := range map[string][]string{
		"kind = KIND_FOREIGN_NGO":                     {"world-vision"},
		`short_name = "ADB"`:                          {"adb"},
		"country = JP OR kind = KIND_FOREIGN_NGO":     {"jica", "world-vision"},
		`kind != KIND_COMPANY AND country = ""`:       {"adb"},
		`display_name = "Asian Development Bank"`:     {"adb"},
		`registration = "Giấy đăng ký số 01/BNG-GĐK"`: {"world-vision"},
	} {
		if got := names(resource.Organizations, filter); !slices.Equal(got, want) {
			t.Errorf("organizations %s: %q, want %q", filter, got, want)
		}
	}
	if got := names(resource.Organizations, `display_name = "No kind"`); len(got) != 0 {
		t.Errorf("a refused organisation was written: %q", got)
	}

	national := nationalv1.NewNationalServiceClient(tn.Conn())
	for text, want := range map[string]string{"ADB": "adb", "jica": "jica", "to chuc tam nhin": "world-vision", "TẦM NHÌN THẾ": "world-vision"} {
		found, err := national.SearchRecords(ctx, &nationalv1.SearchRecordsRequest{Text: text})
		mustf(t, err, "search %q", text)
		if len(found.GetRecords()) != 1 || found.GetRecords()[0].GetName() != tn.parent()+"/organizations/"+want {
			t.Errorf("search %q: %v, want only organizations/%s", text, found.GetRecords(), want)
		}
	}

	org := func(id string) string { return tn.parent() + "/organizations/" + id }
	projectFixture(t, tn)
	for filter, want := range map[string][]string{
		`organizations:"` + org("adb") + `"`:                                         {"road", "water"},
		`organizations:"` + org("world-vision") + `"`:                                {"school", "well"},
		`organizations:"` + org("adb") + `" AND organizations:"` + org("jica") + `"`: {"road"},
		"NOT organizations:*":                                                        {"factory"},
	} {
		if got := names(resource.Projects, filter); !slices.Equal(got, want) {
			t.Errorf("projects %s: %q, want %q", filter, got, want)
		}
	}
	resp, body := tn.httpDo(t, http.MethodGet, "/v1/"+tn.parent()+"/projects?filter="+url.QueryEscape(`organizations:"`+org("jica")+`"`), "", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "projects/road") || strings.Contains(string(body), "projects/water") {
		t.Errorf("GET projects naming JICA: %d %s", resp.StatusCode, body)
	}

	// The ministry records organisations too, and a province's project may
	// name one of its.
	mofa := startNode(t, resource.Ministry)
	wb, err := mofa.Investment.CreateOrganization(ctx, &investmentv1.CreateOrganizationRequest{Parent: mofa.parent(), OrganizationId: "world-bank",
		Organization: &investmentv1.Organization{DisplayName: "World Bank", ShortName: "WB", Kind: investmentv1.Organization_KIND_MULTILATERAL_LENDER}})
	mustf(t, err, "the ministry records the World Bank")
	_, err = tn.Investment.CreateProject(ctx, &investmentv1.CreateProjectRequest{Parent: tn.parent(), ProjectId: "roads",
		Project: &investmentv1.Project{DisplayName: "Local roads", Kind: investmentv1.Project_KIND_ODA, Organizations: []string{wb.GetName(), org("adb")}}})
	mustf(t, err, "a project naming the ministry's World Bank")

	_, err = tn.Investment.CreateProject(ctx, &investmentv1.CreateProjectRequest{Parent: tn.parent(), ProjectId: "bad",
		Project: &investmentv1.Project{DisplayName: "Bad", Kind: investmentv1.Project_KIND_ODA,
			Organizations: []string{org("adb"), tn.parent() + "/projects/road"}}})
	wantInvalid(t, err, "a project naming a project as its organisation", "project.organizations[1]")
	if got := names(resource.Projects, `display_name = "Bad"`); len(got) != 0 {
		t.Errorf("a refused project was written: %q", got)
	}
}

// projectFixture writes five projects of cao-bang: two NGO-aid projects of
// World Vision (one also of a second NGO), two ODA projects of ADB (one
// with JICA) and an FDI project naming no organisation.
func projectFixture(t *testing.T, tn *testNode) {
	t.Helper()
	ctx := testCtx(t)
	org := func(id string) string { return tn.parent() + "/organizations/" + id }
	for id, p := range map[string]*investmentv1.Project{
		"school":  {Kind: investmentv1.Project_KIND_NGO_AID, InvestorCountry: "US", Organizations: []string{org("world-vision"), org("plan")}},
		"well":    {Kind: investmentv1.Project_KIND_NGO_AID, InvestorCountry: "US", Organizations: []string{org("world-vision")}},
		"road":    {Kind: investmentv1.Project_KIND_ODA, Organizations: []string{org("adb"), org("jica")}},
		"water":   {Kind: investmentv1.Project_KIND_ODA, InvestorCountry: "JP", Organizations: []string{org("adb")}},
		"factory": {Kind: investmentv1.Project_KIND_FDI, InvestorCountry: "KR"},
	} {
		p.DisplayName = "Project " + id
		_, err := tn.Investment.CreateProject(ctx, &investmentv1.CreateProjectRequest{Parent: tn.parent(), ProjectId: id, Project: p})
		mustf(t, err, "create project %s", id)
	}
}

// TestSummaryCountsDistinct: "NGOs funding projects" is one Summarize call:
// count_distinct counts each organisation once per group however many of
// the group's projects name it, and once in the total however many groups
// it is in (the total is not the sum of the groups); scalar fields count
// the same way and unset values are not counted; grouping by the repeated
// field itself works; the CSV export and its total row carry the counts;
// a field that is not a filterable string or enum is INVALID_ARGUMENT on
// count_distinct.
func TestSummaryCountsDistinct(t *testing.T) {
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	projectFixture(t, tn)
	national := nationalv1.NewNationalServiceClient(tn.Conn())
	type row struct {
		count           int64
		orgs, countries int64
	}
	summarize := func(req *nationalv1.SummarizeRequest) (map[string]row, row) {
		t.Helper()
		req.Collection = "projects"
		resp, err := national.Summarize(ctx, req)
		mustf(t, err, "summarize %v", req)
		of := func(g *nationalv1.Group) row {
			r := row{count: g.GetCount()}
			for _, d := range g.GetDistinctCounts() {
				if d.Count == nil {
					t.Errorf("%v: a distinct count without its number", g)
				}
				switch d.GetField() {
				case "organizations":
					r.orgs = d.GetCount()
				case "investor_country", "kind":
					r.countries = d.GetCount()
				}
			}
			return r
		}
		groups := map[string]row{}
		for _, g := range resp.GetGroups() {
			groups[strings.Join(g.GetKeys(), ",")] = of(g)
		}
		return groups, of(resp.GetTotal())
	}

	groups, total := summarize(&nationalv1.SummarizeRequest{GroupBy: []string{"kind"}, CountDistinct: []string{"organizations", "investor_country"}})
	want := map[string]row{
		"KIND_NGO_AID": {2, 2, 1}, // world-vision once for two projects, plan; US
		"KIND_ODA":     {2, 2, 1}, // adb once for two projects, jica; JP (road has none)
		"KIND_FDI":     {1, 0, 1}, // no organisation; KR
	}
	if len(groups) != len(want) {
		t.Errorf("groups %v, want %v", groups, want)
	}
	for k, w := range want {
		if groups[k] != w {
			t.Errorf("group %s: %+v, want %+v", k, groups[k], w)
		}
	}
	if w := (row{5, 4, 3}); total != w {
		t.Errorf("total %+v, want %+v", total, w)
	}

	// "2 NGOs funding 2 projects": a filter and no dimension.
	_, total = summarize(&nationalv1.SummarizeRequest{Filter: "kind = KIND_NGO_AID", CountDistinct: []string{"organizations"}})
	if w := (row{2, 2, 0}); total != w {
		t.Errorf("NGO aid: %+v, want %+v", total, w)
	}

	// By the repeated field itself: an organisation's group counts the
	// organisations its projects name (itself and its co-funders, each
	// once) and their kinds; the total counts every project matched once,
	// as totals do, and each organisation once.
	groups, total = summarize(&nationalv1.SummarizeRequest{GroupBy: []string{"organizations"}, CountDistinct: []string{"organizations", "kind"}})
	org := func(id string) string { return tn.parent() + "/organizations/" + id }
	want = map[string]row{org("adb"): {2, 2, 1}, org("jica"): {1, 2, 1}, org("world-vision"): {2, 2, 1}, org("plan"): {1, 2, 1}}
	for k, w := range want {
		if groups[k] != w {
			t.Errorf("by organizations, group %s: %+v, want %+v", k, groups[k], w)
		}
	}
	if w := (row{5, 4, 3}); total != w {
		t.Errorf("by organizations, total %+v, want %+v", total, w)
	}

	resp, body := tn.httpDo(t, http.MethodGet, "/v1/national/projects/summary.csv?group_by=kind&count_distinct=organizations,investor_country", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("summary.csv: HTTP %d %s", resp.StatusCode, body)
	}
	r := csv.NewReader(strings.NewReader(string(body)))
	r.FieldsPerRecord = -1
	records, err := r.ReadAll()
	mustf(t, err, "read summary.csv")
	if h := records[0]; !slices.Equal(h[:4], []string{"kind", "count", "distinct organizations", "distinct investor_country"}) {
		t.Errorf("summary.csv header %q", h)
	}
	var totalRow []string
	for _, rec := range records {
		if rec[0] == "total" {
			totalRow = rec
		}
	}
	if !slices.Equal(totalRow[:4], []string{"total", "5", "4", "3"}) {
		t.Errorf("summary.csv total row %q, want total,5,4,3", totalRow)
	}
	resp, body = tn.httpDo(t, http.MethodGet, "/v1/national/projects:summarize?filter="+url.QueryEscape("kind = KIND_NGO_AID")+"&count_distinct=organizations", "", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"field":"organizations"`) || !strings.Contains(string(body), `"count":"2"`) {
		t.Errorf("GET :summarize with count_distinct: %d %s", resp.StatusCode, body)
	}

	for _, bad := range []string{"registered_capital.units", "approved_date", "nothing", "registered_capital"} {
		_, err := national.Summarize(ctx, &nationalv1.SummarizeRequest{Collection: "projects", CountDistinct: []string{"kind", bad}})
		wantInvalid(t, err, "count_distinct "+bad, "count_distinct[1]")
	}
	_, err = national.Summarize(ctx, &nationalv1.SummarizeRequest{Collection: "projects", CountDistinct: []string{"kind", "kind"}})
	wantInvalid(t, err, "count_distinct twice", "count_distinct[1]")
	// So is a sum named twice: every group carried it twice, and the CSV
	// once.
	for collection, twice := range map[string]string{"projects": "registered_capital", "delegations": "member_count"} {
		_, err = national.Summarize(ctx, &nationalv1.SummarizeRequest{Collection: collection, Sum: []string{twice, twice}})
		wantInvalid(t, err, "sum "+twice+" twice", "sum[1]")
	}
	// And a dimension named twice (an outside review found it accepted).
	for _, twice := range []string{"province", "kind"} {
		_, err = national.Summarize(ctx, &nationalv1.SummarizeRequest{Collection: "projects", GroupBy: []string{twice, "state", twice}})
		wantInvalid(t, err, "group_by "+twice+" twice", "group_by[2]")
	}
}

// TestEmptyReferenceElements: an empty element of a list of references
// names no record, so it is INVALID_ARGUMENT on that element like any
// other malformed name (a project "funded by" an empty organisation would
// otherwise be stored, match organizations:* and be in the "unset" group
// of a summary by organisation), and nothing is written. The same holds
// for every repeated field with a rule: a delegation's agreements, an
// incident's notify_provinces.
func TestEmptyReferenceElements(t *testing.T) {
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	org := tn.parent() + "/organizations/adb"
	_, err := tn.Investment.CreateProject(ctx, &investmentv1.CreateProjectRequest{Parent: tn.parent(), ProjectId: "empty",
		Project: &investmentv1.Project{DisplayName: "Empty", Kind: investmentv1.Project_KIND_ODA, Organizations: []string{org, ""}}})
	wantInvalid(t, err, "a project naming an empty organisation", "project.organizations[1]")
	_, err = tn.Investment.GetProject(ctx, &investmentv1.GetProjectRequest{Name: tn.parent() + "/projects/empty"})
	wantCode(t, err, codes.NotFound, "the refused project")

	p, err := tn.Investment.CreateProject(ctx, &investmentv1.CreateProjectRequest{Parent: tn.parent(), ProjectId: "road",
		Project: &investmentv1.Project{DisplayName: "Road", Kind: investmentv1.Project_KIND_ODA, Organizations: []string{org}}})
	mustf(t, err, "create a project naming the ADB")
	p.Organizations = []string{""}
	_, err = tn.Investment.UpdateProject(ctx, &investmentv1.UpdateProjectRequest{Project: p})
	wantInvalid(t, err, "an update to an empty organisation", "project.organizations[0]")

	_, err = tn.Twinning.CreateDelegation(ctx, &twinningv1.CreateDelegationRequest{Parent: tn.parent(),
		Delegation: &twinningv1.Delegation{DisplayName: "Visit", Direction: twinningv1.Delegation_DIRECTION_INCOMING, Countries: []string{"CN"},
			StartDate: date(2024, 5, 2), Agreements: []string{""}}})
	wantInvalid(t, err, "a delegation under an empty agreement", "delegation.agreements[0]")
}
