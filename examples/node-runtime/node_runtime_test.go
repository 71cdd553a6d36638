package noderuntime_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/altar-gateway/altar/gateway"
	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Named timeouts.
const (
	// testTimeout bounds every call and wait of one test.
	testTimeout = 20 * time.Second
	// stopGrace is how long a node process has after SIGTERM before it is
	// killed.
	stopGrace = 5 * time.Second
	// pollInterval is how often a wait re-checks its condition.
	pollInterval = 10 * time.Millisecond
)

// manifestPath is the conformance manifest conformance.js implements.
const manifestPath = "../../e2e/conformance/manifest.yaml"

// conformanceTools is every contract of the manifest, which the runtime
// must fulfil.
var conformanceTools = []string{
	"conformance.cancelled", "conformance.count", "conformance.describe", "conformance.echo",
	"conformance.fail", "conformance.pid", "conformance.sleep",
}

// requireNode fails the test (it does not skip) when Node.js or this
// folder's npm dependencies are missing.
func requireNode(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is not on PATH: install Node.js 20 or later")
	}
	if _, err := os.Stat("node_modules/@grpc/grpc-js/package.json"); err != nil {
		t.Fatal("examples/node-runtime/node_modules is missing: run `npm ci` in examples/node-runtime (or .ci/run, which does)")
	}
}

// testHost is a real Host on loopback (STRICT, the conformance manifest)
// with a gRPC client to its Host API.
type testHost struct {
	*gateway.Host
	client altarv1.HostServiceClient
}

// startHost starts a Host on addr ("127.0.0.1:0" for any port) with the
// conformance manifest, or the given manifests.
func startHost(t testing.TB, addr string, manifests ...string) *testHost {
	t.Helper()
	return startHostConfig(t, hostConfig(t, addr, manifests...))
}

// hostConfig is the tests' Host configuration: STRICT, short heartbeats,
// no logs.
func hostConfig(t testing.TB, addr string, manifests ...string) gateway.Config {
	t.Helper()
	if len(manifests) == 0 {
		manifests = []string{manifestPath}
	}
	cfg := gateway.DefaultConfig()
	cfg.GRPCAddr = addr
	cfg.ManifestPaths = manifests
	cfg.Mode = altarv1.HostMode_HOST_MODE_STRICT
	cfg.Runtimes.HeartbeatInterval = 200 * time.Millisecond
	cfg.Runtimes.HeartbeatTimeout = 2 * time.Second
	cfg.Logger = slog.New(slog.DiscardHandler)
	return cfg
}

// startHostConfig starts a Host; the test's cleanup closes it.
func startHostConfig(t testing.TB, cfg gateway.Config) *testHost {
	t.Helper()
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

// codeOf is a call's error code: the Host's own error, else the tool's
// failure inside the result.
func codeOf(res *altarv1.ToolResult, err error) altarv1.ErrorCode {
	if err != nil {
		return altarerr.CodeOf(err)
	}
	return res.GetError().GetCode()
}

// syncBuffer collects a process's stderr.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// nodeProc is one `node conformance.js` process.
type nodeProc struct {
	pid    int
	stderr *syncBuffer
	exited chan struct{} // closed when the process has exited
	err    error         // Wait's error, set before exited is closed
}

// startNode starts `node script` with env added to the test's
// environment. The test's cleanup stops it (SIGTERM, SIGKILL after
// stopGrace) and waits for it; its stderr is logged when the test failed.
func startNode(t testing.TB, script string, env ...string) *nodeProc {
	t.Helper()
	return startProc(t, []string{"node", script}, env...)
}

// startProc is startNode for any command line.
func startProc(t testing.TB, argv []string, env ...string) *nodeProc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = stopGrace
	p := &nodeProc{stderr: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	p.pid = cmd.Process.Pid
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		cancel()
		<-p.exited
		if t.Failed() {
			t.Logf("node stderr:\n%s", p.stderr.String())
		}
	})
	return p
}

