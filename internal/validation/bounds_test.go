package validation_test

import (
	"fmt"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/validation"
)

// TestStorableNumbersInBounds: integers past their schema's bounds are
// named, in nested messages and lists too; values at the bounds, and
// fields without any, pass; WellFormed, the API's pass, leaves them to the
// validator.
func TestStorableNumbersInBounds(t *testing.T) {
	money := func(units int64) *typev1.Money { return &typev1.Money{CurrencyCode: "VND", Units: units} }
	for _, c := range []struct {
		m    proto.Message
		want []string
	}{
		{&borderv1.TradeReport{ExportValue: money(1e16), ImportValue: money(0)}, nil},
		{&borderv1.TradeReport{ExportValue: money(5e18), ImportValue: money(-1)}, []string{"export_value.units", "import_value.units"}},
		{&twinningv1.Delegation{MemberCount: 100000, ForeignerCount: 0}, nil},
		{&twinningv1.Delegation{MemberCount: 100001, ForeignerCount: -3}, []string{"member_count", "foreigner_count"}},
		{&twinningv1.Delegation{StartDate: &typev1.Date{Year: 1800, Month: 13, Day: 32}}, []string{"start_date.year", "start_date.month", "start_date.day"}},
		{&borderv1.BorderMarker{Location: &typev1.LatLng{Latitude: 91}}, nil}, // a double: not an integer bound
	} {
		var got []string
		err := validation.Storable(c.m)
		if err := validation.WellFormed(c.m); err != nil {
			t.Errorf("WellFormed(%v): %v", c.m, err)
		}
		for _, v := range fieldViolations(t, err) {
			got = append(got, v.field)
			if v.reason != validation.ReasonOutOfBounds {
				t.Errorf("%v: violation %v", c.m, v)
			}
		}
		slices.Sort(got)
		slices.Sort(c.want)
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("Storable(%v) names %v, want %v (%v)", c.m, got, c.want, err)
		}
	}
}
