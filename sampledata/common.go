package sampledata

import (
	"fmt"
	"strings"
	"time"

	investmentv1 "github.com/provex/provex/gen/go/provex/investment/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
)

var countryNames = map[string]string{
	"AT": "Austria", "AU": "Australia", "BE": "Belgium", "CA": "Canada", "CH": "Switzerland",
	"CN": "China", "CU": "Cuba", "CZ": "Czechia", "DE": "Germany", "DK": "Denmark", "ES": "Spain",
	"FI": "Finland", "FR": "France", "GB": "United Kingdom", "HK": "Hong Kong (China)", "ID": "Indonesia",
	"IN": "India", "IT": "Italy", "JP": "Japan", "KH": "Cambodia", "KR": "Republic of Korea",
	"KY": "Cayman Islands", "LA": "Laos", "MY": "Malaysia", "NL": "Netherlands", "NZ": "New Zealand",
	"PH": "Philippines", "PL": "Poland", "RU": "Russia", "SA": "Saudi Arabia", "SC": "Seychelles",
	"SE": "Sweden", "SG": "Singapore", "TH": "Thailand", "TR": "Türkiye", "TW": "Taiwan (China)",
	"US": "United States", "VG": "British Virgin Islands", "IL": "Israel", "MO": "Macao (China)",
	"MN": "Mongolia", "BY": "Belarus", "HU": "Hungary",
}

func countryName(cc string) string {
	if n, ok := countryNames[cc]; ok {
		return n
	}
	return cc
}

// Vietnamese personal names.
var (
	viSurnames = []string{"Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Nông", "Hà", "Lương", "Triệu", "Đàm", "Lục", "Ma", "Sầm", "Mông"}
	viMiddle   = []string{"Văn", "Thị", "Đức", "Minh", "Hữu", "Quang", "Thanh", "Ngọc", "Xuân", "Hồng", "Trung", "Anh", "Thu", "Kim"}
	viGiven    = []string{"Hùng", "Dũng", "Hải", "Lâm", "Tuấn", "Hà", "Lan", "Hương", "Thắng", "Quân", "Sơn", "Phong", "Trung", "Bình", "Thảo", "Nga", "Cường", "Khánh", "Long", "Việt", "Hạnh", "Tâm", "Vinh", "Quế", "Toàn", "Thái"}
	cnSurnames = []string{"Li", "Wang", "Zhang", "Liu", "Chen", "Huang", "Nong", "Wei", "Lu", "Lan", "Meng", "Tan", "Mo", "Liang"}
	cnGiven    = []string{"Wei", "Jun", "Hong", "Ming", "Guoqiang", "Haibo", "Jianhua", "Xiaoping", "Lijun", "Yan", "Fang", "Zhiyong", "Dongmei", "Chunhua"}
	laSurnames = []string{"Phommachanh", "Sisavath", "Vongsa", "Keomany", "Sengdara", "Inthavong", "Phanthavong", "Xayavong"}
	laGiven    = []string{"Bounthong", "Khamphet", "Somphone", "Vilay", "Chanthala", "Phonesavanh", "Souksavanh", "Thongsy"}
	krSurnames = []string{"Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon", "Jang", "Lim"}
	krGiven    = []string{"Min-jun", "Seo-yeon", "Ji-hoon", "Hyun-woo", "Eun-ji", "Dong-hyun", "Sung-min", "Young-ho"}
	jpSurnames = []string{"Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura", "Kobayashi", "Kato"}
	jpGiven    = []string{"Hiroshi", "Takeshi", "Kenji", "Yuko", "Akira", "Naoko", "Satoshi", "Keiko", "Makoto"}
	enGiven    = []string{"Thomas", "Anna", "Michael", "Claire", "David", "Sophie", "Peter", "Laura", "Martin", "Julia"}
	enSurnames = []string{"Martin", "Schmidt", "Dubois", "Miller", "Bernard", "Müller", "Smith", "Laurent", "Johnson", "Weber"}
)

func (g *gen) viName() string {
	return pick(g, viSurnames) + " " + pick(g, viMiddle) + " " + pick(g, viGiven)
}

