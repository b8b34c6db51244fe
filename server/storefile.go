package server

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/provex/provex/internal/atomicfile"
	"github.com/provex/provex/internal/ownerfile"
	"github.com/provex/provex/storage/sqlstore"
)

// StoreFile, in a node's data directory, names the PostgreSQL store the
// node serves from (its URL without the password). A node moved there
// keeps its provex.db for a while (docs/POSTGRES.md), and provex backup
// --data copied that stale file as the node's (an outside review): the
// file tells the tools reading the directory that the store is elsewhere.
const StoreFile = "postgres-store"

// recordStore writes StoreFile in the data directory of a node serving
// from PostgreSQL, and removes it for a node serving from its provex.db
// again (moved back).
func recordStore(cfg *Config) error {
	path := filepath.Join(cfg.DataDir, StoreFile)
	if cfg.Store == "" {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	shown := sqlstore.ShownURL(cfg.Store) + "\n"
	if held, err := os.ReadFile(path); err == nil && string(held) == shown {
		return nil
	}
	return atomicfile.Write(path, []byte(shown), ownerfile.FileMode, true)
}

// ServedStore is the PostgreSQL store StoreFile in dataDir names (without
// its password), "" when the node serves from the directory's provex.db.
func ServedStore(dataDir string) (string, error) {
	held, err := os.ReadFile(filepath.Join(dataDir, StoreFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("the node's record of its store: %w", err)
	}
	if store := strings.TrimSpace(string(held)); store != "" {
		return store, nil
	}
	return "a PostgreSQL store", nil
}
