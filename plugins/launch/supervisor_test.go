package launch_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/altar-gateway/altar/gateway"
	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/audit"
	"github.com/altar-gateway/altar/gateway/schema"
	"github.com/altar-gateway/altar/plugins/launch"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// testTimeout bounds every wait for a plugin to start, restart or stop.
const testTimeout = 30 * time.Second

// syncBuffer is a log destination that tests read while plugins write.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// records returns the JSON log records written so far.
func (b *syncBuffer) records() []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range bytes.Split(b.buf.Bytes(), []byte("\n")) {
		var rec map[string]any
		if json.Unmarshal(line, &rec) == nil {
			out = append(out, rec)
		}
	}
	return out
}

// fixture is a real Host on loopback with plugins launched by a real
// Supervisor, whose close the Host runs (OnClose).
type fixture struct {
	h     *gateway.Host
	sup   *launch.Supervisor
	logs  *syncBuffer
	audit *audit.Recorder
}

// auditTee keeps the Host's audit events for the test and logs them as
// the Host's default sink does.
type auditTee struct {
	rec *audit.Recorder
	log audit.LogSink
}

func (a auditTee) Record(e audit.Event) {
	a.rec.Record(e)
	a.log.Record(e)
}

// newHost starts a Host whose log goes to logs and whose audit events
// also to rec, when it is not nil.
func newHost(t *testing.T, mode altarv1.HostMode, logs *syncBuffer, rec *audit.Recorder) *gateway.Host {
	t.Helper()
	cfg := gateway.DefaultConfig()
	cfg.GRPCAddr = "127.0.0.1:0"
	cfg.ManifestPaths = []string{"testdata/manifest.yaml"}
	cfg.Mode = mode
	cfg.Runtimes.HeartbeatInterval = 200 * time.Millisecond
	cfg.Runtimes.HeartbeatTimeout = 2 * time.Second
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if rec != nil {
		cfg.AuditSink = auditTee{rec: rec, log: audit.LogSink{Logger: cfg.Logger}}
	}
	h, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		_ = h.Close(ctx)
	})
	return h
}

