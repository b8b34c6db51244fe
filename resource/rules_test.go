package resource

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// TestReferencesComplete checks that every string field of a record named
// after a kind ("border_gate", "agreements") is a checked reference to that
// kind, so a reference field added later cannot go unchecked.
func TestReferencesComplete(t *testing.T) {
	byField := map[protoreflect.Name]*Kind{}
	for _, k := range kinds {
		byField[protoreflect.Name(k.Field)] = k
		byField[protoreflect.Name(k.ListField())] = k
	}
	found := 0
	for _, k := range kinds {
		fields := k.Message.Descriptor().Fields()
		for i := range fields.Len() {
			fd := fields.Get(i)
			target, named := byField[fd.Name()]
			if !named || fd.Kind() != protoreflect.StringKind {
				continue
			}
			found++
			if got := references[fd.FullName()]; got != target {
				t.Errorf("%s names %s records but is not checked as a reference to them", fd.FullName(), target.Collection)
			}
		}
	}
	// Reference fields whose name is not their kind's: "request" reads
	// better than "information_request" in a response.
	unnamed := 0
	for _, f := range []protoreflect.FullName{field(InformationResponses, "request")} {
		if references[f] != nil {
			unnamed++
		}
	}
	if found+unnamed != len(references) {
		t.Errorf("%d reference fields found by name, %d in the table", found, len(references))
	}
}

func TestFieldRules(t *testing.T) {
	rules := FieldRules()
	for _, c := range []struct {
		field protoreflect.FullName
		value string
		ok    bool
	}{
		{"provex.twinning.v1.Agreement.visible_to", "lang-son", true},
		{"provex.twinning.v1.Agreement.visible_to", "bac-giang", false},
		{"provex.twinning.v1.Agreement.visible_to", "mofa", false},
		{"provex.border.v1.BorderIncident.notify_provinces", "tuyen-quang", true},
		{"provex.border.v1.BorderIncident.notify_provinces", "ha-giang", false},
		{"provex.border.v1.BorderIncident.border_gate", "provinces/cao-bang/border-gates/ta-lung", true},
		{"provex.border.v1.BorderIncident.border_gate", "provinces/cao-bang/border-markers/m836", false},
		{"provex.border.v1.BorderIncident.border_gate", "provinces/cao-bang/border-gates/Ta_Lung", false},
		{"provex.twinning.v1.Delegation.agreements", "provinces/mofa/agreements/a1", true},
		{"provex.investment.v1.InvestorLead.promotion_event", "provinces/bac-giang/promotion-events/e1", false},
		{"provex.national.v1.InformationResponse.request", "provinces/mofa/information-requests/r1", true},
		{"provex.twinning.v1.AgreementOpinion.agreement", "provinces/lang-son/agreements/a1", true},
		{"provex.twinning.v1.AgreementOpinion.agreement", "provinces/lang-son/partnerships/a1", false},
		{"provex.national.v1.InformationResponse.request", "provinces/lang-son/information-requests/r1", false},
		{"provex.national.v1.InformationResponse.request", "provinces/mofa/agreements/r1", false},
		{"provex.national.v1.InformationResponse.request", "mofa/information-requests/r1", false},
		{"provex.national.v1.InformationResponse.records", "provinces/lang-son/trade-reports/h1-2025", true},
		{"provex.national.v1.InformationResponse.records", "provinces/lang-son/reports/h1-2025", false},
		{"provex.national.v1.InformationResponse.records", "lang-son/trade-reports/h1-2025", false},
		{"provex.national.v1.InformationRequest.provinces", "quang-ninh", true},
		{"provex.national.v1.InformationRequest.provinces", "bac-giang", false},
		{"provex.national.v1.InformationRequest.collection", "trade-reports", true},
		{"provex.national.v1.InformationRequest.collection", "", true},
		{"provex.national.v1.InformationRequest.collection", "reports", false},
	} {
		rule, ok := rules[c.field]
		if !ok {
			t.Errorf("no rule for %s", c.field)
			continue
		}
		if err := rule(c.value); (err == nil) != c.ok {
			t.Errorf("%s = %q: %v, want ok=%v", c.field, c.value, err, c.ok)
		}
	}
	for _, k := range kinds {
		if _, ok := rules[k.visibleTo.FullName()]; !ok {
			t.Errorf("no rule for %s", k.visibleTo.FullName())
		}
	}
}

// TestCheckFormerProvince: a record's former province must be one merged
// into its owner, per the one table of mergers (Province.MergedFrom).
func TestCheckFormerProvince(t *testing.T) {
	for _, c := range []struct {
		owner, former string
		ok            bool
	}{
		{"bac-ninh", "", true},
		{"bac-ninh", "bac-giang", true},
		{"bac-ninh", "bac-ninh", true},
		{"tuyen-quang", "ha-giang", true},
		{"bac-ninh", "ha-giang", false},
		{"tuyen-quang", "bac-giang", false},
		{"cao-bang", "cao-bang", false},
		{"cao-bang", "bac-giang", false},
		{"mofa", "bac-giang", false},
	} {
		if err := CheckFormerProvince(c.owner, c.former); (err == nil) != c.ok {
			t.Errorf("CheckFormerProvince(%q, %q) = %v, want ok %v", c.owner, c.former, err, c.ok)
		}
	}
}

// TestWrittenBy: a province's node writes no record only the ministry
// owns, and the ministry's no response to its own requests; both write
// the rest.
func TestWrittenBy(t *testing.T) {
	for _, c := range []struct {
		kind   *Kind
		member string
		want   bool
	}{
		{InformationRequests, "cao-bang", false}, {AgreementOpinions, "cao-bang", false}, {InformationResponses, "cao-bang", true},
		{InformationRequests, Ministry, true}, {AgreementOpinions, Ministry, true}, {InformationResponses, Ministry, false},
		{Agreements, "cao-bang", true}, {Agreements, Ministry, true},
	} {
		if got := c.kind.WrittenBy(c.member); got != c.want {
			t.Errorf("%s written by %s: %v, want %v", c.kind.Collection, c.member, got, c.want)
		}
	}
}
