// Package replication is provex's sync engine. Every node serves its change
// logs (its own and every other origin's it holds) over SyncService, pulls
// from its configured peers after its version vector, and verifies
// everything it receives before applying it: each entry must continue the
// origin's hash chain, and a run of entries is applied only up to a
// checkpoint signed by the origin's key from the federation manifest. So a
// relay can pass entries on but can neither forge nor alter nor drop one
// unseen. Every entry travels whole, sealed where not every member may read
// it, so delivery does not depend on who peers with whom. A run that does
// not verify is refused for its origin alone: the pull goes on with the
// other origins, and the other peers are asked at once.
//
// Apply is idempotent (entries continue the stored chain or are refused),
// batched per message, and persisted, so a restart resumes where it
// stopped. A peer that announces new entries is pulled from at once; a
// jittered periodic exchange catches anything missed.
//
// The engine also checks the logs its node stores (at start-up, after new
// entries, and in full now and then), never serves a range that does not
// verify, and asks its peers for their copies of it (Repair).
package replication

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/provex/provex/changelog"
	"github.com/provex/provex/federation"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/internal/requestid"
	"github.com/provex/provex/storage"
)

// Config is what an engine needs.
type Config struct {
	// Member is this node's member id.
	Member string
	Store  storage.Store
	// Manifest gives peers' addresses and the keys that verify checkpoints:
	// the one in effect at each use, as newer signed ones arrive.
	Manifest *federation.Live
	// Peers are the members this node pulls from (and announces to).
	Peers []string
	// Address is the sync address the manifest gave this node when it
	// started, which its peer listener serves until a restart (MovedAway);
	// "" for a node without one.
	Address string
	// Interval is the period of the background exchange with each peer
	// (default 5s), jittered by ±20%.
	Interval time.Duration
	// BatchSize is the entries per pulled message (default 500).
	BatchSize int
	// CheckInterval is the period of the incremental check of the stored
	// logs (default 30s); ScrubInterval that of the full one (default 1h).
	CheckInterval, ScrubInterval time.Duration
	// Dial connects to a peer: the member expected at addr, which a
	// mutual-TLS dialer checks against the peer's certificate (default:
	// plaintext gRPC, for tests of sync alone).
	Dial func(member, addr string) (*grpc.ClientConn, error)
	// TrustClaimedMember takes a Pull or Announce caller's member id from
	// the request when the call carries no authenticated identity (package
	// auth). Only for tests and benchmarks of sync alone: without it such a
	// call is refused.
	TrustClaimedMember bool
	// Restoring accepts entries of the node's own origin from peers (the
	// store must take them: sqlite's Options.Restore). Only provex restore
	// sets it; a serving node is the sole writer of its log.
	Restoring bool
	Logger    *slog.Logger
	// NoRoom, when set, says why the node should not store need more
	// bytes now (its disk would fall below the room it keeps for its own
	// writes), or "".
	NoRoom func(need int64) string
}

// DialOptions are the options of a connection to a peer, but its
// credentials: reconnection no slower than the periodic exchange (gRPC's
// default backoff grows to two minutes, which would leave a peer that came
// back unsynced long after its outage) and messages up to 64 MiB.
func DialOptions(interval time.Duration) []grpc.DialOption {
	backoffCfg := backoff.DefaultConfig
	backoffCfg.MaxDelay = interval
	return []grpc.DialOption{
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoffCfg, MinConnectTimeout: interval}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64 << 20)),
		// A peer that vanished mid-Pull (its machine off, a link down
		// without a reset) is noticed in about a minute, not when the
		// stream's deadline ends. Only while a call is in flight: idle
		// connections are left to the server's idle timeout.
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: KeepaliveTime, Timeout: 20 * time.Second}),
	}
}

// KeepaliveTime is how long a peer connection with a call in flight may be
// silent before the dialling node pings the other. Nodes' servers allow
// pings this often (server.connectionOptions); a client pinging more often
// than its server allows is sent GOAWAY too_many_pings.
const KeepaliveTime = time.Minute

// Engine runs sync for one node.
type Engine struct {
	cfg Config
	log *slog.Logger
	// pausedFor is why pulls are paused (checkRoom), "" while they are not.
	roomMu    sync.Mutex
	pausedFor string
	// peers are the configured peers, and the members that announced news
	// to this node since (adopt): a member that joins the federation is
	// pulled from once it announces, without a change of configuration.
	peersMu sync.Mutex
	peers   map[string]*peer
	// announcedHeads are the heads this node's announcements carry, read
	// once per round of announcements (announceLoop) for every peer.
	announcedHeads atomic.Pointer[[]*syncv1.Position]
	// running is Run's context and goroutines while it runs, for the loops
	// of adopted peers.
	running *runState
	// ca is the federation CA of the manifest in effect (manifestChanged).
	ca      []byte
	metrics metrics
	// changed is signalled when this node has new entries to announce;
	// recheck when a repair ran, so the stored logs are checked again.
	changed, recheck chan struct{}
	// lastTrigger is when triggerOthers last woke the peers (Unix ns).
	lastTrigger atomic.Int64

	// ownSigned is the newest checkpoint of this node's own log that a
	// peer showed, verified with the node's key, and who showed it.
	ownMu     sync.Mutex
	ownSigned changelog.Checkpoint
	ownFrom   string

	// proven are retired-key checkpoints a scan proved (proven.go).
	proven provenCheckpoints

	// callerLogs are what callers' pulls make this node log, logged again
	// only every failureLogEvery for a caller: a caller whose copy of an
	// origin's log is not this node's (it pulls every few seconds), one
	// that asks to repair ranges that are not ones (64 in a pull).
	callerLogs repeatLogs

	// split names peers on another manifest of this node's serial.
	split manifestSplit

	// exchanged is closed once each configured peer's first pull since
	// Run first began has ended (Exchanged).
	exchanged     chan struct{}
	exchangedOnce sync.Once
	// exchangeWithAdopted: the node has no peers configured, so its
	// first adopted peer's exchange closes exchanged (under peersMu).
	exchangeWithAdopted bool
}

type metrics struct {
	applied, rejected, unopened, refused, repaired, served, pulls, pullErrors, announcements, bytes atomic.Int64
}

func (m *metrics) proto() *syncv1.SyncMetrics {
	return &syncv1.SyncMetrics{
		EntriesApplied: m.applied.Load(), EntriesRejected: m.rejected.Load(), EntriesUnopened: m.unopened.Load(),
		RunsRefused: m.refused.Load(), EntriesRepaired: m.repaired.Load(), EntriesServed: m.served.Load(),
		Pulls: m.pulls.Load(), PullErrors: m.pullErrors.Load(),
		AnnouncementsReceived: m.announcements.Load(), BytesReceived: m.bytes.Load(),
	}
}

// peer is one member this node pulls from.
type peer struct {
	member, address string
	wake            chan struct{}
	// announcing is set while a goroutine announces to the peer; pending
	// says there is news it has not announced yet. An unreachable peer so
	// costs one pending call, not one per burst, and no news is left
	// unannounced.
	announcing, pending atomic.Bool
	// adopted says the node pulls from this member because it announced
	// or pulled (adopt), not because it was configured; stop ends its
	// loop when a manifest no longer lists it (manifestChanged).
	adopted bool
	// manifestBehind says the peer last said it holds an older manifest
	// than this node's: the next pull from it carries this node's. A peer
	// whose manifest gives this node's old address cannot pull the new one
	// from it.
	manifestBehind atomic.Bool
	// offered is when the peer last sent its manifest in a pull (unix
	// nanoseconds): one is parsed a second at most, so a peer cannot make
	// this node parse a megabyte of YAML every pull.
	offered atomic.Int64
	stop    context.CancelFunc
	// firstPullEnded, set by Run for the peers configured, tells
	// Exchanged that the peer's first pull ended.
	firstPullEnded func()
	// Failures logged again only every failureLogEvery: the peer's pulls
	// (peerLoop, by status code), the refusal of its runs (refusedFrom,
	// by what was refused), of its manifest (offerManifest), a run of its
	// failing to apply (applier.apply).
	pullFailed, refusedRun       repeatLogs
	refusedManifest, failedApply repeatLog

	mu                                 sync.Mutex
	conn                               *grpc.ClientConn
	lastContact, lastErrorTime         time.Time
	lastError                          string
	received, refused, repaired, pulls int64
	// failingSince is when the peer's pulls began to fail, zero while
	// they work (Isolated). Written by the peer's loop alone, which reads
	// it without the lock.
	failingSince time.Time
	// heads are what the peer last said it holds (heads.go).
	heads map[string]claim
}

