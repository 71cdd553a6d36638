package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/altar-gateway/altar/gateway/altarerr"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Service is the runtime-facing gRPC service (altar.v1.RuntimeService):
// each runtime dials Connect and keeps one bidirectional stream open for
// its whole life.
type Service struct {
	altarv1.UnimplementedRuntimeServiceServer

	registry  *Registry
	authority ContractAuthority
	opts      serviceOptions

	mu    sync.Mutex
	conns map[*streamConn]struct{}
}

// ServiceOption configures a Service.
type ServiceOption interface{ apply(*serviceOptions) }

type serviceOptions struct {
	hostID            string
	logger            *slog.Logger
	heartbeatInterval time.Duration
	heartbeatTimeout  time.Duration
	announceTimeout   time.Duration
	streamBuffer      int
	stallTimeout      time.Duration
	hostCapabilities  []string
}

type serviceOptionFunc func(*serviceOptions)

func (f serviceOptionFunc) apply(o *serviceOptions) { f(o) }

// WithHostID names the Host in announce responses.
func WithHostID(id string) ServiceOption {
	return serviceOptionFunc(func(o *serviceOptions) { o.hostID = id })
}

// WithLogger sets the structured logger.
func WithLogger(l *slog.Logger) ServiceOption {
	return serviceOptionFunc(func(o *serviceOptions) { o.logger = l })
}

// WithHeartbeat sets how often both sides send heartbeats and how long a
// runtime may stay silent before it is disconnected and its calls failed.
func WithHeartbeat(interval, timeout time.Duration) ServiceOption {
	return serviceOptionFunc(func(o *serviceOptions) { o.heartbeatInterval, o.heartbeatTimeout = interval, timeout })
}

// WithAnnounceTimeout bounds the wait for a new stream's AnnounceRuntime.
func WithAnnounceTimeout(d time.Duration) ServiceOption {
	return serviceOptionFunc(func(o *serviceOptions) { o.announceTimeout = d })
}

// WithStreamBuffer sets how many chunks of one stream may wait for a slow
// reader, and how long the connection waits for room before failing that
// stream with STREAM_BROKEN.
func WithStreamBuffer(chunks int, stall time.Duration) ServiceOption {
	return serviceOptionFunc(func(o *serviceOptions) { o.streamBuffer, o.stallTimeout = chunks, stall })
}

// WithHostCapabilities sets the capabilities the Host offers; the announce
// response carries those the runtime also declared.
func WithHostCapabilities(caps ...string) ServiceOption {
	return serviceOptionFunc(func(o *serviceOptions) { o.hostCapabilities = caps })
}

// Defaults for a Service.
const (
	DefaultHeartbeatInterval = 10 * time.Second
	DefaultHeartbeatTimeout  = 30 * time.Second
	DefaultAnnounceTimeout   = 10 * time.Second
	DefaultStreamBuffer      = 64
	DefaultStallTimeout      = 30 * time.Second
)

// NewService returns the runtime-facing service. Runtimes it accepts are
// added to registry; what they may offer is decided by authority.
func NewService(registry *Registry, authority ContractAuthority, opts ...ServiceOption) *Service {
	o := serviceOptions{
		hostID:            "altar",
		logger:            slog.New(slog.DiscardHandler),
		heartbeatInterval: DefaultHeartbeatInterval,
		heartbeatTimeout:  DefaultHeartbeatTimeout,
		announceTimeout:   DefaultAnnounceTimeout,
		streamBuffer:      DefaultStreamBuffer,
		stallTimeout:      DefaultStallTimeout,
		hostCapabilities:  altarv1.KnownCapabilities(),
	}
	for _, opt := range opts {
		opt.apply(&o)
	}
	return &Service{registry: registry, authority: authority, opts: o, conns: make(map[*streamConn]struct{})}
}

var runtimeIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// ValidID reports whether id is a runtime id the Service accepts: 1-64
// letters, digits, '_', '.' or '-', starting with a letter or digit.
func ValidID(id string) bool { return runtimeIDPattern.MatchString(id) }

// MessageStream is one runtime's bidirectional stream of messages, whatever
// carries it: a gRPC stream (Connect) or a WebSocket (gateway/server).
//
// Context is owned by the transport and must end when the stream does (the
// peer went away, or the transport closed it). Recv is called from one
// goroutine at a time; Send from one at a time as well (Serve serialises
// its sends), but concurrently with Recv. Recv must return an error once
// Context has ended.
type MessageStream interface {
	Context() context.Context
	Send(*altarv1.HostMessage) error
	Recv() (*altarv1.RuntimeMessage, error)
}

