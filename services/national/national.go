// Package national serves provex.national.v1.NationalService: totals and
// searches across every province's records a node holds, with how current
// each province's part is. The ministry's node holds them all; on a province
// node the same questions cover its own records and those visible to it.
// It also serves the ministry's requests for information and the
// provinces' responses (requests.go): their standard methods delegate to
// services/collection, and the request statuses pair each request with the
// responses of it this node holds.
package national

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/internal/filter"
	"github.com/provex/provex/internal/pagetoken"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/services/collection"
	"github.com/provex/provex/storage"
)

// Server implements nationalv1.NationalServiceServer.
type Server struct {
	nationalv1.UnimplementedNationalServiceServer
	store     storage.Store
	freshness func(context.Context) ([]*nationalv1.ProvinceFreshness, error)
	now       func() time.Time
	maxAnswer int

	requests  *collection.Collection[*nationalv1.InformationRequest]
	responses *collection.Collection[*nationalv1.InformationResponse]
}

// New serves national views over node's store; freshness reports how
// current each origin's records are (the sync engine knows); a summary's
// answer holds at most maxAnswer bytes.
func New(node *collection.Node, freshness func(context.Context) ([]*nationalv1.ProvinceFreshness, error), maxAnswer int) *Server {
	return &Server{store: node.Store, freshness: freshness, now: time.Now, maxAnswer: maxAnswer,
		requests:  collection.New[*nationalv1.InformationRequest](node, resource.InformationRequests),
		responses: collection.New[*nationalv1.InformationResponse](node, resource.InformationResponses),
	}
}

func (s *Server) GetFreshness(ctx context.Context, _ *nationalv1.GetFreshnessRequest) (*nationalv1.GetFreshnessResponse, error) {
	f, err := s.freshness(ctx)
	if err != nil {
		return nil, err
	}
	return &nationalv1.GetFreshnessResponse{Provinces: f}, nil
}

// ageBuckets are the keys of ".age" dimensions.
var ageBuckets = []string{"0-7d", "8-30d", "31-90d", "91-365d", ">365d"}

// dimension is a parsed group_by entry.
type dimension struct {
	storage.Dim
	name string
}

func kindOf(field, collection string) (*resource.Kind, error) {
	k, ok := resource.KindOf(collection)
	if !ok {
		var known []string
		for _, k := range resource.Kinds() {
			known = append(known, k.Collection)
		}
		return nil, apperr.Invalid(field, "unknown collection %q; known: %s", collection, strings.Join(known, ", "))
	}
	return k, nil
}

func parent(p string) (string, error) {
	if p == "" {
		return resource.AllProvinces, nil
	}
	province, err := resource.ParseParent(p, true)
	if err != nil {
		return "", apperr.Invalid("parent", "%v", err)
	}
	return province, nil
}

func parseDims(k *resource.Kind, groupBy []string) ([]dimension, error) {
	var (
		dims     []dimension
		repeated bool
	)
	for i, g := range groupBy {
		field := fmt.Sprintf("group_by[%d]", i)
		if err := oneName(field, "group_by", g); err != nil {
			return nil, err
		}
		if slices.Index(groupBy, g) < i {
			// Its groups would be the same, keyed twice.
			return nil, apperr.Invalid(field, "%s is named twice", g)
		}
		if g == "province" {
			dims = append(dims, dimension{name: g})
			continue
		}
		path, bucket := g, ""
		if i := strings.LastIndexByte(g, '.'); i >= 0 {
			switch g[i+1:] {
			case "year", "quarter", "month", "age":
				path, bucket = g[:i], g[i+1:]
			}
		}
		f, ok := k.Schema.Lookup(path)
		if !ok {
			return nil, apperr.Invalid(field, "%s cannot be grouped by %q; use province or one of their filterable fields", k.Collection, g)
		}
		switch {
		case bucket != "" && f.Type != filter.Date && f.Type != filter.Timestamp:
			return nil, apperr.Invalid(field, "%s is not a date or timestamp: it has no .%s", path, bucket)
		case bucket == "age" && f.Type != filter.Timestamp:
			return nil, apperr.Invalid(field, "only timestamps have an age; %s is a date", path)
		case bucket == "" && (f.Type == filter.Date || f.Type == filter.Timestamp):
			return nil, apperr.Invalid(field, "group %s by .year, .quarter or .month", path)
		case f.Repeated && repeated:
			return nil, apperr.Invalid(field, "at most one repeated field can be a dimension")
		}
		repeated = repeated || f.Repeated
		dims = append(dims, dimension{Dim: storage.Dim{Field: &f, Bucket: bucket}, name: g})
	}
	return dims, nil
}

