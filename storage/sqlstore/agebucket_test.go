package sqlstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	"github.com/provex/provex/internal/filter"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

// TestAgeBucketsOnBothDatabases: a national summary of incidents by the age
// of occur_time puts each record in its bucket on both databases, at the
// bounds and beyond them: unset, in the future, and at the earliest and
// the latest time a timestamp may hold (filter.MinTimestamp, MaxTimestamp:
// now minus the earliest in nanoseconds overflows PostgreSQL's bigint, and
// with the year 1589, which stores now refuse, every such summary failed
// there).
func TestAgeBucketsOnBothDatabases(t *testing.T) {
	ctx := context.Background()
	const origin = "lang-son"
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	cases := []struct {
		id     string
		occur  *timestamppb.Timestamp
		bucket int64
	}{
		{"unset", nil, -1},
		{"tomorrow", timestamppb.New(now.Add(day)), 0},
		{"7-days", timestamppb.New(now.Add(-7 * day)), 0},
		{"7-days-and-a-second", timestamppb.New(now.Add(-7*day - time.Second)), 1},
		{"30-days", timestamppb.New(now.Add(-30 * day)), 1},
		{"31-days", timestamppb.New(now.Add(-31 * day)), 2},
		{"90-days", timestamppb.New(now.Add(-90 * day)), 2},
		{"91-days", timestamppb.New(now.Add(-91 * day)), 3},
		{"365-days", timestamppb.New(now.Add(-365 * day)), 3},
		{"366-days", timestamppb.New(now.Add(-366 * day)), 4},
		{"earliest", timestamppb.New(filter.MinTimestamp), 4},
		{"latest", timestamppb.New(filter.MaxTimestamp), 0},
	}
	var states []proto.Message
	want := map[int64]int64{}
	for _, c := range cases {
		states = append(states, &borderv1.BorderIncident{Name: "provinces/" + origin + "/border-incidents/at-" + c.id, DisplayName: c.id, OccurTime: c.occur})
		want[c.bucket]++
	}
	entries, cp := signedRun(t, origin, states, nil)
	occur, ok := resource.BorderIncidents.Schema.Lookup("occur_time")
	if !ok {
		t.Fatal("incidents have no filterable occur_time")
	}
	for _, store := range databases {
		t.Run(store, func(t *testing.T) {
			path := newLocation(t, store)
			db, err := sqlstore.Open(ctx, path, "mofa", sqlstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if refused, err := db.ApplyRemote(ctx, entries, cp); err != nil || len(refused) > 0 {
				t.Fatalf("apply: %v, refused %v", err, refused)
			}
			rows, err := db.Summarize(ctx, storage.SummaryQuery{Kind: resource.BorderIncidents, Province: resource.AllProvinces,
				Dims: []storage.Dim{{Field: &occur, Bucket: "age"}}, Now: now})
			if err != nil {
				t.Fatalf("summary by the age of occur_time: %v", err)
			}
			got := map[int64]int64{}
			for _, r := range rows {
				got[r.Keys[0].(int64)] += r.Count
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("records per age bucket %v, want %v", got, want)
			}
		})
	}
}

// TestTimesOutOfRangeAreHeld: a member signs, with its own key, states
// holding times no API accepts (the year 1589, year 1, the year 9999,
// seconds that overflow nanoseconds, negative nanos). Each is held but not
// applied, with a reason naming the field, and the member's honest records
// around it apply: stored, such a time broke every answer over JSON that
// held it (protojson writes no time outside years 1-9999 nor negative
// nanos), on every node it reached, and sorted with the bounds.
func TestTimesOutOfRangeAreHeld(t *testing.T) {
	ctx := context.Background()
	const origin = "lang-son"
	incident := func(id string, occur *timestamppb.Timestamp) *borderv1.BorderIncident {
		return &borderv1.BorderIncident{Name: "provinces/" + origin + "/border-incidents/" + id, DisplayName: id, OccurTime: occur}
	}
	bad := []struct {
		id    string
		occur *timestamppb.Timestamp
	}{
		{"in-1589", &timestamppb.Timestamp{Seconds: -12_000_000_000}},
		{"in-year-1", &timestamppb.Timestamp{Seconds: -62_135_596_800}},
		{"in-9999", &timestamppb.Timestamp{Seconds: 253_402_300_799}},
		{"past-int64-nanos", &timestamppb.Timestamp{Seconds: 1 << 62}},
		{"negative-nanos", &timestamppb.Timestamp{Seconds: 5, Nanos: -1}},
		{"a-second-of-nanos", &timestamppb.Timestamp{Seconds: 5, Nanos: 1_000_000_000}},
	}
	// One run holds them all, between honest states: each bad one is held
	// alone (a store for each took 12 opens, most of them PostgreSQL's).
	states := []proto.Message{incident("before", timestamppb.New(time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)))}
	for _, b := range bad {
		states = append(states, incident(b.id, b.occur))
	}
	states = append(states, incident("after", timestamppb.New(filter.MaxTimestamp)))
	for _, store := range databases {
		t.Run(store, func(t *testing.T) {
			db, err := sqlstore.Open(ctx, newLocation(t, store), "mofa", sqlstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			entries, cp := signedRun(t, origin, states, nil)
			refused, err := db.ApplyRemote(ctx, entries, cp)
			if err != nil {
				t.Fatalf("the run is not held: %v", err)
			}
			held := map[uint64]string{}
			for _, r := range refused {
				held[r.Seq] = r.Reason
			}
			for i, b := range bad {
				seq := uint64(i + 2)
				if reason, ok := held[seq]; !ok || !strings.Contains(reason, "occur_time") {
					t.Errorf("entry %d (%s): held %v for %q, want held for its occur_time", seq, b.id, ok, reason)
				}
				if _, err := db.Get(ctx, resource.BorderIncidents, "provinces/"+origin+"/border-incidents/"+b.id); status.Code(err) != codes.NotFound {
					t.Errorf("the record with the bad time %s: %v, want NotFound", b.id, err)
				}
			}
			if len(refused) != len(bad) {
				t.Errorf("refused %d entries, want only the %d bad ones", len(refused), len(bad))
			}
			for _, id := range []string{"before", "after"} {
				if _, err := db.Get(ctx, resource.BorderIncidents, "provinces/"+origin+"/border-incidents/"+id); err != nil {
					t.Errorf("the member's honest record %s: %v", id, err)
				}
			}
		})
	}
}

// TestStatesAtTheEpochApply: the API refuses a time at the Unix epoch
// itself (a filter column keeps it as 0, unset), but records stored before
// it did hold one, and their owner's later entries carry it: its delete of
// such a record (Delete checks no field) applies on every node, as does a
// state holding it, counted unset. Held, the delete left the record live
// on every node but its owner (an outside review).
func TestStatesAtTheEpochApply(t *testing.T) {
	ctx := context.Background()
	const name = "provinces/lang-son/border-incidents/old"
	live := &borderv1.BorderIncident{Name: name, DisplayName: "old", OccurTime: &timestamppb.Timestamp{}}
	deleted := proto.Clone(live).(*borderv1.BorderIncident)
	deleted.DeleteTime = timestamppb.New(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	for _, store := range databases {
		t.Run(store, func(t *testing.T) {
			db, err := sqlstore.Open(ctx, newLocation(t, store), "mofa", sqlstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			entries, cp := signedRun(t, "lang-son", []proto.Message{live, deleted}, nil)
			refused, err := db.ApplyRemote(ctx, entries, cp)
			if err != nil || len(refused) != 0 {
				t.Fatalf("the owner's create and delete of a record at the epoch: refused %+v, %v", refused, err)
			}
			got, err := db.Get(ctx, resource.BorderIncidents, name)
			if err != nil {
				t.Fatal(err)
			}
			if got.(*borderv1.BorderIncident).GetDeleteTime() == nil {
				t.Errorf("the record is live after its owner's delete: %v", got)
			}
		})
	}
}

// TestTimestampBucketsAreVietnamTime: a summary by the year, quarter or
// month of a timestamp puts each time in its date in Vietnam (UTC+7), on
// both databases: an incident at 18:00 UTC on 31 December is at 01:00 on
// 1 January in Hà Nội, in the new year, as a filter on +07:00 bounds has
// it (it was in the old year, by its UTC date, and the filter for the new
// year answered one group, the old year). A time before 1970 is on its own
// day to the last fraction of a second (whole seconds floored).
func TestTimestampBucketsAreVietnamTime(t *testing.T) {
	ctx := context.Background()
	const origin = "lang-son"
	cases := []struct {
		id                   string
		occur                time.Time
		year, quarter, month int64
	}{
		{"new-year-in-hanoi", time.Date(2025, 12, 31, 18, 0, 0, 0, time.UTC), 2026, 20261, 202601},
		{"last-second-of-2025", time.Date(2025, 12, 31, 16, 59, 59, 0, time.UTC), 2025, 20254, 202512},
		{"end-of-march", time.Date(2026, 3, 31, 16, 59, 59, 999_999_999, time.UTC), 2026, 20261, 202603},
		{"first-of-april", time.Date(2026, 3, 31, 17, 0, 0, 0, time.UTC), 2026, 20262, 202604},
		{"last-half-second-of-1969", time.Date(1969, 12, 31, 16, 59, 59, 500_000_000, time.UTC), 1969, 19694, 196912},
		{"first-of-1970-in-hanoi", time.Date(1969, 12, 31, 17, 0, 0, 0, time.UTC), 1970, 19701, 197001},
	}
	var states []proto.Message
	want := map[string]map[int64]int64{"year": {}, "quarter": {}, "month": {}}
	for _, c := range cases {
		states = append(states, &borderv1.BorderIncident{Name: "provinces/" + origin + "/border-incidents/at-" + c.id, DisplayName: c.id, OccurTime: timestamppb.New(c.occur)})
		want["year"][c.year]++
		want["quarter"][c.quarter]++
		want["month"][c.month]++
	}
	entries, cp := signedRun(t, origin, states, nil)
	occur, ok := resource.BorderIncidents.Schema.Lookup("occur_time")
	if !ok {
		t.Fatal("incidents have no filterable occur_time")
	}
	in2026, err := filter.Parse("occur_time >= 2026-01-01T00:00:00+07:00 AND occur_time < 2027-01-01T00:00:00+07:00", resource.BorderIncidents.Schema)
	if err != nil {
		t.Fatal(err)
	}
	for _, store := range databases {
		t.Run(store, func(t *testing.T) {
			db, err := sqlstore.Open(ctx, newLocation(t, store), "mofa", sqlstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if refused, err := db.ApplyRemote(ctx, entries, cp); err != nil || len(refused) > 0 {
				t.Fatalf("apply: %v, refused %v", err, refused)
			}
			count := func(bucket string, f filter.Expr) map[int64]int64 {
				t.Helper()
				rows, err := db.Summarize(ctx, storage.SummaryQuery{Kind: resource.BorderIncidents, Province: resource.AllProvinces,
					Filter: f, Dims: []storage.Dim{{Field: &occur, Bucket: bucket}}, Now: time.Now()})
				if err != nil {
					t.Fatalf("summary by occur_time.%s: %v", bucket, err)
				}
				got := map[int64]int64{}
				for _, r := range rows {
					got[r.Keys[0].(int64)] += r.Count
				}
				return got
			}
			for _, bucket := range []string{"year", "quarter", "month"} {
				if got := count(bucket, nil); fmt.Sprint(got) != fmt.Sprint(want[bucket]) {
					t.Errorf("records per occur_time.%s %v, want %v", bucket, got, want[bucket])
				}
			}
			if got, want := count("year", in2026), map[int64]int64{2026: want["year"][2026]}; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("the incidents of 2026 in Vietnam time, by occur_time.year: %v, want %v", got, want)
			}
		})
	}
}
