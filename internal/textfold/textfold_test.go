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

// FuzzFold checks on any text what search relies on: folding is stable
// (the stored text folds to itself), ignores the normal form, leaves no
// upper case and no mark on a Latin letter, and yields valid UTF-8 whose
// words Words returns.
func FuzzFold(f *testing.F) {
	for _, s := range []string{"Tà Lùng", "ĐỒNG ĐĂNG", "Ǆ ǰ İ ẞ ŉ", "ＴÀ", "서울", "ສະຫວັນ", "a\u0301\u0323", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Fold(s)
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