// oneName refuses an entry of a list parameter that names several fields
// at once: over HTTP the parameter is repeated (summary.csv alone also
// splits commas, as spreadsheet users type them).
func oneName(field, param, value string) error {
	if strings.Contains(value, ",") {
		return apperr.Invalid(field, "%q names several fields; give one a %s entry (over HTTP, repeat the parameter: %s=a&%s=b)", value, param, param, param)
	}
	return nil
}

// moneySum is a money field to sum: its units and currency columns.
type moneySum struct {
	name            string
	units, currency filter.Field
}

// parseSums splits the fields to sum into integer fields and money fields.
// A part of a money field (its units) is refused: summed alone it would add
// amounts in different currencies together.
func parseSums(k *resource.Kind, sum []string) (ints []filter.Field, money []moneySum, err error) {
	for i, name := range sum {
		field := fmt.Sprintf("sum[%d]", i)
		if err := oneName(field, "sum", name); err != nil {
			return nil, nil, err
		}
		if slices.Index(sum, name) < i {
			return nil, nil, apperr.Invalid(field, "%s is named twice", name)
		}
		if m, ok := k.InMoney(name); ok {
			return nil, nil, apperr.Invalid(field, "%s is part of the money field %s: sum %s, which totals per currency (amounts in different currencies do not add up)", name, m, m)
		}
		if f, ok := k.Schema.Lookup(name); ok && f.Type == filter.Int && !f.Repeated {
			ints = append(ints, f)
			continue
		}
		units, currency, ok := k.MoneyField(name)
		if !ok {
			return nil, nil, apperr.Invalid(field, "%s has no integer or money field %q to sum", k.Collection, name)
		}
		money = append(money, moneySum{name, units, currency})
	}
	return ints, money, nil
}

// parseDistinct checks the fields whose distinct values are counted: string
// or enum fields, scalar or repeated, each named once.
func parseDistinct(k *resource.Kind, names []string) ([]filter.Field, error) {
	var out []filter.Field
	for i, name := range names {
		field := fmt.Sprintf("count_distinct[%d]", i)
		if err := oneName(field, "count_distinct", name); err != nil {
			return nil, err
		}
		f, ok := k.Schema.Lookup(name)
		switch {
		case !ok:
			return nil, apperr.Invalid(field, "%s has no filterable field %q to count distinct values of", k.Collection, name)
		case f.Type != filter.String && f.Type != filter.Enum:
			return nil, apperr.Invalid(field, "%s is a %s; distinct values are counted of string and enum fields", name, f.Type)
		case slices.Index(names, name) < i:
			return nil, apperr.Invalid(field, "%s is named twice", name)
		}
		out = append(out, f)
	}
	return out, nil
}

