package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/provex/provex/changelog"
	"github.com/provex/provex/client/cli"
	"github.com/provex/provex/federation"
	"github.com/provex/provex/server"
	"github.com/provex/provex/storage/sqlstore"
)

var verifyCommand = cli.Command{Name: "verify", Usage: "[--data DIR | --db FILE | --store postgres://...] [--manifest FILE] [--key FILE] [--repair]",
	Summary: "check a node's stored change logs (chains, signed checkpoints, sealed entries), audit trail, records and summary rollups from its database file (--db: a backup) or its PostgreSQL store", Run: runVerify}

// verifySources are the keys an offline check trusts: the node's own public
// key from its key file, and the other members' from a manifest.
type verifySources struct {
	db *sqlstore.DB
	// own are the node's signing keys: the one its manifest names first,
	// then its key file's (retired ones too).
	own      []ed25519.PublicKey
	manifest *federation.Manifest
	// sealer opens the records sealed to the node, from its key file: the
	// records check compares them with what their rows keep.
	sealer *changelog.Sealer
	// recording is whether the checks of the logs record the damage they
	// find in the store (not beside a serving node, nor with a manifest
	// other than the node's).
	recording bool
}

// openForVerify opens a node's database, dir's provex.db or the file
// dbFile (a backup) or the PostgreSQL store whose URL dbFile is, with the
// keys to check it: the node's public key from keyFile (default node.key
// in dir; a backup or a PostgreSQL store lies outside any data directory,
// so only --key names its key file), else from the manifest;
// the manifest from --manifest (when it is not the node's copy, the checks
// only report: other keys would make the node's checkpoints look forged),
// else the copy the node saved, the newest it took (which someone with the
// database file could have replaced: give your own copy to rule that
// out). It says on w where the keys come from when that is not the
// operator's choice. besideIfServing opens a store on
// PostgreSQL that a node serves on (it holds the writer's lock) beside it
// (Options.Beside), for checks that then record nothing in it: damage
// found is reported, and the node's own checks record it.
func openForVerify(ctx context.Context, w io.Writer, dir, dbFile, keyFile, manifestFile string, besideIfServing bool) (*verifySources, error) {
	var src verifySources
	path := dbFile
	if path == "" {
		path = filepath.Join(dir, server.DatabaseFile)
		if keyFile == "" {
			if _, err := os.Stat(filepath.Join(dir, server.KeyFile)); err == nil {
				keyFile = filepath.Join(dir, server.KeyFile)
			}
		}
	}
	if keyFile != "" {
		keys, err := federation.ReadKeyFile(keyFile)
		if err != nil {
			return nil, err
		}
		src.own = append(src.own, keys.SigningPublic())
		if len(keys.Encryption) > 0 {
			if src.sealer, err = changelog.NewSealer(keys.Encryption...); err != nil {
				return nil, err
			}
		}
		for _, k := range keys.RetiredSigning {
			src.own = append(src.own, k.Public().(ed25519.PublicKey))
		}
	}
	if manifestFile != "" {
		m, err := federation.LoadManifest(manifestFile)
		if err != nil {
			return nil, err
		}
		src.manifest = m
	}
	if !sqlstore.IsPostgres(path) {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("no node database: %w", err)
		}
	}
	// Beside a serving node; not beside another tool (a second verify),
	// whose lock says so: that one is refused.
	nodeServes := func(err error) bool {
		return errors.Is(err, sqlstore.ErrNodeWriting) && !errors.Is(err, sqlstore.ErrToolWriting) && besideIfServing
	}
	beside := false
	probe, err := sqlstore.Open(ctx, path, "", sqlstore.Options{Logger: slog.New(slog.DiscardHandler), Tool: "verify"})
	if nodeServes(err) {
		beside = true
		probe, err = sqlstore.Open(ctx, path, "", sqlstore.Options{Logger: slog.New(slog.DiscardHandler), Beside: true})
		if err == nil {
			fmt.Fprintln(w, besideNote)
		}
	}
	if err != nil && dbFile != "" && !sqlstore.IsPostgres(path) && sqlstore.IsFileDamaged(err) {
		// The advice for a data directory (restore it from a backup)
		// misleads about a file that is the backup.
		return nil, fmt.Errorf("%s is not an intact provex database (%v): a backup in this state cannot be restored; check another", dbFile, errors.Unwrap(err))
	}
	if err != nil {
		return nil, err
	}
	member := probe.Member()
	saved, savedErr := probe.SavedManifest(ctx)
	probe.Close()
	if saved != nil && saved.FederationKey != nil && saved.VerifySignature(saved.FederationKey) != nil &&
		(src.manifest == nil || saved.VerifySignature(src.manifest.FederationKey) != nil) {
		// Changed in the database since the node took it (or one handing
		// the federation key over, checked with the manifest given).
		saved, savedErr = nil, fmt.Errorf("the manifest the node saved (serial %d) does not verify with its federation key; give --manifest with your copy", saved.Serial)
	}
	// Keys other than the ones the node took (an older manifest's, where a
	// member rotated since; another federation's) would take its
	// checkpoints for forgeries: recorded, that damage would have the node
	// drop them and repair the logs from whatever its peers hold. Such a
	// manifest has its use all the same: the last to list a member since
	// removed checks that member's log.
	reportOnly := false
	switch {
	case src.manifest == nil && savedErr != nil:
		return nil, savedErr
	case src.manifest == nil && saved == nil:
		// Then the node's own key comes from a key file alone, which
		// nothing here tells from another's.
		reportOnly = true
		fmt.Fprintln(w, "note: the node holds no manifest (a node of its own): what the checks find is reported, not recorded")
	case src.manifest == nil:
		src.manifest = saved
		fmt.Fprintln(w, "note: members' keys from the manifest the node saved in its database; give --manifest to check against your own copy")
	case savedErr != nil:
		reportOnly = true
		fmt.Fprintf(w, "note: the manifest the node saved does not read (%v): what the keys of the manifest given do not verify is reported, not recorded\n", savedErr)
	case !sameManifest(saved, src.manifest):
		reportOnly = true
		held := "none"
		if saved != nil {
			held = fmt.Sprintf("serial %d", saved.Serial)
		}
		fmt.Fprintf(w, "note: the manifest given (serial %d) is not the one this node holds (%s): what its keys do not verify is reported, not recorded\n", src.manifest.Serial, held)
	}
	src.recording = !beside && !reportOnly
	if src.manifest != nil {
		if named, ok := src.manifest.SigningKeys(member); ok {
			src.own = append(named, src.own...)
		}
	}
	if src.own == nil {
		fmt.Fprintln(w, "note: no key of "+member+" (no --key, no "+server.KeyFile+" in the data directory, no manifest): its signatures are not checked; give --key")
	}
	open := func(beside bool) (*sqlstore.DB, error) {
		return sqlstore.Open(ctx, path, "", sqlstore.Options{Logger: slog.New(slog.DiscardHandler), PublicKey: first(src.own), Sealer: src.sealer,
			Beside: beside, ReportOnly: reportOnly, Tool: "verify"})
	}
	src.db, err = open(beside)
	if nodeServes(err) && !beside {
		// A node took the writer's lock since the probe let it go (one
		// starting meanwhile waits for a tool holding it, not for the
		// moment between the two).
		if src.db, err = open(true); err == nil {
			src.recording = false
			fmt.Fprintln(w, besideNote)
		}
	}
	if err != nil {
		return nil, err
	}
	return &src, nil
}

