// Package border serves provex.border.v1.BorderService: border gates, markers,
// incidents, their acknowledgements and trade reports.
// The standard methods delegate to the shared standard-method engine in
// services/collection; the acknowledgement statuses pair incidents with the
// acknowledgements of them this node holds (acknowledgements.go).
package border

import (
	"context"
	"time"

	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/services/collection"
	"github.com/provex/provex/storage"
)

// Server implements borderv1.BorderServiceServer.
type Server struct {
	borderv1.UnimplementedBorderServiceServer
	borderGates     *collection.Collection[*borderv1.BorderGate]
	borderMarkers   *collection.Collection[*borderv1.BorderMarker]
	borderIncidents *collection.Collection[*borderv1.BorderIncident]
	tradeReports    *collection.Collection[*borderv1.TradeReport]

	acknowledgements *collection.Collection[*borderv1.IncidentAcknowledgement]
	store            storage.Store
	now              func() time.Time
}

func New(node *collection.Node) *Server {
	return &Server{
		borderGates:     collection.New[*borderv1.BorderGate](node, resource.BorderGates),
		borderMarkers:   collection.New[*borderv1.BorderMarker](node, resource.BorderMarkers),
		borderIncidents: collection.New[*borderv1.BorderIncident](node, resource.BorderIncidents),
		tradeReports:    collection.New[*borderv1.TradeReport](node, resource.TradeReports),

		acknowledgements: collection.New[*borderv1.IncidentAcknowledgement](node, resource.IncidentAcknowledgements),
		store:            node.Store,
		now:              time.Now,
	}
}

func (s *Server) GetBorderGate(ctx context.Context, req *borderv1.GetBorderGateRequest) (*borderv1.BorderGate, error) {
	return s.borderGates.Get(ctx, req.GetName())
}

func (s *Server) ListBorderGates(ctx context.Context, req *borderv1.ListBorderGatesRequest) (*borderv1.ListBorderGatesResponse, error) {
	items, next, err := s.borderGates.List(ctx, req)
	if err != nil {
		return nil, err
	}
	return &borderv1.ListBorderGatesResponse{BorderGates: items, NextPageToken: next}, nil
}

func (s *Server) CreateBorderGate(ctx context.Context, req *borderv1.CreateBorderGateRequest) (*borderv1.BorderGate, error) {
	return s.borderGates.Create(ctx, req.GetParent(), req.GetBorderGateId(), req.GetRequestId(), req.GetBorderGate())
}

func (s *Server) UpdateBorderGate(ctx context.Context, req *borderv1.UpdateBorderGateRequest) (*borderv1.BorderGate, error) {
	return s.borderGates.Update(ctx, req.GetBorderGate(), req.GetUpdateMask())
}

func (s *Server) DeleteBorderGate(ctx context.Context, req *borderv1.DeleteBorderGateRequest) (*borderv1.BorderGate, error) {
	return s.borderGates.Delete(ctx, req.GetName(), req.GetEtag())
}

func (s *Server) UndeleteBorderGate(ctx context.Context, req *borderv1.UndeleteBorderGateRequest) (*borderv1.BorderGate, error) {
	return s.borderGates.Undelete(ctx, req.GetName(), req.GetEtag())
}

func (s *Server) GetBorderMarker(ctx context.Context, req *borderv1.GetBorderMarkerRequest) (*borderv1.BorderMarker, error) {
	return s.borderMarkers.Get(ctx, req.GetName())
}

func (s *Server) ListBorderMarkers(ctx context.Context, req *borderv1.ListBorderMarkersRequest) (*borderv1.ListBorderMarkersResponse, error) {
	items, next, err := s.borderMarkers.List(ctx, req)
	if err != nil {
		return nil, err
	}
	return &borderv1.ListBorderMarkersResponse{BorderMarkers: items, NextPageToken: next}, nil
}

func (s *Server) CreateBorderMarker(ctx context.Context, req *borderv1.CreateBorderMarkerRequest) (*borderv1.BorderMarker, error) {
	return s.borderMarkers.Create(ctx, req.GetParent(), req.GetBorderMarkerId(), req.GetRequestId(), req.GetBorderMarker())
}

