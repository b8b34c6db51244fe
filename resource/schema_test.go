package resource_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/timestamppb"

	// Every file of the schema, so provexMessages sees them all.
	_ "github.com/provex/provex/gen/go/provex/audit/v1"
	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	_ "github.com/provex/provex/gen/go/provex/node/v1"
	_ "github.com/provex/provex/gen/go/provex/sync/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/resource"
)

// TestOutputOnlyFollowsAnnotations: each kind's output-only fields are the
// name plus exactly the fields its message annotates OUTPUT_ONLY, which are
// the standard etag and times (so the derivation behaves as the list it
// replaced), and ClearOutputOnly clears those and nothing else.
func TestOutputOnlyFollowsAnnotations(t *testing.T) {
	for _, k := range resource.Kinds() {
		md := k.Message.Descriptor()
		want := []string{"name"}
		fields := md.Fields()
		for i := 0; i < fields.Len(); i++ {
			if f := fields.Get(i); resource.HasBehavior(f, annotations.FieldBehavior_OUTPUT_ONLY) {
				want = append(want, string(f.Name()))
			}
		}
		if got := k.OutputOnlyFields(); !slices.Equal(got, want) {
			t.Errorf("%s: OutputOnlyFields() = %v, annotated %v", md.Name(), got, want)
		}
		if std := []string{"name", "etag", "create_time", "update_time", "delete_time"}; !slices.Equal(want, std) {
			t.Errorf("%s: output-only fields %v, want the standard %v", md.Name(), want, std)
		}
		for i := 0; i < fields.Len(); i++ {
			f := fields.Get(i)
			if got, want := k.OutputOnly(f.Name()), slices.Contains(want, string(f.Name())); got != want {
				t.Errorf("%s: OutputOnly(%s) = %v, want %v", md.Name(), f.Name(), got, want)
			}
		}

		m := k.New()
		k.SetName(m, "provinces/cao-bang/"+k.Collection+"/x")
		k.SetEtag(m, "e")
		now := timestamppb.Now()
		k.SetCreateTime(m, now)
		k.SetUpdateTime(m, now)
		k.SetDeleteTime(m, now)
		m.ProtoReflect().Set(md.Fields().ByName("former_province"), protoreflect.ValueOfString("bac-giang"))
		k.ClearOutputOnly(m)
		var left []string
		m.ProtoReflect().Range(func(f protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
			left = append(left, string(f.Name()))
			return true
		})
		// The name is the identifier: Create sets it, Update reads it.
		if !slices.Equal(left, []string{"name", "former_province"}) {
			t.Errorf("%s: ClearOutputOnly left %v, want [name former_province]", md.Name(), left)
		}
	}
}

// TestKindNeedsResourceAnnotation: a kind is named by its message's
// google.api.resource, so a message without one (or with another pattern)
// cannot become a kind.
func TestKindNeedsResourceAnnotation(t *testing.T) {
	for _, c := range []struct {
		collection, field string
		msg               proto.Message
	}{
		{"money", "money", &typev1.Money{}},                     // no google.api.resource
		{"gates", "border_gate", &borderv1.BorderGate{}},        // pattern names border-gates
		{"border-gates", "gate", &borderv1.BorderGate{}},        // pattern's variable is border_gate
		{"border-gates", "border_gate", &borderv1.BorderGate{}}, // matches: no panic
	} {
		panicked := func() (p bool) {
			defer func() { p = recover() != nil }()
			resource.NewKindForTest(c.collection, c.field, c.msg)
			return false
		}()
		if want := c.collection != "border-gates" || c.field != "border_gate"; panicked != want {
			t.Errorf("kind %s of %T: panicked %v, want %v", c.collection, c.msg, panicked, want)
		}
	}
}

// provexMessages returns the top-level messages of provex's schema.
func provexMessages() []protoreflect.MessageDescriptor {
	var out []protoreflect.MessageDescriptor
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(fd.Package()), "provex.") {
			return true
		}
		for i := 0; i < fd.Messages().Len(); i++ {
			out = append(out, fd.Messages().Get(i))
		}
		return true
	})
	return out
}

// TestSchemaAnnotations is provex's check of the AIP rules its schema
// follows (the AIP linter is not served by the Go module proxy, so CI
// cannot install it): every resource message is a kind with a
// google.api.resource; every field of a resource and of every request
// message has a field_behavior, except the resource's name (the
// identifier, see scripts/gen.sh); parent and name of the standard
// methods' requests are REQUIRED and reference the resource; and REQUIRED is exactly what
// validation requires (AIP-203: required fields are rejected when absent).
func TestSchemaAnnotations(t *testing.T) {
	v, err := protovalidate.New()
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[protoreflect.FullName]*resource.Kind{}
	for _, k := range resource.Kinds() {
		kinds[k.Message.Descriptor().FullName()] = k
	}
	var resources, requests, others int
	for _, md := range provexMessages() {
		rd := resource.Descriptor(md)
		if (rd != nil) != (kinds[md.FullName()] != nil) {
			t.Errorf("%s: google.api.resource %v, but a kind: %v", md.FullName(), rd != nil, kinds[md.FullName()] != nil)
		}
		if rd != nil {
			resources++
			if want := "provex.gov.vn/" + string(md.Name()); rd.GetType() != want {
				t.Errorf("%s: resource type %q, want %q", md.FullName(), rd.GetType(), want)
			}
			checkBehaviors(t, v, md, "name", "")
			continue
		}
		k, verb := standardRequest(md, kinds)
		if k == nil {
			if strings.HasSuffix(string(md.Name()), "Request") {
				others++
				checkBehaviors(t, v, md, "", "")
			}
			continue
		}
		requests++
		checkBehaviors(t, v, md, "", k.Field)
		typ := "provex.gov.vn/" + string(k.Message.Descriptor().Name())
		for _, c := range []struct {
			field protoreflect.Name
			ref   *annotations.ResourceReference
		}{{"parent", &annotations.ResourceReference{ChildType: typ}}, {"name", &annotations.ResourceReference{Type: typ}}} {
			f := md.Fields().ByName(c.field)
			if f == nil {
				continue
			}
			if !resource.HasBehavior(f, annotations.FieldBehavior_REQUIRED) {
				t.Errorf("%s.%s is not REQUIRED", md.Name(), c.field)
			}
			got, _ := proto.GetExtension(f.Options(), annotations.E_ResourceReference).(*annotations.ResourceReference)
			if !proto.Equal(got, c.ref) {
				t.Errorf("%s.%s: resource_reference %v, want %v", md.Name(), c.field, got, c.ref)
			}
		}
		if verb == "Create" || verb == "Update" {
			if f := md.Fields().ByName(protoreflect.Name(k.Field)); f == nil || !resource.HasBehavior(f, annotations.FieldBehavior_REQUIRED) {
				t.Errorf("%s.%s is not REQUIRED", md.Name(), k.Field)
			}
		}
	}
	if resources != len(kinds) || requests != 6*len(kinds) || others < 10 {
		t.Errorf("checked %d resources, %d standard requests and %d other requests, want %d, %d and at least 10",
			resources, requests, others, len(kinds), 6*len(kinds))
	}
}

