package replication

import (
	"context"
	"fmt"
	"time"
)

// fallbackIntervals is how many sync intervals the pulls from every peer
// of a node may fail before it also pulls from another member its
// manifest lists (checkFallback).
const fallbackIntervals = 6

// fallbackLoop checks, every interval, whether the node is cut off from
// its peers and so pulls from another member, until ctx ends.
func (e *Engine) fallbackLoop(ctx context.Context) {
	ticker := time.NewTicker(e.cfg.Interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		e.checkFallback(time.Now())
	}
}

// checkFallback makes a node whose pulls from every peer have failed for
// fallbackIntervals pull also from one other member the manifest lists, at
// the address the manifest gives it, the next one in turn while it fails
// too, until a pull from a peer works again. A node that was down while a
// manifest moved its only peer, and that no node lists (README's own
// set-up of a new member), dialed the old address for good, took no newer
// manifest and sent its writes to no one: nothing pulled from it once the
// moved peer restarted without its adoptions (an outside review). The
// member pulled from sends its newer manifest in the pull, and pulls from
// this node in turn (adopt).
func (e *Engine) checkFallback(now time.Time) {
	e.peersMu.Lock()
	defer e.peersMu.Unlock()
	current := e.fallback
	if current != nil && e.peers[current.member] != current {
		current, e.fallback = nil, nil // a manifest removed it (dropRemovedAdopted)
	}
	others, cutOff := 0, true
	for _, p := range e.peers {
		if p == current {
			continue
		}
		others++
		p.mu.Lock()
		since := p.failingSince
		p.mu.Unlock()
		if since.IsZero() || now.Sub(since) < fallbackIntervals*e.cfg.Interval {
			cutOff = false
		}
	}
	switch {
	case others == 0:
		// A node without peers hears of others only through the nodes
		// that list it, and says so at start (New).
		return
	case !cutOff:
		if current != nil {
			e.dropFallback(current)
			e.log.Info("a pull from a peer works again: stopped pulling from the member pulled from while none did", "member", current.member)
		}
		return
	}
	if current != nil {
		current.mu.Lock()
		failing := !current.failingSince.IsZero()
		current.mu.Unlock()
		if !failing {
			return
		}
		e.dropFallback(current)
	} else if why := fmt.Sprintf("no pull from any of this node's %d peers has worked for %s", others, fallbackIntervals*e.cfg.Interval); e.fallbackLogged.due(why, now) {
		e.log.Warn(why+": pulling also from the other members the federation manifest lists, one at a time, at the addresses it gives, until a peer works again", "serial", e.manifest().Serial)
	}
	var candidates []string
	for _, m := range e.manifest().Members {
		if _, peer := e.peers[m.ID]; !peer && m.ID != e.cfg.Member {
			candidates = append(candidates, m.ID)
		}
	}
	if len(candidates) == 0 {
		return
	}
	p := &peer{member: candidates[e.fallbackTurn%len(candidates)], wake: make(chan struct{}, 1), adopted: true}
	e.fallbackTurn++
	e.peers[p.member], e.fallback = p, p
	e.log.Debug("pulling from a member while no peer works", "member", p.member)
	if r := e.running; r != nil && r.ctx.Err() == nil {
		e.startPeer(r, p)
	}
}

// dropFallback stops pulling from p, the member pulled from while no peer
// worked; the caller holds peersMu.
func (e *Engine) dropFallback(p *peer) {
	delete(e.peers, p.member)
	e.fallback = nil
	if p.stop != nil {
		p.stop()
	}
}
