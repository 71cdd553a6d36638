package conformance

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/altar-gateway/altar/gateway"
	"github.com/altar-gateway/altar/gateway/audit"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Named timeouts.
const (
	// checkTimeout bounds one check (every call in it, every wait).
	checkTimeout = 20 * time.Second
	// restartTimeout bounds a plugin's restart by its supervisor, from the
	// moment the Host dropped it until a new process serves (backoff at
	// most pluginMaxBackoff, then a start: Node.js takes 2-3s here).
	restartTimeout = 10 * time.Second
	// closeTimeout bounds closing a Host.
	closeTimeout = 10 * time.Second
	// stopGrace is how long a runtime process has to exit after SIGTERM
	// before it is killed.
	stopGrace = 5 * time.Second
	// pollInterval is how often a wait re-checks its condition.
	pollInterval = 10 * time.Millisecond
)

// The Host's heartbeats: short, so that heartbeat loss is detected quickly,
// with a timeout that a runtime on a loaded 2-core CI machine still meets
// (at 1s, a Python runtime under `go test ./...` once judged the Host
// silent and reconnected in the middle of the cancel check).
const (
	heartbeatInterval = 200 * time.Millisecond
	heartbeatTimeout  = 2500 * time.Millisecond
)

// manifestPath is the conformance manifest every runtime implements.
const manifestPath = "manifest.yaml"

// hostUnderTest is a real Host on loopback with a gRPC client to its Host
// API and a log of what it audited and logged.
type hostUnderTest struct {
	*gateway.Host
	addr   string
	client altarv1.HostServiceClient
	events *eventLog
}

// startHost starts a Host in STRICT mode on addr ("127.0.0.1:0" for any
// port) with the manifests. It is closed by t's cleanup (or earlier by
// close).
func startHost(t *testing.T, addr string, manifests ...string) *hostUnderTest {
	t.Helper()
	events := &eventLog{}
	cfg := gateway.DefaultConfig()
	cfg.HostID = "conformance"
	cfg.GRPCAddr = addr
	cfg.ManifestPaths = manifests
	cfg.Mode = altarv1.HostMode_HOST_MODE_STRICT
	cfg.Runtimes.HeartbeatInterval = heartbeatInterval
	cfg.Runtimes.HeartbeatTimeout = heartbeatTimeout
	cfg.Logger = slog.New(&eventHandler{log: events})
	cfg.AuditSink = events
	h, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The same port right after a Host closed (reconnect) may take a moment
	// to be free.
	deadline := time.Now().Add(checkTimeout)
	for {
		err = h.Start(context.Background())
		if err == nil || addr == "127.0.0.1:0" || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient(h.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16<<20)))
	if err != nil {
		t.Fatal(err)
	}
	hut := &hostUnderTest{Host: h, addr: h.GRPCAddr(), client: altarv1.NewHostServiceClient(cc), events: events}
	t.Cleanup(func() {
		_ = cc.Close()
		hut.close()
	})
	return hut
}

// close closes the Host (idempotent).
func (h *hostUnderTest) close() {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	_ = h.Close(ctx)
}

// runtimeInfo is the Host's view of runtime id, or nil when it is not
// connected.
func (h *hostUnderTest) runtimeInfo(ctx context.Context, id string) (*altarv1.RuntimeInfo, error) {
	resp, err := h.client.ListRuntimes(ctx, &altarv1.ListRuntimesRequest{})
	if err != nil {
		return nil, err
	}
	for _, info := range resp.GetRuntimes() {
		if info.GetRuntimeId() == id {
			return info, nil
		}
	}
	return nil, nil
}

// toolNames are a runtime's fulfilled tools, sorted.
func toolNames(info *altarv1.RuntimeInfo) []string {
	var names []string
	for _, tl := range info.GetTools() {
		names = append(names, tl.GetContractName())
	}
	slices.Sort(names)
	return names
}

// waitServing waits until the Host routes every one of want (sorted) to
// runtime id, and returns its info.
func (h *hostUnderTest) waitServing(t *testing.T, ctx context.Context, id string, want []string) *altarv1.RuntimeInfo {
	t.Helper()
	var info *altarv1.RuntimeInfo
	var last string
	waitFor(t, ctx, func() bool {
		var err error
		info, err = h.runtimeInfo(ctx, id)
		switch {
		case err != nil:
			last = err.Error()
		case info == nil:
			last = "not connected"
		default:
			got := toolNames(info)
			last = fmt.Sprintf("fulfils %v", got)
			return slices.Equal(got, want)
		}
		return false
	}, "runtime %s to fulfil %v (last seen: %s)", id, want, func() string { return last })
	return info
}

// waitFor polls cond until it holds or ctx ends, which fails t with what it
// was waiting for.
func waitFor(t *testing.T, ctx context.Context, cond func() bool, format string, args ...any) {
	t.Helper()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			for i, a := range args {
				if f, ok := a.(func() string); ok {
					args[i] = f()
				}
			}
			t.Fatalf("timed out waiting for "+format, args...)
		case <-tick.C:
		}
	}
}

// eventLog records, in order, the Host's audit events and the log lines
// that mark a runtime's life ("runtime connected", "runtime disconnected"),
// as "audit <kind> <runtime> <tool> <outcome>" and "log <message>
// <runtime>". It keeps at most maxEvents.
type eventLog struct {
	mu     sync.Mutex
	events []string
}

const maxEvents = 10_000

func (l *eventLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.events) < maxEvents {
		l.events = append(l.events, s)
	}
}

// Record is the Host's audit sink.
func (l *eventLog) Record(e audit.Event) {
	l.add(strings.Join([]string{"audit", e.Kind, e.RuntimeID, e.Tool, e.Outcome}, " "))
}

// snapshot returns the events so far.
func (l *eventLog) snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

// forRuntime returns the events about runtime id.
func (l *eventLog) forRuntime(id string) []string {
	var out []string
	for _, e := range l.snapshot() {
		if f := strings.Fields(e); len(f) >= 3 && (f[0] == "audit" && f[2] == id || f[0] == "log" && f[len(f)-1] == id) {
			out = append(out, e)
		}
	}
	return out
}

// eventHandler is the Host's slog handler: it records the lines about
// runtimes connecting and disconnecting in the eventLog, with their
// runtime_id, and drops the rest.
type eventHandler struct {
	log   *eventLog
	attrs []slog.Attr
}

func (h *eventHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *eventHandler) Handle(_ context.Context, r slog.Record) error {
	if !strings.HasPrefix(r.Message, "runtime ") {
		return nil
	}
	id := ""
	find := func(a slog.Attr) bool {
		if a.Key == "runtime_id" {
			id = a.Value.String()
			return false
		}
		return true
	}
	for _, a := range h.attrs {
		find(a)
	}
	r.Attrs(find)
	h.log.add("log " + strings.ReplaceAll(r.Message, " ", "_") + " " + id)
	return nil
}

func (h *eventHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &eventHandler{log: h.log, attrs: append(slices.Clone(h.attrs), attrs...)}
}

func (h *eventHandler) WithGroup(string) slog.Handler { return h }

var (
	_ audit.Sink   = (*eventLog)(nil)
	_ slog.Handler = (*eventHandler)(nil)
)