// streamSender serialises Sends on one stream (neither a gRPC stream nor a
// WebSocket adapter need be safe for concurrent Send).
//
// A Send blocks while the runtime does not read (gRPC flow control), and
// only the end of the stream unblocks it; sendingSince lets Serve see such
// a runtime and end its stream (see Serve's heartbeat loop).
type streamSender struct {
	mu     sync.Mutex
	stream MessageStream
	// sendingSince is when the Send in progress began (Unix ns), or 0.
	sendingSince atomic.Int64
}

func (s *streamSender) send(m *altarv1.HostMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sendLocked(m)
}

// trySend sends m unless another send is in progress, and reports whether
// it did.
func (s *streamSender) trySend(m *altarv1.HostMessage) (bool, error) {
	if !s.mu.TryLock() {
		return false, nil
	}
	defer s.mu.Unlock()
	return true, s.sendLocked(m)
}

func (s *streamSender) sendLocked(m *altarv1.HostMessage) error {
	s.sendingSince.Store(time.Now().UnixNano())
	err := s.stream.Send(m)
	s.sendingSince.Store(0)
	return err
}

// stuckFor says how long the Send in progress has been blocked, or 0.
func (s *streamSender) stuckFor(now time.Time) time.Duration {
	t := s.sendingSince.Load()
	if t == 0 {
		return 0
	}
	return now.Sub(time.Unix(0, t))
}

// Connect runs one runtime's gRPC stream (see Serve).
func (s *Service) Connect(stream altarv1.RuntimeService_ConnectServer) error {
	return s.Serve(stream, "grpc")
}

