package invoke_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/altar-gateway/altar/gateway/invoke"
	"github.com/altar-gateway/altar/gateway/invoke/invoketest"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

func TestRepeatedInvocationRunsOnce(t *testing.T) {
	h := newHarness(t, weatherContract(), []*invoketest.Conn{invoketest.NewConn("r1")})
	first, err := h.engine.Invoke(h.ctx(), weatherReq("inv-1", "Oslo"))
	if err != nil {
		t.Fatal(err)
	}
	// The same arguments, spelled differently before coercion, are the
	// same call.
	req := weatherReq("inv-1", "Oslo")
	req.Parameters["days"] = schema.String("3")
	req.Coerce = true
	req.CorrelationId = "corr-other"
	again, err := h.engine.Invoke(h.ctx(), req)
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Errorf("repeat answered %v, want the first result %v", again, first)
	}
	if n := h.conns["r1"].Invokes(); n != 1 {
		t.Errorf("the tool ran %d times", n)
	}
}

func TestConcurrentRepeatWaitsForTheFirst(t *testing.T) {
	joined := make(chan string, 4)
	restore := invoke.SetTestHooks(func(id string) { joined <- id }, nil)
	defer restore()

	started := make(chan *altarv1.ToolCall, 4)
	release := make(chan struct{})
	conn := invoketest.NewConn("r1")
	conn.InvokeFunc = conn.Blocking(started, release)
	h := newHarness(t, weatherContract(), []*invoketest.Conn{conn})
	ctx := h.ctx()

	first := h.goInvoke(ctx, weatherReq("inv-1", "Oslo"))
	recv(t, started, "the first call to reach the runtime")
	var repeats []<-chan result
	for range 3 {
		repeats = append(repeats, h.goInvoke(ctx, weatherReq("inv-1", "Oslo")))
		if id := recv(t, joined, "a repeat to wait for the first"); id != "inv-1" {
			t.Fatalf("joined %q", id)
		}
	}
	// A different call under the same id is refused while the first runs.
	if _, err := h.engine.Invoke(ctx, weatherReq("inv-1", "Bergen")); code(t, err) != altarv1.ErrorCode_ERROR_CODE_IDEMPOTENCY_CONFLICT {
		t.Errorf("different arguments while running: %v", err)
	}
	close(release)
	want := recv(t, first, "the first call")
	if want.err != nil {
		t.Fatal(want.err)
	}
	for _, r := range repeats {
		if got := recv(t, r, "a repeat"); got.err != nil || got.res != want.res {
			t.Errorf("repeat = %v, %v; want the first result", got.res, got.err)
		}
	}
	if n := conn.Invokes(); n != 1 {
		t.Errorf("the tool ran %d times", n)
	}
}

func TestRepeatWaiterGivesUpOnItsOwnContext(t *testing.T) {
	joined := make(chan string, 1)
	restore := invoke.SetTestHooks(func(id string) { joined <- id }, nil)
	defer restore()
	started := make(chan *altarv1.ToolCall, 1)
	release := make(chan struct{})
	conn := invoketest.NewConn("r1")
	conn.InvokeFunc = conn.Blocking(started, release)
	h := newHarness(t, weatherContract(), []*invoketest.Conn{conn})

	first := h.goInvoke(h.ctx(), weatherReq("inv-1", "Oslo"))
	recv(t, started, "the first call")
	ctx, cancel := context.WithCancel(h.ctx())
	repeat := h.goInvoke(ctx, weatherReq("inv-1", "Oslo"))
	recv(t, joined, "the repeat to wait")
	cancel()
	if r := recv(t, repeat, "the repeat to give up"); code(t, r.err) != altarv1.ErrorCode_ERROR_CODE_CANCELLED {
		t.Errorf("repeat: %v", r.err)
	}
	close(release)
	if r := recv(t, first, "the first call"); r.err != nil {
		t.Errorf("first: %v", r.err)
	}
}

