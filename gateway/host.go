package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/audit"
	"github.com/altar-gateway/altar/gateway/auth"
	"github.com/altar-gateway/altar/gateway/contract"
	"github.com/altar-gateway/altar/gateway/invoke"
	"github.com/altar-gateway/altar/gateway/runtime"
	"github.com/altar-gateway/altar/gateway/server"
	"github.com/altar-gateway/altar/gateway/session"
	mcpfacade "github.com/altar-gateway/altar/integrations/mcp"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Version is the gateway's version, reported by GetHostInfo.
var Version = "dev"

// Config is what a Host is built from. It is plain data; zero fields take
// the defaults of DefaultConfig.
type Config struct {
	// HostID names this Host to runtimes and in GetHostInfo.
	HostID string
	// Mode is the initial host mode (STRICT unless DEVELOPMENT is asked).
	Mode altarv1.HostMode
	// ManifestPaths are manifest files and folders loaded at start.
	ManifestPaths []string
	// GRPCAddr is where the gRPC server (Host API, runtime service, health)
	// listens, such as "127.0.0.1:50051"; ":0" picks a free port.
	GRPCAddr string
	// HTTPAddr is where the HTTP/JSON API (with its SSE and WebSocket
	// streams, /healthz and /readyz) listens, such as "127.0.0.1:8080"; ""
	// or "off" serves no HTTP. Unlike the other fields, the zero value is
	// not replaced by a default: DefaultConfig leaves HTTP off so that a
	// library user (and every test) opts in, and the configuration file
	// (gateway/config) defaults it to DefaultHTTPAddr for `altar serve`.
	HTTPAddr string
	// HTTP bounds the HTTP server.
	HTTP HTTPConfig
	// Keys are the API keys (hashed) that callers must present. With none,
	// every caller may do everything, and the Host refuses to listen on
	// anything but loopback.
	Keys []auth.Key
	// GRPCStreamWorkers is how many goroutines serve gRPC calls; more calls
	// at once each get a goroutine of their own.
	GRPCStreamWorkers int

	Contracts ContractsConfig
	Sessions  SessionConfig
	Runtimes  RuntimeConfig
	Invoke    InvokeConfig
	Logger    *slog.Logger
	AuditSink audit.Sink
}

// DefaultHTTPAddr is where `altar serve` serves HTTP unless told otherwise.
const DefaultHTTPAddr = "127.0.0.1:8080"

// HTTPConfig bounds the HTTP server. Zero fields take the defaults.
type HTTPConfig struct {
	// MaxBodyBytes is the largest request body (413 beyond it).
	MaxBodyBytes int64
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a request's body.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a non-streaming response, counted from
	// when its request was read; it must outlast Invoke.MaxTimeout.
	// Streams (SSE, WebSocket) are not bounded by it.
	WriteTimeout time.Duration
	// IdleTimeout bounds an idle keep-alive connection.
	IdleTimeout time.Duration
	// RuntimeOrigins are the browser origins (host patterns) whose pages
	// may connect runtimes over WebSocket; none means same-origin only.
	RuntimeOrigins []string
}

// ContractsConfig governs how tool names resolve.
type ContractsConfig struct {
	// DefaultRuntimes maps a tool's bare name to the runtime preferred for
	// it when several runtimes serve it: a call by the bare name goes to
	// that runtime unless it is busier than another, unhealthy or behind
	// an open breaker (contract.WithDefaultRuntime).
	DefaultRuntimes map[string]string
}

// SessionConfig bounds sessions.
type SessionConfig struct {
	DefaultTTL    time.Duration
	MaxTTL        time.Duration
	MaxSessions   int
	SweepInterval time.Duration
}

// RuntimeConfig governs connected runtimes.
type RuntimeConfig struct {
	HeartbeatInterval time.Duration
	HeartbeatTimeout  time.Duration
}

