package runtime

import (
	"context"
	"errors"
	"hash/maphash"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/altar-gateway/altar/gateway/altarerr"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// streamConn is a runtime dialled in over a bidirectional stream (gRPC, and
// later WebSocket). Calls are multiplexed on the one stream by
// invocation_id: Invoke registers a pending call, sends the ToolCall and
// waits for the reader (the Service's receive loop) to deliver its result.
type streamConn struct {
	announce  *altarv1.AnnounceRuntime
	transport string
	sender    messageSender

	pending pendingTable

	// streamBuffer bounds the chunks waiting for a slow reader, per call.
	//
	// With flowControl (the runtime negotiated the flow_control
	// capability) it is also each stream's window: the runtime never has
	// more chunks in flight than the Host has room for, so the reader never
	// waits and a slow client holds back only its own stream. A runtime
	// that overruns its window has that stream failed.
	//
	// Without it, the reader waits for room, holding back every call on the
	// connection (the runtime is slowed through gRPC flow control), for at
	// most stallTimeout before failing the slow stream alone.
	streamBuffer int
	stallTimeout time.Duration
	flowControl  bool

	// events holds session events and contract offers until sendEvents
	// writes them.
	events chan *altarv1.HostMessage

	done     chan struct{}
	doneOnce sync.Once
	err      atomic.Pointer[altarerr.Error]

	// lastMessage is when the runtime last sent anything (Unix ns): any
	// message counts as a sign of life for the heartbeat timeout.
	lastMessage atomic.Int64
}

// messageSender writes one message to the runtime. Implementations must be
// safe for concurrent use.
type messageSender interface {
	send(*altarv1.HostMessage) error
}

func newStreamConn(a *altarv1.AnnounceRuntime, transport string, s messageSender, streamBuffer int, stall time.Duration, flowControl bool) *streamConn {
	c := &streamConn{
		announce:     a,
		transport:    transport,
		sender:       s,
		streamBuffer: max(streamBuffer, 1),
		stallTimeout: stall,
		flowControl:  flowControl,
		events:       make(chan *altarv1.HostMessage, maxQueuedEvents),
		done:         make(chan struct{}),
	}
	c.pending.init()
	return c
}

// maxQueuedEvents bounds the session events and contract offers waiting
// for one runtime; a runtime that falls this far behind is disconnected
// rather than sent an incomplete story of its sessions.
const maxQueuedEvents = 1024

// queueEvent queues a session event or a contract offer for the runtime
// without waiting.
func (c *streamConn) queueEvent(m *altarv1.HostMessage) {
	select {
	case c.events <- m:
	case <-c.done:
	default:
		c.close(altarerr.New(altarv1.ErrorCode_ERROR_CODE_CONNECTION_LOST,
			"runtime %q fell %d session events and contract offers behind", c.ID(), maxQueuedEvents))
	}
}

// sendEvents writes queued messages in order until the connection ends.
func (c *streamConn) sendEvents() {
	for {
		select {
		case <-c.done:
			return
		case m := <-c.events:
			if err := c.sender.send(m); err != nil {
				c.close(altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_CONNECTION_LOST, err, "sending to runtime %q", c.ID()))
				return
			}
		}
	}
}

func (c *streamConn) ID() string                             { return c.announce.GetRuntimeId() }
func (c *streamConn) Announcement() *altarv1.AnnounceRuntime { return c.announce }
func (c *streamConn) Transport() string                      { return c.transport }
func (c *streamConn) Done() <-chan struct{}                  { return c.done }

// Err says why the connection ended, once Done is closed.
func (c *streamConn) Err() error {
	if e := c.err.Load(); e != nil {
		return e
	}
	return nil
}

// close ends the connection and fails every call in flight at once.
func (c *streamConn) close(reason *altarerr.Error) {
	c.doneOnce.Do(func() {
		c.err.Store(reason)
		close(c.done)
		c.pending.failAll(c.unavailable())
	})
}

func (c *streamConn) unavailable() *altarerr.Error {
	if e := c.err.Load(); e != nil {
		return altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE, e,
			"runtime %q disconnected", c.ID())
	}
	return altarerr.New(altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE, "runtime %q disconnected", c.ID())
}

