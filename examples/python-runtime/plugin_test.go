package pythonruntime_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/altar-gateway/altar/gateway/schema"
	"github.com/altar-gateway/altar/plugins/launch"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// startPlugin launches conformance.py as a go-plugin plugin of h through
// the Host's real plugin supervisor (handshake line, health check,
// PluginService stream served by Host.ServeRuntime), and waits until it
// fulfils its tools. The supervisor's log, the plugin's stderr included,
// goes to logs as JSON records (see stderrLines).
func startPlugin(t testing.TB, h *testHost, name string, logs *syncBuffer) *launch.Supervisor {
	t.Helper()
	requirePython(t)
	script, err := filepath.Abs("conformance.py")
	if err != nil {
		t.Fatal(err)
	}
	sup, err := launch.New(h.Host, []launch.Config{{
		Name:    name,
		Command: python,
		Args:    []string{script},
		Env:     []string{"PYTHONDONTWRITEBYTECODE=1", "ALTAR_LOG_LEVEL=INFO"},
		Restart: launch.RestartPolicy{MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, Budget: 3, Window: time.Minute},
	}}, launch.WithLogger(slog.New(slog.NewJSONHandler(logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := sup.Close(ctx); err != nil {
			t.Errorf("closing the supervisor: %v", err)
		}
		if t.Failed() {
			t.Logf("supervisor log:\n%s", logs.String())
		}
	})
	if err := sup.Start(ctxT(t)); err != nil {
		t.Fatalf("starting the plugin: %v\n%s", err, logs.String())
	}
	h.waitTools(t, name, conformanceTools)
	return sup
}

// stderrLines returns the lines of the plugin's standard error that the
// supervisor logged into logs: its "plugin stderr" records with
// plugin=name (not the supervisor's own records about the plugin).
func stderrLines(logs *syncBuffer, name string) []string {
	var out []string
	for _, line := range strings.Split(logs.String(), "\n") {
		var rec struct {
			Msg    string `json:"msg"`
			Plugin string `json:"plugin"`
			Line   string `json:"line"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "plugin stderr" && rec.Plugin == name {
			out = append(out, rec.Line)
		}
	}
	return out
}

// waitForStderr waits until the plugin has written a line containing
// every one of parts to its standard error, as the Host logged it.
func waitForStderr(t *testing.T, logs *syncBuffer, name, what string, parts ...string) {
	t.Helper()
	waitUntil(t, what+" in the plugin's stderr, as the Host logged it", func() bool {
		for _, line := range stderrLines(logs, name) {
			found := true
			for _, p := range parts {
				found = found && strings.Contains(line, p)
			}
			if found {
				return true
			}
		}
		return false
	})
}

// processGone reports whether no process has the pid (a zombie that its
// parent has not reaped yet counts as running).
func processGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

func TestPluginConformanceRuntime(t *testing.T) {
	h := startHost(t, "127.0.0.1:0")
	logs := &syncBuffer{}
	sup := startPlugin(t, h, "py-plugin", logs)

	info := h.runtimeInfo("py-plugin")
	if info.GetTransport() != "plugin" || info.GetLanguage() != "python" {
		t.Fatalf("the Host sees %v", info)
	}
	pid := sup.Status()[0].PID
	f := h.call(t, "conformance.pid", nil).GetObjectValue().GetFields()
	if f["pid"].GetIntValue() != int64(pid) || f["language"].GetStringValue() != "python" {
		t.Fatalf("pid = %v, the supervisor started %d", f, pid)
	}
	params := map[string]*altarv1.Value{"big": schema.Int(-1 << 63), "blob": schema.Bytes([]byte{0, 0xff}), "text": schema.Null()}
	if got := h.call(t, "conformance.echo", params); !proto.Equal(got, schema.Object(params)) {
		t.Fatalf("echo = %v", got)
	}
	values, final, err := h.stream(t, map[string]*altarv1.Value{"n": schema.Int(100)})
	if err != nil || len(values) != 100 || final.GetError() != nil {
		t.Fatalf("stream: %d values, final %v, %v", len(values), final, err)
	}
	// The Python runtime's own log line (Python's logging, as
	// conformance.py formats it, with the names of the tools the Host
	// accepted as a Python list), captured from its stderr under the
	// plugin's name.
	waitForStderr(t, logs, "py-plugin", "the Python runtime's 'tools fulfilled' line",
		" INFO altar_runtime: tools fulfilled: [", "'py-plugin/conformance.pid'")

	t.Run("a killed plugin is restarted", func(t *testing.T) {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		var again int
		waitUntil(t, "the plugin runs again with a new pid", func() bool {
			st := sup.Status()[0]
			again = st.PID
			return st.State == launch.StateRunning && again != pid && h.runtimeInfo("py-plugin") != nil &&
				len(h.runtimeInfo("py-plugin").GetTools()) == conformanceTools
		})
		if got := h.call(t, "conformance.pid", nil).GetObjectValue().GetFields()["pid"].GetIntValue(); got != int64(again) {
			t.Fatalf("pid = %d, want %d", got, again)
		}
		pid = again
	})

	t.Run("the plugin exits when the Host closes its stream", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := sup.Close(ctx); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "the plugin process is gone", func() bool { return processGone(pid) })
		// The Python runtime logs this when the Host ends its stream
		// (altar_runtime/runtime.py), not when it is killed.
		waitForStderr(t, logs, "py-plugin", "the Python runtime's 'stream ended' line",
			" INFO altar_runtime: the Host's stream ended (")
	})
}