// sameManifest says whether the manifest given is the one the node holds.
func sameManifest(held, given *federation.Manifest) bool {
	if held == nil {
		return false
	}
	a, errA := held.Marshal()
	b, errB := given.Marshal()
	return errA == nil && errB == nil && bytes.Equal(a, b)
}

// besideNote says that verify found a node serving on the store.
const besideNote = "note: a node is serving on this store: the checks run beside it, and damage they find is reported, not recorded (the node's own checks record it)"

// keys are the public keys that verify origin's checkpoints.
func (s *verifySources) keys(origin string) ([]ed25519.PublicKey, bool) {
	if origin == s.db.Member() && s.own != nil {
		return s.own, true
	}
	if s.manifest == nil {
		return nil, false
	}
	return s.manifest.SigningKeys(origin)
}

// runVerify checks everything the node stores that can be checked without
// it running: every origin's log in full (hash chain, checkpoint
// signatures, sealed entries' hashes) and the audit trail (chain, signed
// head, cover of the log, the lookup of who read a record), and every
// summary rollup against a recount of the records. Damage found is
// recorded in the database, so the node, when it starts, neither serves it
// nor waits to repair it. Rollups are derived from the records alone, and
// audit_names from the read records, so --repair rewrites those that
// disagree; without it they are reported, and the check fails. So are
// a SQLite file's indexes, which --repair rebuilds when SQLite's check
// finds damage in them alone, and makes again when the file's schema lacks
// them.
func runVerify(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dataDir := fs.String("data", "data", "the node's data directory")
	dbFile := fs.String("db", "", "a node's database file instead of a data directory: a backup from provex backup")
	store := fs.String("store", "", "a node's PostgreSQL store instead of a data directory: postgres://USER:PASSWORD@HOST:PORT/DATABASE")
	manifestFile := fs.String("manifest", "", "federation manifest with the members' keys (default: the copy the node saved)")
	keyFile := fs.String("key", "", "the node's key file (default: node.key in the data directory)")
	repair := fs.Bool("repair", false, "rewrite summary rollups that disagree with their records from a recount, and the lookup of who read a record (audit_names) from the read records when they disagree, apply change-log entries held unapplied that the rules apply, and rebuild indexes of the database file that SQLite's check finds damaged (when the damage is theirs alone) or its schema lacks")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	what := "the data directory " + *dataDir
	if *dbFile != "" {
		if isSet(fs, "data") {
			return &cli.UsageError{Msg: "verify: give --data DIR or --db FILE, not both"}
		}
		what = "the database " + *dbFile
	}
	if *store != "" {
		if isSet(fs, "data") || *dbFile != "" {
			return &cli.UsageError{Msg: "verify: give one of --data DIR, --db FILE and --store URL"}
		}
		if !sqlstore.IsPostgres(*store) {
			return &cli.UsageError{Msg: "verify: --store takes a PostgreSQL URL (postgres://USER:PASSWORD@HOST:PORT/DATABASE); a SQLite file is --db FILE"}
		}
		if err := storeFlag("verify", *store); err != nil {
			return err
		}
		*dbFile = *store
		what = "the store " + shownStore(*store)
	}
	// Beside a serving node, unless it rewrites rollups, which the node's
	// writer keeps.
	src, err := openForVerify(ctx, env.Stdout, *dataDir, *dbFile, *keyFile, *manifestFile, !*repair)
	if err != nil {
		return err
	}
	defer src.db.Close()
	origins, err := src.db.Origins(ctx)
	if err != nil {
		return err
	}
	bad := 0
	for _, o := range origins {
		keys, ok := src.keys(o.Origin)
		if !ok {
			// A member the manifest removed leaves its log on every node
			// that held it (manifest remove): not a problem of this store,
			// but nothing to check its signatures with.
			switch {
			case src.manifest == nil && o.Origin == src.db.Member():
				// A node of its own holds no manifest: its key file is
				// all there is to check its own log with.
				fmt.Fprintf(env.Stdout, "note: %s: %d entries not checked: no key to check them with; give --key with the node's key file\n", o.Origin, o.Seq)
			case src.manifest == nil:
				fmt.Fprintf(env.Stdout, "note: %s: %d entries not checked: no manifest to check them with; give --manifest\n", o.Origin, o.Seq)
			default:
				fmt.Fprintf(env.Stdout, "note: %s: %d entries not checked: the manifest does not list %s (a member it removed?); give --manifest with one that lists it to check them\n", o.Origin, o.Seq, o.Origin)
			}
			continue
		}
		res, err := src.db.VerifyLog(ctx, o.Origin, keys, true)
		if err != nil {
			return err
		}
		for _, d := range o.Damaged {
			if d.Last == sqlstore.OpenEnded {
				bad++
				fmt.Fprintf(env.Stdout, "PROBLEM: %s: the node's writes are held from %d on: %s\n", o.Origin, d.First, d.Problem)
			}
		}
		if res.Superseded > 0 {
			fmt.Fprintf(env.Stdout, "note: %s: %d checkpoints signed with keys a manifest the node took dropped, of entries later checkpoints prove (superseded, no problem)\n", o.Origin, res.Superseded)
		}
		if len(res.Damaged) == 0 && res.BadCheckpoints == 0 {
			fmt.Fprintf(env.Stdout, "%s: %d entries intact, signed up to %d\n", o.Origin, res.Checked, res.Verified)
			continue
		}
		bad++
		for _, p := range res.Problems {
			fmt.Fprintf(env.Stdout, "PROBLEM: %s\n", p)
		}
		for _, d := range res.Damaged {
			if src.recording {
				fmt.Fprintf(env.Stdout, "PROBLEM: %s: entries %s damaged (the node will not serve them and fetches them again from its peers)\n", o.Origin, d.Range)
			} else {
				fmt.Fprintf(env.Stdout, "PROBLEM: %s: entries %s do not verify (reported, not recorded)\n", o.Origin, d.Range)
			}
		}
	}
	problems, err := src.checkAudit(ctx, env.Stdout, *repair)
	if err != nil {
		return err
	}
	if *repair {
		// An entry held unapplied that the rules apply leaves its record
		// missing, or set back, until applied; one refused for another
		// reason than its row says misleads the counts sync status gives.
		applied, restated, err := src.db.ApplyHeld(ctx)
		if err != nil {
			return err
		}
		if applied > 0 || restated > 0 {
			fmt.Fprintf(env.Stdout, "records: applied %d entries held unapplied that the rules apply, and held %d refused ones in the state of their refusal\n", applied, restated)
		}
	}
	records, recordsErr := src.db.CheckRecords(ctx)
	switch err := recordsErr; {
	case sqlstore.IsFileDamaged(err):
		// The file check below says where.
		fmt.Fprintln(env.Stdout, "PROBLEM: records: not all read:", err)
		problems++
	case err != nil:
		return err
	}
	for _, p := range records.Problems {
		fmt.Fprintln(env.Stdout, "PROBLEM: record", p)
	}
	if more := records.Found - len(records.Problems); more > 0 {
		fmt.Fprintf(env.Stdout, "PROBLEM: %d more records differ from their change-log entries\n", more)
	}
	if records.Found == 0 && recordsErr == nil {
		fmt.Fprintf(env.Stdout, "records: %d rows hold what their change-log entries say (state, columns, repeated fields, search words)\n", records.Checked)
	}
	if records.SealedUnchecked > 0 {
		fmt.Fprintf(env.Stdout, "note: %d sealed records' states not compared with their entries: give the node's key file (--key) to open them\n", records.SealedUnchecked)
	}
	if records.HeldUnchecked > 0 {
		fmt.Fprintf(env.Stdout, "note: %d sealed entries held unapplied not checked to be refused: give the node's key file (--key) to open them\n", records.HeldUnchecked)
	}
	problems += records.Found
	// The logs' hashes cover the entries, the records check what was
	// derived from them; the file check covers the indexes and the file's
	// structure. A PostgreSQL server keeps its own pages: there is no file
	// to check.
	if src.db.Dialect() == "postgres" {
		fmt.Fprintln(env.Stdout, "database file: none to check (the store is on PostgreSQL, which checks its own pages); SQLite's integrity check does not apply")
	} else {
		// A table missing refuses the open; an index missing is made
		// again by the node when it opens the file, and here by --repair.
		missing, err := src.db.MissingIndexes(ctx)
		if err != nil {
			return err
		}
		switch {
		case len(missing) > 0 && *repair:
			made, err := src.db.MakeMissingIndexes(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "database file: made the missing indexes %s again from their tables\n", strings.Join(made, ", "))
		case len(missing) > 0:
			problems += len(missing)
			fmt.Fprintf(env.Stdout, "PROBLEM: database file: the schema lacks the indexes %s (dropped by hand?): run provex verify --repair with the node stopped, or start the node, to make them again from their tables\n", strings.Join(missing, ", "))
		}
		fileProblems, err := src.db.CheckFile(ctx)
		if err != nil {
			return err
		}
		for _, p := range fileProblems {
			fmt.Fprintln(env.Stdout, "PROBLEM: database file:", p)
		}
		// Damage confined to indexes loses nothing: each is rebuilt from
		// its table. Any other is a restore's to mend. A row changed in
		// its table shows as its indexes missing it too, and REINDEX
		// would take the change in (a second review): the indexes are
		// the damaged ones only when every record row holds what its
		// entry says.
		indexes := sqlstore.DamagedIndexes(fileProblems)
		if records.Found > 0 || recordsErr != nil {
			indexes = nil
		}
		switch {
		case len(indexes) > 0 && *repair:
			if err := src.db.RepairIndexes(ctx, indexes); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "database file: rebuilt the damaged indexes %s from their tables (REINDEX)\n", strings.Join(indexes, ", "))
			if fileProblems, err = src.db.CheckFile(ctx); err != nil {
				return err
			}
			for _, p := range fileProblems {
				fmt.Fprintln(env.Stdout, "PROBLEM: database file, after the rebuild:", p)
			}
		case len(indexes) > 0:
			fmt.Fprintf(env.Stdout, "database file: the damage is confined to indexes (%s): with the node stopped, run provex verify --repair to rebuild them from their tables\n", strings.Join(indexes, ", "))
		}
		if len(fileProblems) == 0 {
			fmt.Fprintln(env.Stdout, "database file: SQLite integrity check passed (tables, indexes, pages)")
		}
		problems += len(fileProblems)
	}
	wrong, err := checkRollups(ctx, env.Stdout, src.db, *repair)
	switch {
	case sqlstore.IsFileDamaged(err):
		fmt.Fprintln(env.Stdout, "PROBLEM: summary rollups: not all read:", err)
		wrong++
	case err != nil:
		return err
	}
	if bad > 0 || problems > 0 || wrong > 0 {
		return errors.New(what + " does not verify")
	}
	return nil
}

