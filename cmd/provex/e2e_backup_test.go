package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/provex/provex/client"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
)

// TestBackupUnderWriteLoadVerifiesAndRestores backs up a node while clients
// write to it, then checks the copy as an operator would: provex verify
// passes on it, provex restore-backup puts it in a fresh data directory,
// and a node started there serves every write acknowledged before the
// backup began and continues its change log at the next sequence number.
func TestBackupUnderWriteLoadVerifiesAndRestores(t *testing.T) {
	bin := buildBinary(t)
	data := t.TempDir()
	p := startServe(t, bin, data)
	c, err := client.Dial(p.grpcAddr, client.WithToken(p.token))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var (
		mu       sync.Mutex
		acked    []string
		stop     atomic.Bool
		wg       sync.WaitGroup
		writeErr atomic.Value
	)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				id := fmt.Sprintf("b%d-%05d", w, i)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := c.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{
					Parent: "provinces/cao-bang", AgreementId: id,
					Agreement: &twinningv1.Agreement{DisplayName: "backup load " + id, Kind: twinningv1.Agreement_KIND_MOU},
				})
				cancel()
				if err != nil {
					writeErr.Store(err)
					return
				}
				mu.Lock()
				acked = append(acked, "provinces/cao-bang/agreements/"+id)
				mu.Unlock()
			}
		}()
	}
	ackedNow := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), acked...)
	}
	waitFor(t, 30*time.Second, func() (bool, string) {
		n := len(ackedNow())
		return n >= 200, fmt.Sprintf("%d writes acknowledged", n)
	})
	before := ackedNow()
	backup := filepath.Join(t.TempDir(), "cao-bang.backup.db")
	out, stderr, code := runCLI(t, bin, "", "", "backup", "--data", data, "--out", backup)
	during := len(ackedNow()) - len(before)
	if code != 0 {
		t.Fatalf("backup: exit %d, %s%s", code, out, stderr)
	}
	m := regexp.MustCompile(`(?m)^  cao-bang: change log up to (\d+)$`).FindStringSubmatch(out)
	if !strings.HasPrefix(out, "backed up cao-bang's database ") || m == nil {
		t.Fatalf("backup output:\n%s", out)
	}
	seq, _ := strconv.ParseUint(m[1], 10, 64)
	if seq < uint64(len(before)) {
		t.Fatalf("backup holds the log up to %d, but %d writes were acknowledged before it began", seq, len(before))
	}
	// The writes go on after the backup: it never stopped the node.
	waitFor(t, 30*time.Second, func() (bool, string) {
		n := len(ackedNow()) - len(before) - during
		return n >= 50, fmt.Sprintf("%d writes acknowledged after the backup", n)
	})
	stop.Store(true)
	wg.Wait()
	if err := writeErr.Load(); err != nil {
		t.Fatalf("a write failed while the backup ran: %v", err)
	}
	t.Logf("backup at seq %d; %d writes before it, %d while it ran", seq, len(before), during)

	// Backups are never overwritten, not even by a newer one.
	saved, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	_, stderr, code = runCLI(t, bin, "", "", "backup", "--data", data, "--out", backup)
	if code != 1 || !strings.Contains(stderr, backup+" already exists") {
		t.Fatalf("backup over an existing file: exit %d, %s", code, stderr)
	}
	if now, _ := os.ReadFile(backup); !bytes.Equal(now, saved) {
		t.Fatal("the refused backup changed the existing file")
	}
	p.stop(t, syscall.SIGTERM)

	key := filepath.Join(data, "node.key")
	out, stderr, code = runCLI(t, bin, "", "", "verify", "--db", backup, "--key", key)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("cao-bang: %d entries intact, signed up to %d", seq, seq)) ||
		!strings.Contains(out, "integrity check passed") {
		t.Fatalf("verify --db of the backup: exit %d, %s%s", code, out, stderr)
	}
	// Without the key, a node of its own has nothing to check its log
	// with; it was said to be a member the manifest removed.
	out, stderr, _ = runCLI(t, bin, "", "", "verify", "--db", backup)
	if !strings.Contains(out, fmt.Sprintf("note: cao-bang: %d entries not checked: no key to check them with; give --key", seq)) {
		t.Errorf("verify --db of the backup without its key: %s%s", out, stderr)
	}

	// A data directory that has a database is refused.
	_, stderr, code = runCLI(t, bin, "", "", "restore-backup", "--from", backup, "--data", data)
	if code != 1 || !strings.Contains(stderr, "provex.db already exists") {
		t.Fatalf("restore-backup over a database: exit %d, %s", code, stderr)
	}
	restored := filepath.Join(t.TempDir(), "restored")
	out, stderr, code = runCLI(t, bin, "", "", "restore-backup", "--from", backup, "--data", restored)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("cao-bang: change log up to %d", seq)) || !strings.Contains(out, "no node.key in") {
		t.Fatalf("restore-backup: exit %d, %s%s", code, out, stderr)
	}
	// The operator puts the node's key file back, as the README says.
	keyPEM, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(restored, "node.key"), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}

	p = startServe(t, bin, restored)
	if got, _ := originSeq(t, p, "cao-bang"); got != seq {
		t.Fatalf("restored node's log ends at %d, the backup's at %d", got, seq)
	}
	rc, err := client.Dial(p.grpcAddr, client.WithToken(p.token))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	for _, name := range before {
		got, err := rc.Get(context.Background(), name)
		if err != nil {
			t.Fatalf("%s, acknowledged before the backup, is not on the restored node: %v", name, err)
		}
		if !strings.HasPrefix(got.(*twinningv1.Agreement).GetDisplayName(), "backup load ") {
			t.Fatalf("%s has wrong content: %v", name, got)
		}
	}
	if _, err := rc.Twinning.CreateAgreement(context.Background(), &twinningv1.CreateAgreementRequest{
		Parent: "provinces/cao-bang", AgreementId: "after-restore",
		Agreement: &twinningv1.Agreement{DisplayName: "after restore", Kind: twinningv1.Agreement_KIND_MOU},
	}); err != nil {
		t.Fatalf("write on the restored node: %v", err)
	}
	if got, _ := originSeq(t, p, "cao-bang"); got != seq+1 {
		t.Fatalf("the restored node's first write is at seq %d, want %d", got, seq+1)
	}
	p.stop(t, syscall.SIGTERM)
	out, stderr, code = runCLI(t, bin, "", "", "verify", "--data", restored)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("cao-bang: %d entries intact, signed up to %d", seq+1, seq+1)) {
		t.Fatalf("verify of the restored node after its write: exit %d, %s%s", code, out, stderr)
	}
}