// waitUntil polls cond until it holds; the test fails when it does not
// within testTimeout or when the node process exits first.
func waitUntil(t testing.TB, p *nodeProc, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		select {
		case <-p.exited:
			t.Fatalf("node exited (%v) while waiting for %s; stderr:\n%s", p.err, what, p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, testTimeout)
		}
		time.Sleep(pollInterval)
	}
}

// waitRoutable waits until the Host routes every conformance tool to id.
func waitRoutable(t testing.TB, h *testHost, p *nodeProc, id string) *altarv1.RuntimeInfo {
	t.Helper()
	return waitTools(t, h, p, id, len(conformanceTools))
}

// waitTools waits until the Host routes n tools to runtime id.
func waitTools(t testing.TB, h *testHost, p *nodeProc, id string, n int) *altarv1.RuntimeInfo {
	t.Helper()
	var info *altarv1.RuntimeInfo
	waitUntil(t, p, "the Host routing the node runtime's tools", func() bool {
		for _, i := range h.Runtimes().List() {
			if i.GetRuntimeId() == id && len(i.GetTools()) == n {
				info = i
				return true
			}
		}
		return false
	})
	return info
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

func invoke(t testing.TB, h *testHost, req *altarv1.InvokeRequest) (*altarv1.ToolResult, error) {
	t.Helper()
	resp, err := h.client.Invoke(ctxT(t), req)
	return resp.GetResult(), err
}

// stream collects every chunk of a streamed call.
func stream(t testing.TB, h *testHost, req *altarv1.InvokeRequest) []*altarv1.StreamChunk {
	t.Helper()
	s, err := h.client.InvokeStream(ctxT(t), &altarv1.InvokeStreamRequest{Request: req})
	if err != nil {
		t.Fatal(err)
	}
	var chunks []*altarv1.StreamChunk
	for {
		resp, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return chunks
		}
		if err != nil {
			t.Fatalf("stream after %d chunks: %v", len(chunks), err)
		}
		chunks = append(chunks, resp.GetChunk())
	}
}

// TestDialledRuntime runs conformance.js dialling a real Host and calls
// every kind of tool through the Host API over gRPC.
func TestDialledRuntime(t *testing.T) {
	requireNode(t)
	h := startHost(t, "127.0.0.1:0")
	const id = "node-e2e"
	p := startNode(t, "conformance.js", "ALTAR_HOST="+h.GRPCAddr(), "ALTAR_RUNTIME_ID="+id, "ALTAR_LOG_LEVEL=warn")
	info := waitRoutable(t, h, p, id)
	checkRuntime(t, h, p, info)
}

