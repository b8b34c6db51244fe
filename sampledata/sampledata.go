// Package sampledata builds provex's realistic sample dataset from the
// figures in the provinces' published reports, so demos, tests and
// benchmarks run on data shaped like the real thing.
//
// The records are synthetic: names of partners, gates, markers and events
// follow the reports of the Departments of Foreign Affairs of Cao Bằng,
// Nghệ An, Tuyên Quang and Bắc Giang (now part of Bắc Ninh), and the totals
// the reports publish come out exactly when the records are summed (see the
// figure constants), but individual records are generated.
package sampledata

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/resource"
)

// Record is one sample record: the collection segment ("agreements",
// "border-gates", ...), a stable id, and the resource without
// name/etag/times.
type Record struct {
	Province   string // owner slug, e.g. "cao-bang"
	Collection string // "partnerships","agreements","delegations","friendship-associations","border-gates","border-markers","border-incidents","trade-reports","projects","promotion-events","investor-leads","organizations"
	ID         string
	Message    proto.Message // *twinningv1.Agreement etc.; Name/Etag/create/update/delete times left empty
}

// Name returns the record's full resource name,
// provinces/{province}/{collection}/{id}.
func (r Record) Name() string {
	return "provinces/" + r.Province + "/" + r.Collection + "/" + r.ID
}

// Collection segments.
const (
	Partnerships           = "partnerships"
	Agreements             = "agreements"
	Delegations            = "delegations"
	FriendshipAssociations = "friendship-associations"
	BorderGates            = "border-gates"
	BorderMarkers          = "border-markers"
	BorderIncidents        = "border-incidents"
	// IncidentAcknowledgements reference another sample province's
	// incident: each province acknowledges only some of those naming it.
	IncidentAcknowledgements = "incident-acknowledgements"
	TradeReports             = "trade-reports"
	Projects                 = "projects"
	PromotionEvents          = "promotion-events"
	InvestorLeads            = "investor-leads"
	// Organizations are the donors, NGOs and lenders projects name.
	Organizations = "organizations"
	// InformationRequests are the ministry's; InformationResponses
	// reference them.
	InformationRequests  = "information-requests"
	InformationResponses = "information-responses"
	// AgreementOpinions are the ministry's opinions on provinces' draft
	// agreements.
	AgreementOpinions = "agreement-opinions"
)

// Figures from the published reports that the dataset reproduces exactly.
const (
	// Cao Bằng 2020 – June 2025.
	CaoBangOutgoingDelegations = 120
	CaoBangIncomingDelegations = 190
	CaoBangAgreements          = 69
	CaoBangODAProjects         = 9
	CaoBangODACapitalVND       = 1_576_566_000_000
	CaoBangODACompleted        = 7
	CaoBangODACompletedVND     = 1_451_355_000_000
	CaoBangNGODonors           = 42
	CaoBangNGOAidUSD           = 52_000_000
	CaoBangBorderTwinnings     = 10
	CaoBangBorderRevenueVND    = 6_900_000_000_000

	// Tuyên Quang 2020–2025.
	TuyenQuangOutgoingDelegations = 138
	TuyenQuangOutgoingOfficials   = 904
	TuyenQuangIncomingDelegations = 543
	TuyenQuangIncomingForeigners  = 3_349
	TuyenQuangFDIProjects         = 350

	// Bắc Giang (bac-ninh) as of mid-November 2023.
	BacGiangFDIProjects            = 551
	BacGiangFDICapitalUSD          = 10_800_000_000
	BacGiangFDICountries           = 34
	BacGiangFriendshipAssociations = 9
	BacGiangAgreements             = 4
)

var builders = map[string]struct {
	seed  uint64
	build func(*gen)
}{
	"cao-bang":    {0xCB04_2020_2025, buildCaoBang},
	"tuyen-quang": {0x7408_2020_2025, buildTuyenQuang},
	"nghe-an":     {0x4A40_2020_2025, buildNgheAn},
	"bac-ninh":    {0xB624_2023_1115, buildBacNinh},
	// The ministry's own records: its requests for information.
	resource.Ministry: {0x40FA_2025_0829, buildMinistry},
}

// Provinces returns the provinces that have sample data: cao-bang, nghe-an,
// tuyen-quang, bac-ninh.
func Provinces() []string {
	return []string{"cao-bang", "nghe-an", "tuyen-quang", "bac-ninh"}
}

// For returns the sample records owned by one member (a province of
// Provinces, or the ministry), in a fixed order;
// every call returns the same records. It returns nil for a province without
// sample data.
func For(province string) []Record {
	b, ok := builders[province]
	if !ok {
		return nil
	}
	g := &gen{
		province: province,
		r:        rand.New(rand.NewPCG(b.seed, b.seed^0x9E3779B97F4A7C15)),
		seen:     map[string]bool{},
	}
	b.build(g)
	return g.recs
}

// Members returns the members with sample records: Provinces, then the
// ministry, whose node holds its requests for information.
func Members() []string { return append(Provinces(), resource.Ministry) }

