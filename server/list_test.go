package server_test

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/provex/provex/client"
	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	investmentv1 "github.com/provex/provex/gen/go/provex/investment/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/resource"
)

// createMany creates n agreements with ids id(i) from make(i), with a few
// concurrent workers (so the store's group commit is used).
func createMany(t *testing.T, ctx context.Context, tn *testNode, n int, id func(int) string, build func(int) *twinningv1.Agreement) []*twinningv1.Agreement {
	t.Helper()
	out := make([]*twinningv1.Agreement, n)
	var (
		wg   sync.WaitGroup
		next atomic.Int64
		errs = make(chan error, 8)
	)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				a, err := tn.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{
					Parent: tn.parent(), AgreementId: id(i), Agreement: build(i),
				})
				if err != nil {
					errs <- fmt.Errorf("create %d: %w", i, err)
					return
				}
				out[i] = a
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return out
}

func dateKey(d *typev1.Date) int64 {
	if d == nil {
		return 0
	}
	return int64(d.Year)*10000 + int64(d.Month)*100 + int64(d.Day)
}

// dateSpan is the first and last day (yyyymmdd) of the period a date names:
// a day, a whole month (day 0) or a whole year (month 0); 0, 0 when unset.
func dateSpan(d *typev1.Date) (first, last int64) {
	if d == nil {
		return 0, 0
	}
	y, m, dd := int64(d.Year), int64(d.Month), int64(d.Day)
	switch {
	case m == 0:
		return y*10000 + 101, y*10000 + 1231
	case dd == 0:
		return y*10000 + m*100 + 1, y*10000 + m*100 + int64(time.Date(int(y), time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day())
	}
	return dateKey(d), dateKey(d)
}

// TestListPagination pages through more than MaxPageSize records while other
// goroutines insert, and checks page size limits and page token misuse.
func TestListPagination(t *testing.T) {
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	const n = 1030
	kinds := []twinningv1.Agreement_Kind{1, 2, 3, 4}
	before := createMany(t, ctx, tn, n, func(i int) string { return fmt.Sprintf("a%04d", i) }, func(i int) *twinningv1.Agreement {
		return &twinningv1.Agreement{
			DisplayName: fmt.Sprintf("Agreement %d", i%17),
			Kind:        kinds[i%4],
			SignedDate:  date(2020+int32(i%5), 1+int32(i%12), 1),
		}
	})
	existed := map[string]bool{}
	for _, a := range before {
		existed[a.GetName()] = true
	}
	list := func(req *twinningv1.ListAgreementsRequest) (*twinningv1.ListAgreementsResponse, error) {
		if req.Parent == "" {
			req.Parent = tn.parent()
		}
		return tn.Twinning.ListAgreements(ctx, req)
	}

	t.Run("page sizes", func(t *testing.T) {
		for _, c := range []struct {
			size int32
			want int
		}{{0, 50}, {1, 1}, {999, 999}, {1000, 1000}, {1001, 1000}, {5000, 1000}, {1 << 30, 1000}} {
			resp, err := list(&twinningv1.ListAgreementsRequest{PageSize: c.size})
			mustf(t, err, "page_size %d", c.size)
			if len(resp.Agreements) != c.want || resp.NextPageToken == "" {
				t.Errorf("page_size %d: %d records, token %q; want %d and a token", c.size, len(resp.Agreements), resp.NextPageToken, c.want)
			}
		}
		_, err := list(&twinningv1.ListAgreementsRequest{PageSize: -1})
		wantInvalid(t, err, "page_size -1", "page_size")
		// The last page has no token.
		resp, err := list(&twinningv1.ListAgreementsRequest{PageSize: 1000})
		mustf(t, err, "first page")
		resp, err = list(&twinningv1.ListAgreementsRequest{PageSize: 1000, PageToken: resp.NextPageToken})
		mustf(t, err, "second page")
		if len(resp.Agreements) != n-1000 || resp.NextPageToken != "" {
			t.Errorf("last page: %d records, token %q; want %d and no token", len(resp.Agreements), resp.NextPageToken, n-1000)
		}
	})

	t.Run("page tokens", func(t *testing.T) {
		first, err := list(&twinningv1.ListAgreementsRequest{PageSize: 3, Filter: "kind = MOU"})
		mustf(t, err, "first page")
		tok := first.NextPageToken
		if tok == "" {
			t.Fatal("no next page token")
		}
		// The same query with another page size is fine.
		if _, err := list(&twinningv1.ListAgreementsRequest{PageSize: 10, Filter: "kind = MOU", PageToken: tok}); err != nil {
			t.Errorf("token with another page size: %v", err)
		}
		for name, req := range map[string]*twinningv1.ListAgreementsRequest{
			"other filter":       {Filter: "kind = OTHER", PageToken: tok},
			"no filter":          {PageToken: tok},
			"other order_by":     {Filter: "kind = MOU", OrderBy: "signed_date", PageToken: tok},
			"other show_deleted": {Filter: "kind = MOU", ShowDeleted: true, PageToken: tok},
			"other parent":       {Parent: "provinces/-", Filter: "kind = MOU", PageToken: tok},
			"garbage":            {Filter: "kind = MOU", PageToken: "not a token!"},
			"base64 garbage":     {Filter: "kind = MOU", PageToken: "AAAAAAAAAAAAAAAAAAAA"},
			"truncated":          {Filter: "kind = MOU", PageToken: tok[:len(tok)-2]},
			"extended":           {Filter: "kind = MOU", PageToken: tok + "AA"},
		} {
			_, err := list(req)
			wantInvalid(t, err, name, "page_token")
		}
	})

	t.Run("concurrent inserts", func(t *testing.T) {
		stop := make(chan struct{})
		var (
			wg       sync.WaitGroup
			inserted atomic.Int64
		)
		for w := 0; w < 3; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(w), 7))
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					// Random ids land anywhere in the name order, and random
					// kinds and dates anywhere in the order_by order.
					_, err := tn.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{
						Parent:      tn.parent(),
						AgreementId: fmt.Sprintf("%c%d-%d-%d", 'a'+rune(r.IntN(26)), r.IntN(2000), w, i),
						Agreement: &twinningv1.Agreement{
							DisplayName: "inserted", Kind: kinds[r.IntN(4)],
							SignedDate: date(2020+int32(r.IntN(5)), 1+int32(r.IntN(12)), 1),
						},
					})
					if err != nil {
						t.Errorf("concurrent create: %v", err)
						return
					}
					inserted.Add(1)
					time.Sleep(200 * time.Microsecond)
				}
			}()
		}
		defer func() {
			close(stop)
			wg.Wait()
		}()

		type orderCase struct {
			orderBy string
			less    func(a, b *twinningv1.Agreement) int
		}
		for _, oc := range []orderCase{
			{"", arrival},
			{"kind desc, signed_date", func(a, b *twinningv1.Agreement) int {
				return cmp.Or(-cmp.Compare(a.GetKind(), b.GetKind()), cmp.Compare(dateKey(a.GetSignedDate()), dateKey(b.GetSignedDate())), arrival(a, b))
			}},
			{"display_name desc", func(a, b *twinningv1.Agreement) int {
				return cmp.Or(-cmp.Compare(a.GetDisplayName(), b.GetDisplayName()), arrival(a, b))
			}},
		} {
			t.Run("order_by="+oc.orderBy, func(t *testing.T) {
				startInserted := inserted.Load()
				var all []*twinningv1.Agreement
				req := &twinningv1.ListAgreementsRequest{PageSize: 97, OrderBy: oc.orderBy}
				for pages := 0; ; pages++ {
					resp, err := list(req)
					mustf(t, err, "page %d", pages)
					all = append(all, resp.Agreements...)
					if resp.NextPageToken == "" {
						break
					}
					req.PageToken = resp.NextPageToken
					if pages == 0 {
						// At least one insert lands between the first page and
						// the next, however slow the machine: a condition,
						// not a sleep (a loaded CI run once served every
						// page before the inserters' first commit).
						deadline := time.Now().Add(10 * time.Second)
						for inserted.Load() == startInserted && time.Now().Before(deadline) {
							time.Sleep(time.Millisecond)
						}
					}
					// Let the inserters get in between pages.
					time.Sleep(2 * time.Millisecond)
				}
				if inserted.Load() == startInserted {
					t.Errorf("no insert happened while paging; the test proves nothing")
				}
				seen := map[string]int{}
				for i, a := range all {
					seen[a.GetName()]++
					if i > 0 && oc.less(all[i-1], a) >= 0 {
						t.Errorf("order broken at %d: %s then %s", i, all[i-1].GetName(), a.GetName())
					}
				}
				for name, c := range seen {
					if c > 1 {
						t.Errorf("%s served %d times", name, c)
					}
				}
				for name := range existed {
					if seen[name] != 1 {
						t.Errorf("%s existed before the first page but was served %d times", name, seen[name])
					}
				}
				t.Logf("order_by %q: %d served, %d inserted meanwhile", oc.orderBy, len(all), inserted.Load()-startInserted)
			})
		}
	})
}