// checkRuntime is every check of a connected node runtime, whichever way
// it reached the Host.
func checkRuntime(t *testing.T, h *testHost, p *nodeProc, info *altarv1.RuntimeInfo) {
	t.Run("announce", func(t *testing.T) {
		if info.GetLanguage() != "node" || info.GetComplianceLevel() != altarv1.ComplianceLevel_COMPLIANCE_LEVEL_2 {
			t.Fatalf("language %q, level %v", info.GetLanguage(), info.GetComplianceLevel())
		}
		for _, c := range []string{altarv1.CapabilityStreaming, altarv1.CapabilityCancellation, altarv1.CapabilityBinaryPayloads, altarv1.CapabilityHeartbeat} {
			if !slices.Contains(info.GetCapabilities(), c) {
				t.Errorf("capability %q not announced: %v", c, info.GetCapabilities())
			}
		}
		var names []string
		for _, tl := range info.GetTools() {
			names = append(names, tl.GetContractName())
		}
		slices.Sort(names)
		if !slices.Equal(names, conformanceTools) {
			t.Fatalf("tools = %v", names)
		}
	})

	t.Run("heartbeat", func(t *testing.T) {
		// The Host asked for one every 200 ms: two more arrive within a second.
		since := time.Now()
		waitUntil(t, p, "two heartbeats from the runtime", func() bool {
			for _, i := range h.Runtimes().List() {
				if i.GetRuntimeId() == info.GetRuntimeId() {
					return i.GetLastHeartbeatAt().AsTime().After(since.Add(200 * time.Millisecond))
				}
			}
			return false
		})
	})

	blob := []byte{0, 1, 2, 0x7f, 0x80, 0xfe, 0xff}
	full := map[string]*altarv1.Value{
		"text":  schema.Null(),
		"big":   schema.Int(1<<53 + 1),
		"ratio": schema.Double(3), // a whole double stays a double
		"blob":  schema.Bytes(blob),
		"flag":  schema.Bool(false),
		"nested": schema.Object(map[string]*altarv1.Value{
			"min":   schema.Int(math.MinInt64),
			"max":   schema.Int(math.MaxInt64),
			"list":  schema.Array(schema.Double(2.5), schema.String("x"), schema.Null(), schema.Bytes([]byte{9}), schema.Double(math.Copysign(0, -1))),
			"empty": schema.Object(nil),
			"null":  schema.Null(),
		}),
	}

	t.Run("echo", func(t *testing.T) {
		for _, args := range []map[string]*altarv1.Value{
			full,
			{"big": schema.Int(-(1<<53 + 3))}, // every other key missing, not null
			{},
		} {
			res, err := invoke(t, h, &altarv1.InvokeRequest{ToolName: "conformance.echo", Parameters: args})
			if err != nil {
				t.Fatal(err)
			}
			if want := schema.Object(args); !proto.Equal(res.GetPayload(), want) {
				t.Fatalf("echo\n got %v\nwant %v", res.GetPayload(), want)
			}
		}
	})

	t.Run("echo random values", func(t *testing.T) {
		// A property check over the real wire: random Value trees under the
		// contract's `nested: any` come back exactly (seeded, reproducible).
		r := rand.New(rand.NewPCG(1, 2))
		for i := range 200 {
			args := map[string]*altarv1.Value{"nested": randomValue(r, 0)}
			res, err := invoke(t, h, &altarv1.InvokeRequest{ToolName: "conformance.echo", Parameters: args})
			if err != nil {
				t.Fatalf("value %d: %v", i, err)
			}
			if want := schema.Object(args); !proto.Equal(res.GetPayload(), want) {
				t.Fatalf("value %d\n got %v\nwant %v", i, res.GetPayload(), want)
			}
		}
	})

	t.Run("describe", func(t *testing.T) {
		res, err := invoke(t, h, &altarv1.InvokeRequest{ToolName: "conformance.describe", Parameters: full})
		if err != nil {
			t.Fatal(err)
		}
		got := res.GetPayload().GetObjectValue().GetFields()
		want := map[string]string{"text": "null", "big": "int", "ratio": "double", "blob": "bytes", "flag": "bool", "nested": "object"}
		if len(got) != len(want) {
			t.Fatalf("describe = %v", got)
		}
		for k, kind := range want {
			if g := got[k].GetObjectValue().GetFields()["kind"].GetStringValue(); g != kind {
				t.Errorf("%s: kind %q, want %q", k, g, kind)
			}
		}
		sum := sha256.Sum256(blob)
		b := got["blob"].GetObjectValue().GetFields()
		if b["length"].GetIntValue() != int64(len(blob)) || b["sha256"].GetStringValue() != hex.EncodeToString(sum[:]) {
			t.Fatalf("blob described as %v", b)
		}
	})

	t.Run("count", func(t *testing.T) {
		chunks := stream(t, h, &altarv1.InvokeRequest{ToolName: "conformance.count", Parameters: map[string]*altarv1.Value{"n": schema.Int(1000)}})
		if len(chunks) != 1001 {
			t.Fatalf("%d chunks, want 1000 and a final one", len(chunks))
		}
		for i, c := range chunks {
			if c.GetChunkId() != uint64(i+1) {
				t.Fatalf("chunk %d has id %d", i, c.GetChunkId())
			}
			if i < 1000 && (c.GetPayload().GetIntValue() != int64(i) || c.GetIsFinal()) {
				t.Fatalf("chunk %d = %v", i, c)
			}
		}
		if last := chunks[1000]; !last.GetIsFinal() || last.GetError() != nil {
			t.Fatalf("last chunk = %v", last)
		}
	})

	t.Run("count fails in band", func(t *testing.T) {
		chunks := stream(t, h, &altarv1.InvokeRequest{ToolName: "conformance.count", Parameters: map[string]*altarv1.Value{"n": schema.Int(5), "fail_at": schema.Int(2)}})
		if len(chunks) != 3 {
			t.Fatalf("chunks = %v", chunks)
		}
		last := chunks[2]
		if !last.GetIsFinal() || last.GetError().GetMessage() != "failed at 2" || last.GetError().GetCode() != altarv1.ErrorCode_ERROR_CODE_TOOL_FAILED {
			t.Fatalf("last chunk = %v", last)
		}
	})

	t.Run("fail", func(t *testing.T) {
		res, err := invoke(t, h, &altarv1.InvokeRequest{ToolName: "conformance.fail", Parameters: map[string]*altarv1.Value{"message": schema.String("no luck")}})
		if err != nil {
			t.Fatal(err)
		}
		if e := res.GetError(); res.GetStatus() != altarv1.ToolResultStatus_TOOL_RESULT_STATUS_ERROR ||
			e.GetCode() != altarv1.ErrorCode_ERROR_CODE_TOOL_FAILED || e.GetMessage() != "no luck" {
			t.Fatalf("result = %v", res)
		}
	})

	t.Run("pid", func(t *testing.T) {
		res, err := invoke(t, h, &altarv1.InvokeRequest{ToolName: "conformance.pid"})
		if err != nil {
			t.Fatal(err)
		}
		f := res.GetPayload().GetObjectValue().GetFields()
		if f["pid"].GetIntValue() != int64(p.pid) || f["language"].GetStringValue() != "node" {
			t.Fatalf("pid = %v (process %d)", f, p.pid)
		}
	})

	t.Run("cancel and deadline", func(t *testing.T) {
		// Cancel: the call is running on the runtime, then the client cancels.
		codes := make(chan altarv1.ErrorCode, 1)
		go func() {
			res, err := invoke(t, h, &altarv1.InvokeRequest{ToolName: "conformance.sleep", InvocationId: "sleep-cancel",
				Parameters: map[string]*altarv1.Value{"ms": schema.Int(60_000), "tag": schema.String("cancelled-by-client")}})
			codes <- codeOf(res, err)
		}()
		waitUntil(t, p, "the sleep call executing", func() bool {
			inv, err := h.client.GetInvocation(ctxT(t), &altarv1.GetInvocationRequest{InvocationId: "sleep-cancel"})
			return err == nil && inv.GetInvocation().GetState() == altarv1.InvocationState_INVOCATION_STATE_EXECUTING
		})
		start := time.Now()
		if _, err := h.client.CancelInvocation(ctxT(t), &altarv1.CancelInvocationRequest{InvocationId: "sleep-cancel", Reason: "test"}); err != nil {
			t.Fatal(err)
		}
		if code := <-codes; code != altarv1.ErrorCode_ERROR_CODE_CANCELLED {
			t.Fatalf("cancelled call: %v", code)
		}
		t.Logf("cancel answered in %v", time.Since(start))

		// Deadline: the runtime stops the tool when the call's deadline passes.
		// Runtime and Host see the same absolute deadline: whichever is first
		// answers DEADLINE_EXCEEDED, at once.
		start = time.Now()
		res, err := invoke(t, h, &altarv1.InvokeRequest{ToolName: "conformance.sleep", Timeout: durationpb.New(300 * time.Millisecond),
			Parameters: map[string]*altarv1.Value{"ms": schema.Int(60_000), "tag": schema.String("deadline")}})
		if code := codeOf(res, err); code != altarv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED {
			t.Fatalf("call past its deadline: %v (%v, %v)", code, res, err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("a call with a 300 ms deadline took %v", took)
		}

		// The runtime saw both: the tool's own record of its cancellations.
		var tags []string
		waitUntil(t, p, "the runtime recording both cancellations", func() bool {
			res, err := invoke(t, h, &altarv1.InvokeRequest{ToolName: "conformance.cancelled"})
			if err != nil {
				t.Fatal(err)
			}
			tags = tags[:0]
			for _, v := range res.GetPayload().GetObjectValue().GetFields()["tags"].GetArrayValue().GetItems() {
				tags = append(tags, v.GetStringValue())
			}
			return len(tags) == 2
		})
		if !slices.Equal(tags, []string{"cancelled-by-client", "deadline"}) {
			t.Fatalf("cancelled tags = %v", tags)
		}
	})

	t.Run("concurrent calls", func(t *testing.T) {
		// Eight sleeps that end only when cancelled: the runtime reports all
		// eight executing at once (the in_flight of its heartbeats, as the
		// Host records it). A runtime serving calls one at a time never
		// reports more than one.
		const n = 8
		id := info.GetRuntimeId()
		inFlight := func() uint32 {
			for _, i := range h.Runtimes().List() {
				if i.GetRuntimeId() == id {
					return i.GetInFlight()
				}
			}
			return 0
		}
		ctx, cancel := context.WithCancel(ctxT(t))
		var wg sync.WaitGroup
		defer func() { cancel(); wg.Wait() }()
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = h.client.Invoke(ctx, &altarv1.InvokeRequest{ToolName: "conformance.sleep",
					Parameters: map[string]*altarv1.Value{"ms": schema.Int(60_000), "tag": schema.String(fmt.Sprint("par-", i))}})
			}()
		}
		waitUntil(t, p, fmt.Sprintf("the runtime executing %d sleeps at once", n), func() bool { return inFlight() == n })
		cancel()
		wg.Wait()
		waitUntil(t, p, "the runtime stopping every sleep", func() bool { return inFlight() == 0 })
	})
}

