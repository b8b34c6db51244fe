package sampledata

import (
	"strings"

	investmentv1 "github.com/provex/provex/gen/go/provex/investment/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/textfold"
)

// Organisations are recorded by the province that works with them, the
// first time one of its projects names them, so that references always
// follow the record they name. Only details that are public and well known
// are filled in (acronym, seat, site); registration numbers under Decree
// 58/2022 are left empty rather than invented.
type orgDetails struct {
	short   string
	kind    investmentv1.Organization_Kind
	website string
}

var knownOrganizations = map[string]orgDetails{
	"Asian Development Bank": {"ADB", investmentv1.Organization_KIND_MULTILATERAL_LENDER, "https://www.adb.org"},
	"World Bank":             {"WB", investmentv1.Organization_KIND_MULTILATERAL_LENDER, "https://www.worldbank.org"},
	"International Fund for Agricultural Development": {"IFAD", investmentv1.Organization_KIND_MULTILATERAL_LENDER, "https://www.ifad.org"},
	"Japan International Cooperation Agency":          {"JICA", investmentv1.Organization_KIND_BILATERAL_DONOR, "https://www.jica.go.jp"},
	"Korea International Cooperation Agency":          {"KOICA", investmentv1.Organization_KIND_BILATERAL_DONOR, "https://www.koica.go.kr"},
	"KfW Development Bank":                            {"KfW", investmentv1.Organization_KIND_BILATERAL_DONOR, "https://www.kfw-entwicklungsbank.de"},
	"Export-Import Bank of Korea (EDCF)":              {"EDCF", investmentv1.Organization_KIND_BILATERAL_DONOR, "https://www.edcfkorea.go.kr"},
	"Catholic Relief Services":                        {"CRS", investmentv1.Organization_KIND_FOREIGN_NGO, ""},
	"SNV Netherlands Development Organisation":        {"SNV", investmentv1.Organization_KIND_FOREIGN_NGO, ""},
	"Medical Committee Netherlands-Vietnam":           {"MCNV", investmentv1.Organization_KIND_FOREIGN_NGO, ""},
	"Population Services International":               {"PSI", investmentv1.Organization_KIND_FOREIGN_NGO, ""},
	"Association for Aid and Relief, Japan":           {"AAR Japan", investmentv1.Organization_KIND_FOREIGN_NGO, ""},
	"Humanity & Inclusion":                            {"HI", investmentv1.Organization_KIND_FOREIGN_NGO, ""},
}

// organization returns the name of the province's Organization record of
// displayName, adding it the first time: kind and acronym from
// knownOrganizations, else a foreign NGO (Cao Bằng's non-ODA aid donors).
func (g *gen) organization(displayName, country string) string {
	id := orgID(displayName)
	if g.seen[Organizations+"/"+id] {
		return g.name(Organizations, id)
	}
	d, ok := knownOrganizations[displayName]
	if !ok {
		d.kind = investmentv1.Organization_KIND_FOREIGN_NGO
	}
	o := &investmentv1.Organization{
		DisplayName: displayName, ShortName: d.short, Kind: d.kind, Country: country, Website: d.website,
		Visibility: typev1.Visibility_VISIBILITY_PUBLIC,
	}
	if d.kind == investmentv1.Organization_KIND_FOREIGN_NGO {
		o.Description = "Foreign non-governmental organisation providing non-ODA aid (Decree 80/2020); registered under Decree 58/2022."
	}
	return g.add(Organizations, id, o)
}

// orgID is a record id made of the name's words, folded to ASCII.
func orgID(displayName string) string {
	var words []string
	for _, w := range textfold.Words(displayName) {
		if w = strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, w); w != "" {
			words = append(words, w)
		}
	}
	id := strings.Join(words, "-")
	if len(id) > 63 {
		id = strings.TrimRight(id[:63], "-")
	}
	return id
}
