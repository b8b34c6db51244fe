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
)

// FuzzDecodeError: the request codec and validation.DecodeError run inside
// grpc-go, outside the interceptors' panic recovery, so no bytes may make
// them panic. Whatever arrives as a request message of a few kinds, the
// codec accepts it, and its decode answers INVALID_ARGUMENT exactly when
// protobuf refuses the bytes.
func FuzzDecodeError(f *testing.F) {
	seed, _ := proto.Marshal(&twinningv1.CreateAgreementRequest{Parent: "provinces/cao-bang", Agreement: &twinningv1.Agreement{DisplayName: "x", PartnerCountries: []string{"CN"}}})
	f.Add(seed)
	f.Add([]byte{0x12, 0x05, 0x0a, 0x03, 0xff, 0xfe, 0xfd})
	f.Add([]byte{0x0a, 0x80})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	kinds := []func() proto.Message{
		func() proto.Message { return &twinningv1.CreateAgreementRequest{} },
		func() proto.Message { return &twinningv1.UpdateAgreementRequest{} },
		func() proto.Message { return &borderv1.CreateBorderIncidentRequest{} },
		func() proto.Message { return &nationalv1.SummarizeRequest{} },
		func() proto.Message { return &syncv1.PullRequest{} },
	}
	codec := newRequestCodec()
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, kind := range kinds {
			m := kind()
			if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, m); err != nil {
				t.Fatalf("%T: the codec returned %v; it must keep the bytes for the interceptors", m, err)
			}
			kept := codec.decode(m)
			refused := proto.Unmarshal(b, kind()) != nil
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
