package sqlstore_test

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/internal/pgtest"
	"github.com/provex/provex/internal/testlog"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

// TestReadsAreAudited reads public, national and restricted records as
// callers whose reads are audited, closes the store at once (the queued
// read records must be committed, not dropped), and checks what the trail
// holds, that it verifies, and that tampering with a read record shows.
func TestReadsAreAudited(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "provex.db")
	_, key, _ := ed25519.GenerateKey(nil)
	db, err := sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	const (
		public     = "provinces/cao-bang/agreements/pub"
		national   = "provinces/cao-bang/agreements/nat"
		restricted = "provinces/cao-bang/agreements/res"
	)
	// In this order: a list returns them in arrival order, and the
	// trail's records_read follow it.
	for _, r := range []struct {
		name string
		v    typev1.Visibility
	}{{public, typev1.Visibility_VISIBILITY_PUBLIC}, {national, typev1.Visibility_VISIBILITY_NATIONAL}, {restricted, typev1.Visibility_VISIBILITY_RESTRICTED}} {
		name, v := r.name, r.v
		_, err := db.Write(ctx, storage.Write{Kind: resource.Agreements, Name: name,
			Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
				return &twinningv1.Agreement{Name: name, DisplayName: "A", Visibility: v, VisibleTo: []string{"lang-son"}}, nil
			}})
		if err != nil {
			t.Fatal(err)
		}
	}
	as := func(who string, reads storage.ReadAudit, action string) context.Context {
		return storage.WithActor(ctx, storage.Actor{Name: who, RequestID: "req-" + action, Action: action, Reads: reads})
	}
	viewer := func(action string) context.Context {
		return as("token:aaaa (viewer)", storage.ReadsConfidential, action)
	}
	get := func(ctx context.Context, name string) {
		t.Helper()
		if _, err := db.Get(ctx, resource.Agreements, name); err != nil {
			t.Fatal(err)
		}
	}
	get(viewer("get-public"), public) // not audited
	get(viewer("get-national"), national)
	get(viewer("get-restricted"), restricted)
	get(ctx, national) // the node's own read: not audited
	list := func(ctx context.Context) {
		t.Helper()
		if page, err := db.List(ctx, storage.Query{Kind: resource.Agreements, Province: resource.AllProvinces, Limit: 10}); err != nil || len(page.Records) != 3 {
			t.Fatalf("list: %v, %d records", err, len(page.Records))
		}
	}
	list(viewer("list"))
	if _, err := db.Summarize(viewer("summarize"), storage.SummaryQuery{Kind: resource.Agreements, Province: "cao-bang"}); err != nil {
		t.Fatal(err)
	}
	get(as("token:bbbb (admin)", storage.ReadsAll, "get-public-all"), public)
	list(as("token:bbbb (admin)", storage.ReadsAll, "list-all"))
	db.Close()

	db, err = sqlstore.Open(ctx, path, "", sqlstore.Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	records, err := db.AuditRecords(ctx, 3, 100, "", "")
	if err != nil {
		t.Fatal(err)
	}
	type read struct {
		actor, action, resource string
		names                   []string
	}
	var got []read
	for _, r := range records {
		if !r.Read || r.Origin != "" || r.Time == 0 || r.RequestID != "req-"+r.Action {
			t.Errorf("record %d: %+v is not a read record", r.Seq, r)
		}
		got = append(got, read{r.Actor, r.Action, r.Resource, r.Names})
	}
	want := []read{
		{"token:aaaa (viewer)", "get-national", national, []string{national}},
		{"token:aaaa (viewer)", "get-restricted", restricted, []string{restricted}},
		{"token:aaaa (viewer)", "list", "provinces/-/agreements", []string{national, restricted}},
		{"token:aaaa (viewer)", "summarize", "provinces/cao-bang/agreements", nil},
		{"token:bbbb (admin)", "get-public-all", public, []string{public}},
		{"token:bbbb (admin)", "list-all", "provinces/-/agreements", nil}, // names checked below
	}
	if len(got) != len(want) {
		t.Fatalf("read records: got %+v, want %+v", got, want)
	}
	for i := range want {
		w, g := want[i], got[i]
		if i == len(want)-1 {
			slices.Sort(g.names)
			w.names = []string{national, public, restricted}
		}
		if g.actor != w.actor || g.action != w.action || g.resource != w.resource || !slices.Equal(g.names, w.names) {
			t.Errorf("read record %d: got %+v, want %+v", i, g, w)
		}
	}
	// Who read the national record: its write and every read that
	// returned it.
	about, err := db.AuditRecords(ctx, 0, 100, "", national)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, r := range about {
		actions = append(actions, r.Action)
	}
	if !slices.Equal(actions, []string{"", "get-national", "list", "list-all"}) {
		t.Errorf("records about %s: actions %q", national, actions)
	}
	if n, _, problems, err := db.VerifyAudit(ctx); err != nil || n != 9 || len(problems) != 0 {
		t.Fatalf("trail with reads: %d records, %q, %v", n, problems, err)
	}
	db.Close()

	// The first read record is record 4.
	for stmt, want := range map[string]string{
		"UPDATE audit SET names = '' WHERE seq = 4":                                       "record 4 was edited",
		"UPDATE audit SET actor = 'token:cccc (viewer)' WHERE seq = 6":                    "record 6 was edited",
		"UPDATE audit SET names = 'provinces/cao-bang/agreements/pub' WHERE seq = 6":      "record 6 was edited",
		"UPDATE audit SET read = 0 WHERE seq = 5":                                         "record 5 was edited",
		"DELETE FROM audit WHERE seq = 5":                                                 "record 6 follows record 4",
		"DELETE FROM audit WHERE seq = 9":                                                 "the node key signed record 9 as the head, but the trail ends at record 8",
		"UPDATE audit SET origin = 'cao-bang', first_seq = 1, last_seq = 1 WHERE seq = 7": "read record 7 names change-log entries",
	} {
		copyPath := filepath.Join(t.TempDir(), "provex.db")
		raw, err := sql.Open("sqlite3", "file:"+path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec("VACUUM INTO ?", copyPath); err != nil {
			t.Fatal(err)
		}
		raw.Close()
		raw, _ = sql.Open("sqlite3", "file:"+copyPath)
		if _, err := raw.Exec(stmt); err != nil {
			t.Fatal(err)
		}
		raw.Close()
		// As provex verify opens it: with the public key, signing nothing.
		db, err := sqlstore.Open(ctx, copyPath, "", sqlstore.Options{PublicKey: key.Public().(ed25519.PublicKey)})
		if err != nil {
			t.Fatal(err)
		}
		_, _, problems, err := db.VerifyAudit(ctx)
		db.Close()
		if err != nil || !strings.Contains(strings.Join(problems, "\n"), want) {
			t.Errorf("after %s: problems %q (%v), want one containing %q", stmt, problems, err, want)
		}
	}
}

// TestReadRefusedWhenItsAuditRecordCannotBeQueued holds the writer inside
// a write while audited reads arrive: beyond the queue's bound they wait,
// then are refused, not answered unaudited; once the writer is free, the
// queued ones are recorded.
func TestReadRefusedWhenItsAuditRecordCannotBeQueued(t *testing.T) {
	ctx := context.Background()
	_, key, _ := ed25519.GenerateKey(nil)
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "provex.db"), "cao-bang", sqlstore.Options{Key: key, ReadAuditQueue: 2, ReadAuditWait: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const name = "provinces/cao-bang/agreements/nat"
	write := func(release <-chan struct{}, started chan<- struct{}) error {
		_, err := db.Write(ctx, storage.Write{Kind: resource.Agreements, Name: name,
			Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
				if started != nil {
					close(started)
					<-release
				}
				return &twinningv1.Agreement{Name: name, DisplayName: "A", Visibility: typev1.Visibility_VISIBILITY_NATIONAL}, nil
			}})
		return err
	}
	if err := write(nil, nil); err != nil {
		t.Fatal(err)
	}
	release, started, written := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() { written <- write(release, started) }()
	<-started
	reader := storage.WithActor(ctx, storage.Actor{Name: "token:aaaa (viewer)", Action: "get", Reads: storage.ReadsConfidential})
	for i := range 2 {
		if _, err := db.Get(reader, resource.Agreements, name); err != nil {
			t.Fatalf("read %d, with room in the queue: %v", i, err)
		}
	}
	_, err = db.Get(reader, resource.Agreements, name)
	if e, ok := apperr.As(err); !ok || e.Code != codes.ResourceExhausted {
		t.Fatalf("read beyond the queue: %v, want RESOURCE_EXHAUSTED", err)
	}
	close(release)
	if err := <-written; err != nil {
		t.Fatal(err)
	}
	// The write and its audit record committed first; the two reads follow.
	deadline, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		records, err := db.AuditRecords(ctx, 0, 10, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if len(records) == 4 {
			if !records[2].Read || !records[3].Read || records[1].Read {
				t.Fatalf("records: %+v", records)
			}
			break
		}
		if len(records) > 4 || deadline.Err() != nil {
			t.Fatalf("%d records: %+v", len(records), records)
		}
		time.Sleep(time.Millisecond) // polling the condition, under the deadline above
	}
	if _, _, problems, err := db.VerifyAudit(ctx); err != nil || len(problems) != 0 {
		t.Fatalf("%q %v", problems, err)
	}
}