// TestBackupUsageAndMissingData checks the refusals an operator meets
// first: no --out, a data directory that holds no database (nothing is
// created, neither the backup nor the directory), and a restore without
// --from.
func TestBackupUsageAndMissingData(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	_, stderr, code := runCLI(t, bin, "", "", "backup", "--data", dir)
	if code != 2 || !strings.Contains(stderr, "--out FILE is required") || !strings.Contains(stderr, "usage: provex backup --data DIR --out FILE") {
		t.Fatalf("backup without --out: exit %d, %s", code, stderr)
	}
	missing := filepath.Join(dir, "no-such-node")
	out := filepath.Join(dir, "b.db")
	_, stderr, code = runCLI(t, bin, "", "", "backup", "--data", missing, "--out", out)
	if code != 1 || !strings.Contains(stderr, "no node database in "+missing) {
		t.Fatalf("backup of a missing data directory: exit %d, %s", code, stderr)
	}
	for _, f := range []string{missing, out} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Fatalf("the failed backup created %s (%v)", f, err)
		}
	}
	_, stderr, code = runCLI(t, bin, "", "", "restore-backup", "--data", dir)
	if code != 2 || !strings.Contains(stderr, "--from FILE is required") {
		t.Fatalf("restore-backup without --from: exit %d, %s", code, stderr)
	}
	restoreInto := filepath.Join(dir, "restored")
	_, stderr, code = runCLI(t, bin, "", "", "restore-backup", "--from", out, "--data", restoreInto)
	if code != 1 || !strings.HasPrefix(stderr, "provex: restore-backup: no backup file at "+out) {
		t.Fatalf("restore-backup of a missing file: exit %d, %s", code, stderr)
	}
	if _, err := os.Stat(restoreInto); !os.IsNotExist(err) {
		t.Fatalf("the failed restore-backup created %s (%v)", restoreInto, err)
	}
	_, stderr, code = runCLI(t, bin, "", "", "verify", "--data", dir, "--db", out)
	if code != 2 || !strings.Contains(stderr, "not both") {
		t.Fatalf("verify with --data and --db: exit %d, %s", code, stderr)
	}
	// A file that is no database, checked as a backup: told as a backup
	// that cannot be restored, not as a data directory to restore from one.
	notADatabase := filepath.Join(dir, "wrong.db")
	if err := os.WriteFile(notADatabase, []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = runCLI(t, bin, "", "", "verify", "--db", notADatabase)
	if code != 1 || !strings.Contains(stderr, "is not an intact provex database") || strings.Contains(stderr, "move the data directory aside") {
		t.Fatalf("verify of a file that is no database: exit %d, %s", code, stderr)
	}
	// Restored from, it leaves no directory behind.
	into := filepath.Join(dir, "from-wrong")
	if _, stderr, code = runCLI(t, bin, "", "", "restore-backup", "--from", notADatabase, "--data", into); code != 1 {
		t.Fatalf("restore-backup of a file that is no database: exit %d, %s", code, stderr)
	}
	if _, err := os.Stat(into); !os.IsNotExist(err) {
		t.Errorf("the refused restore-backup left %s (%v)", into, err)
	}
}

