package collection

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/internal/filter"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
)

// EarliestReplies returns, by province, the earliest live record of kind
// whose field names target, as at orders them: how a workflow finds who has
// answered a record of another province (an incident's acknowledgements, a
// request's responses). It reads through the index on field, every page.
func EarliestReplies(ctx context.Context, store storage.Store, kind *resource.Kind, field, target string, at func(proto.Message) time.Time) (map[string]proto.Message, error) {
	expr, err := filter.Parse(fmt.Sprintf("%s = %q", field, target), kind.Schema)
	if err != nil {
		return nil, err
	}
	earliest := map[string]proto.Message{}
	q := storage.Query{Kind: kind, Province: resource.AllProvinces, Filter: expr, Limit: MaxPageSize}
	for {
		page, err := store.List(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, m := range page.Records {
			n, err := resource.ParseName(kind.Name(m), kind.Collection)
			if err != nil {
				continue
			}
			if e := earliest[n.Province]; e == nil || at(m).Before(at(e)) {
				earliest[n.Province] = m
			}
		}
		if page.Next == nil {
			return earliest, nil
		}
		q.After = page.Next
	}
}
