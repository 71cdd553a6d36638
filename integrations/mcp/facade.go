package mcp

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mcpproto "github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// API is the part of the Host API the facade serves MCP from. *gateway.Host
// implements it (as every transport's API does); errors are *altarerr.Error
// values or wrap one.
type API interface {
	CreateSession(context.Context, *altarv1.CreateSessionRequest) (*altarv1.CreateSessionResponse, error)
	GetSession(context.Context, *altarv1.GetSessionRequest) (*altarv1.GetSessionResponse, error)
	DestroySession(context.Context, *altarv1.DestroySessionRequest) (*altarv1.DestroySessionResponse, error)
	ListTools(context.Context, *altarv1.ListToolsRequest) (*altarv1.ListToolsResponse, error)
	GetContract(context.Context, *altarv1.GetContractRequest) (*altarv1.GetContractResponse, error)
	Invoke(context.Context, *altarv1.InvokeRequest) (*altarv1.InvokeResponse, error)
	// InvokeStream calls send for each chunk until the final one;
	// cancelling ctx cancels the invocation.
	InvokeStream(ctx context.Context, req *altarv1.InvokeRequest, send func(*altarv1.StreamChunk) error) error
}

// Defaults of the facade's bounds.
const (
	// DefaultBasePath is where Handler expects its requests: the streamable
	// HTTP endpoint is the base path itself, the SSE transport's stream and
	// message endpoints are base+"/sse" and base+"/message".
	DefaultBasePath = "/mcp"
	// DefaultPageSize is how many tools one tools/list page holds.
	DefaultPageSize = 100
	// DefaultMaxBodyBytes bounds one HTTP request body.
	DefaultMaxBodyBytes = 4 << 20
	// DefaultMaxResultBytes bounds the JSON of one call's result (for a
	// stream, of all its chunks together).
	DefaultMaxResultBytes = 4 << 20
	// DefaultSessionIdleTTL is how long an HTTP session's transport state
	// outlives its last request when the client never ends it.
	DefaultSessionIdleTTL = 30 * time.Minute
	// destroyTimeout bounds destroying an ALTAR session when an MCP session
	// ends (the caller may already be gone).
	destroyTimeout = 5 * time.Second
	// progressWait bounds how long a stream waits for room to queue one
	// progress notification before it drops it.
	progressWait = time.Second
	// settleTime is how long a streamed call's result waits after its last
	// progress notification (see flushNotifications).
	settleTime = 5 * time.Millisecond
	// minSweepInterval bounds how often the idle sweep runs.
	minSweepInterval = 10 * time.Millisecond
)

// Option configures New.
type Option interface{ apply(*options) }

type options struct {
	log            *slog.Logger
	basePath       string
	pageSize       int
	maxBody        int64
	maxResult      int
	sessionIdleTTL time.Duration
	toolsPoll      time.Duration
	name, version  string
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithLogger sets the logger for failures no client can be told of.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o *options) {
		if l != nil {
			o.log = l
		}
	})
}

// WithBasePath sets the path the facade is mounted at (DefaultBasePath).
func WithBasePath(p string) Option {
	return optionFunc(func(o *options) {
		if p = "/" + strings.Trim(p, "/"); p != "/" {
			o.basePath = p
		}
	})
}

// WithPageSize sets how many tools one tools/list page holds.
func WithPageSize(n int) Option {
	return optionFunc(func(o *options) {
		if n > 0 {
			o.pageSize = n
		}
	})
}

// WithMaxBodyBytes bounds one HTTP request body; a larger one is refused
// with 413.
func WithMaxBodyBytes(n int64) Option {
	return optionFunc(func(o *options) {
		if n > 0 {
			o.maxBody = n
		}
	})
}

// WithMaxResultBytes bounds the JSON of one call's result; a larger result
// is a PAYLOAD_TOO_LARGE tool error.
func WithMaxResultBytes(n int) Option {
	return optionFunc(func(o *options) {
		if n > 0 {
			o.maxResult = n
		}
	})
}

// WithSessionIdleTTL sets how long an HTTP session's transport state is
// kept after its last request (use the Host's session TTL).
func WithSessionIdleTTL(d time.Duration) Option {
	return optionFunc(func(o *options) {
		if d > 0 {
			o.sessionIdleTTL = d
		}
	})
}

// WithToolsPollInterval sets how often the facade looks for a change in
// the tools, to tell stdio and SSE clients (notifications/tools/
// list_changed; default one second).
func WithToolsPollInterval(d time.Duration) Option {
	return optionFunc(func(o *options) {
		if d > 0 {
			o.toolsPoll = d
		}
	})
}

// WithServerInfo sets the name and version the facade reports to clients
// at initialize.
func WithServerInfo(name, version string) Option {
	return optionFunc(func(o *options) {
		if name != "" {
			o.name = name
		}
		if version != "" {
			o.version = version
		}
	})
}

