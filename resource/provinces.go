package resource

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/provex/provex/internal/apperr"
)

// Province is one of the 34 provinces and centrally-run cities in force since
// the merger of 1 July 2025 (codes of Decision 19/2025/QĐ-TTg).
type Province struct {
	Slug        string
	Code        string
	DisplayName string
	City        bool
	// Pre-merger provinces whose records now belong here; the first one
	// listed is the province that hosts the centre.
	MergedFrom []string
	// Land-border neighbours (ISO 3166-1 alpha-2).
	Neighbours []string
}

// Ministry is the member id of the Ministry of Foreign Affairs' node.
const Ministry = "mofa"

var provinces = []Province{
	{"ha-noi", "01", "Hà Nội", true, nil, nil},
	{"cao-bang", "04", "Cao Bằng", false, nil, []string{"CN"}},
	{"tuyen-quang", "08", "Tuyên Quang", false, []string{"tuyen-quang", "ha-giang"}, []string{"CN"}},
	{"dien-bien", "11", "Điện Biên", false, nil, []string{"CN", "LA"}},
	{"lai-chau", "12", "Lai Châu", false, nil, []string{"CN"}},
	{"son-la", "14", "Sơn La", false, nil, []string{"LA"}},
	{"lao-cai", "15", "Lào Cai", false, []string{"yen-bai", "lao-cai"}, []string{"CN"}},
	{"thai-nguyen", "19", "Thái Nguyên", false, []string{"thai-nguyen", "bac-kan"}, nil},
	{"lang-son", "20", "Lạng Sơn", false, nil, []string{"CN"}},
	{"quang-ninh", "22", "Quảng Ninh", false, nil, []string{"CN"}},
	{"bac-ninh", "24", "Bắc Ninh", false, []string{"bac-giang", "bac-ninh"}, nil},
	{"phu-tho", "25", "Phú Thọ", false, []string{"phu-tho", "vinh-phuc", "hoa-binh"}, nil},
	{"hai-phong", "31", "Hải Phòng", true, []string{"hai-phong", "hai-duong"}, nil},
	{"hung-yen", "33", "Hưng Yên", false, []string{"hung-yen", "thai-binh"}, nil},
	{"ninh-binh", "37", "Ninh Bình", false, []string{"ninh-binh", "ha-nam", "nam-dinh"}, nil},
	{"thanh-hoa", "38", "Thanh Hóa", false, nil, []string{"LA"}},
	{"nghe-an", "40", "Nghệ An", false, nil, []string{"LA"}},
	{"ha-tinh", "42", "Hà Tĩnh", false, nil, []string{"LA"}},
	{"quang-tri", "44", "Quảng Trị", false, []string{"quang-binh", "quang-tri"}, []string{"LA"}},
	{"hue", "46", "Huế", true, nil, []string{"LA"}},
	{"da-nang", "48", "Đà Nẵng", true, []string{"da-nang", "quang-nam"}, []string{"LA"}},
	{"quang-ngai", "51", "Quảng Ngãi", false, []string{"quang-ngai", "kon-tum"}, []string{"LA", "KH"}},
	{"gia-lai", "52", "Gia Lai", false, []string{"binh-dinh", "gia-lai"}, []string{"KH"}},
	{"khanh-hoa", "56", "Khánh Hòa", false, []string{"khanh-hoa", "ninh-thuan"}, nil},
	{"dak-lak", "66", "Đắk Lắk", false, []string{"dak-lak", "phu-yen"}, []string{"KH"}},
	{"lam-dong", "68", "Lâm Đồng", false, []string{"lam-dong", "dak-nong", "binh-thuan"}, []string{"KH"}},
	{"dong-nai", "75", "Đồng Nai", false, []string{"dong-nai", "binh-phuoc"}, []string{"KH"}},
	{"ho-chi-minh-city", "79", "TP Hồ Chí Minh", true, []string{"ho-chi-minh-city", "binh-duong", "ba-ria-vung-tau"}, nil},
	{"tay-ninh", "80", "Tây Ninh", false, []string{"long-an", "tay-ninh"}, []string{"KH"}},
	{"dong-thap", "82", "Đồng Tháp", false, []string{"tien-giang", "dong-thap"}, []string{"KH"}},
	{"vinh-long", "86", "Vĩnh Long", false, []string{"vinh-long", "ben-tre", "tra-vinh"}, nil},
	{"an-giang", "91", "An Giang", false, []string{"kien-giang", "an-giang"}, []string{"KH"}},
	{"can-tho", "92", "Cần Thơ", true, []string{"can-tho", "soc-trang", "hau-giang"}, nil},
	{"ca-mau", "96", "Cà Mau", false, []string{"ca-mau", "bac-lieu"}, nil},
}

var (
	provinceBySlug = map[string]*Province{}
	// mergedInto maps a pre-merger slug that is no longer a province to the
	// province that took it over.
	mergedInto = map[string]string{}
)

func init() {
	for i := range provinces {
		p := &provinces[i]
		provinceBySlug[p.Slug] = p
	}
	for _, p := range provinces {
		for _, old := range p.MergedFrom {
			if _, current := provinceBySlug[old]; !current {
				mergedInto[old] = p.Slug
			}
		}
	}
}

// Provinces returns the 34 provinces ordered by official code.
func Provinces() []Province {
	out := append([]Province(nil), provinces...)
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}

// LookupProvince finds a current province by slug.
func LookupProvince(slug string) (Province, bool) {
	p, ok := provinceBySlug[slug]
	if !ok {
		return Province{}, false
	}
	return *p, true
}

// MergedInto tells which current province took over a pre-merger one.
func MergedInto(oldSlug string) (string, bool) {
	s, ok := mergedInto[oldSlug]
	return s, ok
}

// CheckFormerProvince checks the former_province of a record owned by
// owner: empty, or one of the pre-merger provinces merged into owner (its
// MergedFrom, the one table of them). A province that no merger formed
// has none to name, and neither has the ministry.
func CheckFormerProvince(owner, former string) error {
	if former == "" {
		return nil
	}
	p, ok := provinceBySlug[owner]
	if !ok || len(p.MergedFrom) == 0 {
		return fmt.Errorf("%s was not formed by a merger; leave former_province empty", owner)
	}
	if !slices.Contains(p.MergedFrom, former) {
		return fmt.Errorf("%s is not a province merged into %s; use one of %s", apperr.Quote(former), owner, strings.Join(p.MergedFrom, ", "))
	}
	return nil
}

// IsMember reports whether id names a member of the federation: a province or
// the ministry.
func IsMember(id string) bool {
	_, ok := provinceBySlug[id]
	return ok || id == Ministry
}