func TestIdempotencyConflict(t *testing.T) {
	other := &altarv1.ToolContract{Name: "other", Version: "1.0.0", Parameters: weatherContract().Parameters}
	h := newHarness(t, weatherContract(), []*invoketest.Conn{invoketest.NewConn("r1")})
	h.resolver.Add(invoketest.Target(other, "r1"))
	if _, err := h.engine.Invoke(h.ctx(), weatherReq("inv-1", "Oslo")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		req  *altarv1.InvokeRequest
	}{
		{"other arguments", weatherReq("inv-1", "Bergen")},
		{"other tool", &altarv1.InvokeRequest{ToolName: "other", InvocationId: "inv-1", Parameters: map[string]*altarv1.Value{"city": schema.String("Oslo")}}},
		{"an integer is not a double", func() *altarv1.InvokeRequest {
			r := weatherReq("inv-1", "Oslo")
			r.Parameters["days"] = schema.Int(4)
			return r
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.engine.Invoke(h.ctx(), tc.req)
			if ae := asAltar(t, err); ae.Code != altarv1.ErrorCode_ERROR_CODE_IDEMPOTENCY_CONFLICT || ae.InvocationID != "inv-1" {
				t.Errorf("err = %v", err)
			}
		})
	}
	if n := h.conns["r1"].Invokes(); n != 1 {
		t.Errorf("the tool ran %d times", n)
	}
}

func TestWhichFailuresARepeatRunsAgain(t *testing.T) {
	for _, tc := range []struct {
		name     string
		contract *altarv1.ToolContract
		first    func(ctx context.Context, call *altarv1.ToolCall) (*altarv1.ToolResult, error)
		noRT     bool // no runtime connected for the first call
		runAgain bool
	}{
		{name: "nothing reached a runtime", contract: weatherContract(), noRT: true, runAgain: true},
		{name: "not idempotent, runtime lost mid-call", contract: weatherContract(),
			first: func(context.Context, *altarv1.ToolCall) (*altarv1.ToolResult, error) {
				return nil, invoketest.Unavailable("r1")
			}},
		{name: "idempotent, runtime lost mid-call", contract: idempotent(weatherContract()), runAgain: true,
			first: func(context.Context, *altarv1.ToolCall) (*altarv1.ToolResult, error) {
				return nil, invoketest.Unavailable("r1")
			}},
		{name: "a tool failure is an answer", contract: idempotent(weatherContract()),
			first: func(context.Context, *altarv1.ToolCall) (*altarv1.ToolResult, error) {
				return invoketest.Failure(altarv1.ErrorCode_ERROR_CODE_TOOL_FAILED, "no"), nil
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := invoketest.NewConn("r1")
			conn.InvokeFunc = tc.first
			h := newHarness(t, tc.contract, []*invoketest.Conn{conn}, invoke.WithRetry(invoke.RetryPolicy{MaxAttempts: 1}))
			if tc.noRT {
				h.runtimes.Remove("r1")
			}
			r1, err1 := h.engine.Invoke(h.ctx(), weatherReq("inv-1", "Oslo"))
			if err1 == nil && r1.GetStatus() == altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS {
				t.Fatal("the first call succeeded")
			}
			h.runtimes.Add(conn)
			conn.InvokeFunc = nil // now it works
			before := conn.Invokes()
			r2, err2 := h.engine.Invoke(h.ctx(), weatherReq("inv-1", "Oslo"))
			ran := conn.Invokes() > before
			if ran != tc.runAgain {
				t.Fatalf("repeat ran the tool: %v, want %v (%v, %v)", ran, tc.runAgain, r2, err2)
			}
			if !ran && (r2 != r1 || fmt.Sprint(err2) != fmt.Sprint(err1)) {
				t.Errorf("repeat = %v, %v; want the first outcome %v, %v", r2, err2, r1, err1)
			}
		})
	}
}

func TestInvocationsExpireWithTheWindow(t *testing.T) {
	const window = time.Minute
	h := newHarness(t, weatherContract(), []*invoketest.Conn{invoketest.NewConn("r1")}, invoke.WithIdempotencyWindow(window))
	if _, err := h.engine.Invoke(h.ctx(), weatherReq("inv-1", "Oslo")); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(window - time.Second)
	if _, ok := h.engine.Invocation("inv-1"); !ok {
		t.Fatal("forgotten within the window")
	}
	h.clock.Advance(time.Second)
	if _, ok := h.engine.Invocation("inv-1"); ok {
		t.Fatal("remembered past the window")
	}
	if _, err := h.engine.Invoke(h.ctx(), weatherReq("inv-1", "Bergen")); err != nil {
		t.Fatalf("id reused after the window: %v", err)
	}
	if n := h.conns["r1"].Invokes(); n != 2 {
		t.Errorf("the tool ran %d times, want 2", n)
	}
}

