package mcp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/audit"
	"github.com/altar-gateway/altar/gateway/runtime"
	"github.com/altar-gateway/altar/internal/callworkers"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Audit event kinds the bridge records (beside the contract registry's
// own events for the contracts it trusts and the tools it fulfils).
const (
	// KindToolPinned: a server's first import pinned its tools.
	KindToolPinned = "mcp.tool.pin"
	// KindToolWithdrawn: a tool's live definition differs from its pin, or
	// it has none, so it is not served (STRICT mode; Outcome "refused"), or
	// is served anyway (DEVELOPMENT mode; Outcome "accepted").
	KindToolWithdrawn = "mcp.tool.withdraw"
	// KindToolApproved: a withdrawn tool's definition was approved in the
	// lock file and is served again.
	KindToolApproved = "mcp.tool.approve"
	// KindToolRefused: a tool cannot be represented as a contract.
	KindToolRefused = "mcp.tool.refuse"
)

// Host is what a bridge needs of the ALTAR Host. cmd/altar adapts
// *gateway.Host to it.
type Host interface {
	// Mode is the host mode now.
	Mode() altarv1.HostMode
	// TrustSource makes exactly contracts trusted under source, replacing what
	// source trusted before, and says why any contract was refused (by
	// contract name).
	TrustSource(source string, contracts []*altarv1.ToolContract) map[string]error
	// Attach connects a runtime and offers its tools (gateway.Host.Attach).
	Attach(c runtime.Conn, offer *altarv1.FulfillTools) *altarv1.FulfillToolsResponse
}

// Option configures a Bridge.
type Option interface{ apply(*Bridge) }

type optionFunc func(*Bridge)

func (f optionFunc) apply(b *Bridge) { f(b) }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return optionFunc(func(b *Bridge) { b.log = l }) }

// WithAudit sets where the bridge's audit events go.
func WithAudit(s audit.Sink) Option { return optionFunc(func(b *Bridge) { b.audit = s }) }

// WithLimits bounds what the server may send.
func WithLimits(l Limits) Option { return optionFunc(func(b *Bridge) { b.lim = l.orDefault() }) }

// WithPollInterval sets how often the bridge pings the server and checks
// the lock file and the host mode (default 2s).
func WithPollInterval(d time.Duration) Option {
	return optionFunc(func(b *Bridge) {
		if d > 0 {
			b.poll = d
		}
	})
}

// WithBackoff sets the reconnection backoff: first wait, doubling up to max
// (default 200ms to 30s).
func WithBackoff(first, max time.Duration) Option {
	return optionFunc(func(b *Bridge) {
		if first > 0 && max >= first {
			b.backoffMin, b.backoffMax = first, max
		}
	})
}

// Bridge keeps one MCP server connected and its tools served (see the
// package documentation for the lifecycle).
type Bridge struct {
	srv        Server
	host       Host
	lockPath   string
	log        *slog.Logger
	audit      audit.Sink
	lim        Limits
	poll       time.Duration
	backoffMin time.Duration
	backoffMax time.Duration
	now        func() time.Time

	mu        sync.Mutex
	sess      *session
	conn      *conn
	state     State
	lockStamp lockStamp
	mode      altarv1.HostMode
	started   bool

	relist chan struct{} // tools/list_changed arrived
	check  chan struct{} // a call saw a transport error: ping now
	runCtx context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	// Call workers (internal/callworkers): workStop (closed by Close)
	// ends them, workerWG waits for them. nil on a Bridge New did not
	// build, which runs each call on a goroutine of its own.
	workers  *callworkers.Pool
	workStop chan struct{}
	workerWG sync.WaitGroup
}

