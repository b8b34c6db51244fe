// Package node serves provex.node.v1.NodeService: who this node is and the
// provinces of the federation.
package node

import (
	"context"
	"runtime"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/provex/provex/auth"
	nodev1 "github.com/provex/provex/gen/go/provex/node/v1"
	"github.com/provex/provex/resource"
)

// Server implements nodev1.NodeServiceServer.
type Server struct {
	nodev1.UnimplementedNodeServiceServer
	info   *nodev1.GetNodeInfoResponse
	policy *auth.Policy
}

// New describes the node of the given member; policy answers GetCaller.
func New(member, version string, started time.Time, policy *auth.Policy) *Server {
	info := &nodev1.GetNodeInfoResponse{
		Member:    member,
		Role:      nodev1.Role_ROLE_PROVINCE,
		Version:   version,
		StartTime: timestamppb.New(started),
	}
	if member == resource.Ministry {
		info.Role = nodev1.Role_ROLE_MINISTRY
		info.DisplayName = "Ministry of Foreign Affairs"
	} else if p, ok := resource.LookupProvince(member); ok {
		info.DisplayName = p.DisplayName
	}
	for _, k := range resource.Kinds() {
		info.Collections = append(info.Collections, k.Collection)
	}
	return &Server{info: info, policy: policy}
}

// GetCaller tells callers who they are to this node and what they may call.
func (s *Server) GetCaller(ctx context.Context, _ *nodev1.GetCallerRequest) (*nodev1.GetCallerResponse, error) {
	id, _ := auth.FromContext(ctx)
	return &nodev1.GetCallerResponse{Identity: id.String(), Role: string(id.Role), Member: id.Member, AllowedMethods: s.policy.Allowed(id)}, nil
}

// GetNodeInfo describes the node; admin callers also get its runtime
// figures, which tell an operator (or bench soak) about leaks and are no
// business of other callers.
func (s *Server) GetNodeInfo(ctx context.Context, _ *nodev1.GetNodeInfoRequest) (*nodev1.GetNodeInfoResponse, error) {
	if id, _ := auth.FromContext(ctx); !id.Role.CanAdmin() {
		return s.info, nil
	}
	info := proto.CloneOf(s.info)
	info.Runtime = &nodev1.NodeRuntime{Goroutines: int32(runtime.NumGoroutine())}
	return info, nil
}

func (s *Server) ListProvinces(context.Context, *nodev1.ListProvincesRequest) (*nodev1.ListProvincesResponse, error) {
	resp := &nodev1.ListProvincesResponse{}
	for _, p := range resource.Provinces() {
		resp.Provinces = append(resp.Provinces, &nodev1.Province{
			Name:               "provinces/" + p.Slug,
			Slug:               p.Slug,
			Code:               p.Code,
			DisplayName:        p.DisplayName,
			City:               p.City,
			MergedFrom:         p.MergedFrom,
			NeighbourCountries: p.Neighbours,
		})
	}
	return resp, nil
}