// Invoke sends the call and waits for its result, the caller's context, or
// the connection's end, whichever is first.
func (c *streamConn) Invoke(ctx context.Context, call *altarv1.ToolCall) (*altarv1.ToolResult, error) {
	p := newPendingCall(false, 0)
	if err := c.start(ctx, call, p); err != nil {
		return nil, err
	}
	select {
	case res := <-p.result:
		return res, nil
	case <-p.failed:
		return nil, p.failure()
	case <-ctx.Done():
		c.cancel(call, p, ctx.Err())
		return nil, contextError(ctx, call)
	}
}

// Stream sends a streaming call and returns its chunks.
func (c *streamConn) Stream(ctx context.Context, call *altarv1.ToolCall) (ChunkStream, error) {
	p := newPendingCall(true, c.streamBuffer)
	call.StreamWindow = 0
	if c.flowControl {
		// Room for the whole window and the chunk that ends the stream,
		// which the runtime may always send.
		p = newPendingCall(true, c.streamBuffer+1)
		p.window = c.streamBuffer
		call.StreamWindow = uint32(c.streamBuffer)
	}
	if err := c.start(ctx, call, p); err != nil {
		return nil, err
	}
	return &chunkStream{ctx: ctx, conn: c, call: call, p: p}, nil
}

func (c *streamConn) start(ctx context.Context, call *altarv1.ToolCall, p *pendingCall) error {
	select {
	case <-c.done:
		return c.unavailable()
	default:
	}
	if err := ctx.Err(); err != nil {
		return contextError(ctx, call)
	}
	id := call.GetInvocationId()
	if id == "" {
		return altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, "tool call has no invocation_id")
	}
	p.corr = call.GetCorrelationId()
	if !c.pending.add(id, p) {
		return altarerr.New(altarv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS,
			"invocation %q is already running on runtime %q", id, c.ID())
	}
	// A close that raced with add must still fail this call.
	select {
	case <-c.done:
		c.pending.remove(id, p)
		return c.unavailable()
	default:
	}
	err := c.sender.send(&altarv1.HostMessage{
		CorrelationId: call.GetCorrelationId(),
		Message:       &altarv1.HostMessage_ToolCall{ToolCall: call},
	})
	if err != nil {
		c.pending.remove(id, p)
		select {
		case <-c.done: // The connection's end ended the send: say why it ended.
			return c.unavailable()
		default:
		}
		return altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE, err, "sending to runtime %q", c.ID())
	}
	return nil
}

// cancel tells the runtime to stop and forgets the call.
func (c *streamConn) cancel(call *altarv1.ToolCall, p *pendingCall, cause error) {
	if !c.pending.remove(call.GetInvocationId(), p) {
		return // Already finished or failed.
	}
	reason := "cancelled by the caller"
	if errors.Is(cause, context.DeadlineExceeded) {
		reason = "deadline exceeded"
	}
	select {
	case <-c.done:
		return
	default:
	}
	// Best effort: a runtime that cannot take the cancel is going away.
	_ = c.sender.send(&altarv1.HostMessage{
		CorrelationId: call.GetCorrelationId(),
		Message: &altarv1.HostMessage_CancelInvocation{CancelInvocation: &altarv1.CancelInvocation{
			InvocationId:  call.GetInvocationId(),
			CorrelationId: call.GetCorrelationId(),
			Reason:        reason,
		}},
	})
}

// deliverResult hands a runtime's ToolResult to its waiting call. A result
// for a call nobody waits for (cancelled, or never sent) is dropped and
// reported false.
func (c *streamConn) deliverResult(res *altarv1.ToolResult) bool {
	p := c.pending.take(res.GetInvocationId())
	if p == nil {
		return false
	}
	if p.stream {
		// A ToolResult to a streaming call is one final chunk.
		p.pushChunk(resultAsChunk(res), c.stallTimeout)
		return true
	}
	p.result <- res
	return true
}

// deliverChunk hands a chunk to its stream, waiting (bounded by the stall
// timeout) when the stream's reader is slow.
func (c *streamConn) deliverChunk(ch *altarv1.StreamChunk) bool {
	id := ch.GetInvocationId()
	final := ch.GetIsFinal() || ch.GetError() != nil
	var p *pendingCall
	if final {
		p = c.pending.take(id)
	} else {
		p = c.pending.get(id)
	}
	if p == nil || !p.stream {
		return false
	}
	if p.window > 0 {
		// Flow-controlled: there is room unless the runtime overran its
		// window, and the reader never waits.
		if !p.offerChunk(ch) {
			c.failStream(id, p, altarerr.New(altarv1.ErrorCode_ERROR_CODE_STREAM_BROKEN,
				"runtime %q sent more chunks than its window of %d", c.ID(), p.window), "window overrun")
		}
		return true
	}
	if !p.pushChunk(ch, c.stallTimeout) {
		// The reader stalled: fail this stream alone and stop the work.
		c.failStream(id, p, altarerr.New(altarv1.ErrorCode_ERROR_CODE_STREAM_BROKEN,
			"stream reader too slow: %d chunks waited longer than %v", cap(p.chunks), c.stallTimeout), "stream reader too slow")
	}
	return true
}