// checkAudit checks the audit trail, prints what it finds, and returns the
// number of problems. With repair, a lookup of who read a record
// (audit_names) that disagrees with the read records is rewritten from
// them.
func (s *verifySources) checkAudit(ctx context.Context, w io.Writer, repair bool) (int, error) {
	c, err := s.db.CheckAudit(ctx)
	if err != nil {
		return 0, err
	}
	if repair && c.NamesWrong > 0 {
		rows, err := s.db.RepairAuditNames(ctx)
		if err != nil {
			return 0, err
		}
		fmt.Fprintf(w, "audit: %d rows of audit_names disagreed with the read records; rewrote it from them (%d rows)\n", c.NamesWrong, rows)
		if c, err = s.db.CheckAudit(ctx); err != nil {
			return 0, err
		}
	}
	for _, p := range c.Problems {
		fmt.Fprintln(w, "PROBLEM: audit:", p)
	}
	for _, lost := range c.OwnRecordsLost {
		// Not a problem of the trail as it is: said, so that the loss of
		// who made them does not pass silently (an outside review).
		fmt.Fprintf(w, "audit: own writes %s/%d..%d have no record of who made them: their audit records were lost (the data directory was rolled back, or restored from an older copy) and a peer gave the entries back (sync.repair)\n", s.db.Member(), lost[0], lost[1])
	}
	switch {
	case len(c.Problems) > 0:
	case c.Records == 0:
		fmt.Fprintln(w, "audit trail empty: nothing written or read through this node yet")
	case len(s.own) == 0:
		// Without the key the head's signature was not checked: saying it
		// was signed by the node's key claimed what no one checked.
		fmt.Fprintf(w, "audit trail intact: %d records, head %x, covering the whole change log (its signature not checked: give --key)\n", c.Records, c.Head)
	default:
		fmt.Fprintf(w, "audit trail intact: %d records, head %x, signed by the node's key, covering the whole change log\n", c.Records, c.Head)
	}
	return len(c.Problems), nil
}

