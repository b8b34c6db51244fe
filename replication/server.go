package replication

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/provex/provex/auth"
	"github.com/provex/provex/changelog"
	"github.com/provex/provex/federation"
	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
)

// Batch sizes of Pull: entries per message, and bytes of entries per
// message (well under the 4 MiB message limit; one entry larger than that
// still goes alone, and the peer endpoint sends up to 64 MiB).
const (
	DefaultBatchSize = 500
	MaxBatchSize     = 5000
	MaxBatchBytes    = 1 << 20
)

// maxEntryData and maxEntryName are the bounds sync.proto puts on an
// entry's data (Entry.data's bytes.max_len), above an honest member's
// largest sealed record, and on its unsealed name (Entry.name's
// string.max_len, in characters): an entry over either is refused with its
// run, never stored or relayed (a member's 25 MB entries were, on every
// node, and so were its entries of 5 MB names, which Changes did not count
// against its bound and refusals quoted whole).
var (
	maxEntryData = entryBound("data", func(r *validate.FieldRules) uint64 { return r.GetBytes().GetMaxLen() })
	maxEntryName = entryBound("name", func(r *validate.FieldRules) uint64 { return r.GetString().GetMaxLen() })
)

// entryBound is the bound sync.proto's rules put on an Entry field, as
// maxLen reads it from them.
func entryBound(field protoreflect.Name, maxLen func(*validate.FieldRules) uint64) int {
	fd := (&syncv1.Entry{}).ProtoReflect().Descriptor().Fields().ByName(field)
	rules, _ := proto.GetExtension(fd.Options(), validate.E_Field).(*validate.FieldRules)
	if n := maxLen(rules); n > 0 {
		return int(n)
	}
	panic("sync.proto: Entry." + string(field) + " has no max_len")
}

// overlongName says why an entry's unsealed name is over maxEntryName, or
// "" when it is not.
func overlongName(e *changelog.Entry) string {
	if len(e.Name) <= maxEntryName {
		return "" // a character is at least a byte
	}
	if n := utf8.RuneCountInString(e.Name); n > maxEntryName {
		return fmt.Sprintf("a name of %d characters, over the %d an entry may", n, maxEntryName)
	}
	return ""
}

// entrySize approximates an entry's size on the wire.
func entrySize(e *changelog.Entry) int {
	return len(e.Data) + len(e.Name) + len(e.Origin) + 2*changelog.HashSize + 48
}

// server implements syncv1.SyncServiceServer for an Engine.
type server struct {
	syncv1.UnimplementedSyncServiceServer
	e *Engine
}

func (s *server) GetSyncState(ctx context.Context, _ *syncv1.GetSyncStateRequest) (*syncv1.GetSyncStateResponse, error) {
	return s.e.State(ctx)
}

// caller is the member a Pull or Announce comes from: the peer its
// certificate names. The member field of the request, if set, must agree;
// it is believed alone only under TrustClaimedMember.
func (s *server) caller(ctx context.Context, claimed string) (string, error) {
	id, ok := auth.FromContext(ctx)
	if ok && id.Kind == auth.KindPeer {
		if claimed != "" && claimed != id.Member {
			return "", apperr.PermissionDenied("the certificate of this connection is %s's; it cannot act as %s", id.Member, claimed)
		}
		return id.Member, nil
	}
	if !s.e.cfg.TrustClaimedMember {
		return "", apperr.PermissionDenied("sync is only for federation members' nodes, over mutual TLS")
	}
	if !resource.IsMember(claimed) {
		return "", apperr.Invalid("member", "%q is not a federation member", claimed)
	}
	return claimed, nil
}

func (s *server) Announce(ctx context.Context, req *syncv1.AnnounceRequest) (*syncv1.AnnounceResponse, error) {
	member, err := s.caller(ctx, req.GetMember())
	if err != nil {
		return nil, err
	}
	s.e.metrics.announcements.Add(1)
	s.e.adopt(member, "announced news")
	if p, ok := s.e.peerOf(member); ok {
		s.e.heard(p, req.GetHeads(), time.Now())
	}
	s.e.trigger(member)
	return &syncv1.AnnounceResponse{ManifestSerial: uint64(s.e.manifest().Serial)}, nil
}

