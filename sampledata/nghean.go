package sampledata

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	investmentv1 "github.com/provex/provex/gen/go/provex/investment/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
)

var (
	ngheAnFrom = ymd(2020, 1, 1)
	ngheAnTo   = ymd(2025, 9, 30)
)

func buildNgheAn(g *gen) {
	na := local(typev1.LocalLevel_LOCAL_LEVEL_PROVINCE, "Nghệ An province")
	naPC := local(typev1.LocalLevel_LOCAL_LEVEL_PROVINCE, "Nghệ An Provincial People's Committee")

	// Partnerships with Lao provinces.
	pships := []struct {
		id  string
		p   *typev1.ForeignParty
		est *typev1.Date
	}{
		{"xiangkhouang", in(party("Xiangkhouang province", "LA", "province"), "LA-XI", ""), date(1998, 0, 0)},
		{"houaphanh", in(party("Houaphanh province", "LA", "province"), "LA-HO", ""), date(2002, 0, 0)},
		{"bolikhamxay", in(party("Bolikhamxay province", "LA", "province"), "LA-BL", ""), date(2004, 0, 0)},
		{"vientiane-capital", in(party("Vientiane Capital", "LA", "city"), "LA-VT", ""), date(2019, 0, 0)},
		{"luang-prabang", in(party("Luang Prabang province", "LA", "province"), "LA-LP", ""), date(2022, 0, 0)},
	}
	pnames := map[string]string{}
	for _, p := range pships {
		pnames[p.id] = g.add(Partnerships, p.id, &twinningv1.Partnership{
			DisplayName: fmt.Sprintf("Nghệ An – %s (Laos)", p.p.Name), LocalUnit: na, Partner: p.p,
			Kind: twinningv1.Partnership_KIND_FRIENDSHIP_COOPERATION, State: twinningv1.Partnership_STATE_ACTIVE,
			EstablishedDate: p.est,
			Fields:          []string{"border management", "education", "trade", "agriculture", "security and order"},
			Notes:           "Since the two-tier local government reform Nghệ An coordinates commune-level focal points with Lao districts.",
			Visibility:      typev1.Visibility_VISIBILITY_PUBLIC,
		})
	}
	var agrNames []string
	for i, a := range []struct {
		pship  string
		kind   twinningv1.Agreement_Kind
		signed time.Time
		years  int
	}{
		{"xiangkhouang", twinningv1.Agreement_KIND_INTERNATIONAL_AGREEMENT, ymd(2021, 12, 8), 5},
		{"houaphanh", twinningv1.Agreement_KIND_INTERNATIONAL_AGREEMENT, ymd(2022, 3, 17), 5},
		{"bolikhamxay", twinningv1.Agreement_KIND_INTERNATIONAL_AGREEMENT, ymd(2022, 11, 24), 5},
		{"bolikhamxay", twinningv1.Agreement_KIND_MOU, ymd(2024, 4, 10), 3},
		{"vientiane-capital", twinningv1.Agreement_KIND_COOPERATION_PROGRAMME, ymd(2023, 7, 5), 3},
		{"luang-prabang", twinningv1.Agreement_KIND_MOU, ymd(2022, 9, 14), 3},
	} {
		p := pships[indexOf(len(pships), func(j int) bool { return pships[j].id == a.pship })]
		title := fmt.Sprintf("Cooperation agreement between Nghệ An and %s for %d–%d", p.p.Name, a.signed.Year(), a.signed.Year()+a.years-1)
		if a.kind == twinningv1.Agreement_KIND_MOU {
			title = fmt.Sprintf("Memorandum of understanding with %s on the Thanh Thủy – Nậm On border gate and cross-border trade", p.p.Name)
			if a.pship != "bolikhamxay" {
				title = fmt.Sprintf("Memorandum of understanding on tourism and culture with %s", p.p.Name)
			}
		} else if a.kind == twinningv1.Agreement_KIND_COOPERATION_PROGRAMME {
			title = fmt.Sprintf("Cooperation programme between Nghệ An and %s, %d–%d", p.p.Name, a.signed.Year(), a.signed.Year()+a.years-1)
		}
		rec := &twinningv1.Agreement{
			DisplayName: title, Kind: a.kind, Signatory: naPC,
			ForeignParties: []*typev1.ForeignParty{p.p}, PartnerCountries: []string{"LA"},
			SignedPlace: pick(g, []string{"Vinh", p.p.Name}), Partnership: pnames[a.pship],
			Fields:     []string{"border management", "education", "trade"},
			Summary:    "Annual meetings; scholarships for Lao students; coordination against drug trafficking and illegal crossing.",
			Visibility: typev1.Visibility_VISIBILITY_PUBLIC,
		}
		g.agreementDates(rec, a.signed, a.years, ngheAnTo, true)
		agrNames = append(agrNames, g.add(Agreements, fmt.Sprintf("agr-%d-%02d", a.signed.Year(), i+1), rec))
	}

	g.delegations(delegationSpec{
		province: "Nghệ An", from: ngheAnFrom, to: ngheAnTo, yearWeight: covidWeights,
		outCount: 34, inCount: 58,
		outgoing: []place{
			{"Xiangkhouang province", "LA", 5, nil}, {"Houaphanh province", "LA", 5, nil}, {"Bolikhamxay province", "LA", 5, []string{"Talks on upgrading Nậm On to a main border gate"}},
			{"Vientiane", "LA", 3, nil}, {"Seoul", "KR", 2, nil}, {"Tokyo", "JP", 2, nil}, {"Moscow", "RU", 1, nil}, {"Havana", "CU", 0.5, nil}, {"Bangkok", "TH", 1, nil},
		},
		incoming: []place{
			{"Xiangkhouang province", "LA", 5, nil}, {"Houaphanh province", "LA", 5, nil}, {"Bolikhamxay province", "LA", 5, nil},
			{"the Embassy of Laos", "LA", 2, nil}, {"Korean investors", "KR", 3, nil}, {"Japanese investors", "JP", 2, nil},
			{"Taiwanese investors", "TW", 2, nil}, {"the Embassy of Russia", "RU", 1, nil}, {"the Embassy of Thailand", "TH", 1, nil},
			{"the European Union Delegation", "BE", 1, []string{"Exchange on the IUU fishing yellow card"}},
		},
		agreementRefs: agrNames,
	})

	// Border gates.
	thanhThuy := g.add(BorderGates, "thanh-thuy", &borderv1.BorderGate{
		DisplayName: "Thanh Thủy", CounterpartName: "Nậm On", NeighbourCountry: "LA",
		Level: borderv1.BorderGate_LEVEL_MAIN, CounterpartLevel: borderv1.BorderGate_LEVEL_SECONDARY,
		Transport: borderv1.BorderGate_TRANSPORT_ROAD, State: borderv1.BorderGate_STATE_OPEN,
		Upgrades: []*borderv1.BorderGate_Upgrade{
			{FromLevel: borderv1.BorderGate_LEVEL_SECONDARY, ToLevel: borderv1.BorderGate_LEVEL_MAIN, DecidedDate: date(2011, 0, 0), EffectiveDate: date(2011, 0, 0), Decision: "Upgrade of Thanh Thủy to a main border gate (Vietnamese side only)"},
		},
		Notes:      "Thanh Chương district facing Bolikhamxay province. Laos keeps Nậm On secondary, so the pair works as secondary; Nghệ An asks MOFA to consult Laos on upgrading Nậm On. Planned Hà Nội – Vientiane expressway crossing.",
		Visibility: typev1.Visibility_VISIBILITY_PUBLIC,
	})
	namCan := g.add(BorderGates, "nam-can", &borderv1.BorderGate{
		DisplayName: "Nậm Cắn", CounterpartName: "Nậm Cắn", NeighbourCountry: "LA",
		Level: borderv1.BorderGate_LEVEL_INTERNATIONAL, CounterpartLevel: borderv1.BorderGate_LEVEL_INTERNATIONAL,
		Transport: borderv1.BorderGate_TRANSPORT_ROAD, State: borderv1.BorderGate_STATE_OPEN,
		Notes: "Kỳ Sơn district facing Xiangkhouang province (National Road 7).", Visibility: typev1.Visibility_VISIBILITY_PUBLIC,
	})
	tamHop := g.add(BorderGates, "tam-hop", &borderv1.BorderGate{
		DisplayName: "Tam Hợp", CounterpartName: "Nậm Xắc", NeighbourCountry: "LA",
		Level: borderv1.BorderGate_LEVEL_SECONDARY, CounterpartLevel: borderv1.BorderGate_LEVEL_SECONDARY,
		Transport: borderv1.BorderGate_TRANSPORT_ROAD, State: borderv1.BorderGate_STATE_OPEN,
		Notes: "Tương Dương district facing Bolikhamxay province.", Visibility: typev1.Visibility_VISIBILITY_PUBLIC,
	})

	// Border markers (Vietnam–Laos).
	markers := []struct {
		id, number string
		typ        borderv1.BorderMarker_Type
		lat, lng   float64
		cond       borderv1.BorderMarker_Condition
		repair     borderv1.BorderMarker_RepairState
		gate, note string
	}{
		{"m360", "360", borderv1.BorderMarker_TYPE_SINGLE, 19.4169, 104.0987, borderv1.BorderMarker_CONDITION_GOOD, borderv1.BorderMarker_REPAIR_STATE_NOT_NEEDED, namCan, ""},
		{"m361", "361", borderv1.BorderMarker_TYPE_SINGLE, 19.4052, 104.1123, borderv1.BorderMarker_CONDITION_DAMAGED, borderv1.BorderMarker_REPAIR_STATE_NEEDED, namCan, "Landslide after heavy rain buried the base."},
		{"m377", "377", borderv1.BorderMarker_TYPE_SINGLE, 19.2893, 104.3411, borderv1.BorderMarker_CONDITION_GOOD, borderv1.BorderMarker_REPAIR_STATE_NOT_NEEDED, "", ""},
		{"m385-1", "385/1", borderv1.BorderMarker_TYPE_SECONDARY, 19.1887, 104.4620, borderv1.BorderMarker_CONDITION_DAMAGED, borderv1.BorderMarker_REPAIR_STATE_SCHEDULED, "", "Face plate cracked; repair scheduled with the Lao side."},
		{"m392", "392", borderv1.BorderMarker_TYPE_DOUBLE, 19.0955, 104.5432, borderv1.BorderMarker_CONDITION_GOOD, borderv1.BorderMarker_REPAIR_STATE_NOT_NEEDED, tamHop, ""},
		{"m405", "405", borderv1.BorderMarker_TYPE_SINGLE, 18.9641, 104.7128, borderv1.BorderMarker_CONDITION_DAMAGED, borderv1.BorderMarker_REPAIR_STATE_NEEDED, tamHop, "Tilted by a landslide during the 2023 rainy season."},
		{"m413", "413", borderv1.BorderMarker_TYPE_SINGLE, 18.8703, 104.8559, borderv1.BorderMarker_CONDITION_GOOD, borderv1.BorderMarker_REPAIR_STATE_COMPLETED, "", "Repaired in 2022."},
		{"m426", "426", borderv1.BorderMarker_TYPE_SINGLE, 18.7324, 105.0247, borderv1.BorderMarker_CONDITION_DAMAGED, borderv1.BorderMarker_REPAIR_STATE_SCHEDULED, thanhThuy, "Concrete spalling; included in the 2025 repair plan."},
		{"m427", "427", borderv1.BorderMarker_TYPE_SINGLE, 18.7190, 105.0412, borderv1.BorderMarker_CONDITION_GOOD, borderv1.BorderMarker_REPAIR_STATE_NOT_NEEDED, thanhThuy, ""},
		{"s-thanh-thuy-12", "C12", borderv1.BorderMarker_TYPE_STAKE, 18.7251, 105.0333, borderv1.BorderMarker_CONDITION_MISSING, borderv1.BorderMarker_REPAIR_STATE_NEEDED, thanhThuy, "Stake missing after road works near the gate."},
	}
	inspectors := []string{"Nậm Cắn Border Guard Station", "Thanh Thủy Border Guard Station", "Tam Hợp Border Guard Station", "Mường Xén Border Guard Station", "Joint Vietnam–Laos inspection team"}
	markerNames := map[string]string{}
	for _, m := range markers {
		bm := &borderv1.BorderMarker{
			Number: m.number, NeighbourCountry: "LA", Type: m.typ, Location: &typev1.LatLng{Latitude: m.lat, Longitude: m.lng},
			Condition: m.cond, RepairState: m.repair, BorderGate: m.gate, Notes: m.note, Visibility: typev1.Visibility_VISIBILITY_PUBLIC,
		}
		g.inspections(bm, inspectors, ngheAnFrom, ngheAnTo)
		markerNames[m.id] = g.add(BorderMarkers, m.id, bm)
	}

	// Incidents: IUU fishing at sea and marker damage on the Lao border.
	g.add(BorderIncidents, "iuu-vessel-2023-07", &borderv1.BorderIncident{
		DisplayName: "Nghệ An fishing vessel detained abroad for fishing in foreign waters",
		Category:    borderv1.BorderIncident_CATEGORY_IUU_FISHING, Severity: borderv1.BorderIncident_SEVERITY_HIGH,
		State: borderv1.BorderIncident_STATE_RESOLVED, OccurTime: timestamppb.New(time.Date(2023, 7, 14, 3, 20, 0, 0, vnZone)),
		ResolveTime:     timestamppb.New(time.Date(2023, 10, 2, 9, 0, 0, 0, vnZone)),
		Description:     "A Quỳnh Lưu fishing vessel with 11 crew was detained; the province asked MOFA for consular support and information.",
		NotifyProvinces: []string{"ha-tinh", "thanh-hoa"},
		ActionsTaken:    "Crew repatriated through consular channels; owner fined under the Fisheries Law; vessel monitoring checked.",
		Visibility:      typev1.Visibility_VISIBILITY_RESTRICTED, VisibleTo: []string{"ha-tinh", "thanh-hoa"},
	})
	g.add(BorderIncidents, "iuu-vms-2024-03", &borderv1.BorderIncident{
		DisplayName: "Vessels lost VMS signal for more than 6 hours",
		Category:    borderv1.BorderIncident_CATEGORY_IUU_FISHING, Severity: borderv1.BorderIncident_SEVERITY_MEDIUM,
		State: borderv1.BorderIncident_STATE_MONITORING, OccurTime: timestamppb.New(time.Date(2024, 3, 5, 16, 0, 0, 0, vnZone)),
		Description:     "Four offshore vessels registered in Nghệ An lost their vessel-monitoring signal near the maritime boundary.",
		NotifyProvinces: []string{"ha-tinh", "thanh-hoa"},
		ActionsTaken:    "Owners summoned; fisheries surveillance informed.",
		Visibility:      typev1.Visibility_VISIBILITY_PUBLIC,
	})
	g.add(BorderIncidents, "marker-405-landslide-2023", &borderv1.BorderIncident{
		DisplayName: "Marker 405 tilted by a landslide",
		Category:    borderv1.BorderIncident_CATEGORY_MARKER_DAMAGE, Severity: borderv1.BorderIncident_SEVERITY_MEDIUM,
		State: borderv1.BorderIncident_STATE_OPEN, OccurTime: timestamppb.New(time.Date(2023, 9, 22, 10, 0, 0, 0, vnZone)),
		NeighbourCountry: "LA", BorderGate: tamHop, BorderMarker: markerNames["m405"],
		Location:        &typev1.LatLng{Latitude: 18.9641, Longitude: 104.7128},
		Description:     "The marker leans about 15 degrees; the surrounding slope is unstable.",
		NotifyProvinces: []string{"ha-tinh"},
		ActionsTaken:    "Reported to MOFA with a request for a repair procedure agreed with the Lao side.",
		Visibility:      typev1.Visibility_VISIBILITY_PUBLIC,
	})
	g.add(BorderIncidents, "marker-361-landslide-2024", &borderv1.BorderIncident{
		DisplayName: "Marker 361 buried by a landslide near Nậm Cắn",
		Category:    borderv1.BorderIncident_CATEGORY_MARKER_DAMAGE, Severity: borderv1.BorderIncident_SEVERITY_LOW,
		State: borderv1.BorderIncident_STATE_OPEN, OccurTime: timestamppb.New(time.Date(2024, 9, 20, 7, 0, 0, 0, vnZone)),
		NeighbourCountry: "LA", BorderGate: namCan, BorderMarker: markerNames["m361"],
		Description: "Soil covers the lower half of the marker after storm rains.",
		Visibility:  typev1.Visibility_VISIBILITY_PUBLIC,
	})

	// Yearly trade through the Lao gates.
	for _, gy := range []struct {
		id, gate    string
		scale       float64
		first, last int
	}{{"nam-can", namCan, 1, 2021, 2024}, {"thanh-thuy", thanhThuy, 0.3, 2022, 2024}} {
		for y := gy.first; y <= gy.last; y++ {
			f := gy.scale * (0.8 + 0.1*float64(y-2021)) * (0.9 + 0.2*g.r.Float64())
			g.add(TradeReports, fmt.Sprintf("%s-%d", gy.id, y), &borderv1.TradeReport{
				BorderGate: gy.gate, PeriodKind: borderv1.TradeReport_PERIOD_KIND_YEAR, PeriodStart: date(y, 1, 1), PeriodEnd: date(y, 12, 31),
				ExportValue: usd(int64(f*95e6) / 1000 * 1000), ImportValue: usd(int64(f*60e6) / 1000 * 1000),
				BudgetRevenue: vnd(int64(f*85e9) / 1_000_000 * 1_000_000), VehicleCount: int64(f * 18000), PassengerCount: int64(f * 52000),
				Visibility: typev1.Visibility_VISIBILITY_PUBLIC,
			})
		}
	}

	// A promotion event with a few leads.
	ev := g.add(PromotionEvents, "investment-conference-2024", &investmentv1.PromotionEvent{
		DisplayName: "Nghệ An investment promotion conference 2024", Kind: investmentv1.PromotionEvent_KIND_CONFERENCE,
		StartDate: date(2024, 6, 9), EndDate: date(2024, 6, 9), Location: "Vinh city", HostCountry: "VN",
		PartnerCountries: []string{"KR", "JP", "TW", "SG", "LA"}, AttendeeCount: 700, LeadCount: 3, AgreementsSigned: 9,
		Visibility: typev1.Visibility_VISIBILITY_PUBLIC,
	})
	g.add(PromotionEvents, "korea-roadshow-2023", &investmentv1.PromotionEvent{
		DisplayName: "Nghệ An investment roadshow in the Republic of Korea", Kind: investmentv1.PromotionEvent_KIND_MISSION,
		StartDate: date(2023, 10, 16), EndDate: date(2023, 10, 20), Location: "Seoul and Incheon", HostCountry: "KR",
		PartnerCountries: []string{"KR"}, AttendeeCount: 150, LeadCount: 2, Visibility: typev1.Visibility_VISIBILITY_PUBLIC,
	})
	for i, cc := range []string{"KR", "TW", "SG"} {
		investor, _ := g.company(cc, investmentv1.Sector_SECTOR_MANUFACTURING)
		g.add(InvestorLeads, fmt.Sprintf("lead-%02d", i+1), &investmentv1.InvestorLead{
			Investor: investor, Country: cc, Sector: investmentv1.Sector_SECTOR_MANUFACTURING,
			State: investmentv1.InvestorLead_STATE_CONTACTED, ExpectedCapital: usd(int64(g.between(20, 900)) * 100_000),
			PromotionEvent: ev, Contact: "Nghệ An Department of Planning and Investment", FirstContactDate: date(2024, 6, 9),
			Visibility: typev1.Visibility_VISIBILITY_NATIONAL,
		})
	}
}