func TestInvocationsAreBounded(t *testing.T) {
	const bound = 128 // 2 per shard
	h := newHarness(t, weatherContract(), []*invoketest.Conn{invoketest.NewConn("r1")}, invoke.WithMaxInvocations(bound))
	const n = 2000
	for i := range n {
		if _, err := h.engine.Invoke(h.ctx(), weatherReq(fmt.Sprint("inv-", i), "Oslo")); err != nil {
			t.Fatal(err)
		}
	}
	kept := 0
	for i := range n {
		if _, ok := h.engine.Invocation(fmt.Sprint("inv-", i)); ok {
			kept++
		}
	}
	if kept > bound || kept < bound/2 {
		t.Errorf("kept %d invocations, want at most %d (and not far fewer)", kept, bound)
	}
	if _, ok := h.engine.Invocation(fmt.Sprint("inv-", n-1)); !ok {
		t.Error("the newest invocation was forgotten")
	}
}

// TestHostGeneratedIDsAreCapped: however large the bound, at most 1,024
// calls with Host-generated ids are remembered (each holds its result for
// the garbage collector to scan), the newest among them.
func TestHostGeneratedIDsAreCapped(t *testing.T) {
	h := newHarness(t, weatherContract(), []*invoketest.Conn{invoketest.NewConn("r1")})
	var ids []string
	for range 4000 {
		ids = append(ids, mustInvoke(h, weatherReq("", "Oslo")).GetInvocationId())
	}
	kept := 0
	for _, id := range ids {
		if _, ok := h.engine.Invocation(id); ok {
			kept++
		}
	}
	if kept > 1024 || kept < 512 {
		t.Errorf("kept %d of 4000 calls with Host-generated ids under the default bound, want at most 1024 (and not far fewer)", kept)
	}
	if _, ok := h.engine.Invocation(ids[len(ids)-1]); !ok {
		t.Error("the newest call was forgotten")
	}
}

// Calls without an invocation_id get one from the Host; no client can
// repeat it, so fewer of them are remembered, and they never push out the
// calls whose ids clients chose.
func TestHostGeneratedIDsAreKeptFewer(t *testing.T) {
	const bound = 1280 // 20 per shard, of which 2 for Host-generated ids
	h := newHarness(t, weatherContract(), []*invoketest.Conn{invoketest.NewConn("r1")}, invoke.WithMaxInvocations(bound))
	const clientCalls = 256
	for i := range clientCalls {
		mustInvoke(h, weatherReq(fmt.Sprint("client-", i), "Oslo"))
	}
	var hostIDs []string
	for range 5000 {
		res := mustInvoke(h, weatherReq("", "Oslo"))
		hostIDs = append(hostIDs, res.GetInvocationId())
	}
	keptHost := 0
	for _, id := range hostIDs {
		if _, ok := h.engine.Invocation(id); ok {
			keptHost++
		}
	}
	if keptHost > bound/10 || keptHost < bound/40 {
		t.Errorf("kept %d of the calls with Host-generated ids, want at most %d (and not far fewer)", keptHost, bound/10)
	}
	if _, ok := h.engine.Invocation(hostIDs[len(hostIDs)-1]); !ok {
		t.Error("the newest call with a Host-generated id was forgotten")
	}
	for i := range clientCalls {
		if _, ok := h.engine.Invocation(fmt.Sprint("client-", i)); !ok {
			t.Fatalf("client-%d was forgotten to make room for calls nobody can repeat", i)
		}
	}
}

