package cli

import (
	"strings"
	"testing"

	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"google.golang.org/protobuf/proto"
)

// TestRecordFileIsReadAsItsFields: record files were read as YAML 1.1 and
// converted to JSON before protojson saw them (an outside review): a
// second document was dropped without a word (create made the first record
// only), NO and yes became false and true (Norway's code refused as "invalid
// value for string field country: false"), a key given twice kept the last,
// and errors gave places in the JSON. Each is now read against the record's
// fields and refused naming the file's line.
func TestRecordFileIsReadAsItsFields(t *testing.T) {
	ok := map[string]proto.Message{
		"display_name: yes\nkind: KIND_MOU\npartner_countries: [NO, 'CN']\nsigned_date: {year: 2025, month: 3}\n": &twinningv1.Agreement{
			DisplayName: "yes", Kind: twinningv1.Agreement_KIND_MOU, PartnerCountries: []string{"NO", "CN"}},
		`{"displayName": "2025", "kind": 2}`:                                  &twinningv1.Agreement{DisplayName: "2025", Kind: twinningv1.Agreement_KIND_MOU},
		"signed_date: {year: 0x7E9, month: 0o3, day: 014}\ndisplay_name: x\n": &twinningv1.Agreement{DisplayName: "x"},
		"display_name: &t Flood\nsummary: *t\nkind: ~\n":                      &twinningv1.Agreement{DisplayName: "Flood", Summary: "Flood"},
	}
	for in, want := range ok {
		got := &twinningv1.Agreement{}
		if err := decodeRecord([]byte(in), got); err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		got.SignedDate = nil
		if !proto.Equal(got, want) {
			t.Errorf("%q read as %v, want %v", in, got, want)
		}
	}
	dated := &twinningv1.Agreement{}
	if err := decodeRecord([]byte("signed_date: {year: 0x7E9, month: 0o3, day: 014}\n"), dated); err != nil ||
		dated.GetSignedDate().GetYear() != 2025 || dated.GetSignedDate().GetMonth() != 3 || dated.GetSignedDate().GetDay() != 14 {
		t.Errorf("YAML 1.2's hexadecimal, octal and decimal with a leading 0: %v, %v", dated.GetSignedDate(), err)
	}
	refused := map[string]string{
		"display_name: one\nkind: KIND_MOU\n---\ndisplay_name: two\n": "holds more than one record (another document at line 3)",
		`{"display_name": "one"} {"display_name": "two"}`:             "holds more than one record",
		"":                                             "holds no record",
		"display_name: a\ndisplay_name: b\n":           "line 2: display_name is given twice (first at line 1)",
		"display_name: a\ndisplayName: b\n":            "line 2: display_name is given twice",
		"display_name: a\nkindd: KIND_MOU\n":           `line 2: no field "kindd" in Agreement (its fields: name, display_name, kind,`,
		"kind: KIND_MOUU\n":                            `line 1: kind: "KIND_MOUU" is not one of KIND_INTERNATIONAL_AGREEMENT, KIND_MOU,`,
		"kind: 77\n":                                   `line 1: kind: "77" is not one of`,
		"signed_date: 2025-02-30\n":                    `line 1: signed_date: want the fields of a Date ({year: 2025, month: 3, day: 14}`,
		"signed_date:\n  year: 99999999999\n":          `line 2: signed_date.year: want a whole number from -2147483648 to 2147483647, got "99999999999"`,
		"signed_date: {year: 2025.5}\n":                `line 1: signed_date.year: want a whole number`,
		"display_name: [a]\n":                          "line 1: display_name: want one value, got a list",
		"partner_countries: CN\n":                      "line 1: partner_countries: want a list",
		"---\n":                                        "holds no record",
		"<<: {display_name: merged}\nkind: KIND_MOU\n": "line 1: merge keys (<<) are not read: write the fields out",
		"signed_date: {year: 0x7E9z}\n":                "signed_date.year: want a whole number",
		"signed_date: {year: 2_025}\n":                 "signed_date.year: want a whole number",
		"~\n":                                          "holds no record (the document is empty)",
		"[a, b]\n":                                     "line 1: want the record's fields (key: value lines, or a JSON object), got a list",
		"partner_countries: [CN, ~]\n":                 `line 1: partner_countries[1]: want a value, got null ("~")`,
		"foreign_parties: [null]\n":                    `line 1: foreign_parties[0]: want a value, got null`,
		"foreign_parties:\n  - name: x\n    country: CN\n": `line 3: foreign_parties[0]: no field "country" in ForeignParty`,
		"display_name: a\n  b: c\n":                        "line 2",
		"a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n" +
			"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n" +
			"g: [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n": "holds more than 1048576 values, its aliases (*name) expanded",
	}
	for in, want := range refused {
		err := decodeRecord([]byte(in), &twinningv1.Agreement{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v; want %q", in, err, want)
		}
	}
	for in, want := range map[string]string{
		"occur_time: 2025-02-30T00:00:00Z\n": `line 1: occur_time: "2025-02-30T00:00:00Z" is not a time such as "2025-08-01T06:00:00Z"`,
		"occur_time: [1]\n":                  "line 1: occur_time: want text such as",
	} {
		err := decodeRecord([]byte(in), &borderv1.BorderIncident{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v; want %q", in, err, want)
		}
	}
	got := &borderv1.BorderIncident{}
	if err := decodeRecord([]byte("occur_time: 2025-08-01T13:00:00+07:00\n"), got); err != nil || got.GetOccurTime().AsTime().Hour() != 6 {
		t.Errorf("a time with its offset: %v, %v", got.GetOccurTime(), err)
	}
}
