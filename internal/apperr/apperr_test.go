package apperr_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/internal/filter"
)

// TestInvalidSaysItsFieldOnce: a parser's error that names its parameter
// ("filter: at position 0: ...") is not prefixed with it twice.
func TestInvalidSaysItsFieldOnce(t *testing.T) {
	_, err := filter.Parse("sate = 1", filter.MustSchema((&twinningv1.Agreement{}).ProtoReflect().Descriptor(), "display_name"))
	if err == nil {
		t.Fatal("a filter of an unknown field parsed")
	}
	e := apperr.Invalid("filter", "%v", err)
	if want := "invalid filter: at position 0: "; len(e.Message) < len(want) || e.Message[:len(want)] != want {
		t.Errorf("message %q, want it to start %q", e.Message, want)
	}
	if d := e.Violations[0].GetDescription(); d[:len("at position")] != "at position" {
		t.Errorf("description %q repeats its field", d)
	}
}

// TestRetryAfterCopies: a wait goes to the caller as RetryInfo, alone or
// beside field violations, and RetryAfter leaves the error it was called on
// as it was (errors are often package variables, shared by every call).
func TestRetryAfterCopies(t *testing.T) {
	shared := apperr.Unavailable("shutting down")
	waiting := shared.RetryAfter(1500 * time.Millisecond)
	if d := apperr.RetryDelay(apperr.Status(waiting, "ref")); d != 1500*time.Millisecond {
		t.Errorf("RetryInfo %v, want 1.5s", d)
	}
	if d := apperr.RetryDelay(apperr.Status(shared, "ref")); d != 0 || shared.RetryDelay != 0 {
		t.Errorf("the error RetryAfter was called on now asks for a wait of %v", d)
	}
	both := apperr.Invalid("page_size", "too large").RetryAfter(time.Second)
	st := apperr.Status(both, "ref")
	if len(st.Details()) != 2 || apperr.RetryDelay(st) != time.Second {
		t.Errorf("violations and a wait: details %v", st.Details())
	}
}

// TestPrintableEscapesAndBounds: a peer's text is kept with what is not
// printable escaped, whole when short, else cut on a rune's boundary and
// marked with its length.
func TestPrintableEscapesAndBounds(t *testing.T) {
	if got, want := apperr.Printable("denied \"x\"\x1b[2J\a\r\nok\x00\xff é"), `denied "x"\x1b[2J\a\r\nok\x00\xff é`; got != want {
		t.Errorf("Printable: %q, want %q", got, want)
	}
	long := strings.Repeat("é", 1000)
	got := apperr.Printable(long)
	head, tail, ok := strings.Cut(got, "…")
	if !ok || len(head) > 256 || !utf8.ValidString(head) || strings.Trim(head, "é") != "" || tail != " (2000 bytes in all)" {
		t.Errorf("Printable of 2000 bytes: %q", got)
	}
	if got := apperr.Printable(strings.Repeat("\x00", 1000)); len(got) > 300 || !strings.HasPrefix(got, `\x00\x00`) {
		t.Errorf("Printable of 1000 NULs: %q", got)
	}
}
