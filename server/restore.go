package server

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/provex/provex/changelog"
	"github.com/provex/provex/federation"
	"github.com/provex/provex/internal/ownerfile"
	"github.com/provex/provex/replication"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

// restoreOpened, when set (by tests), is called once the restore's store
// is open: an error stops the restore there, as a kill would.
var restoreOpened func() error

// RestoreOptions are the operator's choices for a restore.
type RestoreOptions struct {
	// AcceptUnreached lets the node write on after a restore that could not
	// reach every member, when no member reached shows newer entries of its
	// log: the operator accepts that an unreached member may hold some,
	// which the node's next entries would then fork.
	AcceptUnreached bool
}

// RestoreResult is what a restore got back, and whether the node may
// write: Held says why not ("" when it may).
type RestoreResult struct {
	*replication.RestoreReport
	Held string
}

// Restore rebuilds the data directory of a node whose database is gone
// from its peers, with its keys (cfg.Keys, required) and the manifest
// (required): its own log, checked against its own signed checkpoints, its
// records, confidential ones included (it is a reader of what it sealed),
// and every other origin's log. It asks every member of the manifest, as
// any may hold copies. It does not serve meanwhile: nothing can write.
//
// It refuses a database that holds entries of the node's own log, except
// one an earlier restore left held (run again to finish it). When a member
// reached holds a signed checkpoint newer than the log got back, or a
// member was not reached (and AcceptUnreached is not given), the node's
// writes are held (refused as UNAVAILABLE) from the next seq on, until a
// restore run again finds nothing missing: a new entry there could fork
// the log.
func Restore(ctx context.Context, cfg Config, opts RestoreOptions) (*RestoreResult, error) {
	if !resource.IsMember(cfg.Member) {
		return nil, fmt.Errorf("member %q is neither a province slug nor %q", cfg.Member, resource.Ministry)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Manifest == nil || len(cfg.Manifest.Members) < 2 {
		return nil, errors.New("restore needs the federation manifest, with the members to restore from")
	}
	if cfg.Keys.Signing == nil {
		return nil, errors.New("restore needs the node's key file: its signing key checks its own log, its encryption keys open its sealed records")
	}
	// A data directory given by mistake may hold a newer manifest than
	// the file: its keys check the signatures the store holds.
	stored, err := takeSavedManifest(ctx, &cfg)
	if err != nil {
		return nil, err
	}
	signingKey, err := ownKeys(cfg.Manifest, cfg.Member, &cfg.Keys, cfg.KeyFile)
	if err != nil {
		return nil, err
	}
	sealer, err := changelog.NewSealer(cfg.Keys.Encryption...)
	if err != nil {
		return nil, err
	}
	dial := cfg.SyncDial
	if dial == nil {
		if cfg.Cert == nil {
			return nil, errors.New(needCertificate("restore", cfg))
		}
		if err := checkNodeCert(cfg.Cert, cfg.Member); err != nil {
			return nil, err
		}
		if err := checkNodeCertCA(cfg.Cert, cfg.Manifest, cfg.Member, cfg.Logger); err != nil {
			return nil, err
		}
		caPool, err := cfg.Manifest.CAPool()
		if err != nil {
			return nil, fmt.Errorf("mutual TLS between nodes: %w", err)
		}
		dial = peerDial(*cfg.Cert, func() *x509.CertPool { return caPool }, 5*time.Second)
	}
	if err := ownerfile.MkdirPrivate(cfg.DataDir, cfg.Logger); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	// A newer signed manifest a peer sends is taken and kept, as a serving
	// node would; the node then starts on it.
	var (
		store *sqlstore.DB
		live  *federation.Live
	)
	live = federation.NewLive(cfg.Manifest, func(m *federation.Manifest) error {
		if cfg.Manifest.Signature == nil {
			return errors.New("this node's manifest is unsigned: it takes no other")
		}
		return keepManifest(ctx, &cfg, store, live.Load(), m)
	})
	store, err = sqlstore.Open(ctx, cfg.storeLocation(), cfg.Member, sqlstore.Options{
		Logger: cfg.Logger, Key: signingKey, PastKeys: pastKeys(live.Load(), cfg.Member), Sealer: sealer, Directory: live, Restore: true, Release: cfg.Version,
	})
	if err != nil {
		return nil, err
	}
	defer store.Close()
	if restoreOpened != nil {
		if err := restoreOpened(); err != nil {
			return nil, err
		}
	}
	if err := checkTakenAtStart(ctx, store, stored, cfg.Manifest); err != nil {
		return nil, err
	}
	head, err := store.Head(ctx)
	if err != nil {
		return nil, err
	}
	hold, held := store.OwnLogHold()
	switch {
	case held && strings.HasPrefix(hold.Problem, storage.ForkedLog):
		// Carried on in place, the restore lifted the hold and the node
		// wrote on its fork (an outside review): the peers' history goes
		// into an empty directory only.
		return nil, fmt.Errorf("%s holds a forked log of %s (%s): move it aside and restore into an empty data directory", cfg.storeName(), cfg.Member, hold.Problem)
	case head.Seq > 0 && !held:
		return nil, fmt.Errorf("%s already holds %d entries of %s's own log: a restore into it could fork the log; restore into an empty data directory",
			cfg.storeName(), head.Seq, cfg.Member)
	case !held:
		// A database an earlier node claimed, with none of its log: held
		// now, so that a restore cut short (killed, the machine lost)
		// leaves a store that refuses writes until a restore run again
		// finishes it, as the hold says. One the restore made was held
		// as it was claimed (sqlstore.Options.Restore).
		if err := store.HoldOwnLog(ctx, sqlstore.RestoreUnfinished(cfg.Member)); err != nil {
			return nil, err
		}
	}
	// Otherwise this restore or an earlier one held it: this one carries on.
	var peers []string
	for _, m := range cfg.Manifest.MemberIDs() {
		if m != cfg.Member {
			peers = append(peers, m)
		}
	}
	engine, err := replication.New(replication.Config{
		Member: cfg.Member, Store: store, Manifest: live, Peers: peers,
		Dial: dial, Logger: cfg.Logger, TrustClaimedMember: cfg.Unprotected, Restoring: true,
		// The room a serving node keeps (THREATS N20): a restore stopped
		// for want of it leaves the store held, as one cut short.
		NoRoom: cfg.noRoom(),
	})
	if err != nil {
		return nil, err
	}
	rep, err := engine.Restore(ctx)
	if err != nil {
		return nil, err
	}
	res := &RestoreResult{RestoreReport: rep}
	unreached := make([]string, 0, len(rep.Unreached))
	for m := range rep.Unreached {
		unreached = append(unreached, m)
	}
	slices.Sort(unreached)
	if missing, ok := rep.Missing(); ok {
		res.Held = fmt.Sprintf("restored %s's log through %d, but %s holds its signed checkpoint %d: entries %s were written and not got back. "+
			"The node does not write until they are (it asks its peers for them while it serves); run provex restore again to lift this once they are",
			cfg.Member, rep.Head, rep.SignedBy, rep.Signed.Seq, missing)
	} else if len(unreached) > 0 && !opts.AcceptUnreached {
		res.Held = fmt.Sprintf("restored %s's log through %d, but %s could not be reached and may hold later entries of it. "+
			"The node does not write until provex restore is run again with them reachable, or with --accept-unreached (the node then writes %d next)",
			cfg.Member, rep.Head, strings.Join(unreached, ", "), rep.Head+1)
	}
	// The members of the manifest are known before what is owed is worked
	// out: known after, each would be owed, as one to come, the withdrawal
	// of every record narrowed from public (knowMembers), told already or
	// not. Both before the hold is lifted: a restore cut short between
	// them is run again.
	if err := store.SaveManifest(ctx, live.Load()); err != nil {
		return nil, err
	}
	if err := store.RebuildOwed(ctx); err != nil {
		return nil, err
	}
	if err := store.ReleaseOwnLog(ctx); err != nil {
		return nil, err
	}
	if res.Held != "" {
		if err := store.HoldOwnLog(ctx, res.Held); err != nil {
			return nil, err
		}
	}
	return res, nil
}
