package validation_test

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/validation"
)

// TestTooManyElements: the elements of repeated fields are counted at every
// depth, across fields, without decoding: MaxElements pass, one more is
// refused naming the field that passed the bound; bytes that are not
// protobuf are left to unmarshalling.
func TestTooManyElements(t *testing.T) {
	request := func(parties, countries int) []byte {
		b, err := proto.Marshal(&twinningv1.CreateAgreementRequest{Parent: "provinces/cao-bang", Agreement: &twinningv1.Agreement{
			ForeignParties: make([]*typev1.ForeignParty, parties), PartnerCountries: make([]string, countries)}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	md := (&twinningv1.CreateAgreementRequest{}).ProtoReflect().Descriptor()
	for _, c := range []struct {
		parties, countries int
		field              string // "" when it passes
	}{
		{validation.MaxElements, 0, ""},
		{validation.MaxElements - 1, 1, ""},
		{validation.MaxElements + 1, 0, "agreement.foreign_parties"},
		{validation.MaxElements, 1, "agreement.partner_countries"},
		{0, validation.MaxElements + 1, "agreement.partner_countries"},
	} {
		err := validation.TooManyElements(request(c.parties, c.countries), md)
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%d parties and %d countries: %v, want it taken", c.parties, c.countries, err)
		case c.field != "" && (err == nil || !strings.Contains(err.Error(), c.field)):
			t.Errorf("%d parties and %d countries: %v, want it refused naming %s", c.parties, c.countries, err, c.field)
		}
	}
	if err := validation.TooManyElements([]byte{0xff, 0xff, 0xff}, md); err != nil {
		t.Errorf("bytes that are not protobuf: %v, want them left to unmarshalling", err)
	}
}