// State is what a bridge serves now.
type State struct {
	// Connected reports whether the server is connected.
	Connected bool
	// Protocol is the negotiated MCP protocol version.
	Protocol string
	// ServerName and ServerVersion are what the server said about itself.
	ServerName, ServerVersion string
	// Served are the contract names served, sorted.
	Served []string
	// Withdrawn are the tools not served for want of an approved pin.
	Withdrawn []Change
	// Refused are tools that cannot be contracts, with the reason.
	Refused map[string]string
	// Restarts counts reconnections after the first.
	Restarts int
	// LastError is the last connection failure, "" when none.
	LastError string
}

type lockStamp struct {
	mod  time.Time
	size int64
	ok   bool
}

// New checks the configuration and returns a bridge that is not started.
// lockPath is the lock file (see DefaultLockFile).
func New(srv Server, host Host, lockPath string, opts ...Option) (*Bridge, error) {
	if err := srv.Validate("mcp_servers[" + srv.Name + "]"); err != nil {
		return nil, err
	}
	if lockPath == "" {
		return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_CONFIG, "MCP server %q: no lock file path", srv.Name).
			WithField("mcp_lock", "required", "the lock file path is empty")
	}
	b := &Bridge{
		srv: srv, host: host, lockPath: lockPath,
		log: slog.New(slog.DiscardHandler), audit: audit.Discard, lim: DefaultLimits(),
		poll: 2 * time.Second, backoffMin: 200 * time.Millisecond, backoffMax: 30 * time.Second,
		now: time.Now, relist: make(chan struct{}, 1), check: make(chan struct{}, 1),
		workStop: make(chan struct{}),
	}
	b.workers = callworkers.New(maxCallWorkers, b.workStop, &b.workerWG)
	for _, o := range opts {
		o.apply(b)
	}
	b.log = b.log.With("mcp_server", srv.Name)
	return b, nil
}

// Name is the server's name.
func (b *Bridge) Name() string { return b.srv.Name }

// State says what the bridge serves now.
func (b *Bridge) State() State {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.state
	s.Served = slices.Clone(s.Served)
	s.Withdrawn = slices.Clone(s.Withdrawn)
	return s
}

// Start connects to the server (bounded by ctx and the server's timeout)
// and starts the supervisor that keeps it connected until Close. An error
// is the first connection's failure; the supervisor keeps trying anyway, so
// Close must be called in every case.
func (b *Bridge) Start(ctx context.Context) error {
	b.mu.Lock()
	if b.started {
		b.mu.Unlock()
		return nil
	}
	b.started = true
	b.runCtx, b.cancel = context.WithCancel(context.Background())
	b.mu.Unlock()
	err := b.connect(ctx)
	if err != nil {
		b.setError(err)
	}
	b.wg.Add(1)
	go b.supervise()
	return err
}

// Close stops the supervisor, fails calls in flight and closes the server.
// It is idempotent.
func (b *Bridge) Close() {
	b.once.Do(func() {
		b.mu.Lock()
		cancel := b.cancel
		b.mu.Unlock()
		if cancel != nil {
			cancel()
		}
		b.wg.Wait()
		b.mu.Lock()
		sess := b.sess
		b.mu.Unlock()
		if sess != nil {
			b.down(sess, "the bridge is closing")
		}
		// Calls in flight ended with the session; idle workers end now.
		close(b.workStop)
		b.workerWG.Wait()
	})
}

func (b *Bridge) setError(err error) {
	b.mu.Lock()
	b.state.LastError = err.Error()
	b.mu.Unlock()
	b.log.Warn("MCP server not connected; retrying", "error", err)
}

// hostClosing is closed once the Host has begun closing, when the Host
// says so (gateway.Host.Closing); nil otherwise.
func (b *Bridge) hostClosing() <-chan struct{} {
	if hc, ok := b.host.(interface{ Closing() <-chan struct{} }); ok {
		return hc.Closing()
	}
	return nil
}

