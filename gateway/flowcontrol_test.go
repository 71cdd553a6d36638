package gateway_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/altar-gateway/altar/plugins/sdk"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// A client that stops reading a stream holds back that stream alone. The Go
// SDK negotiates flow_control, so the runtime stops emitting once its
// window is used up while every other call on the same runtime is answered
// at once; when the client reads again, the stream goes on to its end with
// nothing lost or reordered, on the same connection.
func TestStalledStreamLeavesTheRuntimeServing(t *testing.T) {
	h := startHost(t, altarv1.HostMode_HOST_MODE_STRICT)
	const n = 4000
	pad := strings.Repeat("x", 4<<10) // 16 MB in all: far past every gRPC window
	var emitted atomic.Int64
	tools := []sdk.Tool{
		sdk.Func("echo", "echo", func(_ context.Context, in echoArgs) (string, error) { return in.Message, nil }),
		sdk.StreamFunc("ticks", "ticks", func(ctx context.Context, in struct {
			N int64 `json:"n"`
		}, emit func(string) error) error {
			for i := int64(1); i <= in.N; i++ {
				if err := emit(pad); err != nil {
					return err
				}
				emitted.Add(1)
			}
			return nil
		}),
	}
	rt := serveTools(t, h, "rt-fc", tools)

	stream, err := h.client.InvokeStream(ctxT(t), &altarv1.InvokeStreamRequest{Request: &altarv1.InvokeRequest{
		ToolName: "ticks", Parameters: args("n", int64(n))}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	// The client reads no more. The runtime fills the window and the
	// buffers behind it, then waits for credit.
	waitUntil(t, func() bool {
		before := emitted.Load()
		resp, err := h.client.Invoke(ctxT(t), &altarv1.InvokeRequest{ToolName: "echo", Parameters: args("message", "beside")})
		if err != nil || resp.GetResult().GetPayload().GetStringValue() != "beside" {
			t.Fatalf("a call beside the stalled stream: %v, %v", resp, err)
		}
		return before > 0 && emitted.Load() == before
	})
	if got := emitted.Load(); got >= n {
		t.Fatalf("the runtime emitted all %d chunks to a client that reads none", got)
	}

	got := 1
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("after %d chunks: %v", got, err)
		}
		ch := resp.GetChunk()
		if ch.GetError() != nil {
			t.Fatalf("after %d chunks: error chunk %v", got, ch.GetError())
		}
		if ch.GetPayload() != nil {
			got++
			if ch.GetChunkId() != uint64(got) {
				t.Fatalf("chunk %d has id %d", got, ch.GetChunkId())
			}
		}
	}
	if got != n {
		t.Fatalf("got %d chunks, want %d", got, n)
	}
	if c := rt.Status().Connects; c != 1 {
		t.Fatalf("the runtime connected %d times; the stalled stream cost it its connection", c)
	}
}
