package invoke_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/altar-gateway/altar/gateway/invoke"
	"github.com/altar-gateway/altar/gateway/invoke/invoketest"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

func TestConcurrencyLimits(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limits invoke.Limits
		ann    uint32 // the runtime's announced max_concurrency
		limit  string // the limit named in the error
	}{
		{"per tool", invoke.Limits{Tool: invoke.Limit{Concurrency: 1, Queue: 1}}, 0, "tool:get_weather"},
		{"per tool, by name", invoke.Limits{Tools: map[string]invoke.Limit{"get_weather": {Concurrency: 1, Queue: 1}}}, 0, "tool:get_weather"},
		{"per runtime", invoke.Limits{Runtime: invoke.Limit{Concurrency: 1, Queue: 1}}, 0, "runtime:r1"},
		{"announced by the runtime", invoke.Limits{Runtime: invoke.Limit{Concurrency: 10, Queue: 1}}, 1, "runtime:r1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			queued := make(chan string, 4)
			restore := invoke.SetTestHooks(nil, func(l string) { queued <- l })
			defer restore()
			started := make(chan *altarv1.ToolCall, 4)
			release := make(chan struct{})
			conn := invoketest.NewConn("r1")
			conn.AnnouncementValue = &altarv1.AnnounceRuntime{RuntimeId: "r1", MaxConcurrency: tc.ann}
			conn.InvokeFunc = conn.Blocking(started, release)
			h := newHarness(t, weatherContract(), []*invoketest.Conn{conn}, invoke.WithLimits(tc.limits))
			ctx := h.ctx()

			running := h.goInvoke(ctx, weatherReq("run", "Oslo"))
			recv(t, started, "the first call to run")
			waiting := h.goInvoke(ctx, weatherReq("wait", "Oslo"))
			if l := recv(t, queued, "the second call to queue"); l != tc.limit {
				t.Errorf("queued at %q, want %q", l, tc.limit)
			}
			if inv, _ := h.engine.Invocation("wait"); inv.GetState() != altarv1.InvocationState_INVOCATION_STATE_PENDING {
				t.Errorf("queued call's state = %v, want PENDING", inv.GetState())
			}
			_, err := h.engine.Invoke(ctx, weatherReq("shed", "Oslo"))
			ae := asAltar(t, err)
			if ae.Code != altarv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED || ae.RetryAfter <= 0 || ae.InvocationID != "shed" {
				t.Errorf("third call: %v (retry after %v), want RESOURCE_EXHAUSTED with a retry_after", err, ae.RetryAfter)
			}
			close(release)
			for _, ch := range []<-chan result{running, waiting} {
				if r := recv(t, ch, "a call to finish"); r.err != nil {
					t.Error(r.err)
				}
			}
		})
	}
}

// A tool's limit is the tool's, whatever name a caller uses for it: naming
// the runtime ("r1/get_weather") does not get a call around the limit of
// get_weather, nor does it escape a limit set for get_weather by name.
func TestToolLimitCoversQualifiedNames(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limits invoke.Limits
	}{
		{"every tool", invoke.Limits{Tool: invoke.Limit{Concurrency: 1}}},
		{"by name", invoke.Limits{Tools: map[string]invoke.Limit{"get_weather": {Concurrency: 1}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			started := make(chan *altarv1.ToolCall, 4)
			release := make(chan struct{})
			conn := invoketest.NewConn("r1")
			conn.InvokeFunc = conn.Blocking(started, release)
			h := newHarness(t, weatherContract(), []*invoketest.Conn{conn}, invoke.WithLimits(tc.limits))
			qualified := invoketest.Target(weatherContract(), "r1")
			qualified.Name = "r1/get_weather"
			h.resolver.Add(qualified)
			h.resolver.Add(invoketest.Target(weatherContract(), "r1")) // get_weather is the bare name again

			running := h.goInvoke(h.ctx(), weatherReq("bare", "Oslo"))
			recv(t, started, "the first call to run")
			req := weatherReq("qualified", "Oslo")
			req.ToolName = "r1/get_weather"
			done := h.goInvoke(h.ctx(), req)
			select {
			case r := <-done:
				if ae := asAltar(t, r.err); ae.Code != altarv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED || ae.RetryAfter <= 0 {
					t.Errorf("r1/get_weather while get_weather is at its limit: %v, want RESOURCE_EXHAUSTED with a retry_after", r.err)
				}
			case call := <-started:
				t.Errorf("r1/get_weather ran (%s) while get_weather was at its limit of 1", call.GetInvocationId())
			case <-time.After(waitTimeout):
				t.Fatal("r1/get_weather neither ran nor was refused")
			}
			close(release)
			if r := recv(t, running, "the first call to finish"); r.err != nil {
				t.Error(r.err)
			}
		})
	}
}

