package sdk

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/internal/callworkers"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Timing the Host does not dictate.
const (
	// announceTimeout bounds the wait for AnnounceRuntimeResponse.
	announceTimeout = 30 * time.Second
	// defaultHeartbeatInterval is used when the Host does not say.
	defaultHeartbeatInterval = 10 * time.Second
	// silentIntervals is how many heartbeat intervals of silence make the
	// Host gone, when it gives no heartbeat_timeout.
	silentIntervals = 3
	// defaultDrainGrace is used when a Drain has no grace_period.
	defaultDrainGrace = 30 * time.Second
	// drainSlack is how long after the grace period the runtime still waits
	// for the Host to close a drained stream.
	drainSlack = 5 * time.Second
	// busyRetryAfter is the retry hint of a call refused at max_concurrency.
	busyRetryAfter = 100 * time.Millisecond
	// ctrlQueue bounds the control messages (heartbeats, bootstrap) waiting.
	ctrlQueue = 16
)

var (
	errHostClosed = errors.New("the Host closed the stream")
	errHostSilent = errors.New("the Host sent nothing for longer than its heartbeat timeout")
	errDrainSlow  = errors.New("the Host did not close the stream after draining")
	errCallDone   = errors.New("call finished")
)

// closeSendMsg, queued behind the last result, makes the sender half-close
// the stream.
var closeSendMsg = &altarv1.RuntimeMessage{}

// session is one accepted connection: one stream, its sender and heartbeat
// goroutines, and the calls it started. The receiving loop runs in the
// goroutine of Runtime.connect, which owns the session; the sender and the
// heartbeats stop when its context ends, which connect waits for. Calls are
// owned by Serve (calls WaitGroup) so that reconnecting need not wait for a
// slow tool to notice its cancellation.
type session struct {
	r      *Runtime
	log    *slog.Logger
	stream clientStream
	ctx    context.Context
	cancel context.CancelCauseFunc
	calls  *sync.WaitGroup
	prefix string // correlation ids of the runtime's own requests

	ctrl chan *altarv1.RuntimeMessage
	data chan *altarv1.RuntimeMessage

	// workers run the calls: long-lived goroutines that keep their grown
	// stacks (internal/callworkers), counted by calls, ended with ctx.
	workers *callworkers.Pool

	// sendMu serialises writes to the stream (gRPC allows one sender at a
	// time): the sender goroutine's, and a call's result sent directly
	// when nothing is queued (sendResult). sendClosed is set by CloseSend.
	sendMu     sync.Mutex
	sendClosed bool

	hostID            string
	hostMode          altarv1.HostMode
	heartbeatInterval time.Duration
	heartbeatTimeout  time.Duration
	lastRecv          atomic.Int64 // unix nanoseconds

	mu        sync.Mutex
	active    map[string]context.CancelCauseFunc
	windows   map[string]*streamWindow // flow-controlled streams running
	draining  bool
	closeSent bool
	accepted  []*altarv1.FulfilledTool // for WithdrawTools on Shutdown

	// Bootstrap state, touched only by the receiving goroutine.
	pendingReplies int
	fulfilment     Fulfilment
	drainTimer     *time.Timer
}

// clientStream is the runtime's end of one connection to the Host: a gRPC
// stream, or a WebSocket (wsStream). Send and CloseSend are called from one
// goroutine at a time (sendMu), Recv from another. The stream must end when
// the context it was opened with ends.
type clientStream interface {
	Send(*altarv1.RuntimeMessage) error
	Recv() (*altarv1.HostMessage, error)
	CloseSend() error
}

// dialer opens one stream to the Host, bound to ctx.
type dialer func(ctx context.Context) (clientStream, error)

// grpcDialer opens gRPC streams on client.
func grpcDialer(client altarv1.RuntimeServiceClient) dialer {
	return func(ctx context.Context) (clientStream, error) {
		return client.Connect(ctx)
	}
}

var _ clientStream = grpc.BidiStreamingClient[altarv1.RuntimeMessage, altarv1.HostMessage](nil)