// InvokeConfig governs calls.
type InvokeConfig struct {
	DefaultTimeout    time.Duration
	MaxTimeout        time.Duration
	IdempotencyWindow time.Duration
	// Limits bound concurrent calls per tool and per runtime, each with a
	// bounded queue; the zero value is no limit (a runtime's announced
	// max_concurrency still applies).
	Limits invoke.Limits
	// Retry is how calls to idempotent tools are retried; zero fields take
	// invoke.DefaultRetryPolicy's (a negative Jitter is none).
	Retry invoke.RetryPolicy
	// Breaker configures each runtime's circuit breaker; zero fields take
	// invoke.DefaultBreakerSettings'.
	Breaker invoke.BreakerSettings
	// Options are passed to the engine as they are (result cache, clock,
	// ...); they follow the settings above, and so win over them.
	Options []invoke.Option
}

// DefaultConfig is a Host that serves on one machine with no external
// service.
func DefaultConfig() Config {
	return Config{
		HostID:   "altar",
		Mode:     altarv1.HostMode_HOST_MODE_STRICT,
		GRPCAddr: "127.0.0.1:50051",
		// Enough for the usual number of concurrent callers; idle workers
		// cost a goroutine each.
		GRPCStreamWorkers: 128,
		HTTP: HTTPConfig{
			MaxBodyBytes:      server.DefaultHTTPMaxBodyBytes,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       server.DefaultHTTPReadTimeout,
			IdleTimeout:       2 * time.Minute,
		},
		Sessions: SessionConfig{DefaultTTL: 30 * time.Minute, MaxTTL: 24 * time.Hour, MaxSessions: 100_000, SweepInterval: 30 * time.Second},
		Runtimes: RuntimeConfig{HeartbeatInterval: runtime.DefaultHeartbeatInterval, HeartbeatTimeout: runtime.DefaultHeartbeatTimeout},
		Invoke: InvokeConfig{DefaultTimeout: 30 * time.Second, MaxTimeout: 5 * time.Minute, IdempotencyWindow: 10 * time.Minute,
			Retry: invoke.DefaultRetryPolicy(), Breaker: invoke.DefaultBreakerSettings()},
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.HostID == "" {
		c.HostID = d.HostID
	}
	if c.Mode == altarv1.HostMode_HOST_MODE_UNSPECIFIED {
		c.Mode = d.Mode
	}
	if c.GRPCAddr == "" {
		c.GRPCAddr = d.GRPCAddr
	}
	if c.GRPCStreamWorkers <= 0 {
		c.GRPCStreamWorkers = d.GRPCStreamWorkers
	}
	or := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	if c.HTTP.MaxBodyBytes <= 0 {
		c.HTTP.MaxBodyBytes = d.HTTP.MaxBodyBytes
	}
	or(&c.HTTP.ReadHeaderTimeout, d.HTTP.ReadHeaderTimeout)
	or(&c.HTTP.ReadTimeout, d.HTTP.ReadTimeout)
	or(&c.HTTP.IdleTimeout, d.HTTP.IdleTimeout)
	or(&c.Sessions.DefaultTTL, d.Sessions.DefaultTTL)
	or(&c.Sessions.MaxTTL, d.Sessions.MaxTTL)
	or(&c.Sessions.SweepInterval, d.Sessions.SweepInterval)
	if c.Sessions.MaxSessions <= 0 {
		c.Sessions.MaxSessions = d.Sessions.MaxSessions
	}
	or(&c.Runtimes.HeartbeatInterval, d.Runtimes.HeartbeatInterval)
	or(&c.Runtimes.HeartbeatTimeout, d.Runtimes.HeartbeatTimeout)
	or(&c.Invoke.DefaultTimeout, d.Invoke.DefaultTimeout)
	or(&c.Invoke.MaxTimeout, d.Invoke.MaxTimeout)
	or(&c.Invoke.IdempotencyWindow, d.Invoke.IdempotencyWindow)
	// A non-streaming response may take as long as the longest call.
	or(&c.HTTP.WriteTimeout, c.Invoke.MaxTimeout+30*time.Second)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.AuditSink == nil {
		c.AuditSink = audit.LogSink{Logger: c.Logger}
	}
	return c
}

// Validate checks the configuration without doing any I/O.
func (c Config) Validate() error {
	c = c.withDefaults()
	e := altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_CONFIG, "invalid configuration")
	if c.Mode != altarv1.HostMode_HOST_MODE_STRICT && c.Mode != altarv1.HostMode_HOST_MODE_DEVELOPMENT {
		e.WithField("mode", "enum", "must be STRICT or DEVELOPMENT")
	}
	if c.Sessions.DefaultTTL > c.Sessions.MaxTTL {
		e.WithField("sessions.default_ttl", "range", fmt.Sprintf("%v is longer than sessions.max_ttl %v", c.Sessions.DefaultTTL, c.Sessions.MaxTTL))
	}
	if c.Runtimes.HeartbeatTimeout <= c.Runtimes.HeartbeatInterval {
		e.WithField("runtimes.heartbeat_timeout", "range", "must be longer than runtimes.heartbeat_interval")
	}
	if c.Invoke.DefaultTimeout > c.Invoke.MaxTimeout {
		e.WithField("invoke.default_timeout", "range", "must not exceed invoke.max_timeout")
	}
	if host, _, err := net.SplitHostPort(c.GRPCAddr); err != nil {
		e.WithField("grpc_addr", "address", err.Error())
	} else if len(c.Keys) == 0 && !isLoopback(host) {
		e.WithField("grpc_addr", "loopback", "with no API keys configured the Host listens on loopback only; configure keys to listen on "+host)
	}
	if c.httpEnabled() {
		if host, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
			e.WithField("http_addr", "address", err.Error())
		} else if len(c.Keys) == 0 && !isLoopback(host) {
			e.WithField("http_addr", "loopback", "with no API keys configured the Host listens on loopback only; configure keys to listen on "+host)
		}
		if c.HTTP.WriteTimeout <= c.Invoke.MaxTimeout {
			e.WithField("http.write_timeout", "range", "must be longer than invoke.max_timeout")
		}
	}
	if _, err := auth.NewKeySet(c.Keys); err != nil {
		e.WithField("keys", "key", err.Error())
	}
	c.validatePolicies(e)
	if len(e.Fields) > 0 {
		return e
	}
	return nil
}

