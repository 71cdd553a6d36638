package gateway_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/altar-gateway/altar/gateway"
	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/audit"
	"github.com/altar-gateway/altar/gateway/invoke"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Health states as ListRuntimes shows them.
const (
	healthy   = altarv1.RuntimeHealth_RUNTIME_HEALTH_HEALTHY
	degraded  = altarv1.RuntimeHealth_RUNTIME_HEALTH_DEGRADED
	unhealthy = altarv1.RuntimeHealth_RUNTIME_HEALTH_UNHEALTHY
)

// rawRuntime speaks the runtime protocol over real gRPC message by
// message, so that a test decides exactly when it sends heartbeats and
// what health they report. It answers every ToolCall at once with its id
// as the payload.
type rawRuntime struct {
	t      *testing.T
	id     string
	cc     *grpc.ClientConn
	stream altarv1.RuntimeService_ConnectClient
	cancel context.CancelFunc

	sendMu  sync.Mutex
	replies chan *altarv1.HostMessage // what is neither a heartbeat nor a ToolCall
	ended   chan struct{}             // closed when the stream has ended
	recvErr error                     // why, once ended is closed

	health  atomic.Int32 // what the heartbeats report
	beating chan struct{}
	stopped chan struct{}
	once    sync.Once
}

// connectRaw announces id to the Host and fulfils tools, and sends no
// heartbeat until told to.
func connectRaw(t *testing.T, h *testHost, id string, tools ...string) *rawRuntime {
	t.Helper()
	cc, err := grpc.NewClient(h.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := altarv1.NewRuntimeServiceClient(cc).Connect(ctx)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	r := &rawRuntime{t: t, id: id, cc: cc, stream: stream, cancel: cancel,
		replies: make(chan *altarv1.HostMessage, 64), ended: make(chan struct{}),
		beating: make(chan struct{}), stopped: make(chan struct{})}
	go r.receive()
	t.Cleanup(r.close)

	r.send(&altarv1.RuntimeMessage{CorrelationId: "announce", Message: &altarv1.RuntimeMessage_Announce{Announce: &altarv1.AnnounceRuntime{
		RuntimeId: id, Language: "go", Version: "test", ProtocolVersion: altarv1.ProtocolVersion,
		Capabilities: []string{altarv1.CapabilityLevel1, altarv1.CapabilityHeartbeat},
	}}})
	if resp := r.reply().GetAnnounceResponse(); !resp.GetAccepted() {
		t.Fatalf("announce of %s refused: %v", id, resp.GetError())
	}
	offer := &altarv1.FulfillTools{}
	for _, name := range tools {
		offer.Tools = append(offer.Tools, &altarv1.ToolFulfillment{ContractName: name})
	}
	r.send(&altarv1.RuntimeMessage{CorrelationId: "fulfil", Message: &altarv1.RuntimeMessage_FulfillTools{FulfillTools: offer}})
	if resp := r.reply().GetFulfillToolsResponse(); len(resp.GetAccepted()) != len(tools) {
		t.Fatalf("fulfilment of %s: %v", id, resp)
	}
	return r
}

func (r *rawRuntime) receive() {
	defer close(r.ended)
	for {
		m, err := r.stream.Recv()
		if err != nil {
			r.recvErr = err
			return
		}
		switch {
		case m.GetHeartbeat() != nil:
		case m.GetToolCall() != nil:
			r.trySend(&altarv1.RuntimeMessage{Message: &altarv1.RuntimeMessage_ToolResult{ToolResult: &altarv1.ToolResult{
				InvocationId: m.GetToolCall().GetInvocationId(), CorrelationId: m.GetToolCall().GetCorrelationId(),
				Status: altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS, Payload: schema.String(r.id),
			}}})
		default:
			select {
			case r.replies <- m:
			default: // nobody is waiting for it
			}
		}
	}
}

func (r *rawRuntime) trySend(m *altarv1.RuntimeMessage) error {
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	return r.stream.Send(m)
}

func (r *rawRuntime) send(m *altarv1.RuntimeMessage) {
	r.t.Helper()
	if err := r.trySend(m); err != nil {
		r.t.Fatalf("%s: send: %v", r.id, err)
	}
}

// reply is the Host's next message that is neither a heartbeat nor a call.
func (r *rawRuntime) reply() *altarv1.HostMessage {
	r.t.Helper()
	select {
	case m := <-r.replies:
		return m
	case <-r.ended:
		r.t.Fatalf("%s: the stream ended: %v", r.id, r.recvErr)
	case <-time.After(testTimeout):
		r.t.Fatalf("%s: no answer from the Host", r.id)
	}
	return nil
}

// beat sends heartbeats reporting health every interval until the test
// ends; a later call only changes the health they report.
func (r *rawRuntime) beat(health altarv1.RuntimeHealth, interval time.Duration) {
	r.health.Store(int32(health))
	select {
	case <-r.beating:
		return // already beating
	default:
		close(r.beating)
	}
	go func() {
		defer close(r.stopped)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for seq := uint64(1); ; seq++ {
			hb := &altarv1.Heartbeat{Sequence: seq, SentAt: timestamppb.Now(), Health: altarv1.RuntimeHealth(r.health.Load())}
			if r.trySend(&altarv1.RuntimeMessage{Message: &altarv1.RuntimeMessage_Heartbeat{Heartbeat: hb}}) != nil {
				return
			}
			select {
			case <-tick.C:
			case <-r.ended:
				return
			}
		}
	}()
}

func (r *rawRuntime) close() {
	r.once.Do(func() {
		r.cancel()
		<-r.ended
		select {
		case <-r.beating:
			<-r.stopped
		default:
		}
		_ = r.cc.Close()
	})
}

// runtimeInfo is the runtime as ListRuntimes shows it; nil when it is not
// listed.
func runtimeInfo(t *testing.T, h *testHost, id string) *altarv1.RuntimeInfo {
	t.Helper()
	list, err := h.client.ListRuntimes(ctxT(t), &altarv1.ListRuntimesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range list.GetRuntimes() {
		if info.GetRuntimeId() == id {
			return info
		}
	}
	return nil
}

func healthOf(t *testing.T, h *testHost, id string) altarv1.RuntimeHealth {
	t.Helper()
	info := runtimeInfo(t, h, id)
	if info == nil {
		t.Fatalf("%s is not listed", id)
	}
	return info.GetHealth()
}

// callEcho calls name (echo, bare or qualified) and returns the runtime
// that answered.
func callEcho(t *testing.T, h *testHost, name string) (string, error) {
	t.Helper()
	resp, err := h.client.Invoke(ctxT(t), &altarv1.InvokeRequest{ToolName: name, Parameters: args("message", "hi")})
	return resp.GetResult().GetRuntimeId(), err
}

// A runtime that falls silent for more than two heartbeat intervals, but
// not yet for its heartbeat timeout, is slow: DEGRADED. It stays routable,
// but a healthy runtime is preferred to it. Heartbeats saying it is
// healthy make it HEALTHY again.
func TestSilentRuntimeIsDegraded(t *testing.T) {
	const interval = 250 * time.Millisecond
	h := startHost(t, altarv1.HostMode_HOST_MODE_STRICT, func(c *gateway.Config) {
		c.Runtimes.HeartbeatInterval = interval
		c.Runtimes.HeartbeatTimeout = time.Minute
	})
	startRuntime(t, h, "rt-a", newTools())
	// rt-0 sorts before rt-a: on a tie between equals it would get the call.
	slow := connectRaw(t, h, "rt-0", "echo")

	waitUntil(t, func() bool { return healthOf(t, h, "rt-0") == degraded })
	if got := healthOf(t, h, "rt-a"); got != healthy {
		t.Fatalf("rt-a, which sends its heartbeats, is %v", got)
	}
	for range 3 {
		if id, err := callEcho(t, h, "echo"); err != nil || id != "rt-a" {
			t.Fatalf("echo went to %q (%v), want the healthy rt-a before the degraded rt-0", id, err)
		}
	}
	if id, err := callEcho(t, h, "rt-0/echo"); err != nil || id != "rt-0" {
		t.Fatalf("a degraded runtime named by the caller: %q, %v; want it served", id, err)
	}

	slow.beat(healthy, interval/5)
	waitUntil(t, func() bool { return healthOf(t, h, "rt-0") == healthy })
}

// A runtime silent for its whole heartbeat timeout is disconnected: it is
// no longer listed, its tools are unrouted, and its unregistration is
// audited.
func TestMissedHeartbeatsUnrouteTheRuntime(t *testing.T) {
	rec := &audit.Recorder{}
	h := startHost(t, altarv1.HostMode_HOST_MODE_STRICT, func(c *gateway.Config) {
		c.Runtimes.HeartbeatInterval = 50 * time.Millisecond
		c.Runtimes.HeartbeatTimeout = 300 * time.Millisecond
		c.AuditSink = rec
	})
	gone := connectRaw(t, h, "rt-0", "echo")
	if id, err := callEcho(t, h, "rt-0/echo"); err != nil || id != "rt-0" {
		t.Fatalf("before the timeout: %q, %v", id, err)
	}
	within(t, gone.ended, "the Host to drop the silent runtime")
	if gone.recvErr == nil {
		t.Fatal("the Host ended the stream without saying why")
	}
	waitUntil(t, func() bool { return runtimeInfo(t, h, "rt-0") == nil })
	if _, err := callEcho(t, h, "rt-0/echo"); altarerr.CodeOf(err) != altarv1.ErrorCode_ERROR_CODE_TOOL_NOT_FOUND {
		t.Fatalf("rt-0/echo after the disconnect: %v, want TOOL_NOT_FOUND", err)
	}
	if _, err := callEcho(t, h, "echo"); altarerr.CodeOf(err) != altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE {
		t.Fatalf("echo with no runtime: %v, want RUNTIME_UNAVAILABLE", err)
	}
	waitUntil(t, func() bool {
		return slices.ContainsFunc(rec.Events(), func(e audit.Event) bool {
			return e.Kind == audit.KindRuntimeUnregister && e.RuntimeID == "rt-0" && e.Detail["tools"] == "echo"
		})
	})
}

// A runtime whose calls keep failing is erroring: once its circuit
// breaker opens, ListRuntimes shows it DEGRADED although its heartbeats
// say it is healthy.
func TestErroringRuntimeIsDegraded(t *testing.T) {
	h := startHost(t, altarv1.HostMode_HOST_MODE_STRICT, func(c *gateway.Config) {
		c.Runtimes.HeartbeatInterval = time.Second
		c.Runtimes.HeartbeatTimeout = time.Minute
		c.Invoke.DefaultTimeout = 100 * time.Millisecond // block has no timeout of its own
		c.Invoke.Options = append(c.Invoke.Options,
			invoke.WithBreaker(invoke.BreakerSettings{ConsecutiveFailures: 2, OpenTimeout: time.Hour}))
	})
	tl := newTools()
	startRuntime(t, h, "rt-a", tl)
	if info := runtimeInfo(t, h, "rt-a"); info.GetHealth() != healthy || info.GetBreakerState() != "closed" {
		t.Fatalf("a fresh runtime: %v, breaker %s", info.GetHealth(), info.GetBreakerState())
	}
	for i := range 2 {
		if _, err := h.client.Invoke(ctxT(t), &altarv1.InvokeRequest{ToolName: "block", Parameters: args("tag", "x")}); altarerr.CodeOf(err) != altarv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED {
			t.Fatalf("call %d: %v, want DEADLINE_EXCEEDED", i, err)
		}
	}
	info := runtimeInfo(t, h, "rt-a")
	if info.GetBreakerState() != "open" || info.GetHealth() != degraded {
		t.Fatalf("after 2 failures: health %v, breaker %s; want DEGRADED, open", info.GetHealth(), info.GetBreakerState())
	}
	// The runtime's own view (its heartbeats) has not changed: the Host
	// derives the state from the breaker.
	for _, ri := range h.Runtimes().List() {
		if ri.GetRuntimeId() == "rt-a" && ri.GetHealth() != healthy {
			t.Fatalf("the registry's health of rt-a is %v", ri.GetHealth())
		}
	}
}

// UNHEALTHY is never decided by the Host itself: it is what a runtime
// reports in its heartbeats (the Go SDK does while it drains). The Host
// then routes it no call, not even one that names it, until it reports
// itself healthy again.
func TestSelfReportedUnhealthyRuntimeIsNotRouted(t *testing.T) {
	const interval = 250 * time.Millisecond
	h := startHost(t, altarv1.HostMode_HOST_MODE_STRICT, func(c *gateway.Config) {
		c.Runtimes.HeartbeatInterval = interval
		c.Runtimes.HeartbeatTimeout = time.Minute
	})
	startRuntime(t, h, "rt-a", newTools())
	sick := connectRaw(t, h, "rt-0", "echo")
	sick.beat(unhealthy, interval/5)
	waitUntil(t, func() bool { return healthOf(t, h, "rt-0") == unhealthy })

	_, err := callEcho(t, h, "rt-0/echo")
	if e := altarerr.From(err); e.Code != altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE {
		t.Fatalf("a call naming the unhealthy rt-0: %v, want RUNTIME_UNAVAILABLE", err)
	}
	for range 3 {
		if id, err := callEcho(t, h, "echo"); err != nil || id != "rt-a" {
			t.Fatalf("echo went to %q (%v), want rt-a", id, err)
		}
	}

	sick.beat(healthy, interval/5)
	waitUntil(t, func() bool { return healthOf(t, h, "rt-0") == healthy })
	if id, err := callEcho(t, h, "rt-0/echo"); err != nil || id != "rt-0" {
		t.Fatalf("rt-0/echo once healthy again: %q, %v", id, err)
	}
}

// A Go SDK runtime that shuts down with a call in flight reports itself
// UNHEALTHY while it drains; the call still completes.
func TestDrainingSDKRuntimeIsUnhealthy(t *testing.T) {
	h := startHost(t, altarv1.HostMode_HOST_MODE_STRICT)
	tl := newTools()
	rt := serveTools(t, h, "rt-a", tl.list("rt-a"))
	call := goInvoke(h, &altarv1.InvokeRequest{ToolName: "block", Parameters: args("tag", "drain")})
	within(t, tl.started, "the call to start")

	shutdown := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		shutdown <- rt.Shutdown(ctx)
	}()
	waitUntil(t, func() bool { return healthOf(t, h, "rt-a") == unhealthy })

	close(tl.release)
	if r := within(t, call, "the call in flight"); r.err != nil || r.resp.GetResult().GetPayload().GetStringValue() != "released by rt-a" {
		t.Fatalf("the call in flight during the drain: %v, %v", r.resp, r.err)
	}
	if err := within(t, shutdown, "Shutdown"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return runtimeInfo(t, h, "rt-a") == nil })
}