// failStream fails one stream and tells the runtime to stop its work.
func (c *streamConn) failStream(id string, p *pendingCall, err *altarerr.Error, reason string) {
	c.pending.remove(id, p)
	corr := p.corr
	err.InvocationID, err.CorrelationID = id, corr
	p.fail(err)
	_ = c.sender.send(&altarv1.HostMessage{CorrelationId: corr, Message: &altarv1.HostMessage_CancelInvocation{
		CancelInvocation: &altarv1.CancelInvocation{InvocationId: id, CorrelationId: corr, Reason: reason}}})
}

// credit gives a flow-controlled stream's runtime room for n more chunks.
func (c *streamConn) credit(call *altarv1.ToolCall, n int) {
	select {
	case <-c.done:
		return
	default:
	}
	// Best effort: a runtime that cannot take it is going away.
	_ = c.sender.send(&altarv1.HostMessage{CorrelationId: call.GetCorrelationId(), Message: &altarv1.HostMessage_StreamCredit{
		StreamCredit: &altarv1.StreamCredit{InvocationId: call.GetInvocationId(), Chunks: uint32(n)}}})
}

func resultAsChunk(res *altarv1.ToolResult) *altarv1.StreamChunk {
	ch := &altarv1.StreamChunk{
		InvocationId:  res.GetInvocationId(),
		CorrelationId: res.GetCorrelationId(),
		ChunkId:       1,
		IsFinal:       true,
		Metadata:      res.GetMetadata(),
	}
	if res.GetStatus() == altarv1.ToolResultStatus_TOOL_RESULT_STATUS_ERROR || res.GetError() != nil {
		ch.Error = res.GetError()
		if ch.Error == nil {
			ch.Error = &altarv1.Error{Code: altarv1.ErrorCode_ERROR_CODE_TOOL_FAILED, Message: "tool failed"}
		}
	} else {
		ch.Payload = res.GetPayload()
	}
	return ch
}

func contextError(ctx context.Context, call *altarv1.ToolCall) *altarerr.Error {
	var e *altarerr.Error
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		e = altarerr.New(altarv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED, "tool %q did not answer before its deadline", call.GetToolName())
	} else {
		e = altarerr.New(altarv1.ErrorCode_ERROR_CODE_CANCELLED, "call to tool %q was cancelled", call.GetToolName())
	}
	e.InvocationID, e.CorrelationID = call.GetInvocationId(), call.GetCorrelationId()
	return e
}

// pendingCall is one call waiting for its answer.
type pendingCall struct {
	stream bool
	window int                       // flow-controlled stream: the runtime's window; else 0
	corr   string                    // the call's correlation id
	result chan *altarv1.ToolResult  // unary: capacity 1
	chunks chan *altarv1.StreamChunk // stream: bounded buffer
	failed chan struct{}             // closed by fail
	once   sync.Once
	err    *altarerr.Error
}

func newPendingCall(stream bool, buffer int) *pendingCall {
	p := &pendingCall{stream: stream, failed: make(chan struct{})}
	if stream {
		p.chunks = make(chan *altarv1.StreamChunk, max(buffer, 1))
	} else {
		p.result = make(chan *altarv1.ToolResult, 1)
	}
	return p
}

func (p *pendingCall) fail(err *altarerr.Error) {
	p.once.Do(func() {
		p.err = err
		close(p.failed)
	})
}

func (p *pendingCall) hasFailed() bool {
	select {
	case <-p.failed:
		return true
	default:
		return false
	}
}

func (p *pendingCall) failure() *altarerr.Error {
	<-p.failed
	return p.err
}

// offerChunk queues a chunk if there is room, without waiting.
func (p *pendingCall) offerChunk(ch *altarv1.StreamChunk) bool {
	select {
	case p.chunks <- ch:
		return true
	case <-p.failed:
		return true // The stream is gone; dropping is correct.
	default:
		return false
	}
}

