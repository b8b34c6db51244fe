package sampledata

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	investmentv1 "github.com/provex/provex/gen/go/provex/investment/v1"
	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/validation"
	"github.com/provex/provex/internal/workdays"
	"github.com/provex/provex/resource"
)

var idPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

var collectionTypes = map[string]string{
	Partnerships:             "provex.twinning.v1.Partnership",
	Agreements:               "provex.twinning.v1.Agreement",
	Delegations:              "provex.twinning.v1.Delegation",
	FriendshipAssociations:   "provex.twinning.v1.FriendshipAssociation",
	BorderGates:              "provex.border.v1.BorderGate",
	BorderMarkers:            "provex.border.v1.BorderMarker",
	BorderIncidents:          "provex.border.v1.BorderIncident",
	TradeReports:             "provex.border.v1.TradeReport",
	IncidentAcknowledgements: "provex.border.v1.IncidentAcknowledgement",
	Projects:                 "provex.investment.v1.Project",
	PromotionEvents:          "provex.investment.v1.PromotionEvent",
	InvestorLeads:            "provex.investment.v1.InvestorLead",
	Organizations:            "provex.investment.v1.Organization",
	InformationRequests:      "provex.national.v1.InformationRequest",
	InformationResponses:     "provex.national.v1.InformationResponse",
	AgreementOpinions:        "provex.twinning.v1.AgreementOpinion",
}

// refs returns the resource names a record points at, with the collection
// each must belong to.
func refs(m proto.Message) map[string]string {
	out := map[string]string{}
	add := func(name, coll string) {
		if name != "" {
			out[name] = coll
		}
	}
	switch x := m.(type) {
	case *twinningv1.Agreement:
		add(x.Partnership, Partnerships)
	case *twinningv1.Delegation:
		for _, a := range x.Agreements {
			add(a, Agreements)
		}
	case *borderv1.BorderMarker:
		add(x.BorderGate, BorderGates)
	case *borderv1.BorderIncident:
		add(x.BorderGate, BorderGates)
		add(x.BorderMarker, BorderMarkers)
	case *borderv1.TradeReport:
		add(x.BorderGate, BorderGates)
	case *investmentv1.Project:
		add(x.InvestorLead, InvestorLeads)
		for _, o := range x.Organizations {
			add(o, Organizations)
		}
	case *investmentv1.InvestorLead:
		add(x.PromotionEvent, PromotionEvents)
		add(x.Project, Projects)
	}
	return out
}

func TestRecordsValid(t *testing.T) {
	// The server's validator: schema rules and the field rules of resource.
	v, err := validation.New(resource.FieldRules())
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	var all []Record
	for _, p := range Members() {
		recs := For(p)
		if len(recs) == 0 {
			t.Fatalf("%s: no records", p)
		}
		all = append(all, recs...)
		for _, r := range recs {
			names[r.Name()] = true
		}
	}
	seen := map[string]bool{}
	for _, r := range all {
		key := r.Province + "/" + r.Collection + "/" + r.ID
		if seen[key] {
			t.Errorf("duplicate id %s", key)
		}
		seen[key] = true
		if !idPattern.MatchString(r.ID) {
			t.Errorf("%s: id does not match %s", key, idPattern)
		}
		want, ok := collectionTypes[r.Collection]
		if !ok {
			t.Errorf("%s: unknown collection", key)
			continue
		}
		if got := string(r.Message.ProtoReflect().Descriptor().FullName()); got != want {
			t.Errorf("%s: message %s, want %s", key, got, want)
		}
		if err := v.Check(r.Message, ""); err != nil {
			t.Errorf("%s: %v", key, err)
		}
		// Output-only fields stay empty.
		fields := r.Message.ProtoReflect().Descriptor().Fields()
		for _, f := range []string{"name", "etag", "create_time", "update_time", "delete_time"} {
			if fd := fields.ByName(protoreflect.Name(f)); fd != nil && r.Message.ProtoReflect().Has(fd) {
				t.Errorf("%s: output-only field %s set", key, f)
			}
		}
		if ack, ok := r.Message.(*borderv1.IncidentAcknowledgement); ok {
			checkAcknowledgement(t, key, r.Province, ack, all)
		}
		if resp, ok := r.Message.(*nationalv1.InformationResponse); ok {
			checkResponse(t, key, r.Province, resp, all)
		}
		for ref, coll := range refs(r.Message) {
			prefix := "provinces/" + r.Province + "/" + coll + "/"
			if !strings.HasPrefix(ref, prefix) {
				t.Errorf("%s: reference %q is not under %s", key, ref, prefix)
			}
			if !names[ref] {
				t.Errorf("%s: reference %q not in the dataset", key, ref)
			}
		}
	}
	if n := len(all); n < 2000 || n > 3000 {
		t.Errorf("dataset has %d records, want roughly 2,500", n)
	}
}

