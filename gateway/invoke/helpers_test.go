package invoke_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/invoke"
	"github.com/altar-gateway/altar/gateway/invoke/invoketest"
	"github.com/altar-gateway/altar/gateway/runtime"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Named timeouts: how long a test waits for something that should happen
// (a generous bound that only a bug reaches), and how long it lets something
// that should not happen have a chance to.
const (
	waitTimeout  = 10 * time.Second
	neverTimeout = 50 * time.Millisecond
)

func u64(v uint64) *uint64   { return &v }
func f64(v float64) *float64 { return &v }

// weatherContract is a tool with a required string, an integer with bounds
// and a default, and a declared return type.
func weatherContract() *altarv1.ToolContract {
	return &altarv1.ToolContract{
		Name:    "get_weather",
		Version: "1.2.0",
		Parameters: &altarv1.ParameterSchema{
			Type: altarv1.AltarType_ALTAR_TYPE_OBJECT,
			Properties: map[string]*altarv1.ParameterSchema{
				"city": {Type: altarv1.AltarType_ALTAR_TYPE_STRING, MinLength: u64(1)},
				"days": {Type: altarv1.AltarType_ALTAR_TYPE_INTEGER, Minimum: f64(1), Maximum: f64(14), Default: schema.Int(3)},
			},
			Required: []string{"city"},
		},
		ReturnType: &altarv1.ParameterSchema{Type: altarv1.AltarType_ALTAR_TYPE_OBJECT, AdditionalProperties: boolPtr(true)},
	}
}

func boolPtr(b bool) *bool { return &b }

func idempotent(c *altarv1.ToolContract) *altarv1.ToolContract {
	if c.Flags == nil {
		c.Flags = &altarv1.ToolFlags{}
	}
	c.Flags.Idempotent = true
	return c
}

func cacheable(c *altarv1.ToolContract, ttl time.Duration) *altarv1.ToolContract {
	idempotent(c)
	c.Flags.Cacheable = true
	c.CacheTtlMs = ttl.Milliseconds()
	return c
}

func streaming(c *altarv1.ToolContract) *altarv1.ToolContract {
	c.SupportsStreaming = true
	c.ReturnType = nil
	return c
}

// harness is an engine over fake runtimes.
type harness struct {
	t        *testing.T
	engine   *invoke.Engine
	resolver *invoketest.Resolver
	runtimes *invoketest.Runtimes
	conns    map[string]*invoketest.Conn
	clock    *invoketest.Clock
}

// newHarness builds an engine for the contract fulfilled by conns (in
// preference order). The engine uses a fake clock unless opts set one.
func newHarness(t *testing.T, contract *altarv1.ToolContract, conns []*invoketest.Conn, opts ...invoke.Option) *harness {
	t.Helper()
	h := &harness{t: t, conns: map[string]*invoketest.Conn{}, clock: invoketest.NewClock()}
	ids := make([]string, 0, len(conns))
	rc := make([]runtime.Conn, 0, len(conns))
	for _, c := range conns {
		ids = append(ids, c.ID())
		rc = append(rc, c)
		h.conns[c.ID()] = c
	}
	h.runtimes = invoketest.NewRuntimes(rc...)
	h.resolver = invoketest.NewResolver(invoketest.Target(contract, ids...))
	h.engine = invoke.New(h.resolver, h.runtimes, append([]invoke.Option{invoke.WithClock(h.clock)}, opts...)...)
	t.Cleanup(h.engine.Close)
	return h
}

// ctx is a caller's context with no deadline of its own (calls are bounded
// by the engine's deadlines, waits in tests by waitTimeout).
func (h *harness) ctx() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	h.t.Cleanup(cancel)
	return ctx
}

func weatherReq(id string, city string) *altarv1.InvokeRequest {
	return &altarv1.InvokeRequest{
		ToolName:     "get_weather",
		InvocationId: id,
		Parameters:   map[string]*altarv1.Value{"city": schema.String(city)},
	}
}

func withTimeout(r *altarv1.InvokeRequest, d time.Duration) *altarv1.InvokeRequest {
	r.Timeout = durationpb.New(d)
	return r
}

// code returns err's ALTAR code, failing the test when err is not an
// *altarerr.Error.
func code(t *testing.T, err error) altarv1.ErrorCode {
	t.Helper()
	if err == nil {
		return altarv1.ErrorCode_ERROR_CODE_UNSPECIFIED
	}
	var ae *altarerr.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *altarerr.Error", err, err)
	}
	return ae.Code
}

func asAltar(t *testing.T, err error) *altarerr.Error {
	t.Helper()
	var ae *altarerr.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *altarerr.Error", err, err)
	}
	return ae
}

// recv waits for a value on ch within waitTimeout.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// result is one finished Invoke, for calls run on another goroutine.
type result struct {
	res *altarv1.ToolResult
	err error
}

func (h *harness) goInvoke(ctx context.Context, req *altarv1.InvokeRequest) <-chan result {
	out := make(chan result, 1)
	go func() {
		res, err := h.engine.Invoke(ctx, req)
		out <- result{res, err}
	}()
	return out
}
