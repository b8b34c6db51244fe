// Package storagetest is the conformance suite of storage.Store: every
// implementation must pass Run. It checks behaviour callers rely on: atomic
// writes with their change-log entries, failure isolation inside a group
// commit, idempotent request ids, keyset pagination, filters, and
// persistence across reopening.
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/provex/provex/changelog"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/internal/filter"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
)

// Opener opens the store of member in dir; opening the same dir again must
// find what was written before.
type Opener func(t *testing.T, dir, member string) storage.Store

const member = "cao-bang"

// Run runs the suite.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, Opener)
	}{
		{"CreateGet", testCreateGet},
		{"FailedWriteLeavesNoTrace", testFailedWrite},
		{"RequestIDIsIdempotent", testRequestID},
		{"RequestIDWithAnotherFingerprintIsRefused", testRequestFingerprint},
		{"UnchangedWriteLeavesNoTrace", testUnchanged},
		{"ConcurrentWritesIsolateFailures", testConcurrent},
		{"ChangeLogIsHashChained", testChain},
		{"ListFilterOrderPaginate", testList},
		{"ListAcrossProvinces", testListProvinces},
		{"ListRefusesCursorsOfOtherTypes", testListCursorTypes},
		{"ReopenKeepsEverything", testReopen},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

func name(id string) string { return "provinces/" + member + "/agreements/" + id }

// put is a Write that stores a fresh agreement, as services do on Create.
func put(id string, a *twinningv1.Agreement) storage.Write {
	n := name(id)
	return storage.Write{Kind: resource.Agreements, Name: n, Mutate: func(cur proto.Message, st storage.Stamp) (proto.Message, error) {
		if cur != nil {
			return nil, apperr.AlreadyExists("%s exists", n)
		}
		next := proto.Clone(a).(*twinningv1.Agreement)
		next.Name = n
		next.CreateTime = timestamppb.New(st.Time)
		next.UpdateTime = next.CreateTime
		next.Etag = fmt.Sprint(st.Seq)
		return next, nil
	}}
}

func agreement(i int) *twinningv1.Agreement {
	kinds := []twinningv1.Agreement_Kind{twinningv1.Agreement_KIND_MOU, twinningv1.Agreement_KIND_INTERNATIONAL_AGREEMENT, twinningv1.Agreement_KIND_COOPERATION_PROGRAMME}
	countries := [][]string{{"CN"}, {"LA"}, {"CN", "KR"}}
	return &twinningv1.Agreement{
		DisplayName:      fmt.Sprintf("Agreement %03d", i),
		Kind:             kinds[i%3],
		State:            twinningv1.Agreement_STATE_IN_FORCE,
		PartnerCountries: countries[i%3],
		SignedDate:       &typev1.Date{Year: int32(2020 + i%5), Month: int32(1 + i%12), Day: int32(1 + i%28)},
	}
}

func mustWrite(t *testing.T, s storage.Store, w storage.Write) proto.Message {
	t.Helper()
	m, err := s.Write(context.Background(), w)
	if err != nil {
		t.Fatalf("write %s: %v", w.Name, err)
	}
	return m
}

func codeOf(err error) codes.Code {
	if e, ok := apperr.As(err); ok {
		return e.Code
	}
	return codes.Unknown
}

func testCreateGet(t *testing.T, open Opener) {
	s := open(t, t.TempDir(), member)
	ctx := context.Background()
	written := mustWrite(t, s, put("a1", agreement(1)))
	got, err := s.Get(ctx, resource.Agreements, name("a1"))
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, written) {
		t.Fatalf("Get = %v, want %v", got, written)
	}
	if _, err := s.Get(ctx, resource.Agreements, name("missing")); codeOf(err) != codes.NotFound {
		t.Fatalf("Get missing: err = %v, want NOT_FOUND", err)
	}
	head, err := s.Head(ctx)
	if err != nil || head.Seq != 1 || head.Name != name("a1") {
		t.Fatalf("Head = %+v, %v; want seq 1 for a1", head, err)
	}
}