func (p *peer) state() *syncv1.PeerState {
	p.mu.Lock()
	defer p.mu.Unlock()
	return &syncv1.PeerState{
		Member: p.member, Address: p.address, LastContact: timestampOrNil(p.lastContact),
		LastErrorTime: timestampOrNil(p.lastErrorTime), LastError: p.lastError,
		EntriesReceived: p.received, RunsRefused: p.refused, EntriesRepaired: p.repaired, Pulls: p.pulls,
	}
}

// New builds an engine; Run starts it.
func New(cfg Config) (*Engine, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Second
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.CheckInterval <= 0 {
		cfg.CheckInterval = 30 * time.Second
	}
	if cfg.ScrubInterval <= 0 {
		cfg.ScrubInterval = time.Hour
	}
	if cfg.Dial == nil {
		interval := cfg.Interval
		cfg.Dial = func(_, addr string) (*grpc.ClientConn, error) {
			return grpc.NewClient(addr, append(DialOptions(interval), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
		}
	}
	if cfg.Manifest == nil {
		return nil, errors.New("replication: a federation manifest is required")
	}
	e := &Engine{cfg: cfg, log: cfg.Logger.With("component", "sync"), peers: map[string]*peer{}, changed: make(chan struct{}, 1), recheck: make(chan struct{}, 1), exchanged: make(chan struct{})}
	for _, id := range cfg.Peers {
		if id == cfg.Member {
			e.log.Warn("a node does not pull from itself; passed over in its peers", "peer", id)
			continue
		}
		if id == "" {
			continue
		}
		if _, ok := cfg.Manifest.Load().Member(id); !ok {
			// A member to come: pulled from once a manifest lists it.
			e.log.Warn("peer is not in the federation manifest; waiting for a manifest that lists it", "peer", id, "serial", cfg.Manifest.Load().Serial)
		}
		e.peers[id] = &peer{member: id, wake: make(chan struct{}, 1)}
	}
	if len(e.peers) == 0 && len(cfg.Manifest.Load().Members) > 1 {
		// Then only nodes that list this one as their peer exchange
		// entries with it; if none does, it is cut off, which nothing
		// else on this node shows (sync status --all does).
		e.log.Warn("no peers: this node pulls from no member; it hears of other members' entries only through nodes that list it as their peer")
	}
	e.ca = cfg.Manifest.Load().CA
	cfg.Manifest.OnChange(e.manifestChanged)
	return e, nil
}

func (e *Engine) manifest() *federation.Manifest { return e.cfg.Manifest.Load() }

// manifestChanged passes a new manifest on: every peer hears of it (and
// pulls it from this node), and every peer is pulled from at once, as new
// keys may verify what was refused before.
func (e *Engine) manifestChanged(m *federation.Manifest) {
	e.log.Info("federation manifest in effect", "serial", m.Serial, "members", len(m.Members), "expires", m.Expires)
	if !bytes.Equal(m.CA, e.ca) {
		// Connections made under the old CA are dropped; the next dials
		// check peers against the new one.
		e.ca = m.CA
		e.closeConns()
	}
	e.dropRemovedAdopted(m)
	e.Changed()
	for _, p := range e.peerList() {
		e.trigger(p.member)
	}
}

// dropRemovedAdopted stops pulling from adopted members that m no longer
// lists: they were peers only while members, and their pulls would fail
// every few seconds until a restart. Configured peers stay, as a member
// to come does (New).
func (e *Engine) dropRemovedAdopted(m *federation.Manifest) {
	e.peersMu.Lock()
	defer e.peersMu.Unlock()
	for id, p := range e.peers {
		if _, ok := m.Member(id); ok || !p.adopted {
			continue
		}
		delete(e.peers, id)
		if p.stop != nil {
			p.stop()
		}
		e.log.Info("stopped pulling from a member the manifest no longer lists", "peer", id, "serial", m.Serial)
	}
}

// syncStopped says why sync is stopped: the manifest is past its grace
// (federation.ExpiryGrace); "" while it may go on.
func (e *Engine) syncStopped() string {
	if f, msg := e.manifest().Freshness(time.Now()); f == federation.Stale {
		return msg
	}
	return ""
}

// offerManifest takes a manifest a peer sent, if the federation key
// trusts it and it is newer.
func (e *Engine) offerManifest(from string, data []byte) {
	m, err := federation.ParseManifest(data)
	if err == nil {
		err = e.cfg.Manifest.Offer(m)
	}
	switch {
	case err == nil:
		e.log.Info("took a newer federation manifest from a peer", "peer", from, "serial", m.Serial)
	case errors.Is(err, federation.ErrNotNewer):
	default:
		// A peer on another federation key offers it at every exchange: the
		// same refusal is logged again only every failureLogEvery.
		if p, ok := e.peerOf(from); ok && !p.refusedManifest.due(err.Error(), time.Now()) {
			return
		}
		e.log.Warn("refused a federation manifest from a peer", "peer", from, "err", err)
	}
}

type runState struct {
	ctx context.Context
	wg  *sync.WaitGroup
}

// peerList returns the peers at this moment.
func (e *Engine) peerList() []*peer {
	e.peersMu.Lock()
	defer e.peersMu.Unlock()
	out := make([]*peer, 0, len(e.peers))
	for _, p := range e.peers {
		out = append(out, p)
	}
	return out
}

func (e *Engine) peerOf(member string) (*peer, bool) {
	e.peersMu.Lock()
	defer e.peersMu.Unlock()
	p, ok := e.peers[member]
	return p, ok
}

// adopt makes a member that announced news, or pulls from this node, a
// peer, if the manifest lists it: a member no node lists in its peers
// reaches them so, also when the node that pulled from it restarted
// (it announces only new entries; it pulls every few seconds).
func (e *Engine) adopt(member, why string) {
	if member == e.cfg.Member {
		return
	}
	// Checked under the lock: a manifest that removes the member is in
	// effect before dropRemovedAdopted takes it, so one of the two sees
	// the other.
	e.peersMu.Lock()
	defer e.peersMu.Unlock()
	if _, ok := e.manifest().Member(member); !ok {
		return
	}
	if _, ok := e.peers[member]; ok {
		return
	}
	p := &peer{member: member, wake: make(chan struct{}, 1), adopted: true}
	if e.exchangeWithAdopted {
		p.firstPullEnded = func() { e.exchangedOnce.Do(func() { close(e.exchanged) }) }
	}
	e.peers[member] = p
	e.log.Info("pulling from a member that "+why, "peer", member)
	if r := e.running; r != nil && r.ctx.Err() == nil {
		e.startPeer(r, p)
	}
}

// startPeer runs p's loop until the engine stops or p is dropped; the
// caller holds peersMu.
func (e *Engine) startPeer(r *runState, p *peer) {
	ctx, stop := context.WithCancel(r.ctx)
	p.stop = stop
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer p.closeConn()
		if p.firstPullEnded != nil {
			defer p.firstPullEnded() // stopped before it: nothing waits
		}
		e.peerLoop(ctx, p)
	}()
}

// Service is the SyncService this engine serves.
func (e *Engine) Service() syncv1.SyncServiceServer { return &server{e: e} }

// Changed tells the engine that this node has new entries (its own writes),
// so it announces them to its peers.
func (e *Engine) Changed() {
	select {
	case e.changed <- struct{}{}:
	default:
	}
}

// trigger makes the loop of a peer pull now.
func (e *Engine) trigger(member string) {
	if p, ok := e.peerOf(member); ok {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// triggerAll makes every peer pull now.
func (e *Engine) triggerAll() { e.triggerOthers("") }

// triggerOthers makes every peer but one pull now: that one sent entries
// that did not verify, and the others may hold good copies. At most once
// a second: peers that refuse each other's entries must not wake each
// other in a loop.
func (e *Engine) triggerOthers(except string) {
	now := time.Now().UnixNano()
	last := e.lastTrigger.Load()
	if now-last < int64(time.Second) || !e.lastTrigger.CompareAndSwap(last, now) {
		return
	}
	for _, p := range e.peerList() {
		if p.member != except {
			e.trigger(p.member)
		}
	}
}

// Exchanged is closed once the first pull from each configured peer since
// Run began has taken in its first message or ended, whether it worked or
// not (or was not made for want of room); for a node with none configured,
// once the first member it adopts has: from then on a peer's checkpoint of this node's own log, the
// node's newest entries that a peer holds, has been heard where a peer was
// reachable, and a node started on an old copy of its data directory
// holds its writes (ownCheckpoint). What the node writes of itself, not
// for a caller (the deliveries of what it owes), waits for it: written
// before, on an old head, it forked the log (an outside review).
func (e *Engine) Exchanged() <-chan struct{} { return e.exchanged }

// Run pulls from every peer and announces new entries until ctx ends.
func (e *Engine) Run(ctx context.Context) {
	var wg sync.WaitGroup
	var firstPulls sync.WaitGroup
	e.peersMu.Lock()
	e.running = &runState{ctx: ctx, wg: &wg}
	for _, p := range e.peers {
		firstPulls.Add(1)
		p.firstPullEnded = sync.OnceFunc(firstPulls.Done)
		e.startPeer(e.running, p)
	}
	// A node with no peers of its own hears of its log from the members
	// that pull from it and that it pulls from in turn (adopted): the
	// first of them closes Exchanged.
	e.exchangeWithAdopted = len(e.peers) == 0
	e.peersMu.Unlock()
	if !e.exchangeWithAdopted {
		go func() { firstPulls.Wait(); e.exchangedOnce.Do(func() { close(e.exchanged) }) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); e.announceLoop(ctx) }()
	wg.Add(1)
	go func() { defer wg.Done(); e.checkLoop(ctx) }()
	wg.Wait()
	e.peersMu.Lock()
	e.running = nil
	e.peersMu.Unlock()
	e.closeConns()
}

// closeConns closes every peer connection; the next call dials again.
func (e *Engine) closeConns() {
	for _, p := range e.peerList() {
		p.closeConn()
	}
}

func (p *peer) closeConn() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
}

// roomFor says why the node should not store need more bytes now, or "".
// What a pull brings could not be stored on a full disk: a follower whose
// disk filled pulled its whole backlog again at every pull, from every
// peer (an outside test); the store checks for room every few seconds.
// Config.NoRoom says so before, keeping room for the node's own writes. A
// database that takes no writes is no room either.
func (e *Engine) roomFor(need int64) string {
	if since := e.cfg.Store.DiskFull(); !since.IsZero() {
		return "this node's disk is full since " + since.UTC().Format(time.RFC3339)
	}
	if since := e.cfg.Store.ReadOnly(); !since.IsZero() {
		// Its runs would fail to apply, each pulled again and again.
		return "this node's database takes no writes since " + since.UTC().Format(time.RFC3339)
	}
	if e.cfg.NoRoom != nil {
		return e.cfg.NoRoom(need)
	}
	return ""
}

// checkRoom says why the node should pull nothing now (there is not room
// for a whole run), or "", keeps it for PullsPaused, and logs when that
// begins and ends.
func (e *Engine) checkRoom() string {
	why := e.roomFor(runFootprint * e.runBytes())
	e.roomMu.Lock()
	defer e.roomMu.Unlock()
	switch {
	case why != "" && e.pausedFor == "":
		e.log.Warn("pulls paused", "why", why)
	case why == "" && e.pausedFor != "":
		e.log.Info("pulls resumed", "paused_for", e.pausedFor)
	}
	e.pausedFor = why
	return why
}

// runFootprint is how many times its entries' bytes a run may take on
// disk once applied: the log's copy, the records' rows with their indexes
// and search words, and the WAL's copy of every page until it is
// checkpointed (a flood of 2 KiB records took about 2.7 times; a check of
// the free space alone let one run fill the room kept, under load, when
// runs join up to 8 MiB). A pull begins, and goes on, only while a whole
// run would fit above the room kept; a run is applied only if it fits.
const runFootprint = 4

// runSize is the most entries, and bytes of entries, a pull applies in
// one run: the store's (storage.RunSizer), or maxApplyEntries and
// maxApplyBytes.
func (e *Engine) runSize() (entries, bytes int) {
	if s, ok := e.cfg.Store.(storage.RunSizer); ok {
		if n, b := s.ApplyRunSize(); n > 0 && b > 0 {
			return n, b
		}
	}
	return maxApplyEntries, maxApplyBytes
}

// runBytes is the most bytes of entries a pull applies in one run.
func (e *Engine) runBytes() int64 {
	_, b := e.runSize()
	return int64(b)
}

// PullsPaused says why the node pulls nothing from its peers now (as its
// peers' loops last found), or "".
func (e *Engine) PullsPaused() string {
	e.roomMu.Lock()
	defer e.roomMu.Unlock()
	return e.pausedFor
}

func (e *Engine) peerLoop(ctx context.Context, p *peer) {
	timer := time.NewTimer(0) // a first exchange right away
	defer timer.Stop()
	loggedFailing := false // a failure logged since the last pull that worked
	backOff := false       // the last pull failed, or entries of it were refused
	for {
		wake := p.wake
		if backOff {
			// Such a peer is tried again at the interval, not at each of
			// its announcements: a member announcing every few
			// milliseconds made this node pull from it, fail and log as
			// often (an outside review).
			wake = nil
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-timer.C:
		}
		if why := e.checkRoom(); why != "" {
			p.mu.Lock()
			p.lastError, p.lastErrorTime = "no pull: "+why+"; pulls resume once there is room", time.Now()
			p.mu.Unlock()
			if p.firstPullEnded != nil {
				// No pull until there is room: the node's own writes go
				// on meanwhile, and so do its deliveries (an outside review).
				p.firstPullEnded()
			}
			timer.Reset(e.cfg.Interval)
			continue
		}
		refusedBefore := p.refusedRuns()
		id := requestid.New()
		err := e.pullFrom(ctx, p, id)
		if p.firstPullEnded != nil {
			p.firstPullEnded()
		}
		backOff = err != nil || p.refusedRuns() > refusedBefore
		switch {
		case err != nil && ctx.Err() == nil:
			e.metrics.pullErrors.Add(1)
			// The text is mostly the peer's (its status's message), so
			// what is kept and logged of it is bounded and escaped.
			now, why := time.Now(), apperr.Printable(err.Error())
			p.mu.Lock()
			p.lastError, p.lastErrorTime = why, now
			if p.failingSince.IsZero() {
				p.failingSince = now
			}
			p.mu.Unlock()
			if p.pullFailed.due(status.Code(err).String(), why, now) {
				e.log.Warn("pull failed", "peer", p.member, "request_id", id, "err", why, "failing_since", p.failingSince)
				loggedFailing = true
			}
		case err == nil && !p.failingSince.IsZero():
			p.pullFailed.clear()
			if loggedFailing {
				e.log.Info("pulls from the peer work again", "peer", p.member, "request_id", id, "failing_since", p.failingSince)
			}
			loggedFailing = false
			p.mu.Lock()
			p.failingSince = time.Time{}
			p.mu.Unlock()
		}
		jitter := 0.8 + 0.4*rand.Float64()
		timer.Reset(time.Duration(float64(e.cfg.Interval) * jitter))
	}
}

// announceLoop tells every peer about new entries, at most every few
// milliseconds so a burst of writes makes one announcement.
func (e *Engine) announceLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.changed:
		}
		time.Sleep(5 * time.Millisecond)
		select {
		case <-e.changed:
		default:
		}
		peers := e.peerList()
		if len(peers) == 0 {
			// Nobody to tell. Reading the heads (every origin's, in a
			// read transaction) every 5 ms of a write burst cost a node
			// without peers about a fifth of its Create throughput at 64
			// writers beside a busy core, and its p99 went from about 40
			// to about 200 ms (bench crud, BENCHMARKS.md).
			continue
		}
		heads := e.ownHeads(ctx)
		e.announcedHeads.Store(&heads)
		for _, p := range peers {
			p.pending.Store(true)
			if p.announcing.CompareAndSwap(false, true) {
				go e.announceWhilePending(ctx, p)
			}
		}
	}
}