// agreementFixture is a varied set of agreements, as created, with some
// updated and one deleted afterwards.
type agreementFixture struct {
	all     []*twinningv1.Agreement // final state, in creation (arrival) order
	deleted map[string]bool
}

func (f *agreementFixture) live() []*twinningv1.Agreement {
	var out []*twinningv1.Agreement
	for _, a := range f.all {
		if !f.deleted[a.GetName()] {
			out = append(out, a)
		}
	}
	return out
}

func buildAgreementFixture(t *testing.T, ctx context.Context, tn *testNode) *agreementFixture {
	t.Helper()
	names := []string{"MoU Guangxi", "Hợp tác Bách Sắc", "Programme Yunnan", "MoU Houaphan", "Other"}
	f := &agreementFixture{deleted: map[string]bool{}}
	for i := 0; i < 30; i++ {
		a := &twinningv1.Agreement{
			DisplayName: names[i%len(names)],
			Kind:        twinningv1.Agreement_Kind(1 + i%4),
			State:       twinningv1.Agreement_State(i % 6),
		}
		switch i % 3 {
		case 0:
			a.PartnerCountries = []string{"CN"}
		case 1:
			a.PartnerCountries = []string{"LA", "CN"}
		}
		if i%10 == 2 {
			a.PartnerCountries = append(a.PartnerCountries, "KH")
		}
		switch {
		case i%7 == 6:
			// no signed date
		case i == 5:
			a.SignedDate = date(2024, 0, 0) // a whole year
		case i == 8:
			a.SignedDate = date(2024, 3, 0) // a whole month
		default:
			a.SignedDate = date(2022+int32(i%3), 1+int32(i%12), 1+int32((i*5)%28))
		}
		switch i % 4 {
		case 0:
			a.Consultation = &twinningv1.Agreement_Consultation{State: twinningv1.Agreement_CONSULTATION_STATE_REQUESTED, RequestedDate: date(2025, 1, 2)}
		case 1:
			a.Consultation = &twinningv1.Agreement_Consultation{State: twinningv1.Agreement_CONSULTATION_STATE_OPINION_RECEIVED}
		}
		if i%5 == 0 {
			a.Partnership = "provinces/cao-bang/partnerships/p1"
		}
		created, err := tn.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{
			Parent: tn.parent(), AgreementId: fmt.Sprintf("f%02d", (i*7)%30), Agreement: a,
		})
		mustf(t, err, "create fixture %d", i)
		f.all = append(f.all, created)
	}
	// Update one and delete another after every create.
	upd := proto.Clone(f.all[3]).(*twinningv1.Agreement)
	upd.Summary = "updated"
	upd.PartnerCountries = []string{"JP"} // the side table of repeated values must follow
	u, err := tn.Client.Update(ctx, upd, []string{"summary", "partner_countries"})
	mustf(t, err, "update fixture")
	f.all[3] = u.(*twinningv1.Agreement)
	d, err := tn.Client.Delete(ctx, f.all[7].GetName(), "")
	mustf(t, err, "delete fixture")
	f.all[7] = d.(*twinningv1.Agreement)
	f.deleted[f.all[7].GetName()] = true
	return f
}

