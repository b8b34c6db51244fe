package sqlstore_test

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"slices"
	"strings"
	"testing"

	"github.com/provex/provex/audit"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

// rechainAudit edits the records of the trail in raw (the store at
// location) with edit, re-chains them and, when signer is not nil, signs
// the new head as member with it: what someone with the database file
// (and signer) can do.
func rechainAudit(raw *sql.DB, location string, edit func(*audit.Record), signer ed25519.PrivateKey, member string) error {
	bind := func(q string) string {
		if sqlstore.IsPostgres(location) {
			return sqlstore.Rebind(q)
		}
		return q
	}
	rows, err := raw.Query("SELECT seq, time, actor, request_id, action, resource, origin, first_seq, last_seq, change_hash, prev_hash, read, names FROM audit ORDER BY seq")
	if err != nil {
		return err
	}
	var all []audit.Record
	for rows.Next() {
		var (
			r     audit.Record
			names string
		)
		if err := rows.Scan(&r.Seq, &r.Time, &r.Actor, &r.RequestID, &r.Action, &r.Resource, &r.Origin, &r.FirstSeq, &r.LastSeq, &r.ChangeHash, &r.PrevHash, &r.Read, &names); err != nil {
			rows.Close()
			return err
		}
		if names != "" {
			r.Names = strings.Split(names, "\n")
		}
		all = append(all, r)
	}
	rows.Close()
	for i := range all {
		edit(&all[i])
		if i > 0 {
			all[i].PrevHash = all[i-1].Hash
		}
		all[i].Hash = audit.Sum(&all[i])
		if _, err := raw.Exec(bind("UPDATE audit SET actor = ?, prev_hash = ?, hash = ? WHERE seq = ?"), all[i].Actor, all[i].PrevHash, all[i].Hash, all[i].Seq); err != nil {
			return err
		}
	}
	if signer == nil || len(all) == 0 {
		return nil
	}
	head := all[len(all)-1]
	_, err = raw.Exec(bind("UPDATE audit_head SET seq = ?, hash = ?, signature = ?"), head.Seq, head.Hash, audit.SignHead(signer, member, head.Seq, head.Hash))
	return err
}

// asAdmin is a call of an admin token, whose every read is audited.
func asAdmin(ctx context.Context) context.Context {
	return storage.WithActor(ctx, storage.Actor{Name: "token:aaaa (admin)", RequestID: "req", Action: "/provex.twinning.v1.TwinningService/CreateAgreement", Reads: storage.ReadsAll})
}

// write writes the agreement id as an admin.
func write(t *testing.T, db *sqlstore.DB, id string) {
	t.Helper()
	if err := writeAgreement(asAdmin(context.Background()), db, id); err != nil {
		t.Fatal(err)
	}
}

// TestRetiredKeyCannotSignTheTrailAfterARotation: a node rotates its key
// (the manifest names the old one among its previous keys) and signs on
// with the new one. Someone holding the retired key and the database file
// rewrites the trail (every write's actor changed) and signs its head with
// the retired key: the node refuses to start on it, as provex audit verify
// does, rather than sign over it (an outside review, which the node let
// start). A store from before the rotation still opens.
func TestRetiredKeyCannotSignTheTrailAfterARotation(t *testing.T) {
	for _, store := range databases {
		t.Run(store, func(t *testing.T) {
			ctx := context.Background()
			location := newLocation(t, store)
			_, old, _ := ed25519.GenerateKey(nil)
			_, next, _ := ed25519.GenerateKey(nil)
			past := []ed25519.PublicKey{old.Public().(ed25519.PublicKey)}
			db, err := sqlstore.Open(ctx, location, "cao-bang", sqlstore.Options{Key: old})
			if err != nil {
				t.Fatal(err)
			}
			write(t, db, "a1")
			db.Close()
			// Restored from before the rotation: its head is the old
			// key's, and the node has not signed with the new one.
			db, err = sqlstore.Open(ctx, location, "cao-bang", sqlstore.Options{Key: next, PastKeys: past})
			if err != nil {
				t.Fatalf("a store from before the rotation, opened with the new key and the old among the past keys: %v", err)
			}
			if err := db.UseKeys(ctx, next, nil); err != nil {
				t.Fatal(err)
			}
			write(t, db, "a2")
			db.Close()
			if db, err = sqlstore.Open(ctx, location, "cao-bang", sqlstore.Options{Key: next, PastKeys: past}); err != nil {
				t.Fatalf("the trail as the node signed it after the rotation: %v", err)
			}
			db.Close()

			err = rechainAudit(openRaw(t, location), location, func(r *audit.Record) {
				if !r.Read {
					r.Actor = "token:0000000000000000 (admin)"
				}
			}, old, "cao-bang")
			if err != nil {
				t.Fatal(err)
			}
			db, err = sqlstore.Open(ctx, location, "cao-bang", sqlstore.Options{Key: next, PastKeys: past})
			if err == nil {
				db.Close()
				t.Fatal("the node opened on a trail rewritten after the rotation and signed with the retired key")
			}
			if !strings.Contains(err.Error(), "not as this node signed it") || !strings.Contains(err.Error(), "signed with a previous key") {
				t.Errorf("refused with %q, want it to say the trail is not as the node signed it, with a previous key", err)
			}
		})
	}
}