// foreignName returns a plausible personal name for a country.
func (g *gen) foreignName(cc string) string {
	switch cc {
	case "CN", "TW", "HK":
		return pick(g, cnSurnames) + " " + pick(g, cnGiven)
	case "LA":
		return pick(g, laGiven) + " " + pick(g, laSurnames)
	case "KR":
		return pick(g, krSurnames) + " " + pick(g, krGiven)
	case "JP":
		return pick(g, jpSurnames) + " " + pick(g, jpGiven)
	case "KH":
		return pick(g, []string{"Sok", "Chan", "Heng", "Sar", "Kim"}) + " " + pick(g, []string{"Sophea", "Dara", "Vuthy", "Rithy", "Sokha"})
	default:
		return pick(g, enGiven) + " " + pick(g, enSurnames)
	}
}

// place is a foreign destination or origin of delegations.
type place struct {
	name    string // e.g. "Baise City, Guangxi"
	country string
	weight  float64
	topics  []string
}

// delegationSpec drives the generation of one province's delegations.
type delegationSpec struct {
	province   string // display name, e.g. "Cao Bằng"
	from, to   time.Time
	yearWeight map[int]float64
	outgoing   []place
	incoming   []place
	// Exact per-delegation figures; when nil they are drawn.
	outMembers    []int64
	inForeigners  []int64
	outCount      int
	inCount       int
	agreementRefs []string // agreements that may be cited as signed during visits
}

var (
	outPurposes = []string{
		"Working visit and talks on the implementation of the cooperation minutes",
		"Spring meeting of the provincial Party secretaries",
		"Border trade and logistics promotion",
		"Tourism promotion and destination introduction",
		"Study tour on smart border-gate management",
		"Investment promotion and business matching",
		"Cultural exchange for the Lunar New Year",
		"Joint working group meeting on border management",
		"Training course on international integration",
		"Attendance at an international trade fair",
		"Study tour on agricultural value chains",
		"Meeting of the joint working committee",
	}
	inPurposes = []string{
		"Courtesy call on the provincial leadership",
		"Talks on border-gate infrastructure and customs clearance",
		"Survey of investment opportunities",
		"Joint inspection of border markers",
		"Cultural and sports exchange",
		"Review of the annual cooperation plan",
		"Field survey for a non-governmental aid project",
		"Tourism familiarisation trip",
		"Exchange on education and vocational training",
		"Health cooperation and medical volunteering",
		"Business delegation seeking trade partners",
	}
	outLeaderTitles = map[twinningv1.Delegation_Level][]string{
		twinningv1.Delegation_LEVEL_PROVINCE_LEADERSHIP: {"Secretary of the Provincial Party Committee", "Chairman of the Provincial People's Committee", "Vice Chairman of the Provincial People's Committee", "Chairman of the Provincial People's Council", "Vice Chairwoman of the Provincial People's Council"},
		twinningv1.Delegation_LEVEL_DEPARTMENT:          {"Director of the Department of Foreign Affairs", "Director of the Department of Industry and Trade", "Director of the Department of Culture, Sports and Tourism", "Deputy Director of the Department of Planning and Investment", "Commander of the Provincial Border Guard"},
		twinningv1.Delegation_LEVEL_LOCAL:               {"Secretary of the District Party Committee", "Chairman of the District People's Committee", "Chairman of the Commune People's Committee"},
		twinningv1.Delegation_LEVEL_BUSINESS:            {"Chairman of the Provincial Business Association", "Director of a provincial enterprise"},
	}
	govTitles      = []string{"Vice Chairman of the People's Government", "Mayor", "Governor", "Deputy Governor", "Secretary of the Party Committee", "Director of the Department of Commerce", "Head of the Foreign Affairs Office", "Vice Governor"}
	embassyTitles  = []string{"Ambassador", "Deputy Chief of Mission", "Counsellor", "Consul General"}
	businessTitles = []string{"Chief Executive Officer", "Chairman", "General Director", "Head of Investment"}
	orgTitles      = []string{"Country Director", "Programme Manager", "Representative"}
)

