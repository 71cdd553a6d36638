package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/altar-gateway/altar/gateway/schema"
	"github.com/altar-gateway/altar/plugins/launch"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// children lists the pids of pid's child processes (Linux /proc).
func children(t *testing.T, pid int) []int {
	t.Helper()
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, f := range tasks {
		data, err := os.ReadFile(f)
		if err != nil {
			continue // the thread ended
		}
		for _, field := range strings.Fields(string(data)) {
			if n, err := strconv.Atoi(field); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// TestServeSupervisesPlugins runs the real `altar serve` with the real
// calculator as a pinned plugin: a call through the Host reaches it; killed
// from outside, it is restarted as a new process that serves again; on
// SIGTERM a call in flight on it finishes, then the gateway stops it and
// exits 0, leaving no plugin process.
func TestServeSupervisesPlugins(t *testing.T) {
	needBinaries(t)
	sum, err := launch.FileSHA256(calculatorBin)
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`grpc: {addr: 127.0.0.1:0}
http: {addr: 127.0.0.1:0}
manifests: [%s]
plugins:
  - name: calc
    command: %s
    sha256: "%s"
    restart: {min_backoff: 50ms, max_backoff: 500ms}
`, manifest, calculatorBin, sum)
	path := filepath.Join(t.TempDir(), "altar.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := start(t, "altar serve", altarBin, "serve", "--config", path, "--no-example-runtime")
	started := p.waitLine(t, `altar: plugin "calc" started (pid `, readyTimeout)
	first, _ := strconv.Atoi(regexp.MustCompile(`\(pid (\d+)\)`).FindStringSubmatch(started)[1])
	g := &gateway{process: p}
	g.grpcAddr = strings.Fields(p.waitLine(t, "altar: serving gRPC on ", readyTimeout))[4]
	client := g.dial(t, "")

	subtract := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := client.Invoke(ctx, &altarv1.InvokeRequest{ToolName: "calc/subtract",
			Parameters: map[string]*altarv1.Value{"a": schema.Double(7), "b": schema.Double(2)}})
		if err != nil {
			return err
		}
		if got := resp.GetResult().GetPayload().GetDoubleValue(); got != 5 {
			return fmt.Errorf("calc/subtract = %v; want 5", resp.GetResult())
		}
		return nil
	}
	if err := subtract(); err != nil {
		t.Fatal(err)
	}
	if kids := children(t, p.cmd.Process.Pid); !slices.Contains(kids, first) {
		t.Fatalf("the plugin %d is not a child of altar serve (children %v)", first, kids)
	}

	// A crash from outside: the supervisor starts a new process.
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(readyTimeout)
	var second int
	for {
		kids := children(t, p.cmd.Process.Pid)
		if len(kids) == 1 && kids[0] != first && subtract() == nil {
			second = kids[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new plugin process served within %v (children %v)", readyTimeout, kids)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// SIGTERM with a call in flight: the Host drains the plugin like any
	// runtime, so the call finishes before the plugin is stopped.
	ctx, cancel := context.WithTimeout(context.Background(), exitTimeout)
	defer cancel()
	stream, err := client.InvokeStream(ctx, &altarv1.InvokeStreamRequest{Request: &altarv1.InvokeRequest{
		ToolName:   "calc/count",
		Parameters: map[string]*altarv1.Value{"start": schema.Int(1), "stop": schema.Int(5), "delay_ms": schema.Int(200)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	final := false
	for !final {
		msg, err := stream.Recv()
		if err != nil {
			t.Fatalf("Recv after %v: %v", got, err)
		}
		if e := msg.GetChunk().GetError(); e != nil {
			t.Fatalf("error chunk after %v: %v", got, e)
		}
		if v := msg.GetChunk().GetPayload(); v != nil {
			got = append(got, v.GetIntValue())
			if len(got) == 1 {
				p.terminate(t)
			}
		}
		final = msg.GetChunk().GetIsFinal()
	}
	if !slices.Equal(got, []int64{1, 2, 3, 4, 5}) {
		t.Fatalf("streamed %v across the shutdown; want 1..5", got)
	}
	if code := p.wait(t, exitTimeout); code != 0 {
		t.Fatalf("altar serve exited %d after SIGTERM; want 0", code)
	}
	for _, pid := range []int{first, second} {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("plugin pid %d outlived altar serve", pid)
		}
	}
	log := p.stderr.String()
	for _, want := range []string{"plugin started", "plugin=calc", "plugin ended; restarting it"} {
		if !strings.Contains(log, want) {
			t.Errorf("serve's log lacks %q", want)
		}
	}
}
