package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	"github.com/provex/provex/services/national"
)

func runNational(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return &UsageError{Msg: "national: want summary, search or freshness"}
	}
	if IsHelp(args[0]) {
		return Help("national")
	}
	switch args[0] {
	case "summary":
		return runNationalSummary(ctx, env, args[1:])
	case "search":
		return runNationalSearch(ctx, env, args[1:])
	case "freshness":
		return runNationalFreshness(ctx, env, args[1:])
	}
	return &UsageError{Msg: fmt.Sprintf("national: unknown subcommand %q; want summary, search or freshness", args[0])}
}

func commaList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// summaryPage is the page size the summary asks for: the most a node
// serves in a page.
const summaryPage = 10000

func runNationalSummary(ctx context.Context, env *Env, args []string) error {
	fs, node := newFlagSet("national summary")
	groupBy := fs.String("group-by", "", "comma-separated dimensions, e.g. province,signed_date.year")
	sum := fs.String("sum", "", "comma-separated fields to sum, e.g. member_count or registered_capital")
	countDistinct := fs.String("count-distinct", "", "comma-separated fields whose distinct values are counted, e.g. organizations")
	filter := fs.String("filter", "", "AIP-160 filter")
	parent := fs.String("parent", "", "provinces/{province} (default: all provinces)")
	asCSV := fs.Bool("csv", false, "print CSV instead of a table")
	pos, err := ParseFlags(fs, args)
	if err != nil {
		return err
	}
	collection, err := oneArg("national summary", pos, "collection (e.g. delegations)")
	if err != nil {
		return err
	}
	c, err := node.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	req := &nationalv1.SummarizeRequest{
		Collection: collection, Parent: *parent, GroupBy: commaList(*groupBy), Sum: commaList(*sum), Filter: *filter,
		CountDistinct: commaList(*countDistinct), PageSize: summaryPage,
	}
	// Every group, a page at a time; the total and freshness of the last.
	// The table is printed once all are read, its columns aligned over
	// them all, so what it holds is bounded.
	var groups []*nationalv1.Group
	pages := newPageTokens("")
	for {
		resp, err := nationalv1.NewNationalServiceClient(c.Conn()).Summarize(ctx, req)
		if err != nil {
			return err
		}
		if len(groups)+len(resp.GetGroups()) > MaxSummaryGroups {
			return fmt.Errorf("the summary has more than %d groups, more than the command prints: narrow it (--filter, --parent, fewer --group-by dimensions), or read them a page at a time with the API's page_token", MaxSummaryGroups)
		}
		groups = append(groups, resp.GetGroups()...)
		if resp.GetNextPageToken() == "" {
			resp.Groups = groups
			return printSummary(env.Stdout, resp, *asCSV)
		}
		if err := pages.follow(resp.GetNextPageToken()); err != nil {
			return err
		}
		req.PageToken = resp.GetNextPageToken()
	}
}

// MaxSummaryGroups is the most groups national summary prints: ten of
// the node's largest pages (national.MaxSummaryPage).
const MaxSummaryGroups = 10 * national.MaxSummaryPage

// printSummary prints the summary and, under it, how current each
// province's records are, stale ones flagged (national.Report).
func printSummary(w io.Writer, resp *nationalv1.SummarizeResponse, asCSV bool) error {
	rows := national.Report(resp)
	for _, r := range rows {
		for i := range r {
			r[i] = terminalSafe(r[i])
		}
	}
	if asCSV {
		return national.WriteCSV(w, rows)
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t")+"\t")
	}
	return tw.Flush()
}

func runNationalSearch(ctx context.Context, env *Env, args []string) error {
	fs, node := newFlagSet("national search")
	collections := fs.String("collection", "", "comma-separated collections (default: all)")
	text := fs.String("text", "", "text to find in titles and counterpart names, ignoring case and diacritics")
	filter := fs.String("filter", "", "AIP-160 filter (with exactly one collection)")
	parent := fs.String("parent", "", "provinces/{province} (default: all provinces)")
	pageSize := pageSizeFlag(50)
	fs.Var(&pageSize, "page-size", "records per page (max 1000)")
	pageToken := fs.String("page-token", "", "continue from a next_page_token")
	all := fs.Bool("all", false, "follow next_page_token to the end")
	if err := ParseFlagsOnly(fs, args); err != nil {
		return err
	}
	c, err := node.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	req := &nationalv1.SearchRecordsRequest{Collections: commaList(*collections), Text: *text, Filter: *filter, Parent: *parent, PageSize: int32(pageSize), PageToken: *pageToken}
	// Each page is printed as it comes, its columns aligned within it:
	// --all holds one page at a time, however many there are.
	tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTITLE\tUPDATED")
	pages := newPageTokens(req.PageToken)
	for {
		resp, err := nationalv1.NewNationalServiceClient(c.Conn()).SearchRecords(ctx, req)
		if err != nil {
			return err
		}
		for _, r := range resp.GetRecords() {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", terminalSafe(r.GetName()), terminalSafe(r.GetTitle()), r.GetUpdateTime().AsTime().Format("2006-01-02 15:04"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if resp.GetNextPageToken() == "" {
			return nil
		}
		if !*all {
			fmt.Fprintf(env.Stderr, "next_page_token: %s\n", terminalSafe(resp.GetNextPageToken()))
			return nil
		}
		if err := pages.follow(resp.GetNextPageToken()); err != nil {
			return err
		}
		req.PageToken = resp.GetNextPageToken()
	}
}

func runNationalFreshness(ctx context.Context, env *Env, args []string) error {
	fs, node := newFlagSet("national freshness")
	if err := ParseFlagsOnly(fs, args); err != nil {
		return err
	}
	c, err := node.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	resp, err := nationalv1.NewNationalServiceClient(c.Conn()).GetFreshness(ctx, &nationalv1.GetFreshnessRequest{})
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROVINCE\tSEQ\tLAST CHANGE\tLAST CONTACT\tSTALE")
	for _, p := range resp.GetProvinces() {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%t\n", terminalSafe(p.GetProvince()), p.GetSeq(), ago(p.GetLastChangeTime(), p.GetLastChangeTime() != nil),
			ago(p.GetLastContactTime(), p.GetLastContactTime() != nil), p.GetStale())
	}
	return tw.Flush()
}