// Pull streams what the caller lacks: first its own copies of the ranges
// the caller asks to repair, then for every origin this node holds, the
// entries after the caller's position, each message closed by the newest
// checkpoint that covers it. Every entry goes whole (sealed ones sealed).
// Nothing is sent that does not verify here first: a damaged range is
// never served, and one found while serving is recorded as damage.
func (s *server) Pull(req *syncv1.PullRequest, stream grpc.ServerStreamingServer[syncv1.PullResponse]) error {
	ctx := stream.Context()
	caller, err := s.caller(ctx, req.GetMember())
	if err != nil {
		return err
	}
	s.e.adopt(caller, "pulls from this node")
	batch := int(req.GetBatchSize())
	if batch == 0 {
		batch = DefaultBatchSize
	}
	store := s.e.cfg.Store
	// A caller on an older manifest gets this node's first, so a manifest
	// reaches every member through whichever peers it has. A caller on a
	// newer one sends it when told this node's is older: this node may not
	// reach the caller to pull it, its manifest giving an address the
	// caller has left.
	if req.GetManifestSerial() > uint64(s.e.manifest().Serial) && len(req.GetManifest()) > 0 && s.e.mayTakeManifestFrom(caller) {
		s.e.offerManifest(caller, req.GetManifest())
	}
	switch m := s.e.manifest(); {
	case req.GetManifestSerial() < uint64(m.Serial):
		data, err := m.Marshal()
		if err != nil {
			return err
		}
		if err := stream.Send(&syncv1.PullResponse{Manifest: data, ManifestSerial: uint64(m.Serial)}); err != nil {
			return err
		}
	case req.GetManifestSerial() > uint64(m.Serial):
		if err := stream.Send(&syncv1.PullResponse{ManifestSerial: uint64(m.Serial)}); err != nil {
			return err
		}
	default:
		// On one serial: the caller learns of two manifests of it as this
		// node does, and both say so.
		d := m.Digest()
		s.e.heardManifest(m, d, caller, req.GetManifestSerial(), req.GetManifestDigest())
		if len(req.GetManifestDigest()) > 0 && !bytes.Equal(req.GetManifestDigest(), d) {
			if err := stream.Send(&syncv1.PullResponse{ManifestSerial: uint64(m.Serial), ManifestDigest: d}); err != nil {
				return err
			}
		}
	}
	if stopped := s.e.syncStopped(); stopped != "" {
		return apperr.FailedPrecondition("%s", stopped)
	}

	// Repairs first: they are few, and the caller cannot serve that range
	// to anyone until it has them. A range this node cannot help with is
	// skipped, never a reason to fail the pull.
	for i, r := range req.GetRepair() {
		if i == maxRepairRanges {
			break
		}
		if err := s.serveRepair(ctx, stream, caller, r); errors.Is(err, errRepairCut) {
			break // the caller drops the copies; the entries below still go
		} else if err != nil {
			return err
		}
	}

	have := map[string]*syncv1.Position{}
	for _, p := range req.GetHave() {
		have[p.GetOrigin()] = p
	}
	origins, err := store.Origins(ctx)
	if err != nil {
		return err
	}
	// The caller's own log first: a caller that holds less of it than
	// this node lost entries it wrote (a restore from peers), and it must
	// know how far its log went before it takes anything else.
	if i := slices.IndexFunc(origins, func(o storage.OriginState) bool { return o.Origin == caller }); i > 0 {
		own := origins[i]
		copy(origins[1:i+1], origins[:i])
		origins[0] = own
	}
	var heads []*syncv1.Checkpoint
	for _, o := range origins {
		from := have[o.Origin].GetSeq()
		if o.Origin == caller && o.Checkpoint.Seq > 0 && (from != o.Seq || !bytes.Equal(have[o.Origin].GetHash(), o.Hash)) {
			// The newest of the caller's checkpoints held here, first. One
			// past its head tells a caller that lost entries it wrote (a
			// restore from peers) how far its log went, even past the
			// entries this node can serve; one at or before it, of another
			// entry than the caller's, tells a caller run on an old copy
			// of its data that its log forked.
			if err := stream.Send(&syncv1.PullResponse{Checkpoints: []*syncv1.Checkpoint{checkpointToProto(o.Checkpoint)}}); err != nil {
				return err
			}
		}
		// The log of an origin not in the manifest (a member removed)
		// would be of use to no one.
		_, member := s.e.manifest().Member(o.Origin)
		if member && o.Origin != caller && from == o.Seq && o.Checkpoint.Seq == o.Seq && bytes.Equal(have[o.Origin].GetHash(), o.Hash) {
			// The caller holds what this node holds: the checkpoint of the
			// head goes along, in case its origin re-signed it with a new
			// key (the caller keeps it only then).
			if s.listedKeySigned(o.Checkpoint) {
				heads = append(heads, checkpointToProto(o.Checkpoint))
			}
		}
		if from >= o.Seq || !member {
			continue
		}
		prev := changelog.ZeroHash
		if from > 0 {
			// The caller's chain must be ours; otherwise one of us holds a
			// forged or corrupt log, and sending more would not help.
			at, err := store.Changes(ctx, o.Origin, from-1, 1)
			if err != nil {
				return err
			}
			if len(at) == 0 || at[0].Seq != from {
				// This node's log, not the caller's, lacks the entry the
				// caller holds last: its own checks have not found it
				// yet (an outside review: the node's own deleted head,
				// its next entry written after it, had the caller told
				// it diverges, for good).
				missing := changelog.Range{Origin: o.Origin, First: from, Last: o.Seq}
				if len(at) > 0 {
					missing.Last = at[0].Seq - 1
				}
				// Told and recorded once a while, not at every pull of
				// every caller holding past the hole.
				if s.e.callerLogs.due("missing "+missing.String(), "", time.Now()) {
					problem := fmt.Sprintf("%s: entries are missing (found serving a pull)", missing)
					s.e.log.Error("stored change log does not verify; not serving it", "origin", o.Origin, "problem", problem)
					if err := store.ReportDamage(ctx, storage.Damage{Range: missing, Problem: problem}); err != nil {
						return err
					}
					s.e.triggerAll()
				}
				continue
			}
			if !bytes.Equal(at[0].Hash, have[o.Origin].GetHash()) {
				if s.e.callerLogs.due("diverges "+caller+" "+o.Origin, "", time.Now()) {
					s.e.log.Warn("caller's log diverges from ours", "caller", caller, "request_id", storage.ActorFrom(ctx).RequestID, "origin", o.Origin, "seq", from)
				}
				continue
			}
			prev = at[0].Hash
		}
		// Serve only what verifies: up to the first damaged entry, and
		// only up to a checkpoint, so the caller can apply all it gets.
		limit := o.Seq
		for _, d := range o.Damaged {
			if d.First <= limit {
				limit = min(limit, max(d.First, 1)-1)
			}
		}
		if limit < o.Seq {
			cp, err := store.Checkpoint(ctx, o.Origin, limit)
			if err != nil {
				return err
			}
			limit = cp.Seq
		}
		if err := s.serveOrigin(ctx, stream, o.Origin, from, limit, prev, batch); err != nil {
			return err
		}
	}
	if len(heads) > 0 {
		return stream.Send(&syncv1.PullResponse{Checkpoints: heads})
	}
	return nil
}

