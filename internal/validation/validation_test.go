package validation_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	investmentv1 "github.com/provex/provex/gen/go/provex/investment/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/internal/validation"
	"github.com/provex/provex/resource"
)

func newValidator(t *testing.T) *validation.Validator {
	t.Helper()
	v, err := validation.New(resource.FieldRules())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func date(y, m, d int32) *typev1.Date { return &typev1.Date{Year: y, Month: m, Day: d} }

// delegation is a valid delegation that the cases below break one field at
// a time.
func delegation(edit func(*twinningv1.Delegation)) *twinningv1.Delegation {
	d := &twinningv1.Delegation{
		DisplayName: "Guangxi delegation", Direction: twinningv1.Delegation_DIRECTION_INCOMING,
		MemberCount: 10, ForeignerCount: 8, Countries: []string{"CN"},
		StartDate: date(2024, 5, 6), EndDate: date(2024, 5, 8),
	}
	if edit != nil {
		edit(d)
	}
	return d
}

type violation struct{ field, reason string }

// fieldViolations returns the field and reason of each violation of err.
func fieldViolations(t *testing.T, err error) []violation {
	t.Helper()
	if err == nil {
		return nil
	}
	ae, ok := apperr.As(err)
	if !ok || ae.Code != codes.InvalidArgument {
		t.Fatalf("error %v is not INVALID_ARGUMENT", err)
	}
	var out []violation
	for _, fv := range ae.Violations {
		if fv.GetDescription() == "" {
			t.Errorf("violation of %s has no description", fv.GetField())
		}
		out = append(out, violation{fv.GetField(), fv.GetReason()})
	}
	return out
}

// TestRules checks each semantic rule on its own: the broken value is
// reported once, on the exact field, with the rule's reason.
func TestRules(t *testing.T) {
	v := newValidator(t)
	party := func(cc, sub string) func(*twinningv1.Delegation) {
		return func(d *twinningv1.Delegation) {
			d.ForeignParties = []*typev1.ForeignParty{{Name: "Pingxiang", CountryCode: "CN", Subdivision: "CN-GX"}, {Name: "p", CountryCode: cc, Subdivision: sub, Locality: "Longzhou county"}}
		}
	}
	incident := func(edit func(*borderv1.BorderIncident)) *borderv1.BorderIncident {
		bi := &borderv1.BorderIncident{DisplayName: "Flood at marker 836", Category: 1,
			OccurTime: timestamppb.New(time.Date(2024, 9, 8, 6, 0, 0, 0, time.UTC))}
		edit(bi)
		return bi
	}
	for _, c := range []struct {
		name   string
		msg    proto.Message
		prefix string
		field  string // "" when the message is valid
		reason string
	}{
		{"valid", delegation(nil), "", "", ""},
		{"31 February", delegation(func(d *twinningv1.Delegation) { d.StartDate = date(2023, 2, 31); d.EndDate = nil }), "delegation.", "delegation.start_date", "date.no_such_day"},
		{"29 February of a common year", delegation(func(d *twinningv1.Delegation) { d.StartDate = date(2023, 2, 29); d.EndDate = nil }), "", "start_date", "date.no_such_day"},
		{"29 February of a leap year", delegation(func(d *twinningv1.Delegation) { d.StartDate = date(2024, 2, 29); d.EndDate = nil }), "", "", ""},
		{"29 February 1900", delegation(func(d *twinningv1.Delegation) { d.StartDate = date(1900, 2, 29); d.EndDate = nil }), "", "start_date", "date.no_such_day"},
		{"29 February 2000", delegation(func(d *twinningv1.Delegation) { d.StartDate = date(2000, 2, 29); d.EndDate = nil }), "", "", ""},
		{"31 June", delegation(func(d *twinningv1.Delegation) { d.EndDate = date(2024, 6, 31) }), "", "end_date", "date.no_such_day"},
		{"a day without a month", delegation(func(d *twinningv1.Delegation) { d.EndDate = date(2024, 0, 5) }), "", "end_date", "date.day_without_month"},
		{"end before start", delegation(func(d *twinningv1.Delegation) { d.EndDate = date(2024, 5, 5) }), "delegation.", "delegation.end_date", "end_date.not_before_start_date"},
		{"end on the start day", delegation(func(d *twinningv1.Delegation) { d.EndDate = date(2024, 5, 6) }), "", "", ""},
		{"end month holds the start day", delegation(func(d *twinningv1.Delegation) { d.EndDate = date(2024, 5, 0) }), "", "", ""},
		{"end year holds the start month", delegation(func(d *twinningv1.Delegation) { d.StartDate, d.EndDate = date(2024, 5, 0), date(2024, 0, 0) }), "", "", ""},
		{"start year holds the end month", delegation(func(d *twinningv1.Delegation) { d.StartDate, d.EndDate = date(2024, 0, 0), date(2024, 3, 0) }), "", "", ""},
		{"end month before the start month", delegation(func(d *twinningv1.Delegation) { d.EndDate = date(2024, 4, 0) }), "", "end_date", "end_date.not_before_start_date"},
		{"end year before the start", delegation(func(d *twinningv1.Delegation) { d.EndDate = date(2023, 0, 0) }), "", "end_date", "end_date.not_before_start_date"},
		{"more foreigners than members", delegation(func(d *twinningv1.Delegation) { d.ForeignerCount = 11 }), "", "foreigner_count", "foreigner_count.above_member_count"},
		{"foreigners without a member count", delegation(func(d *twinningv1.Delegation) { d.MemberCount = 0 }), "", "", ""},
		{"whitespace-only name", delegation(func(d *twinningv1.Delegation) { d.DisplayName = " \t " }), "", "display_name", "string.name"},
		{"NUL in a name", delegation(func(d *twinningv1.Delegation) { d.DisplayName = "Guangxi\x00" }), "", "display_name", "string.name"},
		{"line break in a name", delegation(func(d *twinningv1.Delegation) { d.DisplayName = "Guangxi\ndelegation" }), "", "display_name", "string.name"},
		{"no-break space at the end", delegation(func(d *twinningv1.Delegation) { d.DisplayName = "Guangxi\u00a0" }), "", "display_name", "string.name"},
		{"Vietnamese name", delegation(func(d *twinningv1.Delegation) { d.DisplayName = "Đoàn công tác tỉnh Quảng Tây" }), "", "", ""},
		{"zero-width space inside in a name", delegation(func(d *twinningv1.Delegation) { d.DisplayName = "Guang\u200bxi" }), "", "display_name", "string.name"},
		{"zero-width space at the end in a name", delegation(func(d *twinningv1.Delegation) { d.DisplayName = "Guangxi\u200b" }), "", "display_name", "string.name"},
		{"bidi override in a name", delegation(func(d *twinningv1.Delegation) { d.DisplayName = "Guangxi \u202egnaH" }), "", "display_name", "string.name"},
		{"line separator in a name", delegation(func(d *twinningv1.Delegation) { d.DisplayName = "Guangxi\u2028delegation" }), "", "display_name", "string.name"},
		{"paragraph separator in a name", delegation(func(d *twinningv1.Delegation) { d.DisplayName = "Guangxi\u2029delegation" }), "", "display_name", "string.name"},
		{"byte order mark at the start in a name", delegation(func(d *twinningv1.Delegation) { d.DisplayName = "\ufeffGuangxi" }), "", "display_name", "string.name"},
		{"word joiner in a name", delegation(func(d *twinningv1.Delegation) { d.DisplayName = "Guang\u2060xi" }), "", "display_name", "string.name"},
		{"private-use character in a name", delegation(func(d *twinningv1.Delegation) { d.DisplayName = "Guangxi \ue000" }), "", "display_name", "string.name"},
		{"ideographic space at the end in a name", delegation(func(d *twinningv1.Delegation) { d.DisplayName = "广西\u3000" }), "", "display_name", "string.name"},
		{"zero-width joiner at the end in a name", delegation(func(d *twinningv1.Delegation) { d.DisplayName = "Guangxi\u200d" }), "", "display_name", "string.name"},
		{"Vietnamese name, decomposed tones", delegation(func(d *twinningv1.Delegation) { d.DisplayName = "Đoa\u0300n Qua\u0309ng Ninh" }), "", "", ""},
		{"Lao name", delegation(func(d *twinningv1.Delegation) { d.DisplayName = "ແຂວງຫຼວງພະບາງ" }), "", "", ""},
		{"Khmer name", delegation(func(d *twinningv1.Delegation) { d.DisplayName = "ខេត្តសៀមរាប" }), "", "", ""},
		{"Chinese name", delegation(func(d *twinningv1.Delegation) { d.DisplayName = "广西壮族自治区代表团" }), "", "", ""},
		{"Malayalam name with a zero-width joiner", delegation(func(d *twinningv1.Delegation) { d.DisplayName = "ഇന്\u200dത്യ" }), "", "", ""},
		{"Persian name with a zero-width non-joiner", delegation(func(d *twinningv1.Delegation) { d.DisplayName = "می\u200cخواهم" }), "", "", ""},
		{"emoji sequence with joiners", delegation(func(d *twinningv1.Delegation) { d.DisplayName = "Team 👩\u200d👩\u200d👧" }), "", "", ""},
		{"Hangul filler for a name", delegation(func(d *twinningv1.Delegation) { d.DisplayName = "\u3164" }), "", "display_name", "string.name"},
		{"Hangul choseong filler for a name", delegation(func(d *twinningv1.Delegation) { d.DisplayName = "\u115f" }), "", "display_name", "string.name"},
		{"halfwidth Hangul filler at the end", delegation(func(d *twinningv1.Delegation) { d.DisplayName = "Foxconn\uffa0" }), "", "display_name", "string.name"},
		{"braille blank for a name", delegation(func(d *twinningv1.Delegation) { d.DisplayName = "\u2800" }), "", "display_name", "string.name"},
		{"combining grapheme joiner for a name", delegation(func(d *twinningv1.Delegation) { d.DisplayName = "\u034f" }), "", "display_name", "string.name"},
		{"Hangul filler at the start", delegation(func(d *twinningv1.Delegation) { d.DisplayName = "\u3164Guangxi" }), "", "display_name", "string.name"},
		{"variation selector for a name", delegation(func(d *twinningv1.Delegation) { d.DisplayName = "\ufe0f" }), "", "display_name", "string.name"},
		{"variation selector ending an emoji", delegation(func(d *twinningv1.Delegation) { d.DisplayName = "Friendship \u2764\ufe0f" }), "", "", ""},
		{"Korean name", delegation(func(d *twinningv1.Delegation) { d.DisplayName = "부산광역시 대표단" }), "", "", ""},
		{"a blank then a variation selector at the end", delegation(func(d *twinningv1.Delegation) { d.DisplayName = "Foxconn\uffa0\ufe0f" }), "", "display_name", "string.name"},
		{"a braille blank then a variation selector", delegation(func(d *twinningv1.Delegation) { d.DisplayName = "x\u2800\U000E0100" }), "", "display_name", "string.name"},
		{"a combining mark to start a name", delegation(func(d *twinningv1.Delegation) { d.DisplayName = "\u0301\ufe0f" }), "", "display_name", "string.name"},
		{"a Mongolian name ending in a variation selector", delegation(func(d *twinningv1.Delegation) { d.DisplayName = "ᠮᠣᠩᠭᠣᠯ\u180b" }), "", "", ""},
		{"an emoji alone", delegation(func(d *twinningv1.Delegation) { d.DisplayName = "\u2764\ufe0f" }), "", "", ""},
		{"zero-width space in a field of cooperation", &twinningv1.Partnership{DisplayName: "Cao Bằng–Bách Sắc", Kind: twinningv1.Partnership_KIND_TWINNING,
			LocalUnit: &typev1.LocalUnit{Level: typev1.LocalLevel_LOCAL_LEVEL_PROVINCE, Name: "Cao Bằng"}, Partner: &typev1.ForeignParty{Name: "Baise", CountryCode: "CN"}, Fields: []string{"trade", "trade\u200b"}}, "", "fields[1]", "string.name"},
		{"line break in an agreement's field of cooperation", &twinningv1.Agreement{DisplayName: "MoU", Kind: twinningv1.Agreement_KIND_MOU, Fields: []string{"trade\ntourism"}}, "", "fields[0]", "string.name"},
		{"a field of cooperation over 60 characters", &twinningv1.Agreement{DisplayName: "MoU", Kind: twinningv1.Agreement_KIND_MOU, Fields: []string{strings.Repeat("a", 61)}}, "", "fields[0]", "string.max_len"},
		{"empty optional name", delegation(func(d *twinningv1.Delegation) { d.Leader = "" }), "", "", ""},
		{"untrimmed optional name", delegation(func(d *twinningv1.Delegation) { d.Leader = "Li Wei " }), "", "leader", "string.name"},
		{"country UK", delegation(func(d *twinningv1.Delegation) { d.Countries = []string{"CN", "UK"} }), "delegation.", "delegation.countries[1]", "string.iso3166_alpha2"},
		{"country ZZ", delegation(func(d *twinningv1.Delegation) { d.Countries = []string{"ZZ"} }), "", "countries[0]", "string.iso3166_alpha2"},
		{"country GB VN LA KH", delegation(func(d *twinningv1.Delegation) { d.Countries = []string{"GB", "VN", "LA", "KH"} }), "", "", ""},
		{"lower-case country: one violation", delegation(func(d *twinningv1.Delegation) { d.Countries = []string{"cn"} }), "", "countries[0]", "string.pattern"},
		{"subdivision Guangxi", delegation(party("CN", "CN-GX")), "", "", ""},
		{"subdivision Yunnan", delegation(party("CN", "CN-YN")), "", "", ""},
		{"subdivision Xiangkhouang", delegation(party("LA", "LA-XI")), "", "", ""},
		{"subdivision Siem Reap", delegation(party("KH", "KH-17")), "", "", ""},
		{"subdivision Busan", delegation(party("KR", "KR-26")), "", "", ""},
		{"subdivision Osaka", delegation(party("JP", "JP-27")), "", "", ""},
		{"subdivision of a country outside the table: form only", delegation(party("FR", "FR-IDF")), "", "", ""},
		{"subdivision not in the table", delegation(party("CN", "CN-XX")), "delegation.", "delegation.foreign_parties[1].subdivision", "string.iso3166_2"},
		{"Lao subdivision not in the table", delegation(party("LA", "LA-ZZ")), "", "foreign_parties[1].subdivision", "string.iso3166_2"},
		{"subdivision bad form", delegation(party("CN", "GX")), "", "foreign_parties[1].subdivision", "string.iso3166_2"},
		{"subdivision lower case", delegation(party("CN", "cn-gx")), "", "foreign_parties[1].subdivision", "string.iso3166_2"},
		{"subdivision of another country", delegation(party("LA", "CN-GX")), "delegation.", "delegation.foreign_parties[1].subdivision", "subdivision.country_code"},
		{"untrimmed locality", delegation(func(d *twinningv1.Delegation) {
			d.ForeignParties = []*typev1.ForeignParty{{Name: "Pingxiang", CountryCode: "CN", Locality: " Pingxiang"}}
		}), "", "foreign_parties[0].locality", "string.name"},
		{"merged-away province in visible_to", delegation(func(d *twinningv1.Delegation) { d.VisibleTo = []string{"lang-son", "bac-giang"} }), "", "visible_to[1]", validation.FieldRuleReason},
		{"unknown province in visible_to", delegation(func(d *twinningv1.Delegation) { d.VisibleTo = []string{"atlantis"} }), "", "visible_to[0]", validation.FieldRuleReason},
		{"the ministry in visible_to", delegation(func(d *twinningv1.Delegation) { d.VisibleTo = []string{"mofa"} }), "", "visible_to[0]", validation.FieldRuleReason},
		{"agreement of another kind", delegation(func(d *twinningv1.Delegation) {
			d.Agreements = []string{"provinces/cao-bang/agreements/a1", "provinces/cao-bang/projects/p1"}
		}), "delegation.", "delegation.agreements[1]", validation.FieldRuleReason},
		{"currency XYZ", &investmentv1.Project{DisplayName: "p", Kind: 1, RegisteredCapital: &typev1.Money{CurrencyCode: "XYZ", Units: 1}}, "", "registered_capital.currency_code", "string.iso4217"},
		{"currency XXX", &investmentv1.Project{DisplayName: "p", Kind: 1, RegisteredCapital: &typev1.Money{CurrencyCode: "XXX", Units: 1}}, "", "registered_capital.currency_code", "string.iso4217"},
		{"currency VND", &investmentv1.Project{DisplayName: "p", Kind: 1, RegisteredCapital: &typev1.Money{CurrencyCode: "VND", Units: 1}}, "", "", ""},
		{"completed before approved", &investmentv1.Project{DisplayName: "p", Kind: 1, ApprovedDate: date(2020, 3, 1), CompletedDate: date(2019, 0, 0)}, "", "completed_date", "completed_date.not_before_approved_date"},
		{"investor country UK", &investmentv1.Project{DisplayName: "p", Kind: 1, InvestorCountry: "UK"}, "", "investor_country", "string.iso3166_alpha2"},
		{"lead of a project of another kind", &investmentv1.InvestorLead{Investor: "i", Project: "provinces/cao-bang/investor-leads/x"}, "", "project", validation.FieldRuleReason},
		{"lead of a project of a merged province", &investmentv1.InvestorLead{Investor: "i", Project: "provinces/ha-giang/projects/x"}, "", "project", validation.FieldRuleReason},
		{"lead of a project", &investmentv1.InvestorLead{Investor: "i", Project: "provinces/tuyen-quang/projects/x"}, "", "", ""},
		{"resolved before it occurred", incident(func(bi *borderv1.BorderIncident) {
			bi.ResolveTime = timestamppb.New(bi.OccurTime.AsTime().Add(-time.Minute))
		}), "border_incident.", "border_incident.resolve_time", "resolve_time.not_before_occur_time"},
		{"merged-away province to notify", incident(func(bi *borderv1.BorderIncident) { bi.NotifyProvinces = []string{"lang-son", "ha-giang", "bac-giang"} }),
			"border_incident.", "border_incident.notify_provinces[1] border_incident.notify_provinces[2]", validation.FieldRuleReason},
		{"border gate not a name", incident(func(bi *borderv1.BorderIncident) { bi.BorderGate = "Tà Lùng" }), "", "border_gate", validation.FieldRuleReason},
		{"border gate a marker", incident(func(bi *borderv1.BorderIncident) { bi.BorderGate = "provinces/cao-bang/border-markers/m836" }), "", "border_gate", validation.FieldRuleReason},
		{"trade report of a gate name", &borderv1.TradeReport{PeriodKind: 3, PeriodStart: date(2024, 1, 1), PeriodEnd: date(2024, 12, 31), BorderGate: "ta-lung"}, "", "border_gate", validation.FieldRuleReason},
		{"trade period backwards", &borderv1.TradeReport{PeriodKind: 3, PeriodStart: date(2024, 1, 1), PeriodEnd: date(2023, 12, 31)}, "", "period_end", "period_end.not_before_period_start"},
		{"agreement expiring before it takes effect", &twinningv1.Agreement{DisplayName: "a", Kind: 1, EffectiveDate: date(2024, 6, 1), ExpiryDate: date(2024, 5, 31)}, "", "expiry_date", "expiry_date.not_before_effective_date"},
		{"agreement reported before signing", &twinningv1.Agreement{DisplayName: "a", Kind: 1, SignedDate: date(2024, 6, 1), ReportDate: date(2024, 5, 0)}, "", "report_date", "report_date.not_before_signed_date"},
		{"opinion before the request", &twinningv1.Agreement{DisplayName: "a", Kind: 1, Consultation: &twinningv1.Agreement_Consultation{RequestedDate: date(2024, 6, 1), OpinionDate: date(2024, 5, 30)}},
			"agreement.", "agreement.consultation.opinion_date", "opinion_date.not_before_requested_date"},
		{"partnership of another kind", &twinningv1.Agreement{DisplayName: "a", Kind: 1, Partnership: "provinces/cao-bang/agreements/x"}, "", "partnership", validation.FieldRuleReason},
		{"foreign party of country UK", &twinningv1.Partnership{DisplayName: "p", Kind: 1, LocalUnit: &typev1.LocalUnit{Name: "Hạ Lang"},
			Partner: &typev1.ForeignParty{Name: "Kent", CountryCode: "UK"}}, "", "partner.country_code", "string.iso3166_alpha2"},
		{"foreign party with a blank name", &twinningv1.Partnership{DisplayName: "p", Kind: 1, LocalUnit: &typev1.LocalUnit{Name: "Hạ Lang"},
			Partner: &typev1.ForeignParty{Name: "  ", CountryCode: "GB"}}, "", "partner.name", "string.name"},
		{"upgrade effective before decided", &borderv1.BorderGate{DisplayName: "g", Level: 1, NeighbourCountry: "CN", Upgrades: []*borderv1.BorderGate_Upgrade{{}, {DecidedDate: date(2025, 9, 0), EffectiveDate: date(2025, 8, 31)}}},
			"", "upgrades[1].effective_date", "effective_date.not_before_decided_date"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := fieldViolations(t, v.Check(c.msg, c.prefix))
			var want []violation
			if c.field != "" {
				for _, f := range strings.Fields(c.field) {
					want = append(want, violation{f, c.reason})
				}
			}
			if len(got) != len(want) {
				t.Fatalf("violations %v, want %v", got, want)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("violation %d = %v, want %v", i, got[i], want[i])
				}
			}
		})
	}
}