// Summarize groups and totals one collection's live records.
func (s *Server) Summarize(ctx context.Context, req *nationalv1.SummarizeRequest) (*nationalv1.SummarizeResponse, error) {
	k, err := kindOf("collection", req.GetCollection())
	if err != nil {
		return nil, err
	}
	province, err := parent(req.GetParent())
	if err != nil {
		return nil, err
	}
	dims, err := parseDims(k, req.GetGroupBy())
	if err != nil {
		return nil, err
	}
	ints, money, err := parseSums(k, req.GetSum())
	if err != nil {
		return nil, err
	}
	distinct, err := parseDistinct(k, req.GetCountDistinct())
	if err != nil {
		return nil, err
	}
	// One clock for the filter's .age and the .age buckets.
	now := s.now()
	expr, err := filter.ParseAt(req.GetFilter(), k.Schema, now)
	if err != nil {
		return nil, apperr.Invalid("filter", "%v", err)
	}
	q := storage.SummaryQuery{Kind: k, Province: province, Filter: expr, Sums: ints, Now: now}
	for _, d := range dims {
		q.Dims = append(q.Dims, d.Dim)
	}
	query := pagetoken.Fingerprint("summary", req.GetCollection(), req.GetParent(), req.GetFilter(),
		strings.Join(req.GetGroupBy(), "\x01"), strings.Join(req.GetSum(), "\x01"), strings.Join(req.GetCountDistinct(), "\x01"))
	after, err := pagetoken.Decode(req.GetPageToken(), query)
	if err != nil {
		return nil, err
	}
	if after != nil && (len(dims) == 0 || !keysFit(dims, after.Values)) {
		return nil, pagetoken.Unreadable()
	}
	p := &pager{store: s.store, q: q, dims: dims, ints: ints, money: money, distinct: distinct}
	size := int(min(req.GetPageSize(), MaxSummaryPage))
	// Without a page_size every group is asked for: read in chunks of a
	// page's most, until they are all in or the answer is full.
	chunkSize := size
	if size == 0 {
		chunkSize = MaxSummaryPage
	}
	var from []any
	if after != nil {
		from = after.Values
	}
	c, err := p.read(ctx, from, after != nil, chunkSize)
	if err != nil {
		return nil, err
	}
	// The total after the first groups, so that a group's sum out of
	// range is named as that group's, not as the total's.
	resp := &nationalv1.SummarizeResponse{GroupBy: req.GetGroupBy()}
	var currencies [][]string
	if resp.Total, currencies, err = p.total(ctx, c, after == nil && !c.more); err != nil {
		return nil, err
	}
	if resp.Freshness, err = s.freshness(ctx); err != nil {
		return nil, err
	}
	// Room for the groups: the answer without them, and a token.
	room := s.maxAnswer - proto.Size(resp) - 256
	var last []any
	for {
		for i, g := range c.groups(p, currencies) {
			n := proto.Size(g)
			if room -= 1 + protowire.SizeVarint(uint64(n)) + n; room < 0 {
				if size == 0 {
					return nil, apperr.Invalid("page_size", "the summary has more groups than one answer of %d bytes holds (over %d): ask for them in pages (page_size, up to %d), or group by fields of fewer values",
						s.maxAnswer, len(resp.Groups), MaxSummaryPage)
				}
				if last == nil {
					return nil, apperr.OutOfRange("a group of the summary is larger than one answer of %d bytes holds", s.maxAnswer)
				}
				resp.NextPageToken = pagetoken.Encode(&storage.Cursor{Values: last}, query)
				return resp, nil
			}
			resp.Groups = append(resp.Groups, g)
			last = c.rows[i].Keys
		}
		switch {
		case !c.more:
			return resp, nil
		case size > 0:
			resp.NextPageToken = pagetoken.Encode(&storage.Cursor{Values: last}, query)
			return resp, nil
		}
		if c, err = p.read(ctx, last, false, chunkSize); err != nil {
			return nil, err
		}
	}
}

// MaxSummaryPage is the most groups a page of a summary holds.
const MaxSummaryPage = 10000

// A page token of a summary holds the keys of the last group served, as
// the store returned them (keysFit). The next page reads from those keys
// on, in the store's order, as many groups as it holds and one more (is
// there a next page?), and its sums and distinct counts for its own range
// of keys: a page costs its own groups, however many the summary has.

// pager reads a summary's groups a range of keys at a time.
type pager struct {
	store    storage.Store
	q        storage.SummaryQuery
	dims     []dimension
	ints     []filter.Field
	money    []moneySum
	distinct []filter.Field
}

// chunk is a range of groups, in order: their counts and integer sums,
// and for each money field its sums per group and currency, for each
// distinct field its counts per group (by groupID).
type chunk struct {
	rows     []storage.SummaryRow
	money    []map[string]map[string]int64
	distinct []map[string]int64
	more     bool // groups follow the range
}

