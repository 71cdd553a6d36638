package runtime_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/runtime"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// connectWith announces a runtime declaring extra capabilities.
func connectWith(t *testing.T, h *host, id string, caps ...string) (*rawRuntime, runtime.Conn) {
	t.Helper()
	r := dialRuntime(t, h)
	m := announceMsg(id)
	a := m.GetAnnounce()
	a.Capabilities = append(a.Capabilities, caps...)
	r.send(m)
	resp := r.next().GetAnnounceResponse()
	if !resp.GetAccepted() {
		t.Fatalf("announce refused: %v", resp.GetError())
	}
	c, err := h.registry.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	return r, c
}

func chunkMsg(id string, n uint64, final bool) *altarv1.RuntimeMessage {
	return &altarv1.RuntimeMessage{Message: &altarv1.RuntimeMessage_StreamChunk{StreamChunk: &altarv1.StreamChunk{
		InvocationId: id, ChunkId: n, Payload: schema.Int(int64(n)), IsFinal: final}}}
}

// answerOne answers the next ToolCall the runtime gets with a null result.
func answerOne(r *rawRuntime) <-chan *altarv1.ToolCall {
	got := make(chan *altarv1.ToolCall, 1)
	go func() {
		call := r.next().GetToolCall()
		for call == nil { // Credits for a stream that failed may still come.
			call = r.next().GetToolCall()
		}
		r.send(&altarv1.RuntimeMessage{Message: &altarv1.RuntimeMessage_ToolResult{ToolResult: &altarv1.ToolResult{
			InvocationId: call.GetInvocationId(), Status: altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS, Payload: schema.Null()}}})
		got <- call
	}()
	return got
}

