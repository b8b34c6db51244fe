package sqlstore_test

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/audit"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

// TestAuditTrail writes as two actors, then tampers with the database file
// the way someone with access to it could, and checks that verification
// names each kind of tampering.
func TestAuditTrail(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "provex.db")
	_, key, _ := ed25519.GenerateKey(nil)
	db, err := sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{Key: key})
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

	// refusedAtOpen are the changes after which the trail no longer ends at
	// the head the node signed: the node, opened with its key, refuses to
	// sign over them (its next commit would have made them pass).
	refusedAtOpen := map[string]bool{}
	tamperWith := func(what string, edit func(raw *sql.DB) error, key ed25519.PrivateKey, want string) []string {
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
		if err := edit(raw); err != nil {
			t.Fatal(err)
		}
		raw.Close()
		if key != nil {
			db, err := sqlstore.Open(ctx, copyPath, "cao-bang", sqlstore.Options{Key: key})
			if refused := err != nil && strings.Contains(err.Error(), "not as this node signed it"); refused != refusedAtOpen[what] {
				t.Errorf("after %s, the node opened with its key: %v, want it refused: %v", what, err, refusedAtOpen[what])
			}
			if err == nil {
				db.Close()
			}
		}
		var pub ed25519.PublicKey
		if key != nil {
			pub = key.Public().(ed25519.PublicKey)
		}
		db, err := sqlstore.Open(ctx, copyPath, "", sqlstore.Options{PublicKey: pub})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		_, _, problems, err := db.VerifyAudit(ctx)
		if err != nil || !strings.Contains(strings.Join(problems, "\n"), want) {
			t.Errorf("after %s: problems %q (%v), want one containing %q", what, problems, err, want)
		}
		return problems
	}
	tamper := func(stmt, want string) []string {
		t.Helper()
		return tamperWith(stmt, func(raw *sql.DB) error { _, err := raw.Exec(stmt); return err }, key, want)
	}
	// Someone with the file but not the key edits a record and re-chains
	// every record after it: each hash is right, but not the signed head.
	editRecord3 := func(r *audit.Record) {
		if r.Seq == 3 {
			r.Actor = "token:cccc (admin)"
		}
	}
	rechain := func(raw *sql.DB) error { return rechainAudit(raw, path, editRecord3, nil, "") }
	// (A trail with no signed head is signed at start: an older release's
	// has none. Only a check before the start tells one whose signature
	// was removed.)
	for _, what := range []string{"editing record 3 and re-chaining the trail", "re-chaining and signing with another key",
		"DELETE FROM audit WHERE seq = 6", "UPDATE audit SET seq = seq + 10 WHERE seq >= 4"} {
		refusedAtOpen[what] = true
	}
	tamperWith("editing record 3 and re-chaining the trail", rechain, key, "the node key signed record 6 as the head, but the trail ends at record 6 with another hash")
	// And one who also signs the new head with a key of their own.
	_, forger, _ := ed25519.GenerateKey(nil)
	tamperWith("re-chaining and signing with another key", func(raw *sql.DB) error {
		return rechainAudit(raw, path, editRecord3, forger, "cao-bang")
	}, key, "does not verify with the node's key")
	tamper("DELETE FROM audit_head", "carries no signature of the node key")
	tamperWith("nothing, without the node key", func(*sql.DB) error { return nil }, nil, "the node's public key was not given")
	tamper("UPDATE audit SET actor = 'token:cccc (admin)' WHERE seq = 3", "record 3 was edited")
	tamper("UPDATE audit SET resource = 'provinces/cao-bang/agreements/zz' WHERE seq = 6", "record 6 was edited")
	// The trail still ends at the head the node signed: it was said to
	// end at record 5, as if the newest were removed (an outside review).
	if problems := tamper("DELETE FROM audit WHERE seq = 2", "record 3 follows record 1"); strings.Contains(strings.Join(problems, "\n"), "as the head") {
		t.Errorf("a record removed from the middle of the trail: problems %q, want none of its signed head", problems)
	}
	tamper("DELETE FROM audit WHERE seq = 6", "changes cao-bang/6..6 have no audit record")
	tamper("UPDATE audit SET seq = seq + 10 WHERE seq >= 4", "record 14 follows record 3")

	// A node whose key was replaced while it was stopped opens with the
	// manifest's previous keys, one of which signed its head.
	_, next, _ := ed25519.GenerateKey(nil)
	if _, err := sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{Key: next}); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Errorf("opened with a new key and no past keys: %v, want refused", err)
	}
	db, err = sqlstore.Open(ctx, path, "cao-bang", sqlstore.Options{Key: next, PastKeys: []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}})
	if err != nil {
		t.Fatalf("opened with a new key and the old one among the past keys: %v", err)
	}
	db.Close()
}