// Lateness is the Host's view and clears when heartbeats come again, even
// heartbeats that report no health of their own (the field is optional).
func TestLateRuntimeRecoversWithoutReportingHealth(t *testing.T) {
	const interval = 250 * time.Millisecond
	h := startHost(t, altarv1.HostMode_HOST_MODE_STRICT, func(c *gateway.Config) {
		c.Runtimes.HeartbeatInterval = interval
		c.Runtimes.HeartbeatTimeout = time.Minute
	})
	late := connectRaw(t, h, "rt-0", "echo")
	waitUntil(t, func() bool { return healthOf(t, h, "rt-0") == degraded })
	late.beat(altarv1.RuntimeHealth_RUNTIME_HEALTH_UNSPECIFIED, interval/5)
	waitUntil(t, func() bool { return healthOf(t, h, "rt-0") == healthy })
}

// A runtime that said it is UNHEALTHY and then falls silent stays
// UNHEALTHY: being late must not make it look better (DEGRADED, and so
// routable) than it said it was.
func TestSilenceDoesNotMakeAnUnhealthyRuntimeRoutable(t *testing.T) {
	const interval = 100 * time.Millisecond
	h := startHost(t, altarv1.HostMode_HOST_MODE_STRICT, func(c *gateway.Config) {
		c.Runtimes.HeartbeatInterval = interval
		c.Runtimes.HeartbeatTimeout = time.Minute
	})
	sick := connectRaw(t, h, "rt-0", "echo")
	hb := &altarv1.Heartbeat{Sequence: 1, SentAt: timestamppb.Now(), Health: unhealthy}
	if err := sick.trySend(&altarv1.RuntimeMessage{Message: &altarv1.RuntimeMessage_Heartbeat{Heartbeat: hb}}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return healthOf(t, h, "rt-0") == unhealthy })
	// Silent for four intervals: the Host has judged it late by now.
	waitUntil(t, func() bool {
		return time.Since(runtimeInfo(t, h, "rt-0").GetLastHeartbeatAt().AsTime()) > 4*interval
	})
	if got := healthOf(t, h, "rt-0"); got != unhealthy {
		t.Fatalf("a silent runtime that reported UNHEALTHY shows %v", got)
	}
	_, err := callEcho(t, h, "rt-0/echo")
	if e := altarerr.From(err); e.Code != altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE {
		t.Fatalf("a call naming it: %v, want RUNTIME_UNAVAILABLE", err)
	}
}
