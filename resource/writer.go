package resource

import (
	"strings"

	"github.com/provex/provex/internal/apperr"
)

// MayWrite is the ownership rule of writes: a node writes records under
// its own member's name only (what is the parent or the record written).
// The API's chain applies it to a request before validating it, so a
// caller learns nothing of what another's record must hold; the standard
// methods apply it again, as the authority.
func MayWrite(member, province, what string) error {
	if province != member {
		return apperr.PermissionDenied("%s belongs to %s; this node (%s) writes only its own records", apperr.Quote(what), province, member)
	}
	return nil
}

// OwnerSegment returns the owner of a parent (provinces/{owner}) or a
// record's name (provinces/{owner}/...), when it is a member's id; false
// for anything else, which the schema's rules refuse.
func OwnerSegment(s string) (string, bool) {
	rest, ok := strings.CutPrefix(s, "provinces/")
	if !ok {
		return "", false
	}
	owner, _, _ := strings.Cut(rest, "/")
	if checkProvince(owner) != nil {
		return "", false
	}
	return owner, true
}
