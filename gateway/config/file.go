package config

import (
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/altar-gateway/altar/gateway"
	"github.com/altar-gateway/altar/gateway/auth"
	"github.com/altar-gateway/altar/gateway/invoke"
	"github.com/altar-gateway/altar/plugins/launch"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// DefaultPath is the file `altar serve` reads when it is given no path and
// the file exists in the working directory.
const DefaultPath = "altar.yaml"

// DefaultHTTPAddr is where the HTTP API listens by default. (For a library
// user gateway.DefaultConfig leaves HTTP off; `altar serve` turns it on.)
const DefaultHTTPAddr = gateway.DefaultHTTPAddr

// HTTPOff as http.addr serves no HTTP.
const HTTPOff = "off"

// File is altar.yaml. Every leaf key is also the environment variable named
// by its path (see Variables). Adding a field here adds its key and its
// variable; give it a yaml tag and a type the decoder knows (string, int,
// float64, Duration, []string, map[string]string, []Key, or a struct of
// those). A list or a map of structs (plugins, invoke.limits.tools) is set
// in the file only.
type File struct {
	// HostID names this Host to runtimes and in GetHostInfo.
	HostID string `yaml:"host_id"`
	// Mode is "strict" (runtimes may only fulfil trusted contracts) or
	// "development" (runtimes may register their own tools).
	Mode string `yaml:"mode"`
	// Manifests are manifest files and folders loaded at start.
	Manifests []string `yaml:"manifests"`
	// Contracts governs how tool names resolve.
	Contracts Contracts `yaml:"contracts"`
	// GRPC is the gRPC server (Host API, runtime service, health).
	GRPC Listener `yaml:"grpc"`
	// HTTP is the HTTP/JSON API; its addr "off" serves none.
	HTTP HTTP `yaml:"http"`
	// Keys are the API keys callers present, stored as hashes.
	Keys     []Key    `yaml:"keys"`
	Sessions Sessions `yaml:"sessions"`
	Runtimes Runtimes `yaml:"runtimes"`
	Invoke   Invoke   `yaml:"invoke"`
	Log      Log      `yaml:"log"`
	// GCHeapFloorMB keeps the garbage collector from starting a collection
	// before the heap holds this many MiB (internal/gcfloor); 0 leaves Go's
	// default. A GOGC variable, when set, wins.
	GCHeapFloorMB int `yaml:"gc_heap_floor_mb"`
	// Plugins are runtimes the Host launches as go-plugin subprocesses
	// and supervises (plugins/launch). File only: no ALTAR_* variable.
	Plugins []Plugin `yaml:"plugins,omitempty"`
	// MCPServers are MCP servers bridged into ALTAR (bridges/mcp; see
	// docs/mcp.md). File only: no ALTAR_* variable.
	MCPServers []MCPServer `yaml:"mcp_servers,omitempty"`
	// MCPLock is the lock file of pinned MCP tool definitions; "" is
	// altar-mcp.lock.json beside the configuration file (MCPLockPath).
	MCPLock string `yaml:"mcp_lock"`
}

// Listener is one server's address.
type Listener struct {
	// Addr is host:port; port 0 picks a free port.
	Addr string `yaml:"addr"`
}

// HTTP is the HTTP/JSON API's server.
type HTTP struct {
	// Addr is host:port; port 0 picks a free port; "off" serves no HTTP.
	Addr string `yaml:"addr"`
	// RuntimeOrigins are the browser origins (host patterns such as
	// "app.example.com" or "*.example.com") whose pages may connect
	// runtimes over WebSocket; none means same-origin only.
	RuntimeOrigins []string `yaml:"runtime_origins"`
}

// Key is one API key: its name, its role and the hex SHA-256 of its secret
// (auth.HashKey; `altar keys hash` prints it). The secret itself is never
// configured.
type Key struct {
	ID   string `yaml:"id"`
	Role string `yaml:"role"`
	Hash string `yaml:"hash"`
}

// Sessions bounds sessions.
type Sessions struct {
	DefaultTTL    Duration `yaml:"default_ttl"`
	MaxTTL        Duration `yaml:"max_ttl"`
	MaxSessions   int      `yaml:"max_sessions"`
	SweepInterval Duration `yaml:"sweep_interval"`
}

// Runtimes governs connected runtimes.
type Runtimes struct {
	HeartbeatInterval Duration `yaml:"heartbeat_interval"`
	HeartbeatTimeout  Duration `yaml:"heartbeat_timeout"`
}

// Contracts governs how tool names resolve.
type Contracts struct {
	// DefaultRuntimes maps a tool's bare name to the runtime id preferred
	// for it when several runtimes serve it.
	DefaultRuntimes map[string]string `yaml:"default_runtimes"`
}

// Invoke governs calls.
type Invoke struct {
	DefaultTimeout    Duration `yaml:"default_timeout"`
	MaxTimeout        Duration `yaml:"max_timeout"`
	IdempotencyWindow Duration `yaml:"idempotency_window"`
	Limits            Limits   `yaml:"limits"`
	Retry             Retry    `yaml:"retry"`
	Breaker           Breaker  `yaml:"breaker"`
}

// Limits bound concurrent calls (invoke.Limits).
type Limits struct {
	// PerTool applies to each tool, unless Tools names it.
	PerTool Limit `yaml:"per_tool"`
	// PerRuntime applies to each runtime, unless Runtimes names it; a
	// runtime's announced max_concurrency lowers it.
	PerRuntime Limit `yaml:"per_runtime"`
	// Tools and Runtimes set the limit of one tool (by contract name) or
	// one runtime (by id). File only: no ALTAR_* variable.
	Tools    map[string]Limit `yaml:"tools,omitempty"`
	Runtimes map[string]Limit `yaml:"runtimes,omitempty"`
}

// Limit is a number of concurrent calls and a queue of calls waiting for
// one of them; a call finding the queue full is refused with
// RESOURCE_EXHAUSTED and a retry_after_ms.
type Limit struct {
	// Concurrency is how many calls run at once; 0 is no limit.
	Concurrency int `yaml:"concurrency"`
	// Queue is how many more may wait.
	Queue int `yaml:"queue"`
}

// Retry is how calls to idempotent tools are retried after a retryable
// failure (invoke.RetryPolicy).
type Retry struct {
	// MaxAttempts counts the first attempt: 1 is no retry.
	MaxAttempts int `yaml:"max_attempts"`
	// BaseBackoff is the wait before the second attempt, doubled for each
	// further one up to MaxBackoff.
	BaseBackoff Duration `yaml:"base_backoff"`
	MaxBackoff  Duration `yaml:"max_backoff"`
	// Jitter shortens each wait by a random fraction of up to Jitter, from
	// 0 (none) to 1.
	Jitter float64 `yaml:"jitter"`
}

// Breaker configures the circuit breaker kept for each runtime
// (invoke.BreakerSettings).
type Breaker struct {
	// ConsecutiveFailures of the runtime (not of its tools) open it.
	ConsecutiveFailures int `yaml:"consecutive_failures"`
	// OpenTimeout is how long it stays open before trial calls.
	OpenTimeout Duration `yaml:"open_timeout"`
	// HalfOpenRequests is how many trial calls run at once, and how many
	// successes close it.
	HalfOpenRequests int `yaml:"half_open_requests"`
	// Interval clears the failure counts of a closed breaker this often;
	// 0 keeps counting until a success.
	Interval Duration `yaml:"interval"`
}

// Log is the gateway's own log, written to standard error.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is text or json.
	Format string `yaml:"format"`
}

