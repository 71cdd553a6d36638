package sdk

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/altar-gateway/altar/gateway/altarerr"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// ErrServing is returned by a second call to Serve.
var ErrServing = errors.New("sdk: Serve was already called on this runtime")

// Runtime is an ALTAR runtime: a set of tools served to a Host over the
// runtime protocol. Build one with New, run it with Serve, stop it by
// cancelling Serve's context or, gracefully, with Shutdown.
type Runtime struct {
	id       string
	cfg      config
	handler  *Handler
	announce *altarv1.AnnounceRuntime

	serving      atomic.Bool
	served       chan struct{} // closed when Serve returns
	shutdown     chan struct{} // closed by Shutdown
	shutdownOnce sync.Once

	mu     sync.Mutex
	status Status
	sess   *session
}

// Status is a snapshot of a runtime's connection to its Host.
type Status struct {
	// Connected is true while a stream is open and the Host has accepted
	// the runtime.
	Connected bool
	// HostID, HostMode and Capabilities are from the Host's answer to the
	// latest announcement; Capabilities are those both sides have.
	HostID       string
	HostMode     altarv1.HostMode
	Capabilities []string
	// Fulfilment is the outcome of the latest bootstrap, nil until the Host
	// has answered it.
	Fulfilment *Fulfilment
	// Draining is true once the Host sent Drain (or Shutdown was called) on
	// the current connection.
	Draining bool
	// InFlight counts the calls executing on the current connection.
	InFlight int
	// Connects counts the connections the Host has accepted.
	Connects int
	// LastError says why the latest connection ended or failed, if it did.
	LastError error
}

// Fulfilment is what the Host made of a runtime's tools in one bootstrap.
type Fulfilment struct {
	HostID   string
	HostMode altarv1.HostMode
	// Accepted lists the tools the Host now routes to the runtime, by
	// FulfillTools or RegisterTools.
	Accepted []*altarv1.FulfilledTool
	// Rejected lists the tools it does not: those the Host refused, with
	// its error, and those it did not offer in AvailableContracts, with an
	// ERROR_CODE_CONTRACT_NOT_TRUSTED error made by the SDK.
	Rejected []*altarv1.ToolRejection
}

// Err is nil when every tool was accepted, else a *FulfilmentError.
func (f Fulfilment) Err() error {
	if len(f.Rejected) == 0 {
		return nil
	}
	return &FulfilmentError{Rejected: f.Rejected}
}

// FulfilmentError lists the tools a Host did not accept.
type FulfilmentError struct {
	Rejected []*altarv1.ToolRejection
}

func (e *FulfilmentError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "sdk: %d tool(s) not fulfilled: ", len(e.Rejected))
	for i, r := range e.Rejected {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: %s: %s", r.GetToolName(), altarerr.CodeName(r.GetError().GetCode()), r.GetError().GetMessage())
	}
	return b.String()
}

// New returns a runtime with the id (unique among the Host's runtimes;
// reconnecting with the same id replaces the earlier connection) serving the
// tools. It refuses tools that failed to build, duplicate names, and an
// announcement the Host would refuse (capabilities, compliance level). New
// does no I/O.
func New(id string, tools []Tool, opts ...Option) (*Runtime, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o.apply(&cfg)
	}
	if id == "" {
		return nil, errors.New("sdk: a runtime needs an id")
	}
	if cfg.reconnectMin <= 0 || cfg.reconnectMax < cfg.reconnectMin {
		return nil, fmt.Errorf("sdk: WithReconnect(%v, %v): want 0 < min <= max", cfg.reconnectMin, cfg.reconnectMax)
	}
	h, err := newHandler(tools, cfg.logger)
	if err != nil {
		return nil, err
	}
	caps := altarv1.CapabilitiesForLevel(cfg.level)
	caps = append(caps, altarv1.CapabilityBinaryPayloads, altarv1.CapabilityFlowControl)
	if cfg.dev {
		caps = append(caps, altarv1.CapabilityRegisterTools)
	}
	if cfg.onSession != nil {
		caps = append(caps, altarv1.CapabilitySessionState)
	}
	for _, c := range cfg.capabilities {
		if !slices.Contains(caps, c) {
			caps = append(caps, c)
		}
	}
	if err := altarv1.ValidateCapabilities(caps); err != nil {
		return nil, fmt.Errorf("sdk: %w", err)
	}
	if err := altarv1.CheckComplianceLevel(cfg.level, caps); err != nil {
		return nil, fmt.Errorf("sdk: %w", err)
	}
	for _, t := range h.list {
		if t.t.streaming && !slices.Contains(caps, altarv1.CapabilityStreaming) {
			return nil, fmt.Errorf("sdk: tool %q streams, but the runtime does not declare %q (use Level 2, or WithCapabilities)",
				t.t.name, altarv1.CapabilityStreaming)
		}
	}
	return &Runtime{
		id:      id,
		cfg:     cfg,
		handler: h,
		announce: &altarv1.AnnounceRuntime{
			RuntimeId:       id,
			Language:        cfg.language,
			Version:         cfg.version,
			ProtocolVersion: altarv1.ProtocolVersion,
			Capabilities:    caps,
			ComplianceLevel: cfg.level,
			Metadata:        cfg.metadata,
			MaxConcurrency:  cfg.maxConcurrency,
		},
		served:   make(chan struct{}),
		shutdown: make(chan struct{}),
	}, nil
}