// incomingLeader returns the level and leader title of an incoming
// delegation from the named place.
func (g *gen) incomingLeader(from string) (twinningv1.Delegation_Level, string) {
	switch {
	case strings.Contains(from, "Embassy") || strings.Contains(from, "Consulate") || strings.Contains(from, "Delegation"):
		return twinningv1.Delegation_LEVEL_DEPARTMENT, pick(g, embassyTitles)
	case strings.Contains(from, "investors") || strings.Contains(from, "tour operators"):
		return twinningv1.Delegation_LEVEL_BUSINESS, pick(g, businessTitles)
	case strings.Contains(from, "Agency") || strings.Contains(from, "Network") || strings.Contains(from, "International") ||
		strings.Contains(from, "Vision") || strings.Contains(from, "families"):
		return twinningv1.Delegation_LEVEL_DEPARTMENT, pick(g, orgTitles)
	}
	level := []twinningv1.Delegation_Level{
		twinningv1.Delegation_LEVEL_PROVINCE_LEADERSHIP,
		twinningv1.Delegation_LEVEL_DEPARTMENT,
		twinningv1.Delegation_LEVEL_LOCAL,
	}[g.weighted([]float64{3, 5, 3})]
	switch level {
	case twinningv1.Delegation_LEVEL_PROVINCE_LEADERSHIP:
		return level, pick(g, govTitles[:5])
	case twinningv1.Delegation_LEVEL_LOCAL:
		return level, pick(g, []string{"Head of the County", "Mayor of the Town", "Party Secretary of the Town", "Village Chief"})
	}
	return level, pick(g, []string{"Director of the Department of Commerce", "Head of the Foreign Affairs Office", "Director of the Culture and Tourism Bureau", "Deputy Director of the Public Security Department"})
}

func delegationLevel(g *gen) twinningv1.Delegation_Level {
	return []twinningv1.Delegation_Level{
		twinningv1.Delegation_LEVEL_PROVINCE_LEADERSHIP,
		twinningv1.Delegation_LEVEL_DEPARTMENT,
		twinningv1.Delegation_LEVEL_LOCAL,
		twinningv1.Delegation_LEVEL_BUSINESS,
	}[g.weighted([]float64{3, 5, 2, 1})]
}

func placeWeights(ps []place) []float64 {
	w := make([]float64, len(ps))
	for i, p := range ps {
		w[i] = p.weight
	}
	return w
}

