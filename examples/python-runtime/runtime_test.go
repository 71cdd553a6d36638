package pythonruntime_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/altar-gateway/altar/gateway"
	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

const (
	// python is the interpreter with Debian's grpcio and protobuf; the one
	// first on PATH may lack them.
	python = "/usr/bin/python3"
	// testTimeout bounds each wait of a test: a runtime's bootstrap, a call,
	// a condition polled for.
	testTimeout = 20 * time.Second
	// stopGrace is how long a Python process has to exit after SIGTERM
	// before it is killed.
	stopGrace = 10 * time.Second
	// conformanceTools is the number of contracts in the conformance manifest.
	conformanceTools = 7
)

// requirePython fails (never skips) when the interpreter cannot import what
// the runtime needs.
func requirePython(t testing.TB) {
	t.Helper()
	out, err := exec.Command(python, "-c", "import grpc, google.protobuf").CombinedOutput()
	if err != nil {
		t.Fatalf("%s cannot import grpc and google.protobuf (%v: %s): run .ci/run, which installs the Debian packages python3-grpcio and python3-protobuf",
			python, err, bytes.TrimSpace(out))
	}
}

// testHost is a real Host on loopback with a gRPC client to its Host API.
type testHost struct {
	*gateway.Host
	client altarv1.HostServiceClient
	stop   func() // closes the Host (once; the test's cleanup calls it too)
}

func startHost(t testing.TB, addr string) *testHost {
	t.Helper()
	cfg := gateway.DefaultConfig()
	cfg.GRPCAddr = addr
	cfg.ManifestPaths = []string{"../../e2e/conformance/manifest.yaml", "../../manifests/calculator.yaml"}
	cfg.Runtimes.HeartbeatInterval = 200 * time.Millisecond
	cfg.Runtimes.HeartbeatTimeout = 2 * time.Second
	cfg.Logger = slog.New(slog.DiscardHandler)
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
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cc.Close()
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			if err := h.Close(ctx); err != nil {
				t.Errorf("closing the Host: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return &testHost{Host: h, client: altarv1.NewHostServiceClient(cc), stop: stop}
}

// pyProcess is a Python runtime running as a subprocess of the test.
type pyProcess struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{}
	err    error // Wait's, once done is closed
	cancel context.CancelFunc
}

// startPython runs script under python with env added. The process gets
// SIGTERM when the test ends and is killed if it has not exited stopGrace
// later; the test waits for it either way.
func startPython(t testing.TB, env []string, script string) *pyProcess {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, python, script)
	cmd.Env = append(os.Environ(), append([]string{"PYTHONDONTWRITEBYTECODE=1", "ALTAR_LOG_LEVEL=DEBUG"}, env...)...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = stopGrace
	p := &pyProcess{cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{}), cancel: cancel}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%s stderr:\n%s", script, p.stderr.String())
		}
	})
	return p
}