// arrival orders records as they arrived at the node, which is List's
// default order and its last tie-breaker. For records created on the node
// it is the order of their create_time.
func arrival(a, b *twinningv1.Agreement) int {
	return a.GetCreateTime().AsTime().Compare(b.GetCreateTime().AsTime())
}

func hasCountry(a *twinningv1.Agreement, c string) bool {
	return slices.Contains(a.GetPartnerCountries(), c)
}

// TestListFilters checks every filter operator through the API against
// expectations computed in Go.
func TestListFilters(t *testing.T) {
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	f := buildAgreementFixture(t, ctx, tn)
	rfc := func(i int) string { return f.all[i].GetCreateTime().AsTime().Format(time.RFC3339Nano) }
	createdAt := func(i int) time.Time { return f.all[i].GetCreateTime().AsTime() }
	const (
		mou   = twinningv1.Agreement_KIND_MOU
		other = twinningv1.Agreement_KIND_OTHER
	)
	type A = *twinningv1.Agreement
	cases := []struct {
		filter      string
		showDeleted bool
		pred        func(a A) bool
	}{
		{"", false, func(a A) bool { return true }},
		{"   ", false, func(a A) bool { return true }},
		// Enums, short and full names.
		{"state = IN_FORCE", false, func(a A) bool { return a.State == twinningv1.Agreement_STATE_IN_FORCE }},
		{"state = STATE_IN_FORCE", false, func(a A) bool { return a.State == twinningv1.Agreement_STATE_IN_FORCE }},
		{"state = UNSPECIFIED", false, func(a A) bool { return a.State == 0 }},
		{"state != DRAFT", false, func(a A) bool { return a.State != twinningv1.Agreement_STATE_DRAFT }},
		{"consultation.state = REQUESTED", false, func(a A) bool {
			return a.GetConsultation().GetState() == twinningv1.Agreement_CONSULTATION_STATE_REQUESTED
		}},
		{"consultation.state = CONSULTATION_STATE_UNSPECIFIED", false, func(a A) bool { return a.GetConsultation().GetState() == 0 }},
		// Strings: equality, comparisons, prefixes.
		{`display_name = "MoU Guangxi"`, false, func(a A) bool { return a.DisplayName == "MoU Guangxi" }},
		{`display_name != "MoU Guangxi"`, false, func(a A) bool { return a.DisplayName != "MoU Guangxi" }},
		{`display_name = "MoU*"`, false, func(a A) bool { return len(a.DisplayName) >= 3 && a.DisplayName[:3] == "MoU" }},
		{`display_name != "MoU*"`, false, func(a A) bool { return !(len(a.DisplayName) >= 3 && a.DisplayName[:3] == "MoU") }},
		{`display_name = Hợp*`, false, func(a A) bool { return a.DisplayName == "Hợp tác Bách Sắc" }},
		{`display_name < "MoU Houaphan"`, false, func(a A) bool { return a.DisplayName < "MoU Houaphan" }},
		{`display_name <= "MoU Houaphan"`, false, func(a A) bool { return a.DisplayName <= "MoU Houaphan" }},
		{`display_name > "MoU Houaphan"`, false, func(a A) bool { return a.DisplayName > "MoU Houaphan" }},
		{`display_name >= "P"`, false, func(a A) bool { return a.DisplayName >= "P" }},
		{`partnership = "provinces/cao-bang/partnerships/p1"`, false, func(a A) bool { return a.Partnership == "provinces/cao-bang/partnerships/p1" }},
		{`partnership = ""`, false, func(a A) bool { return a.Partnership == "" }},
		// Repeated fields.
		{"partner_countries:CN", false, func(a A) bool { return hasCountry(a, "CN") }},
		{`partner_countries:"KH"`, false, func(a A) bool { return hasCountry(a, "KH") }},
		{"partner_countries:*", false, func(a A) bool { return len(a.PartnerCountries) > 0 }},
		{"NOT partner_countries:*", false, func(a A) bool { return len(a.PartnerCountries) == 0 }},
		{"-partner_countries:LA", false, func(a A) bool { return !hasCountry(a, "LA") }},
		{"partner_countries:JP", false, func(a A) bool { return hasCountry(a, "JP") }},
		{"partner_countries:LA partner_countries:KH", false, func(a A) bool { return hasCountry(a, "LA") && hasCountry(a, "KH") }},
		// Dates name periods; a stored partial date matches when every day of
		// it would (internal/filter/date_test.go has the full table).
		{"signed_date = 2023-03-11", false, func(a A) bool { return dateKey(a.SignedDate) == 20230311 }},
		{"signed_date != 2023-03-11", false, func(a A) bool { return dateKey(a.SignedDate) != 20230311 }},
		{"signed_date < 2023-06-15", false, func(a A) bool { _, l := dateSpan(a.SignedDate); return l < 20230615 }},
		{"signed_date <= 2023-03-11", false, func(a A) bool { _, l := dateSpan(a.SignedDate); return l <= 20230311 }},
		{"signed_date > 2023-06", false, func(a A) bool { f, _ := dateSpan(a.SignedDate); return f > 20230630 }},
		{"signed_date >= 2024", false, func(a A) bool { f, _ := dateSpan(a.SignedDate); return f >= 20240101 }},
		{"signed_date = 2024", false, func(a A) bool { return a.SignedDate.GetYear() == 2024 }},
		{"signed_date != 2024", false, func(a A) bool { return a.SignedDate.GetYear() != 2024 }},
		{"signed_date < 2024", false, func(a A) bool { _, l := dateSpan(a.SignedDate); return l < 20240101 }},
		{"signed_date <= 2024", false, func(a A) bool { _, l := dateSpan(a.SignedDate); return l <= 20241231 }},
		{"signed_date > 2023", false, func(a A) bool { f, _ := dateSpan(a.SignedDate); return f > 20231231 }},
		{"signed_date >= 2023 AND signed_date < 2024", false, func(a A) bool {
			f, l := dateSpan(a.SignedDate)
			return f >= 20230101 && l < 20240101
		}},
		{"signed_date = 2024-03", false, func(a A) bool { return a.SignedDate.GetYear() == 2024 && a.SignedDate.GetMonth() == 3 }},
		{"signed_date <= 2024-03", false, func(a A) bool { _, l := dateSpan(a.SignedDate); return l <= 20240331 }},
		{"signed_date >= 2024-03 AND signed_date < 2024-04", false, func(a A) bool {
			f, l := dateSpan(a.SignedDate)
			return f >= 20240301 && l < 20240401
		}},
		{"signed_date >= 2024-01", false, func(a A) bool { f, _ := dateSpan(a.SignedDate); return f >= 20240101 }},
		// Timestamps.
		{fmt.Sprintf("create_time >= %q", rfc(10)), false, func(a A) bool { return !a.CreateTime.AsTime().Before(createdAt(10)) }},
		{fmt.Sprintf("create_time > %q", rfc(10)), false, func(a A) bool { return a.CreateTime.AsTime().After(createdAt(10)) }},
		{fmt.Sprintf("create_time < %q", rfc(10)), false, func(a A) bool { return a.CreateTime.AsTime().Before(createdAt(10)) }},
		{fmt.Sprintf("create_time <= %s", rfc(10)), false, func(a A) bool { return !a.CreateTime.AsTime().After(createdAt(10)) }},
		{fmt.Sprintf("create_time = %q", rfc(10)), false, func(a A) bool { return a.CreateTime.AsTime().Equal(createdAt(10)) }},
		{fmt.Sprintf("create_time != %q", rfc(10)), false, func(a A) bool { return !a.CreateTime.AsTime().Equal(createdAt(10)) }},
		{fmt.Sprintf("create_time >= %q", createdAt(10).In(time.FixedZone("ICT", 7*3600)).Format(time.RFC3339Nano)), false,
			func(a A) bool { return !a.CreateTime.AsTime().Before(createdAt(10)) }},
		{fmt.Sprintf("update_time > %q", rfc(len(f.all)-1)), false, func(a A) bool { return a.GetSummary() == "updated" }},
		{"delete_time > 2000-01-01T00:00:00Z", true, func(a A) bool { return a.DeleteTime != nil }},
		{"delete_time > 2000-01-01T00:00:00Z", false, func(a A) bool { return false }},
		{"", true, func(a A) bool { return true }},
		// Logic: AND, juxtaposition, OR, NOT, -, parentheses and precedence.
		{"kind = MOU AND state = SIGNED", false, func(a A) bool { return a.Kind == mou && a.State == twinningv1.Agreement_STATE_SIGNED }},
		{"kind = MOU state = SIGNED", false, func(a A) bool { return a.Kind == mou && a.State == twinningv1.Agreement_STATE_SIGNED }},
		{"kind = MOU OR kind = OTHER", false, func(a A) bool { return a.Kind == mou || a.Kind == other }},
		{"NOT kind = MOU", false, func(a A) bool { return a.Kind != mou }},
		{"-kind = MOU", false, func(a A) bool { return a.Kind != mou }},
		{"NOT (kind = MOU OR state = DRAFT)", false, func(a A) bool { return !(a.Kind == mou || a.State == twinningv1.Agreement_STATE_DRAFT) }},
		{"-(kind = MOU OR state = DRAFT)", false, func(a A) bool { return !(a.Kind == mou || a.State == twinningv1.Agreement_STATE_DRAFT) }},
		// OR binds tighter than AND (AIP-160).
		{"kind = MOU AND state = SIGNED OR state = IN_FORCE", false, func(a A) bool {
			return a.Kind == mou && (a.State == twinningv1.Agreement_STATE_SIGNED || a.State == twinningv1.Agreement_STATE_IN_FORCE)
		}},
		{"state = SIGNED OR state = IN_FORCE AND kind = MOU", false, func(a A) bool {
			return a.Kind == mou && (a.State == twinningv1.Agreement_STATE_SIGNED || a.State == twinningv1.Agreement_STATE_IN_FORCE)
		}},
		{"(kind = MOU AND state = SIGNED) OR state = IN_FORCE", false, func(a A) bool {
			return (a.Kind == mou && a.State == twinningv1.Agreement_STATE_SIGNED) || a.State == twinningv1.Agreement_STATE_IN_FORCE
		}},
		{"(kind = MOU OR kind = OTHER) AND NOT partner_countries:CN AND signed_date >= 2023", false, func(a A) bool {
			return (a.Kind == mou || a.Kind == other) && !hasCountry(a, "CN") && a.SignedDate.GetYear() >= 2023
		}},
		{"((state = DRAFT OR state = EXPIRED) AND (-kind = MOU)) OR display_name = Other", false, func(a A) bool {
			return ((a.State == twinningv1.Agreement_STATE_DRAFT || a.State == twinningv1.Agreement_STATE_EXPIRED) && a.Kind != mou) || a.DisplayName == "Other"
		}},
	}
	for _, c := range cases {
		var want []string
		for _, a := range f.all {
			if (c.showDeleted || !f.deleted[a.GetName()]) && c.pred(a) {
				want = append(want, a.GetName())
			}
		}
		for _, size := range []int32{0, 4} {
			got, err := listAll(ctx, tn.Client, tn.parent(), resource.Agreements, client.ListOptions{Filter: c.filter, ShowDeleted: c.showDeleted, PageSize: size})
			if err != nil {
				t.Errorf("filter %q: %v", c.filter, err)
				continue
			}
			if names := namesOf(resource.Agreements, got); !slices.Equal(names, want) {
				t.Errorf("filter %q (show_deleted %v, page_size %d):\n got %q\nwant %q", c.filter, c.showDeleted, size, names, want)
			}
		}
	}
	// Sanity: the fixture makes the interesting cases non-trivial.
	for _, filter := range []string{"state = IN_FORCE", "partner_countries:KH", "signed_date >= 2024", "kind = MOU AND state = SIGNED OR state = IN_FORCE", "NOT partner_countries:*"} {
		got, err := listAll(ctx, tn.Client, tn.parent(), resource.Agreements, client.ListOptions{Filter: filter})
		if err != nil || len(got) == 0 || len(got) == len(f.live()) {
			t.Errorf("fixture gives filter %q %d of %d records (%v); want a proper subset", filter, len(got), len(f.live()), err)
		}
	}

	bad := []string{
		"state = BOGUS",
		"nosuch = 1",
		"state > DRAFT",
		"(kind = MOU",
		"kind = MOU)",
		"kind = MOU and state = DRAFT",
		"kind = MOU OR",
		"display_name:*",
		`display_name:"x"`,
		"partner_countries = CN",
		"partner_countries:C*",
		"signed_date = 2024-13",
		"signed_date = 2023-02-29",
		"signed_date = yesterday",
		"signed_date = 2024*",
		`display_name = "a*b"`,
		`create_time > "2024-01-01"`,
		`display_name = "unterminated`,
		"len(display_name) > 3",
		"= MOU",
		"kind =",
	}
	for _, b := range bad {
		_, _, err := tn.List(ctx, tn.parent(), resource.Agreements, client.ListOptions{Filter: b})
		wantInvalid(t, err, "filter "+b, "filter")
	}
}

