package mcp

import (
	"context"
	"errors"
	"net/http"

	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/auth"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// This file maps MCP sessions to ALTAR sessions. On HTTP the ALTAR session
// id is the MCP session id, so a request needs no table to find its
// session; the table (Facade.live) holds registered sessions only, which
// mcp-go unregisters when they end, so it is bounded by the open sessions.

// metaTransport is the ALTAR session metadata key naming the MCP transport.
const metaTransport = "mcp.transport"

// openErr carries a failure to open a session from Generate (which cannot
// return one) to the request hook (which can), within one HTTP request.
type openErr struct{ err error }

type openErrKey struct{}

// openSession creates the ALTAR session behind a new MCP session, as the
// caller in ctx.
func (f *Facade) openSession(ctx context.Context, transport string) (string, error) {
	if f.isClosed() {
		return "", altarerr.New(altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE, "the gateway is shutting down")
	}
	resp, err := f.api.CreateSession(ctx, &altarv1.CreateSessionRequest{Metadata: map[string]string{metaTransport: transport}})
	if err != nil {
		return "", err
	}
	return resp.GetSession().GetSessionId(), nil
}

// principalID names the caller in ctx as sessions record it ("local" for
// an in-process caller with no principal).
func principalID(ctx context.Context) string {
	if p, ok := auth.FromContext(ctx); ok {
		return p.ID
	}
	return "local"
}

// owns reports whether the caller in ctx created the session.
func owns(ctx context.Context, s *altarv1.Session) bool {
	return s.GetSecurityContext().GetPrincipalId() == principalID(ctx)
}

// ResolveSessionIdManager gives streamable HTTP the session ids of one
// request: ALTAR sessions, created, checked and destroyed as its caller.
// mcp-go asks with a nil request when it ends sessions itself (Close, the
// idle sweep); those end through sessionUnregistered.
func (f *Facade) ResolveSessionIdManager(r *http.Request) mcpserver.SessionIdManager {
	if r == nil {
		return requestSessions{f: f, ctx: context.Background()}
	}
	return requestSessions{f: f, ctx: r.Context()}
}

type requestSessions struct {
	f   *Facade
	ctx context.Context
}

// Generate opens the ALTAR session of an initialize request. On failure it
// returns "" and leaves the error for checkRequest to answer with.
func (m requestSessions) Generate() string {
	id, err := m.f.openSession(m.ctx, "streamable-http")
	if err != nil {
		if oe, ok := m.ctx.Value(openErrKey{}).(*openErr); ok {
			oe.err = err
		}
		m.f.o.log.Debug("mcp: cannot open a session", "error", err)
		return ""
	}
	return id
}

// errUnknownSession is every answer to a session id that is not the
// caller's live session: unknown, expired, or another credential's.
var errUnknownSession = errors.New("no such session")

// Validate accepts the id of a live ALTAR session that the caller owns. A
// registered session is checked against its binding (a call that finds its
// ALTAR session gone ends the binding, see Facade.call); any other is
// looked up.
func (m requestSessions) Validate(id string) (isTerminated bool, err error) {
	if id == "" {
		return false, errUnknownSession
	}
	if v, ok := m.f.live.Load(id); ok {
		if v.(*binding).owner != principalID(m.ctx) {
			return false, errUnknownSession
		}
		return false, nil
	}
	resp, err := m.f.api.GetSession(m.ctx, &altarv1.GetSessionRequest{SessionId: id})
	if err != nil || !owns(m.ctx, resp.GetSession()) {
		return false, errUnknownSession
	}
	return false, nil
}

// Terminate ends the caller's session (DELETE).
func (m requestSessions) Terminate(id string) (isNotAllowed bool, err error) {
	if _, err := m.Validate(id); err != nil {
		// Nothing of the caller's to end.
		return false, nil
	}
	m.f.endSession(m.ctx, id)
	if _, err := m.f.api.DestroySession(context.WithoutCancel(m.ctx), &altarv1.DestroySessionRequest{SessionId: id}); err != nil &&
		altarerr.CodeOf(err) != altarv1.ErrorCode_ERROR_CODE_SESSION_NOT_FOUND {
		return false, err
	}
	return false, nil
}

// sseSessionID opens the ALTAR session of an SSE stream.
func (f *Facade) sseSessionID(ctx context.Context, _ *http.Request) (string, error) {
	id, err := f.openSession(ctx, "sse")
	if err == nil {
		f.sseIDs.Store(id, true)
	}
	return id, err
}

// sessionRegistered records a session mcp-go starts tracking. HTTP
// sessions' ALTAR ids are their own; stdio's is bound by ServeStdio before.
func (f *Facade) sessionRegistered(rctx context.Context, s mcpserver.ClientSession) {
	id := s.SessionID()
	ctx, cancel := context.WithCancel(f.closing)
	b := &binding{altarID: id, owner: principalID(rctx), ctx: ctx, cancel: cancel}
	b.touch()
	if _, sse := f.sseIDs.LoadAndDelete(id); sse {
		b.sse = true
	}
	if _, loaded := f.live.LoadOrStore(id, b); loaded {
		cancel()
	}
}

// sessionUnregistered ends the ALTAR session of an MCP session that ended.
func (f *Facade) sessionUnregistered(ctx context.Context, s mcpserver.ClientSession) {
	f.endSession(ctx, s.SessionID())
}

// endSession forgets a live session, cancels the calls it detached from
// their requests, and destroys its ALTAR session.
func (f *Facade) endSession(ctx context.Context, mcpID string) {
	v, ok := f.live.LoadAndDelete(mcpID)
	if !ok {
		return
	}
	b := v.(*binding)
	b.cancel()
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), destroyTimeout)
	defer cancel()
	if _, err := f.api.DestroySession(dctx, &altarv1.DestroySessionRequest{SessionId: b.altarID}); err != nil &&
		altarerr.CodeOf(err) != altarv1.ErrorCode_ERROR_CODE_SESSION_NOT_FOUND {
		f.o.log.Warn("mcp: destroying the ALTAR session of an ended MCP session", "session_id", b.altarID, "error", err)
	}
}

// session returns the ALTAR session id a request runs in ("" for none)
// and, for a live session, its binding.
func (f *Facade) session(ctx context.Context) (string, *binding) {
	s := mcpserver.ClientSessionFromContext(ctx)
	if s == nil || s.SessionID() == "" {
		return "", nil
	}
	if v, ok := f.live.Load(s.SessionID()); ok {
		b := v.(*binding)
		return b.altarID, b
	}
	return s.SessionID(), nil
}

// checkRequest runs before every request: it answers an initialize whose
// session could not be opened, and refuses a session used with another
// credential than its own.
func (f *Facade) checkRequest(ctx context.Context, _ any, _ any) error {
	if oe, ok := ctx.Value(openErrKey{}).(*openErr); ok && oe.err != nil {
		return errors.New("cannot open an ALTAR session for this MCP session: " + oe.err.Error())
	}
	if s := mcpserver.ClientSessionFromContext(ctx); s != nil && s.SessionID() != "" {
		if v, ok := f.live.Load(s.SessionID()); ok && v.(*binding).owner != principalID(ctx) {
			return errUnknownSession
		}
	}
	return nil
}
