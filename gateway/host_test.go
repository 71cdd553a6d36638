package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/altar-gateway/altar/gateway"
	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/invoke"
	"github.com/altar-gateway/altar/gateway/schema"
	"github.com/altar-gateway/altar/plugins/sdk"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

const testTimeout = 20 * time.Second

// quiet keeps the SDK's logs out of test output.
var quiet = sdk.WithLogger(slog.New(slog.DiscardHandler))

// testHost is a real Host on loopback with a gRPC client to its Host API.
type testHost struct {
	*gateway.Host
	client altarv1.HostServiceClient
}

func startHost(t *testing.T, mode altarv1.HostMode, configure ...func(*gateway.Config)) *testHost {
	t.Helper()
	cfg := gateway.DefaultConfig()
	cfg.GRPCAddr = "127.0.0.1:0"
	cfg.ManifestPaths = []string{"testdata/host.yaml"}
	cfg.Mode = mode
	cfg.Runtimes.HeartbeatInterval = 200 * time.Millisecond
	cfg.Runtimes.HeartbeatTimeout = 2 * time.Second
	for _, f := range configure {
		f(&cfg)
	}
	h, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient(h.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		_ = h.Close(ctx)
	})
	return &testHost{Host: h, client: altarv1.NewHostServiceClient(cc)}
}

// tools are the test runtime's tools; started reports each blocking call
// as it begins, cancelled as its context ends.
type tools struct {
	echoCalls atomic.Int64
	started   chan string
	cancelled chan string
	release   chan struct{} // closing it makes block_idem answer
}

func newTools() *tools {
	return &tools{started: make(chan string, 1024), cancelled: make(chan string, 1024), release: make(chan struct{})}
}

type echoArgs struct {
	Message string `json:"message"`
	N       *int64 `json:"n"`
}

type tagArgs struct {
	Tag string `json:"tag,omitempty"`
}

func (tl *tools) list(id string) []sdk.Tool {
	blockFn := func(idem bool) func(ctx context.Context, in tagArgs) (string, error) {
		return func(ctx context.Context, in tagArgs) (string, error) {
			tl.started <- id + ":" + in.Tag
			select {
			case <-ctx.Done():
				tl.cancelled <- id + ":" + in.Tag
				return "", ctx.Err()
			case <-tl.release:
				return "released by " + id, nil
			}
		}
	}
	return []sdk.Tool{
		sdk.Func("echo", "echo", func(_ context.Context, in echoArgs) (string, error) {
			tl.echoCalls.Add(1)
			if in.N != nil {
				return fmt.Sprintf("%s %d", in.Message, *in.N), nil
			}
			return in.Message, nil
		}),
		sdk.Func("block", "block", blockFn(false)),
		sdk.Func("block_idem", "block", blockFn(true)),
		sdk.StreamFunc("ticks", "ticks", func(ctx context.Context, in struct {
			N int64 `json:"n"`
		}, emit func(int64) error) error {
			for i := int64(1); i <= in.N; i++ {
				if err := emit(i); err != nil {
					return err
				}
			}
			return nil
		}),
	}
}

