package national

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/internal/filter"
	"github.com/provex/provex/internal/pagetoken"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/services/collection"
	"github.com/provex/provex/storage"
)

// Reasons of the violations a request or response under the wrong owner
// gets.
const (
	// ReasonRequestNotMinistry: a request for information outside
	// provinces/mofa. Only the ministry asks (the engine refuses it, as
	// for every kind only the ministry owns).
	ReasonRequestNotMinistry = collection.ReasonNotMinistry
	// ReasonResponseByMinistry: a response under provinces/mofa. The
	// provinces answer; the ministry does not answer itself.
	ReasonResponseByMinistry = "parent.ministry"
)

// checkResponseParent refuses a response the ministry would own: the status
// views count only asked provinces, and the ministry is never one.
func checkResponseParent(parent string) error {
	if p, err := resource.ParseParent(parent, false); err != nil || resource.InformationResponses.WrittenBy(p) {
		return nil
	}
	return apperr.InvalidFields(&errdetails.BadRequest_FieldViolation{
		Field:       "parent",
		Reason:      ReasonResponseByMinistry,
		Description: "responses to requests for information are the provinces' records, not the ministry's",
	})
}

func (s *Server) GetInformationRequest(ctx context.Context, req *nationalv1.GetInformationRequestRequest) (*nationalv1.InformationRequest, error) {
	return s.requests.Get(ctx, req.GetName())
}

func (s *Server) ListInformationRequests(ctx context.Context, req *nationalv1.ListInformationRequestsRequest) (*nationalv1.ListInformationRequestsResponse, error) {
	items, next, err := s.requests.List(ctx, req)
	if err != nil {
		return nil, err
	}
	return &nationalv1.ListInformationRequestsResponse{InformationRequests: items, NextPageToken: next}, nil
}

func (s *Server) CreateInformationRequest(ctx context.Context, req *nationalv1.CreateInformationRequestRequest) (*nationalv1.InformationRequest, error) {
	return s.requests.Create(ctx, req.GetParent(), req.GetInformationRequestId(), req.GetRequestId(), req.GetInformationRequest())
}

func (s *Server) UpdateInformationRequest(ctx context.Context, req *nationalv1.UpdateInformationRequestRequest) (*nationalv1.InformationRequest, error) {
	return s.requests.Update(ctx, req.GetInformationRequest(), req.GetUpdateMask())
}

func (s *Server) DeleteInformationRequest(ctx context.Context, req *nationalv1.DeleteInformationRequestRequest) (*nationalv1.InformationRequest, error) {
	return s.requests.Delete(ctx, req.GetName(), req.GetEtag())
}

func (s *Server) UndeleteInformationRequest(ctx context.Context, req *nationalv1.UndeleteInformationRequestRequest) (*nationalv1.InformationRequest, error) {
	return s.requests.Undelete(ctx, req.GetName(), req.GetEtag())
}

func (s *Server) GetInformationResponse(ctx context.Context, req *nationalv1.GetInformationResponseRequest) (*nationalv1.InformationResponse, error) {
	return s.responses.Get(ctx, req.GetName())
}

func (s *Server) ListInformationResponses(ctx context.Context, req *nationalv1.ListInformationResponsesRequest) (*nationalv1.ListInformationResponsesResponse, error) {
	items, next, err := s.responses.List(ctx, req)
	if err != nil {
		return nil, err
	}
	return &nationalv1.ListInformationResponsesResponse{InformationResponses: items, NextPageToken: next}, nil
}

func (s *Server) CreateInformationResponse(ctx context.Context, req *nationalv1.CreateInformationResponseRequest) (*nationalv1.InformationResponse, error) {
	if err := checkResponseParent(req.GetParent()); err != nil {
		return nil, err
	}
	return s.responses.Create(ctx, req.GetParent(), req.GetInformationResponseId(), req.GetRequestId(), req.GetInformationResponse())
}

func (s *Server) UpdateInformationResponse(ctx context.Context, req *nationalv1.UpdateInformationResponseRequest) (*nationalv1.InformationResponse, error) {
	return s.responses.Update(ctx, req.GetInformationResponse(), req.GetUpdateMask())
}

func (s *Server) DeleteInformationResponse(ctx context.Context, req *nationalv1.DeleteInformationResponseRequest) (*nationalv1.InformationResponse, error) {
	return s.responses.Delete(ctx, req.GetName(), req.GetEtag())
}

func (s *Server) UndeleteInformationResponse(ctx context.Context, req *nationalv1.UndeleteInformationResponseRequest) (*nationalv1.InformationResponse, error) {
	return s.responses.Undelete(ctx, req.GetName(), req.GetEtag())
}

