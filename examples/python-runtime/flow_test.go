package pythonruntime_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/altar-gateway/altar/gateway/contract"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// A client that stops reading a stream from the Python runtime holds back
// that stream alone (the runtime's flow_control, as
// gateway.TestStalledStreamLeavesTheRuntimeServing shows for the Go SDK).
// The runtime stops emitting once the stream's window is used up and waits
// for credit, while a unary call to the same runtime is answered at once;
// when the client reads again, the stream goes on to its end with nothing
// lost or reordered, on the same connection.
//
// Without flow control the Host's reader waits for room in the stalled
// stream's buffer, holding up every other call on the runtime, and gives up
// on the stream after the stall limit (half the heartbeat timeout, 1 s
// here): the stream then fails STREAM_BROKEN.
func TestStalledStreamLeavesThePythonRuntimeServing(t *testing.T) {
	const (
		n    = 4000
		size = 4 << 10 // 16 MB in all: far past every gRPC window
	)
	h := startHost(t, "127.0.0.1:0")
	ms, err := contract.LoadPaths("testdata/flow.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Registry().Load("flow_test", ms...); err != nil {
		t.Fatal(err)
	}
	requirePython(t)
	p := startPython(t, []string{"ALTAR_HOST=" + h.GRPCAddr(), "ALTAR_RUNTIME_ID=py-flow"}, "testdata/flow_runtime.py")
	info := h.waitTools(t, "py-flow", 2)
	if !contains(info.GetCapabilities(), altarv1.CapabilityFlowControl) {
		t.Fatalf("the runtime did not declare %s: %v", altarv1.CapabilityFlowControl, info.GetCapabilities())
	}
	connectedAt := info.GetConnectedAt().AsTime()

	// emitted is the unary call beside the stream: how many chunks the
	// runtime has emitted so far.
	var slowest time.Duration
	emitted := func() int64 {
		start := time.Now()
		v := h.call(t, "pyflow.emitted", nil)
		slowest = max(slowest, time.Since(start))
		return v.GetObjectValue().GetFields()["emitted"].GetIntValue()
	}

	stream, err := h.client.InvokeStream(ctxT(t), &altarv1.InvokeStreamRequest{Request: &altarv1.InvokeRequest{
		ToolName: "pyflow.blobs", Parameters: map[string]*altarv1.Value{"n": schema.Int(n), "size": schema.Int(size)}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	// The client reads no more. The runtime fills the window and the
	// buffers behind it, then waits for credit; unary calls are answered
	// all the while. Stalled: the count stays put across several calls.
	const still = 5
	last, same, calls := int64(-1), 0, 0
	waitUntil(t, "the runtime stops emitting to a client that reads nothing", func() bool {
		got := emitted()
		calls++
		if got > 0 && got == last {
			same++
		} else {
			same = 0
		}
		last = got
		time.Sleep(20 * time.Millisecond)
		return same >= still
	})
	if last >= n {
		t.Fatalf("the runtime emitted all %d chunks to a client that reads none", last)
	}
	t.Logf("stalled after %d of %d chunks; %d unary calls beside it, the slowest %v", last, n, calls, slowest)

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
			if ch.GetChunkId() != uint64(got+1) {
				t.Fatalf("the final chunk has id %d after %d chunks", ch.GetChunkId(), got)
			}
			continue
		}
		got++
		if ch.GetChunkId() != uint64(got) {
			t.Fatalf("chunk %d has id %d", got, ch.GetChunkId())
		}
		if s := ch.GetPayload().GetStringValue(); len(s) != size || strings.Trim(s, "x") != "" {
			t.Fatalf("chunk %d carries %d bytes, want %d x's", got, len(s), size)
		}
	}
	if got != n {
		t.Fatalf("got %d chunks, want %d", got, n)
	}
	if e := emitted(); e != n {
		t.Fatalf("the runtime counts %d chunks emitted, want %d", e, n)
	}
	if info := h.runtimeInfo("py-flow"); info == nil || !info.GetConnectedAt().AsTime().Equal(connectedAt) {
		t.Fatalf("the stalled stream cost the runtime its connection: connected at %v, now %v", connectedAt, info)
	}
	if c := strings.Count(p.stderr.String(), "connected to the Host"); c != 1 {
		t.Fatalf("the runtime connected %d times", c)
	}
}
