package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/altar-gateway/altar/gateway"
	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/auth"
	"github.com/altar-gateway/altar/gateway/config"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

var hashA = auth.HashKey("secret-a")

func writeFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "altar.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func configError(t *testing.T, err error) *altarerr.Error {
	t.Helper()
	var e *altarerr.Error
	if !errors.As(err, &e) {
		t.Fatalf("want an *altarerr.Error, got %T %v", err, err)
	}
	if e.Code != altarv1.ErrorCode_ERROR_CODE_INVALID_CONFIG {
		t.Fatalf("code %v, want INVALID_CONFIG", e.Code)
	}
	return e
}

func TestDefaultsMatchGateway(t *testing.T) {
	f, err := config.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, want := f.Config(), gateway.DefaultConfig()
	if got.HostID != want.HostID || got.Mode != want.Mode || got.GRPCAddr != want.GRPCAddr ||
		got.Sessions != want.Sessions || got.Runtimes != want.Runtimes ||
		got.Invoke.DefaultTimeout != want.Invoke.DefaultTimeout || got.Invoke.MaxTimeout != want.Invoke.MaxTimeout ||
		got.Invoke.IdempotencyWindow != want.Invoke.IdempotencyWindow || len(got.Keys) != 0 ||
		!reflect.DeepEqual(got.Invoke.Limits, want.Invoke.Limits) || got.Invoke.Retry != want.Invoke.Retry ||
		got.Invoke.Breaker != want.Invoke.Breaker || len(got.Contracts.DefaultRuntimes) != 0 {
		t.Errorf("Load with nothing = %+v, want gateway.DefaultConfig %+v", got, want)
	}
	if f.HTTP.Addr != config.DefaultHTTPAddr || f.Log.Level != "info" || f.Log.Format != "text" {
		t.Errorf("http/log defaults: %+v %+v", f.HTTP, f.Log)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("the defaults do not validate: %v", err)
	}
}

func TestLoadFile(t *testing.T) {
	path := writeFile(t, `# a full file
host_id: edge-1
mode: development
manifests: [manifests, extra/tools.yaml]
grpc:
  addr: 127.0.0.1:0
http:
  addr: 127.0.0.1:0
keys:
  - id: admin-1
    role: admin
    hash: `+hashA+`
sessions:
  default_ttl: 10m
  max_ttl: 2h
  max_sessions: 50
  sweep_interval: 5s
runtimes: {heartbeat_interval: 2s, heartbeat_timeout: 7s}
invoke:
  default_timeout: 3s
  max_timeout: 1m
  idempotency_window: 90s
log:
  level: debug
  format: json
`)
	f, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := f.Config()
	if c.HostID != "edge-1" || c.Mode != altarv1.HostMode_HOST_MODE_DEVELOPMENT || len(c.ManifestPaths) != 2 ||
		c.GRPCAddr != "127.0.0.1:0" || c.HTTPAddr != "127.0.0.1:0" ||
		len(c.Keys) != 1 || c.Keys[0] != (auth.Key{ID: "admin-1", Role: auth.RoleAdmin, Hash: hashA}) ||
		c.Sessions.DefaultTTL != 10*time.Minute || c.Sessions.MaxTTL != 2*time.Hour || c.Sessions.MaxSessions != 50 ||
		c.Sessions.SweepInterval != 5*time.Second || c.Runtimes.HeartbeatInterval != 2*time.Second ||
		c.Runtimes.HeartbeatTimeout != 7*time.Second || c.Invoke.DefaultTimeout != 3*time.Second ||
		c.Invoke.MaxTimeout != time.Minute || c.Invoke.IdempotencyWindow != 90*time.Second ||
		f.Log.Level != "debug" || f.Log.Format != "json" {
		t.Errorf("loaded %+v\nconfig %+v", f, c)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
}

func TestEmptyFileKeepsDefaults(t *testing.T) {
	f, err := config.Load(writeFile(t, "# nothing yet\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.GRPC.Addr != "127.0.0.1:50051" {
		t.Errorf("grpc.addr = %q", f.GRPC.Addr)
	}
}

// want is one field error: its path, its line in the file (0 when it did
// not come from the file) and a piece of its message.
type want struct {
	path string
	line uint32
	text string
}

func checkFields(t *testing.T, err error, wants []want) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", wants)
	}
	e := configError(t, err)
	if len(e.Fields) != len(wants) {
		for _, f := range e.Fields {
			t.Log(altarerr.FormatField(f))
		}
		t.Fatalf("%d field errors, want %d", len(e.Fields), len(wants))
	}
	for i, w := range wants {
		f := e.Fields[i]
		if f.GetPath() != w.path || f.GetLine() != w.line || !strings.Contains(f.GetMessage(), w.text) {
			t.Errorf("field %d = %s, want path %q line %d containing %q", i, altarerr.FormatField(f), w.path, w.line, w.text)
		}
		if w.line > 0 && f.GetFile() == "" {
			t.Errorf("field %d has no file", i)
		}
	}
}

func TestFileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       []want
	}{
		{"unknown top-level key", "host_id: a\ngrcp:\n  addr: x\n", []want{{"grcp", 2, `unknown key "grcp"`}}},
		{"unknown nested key", "sessions:\n  max_ttl: 1h\n  maxttl: 2h\n", []want{{"sessions.maxttl", 3, "the keys in sessions are default_ttl"}}},
		{"unknown key in a list item", "keys:\n  - id: a\n    role: admin\n    hash: " + hashA + "\n    secret: x\n", []want{{"keys[0].secret", 5, "unknown key"}}},
		{"key given twice", "mode: strict\nmode: development\n", []want{{"", 2, "already defined"}}},
		{"bad duration", "invoke:\n  max_timeout: 5 minutes\n", []want{{"invoke.max_timeout", 2, `"5 minutes" is not a duration`}}},
		{"duration as a number", "sessions:\n  max_ttl: 30\n", []want{{"sessions.max_ttl", 2, "want a duration string"}}},
		{"negative duration", "sessions:\n  sweep_interval: -1s\n", []want{{"sessions.sweep_interval", 2, "longer than zero"}}},
		{"unknown mode", "mode: relaxed\n", []want{{"mode", 1, `"relaxed" must be one of strict, development`}}},
		{"negative count", "sessions:\n  max_sessions: -5\n", []want{{"sessions.max_sessions", 2, "at least 1"}}},
		{"count as a string", "sessions:\n  max_sessions: many\n", []want{{"sessions.max_sessions", 2, "want a whole number, got a string"}}},
		{"negative heap floor", "gc_heap_floor_mb: -1\n", []want{{"gc_heap_floor_mb", 1, "from 0 (Go's default)"}}},
		{"mapping wanted", "grpc: 127.0.0.1:1\n", []want{{"grpc", 1, "want a mapping of addr"}}},
		{"list wanted", "manifests: manifests\n", []want{{"manifests", 1, "want a list, got a string"}}},
		{"string wanted", "host_id: [a, b]\n", []want{{"host_id", 1, "want a string, got a list"}}},
		{"number for a string", "host_id: 42\n", []want{{"host_id", 1, `quote it: "42"`}}},
		{"null value", "log:\n  level:\n", []want{{"log.level", 2, "got nothing"}}},
		{"bad address", "grpc:\n  addr: localhost\n", []want{{"grpc.addr", 2, "not host:port"}}},
		{"bad log format", "log:\n  format: xml\n", []want{{"log.format", 2, "text, json"}}},
		{"raw key instead of hash", "keys:\n  - {id: a, role: admin, hash: hunter2}\n", []want{{"keys[0].hash", 2, "64 hex characters"}}},
		{"bad role and duplicate id", "keys:\n  - {id: a, role: admin, hash: " + hashA + "}\n  - {id: a, role: root, hash: " + hashA + "}\n",
			[]want{{"keys[1].id", 3, "also the id of keys[0]"}, {"keys[1].role", 3, `"root" must be one of client, runtime, admin`}}},
		{"default_ttl longer than max_ttl", "sessions:\n  default_ttl: 48h\n", []want{{"sessions.default_ttl", 2, "longer than sessions.max_ttl"}}},
		{"heartbeat timeout within the interval", "runtimes:\n  heartbeat_interval: 1m\n  heartbeat_timeout: 30s\n",
			[]want{{"runtimes.heartbeat_timeout", 3, "longer than runtimes.heartbeat_interval"}}},
		{"not loopback without keys", "grpc:\n  addr: 0.0.0.0:50051\n", []want{{"grpc.addr", 2, "loopback only"}}},
		{"not a mapping at all", "- a\n- b\n", []want{{"", 1, "want a mapping of host_id, mode"}}},
		{"syntax", "grpc:\n  addr: [unclosed\n", []want{{"", 2, ""}}},
		{"two documents", "mode: strict\n---\nmode: development\n", []want{{"", 3, "one YAML document"}}},
		{"every problem at once", "mode: fast\nsessions:\n  max_ttl: forever\n  max_sessions: 0\nextra: 1\n",
			[]want{{"sessions.max_ttl", 3, "not a duration"}, {"extra", 5, "unknown key"}, {"mode", 1, "strict, development"}, {"sessions.max_sessions", 4, "at least 1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, tc.text)
			_, err := config.Load(path, nil)
			checkFields(t, err, tc.want)
			if e := configError(t, err); e.Fields[0].GetLine() > 0 && e.Fields[0].GetFile() != path {
				t.Errorf("file = %q, want %q", e.Fields[0].GetFile(), path)
			}
		})
	}
}

func TestMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := config.Load(path, nil)
	checkFields(t, err, []want{{"", 0, "no such file"}})
	if e := configError(t, err); e.Fields[0].GetFile() != path {
		t.Errorf("file = %q", e.Fields[0].GetFile())
	}
}

func TestEnvErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
		want []want
	}{
		{"unknown variable", []string{"ALTAR_GRPC_ADDRESS=x"}, []want{{"", 0, "ALTAR_GRPC_ADDRESS matches no configuration key; did you mean ALTAR_GRPC_ADDR?"}}},
		{"unknown variable, nothing near", []string{"ALTAR_FROBNICATE=1"}, []want{{"", 0, "ALTAR_FROBNICATE matches no configuration key ("}}},
		{"bad duration", []string{"ALTAR_SESSIONS_MAX_TTL=1 day"}, []want{{"sessions.max_ttl", 0, `from ALTAR_SESSIONS_MAX_TTL: "1 day" is not a duration`}}},
		{"bad count", []string{"ALTAR_SESSIONS_MAX_SESSIONS=lots"}, []want{{"sessions.max_sessions", 0, "from ALTAR_SESSIONS_MAX_SESSIONS: \"lots\" is not a whole number"}}},
		{"negative count", []string{"ALTAR_SESSIONS_MAX_SESSIONS=-1"}, []want{{"sessions.max_sessions", 0, "from ALTAR_SESSIONS_MAX_SESSIONS: -1 must be at least 1"}}},
		{"unknown mode", []string{"ALTAR_MODE=STRICT"}, []want{{"mode", 0, "from ALTAR_MODE: \"STRICT\" must be one of"}}},
		{"keys with two parts", []string{"ALTAR_KEYS=a:admin"}, []want{{"keys[0]", 0, "from ALTAR_KEYS: want id:role:hash"}}},
		{"keys with a bad role", []string{"ALTAR_KEYS=a:god:" + hashA}, []want{{"keys[0].role", 0, "from ALTAR_KEYS: \"god\""}}},
		{"empty host id", []string{"ALTAR_HOST_ID="}, []want{{"host_id", 0, "from ALTAR_HOST_ID: must not be empty"}}},
		{"not loopback without keys", []string{"ALTAR_HTTP_ADDR=0.0.0.0:8080"}, []want{{"http.addr", 0, "from ALTAR_HTTP_ADDR: with no API keys"}}},
		{"default timeout over the max", []string{"ALTAR_INVOKE_DEFAULT_TIMEOUT=10m"}, []want{{"invoke.default_timeout", 0, "from ALTAR_INVOKE_DEFAULT_TIMEOUT: must not exceed invoke.max_timeout"}}},
		{"empty http address", []string{"ALTAR_HTTP_ADDR="}, []want{{"http.addr", 0, "from ALTAR_HTTP_ADDR: \"\" is not host:port"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Variables that are not keys are left alone.
			other := []string{"HOME=/x", "ALTARX=1", "ALTAR_ADDR=127.0.0.1:50051", "ALTAR_API_KEY=secret"}
			_, err := config.Load("", append(other, tc.env...))
			checkFields(t, err, tc.want)
		})
	}
}

