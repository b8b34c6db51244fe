package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/provex/provex/server"
)

// shipper runs the catch-up bench's comparison with NATS JetStream, which
// lives in its own module (bench/jetstream) so the node's go.mod carries no
// nats: built once per run, then run one step at a time.
type shipper struct {
	bin  string // the built command
	dir  string // the JetStream store, beside the origin it copies
	keys string // the members' key files and manifest
}

// newShipper builds bench/jetstream (with SQLite's dbstat table, for the
// sizes) and loads the origin's log into its stream unless a load of this
// origin is already there (the origin's directory goes when it is
// reloaded, and the stream with it).
func newShipper(workDir, originDir, keysDir string, records int) (*shipper, error) {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return nil, fmt.Errorf("find the module: %w", err)
	}
	src := filepath.Join(filepath.Dir(strings.TrimSpace(string(gomod))), "bench", "jetstream")
	s := &shipper{bin: filepath.Join(workDir, "provex-bench-jetstream"), dir: filepath.Join(originDir, "jetstream"), keys: keysDir}
	build := exec.Command("go", "-C", src, "build", "-tags", "sqlite_dbstat", "-o", s.bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("build %s: %w", src, err)
	}
	marker := filepath.Join(originDir, fmt.Sprintf("jetstream-loaded-%d", records))
	if _, err := os.Stat(marker); err == nil {
		return s, nil
	}
	start := time.Now()
	var t shipperTiming
	if err := s.run(&t, "load", "-origin", filepath.Join(originDir, server.DatabaseFile), "-dir", s.dir); err != nil {
		return nil, err
	}
	if t.Entries != records {
		return nil, fmt.Errorf("JetStream holds %d entries of %d", t.Entries, records)
	}
	fmt.Fprintf(os.Stderr, "loaded %d entries into JetStream in %s\n", t.Entries, time.Since(start).Round(time.Second))
	return s, os.WriteFile(marker, nil, 0o644)
}

type shipperTiming struct {
	Entries int     `json:"entries"`
	Seconds float64 `json:"seconds"`
}

// run runs one step and decodes the JSON it prints into out.
func (s *shipper) run(out any, args ...string) error {
	cmd := exec.Command(s.bin, args...)
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("jetstream %s: %w", args[0], err)
	}
	return json.Unmarshal(stdout.Bytes(), out)
}

// timed runs a timed step and checks it handled every entry.
func (s *shipper) timed(records int, args ...string) (time.Duration, error) {
	var t shipperTiming
	if err := s.run(&t, args...); err != nil {
		return 0, err
	}
	if t.Entries != records {
		return 0, fmt.Errorf("jetstream %s handled %d entries of %d", args[0], t.Entries, records)
	}
	return time.Duration(t.Seconds * float64(time.Second)), nil
}

// replayMinimal replays the stream into the minimal table.
func (s *shipper) replayMinimal(db string, records int) (time.Duration, error) {
	return s.timed(records, "replay", "-dir", s.dir, "-into", "minimal", "-db", db)
}

// plainMinimal inserts the same rows into the minimal table directly.
func (s *shipper) plainMinimal(db string, records int) (time.Duration, error) {
	return s.timed(records, "plain", "-dir", s.dir, "-db", db)
}

// replayProvex replays the stream into member's store through ApplyRemote.
func (s *shipper) replayProvex(db, member string, records int) (time.Duration, error) {
	return s.timed(records, "replay", "-dir", s.dir, "-into", "provex", "-db", db, "-member", member, "-keys", s.keys)
}

// dbSizes is what `jetstream sizes` prints for one database.
type dbSizes struct {
	Path    string `json:"path"`
	Objects []struct {
		Name  string `json:"name"`
		Table string `json:"table"`
		Index bool   `json:"index"`
		Bytes int64  `json:"bytes"`
	} `json:"objects"`
	Free  int64 `json:"free"`
	Total int64 `json:"total"`
}