// checkAcknowledgement: a sample acknowledgement is of another province's
// incident of the dataset that notifies the acknowledging province.
func checkAcknowledgement(t *testing.T, key, province string, ack *borderv1.IncidentAcknowledgement, all []Record) {
	t.Helper()
	for _, r := range all {
		if r.Name() != ack.BorderIncident {
			continue
		}
		if r.Province == province || !slices.Contains(r.Message.(*borderv1.BorderIncident).NotifyProvinces, province) {
			t.Errorf("%s: acknowledges %s, which is its own or does not notify it", key, ack.BorderIncident)
		}
		return
	}
	t.Errorf("%s: incident %q not in the dataset", key, ack.BorderIncident)
}

// checkResponse: a sample response answers a request of the dataset that
// asks the answering province, and provides records of that province that
// the dataset has.
func checkResponse(t *testing.T, key, province string, resp *nationalv1.InformationResponse, all []Record) {
	t.Helper()
	names := map[string]Record{}
	for _, r := range all {
		names[r.Name()] = r
	}
	req, ok := names[resp.Request]
	if !ok || !slices.Contains(req.Message.(*nationalv1.InformationRequest).Provinces, province) {
		t.Errorf("%s: answers %q, not a request of the dataset asking %s", key, resp.Request, province)
	}
	for _, rec := range resp.Records {
		if r, ok := names[rec]; !ok || r.Province != province {
			t.Errorf("%s: provides %q, not a record of %s in the dataset", key, rec, province)
		}
	}
}

func TestUnknownProvince(t *testing.T) {
	if recs := For("ha-noi"); recs != nil {
		t.Errorf("For(ha-noi) = %d records, want none", len(recs))
	}
}

func TestDeterministic(t *testing.T) {
	for _, p := range Provinces() {
		a, b := For(p), For(p)
		if len(a) != len(b) {
			t.Fatalf("%s: %d then %d records", p, len(a), len(b))
		}
		for i := range a {
			if a[i].Collection != b[i].Collection || a[i].ID != b[i].ID || a[i].Province != b[i].Province {
				t.Fatalf("%s: record %d differs: %s/%s vs %s/%s", p, i, a[i].Collection, a[i].ID, b[i].Collection, b[i].ID)
			}
			if !proto.Equal(a[i].Message, b[i].Message) {
				t.Fatalf("%s: record %s/%s differs between calls", p, a[i].Collection, a[i].ID)
			}
		}
	}
}

// collect returns the messages of one collection of a province's records.
func collect[T proto.Message](recs []Record, collection string) []T {
	var out []T
	for _, r := range recs {
		if r.Collection == collection {
			out = append(out, r.Message.(T))
		}
	}
	return out
}