// TestAuditNamesAreChecked: the lookup of who read a record (audit_names)
// is not hashed; rows removed from it hid a read from ListAuditEntries by
// the record's name, and every check passed (an outside review). The
// check rebuilds it from the read records' names, which are hashed, both
// ways, and the repair rewrites it from them.
func TestAuditNamesAreChecked(t *testing.T) {
	const read = "provinces/cao-bang/agreements/sec1"
	for _, store := range databases {
		t.Run(store, func(t *testing.T) {
			ctx := context.Background()
			location := newLocation(t, store)
			_, key, _ := ed25519.GenerateKey(nil)
			db, err := sqlstore.Open(ctx, location, "cao-bang", sqlstore.Options{Key: key})
			if err != nil {
				t.Fatal(err)
			}
			write(t, db, "sec1")
			write(t, db, "sec2")
			page, err := db.List(asAdmin(ctx), storage.Query{Kind: resource.Agreements, Province: "cao-bang", Limit: 10})
			if err != nil || len(page.Records) != 2 {
				t.Fatalf("list: %v, %d records", err, len(page.Records))
			}
			db.Close() // commits the queued read record
			whoRead := func(db *sqlstore.DB) []int64 {
				t.Helper()
				records, err := db.AuditRecords(ctx, 0, 100, "", read)
				if err != nil {
					t.Fatal(err)
				}
				var seqs []int64
				for _, r := range records {
					seqs = append(seqs, r.Seq)
				}
				return seqs
			}

			raw := openRaw(t, location)
			if _, err := raw.Exec("DELETE FROM audit_names WHERE name = '" + read + "'"); err != nil {
				t.Fatal(err)
			}
			if _, err := raw.Exec("INSERT INTO audit_names (name, seq) VALUES ('provinces/cao-bang/agreements/never', 1)"); err != nil {
				t.Fatal(err)
			}
			db, err = sqlstore.Open(ctx, location, "cao-bang", sqlstore.Options{Key: key})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if got := whoRead(db); !slices.Equal(got, []int64{1}) {
				t.Fatalf("who read %s once its lookup row is gone: records %v, want the write alone", read, got)
			}
			c, err := db.CheckAudit(ctx)
			if err != nil {
				t.Fatal(err)
			}
			found := strings.Join(c.Problems, "\n")
			if c.NamesWrong != 2 || !strings.Contains(found, "read record 3 names "+read+", but audit_names lacks the row") ||
				!strings.Contains(found, "audit_names says record 1 read provinces/cao-bang/agreements/never, which that record does not name") {
				t.Errorf("check of an edited audit_names: %d wrong, problems %q", c.NamesWrong, c.Problems)
			}
			if _, _, problems, err := db.VerifyAudit(ctx); err != nil || len(problems) != len(c.Problems) {
				t.Errorf("VerifyAudit (audit:verify): %q, %v; want the check's problems", problems, err)
			}

			if _, err := db.RepairAuditNames(ctx); err != nil {
				t.Fatal(err)
			}
			if c, err := db.CheckAudit(ctx); err != nil || len(c.Problems) > 0 || c.NamesWrong != 0 {
				t.Errorf("after the repair: %d wrong, problems %q, %v", c.NamesWrong, c.Problems, err)
			}
			if got := whoRead(db); !slices.Equal(got, []int64{1, 3}) {
				t.Errorf("who read %s after the repair: records %v, want the write and the list", read, got)
			}
		})
	}
}
