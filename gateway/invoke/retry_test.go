package invoke_test

import (
	"context"
	"google.golang.org/protobuf/types/known/durationpb"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/invoke"
	"github.com/altar-gateway/altar/gateway/invoke/invoketest"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// failing answers every call with err and records which runtime and attempt
// saw it.
type attemptLog struct {
	mu  sync.Mutex
	got []string
}

func (l *attemptLog) add(s string) {
	l.mu.Lock()
	l.got = append(l.got, s)
	l.mu.Unlock()
}

func (l *attemptLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.got)
}

func failWith(log *attemptLog, id string, err error) func(context.Context, *altarv1.ToolCall) (*altarv1.ToolResult, error) {
	return func(_ context.Context, call *altarv1.ToolCall) (*altarv1.ToolResult, error) {
		log.add(id + "#" + string(rune('0'+call.GetAttempt())))
		return nil, err
	}
}

func TestRetries(t *testing.T) {
	unavailable := altarerr.New(altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE, "gone")
	for _, tc := range []struct {
		name     string
		contract *altarv1.ToolContract
		err      error
		want     []string // runtime#attempt, in order
	}{
		{"idempotent and retryable: fails over, then back", idempotent(weatherContract()), unavailable, []string{"r1#1", "r2#2", "r1#3"}},
		{"connection lost is retryable", idempotent(weatherContract()),
			altarerr.New(altarv1.ErrorCode_ERROR_CODE_CONNECTION_LOST, "reset"), []string{"r1#1", "r2#2", "r1#3"}},
		{"not idempotent", weatherContract(), unavailable, []string{"r1#1"}},
		{"not retryable", idempotent(weatherContract()),
			altarerr.New(altarv1.ErrorCode_ERROR_CODE_PROTOCOL_VIOLATION, "bad frame"), []string{"r1#1"}},
		{"a runtime-side cancel is not retried", idempotent(weatherContract()), context.Canceled, []string{"r1#1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log attemptLog
			r1, r2 := invoketest.NewConn("r1"), invoketest.NewConn("r2")
			r1.InvokeFunc = failWith(&log, "r1", tc.err)
			r2.InvokeFunc = failWith(&log, "r2", tc.err)
			h := newHarness(t, tc.contract, []*invoketest.Conn{r1, r2},
				invoke.WithRetry(invoke.RetryPolicy{MaxAttempts: 3, BaseBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, Jitter: -1}))
			done := h.goInvoke(h.ctx(), weatherReq("inv-1", "Oslo"))
			for i := 1; i < len(tc.want); i++ {
				want := 100 * time.Millisecond << (i - 1)
				if d := recv(t, h.clock.Timers(), "a backoff"); d != want {
					t.Errorf("backoff %d = %v, want %v", i, d, want)
				}
				h.clock.Advance(want)
			}
			r := recv(t, done, "Invoke to return")
			if r.err == nil {
				t.Fatal("Invoke succeeded")
			}
			if got := log.list(); !slices.Equal(got, tc.want) {
				t.Errorf("attempts %v, want %v", got, tc.want)
			}
			inv, _ := h.engine.Invocation("inv-1")
			if inv.GetAttempts() != uint32(len(tc.want)) {
				t.Errorf("Invocation.attempts = %d", inv.GetAttempts())
			}
		})
	}
}

// Jitter shortens each wait by a random fraction of up to Jitter: the
// waits stay within [wait×(1-Jitter), wait] and are not all the same. (The
// engine draws from math/rand/v2's global source, which cannot be seeded,
// so the test checks the range and that the waits vary.)
func TestBackoffJitter(t *testing.T) {
	const base = 100 * time.Millisecond
	for _, tc := range []struct {
		name   string
		jitter float64 // as configured
		want   float64 // as applied
	}{
		{"half", 0.5, 0.5},
		{"all", 1, 1},
		{"more than all is all", 3, 1},
		{"zero takes the default", 0, invoke.DefaultRetryPolicy().Jitter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r1, r2 := invoketest.NewConn("r1"), invoketest.NewConn("r2")
			unavailable := altarerr.New(altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE, "gone")
			var log attemptLog
			r1.InvokeFunc = failWith(&log, "r1", unavailable)
			r2.InvokeFunc = failWith(&log, "r2", unavailable)
			h := newHarness(t, idempotent(weatherContract()), []*invoketest.Conn{r1, r2},
				invoke.WithRetry(invoke.RetryPolicy{MaxAttempts: 3, BaseBackoff: base, MaxBackoff: time.Second, Jitter: tc.jitter}),
				// Every attempt fails: keep the breakers closed throughout.
				invoke.WithBreaker(invoke.BreakerSettings{ConsecutiveFailures: math.MaxUint32}))
			const calls = 20
			seen := map[time.Duration]bool{}
			for i := range calls {
				done := h.goInvoke(h.ctx(), weatherReq("", "Oslo"))
				for n, full := range []time.Duration{base, 2 * base} { // the second wait doubles
					d := recv(t, h.clock.Timers(), "a backoff")
					if low := time.Duration(float64(full) * (1 - tc.want)); d < low || d > full || d <= 0 {
						t.Errorf("call %d, wait %d = %v, want within [%v, %v]", i, n+1, d, low, full)
					}
					seen[d] = true
					h.clock.Advance(d)
				}
				if r := recv(t, done, "Invoke to give up"); code(t, r.err) != altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE {
					t.Fatalf("call %d: %v", i, r.err)
				}
			}
			// 40 draws from a continuous range: equal waits would mean no
			// jitter at all (the chance of fewer than 10 distinct values is
			// nil).
			if len(seen) < 10 {
				t.Errorf("%d waits took only %d distinct values: %v", 2*calls, len(seen), seen)
			}
			if n := len(log.list()); n != 3*calls {
				t.Errorf("%d attempts, want %d", n, 3*calls)
			}
		})
	}
}