// serveOrigin sends origin's entries from+1..limit, whose chain starts
// after prev, checking each before it goes.
func (s *server) serveOrigin(ctx context.Context, stream grpc.ServerStreamingServer[syncv1.PullResponse], origin string, from, limit uint64, prev []byte, batch int) error {
	store := s.e.cfg.Store
	for from < limit {
		entries, err := store.Changes(ctx, origin, from, min(batch, int(limit-from)))
		if err != nil {
			return err
		}
		if len(entries) == 0 {
			return nil
		}
		for i := range entries {
			e := &entries[i]
			want := from + uint64(i) + 1
			var bad changelog.Range
			problem := ""
			switch {
			case e.Seq != want:
				bad, problem = changelog.Range{Origin: origin, First: want, Last: e.Seq - 1}, "entries are missing"
			case !changelog.Verify(e):
				bad, problem = changelog.Range{Origin: origin, First: e.Seq, Last: e.Seq}, "an entry does not match its hash"
			case !bytes.Equal(e.PrevHash, prev):
				bad, problem = changelog.Range{Origin: origin, First: max(e.Seq-1, 1), Last: e.Seq}, "an entry does not link to the one before"
			}
			if problem != "" {
				problem = fmt.Sprintf("%s: %s (found serving a pull)", bad, problem)
				s.e.log.Error("stored change log does not verify; not serving it", "origin", origin, "problem", problem)
				if err := store.ReportDamage(ctx, storage.Damage{Range: bad, Problem: problem}); err != nil {
					return err
				}
				s.e.triggerAll()
				return nil
			}
			prev = e.Hash
		}
		for len(entries) > 0 {
			chunk := takeChunk(&entries)
			last := chunk[len(chunk)-1].Seq
			resp := &syncv1.PullResponse{Entries: make([]*syncv1.Entry, len(chunk))}
			for i := range chunk {
				resp.Entries[i] = entryToProto(&chunk[i])
			}
			cp, err := store.Checkpoint(ctx, origin, last)
			if err != nil {
				return err
			}
			cp = s.currentKeysCheckpoint(origin, cp, &chunk[len(chunk)-1])
			if cp.Seq > from && s.listedKeySigned(cp) {
				resp.Checkpoints = []*syncv1.Checkpoint{checkpointToProto(cp)}
			}
			if err := stream.Send(resp); err != nil {
				return err
			}
			s.e.metrics.served.Add(int64(len(chunk)))
			from = last
		}
	}
	return nil
}