func TestPrecedence(t *testing.T) {
	path := writeFile(t, "grpc:\n  addr: 127.0.0.1:1001\nhttp:\n  addr: 127.0.0.1:2001\nhost_id: from-file\nsessions:\n  max_ttl: 2h\n")
	env := []string{"ALTAR_GRPC_ADDR=127.0.0.1:1002", "ALTAR_HOST_ID=from-env", "ALTAR_MANIFESTS=a, b,c"}
	f, err := config.Load(path, env, config.Setting{Path: "grpc.addr", Value: "127.0.0.1:1003", Source: "--grpc-addr"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ key, got, want string }{
		{"invoke.max_timeout (default)", f.Invoke.MaxTimeout.String(), "5m0s"},
		{"sessions.max_ttl (file)", f.Sessions.MaxTTL.String(), "2h0m0s"},
		{"http.addr (file)", f.HTTP.Addr, "127.0.0.1:2001"},
		{"host_id (env over file)", f.HostID, "from-env"},
		{"manifests (env)", strings.Join(f.Manifests, "|"), "a|b|c"},
		{"grpc.addr (flag over env over file)", f.GRPC.Addr, "127.0.0.1:1003"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.key, c.got, c.want)
		}
	}
}

func TestConfigFromEnvironment(t *testing.T) {
	path := writeFile(t, "host_id: via-ALTAR_CONFIG\n")
	f, err := config.Load("", []string{"ALTAR_CONFIG=" + path, "ALTAR_KEYS=a:admin:" + hashA + ",b:client:" + strings.ToUpper(hashA)})
	if err != nil {
		t.Fatal(err)
	}
	if f.HostID != "via-ALTAR_CONFIG" {
		t.Errorf("host_id = %q", f.HostID)
	}
	keys := f.Config().Keys
	if len(keys) != 2 || keys[1] != (auth.Key{ID: "b", Role: auth.RoleClient, Hash: hashA}) {
		t.Errorf("keys = %+v", keys)
	}
	if err := f.Config().Validate(); err != nil {
		t.Error(err)
	}
}

func TestHTTPOff(t *testing.T) {
	f, err := config.Load("", []string{"ALTAR_HTTP_ADDR=off"})
	if err != nil {
		t.Fatal(err)
	}
	if c := f.Config(); c.HTTPAddr != config.HTTPOff {
		t.Errorf("HTTPAddr = %q", c.HTTPAddr)
	} else if err := c.Validate(); err != nil {
		t.Error(err)
	}
}

func TestNotKeys(t *testing.T) {
	if got := strings.Join(config.NotKeys(), " "); got != "ALTAR_CONFIG ALTAR_ADDR ALTAR_API_KEY" {
		t.Errorf("NotKeys = %s", got)
	}
}

func TestSettingErrors(t *testing.T) {
	_, err := config.Load("", nil,
		config.Setting{Path: "log.level", Value: "loud", Source: "--log-level"},
		config.Setting{Path: "no.such", Value: "x", Source: "--nope"})
	checkFields(t, err, []want{{"no.such", 0, "from --nope: no such configuration key"}, {"log.level", 0, "from --log-level: \"loud\""}})
}