// delegations generates outgoing then incoming delegations, each in date order.
func (g *gen) delegations(s delegationSpec) {
	outDays := make([]time.Time, s.outCount)
	for i := range outDays {
		outDays[i] = g.day(s.from, s.to, s.yearWeight)
	}
	sortTimes(outDays)
	for i, start := range outDays {
		p := s.outgoing[g.weighted(placeWeights(s.outgoing))]
		countries := []string{p.country}
		dest := p.name
		if p.country != "CN" && p.country != "LA" && g.r.IntN(8) == 0 {
			q := s.outgoing[g.weighted(placeWeights(s.outgoing))]
			if q.country != p.country {
				countries = append(countries, q.country)
				dest += " and " + q.name
			}
		}
		level := delegationLevel(g)
		var members int64
		if s.outMembers != nil {
			members = s.outMembers[i]
		} else {
			members = int64(g.between(3, 14))
		}
		purpose := pick(g, outPurposes)
		if len(p.topics) > 0 && g.r.IntN(2) == 0 {
			purpose = pick(g, p.topics)
		}
		d := &twinningv1.Delegation{
			DisplayName: fmt.Sprintf("%s delegation to %s", s.province, dest),
			Direction:   twinningv1.Delegation_DIRECTION_OUTGOING,
			Level:       level,
			Leader:      g.viName(),
			LeaderTitle: pick(g, outLeaderTitles[level]),
			MemberCount: int32(members),
			Countries:   countries,
			StartDate:   dateOf(start),
			EndDate:     dateOf(start.AddDate(0, 0, g.between(1, 6))),
			Purpose:     purpose,
			Outcomes:    pick(g, []string{"Minutes of the talks signed.", "Agreed next steps recorded in the report to the Provincial People's Committee.", "Contacts established with local partners.", "Cooperation plan for the coming year agreed.", ""}),
			Visibility:  typev1.Visibility_VISIBILITY_PUBLIC,
		}
		if len(s.agreementRefs) > 0 && level == twinningv1.Delegation_LEVEL_PROVINCE_LEADERSHIP && g.r.IntN(4) == 0 {
			d.Agreements = []string{pick(g, s.agreementRefs)}
		}
		g.add(Delegations, fmt.Sprintf("out-%03d", i+1), d)
	}

	inDays := make([]time.Time, s.inCount)
	for i := range inDays {
		inDays[i] = g.day(s.from, s.to, s.yearWeight)
	}
	sortTimes(inDays)
	for i, start := range inDays {
		p := s.incoming[g.weighted(placeWeights(s.incoming))]
		var foreigners int64
		if s.inForeigners != nil {
			foreigners = s.inForeigners[i]
		} else {
			foreigners = int64(g.between(2, 25))
		}
		level, title := g.incomingLeader(p.name)
		purpose := pick(g, inPurposes)
		if len(p.topics) > 0 && g.r.IntN(2) == 0 {
			purpose = pick(g, p.topics)
		}
		d := &twinningv1.Delegation{
			DisplayName:    fmt.Sprintf("Delegation of %s visiting %s", p.name, s.province),
			Direction:      twinningv1.Delegation_DIRECTION_INCOMING,
			Level:          level,
			Leader:         g.foreignName(p.country),
			LeaderTitle:    title,
			MemberCount:    int32(foreigners),
			ForeignerCount: int32(foreigners),
			Countries:      []string{p.country},
			StartDate:      dateOf(start),
			EndDate:        dateOf(start.AddDate(0, 0, g.between(0, 3))),
			Purpose:        purpose,
			Visibility:     typev1.Visibility_VISIBILITY_PUBLIC,
		}
		g.add(Delegations, fmt.Sprintf("in-%03d", i+1), d)
	}
}

