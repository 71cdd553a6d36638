package sdk

import (
	"io"
	"log/slog"
	"maps"
	"runtime/debug"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Defaults of the options.
const (
	DefaultReconnectMin    = 250 * time.Millisecond
	DefaultReconnectMax    = 30 * time.Second
	DefaultSendQueue       = 256
	DefaultComplianceLevel = altarv1.ComplianceLevel_COMPLIANCE_LEVEL_2
)

// Option configures a Runtime (and, for WithLogger, a Handler).
type Option interface {
	apply(*config)
}

type config struct {
	language       string
	version        string
	capabilities   []string
	level          altarv1.ComplianceLevel
	maxConcurrency uint32
	logger         *slog.Logger
	dev            bool
	reconnectMin   time.Duration
	reconnectMax   time.Duration
	dialOpts       []grpc.DialOption
	creds          credentials.TransportCredentials
	wsOpts         *websocket.DialOptions
	metadata       map[string]string
	onFulfilled    func(Fulfilment)
	onSession      func(*altarv1.SessionEvent)
	sendQueue      int
}

func defaultConfig() config {
	return config{
		language:     "go",
		version:      buildVersion(),
		level:        DefaultComplianceLevel,
		logger:       slog.Default(),
		reconnectMin: DefaultReconnectMin,
		reconnectMax: DefaultReconnectMax,
		sendQueue:    DefaultSendQueue,
	}
}

// buildVersion is the main module's version, or "devel".
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithLanguage sets the implementation language announced to the Host
// (default "go"); a runtime that wraps another language's tools says so.
func WithLanguage(language string) Option {
	return optionFunc(func(c *config) { c.language = language })
}

// WithVersion sets the runtime's own software version announced to the Host
// (default: the main module's version, or "devel").
func WithVersion(version string) Option {
	return optionFunc(func(c *config) { c.version = version })
}

// WithCapabilities adds capability strings to the announcement, beyond those
// the compliance level requires (altarv1.CapabilitiesForLevel) and
// binary_payloads, which the SDK always supports. Custom capabilities start
// with "x-". New refuses unknown or malformed ones.
func WithCapabilities(capabilities ...string) Option {
	return optionFunc(func(c *config) { c.capabilities = append(c.capabilities, capabilities...) })
}

// WithComplianceLevel sets the level the runtime claims (default Level 2:
// the SDK implements streaming, cancellation, correlation and rich errors,
// and hands the security context to tools through CallFromContext). Claiming
// Level 3 requires tools that honour tracing and tenant isolation.
func WithComplianceLevel(level altarv1.ComplianceLevel) Option {
	return optionFunc(func(c *config) { c.level = level })
}

// WithMaxConcurrency bounds how many calls run at once (announced to the
// Host as max_concurrency). A call beyond it is answered at once with
// ERROR_CODE_RESOURCE_EXHAUSTED. 0, the default, means no limit.
func WithMaxConcurrency(n uint32) Option {
	return optionFunc(func(c *config) { c.maxConcurrency = n })
}

// WithLogger sets the logger (default slog.Default()). A nil logger discards.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l == nil {
			l = slog.New(slog.NewTextHandler(io.Discard, nil))
		}
		c.logger = l
	})
}

// WithDevelopmentMode lets the runtime define contracts the Host does not
// have: tools the Host does not offer are sent in RegisterTools (with
// acknowledge_insecure) when the Host is in DEVELOPMENT mode, and the runtime
// announces the register_tools capability. A Host in STRICT mode is not sent
// them; they are reported as not fulfilled.
func WithDevelopmentMode() Option {
	return optionFunc(func(c *config) { c.dev = true })
}

// WithReconnect sets the bounds of the exponential backoff (with jitter)
// between connection attempts. Defaults: DefaultReconnectMin and
// DefaultReconnectMax.
func WithReconnect(minDelay, maxDelay time.Duration) Option {
	return optionFunc(func(c *config) { c.reconnectMin, c.reconnectMax = minDelay, maxDelay })
}

// WithDialOptions adds gRPC dial options, applied after the SDK's own (so
// they win): keepalive, interceptors, a custom dialer.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return optionFunc(func(c *config) { c.dialOpts = append(c.dialOpts, opts...) })
}

// WithTransportCredentials sets the credentials of the connection to the
// Host. Without it the SDK uses no TLS for a loopback address (127.0.0.0/8,
// ::1, localhost, a unix socket) and TLS with the system's roots for any
// other; pass insecure.NewCredentials() to dial a remote Host without TLS.
func WithTransportCredentials(creds credentials.TransportCredentials) Option {
	return optionFunc(func(c *config) { c.creds = creds })
}

// WithWebSocketDialOptions sets how Serve dials a "ws://" or "wss://"
// address: HTTPHeader carries the runtime's key ("Authorization: Bearer
// <key>"), HTTPClient the TLS configuration, Subprotocols the encoding
// (WebSocketProto, the default, or WebSocketJSON). The options are copied
// on each dial; gRPC options do not apply to WebSocket, nor these to gRPC.
func WithWebSocketDialOptions(opts *websocket.DialOptions) Option {
	return optionFunc(func(c *config) { c.wsOpts = opts })
}

// WithMetadata sets free key-value pairs announced to the Host (shown by
// ListRuntimes: the machine, the deployment).
func WithMetadata(md map[string]string) Option {
	return optionFunc(func(c *config) { c.metadata = maps.Clone(md) })
}

// OnFulfilled sets a function called after each connection's bootstrap,
// once the Host has answered every FulfillTools and RegisterTools, with what
// it accepted and what it did not (Fulfilment.Err). It is called from the
// connection's receiving goroutine: it must return quickly and must not call
// the Runtime's blocking methods.
func OnFulfilled(fn func(Fulfilment)) Option {
	return optionFunc(func(c *config) { c.onFulfilled = fn })
}

// OnSessionEvent sets a function called with each SessionEvent the Host
// sends (a session created, expired or destroyed), so that a runtime that
// keeps state per session can drop it when the session ends. Setting it
// declares the session_state capability: the Host tells only such runtimes.
// It is called from the connection's receiving goroutine, in the order the
// Host sent the events: it must return quickly and must not call the
// Runtime's blocking methods.
func OnSessionEvent(fn func(*altarv1.SessionEvent)) Option {
	return optionFunc(func(c *config) { c.onSession = fn })
}

// WithSendQueue sets how many outgoing messages (results, chunks) may wait
// for the connection (default DefaultSendQueue). When it is full, emit and
// result delivery block: that is the backpressure a slow Host exerts.
func WithSendQueue(n int) Option {
	return optionFunc(func(c *config) { c.sendQueue = max(n, 1) })
}
