// Package investment serves provex.investment.v1.InvestmentService: projects,
// promotion events, investor leads and the organisations projects name.
// Every method delegates to the shared standard-method engine in
// services/collection.
package investment

import (
	"context"

	investmentv1 "github.com/provex/provex/gen/go/provex/investment/v1"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/services/collection"
)

// Server implements investmentv1.InvestmentServiceServer.
type Server struct {
	investmentv1.UnimplementedInvestmentServiceServer
	projects        *collection.Collection[*investmentv1.Project]
	promotionEvents *collection.Collection[*investmentv1.PromotionEvent]
	investorLeads   *collection.Collection[*investmentv1.InvestorLead]
	organizations   *collection.Collection[*investmentv1.Organization]
}

func New(node *collection.Node) *Server {
	return &Server{
		projects:        collection.New[*investmentv1.Project](node, resource.Projects),
		promotionEvents: collection.New[*investmentv1.PromotionEvent](node, resource.PromotionEvents),
		investorLeads:   collection.New[*investmentv1.InvestorLead](node, resource.InvestorLeads),
		organizations:   collection.New[*investmentv1.Organization](node, resource.Organizations),
	}
}

func (s *Server) GetProject(ctx context.Context, req *investmentv1.GetProjectRequest) (*investmentv1.Project, error) {
	return s.projects.Get(ctx, req.GetName())
}

func (s *Server) ListProjects(ctx context.Context, req *investmentv1.ListProjectsRequest) (*investmentv1.ListProjectsResponse, error) {
	items, next, err := s.projects.List(ctx, req)
	if err != nil {
		return nil, err
	}
	return &investmentv1.ListProjectsResponse{Projects: items, NextPageToken: next}, nil
}

func (s *Server) CreateProject(ctx context.Context, req *investmentv1.CreateProjectRequest) (*investmentv1.Project, error) {
	return s.projects.Create(ctx, req.GetParent(), req.GetProjectId(), req.GetRequestId(), req.GetProject())
}

func (s *Server) UpdateProject(ctx context.Context, req *investmentv1.UpdateProjectRequest) (*investmentv1.Project, error) {
	return s.projects.Update(ctx, req.GetProject(), req.GetUpdateMask())
}

func (s *Server) DeleteProject(ctx context.Context, req *investmentv1.DeleteProjectRequest) (*investmentv1.Project, error) {
	return s.projects.Delete(ctx, req.GetName(), req.GetEtag())
}

func (s *Server) UndeleteProject(ctx context.Context, req *investmentv1.UndeleteProjectRequest) (*investmentv1.Project, error) {
	return s.projects.Undelete(ctx, req.GetName(), req.GetEtag())
}

func (s *Server) GetPromotionEvent(ctx context.Context, req *investmentv1.GetPromotionEventRequest) (*investmentv1.PromotionEvent, error) {
	return s.promotionEvents.Get(ctx, req.GetName())
}

func (s *Server) ListPromotionEvents(ctx context.Context, req *investmentv1.ListPromotionEventsRequest) (*investmentv1.ListPromotionEventsResponse, error) {
	items, next, err := s.promotionEvents.List(ctx, req)
	if err != nil {
		return nil, err
	}
	return &investmentv1.ListPromotionEventsResponse{PromotionEvents: items, NextPageToken: next}, nil
}

func (s *Server) CreatePromotionEvent(ctx context.Context, req *investmentv1.CreatePromotionEventRequest) (*investmentv1.PromotionEvent, error) {
	return s.promotionEvents.Create(ctx, req.GetParent(), req.GetPromotionEventId(), req.GetRequestId(), req.GetPromotionEvent())
}

func (s *Server) UpdatePromotionEvent(ctx context.Context, req *investmentv1.UpdatePromotionEventRequest) (*investmentv1.PromotionEvent, error) {
	return s.promotionEvents.Update(ctx, req.GetPromotionEvent(), req.GetUpdateMask())
}