// supervise keeps the server connected; it owns the session's life. Once
// the Host is closing it stops reconnecting and re-syncing (calls in flight
// still run on the session until Close).
func (b *Bridge) supervise() {
	defer b.wg.Done()
	closing := b.hostClosing()
	ticker := time.NewTicker(b.poll)
	defer ticker.Stop()
	wait := b.backoffMin
	for {
		sess := b.current()
		if sess == nil {
			timer := time.NewTimer(wait)
			select {
			case <-b.runCtx.Done():
				timer.Stop()
				return
			case <-closing:
				timer.Stop()
				<-b.runCtx.Done()
				return
			case <-timer.C:
			}
			if err := b.connect(b.runCtx); err != nil {
				if b.runCtx.Err() != nil {
					return
				}
				b.setError(err)
				wait = min(wait*2, b.backoffMax)
				continue
			}
			wait = b.backoffMin
			b.mu.Lock()
			b.state.Restarts++
			b.mu.Unlock()
			continue
		}
		select {
		case <-b.runCtx.Done():
			return
		case <-closing:
			<-b.runCtx.Done()
			return
		case <-sess.ctx.Done():
			b.down(sess, "the MCP server went away")
		case <-b.relist:
			if err := b.refresh(sess); err != nil {
				b.log.Warn("re-listing tools failed", "error", err)
				b.ping(sess)
			}
		case <-b.check:
			b.ping(sess)
		case <-ticker.C:
			if b.ping(sess) {
				b.resyncIfChanged(sess)
			}
		}
	}
}

// ping checks the server answers (ping, or a first page of tools/list on
// protocol 2026-07-28, which has no ping); one that does not is taken down.
func (b *Bridge) ping(sess *session) bool {
	ctx, cancel := context.WithTimeout(sess.ctx, min(b.srv.timeout(), 10*time.Second))
	defer cancel()
	// Protocol 2026-07-28 has no ping (mcp-go's Ping then sends nothing):
	// a first page of tools/list is the probe there.
	var err error
	if mcp.IsModernProtocol(sess.protocol) {
		_, err = sess.client.ListToolsByPage(ctx, mcp.ListToolsRequest{})
	} else {
		//lint:ignore SA1019 ping is the liveness probe of protocols up to 2025-11-25, which servers speak today
		err = sess.client.Ping(ctx)
	}
	// A JSON-RPC error is an answer: the server is there.
	var te *transport.Error
	if err != nil && (errors.As(err, &te) || ctx.Err() != nil) {
		if sess.ctx.Err() == nil {
			b.log.Warn("MCP server does not answer pings", "error", err)
		}
		b.down(sess, "the MCP server does not answer")
		return false
	}
	return true
}

// resyncIfChanged syncs again when the lock file or the host mode changed.
func (b *Bridge) resyncIfChanged(sess *session) {
	stamp := b.stampLock()
	mode := b.host.Mode()
	b.mu.Lock()
	changed := stamp != b.lockStamp || mode != b.mode
	b.mu.Unlock()
	if changed {
		b.sync(sess, sess.defs)
	}
}

func (b *Bridge) stampLock() lockStamp {
	fi, err := os.Stat(b.lockPath)
	if err != nil {
		return lockStamp{}
	}
	return lockStamp{mod: fi.ModTime(), size: fi.Size(), ok: true}
}

func (b *Bridge) current() *session {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sess
}

// session is one connection to the server: one process for stdio.
type session struct {
	client   *client.Client
	ctx      context.Context // ends when the session does
	cancel   context.CancelFunc
	defs     []Definition
	protocol string
	// closeIdle closes the idle connections of an HTTP or SSE session's
	// own pool when the session ends; a no-op for stdio.
	closeIdle func()
	// direct sends plain calls of a streamable HTTP session (direct.go);
	// nil for other transports.
	direct *directHTTP

	mu       sync.Mutex
	progress map[string]func(*altarv1.Progress)
	next     uint64
}

// maxIdleConnsPerServer is how many idle connections a session keeps to an
// HTTP or SSE server: at least as many as calls usually run at once, so
// that every call reuses a connection. (mcp-go's default client uses Go's
// default pool, which keeps 2: with 64 calls at once nearly every call
// dialled a new TCP connection, and closed it.)
const maxIdleConnsPerServer = 256