// currentKeysCheckpoint is cp, the newest checkpoint held up to last (the
// last entry of a message of origin's log), or, when origin is this node
// and cp is of a key its manifest lists as retired, a checkpoint of last
// signed with its current key: a peer catching up takes only the current
// key's checkpoints of entries it does not hold, and waiting for the head's
// it would hold all of the log from before the rotation, past what a pull
// may (maxPending), and never catch up. The retired key signed cp; the
// entries after it are the node's own log, which its checks keep intact
// and this serve checks link by link.
func (s *server) currentKeysCheckpoint(origin string, cp changelog.Checkpoint, last *changelog.Entry) changelog.Checkpoint {
	if origin != s.e.cfg.Member || cp.Seq == 0 {
		return cp
	}
	mem, ok := s.e.manifest().Member(origin)
	// Without retired keys (no rotation, or one whose old key was dropped)
	// every checkpoint held is the current key's: no signature to check on
	// each message served.
	if !ok || len(mem.PreviousPublicKeys) == 0 || cp.Verify(mem.PublicKey) || !cp.Verify(mem.PreviousPublicKeys...) {
		return cp
	}
	if fresh, ok := s.e.cfg.Store.SignOwnCheckpoint(last.Seq, last.Hash); ok && fresh.Verify(mem.PublicKey) {
		return fresh
	}
	return cp
}

// listedKeySigned reports whether a signing key this node's manifest lists
// for cp's origin, current or retired, signed cp. A checkpoint of a key a
// manifest dropped stays stored until the node's next check that reads
// the origin's whole log supersedes it (30 s, longer on a long log);
// served meanwhile, a node that never knew that key refused the run as
// forged (an outside review). The messages go without it, as they do once
// it is gone: a later checkpoint of a listed key proves their entries.
func (s *server) listedKeySigned(cp changelog.Checkpoint) bool {
	mem, ok := s.e.manifest().Member(cp.Origin)
	return ok && cp.Verify(append([]ed25519.PublicKey{mem.PublicKey}, mem.PreviousPublicKeys...)...)
}

// takeChunk takes the first entries off *entries for one message: at most
// MaxBatchBytes of them (and at least one), so large records never push a
// message past the limit, which would fail every pull of it.
func takeChunk(entries *[]changelog.Entry) []changelog.Entry {
	es := *entries
	n, size := 0, 0
	for n < len(es) && (n == 0 || size+entrySize(&es[n]) <= MaxBatchBytes) {
		size += entrySize(&es[n])
		n++
	}
	*entries = es[n:]
	return es[:n]
}