func TestBackoffIsBoundedByTheDeadline(t *testing.T) {
	var log attemptLog
	conn := invoketest.NewConn("r1")
	conn.InvokeFunc = failWith(&log, "r1", altarerr.New(altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE, "gone"))
	h := newHarness(t, idempotent(weatherContract()), []*invoketest.Conn{conn},
		invoke.WithRetry(invoke.RetryPolicy{MaxAttempts: 10, BaseBackoff: 10 * time.Second, MaxBackoff: time.Minute, Jitter: -1}))
	// Deadline 25s on the fake clock: attempt 1 at 0s, wait 10s, attempt 2
	// at 10s; the next wait (20s) would end past the deadline, so it stops.
	done := h.goInvoke(h.ctx(), withTimeout(weatherReq("inv-1", "Oslo"), 25*time.Second))
	if d := recv(t, h.clock.Timers(), "the first backoff"); d != 10*time.Second {
		t.Fatalf("backoff = %v", d)
	}
	h.clock.Advance(10 * time.Second)
	r := recv(t, done, "Invoke to give up")
	if code(t, r.err) != altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE {
		t.Errorf("err = %v", r.err)
	}
	if got := log.list(); len(got) != 2 {
		t.Errorf("attempts %v, want 2", got)
	}
	select {
	case d := <-h.clock.Timers():
		t.Errorf("a backoff of %v past the deadline was started", d)
	default:
	}
}

func TestBackoffHonoursRetryAfter(t *testing.T) {
	busy := altarerr.New(altarv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED, "busy")
	busy.RetryAfter = 3 * time.Second
	calls := 0
	conn := invoketest.NewConn("r1")
	conn.InvokeFunc = func(ctx context.Context, call *altarv1.ToolCall) (*altarv1.ToolResult, error) {
		calls++
		if calls == 1 {
			return nil, busy
		}
		return invoketest.Echo(ctx, call)
	}
	h := newHarness(t, idempotent(weatherContract()), []*invoketest.Conn{conn},
		invoke.WithRetry(invoke.RetryPolicy{BaseBackoff: 10 * time.Millisecond, Jitter: -1}))
	done := h.goInvoke(h.ctx(), weatherReq("", "Oslo"))
	if d := recv(t, h.clock.Timers(), "the backoff"); d != 3*time.Second {
		t.Errorf("backoff = %v, want the runtime's retry_after 3s", d)
	}
	h.clock.Advance(3 * time.Second)
	if r := recv(t, done, "Invoke"); r.err != nil {
		t.Fatal(r.err)
	}
}