// validatePolicies checks the names in the contract defaults and the
// invocation limits, and the rules between the retry and limit settings.
func (c Config) validatePolicies(e *altarerr.Error) {
	checkRuntimeID := func(path, id string) {
		if !runtime.ValidID(id) {
			e.WithField(path, "runtime_id", fmt.Sprintf("%q is not a runtime id: 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit", id))
		}
	}
	for _, tool := range slices.Sorted(maps.Keys(c.Contracts.DefaultRuntimes)) {
		path := "contracts.default_runtimes." + tool
		if err := contract.ValidateName(tool); err != nil {
			e.WithField(path, "name", "not a tool name: "+strings.TrimPrefix(err.Error(), contract.ErrInvalidName.Error()+": "))
		}
		checkRuntimeID(path, c.Contracts.DefaultRuntimes[tool])
	}
	limit := func(path string, l invoke.Limit) {
		if l.Queue > 0 && l.Concurrency <= 0 {
			e.WithField(path+".queue", "range", fmt.Sprintf("a queue of %d needs %s.concurrency (no concurrency means no limit, so nothing waits)", l.Queue, path))
		}
	}
	lim := c.Invoke.Limits
	limit("invoke.limits.per_tool", lim.Tool)
	limit("invoke.limits.per_runtime", lim.Runtime)
	for _, name := range slices.Sorted(maps.Keys(lim.Tools)) {
		path := "invoke.limits.tools." + name
		if err := contract.ValidateName(name); err != nil {
			e.WithField(path, "name", "not a tool name: "+strings.TrimPrefix(err.Error(), contract.ErrInvalidName.Error()+": "))
		}
		limit(path, lim.Tools[name])
	}
	for _, id := range slices.Sorted(maps.Keys(lim.Runtimes)) {
		path := "invoke.limits.runtimes." + id
		checkRuntimeID(path, id)
		limit(path, lim.Runtimes[id])
	}
	if r := c.Invoke.Retry; r.MaxBackoff > 0 && r.MaxBackoff < r.BaseBackoff {
		e.WithField("invoke.retry.max_backoff", "range", fmt.Sprintf("%v is shorter than invoke.retry.base_backoff %v", r.MaxBackoff, r.BaseBackoff))
	}
	if j := c.Invoke.Retry.Jitter; j > 1 || math.IsNaN(j) {
		e.WithField("invoke.retry.jitter", "range", fmt.Sprintf("%v must be from 0 to 1 (a fraction of each wait)", j))
	}
}

