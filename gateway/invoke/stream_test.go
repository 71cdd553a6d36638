package invoke_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/invoke"
	"github.com/altar-gateway/altar/gateway/invoke/invoketest"
	"github.com/altar-gateway/altar/gateway/runtime"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

func chunk(id uint64, final bool) *altarv1.StreamChunk {
	return &altarv1.StreamChunk{ChunkId: id, Payload: schema.Int(int64(id)), IsFinal: final}
}

func errorChunk(id uint64) *altarv1.StreamChunk {
	return &altarv1.StreamChunk{ChunkId: id, Payload: schema.String("ignored"),
		Error: &altarv1.Error{Code: altarv1.ErrorCode_ERROR_CODE_CONNECTION_LOST, Message: "upstream closed"}}
}

// scripted returns a StreamFunc whose stream yields the chunks, then ends
// with end (io.EOF for a clean end). It reports the stream on made.
func scripted(made chan<- *invoketest.ChunkStream, end error, chunks ...*altarv1.StreamChunk) func(context.Context, *altarv1.ToolCall) (runtime.ChunkStream, error) {
	return func(ctx context.Context, call *altarv1.ToolCall) (runtime.ChunkStream, error) {
		if !call.GetStream() {
			return nil, errors.New("call.stream not set")
		}
		s := invoketest.NewChunkStream(ctx, len(chunks))
		for _, c := range chunks {
			s.Send(c)
		}
		s.Fail(end)
		if made != nil {
			made <- s
		}
		return s, nil
	}
}

type collected struct {
	ids    []uint64
	chunks []*altarv1.StreamChunk
}

func (c *collected) send(ch *altarv1.StreamChunk) error {
	c.ids = append(c.ids, ch.GetChunkId())
	c.chunks = append(c.chunks, ch)
	return nil
}

func (c *collected) last() *altarv1.StreamChunk { return c.chunks[len(c.chunks)-1] }

func streamHarness(t *testing.T, fn func(context.Context, *altarv1.ToolCall) (runtime.ChunkStream, error), opts ...invoke.Option) *harness {
	conn := invoketest.NewConn("r1")
	conn.StreamFunc = fn
	return newHarness(t, streaming(weatherContract()), []*invoketest.Conn{conn}, opts...)
}