// connect runs one connection to its end. accepted reports whether the Host
// accepted the announcement (which resets the backoff).
func (r *Runtime) connect(ctx context.Context, dial dialer, addr string, calls *sync.WaitGroup, log *slog.Logger) (accepted bool, err error) {
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	defer func() {
		r.updateStatus(func(st *Status) { st.Connected, st.LastError = false, err })
	}()

	stream, err := dial(sctx)
	if err != nil {
		return false, fmt.Errorf("connect to %s: %w", addr, err)
	}
	s := &session{
		r:       r,
		log:     log,
		stream:  stream,
		ctx:     sctx,
		cancel:  cancel,
		calls:   calls,
		prefix:  newCorrelationPrefix(),
		ctrl:    make(chan *altarv1.RuntimeMessage, ctrlQueue),
		data:    make(chan *altarv1.RuntimeMessage, r.cfg.sendQueue),
		active:  make(map[string]context.CancelCauseFunc),
		windows: make(map[string]*streamWindow),
	}
	s.workers = callworkers.New(maxCallWorkers, sctx.Done(), calls)
	if err := s.announce(addr); err != nil {
		return false, err
	}
	r.setSession(s)
	defer r.setSession(nil)
	return true, s.run()
}

// newCorrelationPrefix makes the correlation ids of one connection's own
// requests unique across reconnects and runtimes.
func newCorrelationPrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "rt-" + hex.EncodeToString(b[:])
}

// announce sends AnnounceRuntime and reads the Host's answer; nothing else
// is on the stream yet, so it uses the stream directly.
func (s *session) announce(addr string) error {
	timer := time.AfterFunc(announceTimeout, func() {
		s.cancel(fmt.Errorf("the Host did not answer the announcement within %v", announceTimeout))
	})
	defer timer.Stop()

	err := s.stream.Send(&altarv1.RuntimeMessage{
		CorrelationId: s.prefix + "-announce",
		Message:       &altarv1.RuntimeMessage_Announce{Announce: s.r.announce},
	})
	if err != nil {
		return s.streamError("announce to "+addr, err)
	}
	msg, err := s.stream.Recv()
	if err != nil {
		return s.streamError("waiting for the Host's answer to the announcement", err)
	}
	var resp *altarv1.AnnounceRuntimeResponse
	switch m := msg.GetMessage().(type) {
	case *altarv1.HostMessage_AnnounceResponse:
		resp = m.AnnounceResponse
	case *altarv1.HostMessage_Error:
		return s.refused("", m.Error)
	default:
		return fmt.Errorf("the Host answered the announcement with %T, not an announce_response", msg.GetMessage())
	}
	if !resp.GetAccepted() {
		return s.refused(resp.GetHostId(), resp.GetError())
	}
	if v := resp.GetProtocolVersion(); v != "" {
		if err := altarv1.CheckProtocolVersion(v); err != nil {
			return &RefusedError{HostID: resp.GetHostId(), Err: altarerr.Wrap(
				altarv1.ErrorCode_ERROR_CODE_UNSUPPORTED_PROTOCOL_VERSION, err, "the Host speaks protocol %q", v)}
		}
	}
	s.hostID, s.hostMode = resp.GetHostId(), resp.GetHostMode()
	s.heartbeatInterval = resp.GetHeartbeatInterval().AsDuration()
	if s.heartbeatInterval <= 0 {
		s.heartbeatInterval = defaultHeartbeatInterval
	}
	s.heartbeatTimeout = resp.GetHeartbeatTimeout().AsDuration()
	if s.heartbeatTimeout <= 0 {
		s.heartbeatTimeout = silentIntervals * s.heartbeatInterval
	}
	s.lastRecv.Store(time.Now().UnixNano())
	s.r.updateStatus(func(st *Status) {
		st.Connected, st.HostID, st.HostMode = true, resp.GetHostId(), resp.GetHostMode()
		st.Capabilities, st.Connects, st.LastError = resp.GetCapabilities(), st.Connects+1, nil
	})
	s.log.Info("connected to the Host", "host_id", resp.GetHostId(), "host_mode", resp.GetHostMode().String(),
		"capabilities", resp.GetCapabilities(), "heartbeat_interval", s.heartbeatInterval)
	return nil
}

func (s *session) refused(hostID string, e *altarv1.Error) error {
	ae := altarerr.FromProto(e)
	if ae == nil {
		ae = altarerr.New(altarv1.ErrorCode_ERROR_CODE_UNSPECIFIED, "refused without a reason")
	}
	s.log.Error("the Host refused the runtime", "host_id", hostID, "code", altarerr.CodeName(ae.Code), "error", ae.Message)
	return &RefusedError{HostID: hostID, Err: ae}
}

