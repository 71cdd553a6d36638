package sdk_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"regexp"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/altar-gateway/altar/gateway"
	"github.com/altar-gateway/altar/gateway/runtime"
	"github.com/altar-gateway/altar/gateway/schema"
	"github.com/altar-gateway/altar/plugins/handshake"
	"github.com/altar-gateway/altar/plugins/sdk"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

var handshakeLine = regexp.MustCompile(`^1\|1\|tcp\|(127\.0\.0\.1:\d+)\|grpc$`)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func addRuntime(t *testing.T, id string) *sdk.Runtime {
	t.Helper()
	add := sdk.Func("add", "Add two numbers.", func(_ context.Context, in struct {
		A float64 `json:"a"`
		B float64 `json:"b"`
	}) (float64, error) {
		return in.A + in.B, nil
	})
	rt, err := sdk.New(id, []sdk.Tool{add}, sdk.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

func TestServePluginRefuses(t *testing.T) {
	tests := []struct {
		name   string
		getenv func(string) string
		want   string
	}{
		{"no cookie", env(), "not launched by an ALTAR Host"},
		{"wrong cookie", env(handshake.MagicCookieKey, "other"), "not launched by an ALTAR Host"},
		{"other protocol versions", env(handshake.MagicCookieKey, handshake.MagicCookieValue, handshake.EnvProtocolVersions, "2,3"), "protocol versions 2,3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out stringsBuilder
			err := addRuntime(t, "calc").ServePluginWith(context.Background(), tt.getenv, &out)
			if err == nil || !regexp.MustCompile(regexp.QuoteMeta(tt.want)).MatchString(err.Error()) {
				t.Fatalf("ServePlugin = %v; want an error containing %q", err, tt.want)
			}
			if out.s != "" {
				t.Fatalf("printed %q; want nothing", out.s)
			}
		})
	}
	if err := addRuntime(t, "calc").ServePlugin(context.Background()); !errors.Is(err, sdk.ErrNotPlugin) && os.Getenv(handshake.MagicCookieKey) == "" {
		t.Fatalf("ServePlugin in a test process = %v; want ErrNotPlugin", err)
	}
}

type stringsBuilder struct{ s string }

func (b *stringsBuilder) Write(p []byte) (int, error) { b.s += string(p); return len(p), nil }

// hostSide is the Host's end of PluginService.Connect as a MessageStream
// (what plugins/launch does), so that a real Host serves the plugin.
type hostSide struct {
	grpc.BidiStreamingClient[altarv1.HostMessage, altarv1.RuntimeMessage]
	ctx    context.Context
	cancel context.CancelFunc
}

func (s *hostSide) Context() context.Context { return s.ctx }
func (s *hostSide) Recv() (*altarv1.RuntimeMessage, error) {
	m, err := s.BidiStreamingClient.Recv()
	if err != nil {
		s.cancel()
	}
	return m, err
}

var _ runtime.MessageStream = (*hostSide)(nil)

// TestServePluginThroughAHost runs the plugin side in process against a
// real Host: the handshake line, the health service, then the runtime
// protocol on the stream the Host opens, with the id the Host gives.
func TestServePluginThroughAHost(t *testing.T) {
	for _, end := range []string{"the Host ends the stream", "the Host drains and closes"} {
		t.Run(end, func(t *testing.T) { servePluginThroughAHost(t, end == "the Host drains and closes") })
	}
}

func servePluginThroughAHost(t *testing.T, drain bool) {
	cfg := gateway.DefaultConfig()
	cfg.GRPCAddr = "127.0.0.1:0"
	cfg.ManifestPaths = []string{"../../manifests/calculator.yaml"}
	cfg.Logger = slog.New(slog.DiscardHandler)
	h, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(context.Background())

	rt := addRuntime(t, "named-by-new")
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	outR, outW := io.Pipe()
	served := make(chan error, 1)
	go func() {
		served <- rt.ServePluginWith(ctx, env(handshake.MagicCookieKey, handshake.MagicCookieValue,
			handshake.EnvProtocolVersions, "1", handshake.EnvRuntimeID, "plug"), outW)
		outW.Close()
	}()
	line, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, outR) }()
	m := handshakeLine.FindStringSubmatch(line[:len(line)-1])
	if m == nil {
		t.Fatalf("handshake line %q; want 1|1|tcp|127.0.0.1:PORT|grpc", line)
	}

	cc, err := grpc.NewClient(m[1], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	hr, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{Service: handshake.HealthService})
	if err != nil || hr.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health of %q = %v, %v; want SERVING", handshake.HealthService, hr, err)
	}
	sctx, scancel := context.WithCancel(ctx)
	cs, err := altarv1.NewPluginServiceClient(cc).Connect(sctx)
	if err != nil {
		t.Fatal(err)
	}
	hostDone := make(chan error, 1)
	go func() { hostDone <- h.ServeRuntime(&hostSide{cs, sctx, scancel}, handshake.Transport) }()

	deadline := time.Now().Add(testTimeout)
	for {
		resp, err := h.Invoke(ctx, &altarv1.InvokeRequest{ToolName: "plug/add",
			Parameters: map[string]*altarv1.Value{"a": schema.Double(1), "b": schema.Double(2)}})
		if err == nil && resp.GetResult().GetPayload().GetDoubleValue() == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("plug/add = %v, %v; want 3", resp, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if rt.ID() != "plug" || !rt.Status().Connected {
		t.Fatalf("id %q, status %+v; want plug, connected", rt.ID(), rt.Status())
	}

	// However the Host ends the stream, ServePlugin returns nil. Draining,
	// the plugin half-closes (ends the RPC) and the Host sees it leave.
	if drain {
		if err := h.Close(ctx); err != nil {
			t.Fatal(err)
		}
		<-hostDone
	}
	scancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("ServePlugin = %v; want nil once the Host ended the stream", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("ServePlugin did not return after the Host ended the stream")
	}
	if !drain {
		<-hostDone
	}
}

// TestRunServesAsAPluginWhenLaunchedAsOne: Run picks plugin mode from the
// environment, whatever address it is given.
func TestRunServesAsAPluginWhenLaunchedAsOne(t *testing.T) {
	t.Setenv(handshake.MagicCookieKey, handshake.MagicCookieValue)
	t.Setenv(handshake.EnvRuntimeID, "from-env")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	defer func() { os.Stdout = stdout }()

	rt := addRuntime(t, "from-new")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx, "127.0.0.1:1") }()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if !handshakeLine.MatchString(line[:len(line)-1]) {
		t.Fatalf("Run printed %q; want the plugin handshake line", line)
	}
	if rt.ID() != "from-env" {
		t.Fatalf("id %q; want ALTAR_RUNTIME_ID's", rt.ID())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	w.Close()
	r.Close()
}
