package validation_test

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/structpb"

	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/internal/validation"
)

// varintField is the wire form of field num holding v as a varint.
func varintField(num protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), v)
}

// bytesField is the wire form of field num holding b.
func bytesField(num protowire.Number, b ...[]byte) []byte {
	var inner []byte
	for _, p := range b {
		inner = append(inner, p...)
	}
	return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), inner)
}

// TestNumbersFit: a varint its field's type cannot hold, which protobuf
// would cut to its low 32 bits (member_count 2^40+9 read as 9, an enum's
// 2^32+1 as its value 1), is refused naming the field, at any depth, in a
// list (packed or not) by its index and in a map by its key; every number
// the type holds passes, a negative int32 sign-extended as protobuf writes
// it among them. Bytes that are not protobuf are left to unmarshalling.
func TestNumbersFit(t *testing.T) {
	delegation := func(fields ...[]byte) []byte {
		return append(bytesField(1, []byte("provinces/cao-bang")), bytesField(3, fields...)...) // parent, delegation
	}
	const (
		direction   = 3
		memberCount = 7
		startDate   = 10
		year        = 1
	)
	create := (&twinningv1.CreateDelegationRequest{}).ProtoReflect().Descriptor()
	pull := (&syncv1.PullRequest{}).ProtoReflect().Descriptor()
	location := (&descriptorpb.SourceCodeInfo{}).ProtoReflect().Descriptor() // repeated int32 path = 1, packed
	object := (&structpb.Struct{}).ProtoReflect().Descriptor()               // map<string, Value>; Value's null_value (1) an enum
	packed := func(vs ...uint64) []byte {
		var b []byte
		for _, v := range vs {
			b = protowire.AppendVarint(b, v)
		}
		return bytesField(1, b) // path
	}
	signExtended := func(n int32) uint64 { return uint64(int64(n)) }
	for _, c := range []struct {
		what   string
		md     protoreflect.MessageDescriptor
		wire   []byte
		fields []string // none when it passes
	}{
		{"member_count 2^40+9", create, delegation(varintField(memberCount, 1<<40+9)), []string{"delegation.member_count"}},
		{"member_count 2^63", create, delegation(varintField(memberCount, 1<<63)), []string{"delegation.member_count"}},
		{"member_count 2^31", create, delegation(varintField(memberCount, 1<<31)), []string{"delegation.member_count"}},
		{"member_count -1 in 32 bits", create, delegation(varintField(memberCount, math.MaxUint32)), []string{"delegation.member_count"}},
		{"member_count 2^31-1", create, delegation(varintField(memberCount, math.MaxInt32)), nil},
		{"member_count -2^31 sign-extended", create, delegation(varintField(memberCount, signExtended(math.MinInt32))), nil},
		{"start_date.year 2^32+2020", create, delegation(bytesField(startDate, varintField(year, 1<<32+2020))), []string{"delegation.start_date.year"}},
		{"direction 2^32+1", create, delegation(varintField(direction, 1<<32+1)), []string{"delegation.direction"}},
		{"every field at once", create, delegation(varintField(direction, 1<<32+1), varintField(memberCount, 1<<40), bytesField(startDate, varintField(year, 1<<33))),
			[]string{"delegation.direction", "delegation.member_count", "delegation.start_date.year"}},
		{"uint32 2^32", pull, varintField(4, 1<<32), []string{"batch_size"}},
		{"uint32 2^32-1", pull, varintField(4, math.MaxUint32), nil},
		{"packed list", location, bytesField(1, packed(1, 1<<32, 3), packed(1<<40)), []string{"location[0].path[1]", "location[0].path[3]"}},
		{"unpacked list", location, bytesField(1, varintField(1, 5), varintField(1, 1<<32)), []string{"location[0].path[1]"}},
		{"second element", location, append(bytesField(1), bytesField(1, packed(1<<32))...), []string{"location[1].path[0]"}},
		{"map value", object, bytesField(1, bytesField(1, []byte("k")), bytesField(2, varintField(1, 1<<32))), []string{`fields["k"].null_value`}},
		{"map value before its key", object, bytesField(1, bytesField(2, varintField(1, 1<<32)), bytesField(1, []byte("k"))), []string{`fields["k"].null_value`}},
		{"map value that fits", object, bytesField(1, bytesField(1, []byte("k")), bytesField(2, varintField(1, 0))), nil},
		{"not protobuf", create, []byte{0xff, 0xff, 0xff}, nil},
	} {
		err := validation.NumbersFit(c.wire, c.md)
		if len(c.fields) == 0 {
			if err != nil {
				t.Errorf("%s: %v, want it taken", c.what, err)
			}
			continue
		}
		e, ok := apperr.As(err)
		if !ok {
			t.Errorf("%s: %v, want INVALID_ARGUMENT naming %v", c.what, err, c.fields)
			continue
		}
		var got []string
		for _, v := range e.Violations {
			got = append(got, v.GetField())
			if v.GetReason() != validation.ReasonNumberCut || !strings.Contains(v.GetDescription(), "does not fit") {
				t.Errorf("%s: violation %v, want reason %s saying what does not fit", c.what, v, validation.ReasonNumberCut)
			}
		}
		if strings.Join(got, " ") != strings.Join(c.fields, " ") {
			t.Errorf("%s: refused %v, want %v", c.what, got, c.fields)
		}
	}
	// What protobuf marshals itself always fits.
	b, err := proto.Marshal(&twinningv1.CreateDelegationRequest{Parent: "provinces/cao-bang", Delegation: &twinningv1.Delegation{
		MemberCount: math.MinInt32, Direction: twinningv1.Delegation_DIRECTION_INCOMING}})
	if err != nil {
		t.Fatal(err)
	}
	if err := validation.NumbersFit(b, create); err != nil {
		t.Errorf("a request protobuf marshalled: %v", err)
	}
}

