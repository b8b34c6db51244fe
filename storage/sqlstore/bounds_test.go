package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

// TestRecordAndPageBounds: a write whose record would be over
// MaxRecordBytes encoded is INVALID_ARGUMENT and stores nothing (its
// answer could not be sent, though it would be committed and relayed); a
// List page ends before the record that would take it over MaxPageBytes,
// and the pages together hold every record once.
func TestRecordAndPageBounds(t *testing.T) {
	for _, database := range databases {
		t.Run(database, func(t *testing.T) {
			ctx := context.Background()
			const maxRecord, maxPage = 4 << 10, 10 << 10
			db, err := sqlstore.Open(ctx, newLocation(t, database), "cao-bang", sqlstore.Options{MaxRecordBytes: maxRecord, MaxPageBytes: maxPage})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			write := func(id, summary string) error {
				name := "provinces/cao-bang/agreements/" + id
				_, err := db.Write(ctx, storage.Write{Kind: resource.Agreements, Name: name, Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
					return &twinningv1.Agreement{Name: name, DisplayName: id, Summary: summary}, nil
				}})
				return err
			}
			head, err := db.Head(ctx)
			if err != nil {
				t.Fatal(err)
			}
			err = write("too-big", strings.Repeat("x", maxRecord))
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "bytes encoded") {
				t.Fatalf("a record over MaxRecordBytes: %v, want INVALID_ARGUMENT", err)
			}
			if after, _ := db.Head(ctx); after.Seq != head.Seq {
				t.Errorf("the refused write moved the log from %d to %d", head.Seq, after.Seq)
			}
			if _, err := db.Get(ctx, resource.Agreements, "provinces/cao-bang/agreements/too-big"); status.Code(err) != codes.NotFound {
				t.Errorf("the refused record reads as %v, want NOT_FOUND", err)
			}
			// 3 KB each: three fit a page of 10 KiB, a fourth does not.
			const records = 10
			for i := range records {
				if err := write(fmt.Sprintf("r%02d", i), strings.Repeat("y", 3000)); err != nil {
					t.Fatal(err)
				}
			}
			seen := map[string]bool{}
			var after *storage.Cursor
			for pages := 0; ; pages++ {
				if pages > records {
					t.Fatal("the pages do not end")
				}
				page, err := db.List(ctx, storage.Query{Kind: resource.Agreements, Province: "cao-bang", Limit: 1000, After: after})
				if err != nil {
					t.Fatal(err)
				}
				size := 0
				for _, m := range page.Records {
					size += proto.Size(m)
					name := resource.Agreements.Name(m)
					if seen[name] {
						t.Errorf("%s listed twice", name)
					}
					seen[name] = true
				}
				if size > maxPage || len(page.Records) == 0 || (page.Next != nil && len(page.Records) != 3) {
					t.Errorf("page %d: %d records of %d bytes (next %v), want 3 of at most %d but for the last", pages, len(page.Records), size, page.Next != nil, maxPage)
				}
				if page.Next == nil {
					break
				}
				after = page.Next
			}
			if len(seen) != records {
				t.Errorf("the pages held %d records, want %d", len(seen), records)
			}
		})
	}
}

// TestDamagedFileSaysHowToRestore: a store whose file is damaged (cut
// short, its header overwritten) does not open, and the error says it is
// damaged and how to restore it, instead of SQLite's words alone.
func TestDamagedFileSaysHowToRestore(t *testing.T) {
	ctx := context.Background()
	for _, damage := range []struct {
		what string
		do   func(b []byte) []byte
	}{
		{"cut short", func(b []byte) []byte { return b[:len(b)/2] }},
		{"header overwritten", func(b []byte) []byte { copy(b, strings.Repeat("x", 100)); return b }},
	} {
		path := filepath.Join(t.TempDir(), "provex.db")
		db, err := sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 200 {
			name := fmt.Sprintf("provinces/cao-bang/agreements/a%d", i)
			if _, err := db.Write(ctx, storage.Write{Kind: resource.Agreements, Name: name, Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
				return &twinningv1.Agreement{Name: name, DisplayName: strings.Repeat("d", 200)}, nil
			}}); err != nil {
				t.Fatal(err)
			}
		}
		db.Close()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, damage.do(b), 0o600); err != nil {
			t.Fatal(err)
		}
		db, err = sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{})
		if err == nil {
			db.Close()
			t.Errorf("%s: the store opened", damage.what)
			continue
		}
		if !strings.Contains(err.Error(), "the database file is damaged") || !strings.Contains(err.Error(), "provex restore") {
			t.Errorf("%s: %v, want it to say the file is damaged and how to restore it", damage.what, err)
		}
	}
}

// TestRecordStoredLargerMayStillBeDeleted: a record an earlier release
// stored over today's bound may still be deleted (its tombstone carries the
// whole record) or changed without growing; it may not grow.
func TestRecordStoredLargerMayStillBeDeleted(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "provex.db")
	db, err := sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{MaxRecordBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	name := "provinces/cao-bang/agreements/big"
	mutate := func(db *sqlstore.DB, edit func(a *twinningv1.Agreement, st storage.Stamp)) error {
		_, err := db.Write(ctx, storage.Write{Kind: resource.Agreements, Name: name, Mutate: func(cur proto.Message, st storage.Stamp) (proto.Message, error) {
			a := &twinningv1.Agreement{Name: name}
			if cur != nil {
				a = proto.Clone(cur).(*twinningv1.Agreement)
			}
			edit(a, st)
			return a, nil
		}})
		return err
	}
	if err := mutate(db, func(a *twinningv1.Agreement, _ storage.Stamp) {
		a.DisplayName, a.Summary = "big", strings.Repeat("x", 20000)
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{MaxRecordBytes: 10 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := mutate(db, func(a *twinningv1.Agreement, st storage.Stamp) { a.DeleteTime = timestamppb.New(st.Time) }); err != nil {
		t.Errorf("delete of a record stored over the bound: %v", err)
	}
	if err := mutate(db, func(a *twinningv1.Agreement, _ storage.Stamp) { a.DeleteTime = nil }); err != nil {
		t.Errorf("undelete of a record stored over the bound: %v", err)
	}
	if err := mutate(db, func(a *twinningv1.Agreement, _ storage.Stamp) { a.Summary += strings.Repeat("y", 1000) }); status.Code(err) != codes.InvalidArgument {
		t.Errorf("a record over the bound grown: %v, want INVALID_ARGUMENT", err)
	}
}