// randomValue is a random Value tree: every kind, int64 over its whole
// range, doubles including -0 and the extremes (no NaN or infinities, which
// the Host's JSON-facing checks may refuse), bytes, nesting to depth 4.
func randomValue(r *rand.Rand, depth int) *altarv1.Value {
	kinds := 8
	if depth >= 4 {
		kinds = 6
	}
	switch r.IntN(kinds) {
	case 0:
		return schema.Null()
	case 1:
		b := make([]rune, r.IntN(6))
		for i := range b {
			b[i] = rune(r.IntN(0x2fff) + 1)
		}
		return schema.String(string(b))
	case 2:
		return schema.Int(int64(r.Uint64()))
	case 3:
		special := []float64{0, math.Copysign(0, -1), 3, 1e300, 5e-324, math.MaxFloat64, -2.5}
		if r.IntN(3) == 0 {
			return schema.Double(special[r.IntN(len(special))])
		}
		return schema.Double((r.Float64() - 0.5) * 1e9)
	case 4:
		return schema.Bool(r.IntN(2) == 0)
	case 5:
		b := make([]byte, r.IntN(9))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return schema.Bytes(b)
	case 6:
		items := make([]*altarv1.Value, r.IntN(4))
		for i := range items {
			items[i] = randomValue(r, depth+1)
		}
		return schema.Array(items...)
	default:
		fields := map[string]*altarv1.Value{}
		for range r.IntN(4) {
			fields[fmt.Sprintf("k%d", r.IntN(10))] = randomValue(r, depth+1)
		}
		return schema.Object(fields)
	}
}

