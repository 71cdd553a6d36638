package invoke_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/invoke"
	"github.com/altar-gateway/altar/gateway/invoke/invoketest"
	"github.com/altar-gateway/altar/gateway/runtime"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// fakeSessions is a Sessions that knows one session.
type fakeSessions struct {
	id  string
	sec *altarv1.SecurityContext
}

func (f fakeSessions) Touch(_ context.Context, id string) (*altarv1.SecurityContext, error) {
	if id != f.id {
		return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_SESSION_NOT_FOUND, "no session %q", id)
	}
	return f.sec, nil
}

func TestInvokeFillsTheCallAndTheResult(t *testing.T) {
	var got *altarv1.ToolCall
	var gotDeadline time.Time
	conn := invoketest.NewConn("py-weather")
	conn.InvokeFunc = func(ctx context.Context, call *altarv1.ToolCall) (*altarv1.ToolResult, error) {
		got = call
		gotDeadline, _ = ctx.Deadline()
		return invoketest.Echo(ctx, call)
	}
	sec := &altarv1.SecurityContext{PrincipalId: "user-7"}
	h := newHarness(t, weatherContract(), []*invoketest.Conn{conn},
		invoke.WithSessions(fakeSessions{id: "sess-1", sec: sec}))

	req := weatherReq("", "Oslo")
	req.SessionId = "sess-1"
	req.Metadata = map[string]string{"traceparent": "00-abc-def-01"}
	start := time.Now()
	res, err := h.engine.Invoke(h.ctx(), req)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	if res.GetStatus() != altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS {
		t.Fatalf("status = %v", res.GetStatus())
	}
	if len(res.GetInvocationId()) != 32 || len(res.GetCorrelationId()) != 32 || res.GetInvocationId() == res.GetCorrelationId() {
		t.Errorf("generated ids %q, %q: want two distinct 32-hex ids", res.GetInvocationId(), res.GetCorrelationId())
	}
	if res.GetRuntimeId() != "py-weather" {
		t.Errorf("runtime_id = %q", res.GetRuntimeId())
	}
	want := &altarv1.ToolCall{
		InvocationId:    res.GetInvocationId(),
		CorrelationId:   res.GetCorrelationId(),
		SessionId:       "sess-1",
		ToolName:        "get_weather",
		ContractVersion: "1.2.0",
		Parameters:      map[string]*altarv1.Value{"city": schema.String("Oslo"), "days": schema.Int(3)},
		Metadata:        map[string]string{"traceparent": "00-abc-def-01"},
		Deadline:        got.GetDeadline(),
		SecurityContext: sec,
		Attempt:         1,
	}
	if !proto.Equal(got, want) {
		t.Errorf("ToolCall =\n%v\nwant\n%v", got, want)
	}
	if d := got.GetDeadline().AsTime(); !d.Equal(h.clock.Now().Add(invoke.DefaultTimeout)) {
		t.Errorf("ToolCall.deadline = %v, want the fake now + %v", d, invoke.DefaultTimeout)
	}
	if gotDeadline.IsZero() || gotDeadline.Before(start.Add(invoke.DefaultTimeout-time.Second)) || gotDeadline.After(time.Now().Add(invoke.DefaultTimeout)) {
		t.Errorf("the runtime's ctx deadline %v is not about %v from now", gotDeadline, invoke.DefaultTimeout)
	}

	inv, ok := h.engine.Invocation(res.GetInvocationId())
	if !ok {
		t.Fatal("Invocation: not found")
	}
	if inv.GetState() != altarv1.InvocationState_INVOCATION_STATE_COMPLETED || inv.GetAttempts() != 1 ||
		inv.GetRuntimeId() != "py-weather" || inv.GetSessionId() != "sess-1" || inv.GetResult() != res {
		t.Errorf("Invocation = %v", inv)
	}
}