func (e *Engine) announceWhilePending(ctx context.Context, p *peer) {
	for {
		for p.pending.Swap(false) {
			e.announce(ctx, p)
		}
		p.announcing.Store(false)
		// News that came after the last Swap but before the Store above
		// would find announcing still set: take it up here.
		if !p.pending.Load() || !p.announcing.CompareAndSwap(false, true) {
			return
		}
	}
}

func (e *Engine) announce(ctx context.Context, p *peer) {
	conn, err := e.connect(p)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	// The peer logs the call under this id, as for a pull.
	id := requestid.New()
	ctx = metadata.AppendToOutgoingContext(ctx, requestid.Header, id)
	var heads []*syncv1.Position
	if h := e.announcedHeads.Load(); h != nil {
		heads = *h
	}
	resp, err := syncv1.NewSyncServiceClient(conn).Announce(ctx, &syncv1.AnnounceRequest{Member: e.cfg.Member, Heads: heads, ManifestSerial: uint64(e.manifest().Serial)})
	if err != nil {
		if ctx.Err() == nil {
			e.log.Debug("announce failed", "peer", p.member, "request_id", id, "err", err)
		}
		return
	}
	if e.peerBehind(resp.GetManifestSerial()) && !p.manifestBehind.Swap(true) {
		e.trigger(p.member)
	}
}

