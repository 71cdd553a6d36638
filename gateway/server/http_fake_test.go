package server

import (
	"context"

	"github.com/altar-gateway/altar/gateway/altarerr"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// fakeAPI is an API whose methods are function fields; a nil field answers
// UNIMPLEMENTED.
type fakeAPI struct {
	createSession  func(context.Context, *altarv1.CreateSessionRequest) (*altarv1.CreateSessionResponse, error)
	getSession     func(context.Context, *altarv1.GetSessionRequest) (*altarv1.GetSessionResponse, error)
	listTools      func(context.Context, *altarv1.ListToolsRequest) (*altarv1.ListToolsResponse, error)
	getContract    func(context.Context, *altarv1.GetContractRequest) (*altarv1.GetContractResponse, error)
	invoke         func(context.Context, *altarv1.InvokeRequest) (*altarv1.InvokeResponse, error)
	invokeStream   func(context.Context, *altarv1.InvokeRequest, func(*altarv1.StreamChunk) error) error
	setHostMode    func(context.Context, *altarv1.SetHostModeRequest) (*altarv1.SetHostModeResponse, error)
	reloadManifest func(context.Context, *altarv1.ReloadManifestsRequest) (*altarv1.ReloadManifestsResponse, error)
}

func unimpl[T any]() (T, error) {
	var zero T
	return zero, altarerr.New(altarv1.ErrorCode_ERROR_CODE_UNIMPLEMENTED, "not in the fake")
}

func call[Req, Resp any](f func(context.Context, Req) (Resp, error), ctx context.Context, r Req) (Resp, error) {
	if f == nil {
		return unimpl[Resp]()
	}
	return f(ctx, r)
}

func (f *fakeAPI) CreateSession(ctx context.Context, r *altarv1.CreateSessionRequest) (*altarv1.CreateSessionResponse, error) {
	return call(f.createSession, ctx, r)
}
func (f *fakeAPI) GetSession(ctx context.Context, r *altarv1.GetSessionRequest) (*altarv1.GetSessionResponse, error) {
	return call(f.getSession, ctx, r)
}
func (f *fakeAPI) ListSessions(context.Context, *altarv1.ListSessionsRequest) (*altarv1.ListSessionsResponse, error) {
	return unimpl[*altarv1.ListSessionsResponse]()
}
func (f *fakeAPI) DestroySession(context.Context, *altarv1.DestroySessionRequest) (*altarv1.DestroySessionResponse, error) {
	return unimpl[*altarv1.DestroySessionResponse]()
}
func (f *fakeAPI) ListTools(ctx context.Context, r *altarv1.ListToolsRequest) (*altarv1.ListToolsResponse, error) {
	return call(f.listTools, ctx, r)
}
func (f *fakeAPI) GetContract(ctx context.Context, r *altarv1.GetContractRequest) (*altarv1.GetContractResponse, error) {
	return call(f.getContract, ctx, r)
}
func (f *fakeAPI) Invoke(ctx context.Context, r *altarv1.InvokeRequest) (*altarv1.InvokeResponse, error) {
	return call(f.invoke, ctx, r)
}
func (f *fakeAPI) InvokeStream(ctx context.Context, r *altarv1.InvokeRequest, send func(*altarv1.StreamChunk) error) error {
	if f.invokeStream == nil {
		_, err := unimpl[struct{}]()
		return err
	}
	return f.invokeStream(ctx, r, send)
}
func (f *fakeAPI) CancelInvocation(context.Context, *altarv1.CancelInvocationRequest) (*altarv1.CancelInvocationResponse, error) {
	return unimpl[*altarv1.CancelInvocationResponse]()
}
func (f *fakeAPI) GetInvocation(context.Context, *altarv1.GetInvocationRequest) (*altarv1.GetInvocationResponse, error) {
	return unimpl[*altarv1.GetInvocationResponse]()
}
func (f *fakeAPI) GetToolStats(context.Context, *altarv1.GetToolStatsRequest) (*altarv1.GetToolStatsResponse, error) {
	return unimpl[*altarv1.GetToolStatsResponse]()
}
func (f *fakeAPI) GetHostInfo(context.Context, *altarv1.GetHostInfoRequest) (*altarv1.GetHostInfoResponse, error) {
	return &altarv1.GetHostInfoResponse{HostId: "fake"}, nil
}
func (f *fakeAPI) ListRuntimes(context.Context, *altarv1.ListRuntimesRequest) (*altarv1.ListRuntimesResponse, error) {
	return &altarv1.ListRuntimesResponse{}, nil
}
func (f *fakeAPI) LoadManifest(context.Context, *altarv1.LoadManifestRequest) (*altarv1.LoadManifestResponse, error) {
	return unimpl[*altarv1.LoadManifestResponse]()
}
func (f *fakeAPI) ReloadManifests(ctx context.Context, r *altarv1.ReloadManifestsRequest) (*altarv1.ReloadManifestsResponse, error) {
	return call(f.reloadManifest, ctx, r)
}
func (f *fakeAPI) SetHostMode(ctx context.Context, r *altarv1.SetHostModeRequest) (*altarv1.SetHostModeResponse, error) {
	return call(f.setHostMode, ctx, r)
}

var _ API = (*fakeAPI)(nil)