// Plugin is one runtime the Host launches as a go-plugin subprocess (see
// plugins/launch.Config, which it maps onto). Zero durations and budget
// take the launcher's defaults.
type Plugin struct {
	// Name is the plugin's runtime id (the child gets it in
	// ALTAR_RUNTIME_ID and must announce it).
	Name string `yaml:"name"`
	// Command is the executable: absolute, relative to dir, or looked up
	// in PATH.
	Command string   `yaml:"command"`
	Args    []string `yaml:"args,omitempty"`
	// Env are NAME=value pairs added to the child's environment.
	Env []string `yaml:"env,omitempty"`
	Dir string   `yaml:"dir,omitempty"`
	// SHA256 pins the executable: the hex SHA-256 `altar plugin hash PATH`
	// prints. A file that does not match is not started.
	SHA256       string        `yaml:"sha256,omitempty"`
	StartTimeout Duration      `yaml:"start_timeout,omitempty"`
	Restart      PluginRestart `yaml:"restart,omitempty"`
}

// PluginRestart restarts a plugin that ended with exponential backoff
// (min_backoff doubling up to max_backoff), at most budget times within
// window; beyond that it stays down.
type PluginRestart struct {
	MinBackoff Duration `yaml:"min_backoff,omitempty"`
	MaxBackoff Duration `yaml:"max_backoff,omitempty"`
	Budget     int      `yaml:"budget,omitempty"`
	Window     Duration `yaml:"window,omitempty"`
}

