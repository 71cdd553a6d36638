package sdk_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/schema"
	"github.com/altar-gateway/altar/plugins/sdk"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

func newHandler(t *testing.T, tools ...sdk.Tool) *sdk.Handler {
	t.Helper()
	h, err := sdk.NewHandler(tools, sdk.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// forever emits 1, 2, 3, ... until emit fails.
var forever = sdk.StreamFunc("forever", "", func(ctx context.Context, _ struct{}, emit func(int64) error) error {
	for i := int64(1); ; i++ {
		if err := emit(i); err != nil {
			return err
		}
	}
})

func TestHandlerBackpressureStopsAtCancelAndDeadline(t *testing.T) {
	for _, tc := range []struct {
		name     string
		deadline time.Duration // 0: none; the test cancels instead
		code     altarv1.ErrorCode
		message  string
	}{
		{name: "cancel", code: altarv1.ErrorCode_ERROR_CODE_CANCELLED, message: "cancelled by the Host: stop"},
		{name: "deadline", deadline: 20 * time.Millisecond, code: altarv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED,
			message: `tool "forever" did not finish before the call's deadline`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHandler(t, forever)
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)

			const room = 3
			tokens := make(chan struct{}, room) // What the transport can take.
			for range room {
				tokens <- struct{}{}
			}
			blocked := make(chan struct{}, 1)
			var chunks []*altarv1.StreamChunk
			send := func(callCtx context.Context, c *altarv1.StreamChunk) error {
				if c.GetIsFinal() {
					chunks = append(chunks, c)
					return nil
				}
				select {
				case <-tokens:
					chunks = append(chunks, c)
					return nil
				default:
				}
				blocked <- struct{}{}
				// A full transport: wait, as the gRPC runtime's queue does,
				// until there is room or the call is stopped.
				select {
				case <-tokens:
					chunks = append(chunks, c)
					return nil
				case <-callCtx.Done():
					return callCtx.Err()
				}
			}
			call := &altarv1.ToolCall{InvocationId: "inv", ToolName: "forever", Stream: true}
			if tc.deadline > 0 {
				call.Deadline = timestamppb.New(time.Now().Add(tc.deadline))
			}
			done := make(chan error, 1)
			go func() { done <- h.Stream(ctx, call, send) }()
			select {
			case <-blocked: // emit is waiting: the tool cannot run ahead.
			case <-time.After(testTimeout):
				t.Fatal("emit never blocked")
			}
			if tc.deadline == 0 {
				cancel(altarerr.New(altarv1.ErrorCode_ERROR_CODE_CANCELLED, "cancelled by the Host: stop"))
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(testTimeout):
				t.Fatal("Stream did not return")
			}
			if len(chunks) != room+1 {
				t.Fatalf("%d chunks, want %d", len(chunks), room+1)
			}
			for i, c := range chunks[:room] {
				if c.GetChunkId() != uint64(i+1) || c.GetPayload().GetIntValue() != int64(i+1) {
					t.Errorf("chunk %v", c)
				}
			}
			last := chunks[room]
			if last.GetChunkId() != room+1 || last.GetError().GetCode() != tc.code ||
				last.GetError().GetMessage() != tc.message || last.GetError().GetInvocationId() != "inv" {
				t.Errorf("last chunk %v", last)
			}
		})
	}
}

func TestHandlerStreamingToolInvokedUnary(t *testing.T) {
	three := sdk.StreamFunc("three", "", func(_ context.Context, _ struct{}, emit func(string) error) error {
		for _, s := range []string{"a", "b", "c"} {
			if err := emit(s); err != nil {
				return err
			}
		}
		return nil
	})
	h := newHandler(t, three, forever)
	res := h.Invoke(context.Background(), &altarv1.ToolCall{ToolName: "three"})
	wantPayload(t, res, schema.Array(schema.String("a"), schema.String("b"), schema.String("c")))

	// Without a bound a stream that never ends would fill memory.
	res = h.Invoke(context.Background(), &altarv1.ToolCall{ToolName: "forever"})
	wantCode(t, res, altarv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED)
}

func TestHandlerEmitAfterReturn(t *testing.T) {
	var leaked func(int64) error
	leak := sdk.StreamFunc("leak", "", func(_ context.Context, _ struct{}, emit func(int64) error) error {
		leaked = emit
		return nil
	})
	h := newHandler(t, leak)
	var chunks []*altarv1.StreamChunk
	err := h.Stream(context.Background(), &altarv1.ToolCall{ToolName: "leak", Stream: true}, func(_ context.Context, c *altarv1.StreamChunk) error {
		chunks = append(chunks, c)
		return nil
	})
	if err != nil || len(chunks) != 1 || !chunks[0].GetIsFinal() || chunks[0].GetChunkId() != 1 {
		t.Fatalf("Stream = %v, chunks %v", err, chunks)
	}
	if err := leaked(1); err == nil {
		t.Error("emit after the tool returned succeeded")
	}
	if len(chunks) != 1 {
		t.Errorf("a chunk followed the final one: %v", chunks)
	}
}

func TestHandlerUnknownToolStreamed(t *testing.T) {
	h := newHandler(t)
	var got *altarv1.StreamChunk
	err := h.Stream(context.Background(), &altarv1.ToolCall{InvocationId: "inv", ToolName: "nope", Stream: true},
		func(_ context.Context, c *altarv1.StreamChunk) error { got = c; return nil })
	if err != nil || got.GetChunkId() != 1 || !got.GetIsFinal() || got.GetError().GetCode() != altarv1.ErrorCode_ERROR_CODE_TOOL_NOT_FOUND {
		t.Fatalf("Stream = %v, chunk %v", err, got)
	}
}

func TestHandlerCancelledCalls(t *testing.T) {
	stubborn := sdk.Func("stubborn", "", func(ctx context.Context, _ struct{}) (string, error) {
		<-ctx.Done()
		return "finished anyway", nil // A result wins over the cancel.
	})
	wrapped := sdk.Func("wrapped", "", func(ctx context.Context, _ struct{}) (string, error) {
		<-ctx.Done()
		return "", errors.New("read: use of closed connection") // Any error after a cancel is the cancel.
	})
	h := newHandler(t, stubborn, wrapped)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	wantPayload(t, h.Invoke(ctx, &altarv1.ToolCall{ToolName: "stubborn"}), schema.String("finished anyway"))
	wantCode(t, h.Invoke(ctx, &altarv1.ToolCall{ToolName: "wrapped"}), altarv1.ErrorCode_ERROR_CODE_CANCELLED)
}

func TestHandlerPanicInStream(t *testing.T) {
	boom := sdk.StreamFunc("boom", "", func(_ context.Context, in struct {
		I int64 `json:"i,omitempty"`
	}, emit func(int64) error) error {
		if err := emit(1); err != nil {
			return err
		}
		var items []int64
		return emit(items[in.I]) // Out of range: a runtime panic.
	})
	h := newHandler(t, boom)
	var chunks []*altarv1.StreamChunk
	if err := h.Stream(context.Background(), &altarv1.ToolCall{ToolName: "boom", Stream: true}, func(_ context.Context, c *altarv1.StreamChunk) error {
		chunks = append(chunks, c)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(chunks) != 2 || chunks[1].GetChunkId() != 2 || chunks[1].GetError().GetCode() != altarv1.ErrorCode_ERROR_CODE_TOOL_FAILED {
		t.Fatalf("chunks %v", chunks)
	}
}