// serveRepair sends this node's copies of a range a peer asks to repair,
// continued to the first checkpoint at or after it, or, when that is more
// than repairBytes away, ending at the first checkpoint past that, so the
// peer can check them against the origin's signature; the peer asks for
// the rest in its next pull. The copies go as they are read and checked,
// at most batch entries (4 MiB of them) at a time, as serveOrigin's do:
// read and checked whole before the first was sent, one range's copies
// were held, up to 64 MiB, for a peer that asked for a range held intact
// and stopped reading (an outside review: 150–290 MiB for four streams).
//
// It sends nothing when this node cannot help: the range is not one
// (logged, once every failureLogEvery for a caller), its origin is not a
// member (N3: a plain pull passes such a log over, and so does a repair
// now), this node lacks the range or its copy is damaged too. Damage it
// finds is recorded, as serveOrigin does, so the next pull passes the
// range over and peers repair it here; found after copies went, which
// can then end at no checkpoint, it ends the pull's repairs (errRepairCut):
// the caller drops copies without their checkpoint at the pull's end,
// and would refuse the next range's as not continuing these.
func (s *server) serveRepair(ctx context.Context, stream grpc.ServerStreamingServer[syncv1.PullResponse], caller string, r *syncv1.Range) error {
	store := s.e.cfg.Store
	origin, first, last := r.GetOrigin(), r.GetFirst(), r.GetLast()
	if first == 0 || last < first || last-first >= maxRepairRange || last > math.MaxInt64-maxRepairReach {
		if s.e.callerLogs.due("repair range "+caller, "", time.Now()) {
			s.e.log.Warn("peer asked to repair a range that is not one", "peer", caller, "request_id", storage.ActorFrom(ctx).RequestID, "range", changelog.Range{Origin: origin, First: first, Last: last})
		}
		return nil
	}
	if _, member := s.e.manifest().Member(origin); !member {
		return nil
	}
	for _, d := range store.Damaged(origin) {
		if d.First <= last+maxRepairReach && d.Last >= first {
			return nil
		}
	}
	cp, err := store.NextCheckpoint(ctx, origin, first)
	if err != nil || cp.Seq == 0 || cp.Seq > last+maxRepairReach {
		return err
	}
	next := first   // the next copy to send
	var prev []byte // the hash of the copy before it
	size := 0
	for {
		entries, err := store.Changes(ctx, origin, next-1, int(cp.Seq-next+1))
		if err != nil {
			return err
		}
		if bad, problem := checkCopies(origin, entries, next, prev, cp); problem != "" {
			if bad.First != 0 {
				problem = fmt.Sprintf("%s: %s (found serving a repair)", bad, problem)
				s.e.log.Error("stored change log does not verify; not serving it", "origin", origin, "problem", problem)
				if err := store.ReportDamage(ctx, storage.Damage{Range: bad, Problem: problem}); err != nil {
					return err
				}
				s.e.triggerAll()
			}
			if next == first {
				return nil // nothing sent: this node cannot help
			}
			return errRepairCut
		}
		end := entries[len(entries)-1]
		prev = end.Hash
		for i := range entries {
			size += entrySize(&entries[i])
		}
		final, following := false, cp
		if end.Seq == cp.Seq {
			if cp.Seq >= last || size >= repairBytes {
				final = true
			} else {
				following, err = store.NextCheckpoint(ctx, origin, cp.Seq+1)
				if err != nil {
					return err
				}
				// What this node holds may end before another checkpoint.
				final = following.Seq == 0 || following.Seq > last+maxRepairReach
			}
		}
		for len(entries) > 0 {
			chunk := takeChunk(&entries)
			rep := &syncv1.Repair{Entries: make([]*syncv1.Entry, len(chunk))}
			for i := range chunk {
				rep.Entries[i] = entryToProto(&chunk[i])
			}
			if final && len(entries) == 0 {
				rep.Checkpoint = checkpointToProto(cp)
			}
			if err := stream.Send(&syncv1.PullResponse{Repair: rep}); err != nil {
				return err
			}
			s.e.metrics.served.Add(int64(len(chunk)))
		}
		if final {
			return nil
		}
		next, cp = end.Seq+1, following
	}
}

// errRepairCut ends the repairs of a pull whose copies of a range were
// found damaged after some went (serveRepair).
var errRepairCut = errors.New("repair copies cut short")

// checkCopies says what is wrong with entries, read as copies of origin's
// log from seq next on, the one before hashing to prev (nil: not checked;
// the peer links the first copy to its own chain), up to checkpoint cp at
// most; or "" when nothing is. bad is the damaged range, as serveOrigin
// names it, or none when the entries just end before cp (a checkpoint
// past the entries held).
func checkCopies(origin string, entries []changelog.Entry, next uint64, prev []byte, cp changelog.Checkpoint) (bad changelog.Range, problem string) {
	if len(entries) == 0 {
		return changelog.Range{}, fmt.Sprintf("entry %d is missing", next)
	}
	for i := range entries {
		e := &entries[i]
		switch {
		case e.Seq != next+uint64(i):
			return changelog.Range{Origin: origin, First: next + uint64(i), Last: e.Seq - 1}, "entries are missing"
		case !changelog.Verify(e):
			return changelog.Range{Origin: origin, First: e.Seq, Last: e.Seq}, "an entry does not match its hash"
		case prev != nil && !bytes.Equal(e.PrevHash, prev):
			return changelog.Range{Origin: origin, First: max(e.Seq-1, 1), Last: e.Seq}, "an entry does not link to the one before"
		case e.Seq == cp.Seq && !bytes.Equal(e.Hash, cp.Hash):
			return changelog.Range{Origin: origin, First: e.Seq, Last: e.Seq}, "an entry is not the one its checkpoint signs"
		}
		prev = e.Hash
	}
	return changelog.Range{}, ""
}

