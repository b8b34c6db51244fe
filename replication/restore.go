package replication

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/provex/provex/changelog"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/internal/requestid"
	"github.com/provex/provex/storage"
)

// ownCheckpoint takes note of a checkpoint of this node's own log that a
// peer sent: the peer holds its copy of the log that far. Only this node
// signs its checkpoints, so one that verifies with its key and names an
// entry after the node's head proves the node wrote entries it no longer
// holds (its data directory restored from peers, or from an old copy).
// Writing on would give their seqs a second entry and fork the log: a
// serving node records them as missing, which holds its writes until a
// peer's copies repair them; a restore reports them.
func (e *Engine) ownCheckpoint(ctx context.Context, p *peer, cp changelog.Checkpoint) error {
	// Only the current key: a retired one, perhaps in other hands, must not
	// be able to make the node think it lost entries and stop its writes.
	mem, ok := e.manifest().Member(cp.Origin)
	if ok && !cp.Verify(mem.PublicKey) && cp.Verify(mem.PreviousPublicKeys...) {
		return nil // signed before a rotation: proves nothing new
	}
	if !ok || !cp.Verify(mem.PublicKey) {
		e.refusedFrom(ctx, p, "a checkpoint of this node's own log", fmt.Sprintf("checkpoint %s/%d does not verify with this node's key", cp.Origin, cp.Seq))
		return nil
	}
	e.ownMu.Lock()
	if cp.Seq > e.ownSigned.Seq {
		e.ownSigned, e.ownFrom = cp, p.member
	}
	e.ownMu.Unlock()
	if e.cfg.Restoring {
		return nil
	}
	head, err := e.cfg.Store.Head(ctx)
	if err != nil {
		return err
	}
	if cp.Seq <= head.Seq {
		return e.checkOwnEntry(ctx, p, cp, head.Seq)
	}
	for _, d := range e.cfg.Store.Damaged(cp.Origin) {
		if d.First <= head.Seq+1 && d.Last >= cp.Seq {
			return nil // known already
		}
	}
	r := changelog.Range{Origin: cp.Origin, First: head.Seq + 1, Last: cp.Seq}
	problem := fmt.Sprintf("%s holds this node's checkpoint %s/%d, after its newest entry %d: entries %s were written here and are lost from this copy of the log", p.member, cp.Origin, cp.Seq, head.Seq, r)
	e.log.Error("own change log is behind a peer's copy; writes wait for a repair from peers", "peer", p.member, "problem", problem)
	return e.cfg.Store.ReportDamage(ctx, storage.Damage{Range: r, Problem: problem})
}

// nextToRestoreFrom is the first member (in name order) of the manifest in
// effect other than this node that a round of a restore has not pulled
// from and that did not fail at the address the manifest gives it, made a
// peer.
func (e *Engine) nextToRestoreFrom(pulled map[string]bool, unreached, failedAt map[string]string) (string, bool) {
	members := e.manifest().MemberIDs()
	slices.Sort(members)
	for _, m := range members {
		if _, failed := unreached[m]; failed {
			if mem, _ := e.manifest().Member(m); mem.Address == failedAt[m] {
				continue
			}
			// A newer manifest moved it since: asked again, there.
			delete(unreached, m)
			delete(pulled, m)
		}
		if m == e.cfg.Member || pulled[m] {
			continue
		}
		e.adopt(m, "a newer manifest lists") // logged only if new
		return m, true
	}
	return "", false
}

// RestoreReport is what a restore from peers got back.
type RestoreReport struct {
	// Head is the last entry of the node's own log it got back, checked
	// against the node's signed checkpoints.
	Head uint64
	// Signed is the newest checkpoint of the node's own log any peer
	// showed (verified with the node's key), and SignedBy the peer. When
	// it is after Head, entries Head+1..Signed.Seq are known to exist and
	// were not got back.
	Signed   changelog.Checkpoint
	SignedBy string
	// Reached are the peers a pull completed with; Unreached, the others
	// and why. CutShort are the reached peers whose pull was ended past
	// the node's own log (restoreOthersFor), and why: they gave all they
	// hold of it, but not every other origin's entries.
	Reached   []string
	Unreached map[string]string
	CutShort  map[string]string
	// Origins are the logs the node holds at the end.
	Origins []storage.OriginState
}

// Missing is the range of the node's own log known to exist on a peer and
// not got back (ok false when none).
func (r *RestoreReport) Missing() (changelog.Range, bool) {
	if r.Signed.Seq <= r.Head {
		return changelog.Range{}, false
	}
	return changelog.Range{Origin: r.Signed.Origin, First: r.Head + 1, Last: r.Signed.Seq}, true
}

