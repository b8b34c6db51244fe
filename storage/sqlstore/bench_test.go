package sqlstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

// BenchmarkWrite measures the store alone (no gRPC): group commit under
// 64 concurrent writers, each write a new agreement with its change-log entry.
func BenchmarkWrite(b *testing.B) {
	for _, conc := range []int{1, 64} {
		b.Run(fmt.Sprintf("c%d", conc), func(b *testing.B) {
			db, err := sqlstore.Open(context.Background(), filepath.Join(b.TempDir(), "provex.db"), "cao-bang", sqlstore.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			var n atomic.Int64
			b.SetParallelism(conc)
			if conc == 1 {
				b.SetParallelism(1)
			}
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					name := fmt.Sprintf("provinces/cao-bang/agreements/b%d", i)
					_, err := db.Write(context.Background(), storage.Write{Kind: resource.Agreements, Name: name,
						Mutate: func(_ proto.Message, st storage.Stamp) (proto.Message, error) {
							return &twinningv1.Agreement{Name: name, DisplayName: "Memorandum of understanding on border trade cooperation", Kind: twinningv1.Agreement_KIND_MOU,
								PartnerCountries: []string{"CN"}, CreateTime: timestamppb.New(st.Time), UpdateTime: timestamppb.New(st.Time), Etag: "x"}, nil
						}})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkWriteTradeReport measures one writer creating trade reports,
// whose five integer and money fields each rollup sums (in the write's
// transaction, by triggers).
func BenchmarkWriteTradeReport(b *testing.B) {
	db, err := sqlstore.Open(context.Background(), filepath.Join(b.TempDir(), "provex.db"), "cao-bang", sqlstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	b.ResetTimer()
	for i := range b.N {
		name := fmt.Sprintf("provinces/cao-bang/trade-reports/b%d", i)
		_, err := db.Write(context.Background(), storage.Write{Kind: resource.TradeReports, Name: name,
			Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
				return &borderv1.TradeReport{Name: name, BorderGate: fmt.Sprintf("provinces/cao-bang/border-gates/g%d", i%6),
					PeriodKind: borderv1.TradeReport_PERIOD_KIND_MONTH, PeriodStart: &typev1.Date{Year: int32(2000 + i/12%25), Month: int32(1 + i%12)},
					ExportValue: &typev1.Money{CurrencyCode: "VND", Units: int64(i) * 1_000_003}, ImportValue: &typev1.Money{CurrencyCode: "VND", Units: int64(i)},
					BudgetRevenue: &typev1.Money{CurrencyCode: "VND", Units: 7}, VehicleCount: int64(i % 1000), PassengerCount: int64(i % 5000)}, nil
			}})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetAudited measures what auditing costs a read in the store:
// Get of a national record by a caller whose reads of confidential records
// are audited (a record queued for the writer, committed every 10 ms)
// against the same Get by the node itself (not audited), interleaved.
func BenchmarkGetAudited(b *testing.B) {
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(b.TempDir(), "provex.db"), "cao-bang", sqlstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const name = "provinces/cao-bang/agreements/national"
	_, err = db.Write(ctx, storage.Write{Kind: resource.Agreements, Name: name,
		Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
			return &twinningv1.Agreement{Name: name, DisplayName: "Memorandum of understanding on border trade cooperation",
				Kind: twinningv1.Agreement_KIND_MOU, Visibility: typev1.Visibility_VISIBILITY_NATIONAL}, nil
		}})
	if err != nil {
		b.Fatal(err)
	}
	viewer := storage.WithActor(ctx, storage.Actor{Name: "token:aaaa (viewer)", RequestID: "r", Action: "get", Reads: storage.ReadsConfidential})
	for _, c := range []struct {
		name string
		ctx  context.Context
	}{{"unaudited", ctx}, {"audited", viewer}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := db.Get(c.ctx, resource.Agreements, name); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWriteMixedKinds writes records of every kind in turn, 64
// writers at a time: each kind has statements of its own, and the writer's
// connection keeps only its last 64 compiled (_stmt_cache_size), so this is
// where statements parsed again would show.
func BenchmarkWriteMixedKinds(b *testing.B) {
	db, err := sqlstore.Open(context.Background(), filepath.Join(b.TempDir(), "provex.db"), "cao-bang", sqlstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	kinds := resource.Kinds()
	var n atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			k := kinds[int(i)%len(kinds)]
			name := fmt.Sprintf("provinces/cao-bang/%s/m%d", k.Collection, i)
			_, err := db.Write(context.Background(), storage.Write{Kind: k, Name: name,
				Mutate: func(_ proto.Message, st storage.Stamp) (proto.Message, error) {
					m := k.New()
					r := m.ProtoReflect()
					r.Set(r.Descriptor().Fields().ByNumber(1), protoreflect.ValueOfString(name))
					return m, nil
				}})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}