// Company-name material for generated FDI projects.
var (
	companyStems = map[string][]string{
		"KR": {"Seojin", "Woojin", "Daeyang", "Sungwoo", "Myungjin", "Haesung", "Jinwoo", "Samhwa", "Dongbang", "Kumyang", "Hanil", "Shinyoung", "Bumjin", "Daewon", "Youngwoo"},
		"CN": {"Huaxin", "Jiahe", "Hengli", "Yongsheng", "Hongda", "Tianrun", "Baili", "Rongfeng", "Dianhua", "Xiangyuan", "Minxing", "Jinlong", "Xinghe", "Ruitai", "Guanghui"},
		"JP": {"Kyowa", "Nissei", "Takara", "Yamato", "Marusan", "Hokuto", "Sanwa", "Fujimi", "Daiichi", "Toyoshima", "Asahi Seiki", "Mitaka", "Shinwa", "Kiyomizu"},
		"TW": {"Hon Chuan", "Chia Hsin", "Kuang Tai", "Sheng Feng", "Yuan Jing", "Hung Fu", "Ta Chen", "Jin Yang", "Wei Chuan", "Lien Fa"},
		"HK": {"Pearl Delta", "Kowloon Bay", "Harbour Crest", "Victoria Peak", "Golden Lotus", "Wing Tai"},
		"SG": {"Lion Gate", "Straits Link", "Marina Crest", "Keppel Bay", "Orchid Point"},
	}
	genericStems    = []string{"Apex", "Summit", "Evergreen", "Bluewater", "Northstar", "Crestline", "Meridian", "Horizon", "Silverline", "Greenfield", "Keystone", "Oakridge", "Pioneer", "Vanguard", "Harbor"}
	suffixByCountry = map[string]string{
		"KR": "Vina Co., Ltd.", "CN": "(Vietnam) Co., Ltd.", "HK": "(Vietnam) Ltd.", "TW": "Vietnam Co., Ltd.",
		"JP": "Vietnam Co., Ltd.", "SG": "Vietnam Pte. Ltd.",
	}
	sectorIndustries = map[investmentv1.Sector][]string{
		investmentv1.Sector_SECTOR_MANUFACTURING:      {"Electronics", "Precision", "Garment", "Textile", "Footwear", "Plastics", "Packaging", "Mechanical", "Wood Products", "Components", "Optical", "Cable", "Printed Circuit", "Moulding", "Bag and Luggage"},
		investmentv1.Sector_SECTOR_AGRICULTURE:        {"Agro", "Tea", "Forestry", "Feed", "Foodstuff", "Bamboo", "Herbal"},
		investmentv1.Sector_SECTOR_ENERGY:             {"Hydropower", "Renewable Energy", "Solar Power"},
		investmentv1.Sector_SECTOR_TRADE_AND_SERVICES: {"Trading", "Logistics", "Services"},
		investmentv1.Sector_SECTOR_TOURISM:            {"Resort", "Hospitality"},
		investmentv1.Sector_SECTOR_REAL_ESTATE:        {"Land Development", "Housing"},
		investmentv1.Sector_SECTOR_INFRASTRUCTURE:     {"Infrastructure", "Industrial Park Development"},
		investmentv1.Sector_SECTOR_DIGITAL:            {"Software", "Data Systems"},
		investmentv1.Sector_SECTOR_HEALTH:             {"Medical Devices", "Pharma"},
		investmentv1.Sector_SECTOR_EDUCATION:          {"Education", "Training"},
		investmentv1.Sector_SECTOR_ENVIRONMENT:        {"Environmental Services", "Recycling"},
	}
	industryProducts = map[string]string{
		"Electronics": "electronic components factory", "Precision": "precision parts factory", "Garment": "garment factory",
		"Textile": "yarn and fabric mill", "Footwear": "footwear factory", "Plastics": "plastic products factory",
		"Packaging": "packaging factory", "Mechanical": "mechanical engineering plant", "Wood Products": "wood processing plant",
		"Components": "electronic module assembly plant", "Optical": "optical lens factory", "Cable": "cable and wire factory",
		"Printed Circuit": "printed circuit board plant", "Moulding": "mould and die factory", "Bag and Luggage": "bag and luggage factory",
		"Agro": "agricultural processing plant", "Tea": "tea processing plant", "Forestry": "plantation forestry project",
		"Feed": "animal feed mill", "Foodstuff": "food processing plant", "Bamboo": "bamboo products factory", "Herbal": "medicinal herb processing plant",
		"Hydropower": "hydropower plant", "Renewable Energy": "biomass power plant", "Solar Power": "solar module factory",
		"Trading": "import-export trading company", "Logistics": "logistics and warehousing centre", "Services": "business services company",
		"Resort": "eco-resort", "Hospitality": "hotel", "Land Development": "urban area", "Housing": "workers' housing project",
		"Infrastructure": "industrial infrastructure project", "Industrial Park Development": "industrial park infrastructure",
		"Software": "software development centre", "Data Systems": "data services centre", "Medical Devices": "medical device factory",
		"Pharma": "pharmaceutical plant", "Education": "international school", "Training": "vocational training centre",
		"Environmental Services": "waste treatment plant", "Recycling": "recycling plant",
	}
)

// company returns an investor name and a project description for a country
// and sector.
func (g *gen) company(cc string, sector investmentv1.Sector) (investor, product string) {
	stems, ok := companyStems[cc]
	if !ok {
		stems = genericStems
	}
	industries := sectorIndustries[sector]
	if len(industries) == 0 {
		industries = sectorIndustries[investmentv1.Sector_SECTOR_MANUFACTURING]
	}
	ind := pick(g, industries)
	suffix, ok := suffixByCountry[cc]
	if !ok {
		suffix = "Vietnam Co., Ltd."
	}
	return pick(g, stems) + " " + ind + " " + suffix, industryProducts[ind]
}

// fdiSpec drives the generation of FDI projects.
type fdiSpec struct {
	count      int
	countries  []string  // every country appears at least once when cover is set
	weights    []float64 // country weights
	cover      bool
	capitals   []int64 // USD, one per project
	from, to   time.Time
	yearWeight map[int]float64
	locations  []string
	sectors    []investmentv1.Sector
	sectorW    []float64
	state      func(approved time.Time) investmentv1.Project_State
	idPrefix   string
}