// mayTakeManifestFrom reports whether a manifest member sent in a pull
// may be parsed now: member is a peer, and sent none in the last second.
func (e *Engine) mayTakeManifestFrom(member string) bool {
	p, ok := e.peerOf(member)
	if !ok {
		return false
	}
	now, last := time.Now().UnixNano(), p.offered.Load()
	return now-last >= int64(time.Second) && p.offered.CompareAndSwap(last, now)
}

// peerBehind reports whether a peer that said it holds manifest serial
// (0: a node of a release that does not say) is behind this node's.
func (e *Engine) peerBehind(serial uint64) bool {
	return serial != 0 && serial < uint64(e.manifest().Serial)
}

func (e *Engine) connect(p *peer) (*grpc.ClientConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m, ok := e.manifest().Member(p.member)
	if !ok {
		if p.conn != nil {
			p.conn.Close()
			p.conn = nil
		}
		return nil, fmt.Errorf("peer %s is not in the federation manifest (serial %d)", p.member, e.manifest().Serial)
	}
	if p.conn != nil && m.Address != p.address {
		p.conn.Close() // the manifest moved the peer
		p.conn = nil
	}
	if p.conn == nil {
		p.address = m.Address
		conn, err := e.cfg.Dial(p.member, p.address)
		if err != nil {
			return nil, err
		}
		p.conn = conn
	}
	return p.conn, nil
}

// nextOrZero is the seq due next, or 0 for an origin the pull knows
// nothing of.
func (r *originRun) nextOrZero() uint64 {
	if r == nil {
		return 0
	}
	return r.next
}

// refreshCheckpoint keeps a peer's checkpoint of an entry this node holds
// at the head of an origin's log when it is signed by the origin's current
// key and the node's own is not: the origin re-signed its head after a key
// rotation, and this way the new key comes to cover every copy of the log,
// even where the origin writes nothing new. It reports whether cp's
// signature is one of the origin's keys: a relay that holds only the
// retired key's checkpoint of the head sends that one.
func (e *Engine) refreshCheckpoint(ctx context.Context, cp, held changelog.Checkpoint) bool {
	mem, ok := e.manifest().Member(cp.Origin)
	if !ok {
		return true // an origin removed: its log is passed over
	}
	if !cp.Verify(mem.PublicKey) {
		return cp.Verify(mem.PreviousPublicKeys...)
	}
	if held.Seq == cp.Seq && held.Verify(mem.PublicKey) {
		return true
	}
	if kept, err := e.cfg.Store.KeepCheckpoint(ctx, cp); err != nil {
		e.log.Warn("keeping a checkpoint of the current key", "origin", cp.Origin, "seq", cp.Seq, "err", err)
	} else if kept {
		e.log.Debug("kept a checkpoint of the current key", "origin", cp.Origin, "seq", cp.Seq)
	}
	return true
}

// originRun is what a pull knows of one origin: the last entry verified
// (applied or pending) and the entries waiting for a checkpoint. A refused
// origin is skipped for the rest of the pull.
type originRun struct {
	next uint64
	prev []byte
	// held is the newest checkpoint this node held of the origin when the
	// pull began.
	held changelog.Checkpoint
	// refreshed: a checkpoint of the head this node holds, other than
	// held, was looked at (refreshCheckpoint). One an origin, a pull: an
	// honest peer sends one (the heads at the end of a pull), and each
	// costs a signature's verification, and a valid one a write; a peer
	// sent 200,000 with bad signatures in a pull, each verified, none
	// refused (an outside review).
	refreshed bool
	pending   []changelog.Entry
	// refused: nothing more of the origin in this pull.
	refused bool
	// retired: the peer sent checkpoints of pending entries signed with a
	// key the origin rotated from, which prove nothing this node does not
	// hold.
	retired bool
	// scanning: past what a pull holds, the entries are verified and not
	// held, and noted are the retired key's checkpoints of them
	// (proven.go); scanned counts them, and proved is set once a
	// checkpoint of the current key proved the noted ones.
	scanning bool
	noted    map[uint64]changelog.Checkpoint
	// provenCP is the proven checkpoint (proven.go) of the last entry this
	// message added to pending that has one (Seq 0: none).
	provenCP changelog.Checkpoint
	scanned  int
	proved   bool
}

// What a pull holds while it waits for checkpoints: entries per origin,
// and bytes in all (a peer that sends entries and never a checkpoint is
// refused, not given memory). The bytes are a variable so that tests can
// pass them with a log of a few MiB.
const maxPending = 20000

var maxPendingBytes = 64 << 20

// pullIdle is how long a pull waits for the peer's next message that
// brings something to take in (pullState.taken) before it fails: time
// enough for the largest message (an entry of 4 MB) over a slow link, at
// 15 KB/s. An honest peer sends nothing else but its first message (its
// manifest, or that it holds another), the checkpoint of the caller's own
// log and, last, the heads the caller holds; it keeps no stream open
// waiting for news (it announces them).
var pullIdle = 5 * time.Minute

// restoreOthersFor bounds how long a restore's pull from a member goes on
// past the node's own log, which the servers send first: a member can
// sign entries of its own log without end, each one new, and a restore
// that asked it first never asked the next member, nor got the node's own
// log from it (an outside review). The node's own log has no such bound
// (only its key signs it, so a peer can send no more of it than exists;
// what only its retired key covers is not taken in until the current
// key's checkpoint proves it, so pullIdle bounds a scan of made-up ones);
// what a member cut short did not send of the other origins comes from
// the other members, and from the peers once the node serves.
var restoreOthersFor = 10 * time.Minute

// errCutShort ends a restore's pull that went on past restoreOthersFor.
var errCutShort = errors.New("cut short")

// pullState is what one pull tracks: per origin, the run being verified;
// the ranges this node asked to repair; the copies of one range arriving;
// and the bytes of entries held waiting for a checkpoint.
type pullState struct {
	runs map[string]*originRun
	// requested holds the first entry of each range asked to repair.
	requested map[repairStart]bool
	repair    []changelog.Entry
	// repairFailed passes over the rest of a range whose copies were
	// refused, up to the message that ends it.
	repairFailed bool
	repairBytes  int
	pendingBytes int
	// heads are the highest checkpoint of each origin the pull carried.
	heads map[string]uint64
	// taken counts what the pull took in: runs a checkpoint proves,
	// queued; entries scanned (not a restore's of the node's own log);
	// checkpoints proved; repair copies held. A message that adds nothing
	// to it does not hold the pull open (pullIdle).
	taken int
	// again: a scan proved checkpoints the next pull applies by, at once.
	again bool
}

type repairStart struct {
	origin string
	first  uint64
}

// Repair requests: ranges per pull, and entries per range; the copies of
// a range continue to the next checkpoint the peer holds, at most
// maxRepairReach entries further.
const (
	maxRepairRanges = 64
	maxRepairRange  = 256
	maxRepairReach  = 5000
)