// GetInformationRequestStatus answers for one request this node holds.
func (s *Server) GetInformationRequestStatus(ctx context.Context, req *nationalv1.GetInformationRequestStatusRequest) (*nationalv1.InformationRequestStatus, error) {
	name := req.GetRequest()
	n, err := resource.ParseName(name, resource.InformationRequests.Collection)
	if err == nil && n.Province != resource.Ministry {
		err = fmt.Errorf("requests for information are the ministry's: must have the form provinces/%s/%s/{id}", resource.Ministry, resource.InformationRequests.Collection)
	}
	if err != nil {
		return nil, apperr.Invalid("request", "%v", err)
	}
	m, err := s.store.Get(ctx, resource.InformationRequests, name)
	if err != nil {
		return nil, err
	}
	return s.requestStatus(ctx, m.(*nationalv1.InformationRequest), s.now())
}

// ListInformationRequestStatuses pages through the ministry's live
// requests, in the order of ListInformationRequests, and answers for each.
func (s *Server) ListInformationRequestStatuses(ctx context.Context, req *nationalv1.ListInformationRequestStatusesRequest) (*nationalv1.ListInformationRequestStatusesResponse, error) {
	province, err := resource.ParseParent(req.GetParent(), true)
	if err == nil && province != resource.AllProvinces && province != resource.Ministry {
		err = fmt.Errorf("requests for information are the ministry's: parent must be provinces/%s or provinces/-", resource.Ministry)
	}
	if err != nil {
		return nil, apperr.Invalid("parent", "%v", err)
	}
	now := s.now()
	kind := resource.InformationRequests
	// Only the ministry's records are requests: a province's log cannot
	// hold one (resource.CheckOwned), and this keeps it so on any node.
	q := storage.Query{Kind: kind, Province: resource.Ministry}
	if q.Limit, err = collection.PageLimit(req.GetPageSize()); err != nil {
		return nil, err
	}
	if q.Filter, err = filter.ParseAt(req.GetFilter(), kind.Schema, now); err != nil {
		return nil, apperr.Invalid("filter", "%v", err)
	}
	query := pagetoken.Fingerprint("information-request-statuses", req.GetParent(), req.GetFilter(),
		strconv.FormatBool(req.GetWaitingOnly()), strconv.FormatBool(req.GetOverdueOnly()))
	if q.After, err = pagetoken.Decode(req.GetPageToken(), query); err != nil {
		return nil, err
	}
	page, err := s.store.List(ctx, q)
	if err != nil {
		return nil, err
	}
	resp := &nationalv1.ListInformationRequestStatusesResponse{NextPageToken: pagetoken.Encode(page.Next, query)}
	for _, m := range page.Records {
		st, err := s.requestStatus(ctx, m.(*nationalv1.InformationRequest), now)
		if err != nil {
			return nil, err
		}
		if (req.GetWaitingOnly() && st.WaitingCount == 0) || (req.GetOverdueOnly() && st.OverdueCount == 0) {
			continue
		}
		resp.Statuses = append(resp.Statuses, st)
	}
	return resp, nil
}

// requestStatus pairs the request's provinces with the live responses to
// it this node holds, found by the index on their request column. Only an
// asked province's response counts, its earliest if it made several.
func (s *Server) requestStatus(ctx context.Context, request *nationalv1.InformationRequest, now time.Time) (*nationalv1.InformationRequestStatus, error) {
	earliest, err := collection.EarliestReplies(ctx, s.store, resource.InformationResponses, "request", request.GetName(),
		func(m proto.Message) time.Time { return m.(*nationalv1.InformationResponse).GetCreateTime().AsTime() })
	if err != nil {
		return nil, err
	}
	st := &nationalv1.InformationRequestStatus{
		Request:     request.GetName(),
		DisplayName: request.GetDisplayName(),
		DueTime:     request.GetDueTime(),
		CreateTime:  request.GetCreateTime(),
	}
	late := request.GetDueTime() != nil && now.After(request.GetDueTime().AsTime())
	for _, p := range request.GetProvinces() {
		pr := &nationalv1.ProvinceResponse{Province: p}
		if m := earliest[p]; m != nil {
			r := m.(*nationalv1.InformationResponse)
			// Not before the request was made: a response written under
			// a guessed name before it counted from then (an outside
			// review).
			at := r.GetCreateTime().AsTime()
			if made := request.GetCreateTime().AsTime(); at.Before(made) {
				at = made
			}
			pr.Response, pr.RespondTime = r.GetName(), timestamppb.New(at)
			st.AnsweredCount++
		} else {
			st.WaitingCount++
			if late {
				pr.Overdue = true
				st.OverdueCount++
			}
		}
		st.Provinces = append(st.Provinces, pr)
	}
	return st, nil
}
