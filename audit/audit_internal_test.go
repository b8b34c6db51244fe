package audit

import (
	"slices"
	"testing"
)

// TestNotCoveredBy: what ranges leave of a range, so that a trail whose
// repair record covers 1..7 and whose records of 8..9 were removed is
// said to miss 8..9, not 1..9 (an outside review).
func TestNotCoveredBy(t *testing.T) {
	for _, tc := range []struct {
		ranges      [][2]int64
		first, last int64
		want        [][2]int64
	}{
		{nil, 1, 9, [][2]int64{{1, 9}}},
		{[][2]int64{{1, 7}}, 1, 9, [][2]int64{{8, 9}}},
		{[][2]int64{{10, 11}, {1, 7}}, 1, 9, [][2]int64{{8, 9}}},
		{[][2]int64{{3, 5}}, 1, 9, [][2]int64{{1, 2}, {6, 9}}},
		{[][2]int64{{3, 5}, {4, 8}}, 1, 9, [][2]int64{{1, 2}, {9, 9}}},
		{[][2]int64{{1, 9}}, 1, 9, nil},
		{[][2]int64{{0, 20}}, 1, 9, nil},
		{[][2]int64{{12, 20}}, 1, 9, [][2]int64{{1, 9}}},
	} {
		if got := notCoveredBy(tc.ranges, tc.first, tc.last); !slices.Equal(got, tc.want) {
			t.Errorf("notCoveredBy(%v, %d, %d) = %v, want %v", tc.ranges, tc.first, tc.last, got, tc.want)
		}
	}
}

// TestRepairedOnly: entries whose only record is a repair are told apart
// from those a repair gave back over a write's record (an entry damaged on
// disk): only the first lost who made them.
func TestRepairedOnly(t *testing.T) {
	var (
		v    Verifier
		prev *Record
	)
	for _, r := range []Record{
		{Action: "create", Origin: "cao-bang", FirstSeq: 1, LastSeq: 4},
		{Action: ActionRepair, Origin: "cao-bang", FirstSeq: 3, LastSeq: 3},
		{Action: ActionRepair, Origin: "cao-bang", FirstSeq: 5, LastSeq: 6},
		{Action: "create", Origin: "cao-bang", FirstSeq: 7, LastSeq: 7},
		{Action: ActionRepair, Origin: "mofa", FirstSeq: 1, LastSeq: 2},
	} {
		Next(prev, &r)
		v.Add(r)
		prev = &r
	}
	if _, _, problems := v.Finish(map[string]int64{"cao-bang": 7, "mofa": 2}); len(problems) > 0 {
		t.Fatalf("problems: %q", problems)
	}
	if got, want := v.RepairedOnly("cao-bang"), [][2]int64{{5, 6}}; !slices.Equal(got, want) {
		t.Errorf("RepairedOnly(cao-bang) = %v, want %v", got, want)
	}
	if got, want := v.RepairedOnly("mofa"), [][2]int64{{1, 2}}; !slices.Equal(got, want) {
		t.Errorf("RepairedOnly(mofa) = %v, want %v", got, want)
	}
}
