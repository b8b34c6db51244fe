package server_test

import (
	"strings"
	"testing"

	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
)

// TestBorderGateLevelsDoNotOverlap: main and bilateral gates are one
// category with one number. A request naming LEVEL_BILATERAL (the old
// name, now an alias) stores and answers LEVEL_MAIN; the retired number 3
// is refused; the neighbour's own category is a field of its own.
func TestBorderGateLevelsDoNotOverlap(t *testing.T) {
	levels := borderv1.BorderGate_LEVEL_UNSPECIFIED.Descriptor().Values()
	seen := map[int32]string{}
	for i := 0; i < levels.Len(); i++ {
		v := levels.Get(i)
		if other, ok := seen[int32(v.Number())]; ok && !(other == "LEVEL_MAIN" && v.Name() == "LEVEL_BILATERAL") {
			t.Errorf("%s and %s share number %d", other, v.Name(), v.Number())
		}
		seen[int32(v.Number())] = string(v.Name())
	}
	if _, ok := seen[3]; ok || len(seen) != 5 {
		t.Errorf("level numbers %v, want 0, 1, 2, 4, 5", seen)
	}

	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	resp, body := sendHTTP(t, tn, "POST", "/v1/provinces/cao-bang/border-gates?border_gate_id=ly-van",
		strings.NewReader(`{"display_name":"Lý Vạn","counterpart_name":"Thạc Long","neighbour_country":"CN","level":"LEVEL_BILATERAL","counterpart_level":"LEVEL_SECONDARY"}`), "")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"level":"LEVEL_MAIN"`) || !strings.Contains(string(body), `"counterpart_level":"LEVEL_SECONDARY"`) {
		t.Fatalf("create with LEVEL_BILATERAL: HTTP %d %s", resp.StatusCode, body)
	}
	got, err := tn.Border.GetBorderGate(ctx, &borderv1.GetBorderGateRequest{Name: "provinces/cao-bang/border-gates/ly-van"})
	mustf(t, err, "get")
	if got.GetLevel() != borderv1.BorderGate_LEVEL_MAIN || got.GetCounterpartLevel() != borderv1.BorderGate_LEVEL_SECONDARY {
		t.Errorf("stored levels %v / %v", got.GetLevel(), got.GetCounterpartLevel())
	}
	for _, g := range []*borderv1.BorderGate{
		{DisplayName: "Old", NeighbourCountry: "CN", Level: 3},
		{DisplayName: "Old", NeighbourCountry: "CN", Level: borderv1.BorderGate_LEVEL_MAIN, CounterpartLevel: 3},
	} {
		_, err := tn.Border.CreateBorderGate(ctx, &borderv1.CreateBorderGateRequest{Parent: tn.parent(), BorderGate: g})
		field := "border_gate.level"
		if g.CounterpartLevel == 3 {
			field = "border_gate.counterpart_level"
		}
		wantInvalid(t, err, "create with the retired number 3", field)
	}
}