func TestCaoBangFigures(t *testing.T) {
	recs := For("cao-bang")
	dels := collect[*twinningv1.Delegation](recs, Delegations)
	var out, in int
	for _, d := range dels {
		switch d.Direction {
		case twinningv1.Delegation_DIRECTION_OUTGOING:
			out++
		case twinningv1.Delegation_DIRECTION_INCOMING:
			in++
		}
		if y := d.StartDate.Year; y < 2020 || y > 2025 {
			t.Errorf("delegation %s starts in %d", d.DisplayName, y)
		}
	}
	check(t, "outgoing delegations", out, 120)
	check(t, "incoming delegations", in, 190)
	check(t, "agreements", len(collect[*twinningv1.Agreement](recs, Agreements)), 69)

	var odaN, odaDone int
	var odaVND, odaDoneVND, ngoUSD int64
	donors := map[string]bool{}
	var ngoN int
	for _, p := range collect[*investmentv1.Project](recs, Projects) {
		switch p.Kind {
		case investmentv1.Project_KIND_ODA, investmentv1.Project_KIND_CONCESSIONAL_LOAN:
			odaN++
			if p.RegisteredCapital.CurrencyCode != "VND" {
				t.Errorf("ODA project %s in %s", p.DisplayName, p.RegisteredCapital.CurrencyCode)
			}
			odaVND += p.RegisteredCapital.Units
			if p.State == investmentv1.Project_STATE_COMPLETED {
				odaDone++
				odaDoneVND += p.RegisteredCapital.Units
			}
		case investmentv1.Project_KIND_NGO_AID:
			ngoN++
			donors[p.Investor] = true
			if p.RegisteredCapital.CurrencyCode != "USD" {
				t.Errorf("NGO project %s in %s", p.DisplayName, p.RegisteredCapital.CurrencyCode)
			}
			ngoUSD += p.RegisteredCapital.Units
		}
	}
	check(t, "ODA projects", odaN, 9)
	check(t, "ODA capital VND", odaVND, int64(1_576_566_000_000))
	check(t, "completed ODA projects", odaDone, 7)
	check(t, "completed ODA capital VND", odaDoneVND, int64(1_451_355_000_000))
	if len(donors) <= 40 || len(donors) != ngoN {
		t.Errorf("NGO donors = %d distinct over %d projects, want more than 40 distinct", len(donors), ngoN)
	}
	check(t, "NGO aid USD", ngoUSD, int64(52_000_000))

	// Each ODA and NGO-aid project names its organisation, recorded once
	// however many projects name it: "42 NGOs funding 42 projects", "the
	// ADB's three ODA projects".
	orgs := map[string]*investmentv1.Organization{}
	for _, r := range recs {
		if o, ok := r.Message.(*investmentv1.Organization); ok {
			orgs[r.Name()] = o
		}
	}
	byKind := map[investmentv1.Project_Kind]map[string]int{}
	for _, p := range collect[*investmentv1.Project](recs, Projects) {
		if p.Kind == investmentv1.Project_KIND_FDI {
			continue
		}
		if len(p.Organizations) != 1 || orgs[p.Organizations[0]] == nil || orgs[p.Organizations[0]].DisplayName != p.Investor {
			t.Errorf("project %s (%s) names organisations %q", p.DisplayName, p.Investor, p.Organizations)
			continue
		}
		if byKind[p.Kind] == nil {
			byKind[p.Kind] = map[string]int{}
		}
		byKind[p.Kind][p.Organizations[0]]++
	}
	check(t, "organisations of NGO-aid projects", len(byKind[investmentv1.Project_KIND_NGO_AID]), CaoBangNGODonors)
	check(t, "ADB's ODA projects", byKind[investmentv1.Project_KIND_ODA]["provinces/cao-bang/organizations/asian-development-bank"], 3)
	for short, kind := range map[string]investmentv1.Organization_Kind{
		"ADB": investmentv1.Organization_KIND_MULTILATERAL_LENDER, "WB": investmentv1.Organization_KIND_MULTILATERAL_LENDER,
		"JICA": investmentv1.Organization_KIND_BILATERAL_DONOR, "KOICA": investmentv1.Organization_KIND_BILATERAL_DONOR,
	} {
		n := 0
		for _, o := range orgs {
			if o.ShortName == short {
				n++
				check(t, short+" kind", o.Kind, kind)
			}
		}
		check(t, short+" recorded", n, 1)
	}

	var twins int
	for _, p := range collect[*twinningv1.Partnership](recs, Partnerships) {
		if p.Kind == twinningv1.Partnership_KIND_BORDER_RESIDENTIAL_TWINNING {
			twins++
			if p.Partner.CountryCode != "CN" || !strings.Contains(p.Partner.Name, "Guangxi") {
				t.Errorf("border twinning with %s (%s)", p.Partner.Name, p.Partner.CountryCode)
			}
		}
	}
	check(t, "border residential twinnings", twins, 10)

	var terms int
	for _, r := range collect[*borderv1.TradeReport](recs, TradeReports) {
		if r.PeriodKind == borderv1.TradeReport_PERIOD_KIND_TERM && r.BorderGate == "" {
			terms++
			check(t, "term budget revenue VND", r.BudgetRevenue.Units, int64(6_900_000_000_000))
			check(t, "term budget revenue currency", r.BudgetRevenue.CurrencyCode, "VND")
			check(t, "term start", fmt.Sprint(r.PeriodStart.Year, r.PeriodStart.Month, r.PeriodStart.Day), "2020 1 1")
			check(t, "term end", fmt.Sprint(r.PeriodEnd.Year, r.PeriodEnd.Month, r.PeriodEnd.Day), "2025 6 30")
		}
	}
	check(t, "province-wide term trade reports", terms, 1)

	gates := map[string]*borderv1.BorderGate{}
	for _, r := range recs {
		if g, ok := r.Message.(*borderv1.BorderGate); ok {
			gates[r.ID] = g
		}
	}
	for id, level := range map[string]borderv1.BorderGate_Level{
		"ta-lung": borderv1.BorderGate_LEVEL_INTERNATIONAL, "tra-linh": borderv1.BorderGate_LEVEL_INTERNATIONAL,
		"ly-van": borderv1.BorderGate_LEVEL_MAIN, "soc-giang": borderv1.BorderGate_LEVEL_MAIN, "po-peo": borderv1.BorderGate_LEVEL_MAIN,
	} {
		g := gates[id]
		if g == nil {
			t.Errorf("border gate %s missing", id)
			continue
		}
		check(t, id+" level", g.Level, level)
	}
	if g := gates["tra-linh"]; g != nil {
		if len(g.Upgrades) == 0 || g.Upgrades[len(g.Upgrades)-1].EffectiveDate.Year != 2023 || len(g.ClearanceLanes) == 0 {
			t.Errorf("Trà Lĩnh upgrade/lane missing: %v", g)
		}
	}
	var m8341, damaged bool
	for _, m := range collect[*borderv1.BorderMarker](recs, BorderMarkers) {
		if m.Number == "834/1" && m.Type == borderv1.BorderMarker_TYPE_DOUBLE {
			m8341 = true
		}
		if m.Condition == borderv1.BorderMarker_CONDITION_DAMAGED && m.RepairState == borderv1.BorderMarker_REPAIR_STATE_NEEDED {
			damaged = true
		}
	}
	if !m8341 || !damaged {
		t.Errorf("marker 834/1 double: %v, a damaged marker needing repair: %v", m8341, damaged)
	}
}

