package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/altar-gateway/altar/gateway"
	"github.com/altar-gateway/altar/gateway/auth"
	"github.com/altar-gateway/altar/plugins/examples/calculator/calc"
	"github.com/altar-gateway/altar/plugins/sdk"
)

// clientTestTimeout bounds each test's waits and each command it runs.
const clientTestTimeout = 20 * time.Second

// calcHost is a real Host on loopback trusting manifests/calculator.yaml.
// keys, when given, are client keys the Host requires.
func calcHost(t *testing.T, keys ...string) *gateway.Host {
	t.Helper()
	cfg := gateway.DefaultConfig()
	cfg.GRPCAddr = "127.0.0.1:0"
	cfg.ManifestPaths = []string{"../../manifests/calculator.yaml"}
	cfg.Runtimes.HeartbeatInterval = 200 * time.Millisecond
	cfg.Runtimes.HeartbeatTimeout = 2 * time.Second
	for i, k := range keys {
		cfg.Keys = append(cfg.Keys, auth.Key{ID: fmt.Sprintf("client-%d", i), Role: auth.RoleClient, Hash: auth.HashKey(k)})
	}
	h, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), clientTestTimeout)
		defer cancel()
		_ = h.Close(ctx)
	})
	return h
}

// startCalculator connects the example calculator runtime to h and waits
// until the Host routes its tools.
func startCalculator(t *testing.T, h *gateway.Host) {
	t.Helper()
	rt, err := sdk.New("calculator", calc.Tools(), sdk.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = rt.Serve(ctx, h.GRPCAddr())
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	waitUntil(t, func() bool {
		for _, info := range h.Runtimes().List() {
			if info.GetRuntimeId() == "calculator" && len(info.GetTools()) == len(calc.Tools()) {
				return true
			}
		}
		return false
	})
}

// waitUntil polls a condition the test cannot be told about directly (a
// runtime's progress through gRPC), bounded by clientTestTimeout.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(clientTestTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within the test timeout")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// execute runs the altar command line in process, as run does, and returns
// what it wrote and its exit status.
func execute(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientTestTimeout)
	defer cancel()
	var out, errOut bytes.Buffer
	root := newRootCommand()
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		var exit exitError
		if errors.As(err, &exit) {
			code = exit.code
		} else {
			fmt.Fprintln(&errOut, "altar:", err)
			code = 1
		}
	}
	return out.String(), errOut.String(), code
}