// Facade serves the Host's tools over MCP. Build it with New; it is safe
// for concurrent use.
type Facade struct {
	api API
	o   options
	srv *mcpserver.MCPServer
	// streamable and sse are built by the first HTTP request (under mu),
	// so that a facade serving stdio only starts no sweeper.
	streamable *mcpserver.StreamableHTTPServer
	sse        *mcpserver.SSEServer

	// live maps each registered MCP session id to its ALTAR session.
	live sync.Map // string → *binding
	// sseIDs holds SSE session ids between minting and registration.
	sseIDs sync.Map // string → bool
	tools  toolSet
	// described hands descriptions from the tool filter to the handler.
	described describedMemo

	mu     sync.Mutex
	closed bool
	// closing ends when the facade closes. A context of the context
	// package's own, so that context.AfterFunc on it starts no goroutine
	// (a call registers one).
	closing  context.Context
	closeAll context.CancelFunc
	// direct counts the calls answered without mcp-go (fastcall.go).
	direct atomic.Int64
	// sweeping is closed when the idle sweeper (started with the HTTP
	// transports) has stopped; nil when it never started.
	sweeping chan struct{}
	// watching is closed when the tools watcher (listchanged.go) has
	// stopped; nil when it never started.
	watching chan struct{}
}

// binding is one live MCP session.
type binding struct {
	altarID string
	// owner is the principal that opened it; only it may use it.
	owner string
	// ctx ends with the MCP session, or when the facade closes: calls on
	// transports that detach them from their request (SSE) are cancelled
	// by it.
	ctx    context.Context
	cancel context.CancelFunc
	// sse marks a session of the HTTP+SSE transport; out is the stdio
	// session's output. Either lets notifications be queued in order with
	// responses (see Facade.notify).
	sse bool
	out *lockedWriter
	// lastActive is when the session's owner last sent a request (unix
	// nanoseconds), for the idle sweep of streamable HTTP sessions.
	lastActive atomic.Int64
}

func (b *binding) touch() { b.lastActive.Store(time.Now().UnixNano()) }

// New builds a facade over api. It does no I/O.
func New(api API, opts ...Option) *Facade {
	o := options{
		log:            slog.New(slog.DiscardHandler),
		basePath:       DefaultBasePath,
		pageSize:       DefaultPageSize,
		maxBody:        DefaultMaxBodyBytes,
		maxResult:      DefaultMaxResultBytes,
		sessionIdleTTL: DefaultSessionIdleTTL,
		toolsPoll:      toolsPollInterval,
		name:           "altar",
		version:        "dev",
	}
	for _, opt := range opts {
		opt.apply(&o)
	}
	f := &Facade{api: api, o: o}
	f.closing, f.closeAll = context.WithCancel(context.Background())
	f.tools.init()
	hooks := &mcpserver.Hooks{}
	hooks.AddOnRegisterSession(f.sessionRegistered)
	hooks.AddOnUnregisterSession(f.sessionUnregistered)
	hooks.AddOnRequestInitialization(f.checkRequest)
	hooks.AddBeforeListTools(f.beforeListTools)
	hooks.AddBeforeCallTool(f.beforeCallTool)
	hooks.AddAfterInitialize(f.initialized)
	f.srv = mcpserver.NewMCPServer(o.name, o.version,
		// The tool set is the Host's and changes as runtimes come and go.
		// Only stdio and SSE clients are told (listchanged.go), so the
		// capability is declared to them alone, at initialize.
		mcpserver.WithToolCapabilities(false),
		mcpserver.WithToolFilter(f.filterTools),
		mcpserver.WithPaginationLimit(o.pageSize),
		mcpserver.WithHooks(hooks),
		mcpserver.WithRecovery(),
		mcpserver.WithInstructions("Tools served by an ALTAR gateway under contracts the gateway owns; each call is validated against its contract."),
	)
	return f
}

// Handler serves MCP over HTTP under the base path: streamable HTTP at the
// base path, the HTTP+SSE transport's event stream at base+"/sse" and its
// messages at base+"/message". It expects the gateway's authentication in
// front of it (the caller's principal in the request context); a request
// without a principal is a local, trusted caller. The transports (and
// mcp-go's idle-session sweeper) start with the first request.
func (f *Facade) Handler() http.Handler { return http.HandlerFunc(f.serveHTTP) }

