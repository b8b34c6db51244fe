package national_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	investmentv1 "github.com/provex/provex/gen/go/provex/investment/v1"
	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/pagetoken"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/services/collection"
	"github.com/provex/provex/services/national"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

// rowCounter is a store that counts the summary rows it returns: what a
// summary's page reads.
type rowCounter struct {
	storage.Store
	rows int
}

func (c *rowCounter) Summarize(ctx context.Context, q storage.SummaryQuery) ([]storage.SummaryRow, error) {
	rows, err := c.Store.Summarize(ctx, q)
	c.rows += len(rows)
	return rows, err
}

// TestSummaryPageCostsItsOwnGroups reads summaries of many groups in
// pages, on SQLite and PostgreSQL: by a text field the table answers, and
// by an enum and a text field a rollup answers, with money summed and
// distinct values counted. Each group comes once, in the order of the
// whole answer and with its figures, and the rows a page reads from the
// store do not grow with the groups: the same at 300 groups as at 60 (an
// outside review found every page recomputing every group, 200 MB and
// 17 s a page at 150,000).
func TestSummaryPageCostsItsOwnGroups(t *testing.T) {
	onEachStore(t, summaryPageCostsItsOwnGroups)
}

func summaryPageCostsItsOwnGroups(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	counter := &rowCounter{Store: db}
	s := national.New(&collection.Node{Store: counter}, func(context.Context) ([]*nationalv1.ProvinceFreshness, error) { return nil, nil }, 4<<20)
	stored := 0
	putProjects := func(n int) {
		for ; stored < n; stored++ {
			name := fmt.Sprintf("provinces/cao-bang/projects/p%03d", stored)
			currency := []string{"USD", "VND"}[stored%2]
			putRecord(t, db, resource.Projects, name, &investmentv1.Project{Name: name, DisplayName: name,
				Kind: investmentv1.Project_Kind(1 + stored%3), Investor: fmt.Sprintf("investor %03d", stored), InvestorCountry: fmt.Sprintf("C%03d", stored),
				RegisteredCapital: &typev1.Money{CurrencyCode: currency, Units: int64(stored + 1)}})
		}
	}
	summaries := []*nationalv1.SummarizeRequest{
		{Collection: "projects", GroupBy: []string{"investor"}, Sum: []string{"registered_capital"}, CountDistinct: []string{"investor_country"}},
		{Collection: "projects", GroupBy: []string{"kind", "investor_country"}, Sum: []string{"registered_capital"}},
	}
	// pages reads every page of req, and the rows the costliest read.
	pages := func(req *nationalv1.SummarizeRequest, size int32) (groups []*nationalv1.Group, mostRows int) {
		t.Helper()
		req = proto.CloneOf(req)
		req.PageSize = size
		for {
			counter.rows = 0
			resp, err := s.Summarize(ctx, req)
			if err != nil {
				t.Fatalf("%v page %d: %v", req.GetGroupBy(), len(groups)/int(size)+1, err)
			}
			mostRows = max(mostRows, counter.rows)
			if got := resp.GetTotal().GetCount(); got != int64(stored) {
				t.Errorf("%v: a page's total %d, want %d", req.GetGroupBy(), got, stored)
			}
			groups = append(groups, resp.GetGroups()...)
			if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
				return groups, mostRows
			}
		}
	}
	rowsAt := map[int][]int{}
	for _, n := range []int{60, 300} {
		putProjects(n)
		for _, req := range summaries {
			whole, err := s.Summarize(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if len(whole.GetGroups()) != n {
				t.Fatalf("%v: %d groups, want %d", req.GetGroupBy(), len(whole.GetGroups()), n)
			}
			paged, rows := pages(req, 7)
			if len(paged) != len(whole.GetGroups()) {
				t.Errorf("%v at %d: %d groups in pages, want %d", req.GetGroupBy(), n, len(paged), len(whole.GetGroups()))
			}
			for i := range min(len(paged), len(whole.GetGroups())) {
				if !proto.Equal(paged[i], whole.GetGroups()[i]) {
					t.Fatalf("%v at %d: group %d in pages %v, in the whole answer %v", req.GetGroupBy(), n, i, paged[i], whole.GetGroups()[i])
				}
			}
			rowsAt[n] = append(rowsAt[n], rows)
		}
		// By investor: in the order of their names, each once.
		whole, _ := s.Summarize(ctx, summaries[0])
		for i, g := range whole.GetGroups() {
			if want := fmt.Sprintf("investor %03d", i); strings.Join(g.GetKeys(), ",") != want || g.GetCount() != 1 || g.GetDistinctCounts()[0].GetCount() != 1 {
				t.Fatalf("group %d: %v, want %s of one project and one country", i, g, want)
			}
		}
	}
	for i, req := range summaries {
		if rowsAt[300][i] != rowsAt[60][i] {
			t.Errorf("%v: a page of 7 groups read %d rows at 60 groups, %d at 300: its cost grows with the groups", req.GetGroupBy(), rowsAt[60][i], rowsAt[300][i])
		}
	}
}

// TestSummaryPageTokenKeysAreChecked: a summary's page token holds the
// keys of a page's last group, and anyone can build one (the fingerprint
// is not keyed): keys of another number or type than the query's groups
// are refused as INVALID_ARGUMENT on page_token, not run against the
// database, where PostgreSQL fails a number given for a text as INTERNAL.
func TestSummaryPageTokenKeysAreChecked(t *testing.T) {
	onEachStore(t, summaryPageTokenKeysAreChecked)
}

func summaryPageTokenKeysAreChecked(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := national.New(&collection.Node{Store: db}, func(context.Context) ([]*nationalv1.ProvinceFreshness, error) { return nil, nil }, 4<<20)
	name := "provinces/cao-bang/projects/p"
	putRecord(t, db, resource.Projects, name, &investmentv1.Project{Name: name, DisplayName: name, Investor: "investor", Kind: investmentv1.Project_KIND_ODA})
	query := pagetoken.Fingerprint("summary", "projects", "", "", "investor\x01kind", "", "")
	for _, keys := range [][]any{{"investor"}, {int64(1), int64(2)}, {"investor", "KIND_ODA"}, {"investor", int64(2), int64(3)}, {"a\x00b", int64(2)}, {"\xff\xfe", int64(2)}} {
		token := pagetoken.Encode(&storage.Cursor{Values: keys}, query)
		_, err := s.Summarize(ctx, &nationalv1.SummarizeRequest{Collection: "projects", GroupBy: []string{"investor", "kind"}, PageSize: 1, PageToken: token})
		if st, _ := status.FromError(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "page_token") {
			t.Errorf("a token of keys %v: %v, want INVALID_ARGUMENT on page_token", keys, err)
		}
	}
	token := pagetoken.Encode(&storage.Cursor{Values: []any{"investor", int64(investmentv1.Project_KIND_ODA)}}, query)
	if _, err := s.Summarize(ctx, &nationalv1.SummarizeRequest{Collection: "projects", GroupBy: []string{"investor", "kind"}, PageSize: 1, PageToken: token}); err != nil {
		t.Errorf("a token of the group's own keys: %v", err)
	}
}
