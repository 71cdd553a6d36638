package noderuntime_test

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// TestNodeUnitTests runs the runtime library's own tests (node --test
// test/): value conversion, including a property test over random Values,
// and the call executor.
func TestNodeUnitTests(t *testing.T) {
	requireNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*testTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "node", "--test", "test/").CombinedOutput()
	if err != nil {
		t.Fatalf("node --test: %v\n%s", err, out)
	}
}

// TestCalculatorExample runs the README's example, calculator.js, against
// the calculator manifest: plain numbers in and out ("natural" mode).
func TestCalculatorExample(t *testing.T) {
	requireNode(t)
	h := startHost(t, "127.0.0.1:0", "../../manifests/calculator.yaml")
	p := startNode(t, "calculator.js", "ALTAR_HOST="+h.GRPCAddr(), "ALTAR_LOG_LEVEL=warn")
	waitTools(t, h, p, "node-calc", 5)

	num := func(f float64) *altarv1.Value { return schema.Double(f) }
	for _, c := range []struct {
		tool string
		args map[string]*altarv1.Value
		want *altarv1.Value
	}{
		{"add", map[string]*altarv1.Value{"a": num(2), "b": num(3.5)}, schema.Double(5.5)},
		{"add", map[string]*altarv1.Value{"a": schema.Int(2), "b": schema.Int(3)}, schema.Int(5)},
		{"subtract", map[string]*altarv1.Value{"a": num(1), "b": num(0.25)}, schema.Double(0.75)},
		{"divide", map[string]*altarv1.Value{"a": num(7), "b": num(2)}, schema.Double(3.5)},
		{"divide", map[string]*altarv1.Value{"a": num(-7), "b": num(2), "mode": schema.String("integer")}, schema.Int(-3)},
		{"multiply", map[string]*altarv1.Value{"factors": schema.Array(num(1.5), num(2.25))}, schema.Double(3.375)},
		{"multiply", map[string]*altarv1.Value{"factors": schema.Array(num(1.5), num(2.25)),
			"rounding": schema.Object(map[string]*altarv1.Value{"places": schema.Int(2)})}, schema.Double(3.38)},
	} {
		res, err := invoke(t, h, &altarv1.InvokeRequest{ToolName: "node-calc/" + c.tool, Parameters: c.args})
		if err != nil {
			t.Fatalf("%s: %v", c.tool, err)
		}
		if !proto.Equal(res.GetPayload(), c.want) {
			t.Errorf("%s(%v) = %v, want %v", c.tool, c.args, res.GetPayload(), c.want)
		}
	}

	chunks := stream(t, h, &altarv1.InvokeRequest{ToolName: "node-calc/count",
		Parameters: map[string]*altarv1.Value{"start": schema.Int(3), "stop": schema.Int(1), "step": schema.Int(-1), "delay_ms": schema.Int(0)}})
	var got []int64
	for _, c := range chunks {
		if c.GetPayload() != nil {
			got = append(got, c.GetPayload().GetIntValue())
		}
	}
	if len(got) != 3 || got[0] != 3 || got[2] != 1 || !chunks[len(chunks)-1].GetIsFinal() {
		t.Fatalf("count = %v (%d chunks)", got, len(chunks))
	}
}

// freeAddr returns a loopback address no one listens on.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// TestReconnectAndShutdown: the Host goes away and a new one comes up on
// the same address; the runtime reconnects on its own (backoff). Then
// SIGTERM: the runtime withdraws its tools and exits with status 0.
func TestReconnectAndShutdown(t *testing.T) {
	requireNode(t)
	addr := freeAddr(t)
	first := startHost(t, addr)
	const id = "node-reconnect"
	p := startNode(t, "conformance.js", "ALTAR_HOST="+addr, "ALTAR_RUNTIME_ID="+id, "ALTAR_LOG_LEVEL=off")
	waitRoutable(t, first, p, id)

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := first.Close(ctx); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, p, "the first Host's port to be free again", func() bool {
		l, err := net.Listen("tcp", addr)
		if err == nil {
			_ = l.Close()
		}
		return err == nil
	})
	second := startHost(t, addr)
	start := time.Now()
	waitRoutable(t, second, p, id)
	t.Logf("reconnected in %v", time.Since(start))
	res, err := invoke(t, second, &altarv1.InvokeRequest{ToolName: "conformance.pid"})
	if err != nil || res.GetPayload().GetObjectValue().GetFields()["pid"].GetIntValue() != int64(p.pid) {
		t.Fatalf("after reconnect: %v, %v", res, err)
	}

	if err := syscall.Kill(p.pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(testTimeout):
		t.Fatal("the runtime did not exit after SIGTERM")
	}
	var exit *exec.ExitError
	if errors.As(p.err, &exit) {
		t.Fatalf("exit after SIGTERM: %v\n%s", p.err, p.stderr.String())
	}
	waitUntil(t, &nodeProc{exited: make(chan struct{}), stderr: p.stderr}, "the Host dropping the runtime", func() bool {
		for _, i := range second.Runtimes().List() {
			if i.GetRuntimeId() == id {
				return false
			}
		}
		return true
	})
}
