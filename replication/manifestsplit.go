package replication

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/provex/provex/federation"
)

// manifestSplit tracks the peers that hold another manifest of this
// node's serial: two manifests signed with one serial (from two copies of
// the master), which nodes never resolve by serial, so the federation
// stays split on who is in it for good. Nothing else shows it: both sides
// report the same serial (an outside review found the convergence check
// saying yes while one node still counted a removed member in).
type manifestSplit struct {
	mu     sync.Mutex
	serial int
	// peers maps each peer seen on another manifest of serial to when it
	// last said so and when that was last logged.
	peers map[string]*splitPeer
}

type splitPeer struct{ seen, logged time.Time }

// splitForgetAfter is how long a peer stays named after it last said it
// holds another manifest: a real split says so at every pull, either way,
// while one pull of a member lying (or a peer gone since) degraded the
// node's health for good (an outside review). A variable for tests.
var splitForgetAfter = 2 * time.Minute

// heardManifest notes what peer said of its manifest: its serial and
// digest (nil: it did not say, or its digest is this node's), against m,
// the manifest this node used for the exchange, whose digest is own. A
// peer on m's serial with another digest is logged (again every
// failureLogEvery) and named by conflict until it says otherwise, for
// splitForgetAfter, or the node moves to another manifest.
func (e *Engine) heardManifest(m *federation.Manifest, own []byte, peer string, serial uint64, digest []byte) {
	s := &e.split
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.serial != m.Serial {
		s.serial, s.peers = m.Serial, nil
	}
	if serial != uint64(m.Serial) || len(digest) == 0 || bytes.Equal(digest, own) {
		delete(s.peers, peer)
		return
	}
	now := time.Now()
	if s.peers == nil {
		s.peers = map[string]*splitPeer{}
	}
	sp := s.peers[peer]
	if sp == nil {
		sp = &splitPeer{}
		s.peers[peer] = sp
	}
	sp.seen = now
	if now.Sub(sp.logged) < failureLogEvery {
		return
	}
	sp.logged = now
	e.log.Error("a peer holds another federation manifest of this node's serial", "peer", peer, "serial", m.Serial, "digest", fmt.Sprintf("%x", own[:min(len(own), 8)]), "peer_digest", fmt.Sprintf("%x", digest[:min(len(digest), 8)]), "do", federation.OneSerialAdvice(m.Serial))
}

// ManifestConflict says which peers hold another manifest of this node's
// serial, and what to do; "" when none does.
func (e *Engine) ManifestConflict() string {
	m := e.manifest()
	s := &e.split
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.serial != m.Serial {
		return ""
	}
	var peers []string
	for p, sp := range s.peers {
		if time.Since(sp.seen) < splitForgetAfter {
			peers = append(peers, p)
		}
	}
	if len(peers) == 0 {
		return ""
	}
	slices.Sort(peers)
	verb := "holds"
	if len(peers) > 1 {
		verb = "hold"
	}
	return fmt.Sprintf("%s %s another federation manifest of serial %d than this node: two manifests were signed with that serial; %s", strings.Join(peers, ", "), verb, m.Serial, federation.OneSerialAdvice(m.Serial))
}