// streamError prefers the reason the session was cancelled for.
func (s *session) streamError(what string, err error) error {
	if cause := context.Cause(s.ctx); cause != nil && s.ctx.Err() != nil {
		return fmt.Errorf("%s: %w", what, cause)
	}
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: %w", what, errHostClosed)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// run serves an accepted connection until the stream ends.
func (s *session) run() error {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.sendLoop() }()
	go func() { defer wg.Done(); s.heartbeatLoop() }()

	s.enqueueCtrl(&altarv1.RuntimeMessage{
		CorrelationId: s.prefix + "-contracts",
		Message:       &altarv1.RuntimeMessage_GetAvailableContracts{GetAvailableContracts: &altarv1.GetAvailableContracts{}},
	})
	err := s.receiveLoop()
	s.cancel(err)
	if s.drainTimer != nil {
		s.drainTimer.Stop()
	}
	wg.Wait()
	return err
}

func (s *session) receiveLoop() error {
	for {
		msg, err := s.stream.Recv()
		if err != nil {
			return s.streamError("receiving from the Host", err)
		}
		s.lastRecv.Store(time.Now().UnixNano())
		switch m := msg.GetMessage().(type) {
		case *altarv1.HostMessage_ToolCall:
			s.startCall(m.ToolCall)
		case *altarv1.HostMessage_CancelInvocation:
			s.cancelCall(m.CancelInvocation)
		case *altarv1.HostMessage_StreamCredit:
			s.creditStream(m.StreamCredit)
		case *altarv1.HostMessage_Heartbeat:
			// Any message proves the Host alive; lastRecv is updated above.
		case *altarv1.HostMessage_AvailableContracts:
			s.offerTools(m.AvailableContracts)
		case *altarv1.HostMessage_FulfillToolsResponse:
			s.toolsAnswered(m.FulfillToolsResponse.GetAccepted(), m.FulfillToolsResponse.GetRejected())
		case *altarv1.HostMessage_RegisterToolsResponse:
			s.toolsAnswered(m.RegisterToolsResponse.GetAccepted(), m.RegisterToolsResponse.GetRejected())
		case *altarv1.HostMessage_Drain:
			s.drain(m.Drain.GetReason(), m.Drain.GetGracePeriod().AsDuration())
		case *altarv1.HostMessage_SessionEvent:
			s.log.Debug("session event", "session_id", m.SessionEvent.GetSessionId(), "kind", m.SessionEvent.GetKind().String())
			if fn := s.r.cfg.onSession; fn != nil {
				fn(m.SessionEvent)
			}
		case *altarv1.HostMessage_Error:
			e := altarerr.FromProto(m.Error)
			s.log.Error("the Host ended the stream with an error", "code", altarerr.CodeName(e.Code), "error", e.Message)
			return fmt.Errorf("the Host ended the stream: %w", e)
		default:
			// A message this protocol version does not know, or an
			// announce_response out of place: ignored, as unknown fields are.
			s.log.Debug("ignoring an unexpected message from the Host", "type", fmt.Sprintf("%T", msg.GetMessage()))
		}
	}
}

// sendLoop is the only goroutine that writes to the stream. Control
// messages (heartbeats, bootstrap requests) go before queued data.
func (s *session) sendLoop() {
	for {
		var m *altarv1.RuntimeMessage
		select {
		case m = <-s.ctrl:
		default:
			select {
			case m = <-s.ctrl:
			case m = <-s.data:
			case <-s.ctx.Done():
				return
			}
		}
		if err := s.write(m); err != nil {
			return
		}
	}
}

// write sends one message (or half-closes, for closeSendMsg) under sendMu.
// After CloseSend nothing more is sent. A failure ends the connection.
func (s *session) write(m *altarv1.RuntimeMessage) error {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	if s.sendClosed {
		return nil
	}
	if m == closeSendMsg {
		s.sendClosed = true
		if err := s.stream.CloseSend(); err != nil {
			s.cancel(fmt.Errorf("closing the stream: %w", err))
			return err
		}
		return nil
	}
	if err := s.stream.Send(m); err != nil {
		// io.EOF means the Host ended the stream; Recv has its status.
		if !errors.Is(err, io.EOF) {
			s.cancel(fmt.Errorf("sending to the Host: %w", err))
		}
		return err
	}
	return nil
}