// runtimePlugin is the Host's side of an ALTAR plugin for go-plugin: the
// plugin's gRPC connection, on which the test opens PluginService.Connect.
type runtimePlugin struct {
	plugin.NetRPCUnsupportedPlugin
}

func (runtimePlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("the Host does not serve plugins")
}

func (runtimePlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, cc *grpc.ClientConn) (any, error) {
	return cc, nil
}

// pluginHandshake is the Host's go-plugin handshake (plugins/ on the Go side).
var pluginHandshake = plugin.HandshakeConfig{ProtocolVersion: 1, MagicCookieKey: "ALTAR_PLUGIN", MagicCookieValue: "altar-runtime-v1"}

// launchPlugin starts conformance.js as go-plugin does (the magic cookie in
// its environment, the handshake line read from its stdout, the health
// check); the test's cleanup kills it.
func launchPlugin(t *testing.T, env ...string) (*plugin.Client, plugin.ClientProtocol, *syncBuffer) {
	t.Helper()
	cmd := exec.Command("node", "conformance.js")
	cmd.Env = append(os.Environ(), env...)
	stderr := &syncBuffer{}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  pluginHandshake,
		Plugins:          plugin.PluginSet{"runtime": runtimePlugin{}},
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		StartTimeout:     testTimeout,
		Stderr:           stderr,
		Logger:           hclog.NewNullLogger(),
	})
	t.Cleanup(client.Kill)
	rpc, err := client.Client()
	if err != nil {
		t.Fatalf("go-plugin could not start the node plugin: %v\nstderr:\n%s", err, stderr.String())
	}
	if err := rpc.Ping(); err != nil { // grpc.health.v1 Check of "plugin"
		t.Fatalf("health check: %v", err)
	}
	return client, rpc, stderr
}