// stop sends SIGTERM and waits for the process to exit; it returns an
// error unless the process exited by itself with status 0.
func (p *pyProcess) stop() error {
	p.cancel()
	<-p.done
	if st := p.cmd.ProcessState; st == nil || !st.Exited() || st.ExitCode() != 0 {
		return fmt.Errorf("the process did not exit cleanly: %v (%v)", st, p.err)
	}
	return nil
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

// waitUntil polls a condition another process brings about, bounded by
// testTimeout.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", testTimeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// runtimeInfo returns the Host's view of a runtime, nil when not connected.
func (h *testHost) runtimeInfo(id string) *altarv1.RuntimeInfo {
	for _, info := range h.Runtimes().List() {
		if info.GetRuntimeId() == id {
			return info
		}
	}
	return nil
}

// waitTools waits until the runtime id fulfils n tools.
func (h *testHost) waitTools(t testing.TB, id string, n int) *altarv1.RuntimeInfo {
	t.Helper()
	var info *altarv1.RuntimeInfo
	waitUntil(t, fmt.Sprintf("runtime %q fulfils %d tools", id, n), func() bool {
		info = h.runtimeInfo(id)
		return info != nil && len(info.GetTools()) == n
	})
	return info
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// invoke calls a tool and returns its payload, or the ALTAR error: a gRPC
// status from the Host or a tool's error in the result.
func (h *testHost) invoke(ctx context.Context, req *altarv1.InvokeRequest) (*altarv1.Value, *altarerr.Error) {
	resp, err := h.client.Invoke(ctx, req)
	if err != nil {
		return nil, altarerr.From(err)
	}
	if e := resp.GetResult().GetError(); e != nil {
		return nil, altarerr.FromProto(e)
	}
	return resp.GetResult().GetPayload(), nil
}

// call is invoke that fails the test on an error.
func (h *testHost) call(t testing.TB, tool string, params map[string]*altarv1.Value) *altarv1.Value {
	t.Helper()
	v, e := h.invoke(ctxT(t), &altarv1.InvokeRequest{ToolName: tool, Parameters: params})
	if e != nil {
		t.Fatalf("%s: %v", tool, e)
	}
	return v
}

// cancelledTags is what conformance.cancelled reports.
func (h *testHost) cancelledTags(t testing.TB) []string {
	var tags []string
	for _, v := range h.call(t, "conformance.cancelled", nil).GetObjectValue().GetFields()["tags"].GetArrayValue().GetItems() {
		tags = append(tags, v.GetStringValue())
	}
	return tags
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// startConformance dials the Python conformance runtime into h.
func startConformance(t testing.TB, h *testHost, id string) *pyProcess {
	t.Helper()
	requirePython(t)
	p := startPython(t, []string{"ALTAR_HOST=" + h.GRPCAddr(), "ALTAR_RUNTIME_ID=" + id}, "conformance.py")
	h.waitTools(t, id, conformanceTools)
	return p
}

func TestDialledConformanceRuntime(t *testing.T) {
	h := startHost(t, "127.0.0.1:0")
	p := startConformance(t, h, "py-conf")

	info := h.runtimeInfo("py-conf")
	if info.GetLanguage() != "python" || info.GetComplianceLevel() != altarv1.ComplianceLevel_COMPLIANCE_LEVEL_2 ||
		!contains(info.GetCapabilities(), altarv1.CapabilityStreaming) || !contains(info.GetCapabilities(), altarv1.CapabilityBinaryPayloads) {
		t.Fatalf("announcement as the Host saw it: %v", info)
	}

	t.Run("echo keeps every kind exact", func(t *testing.T) {
		params := map[string]*altarv1.Value{
			"text":  schema.Null(),
			"big":   schema.Int(1<<53 + 1),
			"ratio": schema.Double(3),
			"blob":  schema.Bytes([]byte{0, 1, 2, 0xfe, 0xff}),
			"flag":  schema.Bool(false),
			"nested": schema.Object(map[string]*altarv1.Value{
				"min":   schema.Int(math.MinInt64),
				"max":   schema.Int(math.MaxInt64),
				"whole": schema.Double(2),
				"items": schema.Array(schema.String("a"), schema.Null(), schema.Bytes(nil), schema.Array(), schema.Object(nil)),
				"null":  schema.Null(),
			}),
		}
		got := h.call(t, "conformance.echo", params)
		if want := schema.Object(params); !proto.Equal(got, want) {
			t.Fatalf("echo\n got %v\nwant %v", got, want)
		}
	})

	t.Run("describe keeps null and missing apart", func(t *testing.T) {
		tests := []struct {
			name   string
			params map[string]*altarv1.Value
			want   map[string]string
		}{
			{"null", map[string]*altarv1.Value{"text": schema.Null()}, map[string]string{"text": "null"}},
			{"missing", map[string]*altarv1.Value{}, map[string]string{}},
			{"every kind", map[string]*altarv1.Value{
				"text": schema.String("x"), "big": schema.Int(-1), "ratio": schema.Double(0.5), "flag": schema.Bool(true),
				"nested": schema.Array(),
			}, map[string]string{"text": "string", "big": "int", "ratio": "double", "flag": "bool", "nested": "array"}},
			{"object", map[string]*altarv1.Value{"nested": schema.Object(nil)}, map[string]string{"nested": "object"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				fields := h.call(t, "conformance.describe", tt.params).GetObjectValue().GetFields()
				got := map[string]string{}
				for k, v := range fields {
					got[k] = v.GetObjectValue().GetFields()["kind"].GetStringValue()
				}
				if fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Fatalf("describe = %v, want %v", got, tt.want)
				}
			})
		}
	})

	t.Run("a MiB of bytes arrives as bytes", func(t *testing.T) {
		blob := make([]byte, 1<<20)
		_, _ = rand.Read(blob)
		sum := sha256.Sum256(blob)
		d := h.call(t, "conformance.describe", map[string]*altarv1.Value{"blob": schema.Bytes(blob)}).
			GetObjectValue().GetFields()["blob"].GetObjectValue().GetFields()
		if d["kind"].GetStringValue() != "bytes" || d["length"].GetIntValue() != 1<<20 || d["sha256"].GetStringValue() != hex.EncodeToString(sum[:]) {
			t.Fatalf("describe(blob) = %v", d)
		}
	})

	t.Run("a tool's failure is TOOL_FAILED with its message", func(t *testing.T) {
		_, e := h.invoke(ctxT(t), &altarv1.InvokeRequest{ToolName: "conformance.fail", Parameters: map[string]*altarv1.Value{"message": schema.String("disk on fire")}})
		if e == nil || e.Code != altarv1.ErrorCode_ERROR_CODE_TOOL_FAILED || e.Message != "disk on fire" {
			t.Fatalf("error = %v", e)
		}
	})

	t.Run("pid", func(t *testing.T) {
		f := h.call(t, "conformance.pid", nil).GetObjectValue().GetFields()
		if f["pid"].GetIntValue() != int64(p.cmd.Process.Pid) || f["language"].GetStringValue() != "python" {
			t.Fatalf("pid = %v (process %d)", f, p.cmd.Process.Pid)
		}
	})

	t.Run("stream of 10000 chunks in order", func(t *testing.T) {
		const n = 10000
		values, final, err := h.stream(t, map[string]*altarv1.Value{"n": schema.Int(n)})
		if err != nil || final.GetError() != nil || len(values) != n {
			t.Fatalf("got %d values, final %v, err %v", len(values), final, err)
		}
		for i, v := range values {
			if v != int64(i) {
				t.Fatalf("chunk %d carries %d", i, v)
			}
		}
	})

	t.Run("an error chunk ends the stream", func(t *testing.T) {
		values, final, err := h.stream(t, map[string]*altarv1.Value{"n": schema.Int(10), "fail_at": schema.Int(5)})
		if err != nil || len(values) != 5 || final.GetError().GetMessage() != "failed at 5" ||
			final.GetError().GetCode() != altarv1.ErrorCode_ERROR_CODE_TOOL_FAILED || final.GetChunkId() != 6 {
			t.Fatalf("values %v, final %v, err %v", values, final, err)
		}
	})

	t.Run("a stream tool called unary answers the array", func(t *testing.T) {
		got := h.call(t, "conformance.count", map[string]*altarv1.Value{"n": schema.Int(3)})
		if want := schema.Array(schema.Int(0), schema.Int(1), schema.Int(2)); !proto.Equal(got, want) {
			t.Fatalf("count = %v", got)
		}
	})

	t.Run("CancelInvocation stops the tool", func(t *testing.T) {
		errc := make(chan *altarerr.Error, 1)
		go func() {
			_, e := h.invoke(ctxT(t), &altarv1.InvokeRequest{ToolName: "conformance.sleep", InvocationId: "inv-cancel-1",
				Parameters: map[string]*altarv1.Value{"ms": schema.Int(60000), "tag": schema.String("cancel-1")}})
			errc <- e
		}()
		waitUntil(t, "the sleep is running", func() bool { return h.runtimeInfo("py-conf").GetInFlight() == 1 })
		// The Host may report the call running (in flight on the runtime)
		// a moment before it can be cancelled; cancelled=false then.
		waitUntil(t, "the Host cancels the call", func() bool {
			cr, err := h.client.CancelInvocation(ctxT(t), &altarv1.CancelInvocationRequest{InvocationId: "inv-cancel-1", Reason: "test"})
			if err != nil {
				t.Fatal(err)
			}
			return cr.GetCancelled()
		})
		if e := <-errc; e == nil || e.Code != altarv1.ErrorCode_ERROR_CODE_CANCELLED {
			t.Fatalf("error = %v", e)
		}
		waitUntil(t, "the runtime saw the cancellation", func() bool { return contains(h.cancelledTags(t), "cancel-1") })
	})

	t.Run("the deadline stops the tool", func(t *testing.T) {
		_, e := h.invoke(ctxT(t), &altarv1.InvokeRequest{ToolName: "conformance.sleep", Timeout: durationpb.New(300 * time.Millisecond),
			Parameters: map[string]*altarv1.Value{"ms": schema.Int(60000), "tag": schema.String("deadline-1")}})
		if e == nil || e.Code != altarv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED {
			t.Fatalf("error = %v", e)
		}
		waitUntil(t, "the runtime saw the deadline", func() bool { return contains(h.cancelledTags(t), "deadline-1") })
	})

	t.Run("calls run concurrently", func(t *testing.T) {
		const n = 4
		ctx, cancel := context.WithCancel(ctxT(t))
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = h.invoke(ctx, &altarv1.InvokeRequest{ToolName: "conformance.sleep",
					Parameters: map[string]*altarv1.Value{"ms": schema.Int(60000), "tag": schema.String(fmt.Sprint("par-", i))}})
			}()
		}
		waitUntil(t, "all sleeps run at once", func() bool { return h.runtimeInfo("py-conf").GetInFlight() == n })
		cancel()
		wg.Wait()
		waitUntil(t, "every sleep was stopped", func() bool {
			tags := h.cancelledTags(t)
			for i := range n {
				if !contains(tags, fmt.Sprint("par-", i)) {
					return false
				}
			}
			return true
		})
	})

	t.Run("SIGTERM stops it cleanly", func(t *testing.T) {
		if err := p.stop(); err != nil {
			t.Fatalf("exit: %v\n%s", err, p.stderr.String())
		}
		waitUntil(t, "the Host forgets the runtime", func() bool { return h.runtimeInfo("py-conf") == nil })
	})
}