func TestStreamOrdering(t *testing.T) {
	for _, tc := range []struct {
		name      string
		chunks    []*altarv1.StreamChunk
		end       error
		buffer    int
		wantIDs   []uint64
		wantFinal altarv1.ErrorCode // code of the final chunk's error
		wantErr   altarv1.ErrorCode // InvokeStream's error (nothing sent)
		wantState altarv1.InvocationState
	}{
		{name: "in order", chunks: []*altarv1.StreamChunk{chunk(1, false), chunk(2, false), chunk(3, true)}, end: io.EOF,
			wantIDs: []uint64{1, 2, 3}, wantState: altarv1.InvocationState_INVOCATION_STATE_COMPLETED},
		{name: "reordered within the bound", buffer: 3,
			chunks: []*altarv1.StreamChunk{chunk(3, false), chunk(2, false), chunk(5, true), chunk(1, false), chunk(4, false)}, end: io.EOF,
			wantIDs: []uint64{1, 2, 3, 4, 5}, wantState: altarv1.InvocationState_INVOCATION_STATE_COMPLETED},
		{name: "gap beyond the bound, nothing sent", buffer: 2,
			chunks: []*altarv1.StreamChunk{chunk(2, false), chunk(3, false), chunk(4, false), chunk(1, false)}, end: io.EOF,
			wantErr: altarv1.ErrorCode_ERROR_CODE_STREAM_BROKEN, wantState: altarv1.InvocationState_INVOCATION_STATE_FAILED},
		{name: "gap beyond the bound after a chunk", buffer: 2,
			chunks: []*altarv1.StreamChunk{chunk(1, false), chunk(3, false), chunk(4, false), chunk(5, false)}, end: io.EOF,
			wantIDs: []uint64{1, 2}, wantFinal: altarv1.ErrorCode_ERROR_CODE_STREAM_BROKEN, wantState: altarv1.InvocationState_INVOCATION_STATE_FAILED},
		{name: "ends with a gap", chunks: []*altarv1.StreamChunk{chunk(1, false), chunk(3, true)}, end: io.EOF,
			wantIDs: []uint64{1, 2}, wantFinal: altarv1.ErrorCode_ERROR_CODE_STREAM_BROKEN, wantState: altarv1.InvocationState_INVOCATION_STATE_FAILED},
		{name: "ends without a final chunk", chunks: []*altarv1.StreamChunk{chunk(1, false), chunk(2, false)}, end: io.EOF,
			wantIDs: []uint64{1, 2, 3}, wantFinal: altarv1.ErrorCode_ERROR_CODE_STREAM_BROKEN, wantState: altarv1.InvocationState_INVOCATION_STATE_FAILED},
		{name: "repeated chunk", chunks: []*altarv1.StreamChunk{chunk(1, false), chunk(1, false)}, end: io.EOF,
			wantIDs: []uint64{1, 2}, wantFinal: altarv1.ErrorCode_ERROR_CODE_PROTOCOL_VIOLATION, wantState: altarv1.InvocationState_INVOCATION_STATE_FAILED},
		{name: "error chunk ends the stream", chunks: []*altarv1.StreamChunk{chunk(1, false), errorChunk(2), chunk(3, true)}, end: io.EOF,
			wantIDs: []uint64{1, 2}, wantFinal: altarv1.ErrorCode_ERROR_CODE_CONNECTION_LOST, wantState: altarv1.InvocationState_INVOCATION_STATE_FAILED},
		{name: "runtime lost mid-stream", chunks: []*altarv1.StreamChunk{chunk(1, false)}, end: invoketest.Unavailable("r1"),
			wantIDs: []uint64{1, 2}, wantFinal: altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE, wantState: altarv1.InvocationState_INVOCATION_STATE_FAILED},
	} {
		t.Run(tc.name, func(t *testing.T) {
			made := make(chan *invoketest.ChunkStream, 1)
			var opts []invoke.Option
			if tc.buffer > 0 {
				opts = append(opts, invoke.WithMaxStreamBuffer(tc.buffer))
			}
			h := streamHarness(t, scripted(made, tc.end, tc.chunks...), opts...)
			var got collected
			req := weatherReq("inv-1", "Oslo")
			req.CorrelationId = "corr-1"
			err := h.engine.InvokeStream(h.ctx(), req, got.send)
			if code(t, err) != tc.wantErr {
				t.Fatalf("InvokeStream = %v, want %v", err, tc.wantErr)
			}
			if !slices.Equal(got.ids, tc.wantIDs) {
				t.Errorf("chunk ids %v, want %v", got.ids, tc.wantIDs)
			}
			for _, c := range got.chunks {
				if c.GetInvocationId() != "inv-1" || c.GetCorrelationId() != "corr-1" {
					t.Errorf("chunk %d not stamped: %v", c.GetChunkId(), c)
				}
			}
			if len(got.chunks) > 0 {
				last := got.last()
				if !last.GetIsFinal() || last.GetError().GetCode() != tc.wantFinal {
					t.Errorf("final chunk %v, want is_final with error %v", last, tc.wantFinal)
				}
				if last.GetError() != nil && last.GetPayload() != nil {
					t.Errorf("error chunk kept its payload")
				}
				for _, c := range got.chunks[:len(got.chunks)-1] {
					if c.GetIsFinal() {
						t.Errorf("chunk %d is final but not last", c.GetChunkId())
					}
				}
			}
			select {
			case s := <-made:
				select {
				case <-s.Closed():
				default:
					t.Error("the ChunkStream was not closed")
				}
			default:
				t.Error("Stream was not called")
			}
			inv, _ := h.engine.Invocation("inv-1")
			if inv.GetState() != tc.wantState {
				t.Errorf("state %v, want %v", inv.GetState(), tc.wantState)
			}
		})
	}
}