func (s *Server) DeletePromotionEvent(ctx context.Context, req *investmentv1.DeletePromotionEventRequest) (*investmentv1.PromotionEvent, error) {
	return s.promotionEvents.Delete(ctx, req.GetName(), req.GetEtag())
}

func (s *Server) UndeletePromotionEvent(ctx context.Context, req *investmentv1.UndeletePromotionEventRequest) (*investmentv1.PromotionEvent, error) {
	return s.promotionEvents.Undelete(ctx, req.GetName(), req.GetEtag())
}

func (s *Server) GetInvestorLead(ctx context.Context, req *investmentv1.GetInvestorLeadRequest) (*investmentv1.InvestorLead, error) {
	return s.investorLeads.Get(ctx, req.GetName())
}

func (s *Server) ListInvestorLeads(ctx context.Context, req *investmentv1.ListInvestorLeadsRequest) (*investmentv1.ListInvestorLeadsResponse, error) {
	items, next, err := s.investorLeads.List(ctx, req)
	if err != nil {
		return nil, err
	}
	return &investmentv1.ListInvestorLeadsResponse{InvestorLeads: items, NextPageToken: next}, nil
}

func (s *Server) CreateInvestorLead(ctx context.Context, req *investmentv1.CreateInvestorLeadRequest) (*investmentv1.InvestorLead, error) {
	return s.investorLeads.Create(ctx, req.GetParent(), req.GetInvestorLeadId(), req.GetRequestId(), req.GetInvestorLead())
}

func (s *Server) UpdateInvestorLead(ctx context.Context, req *investmentv1.UpdateInvestorLeadRequest) (*investmentv1.InvestorLead, error) {
	return s.investorLeads.Update(ctx, req.GetInvestorLead(), req.GetUpdateMask())
}

func (s *Server) DeleteInvestorLead(ctx context.Context, req *investmentv1.DeleteInvestorLeadRequest) (*investmentv1.InvestorLead, error) {
	return s.investorLeads.Delete(ctx, req.GetName(), req.GetEtag())
}

func (s *Server) UndeleteInvestorLead(ctx context.Context, req *investmentv1.UndeleteInvestorLeadRequest) (*investmentv1.InvestorLead, error) {
	return s.investorLeads.Undelete(ctx, req.GetName(), req.GetEtag())
}

func (s *Server) GetOrganization(ctx context.Context, req *investmentv1.GetOrganizationRequest) (*investmentv1.Organization, error) {
	return s.organizations.Get(ctx, req.GetName())
}

func (s *Server) ListOrganizations(ctx context.Context, req *investmentv1.ListOrganizationsRequest) (*investmentv1.ListOrganizationsResponse, error) {
	items, next, err := s.organizations.List(ctx, req)
	if err != nil {
		return nil, err
	}
	return &investmentv1.ListOrganizationsResponse{Organizations: items, NextPageToken: next}, nil
}

func (s *Server) CreateOrganization(ctx context.Context, req *investmentv1.CreateOrganizationRequest) (*investmentv1.Organization, error) {
	return s.organizations.Create(ctx, req.GetParent(), req.GetOrganizationId(), req.GetRequestId(), req.GetOrganization())
}

func (s *Server) UpdateOrganization(ctx context.Context, req *investmentv1.UpdateOrganizationRequest) (*investmentv1.Organization, error) {
	return s.organizations.Update(ctx, req.GetOrganization(), req.GetUpdateMask())
}

func (s *Server) DeleteOrganization(ctx context.Context, req *investmentv1.DeleteOrganizationRequest) (*investmentv1.Organization, error) {
	return s.organizations.Delete(ctx, req.GetName(), req.GetEtag())
}

func (s *Server) UndeleteOrganization(ctx context.Context, req *investmentv1.UndeleteOrganizationRequest) (*investmentv1.Organization, error) {
	return s.organizations.Undelete(ctx, req.GetName(), req.GetEtag())
}