// TestChangedByteInBackupFailsVerify is an outsider's check of a backup:
// it changes one byte of a record's content in the backup file, wherever
// the file holds it (the change-log entry, the record's filter column, its
// index), each time in a fresh copy, and provex verify must report a
// problem every time.
func TestChangedByteInBackupFailsVerify(t *testing.T) {
	bin := buildBinary(t)
	data := t.TempDir()
	p := startServe(t, bin, data)
	marker := "QXJ-backup-marker-7731"
	yaml := "display_name: " + marker + "\nkind: KIND_MOU\n"
	if out, stderr, code := runCLI(t, bin, p.token, yaml, "create", "provinces/cao-bang/agreements", "-f", "-", "--id", "marked", "--addr", p.grpcAddr); code != 0 {
		t.Fatalf("create: exit %d, %s%s", code, out, stderr)
	}
	dir := t.TempDir()
	backup := filepath.Join(dir, "backup.db")
	if out, stderr, code := runCLI(t, bin, "", "", "backup", "--data", data, "--out", backup); code != 0 {
		t.Fatalf("backup: exit %d, %s%s", code, out, stderr)
	}
	p.stop(t, syscall.SIGTERM)
	key := filepath.Join(data, "node.key")
	pristine, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	var at []int
	for i := 0; ; {
		j := bytes.Index(pristine[i:], []byte(marker))
		if j < 0 {
			break
		}
		at = append(at, i+j)
		i += j + 1
	}
	if len(at) == 0 {
		t.Fatal("the backup does not hold the record's name in plain bytes")
	}
	// The unchanged copy verifies, so the failures below are the byte's.
	if out, stderr, code := runCLI(t, bin, "", "", "verify", "--db", backup, "--key", key); code != 0 {
		t.Fatalf("verify of the unchanged backup: exit %d, %s%s", code, out, stderr)
	}
	for _, off := range at {
		changed := bytes.Clone(pristine)
		changed[off+len("QXJ-")] ^= 0x01
		path := filepath.Join(dir, fmt.Sprintf("changed-at-%d.db", off))
		if err := os.WriteFile(path, changed, 0o600); err != nil {
			t.Fatal(err)
		}
		out, stderr, code := runCLI(t, bin, "", "", "verify", "--db", path, "--key", key)
		if code != 1 || !strings.Contains(out, "PROBLEM: ") || !strings.Contains(stderr, "does not verify") {
			t.Errorf("verify of the backup with byte %d changed: exit %d, want 1 with a PROBLEM\n%s%s", off+len("QXJ-"), code, out, stderr)
		} else {
			t.Logf("byte %d: %s", off+len("QXJ-"), strings.SplitN(out[strings.Index(out, "PROBLEM: "):], "\n", 2)[0])
		}
	}
}
