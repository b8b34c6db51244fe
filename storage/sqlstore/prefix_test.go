package sqlstore_test

import (
	"context"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/internal/filter"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

// TestPrefixFiltersOfAnyLastCharacter: a filter "field = prefix*" is a
// range of strings from the prefix to the next one. Where the prefix ends
// in a character whose UTF-8 ends in the byte 0xBF (ế, common in
// Vietnamese: "Tiế*"; ¿), in DEL, in U+10FFFF or U+D7FF, that next string
// must still be text, or PostgreSQL refuses the query. On SQLite and
// PostgreSQL alike, each prefix finds exactly the names that start with
// it, in byte order, and pages of the names walk them in that order.
func TestPrefixFiltersOfAnyLastCharacter(t *testing.T) {
	ctx := context.Background()
	names := []string{"Tiế", "Tiến bộ", "Tiếp nhận", "Tiết", "Tiêu", "Tiề", "¿qué", "¿", "À", "a\x7f", "a\x7fb", "a\u0080", "b\U0010FFFF", "b\U0010FFFFx", "c", "d\uD7FF", "d\uD7FFz", "d\uE000"}
	for _, store := range databases {
		t.Run(store, func(t *testing.T) {
			path := newLocation(t, store)
			db, err := sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for i, n := range names {
				name := "provinces/cao-bang/agreements/p" + string(rune('a'+i))
				if _, err := db.Write(ctx, storage.Write{Kind: resource.Agreements, Name: name, Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
					return &twinningv1.Agreement{Name: name, DisplayName: n, Kind: twinningv1.Agreement_KIND_MOU}, nil
				}}); err != nil {
					t.Fatal(err)
				}
			}
			// Keyset pages of two, by name and by name descending, walk the
			// names in byte order on both databases.
			for _, by := range []string{"display_name", "display_name desc"} {
				order, err := filter.ParseOrderBy(by, resource.Agreements.Schema)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				q := storage.Query{Kind: resource.Agreements, Province: resource.AllProvinces, OrderBy: order, Limit: 2}
				for range len(names) {
					page, err := db.List(ctx, q)
					if err != nil {
						t.Fatalf("%s: %v", by, err)
					}
					for _, m := range page.Records {
						got = append(got, m.(*twinningv1.Agreement).GetDisplayName())
					}
					if q.After = page.Next; q.After == nil {
						break
					}
				}
				want := slices.Clone(names)
				slices.Sort(want)
				if by != "display_name" {
					slices.Reverse(want)
				}
				if !slices.Equal(got, want) {
					t.Errorf("pages by %s: %q, want %q", by, got, want)
				}
			}
			for _, prefix := range []string{"Tiế", "¿", "a\x7f", "b\U0010FFFF", "d\uD7FF", "Ti"} {
				var want []string
				for _, n := range names {
					if len(n) >= len(prefix) && n[:len(prefix)] == prefix {
						want = append(want, n)
					}
				}
				slices.Sort(want)
				f, err := filter.Parse(`display_name = "`+prefix+`*"`, resource.Agreements.Schema)
				if err != nil {
					t.Fatal(err)
				}
				order, err := filter.ParseOrderBy("display_name", resource.Agreements.Schema)
				if err != nil {
					t.Fatal(err)
				}
				page, err := db.List(ctx, storage.Query{Kind: resource.Agreements, Province: resource.AllProvinces, Filter: f, OrderBy: order, Limit: 100})
				if err != nil {
					t.Errorf("prefix %q: %v", prefix, err)
					continue
				}
				var got []string
				for _, m := range page.Records {
					got = append(got, m.(*twinningv1.Agreement).GetDisplayName())
				}
				if !slices.Equal(got, want) {
					t.Errorf("prefix %q: %q, want %q", prefix, got, want)
				}
			}
		})
	}
}
