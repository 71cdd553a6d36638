package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/altar-gateway/altar/gateway/schema"
	"github.com/altar-gateway/altar/plugins/handshake"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// rawPrefix starts every line the raw mode writes to standard error about
// the Host's answers and the calls it received, so that the tests find
// them in the Host's log (the "line" of a "plugin stderr" record):
//
//	testplugin raw: fulfil answered {FulfillToolsResponse as JSON}
//	testplugin raw: register answered {RegisterToolsResponse as JSON}
//	testplugin raw: call TOOL
const rawPrefix = "testplugin raw: "

// rawConnectTimeout bounds the wait for the Host to open the stream.
const rawConnectTimeout = 30 * time.Second

// serveRaw serves as a plugin without the SDK, speaking the runtime
// protocol message by message, to try what the SDK never does: widen the
// Host's contracts. After announcing itself (with the id the Host gave
// it) and asking for the available contracts, it offers in one
// FulfillTools
//
//   - pid, declaring exactly the Host's contract (the control: accepted);
//   - sneak, which no manifest has;
//   - add, declaring a contract wider than the Host's (an extra parameter
//     c, and b no longer required);
//
// then registers, in one RegisterTools with acknowledge_insecure, a new
// tool "scratch" and its widened add. It writes each answer to standard
// error (rawPrefix), answers every call it is sent (pid, sneak, add,
// scratch) and logs it, and exits when the Host ends the stream.
func serveRaw(ctx context.Context) error {
	if os.Getenv(handshake.MagicCookieKey) != handshake.MagicCookieValue {
		return errors.New("raw mode serves only as a plugin")
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := grpc.NewServer()
	rs := &rawServer{id: os.Getenv(handshake.EnvRuntimeID), streams: make(chan struct{}, 1), done: make(chan error, 1)}
	altarv1.RegisterPluginServiceServer(srv, rs)
	hs := health.NewServer()
	hs.SetServingStatus(handshake.HealthService, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()
	fmt.Printf("%d|%d|tcp|%s|grpc\n", handshake.CoreProtocolVersion, handshake.ProtocolVersion, lis.Addr())
	_ = os.Stdout.Sync()

	t := time.NewTimer(rawConnectTimeout)
	defer t.Stop()
	select {
	case <-rs.streams:
	case <-t.C:
		return errors.New("the Host opened no stream")
	case <-ctx.Done():
		return nil
	}
	select {
	case err := <-rs.done:
		return err
	case <-ctx.Done():
		return nil
	}
}

type rawServer struct {
	altarv1.UnimplementedPluginServiceServer
	id      string
	streams chan struct{}
	done    chan error
}

// Connect runs the session on the Host's one stream.
func (s *rawServer) Connect(stream altarv1.PluginService_ConnectServer) error {
	select {
	case s.streams <- struct{}{}:
	default:
		return errors.New("one stream only")
	}
	r := &rawSession{stream: stream}
	err := r.run(s.id)
	s.done <- err
	return err
}

type rawSession struct {
	stream altarv1.PluginService_ConnectServer
	mu     sync.Mutex // orders Sends (heartbeats, results)
}

func (r *rawSession) send(corr string, m *altarv1.RuntimeMessage) error {
	m.CorrelationId = corr
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stream.Send(m)
}

// await receives until the Host's answer of the given kind, skipping its
// heartbeats.
func await[T any](r *rawSession, get func(*altarv1.HostMessage) T, isSet func(T) bool) (T, error) {
	for {
		m, err := r.stream.Recv()
		if err != nil {
			var zero T
			return zero, err
		}
		if v := get(m); isSet(v) {
			return v, nil
		}
		if m.GetHeartbeat() == nil {
			var zero T
			return zero, fmt.Errorf("unexpected message from the Host: %v", m)
		}
	}
}

func (r *rawSession) run(id string) error {
	ctx := r.stream.Context()
	if err := r.send("announce", &altarv1.RuntimeMessage{Message: &altarv1.RuntimeMessage_Announce{Announce: &altarv1.AnnounceRuntime{
		RuntimeId: id, Language: "go", Version: "raw", ProtocolVersion: altarv1.ProtocolVersion,
	}}}); err != nil {
		return err
	}
	ar, err := await(r, (*altarv1.HostMessage).GetAnnounceResponse, func(v *altarv1.AnnounceRuntimeResponse) bool { return v != nil })
	if err != nil {
		return err
	}
	if !ar.GetAccepted() {
		return fmt.Errorf("announce refused: %v", ar.GetError())
	}
	interval := ar.GetHeartbeatInterval().AsDuration()
	if interval <= 0 {
		interval = time.Second
	}
	go r.heartbeats(ctx, interval)

	if err := r.send("contracts", &altarv1.RuntimeMessage{Message: &altarv1.RuntimeMessage_GetAvailableContracts{
		GetAvailableContracts: &altarv1.GetAvailableContracts{}}}); err != nil {
		return err
	}
	av, err := await(r, (*altarv1.HostMessage).GetAvailableContracts, func(v *altarv1.AvailableContracts) bool { return v != nil })
	if err != nil {
		return err
	}
	trusted := map[string]*altarv1.ToolContract{}
	for _, c := range av.GetContracts() {
		trusted[c.GetName()] = c
	}
	if trusted["pid"] == nil || trusted["add"] == nil {
		return fmt.Errorf("the Host lists no pid or add contract: %v", av)
	}
	wideAdd := widen(trusted["add"])

	if err := r.send("fulfil", &altarv1.RuntimeMessage{Message: &altarv1.RuntimeMessage_FulfillTools{FulfillTools: &altarv1.FulfillTools{
		Tools: []*altarv1.ToolFulfillment{
			{ContractName: "pid", DeclaredContract: trusted["pid"]},
			{ContractName: "sneak"},
			{ContractName: "add", DeclaredContract: wideAdd},
		},
	}}}); err != nil {
		return err
	}
	fr, err := await(r, (*altarv1.HostMessage).GetFulfillToolsResponse, func(v *altarv1.FulfillToolsResponse) bool { return v != nil })
	if err != nil {
		return err
	}
	report("fulfil answered", fr)

	scratch := &altarv1.ToolContract{
		Name: "scratch", Version: "1.0.0", Description: "A tool the plugin defines itself.",
		Parameters: &altarv1.ParameterSchema{Type: altarv1.AltarType_ALTAR_TYPE_OBJECT},
		ReturnType: &altarv1.ParameterSchema{Type: altarv1.AltarType_ALTAR_TYPE_STRING},
	}
	if err := r.send("register", &altarv1.RuntimeMessage{Message: &altarv1.RuntimeMessage_RegisterTools{RegisterTools: &altarv1.RegisterTools{
		Contracts: []*altarv1.ToolContract{scratch, wideAdd}, AcknowledgeInsecure: true,
	}}}); err != nil {
		return err
	}
	rr, err := await(r, (*altarv1.HostMessage).GetRegisterToolsResponse, func(v *altarv1.RegisterToolsResponse) bool { return v != nil })
	if err != nil {
		return err
	}
	report("register answered", rr)

	for {
		m, err := r.stream.Recv()
		if err != nil {
			return nil // the Host ended the stream
		}
		if call := m.GetToolCall(); call != nil {
			fmt.Fprintf(os.Stderr, "%scall %s\n", rawPrefix, call.GetToolName())
			if err := r.send(call.GetCorrelationId(), &altarv1.RuntimeMessage{Message: &altarv1.RuntimeMessage_ToolResult{ToolResult: answer(call)}}); err != nil {
				return nil
			}
		}
	}
}

func (r *rawSession) heartbeats(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for seq := uint64(1); ; seq++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if r.send("", &altarv1.RuntimeMessage{Message: &altarv1.RuntimeMessage_Heartbeat{Heartbeat: &altarv1.Heartbeat{
			Sequence: seq, Health: altarv1.RuntimeHealth_RUNTIME_HEALTH_HEALTHY}}}) != nil {
			return
		}
	}
}

// widen returns the Host's add with a wider parameter schema: an extra
// number c, and only a required.
func widen(add *altarv1.ToolContract) *altarv1.ToolContract {
	w := proto.Clone(add).(*altarv1.ToolContract)
	if w.Parameters.Properties == nil {
		w.Parameters.Properties = map[string]*altarv1.ParameterSchema{}
	}
	w.Parameters.Properties["c"] = &altarv1.ParameterSchema{Type: altarv1.AltarType_ALTAR_TYPE_NUMBER}
	w.Parameters.Required = []string{"a"}
	return w
}

// answer executes a call of any tool the plugin offered or registered.
func answer(call *altarv1.ToolCall) *altarv1.ToolResult {
	res := &altarv1.ToolResult{InvocationId: call.GetInvocationId(), CorrelationId: call.GetCorrelationId(),
		Status: altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS}
	p := call.GetParameters()
	switch call.GetToolName() {
	case "pid":
		res.Payload = schema.Int(int64(os.Getpid()))
	case "sneak":
		res.Payload = schema.String("sneaked")
	case "scratch":
		res.Payload = schema.String("scratched")
	case "add":
		res.Payload = schema.Double(p["a"].GetDoubleValue() + p["b"].GetDoubleValue() + p["c"].GetDoubleValue())
	default:
		res.Status = altarv1.ToolResultStatus_TOOL_RESULT_STATUS_ERROR
		res.Error = &altarv1.Error{Code: altarv1.ErrorCode_ERROR_CODE_TOOL_NOT_FOUND, Message: "no tool " + call.GetToolName()}
	}
	return res
}

// report writes one of the Host's answers to standard error, as one line.
func report(what string, m proto.Message) {
	b, err := protojson.Marshal(m)
	if err != nil {
		b = []byte(fmt.Sprintf("%q", err.Error()))
	}
	fmt.Fprintf(os.Stderr, "%s%s %s\n", rawPrefix, what, b)
}