// Serve runs one runtime's stream: announce, then the receive loop and the
// heartbeat loop until the runtime leaves, misses its heartbeats, or the
// Host shuts down. transport names the carrier in the runtime's
// Conn.Transport ("grpc", "websocket"). When it returns, every call in
// flight on the runtime has failed with RUNTIME_UNAVAILABLE and its tools
// are unrouted; the caller must then end the stream (so that its Context
// ends and a Recv still blocked returns). The error is a gRPC status error
// (a refusal, a protocol violation, missed heartbeats), or nil when the
// runtime left or the Host closed the connection.
func (s *Service) Serve(stream MessageStream, transport string) error {
	ctx := stream.Context()
	sender := &streamSender{stream: stream}

	announce, corr, err := s.receiveAnnounce(stream)
	if err != nil {
		return err
	}
	log := s.opts.logger.With("runtime_id", announce.GetRuntimeId(), "correlation_id", corr)
	if refusal := s.checkAnnounce(announce); refusal != nil {
		log.Warn("runtime refused", "error", refusal)
		_ = sender.send(&altarv1.HostMessage{CorrelationId: corr, Message: &altarv1.HostMessage_AnnounceResponse{
			AnnounceResponse: &altarv1.AnnounceRuntimeResponse{
				Accepted: false, Error: refusal.Proto(), HostId: s.opts.hostID, ProtocolVersion: altarv1.ProtocolVersion,
			}}})
		return refusal.GRPCStatus().Err()
	}

	negotiated := intersect(s.opts.hostCapabilities, announce.GetCapabilities())
	// Without flow control a slow stream holds the connection's reader;
	// it must give up on that stream well before the runtime's silence
	// (to the Host, which reads nothing meanwhile) looks like a lost
	// heartbeat.
	stall := min(s.opts.stallTimeout, s.opts.heartbeatTimeout/2)
	conn := newStreamConn(announce, transport, sender, s.opts.streamBuffer, stall,
		slices.Contains(negotiated, altarv1.CapabilityFlowControl))
	if old := s.registry.Add(conn); old != nil {
		if oc, ok := old.(*streamConn); ok {
			oc.close(altarerr.New(altarv1.ErrorCode_ERROR_CODE_CONNECTION_LOST, "replaced by a new connection of the same runtime"))
		}
	}
	s.track(conn, true)
	defer func() {
		s.track(conn, false)
		if s.registry.Remove(conn) {
			s.authority.Disconnected(conn.ID())
		}
	}()

	err = sender.send(&altarv1.HostMessage{CorrelationId: corr, Message: &altarv1.HostMessage_AnnounceResponse{
		AnnounceResponse: &altarv1.AnnounceRuntimeResponse{
			Accepted:          true,
			HostId:            s.opts.hostID,
			ProtocolVersion:   altarv1.ProtocolVersion,
			HostMode:          s.authority.Mode(),
			Capabilities:      negotiated,
			HeartbeatInterval: durationpb.New(s.opts.heartbeatInterval),
			HeartbeatTimeout:  durationpb.New(s.opts.heartbeatTimeout),
		}}})
	if err != nil {
		conn.close(altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_CONNECTION_LOST, err, "sending announce response"))
		return err
	}
	log.Info("runtime connected", "language", announce.GetLanguage(), "version", announce.GetVersion(),
		"capabilities", announce.GetCapabilities())

	// The receive loop runs in its own goroutine so that this one can end
	// the stream (heartbeat timeout, replacement, shutdown) while Recv
	// blocks. The stream owns it: returning from Serve ends the stream
	// (gRPC cancels its context; other transports close it), which ends
	// Recv and so the loop (it cannot be waited for here, since Recv only
	// returns after Serve has). What it does
	// after the connection closed is harmless: results for calls that were
	// already failed are dropped.
	recvDone := make(chan error, 1)
	go func() { recvDone <- s.receiveLoop(stream, conn, log) }()
	// Session events are sent from their own goroutine, so that a runtime
	// slow to read never holds up the session store that reports them. It
	// ends with the connection (a Send it is blocked in ends with the
	// stream, which Serve's return ends).
	go conn.sendEvents()

	beat := time.NewTicker(s.opts.heartbeatInterval)
	defer beat.Stop()
	lastSeen := time.Now()
	var seq uint64
	for {
		select {
		case err := <-recvDone:
			reason := altarerr.New(altarv1.ErrorCode_ERROR_CODE_CONNECTION_LOST, "runtime %q closed its stream", conn.ID())
			var ae *altarerr.Error
			if errors.As(err, &ae) {
				reason = ae
			} else if err != nil && status.Code(err) != codes.Canceled {
				reason = altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_CONNECTION_LOST, err, "runtime %q stream failed", conn.ID())
			}
			conn.close(reason)
			log.Info("runtime disconnected", "reason", reason.Error())
			if ae != nil {
				return ae.GRPCStatus().Err()
			}
			return nil
		case <-conn.Done():
			return conn.Err()
		case <-ctx.Done():
			conn.close(altarerr.New(altarv1.ErrorCode_ERROR_CODE_CONNECTION_LOST, "stream to runtime %q ended", conn.ID()))
			return nil
		case now := <-beat.C:
			if hb := s.lastHeartbeat(conn); hb.After(lastSeen) {
				lastSeen = hb
			}
			if m := time.Unix(0, conn.lastMessage.Load()); m.After(lastSeen) {
				lastSeen = m
			}
			if now.Sub(lastSeen) > s.opts.heartbeatTimeout {
				reason := altarerr.New(altarv1.ErrorCode_ERROR_CODE_CONNECTION_LOST,
					"runtime %q missed its heartbeats for %v", conn.ID(), now.Sub(lastSeen).Round(time.Millisecond))
				log.Warn("runtime disconnected", "reason", reason.Error())
				conn.close(reason)
				return reason.GRPCStatus().Err()
			}
			if stuck := sender.stuckFor(now); stuck > s.opts.heartbeatTimeout {
				reason := altarerr.New(altarv1.ErrorCode_ERROR_CODE_CONNECTION_LOST,
					"runtime %q has not read its stream for %v", conn.ID(), stuck.Round(time.Millisecond))
				log.Warn("runtime disconnected", "reason", reason.Error())
				conn.close(reason)
				return reason.GRPCStatus().Err()
			}
			s.registry.SetLate(conn.ID(), now.Sub(lastSeen) > 2*s.opts.heartbeatInterval)
			seq++
			// A send in progress proves the stream busy, not the Host
			// gone; this loop must never block on it.
			if _, err := sender.trySend(heartbeatMessage(seq, conn.pending.count(), now)); err != nil {
				conn.close(altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_CONNECTION_LOST, err, "sending heartbeat"))
				return nil
			}
		}
	}
}

