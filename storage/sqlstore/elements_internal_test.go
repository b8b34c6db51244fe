package sqlstore

import (
	"fmt"
	"testing"

	"github.com/provex/provex/internal/filter"
	"github.com/provex/provex/resource"
)

// TestEachElementOnce: a repeated field's elements come once each, in
// their order, short fields and long ones (a member may sign tens of
// thousands) alike.
func TestEachElementOnce(t *testing.T) {
	st := &kindStmts{}
	for _, f := range resource.Agreements.Schema.Fields() {
		if f.Repeated {
			st.repeated = append(st.repeated, f)
			st.lists = append(st.lists, filter.ListID(resource.Agreements.Collection, f.Path))
		}
	}
	field := st.repeated[0]
	for _, n := range []int{3, 16, 17, 40000} {
		var values, want []any
		for i := range n {
			v := fmt.Sprintf("e%d", i%(n/2+1))
			values = append(values, v)
			if i < n/2+1 {
				want = append(want, v)
			}
		}
		var got []any
		eachElement(st, map[string][]any{field.Path: values}, func(list int64, v any) {
			if list != st.lists[0] {
				t.Fatalf("list %d, want %d", list, st.lists[0])
			}
			got = append(got, v)
		})
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%d elements: %d come, want %d each once in order", n, len(got), len(want))
		}
	}
}