// sendResult sends a unary call's result. When nothing is queued and no
// one is writing, the calling goroutine writes it itself, saving the hand-off
// to the sender goroutine on the latency path; otherwise it is queued. Order
// across calls does not matter, and a call has only this one message.
func (s *session) sendResult(m *altarv1.RuntimeMessage) error {
	if len(s.ctrl) == 0 && len(s.data) == 0 && s.sendMu.TryLock() {
		if !s.sendClosed && s.ctx.Err() == nil {
			err := s.stream.Send(m)
			s.sendMu.Unlock()
			if err != nil && !errors.Is(err, io.EOF) {
				s.cancel(fmt.Errorf("sending to the Host: %w", err))
			}
			return err
		}
		s.sendMu.Unlock()
	}
	return s.enqueue(m)
}

// heartbeatLoop sends a Heartbeat every interval, ends the connection when
// the Host has been silent for longer than its heartbeat timeout, and starts
// the graceful close when Shutdown is called.
func (s *session) heartbeatLoop() {
	t := time.NewTicker(s.heartbeatInterval)
	defer t.Stop()
	shutdown := s.r.shutdown
	var seq uint64
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-shutdown:
			shutdown = nil
			s.beginShutdown()
		case now := <-t.C:
			if silence := now.Sub(time.Unix(0, s.lastRecv.Load())); silence > s.heartbeatTimeout {
				s.log.Warn("the Host is silent; dropping the connection", "silent_for", silence, "heartbeat_timeout", s.heartbeatTimeout)
				s.cancel(errHostSilent)
				return
			}
			seq++
			draining, inFlight := s.counts()
			health := altarv1.RuntimeHealth_RUNTIME_HEALTH_HEALTHY
			if draining {
				health = altarv1.RuntimeHealth_RUNTIME_HEALTH_UNHEALTHY
			}
			s.enqueueCtrl(&altarv1.RuntimeMessage{Message: &altarv1.RuntimeMessage_Heartbeat{Heartbeat: &altarv1.Heartbeat{
				Sequence: seq,
				SentAt:   timestamppb.New(now),
				InFlight: uint32(inFlight),
				Health:   health,
			}}})
		}
	}
}

func (s *session) counts() (draining bool, inFlight int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining, len(s.active)
}

func (s *session) enqueueCtrl(m *altarv1.RuntimeMessage) {
	select {
	case s.ctrl <- m:
	case <-s.ctx.Done():
	}
}

// enqueue queues a message behind earlier results and chunks, waiting while
// the queue is full. It fails only when the connection has ended.
func (s *session) enqueue(m *altarv1.RuntimeMessage) error {
	select {
	case s.data <- m:
		return nil
	case <-s.ctx.Done():
		return context.Cause(s.ctx)
	}
}

