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