func testFailedWrite(t *testing.T, open Opener) {
	s := open(t, t.TempDir(), member)
	ctx := context.Background()
	mustWrite(t, s, put("a1", agreement(1)))
	boom := errors.New("boom")
	if _, err := s.Write(ctx, storage.Write{Kind: resource.Agreements, Name: name("a2"), Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
		return nil, boom
	}}); !errors.Is(err, boom) {
		t.Fatalf("failing write: err = %v, want boom", err)
	}
	if _, err := s.Write(ctx, storage.Write{Kind: resource.Agreements, Name: name("a3"), Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
		panic("mutate panics")
	}}); err == nil {
		t.Fatal("panicking write: want an error")
	}
	// A duplicate create fails with the caller's error and changes nothing.
	if _, err := s.Write(ctx, put("a1", agreement(9))); codeOf(err) != codes.AlreadyExists {
		t.Fatalf("duplicate: err = %v, want ALREADY_EXISTS", err)
	}
	for _, id := range []string{"a2", "a3"} {
		if _, err := s.Get(ctx, resource.Agreements, name(id)); codeOf(err) != codes.NotFound {
			t.Fatalf("%s after failed write: err = %v, want NOT_FOUND", id, err)
		}
	}
	entries, err := s.Changes(ctx, member, 0, 100)
	if err != nil || len(entries) != 1 {
		t.Fatalf("changes after failed writes = %d entries (%v), want 1", len(entries), err)
	}
	// The next successful write continues the sequence without a gap.
	mustWrite(t, s, put("a4", agreement(4)))
	if head, _ := s.Head(ctx); head.Seq != 2 {
		t.Fatalf("head seq = %d, want 2", head.Seq)
	}
}

func testRequestID(t *testing.T, open Opener) {
	s := open(t, t.TempDir(), member)
	ctx := context.Background()
	w := put("a1", agreement(1))
	w.RequestID = "req-1"
	first := mustWrite(t, s, w)
	calls := 0
	retry := storage.Write{Kind: resource.Agreements, Name: name("other-id"), RequestID: "req-1", Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
		calls++
		return nil, errors.New("must not be called")
	}}
	again := mustWrite(t, s, retry)
	if calls != 0 || !proto.Equal(first, again) {
		t.Fatalf("retry with same request id: calls=%d, got %v, want %v", calls, again, first)
	}
	if entries, _ := s.Changes(ctx, member, 0, 10); len(entries) != 1 {
		t.Fatalf("retry appended to the log: %d entries", len(entries))
	}
}

// testRequestFingerprint reuses a request id for a different request: it is
// refused, names request_id and writes nothing; the same fingerprint is a
// retry.
func testRequestFingerprint(t *testing.T, open Opener) {
	s := open(t, t.TempDir(), member)
	ctx := context.Background()
	w := put("a1", agreement(1))
	w.RequestID, w.Fingerprint = "req-1", []byte("first")
	first := mustWrite(t, s, w)
	retry := put("a1", agreement(1))
	retry.RequestID, retry.Fingerprint = "req-1", []byte("first")
	if again := mustWrite(t, s, retry); !proto.Equal(first, again) {
		t.Fatalf("retry with the same fingerprint = %v, want %v", again, first)
	}
	other := put("a2", agreement(2))
	other.RequestID, other.Fingerprint = "req-1", []byte("second")
	_, err := s.Write(ctx, other)
	if e, ok := apperr.As(err); !ok || e.Code != codes.InvalidArgument || len(e.Violations) != 1 || e.Violations[0].GetField() != "request_id" {
		t.Fatalf("same request id, other fingerprint: %v, want INVALID_ARGUMENT on request_id", err)
	}
	if entries, _ := s.Changes(ctx, member, 0, 10); len(entries) != 1 {
		t.Fatalf("refused reuse appended to the log: %d entries", len(entries))
	}
	if _, err := s.Get(ctx, resource.Agreements, name("a2")); codeOf(err) != codes.NotFound {
		t.Fatalf("refused reuse stored a2 (%v)", err)
	}
}

// testUnchanged has Mutate return storage.ErrUnchanged: nothing is written
// and the stored record comes back.
func testUnchanged(t *testing.T, open Opener) {
	s := open(t, t.TempDir(), member)
	ctx := context.Background()
	first := mustWrite(t, s, put("a1", agreement(1)))
	same := mustWrite(t, s, storage.Write{Kind: resource.Agreements, Name: name("a1"), Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
		return nil, storage.ErrUnchanged
	}})
	if !proto.Equal(same, first) {
		t.Fatalf("unchanged write returned %v, want %v", same, first)
	}
	if entries, _ := s.Changes(ctx, member, 0, 10); len(entries) != 1 {
		t.Fatalf("unchanged write appended to the log: %d entries", len(entries))
	}
	// The sequence goes on without a gap.
	mustWrite(t, s, put("a2", agreement(2)))
	if head, _ := s.Head(ctx); head.Seq != 2 {
		t.Fatalf("head seq = %d, want 2", head.Seq)
	}
}