func TestInvokeRequestErrors(t *testing.T) {
	h := newHarness(t, weatherContract(), []*invoketest.Conn{invoketest.NewConn("r1")},
		invoke.WithSessions(fakeSessions{id: "sess-1"}))
	long := string(make([]byte, 200))
	for _, tc := range []struct {
		name string
		req  *altarv1.InvokeRequest
		want altarv1.ErrorCode
	}{
		{"nil request", nil, altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST},
		{"no tool", &altarv1.InvokeRequest{SessionId: "sess-1"}, altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST},
		{"bad invocation id", &altarv1.InvokeRequest{SessionId: "sess-1", ToolName: "get_weather", InvocationId: long}, altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST},
		{"unknown session", &altarv1.InvokeRequest{SessionId: "nope", ToolName: "get_weather"}, altarv1.ErrorCode_ERROR_CODE_SESSION_NOT_FOUND},
		{"unknown tool", &altarv1.InvokeRequest{SessionId: "sess-1", ToolName: "nope"}, altarv1.ErrorCode_ERROR_CODE_TOOL_NOT_FOUND},
		{"stream-only call of a unary tool is fine, but negative timeout is not",
			withTimeout(&altarv1.InvokeRequest{SessionId: "sess-1", ToolName: "get_weather", Parameters: map[string]*altarv1.Value{"city": schema.String("x")}}, -time.Second),
			altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.req != nil {
				tc.req.CorrelationId = "corr-1"
			}
			res, err := h.engine.Invoke(h.ctx(), tc.req)
			if res != nil || code(t, err) != tc.want {
				t.Fatalf("Invoke = %v, %v; want code %v", res, err, tc.want)
			}
			if tc.req != nil && asAltar(t, err).CorrelationID != "corr-1" {
				t.Errorf("error has correlation id %q, want corr-1", asAltar(t, err).CorrelationID)
			}
		})
	}
	if n := h.conns["r1"].Invokes(); n != 0 {
		t.Errorf("the runtime was called %d times", n)
	}
}

