// Package auditlog serves provex.audit.v1.AuditService: the node's audit
// trail (package audit), read and verified through the API.
package auditlog

import (
	"context"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/provex/provex/audit"
	auditv1 "github.com/provex/provex/gen/go/provex/audit/v1"
	"github.com/provex/provex/internal/pagetoken"
	"github.com/provex/provex/services/collection"
	"github.com/provex/provex/storage"
)

// Server implements auditv1.AuditServiceServer.
type Server struct {
	auditv1.UnimplementedAuditServiceServer
	log storage.AuditLog
	// pageBytes bounds a page's entries, encoded: an answer must fit a
	// message, and a read record names up to a page of records.
	pageBytes int
}

// New serves the audit trail of log, in pages of at most pageBytes of
// entries (each page holds one at least).
func New(log storage.AuditLog, pageBytes int) *Server { return &Server{log: log, pageBytes: pageBytes} }

// ListAuditEntries pages through the trail, oldest first; the page token is
// the sequence number of the last entry served.
func (s *Server) ListAuditEntries(ctx context.Context, req *auditv1.ListAuditEntriesRequest) (*auditv1.ListAuditEntriesResponse, error) {
	query := pagetoken.Fingerprint("audit", req.GetActor(), req.GetResource())
	after, err := pagetoken.Decode(req.GetPageToken(), query)
	if err != nil {
		return nil, err
	}
	var from int64
	if after != nil {
		from = after.Row
	}
	limit := min(int(req.GetPageSize()), collection.MaxPageSize)
	if limit == 0 {
		limit = 100
	}
	records, err := s.log.AuditRecords(ctx, from, limit+1, req.GetActor(), req.GetResource())
	if err != nil {
		return nil, err
	}
	resp := &auditv1.ListAuditEntriesResponse{}
	size := 0
	for i, r := range records {
		e := toProto(r)
		// Each entry is a field of the answer: a tag and a length first.
		size += proto.Size(e) + 6
		if i == limit || (i > 0 && size > s.pageBytes) {
			resp.NextPageToken = pagetoken.Encode(&storage.Cursor{Row: records[i-1].Seq}, query)
			break
		}
		resp.Entries = append(resp.Entries, e)
	}
	return resp, nil
}

// VerifyAuditLog checks the trail as the node's database holds it.
func (s *Server) VerifyAuditLog(ctx context.Context, _ *auditv1.VerifyAuditLogRequest) (*auditv1.VerifyAuditLogResponse, error) {
	n, head, problems, err := s.log.VerifyAudit(ctx)
	if err != nil {
		return nil, err
	}
	return &auditv1.VerifyAuditLogResponse{Ok: len(problems) == 0, Entries: n, HeadHash: head, Problems: problems}, nil
}

func toProto(r audit.Record) *auditv1.AuditEntry {
	return &auditv1.AuditEntry{
		Seq: r.Seq, Time: timestamppb.New(time.Unix(0, r.Time)), Actor: r.Actor, RequestId: r.RequestID, Action: r.Action,
		Resource: r.Resource, ChangeOrigin: r.Origin, ChangeFirstSeq: r.FirstSeq, ChangeLastSeq: r.LastSeq,
		ChangeHash: r.ChangeHash, PrevHash: r.PrevHash, Hash: r.Hash, Read: r.Read, RecordsRead: r.Names,
	}
}