// TestReadRecordsOutliveAFailedCommit: on PostgreSQL another session holds
// the audit table locked while audited reads are answered, and the
// writer's commit of their records fails, past the database's
// statement_timeout or with its session ended (pg_terminate_backend). The
// node dropped the batch and went on answering reads: of 6,000 Gets of
// national records answered, 1,859 had a read record (an outside review).
// The records are kept and committed once the lock is released, every
// answered read's among them; meanwhile the queue stays bounded, and reads
// beyond it are refused, not answered.
func TestReadRecordsOutliveAFailedCommit(t *testing.T) {
	for _, failure := range []string{"statement_timeout", "session ended"} {
		t.Run(failure, func(t *testing.T) {
			ctx := context.Background()
			location := newLocation(t, "postgres")
			if failure == "statement_timeout" {
				pgtest.AlterDatabase(t, location, "SET statement_timeout = '300ms'")
			}
			var logs testlog.Buffer
			_, key, _ := ed25519.GenerateKey(nil)
			db, err := sqlstore.Open(ctx, location, "cao-bang", sqlstore.Options{Key: key, ReadAuditQueue: 4, ReadAuditWait: 20 * time.Millisecond,
				Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			const name = "provinces/cao-bang/agreements/nat"
			writeNational(t, db, name)

			admin := openRaw(t, location)
			release := lockAudit(t, location)
			answered := 0
			readUntilRefused := func() {
				t.Helper()
				answered += readsUntilRefused(t, db, name)
			}
			readUntilRefused()
			pid := writerWaitingOnLock(t, admin, 0)
			if failure == "statement_timeout" {
				for deadline := time.Now().Add(30 * time.Second); !strings.Contains(logs.String(), "their commit failed"); time.Sleep(10 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("no commit of read records failed past the statement_timeout; log:\n%s", logs.String())
					}
				}
			} else {
				terminate(t, admin, pid)
				// The writer's next try, on a session of its own.
				writerWaitingOnLock(t, admin, pid)
			}
			// Reads beyond the queue are refused while the records wait.
			readUntilRefused()
			release()
			waitForReadRecords(t, db, name, answered)
		})
	}
}

// TestReadRecordsUnstoredAtCloseAreTriedAgain: the store closes while the
// commit of read records fails (another session holds the audit table
// locked, and the writer's sessions are ended): the records are tried once
// more at close, and stored then.
func TestReadRecordsUnstoredAtCloseAreTriedAgain(t *testing.T) {
	ctx := context.Background()
	location := newLocation(t, "postgres")
	_, key, _ := ed25519.GenerateKey(nil)
	db, err := sqlstore.Open(ctx, location, "cao-bang", sqlstore.Options{Key: key, ReadAuditQueue: 4, ReadAuditWait: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const name = "provinces/cao-bang/agreements/nat"
	writeNational(t, db, name)
	admin := openRaw(t, location)
	release := lockAudit(t, location)
	answered := readsUntilRefused(t, db, name)
	pid := writerWaitingOnLock(t, admin, 0)
	closed := make(chan error, 1)
	go func() { closed <- db.Close() }()
	// Once the store refuses reads as closing, the commit under way fails;
	// the one at close fails; its try again commits.
	reader := storage.WithActor(ctx, storage.Actor{Name: "token:aaaa (viewer)", Action: "get", Reads: storage.ReadsConfidential})
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		_, err := db.Get(reader, resource.Agreements, name)
		if e, ok := apperr.As(err); ok && e.Code == codes.Unavailable && strings.Contains(e.Error(), "shutting down") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a read while the store closes: %v, want UNAVAILABLE as it shuts down", err)
		}
	}
	terminate(t, admin, pid)
	pid = writerWaitingOnLock(t, admin, pid)
	terminate(t, admin, pid)
	writerWaitingOnLock(t, admin, pid)
	release()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	db, err = sqlstore.Open(ctx, location, "", sqlstore.Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	waitForReadRecords(t, db, name, answered)
}

// writeNational writes a national agreement named name.
func writeNational(t *testing.T, db *sqlstore.DB, name string) {
	t.Helper()
	_, err := db.Write(context.Background(), storage.Write{Kind: resource.Agreements, Name: name,
		Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
			return &twinningv1.Agreement{Name: name, DisplayName: "A", Visibility: typev1.Visibility_VISIBILITY_NATIONAL}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
}

// lockAudit holds the audit table of the PostgreSQL store at location
// locked from another session (as a long report or a VACUUM FULL could)
// until release is called: the writer's inserts wait for it.
func lockAudit(t *testing.T, location string) (release func()) {
	t.Helper()
	ctx := context.Background()
	tx, err := openRaw(t, location).BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "SET LOCAL statement_timeout = 0; LOCK TABLE audit IN SHARE MODE"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback() })
	return func() {
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
	}
}

// readsUntilRefused reads name as a viewer whose reads are audited until
// a read is refused, RESOURCE_EXHAUSTED as the audit trail is behind, and
// returns how many were answered.
func readsUntilRefused(t *testing.T, db *sqlstore.DB, name string) int {
	t.Helper()
	reader := storage.WithActor(context.Background(), storage.Actor{Name: "token:aaaa (viewer)", Action: "get", Reads: storage.ReadsConfidential})
	for answered, deadline := 0, time.Now().Add(30*time.Second); ; answered++ {
		_, err := db.Get(reader, resource.Agreements, name)
		if e, ok := apperr.As(err); ok && e.Code == codes.ResourceExhausted && strings.Contains(e.Error(), "audit trail is behind") {
			return answered
		}
		if err != nil {
			t.Fatalf("read %d: %v, want an answer or RESOURCE_EXHAUSTED as the audit trail is behind", answered, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d reads answered, none refused, while the audit table is locked", answered+1)
		}
	}
}

// writerWaitingOnLock waits for the store's writer session (not pid) to
// wait on a lock, and returns its pid.
func writerWaitingOnLock(t *testing.T, admin *sql.DB, not int) int {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var pid int
		err := admin.QueryRow("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'provex' AND wait_event_type = 'Lock' AND pid <> $1", not).Scan(&pid)
		if err == nil {
			return pid
		}
		if !errors.Is(err, sql.ErrNoRows) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no writer session (but %d) waits on the audit table's lock", not)
		}
	}
}

// terminate ends the session pid, as pg_terminate_backend does.
func terminate(t *testing.T, admin *sql.DB, pid int) {
	t.Helper()
	if _, err := admin.Exec("SELECT pg_terminate_backend($1)", pid); err != nil {
		t.Fatal(err)
	}
}

// waitForReadRecords waits until the trail holds answered read records of
// name, each naming it (found by its name through audit_names), and no
// more, and verifies.
func waitForReadRecords(t *testing.T, db *sqlstore.DB, name string, answered int) {
	t.Helper()
	ctx := context.Background()
	var reads int
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		records, err := db.AuditRecords(ctx, 0, 100000, "", name)
		if err != nil {
			t.Fatal(err)
		}
		reads = 0
		for _, r := range records {
			if r.Read {
				if !slices.Equal(r.Names, []string{name}) {
					t.Fatalf("read record %d names %q, want %s", r.Seq, r.Names, name)
				}
				reads++
			}
		}
		if reads >= answered || time.Now().After(deadline) {
			break
		}
	}
	if reads != answered {
		t.Fatalf("%d reads answered, %d read records stored", answered, reads)
	}
	if _, _, problems, err := db.VerifyAudit(ctx); err != nil || len(problems) != 0 {
		t.Fatalf("the trail: %q %v", problems, err)
	}
}
