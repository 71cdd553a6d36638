package gateway_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/altar-gateway/altar/gateway"
	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/config"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// hostFromFile starts a Host the way `altar serve` builds one: altar.yaml
// loaded by gateway/config and mapped with File.Config. The file serves
// testdata/host.yaml on loopback, with no HTTP, plus the keys in extra.
func hostFromFile(t *testing.T, extra string) *testHost {
	t.Helper()
	manifest, err := filepath.Abs("testdata/host.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf("manifests: [%q]\ngrpc:\n  addr: 127.0.0.1:0\nhttp:\n  addr: \"off\"\n"+
		"runtimes:\n  heartbeat_interval: 1s\n  heartbeat_timeout: 10s\n", manifest) + extra
	path := filepath.Join(t.TempDir(), "altar.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return startHost(t, altarv1.HostMode_HOST_MODE_STRICT, func(c *gateway.Config) { *c = f.Config() })
}

// contracts.default_runtimes sends a bare name served by two runtimes to
// the configured one; without it the tie goes to the first id.
func TestConfigFileDefaultRuntime(t *testing.T) {
	for _, tc := range []struct {
		name, file, want string
	}{
		{"configured", "contracts:\n  default_runtimes:\n    echo: rt-b\n", "rt-b"},
		{"not configured", "", "rt-a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := hostFromFile(t, tc.file)
			startRuntime(t, h, "rt-a", newTools())
			startRuntime(t, h, "rt-b", newTools())
			for range 3 {
				if id, err := callEcho(t, h, "echo"); err != nil || id != tc.want {
					t.Fatalf("echo went to %q (%v), want %s", id, err, tc.want)
				}
			}
			if id, err := callEcho(t, h, "rt-a/echo"); err != nil || id != "rt-a" {
				t.Fatalf("rt-a/echo went to %q (%v)", id, err)
			}
		})
	}
}

// exhausted checks that err is RESOURCE_EXHAUSTED for the limit named,
// with a retry_after_ms.
func exhausted(t *testing.T, err error, limit string) {
	t.Helper()
	e := altarerr.From(err)
	if e.Code != altarv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED || e.RetryAfter <= 0 || e.Details["limit"] != limit {
		t.Fatalf("err = %v (retry after %v, details %v), want RESOURCE_EXHAUSTED of %s with a retry_after_ms", err, e.RetryAfter, e.Details, limit)
	}
}

// The limits of invoke.limits shed load beyond them with
// RESOURCE_EXHAUSTED and a retry_after_ms.
func TestConfigFileLimits(t *testing.T) {
	t.Run("a tool at its limit, whatever name it is called by", func(t *testing.T) {
		h := hostFromFile(t, "invoke:\n  limits:\n    tools:\n      block: {concurrency: 1, queue: 0}\n")
		tl := newTools()
		startRuntime(t, h, "rt-a", tl)
		first := goInvoke(h, &altarv1.InvokeRequest{ToolName: "block", Parameters: args("tag", "1")})
		within(t, tl.started, "the first call to start")
		for _, name := range []string{"block", "rt-a/block"} {
			_, err := h.client.Invoke(ctxT(t), &altarv1.InvokeRequest{ToolName: name, Parameters: args("tag", "2")})
			exhausted(t, err, "tool_concurrency")
		}
		// Another tool is not limited.
		if id, err := callEcho(t, h, "echo"); err != nil || id != "rt-a" {
			t.Fatalf("echo while block is at its limit: %q, %v", id, err)
		}
		close(tl.release)
		if r := within(t, first, "the first call"); r.err != nil {
			t.Fatal(r.err)
		}
		if _, err := h.client.Invoke(ctxT(t), &altarv1.InvokeRequest{ToolName: "block", Parameters: args("tag", "3")}); err != nil {
			t.Fatalf("block once its slot is free: %v", err)
		}
	})
	t.Run("every tool", func(t *testing.T) {
		h := hostFromFile(t, "invoke:\n  limits:\n    per_tool: {concurrency: 1, queue: 0}\n")
		tl := newTools()
		startRuntime(t, h, "rt-a", tl)
		first := goInvoke(h, &altarv1.InvokeRequest{ToolName: "block", Parameters: args("tag", "1")})
		within(t, tl.started, "the first call to start")
		_, err := h.client.Invoke(ctxT(t), &altarv1.InvokeRequest{ToolName: "block", Parameters: args("tag", "2")})
		exhausted(t, err, "tool_concurrency")
		close(tl.release)
		if r := within(t, first, "the first call"); r.err != nil {
			t.Fatal(r.err)
		}
	})
	t.Run("a runtime at its limit", func(t *testing.T) {
		h := hostFromFile(t, "invoke:\n  limits:\n    per_runtime: {concurrency: 1, queue: 0}\n")
		tl := newTools()
		startRuntime(t, h, "rt-a", tl)
		first := goInvoke(h, &altarv1.InvokeRequest{ToolName: "block", Parameters: args("tag", "1")})
		within(t, tl.started, "the first call to start")
		_, err := callEcho(t, h, "echo")
		exhausted(t, err, "runtime_concurrency")
		close(tl.release)
		if r := within(t, first, "the first call"); r.err != nil {
			t.Fatal(r.err)
		}
	})
}

