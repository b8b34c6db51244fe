package border

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/internal/filter"
	"github.com/provex/provex/internal/pagetoken"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/services/collection"
	"github.com/provex/provex/storage"
)

// ReasonOwnIncident is the reason of the violation an acknowledgement of
// the acknowledging province's own incident gets.
const ReasonOwnIncident = "border_incident.own_province"

// checkAcknowledged refuses an acknowledgement whose incident is the
// acknowledging province's own: a province is not told of its own
// incidents, so such a record would only make it look as if someone had
// been. The schema's rules check that border_incident is a well-formed incident
// name; they cannot see the owner, which is in the record's name.
func checkAcknowledged(owner, incident string) error {
	n, err := resource.ParseName(incident, resource.BorderIncidents.Collection)
	if err != nil || n.Province != owner {
		return nil // malformed names are the schema's to refuse
	}
	return apperr.InvalidFields(&errdetails.BadRequest_FieldViolation{
		Field:       "incident_acknowledgement.border_incident",
		Reason:      ReasonOwnIncident,
		Description: fmt.Sprintf("%s is %s's own incident; a province acknowledges the incidents other provinces notify it of", incident, owner),
	})
}

func (s *Server) GetIncidentAcknowledgement(ctx context.Context, req *borderv1.GetIncidentAcknowledgementRequest) (*borderv1.IncidentAcknowledgement, error) {
	return s.acknowledgements.Get(ctx, req.GetName())
}

func (s *Server) ListIncidentAcknowledgements(ctx context.Context, req *borderv1.ListIncidentAcknowledgementsRequest) (*borderv1.ListIncidentAcknowledgementsResponse, error) {
	items, next, err := s.acknowledgements.List(ctx, req)
	if err != nil {
		return nil, err
	}
	return &borderv1.ListIncidentAcknowledgementsResponse{IncidentAcknowledgements: items, NextPageToken: next}, nil
}

func (s *Server) CreateIncidentAcknowledgement(ctx context.Context, req *borderv1.CreateIncidentAcknowledgementRequest) (*borderv1.IncidentAcknowledgement, error) {
	if province, err := resource.ParseParent(req.GetParent(), false); err == nil {
		if err := checkAcknowledged(province, req.GetIncidentAcknowledgement().GetBorderIncident()); err != nil {
			return nil, err
		}
	}
	return s.acknowledgements.Create(ctx, req.GetParent(), req.GetIncidentAcknowledgementId(), req.GetRequestId(), req.GetIncidentAcknowledgement())
}

// UpdateIncidentAcknowledgement changes an acknowledgement; an incident it
// sets is checked as on Create.
func (s *Server) UpdateIncidentAcknowledgement(ctx context.Context, req *borderv1.UpdateIncidentAcknowledgementRequest) (*borderv1.IncidentAcknowledgement, error) {
	ack := req.GetIncidentAcknowledgement()
	if n, err := resource.ParseName(ack.GetName(), resource.IncidentAcknowledgements.Collection); err == nil && setsIncident(ack, req.GetUpdateMask()) {
		if err := checkAcknowledged(n.Province, ack.GetBorderIncident()); err != nil {
			return nil, err
		}
	}
	return s.acknowledgements.Update(ctx, ack, req.GetUpdateMask())
}

// setsIncident reports whether an update with this mask takes incident
// from the request: border_incident named in the mask, "*", or, with no mask, populated.
func setsIncident(ack *borderv1.IncidentAcknowledgement, mask *fieldmaskpb.FieldMask) bool {
	if len(mask.GetPaths()) == 0 {
		return ack.GetBorderIncident() != ""
	}
	for _, p := range mask.GetPaths() {
		if p == "border_incident" || p == "*" {
			return true
		}
	}
	return false
}

func (s *Server) DeleteIncidentAcknowledgement(ctx context.Context, req *borderv1.DeleteIncidentAcknowledgementRequest) (*borderv1.IncidentAcknowledgement, error) {
	return s.acknowledgements.Delete(ctx, req.GetName(), req.GetEtag())
}

func (s *Server) UndeleteIncidentAcknowledgement(ctx context.Context, req *borderv1.UndeleteIncidentAcknowledgementRequest) (*borderv1.IncidentAcknowledgement, error) {
	return s.acknowledgements.Undelete(ctx, req.GetName(), req.GetEtag())
}

// GetIncidentAcknowledgementStatus answers for one incident this node
// holds.
func (s *Server) GetIncidentAcknowledgementStatus(ctx context.Context, req *borderv1.GetIncidentAcknowledgementStatusRequest) (*borderv1.IncidentAcknowledgementStatus, error) {
	name := req.GetIncident()
	if _, err := resource.ParseName(name, resource.BorderIncidents.Collection); err != nil {
		return nil, apperr.Invalid("incident", "%v", err)
	}
	m, err := s.store.Get(ctx, resource.BorderIncidents, name)
	if err != nil {
		return nil, err
	}
	return s.status(ctx, m.(*borderv1.BorderIncident), s.now())
}