func TestTuyenQuangFigures(t *testing.T) {
	recs := For("tuyen-quang")
	var out, in int
	var officials, foreigners int64
	for _, d := range collect[*twinningv1.Delegation](recs, Delegations) {
		switch d.Direction {
		case twinningv1.Delegation_DIRECTION_OUTGOING:
			out++
			officials += int64(d.MemberCount)
		case twinningv1.Delegation_DIRECTION_INCOMING:
			in++
			foreigners += int64(d.ForeignerCount)
		}
	}
	check(t, "outgoing delegations", out, 138)
	check(t, "outgoing officials", officials, int64(904))
	check(t, "incoming delegations", in, 543)
	check(t, "incoming foreigners", foreigners, int64(3_349))
	var fdi int
	for _, p := range collect[*investmentv1.Project](recs, Projects) {
		if p.Kind == investmentv1.Project_KIND_FDI {
			fdi++
			if p.RegisteredCapital.CurrencyCode != "USD" {
				t.Errorf("FDI project in %s", p.RegisteredCapital.CurrencyCode)
			}
		}
	}
	check(t, "FDI projects", fdi, 350)
	partners := map[string]bool{}
	for _, p := range collect[*twinningv1.Partnership](recs, Partnerships) {
		partners[p.Partner.CountryCode] = true
	}
	for _, cc := range []string{"LA", "KR", "CN", "PH", "JP", "DE"} {
		if !partners[cc] {
			t.Errorf("no partnership with %s", cc)
		}
	}
	var thanhThuy bool
	for _, g := range collect[*borderv1.BorderGate](recs, BorderGates) {
		if g.CounterpartName == "Tianbao" && g.Level == borderv1.BorderGate_LEVEL_INTERNATIONAL && g.NeighbourCountry == "CN" {
			thanhThuy = true
		}
	}
	if !thanhThuy {
		t.Error("Thanh Thủy – Tianbao international gate missing")
	}
}