// newHTTPClient is a session's own HTTP client: its connection pool lives
// and dies with the session (closeIdle).
func newHTTPClient() (*http.Client, func()) {
	var t *http.Transport
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		t = dt.Clone() // proxy from the environment, dial and TLS timeouts
	} else {
		t = &http.Transport{Proxy: http.ProxyFromEnvironment}
	}
	t.MaxIdleConns = maxIdleConnsPerServer
	t.MaxIdleConnsPerHost = maxIdleConnsPerServer
	return &http.Client{Transport: t}, t.CloseIdleConnections
}

// transport builds the mcp-go transport for the server, the function that
// closes its idle connections once the session has ended, and, for
// streamable HTTP, the session's direct caller (direct.go).
func (b *Bridge) transport() (transport.Interface, func(), *directHTTP, error) {
	noop := func() {}
	switch b.srv.Transport {
	case TransportStdio:
		env := slices.Clone(b.srv.Env)
		cmdFunc := func(ctx context.Context, command string, env []string, args []string) (*exec.Cmd, error) {
			cmd := exec.CommandContext(ctx, command, args...)
			cmd.Env = append(os.Environ(), env...)
			cmd.Dir = b.srv.Dir
			cmd.Stderr = &stderrLog{log: b.log}
			cmd.WaitDelay = 3 * time.Second
			ownProcessGroup(cmd)
			return cmd, nil
		}
		return transport.NewStdioWithOptions(b.srv.Command, env, b.srv.Args,
			transport.WithCommandFunc(cmdFunc), transport.WithCommandLogger(b.log)), noop, nil, nil
	case TransportHTTP, TransportSSE:
		headers := map[string]string{}
		for k, v := range b.srv.Headers {
			headers[k] = v
		}
		token, err := b.srv.bearerToken()
		if err != nil {
			return nil, noop, nil, err
		}
		if token != "" {
			headers["Authorization"] = "Bearer " + token
		}
		hc, closeIdle := newHTTPClient()
		if b.srv.Transport == TransportSSE {
			t, err := transport.NewSSE(b.srv.URL, transport.WithHeaders(headers), transport.WithHTTPClient(hc))
			if err != nil {
				return nil, noop, nil, err
			}
			return sse{t}, closeIdle, nil, nil
		}
		// The listening GET stream carries tools/list_changed; it keeps the
		// connection on protocol 2025-11-25, which servers speak today.
		//lint:ignore SA1019 see above
		listen := transport.WithContinuousListening()
		t, err := transport.NewStreamableHTTP(b.srv.URL, transport.WithHTTPHeaders(headers), listen,
			transport.WithHTTPLogger(b.log), transport.WithHTTPBasicClient(hc))
		if err != nil {
			return nil, noop, nil, err
		}
		pool := newConnPool(b.srv.URL)
		closeAll := closeIdle
		if pool != nil {
			closeAll = func() { closeIdle(); pool.close() }
		}
		return streamableHTTP{t}, closeAll, &directHTTP{tr: t, hc: hc, url: b.srv.URL, headers: headers, pool: pool}, nil
	}
	return nil, noop, nil, fmt.Errorf("transport %q", b.srv.Transport)
}

// connect starts the server (stdio) or reaches it (HTTP), initializes,
// lists the tools and serves them. ctx bounds the whole handshake.
func (b *Bridge) connect(ctx context.Context) error {
	sess, init, err := b.dial(ctx, b.runCtx)
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.sess = sess
	b.state.Connected = true
	b.state.Protocol = init.ProtocolVersion
	b.state.ServerName, b.state.ServerVersion = init.ServerInfo.Name, init.ServerInfo.Version
	b.state.LastError = ""
	b.mu.Unlock()
	b.log.Info("MCP server connected", "protocol", init.ProtocolVersion,
		"server", init.ServerInfo.Name, "server_version", init.ServerInfo.Version, "tools", len(sess.defs))
	b.sync(sess, sess.defs)
	return nil
}