// httpEnabled reports whether HTTPAddr asks for an HTTP server.
func (c Config) httpEnabled() bool { return c.HTTPAddr != "" && c.HTTPAddr != "off" }

// Host is the composition root: it builds the session manager, the contract
// registry, the runtime registry and service, the invocation engine and the
// gRPC server from a Config, and implements server.API.
//
// Lifecycle: New (no I/O but reading manifests) → Start (listen and serve;
// background work is owned by the Host) → Close (stop serving, tell
// runtimes, wait for every goroutine). Close is idempotent and safe after a
// failed Start.
type Host struct {
	cfg      Config
	log      *slog.Logger
	sessions *session.Manager
	registry *contract.Registry
	runtimes *runtime.Registry
	service  *runtime.Service
	engine   *invoke.Engine
	grpc     *server.GRPC
	http     *http.Server      // nil when HTTP is off
	mcp      *mcpfacade.Facade // the MCP facade at /mcp; nil when HTTP is off

	mu        sync.Mutex
	listener  net.Listener
	httpLis   net.Listener
	closing   bool
	attached  []attachment // runtimes with no transport, detached by Close
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once

	closedOnce sync.Once
	closedCh   chan struct{}

	onClose []func(context.Context)      // OnClose's functions, run by Close
	plugins func() []*altarv1.PluginInfo // ReportPlugins's function
}