func TestClientCommands(t *testing.T) {
	t.Setenv(envAddr, "")
	t.Setenv(envKey, "")
	h := calcHost(t)
	startCalculator(t, h)
	addr := "--addr=" + h.GRPCAddr()

	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   []string // each must appear in stdout
		stderr   []string // each must appear in stderr
		exact    string   // when set, stdout must be exactly this
		jsonOut  bool     // stdout must be JSON (one document, or one per line)
		jsonLine bool
	}{
		{name: "tools list", args: []string{"tools"},
			stdout: []string{"NAME", "VERSION", "AVAILABLE", "RUNTIMES", "DESCRIPTION", "add", "1.0.0", "yes", "calculator", "Add two numbers", "count"}},
		{name: "tools list json", args: []string{"tools", "-o", "json"},
			jsonOut: true, stdout: []string{`"tools"`, `"name": "multiply"`}},
		{name: "tools NAME", args: []string{"tools", "multiply"},
			stdout: []string{"multiply 1.0.0", "Names:", "calculator/multiply", "PATH", "/factors", "array", "min items 2, max items 100",
				"/factors/*", "number", "/rounding/places", "integer", "min 0, max 15, default 2", "one of half_even|half_up|down|up"}},
		{name: "tools NAME any_of", args: []string{"tools", "divide"},
			stdout: []string{"/b", "any of (> 0) | (< 0)", "Returns:"}},
		{name: "tools NAME json", args: []string{"tools", "add", "-o", "json"},
			jsonOut: true, stdout: []string{`"contract"`, `"runtimeIds"`}},
		{name: "tools unknown", args: []string{"tools", "nope"}, code: exitRefused,
			stderr: []string{"altar: ", "nope"}},
		{name: "call --args", args: []string{"call", "add", "--args", `{"a": 1, "b": 2}`}, exact: "3.0\n"},
		{name: "call key=value", args: []string{"call", "subtract", "a=7", "b=2.5"}, exact: "4.5\n"},
		{name: "call key=value JSON values", args: []string{"call", "multiply", "factors=[2,3]", `rounding={"places":1}`}, exact: "6.0\n"},
		{name: "call --args and key=value", args: []string{"call", "add", "--args", `{"a": 1}`, "b=2"}, exact: "3.0\n"},
		{name: "call --coerce", args: []string{"call", "add", "a=1", `b="2"`, "--coerce"}, exact: "3.0\n"},
		{name: "call json", args: []string{"call", "add", "a=1", "b=2", "-o", "json"},
			jsonOut: true, stdout: []string{`"status": "TOOL_RESULT_STATUS_SUCCESS"`, `"doubleValue": 3`}},
		{name: "call invalid arguments", args: []string{"call", "add", "a=x", "c=1"}, code: exitRefused,
			stderr: []string{"altar: INVALID_ARGUMENTS", "\n  /a: ", "\n  /b: ", "\n  /c: "}},
		{name: "call unknown tool", args: []string{"call", "nope", "a=1"}, code: exitRefused,
			stderr: []string{"altar: ", "nope"}},
		{name: "call tool failure", args: []string{"call", "multiply", "factors=[1e308,1e308]"}, code: exitToolFailed,
			stderr: []string{"altar: tool multiply failed: TOOL_FAILED: the product overflows"}},
		{name: "call tool failure json", args: []string{"call", "multiply", "factors=[1e308,1e308]", "-o", "json"}, code: exitToolFailed,
			jsonOut: true, stdout: []string{`"TOOL_RESULT_STATUS_ERROR"`, `"ERROR_CODE_TOOL_FAILED"`}},
		{name: "call bad word", args: []string{"call", "add", "a"}, code: 1, stderr: []string{`argument "a": want KEY=VALUE`}},
		{name: "call duplicate key", args: []string{"call", "add", "--args", `{"a":1}`, "a=2"}, code: 1, stderr: []string{"a is given twice"}},
		{name: "call --stream", args: []string{"call", "count", "start=1", "stop=3", "delay_ms=0", "--stream"}, exact: "1\n2\n3\n"},
		{name: "call --stream json", args: []string{"call", "count", "--args", `{"start":1,"stop":3,"delay_ms":0}`, "--stream", "-o", "json"},
			jsonLine: true, stdout: []string{`"intValue":"1"`, `"intValue":"3"`}},
		{name: "call --stream invalid", args: []string{"call", "count", "stop=x", "--stream"}, code: exitRefused,
			stderr: []string{"INVALID_ARGUMENTS", "\n  /stop: "}},
		{name: "runtimes", args: []string{"runtimes"},
			stdout: []string{"ID", "LANGUAGE", "TRANSPORT", "HEALTH", "BREAKER", "IN FLIGHT", "TOOLS", "CONNECTED", "calculator", "go", "healthy", "closed", "add,subtract"}},
		{name: "runtimes json", args: []string{"runtimes", "-o", "json"}, jsonOut: true, stdout: []string{`"runtimeId": "calculator"`}},
		{name: "bad output", args: []string{"tools", "-o", "yaml"}, code: 1, stderr: []string{"--output must be table or json"}},
		{name: "unreachable", args: []string{"tools", "--addr", "127.0.0.1:1", "--timeout", "5s"}, code: exitRefused,
			stderr: []string{"altar: "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if !strings.Contains(strings.Join(args, " "), "--addr") {
				args = append(args, addr)
			}
			stdout, stderr, code := execute(t, args...)
			if code != tt.code {
				t.Fatalf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout, stderr)
			}
			if tt.exact != "" && stdout != tt.exact {
				t.Errorf("stdout = %q, want %q", stdout, tt.exact)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout)
				}
			}
			for _, s := range tt.stderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
			for line := range strings.Lines(stdout) {
				if strings.HasSuffix(strings.TrimSuffix(line, "\n"), " ") {
					t.Errorf("line with trailing spaces: %q", line)
				}
			}
			if tt.jsonOut && !json.Valid([]byte(stdout)) {
				t.Errorf("stdout is not JSON:\n%s", stdout)
			}
			if tt.jsonLine {
				lines := strings.Split(strings.TrimSpace(stdout), "\n")
				for _, l := range lines {
					if !json.Valid([]byte(l)) {
						t.Errorf("line %q is not JSON", l)
					}
				}
			}
		})
	}
}