func TestStreamRefusals(t *testing.T) {
	t.Run("contract does not stream", func(t *testing.T) {
		h := newHarness(t, weatherContract(), []*invoketest.Conn{invoketest.NewConn("r1")})
		err := h.engine.InvokeStream(h.ctx(), weatherReq("", "Oslo"), (&collected{}).send)
		if code(t, err) != altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("runtime cannot stream", func(t *testing.T) {
		conn := invoketest.NewConn("r1")
		unary := struct{ runtime.Conn }{conn} // hides Stream
		rts := invoketest.NewRuntimes(unary)
		e := invoke.New(invoketest.NewResolver(invoketest.Target(streaming(weatherContract()), "r1")), rts)
		defer e.Close()
		err := e.InvokeStream(context.Background(), weatherReq("", "Oslo"), (&collected{}).send)
		if code(t, err) != altarv1.ErrorCode_ERROR_CODE_UNIMPLEMENTED {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("a streamed id is not repeated", func(t *testing.T) {
		h := streamHarness(t, scripted(nil, io.EOF, chunk(1, true)))
		if err := h.engine.InvokeStream(h.ctx(), weatherReq("inv-1", "Oslo"), (&collected{}).send); err != nil {
			t.Fatal(err)
		}
		if err := h.engine.InvokeStream(h.ctx(), weatherReq("inv-1", "Oslo"), (&collected{}).send); code(t, err) != altarv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS {
			t.Errorf("repeat stream: %v", err)
		}
		if _, err := h.engine.Invoke(h.ctx(), weatherReq("inv-1", "Oslo")); err == nil {
			t.Error("Invoke reused a streamed id")
		}
	})
	t.Run("opening fails before any chunk", func(t *testing.T) {
		h := streamHarness(t, func(context.Context, *altarv1.ToolCall) (runtime.ChunkStream, error) {
			return nil, invoketest.Unavailable("r1")
		})
		called := false
		err := h.engine.InvokeStream(h.ctx(), weatherReq("", "Oslo"), func(*altarv1.StreamChunk) error { called = true; return nil })
		if code(t, err) != altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE || called {
			t.Errorf("err = %v, send called %v", err, called)
		}
	})
}

func TestStreamBackpressure(t *testing.T) {
	const total, buffer = 50, 2
	var produced atomic.Int64
	streams := make(chan *invoketest.ChunkStream, 1)
	h := streamHarness(t, func(ctx context.Context, call *altarv1.ToolCall) (runtime.ChunkStream, error) {
		s := invoketest.NewChunkStream(ctx, buffer)
		streams <- s
		return s, nil
	})
	// The runtime produces as fast as the stream takes chunks.
	var producerDone = make(chan struct{})
	go func() {
		defer close(producerDone)
		var s *invoketest.ChunkStream
		select {
		case s = <-streams:
		case <-time.After(waitTimeout):
			return // the test fails waiting for the stream to end
		}
		for i := uint64(1); i <= total; i++ {
			if !s.Send(chunk(i, i == total)) {
				return
			}
			produced.Add(1)
		}
	}()
	// The client takes one chunk per turn of the gate.
	gate := make(chan struct{})
	delivered := 0
	maxAhead := int64(0)
	send := func(*altarv1.StreamChunk) error {
		<-gate
		delivered++
		if ahead := produced.Load() - int64(delivered); ahead > maxAhead {
			maxAhead = ahead
		}
		return nil
	}
	done := make(chan error, 1)
	go func() { done <- h.engine.InvokeStream(h.ctx(), weatherReq("", "Oslo"), send) }()
	for range total {
		gate <- struct{}{}
	}
	if err := recv(t, done, "the stream to end"); err != nil {
		t.Fatal(err)
	}
	<-producerDone
	// Produced but undelivered: the stream's buffer, the chunk the engine
	// holds, and one the producer had sent before the check.
	if maxAhead > buffer+2 {
		t.Errorf("the runtime ran %d chunks ahead of a slow client, want at most %d", maxAhead, buffer+2)
	}
}

func TestStreamCancel(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cancel func(h *harness, cancelCtx context.CancelFunc)
	}{
		{"Cancel", func(h *harness, _ context.CancelFunc) { h.engine.Cancel("inv-1", "stop") }},
		{"caller's ctx", func(_ *harness, cancel context.CancelFunc) { cancel() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			streams := make(chan *invoketest.ChunkStream, 1)
			h := streamHarness(t, func(ctx context.Context, call *altarv1.ToolCall) (runtime.ChunkStream, error) {
				s := invoketest.NewChunkStream(ctx, 4)
				s.Send(chunk(1, false))
				streams <- s
				return s, nil
			})
			ctx, cancel := context.WithCancel(h.ctx())
			defer cancel()
			got := make(chan *altarv1.StreamChunk, 4)
			done := make(chan error, 1)
			go func() {
				done <- h.engine.InvokeStream(ctx, weatherReq("inv-1", "Oslo"), func(c *altarv1.StreamChunk) error {
					got <- c
					return nil
				})
			}()
			s := recv(t, streams, "the stream")
			if c := recv(t, got, "chunk 1"); c.GetChunkId() != 1 {
				t.Fatalf("first chunk %v", c)
			}
			tc.cancel(h, cancel)
			err := recv(t, done, "the stream to end")
			recv(t, s.Closed(), "the ChunkStream to be closed")
			if tc.name == "Cancel" {
				// The client is still there: it is told with a final chunk.
				if err != nil {
					t.Fatal(err)
				}
				last := recv(t, got, "the final chunk")
				if last.GetChunkId() != 2 || !last.GetIsFinal() || last.GetError().GetCode() != altarv1.ErrorCode_ERROR_CODE_CANCELLED {
					t.Errorf("final chunk %v", last)
				}
			}
			inv, _ := h.engine.Invocation("inv-1")
			if inv.GetState() != altarv1.InvocationState_INVOCATION_STATE_CANCELLED {
				t.Errorf("state %v", inv.GetState())
			}
		})
	}
}

func TestStreamSendFailureCancelsTheRuntime(t *testing.T) {
	streams := make(chan *invoketest.ChunkStream, 1)
	h := streamHarness(t, func(ctx context.Context, call *altarv1.ToolCall) (runtime.ChunkStream, error) {
		s := invoketest.NewChunkStream(ctx, 4)
		s.Send(chunk(1, false))
		streams <- s
		return s, nil
	})
	gone := errors.New("client went away")
	err := h.engine.InvokeStream(h.ctx(), weatherReq("inv-1", "Oslo"), func(*altarv1.StreamChunk) error { return gone })
	if !errors.Is(err, gone) || code(t, err) != altarv1.ErrorCode_ERROR_CODE_CANCELLED {
		t.Errorf("err = %v, want CANCELLED wrapping the send error", err)
	}
	recv(t, recv(t, streams, "the stream").Closed(), "the ChunkStream to be closed")
	var ae *altarerr.Error
	_ = errors.As(err, &ae)
	if ae.InvocationID != "inv-1" {
		t.Errorf("error ids: %+v", ae)
	}
}

func TestStreamOpenIsRetriedForIdempotentTools(t *testing.T) {
	r1, r2 := invoketest.NewConn("r1"), invoketest.NewConn("r2")
	r1.StreamFunc = func(context.Context, *altarv1.ToolCall) (runtime.ChunkStream, error) {
		return nil, invoketest.Unavailable("r1")
	}
	var attempt uint32
	r2.StreamFunc = func(ctx context.Context, call *altarv1.ToolCall) (runtime.ChunkStream, error) {
		attempt = call.GetAttempt()
		return scripted(nil, io.EOF, chunk(1, true))(ctx, call)
	}
	h := newHarness(t, idempotent(streaming(weatherContract())), []*invoketest.Conn{r1, r2},
		invoke.WithRetry(invoke.RetryPolicy{BaseBackoff: time.Second, Jitter: -1}))
	var got collected
	done := make(chan error, 1)
	go func() { done <- h.engine.InvokeStream(h.ctx(), weatherReq("inv-1", "Oslo"), got.send) }()
	recv(t, h.clock.Timers(), "the backoff")
	h.clock.Advance(time.Second)
	if err := recv(t, done, "the stream"); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.ids, []uint64{1}) || attempt != 2 {
		t.Errorf("chunks %v on attempt %d", got.ids, attempt)
	}
	if err := h.engine.InvokeStream(h.ctx(), weatherReq("", "Oslo"), nil); code(t, err) != altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST {
		t.Errorf("nil send: %v", err)
	}
}