// All returns the records of every member of Members, in that order.
func All() []Record {
	var out []Record
	for _, p := range Members() {
		out = append(out, For(p)...)
	}
	return out
}

// gen accumulates one province's records.
type gen struct {
	province string
	// former is the pre-merger province add gives the records it adds
	// (their former_province), while a builder sets it.
	former string
	r      *rand.Rand
	recs   []Record
	seen   map[string]bool
}

// add appends a record and returns its full name. Duplicate ids are a bug in
// the builders.
func (g *gen) add(collection, id string, m proto.Message) string {
	key := collection + "/" + id
	if g.seen[key] {
		panic("sampledata: duplicate id " + g.province + "/" + key)
	}
	g.seen[key] = true
	if g.former != "" {
		setFormer(m, g.former)
	}
	g.recs = append(g.recs, Record{Province: g.province, Collection: collection, ID: id, Message: m})
	return g.name(collection, id)
}

// setFormer sets the former_province every kind of record carries.
func setFormer(m proto.Message, former string) {
	r := m.ProtoReflect()
	r.Set(r.Descriptor().Fields().ByName("former_province"), protoreflect.ValueOfString(former))
}

func (g *gen) name(collection, id string) string {
	return "provinces/" + g.province + "/" + collection + "/" + id
}

// pick returns one element of xs.
func pick[T any](g *gen, xs []T) T { return xs[g.r.IntN(len(xs))] }

// weighted returns an index drawn with the given weights.
func (g *gen) weighted(w []float64) int {
	var sum float64
	for _, x := range w {
		sum += x
	}
	t := g.r.Float64() * sum
	for i, x := range w {
		if t < x {
			return i
		}
		t -= x
	}
	return len(w) - 1
}

// between returns an integer in [lo, hi].
func (g *gen) between(lo, hi int) int { return lo + g.r.IntN(hi-lo+1) }

// day returns a day in [from, to], favouring years by weight (missing years
// weigh 1).
func (g *gen) day(from, to time.Time, yearWeight map[int]float64) time.Time {
	days := int(to.Sub(from).Hours()/24) + 1
	max := 1.0
	for _, w := range yearWeight {
		if w > max {
			max = w
		}
	}
	for {
		t := from.AddDate(0, 0, g.r.IntN(days))
		w, ok := yearWeight[t.Year()]
		if !ok {
			w = 1
		}
		if g.r.Float64()*max < w {
			return t
		}
	}
}

// split divides total into n parts of at least min each, in multiples of step
// above min, proportional to weights; the parts sum to total exactly.
func (g *gen) split(total int64, n int, min, step int64, weights []float64) []int64 {
	if int64(n)*min > total {
		panic(fmt.Sprintf("sampledata: cannot split %d into %d parts of at least %d", total, n, min))
	}
	var sum float64
	for _, w := range weights {
		sum += w
	}
	free := total - int64(n)*min
	parts := make([]int64, n)
	var used int64
	for i := range parts {
		share := int64(float64(free) * weights[i] / sum / float64(step))
		parts[i] = min + share*step
		used += share * step
	}
	rem := free - used
	for rem >= step {
		parts[g.r.IntN(n)] += step
		rem -= step
	}
	parts[0] += rem
	return parts
}

// lognormal returns n weights exp(N(0, sigma)).
func (g *gen) lognormal(n int, sigma float64) []float64 {
	w := make([]float64, n)
	for i := range w {
		w[i] = math.Exp(g.r.NormFloat64() * sigma)
	}
	return w
}

// uniformWeights returns n weights in [lo, hi).
func (g *gen) uniformWeights(n int, lo, hi float64) []float64 {
	w := make([]float64, n)
	for i := range w {
		w[i] = lo + g.r.Float64()*(hi-lo)
	}
	return w
}

func ymd(y, m, d int) time.Time { return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC) }

func date(y, m, d int) *typev1.Date {
	return &typev1.Date{Year: int32(y), Month: int32(m), Day: int32(d)}
}

func dateOf(t time.Time) *typev1.Date { return date(t.Year(), int(t.Month()), t.Day()) }

func money(currency string, units int64) *typev1.Money {
	return &typev1.Money{CurrencyCode: currency, Units: units}
}

func vnd(units int64) *typev1.Money { return money("VND", units) }
func usd(units int64) *typev1.Money { return money("USD", units) }

func party(name, country, level string) *typev1.ForeignParty {
	return &typev1.ForeignParty{Name: name, CountryCode: country, Level: level}
}

// in places a party in its ISO 3166-2 subdivision and locality, so that
// "agreements with Guangxi localities" (foreign_parties.subdivision:CN-GX)
// finds the sample records.
func in(p *typev1.ForeignParty, subdivision, locality string) *typev1.ForeignParty {
	p.Subdivision, p.Locality = subdivision, locality
	return p
}

func local(level typev1.LocalLevel, name string) *typev1.LocalUnit {
	return &typev1.LocalUnit{Level: level, Name: name}
}

// sortTimes sorts in place and returns ts.
func sortTimes(ts []time.Time) []time.Time {
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	return ts
}