// testConcurrent sends many writes at once, every fifth one failing; the
// failures must not take their commit-mates with them.
func testConcurrent(t *testing.T, open Opener) {
	s := open(t, t.TempDir(), member)
	ctx := context.Background()
	const n = 300
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := put(fmt.Sprintf("c%03d", i), agreement(i))
			if i%5 == 0 {
				w.Mutate = func(proto.Message, storage.Stamp) (proto.Message, error) {
					return nil, apperr.Aborted("planned failure %d", i)
				}
			}
			_, errs[i] = s.Write(ctx, w)
		}()
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		want := codes.OK
		if i%5 == 0 {
			want = codes.Aborted
		}
		got := codes.OK
		if err != nil {
			got = codeOf(err)
		}
		if got != want {
			t.Errorf("write %d: %v, want %v", i, err, want)
		}
		if err == nil {
			ok++
			if _, err := s.Get(ctx, resource.Agreements, name(fmt.Sprintf("c%03d", i))); err != nil {
				t.Errorf("acknowledged write %d not readable: %v", i, err)
			}
		}
	}
	entries, err := s.Changes(ctx, member, 0, 2*n)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != ok {
		t.Fatalf("log has %d entries for %d successful writes", len(entries), ok)
	}
	verifyChain(t, entries)
}

func verifyChain(t *testing.T, entries []changelog.Entry) {
	t.Helper()
	prev := changelog.ZeroHash
	var lastHLC int64
	for i, e := range entries {
		if e.Seq != uint64(i+1) {
			t.Fatalf("entry %d has seq %d", i, e.Seq)
		}
		if !bytes.Equal(e.PrevHash, prev) {
			t.Fatalf("entry %d: prev hash does not link", e.Seq)
		}
		if !bytes.Equal(changelog.Sum(&e), e.Hash) {
			t.Fatalf("entry %d: hash does not match content", e.Seq)
		}
		if e.HLC <= lastHLC {
			t.Fatalf("entry %d: clock went back", e.Seq)
		}
		prev, lastHLC = e.Hash, e.HLC
	}
}

func testChain(t *testing.T, open Opener) {
	s := open(t, t.TempDir(), member)
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		mustWrite(t, s, put(fmt.Sprintf("a%02d", i), agreement(i)))
	}
	entries, err := s.Changes(ctx, member, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	verifyChain(t, entries)
	// Each entry holds the full state the write produced.
	for _, e := range entries {
		rec, err := s.Get(ctx, resource.Agreements, e.Name)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := proto.MarshalOptions{Deterministic: true}.Marshal(rec)
		if !bytes.Equal(data, e.Data) {
			t.Fatalf("entry %d data differs from the stored record", e.Seq)
		}
	}
	tail, err := s.Changes(ctx, member, 15, 3)
	if err != nil || len(tail) != 3 || tail[0].Seq != 16 {
		t.Fatalf("Changes(after 15, limit 3) = %d entries starting %v, %v", len(tail), tail, err)
	}
}

func listAll(t *testing.T, s storage.Store, q storage.Query) []string {
	t.Helper()
	var names []string
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("pagination does not end")
		}
		page, err := s.List(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Records {
			names = append(names, resource.Agreements.Name(r))
		}
		if page.Next == nil {
			return names
		}
		q.After = page.Next
	}
}

func testList(t *testing.T, open Opener) {
	s := open(t, t.TempDir(), member)
	const n = 57
	for i := 0; i < n; i++ {
		mustWrite(t, s, put(fmt.Sprintf("a%02d", i), agreement(i)))
	}
	// Delete one: hidden unless ShowDeleted.
	mustWrite(t, s, storage.Write{Kind: resource.Agreements, Name: name("a00"), Mutate: func(cur proto.Message, st storage.Stamp) (proto.Message, error) {
		next := proto.Clone(cur).(*twinningv1.Agreement)
		next.DeleteTime = timestamppb.New(st.Time)
		return next, nil
	}})
	base := storage.Query{Kind: resource.Agreements, Province: member, Limit: 7}
	got := listAll(t, s, base)
	if len(got) != n-1 || !sort.StringsAreSorted(got) {
		t.Fatalf("list by name: %d records, sorted=%v", len(got), sort.StringsAreSorted(got))
	}
	withDeleted := base
	withDeleted.ShowDeleted = true
	if got := listAll(t, s, withDeleted); len(got) != n {
		t.Fatalf("show deleted: %d records, want %d", len(got), n)
	}

	f, err := filter.Parse(`kind = MOU AND partner_countries:CN AND signed_date >= 2022`, resource.Agreements.Schema)
	if err != nil {
		t.Fatal(err)
	}
	filtered := base
	filtered.Filter = f
	var want []string
	for i := 1; i < n; i++ {
		a := agreement(i)
		if a.Kind == twinningv1.Agreement_KIND_MOU && a.PartnerCountries[0] == "CN" && a.SignedDate.Year >= 2022 {
			want = append(want, name(fmt.Sprintf("a%02d", i)))
		}
	}
	if got := listAll(t, s, filtered); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("filtered list = %v, want %v", got, want)
	}

	order, err := filter.ParseOrderBy("signed_date desc, display_name", resource.Agreements.Schema)
	if err != nil {
		t.Fatal(err)
	}
	ordered := base
	ordered.OrderBy = order
	ordered.Limit = 4
	got = listAll(t, s, ordered)
	if len(got) != n-1 {
		t.Fatalf("ordered list: %d records, want %d", len(got), n-1)
	}
	key := func(nm string) (int32, string) {
		var i int
		fmt.Sscanf(nm[len(name("")):], "a%02d", &i)
		a := agreement(i)
		return a.SignedDate.Year*10000 + a.SignedDate.Month*100 + a.SignedDate.Day, a.DisplayName
	}
	for i := 1; i < len(got); i++ {
		d0, n0 := key(got[i-1])
		d1, n1 := key(got[i])
		if d0 < d1 || (d0 == d1 && n0 > n1) {
			t.Fatalf("order broken at %d: %s before %s", i, got[i-1], got[i])
		}
	}
}