// TestVariables lists every key and its variable: a new key shows up here.
func TestVariables(t *testing.T) {
	want := []string{
		"host_id ALTAR_HOST_ID string",
		"mode ALTAR_MODE string",
		"manifests ALTAR_MANIFESTS list",
		"contracts.default_runtimes ALTAR_CONTRACTS_DEFAULT_RUNTIMES map",
		"grpc.addr ALTAR_GRPC_ADDR string",
		"http.addr ALTAR_HTTP_ADDR string",
		"http.runtime_origins ALTAR_HTTP_RUNTIME_ORIGINS list",
		"keys ALTAR_KEYS keys",
		"sessions.default_ttl ALTAR_SESSIONS_DEFAULT_TTL duration",
		"sessions.max_ttl ALTAR_SESSIONS_MAX_TTL duration",
		"sessions.max_sessions ALTAR_SESSIONS_MAX_SESSIONS int",
		"sessions.sweep_interval ALTAR_SESSIONS_SWEEP_INTERVAL duration",
		"runtimes.heartbeat_interval ALTAR_RUNTIMES_HEARTBEAT_INTERVAL duration",
		"runtimes.heartbeat_timeout ALTAR_RUNTIMES_HEARTBEAT_TIMEOUT duration",
		"invoke.default_timeout ALTAR_INVOKE_DEFAULT_TIMEOUT duration",
		"invoke.max_timeout ALTAR_INVOKE_MAX_TIMEOUT duration",
		"invoke.idempotency_window ALTAR_INVOKE_IDEMPOTENCY_WINDOW duration",
		"invoke.limits.per_tool.concurrency ALTAR_INVOKE_LIMITS_PER_TOOL_CONCURRENCY int",
		"invoke.limits.per_tool.queue ALTAR_INVOKE_LIMITS_PER_TOOL_QUEUE int",
		"invoke.limits.per_runtime.concurrency ALTAR_INVOKE_LIMITS_PER_RUNTIME_CONCURRENCY int",
		"invoke.limits.per_runtime.queue ALTAR_INVOKE_LIMITS_PER_RUNTIME_QUEUE int",
		"invoke.retry.max_attempts ALTAR_INVOKE_RETRY_MAX_ATTEMPTS int",
		"invoke.retry.base_backoff ALTAR_INVOKE_RETRY_BASE_BACKOFF duration",
		"invoke.retry.max_backoff ALTAR_INVOKE_RETRY_MAX_BACKOFF duration",
		"invoke.retry.jitter ALTAR_INVOKE_RETRY_JITTER float",
		"invoke.breaker.consecutive_failures ALTAR_INVOKE_BREAKER_CONSECUTIVE_FAILURES int",
		"invoke.breaker.open_timeout ALTAR_INVOKE_BREAKER_OPEN_TIMEOUT duration",
		"invoke.breaker.half_open_requests ALTAR_INVOKE_BREAKER_HALF_OPEN_REQUESTS int",
		"invoke.breaker.interval ALTAR_INVOKE_BREAKER_INTERVAL duration",
		"log.level ALTAR_LOG_LEVEL string",
		"log.format ALTAR_LOG_FORMAT string",
		"gc_heap_floor_mb ALTAR_GC_HEAP_FLOOR_MB int",
		"mcp_lock ALTAR_MCP_LOCK string",
	}
	var got []string
	for _, v := range config.Variables() {
		got = append(got, v.Path+" "+v.Name+" "+v.Kind)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("variables:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Every variable is accepted by Load.
	var env []string
	for _, v := range config.Variables() {
		value := map[string]string{"string": "x", "int": "3", "float": "0.5", "duration": "1s", "list": "a", "map": "a=b", "keys": "a:admin:" + hashA}[v.Kind]
		switch v.Path {
		case "mode":
			value = "development"
		case "grpc.addr", "http.addr":
			value = "127.0.0.1:0"
		case "log.level":
			value = "warn"
		case "log.format":
			value = "json"
		case "runtimes.heartbeat_timeout":
			value = "3s"
		}
		env = append(env, v.Name+"="+value)
	}
	if _, err := config.Load("", env); err != nil {
		t.Errorf("every variable set: %v", err)
	}
}

func TestNewLogger(t *testing.T) {
	var b strings.Builder
	config.Log{Level: "warn", Format: "json"}.NewLogger(&b).Info("hidden")
	config.Log{Level: "warn", Format: "json"}.NewLogger(&b).Warn("shown")
	if got := b.String(); strings.Contains(got, "hidden") || !strings.HasPrefix(got, `{"time"`) {
		t.Errorf("log = %q", got)
	}
}
