package apperr

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// maxQuoted bounds the bytes of a value an error names: longer than any
// name of a record, short enough that what a caller or a member's signed
// entry sends (megabytes: a 4 MB number in a body, a sealed entry's name,
// bounded by its data alone) does not go whole into an answer, a log line
// or a stored reason of a refused entry.
const maxQuoted = 128

// Quote is v, a value a caller or a peer sent, quoted as Go would for an
// error that names it: whole when short, else its beginning and its
// length.
func Quote(v string) string { return clip(v, true) }

// Clip is Quote without the quotes, for a value sent without them (a
// number in JSON).
func Clip(v string) string { return clip(v, false) }

func clip(v string, quoted bool) string {
	if len(v) <= maxQuoted {
		if quoted {
			return strconv.Quote(v)
		}
		return v
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(v[cut]) {
		cut--
	}
	head := v[:cut] + "…"
	if quoted {
		head = strconv.Quote(head)
	}
	return fmt.Sprintf("%s (%d bytes in all)", head, len(v))
}