// dial opens a session: the process (stdio) or the listening stream (HTTP)
// lives as long as life; the handshake is bounded by ctx and the timeout.
func (b *Bridge) dial(ctx, life context.Context) (*session, *mcp.InitializeResult, error) {
	tr, closeIdle, direct, err := b.transport()
	if err != nil {
		return nil, nil, err
	}
	sctx, scancel := context.WithCancel(life)
	sess := &session{ctx: sctx, cancel: scancel, closeIdle: closeIdle, direct: direct, progress: map[string]func(*altarv1.Progress){}}
	c := client.NewClient(tr)
	sess.client = c
	fail := func(what string, err error) (*session, *mcp.InitializeResult, error) {
		scancel()
		_ = c.Close()
		closeIdle()
		return nil, nil, altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE, err, "MCP server %q: %s", b.srv.Name, what)
	}
	if err := c.Start(sctx); err != nil {
		return fail("starting", err)
	}
	c.OnNotification(func(n mcp.JSONRPCNotification) { b.notified(sess, n) })
	hctx, cancel := context.WithTimeout(ctx, b.srv.timeout())
	defer cancel()
	init, err := c.Initialize(hctx, mcp.InitializeRequest{Params: mcp.InitializeParams{
		ClientInfo: mcp.Implementation{Name: "altar-gateway", Version: Version},
	}})
	if err != nil {
		return fail("initialize", err)
	}
	sess.protocol = init.ProtocolVersion
	if direct != nil {
		direct.protocol = init.ProtocolVersion
		direct.notify = func(n mcp.JSONRPCNotification) { b.notified(sess, n) }
		direct.ready()
	}
	if sess.defs, err = b.list(hctx, c); err != nil {
		return fail("tools/list", err)
	}
	return sess, init, nil
}

// Inspect connects to the server, lists its tools and disconnects: what
// `altar contracts diff` and `approve` compare with the lock file. Tools
// that cannot be read are left out and logged.
func Inspect(ctx context.Context, srv Server, opts ...Option) ([]Definition, error) {
	if err := srv.Validate("mcp_servers[" + srv.Name + "]"); err != nil {
		return nil, err
	}
	b := &Bridge{srv: srv, log: slog.New(slog.DiscardHandler), audit: audit.Discard, lim: DefaultLimits(), now: time.Now,
		relist: make(chan struct{}, 1), check: make(chan struct{}, 1)}
	for _, o := range opts {
		o.apply(b)
	}
	sess, _, err := b.dial(ctx, ctx)
	if err != nil {
		return nil, err
	}
	defer func() {
		sess.cancel()
		_ = sess.client.Close()
		sess.closeIdle()
	}()
	return sess.defs, nil
}

// list reads every page of tools/list, bounded by the limits.
func (b *Bridge) list(ctx context.Context, c *client.Client) ([]Definition, error) {
	b.mu.Lock()
	b.state.Refused = nil
	b.mu.Unlock()
	var defs []Definition
	seen := map[string]bool{}
	var cursor mcp.Cursor
	for page := 0; ; page++ {
		if page >= b.lim.MaxPages {
			return nil, fmt.Errorf("more than %d pages of tools", b.lim.MaxPages)
		}
		req := mcp.ListToolsRequest{}
		req.Params.Cursor = cursor
		res, err := c.ListToolsByPage(ctx, req)
		if err != nil {
			return nil, err
		}
		for _, t := range res.Tools {
			if len(defs) >= b.lim.MaxTools {
				return nil, fmt.Errorf("more than %d tools", b.lim.MaxTools)
			}
			if seen[t.Name] {
				return nil, fmt.Errorf("the tool %s is listed twice", quote(t.Name))
			}
			seen[t.Name] = true
			d, err := definitionOf(t, b.lim)
			if err != nil {
				b.refuse(t.Name, err)
				continue
			}
			defs = append(defs, d)
		}
		if res.NextCursor == "" {
			return defs, nil
		}
		cursor = res.NextCursor
	}
}

