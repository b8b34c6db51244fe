package sampledata

import (
	"fmt"
	"time"

	investmentv1 "github.com/provex/provex/gen/go/provex/investment/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
)

// Bắc Giang's 2023 report (figures as of mid-November 2023). Its records
// keep the name Bắc Giang but belong to Bắc Ninh since 1 July 2025, and
// carry former_province bac-giang, so its 551 FDI projects are a filter.
var bacGiangAsOf = ymd(2023, 11, 15)

func buildBacNinh(g *gen) {
	g.former = "bac-giang"
	bg := local(typev1.LocalLevel_LOCAL_LEVEL_PROVINCE, "Bắc Giang Provincial People's Committee")

	// FDI: 551 projects from 34 countries and territories, USD 10.8 billion.
	ccs := []string{"KR", "CN", "JP", "SG", "TW", "HK", "US", "DE", "FR", "GB", "NL", "MY", "TH", "IN", "AU", "CA", "IT", "VG", "SC", "BE", "CH", "DK", "SE", "ID", "PH", "NZ", "RU", "AT", "CZ", "TR", "IL", "ES", "KY", "SA"}
	if len(ccs) != BacGiangFDICountries {
		panic("sampledata: Bắc Giang FDI country list")
	}
	cw := []float64{28, 30, 9, 7, 8, 6, 2, 1, 1, 1, 0.8, 0.8, 0.8, 0.5, 0.5, 0.4, 0.4, 0.8, 0.5, 0.2, 0.3, 0.2, 0.2, 0.3, 0.2, 0.2, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.3, 0.1}
	capitals := g.split(BacGiangFDICapitalUSD, BacGiangFDIProjects, 150_000, 10_000, g.lognormal(BacGiangFDIProjects, 1.5))
	fdiNames := g.fdi(fdiSpec{
		count: BacGiangFDIProjects, countries: ccs, weights: cw, cover: true, capitals: capitals,
		from: ymd(2008, 1, 1), to: bacGiangAsOf,
		yearWeight: map[int]float64{2008: 0.3, 2009: 0.3, 2010: 0.4, 2011: 0.4, 2012: 0.5, 2013: 0.5, 2014: 0.6, 2015: 0.7, 2016: 0.8, 2017: 0.9, 2018: 1, 2019: 1.2, 2020: 1.1, 2021: 1.2, 2022: 1.4, 2023: 1.6},
		locations:  []string{"Quang Châu industrial park", "Vân Trung industrial park", "Đình Trám industrial park", "Song Khê – Nội Hoàng industrial park", "Việt Hàn industrial park", "Hòa Phú industrial park", "Yên Lư industrial park", "Tân Hưng industrial park", "Hợp Thịnh industrial park", "Lạng Giang district", "Việt Yên town", "Bắc Giang city"},
		sectors:    []investmentv1.Sector{investmentv1.Sector_SECTOR_MANUFACTURING, investmentv1.Sector_SECTOR_INFRASTRUCTURE, investmentv1.Sector_SECTOR_TRADE_AND_SERVICES, investmentv1.Sector_SECTOR_REAL_ESTATE, investmentv1.Sector_SECTOR_AGRICULTURE, investmentv1.Sector_SECTOR_ENERGY},
		sectorW:    []float64{82, 3, 6, 3, 4, 2},
		state: func(approved time.Time) investmentv1.Project_State {
			if approved.After(ymd(2023, 3, 31)) {
				return investmentv1.Project_STATE_APPROVED
			}
			return investmentv1.Project_STATE_IMPLEMENTING
		},
		idPrefix: "fdi-",
	})

	// Friendship associations: nine at province level.
	assocs := []struct {
		id, cc  string
		founded *typev1.Date
		members int32
	}{
		{"vietnam-laos", "LA", date(1999, 5, 0), 1450}, {"vietnam-cambodia", "KH", date(2004, 9, 0), 620},
		{"vietnam-china", "CN", date(2001, 12, 0), 980}, {"vietnam-japan", "JP", date(2012, 6, 0), 540},
		{"vietnam-korea", "KR", date(2013, 3, 0), 730}, {"vietnam-russia", "RU", date(2006, 11, 0), 610},
		{"vietnam-cuba", "CU", date(2008, 7, 0), 390}, {"vietnam-thailand", "TH", date(2018, 10, 0), 260},
		{"vietnam-france", "FR", date(2016, 4, 0), 310},
	}
	for _, a := range assocs {
		g.add(FriendshipAssociations, a.id, &twinningv1.FriendshipAssociation{
			DisplayName:    fmt.Sprintf("Vietnam – %s Friendship Association of Bắc Giang province", countryName(a.cc)),
			PartnerCountry: a.cc, State: twinningv1.FriendshipAssociation_STATE_ACTIVE, FoundedDate: a.founded,
			MemberCount: a.members, Chair: g.viName(),
			Notes:      "One of the 9 province-level bilateral friendship associations (64 associations and branches, over 6,000 members at all levels).",
			Visibility: typev1.Visibility_VISIBILITY_PUBLIC,
		})
	}

	// Partnerships and the four agreements of 2023.
	nanningP := g.add(Partnerships, "nanning", &twinningv1.Partnership{
		DisplayName: "Bắc Giang – Nanning City (Guangxi)", LocalUnit: local(typev1.LocalLevel_LOCAL_LEVEL_PROVINCE, "Bắc Giang province"),
		Partner: in(party("Nanning City", "CN", "city"), "CN-GX", "Nanning"), Kind: twinningv1.Partnership_KIND_FRIENDSHIP_COOPERATION,
		State: twinningv1.Partnership_STATE_ACTIVE, EstablishedDate: date(2023, 4, 0),
		Fields: []string{"agricultural trade", "lychee export", "logistics", "investment"}, Visibility: typev1.Visibility_VISIBILITY_PUBLIC,
	})
	oudomxayP := g.add(Partnerships, "oudomxay", &twinningv1.Partnership{
		DisplayName: "Bắc Giang – Oudomxay province (Laos)", LocalUnit: local(typev1.LocalLevel_LOCAL_LEVEL_PROVINCE, "Bắc Giang province"),
		Partner: in(party("Oudomxay province", "LA", "province"), "LA-OU", ""), Kind: twinningv1.Partnership_KIND_FRIENDSHIP_COOPERATION,
		State: twinningv1.Partnership_STATE_ACTIVE, EstablishedDate: date(2015, 0, 0),
		Fields: []string{"education", "agriculture", "culture"}, Visibility: typev1.Visibility_VISIBILITY_PUBLIC,
	})
	gimhaeP := g.add(Partnerships, "gimhae", &twinningv1.Partnership{
		DisplayName: "Bắc Giang – Gimhae city (Republic of Korea)", LocalUnit: local(typev1.LocalLevel_LOCAL_LEVEL_PROVINCE, "Bắc Giang province"),
		Partner: in(party("Gimhae city", "KR", "city"), "KR-48", "Gimhae"), Kind: twinningv1.Partnership_KIND_TWINNING,
		State: twinningv1.Partnership_STATE_ACTIVE, EstablishedDate: date(2018, 0, 0),
		Fields: []string{"labour", "investment", "culture"}, Visibility: typev1.Visibility_VISIBILITY_PUBLIC,
	})
	agrs := []struct {
		id, title, pship string
		kind             twinningv1.Agreement_Kind
		p                *typev1.ForeignParty
		signed           time.Time
		years            int
		place            string
		fields           []string
	}{
		{"nanning-mou-2023", "Memorandum of understanding on friendly cooperation between Bắc Giang province and Nanning City", nanningP, twinningv1.Agreement_KIND_MOU, in(party("Nanning Municipal People's Government", "CN", "city"), "CN-GX", "Nanning"), ymd(2023, 4, 12), 5, "Nanning", []string{"trade", "agriculture", "logistics"}},
		{"oudomxay-2023", "Cooperation agreement between Bắc Giang and Oudomxay provinces for 2023–2027", oudomxayP, twinningv1.Agreement_KIND_INTERNATIONAL_AGREEMENT, in(party("Oudomxay province", "LA", "province"), "LA-OU", ""), ymd(2023, 6, 20), 5, "Bắc Giang", []string{"education", "agriculture"}},
		{"gimhae-2023", "Cooperation programme between Bắc Giang province and Gimhae city, 2023–2025", gimhaeP, twinningv1.Agreement_KIND_COOPERATION_PROGRAMME, in(party("Gimhae city", "KR", "city"), "KR-48", "Gimhae"), ymd(2023, 8, 29), 3, "Gimhae", []string{"labour", "investment"}},
		{"chongzuo-2023", "Cooperation agreement on agricultural trade and border clearance of lychee with Chongzuo City", "", twinningv1.Agreement_KIND_INTERNATIONAL_AGREEMENT, in(party("Chongzuo City People's Government", "CN", "city"), "CN-GX", "Chongzuo"), ymd(2023, 5, 26), 3, "Bắc Giang", []string{"trade", "agriculture"}},
	}
	if len(agrs) != BacGiangAgreements {
		panic("sampledata: Bắc Giang agreements")
	}
	var agrNames []string
	for _, a := range agrs {
		rec := &twinningv1.Agreement{
			DisplayName: a.title, Kind: a.kind, Signatory: bg,
			ForeignParties: []*typev1.ForeignParty{a.p}, PartnerCountries: []string{a.p.CountryCode},
			SignedPlace: a.place, Partnership: a.pship, Fields: a.fields,
			Summary:    "Signed in 2023; records of the former Bắc Giang province, now Bắc Ninh.",
			Visibility: typev1.Visibility_VISIBILITY_PUBLIC,
		}
		g.agreementDates(rec, a.signed, a.years, bacGiangAsOf, true)
		agrNames = append(agrNames, g.add(Agreements, a.id, rec))
	}

	// Delegations of 2023.
	g.delegations(delegationSpec{
		province: "Bắc Giang", from: ymd(2023, 1, 1), to: bacGiangAsOf,
		outCount: 18, inCount: 42,
		outgoing: []place{
			{"Nanning, Guangxi", "CN", 3, []string{"Lychee promotion and border clearance talks"}}, {"Chongzuo City, Guangxi", "CN", 2, nil},
			{"Seoul", "KR", 2, nil}, {"Gimhae city", "KR", 1, nil}, {"Tokyo", "JP", 1, nil}, {"Fukuoka, Kyushu", "JP", 1, nil},
			{"Washington and New York", "US", 1, nil}, {"Oudomxay province", "LA", 1, nil}, {"Taipei", "TW", 1, nil}, {"Singapore", "SG", 1, nil},
		},
		incoming: []place{
			{"Korean investors", "KR", 5, nil}, {"Chinese investors", "CN", 6, nil}, {"Nanning City", "CN", 2, nil},
			{"Japanese investors", "JP", 3, nil}, {"Taiwanese investors", "TW", 3, nil}, {"the Embassy of the United States", "US", 1, nil},
			{"the Embassy of Japan", "JP", 1, nil}, {"Oudomxay province", "LA", 1, nil}, {"Singaporean investors", "SG", 1, nil},
			{"Hong Kong investors", "HK", 1, nil}, {"the Embassy of Cuba", "CU", 0.5, nil}, {"the Embassy of Russia", "RU", 0.5, nil},
		},
		agreementRefs: agrNames,
	})

	// Promotion events of 2023 and leads.
	events := []struct {
		id, title, loc, host string
		kind                 investmentv1.PromotionEvent_Kind
		start                time.Time
		partners             []string
		attendees            int32
		outcomes             string
	}{
		{"us-roundtable-2023", "Roundtable connecting US businesses and Vietnamese localities", "Washington, D.C.", "US", investmentv1.PromotionEvent_KIND_ROUNDTABLE, ymd(2023, 9, 18), []string{"US"}, 120, "The Secretary of the Provincial Party Committee introduced Bắc Giang's industrial parks to US businesses."},
		{"kyushu-forum-2023", "2nd Vietnamese Overseas Economic Forum connecting local cooperation and Vietnamese businesses in Kyushu", "Fukuoka", "JP", investmentv1.PromotionEvent_KIND_FORUM, ymd(2023, 10, 27), []string{"JP"}, 300, "Bắc Giang products introduced to the Vietnamese business community in Kyushu."},
		{"lychee-promotion-2023", "Conference promoting Bắc Giang lychee consumption and export", "Bắc Giang city", "VN", investmentv1.PromotionEvent_KIND_CONFERENCE, ymd(2023, 5, 27), []string{"CN", "JP", "US", "AU", "SG"}, 450, "Lychee export clearance through Chinese border gates agreed with importers."},
		{"korea-investment-2023", "Bắc Giang investment promotion conference in the Republic of Korea", "Seoul", "KR", investmentv1.PromotionEvent_KIND_CONFERENCE, ymd(2023, 7, 6), []string{"KR"}, 260, ""},
		{"investment-dialogue-2023", "Bắc Giang dialogue with FDI enterprises 2023", "Bắc Giang city", "VN", investmentv1.PromotionEvent_KIND_WORKSHOP, ymd(2023, 3, 16), []string{"KR", "CN", "JP", "TW", "SG", "HK"}, 380, ""},
	}
	leadNo := 0
	for _, e := range events {
		ev := g.add(PromotionEvents, e.id, &investmentv1.PromotionEvent{
			DisplayName: e.title, Kind: e.kind, StartDate: dateOf(e.start), EndDate: dateOf(e.start.AddDate(0, 0, g.between(0, 2))),
			Location: e.loc, HostCountry: e.host, PartnerCountries: e.partners, AttendeeCount: e.attendees,
			LeadCount: 2, AgreementsSigned: int32(g.between(0, 5)), Outcomes: e.outcomes,
			Visibility: typev1.Visibility_VISIBILITY_PUBLIC,
		})
		for k := 0; k < 2; k++ {
			leadNo++
			cc := pick(g, e.partners)
			investor, _ := g.company(cc, investmentv1.Sector_SECTOR_MANUFACTURING)
			first := e.start.AddDate(0, 0, g.between(0, 2))
			l := &investmentv1.InvestorLead{
				Investor: investor, Country: cc, Sector: investmentv1.Sector_SECTOR_MANUFACTURING,
				State:           []investmentv1.InvestorLead_State{investmentv1.InvestorLead_STATE_NEW, investmentv1.InvestorLead_STATE_CONTACTED, investmentv1.InvestorLead_STATE_NEGOTIATING}[g.r.IntN(3)],
				ExpectedCapital: usd(int64(g.between(10, 500)) * 100_000), PromotionEvent: ev,
				Contact: "Bắc Giang Department of Planning and Investment", FirstContactDate: dateOf(first),
				Visibility: typev1.Visibility_VISIBILITY_NATIONAL,
			}
			if k == 0 {
				if p := g.projectAfter(fdiNames, cc, first); p != nil {
					l.State = investmentv1.InvestorLead_STATE_CONVERTED
					l.Project = p.name
					l.Investor = p.investor
					l.ExpectedCapital = p.capital
				}
			}
			g.add(InvestorLeads, fmt.Sprintf("lead-%02d", leadNo), l)
		}
	}
}
