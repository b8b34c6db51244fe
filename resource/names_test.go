package resource

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
)

func TestParseName(t *testing.T) {
	good := []struct {
		in   string
		want Name
	}{
		{"provinces/cao-bang/agreements/mou-nanning-2023", Name{"cao-bang", "agreements", "mou-nanning-2023"}},
		{"provinces/ho-chi-minh-city/agreements/a", Name{"ho-chi-minh-city", "agreements", "a"}},
		{"provinces/cao-bang/agreements/" + strings.Repeat("a", 63), Name{"cao-bang", "agreements", strings.Repeat("a", 63)}},
		// The ministry owns records too, under its member id.
		{"provinces/mofa/agreements/mou-laos-2025", Name{"mofa", "agreements", "mou-laos-2025"}},
	}
	for _, tc := range good {
		got, err := ParseName(tc.in, "agreements")
		if err != nil || got != tc.want || got.String() != tc.in {
			t.Errorf("ParseName(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	bad := []struct{ in, wantErr string }{
		{"", "must have the form"},
		{"provinces/cao-bang/delegations/x", "must have the form provinces/{province}/agreements/{id}"},
		{"provinces/atlantis/agreements/x", `unknown province "atlantis"`},
		{"provinces/bac-giang/agreements/x", `merged into "bac-ninh"`},
		{"provinces/cao-bang/agreements/X", "must start with a lower-case letter"},
		{"provinces/cao-bang/agreements/9a", "must start with a lower-case letter"},
		{"provinces/cao-bang/agreements/a_b", "only lower-case letters, digits and hyphens"},
		{"provinces/cao-bang/agreements/" + strings.Repeat("a", 64), "longer than 63"},
		{"provinces/cao-bang/agreements/", "id is empty"},
		{"provinces/cao-bang/agreements/a/b", "must have the form"},
		{"regions/cao-bang/agreements/a", "must have the form"},
	}
	for _, tc := range bad {
		if _, err := ParseName(tc.in, "agreements"); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("ParseName(%q) error = %v, want it to contain %q", tc.in, err, tc.wantErr)
		}
	}
}

// TestErrorsQuoteLongNamesCut: an error quotes a long name cut
// (apperr.Quote): a member's signed entries of 5 MB names were quoted whole in the
// reason stored for each and in a log line each (an outside review).
func TestErrorsQuoteLongNamesCut(t *testing.T) {
	long := "provinces/cao-bang/agreements/" + strings.Repeat("x", 5<<20)
	for what, err := range map[string]error{
		"ParseName":  func() error { _, err := ParseName(long, "agreements"); return err }(),
		"CheckOwned": func() error { _, err := CheckOwned(long, "cao-bang"); return err }(),
		"a kind":     func() error { _, err := CheckOwned(long+"/x", "cao-bang"); return err }(),
	} {
		if err == nil || len(err.Error()) > 512 || !strings.Contains(err.Error(), "bytes in all)") {
			t.Errorf("%s of a name of %d bytes: an error of %d bytes, want it cut and its length told", what, len(long), len(fmt.Sprint(err)))
		}
	}
}

func TestParseParent(t *testing.T) {
	if p, err := ParseParent("provinces/cao-bang", false); err != nil || p != "cao-bang" {
		t.Errorf("ParseParent = %q, %v", p, err)
	}
	if p, err := ParseParent("provinces/-", true); err != nil || p != AllProvinces {
		t.Errorf("wildcard = %q, %v", p, err)
	}
	for _, in := range []string{"provinces/-", "provinces/cao-bang/x", "cao-bang", "provinces/", "provinces/ha-giang"} {
		if _, err := ParseParent(in, false); err == nil {
			t.Errorf("ParseParent(%q) accepted", in)
		}
	}
}

func TestProvinces(t *testing.T) {
	ps := Provinces()
	if len(ps) != 34 {
		t.Fatalf("%d provinces, want 34", len(ps))
	}
	codes := map[string]bool{}
	for _, p := range ps {
		if codes[p.Code] {
			t.Errorf("duplicate code %s", p.Code)
		}
		codes[p.Code] = true
		if err := CheckID(p.Slug); err != nil {
			t.Errorf("slug %q is not a valid id: %v", p.Slug, err)
		}
	}
	for old, current := range map[string]string{"bac-giang": "bac-ninh", "ha-giang": "tuyen-quang", "yen-bai": "lao-cai", "binh-duong": "ho-chi-minh-city"} {
		if got, ok := MergedInto(old); !ok || got != current {
			t.Errorf("MergedInto(%q) = %q, %v; want %q", old, got, ok, current)
		}
	}
	if _, ok := MergedInto("cao-bang"); ok {
		t.Error("cao-bang was not merged away")
	}
}

func TestKindsHaveMethods(t *testing.T) {
	for _, k := range Kinds() {
		for _, verb := range []string{"Get", "List", "Create", "Update", "Delete", "Undelete"} {
			m := k.Method(verb)
			if m.Output().FullName() != k.Message.Descriptor().FullName() && verb != "List" {
				t.Errorf("%s %s returns %s", verb, k.Collection, m.Output().FullName())
			}
		}
		if f := k.Method("List").Output().Fields().ByName(protoName(k.ListField())); f == nil {
			t.Errorf("List%s response has no field %s", k.Message.Descriptor().Name(), k.ListField())
		}
		if f := k.Method("Create").Input().Fields().ByName(protoName(k.Field)); f == nil {
			t.Errorf("Create request of %s has no field %s", k.Collection, k.Field)
		}
	}
}

// FuzzParseName checks that any string either parses into a name that
// prints back to itself, or is rejected with an error; never a panic.
func FuzzParseName(f *testing.F) {
	for _, s := range []string{
		"provinces/cao-bang/agreements/a1", "provinces/-/agreements/x", "provinces/bac-giang/agreements/x",
		"provinces//agreements/", "/////", "provinces/cao-bang/agreements/ä", "provinces/cao-bang/agreements/a-",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseName(s, "agreements")
		if err != nil {
			return
		}
		if n.String() != s {
			t.Fatalf("ParseName(%q) = %+v prints as %q", s, n, n.String())
		}
		if CheckID(n.ID) != nil {
			t.Fatalf("accepted bad id %q", n.ID)
		}
		if _, ok := LookupProvince(n.Province); !ok {
			t.Fatalf("accepted unknown province %q", n.Province)
		}
		if _, err := ParseParent("provinces/"+n.Province, false); err != nil {
			t.Fatalf("province of a valid name is not a valid parent: %v", err)
		}
	})
}

func protoName(s string) protoreflect.Name { return protoreflect.Name(s) }

// TestCheckOwned: an origin's log may hold only its own records, and only
// the ministry's may hold requests for information and opinions on
// agreements.
func TestCheckOwned(t *testing.T) {
	for _, c := range []struct {
		name, origin string
		ok           bool
	}{
		{"provinces/lang-son/agreements/a1", "lang-son", true},
		{"provinces/lang-son/agreements/a1", "cao-bang", false},
		{"provinces/mofa/information-requests/r1", Ministry, true},
		{"provinces/lang-son/information-requests/r1", "lang-son", false},
		{"provinces/lang-son/information-responses/r1", "lang-son", true},
		{"provinces/mofa/agreement-opinions/o1", Ministry, true},
		{"provinces/lang-son/agreement-opinions/o1", "lang-son", false},
		{"provinces/lang-son/nothing/r1", "lang-son", false},
	} {
		if _, err := CheckOwned(c.name, c.origin); (err == nil) != c.ok {
			t.Errorf("CheckOwned(%s, %s) = %v, want ok %v", c.name, c.origin, err, c.ok)
		}
	}
}