// read returns up to limit groups from the keys from on (all from the
// first when from is nil), the group of from itself left out. resume says
// from is where a page ended: a page whose last group has no records now
// is ABORTED, since where the next one starts is then not known.
func (p *pager) read(ctx context.Context, from []any, resume bool, limit int) (*chunk, error) {
	q := p.q
	if len(p.dims) > 0 {
		q.From, q.Limit = from, limit+1
		if from != nil {
			q.Limit++
		}
	}
	rows, err := p.store.Summarize(ctx, q)
	if err != nil {
		return nil, outOfRange(p.dims, err, "")
	}
	if from != nil {
		switch {
		case len(rows) > 0 && slices.Equal(rows[0].Keys, from):
			rows = rows[1:]
		case resume:
			return nil, apperr.Aborted("the group the last page ended with has no records now, so where the next page starts is not known: start again without page_token")
		}
	}
	c := &chunk{rows: rows}
	if len(p.dims) > 0 && len(rows) > limit {
		c.rows, c.more = rows[:limit], true
	}
	if len(c.rows) == 0 {
		// No group, so no sums of any: total reads them by field.
		c.money = make([]map[string]map[string]int64, len(p.money))
		c.distinct = make([]map[string]int64, len(p.distinct))
		return c, nil
	}
	// Sums and distinct counts of the chunk's groups alone: from its first
	// group's keys through its last's.
	rq := p.q
	if len(p.dims) > 0 {
		rq.From, rq.Through = c.rows[0].Keys, c.rows[len(c.rows)-1].Keys
	}
	// Money: one query per field, split by currency, never mixed.
	for _, m := range p.money {
		mq := rq
		mq.Sums, mq.Currency = []filter.Field{m.units}, &m.currency
		mrows, err := p.store.Summarize(ctx, mq)
		if err != nil {
			return nil, outOfRange(p.dims, err, m.name)
		}
		perGroup := map[string]map[string]int64{}
		for _, r := range mrows {
			id := groupID(p.dims, r.Keys[:len(p.dims)])
			if perGroup[id] == nil {
				perGroup[id] = map[string]int64{}
			}
			perGroup[id][fmt.Sprint(r.Keys[len(p.dims)])] = r.Sums[0]
		}
		c.money = append(c.money, perGroup)
	}
	// Distinct values: a query per field. Queries without count_distinct
	// never run these.
	for _, f := range p.distinct {
		dq := rq
		dq.Sums, dq.Distinct = nil, &f
		drows, err := p.store.Summarize(ctx, dq)
		if err != nil {
			return nil, err
		}
		perGroup := map[string]int64{}
		for _, r := range drows {
			perGroup[groupID(p.dims, r.Keys)] = r.Count
		}
		c.distinct = append(c.distinct, perGroup)
	}
	return c, nil
}

// total is the summary's total, and the currencies of each money field in
// the answer. It is a query of its own, over all the records matched,
// without dimensions: the groups are read a page at a time, and a record
// in a group per element of a repeated dimension, or a distinct value in
// many groups, is once in the total. Without dimensions the one group,
// first, is the total; so is the sum of the groups when first holds them
// all (all) and none is a repeated dimension's, which saves a pass over
// the records (a summary of few groups, most of them).
func (p *pager) total(ctx context.Context, first *chunk, all bool) (*nationalv1.Group, [][]string, error) {
	k := p.q.Kind
	tq := p.q
	tq.Dims = nil
	added := len(p.dims) == 0 || all && !slices.ContainsFunc(p.dims, func(d dimension) bool { return d.Field != nil && d.Field.Repeated })
	whole := first
	if !added {
		rows, err := p.store.Summarize(ctx, tq)
		if err != nil {
			return nil, nil, totalOutOfRange(k, err)
		}
		whole = &chunk{rows: rows}
	}
	total := &nationalv1.Group{Sums: make([]*nationalv1.Sum, 0, len(p.ints))}
	for _, f := range p.ints {
		total.Sums = append(total.Sums, sum(f.Path, "", 0))
	}
	for _, r := range whole.rows {
		total.Count += r.Count
		for i, f := range p.ints {
			v, ok := addFits(total.Sums[i].GetValue(), r.Sums[i])
			if !ok {
				return nil, nil, apperr.OutOfRange("the total of %s over all groups of %s does not fit in int64: narrow the filter or sum by group", f.Path, k.Collection)
			}
			total.Sums[i] = sum(f.Path, "", v)
		}
	}
	var currencies [][]string
	for i, m := range p.money {
		perCurrency := map[string]int64{}
		if added {
			for _, byCurrency := range first.money[i] {
				for c, v := range byCurrency {
					var ok bool
					if perCurrency[c], ok = addFits(perCurrency[c], v); !ok {
						return nil, nil, apperr.OutOfRange("the total of %s in %s over all groups of %s does not fit in int64: narrow the filter or sum by group", m.name, c, k.Collection)
					}
				}
			}
		} else {
			mq := tq
			mq.Sums, mq.Currency = []filter.Field{m.units}, &m.currency
			rows, err := p.store.Summarize(ctx, mq)
			if err != nil {
				return nil, nil, totalOutOfRange(k, err)
			}
			for _, r := range rows {
				perCurrency[fmt.Sprint(r.Keys[0])] = r.Sums[0]
			}
		}
		cs := sortedKeys(perCurrency)
		if len(cs) == 0 {
			cs = []string{""} // no amounts at all: a 0 without a currency
		}
		for _, c := range cs {
			total.Sums = append(total.Sums, sum(m.name, c, perCurrency[c]))
		}
		currencies = append(currencies, cs)
	}
	for i, f := range p.distinct {
		var n int64
		if len(p.dims) == 0 {
			n = first.distinct[i][""]
		} else {
			dq := tq
			dq.Sums, dq.Distinct = nil, &f
			rows, err := p.store.Summarize(ctx, dq)
			if err != nil {
				return nil, nil, err
			}
			for _, r := range rows {
				n = r.Count
			}
		}
		total.DistinctCounts = append(total.DistinctCounts, distinctCount(f.Path, n))
	}
	return total, currencies, nil
}