// checkRollups recounts the summary rollups, prints what disagrees (and
// what was rewritten), and returns the number of groups still wrong.
func checkRollups(ctx context.Context, w io.Writer, db *sqlstore.DB, repair bool) (int, error) {
	found, err := db.CheckRollups(ctx, repair)
	if err != nil {
		return 0, err
	}
	for _, m := range found.Listed {
		fmt.Fprintf(w, "PROBLEM: rollup %s, group %s: the rollup holds %s, the records %s\n", m.Rollup, m.Group, m.Stored, m.Recount)
	}
	if more := found.Groups - len(found.Listed); more > 0 {
		fmt.Fprintf(w, "PROBLEM: and %d more groups (at most %d are listed for each rollup)\n", more, sqlstore.ListedPerRollup)
	}
	switch {
	case found.Groups == 0:
		fmt.Fprintf(w, "summary rollups: all %d equal a recount of the records\n", found.Rollups)
	case repair:
		fmt.Fprintf(w, "summary rollups: %d groups disagreed with a recount; rewritten from the records\n", found.Groups)
		return 0, nil
	default:
		fmt.Fprintf(w, "summary rollups: %d groups disagree with a recount; run provex verify --repair to rewrite them from the records\n", found.Groups)
	}
	return found.Groups, nil
}

func first(keys []ed25519.PublicKey) ed25519.PublicKey {
	if len(keys) == 0 {
		return nil
	}
	return keys[0]
}