// New builds a Host and loads its manifests.
func New(cfg Config) (*Host, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	h := &Host{cfg: cfg, log: cfg.Logger.With("host_id", cfg.HostID)}

	regOpts := []contract.RegistryOption{contract.WithMode(cfg.Mode), contract.WithAudit(cfg.AuditSink), contract.WithLogger(h.log),
		contract.WithChangeListener(h.contractsChanged)}
	for tool, runtimeID := range cfg.Contracts.DefaultRuntimes {
		regOpts = append(regOpts, contract.WithDefaultRuntime(tool, runtimeID))
	}
	h.registry = contract.NewRegistry(regOpts...)
	if len(cfg.ManifestPaths) > 0 {
		if _, err := h.registry.LoadPaths("config", cfg.ManifestPaths...); err != nil {
			return nil, err
		}
	}
	h.runtimes = runtime.NewRegistry()
	h.service = runtime.NewService(h.runtimes, h.registry,
		runtime.WithHostID(cfg.HostID), runtime.WithLogger(h.log),
		runtime.WithHeartbeat(cfg.Runtimes.HeartbeatInterval, cfg.Runtimes.HeartbeatTimeout))

	sessions, err := session.New(session.NewMemoryStore(),
		session.WithDefaultTTL(cfg.Sessions.DefaultTTL), session.WithMaxTTL(cfg.Sessions.MaxTTL),
		session.WithMaxSessions(cfg.Sessions.MaxSessions), session.WithSweepInterval(cfg.Sessions.SweepInterval),
		session.WithLogger(h.log), session.WithListener(h.service.SessionEvent))
	if err != nil {
		return nil, err
	}
	h.sessions = sessions

	opts := append([]invoke.Option{
		invoke.WithSessions(sessionToucher{sessions}),
		invoke.WithLogger(h.log),
		invoke.WithDefaultTimeout(cfg.Invoke.DefaultTimeout),
		invoke.WithMaxTimeout(cfg.Invoke.MaxTimeout),
		invoke.WithIdempotencyWindow(cfg.Invoke.IdempotencyWindow),
		invoke.WithLimits(cloneLimits(cfg.Invoke.Limits)),
		invoke.WithRetry(cfg.Invoke.Retry),
		invoke.WithBreaker(cfg.Invoke.Breaker),
	}, cfg.Invoke.Options...)
	h.engine = invoke.New(resolver{h.registry}, h.runtimes, opts...)
	keys, err := auth.NewKeySet(cfg.Keys)
	if err != nil {
		return nil, altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INVALID_CONFIG, err, "keys")
	}
	// Stream workers are long-lived goroutines that keep their grown stacks:
	// a goroutine per RPC would regrow its stack through the protobuf
	// marshalling of every call (measured at a fifth of the Host's CPU under
	// 64 callers). A call beyond the workers still gets its own goroutine.
	grpcOpts := append(server.GRPCAuth(keys), grpc.NumStreamWorkers(uint32(cfg.GRPCStreamWorkers)))
	h.grpc = server.NewGRPC(h, h.service, grpcOpts...)
	if cfg.httpEnabled() {
		h.mcp = mcpfacade.New(h, mcpfacade.WithLogger(h.log), mcpfacade.WithServerInfo("altar", Version),
			mcpfacade.WithMaxBodyBytes(cfg.HTTP.MaxBodyBytes), mcpfacade.WithSessionIdleTTL(cfg.Sessions.DefaultTTL))
		// WriteTimeout and ReadTimeout stay 0 on the server: the handler
		// sets per-request deadlines, which streams clear (a server-wide
		// WriteTimeout would cut every SSE and WebSocket stream).
		h.http = &http.Server{
			Handler: server.NewHTTP(h, keys,
				server.WithHTTPMaxBodyBytes(cfg.HTTP.MaxBodyBytes),
				server.WithHTTPTimeouts(cfg.HTTP.ReadTimeout, cfg.HTTP.WriteTimeout),
				server.WithReadiness(h.ready),
				server.WithHTTPLogger(h.log),
				server.WithRuntimeService(h.service, cfg.Runtimes.HeartbeatInterval, cfg.Runtimes.HeartbeatTimeout),
				server.WithRuntimeOrigins(cfg.HTTP.RuntimeOrigins...),
				server.WithMount(mcpfacade.DefaultBasePath, h.mcp.Handler())),
			ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
			IdleTimeout:       cfg.HTTP.IdleTimeout,
			MaxHeaderBytes:    1 << 20,
			ErrorLog:          slog.NewLogLogger(h.log.Handler(), slog.LevelDebug),
		}
	}
	return h, nil
}

// Start listens on the configured gRPC address and serves until Close. It
// returns once the listener is open.
func (h *Host) Start(ctx context.Context) error {
	lis, err := net.Listen("tcp", h.cfg.GRPCAddr)
	if err != nil {
		return altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INVALID_CONFIG, err, "listening on grpc_addr %s", h.cfg.GRPCAddr)
	}
	var httpLis net.Listener
	if h.http != nil {
		if httpLis, err = net.Listen("tcp", h.cfg.HTTPAddr); err != nil {
			_ = lis.Close()
			return altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INVALID_CONFIG, err, "listening on http_addr %s", h.cfg.HTTPAddr)
		}
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	h.mu.Lock()
	h.listener, h.httpLis, h.cancel = lis, httpLis, cancel
	h.mu.Unlock()

	if httpLis != nil {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			if err := h.http.Serve(httpLis); err != nil && !errors.Is(err, http.ErrServerClosed) {
				h.log.Error("http server stopped", "error", err)
			}
		}()
	}
	h.wg.Add(2)
	go func() {
		defer h.wg.Done()
		if err := h.grpc.Server.Serve(lis); err != nil && !errors.Is(err, net.ErrClosed) {
			h.log.Error("grpc server stopped", "error", err)
		}
	}()
	go func() {
		defer h.wg.Done()
		_ = h.sessions.Run(runCtx)
	}()
	h.log.Info("ALTAR Host listening", "grpc", lis.Addr().String(), "http", h.HTTPAddr(), "mode", h.registry.Mode().String())
	return nil
}

