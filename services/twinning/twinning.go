// Package twinning serves provex.twinning.v1.TwinningService: partnerships,
// agreements and the ministry's opinions on them, delegations and
// friendship associations. The standard methods delegate to the shared
// engine in services/collection; procedure.go adds the views of overdue
// deadlines of the agreement procedure.
package twinning

import (
	"context"
	"time"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/services/collection"
	"github.com/provex/provex/storage"
)

// Server implements twinningv1.TwinningServiceServer.
type Server struct {
	twinningv1.UnimplementedTwinningServiceServer
	partnerships           *collection.Collection[*twinningv1.Partnership]
	agreements             *collection.Collection[*twinningv1.Agreement]
	agreementOpinions      *collection.Collection[*twinningv1.AgreementOpinion]
	delegations            *collection.Collection[*twinningv1.Delegation]
	friendshipAssociations *collection.Collection[*twinningv1.FriendshipAssociation]
	store                  storage.Store
	// member is the node's member: a province's node does not see the
	// ministry's opinions on other provinces' agreements (they are the
	// owner's and the ministry's), so it does not judge them late.
	member string
	// now is the clock of the overdue views.
	now func() time.Time
}

func New(node *collection.Node) *Server {
	return &Server{
		partnerships:           collection.New[*twinningv1.Partnership](node, resource.Partnerships),
		agreements:             collection.New[*twinningv1.Agreement](node, resource.Agreements),
		agreementOpinions:      collection.New[*twinningv1.AgreementOpinion](node, resource.AgreementOpinions),
		delegations:            collection.New[*twinningv1.Delegation](node, resource.Delegations),
		friendshipAssociations: collection.New[*twinningv1.FriendshipAssociation](node, resource.FriendshipAssociations),
		store:                  node.Store,
		member:                 node.Member,
		now:                    time.Now,
	}
}

func (s *Server) GetPartnership(ctx context.Context, req *twinningv1.GetPartnershipRequest) (*twinningv1.Partnership, error) {
	return s.partnerships.Get(ctx, req.GetName())
}

func (s *Server) ListPartnerships(ctx context.Context, req *twinningv1.ListPartnershipsRequest) (*twinningv1.ListPartnershipsResponse, error) {
	items, next, err := s.partnerships.List(ctx, req)
	if err != nil {
		return nil, err
	}
	return &twinningv1.ListPartnershipsResponse{Partnerships: items, NextPageToken: next}, nil
}

func (s *Server) CreatePartnership(ctx context.Context, req *twinningv1.CreatePartnershipRequest) (*twinningv1.Partnership, error) {
	return s.partnerships.Create(ctx, req.GetParent(), req.GetPartnershipId(), req.GetRequestId(), req.GetPartnership())
}

func (s *Server) UpdatePartnership(ctx context.Context, req *twinningv1.UpdatePartnershipRequest) (*twinningv1.Partnership, error) {
	return s.partnerships.Update(ctx, req.GetPartnership(), req.GetUpdateMask())
}

func (s *Server) DeletePartnership(ctx context.Context, req *twinningv1.DeletePartnershipRequest) (*twinningv1.Partnership, error) {
	return s.partnerships.Delete(ctx, req.GetName(), req.GetEtag())
}

func (s *Server) UndeletePartnership(ctx context.Context, req *twinningv1.UndeletePartnershipRequest) (*twinningv1.Partnership, error) {
	return s.partnerships.Undelete(ctx, req.GetName(), req.GetEtag())
}

func (s *Server) GetAgreement(ctx context.Context, req *twinningv1.GetAgreementRequest) (*twinningv1.Agreement, error) {
	return s.agreements.Get(ctx, req.GetName())
}

func (s *Server) ListAgreements(ctx context.Context, req *twinningv1.ListAgreementsRequest) (*twinningv1.ListAgreementsResponse, error) {
	items, next, err := s.agreements.List(ctx, req)
	if err != nil {
		return nil, err
	}
	return &twinningv1.ListAgreementsResponse{Agreements: items, NextPageToken: next}, nil
}

func (s *Server) CreateAgreement(ctx context.Context, req *twinningv1.CreateAgreementRequest) (*twinningv1.Agreement, error) {
	return s.agreements.Create(ctx, req.GetParent(), req.GetAgreementId(), req.GetRequestId(), req.GetAgreement())
}

func (s *Server) UpdateAgreement(ctx context.Context, req *twinningv1.UpdateAgreementRequest) (*twinningv1.Agreement, error) {
	return s.agreements.Update(ctx, req.GetAgreement(), req.GetUpdateMask())
}

func (s *Server) DeleteAgreement(ctx context.Context, req *twinningv1.DeleteAgreementRequest) (*twinningv1.Agreement, error) {
	return s.agreements.Delete(ctx, req.GetName(), req.GetEtag())
}

func (s *Server) UndeleteAgreement(ctx context.Context, req *twinningv1.UndeleteAgreementRequest) (*twinningv1.Agreement, error) {
	return s.agreements.Undelete(ctx, req.GetName(), req.GetEtag())
}

func (s *Server) GetDelegation(ctx context.Context, req *twinningv1.GetDelegationRequest) (*twinningv1.Delegation, error) {
	return s.delegations.Get(ctx, req.GetName())
}