// TestListFiltersOtherTypes covers integer, nested integer, top-level enum
// and timestamp fields of other kinds.
func TestListFiltersOtherTypes(t *testing.T) {
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)

	t.Run("delegations", func(t *testing.T) {
		type D = *twinningv1.Delegation
		var all []D
		for i := 0; i < 14; i++ {
			d := &twinningv1.Delegation{
				DisplayName:    fmt.Sprintf("Delegation %d", i),
				Direction:      twinningv1.Delegation_Direction(1 + i%2),
				Level:          twinningv1.Delegation_Level(i % 5),
				MemberCount:    int32((i * 3) % 11),
				ForeignerCount: int32(i % 4),
				Countries:      []string{[]string{"CN", "LA", "KH"}[i%3]},
				StartDate:      date(2024, 1+int32(i%6), 10),
			}
			got, err := tn.Twinning.CreateDelegation(ctx, &twinningv1.CreateDelegationRequest{Parent: tn.parent(), DelegationId: fmt.Sprintf("d%02d", i), Delegation: d})
			mustf(t, err, "create delegation %d", i)
			all = append(all, got)
		}
		for _, c := range []struct {
			filter string
			pred   func(D) bool
		}{
			{"member_count > 5", func(d D) bool { return d.MemberCount > 5 }},
			{"member_count >= 6", func(d D) bool { return d.MemberCount >= 6 }},
			{"member_count < 3", func(d D) bool { return d.MemberCount < 3 }},
			{"member_count <= 3", func(d D) bool { return d.MemberCount <= 3 }},
			{"member_count = 0", func(d D) bool { return d.MemberCount == 0 }},
			{`member_count != "6"`, func(d D) bool { return d.MemberCount != 6 }},
			{"member_count >= 4 AND foreigner_count < 2", func(d D) bool { return d.MemberCount >= 4 && d.ForeignerCount < 2 }},
			{"member_count > -1", func(d D) bool { return true }},
			{"countries:LA", func(d D) bool { return slices.Contains(d.Countries, "LA") }},
			{"direction = OUTGOING", func(d D) bool { return d.Direction == twinningv1.Delegation_DIRECTION_OUTGOING }},
			{"level = PROVINCE_LEADERSHIP OR level = LEVEL_BUSINESS", func(d D) bool { return d.Level == 1 || d.Level == 4 }},
			{"start_date >= 2024-03 AND start_date < 2024-05-10", func(d D) bool {
				k := dateKey(d.StartDate)
				return k >= 20240300 && k < 20240510
			}},
		} {
			var want []string
			for _, d := range all {
				if c.pred(d) {
					want = append(want, d.GetName())
				}
			}
			got, err := listAll(ctx, tn.Client, tn.parent(), resource.Delegations, client.ListOptions{Filter: c.filter, PageSize: 3})
			if err != nil {
				t.Errorf("filter %q: %v", c.filter, err)
				continue
			}
			if names := namesOf(resource.Delegations, got); !slices.Equal(names, want) {
				t.Errorf("filter %q:\n got %q\nwant %q", c.filter, names, want)
			}
		}
		for _, b := range []string{"member_count = abc", "member_count = 1.5", "member_count:*", "member_count = 5*", "direction > INCOMING"} {
			_, _, err := tn.List(ctx, tn.parent(), resource.Delegations, client.ListOptions{Filter: b})
			wantInvalid(t, err, "filter "+b, "filter")
		}
	})

	t.Run("projects", func(t *testing.T) {
		projects := []struct {
			id       string
			investor string
			capital  *typev1.Money
			sector   int32
		}{
			{"p1", "World Bank", &typev1.Money{CurrencyCode: "USD", Units: 5_000_000}, 4},
			{"p2", "Foxconn", &typev1.Money{CurrencyCode: "USD", Units: 999_999}, 2},
			{"p3", "World Vision", &typev1.Money{CurrencyCode: "EUR", Units: 1_000_000}, 12},
			{"p4", "Local Co", nil, 3},
			{"p5", "JICA", &typev1.Money{CurrencyCode: "JPY", Units: 1_000_000_000_000}, 3},
		}
		for _, p := range projects {
			_, err := tn.Investment.CreateProject(ctx, &investmentv1.CreateProjectRequest{
				Parent: tn.parent(), ProjectId: p.id,
				Project: &investmentv1.Project{DisplayName: p.investor + " project", Kind: 1, Investor: p.investor, RegisteredCapital: p.capital, Sector: investmentv1.Sector(p.sector)},
			})
			mustf(t, err, "create project %s", p.id)
		}
		pname := func(ids ...string) []string {
			var out []string
			for _, id := range ids {
				out = append(out, tn.parent()+"/projects/"+id)
			}
			return out
		}
		for _, c := range []struct {
			filter string
			want   []string
		}{
			{"registered_capital.units >= 1000000", pname("p1", "p3", "p5")},
			{"registered_capital.units < 1000000", pname("p2", "p4")},
			{"registered_capital.units > 999999999999", pname("p5")},
			{"registered_capital.currency_code = USD", pname("p1", "p2")},
			{`registered_capital.currency_code = ""`, pname("p4")},
			{"sector = ENERGY", pname("p4", "p5")},
			{"sector = SECTOR_POVERTY_REDUCTION", pname("p3")},
			{`investor = "World*"`, pname("p1", "p3")},
			{`investor = World*`, pname("p1", "p3")},
			{`investor = "World*" AND registered_capital.currency_code != USD`, pname("p3")},
		} {
			got, err := listAll(ctx, tn.Client, tn.parent(), resource.Projects, client.ListOptions{Filter: c.filter})
			if err != nil {
				t.Errorf("filter %q: %v", c.filter, err)
				continue
			}
			if names := namesOf(resource.Projects, got); !slices.Equal(names, c.want) {
				t.Errorf("filter %q:\n got %q\nwant %q", c.filter, names, c.want)
			}
		}
	})

	t.Run("border incidents", func(t *testing.T) {
		ict := time.FixedZone("ICT", 7*3600)
		incidents := []struct {
			id      string
			occur   time.Time
			resolve time.Time
			notify  []string
		}{
			{"i1", time.Date(2024, 9, 7, 23, 0, 0, 0, time.UTC), time.Time{}, []string{"lang-son"}},
			{"i2", time.Date(2024, 9, 8, 6, 30, 0, 0, ict), time.Date(2024, 9, 9, 0, 0, 0, 0, time.UTC), nil},
			{"i3", time.Date(2024, 9, 8, 12, 0, 0, 500, time.UTC), time.Time{}, []string{"lang-son", "tuyen-quang"}},
			{"i4", time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1999, 1, 2, 0, 0, 0, 0, time.UTC), nil},
		}
		for _, in := range incidents {
			bi := &borderv1.BorderIncident{DisplayName: in.id, Category: 1, OccurTime: timestamppb.New(in.occur), NotifyProvinces: in.notify}
			if !in.resolve.IsZero() {
				bi.ResolveTime = timestamppb.New(in.resolve)
			}
			_, err := tn.Border.CreateBorderIncident(ctx, &borderv1.CreateBorderIncidentRequest{Parent: tn.parent(), BorderIncidentId: in.id, BorderIncident: bi})
			mustf(t, err, "create incident %s", in.id)
		}
		iname := func(ids ...string) []string {
			var out []string
			for _, id := range ids {
				out = append(out, tn.parent()+"/border-incidents/"+id)
			}
			return out
		}
		for _, c := range []struct {
			filter string
			want   []string
		}{
			// 2024-09-08T06:30+07:00 is 2024-09-07T23:30Z.
			{`occur_time >= "2024-09-08T00:00:00+07:00" AND occur_time < "2024-09-09T00:00:00Z"`, iname("i1", "i2", "i3")},
			{`occur_time > 2024-09-07T23:30:00Z`, iname("i3")},
			{`occur_time >= 2024-09-07T23:30:00Z`, iname("i2", "i3")},
			{`occur_time = "2024-09-08T12:00:00.0000005Z"`, iname("i3")},
			{`occur_time < 2000-01-01T00:00:00Z`, iname("i4")},
			{`occur_time <= "2024-09-07T23:00:00Z"`, iname("i1", "i4")},
			// An unset timestamp compares as 1970-01-01T00:00:00Z.
			{`resolve_time < 1971-01-01T00:00:00Z`, iname("i1", "i3")},
			{`resolve_time > 2000-01-01T00:00:00Z`, iname("i2")},
			{`notify_provinces:lang-son`, iname("i1", "i3")},
			{`notify_provinces:tuyen-quang -notify_provinces:lao-cai`, iname("i3")},
		} {
			got, err := listAll(ctx, tn.Client, tn.parent(), resource.BorderIncidents, client.ListOptions{Filter: c.filter})
			if err != nil {
				t.Errorf("filter %q: %v", c.filter, err)
				continue
			}
			if names := namesOf(resource.BorderIncidents, got); !slices.Equal(names, c.want) {
				t.Errorf("filter %q:\n got %q\nwant %q", c.filter, names, c.want)
			}
		}
		for _, b := range []string{"occur_time > 2024-09-08", "occur_time = now", "occur_time > 9999-01-01T00:00:00Z"} {
			_, _, err := tn.List(ctx, tn.parent(), resource.BorderIncidents, client.ListOptions{Filter: b})
			wantInvalid(t, err, "filter "+b, "filter")
		}
	})
}