// HTTPAddr is the address the HTTP server listens on, once started; "" when
// HTTP is off.
func (h *Host) HTTPAddr() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.httpLis == nil {
		return ""
	}
	return h.httpLis.Addr().String()
}

// ready is /readyz: the manifests are loaded by New, so the Host is ready
// once its listeners are open and until it starts closing.
func (h *Host) ready(context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closing:
		return errors.New("the Host is shutting down")
	case h.listener == nil:
		return errors.New("the Host has not started")
	}
	return nil
}

// GRPCAddr is the address the gRPC server listens on, once started.
func (h *Host) GRPCAddr() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.listener == nil {
		return ""
	}
	return h.listener.Addr().String()
}

// Close stops serving: runtimes are told to drain, the gRPC server stops
// taking calls and waits for those in flight (bounded by ctx), then every
// runtime connection is closed and background work ends.
func (h *Host) Close(ctx context.Context) error {
	h.closeOnce.Do(func() {
		h.closed()
		close(h.closedCh)
		h.mu.Lock()
		h.closing = true
		started := h.httpLis != nil
		h.mu.Unlock()
		httpDone := make(chan struct{})
		go func() {
			defer close(httpDone)
			if h.mcp != nil {
				// MCP streams (SSE, listening GETs) last as long as their
				// sessions: end them so that Shutdown need not wait them out.
				_ = h.mcp.Close(ctx)
			}
			if h.http == nil || !started {
				return
			}
			// Shutdown stops accepting and waits for requests in flight;
			// at ctx's end, Close cuts those left (their contexts end,
			// cancelling their invocations).
			if err := h.http.Shutdown(ctx); err != nil {
				_ = h.http.Close()
			}
		}()
		h.service.Drain("the Host is shutting down", time.Until(deadlineOr(ctx, time.Now().Add(10*time.Second))))
		stopped := make(chan struct{})
		go func() {
			h.grpc.Server.GracefulStop()
			close(stopped)
		}()
		select {
		case <-stopped:
		case <-ctx.Done():
			h.service.CloseAll(ctx)
			h.grpc.Server.Stop()
			<-stopped
		}
		<-httpDone
		h.service.CloseAll(ctx)
		h.mu.Lock()
		attached := h.attached
		h.attached = nil
		h.mu.Unlock()
		for _, a := range attached {
			h.detach(a.conn)
		}
		h.mu.Lock()
		onClose := h.onClose
		h.onClose = nil
		h.mu.Unlock()
		for _, fn := range onClose {
			fn(ctx)
		}
		h.mu.Lock()
		if h.cancel != nil {
			h.cancel()
		}
		h.mu.Unlock()
		h.wg.Wait()
		h.engine.Close()
		_ = h.sessions.Close()
	})
	return nil
}