func (s *Service) lastHeartbeat(c *streamConn) time.Time {
	s.registry.mu.RLock()
	e, ok := s.registry.entries[c.ID()]
	s.registry.mu.RUnlock()
	if !ok || e.conn != c {
		return time.Time{}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lastHeartbeat
}

// receiveAnnounce waits, bounded, for the stream's first message, which
// must be AnnounceRuntime.
func (s *Service) receiveAnnounce(stream MessageStream) (*altarv1.AnnounceRuntime, string, error) {
	type recvResult struct {
		msg *altarv1.RuntimeMessage
		err error
	}
	got := make(chan recvResult, 1)
	go func() {
		m, err := stream.Recv()
		got <- recvResult{m, err}
	}()
	t := time.NewTimer(s.opts.announceTimeout)
	defer t.Stop()
	select {
	case r := <-got:
		if r.err != nil {
			return nil, "", r.err
		}
		a := r.msg.GetAnnounce()
		if a == nil {
			return nil, "", altarerr.New(altarv1.ErrorCode_ERROR_CODE_PROTOCOL_VIOLATION,
				"the first message on a runtime stream must be announce, not %s", messageKind(r.msg)).GRPCStatus().Err()
		}
		return a, r.msg.GetCorrelationId(), nil
	case <-t.C:
		// Returning cancels the stream's context, which ends the Recv above.
		return nil, "", altarerr.New(altarv1.ErrorCode_ERROR_CODE_PROTOCOL_VIOLATION,
			"no announce within %v", s.opts.announceTimeout).GRPCStatus().Err()
	}
}

// checkAnnounce says why a runtime is refused, or nil.
func (s *Service) checkAnnounce(a *altarv1.AnnounceRuntime) *altarerr.Error {
	if !runtimeIDPattern.MatchString(a.GetRuntimeId()) {
		return altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST,
			"runtime_id %q must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit", a.GetRuntimeId()).
			WithField("/runtime_id", "pattern", "invalid runtime id")
	}
	if err := altarv1.CheckProtocolVersion(a.GetProtocolVersion()); err != nil {
		return altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_UNSUPPORTED_PROTOCOL_VERSION, err,
			"runtime %q speaks protocol %q; this Host speaks %s", a.GetRuntimeId(), a.GetProtocolVersion(), altarv1.ProtocolVersion)
	}
	if err := altarv1.ValidateCapabilities(a.GetCapabilities()); err != nil {
		e := altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, err, "runtime %q declared invalid capabilities", a.GetRuntimeId())
		var ce *altarv1.CapabilitiesError
		if errors.As(err, &ce) {
			for _, p := range ce.Problems {
				e.WithField(fmt.Sprintf("/capabilities/%d", p.Index), "capability", p.Reason)
			}
		}
		return e
	}
	if lvl := a.GetComplianceLevel(); lvl != altarv1.ComplianceLevel_COMPLIANCE_LEVEL_UNSPECIFIED {
		if err := altarv1.CheckComplianceLevel(lvl, a.GetCapabilities()); err != nil {
			return altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_CAPABILITY_MISSING, err,
				"runtime %q claims %s", a.GetRuntimeId(), lvl)
		}
	}
	return nil
}

// receiveLoop handles everything the runtime sends after its announce. It
// returns when the stream ends; a protocol violation is returned as an
// *altarerr.Error.
func (s *Service) receiveLoop(stream MessageStream, conn *streamConn, log *slog.Logger) error {
	id := conn.ID()
	for {
		msg, err := stream.Recv()
		if err != nil {
			return err
		}
		// Every message proves the runtime alive, not only heartbeats: a
		// runtime busy streaming chunks on a loaded machine may send its
		// heartbeat late, and must not be dropped for it.
		conn.lastMessage.Store(time.Now().UnixNano())
		corr := msg.GetCorrelationId()
		reply := func(m *altarv1.HostMessage) error {
			m.CorrelationId = corr
			return conn.sender.send(m)
		}
		switch m := msg.GetMessage().(type) {
		case *altarv1.RuntimeMessage_ToolResult:
			if !conn.deliverResult(m.ToolResult) {
				log.Debug("result for no pending call dropped", "invocation_id", m.ToolResult.GetInvocationId())
			}
		case *altarv1.RuntimeMessage_StreamChunk:
			if !conn.deliverChunk(m.StreamChunk) {
				log.Debug("chunk for no pending stream dropped", "invocation_id", m.StreamChunk.GetInvocationId())
			}
		case *altarv1.RuntimeMessage_Heartbeat:
			s.registry.Heartbeat(id, m.Heartbeat)
		case *altarv1.RuntimeMessage_GetAvailableContracts:
			contracts := s.authority.Available(conn.announce)
			if err := reply(&altarv1.HostMessage{Message: &altarv1.HostMessage_AvailableContracts{
				AvailableContracts: &altarv1.AvailableContracts{Contracts: contracts}}}); err != nil {
				return err
			}
		case *altarv1.RuntimeMessage_FulfillTools:
			resp := s.authority.Fulfill(conn.announce, m.FulfillTools)
			s.registry.AddTools(id, resp.GetAccepted())
			logRejections(log, "fulfil", resp.GetRejected())
			if err := reply(&altarv1.HostMessage{Message: &altarv1.HostMessage_FulfillToolsResponse{FulfillToolsResponse: resp}}); err != nil {
				return err
			}
		case *altarv1.RuntimeMessage_RegisterTools:
			resp := s.authority.Register(conn.announce, m.RegisterTools)
			s.registry.AddTools(id, resp.GetAccepted())
			logRejections(log, "register", resp.GetRejected())
			if err := reply(&altarv1.HostMessage{Message: &altarv1.HostMessage_RegisterToolsResponse{RegisterToolsResponse: resp}}); err != nil {
				return err
			}
		case *altarv1.RuntimeMessage_WithdrawTools:
			s.authority.Withdraw(id, m.WithdrawTools.GetToolNames())
			s.registry.RemoveTools(id, m.WithdrawTools.GetToolNames())
		case *altarv1.RuntimeMessage_Announce:
			return altarerr.New(altarv1.ErrorCode_ERROR_CODE_PROTOCOL_VIOLATION, "runtime %q announced twice on one stream", id)
		default:
			return altarerr.New(altarv1.ErrorCode_ERROR_CODE_PROTOCOL_VIOLATION, "runtime %q sent an empty or unknown message", id)
		}
	}
}