// TestPluginKill: go-plugin's Kill asks the plugin to stop
// (plugin.GRPCController/Shutdown) and the plugin exits by itself.
func TestPluginKill(t *testing.T) {
	requireNode(t)
	client, _, stderr := launchPlugin(t, "ALTAR_LOG_LEVEL=info")
	pid := client.ReattachConfig().Pid
	client.Kill()
	if !client.Exited() {
		t.Fatal("the plugin is still running after Kill")
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("process %d after Kill: %v", pid, err)
	}
	if !strings.Contains(stderr.String(), "the Host asked the plugin to stop") {
		t.Fatalf("the plugin did not see the Host's shutdown request; stderr:\n%s", stderr.String())
	}
}

// TestPluginRuntime launches conformance.js through hashicorp/go-plugin
// (the magic cookie, the handshake line on stdout, the health check), opens
// PluginService.Connect, hands the stream to the Host, runs every check,
// then closes the stream and expects the plugin to exit by itself.
func TestPluginRuntime(t *testing.T) {
	requireNode(t)
	h := startHost(t, "127.0.0.1:0")
	const id = "node-plugin"
	client, rpc, stderr := launchPlugin(t, "ALTAR_RUNTIME_ID="+id, "ALTAR_LOG_LEVEL=warn")
	raw, err := rpc.Dispense("runtime")
	if err != nil {
		t.Fatal(err)
	}
	p := &nodeProc{pid: client.ReattachConfig().Pid, stderr: stderr, exited: make(chan struct{})}
	watchCtx, stopWatch := context.WithCancel(context.Background())
	watched := make(chan struct{})
	go func() { // owns nothing but its ticker; ends with the test
		defer close(watched)
		tick := time.NewTicker(pollInterval)
		defer tick.Stop()
		for {
			select {
			case <-watchCtx.Done():
				return
			case <-tick.C:
				if client.Exited() {
					p.err = errors.New("the plugin exited")
					close(p.exited)
					return
				}
			}
		}
	}()
	t.Cleanup(func() { stopWatch(); <-watched })

	streamCtx, closeStream := context.WithCancel(context.Background())
	defer closeStream()
	stream, err := altarv1.NewPluginServiceClient(raw.(*grpc.ClientConn)).Connect(streamCtx)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- h.ServeRuntime(stream, "plugin") }()

	info := waitRoutable(t, h, p, id)
	if info.GetTransport() != "plugin" {
		t.Fatalf("transport = %q", info.GetTransport())
	}
	checkRuntime(t, h, p, info)

	// The Host closes the stream: the plugin exits by itself.
	closeStream()
	select {
	case <-served:
	case <-time.After(testTimeout):
		t.Fatal("ServeRuntime did not return after the stream was closed")
	}
	waitUntil(t, &nodeProc{exited: make(chan struct{}), stderr: stderr}, "the plugin exiting after its stream closed", client.Exited)
}
