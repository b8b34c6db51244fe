package server

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/internal/validation"
)

// FuzzDecodeError: the request codec and validation.DecodeError run inside
// grpc-go, outside the interceptors' panic recovery, so no bytes may make
// them panic. Whatever arrives as a request message of a few kinds, the
// codec accepts it, and its decode answers INVALID_ARGUMENT exactly when
// protobuf refuses the bytes or, but for the sync protocol's, they hold a
// number its field cannot hold.
func FuzzDecodeError(f *testing.F) {
	seed, _ := proto.Marshal(&twinningv1.CreateAgreementRequest{Parent: "provinces/cao-bang", Agreement: &twinningv1.Agreement{DisplayName: "x", PartnerCountries: []string{"CN"}}})
	f.Add(seed)
	f.Add([]byte{0x12, 0x05, 0x0a, 0x03, 0xff, 0xfe, 0xfd})
	f.Add([]byte{0x0a, 0x80})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	// A SummarizeRequest's page_size (int32, field 7) of 2^32+5, which
	// protobuf reads as 5.
	f.Add([]byte{0x38, 0x85, 0x80, 0x80, 0x80, 0x10})
	kinds := []struct {
		method string
		new    func() proto.Message
	}{
		{twinningv1.TwinningService_CreateAgreement_FullMethodName, func() proto.Message { return &twinningv1.CreateAgreementRequest{} }},
		{twinningv1.TwinningService_UpdateAgreement_FullMethodName, func() proto.Message { return &twinningv1.UpdateAgreementRequest{} }},
		{borderv1.BorderService_CreateBorderIncident_FullMethodName, func() proto.Message { return &borderv1.CreateBorderIncidentRequest{} }},
		{nationalv1.NationalService_Summarize_FullMethodName, func() proto.Message { return &nationalv1.SummarizeRequest{} }},
		{syncv1.SyncService_Pull_FullMethodName, func() proto.Message { return &syncv1.PullRequest{} }},
	}
	codec := newRequestCodec()
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, kind := range kinds {
			m := kind.new()
			if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, m); err != nil {
				t.Fatalf("%T: the codec returned %v; it must keep the bytes for the interceptors", m, err)
			}
			kept := codec.decode(m, kind.method)
			refused := proto.Unmarshal(b, kind.new()) != nil ||
				strictSchema(kind.method) && validation.NumbersFit(b, m.ProtoReflect().Descriptor()) != nil
			if refused != (kept != nil) {
				t.Fatalf("%T: protobuf refused: %v, the codec kept %v", m, refused, kept)
			}
			if kept == nil {
				continue
			}
			if e, ok := apperr.As(kept); !ok || e.Code != codes.InvalidArgument {
				t.Fatalf("%T: kept %v, want INVALID_ARGUMENT", m, kept)
			}
		}
	})
}
