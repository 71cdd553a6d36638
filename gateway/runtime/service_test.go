package runtime_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/runtime"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

const testTimeout = 10 * time.Second

// fakeAuthority stands in for the contract registry: it offers fixed
// contracts and accepts every fulfilment of one of them. It records
// disconnections.
type fakeAuthority struct {
	contracts []*altarv1.ToolContract

	gone chan string // runtime ids, as they disconnect
}

func (a *fakeAuthority) Mode() altarv1.HostMode { return altarv1.HostMode_HOST_MODE_STRICT }
func (a *fakeAuthority) Available(*altarv1.AnnounceRuntime) []*altarv1.ToolContract {
	return a.contracts
}

func (a *fakeAuthority) Fulfill(rt *altarv1.AnnounceRuntime, req *altarv1.FulfillTools) *altarv1.FulfillToolsResponse {
	resp := &altarv1.FulfillToolsResponse{}
	for _, t := range req.GetTools() {
		if slices.ContainsFunc(a.contracts, func(c *altarv1.ToolContract) bool { return c.GetName() == t.GetContractName() }) {
			resp.Accepted = append(resp.Accepted, &altarv1.FulfilledTool{ContractName: t.GetContractName(), QualifiedName: rt.GetRuntimeId() + "/" + t.GetContractName()})
		} else {
			resp.Rejected = append(resp.Rejected, &altarv1.ToolRejection{ToolName: t.GetContractName(),
				Error: &altarv1.Error{Code: altarv1.ErrorCode_ERROR_CODE_CONTRACT_NOT_TRUSTED}})
		}
	}
	return resp
}

func (a *fakeAuthority) Register(*altarv1.AnnounceRuntime, *altarv1.RegisterTools) *altarv1.RegisterToolsResponse {
	return &altarv1.RegisterToolsResponse{}
}
func (a *fakeAuthority) Withdraw(string, []string) {}
func (a *fakeAuthority) Disconnected(id string)    { a.gone <- id }

// host is a real gRPC server on loopback serving the runtime service.
type host struct {
	registry  *runtime.Registry
	service   *runtime.Service
	authority *fakeAuthority
	addr      string
}

func startHost(t *testing.T, opts ...runtime.ServiceOption) *host {
	t.Helper()
	h := &host{registry: runtime.NewRegistry(), authority: &fakeAuthority{
		contracts: []*altarv1.ToolContract{{Name: "echo", Version: "1.0.0"}},
		gone:      make(chan string, 100),
	}}
	h.service = runtime.NewService(h.registry, h.authority, opts...)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	altarv1.RegisterRuntimeServiceServer(srv, h.service)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(func() {
		h.service.CloseAll(context.Background())
		srv.Stop()
	})
	h.addr = lis.Addr().String()
	return h
}

// rawRuntime speaks the runtime protocol message by message, so that tests
// can script exactly what a runtime sends (including mistakes).
type rawRuntime struct {
	t       *testing.T
	cc      *grpc.ClientConn
	stream  altarv1.RuntimeService_ConnectClient
	cancel  context.CancelFunc
	in      chan *altarv1.HostMessage
	recvErr chan error
}