// State describes the node's logs, peers and counters.
func (e *Engine) State(ctx context.Context) (*syncv1.GetSyncStateResponse, error) {
	origins, err := e.cfg.Store.Origins(ctx)
	if err != nil {
		return nil, err
	}
	resp := &syncv1.GetSyncStateResponse{Member: e.cfg.Member, Metrics: e.metrics.proto(), Manifest: e.ManifestState(time.Now())}
	for _, o := range origins {
		st := &syncv1.OriginState{
			Origin: o.Origin, Seq: o.Seq, HeadHash: o.Hash, Checkpoint: checkpointToProto(o.Checkpoint),
			Unopened: int64(o.Unopened), Rejected: int64(o.Rejected), VerifiedSeq: o.Verified, Opened: o.Opened, SealedFor: o.SealedFor,
		}
		for _, d := range o.Damaged {
			st.Damaged = append(st.Damaged, damageToProto(d))
		}
		resp.Origins = append(resp.Origins, st)
	}
	// The node's own log with no entry (a restore cut short, every entry
	// lost) is no origin of the store's, but its hold on writes must show
	// (an outside review: the convergence check called such a node
	// converged).
	if !slices.ContainsFunc(origins, func(o storage.OriginState) bool { return o.Origin == e.cfg.Member }) {
		if damaged := e.cfg.Store.Damaged(e.cfg.Member); len(damaged) > 0 {
			st := &syncv1.OriginState{Origin: e.cfg.Member}
			for _, d := range damaged {
				st.Damaged = append(st.Damaged, damageToProto(d))
			}
			resp.Origins = append(resp.Origins, st)
		}
	}
	for _, p := range e.peerList() {
		resp.Peers = append(resp.Peers, p.state())
	}
	slices.SortFunc(resp.Peers, func(a, b *syncv1.PeerState) int { return strings.Compare(a.GetMember(), b.GetMember()) })
	return resp, nil
}

// StaleAfter is how long this node may hear nothing of a province, neither
// a change nor an exchange with its node, before its copy of the
// province's records is marked stale (ProvinceFreshness.stale). A day:
// nodes sync every few minutes, so a day's silence is an outage or a
// province that did nothing, and an analyst should know which before
// quoting its figures.
const StaleAfter = 24 * time.Hour

// Freshness is how current this node's copy of each origin's log is: the
// last entry applied, when its origin made it, the last exchange with the
// origin's own node when that node is a peer, and whether that is all
// older than StaleAfter.
func (e *Engine) Freshness(ctx context.Context) ([]*nationalv1.ProvinceFreshness, error) {
	origins, err := e.cfg.Store.Origins(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := make([]*nationalv1.ProvinceFreshness, 0, len(origins))
	for _, o := range origins {
		change := time.Unix(0, o.HLC)
		f := &nationalv1.ProvinceFreshness{Province: o.Origin, Seq: o.Seq, LastChangeTime: timestamppb.New(change)}
		var contact time.Time
		if p, ok := e.peerOf(o.Origin); ok {
			p.mu.Lock()
			contact = p.lastContact
			p.mu.Unlock()
			f.LastContactTime = timestampOrNil(contact)
		}
		f.Stale = o.Origin != e.cfg.Member && stale(now, change, contact)
		out = append(out, f)
	}
	return out, nil
}

// stale is whether the latest news of a province, its last change or the
// last contact with its node (zero when never), is older than StaleAfter.
func stale(now, lastChange, lastContact time.Time) bool {
	latest := lastChange
	if lastContact.After(latest) {
		latest = lastContact
	}
	return now.Sub(latest) > StaleAfter
}

// ManifestState is where the node's manifest stands at now.
func (e *Engine) ManifestState(now time.Time) *syncv1.ManifestState {
	m := e.manifest()
	f, warning := m.Freshness(now)
	if moved := e.MovedAway(true); moved != "" {
		warning = strings.TrimPrefix(warning+"; "+moved, "; ")
	}
	st := &syncv1.ManifestState{Serial: uint64(m.Serial), Warning: warning, SyncStopped: f == federation.Stale, Digest: m.Digest(), Conflict: e.ManifestConflict()}
	if !m.Expires.IsZero() {
		st.ExpireTime = timestamppb.New(m.Expires)
	}
	return st
}