func (s *Server) UpdateBorderMarker(ctx context.Context, req *borderv1.UpdateBorderMarkerRequest) (*borderv1.BorderMarker, error) {
	return s.borderMarkers.Update(ctx, req.GetBorderMarker(), req.GetUpdateMask())
}

func (s *Server) DeleteBorderMarker(ctx context.Context, req *borderv1.DeleteBorderMarkerRequest) (*borderv1.BorderMarker, error) {
	return s.borderMarkers.Delete(ctx, req.GetName(), req.GetEtag())
}

func (s *Server) UndeleteBorderMarker(ctx context.Context, req *borderv1.UndeleteBorderMarkerRequest) (*borderv1.BorderMarker, error) {
	return s.borderMarkers.Undelete(ctx, req.GetName(), req.GetEtag())
}

func (s *Server) GetBorderIncident(ctx context.Context, req *borderv1.GetBorderIncidentRequest) (*borderv1.BorderIncident, error) {
	return s.borderIncidents.Get(ctx, req.GetName())
}

func (s *Server) ListBorderIncidents(ctx context.Context, req *borderv1.ListBorderIncidentsRequest) (*borderv1.ListBorderIncidentsResponse, error) {
	items, next, err := s.borderIncidents.List(ctx, req)
	if err != nil {
		return nil, err
	}
	return &borderv1.ListBorderIncidentsResponse{BorderIncidents: items, NextPageToken: next}, nil
}

func (s *Server) CreateBorderIncident(ctx context.Context, req *borderv1.CreateBorderIncidentRequest) (*borderv1.BorderIncident, error) {
	return s.borderIncidents.Create(ctx, req.GetParent(), req.GetBorderIncidentId(), req.GetRequestId(), req.GetBorderIncident())
}

func (s *Server) UpdateBorderIncident(ctx context.Context, req *borderv1.UpdateBorderIncidentRequest) (*borderv1.BorderIncident, error) {
	return s.borderIncidents.Update(ctx, req.GetBorderIncident(), req.GetUpdateMask())
}

func (s *Server) DeleteBorderIncident(ctx context.Context, req *borderv1.DeleteBorderIncidentRequest) (*borderv1.BorderIncident, error) {
	return s.borderIncidents.Delete(ctx, req.GetName(), req.GetEtag())
}

func (s *Server) UndeleteBorderIncident(ctx context.Context, req *borderv1.UndeleteBorderIncidentRequest) (*borderv1.BorderIncident, error) {
	return s.borderIncidents.Undelete(ctx, req.GetName(), req.GetEtag())
}

func (s *Server) GetTradeReport(ctx context.Context, req *borderv1.GetTradeReportRequest) (*borderv1.TradeReport, error) {
	return s.tradeReports.Get(ctx, req.GetName())
}

func (s *Server) ListTradeReports(ctx context.Context, req *borderv1.ListTradeReportsRequest) (*borderv1.ListTradeReportsResponse, error) {
	items, next, err := s.tradeReports.List(ctx, req)
	if err != nil {
		return nil, err
	}
	return &borderv1.ListTradeReportsResponse{TradeReports: items, NextPageToken: next}, nil
}

func (s *Server) CreateTradeReport(ctx context.Context, req *borderv1.CreateTradeReportRequest) (*borderv1.TradeReport, error) {
	return s.tradeReports.Create(ctx, req.GetParent(), req.GetTradeReportId(), req.GetRequestId(), req.GetTradeReport())
}

func (s *Server) UpdateTradeReport(ctx context.Context, req *borderv1.UpdateTradeReportRequest) (*borderv1.TradeReport, error) {
	return s.tradeReports.Update(ctx, req.GetTradeReport(), req.GetUpdateMask())
}

func (s *Server) DeleteTradeReport(ctx context.Context, req *borderv1.DeleteTradeReportRequest) (*borderv1.TradeReport, error) {
	return s.tradeReports.Delete(ctx, req.GetName(), req.GetEtag())
}

func (s *Server) UndeleteTradeReport(ctx context.Context, req *borderv1.UndeleteTradeReportRequest) (*borderv1.TradeReport, error) {
	return s.tradeReports.Undelete(ctx, req.GetName(), req.GetEtag())
}