func TestArgumentsAreCoercedAndValidated(t *testing.T) {
	type field struct{ path, rule string }
	for _, tc := range []struct {
		name   string
		params map[string]*altarv1.Value
		coerce bool
		want   []field // nil: accepted
		sent   map[string]*altarv1.Value
	}{
		{name: "defaults filled", params: map[string]*altarv1.Value{"city": schema.String("Oslo")},
			sent: map[string]*altarv1.Value{"city": schema.String("Oslo"), "days": schema.Int(3)}},
		{name: "missing required", params: map[string]*altarv1.Value{}, want: []field{{"/city", "required"}}},
		{name: "every failure at once", params: map[string]*altarv1.Value{"city": schema.String(""), "days": schema.Int(20), "x": schema.Bool(true)},
			want: []field{{"/city", "min_length"}, {"/days", "maximum"}, {"/x", "additional_properties"}}},
		{name: "string for integer refused", params: map[string]*altarv1.Value{"city": schema.String("Oslo"), "days": schema.String("5")},
			want: []field{{"/days", "type"}}},
		{name: "string for integer coerced on request", coerce: true, params: map[string]*altarv1.Value{"city": schema.String("Oslo"), "days": schema.String("5")},
			sent: map[string]*altarv1.Value{"city": schema.String("Oslo"), "days": schema.Int(5)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sent map[string]*altarv1.Value
			conn := invoketest.NewConn("r1")
			conn.InvokeFunc = func(ctx context.Context, call *altarv1.ToolCall) (*altarv1.ToolResult, error) {
				sent = call.GetParameters()
				return invoketest.Echo(ctx, call)
			}
			h := newHarness(t, weatherContract(), []*invoketest.Conn{conn})
			_, err := h.engine.Invoke(h.ctx(), &altarv1.InvokeRequest{ToolName: "get_weather", Parameters: tc.params, Coerce: tc.coerce})
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Invoke: %v", err)
				}
				if !proto.Equal(&altarv1.ObjectValue{Fields: sent}, &altarv1.ObjectValue{Fields: tc.sent}) {
					t.Errorf("sent %v, want %v", sent, tc.sent)
				}
				return
			}
			ae := asAltar(t, err)
			if ae.Code != altarv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENTS {
				t.Fatalf("code = %v (%v)", ae.Code, err)
			}
			var got []field
			for _, f := range ae.Fields {
				got = append(got, field{f.GetPath(), f.GetRule()})
			}
			slices.SortFunc(got, func(a, b field) int {
				if a.path != b.path {
					return cmpString(a.path, b.path)
				}
				return cmpString(a.rule, b.rule)
			})
			if !slices.Equal(got, tc.want) {
				t.Errorf("fields = %v, want %v", got, tc.want)
			}
			if ae.InvocationID == "" || ae.CorrelationID == "" {
				t.Errorf("error lacks ids: %+v", ae)
			}
			if conn.Invokes() != 0 {
				t.Error("the runtime was called with invalid arguments")
			}
		})
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestResultValidation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload *altarv1.Value
		want    altarv1.ErrorCode
	}{
		{"matches", schema.Object(map[string]*altarv1.Value{"temp_c": schema.Double(12.5)}), altarv1.ErrorCode_ERROR_CODE_UNSPECIFIED},
		{"wrong type", schema.String("sunny"), altarv1.ErrorCode_ERROR_CODE_INVALID_RESULT},
		{"missing", nil, altarv1.ErrorCode_ERROR_CODE_INVALID_RESULT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := invoketest.NewConn("r1")
			conn.InvokeFunc = func(context.Context, *altarv1.ToolCall) (*altarv1.ToolResult, error) {
				return invoketest.Success(tc.payload), nil
			}
			h := newHarness(t, idempotent(weatherContract()), []*invoketest.Conn{conn})
			res, err := h.engine.Invoke(h.ctx(), weatherReq("inv-1", "Oslo"))
			if code(t, err) != tc.want {
				t.Fatalf("Invoke = %v, %v; want %v", res, err, tc.want)
			}
			if tc.want == altarv1.ErrorCode_ERROR_CODE_UNSPECIFIED {
				return
			}
			if conn.Invokes() != 1 {
				t.Errorf("an invalid result was retried: %d calls", conn.Invokes())
			}
			inv, _ := h.engine.Invocation("inv-1")
			if inv.GetState() != altarv1.InvocationState_INVOCATION_STATE_FAILED ||
				inv.GetResult().GetError().GetCode() != altarv1.ErrorCode_ERROR_CODE_INVALID_RESULT {
				t.Errorf("Invocation = %v", inv)
			}
			if got := h.engine.BreakerState("r1"); got != "closed" {
				t.Errorf("an invalid result counted against the runtime: breaker %s", got)
			}
		})
	}
}

func TestToolFailureIsAResultNotRetried(t *testing.T) {
	conn := invoketest.NewConn("r1")
	conn.InvokeFunc = func(context.Context, *altarv1.ToolCall) (*altarv1.ToolResult, error) {
		return invoketest.Failure(altarv1.ErrorCode_ERROR_CODE_TOOL_FAILED, "upstream answered 503"), nil
	}
	h := newHarness(t, idempotent(weatherContract()), []*invoketest.Conn{conn, invoketest.NewConn("r2")},
		invoke.WithBreaker(invoke.BreakerSettings{ConsecutiveFailures: 2}))
	for i := range 3 {
		res, err := h.engine.Invoke(h.ctx(), weatherReq("", "Oslo"))
		if err != nil {
			t.Fatalf("call %d: Invoke error %v, want a result", i, err)
		}
		if res.GetStatus() != altarv1.ToolResultStatus_TOOL_RESULT_STATUS_ERROR ||
			res.GetError().GetCode() != altarv1.ErrorCode_ERROR_CODE_TOOL_FAILED ||
			res.GetError().GetInvocationId() != res.GetInvocationId() {
			t.Fatalf("result = %v", res)
		}
	}
	if conn.Invokes() != 3 || h.conns["r2"].Invokes() != 0 {
		t.Errorf("calls r1=%d r2=%d, want 3 and 0 (no retry, no failover)", conn.Invokes(), h.conns["r2"].Invokes())
	}
	if got := h.engine.BreakerState("r1"); got != "closed" {
		t.Errorf("tool failures opened the breaker: %s", got)
	}
	st := h.engine.Stats("get_weather")
	if len(st) != 1 || st[0].GetCalls() != 3 || st[0].GetErrors() != 3 || st[0].GetErrorsByCode()["TOOL_FAILED"] != 3 {
		t.Errorf("Stats = %v", st)
	}
}

