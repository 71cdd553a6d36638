package sdk_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/altar-gateway/altar/plugins/sdk"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// testTimeout bounds every wait for a message, a result or Serve's return.
const testTimeout = 10 * time.Second

// quietInterval is a heartbeat interval long enough that no heartbeat is
// sent during a test that does not look for them.
const quietInterval = time.Hour

// scriptedHost is a test double of the Host's RuntimeService: a real gRPC
// server on 127.0.0.1:0 whose Connect hands each stream to the test as a
// hostConn, so that the test plays the Host's side of the protocol step by
// step. It checks nothing by itself.
type scriptedHost struct {
	altarv1.UnimplementedRuntimeServiceServer
	addr  string
	conns chan *hostConn
}

// hostConn is one runtime stream as the scripted Host sees it. Only the
// test's goroutine sends on it; a reader goroutine owned by Connect receives.
type hostConn struct {
	stream  altarv1.RuntimeService_ConnectServer
	in      chan *altarv1.RuntimeMessage // closed when Recv fails
	recvErr error                        // set before in is closed
	end     chan error                   // what Connect returns
}

func newScriptedHost(t *testing.T) *scriptedHost {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &scriptedHost{addr: lis.Addr().String(), conns: make(chan *hostConn, 8)}
	srv := grpc.NewServer()
	altarv1.RegisterRuntimeServiceServer(srv, h)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Stop()
		if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			t.Errorf("Serve: %v", err)
		}
	})
	return h
}

