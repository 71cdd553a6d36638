package conformance

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/altar-gateway/altar/gateway/contract"
	"github.com/altar-gateway/altar/plugins/launch"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// row is one runtime in one mode: a column of the matrix.
type row struct {
	spec runtimeSpec
	mode mode
}

// column names the row in the matrix.
func (r row) column() string { return r.spec.Name + " " + string(r.mode) }

// runtimeID is the id the runtime is given (ALTAR_RUNTIME_ID).
func (r row) runtimeID() string { return "conformance-" + r.spec.Name + "-" + string(r.mode) }

// check is one protocol check: a row of the matrix.
type check struct {
	name string
	run  func(t *testing.T, ctx context.Context, e *rowEnv)
}

// checks run in this order on each row; the first starts the runtime, the
// last two disturb it.
var checks = []check{
	{"bootstrap", checkBootstrap},
	{"unknown contract refused", checkUnknownContract},
	{"arguments match the Host schema", checkSchema},
	{"null vs missing", checkNullVsMissing},
	{"int64 beyond 2^53", checkInt64},
	{"binary payloads", checkBinary},
	{"stream of 10,000 chunks", checkStream},
	{"error chunk", checkErrorChunk},
	{"cancel", checkCancel},
	{"deadline", checkDeadline},
	{"heartbeat loss", checkHeartbeatLoss},
	{"reconnect", checkReconnect},
}

// rowEnv is what the checks of one row share.
type rowEnv struct {
	row
	// t is the row's test: what lives as long as the row (its Host, its
	// runtime) is cleaned up with it.
	t  *testing.T
	id string
	// tools are the manifest's contract names, sorted.
	tools []string
	// host is the Host the runtime is connected to; reconnect replaces it.
	host *hostUnderTest
	// proc is the runtime process in dial mode (nil in plugin mode, where
	// the Host owns it).
	proc *process
	// sup launched the runtime in plugin mode (nil in dial mode).
	sup *launch.Supervisor
	// pluginLog keeps the supervisor's log, with the plugins' standard
	// error, in plugin mode.
	pluginLog *tail
}

// TestConformance runs every check against every runtime in every mode.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("conformance: starts Hosts and runtime processes")
	}
	buildGoRuntime()
	m, err := contract.LoadFile(manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	var tools []string
	for _, c := range m.Contracts {
		tools = append(tools, c.Name())
	}
	slices.Sort(tools)
	for _, spec := range runtimes {
		for _, md := range modes {
			r := row{spec: spec, mode: md}
			t.Run(spec.Name+"/"+string(md), func(t *testing.T) {
				runRow(t, &rowEnv{row: r, t: t, id: r.runtimeID(), tools: tools, pluginLog: &tail{max: outputTail}})
			})
		}
	}
}

func runRow(t *testing.T, e *rowEnv) {
	col := e.column()
	results.addColumn(col)
	if reason := pending[e.mode]; reason != "" {
		// Not a skip: the matrix lists every one of these cells as not run.
		results.notRun(col, "", reason)
		t.Logf("%s: not run: %s", col, reason)
		return
	}
	if err := e.spec.Prerequisites(); err != nil {
		results.notRun(col, "", "prerequisites missing: "+err.Error())
		t.Fatalf("%s cannot run: %v", col, err)
	}
	defer func() {
		switch {
		case !t.Failed():
		case e.proc != nil:
			t.Logf("output of %s (last %d bytes):\n%s", col, outputTail, e.proc.output())
		case e.sup != nil:
			t.Logf("plugin supervisor's log for %s (last %d bytes):\n%s", col, outputTail, e.pluginLog.String())
		}
	}()
	for i, c := range checks {
		ran := false
		ok := t.Run(c.name, func(t *testing.T) {
			ran = true
			ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
			defer cancel()
			if i > 0 {
				e.host.waitServing(t, ctx, e.id, e.tools)
			}
			c.run(t, ctx, e)
		})
		if !ran { // -run left it out
			results.skipped(col, c.name)
			if i == 0 {
				// The other checks need the runtime the bootstrap starts.
				ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
				e.host, e.proc, e.sup, _ = e.startRuntime(t, ctx, e.id, e.tools, manifestPath)
				cancel()
			}
			continue
		}
		results.set(col, c.name, ok)
		if !ok && i == 0 {
			results.notRun(col, c.name, "the runtime did not bootstrap")
			return
		}
	}
}

