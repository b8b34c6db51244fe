package sampledata

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	investmentv1 "github.com/provex/provex/gen/go/provex/investment/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
)

// Cao Bằng's report covers 2020 to mid-2025; travel was scarce in 2020–2021.
var (
	caoBangFrom  = ymd(2020, 1, 1)
	caoBangTo    = ymd(2025, 6, 30)
	covidWeights = map[int]float64{2020: 0.35, 2021: 0.2, 2022: 0.8, 2023: 1.2, 2024: 1.3, 2025: 1.2}
)

func buildCaoBang(g *gen) {
	const (
		gx = "Guangxi"
		cn = "CN"
	)
	pv := local(typev1.LocalLevel_LOCAL_LEVEL_PROVINCE, "Cao Bằng Provincial People's Committee")

	// Partnerships: the province with Guangxi and its cities, and the ten
	// twinned border residential areas.
	guangxi := g.add(Partnerships, "guangxi", &twinningv1.Partnership{
		DisplayName:     "Cao Bằng – Guangxi Zhuang Autonomous Region",
		LocalUnit:       local(typev1.LocalLevel_LOCAL_LEVEL_PROVINCE, "Cao Bằng province"),
		Partner:         in(party("Guangxi Zhuang Autonomous Region", cn, "region"), "CN-GX", ""),
		Kind:            twinningv1.Partnership_KIND_FRIENDSHIP_COOPERATION,
		State:           twinningv1.Partnership_STATE_ACTIVE,
		EstablishedDate: date(2009, 0, 0),
		Fields:          []string{"border management", "trade", "tourism", "culture", "transport"},
		Notes:           "Annual spring meeting of the Party secretaries of Quảng Ninh, Lạng Sơn, Cao Bằng, Hà Giang and Guangxi; joint working committee.",
		Visibility:      typev1.Visibility_VISIBILITY_PUBLIC,
	})
	baise := g.add(Partnerships, "baise", &twinningv1.Partnership{
		DisplayName: "Cao Bằng – Baise City", LocalUnit: local(typev1.LocalLevel_LOCAL_LEVEL_PROVINCE, "Cao Bằng province"),
		Partner: in(party("Baise City", cn, "city"), "CN-GX", "Baise"), Kind: twinningv1.Partnership_KIND_FRIENDSHIP_COOPERATION,
		State: twinningv1.Partnership_STATE_ACTIVE, EstablishedDate: date(2013, 0, 0),
		Fields: []string{"trade", "border management", "agriculture"}, Visibility: typev1.Visibility_VISIBILITY_PUBLIC,
	})
	chongzuo := g.add(Partnerships, "chongzuo", &twinningv1.Partnership{
		DisplayName: "Cao Bằng – Chongzuo City", LocalUnit: local(typev1.LocalLevel_LOCAL_LEVEL_PROVINCE, "Cao Bằng province"),
		Partner: in(party("Chongzuo City", cn, "city"), "CN-GX", "Chongzuo"), Kind: twinningv1.Partnership_KIND_FRIENDSHIP_COOPERATION,
		State: twinningv1.Partnership_STATE_ACTIVE, EstablishedDate: date(2013, 0, 0),
		Fields: []string{"trade", "tourism", "border management"}, Visibility: typev1.Visibility_VISIBILITY_PUBLIC,
	})
	g.add(Partnerships, "leye-fengshan-geopark", &twinningv1.Partnership{
		DisplayName: "Non nước Cao Bằng UNESCO Global Geopark – Leye-Fengshan UNESCO Global Geopark",
		LocalUnit:   local(typev1.LocalLevel_LOCAL_LEVEL_DEPARTMENT, "Non nước Cao Bằng Geopark Management Board"),
		Partner:     in(party("Leye-Fengshan UNESCO Global Geopark", cn, "organisation"), "CN-GX", "Leye and Fengshan counties"),
		Kind:        twinningv1.Partnership_KIND_FRIENDSHIP_COOPERATION, State: twinningv1.Partnership_STATE_ACTIVE,
		EstablishedDate: date(2021, 5, 0), Fields: []string{"geoheritage", "tourism", "education"},
		Visibility: typev1.Visibility_VISIBILITY_PUBLIC,
	})
	type twin struct {
		id                string
		level             typev1.LocalLevel
		vn, cnName, cnLvl string
		established       *typev1.Date
	}
	twins := []twin{
		{"trung-khanh-daxin", typev1.LocalLevel_LOCAL_LEVEL_DISTRICT, "Trùng Khánh district", "Daxin County", "county", date(2016, 11, 0)},
		{"ha-quang-napo", typev1.LocalLevel_LOCAL_LEVEL_DISTRICT, "Hà Quảng district", "Napo County", "county", date(2017, 3, 0)},
		{"thach-an-longzhou", typev1.LocalLevel_LOCAL_LEVEL_DISTRICT, "Thạch An district", "Longzhou County", "county", date(2018, 9, 0)},
		{"ta-lung-shuikou", typev1.LocalLevel_LOCAL_LEVEL_COMMUNE, "Tà Lùng town", "Shuikou Town", "town", date(2019, 12, 0)},
		{"dam-thuy-shuolong", typev1.LocalLevel_LOCAL_LEVEL_COMMUNE, "Đàm Thủy commune", "Shuolong Town", "town", date(2020, 12, 22)},
		{"ly-quoc-xialei", typev1.LocalLevel_LOCAL_LEVEL_COMMUNE, "Lý Quốc commune", "Xialei Town", "town", date(2021, 11, 18)},
		{"soc-ha-pingmeng", typev1.LocalLevel_LOCAL_LEVEL_COMMUNE, "Sóc Hà commune", "Pingmeng Town", "town", date(2022, 12, 8)},
		{"ban-gioc-detian", typev1.LocalLevel_LOCAL_LEVEL_VILLAGE, "Bản Giốc hamlet, Đàm Thủy commune", "Detian Village, Shuolong Town", "village", date(2023, 3, 15)},
		{"na-doong-longbang", typev1.LocalLevel_LOCAL_LEVEL_VILLAGE, "Nà Đoỏng hamlet, Trà Lĩnh town", "Longbang Village, Longbang Town", "village", date(2023, 12, 26)},
		{"po-peo-yuewei", typev1.LocalLevel_LOCAL_LEVEL_VILLAGE, "Pò Peo hamlet, Ngọc Côn commune", "Yuewei Village", "village", date(2024, 10, 10)},
	}
	for _, t := range twins {
		g.add(Partnerships, t.id, &twinningv1.Partnership{
			DisplayName:     fmt.Sprintf("Border residential twinning: %s – %s (%s)", t.vn, t.cnName, gx),
			LocalUnit:       local(t.level, t.vn),
			Partner:         in(party(t.cnName+", Guangxi", cn, t.cnLvl), "CN-GX", t.cnName),
			Kind:            twinningv1.Partnership_KIND_BORDER_RESIDENTIAL_TWINNING,
			State:           twinningv1.Partnership_STATE_ACTIVE,
			EstablishedDate: t.established,
			Fields:          []string{"border management", "security and order", "culture", "trade"},
			Notes:           "Promoted with the Provincial Union of Friendship Organisations and the Vietnam–China Friendship Association.",
			Visibility:      typev1.Visibility_VISIBILITY_PUBLIC,
		})
	}

	// Agreements: 69 documents signed with foreign localities, partners and businesses.
	type partner struct {
		party       *typev1.ForeignParty
		weight      float64
		partnership string
		business    bool
	}
	partners := []partner{
		{in(party("People's Government of Guangxi Zhuang Autonomous Region", cn, "region"), "CN-GX", ""), 3, guangxi, false},
		{in(party("Department of Commerce of Guangxi", cn, "organisation"), "CN-GX", "Nanning"), 5, guangxi, false},
		{in(party("Department of Culture and Tourism of Guangxi", cn, "organisation"), "CN-GX", "Nanning"), 4, guangxi, false},
		{in(party("Foreign Affairs Office of Guangxi", cn, "organisation"), "CN-GX", "Nanning"), 3, guangxi, false},
		{in(party("Nanning Customs District", cn, "organisation"), "CN-GX", "Nanning"), 2, "", false},
		{in(party("Baise City People's Government", cn, "city"), "CN-GX", "Baise"), 5, baise, false},
		{in(party("Chongzuo City People's Government", cn, "city"), "CN-GX", "Chongzuo"), 5, chongzuo, false},
		{in(party("Jingxi City People's Government", cn, "city"), "CN-GX", "Jingxi"), 4, baise, false},
		{in(party("Longzhou County People's Government", cn, "county"), "CN-GX", "Longzhou"), 4, "", false},
		{in(party("Daxin County People's Government", cn, "county"), "CN-GX", "Daxin"), 4, "", false},
		{in(party("Napo County People's Government", cn, "county"), "CN-GX", "Napo"), 3, "", false},
		{in(party("Shuolong Town People's Government", cn, "town"), "CN-GX", "Shuolong, Daxin county"), 2, "", false},
		{in(party("Yunnan Provincial Department of Commerce", cn, "organisation"), "CN-YN", "Kunming"), 1, "", false},
		{in(party("Guangxi Xinbeibu Logistics Co., Ltd.", cn, "organisation"), "CN-GX", ""), 2, "", true},
		{in(party("Guangxi Xijiang Development Investment Co., Ltd.", cn, "organisation"), "CN-GX", ""), 2, "", true},
		{in(party("Chongzuo Border Trade Service Co., Ltd.", cn, "organisation"), "CN-GX", "Chongzuo"), 2, "", true},
		{in(party("Houaphanh province", "LA", "province"), "LA-HO", ""), 2, "", false},
		{in(party("Leye-Fengshan UNESCO Global Geopark", cn, "organisation"), "CN-GX", "Leye and Fengshan counties"), 1, "", false},
		{party("Langkawi UNESCO Global Geopark", "MY", "organisation"), 1, "", false},
		{in(party("Satun UNESCO Global Geopark", "TH", "organisation"), "TH-91", "Satun"), 1, "", false},
		{party("Korea International Cooperation Agency (KOICA)", "KR", "organisation"), 1, "", false},
		{party("Japan International Cooperation Agency (JICA)", "JP", "organisation"), 1, "", false},
		{party("Département de la Lozère", "FR", "province"), 1, "", false},
		{party("Seojin Vina Co., Ltd.", "KR", "organisation"), 1, "", true},
	}
	pw := make([]float64, len(partners))
	for i, p := range partners {
		pw[i] = p.weight
	}
	topics := []struct{ topic, field string }{
		{"border trade and customs clearance at the Tà Lùng–Shuikou and Trà Lĩnh–Longbang gates", "trade"},
		{"the protection and exploitation of tourism resources of the Bản Giốc–Detian waterfall", "tourism"},
		{"joint tourism promotion and cross-border tour routes", "tourism"},
		{"border management and the three legal documents on the land border", "border management"},
		{"prevention of epidemics and animal disease at the border", "health"},
		{"vocational training and scholarships for Cao Bằng students", "education"},
		{"agricultural trade and quarantine of farm produce", "agriculture"},
		{"logistics and border-gate infrastructure", "logistics"},
		{"cultural exchange and Lunar New Year festivals of border residents", "culture"},
		{"prevention of illegal border crossing and trafficking in persons", "security and order"},
		{"geopark management and geoheritage education", "geoheritage"},
		{"smart border-gate pilots and digital customs", "digital transformation"},
	}
	businessTopics := []struct{ topic, field string }{topics[0], topics[2], topics[6], topics[7]}
	kinds := []twinningv1.Agreement_Kind{twinningv1.Agreement_KIND_MOU, twinningv1.Agreement_KIND_INTERNATIONAL_AGREEMENT, twinningv1.Agreement_KIND_COOPERATION_PROGRAMME}
	kindLabel := map[twinningv1.Agreement_Kind]string{
		twinningv1.Agreement_KIND_MOU:                     "Memorandum of understanding",
		twinningv1.Agreement_KIND_INTERNATIONAL_AGREEMENT: "Cooperation agreement",
		twinningv1.Agreement_KIND_COOPERATION_PROGRAMME:   "Cooperation programme",
	}
	signatories := []*typev1.LocalUnit{
		pv, pv, pv,
		local(typev1.LocalLevel_LOCAL_LEVEL_DEPARTMENT, "Cao Bằng Department of Industry and Trade"),
		local(typev1.LocalLevel_LOCAL_LEVEL_DEPARTMENT, "Cao Bằng Department of Culture, Sports and Tourism"),
		local(typev1.LocalLevel_LOCAL_LEVEL_DEPARTMENT, "Cao Bằng Department of Foreign Affairs"),
		local(typev1.LocalLevel_LOCAL_LEVEL_DEPARTMENT, "Cao Bằng Department of Agriculture and Rural Development"),
		local(typev1.LocalLevel_LOCAL_LEVEL_DISTRICT, "Trùng Khánh District People's Committee"),
		local(typev1.LocalLevel_LOCAL_LEVEL_DISTRICT, "Thạch An District People's Committee"),
		local(typev1.LocalLevel_LOCAL_LEVEL_COMMUNE, "Đàm Thủy Commune People's Committee"),
	}
	signedDays := make([]time.Time, CaoBangAgreements)
	for i := range signedDays {
		signedDays[i] = g.day(caoBangFrom, caoBangTo.AddDate(0, 0, -10), covidWeights)
	}
	sortTimes(signedDays)
	var agreementNames []string
	for i, signed := range signedDays {
		p := partners[g.weighted(pw)]
		t := pick(g, topics)
		kind := kinds[g.weighted([]float64{5, 3, 2})]
		sig := pick(g, signatories)
		// Specialised partners sign on their own subjects.
		for _, s := range []struct {
			key string
			idx []int
		}{
			{"Commerce", []int{0, 6, 7, 11}}, {"Customs", []int{0, 7, 11}}, {"Tourism", []int{1, 2, 8}}, {"Geopark", []int{10, 2}},
			{"Foreign Affairs", []int{3, 4, 8, 9}}, {"Agency", []int{4, 5, 6}}, {"Lozère", []int{2, 5, 8}}, {"Houaphanh", []int{3, 5, 6}},
		} {
			if strings.Contains(p.party.Name, s.key) {
				t = topics[pick(g, s.idx)]
				break
			}
		}
		if p.business {
			t = pick(g, businessTopics)
			kind = twinningv1.Agreement_KIND_MOU
			sig = local(typev1.LocalLevel_LOCAL_LEVEL_DEPARTMENT, "Cao Bằng Department of Industry and Trade")
		}
		a := &twinningv1.Agreement{
			DisplayName:      fmt.Sprintf("%s on %s between %s and %s", kindLabel[kind], t.topic, sig.Name, p.party.Name),
			Kind:             kind,
			Signatory:        sig,
			ForeignParties:   []*typev1.ForeignParty{p.party},
			PartnerCountries: []string{p.party.CountryCode},
			SignedPlace:      pick(g, []string{"Cao Bằng", "Cao Bằng", "Nanning", "Baise", "Chongzuo", "Hà Nội", "online"}),
			Partnership:      p.partnership,
			Fields:           []string{t.field},
			Summary:          fmt.Sprintf("The parties agree to cooperate on %s, to meet at least once a year and to designate focal points.", t.topic),
			Visibility:       typev1.Visibility_VISIBILITY_PUBLIC,
		}
		g.agreementDates(a, signed, pick(g, []int{2, 3, 3, 5}), caoBangTo, !p.business)
		agreementNames = append(agreementNames, g.add(Agreements, fmt.Sprintf("agr-%d-%02d", signed.Year(), i+1), a))
	}

	// Delegations: 120 outgoing, about 190 incoming.
	cnTopics := []string{"Spring meeting of the provincial Party secretaries with Guangxi", "Joint working committee with Guangxi", "Talks on upgrading border gates and clearance routes", "Bản Giốc–Detian scenic area coordination"}
	g.delegations(delegationSpec{
		province: "Cao Bằng", from: caoBangFrom, to: caoBangTo, yearWeight: covidWeights,
		outCount: CaoBangOutgoingDelegations, inCount: CaoBangIncomingDelegations,
		outgoing: []place{
			{"Nanning, Guangxi", cn, 14, cnTopics}, {"Baise City, Guangxi", cn, 10, cnTopics}, {"Chongzuo City, Guangxi", cn, 10, cnTopics},
			{"Jingxi City, Guangxi", cn, 6, cnTopics}, {"Longzhou County, Guangxi", cn, 5, cnTopics}, {"Daxin County, Guangxi", cn, 6, cnTopics},
			{"Napo County, Guangxi", cn, 3, nil}, {"Kunming, Yunnan", cn, 2, nil}, {"Guangzhou, Guangdong", cn, 2, nil},
			{"Houaphanh province", "LA", 3, nil}, {"Vientiane", "LA", 2, nil}, {"Seoul", "KR", 3, nil}, {"Gyeonggi-do", "KR", 1, nil},
			{"Tokyo", "JP", 2, nil}, {"Osaka", "JP", 1, nil}, {"Paris", "FR", 2, nil}, {"Bangkok", "TH", 1, nil},
			{"Langkawi", "MY", 1, []string{"Asia Pacific Geoparks Network meeting"}}, {"Singapore", "SG", 1, nil},
		},
		incoming: []place{
			{"Guangxi Zhuang Autonomous Region", cn, 16, cnTopics}, {"Baise City", cn, 12, nil}, {"Chongzuo City", cn, 12, nil},
			{"Jingxi City", cn, 7, nil}, {"Longzhou County", cn, 6, nil}, {"Daxin County", cn, 7, nil}, {"Napo County", cn, 4, nil},
			{"the Consulate General of China in Hanoi's consular district", cn, 2, nil},
			{"Houaphanh province", "LA", 3, nil}, {"the Embassy of Laos", "LA", 1, nil},
			{"Korea International Cooperation Agency", "KR", 2, nil}, {"the Embassy of Korea", "KR", 1, nil},
			{"Japan International Cooperation Agency", "JP", 2, nil}, {"the Embassy of Japan", "JP", 1, nil},
			{"the Embassy of France", "FR", 1, nil}, {"Plan International", "GB", 1, nil}, {"World Vision", "US", 1, nil},
			{"the Embassy of Australia", "AU", 1, nil}, {"the Global Geoparks Network", "FR", 1, []string{"Revalidation mission for Non nước Cao Bằng UNESCO Global Geopark"}},
			{"the Embassy of the United States", "US", 1, nil}, {"the Embassy of Cuba", "CU", 0.5, nil},
		},
		agreementRefs: agreementNames,
	})

	// ODA and concessional-loan projects: 9, of which 7 completed.
	type oda struct {
		id, title, donor, cc string
		kind                 investmentv1.Project_Kind
		sector               investmentv1.Sector
		millionVND           int64
		approved, completed  *typev1.Date
	}
	odas := []oda{
		{"oda-bi-inclusive-growth", "Basic infrastructure for inclusive growth in the northern border provinces – Cao Bằng subproject", "Asian Development Bank", "", investmentv1.Project_KIND_ODA, investmentv1.Sector_SECTOR_INFRASTRUCTURE, 412_620, date(2017, 6, 12), date(2022, 12, 30)},
		{"oda-local-roads", "Local road asset management – Cao Bằng component", "World Bank", "", investmentv1.Project_KIND_ODA, investmentv1.Sector_SECTOR_TRANSPORT, 298_450, date(2016, 11, 3), date(2021, 12, 31)},
		{"oda-poverty-reduction", "Sustainable poverty reduction in the northern mountainous provinces – Cao Bằng", "World Bank", "", investmentv1.Project_KIND_ODA, investmentv1.Sector_SECTOR_POVERTY_REDUCTION, 236_180, date(2015, 9, 22), date(2021, 6, 30)},
		{"oda-grassroots-health", "Strengthening grassroots health care – Cao Bằng component", "Asian Development Bank", "", investmentv1.Project_KIND_ODA, investmentv1.Sector_SECTOR_HEALTH, 187_935, date(2019, 3, 18), date(2024, 6, 30)},
		{"oda-irrigation", "Climate-resilient irrigation and rural water supply in Cao Bằng", "Japan International Cooperation Agency", "JP", investmentv1.Project_KIND_CONCESSIONAL_LOAN, investmentv1.Sector_SECTOR_WATER_AND_SANITATION, 142_300, date(2018, 4, 9), date(2023, 9, 29)},
		{"oda-wastewater", "Cao Bằng city wastewater collection and treatment", "KfW Development Bank", "DE", investmentv1.Project_KIND_CONCESSIONAL_LOAN, investmentv1.Sector_SECTOR_ENVIRONMENT, 98_470, date(2017, 10, 2), date(2022, 11, 15)},
		{"oda-secondary-education", "Secondary education development in the most disadvantaged areas – Cao Bằng", "Asian Development Bank", "", investmentv1.Project_KIND_ODA, investmentv1.Sector_SECTOR_EDUCATION, 75_400, date(2016, 8, 25), date(2021, 12, 31)},
		{"oda-border-corridor", "Đông Khê – Trà Lĩnh border economic corridor roads", "Export-Import Bank of Korea (EDCF)", "KR", investmentv1.Project_KIND_CONCESSIONAL_LOAN, investmentv1.Sector_SECTOR_TRANSPORT, 80_611, date(2022, 7, 14), nil},
		{"oda-climate-livelihoods", "Climate-smart livelihoods for ethnic minority communities in Cao Bằng", "International Fund for Agricultural Development", "", investmentv1.Project_KIND_ODA, investmentv1.Sector_SECTOR_AGRICULTURE, 44_600, date(2023, 2, 20), nil},
	}
	for _, o := range odas {
		cap := o.millionVND * 1_000_000
		p := &investmentv1.Project{
			DisplayName: o.title, Kind: o.kind, Sector: o.sector, Investor: o.donor, InvestorCountry: o.cc,
			RegisteredCapital: vnd(cap), ApprovedDate: o.approved, CompletedDate: o.completed,
			Location:      "Cao Bằng province",
			Description:   fmt.Sprintf("Total funding %s million VND (ODA and counterpart capital).", thousands(o.millionVND)),
			Visibility:    typev1.Visibility_VISIBILITY_PUBLIC,
			Organizations: []string{g.organization(o.donor, o.cc)},
		}
		if o.completed != nil {
			p.State = investmentv1.Project_STATE_COMPLETED
			p.DisbursedCapital = vnd(cap / 1000 * int64(g.between(940, 1000)))
		} else {
			p.State = investmentv1.Project_STATE_IMPLEMENTING
			p.DisbursedCapital = vnd(cap / 1000 * int64(g.between(250, 600)))
		}
		g.add(Projects, o.id, p)
	}

	// KOICA funds none of these projects but visits (see the delegations):
	// an organisation the province records all the same.
	g.organization("Korea International Cooperation Agency", "KR")

	// NGO aid: 42 foreign NGOs and donors, USD 52 million.
	type donor struct {
		name, cc string
		sector   investmentv1.Sector
		title    string
	}
	donors := []donor{
		{"Plan International", "GB", investmentv1.Sector_SECTOR_EDUCATION, "Safe schools and child protection"},
		{"World Vision", "US", investmentv1.Sector_SECTOR_POVERTY_REDUCTION, "Area development programme"},
		{"Save the Children", "GB", investmentv1.Sector_SECTOR_HEALTH, "Child nutrition and early childhood care"},
		{"CARE International", "CH", investmentv1.Sector_SECTOR_POVERTY_REDUCTION, "Women's economic empowerment in border communes"},
		{"Oxfam", "GB", investmentv1.Sector_SECTOR_AGRICULTURE, "Inclusive value chains for smallholders"},
		{"ActionAid", "ZA", investmentv1.Sector_SECTOR_POVERTY_REDUCTION, "Local rights programme"},
		{"ChildFund Australia", "AU", investmentv1.Sector_SECTOR_EDUCATION, "Bilingual early-grade reading"},
		{"Caritas Switzerland", "CH", investmentv1.Sector_SECTOR_AGRICULTURE, "Climate-resilient farming"},
		{"Catholic Relief Services", "US", investmentv1.Sector_SECTOR_WATER_AND_SANITATION, "Clean water and sanitation for schools"},
		{"Helvetas", "CH", investmentv1.Sector_SECTOR_AGRICULTURE, "Organic cinnamon and star anise value chain"},
		{"SNV Netherlands Development Organisation", "NL", investmentv1.Sector_SECTOR_WATER_AND_SANITATION, "Rural sanitation scaling-up"},
		{"Habitat for Humanity", "US", investmentv1.Sector_SECTOR_INFRASTRUCTURE, "Disaster-resilient housing"},
		{"Room to Read", "US", investmentv1.Sector_SECTOR_EDUCATION, "School libraries and girls' education"},
		{"Operation Smile", "US", investmentv1.Sector_SECTOR_HEALTH, "Cleft surgery missions"},
		{"Orbis International", "US", investmentv1.Sector_SECTOR_HEALTH, "Paediatric eye care"},
		{"Thrive Networks", "US", investmentv1.Sector_SECTOR_WATER_AND_SANITATION, "Output-based aid for rural water"},
		{"PATH", "US", investmentv1.Sector_SECTOR_HEALTH, "Primary health care digitalisation"},
		{"FHI 360", "US", investmentv1.Sector_SECTOR_HEALTH, "Tuberculosis case finding"},
		{"Heifer International", "US", investmentv1.Sector_SECTOR_AGRICULTURE, "Livestock for ethnic minority households"},
		{"Church World Service", "US", investmentv1.Sector_SECTOR_WATER_AND_SANITATION, "Gravity-fed water systems"},
		{"Medical Committee Netherlands-Vietnam", "NL", investmentv1.Sector_SECTOR_HEALTH, "Community-based rehabilitation"},
		{"Terre des Hommes", "CH", investmentv1.Sector_SECTOR_EDUCATION, "Protection of migrant children"},
		{"Aide et Action", "FR", investmentv1.Sector_SECTOR_EDUCATION, "Inclusive education for ethnic minority children"},
		{"Humanity & Inclusion", "FR", investmentv1.Sector_SECTOR_HEALTH, "Disability inclusion"},
		{"Pacific Links Foundation", "US", investmentv1.Sector_SECTOR_EDUCATION, "Anti-trafficking scholarships"},
		{"Good Neighbors International", "KR", investmentv1.Sector_SECTOR_POVERTY_REDUCTION, "Community development"},
		{"Korea Foundation for International Healthcare", "KR", investmentv1.Sector_SECTOR_HEALTH, "Maternal and child health"},
		{"Korea Food for the Hungry International", "KR", investmentv1.Sector_SECTOR_POVERTY_REDUCTION, "School meals and livelihoods"},
		{"The Asia Foundation", "US", investmentv1.Sector_SECTOR_DIGITAL, "Digital literacy for women"},
		{"Samaritan's Purse", "US", investmentv1.Sector_SECTOR_WATER_AND_SANITATION, "Household water filters"},
		{"The Fred Hollows Foundation", "AU", investmentv1.Sector_SECTOR_HEALTH, "Cataract surgery"},
		{"Saigon Children's Charity", "GB", investmentv1.Sector_SECTOR_EDUCATION, "School construction in remote communes"},
		{"Global Community Service Foundation", "US", investmentv1.Sector_SECTOR_HEALTH, "Support for people with disabilities"},
		{"Médecins du Monde", "FR", investmentv1.Sector_SECTOR_HEALTH, "Harm reduction"},
		{"Enfants du Mékong", "FR", investmentv1.Sector_SECTOR_EDUCATION, "Sponsorship of pupils"},
		{"Population Services International", "US", investmentv1.Sector_SECTOR_HEALTH, "Reproductive health"},
		{"Japan Heart", "JP", investmentv1.Sector_SECTOR_HEALTH, "Rural medical volunteering"},
		{"Association for Aid and Relief, Japan", "JP", investmentv1.Sector_SECTOR_HEALTH, "Landmine and disability support"},
		{"Peace Winds Japan", "JP", investmentv1.Sector_SECTOR_POVERTY_REDUCTION, "Disaster preparedness"},
		{"Rotary Foundation", "US", investmentv1.Sector_SECTOR_HEALTH, "Medical equipment for district hospitals"},
		{"East Asia Institute for Development", "KR", investmentv1.Sector_SECTOR_DIGITAL, "Digital transformation of commune offices"},
		{"Counterpart International", "US", investmentv1.Sector_SECTOR_POVERTY_REDUCTION, "Resilient livelihoods in the Bản Giốc area"},
	}
	if len(donors) != CaoBangNGODonors {
		panic(fmt.Sprintf("sampledata: %d NGO donors, want %d", len(donors), CaoBangNGODonors))
	}
	aid := g.split(CaoBangNGOAidUSD, len(donors), 100_000, 1_000, g.lognormal(len(donors), 0.8))
	districts := []string{"Hà Quảng district", "Trùng Khánh district", "Hạ Lang district", "Quảng Hòa district", "Thạch An district", "Bảo Lạc district", "Bảo Lâm district", "Nguyên Bình district", "Hòa An district", "Cao Bằng city"}
	for i, d := range donors {
		approved := g.day(caoBangFrom, caoBangTo.AddDate(0, -3, 0), nil)
		end := approved.AddDate(g.between(1, 4), 0, 0)
		p := &investmentv1.Project{
			DisplayName: fmt.Sprintf("%s – %s", d.title, pick(g, districts)), Kind: investmentv1.Project_KIND_NGO_AID,
			Sector: d.sector, Investor: d.name, InvestorCountry: d.cc, RegisteredCapital: usd(aid[i]),
			ApprovedDate: dateOf(approved), Location: pick(g, districts),
			Description:   "Non-governmental aid under Decree 80/2020; foreign NGO registered under Decree 58/2022.",
			Visibility:    typev1.Visibility_VISIBILITY_PUBLIC,
			Organizations: []string{g.organization(d.name, d.cc)},
		}
		if end.Before(caoBangTo) {
			p.State = investmentv1.Project_STATE_COMPLETED
			p.CompletedDate = dateOf(end)
			p.DisbursedCapital = usd(aid[i])
		} else {
			p.State = investmentv1.Project_STATE_IMPLEMENTING
			p.DisbursedCapital = usd(aid[i] / 2 / 1000 * 1000)
		}
		g.add(Projects, fmt.Sprintf("ngo-%02d", i+1), p)
	}

	// Border gates.
	taLung := g.add(BorderGates, "ta-lung", &borderv1.BorderGate{
		DisplayName: "Tà Lùng", CounterpartName: "Shuikou", NeighbourCountry: cn,
		Level: borderv1.BorderGate_LEVEL_INTERNATIONAL, CounterpartLevel: borderv1.BorderGate_LEVEL_INTERNATIONAL,
		Transport: borderv1.BorderGate_TRANSPORT_ROAD, State: borderv1.BorderGate_STATE_OPEN,
		ClearanceLanes: []*borderv1.BorderGate_ClearanceLane{
			{DisplayName: "Tà Lùng II bridge – Shuikou", Kind: borderv1.BorderGate_LANE_KIND_CLEARANCE_ROUTE, OpenedDate: date(2025, 9, 12)},
		},
		Upgrades: []*borderv1.BorderGate_Upgrade{
			{FromLevel: borderv1.BorderGate_LEVEL_MAIN, ToLevel: borderv1.BorderGate_LEVEL_INTERNATIONAL, DecidedDate: date(2025, 0, 0), EffectiveDate: date(2025, 9, 12), Decision: "Announcement of the upgrade of the Tà Lùng – Shuikou pair to international border gates"},
		},
		Notes:      "Gate in Quảng Hòa (formerly Phục Hòa) district facing Longzhou County, Guangxi; announcement date uncertain.",
		Visibility: typev1.Visibility_VISIBILITY_PUBLIC,
	})
	traLinh := g.add(BorderGates, "tra-linh", &borderv1.BorderGate{
		DisplayName: "Trà Lĩnh", CounterpartName: "Longbang", NeighbourCountry: cn,
		Level: borderv1.BorderGate_LEVEL_INTERNATIONAL, CounterpartLevel: borderv1.BorderGate_LEVEL_INTERNATIONAL,
		Transport: borderv1.BorderGate_TRANSPORT_ROAD, State: borderv1.BorderGate_STATE_OPEN,
		ClearanceLanes: []*borderv1.BorderGate_ClearanceLane{
			{DisplayName: "Nà Đoỏng – Nà Ráy", Kind: borderv1.BorderGate_LANE_KIND_CLEARANCE_ROUTE, OpenedDate: date(2023, 12, 28)},
		},
		Upgrades: []*borderv1.BorderGate_Upgrade{
			{FromLevel: borderv1.BorderGate_LEVEL_MAIN, ToLevel: borderv1.BorderGate_LEVEL_INTERNATIONAL, EffectiveDate: date(2023, 12, 28), Decision: "Announcement of the opening of the Trà Lĩnh – Longbang international border gate pair"},
		},
		Notes:      "Facing Jingxi City, Guangxi.",
		Visibility: typev1.Visibility_VISIBILITY_PUBLIC,
	})
	lyVan := g.add(BorderGates, "ly-van", &borderv1.BorderGate{
		DisplayName: "Lý Vạn", CounterpartName: "Thạc Long (Shuolong)", NeighbourCountry: cn,
		Level: borderv1.BorderGate_LEVEL_MAIN, CounterpartLevel: borderv1.BorderGate_LEVEL_MAIN,
		Transport: borderv1.BorderGate_TRANSPORT_ROAD, State: borderv1.BorderGate_STATE_OPEN,
		OpenedDate: date(2024, 0, 0),
		Upgrades: []*borderv1.BorderGate_Upgrade{
			{FromLevel: borderv1.BorderGate_LEVEL_SECONDARY, ToLevel: borderv1.BorderGate_LEVEL_MAIN, EffectiveDate: date(2024, 0, 0), Decision: "Opening of the Lý Vạn – Thạc Long bilateral border gate pair"},
		},
		Notes:      "Hạ Lang district facing Daxin County, Guangxi; opened as bilateral during 2020–2025 (exact date not in the report).",
		Visibility: typev1.Visibility_VISIBILITY_PUBLIC,
	})
	socGiang := g.add(BorderGates, "soc-giang", &borderv1.BorderGate{
		DisplayName: "Sóc Giang", CounterpartName: "Pingmeng", NeighbourCountry: cn,
		Level: borderv1.BorderGate_LEVEL_MAIN, CounterpartLevel: borderv1.BorderGate_LEVEL_MAIN,
		Transport: borderv1.BorderGate_TRANSPORT_ROAD, State: borderv1.BorderGate_STATE_OPEN,
		Notes: "Hà Quảng district facing Napo County, Guangxi.", Visibility: typev1.Visibility_VISIBILITY_PUBLIC,
	})
	poPeo := g.add(BorderGates, "po-peo", &borderv1.BorderGate{
		DisplayName: "Pò Peo", CounterpartName: "Yuewei", NeighbourCountry: cn,
		Level: borderv1.BorderGate_LEVEL_MAIN, CounterpartLevel: borderv1.BorderGate_LEVEL_MAIN,
		Transport: borderv1.BorderGate_TRANSPORT_ROAD, State: borderv1.BorderGate_STATE_OPEN,
		Notes: "Trùng Khánh district facing Jingxi City, Guangxi.", Visibility: typev1.Visibility_VISIBILITY_PUBLIC,
	})

	// Border markers.
	type marker struct {
		id, number string
		typ        borderv1.BorderMarker_Type
		lat, lng   float64
		cond       borderv1.BorderMarker_Condition
		repair     borderv1.BorderMarker_RepairState
		gate, note string
	}
	markers := []marker{
		{"m834-1", "834/1", borderv1.BorderMarker_TYPE_DOUBLE, 22.8553, 106.7233, borderv1.BorderMarker_CONDITION_GOOD, borderv1.BorderMarker_REPAIR_STATE_NOT_NEEDED, lyVan, "Double marker at the Bản Giốc waterfall; crossing point of the Bản Giốc–Detian scenic area."},
		{"m835", "835", borderv1.BorderMarker_TYPE_SINGLE, 22.8579, 106.7262, borderv1.BorderMarker_CONDITION_GOOD, borderv1.BorderMarker_REPAIR_STATE_NOT_NEEDED, lyVan, ""},
		{"m836", "836", borderv1.BorderMarker_TYPE_SINGLE, 22.8627, 106.7316, borderv1.BorderMarker_CONDITION_DAMAGED, borderv1.BorderMarker_REPAIR_STATE_NEEDED, lyVan, "Base eroded by the flood of September 2024."},
		{"m837", "837", borderv1.BorderMarker_TYPE_SINGLE, 22.8688, 106.7401, borderv1.BorderMarker_CONDITION_GOOD, borderv1.BorderMarker_REPAIR_STATE_NOT_NEEDED, "", ""},
		{"m833", "833", borderv1.BorderMarker_TYPE_SINGLE, 22.8497, 106.7148, borderv1.BorderMarker_CONDITION_GOOD, borderv1.BorderMarker_REPAIR_STATE_NOT_NEEDED, "", ""},
		{"m841", "841", borderv1.BorderMarker_TYPE_SINGLE, 22.8301, 106.7604, borderv1.BorderMarker_CONDITION_GOOD, borderv1.BorderMarker_REPAIR_STATE_NOT_NEEDED, poPeo, ""},
		{"m780", "780", borderv1.BorderMarker_TYPE_SINGLE, 22.8412, 106.4987, borderv1.BorderMarker_CONDITION_GOOD, borderv1.BorderMarker_REPAIR_STATE_NOT_NEEDED, traLinh, ""},
		{"m781-2", "781/2", borderv1.BorderMarker_TYPE_SECONDARY, 22.8375, 106.5051, borderv1.BorderMarker_CONDITION_DAMAGED, borderv1.BorderMarker_REPAIR_STATE_NEEDED, traLinh, "Plinth cracked by heavy vehicles at the Nà Đoỏng route."},
		{"m689", "689", borderv1.BorderMarker_TYPE_SINGLE, 22.9614, 106.0541, borderv1.BorderMarker_CONDITION_GOOD, borderv1.BorderMarker_REPAIR_STATE_NOT_NEEDED, socGiang, ""},
		{"m964", "964", borderv1.BorderMarker_TYPE_DOUBLE, 22.4798, 106.5835, borderv1.BorderMarker_CONDITION_GOOD, borderv1.BorderMarker_REPAIR_STATE_COMPLETED, taLung, "Repainted after the 2022 inspection."},
		{"m965", "965", borderv1.BorderMarker_TYPE_SINGLE, 22.4771, 106.5902, borderv1.BorderMarker_CONDITION_GOOD, borderv1.BorderMarker_REPAIR_STATE_NOT_NEEDED, taLung, ""},
		{"m871", "871", borderv1.BorderMarker_TYPE_STAKE, 22.7254, 106.7987, borderv1.BorderMarker_CONDITION_GOOD, borderv1.BorderMarker_REPAIR_STATE_NOT_NEEDED, "", ""},
	}
	stations := []string{"Đàm Thủy Border Guard Station", "Tà Lùng Border Guard Station", "Trà Lĩnh Border Guard Station", "Sóc Giang Border Guard Station", "Lý Vạn Border Guard Station", "Joint Vietnam–China inspection team"}
	markerNames := map[string]string{}
	for _, m := range markers {
		bm := &borderv1.BorderMarker{
			Number: m.number, NeighbourCountry: cn, Type: m.typ,
			Location:  &typev1.LatLng{Latitude: m.lat, Longitude: m.lng},
			Condition: m.cond, RepairState: m.repair, BorderGate: m.gate, Notes: m.note,
			Visibility: typev1.Visibility_VISIBILITY_PUBLIC,
		}
		g.inspections(bm, stations, caoBangFrom, caoBangTo)
		markerNames[m.id] = g.add(BorderMarkers, m.id, bm)
	}

	// Trade reports: the whole border economy over the term, and yearly per gate.
	g.add(TradeReports, "border-economy-2020-2025", &borderv1.TradeReport{
		PeriodKind: borderv1.TradeReport_PERIOD_KIND_TERM, PeriodStart: date(2020, 1, 1), PeriodEnd: date(2025, 6, 30),
		BudgetRevenue: vnd(CaoBangBorderRevenueVND),
		Notes:         "Border-economy budget revenue about 6,900 billion VND, +249% on 2016–2020, about 46% of the province's budget revenue.",
		Visibility:    typev1.Visibility_VISIBILITY_PUBLIC,
	})
	gateYears := []struct {
		id, gate    string
		scale       float64
		first, last int
	}{
		{"ta-lung", taLung, 1.0, 2020, 2024}, {"tra-linh", traLinh, 0.6, 2020, 2024}, {"soc-giang", socGiang, 0.08, 2022, 2024}, {"ly-van", lyVan, 0.05, 2024, 2024},
	}
	growth := map[int]float64{2020: 0.7, 2021: 0.55, 2022: 0.8, 2023: 1.1, 2024: 1.35}
	for _, gy := range gateYears {
		for y := gy.first; y <= gy.last; y++ {
			f := gy.scale * growth[y] * (0.9 + 0.2*g.r.Float64())
			g.add(TradeReports, fmt.Sprintf("%s-%d", gy.id, y), &borderv1.TradeReport{
				BorderGate: gy.gate, PeriodKind: borderv1.TradeReport_PERIOD_KIND_YEAR,
				PeriodStart: date(y, 1, 1), PeriodEnd: date(y, 12, 31),
				ExportValue:    usd(int64(f*420e6) / 1000 * 1000),
				ImportValue:    usd(int64(f*380e6) / 1000 * 1000),
				BudgetRevenue:  vnd(int64(f*720e9) / 1_000_000 * 1_000_000),
				VehicleCount:   int64(f * 62000),
				PassengerCount: int64(f * 48000),
				Visibility:     typev1.Visibility_VISIBILITY_PUBLIC,
			})
		}
	}

	// Promotion events and the leads they brought.
	intro := g.add(PromotionEvents, "introduction-conference-2022", &investmentv1.PromotionEvent{
		DisplayName: "Cao Bằng introduction conference 2022", Kind: investmentv1.PromotionEvent_KIND_CONFERENCE,
		StartDate: date(2022, 7, 28), EndDate: date(2022, 7, 28), Location: "Hà Nội", HostCountry: "VN",
		PartnerCountries: []string{"CN", "JP", "KR", "SG", "TH", "FR"}, AttendeeCount: 520, LeadCount: 4, AgreementsSigned: 12,
		CommittedCapital: vnd(17_500_000_000_000),
		Outcomes:         "Investment policies and priority projects introduced; memoranda with investors signed.",
		Visibility:       typev1.Visibility_VISIBILITY_PUBLIC,
	})
	apgn := g.add(PromotionEvents, "apgn-conference-2024", &investmentv1.PromotionEvent{
		DisplayName: "8th International Conference of the UNESCO Global Geoparks Network in Asia-Pacific (APGN)",
		Kind:        investmentv1.PromotionEvent_KIND_CONFERENCE, StartDate: date(2024, 9, 8), EndDate: date(2024, 9, 13),
		Location: "Cao Bằng city", HostCountry: "VN", PartnerCountries: []string{"CN", "JP", "KR", "MY", "TH", "ID", "PH", "FR", "IT"},
		AttendeeCount: 750, LeadCount: 3, AgreementsSigned: 3,
		Outcomes:   "Non nước Cao Bằng geopark and the Bản Giốc area promoted to geopark networks and tour operators.",
		Visibility: typev1.Visibility_VISIBILITY_PUBLIC,
	})
	expo := g.add(PromotionEvents, "china-asean-expo-2023", &investmentv1.PromotionEvent{
		DisplayName: "Cao Bằng booth at the 20th China–ASEAN Expo", Kind: investmentv1.PromotionEvent_KIND_FAIR,
		StartDate: date(2023, 9, 16), EndDate: date(2023, 9, 19), Location: "Nanning, Guangxi", HostCountry: "CN",
		PartnerCountries: []string{"CN"}, AttendeeCount: 60, LeadCount: 2, Visibility: typev1.Visibility_VISIBILITY_PUBLIC,
	})
	seoul := g.add(PromotionEvents, "korea-mission-2023", &investmentv1.PromotionEvent{
		DisplayName: "Cao Bằng investment and tourism promotion in the Republic of Korea", Kind: investmentv1.PromotionEvent_KIND_MISSION,
		StartDate: date(2023, 11, 6), EndDate: date(2023, 11, 10), Location: "Seoul", HostCountry: "KR",
		PartnerCountries: []string{"KR"}, AttendeeCount: 110, LeadCount: 2, AgreementsSigned: 2, Visibility: typev1.Visibility_VISIBILITY_PUBLIC,
	})
	g.add(PromotionEvents, "border-trade-fair-2024", &investmentv1.PromotionEvent{
		DisplayName: "Vietnam–China (Cao Bằng) border trade fair 2024", Kind: investmentv1.PromotionEvent_KIND_FAIR,
		StartDate: date(2024, 11, 20), EndDate: date(2024, 11, 24), Location: "Cao Bằng city", HostCountry: "VN",
		PartnerCountries: []string{"CN"}, AttendeeCount: 3500, Visibility: typev1.Visibility_VISIBILITY_PUBLIC,
	})
	leads := []struct {
		id, investor, cc string
		sector           investmentv1.Sector
		state            investmentv1.InvestorLead_State
		vndBillion       int64
		event            string
		first            *typev1.Date
	}{
		{"lead-bangioc-resort", "Pearl Delta Resort (Vietnam) Ltd.", "HK", investmentv1.Sector_SECTOR_TOURISM, investmentv1.InvestorLead_STATE_NEGOTIATING, 5000, intro, date(2022, 7, 28)},
		{"lead-border-logistics", "Guangxi Xinbeibu Logistics Co., Ltd.", "CN", investmentv1.Sector_SECTOR_TRADE_AND_SERVICES, investmentv1.InvestorLead_STATE_CONTACTED, 1200, intro, date(2022, 7, 28)},
		{"lead-hydro", "Daeyang Renewable Energy Vina Co., Ltd.", "KR", investmentv1.Sector_SECTOR_ENERGY, investmentv1.InvestorLead_STATE_LOST, 900, intro, date(2022, 7, 29)},
		{"lead-herbal", "Kyowa Herbal Vietnam Co., Ltd.", "JP", investmentv1.Sector_SECTOR_AGRICULTURE, investmentv1.InvestorLead_STATE_CONTACTED, 150, intro, date(2022, 8, 10)},
		{"lead-geopark-tours", "Satun Geotour Co., Ltd.", "TH", investmentv1.Sector_SECTOR_TOURISM, investmentv1.InvestorLead_STATE_NEW, 40, apgn, date(2024, 9, 10)},
		{"lead-eco-lodge", "Langkawi Eco Lodges Sdn. Bhd.", "MY", investmentv1.Sector_SECTOR_TOURISM, investmentv1.InvestorLead_STATE_CONTACTED, 85, apgn, date(2024, 9, 11)},
		{"lead-geopark-museum", "Korea Geopark Network Foundation", "KR", investmentv1.Sector_SECTOR_EDUCATION, investmentv1.InvestorLead_STATE_NEW, 20, apgn, date(2024, 9, 12)},
		{"lead-fruit-trade", "Chongzuo Border Trade Service Co., Ltd.", "CN", investmentv1.Sector_SECTOR_TRADE_AND_SERVICES, investmentv1.InvestorLead_STATE_NEGOTIATING, 300, expo, date(2023, 9, 17)},
		{"lead-bonded-warehouse", "Huaxin Logistics (Vietnam) Co., Ltd.", "CN", investmentv1.Sector_SECTOR_TRADE_AND_SERVICES, investmentv1.InvestorLead_STATE_CONTACTED, 450, expo, date(2023, 9, 18)},
		{"lead-smart-farm", "Woojin Agro Vina Co., Ltd.", "KR", investmentv1.Sector_SECTOR_AGRICULTURE, investmentv1.InvestorLead_STATE_NEGOTIATING, 260, seoul, date(2023, 11, 8)},
		{"lead-golf", "Seojin Resort Vina Co., Ltd.", "KR", investmentv1.Sector_SECTOR_TOURISM, investmentv1.InvestorLead_STATE_NEW, 1800, seoul, date(2023, 11, 9)},
	}
	for _, l := range leads {
		g.add(InvestorLeads, l.id, &investmentv1.InvestorLead{
			Investor: l.investor, Country: l.cc, Sector: l.sector, State: l.state,
			ExpectedCapital: vnd(l.vndBillion * 1_000_000_000), PromotionEvent: l.event,
			Contact: "Cao Bằng Investment, Trade and Tourism Promotion Centre", FirstContactDate: l.first,
			Visibility: typev1.Visibility_VISIBILITY_NATIONAL,
		})
	}

	// Border incidents.
	g.add(BorderIncidents, "tra-linh-closure-2021", &borderv1.BorderIncident{
		DisplayName: "Trà Lĩnh – Longbang gate closed to freight after COVID-19 cases in Longbang",
		Category:    borderv1.BorderIncident_CATEGORY_GATE_CLOSURE, Severity: borderv1.BorderIncident_SEVERITY_HIGH,
		State:     borderv1.BorderIncident_STATE_RESOLVED,
		OccurTime: timestamppb.New(time.Date(2021, 10, 4, 8, 0, 0, 0, vnZone)), ResolveTime: timestamppb.New(time.Date(2022, 2, 15, 7, 0, 0, 0, vnZone)),
		NeighbourCountry: cn, BorderGate: traLinh,
		Description:     "The Chinese side suspended customs clearance; about 120 trucks of farm produce waited in the yard.",
		NotifyProvinces: []string{"lang-son", "tuyen-quang"},
		ActionsTaken:    "Traders told to hold shipments; trucks rerouted through Tà Lùng; clearance resumed after talks with Jingxi City.",
		Visibility:      typev1.Visibility_VISIBILITY_PUBLIC,
	})
	g.add(BorderIncidents, "marker-836-flood-2024", &borderv1.BorderIncident{
		DisplayName: "Marker 836 damaged by flood near the Bản Giốc waterfall",
		Category:    borderv1.BorderIncident_CATEGORY_MARKER_DAMAGE, Severity: borderv1.BorderIncident_SEVERITY_MEDIUM,
		State:            borderv1.BorderIncident_STATE_MONITORING,
		OccurTime:        timestamppb.New(time.Date(2024, 9, 11, 5, 30, 0, 0, vnZone)),
		NeighbourCountry: cn, BorderGate: lyVan, BorderMarker: markerNames["m836"],
		Location:        &typev1.LatLng{Latitude: 22.8627, Longitude: 106.7316},
		Description:     "Floodwater after typhoon Yagi eroded the base of marker 836.",
		NotifyProvinces: []string{"lang-son"},
		ActionsTaken:    "Đàm Thủy station fenced the marker; joint repair proposed to the Guangxi side.",
		Visibility:      typev1.Visibility_VISIBILITY_RESTRICTED, VisibleTo: []string{"lang-son"},
	})
	g.add(BorderIncidents, "ta-lung-smuggling-2023", &borderv1.BorderIncident{
		DisplayName: "Smuggled frozen meat seized near Tà Lùng",
		Category:    borderv1.BorderIncident_CATEGORY_SMUGGLING, Severity: borderv1.BorderIncident_SEVERITY_LOW,
		State:     borderv1.BorderIncident_STATE_RESOLVED,
		OccurTime: timestamppb.New(time.Date(2023, 4, 18, 22, 15, 0, 0, vnZone)), ResolveTime: timestamppb.New(time.Date(2023, 4, 20, 10, 0, 0, 0, vnZone)),
		NeighbourCountry: cn, BorderGate: taLung,
		Description:     "Border guards seized 3.5 tonnes of frozen meat carried across a trail near marker 965.",
		NotifyProvinces: []string{"lang-son"},
		Visibility:      typev1.Visibility_VISIBILITY_PUBLIC,
	})
	// Tuyên Quang's Xín Mần landslide notified Cao Bằng.
	g.add(IncidentAcknowledgements, "xin-man-landslide-2025", &borderv1.IncidentAcknowledgement{
		BorderIncident: "provinces/tuyen-quang/border-incidents/xin-man-landslide-2025",
		Note:           "Freight for Xín Mần redirected to Trà Lĩnh until the road reopens.",
		Visibility:     typev1.Visibility_VISIBILITY_PUBLIC,
	})
	caoBangAnswer(g)
}

var vnZone = time.FixedZone("ICT", 7*60*60)

// inspections adds two to four inspections between from and to and sets
// last_inspected_date; the last inspection carries the marker's condition.
func (g *gen) inspections(bm *borderv1.BorderMarker, inspectors []string, from, to time.Time) {
	n := g.between(2, 4)
	days := make([]time.Time, n)
	for i := range days {
		days[i] = g.day(from, to, nil)
	}
	sortTimes(days)
	for i, d := range days {
		cond := borderv1.BorderMarker_CONDITION_GOOD
		note := "Marker intact, paint and number legible."
		if i == n-1 {
			cond = bm.Condition
			if cond != borderv1.BorderMarker_CONDITION_GOOD {
				note = "Damage recorded; reported to the Provincial Border Guard Command and the Department of Foreign Affairs."
			}
		}
		bm.Inspections = append(bm.Inspections, &borderv1.BorderMarker_Inspection{
			Date: dateOf(d), Inspector: pick(g, inspectors), Condition: cond, Notes: note,
		})
	}
	bm.LastInspectedDate = dateOf(days[n-1])
}