func TestRoutingBalancesByOutstandingCalls(t *testing.T) {
	started := make(chan *altarv1.ToolCall, 4)
	release := make(chan struct{})
	r1, r2 := invoketest.NewConn("r1"), invoketest.NewConn("r2")
	var mu sync.Mutex
	var order []string
	for _, c := range []*invoketest.Conn{r1, r2} {
		blocking := c.Blocking(started, release)
		id := c.ID()
		c.InvokeFunc = func(ctx context.Context, call *altarv1.ToolCall) (*altarv1.ToolResult, error) {
			mu.Lock()
			order = append(order, id)
			mu.Unlock()
			return blocking(ctx, call)
		}
	}
	h := newHarness(t, weatherContract(), []*invoketest.Conn{r1, r2})
	ctx := h.ctx()

	// Each call is held in its runtime, so the next sees one more
	// outstanding call there: r1 (preferred on a tie), r2, then r1 again.
	var done []<-chan result
	for range 3 {
		done = append(done, h.goInvoke(ctx, weatherReq("", "Oslo")))
		recv(t, started, "a call to start")
	}
	close(release)
	for _, d := range done {
		if r := recv(t, d, "a call to finish"); r.err != nil {
			t.Fatal(r.err)
		}
	}
	if want := []string{"r1", "r2", "r1"}; !slices.Equal(order, want) {
		t.Errorf("routing order %v, want %v", order, want)
	}
	// Idle again: the preferred runtime wins.
	res, err := h.engine.Invoke(ctx, weatherReq("", "Oslo"))
	if err != nil || res.GetRuntimeId() != "r1" {
		t.Errorf("idle call went to %q (%v), want r1", res.GetRuntimeId(), err)
	}
}

func TestFailover(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(h *harness)
		want  string // runtime that answers; "" for RUNTIME_UNAVAILABLE
	}{
		{"unhealthy", func(h *harness) { h.runtimes.SetHealth("r1", runtime.Unhealthy) }, "r2"},
		{"degraded loses to healthy", func(h *harness) { h.runtimes.SetHealth("r1", runtime.Degraded) }, "r2"},
		{"degraded still serves alone", func(h *harness) {
			h.runtimes.SetHealth("r1", runtime.Degraded)
			h.runtimes.Remove("r2")
		}, "r1"},
		{"disconnected", func(h *harness) { h.runtimes.Remove("r1") }, "r2"},
		{"connection closed", func(h *harness) { h.conns["r1"].Close() }, "r2"},
		{"none left", func(h *harness) {
			h.runtimes.SetHealth("r1", runtime.Unhealthy)
			h.conns["r2"].Close()
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, weatherContract(), []*invoketest.Conn{invoketest.NewConn("r1"), invoketest.NewConn("r2")})
			tc.setup(h)
			res, err := h.engine.Invoke(h.ctx(), weatherReq("", "Oslo"))
			if tc.want == "" {
				if code(t, err) != altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE {
					t.Fatalf("Invoke = %v, %v; want RUNTIME_UNAVAILABLE", res, err)
				}
				st := h.engine.Stats("get_weather")
				if len(st) != 1 || st[0].GetRuntimeId() != "" || st[0].GetErrorsByCode()["RUNTIME_UNAVAILABLE"] != 1 {
					t.Errorf("Stats = %v, want the failure counted under runtime \"\"", st)
				}
				return
			}
			if err != nil || res.GetRuntimeId() != tc.want {
				t.Fatalf("Invoke = %v, %v; want an answer from %s", res, err, tc.want)
			}
		})
	}
}

