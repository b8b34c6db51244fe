package resource

import (
	"slices"

	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
)

// MayRead is the visibility rule of the federation: the owner and the
// ministry read everything; public records are for every member; national
// records for the owner and the ministry only; restricted records also for
// the provinces listed. Anything else (an unknown visibility) is denied.
func MayRead(member, owner string, visibility int32, visibleTo []string) bool {
	if member == owner || member == Ministry {
		return true
	}
	switch typev1.Visibility(visibility) {
	case typev1.Visibility_VISIBILITY_UNSPECIFIED, typev1.Visibility_VISIBILITY_PUBLIC:
		return true
	case typev1.Visibility_VISIBILITY_RESTRICTED:
		return slices.Contains(visibleTo, member)
	default:
		return false
	}
}

// Public reports whether a state of this visibility is for every member.
func Public(visibility int32) bool {
	v := typev1.Visibility(visibility)
	return v == typev1.Visibility_VISIBILITY_UNSPECIFIED || v == typev1.Visibility_VISIBILITY_PUBLIC
}

// Readers lists the members that may read a state that is not public (see
// MayRead): the owner, the ministry and, for a restricted state, the
// provinces listed, each once.
func Readers(owner string, visibility int32, visibleTo []string) []string {
	readers := []string{owner}
	if owner != Ministry {
		readers = append(readers, Ministry)
	}
	if typev1.Visibility(visibility) == typev1.Visibility_VISIBILITY_RESTRICTED {
		for _, m := range visibleTo {
			if !slices.Contains(readers, m) {
				readers = append(readers, m)
			}
		}
	}
	return readers
}
