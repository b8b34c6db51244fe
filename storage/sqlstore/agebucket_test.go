package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

// TestAgeBucketsOnBothDatabases: a national summary of incidents by the age
// of occur_time puts each record in its bucket on both databases, at the
// bounds and beyond them: unset, in the future, and in the year 1589 and
// at the largest time a timestamp holds, which a member can sign although
// the API would refuse them (now minus the year 1589 in nanoseconds
// overflowed PostgreSQL's bigint, and every such summary failed there).
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
		{"1589", &timestamppb.Timestamp{Seconds: -12_000_000_000}, 4},
		{"year-1", &timestamppb.Timestamp{Seconds: -62_135_596_800}, 4},
		{"year-9999", &timestamppb.Timestamp{Seconds: 253_402_300_799}, 0},
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