// ID is the runtime's id.
func (r *Runtime) ID() string { return r.id }

// Handler is the runtime's transport-independent call executor.
func (r *Runtime) Handler() *Handler { return r.handler }

// Status returns a snapshot of the connection.
func (r *Runtime) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.status
	st.Capabilities = slices.Clone(st.Capabilities)
	if r.sess != nil {
		st.Draining, st.InFlight = r.sess.counts()
	}
	return st
}

// Serve connects to the Host's RuntimeService at addr ("host:port", or any
// gRPC target; or a "ws://" or "wss://" URL of the Host's
// /v1/runtimes/connect WebSocket, see WithWebSocketDialOptions) and serves the tools until ctx ends or Shutdown completes, in
// which case it returns nil. When the stream breaks it reconnects with
// exponential backoff and jitter (WithReconnect), announcing again.
//
// It returns an error when the Host refuses the runtime with a
// non-retryable code (an unsupported protocol version, missing
// capabilities): the error wraps the Host's *altarerr.Error, so its code and
// message are at hand with errors.As. Refusals with a retryable code are
// retried.
//
// Every goroutine Serve starts (the connection's sender, heartbeats, each
// call's tool) is stopped before it returns; a tool that ignores its
// context's cancellation holds Serve up.
func (r *Runtime) Serve(ctx context.Context, addr string) error {
	if !r.serving.CompareAndSwap(false, true) {
		return ErrServing
	}
	defer close(r.served)
	var dial dialer
	if isWebSocketURL(addr) {
		dial = r.webSocketDialer(addr)
	} else {
		cc, err := grpc.NewClient(addr, r.dialOptions(addr)...)
		if err != nil {
			return fmt.Errorf("sdk: dial %s: %w", addr, err)
		}
		defer cc.Close()
		dial = grpcDialer(altarv1.NewRuntimeServiceClient(cc))
	}

	var calls sync.WaitGroup
	defer calls.Wait()

	log := r.cfg.logger.With("runtime_id", r.id, "host", addr)
	attempt := 0
	for {
		if ctx.Err() != nil || r.shuttingDown() {
			return nil
		}
		accepted, err := r.connect(ctx, dial, addr, &calls, log)
		var refused *RefusedError
		if errors.As(err, &refused) && !refused.Err.Retryable() {
			return err
		}
		if ctx.Err() != nil || r.shuttingDown() {
			return nil
		}
		if accepted {
			attempt = 0
		}
		delay := backoff(attempt, r.cfg.reconnectMin, r.cfg.reconnectMax)
		attempt++
		log.Warn("connection to the Host ended; reconnecting", "error", err, "retry_in", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-r.shutdown:
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// Shutdown stops the runtime gracefully: the current connection withdraws
// its tools, takes no new calls, lets the calls in flight finish and send
// their results, then closes its side of the stream; Serve then returns nil
// without reconnecting. Shutdown waits for Serve to return or for ctx to
// end, whichever is first (then it returns ctx's error; cancel Serve's
// context to stop at once).
func (r *Runtime) Shutdown(ctx context.Context) error {
	r.shutdownOnce.Do(func() { close(r.shutdown) })
	if !r.serving.Load() {
		return nil
	}
	select {
	case <-r.served:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *Runtime) shuttingDown() bool {
	select {
	case <-r.shutdown:
		return true
	default:
		return false
	}
}

// RefusedError is a Host's refusal of the runtime's announcement (or a
// protocol error in answer to it). Err is the Host's error.
type RefusedError struct {
	HostID string
	Err    *altarerr.Error
}

func (e *RefusedError) Error() string {
	host := "the Host"
	if e.HostID != "" {
		host = "Host " + e.HostID
	}
	return fmt.Sprintf("sdk: %s refused the runtime: %v", host, e.Err)
}

func (e *RefusedError) Unwrap() error { return e.Err }

// dialOptions puts the SDK's defaults first, so the caller's win.
func (r *Runtime) dialOptions(addr string) []grpc.DialOption {
	creds := r.cfg.creds
	if creds == nil {
		if isLoopback(addr) {
			creds = insecure.NewCredentials()
		} else {
			creds = credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})
		}
	}
	return append([]grpc.DialOption{grpc.WithTransportCredentials(creds)}, r.cfg.dialOpts...)
}

// isLoopback reports whether a gRPC target names this machine.
func isLoopback(target string) bool {
	if strings.HasPrefix(target, "unix:") || strings.HasPrefix(target, "unix-abstract:") {
		return true
	}
	if _, rest, ok := strings.Cut(target, ":///"); ok {
		target = rest
	}
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		host = target
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// backoff is the delay before attempt n (from 0): min doubled n times,
// capped at max, with "equal jitter" (half fixed, half random) so that many
// runtimes restarted together do not reconnect in step.
func backoff(n int, minDelay, maxDelay time.Duration) time.Duration {
	d := maxDelay
	if n < 62 {
		if x := minDelay << n; x > 0 && x < maxDelay {
			d = x
		}
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

func (r *Runtime) setSession(s *session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sess = s
}

func (r *Runtime) updateStatus(fn func(*Status)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fn(&r.status)
}