// startRuntime starts a Host with the manifests and the row's runtime,
// connected to it as id, and waits until the Host routes want to it. All of
// it is stopped by t's cleanup. In dial mode proc is the runtime's process;
// in plugin mode sup is the supervisor through which the Host launched it.
func (e *rowEnv) startRuntime(t *testing.T, ctx context.Context, id string, want []string, manifests ...string) (h *hostUnderTest, proc *process, sup *launch.Supervisor, took time.Duration) {
	t.Helper()
	h = startHost(t, "127.0.0.1:0", manifests...)
	start := time.Now()
	switch e.mode {
	case dial:
		proc = e.startDialling(t, h.addr, id)
	case plugin:
		sup = e.launch(t, ctx, h, id)
	default:
		t.Fatalf("mode %s is not implemented by the suite", e.mode)
	}
	h.waitServing(t, ctx, id, want)
	return h, proc, sup, time.Since(start)
}

// Restart policy of plugins under test: quick restarts, and enough of them
// for every check that ends a plugin's process.
const (
	pluginMinBackoff = 100 * time.Millisecond
	pluginMaxBackoff = time.Second
	pluginBudget     = 20
)

// launch has the Host launch the runtime as plugin id through the plugin
// supervisor (plugins/launch), as `altar serve` does for configured
// plugins. The Host stops the supervisor, and so the plugin, when it
// closes.
func (e *rowEnv) launch(t *testing.T, ctx context.Context, h *hostUnderTest, id string) *launch.Supervisor {
	t.Helper()
	argv := expand(e.spec.Command)
	cfg := launch.Config{
		Name: id, Command: argv[0], Args: argv[1:], Env: e.spec.Env,
		Restart: launch.RestartPolicy{MinBackoff: pluginMinBackoff, MaxBackoff: pluginMaxBackoff, Budget: pluginBudget},
	}
	sup, err := launch.New(h.Host, []launch.Config{cfg}, launch.WithLogger(slog.New(slog.NewTextHandler(e.pluginLog, nil))))
	if err != nil {
		t.Fatal(err)
	}
	h.OnClose(func(ctx context.Context) { _ = sup.Close(ctx) })
	t.Cleanup(func() {
		// Close the Host first (it drains the plugin, then closes the
		// supervisor); then make sure.
		h.close()
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		_ = sup.Close(ctx)
	})
	if err := sup.Start(ctx); err != nil {
		t.Fatalf("launching %s as a plugin: %v", id, err)
	}
	return sup
}

// startDialling starts the runtime process dialling addr as id.
func (e *rowEnv) startDialling(t *testing.T, addr, id string) *process {
	t.Helper()
	env := append([]string{"ALTAR_HOST=" + addr, "ALTAR_RUNTIME_ID=" + id}, e.spec.Env...)
	return startProcess(t, expand(e.spec.Command), env...)
}

// transport is what the Host must report as the row's transport.
func (e *rowEnv) transport() string {
	if e.mode == plugin {
		return "plugin"
	}
	return "grpc"
}

// measured records a timing of the row for the report.
func (e *rowEnv) measured(what string, d time.Duration) {
	results.measure(e.column(), what, d)
}

// invoke calls tool with args on the row's Host.
func (e *rowEnv) invoke(ctx context.Context, tool string, args map[string]*altarv1.Value) (*altarv1.ToolResult, error) {
	resp, err := e.host.client.Invoke(ctx, &altarv1.InvokeRequest{ToolName: tool, Parameters: args})
	return resp.GetResult(), err
}

// mustInvoke calls tool and fails t unless it succeeds.
func (e *rowEnv) mustInvoke(t *testing.T, ctx context.Context, tool string, args map[string]*altarv1.Value) *altarv1.Value {
	t.Helper()
	res, err := e.invoke(ctx, tool, args)
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	if res.GetStatus() != altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS {
		t.Fatalf("%s: %v", tool, res)
	}
	return res.GetPayload()
}

func (e *rowEnv) String() string { return fmt.Sprintf("%s (%s)", e.column(), e.id) }