func TestBacNinhFigures(t *testing.T) {
	recs := For("bac-ninh")
	var fdi int
	var usd int64
	countries := map[string]bool{}
	for _, p := range collect[*investmentv1.Project](recs, Projects) {
		if p.Kind != investmentv1.Project_KIND_FDI {
			continue
		}
		fdi++
		if p.State != investmentv1.Project_STATE_IMPLEMENTING && p.State != investmentv1.Project_STATE_APPROVED {
			t.Errorf("FDI project %s in state %s", p.DisplayName, p.State)
		}
		if p.RegisteredCapital.CurrencyCode != "USD" {
			t.Errorf("FDI project in %s", p.RegisteredCapital.CurrencyCode)
		}
		usd += p.RegisteredCapital.Units
		countries[p.InvestorCountry] = true
		if d := p.ApprovedDate; d.Year > 2023 || (d.Year == 2023 && d.Month > 11) {
			t.Errorf("FDI project approved %v, after the November 2023 report", d)
		}
	}
	check(t, "FDI projects", fdi, 551)
	check(t, "FDI capital USD", usd, int64(10_800_000_000))
	if len(countries) <= 30 || countries[""] {
		t.Errorf("FDI from %d countries, want more than 30 (all set)", len(countries))
	}
	for _, cc := range []string{"KR", "CN", "JP", "SG", "TW", "HK", "US"} {
		if !countries[cc] {
			t.Errorf("no FDI from %s", cc)
		}
	}
	assocs := collect[*twinningv1.FriendshipAssociation](recs, FriendshipAssociations)
	check(t, "friendship associations", len(assocs), 9)
	for _, a := range assocs {
		check(t, a.DisplayName+" state", a.State, twinningv1.FriendshipAssociation_STATE_ACTIVE)
	}
	agrs := collect[*twinningv1.Agreement](recs, Agreements)
	check(t, "agreements", len(agrs), 4)
	var nanningMoU, others int
	for _, a := range agrs {
		switch {
		case a.Kind == twinningv1.Agreement_KIND_MOU && strings.Contains(a.DisplayName, "Nanning") && a.PartnerCountries[0] == "CN":
			nanningMoU++
		case a.Kind == twinningv1.Agreement_KIND_COOPERATION_PROGRAMME || a.Kind == twinningv1.Agreement_KIND_INTERNATIONAL_AGREEMENT:
			others++
		}
	}
	check(t, "MoU with Nanning", nanningMoU, 1)
	check(t, "other cooperation agreements", others, 3)
	var roundtable, kyushu bool
	for _, e := range collect[*investmentv1.PromotionEvent](recs, PromotionEvents) {
		roundtable = roundtable || (e.Kind == investmentv1.PromotionEvent_KIND_ROUNDTABLE && strings.Contains(e.DisplayName, "US businesses"))
		kyushu = kyushu || (e.HostCountry == "JP" && strings.Contains(e.DisplayName, "Kyushu"))
	}
	if !roundtable || !kyushu {
		t.Errorf("US roundtable: %v, Kyushu forum: %v", roundtable, kyushu)
	}
}