// standardRequest returns the kind and verb of a standard method's request
// message (GetAgreementRequest, ListAgreementsRequest ...).
func standardRequest(md protoreflect.MessageDescriptor, kinds map[protoreflect.FullName]*resource.Kind) (*resource.Kind, string) {
	for _, k := range kinds {
		for _, verb := range []string{"Get", "List", "Create", "Update", "Delete", "Undelete"} {
			if k.Method(verb).Input().FullName() == md.FullName() {
				return k, verb
			}
		}
	}
	return nil, ""
}

// checkBehaviors checks that every field of md but skip has a
// field_behavior, and that the REQUIRED ones are those validation rejects
// when absent. A field whose validation is left to the service (the
// record of an Update, validated after its mask is applied) is exempt from
// the second check.
func checkBehaviors(t *testing.T, v protovalidate.Validator, md protoreflect.MessageDescriptor, skip protoreflect.Name, serviceChecked string) {
	t.Helper()
	rejected := map[protoreflect.Name]bool{}
	var verr *protovalidate.ValidationError
	if err := v.Validate(dynamicNew(md)); errors.As(err, &verr) {
		for _, viol := range verr.Violations {
			if els := viol.Proto.GetField().GetElements(); len(els) > 0 {
				rejected[protoreflect.Name(els[0].GetFieldName())] = true
			}
		}
	} else if err != nil {
		t.Fatalf("%s: %v", md.FullName(), err)
	}
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		f := fields.Get(i)
		if f.Name() == skip {
			if len(resource.Behaviors(f)) != 0 {
				t.Errorf("%s.%s: the identifier has field_behavior %v", md.Name(), f.Name(), resource.Behaviors(f))
			}
			continue
		}
		if len(resource.Behaviors(f)) == 0 {
			t.Errorf("%s.%s has no field_behavior", md.Name(), f.Name())
			continue
		}
		req := resource.HasBehavior(f, annotations.FieldBehavior_REQUIRED)
		if string(f.Name()) == serviceChecked && !rejected[f.Name()] {
			continue
		}
		if req != rejected[f.Name()] {
			t.Errorf("%s.%s: REQUIRED %v, but validation rejects it absent: %v", md.Name(), f.Name(), req, rejected[f.Name()])
		}
	}
}

func dynamicNew(md protoreflect.MessageDescriptor) proto.Message {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName())
	if err != nil {
		panic(err)
	}
	return mt.New().Interface()
}

// TestRecordEnumsTakeDefinedValuesOnly: every enum field a record holds,
// in nested messages too, takes only the values its enum defines
// (buf.validate's enum.defined_only): protobuf keeps any number, and a
// local unit's level 99 was stored, synced and shown as a summary group
// that no filter could name.
func TestRecordEnumsTakeDefinedValuesOnly(t *testing.T) {
	checked := 0
	var walk func(md protoreflect.MessageDescriptor, path string, seen map[protoreflect.FullName]bool)
	walk = func(md protoreflect.MessageDescriptor, path string, seen map[protoreflect.FullName]bool) {
		if seen[md.FullName()] || !strings.HasPrefix(string(md.FullName()), "provex.") {
			return
		}
		seen[md.FullName()] = true
		for i := 0; i < md.Fields().Len(); i++ {
			f := md.Fields().Get(i)
			switch f.Kind() {
			case protoreflect.MessageKind:
				walk(f.Message(), path+string(f.Name())+".", seen)
			case protoreflect.EnumKind:
				if resource.HasBehavior(f, annotations.FieldBehavior_OUTPUT_ONLY) {
					continue
				}
				checked++
				rules, _ := proto.GetExtension(f.Options(), validate.E_Field).(*validate.FieldRules)
				enum := rules.GetEnum()
				if f.IsList() {
					enum = rules.GetRepeated().GetItems().GetEnum()
				}
				if !enum.GetDefinedOnly() {
					t.Errorf("%s%s (%s) takes values its enum does not define: give it (buf.validate.field).enum.defined_only", path, f.Name(), f.Enum().FullName())
				}
			}
		}
	}
	for _, k := range resource.Kinds() {
		walk(k.Message.Descriptor(), k.Collection+": ", map[protoreflect.FullName]bool{})
	}
	if checked < 20 {
		t.Errorf("checked %d enum fields, want every record kind's (at least 20)", checked)
	}
}
