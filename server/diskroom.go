package server

import (
	"fmt"

	"github.com/provex/provex/internal/diskspace"
)

// DefaultDiskReserve is the free space a node keeps for its own writes
// unless told otherwise (Config.DiskReserve).
const DefaultDiskReserve = 256 << 20

// noRoom says, for a node whose store is a SQLite file, why it should not
// store need more bytes of its peers' entries now, or "": a member writing
// without end, its entries signed with its own valid key, would otherwise
// fill every node's disk, and each province's own writes would be refused
// (THREATS N20). The reserve is kept for the node's own writes. nil for a
// store on PostgreSQL, whose disk is the server's.
func (cfg *Config) noRoom() func(need int64) string {
	if cfg.Store != "" || cfg.DiskReserve < 0 {
		return nil
	}
	dir := cfg.DataDir
	return func(need int64) string {
		free, size, err := diskspace.Of(dir)
		if err != nil {
			return "" // not known: the full disk's own refusal still holds
		}
		reserve := uint64(cfg.DiskReserve)
		if reserve == 0 {
			reserve = min(DefaultDiskReserve, size/10)
		}
		if free >= reserve+uint64(max(need, 0)) {
			return ""
		}
		return fmt.Sprintf("this node's disk has %d MiB free, less than the %d MiB it keeps for its own writes and %d MiB for a run of entries", free>>20, reserve>>20, need>>20)
	}
}