// offerTools answers AvailableContracts: it fulfils the runtime's tools the
// Host offered, registers the others in DEVELOPMENT mode, and reports the
// rest.
func (s *session) offerTools(ac *altarv1.AvailableContracts) {
	offered := make(map[string]bool, len(ac.GetContracts()))
	for _, c := range ac.GetContracts() {
		offered[c.GetName()] = true
	}
	register := s.r.cfg.dev && s.hostMode == altarv1.HostMode_HOST_MODE_DEVELOPMENT
	var fulfil []*altarv1.ToolFulfillment
	var contracts []*altarv1.ToolContract
	s.fulfilment = Fulfilment{HostID: s.hostID, HostMode: s.hostMode}
	for _, t := range s.r.handler.list {
		switch {
		case offered[t.t.name]:
			f := &altarv1.ToolFulfillment{ContractName: t.t.name, VersionConstraint: t.t.constraint}
			if t.t.declare {
				f.DeclaredContract = t.t.contract
			}
			fulfil = append(fulfil, f)
		case register:
			contracts = append(contracts, t.t.contract)
		default:
			why := "the Host did not offer a contract named %q (it is not in the Host's manifests, or needs a level or capability this runtime did not declare)"
			if s.r.cfg.dev {
				why += "; the Host is in STRICT mode, so the runtime cannot register it"
			}
			e := altarerr.New(altarv1.ErrorCode_ERROR_CODE_CONTRACT_NOT_TRUSTED, why, t.t.name).Proto()
			s.fulfilment.Rejected = append(s.fulfilment.Rejected, &altarv1.ToolRejection{ToolName: t.t.name, Error: e})
		}
	}
	if len(fulfil) > 0 {
		s.pendingReplies++
		s.enqueueCtrl(&altarv1.RuntimeMessage{
			CorrelationId: s.prefix + "-fulfill",
			Message:       &altarv1.RuntimeMessage_FulfillTools{FulfillTools: &altarv1.FulfillTools{Tools: fulfil}},
		})
	}
	if len(contracts) > 0 {
		s.pendingReplies++
		s.enqueueCtrl(&altarv1.RuntimeMessage{
			CorrelationId: s.prefix + "-register",
			Message: &altarv1.RuntimeMessage_RegisterTools{RegisterTools: &altarv1.RegisterTools{
				Contracts:           contracts,
				AcknowledgeInsecure: true,
			}},
		})
	}
	if s.pendingReplies == 0 {
		s.publishFulfilment()
	}
}

// toolsAnswered records a FulfillToolsResponse or RegisterToolsResponse.
func (s *session) toolsAnswered(accepted []*altarv1.FulfilledTool, rejected []*altarv1.ToolRejection) {
	s.fulfilment.Accepted = append(s.fulfilment.Accepted, accepted...)
	s.fulfilment.Rejected = append(s.fulfilment.Rejected, rejected...)
	s.mu.Lock()
	// The Host offers its contracts again when they change, and a tool
	// fulfilled again replaces its earlier entry.
	s.accepted = slices.DeleteFunc(s.accepted, func(t *altarv1.FulfilledTool) bool {
		return slices.ContainsFunc(accepted, func(n *altarv1.FulfilledTool) bool { return n.GetQualifiedName() == t.GetQualifiedName() })
	})
	s.accepted = append(s.accepted, accepted...)
	s.mu.Unlock()
	if s.pendingReplies > 0 {
		s.pendingReplies--
		if s.pendingReplies == 0 {
			s.publishFulfilment()
		}
	}
}

func (s *session) publishFulfilment() {
	f := s.fulfilment
	names := make([]string, len(f.Accepted))
	for i, a := range f.Accepted {
		names[i] = a.GetQualifiedName()
	}
	s.log.Info("tools fulfilled", "accepted", names)
	for _, rj := range f.Rejected {
		s.log.Warn("tool not fulfilled", "tool", rj.GetToolName(),
			"code", altarerr.CodeName(rj.GetError().GetCode()), "error", rj.GetError().GetMessage())
	}
	s.r.updateStatus(func(st *Status) { st.Fulfilment = &f })
	if fn := s.r.cfg.onFulfilled; fn != nil {
		fn(f)
	}
}