func TestDeadlines(t *testing.T) {
	contract := weatherContract()
	for _, tc := range []struct {
		name      string
		contractM int64
		req       time.Duration
		want      time.Duration
	}{
		{"host default", 0, 0, 7 * time.Second},
		{"contract's timeout_ms", 1500, 0, 1500 * time.Millisecond},
		{"request wins", 1500, 2 * time.Second, 2 * time.Second},
		{"capped at the maximum", 0, time.Hour, time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got time.Time
			conn := invoketest.NewConn("r1")
			conn.InvokeFunc = func(ctx context.Context, call *altarv1.ToolCall) (*altarv1.ToolResult, error) {
				got = call.GetDeadline().AsTime()
				return invoketest.Echo(ctx, call)
			}
			c := proto.CloneOf(contract)
			c.TimeoutMs = tc.contractM
			h := newHarness(t, c, []*invoketest.Conn{conn},
				invoke.WithDefaultTimeout(7*time.Second), invoke.WithMaxTimeout(time.Minute))
			req := weatherReq("inv-1", "Oslo")
			if tc.req != 0 {
				withTimeout(req, tc.req)
			}
			if _, err := h.engine.Invoke(h.ctx(), req); err != nil {
				t.Fatal(err)
			}
			if want := h.clock.Now().Add(tc.want); !got.Equal(want) {
				t.Errorf("deadline %v, want now+%v", got.Sub(h.clock.Now()), tc.want)
			}
			inv, _ := h.engine.Invocation("inv-1")
			if !inv.GetDeadline().AsTime().Equal(got) {
				t.Errorf("Invocation.deadline %v, want %v", inv.GetDeadline().AsTime(), got)
			}
		})
	}
}

func TestDeadlineExpiry(t *testing.T) {
	conn := invoketest.NewConn("r1")
	ctxDone := make(chan error, 1)
	conn.InvokeFunc = func(ctx context.Context, call *altarv1.ToolCall) (*altarv1.ToolResult, error) {
		<-ctx.Done() // a runtime that answers only when told to stop
		ctxDone <- ctx.Err()
		return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED, "runtime saw the deadline")
	}
	h := newHarness(t, weatherContract(), []*invoketest.Conn{conn})
	const timeout = 20 * time.Millisecond // real: the runtime's ctx uses a real timer
	_, err := h.engine.Invoke(h.ctx(), withTimeout(weatherReq("inv-1", "Oslo"), timeout))
	if code(t, err) != altarv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED {
		t.Fatalf("err = %v, want DEADLINE_EXCEEDED", err)
	}
	if got := recv(t, ctxDone, "the runtime's ctx to end"); !errors.Is(got, context.DeadlineExceeded) {
		t.Errorf("runtime ctx ended with %v", got)
	}
	inv, _ := h.engine.Invocation("inv-1")
	if inv.GetState() != altarv1.InvocationState_INVOCATION_STATE_TIMED_OUT ||
		inv.GetError().GetCode() != altarv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED {
		t.Errorf("Invocation = %v, want TIMED_OUT", inv)
	}
	// The caller's own, earlier deadline also bounds the call.
	ctx, cancel := context.WithTimeout(h.ctx(), timeout)
	defer cancel()
	_, err = h.engine.Invoke(ctx, weatherReq("inv-2", "Oslo"))
	if code(t, err) != altarv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED {
		t.Fatalf("err = %v, want DEADLINE_EXCEEDED", err)
	}
	<-ctxDone
}