// cloneLimits copies l's maps, so that the engine shares nothing with the
// caller's Config.
func cloneLimits(l invoke.Limits) invoke.Limits {
	l.Tools, l.Runtimes = maps.Clone(l.Tools), maps.Clone(l.Runtimes)
	return l
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func deadlineOr(ctx context.Context, d time.Time) time.Time {
	if dl, ok := ctx.Deadline(); ok {
		return dl
	}
	return d
}

// Registry is the contract registry (for admin tooling and tests).
func (h *Host) Registry() *contract.Registry { return h.registry }

// Runtimes is the registry of connected runtimes.
func (h *Host) Runtimes() *runtime.Registry { return h.runtimes }

// Engine is the invocation engine.
func (h *Host) Engine() *invoke.Engine { return h.engine }

// Attach connects a runtime that needs no transport (an in-process runtime
// such as the built-in example, or a bridge) and offers its tools under the
// same fulfil rules as any runtime: it cannot widen a contract. It returns
// the Host's answer. A runtime none of whose tools was accepted is detached
// again at once; the others are detached by Close, or when their Done
// closes.
func (h *Host) Attach(c runtime.Conn, offer *altarv1.FulfillTools) *altarv1.FulfillToolsResponse {
	old := h.runtimes.Add(c)
	resp := h.registry.Fulfill(c.Announcement(), offer)
	if old != nil {
		// A new connection of the same runtime (a bridge re-listing its
		// tools): fulfilling again rebound what it still serves, with no
		// moment unrouted; what it no longer serves is let go.
		var keep []string
		for _, a := range resp.GetAccepted() {
			keep = append(keep, a.GetContractName())
		}
		h.registry.Retain(c.ID(), keep)
	}
	h.runtimes.AddTools(c.ID(), resp.GetAccepted())
	h.mu.Lock()
	// The attachment this one replaces, and those that ended, are
	// forgotten: nothing is offered to them again (contractsChanged), and
	// a runtime re-attached often (a bridge) does not grow the list.
	h.attached = slices.DeleteFunc(h.attached, func(a attachment) bool {
		select {
		case <-a.conn.Done():
			return true
		default:
			return a.conn.ID() == c.ID()
		}
	})
	if len(resp.GetAccepted()) > 0 {
		h.attached = append(h.attached, attachment{conn: c, offer: offer})
	}
	h.mu.Unlock()
	if len(resp.GetAccepted()) == 0 {
		h.detach(c)
		return resp
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		select {
		case <-c.Done():
			h.detach(c)
		case <-h.closed():
		}
	}()
	return resp
}

// Mode is the current host mode.
func (h *Host) Mode() altarv1.HostMode { return h.registry.Mode() }

// TrustSource makes exactly contracts trusted under source (a bridge's,
// such as "mcp:everything"), replacing what source trusted before; a
// manifest reload keeps them. It returns why any contract was refused, by
// name: one that is not a valid contract, or (all of them then) one whose
// name and version a manifest or another source already trusts.
func (h *Host) TrustSource(source string, contracts []*altarv1.ToolContract) map[string]error {
	refused := map[string]error{}
	var ok []*contract.Contract
	for _, c := range contracts {
		m, err := contract.FromProto(&altarv1.ToolManifest{ManifestVersion: contract.ManifestVersion, Contracts: []*altarv1.ToolContract{c}})
		if err != nil {
			refused[c.GetName()] = err
			continue
		}
		ok = append(ok, m.Contracts...)
	}
	if _, err := h.registry.SetSource(source, source, ok); err != nil {
		for _, c := range ok {
			refused[c.Name()] = err
		}
	}
	return refused
}

// detach unroutes a runtime attached with Attach and closes it when it can
// be closed.
func (h *Host) detach(c runtime.Conn) {
	if h.runtimes.Remove(c) {
		h.registry.Disconnected(c.ID())
	}
	if closer, ok := c.(interface{ Close() }); ok {
		closer.Close()
	}
}

// ServeRuntime runs the runtime protocol on a stream that reached the Host
// other than through its listeners — a plugin the Host launched
// (plugins/launch), whose stream the Host opened — under the same rules as
// for a runtime that dialled in (announce, discover, fulfil: a runtime
// cannot widen a contract). transport names the carrier ("plugin"). It
// returns when the stream has ended, as runtime.Service.Serve does; the
// caller then ends the stream. It refuses at once once Close has begun.
func (h *Host) ServeRuntime(stream runtime.MessageStream, transport string) error {
	h.mu.Lock()
	closing := h.closing
	h.mu.Unlock()
	if closing {
		return altarerr.New(altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE, "the Host is shutting down").GRPCStatus().Err()
	}
	return h.service.Serve(stream, transport)
}

// Closing is closed once Close has begun: a plugin supervisor stops
// restarting plugins then.
func (h *Host) Closing() <-chan struct{} { return h.closed() }

// ReportPlugins makes ListRuntimes report the plugins the Host launches,
// as fn describes them (a plugin supervisor's status), so that a plugin
// that is restarting or stays down is seen, not only those connected.
func (h *Host) ReportPlugins(fn func() []*altarv1.PluginInfo) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.plugins = fn
}

