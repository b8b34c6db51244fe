package sqlstore_test

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"strings"
	"testing"

	"github.com/provex/provex/audit"
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