func TestCancellationReachesTheRuntime(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cancel func(h *harness, cancelCtx context.CancelFunc)
		reason string
	}{
		{"caller's ctx", func(_ *harness, cancel context.CancelFunc) { cancel() }, "the caller cancelled"},
		{"Cancel", func(h *harness, _ context.CancelFunc) {
			if !h.engine.Cancel("inv-1", "user pressed stop") {
				t.Error("Cancel = false for a running invocation")
			}
		}, "user pressed stop"},
		{"Close", func(h *harness, _ context.CancelFunc) { h.engine.Close() }, "shutting down"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			started := make(chan *altarv1.ToolCall)
			stopped := make(chan error, 1)
			conn := invoketest.NewConn("r1")
			conn.InvokeFunc = func(ctx context.Context, call *altarv1.ToolCall) (*altarv1.ToolResult, error) {
				started <- call
				<-ctx.Done()
				stopped <- ctx.Err()
				return nil, ctx.Err()
			}
			h := newHarness(t, weatherContract(), []*invoketest.Conn{conn})
			ctx, cancel := context.WithCancel(h.ctx())
			defer cancel()
			done := h.goInvoke(ctx, weatherReq("inv-1", "Oslo"))
			recv(t, started, "the call to reach the runtime")
			if inv, _ := h.engine.Invocation("inv-1"); inv.GetState() != altarv1.InvocationState_INVOCATION_STATE_EXECUTING {
				t.Errorf("state while running = %v", inv.GetState())
			}
			tc.cancel(h, cancel)
			if err := recv(t, stopped, "the runtime's ctx to end"); !errors.Is(err, context.Canceled) {
				t.Errorf("runtime ctx: %v", err)
			}
			r := recv(t, done, "Invoke to return")
			ae := asAltar(t, r.err)
			if ae.Code != altarv1.ErrorCode_ERROR_CODE_CANCELLED || !strings.Contains(ae.Message, tc.reason) {
				t.Errorf("err = %v, want CANCELLED mentioning %q", r.err, tc.reason)
			}
			inv, _ := h.engine.Invocation("inv-1")
			if inv.GetState() != altarv1.InvocationState_INVOCATION_STATE_CANCELLED {
				t.Errorf("state = %v", inv.GetState())
			}
			if h.engine.Cancel("inv-1", "again") {
				t.Error("Cancel = true for a finished invocation")
			}
		})
	}
	h := newHarness(t, weatherContract(), []*invoketest.Conn{invoketest.NewConn("r1")})
	if h.engine.Cancel("nope", "") {
		t.Error("Cancel = true for an unknown invocation")
	}
	h.engine.Close()
	h.engine.Close() // idempotent
	if _, err := h.engine.Invoke(h.ctx(), weatherReq("", "Oslo")); code(t, err) != altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE {
		t.Errorf("Invoke after Close: %v", err)
	}
}

func TestConnDoneMidCall(t *testing.T) {
	for _, tc := range []struct {
		name       string
		contract   *altarv1.ToolContract
		wantErr    altarv1.ErrorCode
		wantR2Call int
	}{
		{"not idempotent: fails at once", weatherContract(), altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE, 0},
		{"idempotent: retried elsewhere", idempotent(weatherContract()), altarv1.ErrorCode_ERROR_CODE_UNSPECIFIED, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			started := make(chan *altarv1.ToolCall, 1)
			r1, r2 := invoketest.NewConn("r1"), invoketest.NewConn("r2")
			r1.InvokeFunc = r1.Blocking(started, nil)
			var attempt uint32
			r2.InvokeFunc = func(ctx context.Context, call *altarv1.ToolCall) (*altarv1.ToolResult, error) {
				attempt = call.GetAttempt()
				return invoketest.Echo(ctx, call)
			}
			h := newHarness(t, tc.contract, []*invoketest.Conn{r1, r2},
				invoke.WithRetry(invoke.RetryPolicy{BaseBackoff: time.Second, Jitter: -1}))
			done := h.goInvoke(h.ctx(), weatherReq("inv-1", "Oslo"))
			recv(t, started, "the call to reach r1")
			r1.Close()
			if tc.wantR2Call > 0 {
				if d := recv(t, h.clock.Timers(), "the retry's backoff"); d != time.Second {
					t.Errorf("backoff = %v, want 1s", d)
				}
				h.clock.Advance(time.Second)
			}
			r := recv(t, done, "Invoke to return")
			if code(t, r.err) != tc.wantErr {
				t.Fatalf("Invoke = %v, %v; want %v", r.res, r.err, tc.wantErr)
			}
			if r2.Invokes() != tc.wantR2Call {
				t.Errorf("r2 calls = %d, want %d", r2.Invokes(), tc.wantR2Call)
			}
			if tc.wantR2Call > 0 && (attempt != 2 || r.res.GetRuntimeId() != "r2") {
				t.Errorf("retry attempt %d on %s, want attempt 2 on r2", attempt, r.res.GetRuntimeId())
			}
		})
	}
}

