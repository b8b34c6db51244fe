package sqlstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/internal/filter"
	"github.com/provex/provex/internal/sqlitetest"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

// TestDamagedIndexIsRebuilt: one byte of an index page of a stopped
// store's file is flipped, in the display name an entry keys. Equality
// filters on the column then miss the intact record; SQLite's file check
// names the index, the damage is the index's alone, and RepairIndexes
// rebuilds it from its table, after which the check passes and the
// filter finds the record again (an outside review: verify --repair left
// the index as it was).
func TestDamagedIndexIsRebuilt(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "provex.db")
	db, err := sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		name := fmt.Sprintf("provinces/cao-bang/agreements/a%d", i)
		if _, err := db.Write(ctx, storage.Write{Kind: resource.Agreements, Name: name, Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
			return &twinningv1.Agreement{Name: name, DisplayName: fmt.Sprintf("Agreement %03d", i)}, nil
		}}); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	flipped := sqlitetest.FlipIndexKeyByte(t, path, "agreements_display_name")

	db, err = sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	named := func() int {
		t.Helper()
		expr, err := filter.Parse(fmt.Sprintf("display_name = %q", flipped), resource.Agreements.Schema)
		if err != nil {
			t.Fatal(err)
		}
		page, err := db.List(ctx, storage.Query{Kind: resource.Agreements, Province: "cao-bang", Filter: expr, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		return len(page.Records)
	}
	if n := named(); n != 0 {
		t.Fatalf("the filter on %q found %d records through the damaged index; the test damaged nothing", flipped, n)
	}
	problems, err := db.CheckFile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	indexes := sqlstore.DamagedIndexes(problems)
	if len(indexes) != 1 || indexes[0] != "agreements_display_name" {
		t.Fatalf("damaged indexes %v of the file check's problems %q", indexes, problems)
	}
	if err := db.RepairIndexes(ctx, indexes); err != nil {
		t.Fatal(err)
	}
	if problems, err := db.CheckFile(ctx); err != nil || len(problems) != 0 {
		t.Errorf("the file check after the rebuild: %q, %v", problems, err)
	}
	if n := named(); n != 1 {
		t.Errorf("the filter on %q after the rebuild found %d records, want 1", flipped, n)
	}
	if got := sqlstore.DamagedIndexes(append(problems, "Page 7: btreeInitPage() returns error code 11")); got != nil {
		t.Errorf("damage beyond indexes read as the indexes' alone: %v", got)
	}
	if err := db.RepairIndexes(ctx, []string{"agreements"}); err == nil {
		t.Error("a table was taken for an index to rebuild")
	}
}
