package runtime

import (
	"context"
	"io"
	"sync"

	"github.com/altar-gateway/altar/gateway/altarerr"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Handler executes tool calls in the Host's own process. The Go SDK's
// *sdk.Handler satisfies it, so the same tool code runs dialled in, as a
// plugin, or built in.
type Handler interface {
	// Invoke runs one call to completion; a tool's failure is a result with
	// status ERROR.
	Invoke(ctx context.Context, call *altarv1.ToolCall) *altarv1.ToolResult
	// Stream runs one streaming call, handing each chunk to send in order
	// (send blocks while the reader is slow, and fails once ctx is done).
	Stream(ctx context.Context, call *altarv1.ToolCall, send func(ctx context.Context, c *altarv1.StreamChunk) error) error
}

// InProcess adapts a Handler to Conn and Streamer: a runtime with no
// transport at all, such as the built-in example runtime of `altar serve`.
// It goes through the same fulfil rules as any runtime.
type InProcess struct {
	announce *altarv1.AnnounceRuntime
	handler  Handler
	buffer   int

	done      chan struct{}
	closed    context.Context // cancelled by Close, to cancel calls in flight
	closeAll  context.CancelFunc
	closeOnce sync.Once
	calls     sync.WaitGroup
}

// NewInProcess returns a connection that runs calls on handler in the
// calling goroutine (unary) or in one goroutine per stream, with buffer
// chunks of room between the tool and a slow reader.
func NewInProcess(announce *altarv1.AnnounceRuntime, handler Handler, buffer int) *InProcess {
	closed, closeAll := context.WithCancel(context.Background())
	return &InProcess{announce: announce, handler: handler, buffer: max(buffer, 1), done: make(chan struct{}), closed: closed, closeAll: closeAll}
}

func (c *InProcess) ID() string                             { return c.announce.GetRuntimeId() }
func (c *InProcess) Announcement() *altarv1.AnnounceRuntime { return c.announce }
func (c *InProcess) Transport() string                      { return "inprocess" }
func (c *InProcess) Done() <-chan struct{}                  { return c.done }

// Close ends the connection: calls in flight have their contexts cancelled
// and Close waits for them.
func (c *InProcess) Close() {
	c.closeOnce.Do(func() {
		close(c.done)
		c.closeAll()
	})
	c.calls.Wait()
}

// callContext is ctx, also cancelled when the connection closes.
func (c *InProcess) callContext(ctx context.Context) (context.Context, context.CancelFunc, error) {
	select {
	case <-c.done:
		return nil, nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE, "runtime %q is closed", c.ID())
	default:
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(c.closed, cancel)
	return ctx, func() { stop(); cancel() }, nil
}

// Invoke runs the call on the handler.
func (c *InProcess) Invoke(ctx context.Context, call *altarv1.ToolCall) (*altarv1.ToolResult, error) {
	ctx, cancel, err := c.callContext(ctx)
	if err != nil {
		return nil, err
	}
	c.calls.Add(1)
	defer c.calls.Done()
	defer cancel()
	res := c.handler.Invoke(ctx, call)
	if ctx.Err() != nil && res.GetStatus() != altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS {
		select {
		case <-c.done:
			return nil, c.unavailable()
		default:
		}
	}
	return res, nil
}

func (c *InProcess) unavailable() *altarerr.Error {
	return altarerr.New(altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE, "runtime %q closed during the call", c.ID())
}

// Stream runs the call on the handler in a goroutine owned by the returned
// stream (Close waits for it).
func (c *InProcess) Stream(ctx context.Context, call *altarv1.ToolCall) (ChunkStream, error) {
	ctx, cancel, err := c.callContext(ctx)
	if err != nil {
		return nil, err
	}
	s := &inProcessStream{ctx: ctx, cancel: cancel, chunks: make(chan *altarv1.StreamChunk, c.buffer), finished: make(chan struct{})}
	c.calls.Add(1)
	go func() {
		defer c.calls.Done()
		defer close(s.finished)
		s.err = c.handler.Stream(ctx, call, func(sendCtx context.Context, ch *altarv1.StreamChunk) error {
			select {
			case s.chunks <- ch:
				return nil
			case <-sendCtx.Done():
				return sendCtx.Err()
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	return s, nil
}

type inProcessStream struct {
	ctx      context.Context
	cancel   context.CancelFunc
	chunks   chan *altarv1.StreamChunk
	finished chan struct{} // closed when the handler has returned
	err      error
	ended    bool
	once     sync.Once
}

func (s *inProcessStream) Recv() (*altarv1.StreamChunk, error) {
	if s.ended {
		return nil, io.EOF
	}
	select {
	case ch := <-s.chunks:
		return s.got(ch), nil
	case <-s.finished:
		// Chunks sent before the handler returned come first.
		select {
		case ch := <-s.chunks:
			return s.got(ch), nil
		default:
		}
		s.ended = true
		if s.err != nil {
			return nil, altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_STREAM_BROKEN, s.err, "stream ended without a final chunk")
		}
		return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_STREAM_BROKEN, "stream ended without a final chunk")
	case <-s.ctx.Done():
		s.ended = true
		return nil, altarerr.From(s.ctx.Err())
	}
}

func (s *inProcessStream) got(ch *altarv1.StreamChunk) *altarv1.StreamChunk {
	if ch.GetIsFinal() || ch.GetError() != nil {
		s.ended = true
	}
	return ch
}

// Close cancels the call (if it is still running) and waits for it.
func (s *inProcessStream) Close() error {
	s.once.Do(func() {
		s.cancel()
		<-s.finished
	})
	return nil
}

var (
	_ Conn     = (*InProcess)(nil)
	_ Streamer = (*InProcess)(nil)
)