func logRejections(log *slog.Logger, what string, rejected []*altarv1.ToolRejection) {
	for _, r := range rejected {
		log.Warn("tool refused", "operation", what, "tool", r.GetToolName(),
			"code", altarerr.CodeName(r.GetError().GetCode()), "reason", r.GetError().GetMessage())
	}
}

func (s *Service) track(c *streamConn, add bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		s.conns[c] = struct{}{}
	} else {
		delete(s.conns, c)
	}
}

// connections returns the runtimes connected now.
func (s *Service) connections() []*streamConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	conns := make([]*streamConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	return conns
}

// Broadcast sends a message to every connected runtime (session events,
// drain). A runtime whose stream is broken is skipped; its own loop ends it.
func (s *Service) Broadcast(m *altarv1.HostMessage) {
	conns := s.connections()
	for _, c := range conns {
		_ = c.sender.send(m)
	}
}

// SessionEvent tells the runtimes that hold per-session state (those that
// declared the session_state capability) about a session.
func (s *Service) SessionEvent(ev *altarv1.SessionEvent) {
	m := &altarv1.HostMessage{Message: &altarv1.HostMessage_SessionEvent{SessionEvent: ev}}
	for _, c := range s.connections() {
		if slices.Contains(c.announce.GetCapabilities(), altarv1.CapabilitySessionState) {
			c.queueEvent(m)
		}
	}
}

// OfferContracts sends every connected runtime the contracts it may
// fulfil, again (after the trusted contracts changed); a runtime answers
// with FulfillTools for those it serves. It does not wait for the sends.
func (s *Service) OfferContracts() {
	conns := s.connections()
	for _, c := range conns {
		contracts := s.authority.Available(c.announce)
		c.queueEvent(&altarv1.HostMessage{Message: &altarv1.HostMessage_AvailableContracts{
			AvailableContracts: &altarv1.AvailableContracts{Contracts: contracts}}})
	}
}

// Drain tells every runtime the Host is going away.
func (s *Service) Drain(reason string, grace time.Duration) {
	s.Broadcast(&altarv1.HostMessage{Message: &altarv1.HostMessage_Drain{Drain: &altarv1.Drain{
		Reason: reason, GracePeriod: durationpb.New(grace)}}})
}

// CloseAll ends every runtime's connection (Host shutdown), failing their
// calls in flight with RUNTIME_UNAVAILABLE.
func (s *Service) CloseAll(ctx context.Context) {
	conns := s.connections()
	for _, c := range conns {
		c.close(altarerr.New(altarv1.ErrorCode_ERROR_CODE_CONNECTION_LOST, "the Host is shutting down"))
	}
}

func intersect(a, b []string) []string {
	var out []string
	for _, x := range b {
		if slices.Contains(a, x) && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func messageKind(m *altarv1.RuntimeMessage) string {
	if m.GetMessage() == nil {
		return "an empty message"
	}
	return fmt.Sprintf("%T", m.GetMessage())
}

var (
	_ altarv1.RuntimeServiceServer = (*Service)(nil)
	_ MessageStream                = altarv1.RuntimeService_ConnectServer(nil)
)
