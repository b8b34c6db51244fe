package apperr_test

import (
	"testing"

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