func TestNgheAnFigures(t *testing.T) {
	recs := For("nghe-an")
	var thanhThuy, namCan bool
	for _, g := range collect[*borderv1.BorderGate](recs, BorderGates) {
		if g.DisplayName == "Thanh Thủy" && g.NeighbourCountry == "LA" && g.Level == borderv1.BorderGate_LEVEL_MAIN &&
			g.CounterpartLevel == borderv1.BorderGate_LEVEL_SECONDARY && len(g.Upgrades) > 0 &&
			g.Upgrades[0].ToLevel == borderv1.BorderGate_LEVEL_MAIN && g.Upgrades[0].DecidedDate.Year == 2011 {
			thanhThuy = true
		}
		if g.DisplayName == "Nậm Cắn" && g.Level == borderv1.BorderGate_LEVEL_INTERNATIONAL {
			namCan = true
		}
	}
	if !thanhThuy || !namCan {
		t.Errorf("Thanh Thủy – Nậm On main/secondary: %v, Nậm Cắn international: %v", thanhThuy, namCan)
	}
	var damaged int
	for _, m := range collect[*borderv1.BorderMarker](recs, BorderMarkers) {
		if m.NeighbourCountry != "LA" {
			t.Errorf("marker %s neighbour %s", m.Number, m.NeighbourCountry)
		}
		if m.Condition == borderv1.BorderMarker_CONDITION_DAMAGED &&
			(m.RepairState == borderv1.BorderMarker_REPAIR_STATE_NEEDED || m.RepairState == borderv1.BorderMarker_REPAIR_STATE_SCHEDULED) {
			damaged++
		}
	}
	if damaged < 2 {
		t.Errorf("%d damaged markers awaiting repair, want several", damaged)
	}
	cats := map[borderv1.BorderIncident_Category]int{}
	for _, i := range collect[*borderv1.BorderIncident](recs, BorderIncidents) {
		cats[i.Category]++
		if i.Category == borderv1.BorderIncident_CATEGORY_IUU_FISHING && len(i.NotifyProvinces) == 0 {
			t.Errorf("IUU incident %s notifies nobody", i.DisplayName)
		}
	}
	if cats[borderv1.BorderIncident_CATEGORY_IUU_FISHING] == 0 || cats[borderv1.BorderIncident_CATEGORY_MARKER_DAMAGE] == 0 {
		t.Errorf("incident categories %v", cats)
	}
	lao := map[string]bool{}
	for _, p := range collect[*twinningv1.Partnership](recs, Partnerships) {
		if p.Partner.CountryCode == "LA" && p.Kind == twinningv1.Partnership_KIND_FRIENDSHIP_COOPERATION {
			lao[p.Partner.Name] = true
		}
	}
	for _, n := range []string{"Xiangkhouang province", "Houaphanh province", "Bolikhamxay province"} {
		if !lao[n] {
			t.Errorf("no friendship partnership with %s", n)
		}
	}
}

