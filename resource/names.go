package resource

import (
	"fmt"
	"strings"

	"github.com/provex/provex/internal/apperr"
)

// Name is a parsed resource name: provinces/{province}/{collection}/{id}.
type Name struct {
	Province   string
	Collection string
	ID         string
}

func (n Name) String() string {
	return "provinces/" + n.Province + "/" + n.Collection + "/" + n.ID
}

// AllProvinces is the parent wildcard (AIP-159) that lists across every
// province a node holds.
const AllProvinces = "-"

// ParseName parses a resource name of the given collection ("agreements",
// "border-gates" ...). Errors say what is wrong in words a caller can act on.
func ParseName(s, collection string) (Name, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 4 || parts[0] != "provinces" || parts[2] != collection {
		return Name{}, fmt.Errorf("must have the form provinces/{province}/%s/{id}, got %s", collection, apperr.Quote(s))
	}
	if err := checkProvince(parts[1]); err != nil {
		return Name{}, err
	}
	if err := CheckID(parts[3]); err != nil {
		return Name{}, err
	}
	return Name{Province: parts[1], Collection: collection, ID: parts[3]}, nil
}

// ParseParent parses provinces/{province}, or provinces/- when wildcard is
// allowed, and returns the province slug (or AllProvinces).
func ParseParent(s string, wildcard bool) (string, error) {
	province, ok := strings.CutPrefix(s, "provinces/")
	if !ok || strings.Contains(province, "/") {
		return "", fmt.Errorf("must have the form provinces/{province}, got %s", apperr.Quote(s))
	}
	if province == AllProvinces {
		if !wildcard {
			return "", fmt.Errorf("provinces/- is only allowed when listing")
		}
		return province, nil
	}
	if err := checkProvince(province); err != nil {
		return "", err
	}
	return province, nil
}

// checkProvince checks the owner segment of a name: a province slug, or
// the ministry's member id for the records the ministry itself owns.
func checkProvince(slug string) error {
	if slug == Ministry {
		return nil
	}
	return CheckProvince(slug)
}

// CheckProvince checks that slug names one of the 34 current provinces; a
// pre-merger slug is refused with the province it was merged into.
func CheckProvince(slug string) error {
	if _, ok := provinceBySlug[slug]; ok {
		return nil
	}
	if current, ok := mergedInto[slug]; ok {
		return fmt.Errorf("province %q was merged into %q on 1 July 2025; use %q", slug, current, current)
	}
	return fmt.Errorf("unknown province %s; ListProvinces gives the 34 slugs", apperr.Quote(slug))
}

// CheckID checks a resource id: a lower-case letter, then lower-case letters,
// digits or hyphens, at most 63 in all (AIP-122).
func CheckID(id string) error {
	if id == "" {
		return fmt.Errorf("id is empty")
	}
	if len(id) > 63 {
		return fmt.Errorf("id %s is longer than 63 characters", apperr.Quote(id))
	}
	if id[0] < 'a' || id[0] > 'z' {
		return fmt.Errorf("id %s must start with a lower-case letter", apperr.Quote(id))
	}
	for i := 1; i < len(id); i++ {
		c := id[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return fmt.Errorf("id %s may hold only lower-case letters, digits and hyphens", apperr.Quote(id))
		}
	}
	return nil
}

// SplitCollection returns the collection segment of any resource name, so a
// stored record can find its kind.
func SplitCollection(s string) (collection string, ok bool) {
	parts := strings.Split(s, "/")
	if len(parts) != 4 || parts[0] != "provinces" {
		return "", false
	}
	return parts[2], true
}

// CheckOwned checks that name is a resource name of a known kind that
// origin owns (provinces/{origin}/...; the ministry's are
// provinces/mofa/...), and returns its kind. Only the origin may write such
// a record, so an entry of one origin naming another's record is refused.
func CheckOwned(name, origin string) (*Kind, error) {
	k, ok := KindOfName(name)
	if !ok {
		return nil, fmt.Errorf("%s is not the name of a record of a known kind", apperr.Quote(name))
	}
	n, err := ParseName(name, k.Collection)
	if err != nil {
		return nil, err
	}
	if n.Province != origin {
		return nil, fmt.Errorf("%s belongs to %s, not to %s", name, n.Province, origin)
	}
	if k.MinistryOwned() && origin != Ministry {
		return nil, fmt.Errorf("%s: only the ministry writes %s", name, k.Collection)
	}
	return k, nil
}