func dialRuntime(t *testing.T, h *host) *rawRuntime {
	t.Helper()
	cc, err := grpc.NewClient(h.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := altarv1.NewRuntimeServiceClient(cc).Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := &rawRuntime{t: t, cc: cc, stream: stream, cancel: cancel, in: make(chan *altarv1.HostMessage, 1024), recvErr: make(chan error, 1)}
	go func() {
		for {
			m, err := stream.Recv()
			if err != nil {
				r.recvErr <- err
				close(r.in)
				return
			}
			r.in <- m
		}
	}()
	t.Cleanup(r.close)
	return r
}

func (r *rawRuntime) close() {
	r.cancel()
	for range r.in {
	}
	_ = r.cc.Close()
}

func (r *rawRuntime) send(m *altarv1.RuntimeMessage) {
	r.t.Helper()
	if err := r.stream.Send(m); err != nil {
		r.t.Fatalf("send: %v", err)
	}
}

// next returns the next message that is not a heartbeat.
func (r *rawRuntime) next() *altarv1.HostMessage {
	r.t.Helper()
	timer := time.NewTimer(testTimeout)
	defer timer.Stop()
	for {
		select {
		case m, ok := <-r.in:
			if !ok {
				r.t.Fatalf("stream ended: %v", <-r.recvErr)
			}
			if m.GetHeartbeat() != nil {
				continue
			}
			return m
		case <-timer.C:
			r.t.Fatal("no message from the Host")
		}
	}
}

// ended waits for the Host to end the stream and returns its status.
func (r *rawRuntime) ended() error {
	r.t.Helper()
	timer := time.NewTimer(testTimeout)
	defer timer.Stop()
	for {
		select {
		case _, ok := <-r.in:
			if !ok {
				return <-r.recvErr
			}
		case <-timer.C:
			r.t.Fatal("the Host did not end the stream")
		}
	}
}

func announceMsg(id string) *altarv1.RuntimeMessage {
	return &altarv1.RuntimeMessage{CorrelationId: "c-" + id, Message: &altarv1.RuntimeMessage_Announce{Announce: &altarv1.AnnounceRuntime{
		RuntimeId: id, Language: "go", Version: "test", ProtocolVersion: altarv1.ProtocolVersion,
		Capabilities: []string{altarv1.CapabilityLevel1, altarv1.CapabilityHeartbeat, altarv1.CapabilityStreaming, altarv1.CapabilityCancellation},
	}}}
}

// connect dials and announces, and waits until the registry has the runtime.
func connect(t *testing.T, h *host, id string) (*rawRuntime, runtime.Conn) {
	t.Helper()
	return connectWith(t, h, id)
}

func TestBootstrap(t *testing.T) {
	h := startHost(t, runtime.WithHostID("host-1"), runtime.WithHeartbeat(time.Second, 5*time.Second))
	r := dialRuntime(t, h)
	r.send(announceMsg("rt-1"))
	m := r.next()
	resp := m.GetAnnounceResponse()
	if !resp.GetAccepted() || resp.GetHostId() != "host-1" || resp.GetProtocolVersion() != altarv1.ProtocolVersion ||
		resp.GetHeartbeatInterval().AsDuration() != time.Second || resp.GetHeartbeatTimeout().AsDuration() != 5*time.Second ||
		m.GetCorrelationId() != "c-rt-1" {
		t.Fatalf("announce response = %v (correlation %q)", resp, m.GetCorrelationId())
	}
	if !slices.Contains(resp.GetCapabilities(), altarv1.CapabilityStreaming) {
		t.Fatalf("negotiated capabilities %v lack streaming", resp.GetCapabilities())
	}

	r.send(&altarv1.RuntimeMessage{CorrelationId: "q1", Message: &altarv1.RuntimeMessage_GetAvailableContracts{}})
	m = r.next()
	if got := m.GetAvailableContracts().GetContracts(); len(got) != 1 || got[0].GetName() != "echo" || m.GetCorrelationId() != "q1" {
		t.Fatalf("available = %v", m)
	}

	r.send(&altarv1.RuntimeMessage{CorrelationId: "q2", Message: &altarv1.RuntimeMessage_FulfillTools{FulfillTools: &altarv1.FulfillTools{
		Tools: []*altarv1.ToolFulfillment{{ContractName: "echo"}, {ContractName: "rm_rf"}}}}})
	fr := r.next().GetFulfillToolsResponse()
	if len(fr.GetAccepted()) != 1 || len(fr.GetRejected()) != 1 || fr.GetRejected()[0].GetToolName() != "rm_rf" {
		t.Fatalf("fulfil response = %v", fr)
	}
	infos := h.registry.List()
	if len(infos) != 1 || infos[0].GetRuntimeId() != "rt-1" || len(infos[0].GetTools()) != 1 || infos[0].GetTransport() != "grpc" {
		t.Fatalf("registry = %v", infos)
	}
}

func TestAnnounceRefusals(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*altarv1.RuntimeMessage)
		code   altarv1.ErrorCode
	}{
		{"bad id", func(m *altarv1.RuntimeMessage) { m.GetAnnounce().RuntimeId = "a/b" }, altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST},
		{"empty id", func(m *altarv1.RuntimeMessage) { m.GetAnnounce().RuntimeId = "" }, altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST},
		{"protocol 2.0", func(m *altarv1.RuntimeMessage) { m.GetAnnounce().ProtocolVersion = "2.0" }, altarv1.ErrorCode_ERROR_CODE_UNSUPPORTED_PROTOCOL_VERSION},
		{"no protocol", func(m *altarv1.RuntimeMessage) { m.GetAnnounce().ProtocolVersion = "" }, altarv1.ErrorCode_ERROR_CODE_UNSUPPORTED_PROTOCOL_VERSION},
		{"unknown capability", func(m *altarv1.RuntimeMessage) {
			m.GetAnnounce().Capabilities = append(m.GetAnnounce().Capabilities, "teleport")
		}, altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST},
		{"level without its capabilities", func(m *altarv1.RuntimeMessage) {
			m.GetAnnounce().ComplianceLevel = altarv1.ComplianceLevel_COMPLIANCE_LEVEL_2
		}, altarv1.ErrorCode_ERROR_CODE_CAPABILITY_MISSING},
		{"first message not announce", func(m *altarv1.RuntimeMessage) {
			m.Message = &altarv1.RuntimeMessage_GetAvailableContracts{}
		}, altarv1.ErrorCode_ERROR_CODE_PROTOCOL_VIOLATION},
	}
	h := startHost(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := dialRuntime(t, h)
			m := announceMsg("rt")
			tt.mutate(m)
			r.send(m)
			if tt.code != altarv1.ErrorCode_ERROR_CODE_PROTOCOL_VIOLATION {
				resp := r.next().GetAnnounceResponse()
				if resp.GetAccepted() || resp.GetError().GetCode() != tt.code || resp.GetError().GetMessage() == "" {
					t.Fatalf("announce response = %v, want refusal with %v", resp, tt.code)
				}
			}
			if got := altarerr.CodeOf(r.ended()); got != tt.code {
				t.Fatalf("stream ended with %v, want %v", got, tt.code)
			}
			if ids := h.registry.IDs(); len(ids) != 0 {
				t.Fatalf("a refused runtime is registered: %v", ids)
			}
		})
	}
}

