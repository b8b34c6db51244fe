package server_test

import (
	"database/sql"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/server"
)

// TestDamagedIndexPageIsUnavailableAndShown: a leaf page of an index is
// zeroed while the node is stopped. Opening the file does not read it, so
// the node starts; a List ordered by that index then finds it. That was
// INTERNAL while /healthz said ok (an outside review); it is UNAVAILABLE
// saying the file is damaged and what to do, over gRPC and HTTP, and the
// node's health says so.
func TestDamagedIndexPageIsUnavailableAndShown(t *testing.T) {
	dir := t.TempDir()
	tn := startNodeAt(t, "cao-bang", dir)
	ctx := testCtx(t)
	for i := range 400 {
		_, err := tn.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), Agreement: newAgreement(fmt.Sprintf("agreement %03d %s", i, strings.Repeat("n", 100)))})
		mustf(t, err, "create %d", i)
	}
	tn.Stop(t)
	// Started once more, the node has the index analysed (PRAGMA optimize
	// at open, which reads the index whole, finds damage then).
	startNodeAt(t, "cao-bang", dir).Stop(t)

	path := filepath.Join(dir, server.DatabaseFile)
	raw, err := sql.Open("sqlite3", "file:"+path)
	mustf(t, err, "open")
	var page int64
	err = raw.QueryRow("SELECT rootpage FROM sqlite_master WHERE name = 'agreements_display_name'").Scan(&page)
	raw.Close()
	mustf(t, err, "find the root page of agreements_display_name")
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	mustf(t, err, "open the file")
	// The root is an interior page (0x02) with its right-most child, a
	// leaf, at bytes 8..11 of its header.
	header := make([]byte, 12)
	_, err = f.ReadAt(header, (page-1)*4096)
	mustf(t, err, "read page %d", page)
	if header[0] != 0x02 {
		t.Fatalf("the index's root page %d is of type %#x, not an interior page", page, header[0])
	}
	page = int64(binary.BigEndian.Uint32(header[8:12]))
	_, err = f.WriteAt(make([]byte, 4096), (page-1)*4096)
	mustf(t, err, "zero page %d", page)
	mustf(t, f.Close(), "close")

	tn = startNodeAt(t, "cao-bang", dir)
	_, err = tn.Twinning.ListAgreements(ctx, &twinningv1.ListAgreementsRequest{Parent: tn.parent(), OrderBy: "display_name", PageSize: 1000})
	if codeOf(err) != codes.Unavailable || !strings.Contains(err.Error(), "database file is damaged") {
		t.Fatalf("a List over the damaged index: %v, want UNAVAILABLE saying the file is damaged", err)
	}
	resp, body := tn.httpDo(t, "GET", "/v1/provinces/cao-bang/agreements?order_by=display_name&page_size=1000", "", nil)
	if resp.StatusCode != 503 {
		t.Errorf("HTTP List over the damaged index: %d %s, want 503", resp.StatusCode, body)
	}
	resp, body = tn.httpDo(t, "GET", "/healthz", "", nil)
	if !strings.Contains(string(body), "degraded") || !strings.Contains(string(body), "damaged") {
		t.Errorf("/healthz: %d %s", resp.StatusCode, body)
	}
}

// TestRowNamingAnotherRecordsEntryIsShown: a record's row is set, while
// the node runs, to name another record's change-log entry, which is
// intact. The record read as UNAVAILABLE, said to wait for a repair of
// the log that never came, its owner's updates refused, while /healthz
// said ok (an outside review). It reads as DATA_LOSS saying the row was
// changed, over gRPC and HTTP, and the node's health names it.
func TestRowNamingAnotherRecordsEntryIsShown(t *testing.T) {
	dir := t.TempDir()
	tn := startNodeAt(t, "cao-bang", dir)
	ctx := testCtx(t)
	var names []string
	for _, id := range []string{"r2", "r3"} {
		a, err := tn.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), AgreementId: id, Agreement: newAgreement(id)})
		mustf(t, err, "create %s", id)
		names = append(names, a.GetName())
	}
	raw, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, server.DatabaseFile))
	mustf(t, err, "open")
	_, err = raw.Exec("UPDATE agreements SET seq = (SELECT seq FROM agreements WHERE name = ?) WHERE name = ?", names[1], names[0])
	raw.Close()
	mustf(t, err, "point %s's row at %s's entry", names[0], names[1])
	if _, err := tn.Twinning.GetAgreement(ctx, &twinningv1.GetAgreementRequest{Name: names[0]}); codeOf(err) != codes.DataLoss || !strings.Contains(err.Error(), "changed outside the node") {
		t.Fatalf("Get %s: %v, want DATA_LOSS saying its row was changed", names[0], err)
	}
	resp, body := tn.httpDo(t, "GET", "/v1/"+names[0], "", nil)
	if resp.StatusCode != 500 || !strings.Contains(string(body), "changed outside the node") {
		t.Errorf("HTTP Get: %d %s, want 500 saying the row was changed", resp.StatusCode, body)
	}
	resp, body = tn.httpDo(t, "GET", "/healthz", "", nil)
	if !strings.Contains(string(body), "degraded") || !strings.Contains(string(body), names[0]) {
		t.Errorf("/healthz: %d %s, want degraded naming %s", resp.StatusCode, body, names[0])
	}
}
