package gateway

import (
	"context"
	"strconv"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/auth"
	"github.com/altar-gateway/altar/gateway/contract"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// This file implements server.API: the Host API in plain Go, shared by
// every transport.

// securityContext is the caller's identity as sessions record it.
func securityContext(ctx context.Context) *altarv1.SecurityContext {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return &altarv1.SecurityContext{PrincipalId: "local", AuthMethod: "none"}
	}
	return &altarv1.SecurityContext{PrincipalId: p.ID, Roles: []string{string(p.Role)}, AuthMethod: p.Method}
}

// CreateSession creates a session for the caller.
func (h *Host) CreateSession(ctx context.Context, req *altarv1.CreateSessionRequest) (*altarv1.CreateSessionResponse, error) {
	s, err := h.sessions.Create(ctx, req, securityContext(ctx))
	if err != nil {
		return nil, err
	}
	return &altarv1.CreateSessionResponse{Session: s}, nil
}

// GetSession returns a session.
func (h *Host) GetSession(ctx context.Context, req *altarv1.GetSessionRequest) (*altarv1.GetSessionResponse, error) {
	s, err := h.sessions.Get(ctx, req.GetSessionId())
	if err != nil {
		return nil, err
	}
	return &altarv1.GetSessionResponse{Session: s}, nil
}

// ListSessions lists sessions a page at a time.
func (h *Host) ListSessions(ctx context.Context, req *altarv1.ListSessionsRequest) (*altarv1.ListSessionsResponse, error) {
	return h.sessions.List(ctx, req)
}

// DestroySession ends a session.
func (h *Host) DestroySession(ctx context.Context, req *altarv1.DestroySessionRequest) (*altarv1.DestroySessionResponse, error) {
	if err := h.sessions.Destroy(ctx, req.GetSessionId()); err != nil {
		return nil, err
	}
	return &altarv1.DestroySessionResponse{}, nil
}

// checkSession fails unless the id names a live session (an empty id is
// the anonymous session).
func (h *Host) checkSession(ctx context.Context, id string) error {
	if id == "" {
		return nil
	}
	_, err := h.sessions.Touch(ctx, id)
	return err
}

// ListTools lists the tools the session may see, a page at a time.
func (h *Host) ListTools(ctx context.Context, req *altarv1.ListToolsRequest) (*altarv1.ListToolsResponse, error) {
	if err := h.checkSession(ctx, req.GetSessionId()); err != nil {
		return nil, err
	}
	tools := h.registry.ListTools(req.GetSessionId())
	start := 0
	if tok := req.GetPageToken(); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 || n > len(tools) {
			return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, "page_token %q is not one this Host issued", tok).
				WithField("/page_token", "page_token", "invalid")
		}
		start = n
	}
	size := int(req.GetPageSize())
	if size <= 0 || size > 1000 {
		size = 1000
	}
	end := min(start+size, len(tools))
	resp := &altarv1.ListToolsResponse{Tools: tools[start:end]}
	if end < len(tools) {
		resp.NextPageToken = strconv.Itoa(end)
	}
	return resp, nil
}

// GetContract describes one tool.
func (h *Host) GetContract(ctx context.Context, req *altarv1.GetContractRequest) (*altarv1.GetContractResponse, error) {
	if err := h.checkSession(ctx, req.GetSessionId()); err != nil {
		return nil, err
	}
	info, err := h.registry.GetContract(req.GetSessionId(), req.GetToolName(), req.GetVersion())
	if err != nil {
		return nil, err
	}
	return &altarv1.GetContractResponse{Tool: info}, nil
}

// Invoke runs one call.
func (h *Host) Invoke(ctx context.Context, req *altarv1.InvokeRequest) (*altarv1.InvokeResponse, error) {
	res, err := h.engine.Invoke(ctx, req)
	if err != nil {
		return nil, err
	}
	return &altarv1.InvokeResponse{Result: res}, nil
}

// InvokeStream runs one streaming call.
func (h *Host) InvokeStream(ctx context.Context, req *altarv1.InvokeRequest, send func(*altarv1.StreamChunk) error) error {
	return h.engine.InvokeStream(ctx, req, send)
}

// CancelInvocation cancels a call in flight.
func (h *Host) CancelInvocation(ctx context.Context, req *altarv1.CancelInvocationRequest) (*altarv1.CancelInvocationResponse, error) {
	reason := req.GetReason()
	if reason == "" {
		reason = "cancelled by " + auth.Actor(ctx)
	}
	return &altarv1.CancelInvocationResponse{Cancelled: h.engine.Cancel(req.GetInvocationId(), reason)}, nil
}

