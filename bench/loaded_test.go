package main

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/federation"
	"github.com/provex/provex/internal/pgtest"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/server"
	"github.com/provex/provex/storage/sqlstore"
)

// TestLoadedNodesServeEveryQuery: bench list, search and views, each on a
// small load kept in a data directory, answer every query, and leave a
// store that verifies with the node's key: the loaders sign the log and
// the audit trail with the node.key the node starts with. (Loaded
// unsigned, the node's first log check marked every entry damaged and the
// queries after it failed UNAVAILABLE; the check below fails such a store
// whether or not the queries ran after that check.)
func TestLoadedNodesServeEveryQuery(t *testing.T) {
	for _, tc := range []struct {
		bench  string
		run    func(args []string) error
		member string
	}{
		{"list", runList, "cao-bang"},
		{"search", runSearch, "cao-bang"},
		{"views", runViews, resource.Ministry},
	} {
		t.Run(tc.bench, func(t *testing.T) {
			dir := t.TempDir()
			if err := tc.run([]string{"-records", "700", "-queries", "2", "-data", dir}); err != nil {
				t.Fatal(err)
			}
			checkSignedByNode(t, dir, filepath.Join(dir, server.DatabaseFile), tc.member)
		})
	}
}

// TestUnsignedLoadIsLoadedAgain: a data directory an earlier bench loaded
// without the node's key (its marker there, and the node.key the node
// made when it first ran on it) is loaded again, signed, not served.
func TestUnsignedLoadIsLoadedAgain(t *testing.T) {
	dir := t.TempDir()
	const records = 700
	writeUnsigned(t, dir, filepath.Join(dir, server.DatabaseFile), "cao-bang", records, func(i int) proto.Message {
		a := listAgreement(i)
		a.Name = fmt.Sprintf("provinces/cao-bang/agreements/a%07d", i)
		return a
	})
	if err := os.WriteFile(filepath.Join(dir, "loaded-700"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := runList([]string{"-records", "700", "-queries", "2", "-data", dir}); err != nil {
		t.Fatal(err)
	}
	checkSignedByNode(t, dir, filepath.Join(dir, server.DatabaseFile), "cao-bang")
}

// TestUnsignedLoadOnPostgresIsRefused: a PostgreSQL store an earlier bench
// loaded unsigned is refused with a clear reason, not served.
func TestUnsignedLoadOnPostgresIsRefused(t *testing.T) {
	store := pgtest.NewDatabase(t)
	dir := t.TempDir()
	const records = 700
	writeUnsigned(t, dir, store, resource.Ministry, 20, func(i int) proto.Message {
		return workflowRecord(resource.Ministry, len(resource.Provinces()), i)
	})
	if err := os.WriteFile(loadedMarker(dir, store, "workflow", records), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := loadFederation(dir, store, records, "workflow", workflowRecord)
	if !errors.Is(err, errUnsignedLoad) || !strings.Contains(err.Error(), "give an empty database") {
		t.Fatalf("got %v, want a refusal of the unsigned store", err)
	}
}

// writeUnsigned writes n records of member into the store at location
// without a key, as the loaders did before they signed, and gives dir the
// node.key the node made when it first started on it.
func writeUnsigned(t *testing.T, dir, location, member string, n int, record func(i int) proto.Message) {
	t.Helper()
	db, err := sqlstore.Open(ctx, location, member, sqlstore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := writeRecords(db, n, 8, record); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	keys, err := federation.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	if err := federation.WriteKeyFile(filepath.Join(dir, server.KeyFile), keys); err != nil {
		t.Fatal(err)
	}
}

// checkSignedByNode checks member's log in the store at location as the
// node's log check does, and its audit trail, with the key in dir's
// node.key: nothing damaged, every entry signed, the head signed.
func checkSignedByNode(t *testing.T, dir, location, member string) {
	t.Helper()
	keys, err := federation.ReadKeyFile(filepath.Join(dir, server.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	pub := keys.Signing.Public().(ed25519.PublicKey)
	db, err := sqlstore.Open(ctx, location, member, sqlstore.Options{Logger: slog.New(slog.DiscardHandler), PublicKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	head, err := db.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	check, err := db.VerifyLog(ctx, member, []ed25519.PublicKey{pub}, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(check.Damaged) > 0 || check.BadCheckpoints > 0 || head.Seq == 0 || check.Verified != head.Seq {
		t.Errorf("%s's log: %d entries, signed up to %d, damaged %v, %d bad checkpoints: %v", member, head.Seq, check.Verified, check.Damaged, check.BadCheckpoints, check.Problems)
	}
	if _, _, problems, err := db.VerifyAudit(ctx); err != nil || len(problems) > 0 {
		t.Errorf("audit trail: %v %v", problems, err)
	}
}

// TestUnsignedCopiesAreRefused: a multiplied store an earlier bench loaded
// unsigned is refused, not loaded again whole as if it were its copies.
func TestUnsignedCopiesAreRefused(t *testing.T) {
	dir := t.TempDir()
	const records, copies = 2100, 3
	writeUnsigned(t, dir, filepath.Join(dir, server.DatabaseFile), resource.Ministry, 20, func(i int) proto.Message {
		return nationalRecord(resource.Ministry, len(resource.Provinces()), i)
	})
	if err := os.WriteFile(loadedMarker(dir, "", "national-copies3", records), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := loadMultiplied(dir, "", records, copies, "national-copies3")
	if !errors.Is(err, errUnsignedLoad) || !strings.Contains(err.Error(), "start again on a new -data") {
		t.Fatalf("got %v, want a refusal of the unsigned store", err)
	}
}
