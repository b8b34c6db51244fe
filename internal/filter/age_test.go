package filter

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestAgeFilters runs ".age" restrictions on a timestamp and a date in
// real SQLite against a fixed now: ages in days, unset values having none.
func TestAgeFilters(t *testing.T) {
	now := time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)
	recs := []rec{
		{id: 1, update: now.Add(-time.Hour), hasUpdate: true, date: [3]int32{2026, 3, 14}},
		{id: 2, update: now.Add(-29 * 24 * time.Hour), hasUpdate: true, date: [3]int32{2026, 2, 13}}, // 30 days before
		{id: 3, update: now.Add(-30*24*time.Hour - time.Minute), hasUpdate: true, date: [3]int32{2026, 2, 12}},
		{id: 4, update: now.Add(-400 * 24 * time.Hour), hasUpdate: true, date: [3]int32{2025, 0, 0}}, // the whole of 2025
		{id: 5}, // neither set
		{id: 6, update: now.Add(48 * time.Hour), hasUpdate: true, date: [3]int32{2026, 3, 0}}, // future; March 2026
	}
	db := openTestDB(t, t.TempDir(), testSchema, recs)
	for _, tc := range []struct {
		src  string
		want []int64
	}{
		{"update_time.age > 30", []int64{3, 4}},
		{"update_time.age >= 29", []int64{2, 3, 4}},
		{"update_time.age < 30", []int64{1, 2, 6}},
		{"update_time.age <= 0", []int64{6}},
		{"update_time.age > 0", []int64{1, 2, 3, 4}},
		{"NOT update_time.age > 30", []int64{1, 2, 5, 6}},
		{"signed_date.age > 30", []int64{3, 4}},
		{"signed_date.age >= 30", []int64{2, 3, 4}},
		{"signed_date.age < 30", []int64{1, 6}}, // every day of March 2026 is younger (future days have negative ages)
		{"signed_date.age <= 400", []int64{1, 2, 3, 6}},
		{"signed_date.age > 40", []int64{4}}, // every day of 2025 is older than 40 days
		{"signed_date.age > 365", []int64{}},
		{"signed_date.age > 30 AND update_time.age > 300", []int64{4}},
	} {
		e, err := ParseAt(tc.src, testSchema, now)
		if err != nil {
			t.Fatalf("ParseAt(%q): %v", tc.src, err)
		}
		where, args := SQL(e, testKind)
		got, err := queryIDs(t, db, where, args)
		if err != nil {
			t.Fatalf("%q: %s: %v", tc.src, where, err)
		}
		if !slices.Equal(got, tc.want) && (len(got) > 0 || len(tc.want) > 0) {
			t.Errorf("%s (%s %v): got %v, want %v", tc.src, where, args, got, tc.want)
		}
	}
}

// TestDateAgeCountsFromTodayInVietnam: a date's age counts whole days from
// today in Vietnam (UTC+7), the day the deadline views count and the
// summaries' timestamp buckets use: at 18:00 UTC on 15 March it is already
// 16 March in Hà Nội, and 13 February is then 31 days old.
func TestDateAgeCountsFromTodayInVietnam(t *testing.T) {
	now := time.Date(2026, 3, 15, 18, 0, 0, 0, time.UTC)
	recs := []rec{
		{id: 1, date: [3]int32{2026, 2, 13}},
		{id: 2, date: [3]int32{2026, 2, 14}},
	}
	db := openTestDB(t, t.TempDir(), testSchema, recs)
	e, err := ParseAt("signed_date.age > 30", testSchema, now)
	if err != nil {
		t.Fatal(err)
	}
	where, args := SQL(e, testKind)
	got, err := queryIDs(t, db, where, args)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	if !slices.Equal(got, []int64{1}) {
		t.Errorf("signed_date.age > 30 at %s (%s %v): got %v, want [1] (13 February, 31 days before 16 March in Hà Nội)", now.Format(time.RFC3339), where, args, got)
	}
}

// TestAgeFilterErrors: .age on a field without a date, a bad number of
// days or a comparison that has no meaning for ages is a parse error at
// the right place.
func TestAgeFilterErrors(t *testing.T) {
	for _, tc := range []struct {
		src string
		pos int
		msg string
	}{
		{"display_name.age > 30", 0, "display_name is a string field; only dates and timestamps have an age"},
		{"member_count.age > 30", 0, "only dates and timestamps have an age"},
		{"countries.age > 1", 0, "only dates and timestamps have an age"},
		{"nothing.age > 1", 0, `unknown field "nothing.age"`},
		{"update_time.age > -1", 18, "whole days from 0 to 36500"},
		{"update_time.age > 36501", 18, "whole days from 0 to 36500"},
		{"update_time.age > 99999999999999999999", 18, "whole days"},
		{"update_time.age > 1.5", 18, "whole days"},
		{"update_time.age > 3*", 18, "whole days"},
		{"update_time.age > thirty", 18, "whole days"},
		{"update_time.age = 30", 16, "<, <=, > or >= only"},
		{"signed_date.age != 30", 16, "<, <=, > or >= only"},
		{"update_time.age:30", 15, "<, <=, > or >= only"},
	} {
		_, err := Parse(tc.src, testSchema)
		var perr *Error
		if !errors.As(err, &perr) {
			t.Errorf("Parse(%q): %v, want an *Error", tc.src, err)
			continue
		}
		if perr.Pos != tc.pos || !strings.Contains(perr.Msg, tc.msg) {
			t.Errorf("Parse(%q) error at %d: %q\nwant at %d: %q", tc.src, perr.Pos, perr.Msg, tc.pos, tc.msg)
		}
	}
}