// pushChunk queues a chunk, waiting at most stall for room. It reports
// false when the reader stalled.
func (p *pendingCall) pushChunk(ch *altarv1.StreamChunk, stall time.Duration) bool {
	if p.offerChunk(ch) {
		return true
	}
	t := time.NewTimer(stall)
	defer t.Stop()
	select {
	case p.chunks <- ch:
		return true
	case <-p.failed:
		return true
	case <-t.C:
		return false
	}
}

// chunkStream is the caller's end of a streaming call.
type chunkStream struct {
	ctx    context.Context
	conn   *streamConn
	call   *altarv1.ToolCall
	p      *pendingCall
	ended  bool
	closed atomic.Bool
	// taken counts the chunks read since the last StreamCredit.
	taken int
}

func (s *chunkStream) Recv() (*altarv1.StreamChunk, error) {
	if s.ended {
		return nil, io.EOF
	}
	// Chunks already buffered are delivered before a failure or cancel.
	select {
	case ch := <-s.p.chunks:
		return s.got(ch), nil
	default:
	}
	select {
	case ch := <-s.p.chunks:
		return s.got(ch), nil
	case <-s.p.failed:
		select {
		case ch := <-s.p.chunks:
			return s.got(ch), nil
		default:
		}
		s.ended = true
		return nil, s.p.failure()
	case <-s.ctx.Done():
		s.ended = true
		s.conn.cancel(s.call, s.p, s.ctx.Err())
		return nil, contextError(s.ctx, s.call)
	}
}

func (s *chunkStream) got(ch *altarv1.StreamChunk) *altarv1.StreamChunk {
	if ch.GetIsFinal() || ch.GetError() != nil {
		s.ended = true
		return ch
	}
	if w := s.p.window; w > 0 {
		// Credit back in halves of the window: few messages, and the
		// runtime never runs dry while the reader keeps up.
		s.taken++
		if s.taken >= max(w/2, 1) && !s.p.hasFailed() {
			s.conn.credit(s.call, s.taken)
			s.taken = 0
		}
	}
	return ch
}

func (s *chunkStream) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	// Closing before the end cancels the work; after the end it is a no-op.
	s.conn.cancel(s.call, s.p, context.Canceled)
	s.p.fail(altarerr.New(altarv1.ErrorCode_ERROR_CODE_CANCELLED, "stream closed"))
	return nil
}

// pendingTable maps invocation ids to pending calls, sharded so that
// concurrent calls do not contend on one lock.
type pendingTable struct {
	seed   maphash.Seed
	shards [pendingShards]pendingShard
}

const pendingShards = 32

type pendingShard struct {
	mu    sync.Mutex
	calls map[string]*pendingCall
}

func (t *pendingTable) init() {
	t.seed = maphash.MakeSeed()
	for i := range t.shards {
		t.shards[i].calls = make(map[string]*pendingCall)
	}
}

func (t *pendingTable) shard(id string) *pendingShard {
	return &t.shards[maphash.String(t.seed, id)%pendingShards]
}

func (t *pendingTable) add(id string, p *pendingCall) bool {
	s := t.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.calls[id]; ok {
		return false
	}
	s.calls[id] = p
	return true
}

func (t *pendingTable) get(id string) *pendingCall {
	s := t.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[id]
}

func (t *pendingTable) take(id string) *pendingCall {
	s := t.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.calls[id]
	delete(s.calls, id)
	return p
}

// remove deletes id only if it still maps to p.
func (t *pendingTable) remove(id string, p *pendingCall) bool {
	s := t.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.calls[id] != p {
		return false
	}
	delete(s.calls, id)
	return true
}

func (t *pendingTable) count() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += len(s.calls)
		s.mu.Unlock()
	}
	return n
}

func (t *pendingTable) failAll(err *altarerr.Error) {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		calls := s.calls
		s.calls = make(map[string]*pendingCall)
		s.mu.Unlock()
		for _, p := range calls {
			p.fail(err)
		}
	}
}

// heartbeatMessage builds the Host's heartbeat.
func heartbeatMessage(seq uint64, inFlight int, now time.Time) *altarv1.HostMessage {
	return &altarv1.HostMessage{Message: &altarv1.HostMessage_Heartbeat{Heartbeat: &altarv1.Heartbeat{
		Sequence: seq,
		SentAt:   timestamppb.New(now),
		InFlight: uint32(inFlight),
		Health:   altarv1.RuntimeHealth_RUNTIME_HEALTH_HEALTHY,
	}}}
}

var (
	_ Conn     = (*streamConn)(nil)
	_ Streamer = (*streamConn)(nil)
)