// pullFrom runs one Pull from a peer and applies what verifies. id is the
// pull's request id (requestid.New): the peer logs the Pull it serves
// under it, and this node logs the pull and audits what it writes under it.
func (e *Engine) pullFrom(ctx context.Context, p *peer, id string) (err error) {
	// A peer chooses what a pull verifies: a bug its messages reach
	// fails this pull alone, logged with its stack, not the node, which
	// fell again at each start while the peer sent them (a checkpoint's
	// seq indexed its entries unchecked: an outside review). The runs
	// queued before it are applied or failed first (ap.wait).
	defer func() {
		if r := recover(); r != nil {
			e.log.Error("a pull from a peer failed on a fault of this node's", "peer", p.member, "request_id", id, "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("the pull failed on a fault of this node's (logged with its stack): %v", r)
		}
	}()
	// What the pull writes is audited as the peer's doing, under the id
	// the peer logs the exchange by.
	ctx = storage.WithActor(ctx, storage.Actor{Name: "peer:" + p.member, RequestID: id, Action: "sync.pull"})
	ctx = metadata.AppendToOutgoingContext(ctx, requestid.Header, id)
	conn, err := e.connect(p)
	if err != nil {
		return err
	}
	origins, err := e.cfg.Store.Origins(ctx)
	if err != nil {
		return err
	}
	m := e.manifest()
	req := &syncv1.PullRequest{Member: e.cfg.Member, BatchSize: uint32(e.cfg.BatchSize), ManifestSerial: uint64(m.Serial), ManifestDigest: m.Digest()}
	sentManifest := p.manifestBehind.Load()
	if sentManifest {
		if req.Manifest, err = m.Marshal(); err != nil {
			return err
		}
	}
	st := &pullState{runs: map[string]*originRun{}, requested: map[repairStart]bool{}, heads: map[string]uint64{}}
	start := time.Now()
	askRepair := func(damaged []storage.Damage) {
		for _, d := range damaged {
			for first := d.First; first <= d.Last && len(req.Repair) < maxRepairRanges; first += maxRepairRange {
				r := changelog.Range{Origin: d.Origin, First: first, Last: min(d.Last, first+maxRepairRange-1)}
				req.Repair = append(req.Repair, rangeToProto(r))
				st.requested[repairStart{r.Origin, r.First}] = true
			}
		}
	}
	for _, o := range origins {
		e.proven.forget(o.Origin, o.Seq)
		req.Have = append(req.Have, &syncv1.Position{Origin: o.Origin, Seq: o.Seq, Hash: o.Hash})
		st.runs[o.Origin] = &originRun{next: o.Seq + 1, prev: o.Hash, held: o.Checkpoint}
		askRepair(o.Damaged)
	}
	// The node's own newest entries may be missing (a damaged store):
	// they are asked for like any damage, though the log looks shorter.
	if _, held := st.runs[e.cfg.Member]; !held {
		askRepair(e.cfg.Store.Damaged(e.cfg.Member))
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stream, err := syncv1.NewSyncServiceClient(conn).Pull(ctx, req)
	if err != nil {
		return err
	}
	// A peer that keeps the stream open and sends nothing held this
	// peer's loop for good, its status saying nothing, and so did one
	// that sent an empty message every few minutes (outside reviews).
	// Only the wait for the peer counts, not this node's own applying of
	// what came, and from the last message that brought something to take
	// in.
	idle := time.AfterFunc(pullIdle, func() { cancel(fmt.Errorf("the peer sent nothing new for %v", pullIdle)) })
	defer idle.Stop()
	var waited time.Duration // for the peer, since it last sent something taken in
	// Verified runs are prepared and applied in order (applier) while the
	// next message is received and verified: the store's writer, the
	// preparing of the next run and the network and hashing use both cores.
	ap := newApplier(e, p)
	go ap.run(ctx)
	defer ap.wait()
	e.metrics.pulls.Add(1)
	p.mu.Lock()
	p.pulls++
	p.mu.Unlock()
	received, behind := false, false
	var pastOwnLog time.Time // a restore's: when the first message of another origin came
	for {
		idle.Reset(pullIdle - waited)
		began := time.Now()
		resp, err := stream.Recv()
		idle.Stop()
		waited += time.Since(began)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil && !errors.Is(cause, context.Canceled) {
				return cause
			}
			return err
		}
		// A server sends its manifest first, once; any other is ignored, so
		// a peer cannot make this node parse manifests all pull long. Or
		// it says it holds an older one: the next pull carries this node's.
		if !received {
			if len(resp.GetManifest()) > 0 {
				e.offerManifest(p.member, resp.GetManifest())
			}
			// Kept at once: a node failing closed on an expired manifest
			// says so, then ends the pull with an error.
			behind = e.peerBehind(resp.GetManifestSerial())
			p.manifestBehind.Store(behind)
			e.heardManifest(m, req.ManifestDigest, p.member, resp.GetManifestSerial(), resp.GetManifestDigest())
		}
		if !received {
			waited = 0 // a first message brings the peer's manifest, or none
		}
		received = true
		if why := e.checkRoom(); why != "" {
			// A node far behind gets its peer's whole backlog in one
			// pull: it stops here, not at the next.
			return fmt.Errorf("pull stopped: %s; pulls resume once there is room", why)
		}
		if stopped := e.syncStopped(); stopped != "" {
			// Fail closed: only a newer manifest is taken from peers.
			return errors.New(stopped)
		}
		taken := st.taken
		if err := e.receive(ctx, p, st, resp, ap); err != nil {
			return err
		}
		if e.cfg.Restoring {
			if pastOwnLog.IsZero() && !ofOriginOnly(resp, e.cfg.Member) {
				pastOwnLog = time.Now()
			}
			if !pastOwnLog.IsZero() && time.Since(pastOwnLog) > restoreOthersFor {
				// What is queued is applied (ap.wait) before it returns.
				return fmt.Errorf("%w: still sending other origins' entries %v after the node's own log", errCutShort, restoreOthersFor)
			}
		}
		if st.taken == taken {
			continue
		}
		waited = 0
		// Contact counts once what came is taken in (queued here, applied
		// by the end of the pull unless a run fails): a node whose disk is
		// full, or past its manifest's grace, heard its peers and applied
		// nothing, while national freshness called every province
		// current (an outside review).
		if !ap.anyFailed() {
			p.mu.Lock()
			p.lastContact = time.Now()
			p.mu.Unlock()
		}
	}
	ap.wait()
	if !ap.anyFailed() {
		// A run that failed to apply (a store error) took nothing in:
		// freshness must not call its origin current for it.
		p.mu.Lock()
		p.lastContact = time.Now()
		p.mu.Unlock()
	}
	for origin, r := range st.runs {
		if r.scanning && !r.proved && !r.refused {
			e.refusedFrom(ctx, p, "entries of "+origin, fmt.Sprintf("%d entries of %s after %d MiB held, whose checkpoints are of a key it rotated from, and no checkpoint of its current key proving them", r.scanned+len(r.pending), origin, maxPendingBytes>>20))
		}
	}
	p.pulled(start, st.heads)
	e.log.Debug("pulled", "peer", p.member, "request_id", id, "ms", float64(time.Since(start).Microseconds())/1000)
	if !received {
		p.manifestBehind.Store(false) // on this node's serial: it sends nothing first
		e.heardManifest(m, req.ManifestDigest, p.member, uint64(m.Serial), nil)
	}
	if behind && !sentManifest {
		// Give it this node's manifest now, not at the next exchange.
		st.again = true
	}
	if st.again {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
	if ap.appliedAny.Load() {
		// Pass the news on: peers of this node pull what it just got.
		e.Changed()
	}
	return nil
}

// ofOriginOnly reports whether a pulled message carries entries and
// checkpoints of origin alone (or none).
func ofOriginOnly(resp *syncv1.PullResponse, origin string) bool {
	for _, e := range resp.GetEntries() {
		if e.GetOrigin() != origin {
			return false
		}
	}
	for _, c := range resp.GetCheckpoints() {
		if c.GetOrigin() != origin {
			return false
		}
	}
	return true
}

// applyJob is a verified run of one origin's entries and the checkpoint
// that ends it.
type applyJob struct {
	entries []changelog.Entry
	cp      changelog.Checkpoint
	// weight is what the run holds of the applier's room (queue).
	weight int64
}

// joinedRun is consecutive runs of one origin, prepared (storage.Preparer),
// that the store applies in one transaction under the last one's
// checkpoint.
type joinedRun struct {
	origin string
	runs   []storage.PreparedRun
	// cp ends the last run; earlier are the checkpoints of those before.
	cp      changelog.Checkpoint
	earlier []changelog.Checkpoint
	// entries and size are what the runs hold, weight what they hold of
	// the applier's room.
	entries, size int
	weight        int64
}

// applier applies the runs of one pull in order. One goroutine prepares
// them as they come (storage.Preparer: opening, decoding and checking
// their states) and joins them; another hands each joined run to the
// store, whose writer applies it while the next ones are prepared. A run
// the store refuses (it does not continue the stored chain) stops that
// origin for the rest of the pull, not the pull.
type applier struct {
	e          *Engine
	p          *peer
	store      storage.Preparer
	jobs       chan applyJob
	done       chan struct{}
	closeOnce  sync.Once
	appliedAny atomic.Bool

	// A run joins those queued after it up to maxEntries or maxBytes.
	maxEntries, maxBytes int
	// room bounds the bytes of the runs queued, prepared and the one being
	// applied to two transactions' worth (roomBytes): a peer choosing where
	// its runs end (which checkpoints it sends) could otherwise fill the
	// queue with runs of up to maxPendingBytes each.
	room      *semaphore.Weighted
	roomBytes int64

	mu     sync.Mutex
	failed map[string]bool
}

// newApplier makes the applier of a pull from p, its runs of runSize.
func newApplier(e *Engine, p *peer) *applier {
	entries, bytes := e.runSize()
	store, ok := e.cfg.Store.(storage.Preparer)
	if !ok {
		store = unprepared{e.cfg.Store}
	}
	// Room for a run's worth of messages: the receiver verifies the next
	// ones while a run is applied.
	queue := max(8, entries/DefaultBatchSize)
	room := 2 * int64(bytes)
	return &applier{e: e, p: p, store: store, jobs: make(chan applyJob, queue), done: make(chan struct{}), failed: map[string]bool{},
		maxEntries: entries, maxBytes: bytes, room: semaphore.NewWeighted(room), roomBytes: room}
}

// queue hands a verified run to the applier, waiting while the runs queued
// and the one being applied hold the applier's room; a run larger than
// the room waits for all of it.
func (a *applier) queue(ctx context.Context, job applyJob) error {
	job.weight = min(int64(pendingSize(job.entries)), a.roomBytes)
	if err := a.room.Acquire(ctx, job.weight); err != nil {
		return err
	}
	select {
	case a.jobs <- job:
		return nil
	case <-ctx.Done():
		a.room.Release(job.weight)
		return ctx.Err()
	}
}

// maxApplyEntries bounds the entries of consecutive runs the applier joins
// into one transaction (below). A catch-up writes its records' index
// entries at scattered places; each page they touch is written once per
// transaction, so a few thousand entries per transaction instead of one
// message's worth cut that writing several-fold.
const maxApplyEntries = 8 * DefaultBatchSize

// maxApplyBytes bounds the same in bytes of entries, as a pull's messages
// are (MaxBatchBytes): joining runs of large records must not hold more
// than a few messages' worth.
const maxApplyBytes = 8 * MaxBatchBytes

// run prepares the queued runs in order and joins those of one origin
// that follow each other, up to maxEntries or maxBytes; it hands the
// joined run over when the applying goroutine is free, or when the run is
// full or the next is of another origin. What is queued is prepared and
// joined before a run is handed over, so a run holds all that waited
// while the one before it was applied.
func (a *applier) run(ctx context.Context) {
	defer close(a.done)
	ready := make(chan *joinedRun)
	applied := make(chan struct{})
	go func() {
		defer close(applied)
		for r := range ready {
			a.apply(ctx, r)
			a.room.Release(r.weight)
		}
	}()
	var joined *joinedRun // prepared, not handed over yet
	jobs := a.jobs        // nil once closed and drained
	for jobs != nil || joined != nil {
		var (
			job applyJob
			ok  bool
		)
		switch {
		case joined == nil:
			job, ok = <-jobs
		case jobs == nil || joined.entries >= a.maxEntries || joined.size >= a.maxBytes:
			ready <- joined
			joined = nil
			continue
		default:
			select {
			case job, ok = <-jobs:
			default:
				// Nothing queued: the run goes as soon as the store is
				// free, unless another run comes first.
				select {
				case ready <- joined:
					joined = nil
					continue
				case job, ok = <-jobs:
				}
			}
		}
		if !ok {
			jobs = nil
			continue
		}
		origin := job.cp.Origin
		if joined != nil && joined.origin != origin {
			ready <- joined
			joined = nil
		}
		if joined == nil {
			joined = &joinedRun{origin: origin}
		} else {
			joined.earlier = append(joined.earlier, joined.cp)
		}
		var prepared storage.PreparedRun
		if !a.originFailed(origin) {
			prepared = a.store.PrepareRemote(job.entries)
		}
		joined.runs = append(joined.runs, prepared)
		joined.cp = job.cp
		joined.entries += len(job.entries)
		joined.size += pendingSize(job.entries)
		joined.weight += job.weight
	}
	close(ready)
	<-applied
}

// apply applies a joined run unless its origin failed in this pull.
func (a *applier) apply(ctx context.Context, r *joinedRun) {
	if a.originFailed(r.origin) {
		return // unprepared too if it failed before (failures stay)
	}
	if a.e.roomFor(runFootprint*int64(r.size)) != "" {
		// A run that would take the disk under the room kept, and those
		// received before the pull stopped for want of it, wait for the
		// pull after there is room again, as the rest does.
		a.mu.Lock()
		a.failed[r.origin] = true
		a.mu.Unlock()
		return
	}
	refusals, stored, err := a.store.ApplyPrepared(ctx, r.runs, r.cp, r.earlier...)
	if err != nil {
		if ctx.Err() == nil {
			// Shown in the peer's status, and logged again only every
			// failureLogEvery, as a failing pull is: a full disk failed
			// every pull's apply, and logged each (an outside test).
			now, why := time.Now(), apperr.Printable(err.Error())
			a.p.mu.Lock()
			a.p.lastError, a.p.lastErrorTime = "apply: "+why, now
			a.p.mu.Unlock()
			if a.p.failedApply.due(why, now) {
				a.e.log.Warn("apply failed", "peer", a.p.member, "request_id", storage.ActorFrom(ctx).RequestID, "origin", r.origin, "entries", r.entries, "err", why)
			}
		}
		a.mu.Lock()
		a.failed[r.origin] = true
		a.mu.Unlock()
		return
	}
	for _, r := range refusals {
		if r.Unopened {
			a.e.metrics.unopened.Add(1)
		} else {
			a.e.metrics.rejected.Add(1)
		}
	}
	// Entries another peer's pull brought first are received, not applied.
	a.e.metrics.applied.Add(int64(stored))
	a.p.mu.Lock()
	a.p.received += int64(r.entries)
	a.p.mu.Unlock()
	a.appliedAny.Store(true)
}

// unprepared is a store that prepares nothing ahead (no storage.Preparer):
// its joined runs go to ApplyRemote as one.
type unprepared struct{ storage.Store }

type entriesRun []changelog.Entry

func (r entriesRun) Entries() []changelog.Entry { return r }

func (u unprepared) PrepareRemote(entries []changelog.Entry) storage.PreparedRun {
	return entriesRun(entries)
}

// ApplyPrepared counts every entry stored: ApplyRemote does not say which
// it held already.
func (u unprepared) ApplyPrepared(ctx context.Context, runs []storage.PreparedRun, cp changelog.Checkpoint, earlier ...changelog.Checkpoint) ([]storage.Refusal, int, error) {
	var entries []changelog.Entry
	for _, r := range runs {
		entries = append(entries, r.Entries()...)
	}
	refusals, err := u.ApplyRemote(ctx, entries, cp, earlier...)
	return refusals, len(entries), err
}

// anyFailed reports whether a run of any origin failed in this pull.
func (a *applier) anyFailed() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.failed) > 0
}

