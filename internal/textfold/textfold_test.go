package textfold

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

func TestFold(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Tà Lùng", "ta lung"},
		{"TÀ LÙNG", "ta lung"},
		{"tà lùng", "ta lung"},
		{"Ta Lung", "ta lung"},
		{norm.NFD.String("Tà Lùng"), "ta lung"},
		// Every tone on every vowel, and the vowels with their own marks.
		{"à á ả ã ạ ă ằ ắ ẳ ẵ ặ â ầ ấ ẩ ẫ ậ", "a a a a a a a a a a a a a a a a a"},
		{"ề ế ể ễ ệ ì í ỉ ĩ ị ồ ố ổ ỗ ộ ơ ờ ớ ở ỡ ợ", "e e e e e i i i i i o o o o o o o o o o o"},
		{"ư ừ ứ ử ữ ự ỳ ý ỷ ỹ ỵ Ữ Ỵ Ợ", "u u u u u u y y y y y u y o"},
		{"Đồng Đăng", "dong dang"},
		{"đường", "duong"},
		{"Ðồng Văn", "dong van"}, // Ð (U+00D0), typed for Đ
		{"ƉỒNG", "dong"},         // Ɖ (U+0189), likewise
		{"Hữu Nghị – Youyiguan", "huu nghi youyiguan"},
		{"  Móng Cái / Dongxing  ", "mong cai dongxing"},
		{"1116/2(2)", "1116 2 2"},
		{"Straße", "strasse"},
		{"ＴÀ ＬÙＮＧ", "ta lung"}, // full-width, as CJK input methods type
		{"Ǆemal ﬁeld", "dzemal field"},
		{"", ""},
		{"!?", ""},
		// Other scripts: case-folded and composed, their marks kept.
		{"友谊关", "友谊关"},
		{"ສະຫວັນນະເຂດ", "ສະຫວັນນະເຂດ"},
		{"ЙОШКАР-ОЛА", "йошкар ола"},
		{norm.NFD.String("서울"), "서울"},
		{"Ελλάδα", "ελλάδα"},
	} {
		if got := Fold(c.in); got != c.want {
			t.Errorf("Fold(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestFoldNormalForms checks that a name folds the same in NFC, NFD, NFKC
// and NFKD, and that folding twice changes nothing.
func TestFoldNormalForms(t *testing.T) {
	for _, s := range []string{"Tà Lùng", "Hữu Nghị", "Đắk Lắk", "Thừa Thiên Huế", "ສະຫວັນນະເຂດ", "서울", "Йошкар-Ола", "Ǆemal"} {
		want := Fold(s)
		for _, f := range []norm.Form{norm.NFC, norm.NFD, norm.NFKC, norm.NFKD} {
			if got := Fold(f.String(s)); got != want {
				t.Errorf("Fold of %q in form %v = %q, want %q", s, f, got, want)
			}
		}
		if again := Fold(want); again != want {
			t.Errorf("Fold(Fold(%q)) = %q, want %q", s, again, want)
		}
	}
}

func TestWords(t *testing.T) {
	if got, want := Words(" Cửa khẩu  Tà-Lùng "), []string{"cua", "khau", "ta", "lung"}; !slices.Equal(got, want) {
		t.Errorf("Words = %q, want %q", got, want)
	}
	if got := Words("—"); len(got) != 0 {
		t.Errorf("Words of punctuation = %q, want none", got)
	}
}

// FuzzFold checks on any text what search relies on: Fold is its
// definition (foldFull) however it takes, folding is stable
// (the stored text folds to itself), ignores the normal form, leaves no
// upper case and no mark on a Latin letter, and yields valid UTF-8 whose
// words Words returns.
func FuzzFold(f *testing.F) {
	for _, s := range []string{"Tà Lùng", "ĐỒNG ĐĂNG", "Ǆ ǰ İ ẞ ŉ", "ＴÀ", "서울", "ສະຫວັນ", "a\u0301\u0323", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Fold(s)
		if full := foldFull(s); got != full {
			t.Fatalf("Fold(%q) = %q, by definition %q", s, got, full)
		}
		if !utf8.ValidString(got) {
			t.Fatalf("Fold(%q) = %q, not UTF-8", s, got)
		}
		if again := Fold(got); again != got {
			t.Fatalf("Fold(%q) = %q, which folds to %q", s, got, again)
		}
		if !utf8.ValidString(s) {
			return
		}
		for _, f := range []norm.Form{norm.NFC, norm.NFD} {
			if other := Fold(f.String(s)); other != got {
				t.Fatalf("Fold(%q) = %q but in form %v %q", s, got, f, other)
			}
		}
		if got != strings.Join(Words(s), " ") {
			t.Fatalf("Fold(%q) = %q, Words %q", s, got, Words(s))
		}
	})
}

// knownRunes are the characters foldKnown folds by itself.
func knownRunes() []rune {
	var out []rune
	for _, rg := range knownRanges {
		for r := rg[0]; r < rg[1]; r++ {
			if _, ok := knownFold(r); ok {
				out = append(out, r)
			}
		}
	}
	return out
}

// TestFoldOfKnownCharactersIsFoldInFull checks the one-pass fold against
// the fold by definition on every pair of the characters it folds by
// itself (in short mode every seventh pair), alone and between ASCII
// letters, digits and punctuation, and on every Vietnamese letter with
// every tone: a character whose fold depended on its neighbours would
// differ in some pair.
func TestFoldOfKnownCharactersIsFoldInFull(t *testing.T) {
	known := knownRunes()
	for _, r := range []rune{'à', 'ằ', 'Ữ', 'Đ', 'đ', 'ơ', 'ư', 'Ỵ', '–', '’', 'ß', 'ǰ'} {
		if !slices.Contains(known, r) {
			t.Errorf("%q is not folded in one pass", r)
		}
	}
	check := func(s string) {
		t.Helper()
		got, ok := foldKnown(s)
		if want := foldFull(s); !ok || got != want {
			t.Fatalf("foldKnown(%q) = %q, %v; foldFull %q", s, got, ok, want)
		}
	}
	step := 1
	if testing.Short() {
		step = 7
	}
	n := 0
	for _, a := range known {
		check(string(a))
		for _, b := range known {
			if n++; n%step == 0 {
				check(string(a) + string(b))
				check("Q" + string(a) + "-" + string(b) + "7 ")
			}
		}
	}
	for _, s := range []string{"Cửa khẩu Tà Lùng – Thủy Khẩu", "ĐỒNG ĐĂNG “Hữu Nghị”", "Bản Giốc…Detian", "  ", "", "a\tb\nc"} {
		check(s)
	}
	for _, s := range []string{"a\u0301", "서울", "\xff", "½", "Æ", "ŉ"} {
		if _, ok := foldKnown(s); ok {
			t.Errorf("foldKnown(%q) folded text it does not know", s)
		}
	}
}

// BenchmarkFold folds the text of a record as the store indexes it:
// a Vietnamese place, an English title and a summary with punctuation.
// "full" is the fold by definition, which Fold took for every text before
// it folded known characters in one pass.
func BenchmarkFold(b *testing.B) {
	texts := []string{"Cao Bằng", "Memorandum of understanding on border trade cooperation no. 12",
		"Cooperation in border-gate management, trade facilitation, tourism at the Ban Gioc–Detian scenic area and exchanges between border communes.",
		"Biên bản ghi nhớ hợp tác giữa Sở Ngoại vụ tỉnh Cao Bằng và Văn phòng Ngoại vụ Khu tự trị dân tộc Choang Quảng Tây"}
	for _, f := range []struct {
		name string
		fold func(string) string
	}{{"Fold", Fold}, {"full", foldFull}} {
		b.Run(f.name, func(b *testing.B) {
			for b.Loop() {
				for _, s := range texts {
					f.fold(s)
				}
			}
		})
	}
}