func (b *Bridge) refuse(tool string, err error) {
	b.log.Warn("MCP tool refused: it cannot be an ALTAR contract", "tool", tool, "error", err)
	b.audit.Record(audit.Event{Time: b.now(), Kind: KindToolRefused, Actor: b.srv.RuntimeID(), RuntimeID: b.srv.RuntimeID(),
		Tool: tool, Outcome: "refused", Reason: err.Error()})
	b.mu.Lock()
	if b.state.Refused == nil {
		b.state.Refused = map[string]string{}
	}
	b.state.Refused[tool] = err.Error()
	b.mu.Unlock()
}

// refresh re-lists the tools (after tools/list_changed) and serves them.
func (b *Bridge) refresh(sess *session) error {
	ctx, cancel := context.WithTimeout(sess.ctx, b.srv.timeout())
	defer cancel()
	defs, err := b.list(ctx, sess.client)
	if err != nil {
		return err
	}
	sess.defs = defs
	b.log.Info("MCP server's tools changed", "tools", len(defs))
	b.sync(sess, defs)
	return nil
}

// notified handles the server's notifications (on mcp-go's reader
// goroutine: it must not block).
func (b *Bridge) notified(sess *session, n mcp.JSONRPCNotification) {
	switch n.Method {
	case string(mcp.MethodNotificationToolsListChanged):
		select {
		case b.relist <- struct{}{}:
		default:
		}
	case string(mcp.MethodNotificationProgress):
		f := n.Params.AdditionalFields
		token := fmt.Sprint(f["progressToken"])
		sess.mu.Lock()
		cb := sess.progress[token]
		sess.mu.Unlock()
		if cb == nil {
			return
		}
		p := &altarv1.Progress{}
		if v, ok := f["progress"].(float64); ok {
			p.Progress = v
		}
		if v, ok := f["total"].(float64); ok {
			p.Total = v
		}
		if v, ok := f["message"].(string); ok {
			if len(v) > 1024 {
				v = strings.ToValidUTF8(v[:1024], "")
			}
			p.Message = v
		}
		cb(p)
	}
}

// down ends a session: calls in flight on it fail with
// RUNTIME_UNAVAILABLE, its tools stop being served (they stay trusted),
// and the server is closed (a stdio server is stopped).
func (b *Bridge) down(sess *session, reason string) {
	b.mu.Lock()
	if b.sess != sess {
		b.mu.Unlock()
		return
	}
	b.sess = nil
	c := b.conn
	b.conn = nil
	b.state.Connected = false
	b.state.Served = nil
	b.mu.Unlock()
	sess.cancel()
	if c != nil {
		c.end()
	}
	_ = sess.client.Close()
	sess.closeIdle()
	b.log.Warn("MCP server disconnected; its tools are unavailable until it is back", "reason", reason)
}

// stderrLog logs a stdio server's standard error at debug level, one
// bounded line at a time.
type stderrLog struct {
	log *slog.Logger
	buf []byte
}

func (w *stderrLog) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := slices.Index(w.buf, '\n')
		if i < 0 {
			if len(w.buf) > 4096 {
				w.emit(w.buf)
				w.buf = w.buf[:0]
			}
			return len(p), nil
		}
		w.emit(w.buf[:i])
		w.buf = w.buf[i+1:]
	}
}

func (w *stderrLog) emit(line []byte) {
	if len(line) > 1024 {
		line = line[:1024]
	}
	w.log.Debug("MCP server stderr", "line", strings.ToValidUTF8(string(line), "?"))
}

// errUnavailable is the error of a call with no live server.
func (b *Bridge) errUnavailable(format string, args ...any) *altarerr.Error {
	return altarerr.New(altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE, "MCP server %q: %s", b.srv.Name, fmt.Sprintf(format, args...)).
		WithDetail("runtime_id", b.srv.RuntimeID())
}
