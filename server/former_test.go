package server_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/provex/provex/client"
	investmentv1 "github.com/provex/provex/gen/go/provex/investment/v1"
	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/resource"
)

// TestFormerProvince: on Bắc Ninh's node, the projects of the former Bắc
// Giang are a filter on former_province, over gRPC and HTTP, and a summary
// groups by it; a project recorded without it still reads and counts under
// the key "unset"; a province not merged into Bắc Ninh is INVALID_ARGUMENT on
// that field, on Create and on Update, and nothing is written.
func TestFormerProvince(t *testing.T) {
	tn := startNode(t, "bac-ninh")
	ctx := testCtx(t)
	for id, former := range map[string]string{"fdi-001": "bac-giang", "fdi-002": "bac-giang", "vsip": "bac-ninh", "old": ""} {
		_, err := tn.Investment.CreateProject(ctx, &investmentv1.CreateProjectRequest{Parent: tn.parent(), ProjectId: id,
			Project: &investmentv1.Project{DisplayName: "Project " + id, Kind: 1, Investor: "Investor " + id, FormerProvince: former}})
		mustf(t, err, "create %s", id)
	}
	projects := func(filter string) []string {
		t.Helper()
		got, err := listAll(ctx, tn.Client, tn.parent(), resource.Projects, client.ListOptions{Filter: filter})
		mustf(t, err, "list %s", filter)
		names := namesOf(resource.Projects, got)
		for i, n := range names {
			names[i] = strings.TrimPrefix(n, tn.parent()+"/projects/")
		}
		slices.Sort(names)
		return names
	}
	for filter, want := range map[string][]string{
		`former_province = "bac-giang"`:  {"fdi-001", "fdi-002"},
		`former_province = "bac-ninh"`:   {"vsip"},
		`former_province = ""`:           {"old"},
		`former_province != "bac-giang"`: {"old", "vsip"},
	} {
		if got := projects(filter); !slices.Equal(got, want) {
			t.Errorf("projects %s: %q, want %q", filter, got, want)
		}
	}
	old, err := tn.Investment.GetProject(ctx, &investmentv1.GetProjectRequest{Name: tn.parent() + "/projects/old"})
	mustf(t, err, "get old")
	if old.GetFormerProvince() != "" || old.GetInvestor() != "Investor old" {
		t.Errorf("project without former_province reads %v", old)
	}

	resp, body := tn.httpDo(t, http.MethodGet, "/v1/"+tn.parent()+"/projects?filter="+url.QueryEscape(`former_province = "bac-giang"`), "", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "projects/fdi-001") || strings.Contains(string(body), "projects/vsip") ||
		!strings.Contains(string(body), `"formerProvince":"bac-giang"`) && !strings.Contains(string(body), `"former_province":"bac-giang"`) {
		t.Errorf("GET projects from bac-giang: %d %s", resp.StatusCode, body)
	}

	national := nationalv1.NewNationalServiceClient(tn.Conn())
	sum, err := national.Summarize(ctx, &nationalv1.SummarizeRequest{Collection: "projects", GroupBy: []string{"former_province"}})
	mustf(t, err, "summarize by former province")
	counts := map[string]int64{}
	for _, g := range sum.GetGroups() {
		counts[g.GetKeys()[0]] = g.GetCount()
	}
	if counts["bac-giang"] != 2 || counts["bac-ninh"] != 1 || counts["unset"] != 1 || sum.GetTotal().GetCount() != 4 {
		t.Errorf("projects by former province: %v, total %d", counts, sum.GetTotal().GetCount())
	}
	sum, err = national.Summarize(ctx, &nationalv1.SummarizeRequest{Collection: "projects", Filter: `former_province = "bac-giang"`})
	mustf(t, err, "summarize bac-giang")
	if sum.GetTotal().GetCount() != 2 {
		t.Errorf("projects of the former Bắc Giang: %d, want 2", sum.GetTotal().GetCount())
	}

	// Hà Giang was merged into Tuyên Quang, not Bắc Ninh; Cao Bằng was merged into nothing.
	for _, former := range []string{"ha-giang", "cao-bang", "bacgiang"} {
		_, err = tn.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), AgreementId: "wrong-" + former,
			Agreement: &twinningv1.Agreement{DisplayName: "Wrong " + former, Kind: twinningv1.Agreement_KIND_MOU, FormerProvince: former}})
		wantInvalid(t, err, "agreement from "+former, "agreement.former_province")
	}
	p, err := tn.Investment.GetProject(ctx, &investmentv1.GetProjectRequest{Name: tn.parent() + "/projects/vsip"})
	mustf(t, err, "get vsip")
	p.FormerProvince = "ha-giang"
	_, err = tn.Investment.UpdateProject(ctx, &investmentv1.UpdateProjectRequest{Project: p, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"former_province"}}})
	wantInvalid(t, err, "update to ha-giang", "project.former_province")
	if got := projects(`former_province = "ha-giang"`); len(got) != 0 {
		t.Errorf("a refused update was written: %q", got)
	}
	got, err := listAll(ctx, tn.Client, tn.parent(), resource.Agreements, client.ListOptions{})
	mustf(t, err, "list agreements")
	if len(got) != 0 {
		t.Errorf("refused agreements were written: %q", namesOf(resource.Agreements, got))
	}
}