// Launch is the plugin's launcher configuration.
func (p Plugin) Launch() launch.Config {
	return launch.Config{
		Name:         p.Name,
		Command:      p.Command,
		Args:         slices.Clone(p.Args),
		Env:          slices.Clone(p.Env),
		Dir:          p.Dir,
		SHA256:       strings.ToLower(p.SHA256),
		StartTimeout: time.Duration(p.StartTimeout),
		Restart: launch.RestartPolicy{
			MinBackoff: time.Duration(p.Restart.MinBackoff),
			MaxBackoff: time.Duration(p.Restart.MaxBackoff),
			Budget:     p.Restart.Budget,
			Window:     time.Duration(p.Restart.Window),
		},
	}
}

// PluginConfigs are the launcher configurations of every plugin.
func (f *File) PluginConfigs() []launch.Config {
	out := make([]launch.Config, len(f.Plugins))
	for i, p := range f.Plugins {
		out[i] = p.Launch()
	}
	return out
}

// Duration is a time.Duration written as a Go duration string ("30m").
type Duration time.Duration

// String is the Go duration string.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalYAML writes the duration as its string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// Values the enumerated keys take.
var (
	modes      = []string{"strict", "development"}
	logLevels  = []string{"debug", "info", "warn", "error"}
	logFormats = []string{"text", "json"}
	roles      = []string{string(auth.RoleClient), string(auth.RoleRuntime), string(auth.RoleAdmin)}
)

// Default is the configuration with no file and no environment: the values
// of gateway.DefaultConfig.
func Default() *File {
	c := gateway.DefaultConfig()
	mode := "strict"
	if c.Mode == altarv1.HostMode_HOST_MODE_DEVELOPMENT {
		mode = "development"
	}
	retry, breaker := c.Invoke.Retry, c.Invoke.Breaker
	return &File{
		HostID:    c.HostID,
		Mode:      mode,
		Manifests: slices.Clone(c.ManifestPaths),
		GRPC:      Listener{Addr: c.GRPCAddr},
		HTTP:      HTTP{Addr: DefaultHTTPAddr},
		Sessions: Sessions{
			DefaultTTL:    Duration(c.Sessions.DefaultTTL),
			MaxTTL:        Duration(c.Sessions.MaxTTL),
			MaxSessions:   c.Sessions.MaxSessions,
			SweepInterval: Duration(c.Sessions.SweepInterval),
		},
		Runtimes: Runtimes{
			HeartbeatInterval: Duration(c.Runtimes.HeartbeatInterval),
			HeartbeatTimeout:  Duration(c.Runtimes.HeartbeatTimeout),
		},
		Invoke: Invoke{
			DefaultTimeout:    Duration(c.Invoke.DefaultTimeout),
			MaxTimeout:        Duration(c.Invoke.MaxTimeout),
			IdempotencyWindow: Duration(c.Invoke.IdempotencyWindow),
			Limits: Limits{
				PerTool:    Limit(c.Invoke.Limits.Tool),
				PerRuntime: Limit(c.Invoke.Limits.Runtime),
			},
			Retry: Retry{
				MaxAttempts: retry.MaxAttempts,
				BaseBackoff: Duration(retry.BaseBackoff),
				MaxBackoff:  Duration(retry.MaxBackoff),
				Jitter:      max(retry.Jitter, 0),
			},
			Breaker: Breaker{
				ConsecutiveFailures: int(breaker.ConsecutiveFailures),
				OpenTimeout:         Duration(breaker.OpenTimeout),
				HalfOpenRequests:    int(breaker.HalfOpenRequests),
				Interval:            Duration(breaker.Interval),
			},
		},
		Log:           Log{Level: "info", Format: "text"},
		GCHeapFloorMB: DefaultGCHeapFloorMB,
	}
}