func (a *applier) originFailed(origin string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.failed[origin]
}

// wait closes the queue and waits for the last apply.
func (a *applier) wait() {
	a.closeOnce.Do(func() { close(a.jobs) })
	<-a.done
}

// receive verifies one message of a pull and queues the runs it completes.
// What does not verify is refused for its origin alone.
func (e *Engine) receive(ctx context.Context, p *peer, st *pullState, resp *syncv1.PullResponse, ap *applier) error {
	if p.firstPullEnded != nil && (len(resp.GetCheckpoints()) > 0 || len(resp.GetEntries()) > 0) {
		// The first message of logs, once taken in, follows the peer's
		// checkpoint of this node's log, which a server sends before any
		// other (Pull): a pull that goes on for minutes, or a peer that
		// never ends it, held the deliveries waiting for its end (an
		// outside review). Not a message of the manifest or of repairs,
		// which come before it: taking the manifest that gives a member a
		// key, the node wrote what it owed it before it heard it was
		// behind (a review of that fix).
		defer p.firstPullEnded()
	}
	e.metrics.bytes.Add(int64(sizeOf(resp)))
	refuse := func(r *originRun, origin, format string, args ...any) {
		st.pendingBytes -= pendingSize(r.pending)
		r.refused, r.pending = true, nil
		e.refusedFrom(ctx, p, "entries of "+origin, fmt.Sprintf(format, args...))
		e.triggerOthers(p.member)
	}
	if rep := resp.GetRepair(); rep != nil {
		e.receiveRepair(ctx, p, st, rep)
	}
	for _, pe := range resp.GetEntries() {
		entry := entryFromProto(pe)
		if entry.Origin == e.cfg.Member && !e.cfg.Restoring {
			// Only this node writes its own log; a copy from elsewhere adds
			// nothing. (A peer sends it when this node's log is behind its
			// copy: the checkpoints that come with it say so, below.)
			continue
		}
		r := st.runs[entry.Origin]
		if r == nil {
			r = &originRun{next: 1, prev: changelog.ZeroHash}
			st.runs[entry.Origin] = r
			if _, member := e.manifest().Member(entry.Origin); !member {
				// A member removed from the manifest (or never in it): no
				// node applies its entries, and no other peer would give
				// better ones, so they are passed over, not refused.
				r.refused = true
				e.log.Debug("passing over entries of an origin not in the manifest", "peer", p.member, "origin", entry.Origin)
			}
		}
		next := r.next
		switch {
		case r.refused || r.proved || ap.originFailed(entry.Origin):
		case len(entry.Data) > maxEntryData:
			refuse(r, entry.Origin, "%s entry %d holds %d bytes of data, over the %d an entry may", entry.Origin, entry.Seq, len(entry.Data), maxEntryData)
		case overlongName(&entry) != "":
			refuse(r, entry.Origin, "%s entry %d has %s", entry.Origin, entry.Seq, overlongName(&entry))
		case entry.Seq != r.next:
			refuse(r, entry.Origin, "%s entry %d arrived where %d was due", entry.Origin, entry.Seq, r.next)
		case !bytes.Equal(entry.PrevHash, r.prev):
			refuse(r, entry.Origin, "%s entry %d does not link to entry %d", entry.Origin, entry.Seq, entry.Seq-1)
		case !changelog.Verify(&entry):
			refuse(r, entry.Origin, "%s entry %d does not match its hash", entry.Origin, entry.Seq)
		case r.scanning && r.scanned >= maxScanned:
			refuse(r, entry.Origin, "%d entries of %s verified without a checkpoint of its current key", r.scanned, entry.Origin)
		case r.scanning:
			r.scanned++
			r.next, r.prev = entry.Seq+1, entry.Hash
		case (len(r.pending) >= maxPending || st.pendingBytes+entrySize(&entry) > maxPendingBytes) && r.retired:
			// Checkpoints of a retired key: scan on to the current key's
			// (proven.go).
			e.log.Info("verifying entries without holding them, to prove checkpoints signed before a key rotation", "peer", p.member, "origin", entry.Origin, "from", entry.Seq)
			st.pendingBytes -= pendingSize(r.pending)
			r.scanning, r.scanned, r.pending = true, len(r.pending)+1, nil
			r.next, r.prev = entry.Seq+1, entry.Hash
		case len(r.pending) >= maxPending || st.pendingBytes+entrySize(&entry) > maxPendingBytes:
			refuse(r, entry.Origin, "%d entries of %s (%d bytes held in all) without a checkpoint", len(r.pending), entry.Origin, st.pendingBytes)
		default:
			r.pending = append(r.pending, entry)
			st.pendingBytes += entrySize(&entry)
			r.next, r.prev = entry.Seq+1, entry.Hash
			if cp, ok := e.proven.of(entry.Origin, entry.Seq, entry.Hash); ok {
				r.provenCP = cp
			}
		}
		if r.next != next && r.scanning {
			// Scanned: past 64 MiB held, on to a checkpoint that proves
			// them. Entries held waiting for a checkpoint are taken in
			// once one proves them (applyPending): a peer can make up
			// entries that link to the last without a key, and one every
			// few minutes held a pull for good (an outside review).
			// Not a restore's scan of the node's own log: only its retired
			// key vouches for it, which a member may hold, and no message
			// of another origin starts restoreOthersFor; a member sending
			// made-up entries of it held a restore on its pull for 50
			// million of them (an outside review). The current key's
			// checkpoint that ends an honest scan is taken in.
			if !e.cfg.Restoring || entry.Origin != e.cfg.Member {
				st.taken++
			}
		}
	}
	// Runs that reached an entry a proven checkpoint names apply up to it.
	for _, r := range st.runs {
		cp := r.provenCP
		r.provenCP = changelog.Checkpoint{}
		// Not if the run was refused or scanned since, which dropped it.
		if cp.Seq != 0 && !r.refused && !r.scanning && len(r.pending) > 0 && cp.Seq >= r.pending[0].Seq && cp.Seq < r.next {
			if err := e.applyPending(ctx, st, r, ap, cp); err != nil {
				return err
			}
		}
	}
	for _, pc := range resp.GetCheckpoints() {
		cp := checkpointFromProto(pc)
		if _, member := e.manifest().Member(cp.Origin); member && cp.Origin != e.cfg.Member {
			st.heads[cp.Origin] = max(st.heads[cp.Origin], cp.Seq)
		}
		if cp.Origin == e.cfg.Member {
			if err := e.ownCheckpoint(ctx, p, cp); err != nil {
				return err
			}
		}
		r := st.runs[cp.Origin]
		if r != nil && len(r.pending) == 0 && !r.scanning && cp.Origin != e.cfg.Member && cp.Seq+1 == r.next && bytes.Equal(cp.Hash, r.prev) {
			if !r.refreshed && !r.refused && (cp.Seq != r.held.Seq || !bytes.Equal(cp.Signature, r.held.Signature)) {
				r.refreshed = true
				if !e.refreshCheckpoint(ctx, cp, r.held) {
					refuse(r, cp.Origin, "checkpoint %s/%d of the head this node holds has a bad signature", cp.Origin, cp.Seq)
				}
			}
			continue
		}
		if r == nil || r.refused || r.proved || !r.scanning && (len(r.pending) == 0 || cp.Seq < r.pending[0].Seq) {
			continue // covers entries this node has already
		}
		mem, ok := e.manifest().Member(cp.Origin)
		if !ok {
			refuse(r, cp.Origin, "checkpoint of %s, which has no key in the manifest", cp.Origin)
			continue
		}
		if !cp.Verify(mem.PublicKey) {
			if !cp.Verify(mem.PreviousPublicKeys...) {
				refuse(r, cp.Origin, "checkpoint %s/%d has a bad signature", cp.Origin, cp.Seq)
				continue
			}
			// Signed before a rotation: whoever holds a retired key could
			// sign new entries with it, so only the current key proves
			// new entries, or a scan that found this checkpoint on the
			// chain the current key signed (proven.go). A later
			// checkpoint of the current key covers these too (the origin
			// re-signs its head when it rotates, and signs its log with
			// its current key as it serves it).
			r.retired = true
			if !e.proven.proves(cp) {
				if h, ok := r.chainHash(cp.Origin, cp.Seq, resp); ok && bytes.Equal(h, cp.Hash) {
					r.note(cp)
				}
				continue
			}
		}
		if r.scanning {
			if h, ok := r.chainHash(cp.Origin, cp.Seq, resp); !ok || !bytes.Equal(h, cp.Hash) {
				continue // of entries before the scan, or past what it verified
			}
			n := e.proven.add(cp.Origin, r.noted, cp.Seq)
			st.taken++
			r.proved, st.again = true, n > 0
			e.log.Info("proved checkpoints signed before a key rotation; the next pull applies the entries up to each", "peer", p.member, "origin", cp.Origin, "proven", n, "by_checkpoint", cp.Seq)
			continue
		}
		// cp.Seq, signed by a member, may be anything past pending[0]:
		// converted to an int before its bound was checked, 2^63+1 was a
		// negative index, and every node pulling it fell (an outside
		// review).
		if i := cp.Seq - r.pending[0].Seq; i >= uint64(len(r.pending)) || !bytes.Equal(r.pending[i].Hash, cp.Hash) {
			refuse(r, cp.Origin, "checkpoint %s/%d does not match the entries received", cp.Origin, cp.Seq)
			continue
		}
		if err := e.applyPending(ctx, st, r, ap, cp); err != nil {
			return err
		}
	}
	return nil
}