// testListCursorTypes lists after cursors a client could build (a page
// token is not keyed): values whose types do not suit their order keys'
// columns are refused as the page token, on every database alike, where
// PostgreSQL failed the query (INTERNAL) and SQLite compared them as they
// were.
func testListCursorTypes(t *testing.T, open Opener) {
	s := open(t, t.TempDir(), member)
	for i := 0; i < 3; i++ {
		mustWrite(t, s, put(fmt.Sprintf("a%d", i), agreement(i)))
	}
	for _, tc := range []struct {
		orderBy string
		after   storage.Cursor
	}{
		{"display_name", storage.Cursor{Values: []any{int64(5)}, Row: 1}},
		{"signed_date desc", storage.Cursor{Values: []any{"2022-01-01"}, Row: 1}},
		{"kind, display_name", storage.Cursor{Values: []any{int64(1), int64(2)}, Row: 1}},
		{"update_time", storage.Cursor{Values: []any{"x"}, Row: 1}},
		// Text no stored value holds, which PostgreSQL's text refuses.
		{"display_name", storage.Cursor{Values: []any{"a\x00b"}, Row: 1}},
		{"display_name", storage.Cursor{Values: []any{"\xff\xfe"}, Row: 1}},
	} {
		order, err := filter.ParseOrderBy(tc.orderBy, resource.Agreements.Schema)
		if err != nil {
			t.Fatal(err)
		}
		after := tc.after
		_, err = s.List(context.Background(), storage.Query{Kind: resource.Agreements, Province: member, Limit: 2, OrderBy: order, After: &after})
		if codeOf(err) != codes.InvalidArgument {
			t.Errorf("order_by %q after %v: %v, want INVALID_ARGUMENT", tc.orderBy, tc.after.Values, err)
		}
	}
	// A cursor of the right types still pages.
	order, _ := filter.ParseOrderBy("display_name", resource.Agreements.Schema)
	page, err := s.List(context.Background(), storage.Query{Kind: resource.Agreements, Province: member, Limit: 2, OrderBy: order,
		After: &storage.Cursor{Values: []any{""}, Row: 0}})
	if err != nil || len(page.Records) != 2 {
		t.Fatalf("a cursor of the right types: %d records, %v", len(page.Records), err)
	}
}

func testListProvinces(t *testing.T, open Opener) {
	s := open(t, t.TempDir(), member)
	mustWrite(t, s, put("a1", agreement(1)))
	q := storage.Query{Kind: resource.Agreements, Province: "lang-son", Limit: 10}
	if got := listAll(t, s, q); len(got) != 0 {
		t.Fatalf("another province's list = %v", got)
	}
	q.Province = resource.AllProvinces
	if got := listAll(t, s, q); len(got) != 1 {
		t.Fatalf("all provinces = %v", got)
	}
}

func testReopen(t *testing.T, open Opener) {
	dir := t.TempDir()
	s := open(t, dir, member)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		mustWrite(t, s, put(fmt.Sprintf("a%d", i), agreement(i)))
	}
	before, _ := s.Head(ctx)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Millisecond)
	s = open(t, dir, member)
	after, err := s.Head(ctx)
	if err != nil || after.Seq != before.Seq || !bytes.Equal(after.Hash, before.Hash) {
		t.Fatalf("head after reopen = %+v, want %+v", after, before)
	}
	mustWrite(t, s, put("a9", agreement(9)))
	entries, err := s.Changes(ctx, member, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	verifyChain(t, entries)
	if len(entries) != 6 {
		t.Fatalf("%d entries after reopen and one write, want 6", len(entries))
	}
}