func TestBreaker(t *testing.T) {
	unavailable := altarerr.New(altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE, "gone")
	t.Run("opens after consecutive failures and fails over", func(t *testing.T) {
		var log attemptLog
		r1, r2 := invoketest.NewConn("r1"), invoketest.NewConn("r2")
		r1.InvokeFunc = failWith(&log, "r1", unavailable)
		const openFor = time.Hour
		h := newHarness(t, weatherContract(), []*invoketest.Conn{r1, r2},
			invoke.WithBreaker(invoke.BreakerSettings{ConsecutiveFailures: 3, OpenTimeout: openFor}))
		for i := range 3 {
			if got := h.engine.BreakerState("r1"); got != "closed" {
				t.Fatalf("after %d failures breaker is %s", i, got)
			}
			if _, err := h.engine.Invoke(h.ctx(), weatherReq("", "Oslo")); code(t, err) != altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE {
				t.Fatalf("call %d: %v", i, err)
			}
		}
		if got := h.engine.BreakerState("r1"); got != "open" {
			t.Fatalf("breaker %s, want open", got)
		}
		res, err := h.engine.Invoke(h.ctx(), weatherReq("", "Oslo"))
		if err != nil || res.GetRuntimeId() != "r2" {
			t.Fatalf("with r1 open: %v, %v; want r2", res, err)
		}
		// With r2 gone too, the error says when to come back.
		h.runtimes.Remove("r2")
		_, err = h.engine.Invoke(h.ctx(), weatherReq("", "Oslo"))
		ae := asAltar(t, err)
		if ae.Code != altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE || ae.Details["breaker"] != "open" ||
			ae.RetryAfter <= openFor-time.Minute || ae.RetryAfter > openFor {
			t.Errorf("err = %v (retry after %v)", err, ae.RetryAfter)
		}
		if n := len(log.list()); n != 3 {
			t.Errorf("r1 was called %d times, want 3", n)
		}
	})
	t.Run("caller mistakes and tool failures do not count", func(t *testing.T) {
		conn := invoketest.NewConn("r1")
		conn.InvokeFunc = func(context.Context, *altarv1.ToolCall) (*altarv1.ToolResult, error) {
			// The tool's own failure, even with a code that would count
			// were the runtime to return it as an error.
			return invoketest.Failure(altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE, "upstream down"), nil
		}
		h := newHarness(t, weatherContract(), []*invoketest.Conn{conn},
			invoke.WithBreaker(invoke.BreakerSettings{ConsecutiveFailures: 1}))
		mustInvoke(h, weatherReq("", "Oslo"))
		if _, err := h.engine.Invoke(h.ctx(), weatherReq("", "")); err == nil {
			t.Fatal("invalid arguments accepted")
		}
		if got := h.engine.BreakerState("r1"); got != "closed" {
			t.Errorf("breaker %s", got)
		}
	})
	t.Run("a caller's own short deadline does not count", func(t *testing.T) {
		conn := invoketest.NewConn("r1")
		conn.InvokeFunc = func(ctx context.Context, _ *altarv1.ToolCall) (*altarv1.ToolResult, error) {
			<-ctx.Done() // slower than the caller is willing to wait
			return nil, ctx.Err()
		}
		h := newHarness(t, weatherContract(), []*invoketest.Conn{conn},
			invoke.WithBreaker(invoke.BreakerSettings{ConsecutiveFailures: 1}))
		req := weatherReq("", "Oslo")
		req.Timeout = durationpb.New(time.Millisecond) // shorter than the contract's time
		if _, err := h.engine.Invoke(h.ctx(), req); code(t, err) != altarv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED {
			t.Fatalf("err = %v", err)
		}
		if got := h.engine.BreakerState("r1"); got != "closed" {
			t.Errorf("breaker %s after the caller's own deadline", got)
		}
	})
	t.Run("half-opens after the timeout and closes on success", func(t *testing.T) {
		// gobreaker times the open state with the real clock; an open
		// timeout of 1ns has always passed by the next call, so the
		// half-open state is reached without waiting.
		fail := true
		conn := invoketest.NewConn("r1")
		conn.InvokeFunc = func(ctx context.Context, call *altarv1.ToolCall) (*altarv1.ToolResult, error) {
			if fail {
				return nil, unavailable
			}
			return invoketest.Echo(ctx, call)
		}
		h := newHarness(t, weatherContract(), []*invoketest.Conn{conn},
			invoke.WithBreaker(invoke.BreakerSettings{ConsecutiveFailures: 2, OpenTimeout: time.Nanosecond}))
		for range 2 {
			_, _ = h.engine.Invoke(h.ctx(), weatherReq("", "Oslo"))
		}
		if got := h.engine.BreakerState("r1"); got != "half-open" {
			t.Fatalf("breaker %s, want half-open", got)
		}
		// A failing trial call opens it again (and, 1ns later, half-open).
		if _, err := h.engine.Invoke(h.ctx(), weatherReq("", "Oslo")); err == nil {
			t.Fatal("trial call succeeded")
		}
		fail = false
		mustInvoke(h, weatherReq("", "Oslo"))
		if got := h.engine.BreakerState("r1"); got != "closed" {
			t.Fatalf("breaker %s after a successful trial, want closed", got)
		}
	})
	if got := invoke.New(invoketest.NewResolver(), invoketest.NewRuntimes()).BreakerState("unknown"); got != "closed" {
		t.Errorf("unknown runtime's breaker: %s", got)
	}
}

func TestRuntimeReportingTheDeadline(t *testing.T) {
	t.Run("at the deadline it is the call's deadline", func(t *testing.T) {
		conn := invoketest.NewConn("r1")
		conn.InvokeFunc = func(ctx context.Context, _ *altarv1.ToolCall) (*altarv1.ToolResult, error) {
			<-ctx.Done() // the runtime's clock fired first; it answers with its own verdict
			return invoketest.Failure(altarv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED, "deadline"), nil
		}
		h := newHarness(t, weatherContract(), []*invoketest.Conn{conn})
		req := weatherReq("", "Oslo")
		req.Timeout = durationpb.New(20 * time.Millisecond)
		if _, err := h.engine.Invoke(h.ctx(), req); code(t, err) != altarv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("long before it the tool's own timeout is its answer", func(t *testing.T) {
		conn := invoketest.NewConn("r1")
		conn.InvokeFunc = func(context.Context, *altarv1.ToolCall) (*altarv1.ToolResult, error) {
			return invoketest.Failure(altarv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED, "upstream timed out"), nil
		}
		h := newHarness(t, weatherContract(), []*invoketest.Conn{conn})
		res, err := h.engine.Invoke(h.ctx(), weatherReq("", "Oslo"))
		if err != nil || res.GetError().GetMessage() != "upstream timed out" {
			t.Fatalf("res = %v, err = %v", res, err)
		}
	})
}