// applyPending queues r's pending entries up to the one cp names, which
// it proves, to be applied.
func (e *Engine) applyPending(ctx context.Context, st *pullState, r *originRun, ap *applier, cp changelog.Checkpoint) error {
	i := int(cp.Seq - r.pending[0].Seq)
	if err := ap.queue(ctx, applyJob{entries: r.pending[: i+1 : i+1], cp: cp}); err != nil {
		return err
	}
	st.pendingBytes -= pendingSize(r.pending[:i+1])
	r.pending = append([]changelog.Entry(nil), r.pending[i+1:]...)
	st.taken++
	return nil
}

// refusedFrom counts and logs a run of entries (or repair copies) refused
// from a peer in the pull of ctx, and keeps why as the peer's last error.
func (e *Engine) refusedFrom(ctx context.Context, p *peer, what, why string) {
	e.metrics.refused.Add(1)
	now := time.Now()
	why = apperr.Printable(why) // it may quote what the peer sent
	p.mu.Lock()
	p.refused++
	refused := p.refused
	p.lastError, p.lastErrorTime = "refused: "+why, now
	p.mu.Unlock()
	// Each refusal is counted and shown in the peer's status; the same
	// one is logged again only every failureLogEvery, and each kind at
	// most linesEvery lines in that time, since a member can send runs
	// that do not verify at every pull.
	if p.refusedRun.due(what, why, now) {
		e.log.Error("refused "+what+" from peer", "peer", p.member, "request_id", storage.ActorFrom(ctx).RequestID, "err", why, "refused_so_far", refused)
	}
}