// totalOutOfRange names a total's sum that does not fit in int64 as the
// total's (money with its currency, the total's one key).
func totalOutOfRange(k *resource.Kind, err error) error {
	var oe *storage.SumOutOfRangeError
	if !errors.As(err, &oe) {
		return err
	}
	field := oe.Field.Path
	if len(oe.Keys) > 0 {
		// A money field's units: named as the money field is summed.
		if m, ok := k.InMoney(field); ok {
			field = m
		}
		field = fmt.Sprintf("%s in %v", field, oe.Keys[0])
	}
	return apperr.OutOfRange("the total of %s over all groups of %s does not fit in int64: narrow the filter or sum by group", field, k.Collection)
}

// addFits is a+b, and whether it fits in int64.
func addFits(a, b int64) (int64, bool) {
	c := a + b
	return c, (c > a) == (b > 0)
}

// groups are the chunk's groups as answered: every group has a Sum in
// every currency of the answer, 0 when it has no amounts in it, so that a
// zero is a zero and not a missing column.
func (c *chunk) groups(p *pager, currencies [][]string) []*nationalv1.Group {
	out := make([]*nationalv1.Group, 0, len(c.rows))
	for _, r := range c.rows {
		keys := formatKeys(p.dims, r.Keys)
		id := strings.Join(keys, "\x00")
		g := &nationalv1.Group{Keys: keys, Count: r.Count}
		for i, f := range p.ints {
			g.Sums = append(g.Sums, sum(f.Path, "", r.Sums[i]))
		}
		for i, m := range p.money {
			for _, cur := range currencies[i] {
				g.Sums = append(g.Sums, sum(m.name, cur, c.money[i][id][cur]))
			}
		}
		for i, f := range p.distinct {
			g.DistinctCounts = append(g.DistinctCounts, distinctCount(f.Path, c.distinct[i][id]))
		}
		out = append(out, g)
	}
	return out
}

// groupID tells a group's rows apart in the queries of its figures: its
// keys as answered, which no two groups share (formatKeys).
func groupID(dims []dimension, raw []any) string {
	return strings.Join(formatKeys(dims, raw), "\x00")
}

// keysFit says whether a page token's keys are a group's of dims, as the
// store returns them: text for a province, a text field or an element of
// a repeated one, a number for the rest (buckets, enums, bools). Another
// would fail in the database rather than be refused as a bad token.
func keysFit(dims []dimension, keys []any) bool {
	if len(keys) != len(dims) {
		return false
	}
	for i, d := range dims {
		s, isText := keys[i].(string)
		text := d.Field == nil || d.Field.Repeated || (d.Bucket == "" && d.Field.Type == filter.String)
		// Stored text is UTF-8 without U+0000: PostgreSQL fails a bound
		// that is not (INTERNAL), where a key of that text stands for no
		// group on either database.
		if isText != text || isText && (!utf8.ValidString(s) || strings.ContainsRune(s, 0)) {
			return false
		}
	}
	return true
}