// start launches the plugins; startErr is what Start returned.
func start(t *testing.T, mode altarv1.HostMode, plugins ...launch.Config) (f *fixture, startErr error) {
	t.Helper()
	logs, rec := &syncBuffer{}, &audit.Recorder{}
	h := newHost(t, mode, logs, rec)
	sup, err := launch.New(h, plugins, launch.WithLogger(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if err != nil {
		t.Fatal(err)
	}
	h.OnClose(func(ctx context.Context) {
		if err := sup.Close(ctx); err != nil {
			t.Errorf("Supervisor.Close: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	startErr = sup.Start(ctx)
	return &fixture{h: h, sup: sup, logs: logs, audit: rec}, startErr
}

func plugin(name string) launch.Config {
	return launch.Config{
		Name:    name,
		Command: testPlugin,
		Restart: launch.RestartPolicy{MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Budget: 5, Window: time.Minute},
	}
}

// call invokes a tool through the Host and returns its result, or the
// ALTAR code of its failure.
func (f *fixture) call(t *testing.T, tool string, params map[string]*altarv1.Value) (*altarv1.ToolResult, altarv1.ErrorCode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	resp, err := f.h.Invoke(ctx, &altarv1.InvokeRequest{ToolName: tool, Parameters: params})
	if err != nil {
		return nil, altarerr.CodeOf(err)
	}
	if e := resp.GetResult().GetError(); e != nil {
		return resp.GetResult(), e.GetCode()
	}
	return resp.GetResult(), altarv1.ErrorCode_ERROR_CODE_UNSPECIFIED
}

// pid calls the pid tool of the plugin named name.
func (f *fixture) pid(t *testing.T, name string) int {
	t.Helper()
	res, code := f.call(t, name+"/pid", nil)
	if code != altarv1.ErrorCode_ERROR_CODE_UNSPECIFIED {
		t.Fatalf("pid of %s: %s", name, altarerr.CodeName(code))
	}
	return int(res.GetPayload().GetIntValue())
}

// routed reports whether the Host routes name's tool.
func (f *fixture) routed(name, tool string) bool {
	for _, rt := range f.h.Runtimes().List() {
		if rt.GetRuntimeId() != name {
			continue
		}
		for _, ft := range rt.GetTools() {
			if ft.GetContractName() == tool {
				return true
			}
		}
	}
	return false
}

// waitFor polls cond until it holds or the test's deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func status(f *fixture, name string) launch.Status {
	for _, st := range f.sup.Status() {
		if st.Name == name {
			return st
		}
	}
	return launch.Status{}
}

// alive reports whether a process with the pid exists (a zombie counts:
// it has not been reaped).
func alive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

func TestPluginServesCallsThroughTheHost(t *testing.T) {
	f, err := start(t, altarv1.HostMode_HOST_MODE_STRICT, plugin("calc"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "calc's tools", func() bool { return f.routed("calc", "add") })
	res, code := f.call(t, "add", map[string]*altarv1.Value{"a": schema.Double(2), "b": schema.Double(40)})
	if code != altarv1.ErrorCode_ERROR_CODE_UNSPECIFIED || res.GetPayload().GetDoubleValue() != 42 {
		t.Fatalf("add = %v, %s; want 42", res.GetPayload(), altarerr.CodeName(code))
	}
	st := status(f, "calc")
	if st.State != launch.StateRunning || st.PID == 0 || st.Restarts != 0 {
		t.Fatalf("status = %+v; want running with a pid and no restarts", st)
	}
	if got := f.pid(t, "calc"); got != st.PID {
		t.Fatalf("the pid tool says %d; the supervisor says %d", got, st.PID)
	}
	var transport string
	for _, rt := range f.h.Runtimes().List() {
		if rt.GetRuntimeId() == "calc" {
			transport = rt.GetTransport()
		}
	}
	if transport != "plugin" {
		t.Fatalf("transport = %q; want plugin", transport)
	}
}

func TestStrictHostRefusesAToolNotInTheManifests(t *testing.T) {
	f, err := start(t, altarv1.HostMode_HOST_MODE_STRICT, plugin("calc"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "calc's tools", func() bool { return f.routed("calc", "add") })
	if f.routed("calc", "sneak") {
		t.Fatal("the Host routes sneak, which no manifest has")
	}
	if _, code := f.call(t, "sneak", nil); code == altarv1.ErrorCode_ERROR_CODE_UNSPECIFIED {
		t.Fatal("calling sneak succeeded; want a refusal")
	}
}

// TestDevelopmentHostLetsAPluginRegisterATool: the same rules as for any
// runtime: only a DEVELOPMENT Host takes a plugin's own definition, and
// only from a runtime that asks for it.
func TestDevelopmentHostLetsAPluginRegisterATool(t *testing.T) {
	dev := plugin("dev")
	dev.Env = []string{"TESTPLUGIN_DEV=1"}
	f, err := start(t, altarv1.HostMode_HOST_MODE_DEVELOPMENT, dev, plugin("plain"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "dev's sneak", func() bool { return f.routed("dev", "sneak") })
	res, code := f.call(t, "dev/sneak", nil)
	if code != altarv1.ErrorCode_ERROR_CODE_UNSPECIFIED || res.GetPayload().GetStringValue() != "sneaked" {
		t.Fatalf("dev/sneak = %v, %s", res.GetPayload(), altarerr.CodeName(code))
	}
	waitFor(t, "plain's tools", func() bool { return f.routed("plain", "add") })
	if f.routed("plain", "sneak") {
		t.Fatal("a plugin that did not ask to register sneak has it")
	}
}

func TestCrashFailsTheCallAtOnceAndThePluginComesBack(t *testing.T) {
	f, err := start(t, altarv1.HostMode_HOST_MODE_STRICT, plugin("calc"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "calc's tools", func() bool { return f.routed("calc", "crash") })
	before := f.pid(t, "calc")

	began := time.Now()
	_, code := f.call(t, "crash", nil)
	took := time.Since(began)
	if code != altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE {
		t.Fatalf("the crashing call failed with %s; want RUNTIME_UNAVAILABLE", altarerr.CodeName(code))
	}
	// "At once": far below the contract's 5 s timeout and the Host's 2 s
	// heartbeat timeout, which would otherwise be what ends it.
	if took > time.Second {
		t.Fatalf("the crashing call took %v to fail", took)
	}

	waitFor(t, "a restarted calc", func() bool {
		st := status(f, "calc")
		return st.State == launch.StateRunning && st.PID != before && f.routed("calc", "pid")
	})
	after := f.pid(t, "calc")
	if after == before {
		t.Fatalf("the plugin still runs as pid %d", before)
	}
	if st := status(f, "calc"); st.Restarts != 1 || st.LastError == nil {
		t.Fatalf("status = %+v; want 1 restart and the crash as last error", st)
	}
	waitFor(t, "the crashed process to be reaped", func() bool { return !alive(before) })
}

func TestRestartBudgetLeavesThePluginDown(t *testing.T) {
	cfg := plugin("calc")
	cfg.Restart.Budget = 1
	f, err := start(t, altarv1.HostMode_HOST_MODE_STRICT, cfg)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "calc's tools", func() bool { return f.routed("calc", "crash") })
	first := f.pid(t, "calc")
	f.call(t, "crash", nil)
	waitFor(t, "the one restart", func() bool {
		st := status(f, "calc")
		return st.State == launch.StateRunning && st.PID != first && f.routed("calc", "crash")
	})
	f.call(t, "crash", nil)
	waitFor(t, "the plugin to stay down", func() bool { return status(f, "calc").State == launch.StateFailed })
	st := status(f, "calc")
	if st.Restarts != 1 || st.LastError == nil || !strings.Contains(st.LastError.Error(), "restart.budget") {
		t.Fatalf("status = %+v; want 1 restart and a budget error", st)
	}
	if f.routed("calc", "add") {
		t.Fatal("the Host still routes the failed plugin's tools")
	}
	if _, code := f.call(t, "add", map[string]*altarv1.Value{"a": schema.Double(1), "b": schema.Double(1)}); code == altarv1.ErrorCode_ERROR_CODE_UNSPECIFIED {
		t.Fatal("a call to the failed plugin's tool succeeded")
	}
}

// TestRestartsBackOffExponentially: the supervisor's loop waits longer
// before each restart of a plugin that keeps crashing: restart n waits
// within [m·2ⁿ/2, m·2ⁿ] for MinBackoff m, as the delays it chose and logged
// show (the ranges of successive restarts do not overlap). A constant or
// zero delay fails it; the function itself is tested in
// backoff_internal_test.go.
func TestRestartsBackOffExponentially(t *testing.T) {
	const minBackoff = 20 * time.Millisecond
	const crashes = 4
	cfg := plugin("calc")
	// MaxBackoff far above any run's length here, so that no run resets
	// the doubling.
	cfg.Restart = launch.RestartPolicy{MinBackoff: minBackoff, MaxBackoff: time.Hour, Budget: crashes + 1, Window: time.Hour}
	f, err := start(t, altarv1.HostMode_HOST_MODE_STRICT, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range crashes {
		waitFor(t, "calc's tools", func() bool {
			st := status(f, "calc")
			return st.State == launch.StateRunning && st.Restarts == i && f.routed("calc", "crash")
		})
		before := status(f, "calc").PID
		if _, code := f.call(t, "crash", nil); code != altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE {
			t.Fatalf("crash %d: %s; want RUNTIME_UNAVAILABLE", i, altarerr.CodeName(code))
		}
		waitFor(t, "a restarted calc", func() bool {
			st := status(f, "calc")
			return st.State == launch.StateRunning && st.PID != before
		})
	}
	var delays []time.Duration
	for _, rec := range f.logs.records() {
		if rec["plugin"] == "calc" && rec["msg"] == "plugin ended; restarting it" {
			ns, _ := rec["retry_in"].(float64)
			delays = append(delays, time.Duration(ns))
		}
	}
	if len(delays) != crashes {
		t.Fatalf("%d restarts logged (%v); want %d", len(delays), delays, crashes)
	}
	for n, d := range delays {
		ceil := minBackoff << n
		if d < ceil/2 || d > ceil {
			t.Errorf("restart %d waited %v; want within [%v, %v] (all: %v)", n, d, ceil/2, ceil, delays)
		}
	}
}

func TestPinnedHash(t *testing.T) {
	actual, err := launch.FileSHA256(testPlugin)
	if err != nil {
		t.Fatal(err)
	}
	wrong := strings.Repeat("0", 64)

	t.Run("match", func(t *testing.T) {
		cfg := plugin("calc")
		cfg.SHA256 = actual
		f, err := start(t, altarv1.HostMode_HOST_MODE_STRICT, cfg)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "calc's tools", func() bool { return f.routed("calc", "add") })
	})
	t.Run("mismatch", func(t *testing.T) {
		cfg := plugin("calc")
		cfg.SHA256 = wrong
		f, err := start(t, altarv1.HostMode_HOST_MODE_STRICT, cfg)
		if err == nil {
			t.Fatal("a plugin whose hash does not match its pin started")
		}
		for _, want := range []string{`"calc"`, actual, wrong} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %s", err, want)
			}
		}
		if code := altarerr.CodeOf(err); code != altarv1.ErrorCode_ERROR_CODE_INVALID_CONFIG {
			t.Errorf("code = %s; want INVALID_CONFIG", altarerr.CodeName(code))
		}
		st := status(f, "calc")
		if st.State != launch.StateFailed || st.PID != 0 || st.Restarts != 0 {
			t.Fatalf("status = %+v; want failed, never started, never restarted", st)
		}
	})
}

func TestStderrIsLoggedWithThePluginName(t *testing.T) {
	f, err := start(t, altarv1.HostMode_HOST_MODE_STRICT, plugin("talker"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "talker's tools", func() bool { return f.routed("talker", "say") })
	const text = "a line from the plugin, 7f3a"
	if _, code := f.call(t, "say", map[string]*altarv1.Value{"text": schema.String(text)}); code != altarv1.ErrorCode_ERROR_CODE_UNSPECIFIED {
		t.Fatalf("say: %s", altarerr.CodeName(code))
	}
	waitFor(t, "the line in the Host's log", func() bool {
		for _, rec := range f.logs.records() {
			if rec["plugin"] == "talker" && rec["msg"] == "plugin stderr" && rec["line"] == text {
				return true
			}
		}
		return false
	})
	// The SDK's own log lines (slog text on stderr) keep their level.
	waitFor(t, "the plugin's own INFO record", func() bool {
		for _, rec := range f.logs.records() {
			line, _ := rec["line"].(string)
			if rec["plugin"] == "talker" && rec["level"] == "INFO" && strings.Contains(line, "tools fulfilled") {
				return true
			}
		}
		return false
	})
}

func TestCloseLeavesNoPluginBehind(t *testing.T) {
	logs := &syncBuffer{}
	h := newHost(t, altarv1.HostMode_HOST_MODE_STRICT, logs, nil)
	sup, err := launch.New(h, []launch.Config{plugin("one"), plugin("two")})
	if err != nil {
		t.Fatal(err)
	}
	h.OnClose(func(ctx context.Context) { _ = sup.Close(ctx) })
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := sup.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, st := range sup.Status() {
		if st.State != launch.StateRunning || !alive(st.PID) {
			t.Fatalf("status = %+v; want running", st)
		}
		pids = append(pids, st.PID)
	}
	if err := h.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// Supervisor.Close (run by Host.Close) waits for each process to be
	// killed and reaped: none may be left, not even as a zombie.
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("plugin pid %d outlived Host.Close", pid)
		}
	}
	for _, st := range sup.Status() {
		if st.State != launch.StateStopped {
			t.Errorf("status = %+v; want stopped", st)
		}
	}
}

func TestAPluginMustAnnounceItsName(t *testing.T) {
	cfg := plugin("calc")
	cfg.Env = []string{"TESTPLUGIN_ID=impostor"}
	f, err := start(t, altarv1.HostMode_HOST_MODE_STRICT, cfg)
	if err == nil {
		waitFor(t, "the plugin to be refused", func() bool { return status(f, "calc").State == launch.StateFailed })
	}
	st := status(f, "calc")
	if st.State != launch.StateFailed || st.LastError == nil || !strings.Contains(st.LastError.Error(), `"impostor"`) {
		t.Fatalf("status = %+v; want failed, naming the id it announced", st)
	}
	if code := altarerr.CodeOf(st.LastError); code != altarv1.ErrorCode_ERROR_CODE_PROTOCOL_VIOLATION {
		t.Fatalf("code = %s; want PROTOCOL_VIOLATION", altarerr.CodeName(code))
	}
	for _, rt := range f.h.Runtimes().List() {
		if rt.GetRuntimeId() == "impostor" {
			t.Fatal("the impostor is connected")
		}
	}
}

func TestMissingExecutableFails(t *testing.T) {
	cfg := plugin("ghost")
	cfg.Command = filepath.Join(t.TempDir(), "no-such-plugin")
	f, err := start(t, altarv1.HostMode_HOST_MODE_STRICT, cfg)
	if err == nil {
		t.Fatal("a plugin with no executable started")
	}
	var ae *altarerr.Error
	if !errors.As(err, &ae) || ae.Code != altarv1.ErrorCode_ERROR_CODE_INVALID_CONFIG || !strings.Contains(err.Error(), "no-such-plugin") {
		t.Fatalf("error = %v; want INVALID_CONFIG naming the command", err)
	}
	if st := status(f, "ghost"); st.State != launch.StateFailed {
		t.Fatalf("status = %+v; want failed", st)
	}
	if _, err := os.Stat(cfg.Command); err == nil {
		t.Fatal("the test's premise is wrong")
	}
}

// TestDirIsThePluginsWorkingDirectory: Config.Dir is the child's working
// directory, and a relative Command is found relative to it, not to the
// Host's working directory (where bin/testplugin does not exist).
func TestDirIsThePluginsWorkingDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(testPlugin, filepath.Join(dir, "bin", "testplugin")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join("bin", "testplugin")); err == nil {
		t.Fatal("the test's premise is wrong: bin/testplugin exists in the test's own working directory")
	}
	cfg := plugin("calc")
	cfg.Command = filepath.Join("bin", "testplugin")
	cfg.Dir = dir
	f, err := start(t, altarv1.HostMode_HOST_MODE_STRICT, cfg)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "calc's tools", func() bool { return f.routed("calc", "cwd") })
	res, code := f.call(t, "cwd", nil)
	if code != altarv1.ErrorCode_ERROR_CODE_UNSPECIFIED {
		t.Fatalf("cwd: %s", altarerr.CodeName(code))
	}
	want, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := filepath.EvalSymlinks(res.GetPayload().GetStringValue())
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("the plugin runs in %s; want Dir %s", got, want)
	}
}

// TestIdempotentCallFailsOverWhenAPluginCrashes: a plugin that crashes
// mid-call on an idempotent contract costs the caller nothing when
// another runtime fulfils it: the Host retries there.
func TestIdempotentCallFailsOverWhenAPluginCrashes(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "crashed")
	crashy := plugin("crashy")
	crashy.Env = []string{"TESTPLUGIN_MARKER=" + marker}
	f, err := start(t, altarv1.HostMode_HOST_MODE_STRICT, crashy)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "crashy's tools", func() bool { return f.routed("crashy", "crash_once") })
	// steady joins second, so that on a tie the Host prefers crashy.
	steady, err := launch.New(f.h, []launch.Config{plugin("steady")})
	if err != nil {
		t.Fatal(err)
	}
	f.h.OnClose(func(ctx context.Context) { _ = steady.Close(ctx) })
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := steady.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "steady's tools", func() bool { return f.routed("steady", "crash_once") })
	steadyPID := steady.Status()[0].PID

	for i := 0; ; i++ {
		res, code := f.call(t, "crash_once", nil)
		if code != altarv1.ErrorCode_ERROR_CODE_UNSPECIFIED {
			t.Fatalf("call %d failed with %s; want it retried on the other plugin", i, altarerr.CodeName(code))
		}
		if _, err := os.Stat(marker); err == nil {
			if got := int(res.GetPayload().GetIntValue()); got != steadyPID {
				t.Fatalf("the call that crashed crashy was answered by pid %d; want steady's %d", got, steadyPID)
			}
			break
		}
		if i == 20 {
			t.Fatal("the Host never routed crash_once to crashy")
		}
	}
	waitFor(t, "crashy to come back", func() bool {
		st := status(f, "crashy")
		return st.State == launch.StateRunning && st.Restarts == 1
	})
}