// transports returns the HTTP transports, building them on first use, or
// false once the facade is closed.
func (f *Facade) transports() (*mcpserver.StreamableHTTPServer, *mcpserver.SSEServer, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, nil, false
	}
	if f.streamable == nil {
		f.streamable = mcpserver.NewStreamableHTTPServer(f.srv,
			mcpserver.WithSessionIdManagerResolver(f),
			// No standalone GET stream (405, as the transport allows): the
			// facade sends nothing unprompted, and mcp-go would hand a
			// call's progress notifications to that stream as readily as
			// to the call's own, out of order with its result.
			mcpserver.WithDisableStreaming(true),
			// The idle sweep is the facade's own (sweepIdle): mcp-go's
			// counts only the requests it serves itself.
			mcpserver.WithStreamableHTTPLogger(f.o.log))
		f.sse = mcpserver.NewSSEServer(f.srv,
			mcpserver.WithStaticBasePath(f.o.basePath),
			mcpserver.WithSSEEndpoint("/sse"),
			mcpserver.WithMessageEndpoint("/message"),
			mcpserver.WithUseFullURLForMessageEndpoint(false),
			mcpserver.WithSessionIDGenerator(f.sseSessionID))
		f.sweeping = make(chan struct{})
		go f.sweepIdle(f.sweeping)
	}
	return f.streamable, f.sse, true
}

// sweepIdle ends, until the facade closes, the streamable HTTP sessions
// whose owner sent no request for the idle TTL (clients that never say
// DELETE); it closes done when it stops.
func (f *Facade) sweepIdle(done chan struct{}) {
	defer close(done)
	ttl := f.o.sessionIdleTTL
	tick := time.NewTicker(max(ttl/2, minSweepInterval))
	defer tick.Stop()
	for {
		select {
		case <-f.closing.Done():
			return
		case now := <-tick.C:
			f.sweepOnce(now)
		}
	}
}

// sweepOnce ends the streamable HTTP sessions idle at now.
func (f *Facade) sweepOnce(now time.Time) {
	ttl := int64(f.o.sessionIdleTTL)
	f.live.Range(func(k, v any) bool {
		b := v.(*binding)
		if !b.sse && b.out == nil && now.UnixNano()-b.lastActive.Load() >= ttl {
			// mcp-go forgets the session and tells sessionUnregistered.
			f.srv.UnregisterSession(context.Background(), k.(string))
		}
		return true
	})
}

func (f *Facade) serveHTTP(w http.ResponseWriter, r *http.Request) {
	streamable, sse, ok := f.transports()
	if !ok {
		http.Error(w, "the gateway is shutting down", http.StatusServiceUnavailable)
		return
	}
	if r.ContentLength > f.o.maxBody {
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, f.o.maxBody)
	}
	r = r.WithContext(context.WithValue(r.Context(), openErrKey{}, new(openErr)))
	switch strings.TrimSuffix(r.URL.Path, "/") {
	case f.o.basePath:
		if id := r.Header.Get(mcpserver.HeaderKeySessionID); id != "" {
			if v, ok := f.live.Load(id); ok && v.(*binding).owner == principalID(r.Context()) {
				b := v.(*binding)
				b.touch()
				if r.Method == http.MethodPost && f.serveCallDirectly(w, r, id, b) {
					return
				}
			}
		}
		streamable.ServeHTTP(w, r)
	case f.o.basePath + "/message":
		// Only the credential that opened an SSE session may post to it.
		if v, ok := f.live.Load(r.URL.Query().Get("sessionId")); ok && v.(*binding).owner != principalID(r.Context()) {
			http.Error(w, "Invalid session ID", http.StatusNotFound)
			return
		}
		sse.ServeHTTP(w, r)
	case f.o.basePath + "/sse":
		sse.ServeHTTP(w, r)
	default:
		http.NotFound(w, r)
	}
}

// MCPServer is the underlying mcp-go server (for other transports, and
// tests).
func (f *Facade) MCPServer() *mcpserver.MCPServer { return f.srv }

func (f *Facade) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// Close ends every open SSE stream and streamable HTTP session (their
// ALTAR sessions are destroyed) and stops the idle sweeper. Requests
// arriving afterwards are answered 503. It is idempotent.
func (f *Facade) Close(ctx context.Context) error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	f.closeAll()
	streamable, sse, sweeping, watching := f.streamable, f.sse, f.sweeping, f.watching
	f.mu.Unlock()
	if sweeping != nil {
		<-sweeping
	}
	if watching != nil {
		<-watching
	}
	var err error
	if streamable != nil {
		err = streamable.Shutdown(ctx)
	}
	if sse != nil {
		sse.CloseSessions()
	}
	// Sessions whose transport did not unregister them (a stream still
	// winding down) are ended here.
	f.live.Range(func(k, _ any) bool {
		f.endSession(ctx, k.(string))
		return true
	})
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return err
}

// toolFilter and the hooks are mcp-go's types; keep their shapes checked.
var (
	_ mcpserver.ToolFilterFunc                                                          = (*Facade)(nil).filterTools
	_ mcpserver.SessionIdManagerResolver                                                = (*Facade)(nil)
	_ mcpserver.OnBeforeListToolsFunc                                                   = (*Facade)(nil).beforeListTools
	_ mcpserver.OnAfterInitializeFunc                                                   = (*Facade)(nil).initialized
	_ func(context.Context, mcpproto.CallToolRequest) (*mcpproto.CallToolResult, error) = (*Facade)(nil).call
)