// ListIncidentAcknowledgementStatuses pages through the live incidents
// that notify some province, in the order of ListBorderIncidents, and
// answers for each.
func (s *Server) ListIncidentAcknowledgementStatuses(ctx context.Context, req *borderv1.ListIncidentAcknowledgementStatusesRequest) (*borderv1.ListIncidentAcknowledgementStatusesResponse, error) {
	province, err := resource.ParseParent(req.GetParent(), true)
	if err != nil {
		return nil, apperr.Invalid("parent", "%v", err)
	}
	now := s.now()
	q := storage.Query{Kind: resource.BorderIncidents, Province: province}
	if q.Limit, err = collection.PageLimit(req.GetPageSize()); err != nil {
		return nil, err
	}
	if q.Filter, err = filter.ParseAt(req.GetFilter(), resource.BorderIncidents.Schema, now); err != nil {
		return nil, apperr.Invalid("filter", "%v", err)
	}
	query := pagetoken.Fingerprint("acknowledgement-statuses", req.GetParent(), req.GetFilter(), strconv.FormatBool(req.GetWaitingOnly()))
	if q.After, err = pagetoken.Decode(req.GetPageToken(), query); err != nil {
		return nil, err
	}
	page, err := s.store.List(ctx, q)
	if err != nil {
		return nil, err
	}
	resp := &borderv1.ListIncidentAcknowledgementStatusesResponse{NextPageToken: pagetoken.Encode(page.Next, query)}
	for _, m := range page.Records {
		incident := m.(*borderv1.BorderIncident)
		if len(incident.GetNotifyProvinces()) == 0 {
			continue
		}
		st, err := s.status(ctx, incident, now)
		if err != nil {
			return nil, err
		}
		if req.GetWaitingOnly() && st.WaitingCount == 0 {
			continue
		}
		resp.Statuses = append(resp.Statuses, st)
	}
	return resp, nil
}

// status pairs the incident's notify_provinces with the live
// acknowledgements of it this node holds, found by the index on their
// border_incident column. Only a notified province's acknowledgement counts, its
// earliest if it made several; the others' are not the incident's business.
func (s *Server) status(ctx context.Context, incident *borderv1.BorderIncident, now time.Time) (*borderv1.IncidentAcknowledgementStatus, error) {
	earliest, err := collection.EarliestReplies(ctx, s.store, resource.IncidentAcknowledgements, "border_incident", incident.GetName(),
		func(m proto.Message) time.Time { return acknowledged(m.(*borderv1.IncidentAcknowledgement)) })
	if err != nil {
		return nil, err
	}
	st := &borderv1.IncidentAcknowledgementStatus{
		Incident:    incident.GetName(),
		DisplayName: incident.GetDisplayName(),
		OccurTime:   incident.GetOccurTime(),
		CreateTime:  incident.GetCreateTime(),
	}
	since := incident.GetCreateTime().AsTime()
	owner, _ := resource.ParseName(incident.GetName(), resource.BorderIncidents.Collection)
	for _, p := range incident.GetNotifyProvinces() {
		if p == owner.Province {
			continue // listed before that was refused: it waited for good
		}
		pa := &borderv1.ProvinceAcknowledgement{Province: p}
		until := now
		if m := earliest[p]; m != nil {
			ack := m.(*borderv1.IncidentAcknowledgement)
			// Not before the incident was recorded: one written under a
			// guessed name before it, or dated back past it, counted
			// from then (an outside review).
			if until = acknowledged(ack); until.Before(since) {
				until = since
			}
			pa.Acknowledgement, pa.AcknowledgeTime = ack.GetName(), timestamppb.New(until)
			st.AcknowledgedCount++
		} else {
			st.WaitingCount++
		}
		pa.Wait = durationpb.New(max(until.Sub(since), 0))
		st.Provinces = append(st.Provinces, pa)
	}
	return st, nil
}

// acknowledged is when ack was made: its acknowledge_time, or its
// create_time when it has none or names a later time, as nothing is
// acknowledged after it is recorded (a time in 2262 made a wait of 235
// years). (The server does not fill in acknowledge_time on Create: a
// retry with the same request_id must be the same request.)
func acknowledged(ack *borderv1.IncidentAcknowledgement) time.Time {
	recorded := ack.GetCreateTime().AsTime()
	if ack.AcknowledgeTime != nil && ack.GetAcknowledgeTime().AsTime().Before(recorded) {
		return ack.GetAcknowledgeTime().AsTime()
	}
	return recorded
}