// TestAHungPluginIsReplaced: a plugin that stops answering (SIGSTOP) misses
// its heartbeats; the Host drops its stream and the supervisor kills the
// process (SIGKILL reaches a stopped one) and starts a new one.
func TestAHungPluginIsReplaced(t *testing.T) {
	f, err := start(t, altarv1.HostMode_HOST_MODE_STRICT, plugin("calc"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "calc's tools", func() bool { return f.routed("calc", "pid") })
	hung := f.pid(t, "calc")
	if err := syscall.Kill(hung, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a new calc", func() bool {
		st := status(f, "calc")
		return st.State == launch.StateRunning && st.PID != hung && f.routed("calc", "pid")
	})
	if got := f.pid(t, "calc"); got == hung {
		t.Fatalf("the hung pid %d still answers", hung)
	}
	if alive(hung) {
		t.Fatalf("the hung process %d was not killed and reaped", hung)
	}
	if st := status(f, "calc"); st.LastError == nil || !strings.Contains(st.LastError.Error(), "heartbeats") {
		t.Fatalf("status = %+v; want the missed heartbeats as last error", st)
	}
}

// TestAPluginsMessagesAreBounded: a message over 4 MiB from a plugin ends
// its stream (as one from a dialled-in runtime would); the call fails, and
// the plugin is restarted.
func TestAPluginsMessagesAreBounded(t *testing.T) {
	f, err := start(t, altarv1.HostMode_HOST_MODE_STRICT, plugin("calc"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "calc's tools", func() bool { return f.routed("calc", "big") })
	before := f.pid(t, "calc")
	if res, code := f.call(t, "big", map[string]*altarv1.Value{"n": schema.Int(1 << 20)}); code != altarv1.ErrorCode_ERROR_CODE_UNSPECIFIED || len(res.GetPayload().GetBytesValue()) != 1<<20 {
		t.Fatalf("1 MiB: %s", altarerr.CodeName(code))
	}
	if _, code := f.call(t, "big", map[string]*altarv1.Value{"n": schema.Int(5 << 20)}); code != altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE {
		t.Fatalf("5 MiB: %s; want RUNTIME_UNAVAILABLE", altarerr.CodeName(code))
	}
	waitFor(t, "a restarted calc", func() bool {
		st := status(f, "calc")
		return st.State == launch.StateRunning && st.PID != before && f.routed("calc", "big")
	})
}
