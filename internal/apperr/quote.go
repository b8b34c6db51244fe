package apperr

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
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

// maxPrintable bounds the bytes of a peer's error text a node keeps, logs
// and shows: the text of a status a peer answers with is the peer's to
// choose, 12 MB of it made each status, health answer and log line 12 MB
// (an outside review), and an honest one fits.
const maxPrintable = 256

// Printable is text a peer chose (the message of the status it answered
// with), made fit to keep, log and show: what is not printable (control
// characters such as a terminal's escapes, carriage returns and line
// breaks that would make lines of their own, bytes that are not UTF-8)
// escaped as Go quotes it, and cut at maxPrintable bytes on a rune's
// boundary, marked as Clip marks it.
func Printable(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); {
		r, size := utf8.DecodeRuneInString(v[i:])
		var next string
		switch {
		case r == utf8.RuneError && size == 1:
			next = fmt.Sprintf(`\x%02x`, v[i])
		case unicode.IsPrint(r):
			next = v[i : i+size]
		default:
			q := strconv.QuoteRune(r)
			next = q[1 : len(q)-1]
		}
		if b.Len()+len(next) > maxPrintable {
			return fmt.Sprintf("%s… (%d bytes in all)", b.String(), len(v))
		}
		b.WriteString(next)
		i += size
	}
	return b.String()
}