func toolCall(id string) *altarv1.ToolCall {
	return &altarv1.ToolCall{InvocationId: id, CorrelationId: "corr-" + id, ToolName: "echo",
		Parameters: map[string]*altarv1.Value{"n": schema.Int(1<<53 + 1)}}
}

func TestInvokeRoundTrip(t *testing.T) {
	h := startHost(t)
	r, c := connect(t, h, "rt")
	done := make(chan struct{})
	go func() {
		defer close(done)
		call := r.next().GetToolCall()
		r.send(&altarv1.RuntimeMessage{Message: &altarv1.RuntimeMessage_ToolResult{ToolResult: &altarv1.ToolResult{
			InvocationId: call.GetInvocationId(), CorrelationId: call.GetCorrelationId(),
			Status: altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS, Payload: call.GetParameters()["n"]}}})
	}()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	res, err := c.Invoke(ctx, toolCall("inv-1"))
	if err != nil {
		t.Fatal(err)
	}
	if res.GetPayload().GetIntValue() != 1<<53+1 || res.GetCorrelationId() != "corr-inv-1" {
		t.Fatalf("result = %v", res)
	}
	<-done
}

func TestCancelReachesRuntime(t *testing.T) {
	h := startHost(t)
	r, c := connect(t, h, "rt")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Invoke(ctx, toolCall("inv-c"))
		errc <- err
	}()
	if r.next().GetToolCall().GetInvocationId() != "inv-c" {
		t.Fatal("expected the tool call")
	}
	cancel()
	if got := r.next().GetCancelInvocation(); got.GetInvocationId() != "inv-c" {
		t.Fatalf("expected CancelInvocation, got %v", got)
	}
	if code := altarerr.CodeOf(<-errc); code != altarv1.ErrorCode_ERROR_CODE_CANCELLED {
		t.Fatalf("code = %v, want CANCELLED", code)
	}
}

func TestDeadlineSendsCancel(t *testing.T) {
	h := startHost(t)
	r, c := connect(t, h, "rt")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := c.Invoke(ctx, toolCall("inv-d"))
		errc <- err
	}()
	r.next() // the call; never answered
	if got := r.next().GetCancelInvocation(); got.GetReason() != "deadline exceeded" {
		t.Fatalf("cancel = %v", got)
	}
	if code := altarerr.CodeOf(<-errc); code != altarv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED {
		t.Fatalf("code = %v", code)
	}
}