func TestQueuedCallLeavesOnCancel(t *testing.T) {
	queued := make(chan string, 4)
	restore := invoke.SetTestHooks(nil, func(l string) { queued <- l })
	defer restore()
	started := make(chan *altarv1.ToolCall, 4)
	release := make(chan struct{})
	conn := invoketest.NewConn("r1")
	conn.InvokeFunc = conn.Blocking(started, release)
	h := newHarness(t, weatherContract(), []*invoketest.Conn{conn},
		invoke.WithLimits(invoke.Limits{Tool: invoke.Limit{Concurrency: 1, Queue: 1}}))

	running := h.goInvoke(h.ctx(), weatherReq("run", "Oslo"))
	recv(t, started, "the first call")
	ctx, cancel := context.WithCancel(h.ctx())
	leaving := h.goInvoke(ctx, weatherReq("leave", "Oslo"))
	recv(t, queued, "the second call to queue")
	cancel()
	if r := recv(t, leaving, "the queued call to leave"); code(t, r.err) != altarv1.ErrorCode_ERROR_CODE_CANCELLED {
		t.Errorf("queued call: %v", r.err)
	}
	// Its place is free again: the next call queues instead of being shed.
	next := h.goInvoke(h.ctx(), weatherReq("next", "Oslo"))
	recv(t, queued, "the next call to queue")
	close(release)
	for _, ch := range []<-chan result{running, next} {
		if r := recv(t, ch, "a call to finish"); r.err != nil {
			t.Error(r.err)
		}
	}
	if conn.Invokes() != 2 {
		t.Errorf("runtime calls = %d, want 2 (the cancelled call never ran)", conn.Invokes())
	}
}

func TestManyConcurrentCallsNoneLost(t *testing.T) {
	const n = 1000
	r1, r2 := invoketest.NewConn("r1"), invoketest.NewConn("r2")
	h := newHarness(t, weatherContract(), []*invoketest.Conn{r1, r2},
		invoke.WithLimits(invoke.Limits{Tool: invoke.Limit{Concurrency: 16, Queue: n}}))
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			city := fmt.Sprint("city-", i)
			res, err := h.engine.Invoke(h.ctx(), weatherReq(fmt.Sprint("inv-", i), city))
			switch {
			case err != nil:
				errs <- err
			case res.GetInvocationId() != fmt.Sprint("inv-", i) ||
				res.GetPayload().GetObjectValue().GetFields()["city"].GetStringValue() != city:
				errs <- fmt.Errorf("call %d got %v", i, res)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := r1.Invokes() + r2.Invokes(); got != n {
		t.Errorf("runtimes ran %d calls, want %d", got, n)
	}
	var calls uint64
	for _, s := range h.engine.Stats("get_weather") {
		calls += s.GetCalls()
		if s.GetInFlight() != 0 || s.GetErrors() != 0 {
			t.Errorf("Stats %v", s)
		}
	}
	if calls != n {
		t.Errorf("Stats count %d calls, want %d", calls, n)
	}
}

func TestStats(t *testing.T) {
	conn := invoketest.NewConn("r1")
	var h *harness
	i := 0
	conn.InvokeFunc = func(ctx context.Context, call *altarv1.ToolCall) (*altarv1.ToolResult, error) {
		i++
		h.clock.Advance(time.Duration(i) * time.Millisecond) // latencies 1..100ms
		if i%10 == 0 {
			return invoketest.Failure(altarv1.ErrorCode_ERROR_CODE_TOOL_FAILED, "no"), nil
		}
		return invoketest.Echo(ctx, call)
	}
	h = newHarness(t, weatherContract(), []*invoketest.Conn{conn})
	for range 100 {
		mustInvoke(h, weatherReq("", "Oslo"))
	}
	_, _ = h.engine.Invoke(h.ctx(), &altarv1.InvokeRequest{ToolName: "get_weather", Parameters: map[string]*altarv1.Value{"city": schema.Int(1)}})
	st := h.engine.Stats("")
	if len(st) != 1 {
		t.Fatalf("Stats = %v, want one row (invalid arguments are not counted)", st)
	}
	s := st[0]
	if s.GetToolName() != "get_weather" || s.GetRuntimeId() != "r1" || s.GetCalls() != 100 || s.GetErrors() != 10 ||
		s.GetErrorsByCode()["TOOL_FAILED"] != 10 || s.GetInFlight() != 0 {
		t.Errorf("Stats = %v", s)
	}
	// The histogram is exact to within a quarter of an octave.
	for _, q := range []struct {
		name      string
		got, want float64
	}{{"p50", s.GetLatencyP50Ms(), 50}, {"p95", s.GetLatencyP95Ms(), 95}, {"p99", s.GetLatencyP99Ms(), 99}} {
		if q.got < q.want*0.75 || q.got > q.want*1.25 {
			t.Errorf("%s = %.1fms, want about %.0fms", q.name, q.got, q.want)
		}
	}
	if got := h.engine.Stats("other"); len(got) != 0 {
		t.Errorf("Stats(other) = %v", got)
	}
}
