package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/filter"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
)

// filterSeeds are the filters of docs/API.md and of the List examples,
// with the collection they were written for.
var filterSeeds = []struct {
	kind    string
	filter  string
	orderBy string
}{
	{"agreements", "state = IN_FORCE AND signed_date >= 2024 AND (partner_countries:CN OR partner_countries:LA)", "signed_date desc, display_name"},
	{"agreements", `kind = MOU AND partner_countries:CN AND signed_date >= 2022`, ""},
	{"agreements", "state = DRAFT", ""},
	{"agreements", "kind = MOU AND signed_date <= 2025 AND signed_date != 2023-05 OR signed_date > 2024-06 OR signed_date = 2022", ""},
	{"agreements", "signed_date = 2023-05 OR signed_date <= 2025 OR signed_date != 2024-02-29 OR signed_date > 2025-12-31", "signed_date"},
	{"partnerships", "state = PROPOSED", "established_date desc"},
	{"delegations", "start_date >= 2024-03 AND start_date < 2024-05-10 AND countries:LA", "start_date"},
	{"delegations", "member_count >= 4 AND foreigner_count < 2 OR NOT level = LEVEL_BUSINESS", "member_count desc"},
	{"projects", "approved_date >= 2021-03 AND approved_date < 2023", "approved_date, display_name desc"},
	{"projects", `approved_date > 2020 AND NOT state = COMPLETED OR sector = ENERGY OR investor_country = "KR"`, ""},
	{"projects", `display_name = "Lao*" -display_name = "Lao\*"`, "display_name"},
	{"trade-reports", "period_start = 2024 AND period_kind != MONTH", "period_start desc"},
	{"border-incidents", "notify_provinces:lao-cai AND create_time > 2024-05-28T07:00:00Z", "update_time"},
	{"promotion-events", "start_date <= 2025-06 partner_countries:*", ""},
	{"", "", ""},
}

// FuzzFilterSQL runs filters and order_bys over every kind through the
// node's own filter-to-SQL path: the migrated tables with their indexes and
// record_values, keyset pages, and summaries read from the kind's table and
// from each rollup that claims to answer them. A filter the parser accepts
// must never make SQLite fail, and a rollup must give the scan's answer.
// internal/filter's FuzzParse checks the meaning of the SQL over a table of
// its own; this checks that the SQL fits the tables the node really has.
func FuzzFilterSQL(f *testing.F) {
	kinds := resource.Kinds()
	index := map[string]int{}
	for i, k := range kinds {
		index[k.Collection] = i
	}
	for _, s := range filterSeeds {
		i, ok := index[s.kind]
		if s.kind != "" {
			k := kinds[i]
			if _, err := filter.Parse(s.filter, k.Schema); !ok || err != nil {
				f.Fatalf("seed %q on %s: %v", s.filter, s.kind, err)
			}
			if _, err := filter.ParseOrderBy(s.orderBy, k.Schema); err != nil {
				f.Fatalf("seed order_by %q on %s: %v", s.orderBy, s.kind, err)
			}
		}
		f.Add(uint8(i), s.filter, s.orderBy)
	}
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(f.TempDir(), "provex.db"), "cao-bang", Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	r := rand.New(rand.NewPCG(10, 10))
	for _, k := range kinds {
		for i := range 30 {
			m := randomRecord(r, k, fmt.Sprintf("provinces/cao-bang/%s/r%02d", k.Collection, i))
			if _, err := db.Write(ctx, storage.Write{Kind: k, Name: k.Name(m), Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
				return m, nil
			}}); err != nil {
				f.Fatalf("%s: %v", k.Collection, err)
			}
		}
	}
	f.Fuzz(func(t *testing.T, kindIndex uint8, src, orderBy string) {
		k := kinds[int(kindIndex)%len(kinds)]
		e, err := filter.Parse(src, k.Schema)
		if err != nil {
			var ferr *filter.Error
			if !errors.As(err, &ferr) {
				t.Fatalf("%s: Parse(%q) returned %T %v, want *filter.Error", k.Collection, src, err, err)
			}
			return
		}
		order, err := filter.ParseOrderBy(orderBy, k.Schema)
		if err != nil {
			order = nil
		}
		for _, q := range []storage.Query{
			{Kind: k, Province: resource.AllProvinces, Filter: e, OrderBy: order, Limit: 4},
			{Kind: k, Province: "cao-bang", Filter: e, OrderBy: order, ShowDeleted: true, Limit: 4},
		} {
			page, err := db.List(ctx, q)
			if err != nil {
				t.Fatalf("%s: List filter %q order_by %q: %v", k.Collection, src, orderBy, err)
			}
			if page.Next != nil {
				q.After = page.Next
				if _, err := db.List(ctx, q); err != nil {
					t.Fatalf("%s: second page of filter %q order_by %q: %v", k.Collection, src, orderBy, err)
				}
			}
		}
		for _, dims := range summaryDims(k) {
			q := storage.SummaryQuery{Kind: k, Province: resource.AllProvinces, Filter: e, Dims: dims}
			scan, err := db.summarize(ctx, q, nil)
			if err != nil {
				t.Fatalf("%s: summary of filter %q: %v", k.Collection, src, err)
			}
			ru := rollupFor(q)
			if ru == nil {
				continue
			}
			got, err := db.summarize(ctx, q, ru)
			if err != nil {
				t.Fatalf("%s: summary of filter %q from %s: %v", k.Collection, src, ru.table, err)
			}
			if !reflect.DeepEqual(got, scan) {
				t.Fatalf("%s: summary of filter %q:\n %s %v\n scan %v", k.Collection, src, ru.table, got, scan)
			}
		}
	})
}

