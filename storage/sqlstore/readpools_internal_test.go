package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/auth"
	investmentv1 "github.com/provex/provex/gen/go/provex/investment/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
)

// TestCostlyQueriesLeaveLookupsTheirConnections: with every connection
// List, Summarize and the audit trail's check may use held (as costly
// queries of several identities would hold them), a Get, a token check and
// sync's reads still answer at once, while a List waits for a connection of
// its own pool.
func TestCostlyQueriesLeaveLookupsTheirConnections(t *testing.T) {
	for _, database := range []string{"sqlite", "postgres"} {
		t.Run(database, func(t *testing.T) {
			location := NewLocation(t, database)
			ctx := context.Background()
			const readers = 2
			db, err := Open(ctx, location, "cao-bang", Options{Readers: readers})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			name := "provinces/cao-bang/agreements/a1"
			if _, err := db.Write(ctx, storage.Write{Kind: resource.Agreements, Name: name,
				Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
					return &twinningv1.Agreement{Name: name, DisplayName: "MoU on border trade", Kind: twinningv1.Agreement_KIND_MOU}, nil
				}}); err != nil {
				t.Fatal(err)
			}
			if err := db.CreateToken(ctx, auth.Token{ID: "0123456789abcdef", Hash: make([]byte, 32), Role: auth.RoleViewer, CreateTime: time.Now()}); err != nil {
				t.Fatal(err)
			}

			var held []*sql.Conn
			for range readers {
				c, err := db.queries.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				held = append(held, c)
			}
			// What queries cannot take: each of these gets its connection
			// well within the deadline, however long the queries run.
			lookups, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if _, err := db.Get(lookups, resource.Agreements, name); err != nil {
				t.Errorf("Get while every query connection is held: %v", err)
			}
			if _, err := db.lookupToken(lookups, "0123456789abcdef"); err != nil {
				t.Errorf("token check while every query connection is held: %v", err)
			}
			if entries, err := db.Changes(lookups, "cao-bang", 0, 10); err != nil || len(entries) != 1 {
				t.Errorf("sync's read of the log while every query connection is held: %d entries, %v", len(entries), err)
			}
			if _, err := db.Origins(lookups); err != nil {
				t.Errorf("sync's heads while every query connection is held: %v", err)
			}

			// The pool really is taken: a List waits for one of its
			// connections until its deadline.
			short, cancelShort := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancelShort()
			if _, err := db.List(short, storage.Query{Kind: resource.Agreements, Province: resource.AllProvinces, Limit: 10}); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("List while every query connection is held: %v, want it to wait past its deadline", err)
			}
			if _, err := db.Summarize(short, storage.SummaryQuery{Kind: resource.Agreements}); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Summarize while every query connection is held: %v, want it to wait past its deadline", err)
			}
			if _, err := db.List(short, storage.Query{Kind: resource.Agreements, Province: resource.AllProvinces, Text: "border", Limit: 10}); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("a search while every query connection is held: %v, want it to wait past its deadline", err)
			}
			// An admin's check of the audit trail reads all of it.
			if _, _, _, err := db.VerifyAudit(short); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("VerifyAudit while every query connection is held: %v, want it to wait past its deadline", err)
			}
			for _, c := range held {
				c.Close()
			}
			page, err := db.List(lookups, storage.Query{Kind: resource.Agreements, Province: resource.AllProvinces, Limit: 10})
			if err != nil || len(page.Records) != 1 {
				t.Fatalf("List once the queries ended: %d records, %v", len(page.Records), err)
			}
		})
	}
}

// TestLockedTableLeavesOtherCallsAnswered: another session holds the
// agreements table locked on PostgreSQL (LOCK TABLE, as VACUUM FULL or
// REINDEX do), and Gets of it hold every connection of the lookups pool.
// They waited for their call's deadline, and every other call of every
// identity waited behind them at its token check (an outside review).
// Another identity's token check is answered while they wait; they are
// answered UNAVAILABLE at their lock_timeout, well before their call's
// deadline; and a Get of another table and sync's heads (which /healthz
// reads) are answered then.
func TestLockedTableLeavesOtherCallsAnswered(t *testing.T) {
	location := NewLocation(t, "postgres")
	ctx := context.Background()
	const readers = 2
	db, err := Open(ctx, location, "cao-bang", Options{Readers: readers})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	agreement, project := "provinces/cao-bang/agreements/a1", "provinces/cao-bang/projects/p1"
	for _, w := range []storage.Write{
		{Kind: resource.Agreements, Name: agreement, Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
			return &twinningv1.Agreement{Name: agreement, DisplayName: "MoU on border trade", Kind: twinningv1.Agreement_KIND_MOU}, nil
		}},
		{Kind: resource.Projects, Name: project, Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
			return &investmentv1.Project{Name: project, DisplayName: "Border market"}, nil
		}},
	} {
		if _, err := db.Write(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.CreateToken(ctx, auth.Token{ID: "0123456789abcdef", Hash: make([]byte, 32), Role: auth.RoleViewer, CreateTime: time.Now()}); err != nil {
		t.Fatal(err)
	}

	other, err := sql.Open("pgx", location)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	lock, err := other.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback()
	if _, err := lock.ExecContext(ctx, "LOCK TABLE agreements IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}

	// The server's deadline of a call, which the Gets waited for.
	call, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	stuck := make(chan error, readers)
	for range readers {
		go func() {
			_, err := db.Get(call, resource.Agreements, agreement)
			stuck <- err
		}()
	}
	waiting := func() int {
		var n int
		if err := other.QueryRowContext(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%agreements%'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for waiting() < readers {
		if call.Err() != nil {
			t.Fatalf("the Gets of the locked table never waited on its lock (%d waiting)", waiting())
		}
		time.Sleep(10 * time.Millisecond)
	}

	if _, err := db.LookupToken(call, "0123456789abcdef"); err != nil {
		t.Errorf("another identity's token check while Gets of a locked table hold every lookup connection: %v", err)
	}
	select {
	case err := <-stuck:
		t.Errorf("the token check was answered only once a Get of the locked table ended (%v): it waited behind them", err)
		stuck <- err
	default:
	}

	if _, err := db.Get(call, resource.Projects, project); err != nil {
		t.Errorf("a Get of another table, the locked one's Gets holding every lookup connection: %v", err)
	}
	// Sync's heads, which /healthz reads too.
	if _, err := db.Origins(call); err != nil {
		t.Errorf("sync's heads, the locked table's Gets holding every lookup connection: %v", err)
	}
	for range readers {
		if err := db.Failure(call, <-stuck); status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "lock_timeout") {
			t.Errorf("a Get of the locked table: %v, want UNAVAILABLE at its lock_timeout, before the call's deadline", err)
		}
	}
}
