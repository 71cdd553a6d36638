package server

import (
	"context"

	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// API is what every transport serves: the Host API of altar.v1.HostService
// in plain Go. Errors are *altarerr.Error (or wrap one).
type API interface {
	CreateSession(context.Context, *altarv1.CreateSessionRequest) (*altarv1.CreateSessionResponse, error)
	GetSession(context.Context, *altarv1.GetSessionRequest) (*altarv1.GetSessionResponse, error)
	ListSessions(context.Context, *altarv1.ListSessionsRequest) (*altarv1.ListSessionsResponse, error)
	DestroySession(context.Context, *altarv1.DestroySessionRequest) (*altarv1.DestroySessionResponse, error)

	ListTools(context.Context, *altarv1.ListToolsRequest) (*altarv1.ListToolsResponse, error)
	GetContract(context.Context, *altarv1.GetContractRequest) (*altarv1.GetContractResponse, error)

	Invoke(context.Context, *altarv1.InvokeRequest) (*altarv1.InvokeResponse, error)
	// InvokeStream calls send for each chunk in chunk_id order until the
	// final one; it returns when the stream ends. Cancelling ctx cancels the
	// invocation.
	InvokeStream(ctx context.Context, req *altarv1.InvokeRequest, send func(*altarv1.StreamChunk) error) error
	CancelInvocation(context.Context, *altarv1.CancelInvocationRequest) (*altarv1.CancelInvocationResponse, error)
	GetInvocation(context.Context, *altarv1.GetInvocationRequest) (*altarv1.GetInvocationResponse, error)
	GetToolStats(context.Context, *altarv1.GetToolStatsRequest) (*altarv1.GetToolStatsResponse, error)

	GetHostInfo(context.Context, *altarv1.GetHostInfoRequest) (*altarv1.GetHostInfoResponse, error)
	ListRuntimes(context.Context, *altarv1.ListRuntimesRequest) (*altarv1.ListRuntimesResponse, error)
	LoadManifest(context.Context, *altarv1.LoadManifestRequest) (*altarv1.LoadManifestResponse, error)
	ReloadManifests(context.Context, *altarv1.ReloadManifestsRequest) (*altarv1.ReloadManifestsResponse, error)
	SetHostMode(context.Context, *altarv1.SetHostModeRequest) (*altarv1.SetHostModeResponse, error)
}
