package server_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/provex/provex/client"
	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/resource"
)

// TestForeignPartySubdivisions: "agreements with Guangxi localities" is a
// filter on the foreign parties' ISO 3166-2 subdivision, over gRPC and
// HTTP; summaries group by it, each agreement counted once in the total;
// an agreement recorded without subdivisions still reads and filters; a
// subdivision of another country than the party's is INVALID_ARGUMENT on
// that field, and nothing is written.
func TestForeignPartySubdivisions(t *testing.T) {
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	party := func(cc, sub, locality string) *typev1.ForeignParty {
		return &typev1.ForeignParty{Name: locality + " People's Government", CountryCode: cc, Subdivision: sub, Locality: locality}
	}
	for id, parties := range map[string][]*typev1.ForeignParty{
		"longzhou":  {party("CN", "CN-GX", "Longzhou county")},
		"two-sides": {party("CN", "CN-GX", "Pingxiang"), party("CN", "CN-YN", "Hekou")},
		"hekou":     {party("CN", "CN-YN", "Hekou")},
		"old":       {{Name: "Guangxi Zhuang Autonomous Region", CountryCode: "CN"}}, // as recorded before subdivisions
	} {
		_, err := tn.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), AgreementId: id,
			Agreement: &twinningv1.Agreement{DisplayName: "Agreement " + id, Kind: twinningv1.Agreement_KIND_MOU, ForeignParties: parties, PartnerCountries: []string{"CN"}}})
		mustf(t, err, "create %s", id)
	}
	agreements := func(filter string) []string {
		t.Helper()
		got, err := listAll(ctx, tn.Client, tn.parent(), resource.Agreements, client.ListOptions{Filter: filter})
		mustf(t, err, "list %s", filter)
		names := namesOf(resource.Agreements, got)
		for i, n := range names {
			names[i] = strings.TrimPrefix(n, tn.parent()+"/agreements/")
		}
		slices.Sort(names)
		return names
	}
	for filter, want := range map[string][]string{
		"foreign_parties.subdivision:CN-GX":                                      {"longzhou", "two-sides"},
		`foreign_parties.subdivision:"CN-YN"`:                                    {"hekou", "two-sides"},
		"foreign_parties.subdivision:*":                                          {"hekou", "longzhou", "two-sides"},
		"NOT foreign_parties.subdivision:*":                                      {"old"},
		"partner_countries:CN AND NOT foreign_parties.subdivision:CN-YN":         {"longzhou", "old"},
		"foreign_parties.subdivision:CN-GX OR foreign_parties.subdivision:LA-XI": {"longzhou", "two-sides"},
	} {
		if got := agreements(filter); !slices.Equal(got, want) {
			t.Errorf("agreements %s: %q, want %q", filter, got, want)
		}
	}
	old, err := tn.Twinning.GetAgreement(ctx, &twinningv1.GetAgreementRequest{Name: tn.parent() + "/agreements/old"})
	mustf(t, err, "get old")
	if p := old.GetForeignParties()[0]; p.GetSubdivision() != "" || p.GetName() != "Guangxi Zhuang Autonomous Region" {
		t.Errorf("old agreement reads %v", p)
	}

	// Over HTTP, as a browser or curl sends it.
	resp, body := tn.httpDo(t, http.MethodGet, "/v1/"+tn.parent()+"/agreements?filter="+url.QueryEscape("foreign_parties.subdivision:CN-GX"), "", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "agreements/longzhou") || strings.Contains(string(body), "agreements/hekou") ||
		!strings.Contains(string(body), `"subdivision":"CN-GX"`) || !strings.Contains(string(body), `"locality":"Pingxiang"`) {
		t.Errorf("GET agreements with Guangxi localities: %d %s", resp.StatusCode, body)
	}

	national := nationalv1.NewNationalServiceClient(tn.Conn())
	sum, err := national.Summarize(ctx, &nationalv1.SummarizeRequest{Collection: "agreements", GroupBy: []string{"foreign_parties.subdivision"}})
	mustf(t, err, "summarize by subdivision")
	counts := map[string]int64{}
	for _, g := range sum.GetGroups() {
		counts[g.GetKeys()[0]] = g.GetCount()
	}
	if counts["CN-GX"] != 2 || counts["CN-YN"] != 2 || sum.GetTotal().GetCount() != 4 {
		t.Errorf("agreements by subdivision: %v, total %d; want CN-GX 2, CN-YN 2, total 4", counts, sum.GetTotal().GetCount())
	}

	// Partnerships (one partner) and delegations (several) have it too.
	_, err = tn.Twinning.CreatePartnership(ctx, &twinningv1.CreatePartnershipRequest{Parent: tn.parent(), PartnershipId: "longzhou",
		Partnership: &twinningv1.Partnership{DisplayName: "Ha Quang - Longzhou", Kind: twinningv1.Partnership_KIND_TWINNING,
			LocalUnit: &typev1.LocalUnit{Name: "Ha Quang district"}, Partner: party("CN", "CN-GX", "Longzhou county")}})
	mustf(t, err, "create partnership")
	got, err := listAll(ctx, tn.Client, tn.parent(), resource.Partnerships, client.ListOptions{Filter: `partner.subdivision = "CN-GX"`})
	mustf(t, err, "list partnerships in Guangxi")
	if len(got) != 1 {
		t.Errorf("partnerships in Guangxi: %d, want 1", len(got))
	}
	sum, err = national.Summarize(ctx, &nationalv1.SummarizeRequest{Collection: "partnerships", GroupBy: []string{"partner.subdivision"}})
	mustf(t, err, "summarize partnerships by subdivision")
	if len(sum.GetGroups()) != 1 || sum.GetGroups()[0].GetKeys()[0] != "CN-GX" {
		t.Errorf("partnerships by subdivision: %v", sum.GetGroups())
	}

	_, err = tn.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), AgreementId: "mismatch",
		Agreement: &twinningv1.Agreement{DisplayName: "Mismatch", Kind: twinningv1.Agreement_KIND_MOU,
			ForeignParties: []*typev1.ForeignParty{party("CN", "CN-GX", "Pingxiang"), party("LA", "CN-YN", "Hekou")}}})
	wantInvalid(t, err, "a Lao party in Yunnan", "agreement.foreign_parties[1].subdivision")
	_, err = tn.Twinning.CreateDelegation(ctx, &twinningv1.CreateDelegationRequest{Parent: tn.parent(), DelegationId: "bad",
		Delegation: &twinningv1.Delegation{DisplayName: "Bad", Direction: twinningv1.Delegation_DIRECTION_INCOMING, Countries: []string{"CN"},
			StartDate: &typev1.Date{Year: 2024, Month: 3, Day: 1}, ForeignParties: []*typev1.ForeignParty{party("CN", "CN-ZZ", "Nowhere")}}})
	wantInvalid(t, err, "no such Chinese province", "delegation.foreign_parties[0].subdivision")
	if got := agreements("display_name = Mismatch"); len(got) != 0 {
		t.Errorf("a refused agreement was written: %q", got)
	}
}
