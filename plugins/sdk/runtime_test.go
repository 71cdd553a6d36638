package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/google/go-cmp/cmp"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/schema"
	"github.com/altar-gateway/altar/plugins/sdk"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

type pair struct {
	A int64 `json:"a"`
	B int64 `json:"b"`
}

func addTool(opts ...sdk.ToolOption) sdk.Tool {
	return sdk.Func("add", "Add two integers.", func(_ context.Context, in pair) (int64, error) {
		return in.A + in.B, nil
	}, opts...)
}

func subTool(opts ...sdk.ToolOption) sdk.Tool {
	return sdk.Func("sub", "Subtract b from a.", func(_ context.Context, in pair) (int64, error) {
		return in.A - in.B, nil
	}, opts...)
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

// blocker is a tool that signals when it starts and returns when released
// or cancelled.
type blocker struct {
	started chan string
	release chan struct{}
	causes  chan error
}

func newBlocker() *blocker {
	return &blocker{started: make(chan string, 16), release: make(chan struct{}), causes: make(chan error, 16)}
}

func (b *blocker) tool() sdk.Tool {
	return sdk.Func("block", "Wait for release.", func(ctx context.Context, _ struct{}) (string, error) {
		b.started <- sdk.CallFromContext(ctx).GetInvocationId()
		select {
		case <-b.release:
			return "released", nil
		case <-ctx.Done():
			b.causes <- context.Cause(ctx)
			return "", ctx.Err()
		}
	})
}

func (b *blocker) waitStarted(t *testing.T) string {
	t.Helper()
	select {
	case id := <-b.started:
		return id
	case <-time.After(testTimeout):
		t.Fatal("the tool did not start")
		return ""
	}
}

func wantCode(t *testing.T, res *altarv1.ToolResult, code altarv1.ErrorCode) {
	t.Helper()
	if res.GetStatus() != altarv1.ToolResultStatus_TOOL_RESULT_STATUS_ERROR || res.GetError().GetCode() != code {
		t.Fatalf("result %v, want status ERROR with %v", res, code)
	}
}

func wantPayload(t *testing.T, res *altarv1.ToolResult, want *altarv1.Value) {
	t.Helper()
	if res.GetStatus() != altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS {
		t.Fatalf("result %v, want SUCCESS", res)
	}
	if diff := cmp.Diff(want, res.GetPayload(), protocmp.Transform()); diff != "" {
		t.Fatalf("payload (-want +got):\n%s", diff)
	}
}

func TestBootstrapOrderAnnounceAndFulfilment(t *testing.T) {
	h := newScriptedHost(t)
	fulfilled := make(chan sdk.Fulfilment, 1)
	extra := sdk.Func("extra", "Not in the Host's manifests.", func(context.Context, struct{}) (bool, error) { return true, nil })
	s := startRuntime(t, h, []sdk.Tool{addTool(), subTool(sdk.WithVersionConstraint("^1.0")), extra},
		sdk.WithVersion("1.2.3"), sdk.WithMaxConcurrency(8), sdk.WithMetadata(map[string]string{"machine": "m1"}),
		sdk.WithCapabilities("x-test-feature"),
		sdk.OnFulfilled(func(f sdk.Fulfilment) { fulfilled <- f }))
	c := h.accept(t)
	r := c.bootstrap(t, boot{offered: []string{"add", "sub", "other"}, reject: map[string]string{"sub": "declared contract differs"}})

	a := r.announce.GetAnnounce()
	if a.GetRuntimeId() != "test-rt" || a.GetLanguage() != "go" || a.GetVersion() != "1.2.3" ||
		a.GetProtocolVersion() != altarv1.ProtocolVersion || a.GetMaxConcurrency() != 8 ||
		a.GetMetadata()["machine"] != "m1" || a.GetComplianceLevel() != altarv1.ComplianceLevel_COMPLIANCE_LEVEL_2 {
		t.Errorf("announce = %v", a)
	}
	if err := altarv1.ValidateCapabilities(a.GetCapabilities()); err != nil {
		t.Error(err)
	}
	if err := altarv1.CheckComplianceLevel(a.GetComplianceLevel(), a.GetCapabilities()); err != nil {
		t.Error(err)
	}
	for _, want := range []string{altarv1.CapabilityLevel1, altarv1.CapabilityLevel2, altarv1.CapabilityStreaming,
		altarv1.CapabilityCancellation, altarv1.CapabilityHeartbeat, "x-test-feature"} {
		if !slices.Contains(a.GetCapabilities(), want) {
			t.Errorf("capabilities %v lack %q", a.GetCapabilities(), want)
		}
	}
	if slices.Contains(a.GetCapabilities(), altarv1.CapabilityRegisterTools) {
		t.Errorf("capabilities %v claim register_tools without development mode", a.GetCapabilities())
	}
	for _, m := range []*altarv1.RuntimeMessage{r.announce, r.get, r.fulfill} {
		if m.GetCorrelationId() == "" {
			t.Errorf("bootstrap request %v has no correlation_id", m)
		}
	}

	offers := r.fulfill.GetFulfillTools().GetTools()
	want := []*altarv1.ToolFulfillment{{ContractName: "add"}, {ContractName: "sub", VersionConstraint: "^1.0"}}
	if diff := cmp.Diff(want, offers, protocmp.Transform()); diff != "" {
		t.Errorf("FulfillTools (-want +got):\n%s", diff)
	}

	var f sdk.Fulfilment
	select {
	case f = <-fulfilled:
	case <-time.After(testTimeout):
		t.Fatal("OnFulfilled was not called")
	}
	if len(f.Accepted) != 1 || f.Accepted[0].GetQualifiedName() != "test-rt/add" {
		t.Errorf("accepted = %v", f.Accepted)
	}
	rejected := map[string]altarv1.ErrorCode{}
	for _, rj := range f.Rejected {
		rejected[rj.GetToolName()] = rj.GetError().GetCode()
	}
	wantRejected := map[string]altarv1.ErrorCode{
		"sub":   altarv1.ErrorCode_ERROR_CODE_CONTRACT_MISMATCH,
		"extra": altarv1.ErrorCode_ERROR_CODE_CONTRACT_NOT_TRUSTED,
	}
	if diff := cmp.Diff(wantRejected, rejected); diff != "" {
		t.Errorf("rejected (-want +got):\n%s", diff)
	}
	var fe *sdk.FulfilmentError
	if err := f.Err(); !errors.As(err, &fe) || !strings.Contains(err.Error(), "declared contract differs") ||
		!strings.Contains(err.Error(), `"extra"`) {
		t.Errorf("Fulfilment.Err() = %v", err)
	}

	st := s.rt.Status()
	if !st.Connected || st.HostID != "scripted-host" || st.HostMode != altarv1.HostMode_HOST_MODE_STRICT ||
		st.Fulfilment == nil || st.Connects != 1 || st.Draining {
		t.Errorf("Status() = %+v", st)
	}
}

func TestDeclareContract(t *testing.T) {
	h := newScriptedHost(t)
	add := addTool(sdk.DeclareContract(), sdk.WithContractVersion("1.0.0"))
	startRuntime(t, h, []sdk.Tool{add})
	c := h.accept(t)
	r := c.bootstrap(t, boot{offered: []string{"add"}})
	got := r.fulfill.GetFulfillTools().GetTools()[0].GetDeclaredContract()
	if !proto.Equal(got, add.Contract()) {
		t.Errorf("declared contract %v, want %v", got, add.Contract())
	}
}

type exactArgs struct {
	Big    int64          `json:"big"`
	Blob   []byte         `json:"blob"`
	Name   *string        `json:"name"`
	Raw    *altarv1.Value `json:"raw"`
	Absent *altarv1.Value `json:"absent"`
	Ratio  float64        `json:"ratio,omitempty"`
}

func TestUnaryCallExactValues(t *testing.T) {
	h := newScriptedHost(t)
	exact := sdk.Func("exact", "Reports what it received.", func(ctx context.Context, in exactArgs) (map[string]any, error) {
		return map[string]any{
			"big":          in.Big,
			"big_plus_one": in.Big + 1,
			"blob":         in.Blob,
			"name_nil":     in.Name == nil,
			"raw_kind":     schema.Kind(in.Raw),
			"absent_nil":   in.Absent == nil,
			"ratio":        in.Ratio,
			"session":      sdk.CallFromContext(ctx).GetSessionId(),
		}, nil
	})
	startRuntime(t, h, []sdk.Tool{exact})
	c := h.accept(t)
	c.bootstrap(t, boot{offered: []string{"exact"}})

	const big = int64(1)<<53 + 1 // Not representable as a float64.
	c.send(t, &altarv1.HostMessage{CorrelationId: "corr-1", Message: &altarv1.HostMessage_ToolCall{ToolCall: &altarv1.ToolCall{
		InvocationId: "inv-1", CorrelationId: "corr-1", SessionId: "sess-1", ToolName: "exact",
		Parameters: map[string]*altarv1.Value{
			"big":   schema.Int(big),
			"blob":  schema.Bytes([]byte{0, 1, 2, 0xff}),
			"name":  schema.Null(),
			"raw":   schema.Null(),
			"ratio": schema.Int(3), // A number accepts an integer.
		},
	}}})
	res := c.result(t)
	if res.GetInvocationId() != "inv-1" || res.GetCorrelationId() != "corr-1" || res.GetExecutionTimeMs() < 0 {
		t.Errorf("result ids/time: %v", res)
	}
	wantPayload(t, res, schema.Object(map[string]*altarv1.Value{
		"big":          schema.Int(big),
		"big_plus_one": schema.Int(big + 1),
		"blob":         schema.Bytes([]byte{0, 1, 2, 0xff}),
		"name_nil":     schema.Bool(true),
		"raw_kind":     schema.String("null"),
		"absent_nil":   schema.Bool(true),
		"ratio":        schema.Double(3),
		"session":      schema.String("sess-1"),
	}))

	c.call(t, "inv-2", "exact", map[string]*altarv1.Value{
		"big": schema.Int(math.MaxInt64), "blob": schema.Null(), "name": schema.String("x"), "raw": schema.Int(7),
	}, false)
	res = c.result(t)
	p := res.GetPayload().GetObjectValue().GetFields()
	if p["big"].GetIntValue() != math.MaxInt64 || p["big_plus_one"].GetIntValue() != math.MinInt64 ||
		p["name_nil"].GetBoolValue() || p["raw_kind"].GetStringValue() != "integer" || schema.Kind(p["blob"]) != "null" {
		t.Errorf("payload %v", res.GetPayload())
	}
}

func TestToolFailures(t *testing.T) {
	h := newScriptedHost(t)
	tools := []sdk.Tool{
		addTool(),
		sdk.Func("fails", "", func(context.Context, struct{}) (int64, error) { return 0, errors.New("disk full") }),
		sdk.Func("denied", "", func(context.Context, struct{}) (int64, error) {
			return 0, altarerr.New(altarv1.ErrorCode_ERROR_CODE_PERMISSION_DENIED, "not for you")
		}),
		sdk.Func("panics", "", func(context.Context, struct{}) (int64, error) { panic("boom") }),
		sdk.Func("nan", "", func(context.Context, struct{}) (float64, error) { return math.NaN(), nil }),
	}
	startRuntime(t, h, tools)
	c := h.accept(t)
	c.bootstrap(t, boot{offered: []string{"add", "fails", "denied", "panics", "nan"}})

	for _, tc := range []struct {
		tool    string
		args    map[string]*altarv1.Value
		code    altarv1.ErrorCode
		message string
		field   string
	}{
		{tool: "fails", code: altarv1.ErrorCode_ERROR_CODE_TOOL_FAILED, message: "disk full"},
		{tool: "denied", code: altarv1.ErrorCode_ERROR_CODE_PERMISSION_DENIED, message: "not for you"},
		{tool: "panics", code: altarv1.ErrorCode_ERROR_CODE_TOOL_FAILED, message: `tool "panics" panicked: boom`},
		{tool: "nan", code: altarv1.ErrorCode_ERROR_CODE_INVALID_RESULT, message: "no ALTAR value"},
		{tool: "missing", code: altarv1.ErrorCode_ERROR_CODE_TOOL_NOT_FOUND, message: `no tool named "missing"`},
		{tool: "add", args: args("a", "1", "b", int64(2)), code: altarv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENTS,
			message: "Go parameters", field: "/a"},
	} {
		t.Run(tc.tool, func(t *testing.T) {
			id := "inv-" + tc.tool
			c.call(t, id, tc.tool, tc.args, false)
			res := c.result(t)
			wantCode(t, res, tc.code)
			e := res.GetError()
			if !strings.Contains(e.GetMessage(), tc.message) || strings.Contains(e.GetMessage(), "goroutine") {
				t.Errorf("message %q, want it to contain %q (and no stack)", e.GetMessage(), tc.message)
			}
			if e.GetInvocationId() != id || e.GetCorrelationId() != "corr-"+id {
				t.Errorf("error ids %q %q", e.GetInvocationId(), e.GetCorrelationId())
			}
			if tc.field != "" && (len(e.GetFieldErrors()) != 1 || e.GetFieldErrors()[0].GetPath() != tc.field) {
				t.Errorf("field errors %v, want one at %s", e.GetFieldErrors(), tc.field)
			}
		})
	}
}

func TestConcurrentCalls(t *testing.T) {
	const n = 200
	var started atomic.Int32
	all := make(chan struct{})
	// Every call waits until all n have started: serialised calls would
	// never finish.
	wait := sdk.Func("wait", "", func(ctx context.Context, in struct {
		I int64 `json:"i"`
	}) (int64, error) {
		if started.Add(1) == n {
			close(all)
		}
		select {
		case <-all:
			return in.I * 2, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	})
	h := newScriptedHost(t)
	startRuntime(t, h, []sdk.Tool{wait}, sdk.WithSendQueue(8))
	c := h.accept(t)
	c.bootstrap(t, boot{offered: []string{"wait"}})
	for i := range n {
		c.call(t, fmt.Sprint("inv-", i), "wait", args("i", int64(i)), false)
	}
	seen := map[string]bool{}
	for range n {
		res := c.result(t)
		var i int64
		if _, err := fmt.Sscanf(res.GetInvocationId(), "inv-%d", &i); err != nil || seen[res.GetInvocationId()] {
			t.Fatalf("unexpected result %v", res)
		}
		seen[res.GetInvocationId()] = true
		wantPayload(t, res, schema.Int(2*i))
	}
}

func TestDeadline(t *testing.T) {
	h := newScriptedHost(t)
	b := newBlocker()
	deadline := sdk.Func("deadline", "", func(ctx context.Context, _ struct{}) (int64, error) {
		d, ok := ctx.Deadline()
		if !ok {
			return 0, errors.New("no deadline")
		}
		return d.UnixNano(), nil
	})
	startRuntime(t, h, []sdk.Tool{deadline, b.tool()})
	c := h.accept(t)
	c.bootstrap(t, boot{offered: []string{"deadline", "block"}})

	at := time.Now().Add(time.Hour).Add(123456789 * time.Nanosecond)
	c.send(t, &altarv1.HostMessage{Message: &altarv1.HostMessage_ToolCall{ToolCall: &altarv1.ToolCall{
		InvocationId: "inv-1", ToolName: "deadline", Deadline: timestamppb.New(at)}}})
	wantPayload(t, c.result(t), schema.Int(at.UnixNano()))

	// A deadline that passes while the tool runs.
	c.send(t, &altarv1.HostMessage{Message: &altarv1.HostMessage_ToolCall{ToolCall: &altarv1.ToolCall{
		InvocationId: "inv-2", ToolName: "block", Deadline: timestamppb.New(time.Now().Add(20 * time.Millisecond))}}})
	res := c.result(t)
	wantCode(t, res, altarv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED)
	if cause := <-b.causes; !errors.Is(cause, context.DeadlineExceeded) {
		t.Errorf("tool saw cause %v", cause)
	}
}

func TestCancelInvocation(t *testing.T) {
	h := newScriptedHost(t)
	b := newBlocker()
	ticks := sdk.StreamFunc("ticks", "Emits until stopped.", func(ctx context.Context, _ struct{}, emit func(int64) error) error {
		for i := int64(1); ; i++ {
			if err := emit(i); err != nil {
				return err
			}
		}
	})
	startRuntime(t, h, []sdk.Tool{b.tool(), ticks})
	c := h.accept(t)
	c.bootstrap(t, boot{offered: []string{"block", "ticks"}})

	t.Run("unary", func(t *testing.T) {
		c.call(t, "inv-1", "block", nil, false)
		b.waitStarted(t)
		c.cancel(t, "inv-1", "client went away")
		res := c.result(t)
		wantCode(t, res, altarv1.ErrorCode_ERROR_CODE_CANCELLED)
		if !strings.Contains(res.GetError().GetMessage(), "client went away") {
			t.Errorf("message %q lacks the Host's reason", res.GetError().GetMessage())
		}
		cause := <-b.causes
		if altarerr.CodeOf(cause) != altarv1.ErrorCode_ERROR_CODE_CANCELLED {
			t.Errorf("tool saw cause %v", cause)
		}
		// A cancel for a finished call is ignored.
		c.cancel(t, "inv-1", "late")
	})

	t.Run("stream", func(t *testing.T) {
		c.call(t, "inv-2", "ticks", nil, true)
		if ch := c.chunk(t); ch.GetChunkId() != 1 || ch.GetPayload().GetIntValue() != 1 {
			t.Fatalf("first chunk %v", ch)
		}
		c.cancel(t, "inv-2", "enough")
		for id := uint64(2); ; id++ {
			ch := c.chunk(t)
			if ch.GetChunkId() != id {
				t.Fatalf("chunk_id %d, want %d", ch.GetChunkId(), id)
			}
			if ch.GetError() != nil {
				if ch.GetError().GetCode() != altarv1.ErrorCode_ERROR_CODE_CANCELLED || !ch.GetIsFinal() || ch.GetPayload() != nil {
					t.Fatalf("last chunk %v, want a final CANCELLED error chunk", ch)
				}
				break
			}
			if ch.GetIsFinal() || ch.GetPayload().GetIntValue() != int64(id) {
				t.Fatalf("chunk %v", ch)
			}
		}
	})
}

func TestStreamManyChunksInOrder(t *testing.T) {
	const n = 10_000
	count := sdk.StreamFunc("count", "", func(ctx context.Context, in struct {
		N int64 `json:"n"`
	}, emit func(int64) error) error {
		for i := range in.N {
			if err := emit(i); err != nil {
				return err
			}
		}
		return nil
	})
	h := newScriptedHost(t)
	startRuntime(t, h, []sdk.Tool{count}, sdk.WithSendQueue(16))
	c := h.accept(t)
	c.bootstrap(t, boot{offered: []string{"count"}})
	c.call(t, "inv-1", "count", args("n", int64(n)), true)
	for i := range n {
		ch := c.chunk(t)
		if ch.GetChunkId() != uint64(i+1) || ch.GetPayload().GetIntValue() != int64(i) || ch.GetIsFinal() ||
			ch.GetInvocationId() != "inv-1" || ch.GetCorrelationId() != "corr-inv-1" {
			t.Fatalf("chunk %d: %v", i, ch)
		}
	}
	last := c.chunk(t)
	if last.GetChunkId() != n+1 || !last.GetIsFinal() || last.GetPayload() != nil || last.GetError() != nil {
		t.Fatalf("last chunk %v, want chunk %d with is_final and no payload", last, n+1)
	}
}

func TestStreamErrorChunk(t *testing.T) {
	three := sdk.StreamFunc("three", "", func(ctx context.Context, _ struct{}, emit func(string) error) error {
		for _, s := range []string{"a", "b", "c"} {
			if err := emit(s); err != nil {
				return err
			}
		}
		return altarerr.New(altarv1.ErrorCode_ERROR_CODE_CONNECTION_LOST, "upstream closed the connection")
	})
	h := newScriptedHost(t)
	startRuntime(t, h, []sdk.Tool{three, addTool()})
	c := h.accept(t)
	c.bootstrap(t, boot{offered: []string{"three", "add"}})
	c.call(t, "inv-1", "three", nil, true)
	for i, want := range []string{"a", "b", "c"} {
		if ch := c.chunk(t); ch.GetChunkId() != uint64(i+1) || ch.GetPayload().GetStringValue() != want {
			t.Fatalf("chunk %v", ch)
		}
	}
	last := c.chunk(t)
	if last.GetChunkId() != 4 || last.GetError().GetCode() != altarv1.ErrorCode_ERROR_CODE_CONNECTION_LOST || !last.GetIsFinal() {
		t.Fatalf("last chunk %v", last)
	}

	// A unary tool called with streaming answers with one final chunk.
	c.call(t, "inv-2", "add", args("a", int64(2), "b", int64(3)), true)
	if ch := c.chunk(t); ch.GetChunkId() != 1 || !ch.GetIsFinal() || ch.GetPayload().GetIntValue() != 5 {
		t.Fatalf("chunk %v", ch)
	}
}

func TestHeartbeats(t *testing.T) {
	h := newScriptedHost(t)
	b := newBlocker()
	startRuntime(t, h, []sdk.Tool{b.tool()})
	c := h.accept(t)
	c.bootstrap(t, boot{offered: []string{"block"}, heartbeatInterval: 5 * time.Millisecond})
	c.call(t, "inv-1", "block", nil, false)
	b.waitStarted(t)

	var last uint64
	for busy := 0; busy < 3; {
		m := c.nextAny(t)
		hb := m.GetHeartbeat()
		if hb == nil {
			t.Fatalf("got %v, want heartbeats only", m)
		}
		if last != 0 && hb.GetSequence() != last+1 {
			t.Fatalf("sequence %d after %d", hb.GetSequence(), last)
		}
		last = hb.GetSequence()
		if hb.GetSentAt() == nil || hb.GetHealth() != altarv1.RuntimeHealth_RUNTIME_HEALTH_HEALTHY {
			t.Fatalf("heartbeat %v", hb)
		}
		if hb.GetInFlight() == 1 {
			busy++
		}
		// The Host's heartbeats keep the runtime's view of it alive.
		c.send(t, &altarv1.HostMessage{Message: &altarv1.HostMessage_Heartbeat{Heartbeat: &altarv1.Heartbeat{
			Sequence: hb.GetSequence(), SentAt: timestamppb.Now()}}})
	}
	close(b.release)
	wantPayload(t, c.result(t), schema.String("released"))
}

func TestSilentHostIsDropped(t *testing.T) {
	h := newScriptedHost(t)
	s := startRuntime(t, h, []sdk.Tool{addTool()})
	c := h.accept(t)
	c.bootstrap(t, boot{offered: []string{"add"}, heartbeatInterval: 5 * time.Millisecond, heartbeatTimeout: 30 * time.Millisecond})
	// The Host sends nothing more: the runtime gives up and reconnects.
	c2 := h.accept(t)
	c2.bootstrap(t, boot{offered: []string{"add"}})
	if st := s.rt.Status(); st.Connects != 2 {
		t.Errorf("Connects = %d, want 2", st.Connects)
	}
	c.close(nil)
}

func TestReconnectAfterHostDropsStream(t *testing.T) {
	h := newScriptedHost(t)
	s := startRuntime(t, h, []sdk.Tool{addTool()})
	c := h.accept(t)
	c.bootstrap(t, boot{offered: []string{"add"}})
	c.close(status.Error(codes.Unavailable, "host restarting"))

	c2 := h.accept(t)
	c2.bootstrap(t, boot{offered: []string{"add"}})
	c2.call(t, "inv-1", "add", args("a", int64(40), "b", int64(2)), false)
	wantPayload(t, c2.result(t), schema.Int(42))
	st := s.rt.Status()
	if st.Connects != 2 || !st.Connected {
		t.Errorf("Status() = %+v", st)
	}
}

func TestDrain(t *testing.T) {
	h := newScriptedHost(t)
	b := newBlocker()
	s := startRuntime(t, h, []sdk.Tool{b.tool(), addTool()})
	c := h.accept(t)
	c.bootstrap(t, boot{offered: []string{"block", "add"}})
	c.call(t, "inv-1", "block", nil, false)
	b.waitStarted(t)

	c.send(t, &altarv1.HostMessage{Message: &altarv1.HostMessage_Drain{Drain: &altarv1.Drain{
		Reason: "host shutting down", GracePeriod: durationpb.New(testTimeout)}}})
	// A call after the drain is refused at once, retryably.
	c.call(t, "inv-2", "add", args("a", int64(1), "b", int64(1)), false)
	res := c.result(t)
	wantCode(t, res, altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE)
	if !altarerr.FromProto(res.GetError()).Retryable() {
		t.Errorf("refusal %v is not retryable", res.GetError())
	}
	if st := s.rt.Status(); !st.Draining || st.InFlight != 1 {
		t.Errorf("Status() = %+v, want draining with 1 in flight", st)
	}

	// The call in flight finishes, then the runtime closes its side.
	close(b.release)
	wantPayload(t, c.result(t), schema.String("released"))
	c.expectEOF(t)
	c.close(nil)

	// It reconnects, to the Host restarted.
	c2 := h.accept(t)
	c2.bootstrap(t, boot{offered: []string{"add"}})
}

func TestRefusedAnnouncement(t *testing.T) {
	refuse := func(c *hostConn, t *testing.T, code altarv1.ErrorCode, msg string) {
		t.Helper()
		a := c.next(t)
		c.send(t, &altarv1.HostMessage{CorrelationId: a.GetCorrelationId(), Message: &altarv1.HostMessage_AnnounceResponse{
			AnnounceResponse: &altarv1.AnnounceRuntimeResponse{HostId: "scripted-host", ProtocolVersion: "1.0",
				Error: &altarv1.Error{Code: code, Message: msg}}}})
		c.close(nil)
	}

	t.Run("permanent", func(t *testing.T) {
		h := newScriptedHost(t)
		s := startRuntime(t, h, []sdk.Tool{addTool()})
		refuse(h.accept(t), t, altarv1.ErrorCode_ERROR_CODE_UNSUPPORTED_PROTOCOL_VERSION, "this side speaks ALTAR 2.0")
		err := s.wait(t)
		var refused *sdk.RefusedError
		if !errors.As(err, &refused) || refused.Err.Code != altarv1.ErrorCode_ERROR_CODE_UNSUPPORTED_PROTOCOL_VERSION ||
			refused.HostID != "scripted-host" || !strings.Contains(err.Error(), "this side speaks ALTAR 2.0") {
			t.Fatalf("Serve = %v, want the Host's refusal", err)
		}
		if altarerr.CodeOf(err) != altarv1.ErrorCode_ERROR_CODE_UNSUPPORTED_PROTOCOL_VERSION {
			t.Errorf("CodeOf = %v", altarerr.CodeOf(err))
		}
	})

	t.Run("retryable", func(t *testing.T) {
		h := newScriptedHost(t)
		startRuntime(t, h, []sdk.Tool{addTool()})
		refuse(h.accept(t), t, altarv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED, "too many runtimes")
		h.accept(t).bootstrap(t, boot{offered: []string{"add"}})
	})
}

func TestShutdown(t *testing.T) {
	h := newScriptedHost(t)
	b := newBlocker()
	s := startRuntime(t, h, []sdk.Tool{b.tool(), addTool()})
	c := h.accept(t)
	c.bootstrap(t, boot{offered: []string{"block", "add"}})
	c.call(t, "inv-1", "block", nil, false)
	b.waitStarted(t)

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		shut <- s.rt.Shutdown(ctx)
	}()
	w := c.next(t).GetWithdrawTools()
	if !slices.Equal(w.GetToolNames(), []string{"block", "add"}) {
		t.Fatalf("withdraw %v", w)
	}
	c.call(t, "inv-2", "add", args("a", int64(1), "b", int64(1)), false)
	wantCode(t, c.result(t), altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE)
	close(b.release)
	wantPayload(t, c.result(t), schema.String("released"))
	c.expectEOF(t)
	c.close(nil)

	if err := s.wait(t); err != nil {
		t.Errorf("Serve = %v, want nil after Shutdown", err)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	select {
	case <-h.conns:
		t.Error("the runtime reconnected after Shutdown")
	default:
	}
}

func TestMaxConcurrency(t *testing.T) {
	h := newScriptedHost(t)
	b := newBlocker()
	startRuntime(t, h, []sdk.Tool{b.tool()}, sdk.WithMaxConcurrency(1))
	c := h.accept(t)
	c.bootstrap(t, boot{offered: []string{"block"}})
	c.call(t, "inv-1", "block", nil, false)
	b.waitStarted(t)
	c.call(t, "inv-2", "block", nil, true)
	ch := c.chunk(t)
	if ch.GetInvocationId() != "inv-2" || ch.GetChunkId() != 1 || !ch.GetIsFinal() ||
		ch.GetError().GetCode() != altarv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED || ch.GetError().GetRetryAfterMs() <= 0 {
		t.Fatalf("chunk %v, want a RESOURCE_EXHAUSTED refusal with a retry hint", ch)
	}
	close(b.release)
	wantPayload(t, c.result(t), schema.String("released"))
}

func TestDevelopmentMode(t *testing.T) {
	echo := sdk.Func("echo", "Echoes its input.", func(_ context.Context, in struct {
		Text string `json:"text" altar:"description=What to echo."`
	}) (string, error) {
		return in.Text, nil
	})

	t.Run("registers what the Host lacks", func(t *testing.T) {
		h := newScriptedHost(t)
		fulfilled := make(chan sdk.Fulfilment, 1)
		startRuntime(t, h, []sdk.Tool{addTool(), echo}, sdk.WithDevelopmentMode(),
			sdk.OnFulfilled(func(f sdk.Fulfilment) { fulfilled <- f }))
		c := h.accept(t)
		r := c.bootstrap(t, boot{mode: altarv1.HostMode_HOST_MODE_DEVELOPMENT, offered: []string{"add"}, register: true})
		if !slices.Contains(r.announce.GetAnnounce().GetCapabilities(), altarv1.CapabilityRegisterTools) {
			t.Errorf("announce lacks register_tools")
		}
		reg := r.register.GetRegisterTools()
		if !reg.GetAcknowledgeInsecure() || len(reg.GetContracts()) != 1 || !proto.Equal(reg.GetContracts()[0], echo.Contract()) {
			t.Errorf("RegisterTools = %v", reg)
		}
		f := <-fulfilled
		if len(f.Accepted) != 2 || f.Err() != nil {
			t.Errorf("fulfilment %+v", f)
		}
		c.call(t, "inv-1", "echo", args("text", "hi"), false)
		wantPayload(t, c.result(t), schema.String("hi"))
	})

	t.Run("not with a strict Host", func(t *testing.T) {
		h := newScriptedHost(t)
		fulfilled := make(chan sdk.Fulfilment, 1)
		startRuntime(t, h, []sdk.Tool{addTool(), echo}, sdk.WithDevelopmentMode(),
			sdk.OnFulfilled(func(f sdk.Fulfilment) { fulfilled <- f }))
		c := h.accept(t)
		c.bootstrap(t, boot{offered: []string{"add"}})
		f := <-fulfilled
		if len(f.Rejected) != 1 || f.Rejected[0].GetToolName() != "echo" ||
			!strings.Contains(f.Rejected[0].GetError().GetMessage(), "STRICT") {
			t.Errorf("fulfilment %+v", f)
		}
	})
}

func TestServeTwice(t *testing.T) {
	h := newScriptedHost(t)
	s := startRuntime(t, h, []sdk.Tool{addTool()})
	h.accept(t).bootstrap(t, boot{offered: []string{"add"}})
	if err := s.rt.Serve(context.Background(), h.addr); !errors.Is(err, sdk.ErrServing) {
		t.Errorf("second Serve = %v", err)
	}
}

func TestHostErrorMessages(t *testing.T) {
	t.Run("mid-stream error ends the connection, the runtime reconnects", func(t *testing.T) {
		h := newScriptedHost(t)
		s := startRuntime(t, h, []sdk.Tool{addTool()})
		c := h.accept(t)
		c.bootstrap(t, boot{offered: []string{"add"}})
		c.send(t, &altarv1.HostMessage{Message: &altarv1.HostMessage_Error{Error: &altarv1.Error{
			Code: altarv1.ErrorCode_ERROR_CODE_PROTOCOL_VIOLATION, Message: "chunk_id 3 after 1"}}})
		c.close(nil)
		h.accept(t).bootstrap(t, boot{offered: []string{"add"}})
		if err := s.rt.Status().LastError; err != nil {
			t.Errorf("LastError = %v after a successful reconnect", err)
		}
	})

	t.Run("error instead of an announce answer is a refusal", func(t *testing.T) {
		h := newScriptedHost(t)
		s := startRuntime(t, h, []sdk.Tool{addTool()})
		c := h.accept(t)
		a := c.next(t)
		c.send(t, &altarv1.HostMessage{CorrelationId: a.GetCorrelationId(), Message: &altarv1.HostMessage_Error{Error: &altarv1.Error{
			Code: altarv1.ErrorCode_ERROR_CODE_CAPABILITY_MISSING, Message: `COMPLIANCE_LEVEL_2 requires "streaming"`}}})
		c.close(nil)
		err := s.wait(t)
		if altarerr.CodeOf(err) != altarv1.ErrorCode_ERROR_CODE_CAPABILITY_MISSING || !strings.Contains(err.Error(), "requires") {
			t.Fatalf("Serve = %v", err)
		}
	})

	t.Run("a Host speaking another major version is refused by the runtime", func(t *testing.T) {
		h := newScriptedHost(t)
		s := startRuntime(t, h, []sdk.Tool{addTool()})
		c := h.accept(t)
		a := c.next(t)
		c.send(t, &altarv1.HostMessage{CorrelationId: a.GetCorrelationId(), Message: &altarv1.HostMessage_AnnounceResponse{
			AnnounceResponse: &altarv1.AnnounceRuntimeResponse{Accepted: true, HostId: "h2", ProtocolVersion: "2.0"}}})
		err := s.wait(t)
		if altarerr.CodeOf(err) != altarv1.ErrorCode_ERROR_CODE_UNSUPPORTED_PROTOCOL_VERSION {
			t.Fatalf("Serve = %v", err)
		}
		c.close(nil)
	})
}
