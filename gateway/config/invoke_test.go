package config_test

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/altar-gateway/altar/gateway/config"
	"github.com/altar-gateway/altar/gateway/invoke"
)

func TestLoadPolicies(t *testing.T) {
	path := writeFile(t, `
contracts:
  default_runtimes:
    echo: rt-b
    fs.read_file: files-1
invoke:
  limits:
    per_tool: {concurrency: 8, queue: 16}
    per_runtime: {concurrency: 32}
    tools:
      render: {concurrency: 2, queue: 10}
      ping: {concurrency: 0}
    runtimes:
      gpu-1: {concurrency: 4, queue: 4}
  retry:
    max_attempts: 5
    base_backoff: 10ms
    max_backoff: 1s
    jitter: 0.5
  breaker:
    consecutive_failures: 3
    open_timeout: 1m
    half_open_requests: 2
    interval: 10m
`)
	f, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := f.Config()
	if want := map[string]string{"echo": "rt-b", "fs.read_file": "files-1"}; !reflect.DeepEqual(c.Contracts.DefaultRuntimes, want) {
		t.Errorf("default runtimes = %v, want %v", c.Contracts.DefaultRuntimes, want)
	}
	wantLimits := invoke.Limits{
		Tool:     invoke.Limit{Concurrency: 8, Queue: 16},
		Tools:    map[string]invoke.Limit{"render": {Concurrency: 2, Queue: 10}, "ping": {}},
		Runtime:  invoke.Limit{Concurrency: 32},
		Runtimes: map[string]invoke.Limit{"gpu-1": {Concurrency: 4, Queue: 4}},
	}
	if !reflect.DeepEqual(c.Invoke.Limits, wantLimits) {
		t.Errorf("limits = %+v, want %+v", c.Invoke.Limits, wantLimits)
	}
	if want := (invoke.RetryPolicy{MaxAttempts: 5, BaseBackoff: 10 * time.Millisecond, MaxBackoff: time.Second, Jitter: 0.5}); c.Invoke.Retry != want {
		t.Errorf("retry = %+v, want %+v", c.Invoke.Retry, want)
	}
	if want := (invoke.BreakerSettings{ConsecutiveFailures: 3, OpenTimeout: time.Minute, HalfOpenRequests: 2, Interval: 10 * time.Minute}); c.Invoke.Breaker != want {
		t.Errorf("breaker = %+v, want %+v", c.Invoke.Breaker, want)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	// What the file holds is not shared with the Config.
	c.Contracts.DefaultRuntimes["echo"] = "changed"
	if f.Contracts.DefaultRuntimes["echo"] != "rt-b" {
		t.Error("Config shares the file's default_runtimes")
	}
}

// A jitter of 0 in the file is no jitter (the engine reads 0 as its
// default, so Config says -1).
func TestZeroJitterIsNone(t *testing.T) {
	f, err := config.Load(writeFile(t, "invoke:\n  retry:\n    jitter: 0\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if j := f.Config().Invoke.Retry.Jitter; j >= 0 {
		t.Errorf("jitter 0 maps to %v, want a negative jitter (none)", j)
	}
	f, err = config.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if j := f.Config().Invoke.Retry.Jitter; j != invoke.DefaultRetryPolicy().Jitter {
		t.Errorf("default jitter %v, want the engine's %v", j, invoke.DefaultRetryPolicy().Jitter)
	}
}

func TestPoliciesFromEnvironment(t *testing.T) {
	path := writeFile(t, "contracts:\n  default_runtimes: {echo: from-file}\n")
	f, err := config.Load(path, []string{
		"ALTAR_CONTRACTS_DEFAULT_RUNTIMES=echo=rt-b, add = calc",
		"ALTAR_INVOKE_LIMITS_PER_TOOL_CONCURRENCY=1",
		"ALTAR_INVOKE_LIMITS_PER_TOOL_QUEUE=0",
		"ALTAR_INVOKE_LIMITS_PER_RUNTIME_CONCURRENCY=10",
		"ALTAR_INVOKE_LIMITS_PER_RUNTIME_QUEUE=20",
		"ALTAR_INVOKE_RETRY_MAX_ATTEMPTS=1",
		"ALTAR_INVOKE_RETRY_BASE_BACKOFF=5ms",
		"ALTAR_INVOKE_RETRY_MAX_BACKOFF=50ms",
		"ALTAR_INVOKE_RETRY_JITTER=1",
		"ALTAR_INVOKE_BREAKER_CONSECUTIVE_FAILURES=2",
		"ALTAR_INVOKE_BREAKER_OPEN_TIMEOUT=5s",
		"ALTAR_INVOKE_BREAKER_HALF_OPEN_REQUESTS=3",
		"ALTAR_INVOKE_BREAKER_INTERVAL=1m",
	})
	if err != nil {
		t.Fatal(err)
	}
	c := f.Config()
	if want := map[string]string{"echo": "rt-b", "add": "calc"}; !reflect.DeepEqual(c.Contracts.DefaultRuntimes, want) {
		t.Errorf("default runtimes = %v, want %v (the variable replaces the file's mapping)", c.Contracts.DefaultRuntimes, want)
	}
	if want := (invoke.Limits{Tool: invoke.Limit{Concurrency: 1}, Runtime: invoke.Limit{Concurrency: 10, Queue: 20}}); !reflect.DeepEqual(c.Invoke.Limits, want) {
		t.Errorf("limits = %+v, want %+v", c.Invoke.Limits, want)
	}
	if want := (invoke.RetryPolicy{MaxAttempts: 1, BaseBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Jitter: 1}); c.Invoke.Retry != want {
		t.Errorf("retry = %+v, want %+v", c.Invoke.Retry, want)
	}
	if want := (invoke.BreakerSettings{ConsecutiveFailures: 2, OpenTimeout: 5 * time.Second, HalfOpenRequests: 3, Interval: time.Minute}); c.Invoke.Breaker != want {
		t.Errorf("breaker = %+v, want %+v", c.Invoke.Breaker, want)
	}
	// An empty map variable empties the mapping.
	f, err = config.Load(path, []string{"ALTAR_CONTRACTS_DEFAULT_RUNTIMES="})
	if err != nil || len(f.Contracts.DefaultRuntimes) != 0 {
		t.Errorf("emptied default runtimes = %v, %v", f.Contracts.DefaultRuntimes, err)
	}
}

func TestPolicyFileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       []want
	}{
		{"negative concurrency", "invoke:\n  limits:\n    per_tool:\n      concurrency: -1\n",
			[]want{{"invoke.limits.per_tool.concurrency", 4, "-1 must be 0 (no limit) or more"}}},
		{"negative queue of a named tool", "invoke:\n  limits:\n    tools:\n      render: {concurrency: 1, queue: -2}\n",
			[]want{{"invoke.limits.tools.render.queue", 4, "-2 must be 0 (no queue) or more"}}},
		{"a queue with no concurrency", "invoke:\n  limits:\n    per_runtime:\n      queue: 5\n",
			[]want{{"invoke.limits.per_runtime.queue", 4, "needs invoke.limits.per_runtime.concurrency"}}},
		{"a named tool's queue with no concurrency", "invoke:\n  limits:\n    tools:\n      render:\n        queue: 5\n",
			[]want{{"invoke.limits.tools.render.queue", 5, "needs invoke.limits.tools.render.concurrency"}}},
		{"unknown key in a named limit", "invoke:\n  limits:\n    runtimes:\n      gpu-1: {concurrency: 1, burst: 2}\n",
			[]want{{"invoke.limits.runtimes.gpu-1.burst", 4, `unknown key "burst"; the keys in invoke.limits.runtimes.gpu-1 are concurrency, queue`}}},
		{"named limits as a list", "invoke:\n  limits:\n    tools: [render]\n",
			[]want{{"invoke.limits.tools", 3, "want a mapping of names to mappings of concurrency, queue, got a list"}}},
		{"bad tool name", "invoke:\n  limits:\n    tools:\n      \"9lives\": {concurrency: 1}\n",
			[]want{{"invoke.limits.tools.9lives", 4, "not a tool name"}}},
		{"bad runtime id", "invoke:\n  limits:\n    runtimes:\n      \"-x\": {concurrency: 1}\n",
			[]want{{"invoke.limits.runtimes.-x", 4, "is not a runtime id"}}},
		{"no attempt", "invoke:\n  retry:\n    max_attempts: 0\n", []want{{"invoke.retry.max_attempts", 3, "at least 1"}}},
		{"zero backoff", "invoke:\n  retry:\n    base_backoff: 0s\n", []want{{"invoke.retry.base_backoff", 3, "longer than zero"}}},
		{"max backoff shorter than base", "invoke:\n  retry:\n    base_backoff: 3s\n    max_backoff: 1s\n",
			[]want{{"invoke.retry.max_backoff", 4, "shorter than invoke.retry.base_backoff 3s"}}},
		{"max backoff shorter than the default base", "invoke:\n  retry:\n    max_backoff: 1ms\n",
			[]want{{"invoke.retry.max_backoff", 3, "shorter than invoke.retry.base_backoff 50ms"}}},
		{"jitter as a percentage", "invoke:\n  retry:\n    jitter: 20\n", []want{{"invoke.retry.jitter", 3, "20 must be from 0 (no jitter) to 1"}}},
		{"jitter as a string", "invoke:\n  retry:\n    jitter: lots\n", []want{{"invoke.retry.jitter", 3, "want a number, got a string"}}},
		{"jitter infinite", "invoke:\n  retry:\n    jitter: .inf\n", []want{{"invoke.retry.jitter", 3, "finite"}}},
		{"no failure opens the breaker", "invoke:\n  breaker:\n    consecutive_failures: 0\n",
			[]want{{"invoke.breaker.consecutive_failures", 3, "must be from 1 to 4294967295"}}},
		{"negative breaker interval", "invoke:\n  breaker:\n    interval: -1m\n", []want{{"invoke.breaker.interval", 3, "must not be negative"}}},
		{"zero open timeout", "invoke:\n  breaker:\n    open_timeout: 0s\n", []want{{"invoke.breaker.open_timeout", 3, "longer than zero"}}},
		{"default runtimes as a list", "contracts:\n  default_runtimes: [echo]\n",
			[]want{{"contracts.default_runtimes", 2, "want a mapping of names to strings, got a list"}}},
		{"default runtime not a string", "contracts:\n  default_runtimes:\n    echo: [a, b]\n",
			[]want{{"contracts.default_runtimes.echo", 3, "want a string, got a list"}}},
		{"default runtime for a bad tool name", "contracts:\n  default_runtimes:\n    \"bad name\": rt-a\n",
			[]want{{"contracts.default_runtimes.bad name", 3, "not a tool name"}}},
		{"default runtime with a bad id", "contracts:\n  default_runtimes:\n    echo: rt/a\n",
			[]want{{"contracts.default_runtimes.echo", 3, `"rt/a" is not a runtime id`}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Load(writeFile(t, tc.text), nil)
			checkFields(t, err, tc.want)
		})
	}
}

func TestPolicyEnvErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
		want []want
	}{
		{"map item without =", []string{"ALTAR_CONTRACTS_DEFAULT_RUNTIMES=echo=rt-a,add"},
			[]want{{"contracts.default_runtimes", 0, `from ALTAR_CONTRACTS_DEFAULT_RUNTIMES: item 2: want name=value, got "add"`}}},
		{"map name given twice", []string{"ALTAR_CONTRACTS_DEFAULT_RUNTIMES=echo=a,echo=b"},
			[]want{{"contracts.default_runtimes.echo", 0, `"echo" is given twice`}}},
		{"map with a bad runtime id", []string{"ALTAR_CONTRACTS_DEFAULT_RUNTIMES=echo=rt a"},
			[]want{{"contracts.default_runtimes.echo", 0, `from ALTAR_CONTRACTS_DEFAULT_RUNTIMES: "rt a" is not a runtime id`}}},
		{"jitter not a number", []string{"ALTAR_INVOKE_RETRY_JITTER=20%"},
			[]want{{"invoke.retry.jitter", 0, `from ALTAR_INVOKE_RETRY_JITTER: "20%" is not a number`}}},
		{"jitter NaN", []string{"ALTAR_INVOKE_RETRY_JITTER=NaN"},
			[]want{{"invoke.retry.jitter", 0, `"NaN" is not a number`}}},
		{"queue with no concurrency", []string{"ALTAR_INVOKE_LIMITS_PER_TOOL_QUEUE=3"},
			[]want{{"invoke.limits.per_tool.queue", 0, "from ALTAR_INVOKE_LIMITS_PER_TOOL_QUEUE: a queue of 3 needs invoke.limits.per_tool.concurrency"}}},
		{"breaker count too large", []string{"ALTAR_INVOKE_BREAKER_HALF_OPEN_REQUESTS=5000000000"},
			[]want{{"invoke.breaker.half_open_requests", 0, "from ALTAR_INVOKE_BREAKER_HALF_OPEN_REQUESTS: 5000000000 must be from 1 to 4294967295"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Load("", tc.env)
			checkFields(t, err, tc.want)
		})
	}
}

// The full file in docs/configuration.md loads as it is.
func TestDocumentedFullFileLoads(t *testing.T) {
	data, err := os.ReadFile(configurationDoc)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(data), "## A full file\n\n```yaml\n")
	block, _, closed := strings.Cut(rest, "```")
	if !ok || !closed {
		t.Fatalf("%s has no \"A full file\" YAML block", configurationDoc)
	}
	f, err := config.Load(writeFile(t, block), nil)
	if err != nil {
		t.Fatalf("the documented full file does not load: %v", err)
	}
	if f.Invoke.Retry.Jitter != 0.2 || f.Invoke.Breaker.ConsecutiveFailures != 5 {
		t.Errorf("loaded %+v", f.Invoke)
	}
}