// invoke.retry.max_attempts: 1 leaves an idempotent call whose runtime
// dies unretried (with the default of 3 it fails over: see
// TestIdempotentCallFailsOverWhenRuntimeDies).
func TestConfigFileRetry(t *testing.T) {
	h := hostFromFile(t, "invoke:\n  retry:\n    max_attempts: 1\n")
	tlA, tlB := newTools(), newTools()
	stopA := startRuntime(t, h, "rt-a", tlA)
	startRuntime(t, h, "rt-b", tlB)
	close(tlB.release)
	call := goInvoke(h, &altarv1.InvokeRequest{ToolName: "block_idem", Parameters: args("tag", "r")})
	within(t, tlA.started, "the call to start on rt-a, first in preference order")
	stopA()
	r := within(t, call, "the call to fail")
	if code := altarerr.CodeOf(r.err); code != altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE {
		t.Fatalf("the call after rt-a died: %v, %v; want RUNTIME_UNAVAILABLE, not retried on rt-b", r.resp, r.err)
	}
	select {
	case tag := <-tlB.started:
		t.Fatalf("the call was retried on rt-b (%s)", tag)
	default:
	}
}

// invoke.breaker opens a runtime's breaker after its consecutive_failures
// (the default is 5) and keeps it open for open_timeout.
func TestConfigFileBreaker(t *testing.T) {
	h := hostFromFile(t, "invoke:\n  default_timeout: 100ms\n  breaker:\n    consecutive_failures: 2\n    open_timeout: 1h\n")
	startRuntime(t, h, "rt-a", newTools())
	for i := range 2 {
		if _, err := h.client.Invoke(ctxT(t), &altarv1.InvokeRequest{ToolName: "block", Parameters: args("tag", fmt.Sprint(i))}); altarerr.CodeOf(err) != altarv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED {
			t.Fatalf("call %d: %v, want DEADLINE_EXCEEDED", i, err)
		}
	}
	if info := runtimeInfo(t, h, "rt-a"); info.GetBreakerState() != "open" {
		t.Fatalf("breaker after 2 failures = %q, want open", info.GetBreakerState())
	}
	_, err := callEcho(t, h, "echo")
	if e := altarerr.From(err); e.Code != altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE || e.Details["breaker"] != "open" || e.RetryAfter < 59*60*1e9 {
		t.Fatalf("a call while open: %v (retry after %v), want RUNTIME_UNAVAILABLE with the open timeout left", err, e.RetryAfter)
	}
}