// GetInvocation reports an invocation's state (and result, once done).
func (h *Host) GetInvocation(ctx context.Context, req *altarv1.GetInvocationRequest) (*altarv1.GetInvocationResponse, error) {
	inv, ok := h.engine.Invocation(req.GetInvocationId())
	if !ok {
		return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_NOT_FOUND, "no invocation %q (unknown, or older than the idempotency window)", req.GetInvocationId())
	}
	return &altarv1.GetInvocationResponse{Invocation: inv}, nil
}

// GetToolStats reports call statistics per tool and runtime.
func (h *Host) GetToolStats(ctx context.Context, req *altarv1.GetToolStatsRequest) (*altarv1.GetToolStatsResponse, error) {
	return &altarv1.GetToolStatsResponse{Stats: h.engine.Stats(req.GetToolName())}, nil
}

// GetHostInfo describes the Host.
func (h *Host) GetHostInfo(ctx context.Context, _ *altarv1.GetHostInfoRequest) (*altarv1.GetHostInfoResponse, error) {
	return &altarv1.GetHostInfoResponse{
		HostId:          h.cfg.HostID,
		Version:         Version,
		ProtocolVersion: altarv1.ProtocolVersion,
		Mode:            h.registry.Mode(),
		ComplianceLevel: altarv1.ComplianceLevel_COMPLIANCE_LEVEL_2,
		Capabilities:    altarv1.KnownCapabilities(),
	}, nil
}

// ListRuntimes lists connected runtimes with their breaker states.
func (h *Host) ListRuntimes(ctx context.Context, _ *altarv1.ListRuntimesRequest) (*altarv1.ListRuntimesResponse, error) {
	if err := auth.RequireAdmin(ctx, "listing runtimes"); err != nil {
		return nil, err
	}
	infos := h.runtimes.List()
	for _, info := range infos {
		info.BreakerState = h.engine.BreakerState(info.GetRuntimeId())
		// A runtime whose calls keep failing (its breaker is not closed) is
		// degraded, whatever its heartbeats say.
		if info.GetBreakerState() != "closed" && info.GetHealth() == altarv1.RuntimeHealth_RUNTIME_HEALTH_HEALTHY {
			info.Health = altarv1.RuntimeHealth_RUNTIME_HEALTH_DEGRADED
		}
	}
	h.mu.Lock()
	plugins := h.plugins
	h.mu.Unlock()
	resp := &altarv1.ListRuntimesResponse{Runtimes: infos}
	if plugins != nil {
		resp.Plugins = plugins()
	}
	return resp, nil
}

// LoadManifest trusts more contracts, from a manifest given inline or a
// path on the Host.
func (h *Host) LoadManifest(ctx context.Context, req *altarv1.LoadManifestRequest) (*altarv1.LoadManifestResponse, error) {
	if err := auth.RequireAdmin(ctx, "loading a manifest"); err != nil {
		return nil, err
	}
	var (
		res contract.LoadResult
		err error
	)
	switch src := req.GetSource().(type) {
	case *altarv1.LoadManifestRequest_Manifest:
		m, perr := contract.FromProto(src.Manifest)
		if perr != nil {
			return nil, perr
		}
		res, err = h.registry.Load(auth.Actor(ctx), m)
	case *altarv1.LoadManifestRequest_Path:
		ms, perr := contract.LoadPaths(src.Path)
		if perr != nil {
			return nil, perr
		}
		res, err = h.registry.Load(auth.Actor(ctx), ms...)
	default:
		return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, "give a manifest or a path").
			WithField("/source", "required", "manifest or path is required")
	}
	if err != nil {
		return nil, err
	}
	return &altarv1.LoadManifestResponse{Loaded: res.Loaded}, nil
}

// ReloadManifests reloads the configured manifest paths.
func (h *Host) ReloadManifests(ctx context.Context, _ *altarv1.ReloadManifestsRequest) (*altarv1.ReloadManifestsResponse, error) {
	if err := auth.RequireAdmin(ctx, "reloading manifests"); err != nil {
		return nil, err
	}
	res, err := h.registry.Reload(auth.Actor(ctx))
	if err != nil {
		return nil, err
	}
	return &altarv1.ReloadManifestsResponse{Loaded: res.Loaded, Removed: res.Removed}, nil
}

// SetHostMode switches between STRICT and DEVELOPMENT (admin only; audited).
func (h *Host) SetHostMode(ctx context.Context, req *altarv1.SetHostModeRequest) (*altarv1.SetHostModeResponse, error) {
	if err := auth.RequireAdmin(ctx, "switching the host mode"); err != nil {
		return nil, err
	}
	prev, err := h.registry.SetMode(req.GetMode(), auth.Actor(ctx), req.GetReason())
	if err != nil {
		return nil, err
	}
	return &altarv1.SetHostModeResponse{Previous: prev, Mode: req.GetMode()}, nil
}