// refusedRuns is how many runs of entries (or repair copies) this node
// refused from the peer.
func (p *peer) refusedRuns() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refused
}

func pendingSize(entries []changelog.Entry) int {
	n := 0
	for i := range entries {
		n += entrySize(&entries[i])
	}
	return n
}

// maxRepairBytes bounds the copies of one range held until its checkpoint
// arrives. A server ends the copies at its first checkpoint past
// repairBytes, which an honest origin signs at least every 1 MiB: what is
// left of the range is asked for again in the next pull.
const (
	repairBytes    = 32 << 20
	maxRepairBytes = 2 * repairBytes
)

// receiveRepair collects a peer's copies of a range this node asked to
// repair, message by message, and when the checkpoint that ends them
// arrives, checks them against the origin's signature and has the store
// put them in place. Copies of a range this node did not ask for are
// refused: a member could otherwise swap its own history on every node
// that holds it.
func (e *Engine) receiveRepair(ctx context.Context, p *peer, st *pullState, rep *syncv1.Repair) {
	if st.repairFailed {
		st.repairFailed = rep.GetCheckpoint() == nil
		return
	}
	fail := func(format string, args ...any) {
		st.repair, st.repairBytes = nil, 0
		st.repairFailed = rep.GetCheckpoint() == nil
		e.refusedFrom(ctx, p, "a repair", fmt.Sprintf(format, args...))
	}
	for _, pe := range rep.GetEntries() {
		entry := entryFromProto(pe)
		if n := len(st.repair); n > 0 && (entry.Origin != st.repair[0].Origin || entry.Seq != st.repair[n-1].Seq+1) {
			fail("copies of %s/%d do not continue the range being repaired", entry.Origin, entry.Seq)
			return
		}
		if len(st.repair) == 0 && !st.requested[repairStart{entry.Origin, entry.Seq}] {
			fail("copies from %s/%d, a range this node did not ask to repair", entry.Origin, entry.Seq)
			return
		}
		if len(entry.Data) > maxEntryData {
			fail("the copy of %s/%d holds %d bytes of data, over the %d an entry may", entry.Origin, entry.Seq, len(entry.Data), maxEntryData)
			return
		}
		if why := overlongName(&entry); why != "" {
			fail("the copy of %s/%d has %s", entry.Origin, entry.Seq, why)
			return
		}
		st.repair = append(st.repair, entry)
		st.taken++
		if st.repairBytes += entrySize(&entry); st.repairBytes > maxRepairBytes || len(st.repair) > maxRepairRange+maxRepairReach {
			fail("copies of %s larger than a repair range may be", entry.Origin)
			return
		}
	}
	if rep.GetCheckpoint() == nil || len(st.repair) == 0 {
		return
	}
	entries := st.repair
	st.repair, st.repairBytes = nil, 0
	cp := checkpointFromProto(rep.GetCheckpoint())
	mem, ok := e.manifest().Member(cp.Origin)
	// Copies replace entries the node holds and found damaged, so they must
	// link to its chain; a retired key may prove them only within the log
	// the node already holds, never past its head.
	retiredOK := cp.Seq < st.runs[cp.Origin].nextOrZero()
	switch {
	case !ok:
		fail("checkpoint of %s, which has no key in the manifest", cp.Origin)
		return
	case cp.Origin != entries[0].Origin || !cp.Verify(mem.PublicKey) && !(retiredOK && cp.Verify(mem.PreviousPublicKeys...)):
		fail("checkpoint %s/%d has a bad signature", cp.Origin, cp.Seq)
		return
	}
	// Audited as the pull's, by the peer under the pull's request id (the
	// store calls it a repair: audit.ActionRepair).
	n, err := e.cfg.Store.Repair(ctx, entries, cp)
	if err != nil {
		fail("%v", err)
		return
	}
	e.metrics.repaired.Add(int64(n))
	p.mu.Lock()
	p.repaired += int64(n)
	p.mu.Unlock()
	select {
	case e.recheck <- struct{}{}:
	default:
	}
}

// checkLoop checks the stored logs: fully at once and every
// ScrubInterval, incrementally every CheckInterval between. The first
// check is full because files changed while the node was stopped may
// lie anywhere, also before what earlier checks had verified. Damage it
// finds is not served and is asked of the peers at the next pull, which
// it triggers.
func (e *Engine) checkLoop(ctx context.Context) {
	lastFull := time.Now()
	e.checkLogs(ctx, true)
	ticker := time.NewTicker(e.cfg.CheckInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-e.recheck:
		}
		full := time.Since(lastFull) >= e.cfg.ScrubInterval
		if full {
			lastFull = time.Now()
		}
		e.checkLogs(ctx, full)
	}
}

// checkLogs checks every stored log once; when one is damaged, the peers
// are asked for copies at once.
func (e *Engine) checkLogs(ctx context.Context, full bool) {
	origins, err := e.cfg.Store.Origins(ctx)
	if err != nil {
		if ctx.Err() == nil {
			e.log.Warn("check of stored logs", "err", err)
		}
		return
	}
	damaged := false
	for _, o := range origins {
		keys, ok := e.manifest().SigningKeys(o.Origin)
		if !ok {
			continue // not a member now: nothing to check its signatures with
		}
		res, err := e.cfg.Store.VerifyLog(ctx, o.Origin, keys, full)
		if err != nil {
			if ctx.Err() == nil {
				e.log.Warn("check of stored log", "origin", o.Origin, "err", err)
			}
			continue
		}
		damaged = damaged || len(res.Damaged) > 0
	}
	if damaged {
		e.triggerAll()
	}
}