func TestDisconnectFailsCallsInFlightAtOnce(t *testing.T) {
	h := startHost(t)
	r, c := connect(t, h, "rt")
	const calls = 20
	errc := make(chan error, calls)
	for i := range calls {
		go func() {
			// No deadline: only the disconnect can end these calls.
			_, err := c.Invoke(context.Background(), toolCall("inv-"+string(rune('a'+i))))
			errc <- err
		}()
	}
	for range calls {
		r.next()
	}
	r.cancel() // the runtime goes away mid-call
	for range calls {
		if code := altarerr.CodeOf(<-errc); code != altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE {
			t.Fatalf("code = %v, want RUNTIME_UNAVAILABLE", code)
		}
	}
	<-c.Done()
	select {
	case id := <-h.authority.gone:
		if id != "rt" {
			t.Fatalf("disconnected %q", id)
		}
	case <-time.After(testTimeout):
		t.Fatal("the authority was not told of the disconnection")
	}
	if ids := h.registry.IDs(); len(ids) != 0 {
		t.Fatalf("registry still has %v", ids)
	}
	if _, err := c.Invoke(context.Background(), toolCall("late")); altarerr.CodeOf(err) != altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE {
		t.Fatalf("a call on a closed conn: %v", err)
	}
}

func TestMissedHeartbeatsDisconnect(t *testing.T) {
	h := startHost(t, runtime.WithHeartbeat(10*time.Millisecond, 50*time.Millisecond))
	r, c := connect(t, h, "silent")
	select {
	case <-c.Done():
	case <-time.After(testTimeout):
		t.Fatal("a silent runtime was not disconnected")
	}
	if code := altarerr.CodeOf(r.ended()); code != altarv1.ErrorCode_ERROR_CODE_CONNECTION_LOST {
		t.Fatalf("stream ended with %v", code)
	}
}

func TestHeartbeatsKeepRuntimeConnected(t *testing.T) {
	h := startHost(t, runtime.WithHeartbeat(10*time.Millisecond, 100*time.Millisecond))
	r, c := connect(t, h, "alive")
	// Answer the Host's heartbeats for a while: 30 of them span 3x the timeout.
	for seen := 0; seen < 30; {
		m, ok := <-r.in
		if !ok {
			t.Fatal("stream ended")
		}
		if hb := m.GetHeartbeat(); hb != nil {
			seen++
			r.send(&altarv1.RuntimeMessage{Message: &altarv1.RuntimeMessage_Heartbeat{Heartbeat: &altarv1.Heartbeat{
				Sequence: hb.GetSequence(), SentAt: timestamppb.Now(), Health: altarv1.RuntimeHealth_RUNTIME_HEALTH_HEALTHY}}})
		}
	}
	select {
	case <-c.Done():
		t.Fatal("a runtime answering heartbeats was disconnected")
	default:
	}
}

