package national

import "testing"

// TestCSVCell: validation keeps tabs and carriage returns out of names, but
// the escape does not rely on it; whole numbers stay numbers.
func TestCSVCell(t *testing.T) {
	for in, want := range map[string]string{
		"\tTAB": "'\tTAB", "\rCR": "'\rCR", "=1+1": "'=1+1", "-42": "-42", "-4.2": "'-4.2", "plain": "plain", "": "",
	} {
		if got := csvCell(in); got != want {
			t.Errorf("csvCell(%q) = %q, want %q", in, got, want)
		}
	}
}
