// Package textfold folds text for search, so that what people type finds
// what was written however either was typed: in any case, with or without
// Vietnamese diacritics, composed (NFC) or decomposed (NFD), in full-width
// forms or with ligatures (compatibility forms, NFKD). It is the one
// place this is defined: the store folds the text it indexes and the text
// it is asked for with the same function, so the two always agree.
package textfold

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Fold returns s in lower case (full Unicode case folding), without the
// diacritics of Latin letters (the tone and vowel marks of Vietnamese: "Tà
// Lùng" and "TA LUNG" both fold to "ta lung"), with đ folded to d (it has
// no decomposition; ð and ɖ, which are often typed for it, fold to d too),
// and with every run of characters that are not letters, digits or marks
// made one space, trimmed. Compatibility characters are taken apart first
// (NFKD: full-width "ＴＡ" is "ta", "ﬁ" is "fi"). Marks on letters of other scripts (Lao and Thai
// vowel signs, the Cyrillic breve of й) are kept, since they tell letters
// apart there; such text is only case-folded and composed again (NFC).
func Fold(s string) string {
	// Case folding runs between two decompositions: a compatibility
	// character may decompose to capitals ("㎒" is "MHz"), and a folded
	// letter may compose ("ǰ" folds to itself, j with a caron). Bytes that
	// are not UTF-8 separate words, like punctuation.
	// Lower after folding: Unicode folds Cherokee to its capitals, and
	// those capitals' lower case back, so folding alone would not settle.
	d := norm.NFKD.String(strings.ToLower(cases.Fold().String(norm.NFKD.String(strings.ToValidUTF8(s, " ")))))
	var b strings.Builder
	b.Grow(len(d))
	latin, space := false, true
	for _, r := range d {
		switch {
		case unicode.Is(unicode.Mn, r):
			if latin {
				continue
			}
		case r == 'đ' || r == 'ð' || r == 'ɖ':
			r, latin = 'd', true
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r):
			latin = unicode.Is(unicode.Latin, r)
		default:
			latin = false
			if !space {
				b.WriteByte(' ')
				space = true
			}
			continue
		}
		b.WriteRune(r)
		space = false
	}
	out := strings.TrimSuffix(b.String(), " ")
	if isASCII(out) {
		return out
	}
	return norm.NFC.String(out)
}

// Words returns the words of Fold(s).
func Words(s string) []string { return strings.Fields(Fold(s)) }

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
