package server_test

import (
	"strings"
	"testing"

	"google.golang.org/grpc/status"

	"github.com/provex/provex/client"
	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	"github.com/provex/provex/resource"
)

// TestFilterLimitIsSaidInBytes: a filter over 4096 bytes is refused
// saying bytes, whether its text is ASCII or not. 4097 ASCII bytes were
// "at most 4096 characters" though the limit is bytes, and multibyte text
// "filter is 4097 bytes long" (an outside review).
func TestFilterLimitIsSaidInBytes(t *testing.T) {
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	national := nationalv1.NewNationalServiceClient(tn.Conn())
	for what, f := range map[string]string{
		"ASCII":     `display_name = "` + strings.Repeat("a", 4097-len(`display_name = ""`)) + `"`,
		"multibyte": `display_name = "` + strings.Repeat("ấ", 1360) + strings.Repeat("a", 4097-len(`display_name = ""`)-3*1360) + `"`,
	} {
		if len(f) != 4097 {
			t.Fatalf("%s filter is %d bytes, want 4097", what, len(f))
		}
		_, _, err := tn.List(ctx, tn.parent(), resource.BorderIncidents, client.ListOptions{Filter: f})
		wantInvalid(t, err, what+" list filter", "filter")
		if msg := status.Convert(err).Message(); !strings.Contains(msg, "4096 bytes") {
			t.Errorf("%s list filter of 4097 bytes: %q, want it to say 4096 bytes", what, msg)
		}
		_, err = national.Summarize(ctx, &nationalv1.SummarizeRequest{Collection: "border-incidents", Filter: f})
		wantInvalid(t, err, what+" summary filter", "filter")
		if msg := status.Convert(err).Message(); !strings.Contains(msg, "4096 bytes") {
			t.Errorf("%s summary filter of 4097 bytes: %q, want it to say 4096 bytes", what, msg)
		}
	}
}