// A runtime that negotiated flow_control gets a window per stream, and the
// Host credits chunks back as its reader takes them. A reader that does not
// read holds back only its own stream: the connection's other calls are
// answered at once (the stall timeout here is longer than the test, so a
// reader waiting on the slow stream would hang it), and the slow stream
// loses nothing.
func TestFlowControlledStreamHoldsBackOnlyItself(t *testing.T) {
	const window = 4
	h := startHost(t, runtime.WithStreamBuffer(window, time.Hour))
	r, c := connectWith(t, h, "rt", altarv1.CapabilityFlowControl)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	s, err := c.(runtime.Streamer).Stream(ctx, toolCall("fc"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := r.next().GetToolCall().GetStreamWindow(); got != window {
		t.Fatalf("stream_window = %d, want %d", got, window)
	}
	// The whole window, and the chunk that ends a stream, which is always
	// allowed: nobody reads them yet.
	for i := uint64(1); i <= window; i++ {
		r.send(chunkMsg("fc", i, false))
	}

	answered := answerOne(r)
	if _, err := c.Invoke(ctx, toolCall("other")); err != nil {
		t.Fatalf("a call beside a stalled stream: %v", err)
	}
	<-answered

	// Reading half the window credits it back.
	for i := uint64(1); i <= window/2; i++ {
		if ch, err := s.Recv(); err != nil || ch.GetChunkId() != i {
			t.Fatalf("chunk %d: %v, %v", i, ch, err)
		}
	}
	credit := r.next().GetStreamCredit()
	if credit.GetInvocationId() != "fc" || credit.GetChunks() != window/2 {
		t.Fatalf("credit = %v, want %d for fc", credit, window/2)
	}
	r.send(chunkMsg("fc", window+1, false))
	r.send(chunkMsg("fc", window+2, false))
	r.send(chunkMsg("fc", window+3, true))
	for i := uint64(window/2 + 1); i <= window+3; i++ {
		if ch, err := s.Recv(); err != nil || ch.GetChunkId() != i {
			t.Fatalf("chunk %d: %v, %v", i, ch, err)
		}
	}
}

// A runtime that sends more than its window gets that stream failed and
// cancelled, and only that stream; the Host's reader never waits on it.
func TestWindowOverrunFailsOnlyItsStream(t *testing.T) {
	const window = 2
	h := startHost(t, runtime.WithStreamBuffer(window, time.Hour))
	r, c := connectWith(t, h, "rt", altarv1.CapabilityFlowControl)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	s, err := c.(runtime.Streamer).Stream(ctx, toolCall("greedy"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r.next()
	for i := uint64(1); i <= window+2; i++ { // the final chunk's room, and one more
		r.send(chunkMsg("greedy", i, false))
	}
	cancelled := r.next().GetCancelInvocation()
	if cancelled.GetInvocationId() != "greedy" || cancelled.GetCorrelationId() != "corr-greedy" {
		t.Fatalf("want greedy cancelled with its correlation id, got %v", cancelled)
	}
	var lastErr error
	for range window + 3 {
		if _, lastErr = s.Recv(); lastErr != nil {
			break
		}
	}
	if code := altarerr.CodeOf(lastErr); code != altarv1.ErrorCode_ERROR_CODE_STREAM_BROKEN ||
		!strings.Contains(lastErr.Error(), "window of 2") {
		t.Fatalf("got %v (%v), want STREAM_BROKEN naming the window", code, lastErr)
	}

	answered := answerOne(r)
	if _, err := c.Invoke(ctx, toolCall("after")); err != nil {
		t.Fatal(err)
	}
	<-answered
}

// A runtime without flow_control gets no window: the Host's reader holds
// it back, as before.
func TestNoWindowWithoutFlowControl(t *testing.T) {
	h := startHost(t)
	r, c := connect(t, h, "rt")
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	s, err := c.(runtime.Streamer).Stream(ctx, toolCall("legacy"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := r.next().GetToolCall().GetStreamWindow(); got != 0 {
		t.Fatalf("stream_window = %d for a runtime without flow_control", got)
	}
}

// quietRuntime announces and then reads nothing more, so that the Host's
// sends to it block once gRPC's flow-control windows are full.
func quietRuntime(t *testing.T, h *host, id string, caps ...string) altarv1.RuntimeService_ConnectClient {
	t.Helper()
	cc, err := grpc.NewClient(h.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		_ = cc.Close()
	})
	stream, err := altarv1.NewRuntimeServiceClient(cc).Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := announceMsg(id)
	m.GetAnnounce().Capabilities = append(m.GetAnnounce().Capabilities, caps...)
	if err := stream.Send(m); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil || !resp.GetAnnounceResponse().GetAccepted() {
		t.Fatalf("announce: %v, %v", resp, err)
	}
	return stream
}

// Session events go out from the connection's own queue: a runtime that
// stops reading never blocks the session store reporting them, and one
// that falls too far behind is disconnected rather than told half the
// story of its sessions.
func TestSessionEventsNeverWaitForARuntime(t *testing.T) {
	h := startHost(t)
	quietRuntime(t, h, "deaf", altarv1.CapabilitySessionState) // registered before it is answered

	big := strings.Repeat("m", 1024)
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		// Far more than the runtime's gRPC windows and the queue hold.
		for i := range 20000 {
			h.service.SessionEvent(&altarv1.SessionEvent{SessionId: fmt.Sprintf("s%d-%s", i, big),
				Kind: altarv1.SessionEventKind_SESSION_EVENT_KIND_CREATED})
		}
	}()
	select {
	case <-returned:
	case <-time.After(testTimeout):
		t.Fatal("SessionEvent blocked on a runtime that does not read")
	}
	select {
	case id := <-h.authority.gone:
		if id != "deaf" {
			t.Fatalf("disconnected %q", id)
		}
	case <-time.After(testTimeout):
		t.Fatal("the runtime that fell behind was not disconnected")
	}
}

// A session_state runtime that reads gets every event, in order.
func TestSessionEventsReachTheRuntimeInOrder(t *testing.T) {
	h := startHost(t)
	r, _ := connectWith(t, h, "rt", altarv1.CapabilitySessionState)
	kinds := []altarv1.SessionEventKind{
		altarv1.SessionEventKind_SESSION_EVENT_KIND_CREATED,
		altarv1.SessionEventKind_SESSION_EVENT_KIND_EXPIRED,
	}
	for i, k := range kinds {
		h.service.SessionEvent(&altarv1.SessionEvent{SessionId: fmt.Sprintf("s%d", i), Kind: k})
	}
	for i, k := range kinds {
		ev := r.next().GetSessionEvent()
		if ev.GetSessionId() != fmt.Sprintf("s%d", i) || ev.GetKind() != k {
			t.Fatalf("event %d = %v, want s%d %v", i, ev, i, k)
		}
	}
}

// A runtime that keeps sending heartbeats but stops reading its stream
// cannot hold the Host's sends for ever: once a send has waited longer than
// the heartbeat timeout the runtime is disconnected, and the calls waiting
// on it fail RUNTIME_UNAVAILABLE instead of hanging.
func TestARuntimeThatStopsReadingIsDisconnected(t *testing.T) {
	h := startHost(t, runtime.WithHeartbeat(50*time.Millisecond, 500*time.Millisecond))
	stream := quietRuntime(t, h, "deaf")
	c, err := h.registry.Get("deaf")
	if err != nil {
		t.Fatal(err)
	}
	// The runtime's heartbeats keep coming, so only the stuck send can
	// show that it is gone.
	beating, stopBeating := context.WithCancel(context.Background())
	beats := make(chan struct{})
	go func() {
		defer close(beats)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-beating.Done():
				return
			case <-tick.C:
				if stream.Send(&altarv1.RuntimeMessage{Message: &altarv1.RuntimeMessage_Heartbeat{Heartbeat: &altarv1.Heartbeat{}}}) != nil {
					return
				}
			}
		}
	}()
	defer func() { stopBeating(); <-beats }()

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	errs := make(chan error, 64)
	for i := range cap(errs) {
		go func() {
			call := toolCall(fmt.Sprintf("big-%d", i))
			call.Parameters["blob"] = schema.Bytes(make([]byte, 256<<10))
			_, err := c.Invoke(ctx, call)
			errs <- err
		}()
	}
	for range cap(errs) {
		err := <-errs
		if code := altarerr.CodeOf(err); code != altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE ||
			!strings.Contains(err.Error(), "has not read its stream") {
			t.Fatalf("call ended %v (%v), want RUNTIME_UNAVAILABLE: the runtime has not read its stream", code, err)
		}
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("calls failed but the connection is up")
	}
}