// TestMergedProvinceSaysWhere checks that a merged-away slug is told the
// province that took it over.
func TestMergedProvinceSaysWhere(t *testing.T) {
	v := newValidator(t)
	err := v.Check(delegation(func(d *twinningv1.Delegation) { d.VisibleTo = []string{"ha-giang"} }), "")
	if err == nil || !strings.Contains(err.Error(), `merged into "tuyen-quang"`) {
		t.Errorf("Check = %v, want it to name tuyen-quang", err)
	}
}

// TestIgnoredFieldsAreNotWalked checks that a field the schema ignores (the
// record of an Update request, validated after its mask is applied) is not
// judged by the field rules either.
func TestIgnoredFieldsAreNotWalked(t *testing.T) {
	v := newValidator(t)
	req := &twinningv1.UpdateDelegationRequest{Delegation: delegation(func(d *twinningv1.Delegation) { d.VisibleTo = []string{"atlantis"} })}
	if err := v.Check(req, ""); err != nil {
		t.Errorf("Check(update request) = %v, want nil", err)
	}
	if err := v.Check(req.Delegation, "delegation."); err == nil {
		t.Error("Check(record) = nil, want the bad province")
	}
}

// TestNewRefusesShortNames checks that a field rule keyed by a bare field
// name (which would never match) is refused.
func TestNewRefusesShortNames(t *testing.T) {
	if _, err := validation.New(map[protoreflect.FullName]func(string) error{"visible_to": resource.CheckProvince}); err == nil {
		t.Error("New accepted a rule keyed by a bare field name")
	}
}

// TestTextHoldsNoNUL: a string holding U+0000 is valid UTF-8, but no store
// keeps it (PostgreSQL's text cannot): Check and Text name each such field.
func TestTextHoldsNoNUL(t *testing.T) {
	v := newValidator(t)
	d := delegation(func(d *twinningv1.Delegation) { d.DisplayName, d.Countries = "a\x00b", []string{"CN", "V\x00"} })
	want := []string{"delegation.display_name", "delegation.countries[1]"}
	for what, err := range map[string]error{"Check": v.Check(d, "delegation."), "WellFormed": validation.WellFormed(&twinningv1.CreateDelegationRequest{Delegation: d})} {
		var got []string
		for _, fv := range fieldViolations(t, err) {
			got = append(got, fv.field)
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s names %v, want %v", what, got, want)
		}
	}
}
