package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlite"
)

// TestAuditTrail writes as two actors, then tampers with the database file
// the way someone with access to it could, and checks that verification
// names each kind of tampering.
func TestAuditTrail(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "provex.db")
	db, err := sqlite.Open(ctx, path, "cao-bang", sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		actor := storage.Actor{Name: "token:aaaa (editor)", RequestID: fmt.Sprint("req-", i), Action: "/provex.twinning.v1.TwinningService/CreateAgreement"}
		if i%2 == 1 {
			actor.Name = "token:bbbb (admin)"
		}
		name := fmt.Sprintf("provinces/cao-bang/agreements/a%d", i)
		_, err := db.Write(storage.WithActor(ctx, actor), storage.Write{Kind: resource.Agreements, Name: name,
			Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
				return &twinningv1.Agreement{Name: name, DisplayName: "A"}, nil
			}})
		if err != nil {
			t.Fatal(err)
		}
	}
	// A write that fails inside a batch leaves no audit record behind.
	_, err = db.Write(ctx, storage.Write{Kind: resource.Agreements, Name: "provinces/cao-bang/agreements/bad",
		Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) { return nil, fmt.Errorf("refused") }})
	if err == nil {
		t.Fatal("a refused write succeeded")
	}
	records, err := db.AuditRecords(ctx, 0, 100, "token:bbbb (admin)", "")
	if err != nil || len(records) != 3 || records[0].Resource != "provinces/cao-bang/agreements/a1" || records[0].RequestID != "req-1" ||
		records[0].Origin != "cao-bang" || records[0].FirstSeq != 2 || records[0].LastSeq != 2 {
		t.Fatalf("records of one actor: %v %+v", err, records)
	}
	if n, head, problems, err := db.VerifyAudit(ctx); err != nil || n != 6 || len(head) != 32 || len(problems) != 0 {
		t.Fatalf("intact trail: %d records, %v, %v", n, problems, err)
	}
	db.Close()

	tamper := func(stmt, want string) {
		t.Helper()
		dir := t.TempDir()
		copyPath := filepath.Join(dir, "provex.db")
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
		db, err := sqlite.Open(ctx, copyPath, "", sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		_, _, problems, err := db.VerifyAudit(ctx)
		if err != nil || !strings.Contains(strings.Join(problems, "\n"), want) {
			t.Errorf("after %q: problems %q (%v), want one containing %q", stmt, problems, err, want)
		}
	}
	tamper("UPDATE audit SET actor = 'token:cccc (admin)' WHERE seq = 3", "record 3 was edited")
	tamper("UPDATE audit SET resource = 'provinces/cao-bang/agreements/zz' WHERE seq = 6", "record 6 was edited")
	tamper("DELETE FROM audit WHERE seq = 2", "record 3 follows record 1")
	tamper("DELETE FROM audit WHERE seq = 6", "changes cao-bang/6..6 have no audit record")
	tamper("UPDATE audit SET seq = seq + 10 WHERE seq >= 4", "record 14 follows record 3")
}