// stream calls conformance.count with InvokeStream and returns the chunks'
// integers and the final chunk.
func (h *testHost) stream(t testing.TB, params map[string]*altarv1.Value) ([]int64, *altarv1.StreamChunk, error) {
	t.Helper()
	s, err := h.client.InvokeStream(ctxT(t), &altarv1.InvokeStreamRequest{Request: &altarv1.InvokeRequest{ToolName: "conformance.count", Parameters: params}})
	if err != nil {
		return nil, nil, err
	}
	var values []int64
	for want := uint64(1); ; want++ {
		resp, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return values, nil, errors.New("the stream ended without a final chunk")
		}
		if err != nil {
			return values, nil, err
		}
		c := resp.GetChunk()
		if c.GetChunkId() != want {
			return values, c, fmt.Errorf("chunk_id %d, want %d", c.GetChunkId(), want)
		}
		if c.GetIsFinal() || c.GetError() != nil {
			return values, c, nil
		}
		values = append(values, c.GetPayload().GetIntValue())
	}
}

func TestDialledRuntimeReconnectsToARestartedHost(t *testing.T) {
	h := startHost(t, "127.0.0.1:0")
	addr := h.GRPCAddr()
	startConformance(t, h, "py-again")
	h.stop()
	h2 := startHost(t, addr)
	h2.waitTools(t, "py-again", conformanceTools)
	if got := h2.call(t, "conformance.echo", map[string]*altarv1.Value{"text": schema.String("back")}); !proto.Equal(got,
		schema.Object(map[string]*altarv1.Value{"text": schema.String("back")})) {
		t.Fatalf("echo = %v", got)
	}
}