func TestResultCache(t *testing.T) {
	const ttl = time.Minute
	secret := cacheable(weatherContract(), ttl)
	secret.Parameters.Properties["city"].Sensitive = true
	notIdempotent := weatherContract()
	notIdempotent.Flags = &altarv1.ToolFlags{Cacheable: true}
	notIdempotent.CacheTtlMs = ttl.Milliseconds()

	for _, tc := range []struct {
		name     string
		contract *altarv1.ToolContract
		opts     []invoke.Option
		steps    func(h *harness) // runs calls; returns nothing
		runs     int
	}{
		{name: "hit", contract: cacheable(weatherContract(), ttl), runs: 1, steps: func(h *harness) {
			a := mustInvoke(h, weatherReq("a", "Oslo"))
			b := mustInvoke(h, weatherReq("b", "Oslo"))
			if b.GetMetadata()[invoke.MetadataCache] != "hit" || b.GetInvocationId() != "b" || b.GetPayload() != a.GetPayload() {
				h.t.Errorf("second result %v is not a cache hit of %v", b, a)
			}
			if a.GetMetadata()[invoke.MetadataCache] != "" {
				h.t.Errorf("first result marked as a hit")
			}
		}},
		{name: "miss on other arguments", contract: cacheable(weatherContract(), ttl), runs: 2, steps: func(h *harness) {
			mustInvoke(h, weatherReq("a", "Oslo"))
			mustInvoke(h, weatherReq("b", "Bergen"))
		}},
		{name: "expired", contract: cacheable(weatherContract(), ttl), runs: 2, steps: func(h *harness) {
			mustInvoke(h, weatherReq("a", "Oslo"))
			h.clock.Advance(ttl)
			mustInvoke(h, weatherReq("b", "Oslo"))
		}},
		{name: "sensitive parameter", contract: secret, runs: 2, steps: func(h *harness) {
			mustInvoke(h, weatherReq("a", "Oslo"))
			mustInvoke(h, weatherReq("b", "Oslo"))
		}},
		{name: "not idempotent", contract: notIdempotent, runs: 2, steps: func(h *harness) {
			mustInvoke(h, weatherReq("a", "Oslo"))
			mustInvoke(h, weatherReq("b", "Oslo"))
		}},
		{name: "disabled", contract: cacheable(weatherContract(), ttl), opts: []invoke.Option{invoke.WithResultCache(0)}, runs: 2, steps: func(h *harness) {
			mustInvoke(h, weatherReq("a", "Oslo"))
			mustInvoke(h, weatherReq("b", "Oslo"))
		}},
		{name: "bounded", contract: cacheable(weatherContract(), ttl), opts: []invoke.Option{invoke.WithResultCache(1)}, runs: 502,
			steps: func(h *harness) {
				// 1 entry in each of 16 shards: 500 other cities push Oslo
				// out (all but certainly: (15/16)^500 < 1e-13).
				mustInvoke(h, weatherReq("a", "Oslo"))
				for i := range 500 {
					mustInvoke(h, weatherReq(fmt.Sprint("x", i), fmt.Sprint("city", i)))
				}
				mustInvoke(h, weatherReq("b", "Oslo"))
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.contract, []*invoketest.Conn{invoketest.NewConn("r1")}, tc.opts...)
			tc.steps(h)
			if got := h.conns["r1"].Invokes(); got != tc.runs {
				t.Errorf("the tool ran %d times, want %d", got, tc.runs)
			}
		})
	}
}

func TestErrorsAreNotCached(t *testing.T) {
	conn := invoketest.NewConn("r1")
	conn.InvokeFunc = func(context.Context, *altarv1.ToolCall) (*altarv1.ToolResult, error) {
		return invoketest.Failure(altarv1.ErrorCode_ERROR_CODE_TOOL_FAILED, "no"), nil
	}
	h := newHarness(t, cacheable(weatherContract(), time.Minute), []*invoketest.Conn{conn})
	mustInvoke(h, weatherReq("a", "Oslo"))
	mustInvoke(h, weatherReq("b", "Oslo"))
	if conn.Invokes() != 2 {
		t.Errorf("a failure was served from the cache: %d runs", conn.Invokes())
	}
}

func mustInvoke(h *harness, req *altarv1.InvokeRequest) *altarv1.ToolResult {
	h.t.Helper()
	res, err := h.engine.Invoke(h.ctx(), req)
	if err != nil {
		h.t.Fatalf("Invoke(%s): %v", req.GetInvocationId(), err)
	}
	return res
}