func check[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// TestForeignPartySubdivisions: the sample agreements answer "agreements
// with Guangxi localities" (Cao Bằng, and Bắc Giang's under Bắc Ninh) and
// "with Lao provinces" (Nghệ An), and every subdivision is its party's
// country's.
func TestForeignPartySubdivisions(t *testing.T) {
	with := func(province, subdivisionPrefix string) int {
		n := 0
		for _, a := range collect[*twinningv1.Agreement](For(province), Agreements) {
			for _, p := range a.ForeignParties {
				if p.Subdivision != "" && !strings.HasPrefix(p.Subdivision, p.CountryCode+"-") {
					t.Errorf("%s: party %q in %s of %s", a.DisplayName, p.Name, p.Subdivision, p.CountryCode)
				}
			}
			if anySubdivision(a.ForeignParties, func(s string) bool { return strings.HasPrefix(s, subdivisionPrefix) }) {
				n++
			}
		}
		return n
	}
	if n := with("cao-bang", "CN-GX"); n < 40 {
		t.Errorf("Cao Bằng: %d agreements with Guangxi localities, want most of its 69", n)
	}
	if n := with("cao-bang", "CN-YN"); n == 0 {
		t.Error("Cao Bằng: no agreement with a Yunnan party")
	}
	if n := with("bac-ninh", "CN-GX"); n != 2 {
		t.Errorf("Bắc Ninh: %d agreements with Guangxi localities (Nanning, Chongzuo), want 2", n)
	}
	if n := with("nghe-an", "LA-"); n == 0 {
		t.Error("Nghệ An: no agreement with a Lao province")
	}
	if n := with("nghe-an", "LA-XI"); n == 0 {
		t.Error("Nghệ An: no agreement with Xiangkhouang")
	}
}

func anySubdivision(parties []*typev1.ForeignParty, f func(subdivision string) bool) bool {
	for _, p := range parties {
		if f(p.Subdivision) {
			return true
		}
	}
	return false
}

// TestFormerProvinces checks that the merged provinces' records say where
// they came from, as the server requires (resource.CheckFormerProvince),
// so Bắc Giang's 551 FDI projects are a filter on bac-ninh's records.
func TestFormerProvinces(t *testing.T) {
	counts := map[string]map[string]int{} // province -> former -> records
	bacGiangProjects := 0
	for _, r := range All() {
		k, ok := resource.KindOf(r.Collection)
		if !ok {
			t.Fatalf("%s: unknown collection", r.Name())
		}
		former := k.FormerProvince(r.Message)
		if err := resource.CheckFormerProvince(r.Province, former); err != nil {
			t.Errorf("%s: %v", r.Name(), err)
		}
		if counts[r.Province] == nil {
			counts[r.Province] = map[string]int{}
		}
		counts[r.Province][former]++
		if r.Collection == Projects && former == "bac-giang" && strings.HasPrefix(r.ID, "fdi-") {
			bacGiangProjects++
		}
	}
	if bacGiangProjects != BacGiangFDIProjects {
		t.Errorf("bac-ninh FDI projects from bac-giang: %d, want %d", bacGiangProjects, BacGiangFDIProjects)
	}
	if n := counts["bac-ninh"][""]; n != 0 {
		t.Errorf("%d of bac-ninh's records (all from Bắc Giang's report) have no former_province", n)
	}
	if counts["tuyen-quang"]["ha-giang"] == 0 || counts["tuyen-quang"][""] == 0 {
		t.Errorf("tuyen-quang's records by former province: %v; want some from ha-giang and some not", counts["tuyen-quang"])
	}
	for _, p := range []string{"cao-bang", "nghe-an"} {
		if len(counts[p]) != 1 || counts[p][""] == 0 {
			t.Errorf("%s was formed by no merger, yet its records name former provinces: %v", p, counts[p])
		}
	}
}

// TestAgreementProcedure: the ministry's sample opinion answers, in time,
// a request of the dataset still marked REQUESTED by its province; the one
// agreement under the procedure signed since the law took effect without a
// report is Tuyên Quang's programme with Anseong.
func TestAgreementProcedure(t *testing.T) {
	all := All()
	agreements := map[string]*twinningv1.Agreement{}
	for _, r := range all {
		if a, ok := r.Message.(*twinningv1.Agreement); ok {
			agreements[r.Name()] = a
		}
	}
	opinions := collect[*twinningv1.AgreementOpinion](For(resource.Ministry), AgreementOpinions)
	if len(opinions) != 1 {
		t.Fatalf("%d sample opinions of the ministry, want 1", len(opinions))
	}
	o := opinions[0]
	a, ok := agreements[o.Agreement]
	if !ok || a.GetConsultation().GetState() != twinningv1.Agreement_CONSULTATION_STATE_REQUESTED {
		t.Fatalf("the opinion answers %q, not a requested consultation of the dataset", o.Agreement)
	}
	r := a.GetConsultation().GetRequestedDate()
	due, _ := workdays.AddWorkingDays(workdays.Date(int(r.Year), time.Month(r.Month), int(r.Day)), 7)
	if od := o.GetOpinionDate(); workdays.Date(int(od.Year), time.Month(od.Month), int(od.Day)).After(due) {
		t.Errorf("the ministry's opinion of %v is after its due date %v", od, due)
	}
	var unreported []string
	for name, a := range agreements {
		if a.GetSignedDate() != nil && a.GetReportDate() == nil && a.GetSignedDate().GetYear() >= 2021 &&
			a.GetConsultation().GetState() != twinningv1.Agreement_CONSULTATION_STATE_NOT_REQUIRED {
			unreported = append(unreported, name)
		}
	}
	if want := []string{"provinces/tuyen-quang/agreements/" + procedureUnreport}; !slices.Equal(unreported, want) {
		t.Errorf("agreements signed and not reported: %v, want %v", unreported, want)
	}
}