func TestClientSessions(t *testing.T) {
	t.Setenv(envAddr, "")
	t.Setenv(envKey, "")
	h := calcHost(t)
	startCalculator(t, h)
	addr := "--addr=" + h.GRPCAddr()

	stdout, stderr, code := execute(t, "sessions", "create", "--ttl", "10m", "--meta", "user=ada", "--meta", "note=a=b,c", addr)
	if code != 0 {
		t.Fatalf("create: exit %d: %s", code, stderr)
	}
	id := strings.TrimSpace(stdout)
	if id == "" || strings.ContainsAny(id, " \n") {
		t.Fatalf("create printed %q, want a session id", stdout)
	}

	stdout, stderr, code = execute(t, "sessions", addr)
	if code != 0 {
		t.Fatalf("list: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"ID", "TTL", "METADATA", id, "10m0s", "note=a=b,c,user=ada"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("list lacks %q:\n%s", want, stdout)
		}
	}

	stdout, _, code = execute(t, "sessions", "-o", "json", addr)
	if code != 0 || !json.Valid([]byte(stdout)) || !strings.Contains(stdout, id) {
		t.Errorf("list -o json: exit %d:\n%s", code, stdout)
	}

	stdout, stderr, code = execute(t, "tools", "--session", id, addr)
	if code != 0 || !strings.Contains(stdout, "add") {
		t.Errorf("tools --session: exit %d:\n%s%s", code, stdout, stderr)
	}
	stdout, stderr, code = execute(t, "call", "add", "a=1", "b=1", "--session", id, addr)
	if code != 0 || stdout != "2.0\n" {
		t.Errorf("call --session: exit %d:\n%s%s", code, stdout, stderr)
	}

	stdout, stderr, code = execute(t, "sessions", "delete", id, addr)
	if code != 0 || !strings.Contains(stdout, "deleted "+id) {
		t.Fatalf("delete: exit %d:\n%s%s", code, stdout, stderr)
	}
	stdout, _, _ = execute(t, "sessions", addr)
	if strings.Contains(stdout, id) {
		t.Errorf("the deleted session is still listed:\n%s", stdout)
	}
	_, stderr, code = execute(t, "call", "add", "a=1", "b=1", "--session", id, addr)
	if code != exitRefused || !strings.Contains(stderr, "altar: ") {
		t.Errorf("call in a deleted session: exit %d: %s", code, stderr)
	}

	stdout, stderr, code = execute(t, "sessions", "create", "-o", "json", addr)
	if code != 0 || !json.Valid([]byte(stdout)) || !strings.Contains(stdout, `"sessionId"`) {
		t.Errorf("create -o json: exit %d:\n%s%s", code, stdout, stderr)
	}
}

func TestClientKeys(t *testing.T) {
	t.Setenv(envAddr, "")
	t.Setenv(envKey, "")
	h := calcHost(t, "client-key")
	addr := "--addr=" + h.GRPCAddr()

	for _, tt := range []struct {
		name string
		args []string
		env  string
		code int
	}{
		{"no key", []string{"tools", addr}, "", exitRefused},
		{"wrong key", []string{"tools", addr, "--key", "nope"}, "", exitRefused},
		{"right key", []string{"tools", addr, "--key", "client-key"}, "", 0},
		{"key from the environment", []string{"tools", addr}, "client-key", 0},
		{"flag over the environment", []string{"tools", addr, "--key", "nope"}, "client-key", exitRefused},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envKey, tt.env)
			stdout, stderr, code := execute(t, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.code, stdout, stderr)
			}
			if tt.code != 0 && !strings.HasPrefix(stderr, "altar: UNAUTHENTICATED") {
				t.Errorf("stderr = %q, want UNAUTHENTICATED", stderr)
			}
			if tt.code == 0 && !strings.Contains(stdout, "add") {
				t.Errorf("stdout lacks the tools:\n%s", stdout)
			}
		})
	}
}

func TestClientAddrFromEnv(t *testing.T) {
	t.Setenv(envKey, "")
	h := calcHost(t)
	t.Setenv(envAddr, h.GRPCAddr())
	if stdout, stderr, code := execute(t, "tools"); code != 0 || !strings.Contains(stdout, "add") {
		t.Errorf("exit %d:\n%s%s", code, stdout, stderr)
	}
}

func TestClientIsLocal(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:50051":         true,
		"localhost:50051":         true,
		"LOCALHOST":               true,
		"[::1]:50051":             true,
		"::1":                     true,
		"unix:///tmp/altar.sock":  true,
		"dns:///127.0.0.1:50051":  true,
		"10.0.0.1:50051":          false,
		"gateway.example.com:443": false,
		"dns:///example.com:443":  false,
		"localhost.example.com:1": false,
	} {
		if got := isLocal(addr); got != want {
			t.Errorf("isLocal(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestClientCallArguments(t *testing.T) {
	params, err := callArguments(`{"a": 1}`, []string{"b=2.5", "s=Ada", "q=\"7\"", "e=", "n=null", "xs=[1,2]", "eq=a=b"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "1", "b": "2.5", "s": `"Ada"`, "q": `"7"`, "e": `""`, "n": "null", "xs": "[1,2]", "eq": `"a=b"`}
	if len(params) != len(want) {
		t.Fatalf("got %d arguments, want %d", len(params), len(want))
	}
	for k, w := range want {
		var b bytes.Buffer
		if err := writePayload(&b, params[k]); err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(b.String()); got != w {
			t.Errorf("%s = %s, want %s", k, got, w)
		}
	}
	for _, bad := range [][]string{{"=1"}, {"a"}, {"a=1", "a=2"}} {
		if _, err := callArguments("", bad); err == nil {
			t.Errorf("callArguments(%q) succeeded", bad)
		}
	}
	if _, err := callArguments("[1]", nil); err == nil {
		t.Error("--args that is not an object was accepted")
	}
}