// fdi generates FDI projects and returns their names.
func (g *gen) fdi(s fdiSpec) []string {
	days := make([]time.Time, s.count)
	for i := range days {
		days[i] = g.day(s.from, s.to, s.yearWeight)
	}
	sortTimes(days)
	ccs := make([]string, s.count)
	for i := range ccs {
		ccs[i] = s.countries[g.weighted(s.weights)]
	}
	if s.cover {
		// Put each country once at a random distinct position.
		perm := g.r.Perm(s.count)
		for i, cc := range s.countries {
			ccs[perm[i]] = cc
		}
	}
	names := make([]string, s.count)
	for i := range s.count {
		cc := ccs[i]
		sector := s.sectors[g.weighted(s.sectorW)]
		investor, product := g.company(cc, sector)
		capital := s.capitals[i]
		state := s.state(days[i])
		disbursedShare := map[investmentv1.Project_State]float64{
			investmentv1.Project_STATE_APPROVED:     0.05,
			investmentv1.Project_STATE_IMPLEMENTING: 0.35 + 0.5*g.r.Float64(),
			investmentv1.Project_STATE_COMPLETED:    0.9 + 0.1*g.r.Float64(),
		}[state]
		loc := pick(g, s.locations)
		p := &investmentv1.Project{
			DisplayName:       fmt.Sprintf("%s%s of %s", strings.ToUpper(product[:1]), product[1:], investor),
			Kind:              investmentv1.Project_KIND_FDI,
			State:             state,
			Sector:            sector,
			Investor:          investor,
			InvestorCountry:   cc,
			RegisteredCapital: usd(capital),
			DisbursedCapital:  usd(int64(float64(capital)*disbursedShare) / 1000 * 1000),
			ApprovedDate:      dateOf(days[i]),
			Location:          loc,
			Description:       fmt.Sprintf("Investment from %s; registered capital USD %s.", countryName(cc), thousands(capital)),
			Visibility:        typev1.Visibility_VISIBILITY_PUBLIC,
		}
		names[i] = g.add(Projects, fmt.Sprintf("%s%03d", s.idPrefix, i+1), p)
	}
	return names
}

// thousands formats n with comma separators.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// agreementDates fills the procedural dates of an agreement signed on
// signed: consultation before, effective date, expiry and report after.
func (g *gen) agreementDates(a *twinningv1.Agreement, signed time.Time, years int, asOf time.Time, consult bool) {
	a.SignedDate = dateOf(signed)
	effective := signed
	if g.r.IntN(4) == 0 {
		effective = signed.AddDate(0, 0, g.between(7, 30))
	}
	a.EffectiveDate = dateOf(effective)
	expiry := effective.AddDate(years, 0, -1)
	a.ExpiryDate = dateOf(expiry)
	switch {
	case expiry.Before(asOf):
		a.State = twinningv1.Agreement_STATE_EXPIRED
	case effective.After(asOf):
		a.State = twinningv1.Agreement_STATE_SIGNED
	default:
		a.State = twinningv1.Agreement_STATE_IN_FORCE
	}
	if consult {
		req := signed.AddDate(0, 0, -g.between(20, 60))
		a.Consultation = &twinningv1.Agreement_Consultation{
			State:         twinningv1.Agreement_CONSULTATION_STATE_OPINION_RECEIVED,
			RequestedDate: dateOf(req),
			OpinionDate:   dateOf(req.AddDate(0, 0, g.between(5, 9))),
			Opinion:       pick(g, []string{"The Ministry of Foreign Affairs agrees to the signing.", "Agreed, subject to editorial changes to articles 2 and 5.", "No objection; the province should report within 15 days of signing."}),
		}
		a.ReportDate = dateOf(signed.AddDate(0, 0, g.between(3, 15)))
	} else {
		a.Consultation = &twinningv1.Agreement_Consultation{State: twinningv1.Agreement_CONSULTATION_STATE_NOT_REQUIRED}
	}
}