// DefaultGCHeapFloorMB is gc_heap_floor_mb's default: a heap this small
// costs little memory, and at a high call rate it saves the Host about a
// fifth of its CPU (docs/performance.md).
const DefaultGCHeapFloorMB = 64

// Config maps the file onto the Host's configuration. The Logger and
// AuditSink are left for the caller; gateway.Config.Validate checks the
// rules between keys.
func (f *File) Config() gateway.Config {
	c := gateway.DefaultConfig()
	c.HostID = f.HostID
	c.Mode = altarv1.HostMode_HOST_MODE_STRICT
	if f.Mode == "development" {
		c.Mode = altarv1.HostMode_HOST_MODE_DEVELOPMENT
	}
	c.ManifestPaths = slices.Clone(f.Manifests)
	c.GRPCAddr = f.GRPC.Addr
	c.HTTPAddr = f.HTTP.Addr // "off" is off for the Host too
	c.HTTP.RuntimeOrigins = slices.Clone(f.HTTP.RuntimeOrigins)
	c.Keys = nil
	for _, k := range f.Keys {
		c.Keys = append(c.Keys, auth.Key{ID: k.ID, Role: auth.Role(k.Role), Hash: strings.ToLower(k.Hash)})
	}
	c.Sessions.DefaultTTL = time.Duration(f.Sessions.DefaultTTL)
	c.Sessions.MaxTTL = time.Duration(f.Sessions.MaxTTL)
	c.Sessions.MaxSessions = f.Sessions.MaxSessions
	c.Sessions.SweepInterval = time.Duration(f.Sessions.SweepInterval)
	c.Runtimes.HeartbeatInterval = time.Duration(f.Runtimes.HeartbeatInterval)
	c.Runtimes.HeartbeatTimeout = time.Duration(f.Runtimes.HeartbeatTimeout)
	c.Invoke.DefaultTimeout = time.Duration(f.Invoke.DefaultTimeout)
	c.Invoke.MaxTimeout = time.Duration(f.Invoke.MaxTimeout)
	c.Invoke.IdempotencyWindow = time.Duration(f.Invoke.IdempotencyWindow)
	c.Contracts.DefaultRuntimes = maps.Clone(f.Contracts.DefaultRuntimes)
	lim := f.Invoke.Limits
	c.Invoke.Limits = invoke.Limits{Tool: invoke.Limit(lim.PerTool), Runtime: invoke.Limit(lim.PerRuntime),
		Tools: limitsByName(lim.Tools), Runtimes: limitsByName(lim.Runtimes)}
	r := f.Invoke.Retry
	c.Invoke.Retry = invoke.RetryPolicy{MaxAttempts: r.MaxAttempts, BaseBackoff: time.Duration(r.BaseBackoff),
		MaxBackoff: time.Duration(r.MaxBackoff), Jitter: r.Jitter}
	if r.Jitter == 0 {
		c.Invoke.Retry.Jitter = -1 // none; 0 would take the engine's default
	}
	b := f.Invoke.Breaker
	c.Invoke.Breaker = invoke.BreakerSettings{ConsecutiveFailures: uint32(b.ConsecutiveFailures), OpenTimeout: time.Duration(b.OpenTimeout),
		HalfOpenRequests: uint32(b.HalfOpenRequests), Interval: time.Duration(b.Interval)}
	return c
}

// limitsByName maps the file's limits onto the engine's (nil for none).
func limitsByName(m map[string]Limit) map[string]invoke.Limit {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]invoke.Limit, len(m))
	for name, l := range m {
		out[name] = invoke.Limit(l)
	}
	return out
}

// NewLogger returns a logger writing to w at the configured level and in
// the configured format. A File from Load has both checked.
func (l Log) NewLogger(w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(l.Level))
	opts := &slog.HandlerOptions{Level: level}
	if l.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