// TestListOrderBy checks order_by directions, ties broken by name, and
// pagination under every order.
func TestListOrderBy(t *testing.T) {
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	f := buildAgreementFixture(t, ctx, tn)
	type A = *twinningv1.Agreement
	cases := []struct {
		orderBy string
		cmp     func(a, b A) int
	}{
		{"", arrival},
		{"signed_date", func(a, b A) int {
			return cmp.Or(cmp.Compare(dateKey(a.SignedDate), dateKey(b.SignedDate)), arrival(a, b))
		}},
		{"signed_date desc", func(a, b A) int {
			return cmp.Or(-cmp.Compare(dateKey(a.SignedDate), dateKey(b.SignedDate)), arrival(a, b))
		}},
		{"signed_date DESC", func(a, b A) int {
			return cmp.Or(-cmp.Compare(dateKey(a.SignedDate), dateKey(b.SignedDate)), arrival(a, b))
		}},
		{"display_name", func(a, b A) int { return cmp.Or(cmp.Compare(a.DisplayName, b.DisplayName), arrival(a, b)) }},
		{"display_name desc", func(a, b A) int { return cmp.Or(-cmp.Compare(a.DisplayName, b.DisplayName), arrival(a, b)) }},
		{"kind, signed_date desc", func(a, b A) int {
			return cmp.Or(cmp.Compare(a.Kind, b.Kind), -cmp.Compare(dateKey(a.SignedDate), dateKey(b.SignedDate)), arrival(a, b))
		}},
		{" state desc ,display_name asc ", func(a, b A) int {
			return cmp.Or(-cmp.Compare(a.State, b.State), cmp.Compare(a.DisplayName, b.DisplayName), arrival(a, b))
		}},
		{"consultation.state desc, kind", func(a, b A) int {
			return cmp.Or(-cmp.Compare(a.GetConsultation().GetState(), b.GetConsultation().GetState()), cmp.Compare(a.Kind, b.Kind), arrival(a, b))
		}},
		{"create_time desc", func(a, b A) int { return -a.CreateTime.AsTime().Compare(b.CreateTime.AsTime()) }},
		{"update_time", func(a, b A) int { return cmp.Or(a.UpdateTime.AsTime().Compare(b.UpdateTime.AsTime()), arrival(a, b)) }},
		{"partnership desc", func(a, b A) int { return cmp.Or(-cmp.Compare(a.Partnership, b.Partnership), arrival(a, b)) }},
	}
	live := f.live()
	for _, c := range cases {
		want := slices.Clone(live)
		slices.SortFunc(want, c.cmp)
		wantNames := namesOf(resource.Agreements, toMessages(want))
		for _, size := range []int32{0, 1, 4, 7} {
			got, err := listAll(ctx, tn.Client, tn.parent(), resource.Agreements, client.ListOptions{OrderBy: c.orderBy, PageSize: size})
			if err != nil {
				t.Errorf("order_by %q: %v", c.orderBy, err)
				continue
			}
			if names := namesOf(resource.Agreements, got); !slices.Equal(names, wantNames) {
				t.Errorf("order_by %q page_size %d:\n got %q\nwant %q", c.orderBy, size, names, wantNames)
			}
		}
	}
	// Filter and order together.
	got, err := listAll(ctx, tn.Client, tn.parent(), resource.Agreements, client.ListOptions{Filter: "partner_countries:CN", OrderBy: "display_name desc", PageSize: 2})
	mustf(t, err, "filter with order_by")
	var want []A
	for _, a := range live {
		if hasCountry(a, "CN") {
			want = append(want, a)
		}
	}
	slices.SortFunc(want, func(a, b A) int { return cmp.Or(-cmp.Compare(a.DisplayName, b.DisplayName), arrival(a, b)) })
	if !slices.Equal(namesOf(resource.Agreements, got), namesOf(resource.Agreements, toMessages(want))) {
		t.Errorf("filter with order_by:\n got %q\nwant %q", namesOf(resource.Agreements, got), namesOf(resource.Agreements, toMessages(want)))
	}

	for _, b := range []string{"nosuch", "partner_countries", "signed_date sideways", "kind, kind", "kind desc desc", "kind;", "kind,", ",kind", "-kind", "name"} {
		_, _, err := tn.List(ctx, tn.parent(), resource.Agreements, client.ListOptions{OrderBy: b})
		wantInvalid(t, err, "order_by "+b, "order_by")
	}
	_, _, err = tn.List(ctx, tn.parent(), resource.Agreements, client.ListOptions{OrderBy: "kind", Filter: "nosuch = 1"})
	if codeOf(err) != codes.InvalidArgument {
		t.Errorf("bad filter with good order_by: %v", err)
	}
}