// TestManyViolationsCostAsFewAsReported: a request's bytes can hold a
// million bad numbers, unknown fields or strings that are not UTF-8 (an
// anonymous reflection call of 4 MiB allocated 278 MB, building a
// violation for each); the answer reports apperr.MaxViolations of them and
// counts the rest, and what is built is no more: 100,000 cost the
// allocations of 1,000.
func TestManyViolationsCostAsFewAsReported(t *testing.T) {
	md := (&twinningv1.Delegation{}).ProtoReflect().Descriptor()
	startDate := md.Fields().ByName("start_date").Number()
	year := md.Fields().ByName("start_date").Message().Fields().ByName("year").Number()
	displayName := md.Fields().ByName("display_name").Number()
	for _, c := range []struct {
		what  string
		field []byte // one bad field, repeated
		check func(t *testing.T, b []byte) func() error
		first string
	}{
		{"a number past its int32, in a message", varintField(year, 1<<32+2020), func(t *testing.T, b []byte) func() error {
			b = bytesField(startDate, b)
			return func() error { return validation.NumbersFit(b, md) }
		}, "start_date.year"},
		{"an unknown field", varintField(500, 1), func(t *testing.T, b []byte) func() error {
			m := &twinningv1.Delegation{}
			if err := proto.Unmarshal(b, m); err != nil {
				t.Fatal(err)
			}
			return func() error { return validation.KnownFields(m) }
		}, "500"},
		{"a string not UTF-8", bytesField(displayName, []byte{0xff}), func(t *testing.T, b []byte) func() error {
			err := proto.Unmarshal(b, &twinningv1.Delegation{})
			if err == nil {
				t.Fatal("text not UTF-8 unmarshalled")
			}
			return func() error { return validation.DecodeError(b, md, err) }
		}, "display_name"},
	} {
		allocs := map[int]float64{}
		for _, n := range []int{1_000, 100_000} {
			check := c.check(t, bytes.Repeat(c.field, n))
			err := check()
			e, ok := apperr.As(err)
			if !ok || len(e.Violations) != apperr.MaxViolations || e.Violations[0].GetField() != c.first {
				t.Fatalf("%s, %d times: %v; want INVALID_ARGUMENT with %d violations, the first of %s", c.what, n, err, apperr.MaxViolations, c.first)
			}
			if more := fmt.Sprintf("(and %d more)", n-1); !strings.HasSuffix(e.Message, more) {
				t.Errorf("%s, %d times: message %q; want it to end %q", c.what, n, e.Message, more)
			}
			allocs[n] = testing.AllocsPerRun(2, func() { _ = check() })
		}
		if allocs[100_000] > allocs[1_000]+10 {
			t.Errorf("%s: 100,000 times made %.0f allocations, 1,000 times %.0f; want as many", c.what, allocs[100_000], allocs[1_000])
		}
	}
}
