package replication

import (
	"bytes"
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/provex/provex/auth"
	"github.com/provex/provex/changelog"
	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/resource"
)

// Batch sizes of Pull: entries per message, and bytes of entries per
// message (well under the 4 MiB message limit; one entry larger than that
// still goes alone, and the peer endpoint sends up to 64 MiB).
const (
	DefaultBatchSize = 500
	MaxBatchSize     = 5000
	MaxBatchBytes    = 1 << 20
)

// entrySize approximates an entry's size on the wire.
func entrySize(e *changelog.Entry) int {
	return len(e.Data) + len(e.Name) + len(e.Origin) + 3*changelog.HashSize + 64
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
	s.e.trigger(member)
	return &syncv1.AnnounceResponse{}, nil
}

// Pull streams what the caller lacks: first the holes it asked for, then
// for every origin this node holds, the entries after the caller's
// position, each message closed by the newest checkpoint that covers it.
// Entries of records the caller may not read go out redacted.
func (s *server) Pull(req *syncv1.PullRequest, stream grpc.ServerStreamingServer[syncv1.PullResponse]) error {
	ctx := stream.Context()
	caller, err := s.caller(ctx, req.GetMember())
	if err != nil {
		return err
	}
	batch := int(req.GetBatchSize())
	if batch == 0 {
		batch = DefaultBatchSize
	}
	store := s.e.cfg.Store

	// Holes first: they are few, and the caller is waiting for them.
	for _, h := range req.GetHoles() {
		entries, err := store.Entries(ctx, h.GetOrigin(), h.GetSeqs())
		if err != nil {
			return err
		}
		resp := &syncv1.PullResponse{}
		for i := range entries {
			e := &entries[i]
			if e.Data != nil && resource.MayRead(caller, e.Origin, e.Visibility, e.VisibleTo) {
				resp.Fills = append(resp.Fills, entryToProto(e))
			}
		}
		if len(resp.Fills) > 0 {
			if err := stream.Send(resp); err != nil {
				return err
			}
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
	for _, o := range origins {
		from := have[o.Origin].GetSeq()
		// A member is the authority on its own log: it never needs it back.
		if o.Origin == caller || from >= o.Seq {
			continue
		}
		if from > 0 {
			// The caller's chain must be ours; otherwise one of us holds a
			// forged or corrupt log, and sending more would not help.
			at, err := store.Changes(ctx, o.Origin, from-1, 1)
			if err != nil {
				return err
			}
			if len(at) != 1 || !bytes.Equal(at[0].Hash, have[o.Origin].GetHash()) {
				s.e.log.Warn("caller's log diverges from ours", "caller", caller, "origin", o.Origin, "seq", from)
				continue
			}
		}
		for from < o.Seq {
			entries, err := store.Changes(ctx, o.Origin, from, batch)
			if err != nil {
				return err
			}
			if len(entries) == 0 {
				break
			}
			// A message carries at most MaxBatchBytes of entries (and at
			// least one entry), so large records never push a batch past
			// the message limit, which would fail every pull of it.
			for len(entries) > 0 {
				n, size := 0, 0
				for n < len(entries) && (n == 0 || size+entrySize(&entries[n]) <= MaxBatchBytes) {
					size += entrySize(&entries[n])
					n++
				}
				chunk := entries[:n]
				entries = entries[n:]
				last := chunk[len(chunk)-1].Seq
				resp := &syncv1.PullResponse{Entries: make([]*syncv1.Entry, len(chunk))}
				for i := range chunk {
					e := &chunk[i]
					if e.Data != nil && !resource.MayRead(caller, e.Origin, e.Visibility, e.VisibleTo) {
						e.Data = nil
					}
					resp.Entries[i] = entryToProto(e)
				}
				cp, err := store.Checkpoint(ctx, o.Origin, last)
				if err != nil {
					return err
				}
				if cp.Seq > from {
					resp.Checkpoints = []*syncv1.Checkpoint{checkpointToProto(cp)}
				}
				if err := stream.Send(resp); err != nil {
					return err
				}
				s.e.metrics.served.Add(int64(len(chunk)))
				from = last
			}
		}
	}
	return nil
}

// State describes the node's logs, peers and counters.
func (e *Engine) State(ctx context.Context) (*syncv1.GetSyncStateResponse, error) {
	origins, err := e.cfg.Store.Origins(ctx)
	if err != nil {
		return nil, err
	}
	resp := &syncv1.GetSyncStateResponse{Member: e.cfg.Member, Metrics: e.metrics.proto()}
	for _, o := range origins {
		resp.Origins = append(resp.Origins, &syncv1.OriginState{
			Origin: o.Origin, Seq: o.Seq, HeadHash: o.Hash, Checkpoint: checkpointToProto(o.Checkpoint), Holes: int64(o.Holes),
		})
	}
	for _, p := range e.peers {
		resp.Peers = append(resp.Peers, p.state())
	}
	return resp, nil
}

func timestampOrNil(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// Freshness is how current this node's copy of each origin's log is: the
// last entry applied, when its origin made it, and the last exchange with
// the origin's own node when that node is a peer.
func (e *Engine) Freshness(ctx context.Context) ([]*nationalv1.ProvinceFreshness, error) {
	origins, err := e.cfg.Store.Origins(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*nationalv1.ProvinceFreshness, 0, len(origins))
	for _, o := range origins {
		f := &nationalv1.ProvinceFreshness{Province: o.Origin, Seq: o.Seq, LastChangeTime: timestamppb.New(time.Unix(0, o.HLC))}
		if p, ok := e.peers[o.Origin]; ok {
			p.mu.Lock()
			f.LastContactTime = timestampOrNil(p.lastContact)
			p.mu.Unlock()
		}
		out = append(out, f)
	}
	return out, nil
}