// startCall runs a ToolCall in its own goroutine. Calls that cannot start
// (draining, at max_concurrency) are answered at once, also from a
// goroutine, so that the receiving loop never waits on the send queue.
func (s *session) startCall(call *altarv1.ToolCall) {
	id := call.GetInvocationId()
	// The call's logger is built only when something is logged: With costs
	// allocations on every call otherwise.
	log := func() *slog.Logger {
		return s.log.With("invocation_id", id, "correlation_id", call.GetCorrelationId(), "tool", call.GetToolName())
	}
	if id == "" {
		log().Warn("ignoring a tool call without an invocation_id")
		return
	}
	s.mu.Lock()
	if _, dup := s.active[id]; dup {
		s.mu.Unlock()
		// Answering would be taken as the answer of the running call.
		log().Warn("ignoring a tool call whose invocation_id is already running")
		return
	}
	var refusal *altarerr.Error
	switch limit := s.r.cfg.maxConcurrency; {
	case s.draining:
		refusal = altarerr.New(altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE,
			"runtime %q is draining and takes no new calls", s.r.id)
	case limit > 0 && len(s.active) >= int(limit):
		refusal = altarerr.New(altarv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED,
			"runtime %q is at max_concurrency %d", s.r.id, limit)
		refusal.RetryAfter = busyRetryAfter
		refusal.WithDetail("limit", "max_concurrency").WithDetail("runtime_id", s.r.id)
	}
	var ctx context.Context
	var cancel context.CancelCauseFunc
	var window *streamWindow
	if refusal == nil {
		ctx, cancel = context.WithCancelCause(s.ctx)
		s.active[id] = cancel
		if n := call.GetStreamWindow(); call.GetStream() && n > 0 {
			window = &streamWindow{room: int64(n), more: make(chan struct{}, 1)}
			s.windows[id] = window
		}
	}
	s.mu.Unlock()

	s.calls.Add(1)
	if refusal != nil {
		log().Debug("refusing a tool call", "code", altarerr.CodeName(refusal.Code))
		go func() {
			defer s.calls.Done()
			_ = s.enqueue(refusalMessage(call, refusal))
		}()
		return
	}
	s.workers.Go(func() {
		defer s.calls.Done()
		defer s.finishCall(id, cancel)
		if call.GetStream() {
			send := s.sendChunk
			if window != nil {
				send = func(ctx context.Context, c *altarv1.StreamChunk) error {
					if !c.GetIsFinal() && c.GetError() == nil {
						if err := window.take(ctx); err != nil {
							return err
						}
					}
					return s.sendChunk(ctx, c)
				}
			}
			err := s.r.handler.Stream(ctx, call, send)
			if err != nil {
				log().Debug("stream not delivered", "error", err)
			}
			return
		}
		res := s.r.handler.Invoke(ctx, call)
		if err := s.sendResult(&altarv1.RuntimeMessage{
			CorrelationId: call.GetCorrelationId(),
			Message:       &altarv1.RuntimeMessage_ToolResult{ToolResult: res},
		}); err != nil {
			log().Debug("result not delivered", "error", err)
		}
	})
}

// maxCallWorkers bounds the goroutines that run calls and live as long as
// the connection; a call beyond them gets a goroutine of its own.
const maxCallWorkers = 64