// summaryDims are the province alone, then the dimensions of each rollup of
// k (dates by year), so that every rollup is tried.
func summaryDims(k *resource.Kind) [][]storage.Dim {
	out := [][]storage.Dim{{{}}}
	for _, paths := range rollupDims[k.Collection] {
		dims := []storage.Dim{{}}
		for _, p := range paths {
			f, _ := k.Schema.Lookup(p)
			d := storage.Dim{Field: &f}
			if f.Type == filter.Date {
				d.Bucket = "year"
			}
			dims = append(dims, d)
		}
		out = append(out, dims)
	}
	return out
}

// randomRecord is a public record of kind k whose filterable fields hold
// values drawn from few enough choices that filters and groups hit them:
// dates full, month-only, year-only or unset.
func randomRecord(r *rand.Rand, k *resource.Kind, name string) proto.Message {
	m := k.New()
	for _, f := range k.Schema.Fields() {
		parent := m.ProtoReflect()
		names := strings.Split(f.Path, ".")
		var through protoreflect.List // a repeated message on the path ("foreign_parties.subdivision")
		for _, n := range names[:len(names)-1] {
			fd := parent.Descriptor().Fields().ByName(protoreflect.Name(n))
			if fd.IsList() {
				through = parent.Mutable(fd).List()
				parent = through.NewElement().Message()
				continue
			}
			parent = parent.Mutable(fd).Message()
		}
		fd := parent.Descriptor().Fields().ByName(protoreflect.Name(names[len(names)-1]))
		if through != nil {
			for range r.IntN(3) {
				el := through.NewElement().Message()
				el.Set(fd, randomValue(r, fd))
				through.Append(protoreflect.ValueOfMessage(el))
			}
			continue
		}
		if fd.Cardinality() == protoreflect.Repeated {
			list := parent.Mutable(fd).List()
			for range r.IntN(3) {
				list.Append(randomValue(r, fd))
			}
			continue
		}
		if f.Type == filter.Date || f.Type == filter.Timestamp {
			if r.IntN(5) == 0 {
				continue
			}
		}
		parent.Set(fd, randomValue(r, fd))
	}
	k.SetName(m, name)
	fields := m.ProtoReflect().Descriptor().Fields()
	m.ProtoReflect().Set(fields.ByName("visibility"), protoreflect.ValueOfEnum(protoreflect.EnumNumber(typev1.Visibility_VISIBILITY_PUBLIC)))
	m.ProtoReflect().Clear(fields.ByName("visible_to"))
	m.ProtoReflect().Clear(fields.ByName("delete_time"))
	return m
}

func randomValue(r *rand.Rand, fd protoreflect.FieldDescriptor) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString([]string{"", "CN", "LA", "KR", "lao-cai", "Lao Cai", "VND", "USD"}[r.IntN(8)])
	case protoreflect.EnumKind:
		values := fd.Enum().Values()
		return protoreflect.ValueOfEnum(values.Get(r.IntN(values.Len())).Number())
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(r.IntN(2) == 0)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(r.IntN(100)))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(int64(r.IntN(1_000_000)))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(r.IntN(100)))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(uint64(r.IntN(1_000_000)))
	case protoreflect.MessageKind:
		switch fd.Message().FullName() {
		case "provex.type.v1.Date":
			d := &typev1.Date{Year: int32(2021 + r.IntN(4))}
			if r.IntN(4) != 0 {
				d.Month = int32(1 + r.IntN(12))
				if r.IntN(3) != 0 {
					d.Day = int32(1 + r.IntN(28))
				}
			}
			return protoreflect.ValueOfMessage(d.ProtoReflect())
		case "google.protobuf.Timestamp":
			return protoreflect.ValueOfMessage(timestamppb.New(time.Unix(1_700_000_000+int64(r.IntN(100_000_000)), 0)).ProtoReflect())
		}
	}
	panic(fmt.Sprintf("randomValue: %s is not a filterable field", fd.FullName()))
}