func (h *scriptedHost) Connect(stream altarv1.RuntimeService_ConnectServer) error {
	c := &hostConn{stream: stream, in: make(chan *altarv1.RuntimeMessage, 64), end: make(chan error, 1)}
	ctx := stream.Context()
	go func() {
		defer close(c.in)
		for {
			m, err := stream.Recv()
			if err != nil {
				c.recvErr = err
				return
			}
			select {
			case c.in <- m:
			case <-ctx.Done():
				c.recvErr = ctx.Err()
				return
			}
		}
	}()
	select {
	case h.conns <- c:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-c.end:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// accept waits for the runtime's next stream.
func (h *scriptedHost) accept(t *testing.T) *hostConn {
	t.Helper()
	select {
	case c := <-h.conns:
		return c
	case <-time.After(testTimeout):
		t.Fatal("no runtime connected")
		return nil
	}
}

// close ends the stream from the Host's side with err (nil: OK status).
func (c *hostConn) close(err error) { c.end <- err }

func (c *hostConn) send(t *testing.T, m *altarv1.HostMessage) {
	t.Helper()
	if err := c.stream.Send(m); err != nil {
		t.Fatalf("Host send: %v", err)
	}
}

// nextAny returns the runtime's next message, heartbeats included.
func (c *hostConn) nextAny(t *testing.T) *altarv1.RuntimeMessage {
	t.Helper()
	select {
	case m, ok := <-c.in:
		if !ok {
			t.Fatalf("stream ended while waiting for a message: %v", c.recvErr)
		}
		return m
	case <-time.After(testTimeout):
		t.Fatal("timed out waiting for a message from the runtime")
		return nil
	}
}

// next returns the runtime's next message that is not a heartbeat.
func (c *hostConn) next(t *testing.T) *altarv1.RuntimeMessage {
	t.Helper()
	for {
		if m := c.nextAny(t); m.GetHeartbeat() == nil {
			return m
		}
	}
}

// expectEOF waits for the runtime to half-close its side, skipping
// heartbeats and failing on anything else.
func (c *hostConn) expectEOF(t *testing.T) {
	t.Helper()
	for {
		select {
		case m, ok := <-c.in:
			if !ok {
				if !errors.Is(c.recvErr, io.EOF) {
					t.Fatalf("stream ended with %v, want the runtime's EOF", c.recvErr)
				}
				return
			}
			if m.GetHeartbeat() == nil {
				t.Fatalf("got %v, want the runtime's EOF", m)
			}
		case <-time.After(testTimeout):
			t.Fatal("timed out waiting for the runtime to close its side")
		}
	}
}

// result returns the next message, which must be a ToolResult.
func (c *hostConn) result(t *testing.T) *altarv1.ToolResult {
	t.Helper()
	m := c.next(t)
	if m.GetToolResult() == nil {
		t.Fatalf("got %v, want a tool_result", m)
	}
	if m.GetCorrelationId() != m.GetToolResult().GetCorrelationId() {
		t.Errorf("envelope correlation_id %q, result's %q", m.GetCorrelationId(), m.GetToolResult().GetCorrelationId())
	}
	return m.GetToolResult()
}

// chunk returns the next message, which must be a StreamChunk.
func (c *hostConn) chunk(t *testing.T) *altarv1.StreamChunk {
	t.Helper()
	m := c.next(t)
	if m.GetStreamChunk() == nil {
		t.Fatalf("got %v, want a stream_chunk", m)
	}
	return m.GetStreamChunk()
}

// call sends a ToolCall with a deadline testTimeout away.
func (c *hostConn) call(t *testing.T, id, tool string, params map[string]*altarv1.Value, stream bool) {
	t.Helper()
	c.send(t, &altarv1.HostMessage{CorrelationId: "corr-" + id, Message: &altarv1.HostMessage_ToolCall{ToolCall: &altarv1.ToolCall{
		InvocationId:  id,
		CorrelationId: "corr-" + id,
		ToolName:      tool,
		Parameters:    params,
		Deadline:      timestamppb.New(time.Now().Add(testTimeout)),
		Stream:        stream,
		Attempt:       1,
	}}})
}

func (c *hostConn) cancel(t *testing.T, id, reason string) {
	t.Helper()
	c.send(t, &altarv1.HostMessage{CorrelationId: "corr-" + id, Message: &altarv1.HostMessage_CancelInvocation{
		CancelInvocation: &altarv1.CancelInvocation{InvocationId: id, CorrelationId: "corr-" + id, Reason: reason}}})
}

// boot is how the scripted Host answers a bootstrap.
type boot struct {
	mode              altarv1.HostMode        // default STRICT
	offered           []string                // contract names in AvailableContracts
	reject            map[string]string       // tool -> message of a CONTRACT_MISMATCH rejection
	heartbeatInterval time.Duration           // default quietInterval
	heartbeatTimeout  time.Duration           // default: unset
	register          bool                    // expect RegisterTools
	noFulfil          bool                    // none of the offered contracts is the runtime's
	registerAccept    func(string) bool       // default: accept all
	offerContracts    []*altarv1.ToolContract // instead of bare names
}

// bootResult is what the runtime sent during the bootstrap.
type bootResult struct {
	announce *altarv1.RuntimeMessage
	get      *altarv1.RuntimeMessage
	fulfill  *altarv1.RuntimeMessage
	register *altarv1.RuntimeMessage
}

// bootstrap plays the Host's side of announce, discovery and fulfilment.
func (c *hostConn) bootstrap(t *testing.T, b boot) bootResult {
	t.Helper()
	var r bootResult
	r.announce = c.next(t)
	a := r.announce.GetAnnounce()
	if a == nil {
		t.Fatalf("first message %v, want announce", r.announce)
	}
	if b.mode == altarv1.HostMode_HOST_MODE_UNSPECIFIED {
		b.mode = altarv1.HostMode_HOST_MODE_STRICT
	}
	if b.heartbeatInterval == 0 {
		b.heartbeatInterval = quietInterval
	}
	resp := &altarv1.AnnounceRuntimeResponse{
		Accepted:          true,
		HostId:            "scripted-host",
		ProtocolVersion:   altarv1.ProtocolVersion,
		HostMode:          b.mode,
		Capabilities:      a.GetCapabilities(),
		HeartbeatInterval: durationpb.New(b.heartbeatInterval),
	}
	if b.heartbeatTimeout > 0 {
		resp.HeartbeatTimeout = durationpb.New(b.heartbeatTimeout)
	}
	c.send(t, &altarv1.HostMessage{CorrelationId: r.announce.GetCorrelationId(),
		Message: &altarv1.HostMessage_AnnounceResponse{AnnounceResponse: resp}})

	r.get = c.next(t)
	if r.get.GetGetAvailableContracts() == nil {
		t.Fatalf("second message %v, want get_available_contracts", r.get)
	}
	contracts := b.offerContracts
	for _, name := range b.offered {
		contracts = append(contracts, &altarv1.ToolContract{Name: name, Version: "1.0.0"})
	}
	c.send(t, &altarv1.HostMessage{CorrelationId: r.get.GetCorrelationId(), Message: &altarv1.HostMessage_AvailableContracts{
		AvailableContracts: &altarv1.AvailableContracts{Contracts: contracts}}})
	var names []string
	for _, c := range contracts {
		names = append(names, c.GetName())
	}
	replies := 0
	if len(contracts) > 0 && !b.noFulfil {
		replies++
	}
	if b.register {
		replies++
	}
	for range replies {
		m := c.next(t)
		switch {
		case m.GetFulfillTools() != nil:
			r.fulfill = m
			resp := &altarv1.FulfillToolsResponse{}
			for _, f := range m.GetFulfillTools().GetTools() {
				if !slices.Contains(names, f.GetContractName()) {
					t.Errorf("runtime offered %q, which the Host did not list", f.GetContractName())
				}
				if msg, ok := b.reject[f.GetContractName()]; ok {
					resp.Rejected = append(resp.Rejected, &altarv1.ToolRejection{ToolName: f.GetContractName(),
						Error: &altarv1.Error{Code: altarv1.ErrorCode_ERROR_CODE_CONTRACT_MISMATCH, Message: msg}})
					continue
				}
				resp.Accepted = append(resp.Accepted, &altarv1.FulfilledTool{ContractName: f.GetContractName(),
					ContractVersion: "1.0.0", QualifiedName: a.GetRuntimeId() + "/" + f.GetContractName()})
			}
			c.send(t, &altarv1.HostMessage{CorrelationId: m.GetCorrelationId(),
				Message: &altarv1.HostMessage_FulfillToolsResponse{FulfillToolsResponse: resp}})
		case m.GetRegisterTools() != nil:
			r.register = m
			resp := &altarv1.RegisterToolsResponse{}
			for _, ct := range m.GetRegisterTools().GetContracts() {
				if b.registerAccept != nil && !b.registerAccept(ct.GetName()) {
					resp.Rejected = append(resp.Rejected, &altarv1.ToolRejection{ToolName: ct.GetName(),
						Error: &altarv1.Error{Code: altarv1.ErrorCode_ERROR_CODE_NAME_COLLISION, Message: "taken"}})
					continue
				}
				resp.Accepted = append(resp.Accepted, &altarv1.FulfilledTool{ContractName: ct.GetName(),
					ContractVersion: ct.GetVersion(), QualifiedName: a.GetRuntimeId() + "/" + ct.GetName()})
			}
			c.send(t, &altarv1.HostMessage{CorrelationId: m.GetCorrelationId(),
				Message: &altarv1.HostMessage_RegisterToolsResponse{RegisterToolsResponse: resp}})
		default:
			t.Fatalf("got %v, want fulfill_tools or register_tools", m)
		}
	}
	return r
}

// served is a runtime running Serve in the background.
type served struct {
	rt     *sdk.Runtime
	cancel context.CancelFunc
	errc   chan error
	done   bool
}

// wait returns Serve's error.
func (s *served) wait(t *testing.T) error {
	t.Helper()
	if s.done {
		t.Fatal("wait called twice")
	}
	select {
	case err := <-s.errc:
		s.done = true
		return err
	case <-time.After(testTimeout):
		t.Fatal("Serve did not return")
		return nil
	}
}

// startRuntime runs a runtime with the tools against h until the test ends.
func startRuntime(t *testing.T, h *scriptedHost, tools []sdk.Tool, opts ...sdk.Option) *served {
	t.Helper()
	base := []sdk.Option{
		sdk.WithLogger(testLogger(t)),
		sdk.WithReconnect(time.Millisecond, 20*time.Millisecond),
	}
	rt, err := sdk.New("test-rt", tools, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &served{rt: rt, cancel: cancel, errc: make(chan error, 1)}
	go func() { s.errc <- rt.Serve(ctx, h.addr) }()
	t.Cleanup(func() {
		cancel()
		if !s.done {
			if err := s.wait(t); err != nil {
				t.Errorf("Serve: %v", err)
			}
		}
	})
	return s
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}