// sendChunk queues a chunk. A chunk that ends the stream is queued even
// after the call was stopped (it carries the CANCELLED or DEADLINE_EXCEEDED
// answer); any other chunk fails once the call's context (deadline
// included) is done, which is what makes a blocked emit return.
func (s *session) sendChunk(ctx context.Context, c *altarv1.StreamChunk) error {
	m := &altarv1.RuntimeMessage{CorrelationId: c.GetCorrelationId(), Message: &altarv1.RuntimeMessage_StreamChunk{StreamChunk: c}}
	if c.GetIsFinal() || c.GetError() != nil {
		return s.enqueue(m)
	}
	select {
	case s.data <- m:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// streamWindow is how many more chunks a flow-controlled stream may send
// before the Host credits more back (ToolCall.stream_window, StreamCredit).
type streamWindow struct {
	mu   sync.Mutex
	room int64
	more chan struct{} // capacity 1: credit arrived
}

// take uses one chunk's room, waiting for credit while there is none.
func (w *streamWindow) take(ctx context.Context) error {
	for {
		w.mu.Lock()
		if w.room > 0 {
			w.room--
			w.mu.Unlock()
			return nil
		}
		w.mu.Unlock()
		select {
		case <-w.more:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// add gives n more chunks' room.
func (w *streamWindow) add(n uint32) {
	w.mu.Lock()
	w.room = min(w.room+int64(n), math.MaxUint32)
	w.mu.Unlock()
	select {
	case w.more <- struct{}{}:
	default:
	}
}

// creditStream gives a running stream the room the Host credited back; a
// credit for a stream that ended is ignored.
func (s *session) creditStream(c *altarv1.StreamCredit) {
	s.mu.Lock()
	w := s.windows[c.GetInvocationId()]
	s.mu.Unlock()
	if w != nil {
		w.add(c.GetChunks())
	}
}

func refusalMessage(call *altarv1.ToolCall, e *altarerr.Error) *altarv1.RuntimeMessage {
	e.InvocationID, e.CorrelationID = call.GetInvocationId(), call.GetCorrelationId()
	if call.GetStream() {
		return &altarv1.RuntimeMessage{CorrelationId: call.GetCorrelationId(), Message: &altarv1.RuntimeMessage_StreamChunk{
			StreamChunk: &altarv1.StreamChunk{
				InvocationId: call.GetInvocationId(), CorrelationId: call.GetCorrelationId(),
				ChunkId: 1, IsFinal: true, Error: e.Proto(),
			}}}
	}
	return &altarv1.RuntimeMessage{CorrelationId: call.GetCorrelationId(), Message: &altarv1.RuntimeMessage_ToolResult{
		ToolResult: &altarv1.ToolResult{
			InvocationId: call.GetInvocationId(), CorrelationId: call.GetCorrelationId(),
			Status: altarv1.ToolResultStatus_TOOL_RESULT_STATUS_ERROR, Error: e.Proto(),
		}}}
}

// finishCall forgets a call whose answer is queued, and half-closes the
// stream when it was the last call of a draining connection.
func (s *session) finishCall(id string, cancel context.CancelCauseFunc) {
	cancel(errCallDone)
	s.mu.Lock()
	delete(s.active, id)
	delete(s.windows, id)
	closeNow := s.draining && len(s.active) == 0 && !s.closeSent
	if closeNow {
		s.closeSent = true
	}
	s.mu.Unlock()
	if closeNow {
		_ = s.enqueue(closeSendMsg)
	}
}

// cancelCall cancels a running call; its tool sees ctx cancelled with an
// ERROR_CODE_CANCELLED cause carrying the Host's reason, and the call is
// answered CANCELLED (or with its result, if it finished anyway). A cancel
// for a call that is not running is ignored.
func (s *session) cancelCall(c *altarv1.CancelInvocation) {
	s.mu.Lock()
	cancel := s.active[c.GetInvocationId()]
	s.mu.Unlock()
	if cancel == nil {
		s.log.Debug("ignoring a cancel for a call that is not running", "invocation_id", c.GetInvocationId())
		return
	}
	reason := c.GetReason()
	if reason == "" {
		reason = "no reason given"
	}
	e := altarerr.New(altarv1.ErrorCode_ERROR_CODE_CANCELLED, "cancelled by the Host: %s", reason)
	e.InvocationID, e.CorrelationID = c.GetInvocationId(), c.GetCorrelationId()
	cancel(e)
}

// drain handles the Host's Drain: no new calls; once the calls in flight
// have answered, the runtime half-closes the stream and waits (at most the
// grace period and a little) for the Host to close it.
func (s *session) drain(reason string, grace time.Duration) {
	if grace <= 0 {
		grace = defaultDrainGrace
	}
	inFlight := s.startDraining(false)
	s.log.Info("the Host is draining", "reason", reason, "grace_period", grace, "in_flight", inFlight)
	if s.drainTimer == nil {
		s.drainTimer = time.AfterFunc(grace+drainSlack, func() { s.cancel(errDrainSlow) })
	}
}

// beginShutdown is the runtime's own drain: it withdraws its tools so the
// Host stops routing to it, then drains as for a Host's Drain. The stream
// ends when the Host closes its side in turn.
func (s *session) beginShutdown() {
	inFlight := s.startDraining(true)
	s.log.Info("shutting down", "in_flight", inFlight)
}

// startDraining stops new calls (before anything is sent, so that no call
// the Host sends after seeing it can start), withdraws the tools when asked,
// and half-closes the stream at once when no call is in flight.
func (s *session) startDraining(withdraw bool) (inFlight int) {
	s.mu.Lock()
	s.draining = true
	inFlight = len(s.active)
	closeNow := inFlight == 0 && !s.closeSent
	if closeNow {
		s.closeSent = true
	}
	var names []string
	if withdraw {
		for _, a := range s.accepted {
			names = append(names, a.GetContractName())
		}
	}
	s.mu.Unlock()
	if len(names) > 0 {
		// A control message: it goes out before the queued data, and so
		// before the half-close.
		s.enqueueCtrl(&altarv1.RuntimeMessage{
			CorrelationId: s.prefix + "-withdraw",
			Message: &altarv1.RuntimeMessage_WithdrawTools{WithdrawTools: &altarv1.WithdrawTools{
				ToolNames: names,
				Reason:    "runtime shutting down",
			}},
		})
	}
	if closeNow {
		_ = s.enqueue(closeSendMsg)
	}
	return inFlight
}