func toMessages[T proto.Message](in []T) []proto.Message {
	out := make([]proto.Message, len(in))
	for i, m := range in {
		out[i] = m
	}
	return out
}

// TestOrderByEveryField: a List ordered by every orderable field of a kind
// (17 for projects; page tokens held at most 16 values) pages through all
// its records with the tokens it returns.
func TestOrderByEveryField(t *testing.T) {
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	for i := range 3 {
		if _, err := tn.Investment.CreateProject(ctx, &investmentv1.CreateProjectRequest{Parent: tn.parent(), ProjectId: fmt.Sprintf("o%d", i),
			Project: &investmentv1.Project{DisplayName: "Solar farm", Kind: investmentv1.Project_KIND_FDI}}); err != nil {
			t.Fatal(err)
		}
	}
	var paths []string
	for _, f := range resource.Projects.Schema.Fields() {
		if !f.Repeated {
			paths = append(paths, f.Path)
		}
	}
	if len(paths) <= 16 {
		t.Fatalf("projects have %d orderable fields; the test wants more than 16", len(paths))
	}
	got, err := listAll(ctx, tn.Client, tn.parent(), resource.Projects, client.ListOptions{PageSize: 1, OrderBy: strings.Join(paths, ", ")})
	if err != nil || len(got) != 3 {
		t.Fatalf("List ordered by all %d fields, a page of 1 at a time: %d records, %v; want 3", len(paths), len(got), err)
	}
}