// OnClose registers fn to be run by Close once every runtime stream has
// been closed (calls in flight have finished, or failed with
// RUNTIME_UNAVAILABLE) and before Close waits for the Host's own
// goroutines: stopping a plugin supervisor there kills every plugin
// process. fn gets Close's context. Functions registered after Close has
// begun are not run.
func (h *Host) OnClose(fn func(ctx context.Context)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.onClose = append(h.onClose, fn)
}

// closed is closed once Close has begun.
func (h *Host) closed() <-chan struct{} {
	h.closedOnce.Do(func() { h.closedCh = make(chan struct{}) })
	return h.closedCh
}

// resolver adapts the contract registry to the engine's Resolver.
type resolver struct{ r *contract.Registry }

func (a resolver) Resolve(sessionID, name string) (invoke.Target, error) {
	res, err := a.r.Resolve(sessionID, name)
	if err != nil {
		return invoke.Target{}, err
	}
	return invoke.Target{
		Name:       res.QualifiedName,
		Contract:   res.Contract.Proto,
		Params:     res.Contract.Params,
		Returns:    res.Contract.Result,
		RuntimeIDs: res.RuntimeIDs,
	}, nil
}

// sessionToucher adapts the session manager to the engine: a call with no
// session id runs without one (anonymous), any other must name a live
// session.
type sessionToucher struct{ m *session.Manager }

func (s sessionToucher) Touch(ctx context.Context, id string) (*altarv1.SecurityContext, error) {
	if id == "" {
		return nil, nil
	}
	sess, err := s.m.Touch(ctx, id)
	if err != nil {
		return nil, err
	}
	return sess.GetSecurityContext(), nil
}

var (
	_ runtime.ContractAuthority = (*contract.Registry)(nil)
	_ invoke.Runtimes           = (*runtime.Registry)(nil)
	_ server.API                = (*Host)(nil)
)

// attachment is a runtime attached in process, with what it offered.
type attachment struct {
	conn  runtime.Conn
	offer *altarv1.FulfillTools
}

// contractsChanged follows a change of the trusted contracts (a reload, a
// manifest loaded, a bridge's tools): tools whose bindings were dropped
// leave their runtimes' listings, and every runtime is offered the
// contracts again, so that it fulfils what it serves (a contract added or
// changed included) without reconnecting. Runtimes attached in process
// are fulfilled again from their offer, for the tools it names that are
// trusted now and not bound to them.
func (h *Host) contractsChanged(unbound map[string][]string) {
	if h.service == nil {
		return // The load in New, before any runtime.
	}
	for id, names := range unbound {
		h.runtimes.RemoveTools(id, names)
	}
	h.service.OfferContracts()

	h.mu.Lock()
	attached := slices.Clone(h.attached)
	h.mu.Unlock()
	for _, a := range attached {
		select {
		case <-a.conn.Done():
			continue
		default:
		}
		available := map[string]bool{}
		for _, c := range h.registry.Available(a.conn.Announcement()) {
			available[c.GetName()] = true
		}
		var again []*altarv1.ToolFulfillment
		for _, f := range a.offer.GetTools() {
			name := f.GetContractName()
			if _, err := h.registry.Resolve("", a.conn.ID()+"/"+name); err != nil && available[name] {
				again = append(again, f)
			}
		}
		if len(again) > 0 {
			resp := h.registry.Fulfill(a.conn.Announcement(), &altarv1.FulfillTools{Tools: again})
			h.runtimes.AddTools(a.conn.ID(), resp.GetAccepted())
		}
	}
}