// sum is one Sum, its value always present (0 included).
func sum(field, currency string, value int64) *nationalv1.Sum {
	return &nationalv1.Sum{Field: field, CurrencyCode: currency, Value: &value}
}

// distinctCount is one DistinctCount, its count always present (0 included).
func distinctCount(field string, n int64) *nationalv1.DistinctCount {
	return &nationalv1.DistinctCount{Field: field, Count: &n}
}

// outOfRange makes a store's sum out of range an OUT_OF_RANGE naming the
// group as the answer would (money names the field summed, with its
// currency the group's last key); other errors pass through.
func outOfRange(dims []dimension, err error, money string) error {
	var oe *storage.SumOutOfRangeError
	if !errors.As(err, &oe) {
		return err
	}
	field, group := oe.Field.Path, "the only group"
	if money != "" {
		field = fmt.Sprintf("%s in %v", money, oe.Keys[len(dims)])
	}
	if len(dims) > 0 {
		keys := formatKeys(dims, oe.Keys[:len(dims)])
		for i, d := range dims {
			keys[i] = d.name + "=" + keys[i]
		}
		group = "group " + strings.Join(keys, ", ")
	}
	return apperr.OutOfRange("the sum of %s of %s in %s does not fit in int64", field, oe.Kind.Collection, group)
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// formatKeys renders group keys for people: enum names, "2023", "2023-Q2",
// "2023-05", age buckets, "unset" (and `"unset"` for that text, `"total"`
// for that one, a text beginning with a double quote quoted too). Groups are
// told apart by these keys, so no two values may render alike.
func formatKeys(dims []dimension, raw []any) []string {
	out := make([]string, len(dims))
	for i, d := range dims {
		out[i] = formatKey(d, raw[i])
	}
	return out
}

func formatKey(d dimension, v any) string {
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	if d.Field == nil {
		return fmt.Sprint(v)
	}
	n, isInt := v.(int64)
	switch d.Bucket {
	case "year":
		if n == 0 {
			return "unset"
		}
		return fmt.Sprintf("%04d", n)
	case "month":
		if n == 0 {
			return "unset"
		}
		if n%100 == 0 {
			return fmt.Sprintf("%04d", n/100)
		}
		return fmt.Sprintf("%04d-%02d", n/100, n%100)
	case "quarter":
		if n == 0 {
			return "unset"
		}
		if n%10 == 0 {
			return fmt.Sprintf("%04d", n/10)
		}
		return fmt.Sprintf("%04d-Q%d", n/10, n%10)
	case "age":
		if n < 0 || int(n) >= len(ageBuckets) {
			return "unset"
		}
		return ageBuckets[n]
	}
	switch d.Field.Type {
	case filter.Enum:
		if d.Field.Repeated {
			return fmt.Sprint(v)
		}
		if isInt && n == 0 {
			// Proto3's zero, *_UNSPECIFIED, is no value, as count_distinct
			// takes it (it was keyed by its name; an outside review).
			return "unset"
		}
		if isInt {
			if ev := d.Field.Enum.Values().ByNumber(protoreflect.EnumNumber(n)); ev != nil {
				return string(ev.Name())
			}
		}
	case filter.Bool:
		return fmt.Sprint(n == 1)
	case filter.String:
		switch s := fmt.Sprint(v); {
		case s == "":
			return "unset"
		case s == "unset" || s == "total" || strings.HasPrefix(s, `"`):
			// A text that is the word itself is quoted, as a filter names
			// it, so that it is neither taken for nor merged with no
			// value; so is one that begins with a quote, or the text
			// "unset" with its quotes would be keyed as the word is (an
			// outside review). So is "total", which a table's (and
			// summary.csv's) row of totals is keyed (another).
			return strconv.Quote(s)
		default:
			return s
		}
	}
	return fmt.Sprint(v)
}

// SearchRecords finds records across kinds and provinces. The page token
// carries the collection reached (its index, as the cursor's one value)
// and the position in it (the row; 0 before the first record).
func (s *Server) SearchRecords(ctx context.Context, req *nationalv1.SearchRecordsRequest) (*nationalv1.SearchRecordsResponse, error) {
	province, err := parent(req.GetParent())
	if err != nil {
		return nil, err
	}
	var kinds []*resource.Kind
	for i, c := range req.GetCollections() {
		field := fmt.Sprintf("collections[%d]", i)
		k, err := kindOf(field, c)
		if err != nil {
			return nil, err
		}
		if slices.Contains(kinds, k) {
			// Searched twice, its records would come twice.
			return nil, apperr.Invalid(field, "%s is named twice", c)
		}
		kinds = append(kinds, k)
	}
	if len(kinds) == 0 {
		kinds = resource.Kinds()
	}
	var expr filter.Expr
	if req.GetFilter() != "" {
		if len(kinds) != 1 {
			return nil, apperr.Invalid("filter", "a filter needs exactly one collection, since fields differ between kinds")
		}
		if expr, err = filter.Parse(req.GetFilter(), kinds[0].Schema); err != nil {
			return nil, apperr.Invalid("filter", "%v", err)
		}
	}
	limit, err := collection.PageLimit(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	query := pagetoken.Fingerprint(append([]string{req.GetParent(), req.GetFilter(), req.GetText()}, req.GetCollections()...)...)
	cursor, err := pagetoken.Decode(req.GetPageToken(), query)
	if err != nil {
		return nil, err
	}
	start, after := 0, (*storage.Cursor)(nil)
	if cursor != nil {
		var i int64 = -1
		if len(cursor.Values) == 1 {
			if v, ok := cursor.Values[0].(int64); ok {
				i = v
			}
		}
		if i < 0 || i >= int64(len(kinds)) {
			return nil, pagetoken.Unreadable()
		}
		start = int(i)
		if cursor.Row > 0 {
			after = &storage.Cursor{Row: cursor.Row}
		}
	}
	token := func(kind int, row int64) string {
		return pagetoken.Encode(&storage.Cursor{Values: []any{int64(kind)}, Row: row}, query)
	}
	resp := &nationalv1.SearchRecordsResponse{}
	used := 0 // bytes of the answer's records, as the store counts them
	for i := start; i < len(kinds) && limit > 0; i++ {
		k := kinds[i]
		if req.GetText() != "" && len(k.SearchPaths()) == 0 {
			after = nil
			continue
		}
		page, err := s.store.List(ctx, storage.Query{Kind: k, Province: province, Filter: expr, Text: req.GetText(), After: after, Limit: limit,
			Used: used, PerRecord: searchRecordOverhead})
		if err != nil {
			return nil, err
		}
		used += page.Bytes
		if page.Full && len(page.Records) == 0 {
			// No room left for this collection's next record.
			row := int64(0)
			if after != nil {
				row = after.Row
			}
			resp.NextPageToken = token(i, row)
			return resp, nil
		}
		for _, m := range page.Records {
			rec, err := record(k, m)
			if err != nil {
				return nil, err
			}
			resp.Records = append(resp.Records, rec)
		}
		limit -= len(page.Records)
		if page.Next != nil {
			resp.NextPageToken = token(i, page.Next.Row)
			return resp, nil
		}
		after = nil
		if limit == 0 && i+1 < len(kinds) {
			resp.NextPageToken = token(i+1, 0)
		}
	}
	return resp, nil
}

// searchRecordOverhead bounds what a search result holds beside its
// record: its name, collection, province, title (at most 300 characters),
// update time, and the Any's type URL.
const searchRecordOverhead = 2048

func record(k *resource.Kind, m protoreflect.ProtoMessage) (*nationalv1.Record, error) {
	any, err := anypb.New(m)
	if err != nil {
		return nil, err
	}
	name := k.Name(m)
	rec := &nationalv1.Record{Name: name, Collection: k.Collection, Resource: any}
	if n, err := resource.ParseName(name, k.Collection); err == nil {
		rec.Province = n.Province
	}
	if f, ok := k.TitleField(); ok {
		rec.Title = fmt.Sprint(f.Values(m.ProtoReflect())[0])
	}
	if t := k.UpdateTime(m); t != nil {
		rec.UpdateTime = timestamppb.New(t.AsTime())
	}
	return rec, nil
}
