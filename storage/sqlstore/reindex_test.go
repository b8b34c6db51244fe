package sqlstore_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/filter"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

// TestReindexFillsNewColumns plays a database whose rows predate a
// migration that added filter columns: the columns are blank and the kind
// is listed in reindex. Opening the store fills them from the records.
func TestReindexFillsNewColumns(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "provex.db")
	db, err := sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	name := "provinces/cao-bang/trade-reports/t2024"
	if _, err := db.Write(ctx, storage.Write{Kind: resource.TradeReports, Name: name, Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
		return &borderv1.TradeReport{Name: name, PeriodKind: borderv1.TradeReport_PERIOD_KIND_YEAR,
			ExportValue: &typev1.Money{CurrencyCode: "USD", Units: 2_500_000_000}, VehicleCount: 1200}, nil
	}}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	raw, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`UPDATE trade_reports SET export_value_currency_code = '', export_value_units = 0, vehicle_count = 0;
		INSERT INTO reindex (kind) VALUES ('trade-reports')`); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	db, err = sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Summarize(ctx, storage.SummaryQuery{Kind: resource.TradeReports, Province: resource.AllProvinces,
		Sums: []filter.Field{mustField(t, "export_value.units"), mustField(t, "vehicle_count")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Sums[0] != 2_500_000_000 || rows[0].Sums[1] != 1200 {
		t.Fatalf("after reindex: %+v", rows)
	}
	raw, _ = sql.Open("sqlite3", "file:"+path+"?mode=ro")
	defer raw.Close()
	var pending int
	raw.QueryRow("SELECT count(*) FROM reindex").Scan(&pending)
	if pending != 0 {
		t.Fatalf("%d kinds still listed for reindexing", pending)
	}
}

func mustField(t *testing.T, path string) filter.Field {
	t.Helper()
	f, ok := resource.TradeReports.Schema.Lookup(path)
	if !ok {
		t.Fatalf("no field %s", path)
	}
	return f
}

// TestReindexFillsRepeatedFields plays an agreement whose state holds
// foreign parties' subdivisions that the index does not (it came from a
// newer peer before this node knew the field, or predates migration 15):
// re-indexing the kind fills record_elements, so the filter finds it.
func TestReindexFillsRepeatedFields(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "provex.db")
	db, err := sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	name := "provinces/cao-bang/agreements/longzhou"
	if _, err := db.Write(ctx, storage.Write{Kind: resource.Agreements, Name: name, Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
		return &twinningv1.Agreement{Name: name, DisplayName: "Longzhou", ForeignParties: []*typev1.ForeignParty{
			{Name: "Longzhou", CountryCode: "CN", Subdivision: "CN-GX"}, {Name: "old party", CountryCode: "CN"}}}, nil
	}}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	guangxi := func(db *sqlstore.DB) int64 {
		t.Helper()
		expr, err := filter.Parse("foreign_parties.subdivision:CN-GX", resource.Agreements.Schema)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := db.Summarize(ctx, storage.SummaryQuery{Kind: resource.Agreements, Province: resource.AllProvinces, Filter: expr})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) == 0 {
			return 0
		}
		return rows[0].Count
	}

	raw, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`DELETE FROM record_elements WHERE list = ?`, filter.ListID("agreements", "foreign_parties.subdivision")); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	db, err = sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := guangxi(db); n != 0 {
		t.Fatalf("without its elements the agreement is found (%d): the test plays nothing", n)
	}
	db.Close()

	raw, _ = sql.Open("sqlite3", "file:"+path)
	if _, err := raw.Exec(`INSERT INTO reindex (kind) VALUES ('agreements')`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	db, err = sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n := guangxi(db); n != 1 {
		t.Fatalf("after reindex, agreements with Guangxi localities: %d, want 1", n)
	}
}