// startRuntime connects an SDK runtime to the Host and waits until the
// Host routes its tools. stop ends it (as a crash would: the stream drops).
func startRuntime(t *testing.T, h *testHost, id string, tl *tools, opts ...sdk.Option) (stop func()) {
	t.Helper()
	rt, err := sdk.New(id, tl.list(id), append([]sdk.Option{quiet}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	stop = serve(t, h, rt)
	waitUntil(t, func() bool {
		for _, info := range h.Runtimes().List() {
			if info.GetRuntimeId() == id && len(info.GetTools()) > 0 {
				return true
			}
		}
		return false
	})
	return stop
}

// serve runs rt against the Host until stop, or the test's end.
func serve(t *testing.T, h *testHost, rt *sdk.Runtime) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = rt.Serve(ctx, h.GRPCAddr())
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitUntil polls a condition the test cannot be told about directly
// (another goroutine's progress through gRPC), bounded by testTimeout.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within the test timeout")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func args(kv ...any) map[string]*altarv1.Value {
	m := map[string]*altarv1.Value{}
	for i := 0; i < len(kv); i += 2 {
		v, err := schema.FromGo(kv[i+1])
		if err != nil {
			panic(err)
		}
		m[kv[i].(string)] = v
	}
	return m
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

func TestBootstrapAndCall(t *testing.T) {
	h := startHost(t, altarv1.HostMode_HOST_MODE_STRICT)
	tl := newTools()
	startRuntime(t, h, "rt-a", tl)
	ctx := ctxT(t)

	sess, err := h.client.CreateSession(ctx, &altarv1.CreateSessionRequest{Ttl: durationpb.New(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	list, err := h.client.ListTools(ctx, &altarv1.ListToolsRequest{SessionId: sess.GetSession().GetSessionId()})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetTools()) != 4 || !list.GetTools()[1].GetAvailable() {
		t.Fatalf("tools = %v", list.GetTools())
	}

	for _, name := range []string{"echo", "rt-a/echo"} {
		resp, err := h.client.Invoke(ctx, &altarv1.InvokeRequest{
			SessionId: sess.GetSession().GetSessionId(), ToolName: name,
			Parameters: args("message", "hi", "n", int64(1<<53+1)),
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.GetResult().GetPayload().GetStringValue(); got != "hi 9007199254740993" {
			t.Fatalf("%s: payload = %q (result %v)", name, got, resp.GetResult())
		}
		if resp.GetResult().GetCorrelationId() == "" || resp.GetResult().GetRuntimeId() != "rt-a" {
			t.Fatalf("result lacks correlation or runtime id: %v", resp.GetResult())
		}
	}
}

func TestInvalidArgumentsNeverReachTheRuntime(t *testing.T) {
	h := startHost(t, altarv1.HostMode_HOST_MODE_STRICT)
	tl := newTools()
	startRuntime(t, h, "rt-a", tl)
	_, err := h.client.Invoke(ctxT(t), &altarv1.InvokeRequest{ToolName: "echo", Parameters: args("n", "x", "extra", true)})
	e := altarerr.From(err)
	if e.Code != altarv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENTS || len(e.Fields) != 3 {
		t.Fatalf("error = %v", e)
	}
	if tl.echoCalls.Load() != 0 {
		t.Fatal("an invalid call reached the runtime")
	}
}

func TestStrictRefusesUnknownAndDifferingContracts(t *testing.T) {
	h := startHost(t, altarv1.HostMode_HOST_MODE_STRICT)
	tl := newTools()
	rogue := sdk.Func("exfiltrate", "not in any manifest", func(context.Context, struct{}) (string, error) { return "", nil })
	// A runtime that believes echo takes no required message.
	widened := sdk.Func("echo", "echo", func(_ context.Context, in struct {
		Message string `json:"message,omitempty"`
	}) (string, error) {
		return in.Message, nil
	}, sdk.DeclareContract())
	rt, err := sdk.New("rogue", append([]sdk.Tool{rogue, widened}, tl.list("rogue")[1:]...), quiet)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = rt.Serve(ctx, h.GRPCAddr()) }()
	defer func() { cancel(); <-done }()

	waitUntil(t, func() bool { f := rt.Status().Fulfilment; return f != nil && len(f.Rejected) >= 2 })
	rejected := map[string]altarv1.ErrorCode{}
	for _, r := range rt.Status().Fulfilment.Rejected {
		rejected[r.GetToolName()] = r.GetError().GetCode()
	}
	if rejected["exfiltrate"] != altarv1.ErrorCode_ERROR_CODE_CONTRACT_NOT_TRUSTED || rejected["echo"] != altarv1.ErrorCode_ERROR_CODE_CONTRACT_MISMATCH {
		t.Fatalf("rejections = %v", rejected)
	}
	if _, err := h.client.Invoke(ctxT(t), &altarv1.InvokeRequest{ToolName: "rogue/echo", Parameters: args("message", "x")}); altarerr.CodeOf(err) != altarv1.ErrorCode_ERROR_CODE_TOOL_NOT_FOUND {
		t.Fatalf("a refused tool is routable: %v", err)
	}
}

func TestDevelopmentRegistration(t *testing.T) {
	h := startHost(t, altarv1.HostMode_HOST_MODE_DEVELOPMENT)
	shout := sdk.Func("shout", "Upper-case a word.", func(_ context.Context, in struct {
		Word string `json:"word"`
	}) (string, error) {
		return in.Word + "!", nil
	})
	rt, err := sdk.New("dev", []sdk.Tool{shout}, sdk.WithDevelopmentMode(), quiet)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = rt.Serve(ctx, h.GRPCAddr()) }()
	defer func() { cancel(); <-done }()
	waitUntil(t, func() bool { _, err := h.Registry().Resolve("", "shout"); return err == nil })

	resp, err := h.client.Invoke(ctxT(t), &altarv1.InvokeRequest{ToolName: "shout", Parameters: args("word", "hey")})
	if err != nil || resp.GetResult().GetPayload().GetStringValue() != "hey!" {
		t.Fatalf("resp = %v, %v", resp, err)
	}
	// The Host still validates against the registered (derived) schema.
	if _, err := h.client.Invoke(ctxT(t), &altarv1.InvokeRequest{ToolName: "shout", Parameters: args("word", 1)}); altarerr.CodeOf(err) != altarv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENTS {
		t.Fatalf("err = %v", err)
	}
	// Switching back to STRICT withdraws it.
	if _, err := h.client.SetHostMode(ctxT(t), &altarv1.SetHostModeRequest{Mode: altarv1.HostMode_HOST_MODE_STRICT, Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.Invoke(ctxT(t), &altarv1.InvokeRequest{ToolName: "shout", Parameters: args("word", "x")}); altarerr.CodeOf(err) != altarv1.ErrorCode_ERROR_CODE_TOOL_NOT_FOUND {
		t.Fatalf("after STRICT: %v", err)
	}
}

func TestIdempotentRepeatRunsOnce(t *testing.T) {
	h := startHost(t, altarv1.HostMode_HOST_MODE_STRICT)
	tl := newTools()
	startRuntime(t, h, "rt-a", tl)
	req := &altarv1.InvokeRequest{ToolName: "echo", InvocationId: "inv-once", Parameters: args("message", "one")}
	for range 3 {
		resp, err := h.client.Invoke(ctxT(t), req)
		if err != nil || resp.GetResult().GetPayload().GetStringValue() != "one" {
			t.Fatalf("resp = %v, %v", resp, err)
		}
	}
	if n := tl.echoCalls.Load(); n != 1 {
		t.Fatalf("the tool ran %d times", n)
	}
	req.Parameters = args("message", "two")
	if _, err := h.client.Invoke(ctxT(t), req); altarerr.CodeOf(err) != altarv1.ErrorCode_ERROR_CODE_IDEMPOTENCY_CONFLICT {
		t.Fatalf("same id, other arguments: %v", err)
	}
	inv, err := h.client.GetInvocation(ctxT(t), &altarv1.GetInvocationRequest{InvocationId: "inv-once"})
	if err != nil || inv.GetInvocation().GetState() != altarv1.InvocationState_INVOCATION_STATE_COMPLETED {
		t.Fatalf("invocation = %v, %v", inv, err)
	}
}

func TestDeadlineReachesRuntime(t *testing.T) {
	h := startHost(t, altarv1.HostMode_HOST_MODE_STRICT)
	tl := newTools()
	startRuntime(t, h, "rt-a", tl)
	_, err := h.client.Invoke(ctxT(t), &altarv1.InvokeRequest{ToolName: "block", Timeout: durationpb.New(100 * time.Millisecond), Parameters: args("tag", "d")})
	if code := altarerr.CodeOf(err); code != altarv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED {
		t.Fatalf("code = %v (%v)", code, err)
	}
	if got := <-tl.cancelled; got != "rt-a:d" {
		t.Fatalf("cancelled %q", got)
	}
}

func TestClientCancelReachesRuntime(t *testing.T) {
	h := startHost(t, altarv1.HostMode_HOST_MODE_STRICT)
	tl := newTools()
	startRuntime(t, h, "rt-a", tl)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := h.client.Invoke(ctx, &altarv1.InvokeRequest{ToolName: "block", Parameters: args("tag", "c")})
		errc <- err
	}()
	<-tl.started
	cancel()
	if got := <-tl.cancelled; got != "rt-a:c" {
		t.Fatalf("cancelled %q", got)
	}
	<-errc
}

func TestRuntimeKilledMidCallFailsAtOnce(t *testing.T) {
	h := startHost(t, altarv1.HostMode_HOST_MODE_STRICT)
	tl := newTools()
	stop := startRuntime(t, h, "rt-a", tl)
	errc := make(chan error, 1)
	go func() {
		// The default deadline is 30s: only the disconnect can end this quickly.
		_, err := h.client.Invoke(ctxT(t), &altarv1.InvokeRequest{ToolName: "block", Parameters: args("tag", "k")})
		errc <- err
	}()
	<-tl.started
	stop()
	select {
	case err := <-errc:
		if code := altarerr.CodeOf(err); code != altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE {
			t.Fatalf("code = %v (%v)", code, err)
		}
	case <-time.After(testTimeout):
		t.Fatal("the call waited for its deadline")
	}
}

func TestIdempotentCallFailsOverWhenRuntimeDies(t *testing.T) {
	h := startHost(t, altarv1.HostMode_HOST_MODE_STRICT, func(c *gateway.Config) {
		// Slow heartbeats: neither runtime may turn degraded (and so lose
		// the tie below) while the test runs.
		c.Runtimes.HeartbeatInterval = time.Second
		c.Runtimes.HeartbeatTimeout = 10 * time.Second
	})
	tlA, tlB := newTools(), newTools()
	stopA := startRuntime(t, h, "rt-a", tlA)
	startRuntime(t, h, "rt-b", tlB)
	close(tlB.release) // rt-b answers block_idem at once

	errc := make(chan error, 1)
	var resp *altarv1.InvokeResponse
	go func() {
		var err error
		resp, err = h.client.Invoke(ctxT(t), &altarv1.InvokeRequest{ToolName: "block_idem", Parameters: args("tag", "f")})
		errc <- err
	}()
	// Both runtimes are idle and healthy, so the tie goes to rt-a, first in
	// preference order. It is killed mid-call; the retry must go to rt-b.
	select {
	case got := <-tlA.started:
		if got != "rt-a:f" {
			t.Fatalf("rt-a started %q", got)
		}
	case got := <-tlB.started:
		t.Fatalf("the call went to rt-b first (%s): nothing would fail over", got)
	case <-time.After(testTimeout):
		t.Fatal("the call started on neither runtime")
	}
	stopA()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if got := resp.GetResult().GetPayload().GetStringValue(); got != "released by rt-b" || resp.GetResult().GetRuntimeId() != "rt-b" {
		t.Fatalf("result = %v", resp.GetResult())
	}
	inv, err := h.client.GetInvocation(ctxT(t), &altarv1.GetInvocationRequest{InvocationId: resp.GetResult().GetInvocationId()})
	if err != nil || inv.GetInvocation().GetAttempts() != 2 {
		t.Fatalf("invocation = %v, %v; want 2 attempts", inv, err)
	}
}

func TestStreamInOrderWithSlowConsumer(t *testing.T) {
	h := startHost(t, altarv1.HostMode_HOST_MODE_STRICT)
	tl := newTools()
	startRuntime(t, h, "rt-a", tl, sdk.WithCapabilities(altarv1.CapabilityStreaming, altarv1.CapabilityCancellation))
	const n = 10000
	stream, err := h.client.InvokeStream(ctxT(t), &altarv1.InvokeStreamRequest{Request: &altarv1.InvokeRequest{ToolName: "ticks", Parameters: args("n", int64(n))}})
	if err != nil {
		t.Fatal(err)
	}
	var got int64
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ch := resp.GetChunk()
		if ch.GetError() != nil {
			t.Fatalf("error chunk: %v", ch.GetError())
		}
		if ch.GetPayload() != nil {
			got++
			if ch.GetPayload().GetIntValue() != got {
				t.Fatalf("chunk %d carries %v", got, ch.GetPayload())
			}
		}
		if got%1000 == 0 {
			// A slow reader: gRPC flow control and bounded buffers hold the
			// runtime back meanwhile.
			time.Sleep(5 * time.Millisecond)
		}
	}
	if got != n {
		t.Fatalf("got %d chunks, want %d", got, n)
	}
}

func TestThousandConcurrentCallsNoneLost(t *testing.T) {
	h := startHost(t, altarv1.HostMode_HOST_MODE_STRICT)
	tlA, tlB := newTools(), newTools()
	startRuntime(t, h, "rt-a", tlA)
	startRuntime(t, h, "rt-b", tlB)
	const calls = 1000
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := fmt.Sprintf("m%d", i)
			resp, err := h.client.Invoke(ctxT(t), &altarv1.InvokeRequest{ToolName: "echo", Parameters: args("message", msg)})
			switch {
			case err != nil:
				errs <- err
			case resp.GetResult().GetPayload().GetStringValue() != msg:
				errs <- fmt.Errorf("call %d got %v", i, resp.GetResult())
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if total := tlA.echoCalls.Load() + tlB.echoCalls.Load(); total != calls {
		t.Fatalf("tools ran %d times for %d calls", total, calls)
	}
	if tlA.echoCalls.Load() == 0 || tlB.echoCalls.Load() == 0 {
		t.Fatalf("calls were not balanced: a=%d b=%d", tlA.echoCalls.Load(), tlB.echoCalls.Load())
	}
}

func TestUnaryCallToStreamingToolGetsEveryChunk(t *testing.T) {
	h := startHost(t, altarv1.HostMode_HOST_MODE_STRICT)
	tl := newTools()
	startRuntime(t, h, "rt-a", tl, sdk.WithCapabilities(altarv1.CapabilityStreaming, altarv1.CapabilityCancellation))
	resp, err := h.client.Invoke(ctxT(t), &altarv1.InvokeRequest{ToolName: "ticks", Parameters: args("n", int64(3))})
	if err != nil {
		t.Fatal(err)
	}
	items := resp.GetResult().GetPayload().GetArrayValue().GetItems()
	if len(items) != 3 || items[2].GetIntValue() != 3 {
		t.Fatalf("payload = %v", resp.GetResult().GetPayload())
	}
}

// A session left alone past its TTL is swept: the Host API no longer finds
// it, and a call in it is refused, over real gRPC with the real clock.
func TestSessionExpiresAfterItsTTL(t *testing.T) {
	h := startHost(t, altarv1.HostMode_HOST_MODE_STRICT, func(c *gateway.Config) {
		c.Sessions.SweepInterval = 20 * time.Millisecond
	})
	startRuntime(t, h, "rt-a", newTools())
	ctx := ctxT(t)
	sess, err := h.client.CreateSession(ctx, &altarv1.CreateSessionRequest{Ttl: durationpb.New(300 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	id := sess.GetSession().GetSessionId()
	if _, err := h.client.Invoke(ctx, &altarv1.InvokeRequest{SessionId: id, ToolName: "echo", Parameters: args("message", "hi")}); err != nil {
		t.Fatalf("a call in a live session: %v", err)
	}
	// Nothing touches the session from here on (a call would refresh it).
	waitUntil(t, func() bool {
		ids, err := h.client.ListSessions(ctx, &altarv1.ListSessionsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range ids.GetSessions() {
			if s.GetSessionId() == id {
				return false
			}
		}
		return true
	})
	if _, err := h.client.GetSession(ctx, &altarv1.GetSessionRequest{SessionId: id}); altarerr.CodeOf(err) != altarv1.ErrorCode_ERROR_CODE_SESSION_NOT_FOUND &&
		altarerr.CodeOf(err) != altarv1.ErrorCode_ERROR_CODE_SESSION_EXPIRED {
		t.Fatalf("GetSession of an expired session: %v", err)
	}
	_, err = h.client.Invoke(ctx, &altarv1.InvokeRequest{SessionId: id, ToolName: "echo", Parameters: args("message", "hi")})
	if code := altarerr.CodeOf(err); code != altarv1.ErrorCode_ERROR_CODE_SESSION_NOT_FOUND && code != altarv1.ErrorCode_ERROR_CODE_SESSION_EXPIRED {
		t.Fatalf("a call in an expired session: %v", err)
	}
}

// A runtime whose calls keep missing their deadline opens its breaker
// (calls are refused at once, the state is visible in ListRuntimes), and a
// successful trial call after the open timeout closes it again.
func TestBreakerOpensAndCloses(t *testing.T) {
	const openFor = 300 * time.Millisecond
	h := startHost(t, altarv1.HostMode_HOST_MODE_STRICT, func(c *gateway.Config) {
		c.Invoke.DefaultTimeout = 100 * time.Millisecond // block has no timeout of its own
		c.Invoke.Options = append(c.Invoke.Options,
			invoke.WithBreaker(invoke.BreakerSettings{ConsecutiveFailures: 3, OpenTimeout: openFor, HalfOpenRequests: 1}),
			invoke.WithRetry(invoke.RetryPolicy{MaxAttempts: 1}))
	})
	startRuntime(t, h, "rt-a", newTools())
	ctx := ctxT(t)
	breaker := func() string {
		list, err := h.client.ListRuntimes(ctx, &altarv1.ListRuntimesRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range list.GetRuntimes() {
			if r.GetRuntimeId() == "rt-a" {
				return r.GetBreakerState()
			}
		}
		t.Fatal("rt-a is not listed")
		return ""
	}
	if s := breaker(); s != "closed" {
		t.Fatalf("breaker of a fresh runtime = %q", s)
	}
	for i := range 3 {
		_, err := h.client.Invoke(ctx, &altarv1.InvokeRequest{ToolName: "block", Parameters: args("tag", fmt.Sprint(i))})
		if code := altarerr.CodeOf(err); code != altarv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED {
			t.Fatalf("call %d: %v, want DEADLINE_EXCEEDED", i, err)
		}
	}
	if s := breaker(); s != "open" {
		t.Fatalf("breaker after 3 missed deadlines = %q, want open", s)
	}
	opened := time.Now()
	_, err := h.client.Invoke(ctx, &altarv1.InvokeRequest{ToolName: "echo", Parameters: args("message", "hi")})
	if err == nil {
		if time.Since(opened) < openFor {
			t.Fatal("a call went through an open breaker")
		}
	} else if code := altarerr.CodeOf(err); code != altarv1.ErrorCode_ERROR_CODE_CIRCUIT_OPEN && code != altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE {
		t.Fatalf("a call while open: %v", err)
	}
	// After the open timeout one trial call goes through; its success
	// closes the breaker.
	waitUntil(t, func() bool {
		_, err := h.client.Invoke(ctx, &altarv1.InvokeRequest{ToolName: "echo", Parameters: args("message", "hi")})
		return err == nil
	})
	if s := breaker(); s != "closed" {
		t.Fatalf("breaker after a successful trial = %q, want closed", s)
	}
}