// A runtime busy answering calls proves itself alive with every message,
// even when its heartbeats are late (a loaded machine, a long stream).
func TestAnyMessageKeepsRuntimeConnected(t *testing.T) {
	h := startHost(t, runtime.WithHeartbeat(10*time.Millisecond, 100*time.Millisecond))
	r, c := connect(t, h, "busy")
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	// 30 calls answered with results but never a heartbeat: each waits for
	// a Host heartbeat first, so together they span 3x the timeout.
	for i := range 30 {
		errc := make(chan error, 1)
		go func() {
			_, err := c.Invoke(ctx, toolCall(fmt.Sprint("busy-", i)))
			errc <- err
		}()
		sawHeartbeat := false
		for {
			m, ok := <-r.in
			if !ok {
				t.Fatalf("stream ended after %d calls", i)
			}
			if m.GetHeartbeat() != nil {
				sawHeartbeat = true
				continue
			}
			if tc := m.GetToolCall(); tc != nil {
				for !sawHeartbeat {
					if m, ok := <-r.in; !ok {
						t.Fatalf("stream ended after %d calls", i)
					} else if m.GetHeartbeat() != nil {
						sawHeartbeat = true
					}
				}
				r.send(&altarv1.RuntimeMessage{Message: &altarv1.RuntimeMessage_ToolResult{ToolResult: &altarv1.ToolResult{
					InvocationId: tc.GetInvocationId(), Status: altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS}}})
				break
			}
		}
		if err := <-errc; err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	select {
	case <-c.Done():
		t.Fatalf("a runtime answering calls was disconnected: %v", c.(interface{ Err() error }).Err())
	default:
	}
}

func TestStreamChunksAndResultAsChunk(t *testing.T) {
	h := startHost(t)
	r, c := connect(t, h, "rt")
	streamer := c.(runtime.Streamer)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	s, err := streamer.Stream(ctx, toolCall("s1"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r.next()
	for i := uint64(1); i <= 3; i++ {
		r.send(&altarv1.RuntimeMessage{Message: &altarv1.RuntimeMessage_StreamChunk{StreamChunk: &altarv1.StreamChunk{
			InvocationId: "s1", ChunkId: i, Payload: schema.Int(int64(i)), IsFinal: i == 3}}})
	}
	for i := uint64(1); i <= 3; i++ {
		ch, err := s.Recv()
		if err != nil || ch.GetChunkId() != i {
			t.Fatalf("chunk %d: %v, %v", i, ch, err)
		}
	}
	if _, err := s.Recv(); err == nil {
		t.Fatal("want io.EOF after the final chunk")
	}

	// A runtime answering a stream call with a ToolResult sends one final chunk.
	s2, err := streamer.Stream(ctx, toolCall("s2"))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	r.next()
	r.send(&altarv1.RuntimeMessage{Message: &altarv1.RuntimeMessage_ToolResult{ToolResult: &altarv1.ToolResult{
		InvocationId: "s2", Status: altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS, Payload: schema.String("once")}}})
	ch, err := s2.Recv()
	if err != nil || !ch.GetIsFinal() || ch.GetPayload().GetStringValue() != "once" {
		t.Fatalf("chunk = %v, %v", ch, err)
	}
}

func TestStalledStreamReaderFailsOnlyItsStream(t *testing.T) {
	h := startHost(t, runtime.WithStreamBuffer(2, 20*time.Millisecond))
	r, c := connect(t, h, "rt")
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	s, err := c.(runtime.Streamer).Stream(ctx, toolCall("slow"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r.next()
	for i := uint64(1); i <= 4; i++ { // two more than the buffer; nobody reads
		r.send(&altarv1.RuntimeMessage{Message: &altarv1.RuntimeMessage_StreamChunk{StreamChunk: &altarv1.StreamChunk{
			InvocationId: "slow", ChunkId: i, Payload: schema.Int(int64(i))}}})
	}
	if got := r.next().GetCancelInvocation(); got.GetInvocationId() != "slow" {
		t.Fatalf("expected the stalled stream to be cancelled, got %v", got)
	}
	var lastErr error
	for range 3 {
		if _, lastErr = s.Recv(); lastErr != nil {
			break
		}
	}
	if code := altarerr.CodeOf(lastErr); code != altarv1.ErrorCode_ERROR_CODE_STREAM_BROKEN {
		t.Fatalf("code = %v (%v), want STREAM_BROKEN", code, lastErr)
	}

	// The connection still serves other calls.
	go func() {
		call := r.next().GetToolCall()
		r.send(&altarv1.RuntimeMessage{Message: &altarv1.RuntimeMessage_ToolResult{ToolResult: &altarv1.ToolResult{
			InvocationId: call.GetInvocationId(), Status: altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS, Payload: schema.Null()}}})
	}()
	if _, err := c.Invoke(ctx, toolCall("after")); err != nil {
		t.Fatal(err)
	}
}

func TestReconnectReplacesEarlierConnection(t *testing.T) {
	h := startHost(t)
	_, first := connect(t, h, "rt")
	_, second := connect(t, h, "rt")
	select {
	case <-first.Done():
	case <-time.After(testTimeout):
		t.Fatal("the earlier connection was not closed")
	}
	got, err := h.registry.Get("rt")
	if err != nil || got != second {
		t.Fatalf("registry has %v, %v; want the new connection", got, err)
	}
}

func TestDuplicateInvocationIDRefused(t *testing.T) {
	h := startHost(t)
	r, c := connect(t, h, "rt")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _, _ = c.Invoke(ctx, toolCall("dup")) }()
	r.next()
	_, err := c.Invoke(ctx, toolCall("dup"))
	if code := altarerr.CodeOf(err); code != altarv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS {
		t.Fatalf("code = %v", code)
	}
}