func (s *Server) ListDelegations(ctx context.Context, req *twinningv1.ListDelegationsRequest) (*twinningv1.ListDelegationsResponse, error) {
	items, next, err := s.delegations.List(ctx, req)
	if err != nil {
		return nil, err
	}
	return &twinningv1.ListDelegationsResponse{Delegations: items, NextPageToken: next}, nil
}

func (s *Server) CreateDelegation(ctx context.Context, req *twinningv1.CreateDelegationRequest) (*twinningv1.Delegation, error) {
	return s.delegations.Create(ctx, req.GetParent(), req.GetDelegationId(), req.GetRequestId(), req.GetDelegation())
}

func (s *Server) UpdateDelegation(ctx context.Context, req *twinningv1.UpdateDelegationRequest) (*twinningv1.Delegation, error) {
	return s.delegations.Update(ctx, req.GetDelegation(), req.GetUpdateMask())
}

func (s *Server) DeleteDelegation(ctx context.Context, req *twinningv1.DeleteDelegationRequest) (*twinningv1.Delegation, error) {
	return s.delegations.Delete(ctx, req.GetName(), req.GetEtag())
}

func (s *Server) UndeleteDelegation(ctx context.Context, req *twinningv1.UndeleteDelegationRequest) (*twinningv1.Delegation, error) {
	return s.delegations.Undelete(ctx, req.GetName(), req.GetEtag())
}

func (s *Server) GetFriendshipAssociation(ctx context.Context, req *twinningv1.GetFriendshipAssociationRequest) (*twinningv1.FriendshipAssociation, error) {
	return s.friendshipAssociations.Get(ctx, req.GetName())
}

func (s *Server) ListFriendshipAssociations(ctx context.Context, req *twinningv1.ListFriendshipAssociationsRequest) (*twinningv1.ListFriendshipAssociationsResponse, error) {
	items, next, err := s.friendshipAssociations.List(ctx, req)
	if err != nil {
		return nil, err
	}
	return &twinningv1.ListFriendshipAssociationsResponse{FriendshipAssociations: items, NextPageToken: next}, nil
}

func (s *Server) CreateFriendshipAssociation(ctx context.Context, req *twinningv1.CreateFriendshipAssociationRequest) (*twinningv1.FriendshipAssociation, error) {
	return s.friendshipAssociations.Create(ctx, req.GetParent(), req.GetFriendshipAssociationId(), req.GetRequestId(), req.GetFriendshipAssociation())
}

func (s *Server) UpdateFriendshipAssociation(ctx context.Context, req *twinningv1.UpdateFriendshipAssociationRequest) (*twinningv1.FriendshipAssociation, error) {
	return s.friendshipAssociations.Update(ctx, req.GetFriendshipAssociation(), req.GetUpdateMask())
}

func (s *Server) DeleteFriendshipAssociation(ctx context.Context, req *twinningv1.DeleteFriendshipAssociationRequest) (*twinningv1.FriendshipAssociation, error) {
	return s.friendshipAssociations.Delete(ctx, req.GetName(), req.GetEtag())
}

func (s *Server) UndeleteFriendshipAssociation(ctx context.Context, req *twinningv1.UndeleteFriendshipAssociationRequest) (*twinningv1.FriendshipAssociation, error) {
	return s.friendshipAssociations.Undelete(ctx, req.GetName(), req.GetEtag())
}

func (s *Server) GetAgreementOpinion(ctx context.Context, req *twinningv1.GetAgreementOpinionRequest) (*twinningv1.AgreementOpinion, error) {
	return s.agreementOpinions.Get(ctx, req.GetName())
}

func (s *Server) ListAgreementOpinions(ctx context.Context, req *twinningv1.ListAgreementOpinionsRequest) (*twinningv1.ListAgreementOpinionsResponse, error) {
	items, next, err := s.agreementOpinions.List(ctx, req)
	if err != nil {
		return nil, err
	}
	return &twinningv1.ListAgreementOpinionsResponse{AgreementOpinions: items, NextPageToken: next}, nil
}

func (s *Server) CreateAgreementOpinion(ctx context.Context, req *twinningv1.CreateAgreementOpinionRequest) (*twinningv1.AgreementOpinion, error) {
	return s.agreementOpinions.Create(ctx, req.GetParent(), req.GetAgreementOpinionId(), req.GetRequestId(), req.GetAgreementOpinion())
}

func (s *Server) UpdateAgreementOpinion(ctx context.Context, req *twinningv1.UpdateAgreementOpinionRequest) (*twinningv1.AgreementOpinion, error) {
	return s.agreementOpinions.Update(ctx, req.GetAgreementOpinion(), req.GetUpdateMask())
}

func (s *Server) DeleteAgreementOpinion(ctx context.Context, req *twinningv1.DeleteAgreementOpinionRequest) (*twinningv1.AgreementOpinion, error) {
	return s.agreementOpinions.Delete(ctx, req.GetName(), req.GetEtag())
}

func (s *Server) UndeleteAgreementOpinion(ctx context.Context, req *twinningv1.UndeleteAgreementOpinionRequest) (*twinningv1.AgreementOpinion, error) {
	return s.agreementOpinions.Undelete(ctx, req.GetName(), req.GetEtag())
}
