package sqlstore

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
)

// TestFullDiskRefusesWritesAndKeepsNothingOfThem: the database may grow no
// further (SQLite's page limit gives the SQLITE_FULL a full disk gives)
// while writers run at once, so some group commits fail. Each refused
// write is RESOURCE_EXHAUSTED saying the disk is full, not INTERNAL; none
// of it is kept; every write acknowledged is, and the log and the records
// verify. Once there is room again the node writes on, at the next seq.
func TestFullDiskRefusesWritesAndKeepsNothingOfThem(t *testing.T) {
	ctx := context.Background()
	pub, key, _ := ed25519.GenerateKey(nil)
	db, err := Open(ctx, filepath.Join(t.TempDir(), "provex.db"), "cao-bang", Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	write := func(id string) error {
		name := "provinces/cao-bang/agreements/" + id
		_, err := db.Write(ctx, storage.Write{Kind: resource.Agreements, Name: name, RequestID: "r-" + id,
			Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
				return &twinningv1.Agreement{Name: name, DisplayName: strings.Repeat("hợp tác ", 100) + id}, nil
			}})
		return err
	}
	for i := range 20 {
		if err := write(fmt.Sprintf("before-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	setLimit := func(pages string) {
		t.Helper()
		if err := db.runInWriter(ctx, func(tx *writeTx) error {
			_, err := tx.Exec("PRAGMA max_page_count = " + pages)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	var pages int
	if err := db.reader.QueryRow("PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	setLimit(fmt.Sprint(pages + 12))

	var (
		mu              sync.Mutex
		stored, refused []string
		wg              sync.WaitGroup
	)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				id := fmt.Sprintf("w%d-%d", w, i)
				err := db.Failure(ctx, write(id))
				mu.Lock()
				switch {
				case err == nil:
					stored = append(stored, id)
				case status.Code(err) == codes.ResourceExhausted && strings.Contains(err.Error(), "disk is full") && strings.Contains(err.Error(), "nothing of this call was stored"):
					refused = append(refused, id)
				default:
					t.Errorf("write %s: %v, want RESOURCE_EXHAUSTED saying the disk is full", id, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(refused) == 0 {
		t.Fatalf("no write was refused with the database at its limit (%d stored)", len(stored))
	}
	for _, id := range stored {
		if _, err := db.Get(ctx, resource.Agreements, "provinces/cao-bang/agreements/"+id); err != nil {
			t.Errorf("%s was acknowledged and is not found: %v", id, err)
		}
	}
	for _, id := range refused {
		if _, err := db.Get(ctx, resource.Agreements, "provinces/cao-bang/agreements/"+id); status.Code(err) != codes.NotFound {
			t.Errorf("%s was refused, and Get says %v, not NOT_FOUND", id, err)
		}
	}
	head, err := db.Head(ctx)
	if err != nil || head.Seq != uint64(20+len(stored)) {
		t.Fatalf("head %d (%v) after 20 + %d acknowledged writes", head.Seq, err, len(stored))
	}

	if db.DiskFull().IsZero() {
		t.Error("the store does not say its disk is full")
	}
	// A write answered from its request id stores nothing: the disk is as
	// full as before (the mark was cleared, and the health flapped with
	// every retry; an outside review).
	if err := write("before-0"); err != nil {
		t.Fatalf("a write retried with its request id: %v", err)
	}
	if db.DiskFull().IsZero() {
		t.Error("a write answered from its request id cleared the mark of the full disk")
	}
	// A read the audit trail must record would lose its record: refused.
	audited := storage.WithActor(ctx, storage.Actor{Name: "token:aaaa (admin)", RequestID: "req-read", Action: "get", Reads: storage.ReadsAll})
	if _, err := db.Get(audited, resource.Agreements, "provinces/cao-bang/agreements/before-1"); status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "audit trail cannot record") {
		t.Errorf("an audited read on the full disk: %v, want RESOURCE_EXHAUSTED", err)
	}
	if _, err := db.Get(ctx, resource.Agreements, "provinces/cao-bang/agreements/before-1"); err != nil {
		t.Errorf("a read the trail does not record, on the full disk: %v", err)
	}
	setLimit("1073741823")
	// Nobody writes: the writer's probe finds the room, and the reads the
	// trail records are served again (the mark stayed until a write came;
	// an outside review).
	deadline := time.Now().Add(3 * roomProbeEvery)
	for !db.DiskFull().IsZero() {
		if time.Now().After(deadline) {
			t.Fatal("the store still says its disk is full with room again and no write")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := db.Get(audited, resource.Agreements, "provinces/cao-bang/agreements/before-1"); err != nil {
		t.Errorf("an audited read once there is room: %v", err)
	}
	if err := write(refused[0]); err != nil {
		t.Fatalf("a refused write retried once there is room: %v", err)
	}
	if head, err := db.Head(ctx); err != nil || head.Seq != uint64(21+len(stored)) {
		t.Fatalf("head %d (%v) after the retried write, want %d", head.Seq, err, 21+len(stored))
	}
	if res, err := db.VerifyLog(ctx, "cao-bang", []ed25519.PublicKey{pub}, true); err != nil || len(res.Damaged) != 0 {
		t.Fatalf("the log after the full disk: %+v, %v", res, err)
	}
	if check, err := db.CheckRecords(ctx); err != nil || check.Found != 0 {
		t.Fatalf("the records after the full disk: %+v, %v", check, err)
	}
	if _, _, problems, err := db.VerifyAudit(ctx); err != nil || len(problems) != 0 {
		t.Fatalf("the audit trail after the full disk: %v, %v", problems, err)
	}
}

// TestFailureOfACallWhoseContextEnded: a write whose caller's deadline
// passed is still carried out, and its failure for a full disk or a
// damaged file is still that (it was left unclassified, INTERNAL, and a
// damaged file went unrecorded; an outside review); only the server's
// being away is not judged from such a call.
func TestFailureOfACallWhoseContextEnded(t *testing.T) {
	db := openAt(t, filepath.Join(t.TempDir(), "provex.db"))
	defer db.Close()
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	if err := db.Failure(ended, fmt.Errorf("commit: %w", sqlite3.Error{Code: sqlite3.ErrFull})); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("a full disk met by a call whose context ended: %v", err)
	}
	if err := db.Failure(ended, fmt.Errorf("read: %w", sqlite3.Error{Code: sqlite3.ErrCorrupt})); status.Code(err) != codes.Unavailable || db.FileDamage() == "" {
		t.Errorf("a damaged file met by a call whose context ended: %v (recorded: %q)", err, db.FileDamage())
	}
}

// TestStaleSystemErrorIsNotOutOfFiles: go-sqlite3 gives, with every error,
// SQLite's last system error on the connection, which may be a file
// descriptor it could not get long before (a review): only an error of
// opening or of the disk with it is the node out of files.
func TestStaleSystemErrorIsNotOutOfFiles(t *testing.T) {
	db := openAt(t, filepath.Join(t.TempDir(), "provex.db"))
	defer db.Close()
	ctx := context.Background()
	if err := db.Failure(ctx, fmt.Errorf("open: %w", sqlite3.Error{Code: sqlite3.ErrCantOpen, SystemErrno: syscall.EMFILE})); status.Code(err) != codes.Unavailable {
		t.Errorf("SQLITE_CANTOPEN with EMFILE: %v, want UNAVAILABLE", err)
	}
	if err := db.Failure(ctx, fmt.Errorf("insert: %w", sqlite3.Error{Code: sqlite3.ErrConstraint, SystemErrno: syscall.EMFILE})); status.Code(err) == codes.Unavailable {
		t.Errorf("a constraint with a stale EMFILE: %v, want it left as it is", err)
	}
}

// TestReadOnlyDatabaseSaysWhatToDo: a node started by a user who may not
// write its data directory was told SQLite's words alone ("attempt to
// write a readonly database": an outside review).
func TestReadOnlyDatabaseSaysWhatToDo(t *testing.T) {
	err := readOnlyHint("/var/lib/provex/provex.db", fmt.Errorf("apply 1: %w", sqlite3.Error{Code: sqlite3.ErrReadonly}))
	if !errors.As(err, new(sqlite3.Error)) || !strings.Contains(err.Error(), "may not write /var/lib/provex/provex.db or its directory; run the node as their owner") {
		t.Errorf("a read-only database: %v", err)
	}
	other := sqlite3.Error{Code: sqlite3.ErrBusy}
	if err := readOnlyHint("x", other); err != error(other) {
		t.Errorf("another error changed: %v", err)
	}
}

// TestCancelInAnotherLanguageNamesBoth: PostgreSQL words a 57014 in its
// lc_messages, and only its English words tell a statement_timeout from a
// cancel another session asked for; in another language (here German's,
// as a server with that locale says a cancel by request) the words name
// both, rather than guess.
func TestCancelInAnotherLanguageNamesBoth(t *testing.T) {
	for message, want := range map[string]string{
		"canceling statement due to statement timeout": "did not answer in time (its statement_timeout)",
		"canceling statement due to user request":      "at another session's request",
		"storniere Anfrage wegen Benutzeraufforderung": "it ran past its statement_timeout, or another session asked (pg_cancel_backend)",
	} {
		err := fmt.Errorf("insert: %w", &pgconn.PgError{Severity: "ERROR", Code: "57014", Message: message})
		if got := cancelReason(err); !strings.Contains(got, want) {
			t.Errorf("57014 %q: %q, want it to say %q", message, got, want)
		}
	}
}