// printSizes prints, for each database, the bytes per record of every
// table with its indexes, largest first.
func (s *shipper) printSizes(records int, dbs map[string]string) error {
	labels := make([]string, 0, len(dbs))
	for l := range dbs {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	args := []string{"sizes"}
	for _, l := range labels {
		args = append(args, dbs[l])
	}
	var out []dbSizes
	if err := s.run(&out, args...); err != nil {
		return err
	}
	per := func(b int64) string { return fmt.Sprintf("%.0f", float64(b)/float64(records)) }
	for i, d := range out {
		type table struct {
			name          string
			rows, indexes int64
			names         []string
		}
		tables := map[string]*table{}
		for _, o := range d.Objects {
			t := tables[o.Table]
			if t == nil {
				t = &table{name: o.Table}
				tables[o.Table] = t
			}
			if o.Index {
				t.indexes += o.Bytes
				if o.Bytes >= int64(records) {
					t.names = append(t.names, fmt.Sprintf("%s %s", o.Name, per(o.Bytes)))
				}
			} else {
				t.rows += o.Bytes
			}
		}
		list := make([]*table, 0, len(tables))
		for _, t := range tables {
			list = append(list, t)
		}
		sort.Slice(list, func(i, j int) bool { return list[i].rows+list[i].indexes > list[j].rows+list[j].indexes })
		fmt.Printf("\nBytes per record (%d records), %s (%s, %.1f MiB):\n\n", records, labels[i], filepath.Base(d.Path), float64(d.Total)/(1<<20))
		fmt.Printf("| table | rows | its indexes | total | indexes of at least 1 byte per record |\n|---|---|---|---|---|\n")
		var small, smallBytes int64
		for _, t := range list {
			if t.rows+t.indexes < d.Total/100 {
				small, smallBytes = small+1, smallBytes+t.rows+t.indexes // under 1% of the file
				continue
			}
			fmt.Printf("| %s | %s | %s | %s | %s |\n", t.name, per(t.rows), per(t.indexes), per(t.rows+t.indexes), strings.Join(t.names, ", "))
		}
		if small > 0 {
			fmt.Printf("| %d other tables (each under 1%% of the file) | | | %s | |\n", small, per(smallBytes))
		}
		fmt.Printf("| free pages | | | %s | |\n| **file** | | | **%s** | |\n", per(d.Free), per(d.Total))
	}
	return nil
}

// medianDuration is the median of ds (the mean of the middle two when even).
func medianDuration(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// round runs the shipper's paths once, interleaved with provex's catch-up
// of member: the minimal table's two paths after mofa's, the replay into
// member's store after each.
func (s *shipper) round(dir, member string, records int, paths map[string][]time.Duration) (map[string][]time.Duration, error) {
	if member == "mofa" {
		d, err := s.replayMinimal(filepath.Join(dir, "jetstream-minimal.db"), records)
		if err != nil {
			return nil, err
		}
		paths["jetstream minimal"] = append(paths["jetstream minimal"], d)
		if d, err = s.plainMinimal(filepath.Join(dir, "plain-minimal.db"), records); err != nil {
			return nil, err
		}
		paths["plain minimal"] = append(paths["plain minimal"], d)
	}
	d, err := s.replayProvex(filepath.Join(dir, "jetstream-provex-"+member+".db"), member, records)
	if err != nil {
		return nil, err
	}
	paths["jetstream provex "+member] = append(paths["jetstream provex "+member], d)
	return paths, nil
}

// printShipperTable prints issue 11's comparison: provex's catch-up of
// each follower against the minimal table (plain and replayed from
// JetStream) and against JetStream replayed into that follower's store.
func printShipperTable(records, rounds int, paths map[string][]time.Duration) {
	rate := func(k string) float64 { return float64(records) / medianDuration(paths[k]).Seconds() }
	fmt.Printf("\nThe same %d entries against a generic log shipper, entries/s (median of %d interleaved rounds):\n\n", records, rounds)
	fmt.Printf("| path | entries/s | slowest–fastest round | mofa's provex catch-up / it | nghe-an's / it |\n|---|---|---|---|---|\n")
	row := func(label, k string) {
		ds := paths[k]
		slow, fast := slices.Max(ds), slices.Min(ds)
		fmt.Printf("| %s | %.0f | %.0f–%.0f | %.2f | %.2f |\n", label, rate(k), float64(records)/slow.Seconds(), float64(records)/fast.Seconds(),
			rate("provex mofa")/rate(k), rate("provex nghe-an")/rate(k))
	}
	row("provex catch-up from one peer, mofa (opens every sealed entry)", "provex mofa")
	row("provex catch-up from one peer, nghe-an (relays the sealed entries)", "provex nghe-an")
	row("NATS JetStream file store (SyncAlways) replayed into the minimal table, 1,000 rows per transaction", "jetstream minimal")
	row("plain batched insert of the same rows into the minimal table (target: provex at least 0.3x)", "plain minimal")
	row("JetStream replayed into mofa's store through ApplyRemote (target: provex at least 1.0x)", "jetstream provex mofa")
	row("JetStream replayed into nghe-an's store through ApplyRemote (target: provex at least 1.0x)", "jetstream provex nghe-an")
}
