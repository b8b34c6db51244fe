// Package textfold folds text for search, so that what people type finds
// what was written however either was typed: in any case, with or without
// Vietnamese diacritics, composed (NFC) or decomposed (NFD), in full-width
// forms or with ligatures (compatibility forms, NFKD). It is the one
// place this is defined: the store folds the text it indexes and the text
// it is asked for with the same function, so the two always agree.
package textfold

import (
	"strings"
	"sync"
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
	if f, ok := foldKnown(s); ok {
		return f
	}
	return foldFull(s)
}

// foldFull is Fold by its definition: four passes over s through Unicode's
// tables, then one more over its characters.
func foldFull(s string) string {
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

// foldKnown folds s in one pass when each of its characters is ASCII or
// one of knownFolds (every letter of Vietnamese, precomposed, is), and
// reports false at the first that is not (a combining mark, another
// script, bytes that are not UTF-8): Fold then takes the full way. Most
// text the store indexes is such, and foldFull took 6% of the writer's
// time in a group commit (BENCHMARKS.md, "Search text folded in one
// pass").
func foldKnown(s string) (string, bool) {
	var b strings.Builder
	b.Grow(len(s))
	space := true
	for i := 0; i < len(s); {
		var to string
		if c := s[i]; c < utf8.RuneSelf {
			i++
			switch {
			case 'a' <= c && c <= 'z' || '0' <= c && c <= '9':
				b.WriteByte(c)
				space = false
				continue
			case 'A' <= c && c <= 'Z':
				b.WriteByte(c - 'A' + 'a')
				space = false
				continue
			}
		} else {
			r, n := utf8.DecodeRuneInString(s[i:])
			i += n
			f, ok := knownFold(r)
			if !ok {
				return "", false
			}
			to = f
		}
		if to == "" {
			if !space {
				b.WriteByte(' ')
				space = true
			}
			continue
		}
		b.WriteString(to)
		space = false
	}
	return strings.TrimSuffix(b.String(), " "), true
}

// knownRanges are where knownFold looks: Latin-1 Supplement, Latin
// Extended-A and -B, Latin Extended Additional (Vietnamese precomposed
// with its tones) and General Punctuation.
var knownRanges = [][2]rune{{0x80, 0x250}, {0x1E00, 0x1F00}, {0x2000, 0x2070}}

// knownFolds holds, for each character of knownRanges, what foldFull makes
// of it wherever it stands: ASCII letters and digits, or nothing (it
// separates words). A character folding to anything else (a mark, text
// keeping a mark, more than one word) is left out. Made once, from
// foldFull itself, between two letters.
var knownFolds = sync.OnceValue(func() [][]knownFoldOf {
	out := make([][]knownFoldOf, len(knownRanges))
	for i, rg := range knownRanges {
		out[i] = make([]knownFoldOf, rg[1]-rg[0])
		for r := rg[0]; r < rg[1]; r++ {
			if unicode.IsMark(r) {
				continue
			}
			switch f := foldFull("a" + string(r) + "a"); {
			case f == "a a":
				out[i][r-rg[0]] = knownFoldOf{known: true}
			case len(f) > 2 && f[0] == 'a' && f[len(f)-1] == 'a' && isASCIIAlnum(f[1:len(f)-1]):
				out[i][r-rg[0]] = knownFoldOf{to: f[1 : len(f)-1], known: true}
			}
		}
	}
	return out
})

type knownFoldOf struct {
	to    string
	known bool
}

// knownFold is what knownFolds holds for r, if anything.
func knownFold(r rune) (string, bool) {
	for i, rg := range knownRanges {
		if rg[0] <= r && r < rg[1] {
			f := knownFolds()[i][r-rg[0]]
			return f.to, f.known
		}
	}
	return "", false
}

func isASCIIAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
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
