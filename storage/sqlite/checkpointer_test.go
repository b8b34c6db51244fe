package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlite"
)

// TestWALIsCheckpointedWhileOpen: the writer's commits do not checkpoint
// the WAL themselves (wal_autocheckpoint is off), so the store's
// checkpointer must fold it into the database file while the store is
// open: the main file grows by what was written, without a Close.
func TestWALIsCheckpointedWhileOpen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "provex.db")
	db, err := sqlite.Open(ctx, path, "cao-bang", sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	size := func() int64 {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	before := size()
	text := strings.Repeat("x", 2000)
	var wg sync.WaitGroup
	for i := range 600 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("provinces/cao-bang/agreements/w%03d", i)
			if _, err := db.Write(ctx, storage.Write{Kind: resource.Agreements, Name: name, Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
				return &twinningv1.Agreement{Name: name, DisplayName: text[:100], Summary: text}, nil
			}}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	const written = 600 * 2000
	for deadline := time.Now().Add(20 * time.Second); size()-before < written; {
		if time.Now().After(deadline) {
			t.Fatalf("the database file grew by %d bytes in 20 s after %d bytes of records were written: the WAL is not checkpointed", size()-before, written)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
