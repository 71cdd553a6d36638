package noderuntime_test

import (
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// The flow control test's runtime (testdata/flow.js) and its contracts.
const (
	flowManifest = "testdata/flow.yaml"
	flowRuntime  = "testdata/flow.js"
)

// TestStalledStreamLeavesTheNodeRuntimeServing: a client that stops reading
// a stream holds back that stream alone. The Node runtime negotiates
// flow_control, so it stops emitting once its window is used up (and the
// gRPC windows behind it are full) while a unary call to the same runtime is
// answered at once; when the client reads again, the stream goes on to its
// end with nothing lost or reordered, on the same connection.
//
// Without flow control the Host's reader would wait on the stalled stream,
// so the unary calls would wait too, until the Host gave up on the stream
// (after half the heartbeat timeout) and failed it STREAM_BROKEN.
func TestStalledStreamLeavesTheNodeRuntimeServing(t *testing.T) {
	requireNode(t)
	h := startHost(t, "127.0.0.1:0", flowManifest)
	const id = "node-flow"
	p := startNode(t, flowRuntime, "ALTAR_HOST="+h.GRPCAddr(), "ALTAR_RUNTIME_ID="+id, "ALTAR_LOG_LEVEL=warn")
	info := waitTools(t, h, p, id, 2)
	if !slices.Contains(info.GetCapabilities(), altarv1.CapabilityFlowControl) {
		t.Fatalf("capability %q not announced: %v", altarv1.CapabilityFlowControl, info.GetCapabilities())
	}
	// emitted is a unary call to the runtime: how many chunks the stream has
	// handed on.
	emitted := func() int64 {
		t.Helper()
		res, err := invoke(t, h, &altarv1.InvokeRequest{ToolName: "flow.emitted"})
		if err != nil || res.GetError() != nil {
			t.Fatalf("a unary call beside the stalled stream: %v, %v", res.GetError(), err)
		}
		return res.GetPayload().GetObjectValue().GetFields()["emitted"].GetIntValue()
	}

	const n, size = 2000, 16 << 10 // 32 MB in all: far past every gRPC window
	stream, err := h.client.InvokeStream(ctxT(t), &altarv1.InvokeStreamRequest{Request: &altarv1.InvokeRequest{
		ToolName: "flow.blocks", Parameters: map[string]*altarv1.Value{"n": schema.Int(n), "size": schema.Int(size)}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}

	// The client reads no more. The runtime fills its window and the
	// buffers behind it, then waits for credit; unary calls to the same
	// runtime are answered meanwhile (emitted is one). Without flow control
	// the Host's reader would wait on the stalled stream and then fail it
	// STREAM_BROKEN, which the reading below would see.
	var stalled int64
	waitUntil(t, p, "the runtime waiting for credit", func() bool {
		before := emitted()
		stalled = emitted()
		return before > 0 && stalled == before
	})
	if stalled >= n {
		t.Fatalf("the runtime emitted all %d chunks to a client that reads none", stalled)
	}
	t.Logf("stalled after %d of %d chunks", stalled, n)

	// The client reads again: every chunk, in order, then the final one.
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
		if ch.GetIsFinal() {
			continue
		}
		got++
		if ch.GetChunkId() != uint64(got) {
			t.Fatalf("chunk %d has id %d", got, ch.GetChunkId())
		}
		if l := len(ch.GetPayload().GetStringValue()); l != size {
			t.Fatalf("chunk %d carries %d characters, want %d", got, l, size)
		}
	}
	if got != n {
		t.Fatalf("got %d chunks, want %d", got, n)
	}
	waitUntil(t, p, "the runtime counting every chunk", func() bool {
		return emitted() == n
	})

	// All on the connection the runtime started with.
	for _, i := range h.Runtimes().List() {
		if i.GetRuntimeId() == id && !i.GetConnectedAt().AsTime().Equal(info.GetConnectedAt().AsTime()) {
			t.Fatalf("the runtime reconnected (at %v, first at %v): the stalled stream cost it its connection",
				i.GetConnectedAt().AsTime(), info.GetConnectedAt().AsTime())
		}
	}
}