func TestCalculator(t *testing.T) {
	h := startHost(t, "127.0.0.1:0")
	requirePython(t)
	startPython(t, []string{"ALTAR_HOST=" + h.GRPCAddr()}, "calculator.py")
	h.waitTools(t, "py-calc", 2)
	tests := []struct {
		tool string
		a, b *altarv1.Value
		want *altarv1.Value
	}{
		{"add", schema.Double(1.5), schema.Double(2.25), schema.Double(3.75)},
		{"add", schema.Int(2), schema.Int(3), schema.Int(5)},
		{"subtract", schema.Double(10), schema.Double(0.5), schema.Double(9.5)},
		{"py-calc/subtract", schema.Int(1), schema.Int(3), schema.Int(-2)},
	}
	for _, tt := range tests {
		got := h.call(t, tt.tool, map[string]*altarv1.Value{"a": tt.a, "b": tt.b})
		if !proto.Equal(got, tt.want) {
			t.Errorf("%s(%v, %v) = %v, want %v", tt.tool, tt.a, tt.b, got, tt.want)
		}
	}
}

func TestPythonUnitTests(t *testing.T) {
	requirePython(t)
	ctx := ctxT(t)
	cmd := exec.CommandContext(ctx, python, "-m", "unittest", "discover", "-s", "tests", "-t", ".")
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("python unit tests: %v\n%s", err, out)
	}
}