func TestEndedContextNeverReachesTheRuntime(t *testing.T) {
	h := newHarness(t, weatherContract(), []*invoketest.Conn{invoketest.NewConn("r1")})
	ctx, cancel := context.WithCancel(h.ctx())
	cancel()
	if _, err := h.engine.Invoke(ctx, weatherReq("inv-1", "Oslo")); code(t, err) != altarv1.ErrorCode_ERROR_CODE_CANCELLED {
		t.Errorf("err = %v", err)
	}
	if n := h.conns["r1"].Invokes(); n != 0 {
		t.Errorf("runtime called %d times", n)
	}
}

func TestToolWithoutParameters(t *testing.T) {
	c := &altarv1.ToolContract{Name: "ping", Version: "1.0.0"}
	conn := invoketest.NewConn("r1")
	e := invoke.New(invoketest.NewResolver(invoketest.Target(c, "r1")), invoketest.NewRuntimes(conn))
	defer e.Close()
	if _, err := e.Invoke(context.Background(), &altarv1.InvokeRequest{ToolName: "ping"}); err != nil {
		t.Fatal(err)
	}
	_, err := e.Invoke(context.Background(), &altarv1.InvokeRequest{ToolName: "ping",
		Parameters: map[string]*altarv1.Value{"a/b": schema.Int(1)}})
	ae := asAltar(t, err)
	if ae.Code != altarv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENTS || len(ae.Fields) != 1 || ae.Fields[0].GetPath() != "/a~1b" {
		t.Errorf("err = %v (fields %v)", err, ae.Fields)
	}
}

func TestLogsCarryIDsAndNeverArguments(t *testing.T) {
	var buf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	conn := invoketest.NewConn("r1")
	conn.InvokeFunc = func(ctx context.Context, call *altarv1.ToolCall) (*altarv1.ToolResult, error) {
		if call.GetParameters()["days"].GetIntValue() == 5 {
			return nil, invoketest.Unavailable("r1")
		}
		return invoketest.Echo(ctx, call)
	}
	h := newHarness(t, weatherContract(), []*invoketest.Conn{conn}, invoke.WithLogger(logger))
	const secret = "Hemmelig-By"
	for _, req := range []*altarv1.InvokeRequest{
		{ToolName: "get_weather", CorrelationId: "corr-ok", Parameters: map[string]*altarv1.Value{"city": schema.String(secret)}},
		{ToolName: "get_weather", CorrelationId: "corr-bad", Parameters: map[string]*altarv1.Value{"city": schema.String(secret), "days": schema.String(secret)}},
		{ToolName: "get_weather", CorrelationId: "corr-down", Parameters: map[string]*altarv1.Value{"city": schema.String(secret), "days": schema.Int(5)}},
	} {
		_, _ = h.engine.Invoke(h.ctx(), req)
	}
	out := buf.String()
	for _, want := range []string{`"correlation_id":"corr-ok"`, `"correlation_id":"corr-bad"`, `"correlation_id":"corr-down"`,
		`"code":"INVALID_ARGUMENTS"`, `"code":"RUNTIME_UNAVAILABLE"`, `"/days (type)"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, secret) {
		t.Errorf("an argument value was logged:\n%s", out)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