// Restore rebuilds the node's store from its peers: one pull from each,
// in turn, which brings the node's own log first (the servers send it
// first) and then every other origin, for restoreOthersFor at most. Each
// pull continues the own log where the one before ended, so the node ends
// with the longest chain that verifies against its own signed checkpoints
// among the peers it reached. If a peer showed a newer checkpoint than
// that chain reaches, each reached peer is asked once more. It stops with
// an error when the disk has not the room the node keeps (Config.NoRoom):
// the restore did not finish. The engine must be made with Restoring; Run
// must not be running.
func (e *Engine) Restore(ctx context.Context) (*RestoreReport, error) {
	if !e.cfg.Restoring {
		return nil, fmt.Errorf("replication: the engine was not made to restore")
	}
	// A restore pulls everything the federation holds: without the room a
	// serving node keeps, it filled the disk (an outside review).
	noRoom := func() error {
		if why := e.checkRoom(); why != "" {
			return fmt.Errorf("restore stopped: %s; it did not finish: make room (or lower --disk-reserve-mb) and run provex restore again", why)
		}
		return nil
	}
	rep := &RestoreReport{Unreached: map[string]string{}, CutShort: map[string]string{}}
	reached := map[string]bool{}
	failedAt := map[string]string{} // the address a member could not be reached at
	for round := 0; round < 2; round++ {
		// The members of the newest manifest: a peer may give a newer one
		// than the node's file (members added since, who may hold the
		// node's newest entries; members removed, who are not waited for).
		pulled := map[string]bool{}
		for {
			// Before each pull, and after the last (whose runs may not
			// have been applied for want of room).
			if err := noRoom(); err != nil {
				return nil, err
			}
			m, ok := e.nextToRestoreFrom(pulled, rep.Unreached, failedAt)
			if !ok {
				break
			}
			pulled[m] = true
			p, _ := e.peerOf(m)
			id := requestid.New()
			err := e.pullFrom(ctx, p, id)
			if errors.Is(err, errCutShort) {
				e.log.Warn("restore: pull cut short; the next member is asked", "peer", m, "request_id", id, "err", err)
				rep.CutShort[m] = err.Error()
				err = nil
			} else if err == nil {
				delete(rep.CutShort, m) // asked again, it gave all
			}
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				why := apperr.Printable(err.Error())
				rep.Unreached[m] = why
				mem, _ := e.manifest().Member(m)
				failedAt[m] = mem.Address
				e.log.Warn("restore: pull failed", "peer", m, "request_id", id, "err", why)
				continue
			}
			if !reached[m] {
				reached[m] = true
				rep.Reached = append(rep.Reached, m)
			}
		}
		head, err := e.cfg.Store.Head(ctx)
		if err != nil {
			return nil, err
		}
		rep.Head = head.Seq
		e.ownMu.Lock()
		rep.Signed, rep.SignedBy = e.ownSigned, e.ownFrom
		e.ownMu.Unlock()
		if rep.Signed.Seq <= rep.Head {
			break
		}
	}
	for m := range rep.Unreached {
		if _, member := e.manifest().Member(m); !member {
			delete(rep.Unreached, m) // removed by a newer manifest
		}
	}
	for m := range rep.CutShort {
		if _, member := e.manifest().Member(m); !member {
			delete(rep.CutShort, m)
		}
	}
	origins, err := e.cfg.Store.Origins(ctx)
	if err != nil {
		return nil, err
	}
	rep.Origins = origins
	return rep, nil
}

// checkOwnEntry compares a checkpoint of this node's own log, signed with
// its key, with the node's entry of its seq (at or before its head). A
// different entry proves that this log forked: the node was run on an old
// copy of its data directory and wrote again, under seqs its peers hold
// other entries of. A node with no peers of its own (others pull from it)
// hears of no later checkpoint before it writes, so it went on writing,
// past the peers' copy, for good, health saying ok (an outside review).
// Now its writes are held, and it says what to do.
func (e *Engine) checkOwnEntry(ctx context.Context, p *peer, cp changelog.Checkpoint, head uint64) error {
	for _, d := range e.cfg.Store.Damaged(cp.Origin) {
		if d.First <= cp.Seq && (d.Last >= cp.Seq || d.Last == storage.OpenEnded) {
			return nil // damaged here, or held already: its checks tell it
		}
	}
	own, err := e.cfg.Store.Changes(ctx, cp.Origin, cp.Seq-1, 1)
	if err != nil || len(own) != 1 || own[0].Seq != cp.Seq || bytes.Equal(own[0].Hash, cp.Hash) {
		// An entry missing here (Changes gives the next) is a gap the
		// node's checks find and its peers repair, not a fork.
		return err
	}
	r := changelog.Range{Origin: cp.Origin, First: head + 1, Last: storage.OpenEnded}
	problem := fmt.Sprintf(storage.ForkedLog+": %s holds checkpoint %s/%d, signed with this node's key, of another entry %d than this node's "+
		"(the node was run on an old copy of its data directory and wrote again); writes are held: move the data directory aside and run provex restore, "+
		"which takes the peers' history back (what this node wrote from the fork on is lost)", p.member, cp.Origin, cp.Seq, cp.Seq)
	e.log.Error("own change log forked from the peers' copy; writes are held", "peer", p.member, "problem", problem)
	return e.cfg.Store.ReportDamage(ctx, storage.Damage{Range: r, Problem: problem})
}
