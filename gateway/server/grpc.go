package server

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/altar-gateway/altar/gateway/altarerr"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// GRPC is the Host's gRPC server: HostService, RuntimeService and the
// standard health service.
type GRPC struct {
	Server *grpc.Server
	Health *health.Server
}

// NewGRPC builds the gRPC server. runtimes serves the runtime-facing
// stream; it may be nil when no runtime may dial in.
func NewGRPC(api API, runtimes altarv1.RuntimeServiceServer, opts ...grpc.ServerOption) *GRPC {
	s := grpc.NewServer(opts...)
	altarv1.RegisterHostServiceServer(s, &hostService{api: api})
	if runtimes != nil {
		altarv1.RegisterRuntimeServiceServer(s, runtimes)
	}
	h := health.NewServer()
	healthpb.RegisterHealthServer(s, h)
	return &GRPC{Server: s, Health: h}
}

// hostService adapts API to altar.v1.HostService: errors become gRPC
// statuses carrying an altar.v1.Error detail.
type hostService struct {
	altarv1.UnimplementedHostServiceServer
	api API
}

func wrap[Req, Resp any](ctx context.Context, req Req, f func(context.Context, Req) (Resp, error)) (Resp, error) {
	resp, err := f(ctx, req)
	if err != nil {
		var zero Resp
		return zero, altarerr.From(err).GRPCStatus().Err()
	}
	return resp, nil
}

func (s *hostService) CreateSession(ctx context.Context, r *altarv1.CreateSessionRequest) (*altarv1.CreateSessionResponse, error) {
	return wrap(ctx, r, s.api.CreateSession)
}

func (s *hostService) GetSession(ctx context.Context, r *altarv1.GetSessionRequest) (*altarv1.GetSessionResponse, error) {
	return wrap(ctx, r, s.api.GetSession)
}

func (s *hostService) ListSessions(ctx context.Context, r *altarv1.ListSessionsRequest) (*altarv1.ListSessionsResponse, error) {
	return wrap(ctx, r, s.api.ListSessions)
}

func (s *hostService) DestroySession(ctx context.Context, r *altarv1.DestroySessionRequest) (*altarv1.DestroySessionResponse, error) {
	return wrap(ctx, r, s.api.DestroySession)
}

func (s *hostService) ListTools(ctx context.Context, r *altarv1.ListToolsRequest) (*altarv1.ListToolsResponse, error) {
	return wrap(ctx, r, s.api.ListTools)
}

func (s *hostService) GetContract(ctx context.Context, r *altarv1.GetContractRequest) (*altarv1.GetContractResponse, error) {
	return wrap(ctx, r, s.api.GetContract)
}

func (s *hostService) Invoke(ctx context.Context, r *altarv1.InvokeRequest) (*altarv1.InvokeResponse, error) {
	return wrap(ctx, r, s.api.Invoke)
}

func (s *hostService) InvokeStream(r *altarv1.InvokeStreamRequest, stream altarv1.HostService_InvokeStreamServer) error {
	err := s.api.InvokeStream(stream.Context(), r.GetRequest(), func(ch *altarv1.StreamChunk) error {
		return stream.Send(&altarv1.InvokeStreamResponse{Chunk: ch})
	})
	if err != nil {
		return altarerr.From(err).GRPCStatus().Err()
	}
	return nil
}

func (s *hostService) CancelInvocation(ctx context.Context, r *altarv1.CancelInvocationRequest) (*altarv1.CancelInvocationResponse, error) {
	return wrap(ctx, r, s.api.CancelInvocation)
}

func (s *hostService) GetInvocation(ctx context.Context, r *altarv1.GetInvocationRequest) (*altarv1.GetInvocationResponse, error) {
	return wrap(ctx, r, s.api.GetInvocation)
}

func (s *hostService) GetToolStats(ctx context.Context, r *altarv1.GetToolStatsRequest) (*altarv1.GetToolStatsResponse, error) {
	return wrap(ctx, r, s.api.GetToolStats)
}

func (s *hostService) GetHostInfo(ctx context.Context, r *altarv1.GetHostInfoRequest) (*altarv1.GetHostInfoResponse, error) {
	return wrap(ctx, r, s.api.GetHostInfo)
}

func (s *hostService) ListRuntimes(ctx context.Context, r *altarv1.ListRuntimesRequest) (*altarv1.ListRuntimesResponse, error) {
	return wrap(ctx, r, s.api.ListRuntimes)
}

func (s *hostService) LoadManifest(ctx context.Context, r *altarv1.LoadManifestRequest) (*altarv1.LoadManifestResponse, error) {
	return wrap(ctx, r, s.api.LoadManifest)
}

func (s *hostService) ReloadManifests(ctx context.Context, r *altarv1.ReloadManifestsRequest) (*altarv1.ReloadManifestsResponse, error) {
	return wrap(ctx, r, s.api.ReloadManifests)
}

func (s *hostService) SetHostMode(ctx context.Context, r *altarv1.SetHostModeRequest) (*altarv1.SetHostModeResponse, error) {
	return wrap(ctx, r, s.api.SetHostMode)
}

var _ altarv1.HostServiceServer = (*hostService)(nil)
