package launch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/runtime"
	"github.com/altar-gateway/altar/plugins/handshake"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// healthTimeout bounds the health check of a started plugin.
const healthTimeout = 5 * time.Second

// maxMessage bounds one message from a plugin, as gRPC's default bounds
// one from a runtime that dialled in (go-plugin's own default is 2 GiB).
const maxMessage = 4 << 20

// killTimeout is how long a plugin whose stream has ended may take to exit
// before it is killed outright (go-plugin itself waits 2 s, when it is not
// stuck asking a wedged process to shut down).
const killTimeout = 3 * time.Second

// Target is where plugins' runtime streams are served: *gateway.Host. It
// runs the runtime protocol on the stream (announce, discover, fulfil,
// calls) under the same rules as for a runtime that dialled in, and
// returns when the stream has ended (the caller then ends the stream).
type Target interface {
	ServeRuntime(stream runtime.MessageStream, transport string) error
}

// closingTarget is a Target that says when it has begun shutting down
// (gateway.Host): a plugin whose stream ends from then on is not
// restarted.
type closingTarget interface {
	Closing() <-chan struct{}
}

// State is where a plugin is in its life.
type State string

// States of a plugin.
const (
	// StateStarting: the process is being started (the first time).
	StateStarting State = "starting"
	// StateRunning: the process runs and its stream is open.
	StateRunning State = "running"
	// StateRestarting: it ended and waits for its restart (backoff).
	StateRestarting State = "restarting"
	// StateFailed: it stays down: it cannot start (a pinned hash that does
	// not match, a missing executable, a wrong runtime id) or it used up
	// its restart budget. Status.LastError says why.
	StateFailed State = "failed"
	// StateStopped: the supervisor (or the Host) closed.
	StateStopped State = "stopped"
)

// Status is a snapshot of one plugin.
type Status struct {
	Name  string
	State State
	// PID is the process id while running, else the last one (0 before
	// the first start).
	PID int
	// Restarts counts restarts since the supervisor started.
	Restarts int
	// LastError says why the plugin last ended or failed to start.
	LastError error
	// Since is when the plugin entered State.
	Since time.Time
}

// Proto is the status as the Host API reports it (ListRuntimes).
func (st Status) Proto() *altarv1.PluginInfo {
	info := &altarv1.PluginInfo{Name: st.Name, State: string(st.State), Pid: int64(st.PID), Restarts: uint32(st.Restarts)}
	if st.LastError != nil {
		info.LastError = st.LastError.Error()
	}
	if !st.Since.IsZero() {
		info.Since = timestamppb.New(st.Since)
	}
	return info
}

// Option configures a Supervisor.
type Option interface{ apply(*options) }

type options struct {
	logger *slog.Logger
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithLogger sets the logger; plugins' output is logged through it with
// the attribute plugin=<name>.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o *options) { o.logger = l })
}

// Supervisor launches plugins, connects each to the Target, restarts those
// that end, and kills them all on Close.
//
// Lifecycle: New (validates, no I/O) → Start (launches every plugin and
// waits for each one's first start) → Close (no more restarts; every
// process killed and waited for). Each plugin is run by one goroutine owned
// by the Supervisor, which Close stops and waits for.
type Supervisor struct {
	target  Target
	closing <-chan struct{} // nil when the Target does not say
	log     *slog.Logger
	plugins []*plugin

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	startOnce sync.Once
	closeOnce sync.Once
	closeMu   sync.Mutex // orders Start's wg.Add before Close's wg.Wait
}

// New returns a supervisor of the plugins, which it validates; names must
// be unique. It does no I/O.
func New(target Target, plugins []Config, opts ...Option) (*Supervisor, error) {
	o := options{logger: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt.apply(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	s := &Supervisor{target: target, log: o.logger}
	if ct, ok := target.(closingTarget); ok {
		s.closing = ct.Closing()
	}
	e := altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_CONFIG, "invalid plugins")
	seen := map[string]int{}
	for i, c := range plugins {
		prefix := fmt.Sprintf("plugins[%d].", i)
		var ce *altarerr.Error
		if err := c.Validate(); errors.As(err, &ce) {
			for _, f := range ce.Fields {
				e.WithField(prefix+f.GetPath(), f.GetRule(), f.GetMessage())
			}
		}
		if j, dup := seen[c.Name]; dup {
			e.WithField(prefix+"name", "unique", fmt.Sprintf("%q is also the name of plugins[%d]", c.Name, j))
		}
		seen[c.Name] = i
		c = c.withDefaults()
		s.plugins = append(s.plugins, &plugin{
			s:     s,
			cfg:   c,
			log:   o.logger.With("plugin", c.Name),
			ready: make(chan struct{}),
			st:    Status{Name: c.Name, State: StateStarting, Since: time.Now()},
		})
	}
	if len(e.Fields) > 0 {
		return nil, e
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Start launches every plugin and waits, within ctx, until each is running
// or has failed its first start. It returns the errors of those that
// failed (joined); they are restarted, or stay down, by their policy. It
// starts the plugins once; a second call only waits again.
func (s *Supervisor) Start(ctx context.Context) error {
	closed := false
	s.startOnce.Do(func() {
		s.closeMu.Lock()
		defer s.closeMu.Unlock()
		if closed = s.ctx.Err() != nil; closed {
			return
		}
		for _, p := range s.plugins {
			s.wg.Add(1)
			go p.run()
		}
	})
	if closed {
		return errors.New("launch: Start after Close")
	}
	var errs []error
	for _, p := range s.plugins {
		select {
		case <-p.ready:
		case <-ctx.Done():
			return fmt.Errorf("waiting for plugin %q to start: %w", p.cfg.Name, ctx.Err())
		}
		if st := p.status(); st.State != StateRunning && st.LastError != nil {
			errs = append(errs, st.LastError)
		}
	}
	return errors.Join(errs...)
}

// Status returns every plugin's status, in configuration order.
func (s *Supervisor) Status() []Status {
	out := make([]Status, len(s.plugins))
	for i, p := range s.plugins {
		out[i] = p.status()
	}
	return out
}

// Close stops restarting and kills every plugin, waiting for each process
// to exit (go-plugin first closes the connection, on which an ALTAR plugin
// exits, and the process is killed if it has not within two to three
// seconds). Calls in flight on a plugin fail with
// ERROR_CODE_RUNTIME_UNAVAILABLE; to let them finish, close the Host first
// (it drains its runtimes). Close is idempotent; ctx bounds the wait, not
// the stopping, which goes on in the background.
func (s *Supervisor) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.closeMu.Lock() // after Start has added its goroutines, or never will
		defer s.closeMu.Unlock()
		s.cancel()
	})
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("plugins still stopping: %w", ctx.Err())
	}
}

// stopping reports whether the plugins are being stopped for good.
func (s *Supervisor) stopping() bool {
	if s.ctx.Err() != nil {
		return true
	}
	select {
	case <-s.closing:
		return true
	default:
		return false
	}
}

// plugin is one configured plugin and its goroutine's state.
type plugin struct {
	s   *Supervisor
	cfg Config
	log *slog.Logger

	ready     chan struct{} // closed once running or after the first attempt
	readyOnce sync.Once

	mu sync.Mutex
	st Status
}

func (p *plugin) status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.st
}

func (p *plugin) set(state State, pid int, err error) {
	p.mu.Lock()
	p.st.State, p.st.Since = state, time.Now()
	if pid != 0 {
		p.st.PID = pid
	}
	if err != nil {
		p.st.LastError = err
	}
	p.mu.Unlock()
	if state != StateStarting {
		p.readyOnce.Do(func() { close(p.ready) })
	}
}

// fatalError is a failure that restarting cannot mend.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

// run starts the plugin and restarts it by its policy until the
// supervisor closes.
func (p *plugin) run() {
	defer p.s.wg.Done()
	pol := p.cfg.Restart
	var restarts []time.Time
	failures := 0
	for {
		if p.s.stopping() {
			p.set(StateStopped, 0, nil)
			return
		}
		began := time.Now()
		err := p.runOnce()
		if p.s.stopping() {
			p.set(StateStopped, 0, nil)
			p.log.Info("plugin stopped")
			return
		}
		var fatal *fatalError
		if errors.As(err, &fatal) {
			p.set(StateFailed, 0, fatal.err)
			p.log.Error("plugin failed; not restarting it", "error", fatal.err)
			return
		}
		now := time.Now()
		restarts = slices.DeleteFunc(restarts, func(t time.Time) bool { return now.Sub(t) >= pol.Window })
		if len(restarts) >= pol.Budget {
			e := altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE, err,
				"plugin %q ended %d times within %v (restart.budget %d per restart.window); it stays down until the Host restarts",
				p.cfg.Name, len(restarts)+1, pol.Window, pol.Budget)
			p.set(StateFailed, 0, e)
			p.log.Error("plugin restart budget used up; not restarting it", "error", e)
			return
		}
		var delay time.Duration
		delay, failures = restartDelay(pol, failures, now.Sub(began))
		p.set(StateRestarting, 0, err)
		p.log.Warn("plugin ended; restarting it", "error", err, "retry_in", delay)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-p.s.ctx.Done():
			t.Stop()
		case <-p.s.closing:
			t.Stop()
		}
		if p.s.stopping() {
			p.set(StateStopped, 0, nil)
			return
		}
		restarts = append(restarts, time.Now())
		p.mu.Lock()
		p.st.Restarts++
		p.mu.Unlock()
	}
}

// restartDelay is the delay before restarting a plugin whose run lasted
// ran, after failures consecutive short runs before it, and the count of
// consecutive short runs that includes this one. A run that lasted
// MaxBackoff or longer starts the doubling again from MinBackoff.
func restartDelay(pol RestartPolicy, failures int, ran time.Duration) (delay time.Duration, next int) {
	if ran >= pol.MaxBackoff {
		failures = 0
	}
	return backoff(failures, pol.MinBackoff, pol.MaxBackoff), failures + 1
}

// backoff is the delay before restart n (from 0): min doubled n times,
// capped at max, with "equal jitter" so that plugins that failed together
// do not restart in step.
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

// runOnce starts the process, serves its stream until it ends, and kills
// the process. A *fatalError means starting it again cannot help.
func (p *plugin) runOnce() (err error) {
	cmd, err := p.command()
	if err != nil {
		return &fatalError{err}
	}
	var secure *goplugin.SecureConfig
	if p.cfg.SHA256 != "" {
		actual, err := FileSHA256(cmd.Path)
		if err != nil {
			return &fatalError{altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INVALID_CONFIG, err,
				"plugin %q: hashing the executable %s", p.cfg.Name, cmd.Path)}
		}
		if actual != p.cfg.SHA256 {
			return &fatalError{altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_CONFIG,
				"plugin %q not started: the executable %s has SHA-256 %s, but sha256 pins %s",
				p.cfg.Name, cmd.Path, actual, p.cfg.SHA256).
				WithField("sha256", "pin", "the executable does not match its pin").
				WithDetail("expected_sha256", p.cfg.SHA256).WithDetail("actual_sha256", actual)}
		}
		sum, _ := hex.DecodeString(p.cfg.SHA256) // Validate checked it
		secure = &goplugin.SecureConfig{Checksum: sum, Hash: sha256.New()}
	}

	stderr := &outputLogger{log: p.log, stream: "stderr"}
	stdout := &outputLogger{log: p.log, stream: "stdout"}
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig:  Handshake,
		Plugins:          goplugin.PluginSet{"runtime": runtimePlugin{}},
		Cmd:              cmd,
		SecureConfig:     secure,
		StartTimeout:     p.cfg.StartTimeout,
		Stderr:           stderr,
		SyncStderr:       stderr,
		SyncStdout:       stdout,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		Logger:           &hclogAdapter{log: p.log, dropName: filepath.Base(cmd.Path)},
		SkipHostEnv:      true,
		GRPCDialOptions:  []grpc.DialOption{grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessage))},
	})
	defer func() {
		// go-plugin's Kill asks the plugin to shut down over gRPC with no
		// deadline, which hangs on a process that is stopped or wedged:
		// past killTimeout the process is killed outright, which ends that
		// call (an ALTAR plugin has exited by then: its stream ended).
		hard := time.AfterFunc(killTimeout, func() {
			if cmd.Process != nil {
				_ = cmd.Process.Kill()
			}
		})
		client.Kill() // returns once the process is reaped
		hard.Stop()
		stderr.flush()
		stdout.flush()
		if ps := cmd.ProcessState; ps != nil {
			p.log.Info("plugin process exited", "pid", ps.Pid(), "status", ps.String())
			var ae *altarerr.Error
			if errors.As(err, &ae) && ae.Code != altarv1.ErrorCode_ERROR_CODE_INVALID_CONFIG {
				err = fmt.Errorf("%w (process %d: %s)", err, ps.Pid(), ps)
			}
		}
	}()

	rpc, err := client.Client()
	if err != nil {
		if errors.Is(err, goplugin.ErrChecksumsDoNotMatch) {
			return &fatalError{altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INVALID_CONFIG, err,
				"plugin %q not started: the executable %s changed while it was checked against its sha256 pin", p.cfg.Name, cmd.Path)}
		}
		return altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE, err, "plugin %q did not start", p.cfg.Name)
	}
	pid := 0
	if cmd.Process != nil {
		pid = cmd.Process.Pid
	}
	gc, ok := rpc.(*goplugin.GRPCClient)
	if !ok {
		return &fatalError{fmt.Errorf("plugin %q does not speak gRPC", p.cfg.Name)}
	}
	if err := checkHealth(p.s.ctx, gc.Conn); err != nil {
		return altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE, err,
			"plugin %q (pid %d) is not healthy", p.cfg.Name, pid)
	}

	ctx, cancel := context.WithCancel(p.s.ctx)
	defer cancel()
	cs, err := altarv1.NewPluginServiceClient(gc.Conn).Connect(ctx)
	if err != nil {
		return altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE, err,
			"plugin %q (pid %d): opening PluginService.Connect", p.cfg.Name, pid)
	}
	p.set(StateRunning, pid, nil)
	p.log.Info("plugin started", "pid", pid, "command", cmd.Path)
	hs := &hostStream{stream: cs, ctx: ctx, cancel: cancel, name: p.cfg.Name}
	err = p.s.target.ServeRuntime(hs, handshake.Transport)
	cancel()
	if hs.wrongID != nil {
		return &fatalError{hs.wrongID}
	}
	if err == nil {
		err = altarerr.New(altarv1.ErrorCode_ERROR_CODE_CONNECTION_LOST, "plugin %q (pid %d) ended its stream", p.cfg.Name, pid)
	}
	p.log.Info("plugin stream ended", "pid", pid, "reason", err)
	return err
}

// command builds the unstarted command: the executable resolved, the
// environment the Host's without its ALTAR_* variables, then Env, then
// the runtime id. go-plugin appends its own variables (the magic cookie).
func (p *plugin) command() (*exec.Cmd, error) {
	path := p.cfg.Command
	if strings.ContainsRune(path, os.PathSeparator) && !filepath.IsAbs(path) {
		base := p.cfg.Dir
		if base == "" {
			base = "."
		}
		abs, err := filepath.Abs(filepath.Join(base, path))
		if err != nil {
			return nil, err
		}
		path = abs
	}
	cmd := exec.Command(path, p.cfg.Args...)
	if cmd.Err != nil {
		return nil, altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INVALID_CONFIG, cmd.Err,
			"plugin %q: command %q", p.cfg.Name, p.cfg.Command).WithField("command", "executable", cmd.Err.Error())
	}
	if st, err := os.Stat(cmd.Path); err != nil {
		return nil, altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INVALID_CONFIG, err,
			"plugin %q: command %q", p.cfg.Name, p.cfg.Command).WithField("command", "executable", err.Error())
	} else if !st.Mode().IsRegular() {
		return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_CONFIG,
			"plugin %q: command %s is not a regular file", p.cfg.Name, cmd.Path).WithField("command", "executable", "not a regular file")
	}
	cmd.Dir = p.cfg.Dir
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "ALTAR_") })
	env = append(env, p.cfg.Env...)
	cmd.Env = append(env, handshake.EnvRuntimeID+"="+p.cfg.Name)
	setProcAttr(cmd)
	return cmd, nil
}

// checkHealth asks the plugin's gRPC health service for "plugin".
func checkHealth(ctx context.Context, cc *grpc.ClientConn) error {
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{Service: handshake.HealthService})
	if err != nil {
		return err
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("health service %q reports %s", handshake.HealthService, resp.GetStatus())
	}
	return nil
}

// runtimePlugin makes go-plugin accept the gRPC protocol; the Supervisor
// uses the connection itself rather than dispensing.
type runtimePlugin struct {
	goplugin.NetRPCUnsupportedPlugin
}

func (runtimePlugin) GRPCServer(*goplugin.GRPCBroker, *grpc.Server) error {
	return errors.New("launch: the Host does not serve plugins")
}

func (runtimePlugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, cc *grpc.ClientConn) (any, error) {
	return cc, nil
}

// hostStream is the Host's end of a plugin's PluginService.Connect stream,
// as the runtime service's MessageStream: it sends HostMessages and
// receives RuntimeMessages, exactly the Host's side of a dialled-in
// runtime's stream. Its context is the one the stream was opened with,
// ended when Recv fails. It refuses an announcement of another runtime id
// than the plugin's name.
type hostStream struct {
	stream    grpc.BidiStreamingClient[altarv1.HostMessage, altarv1.RuntimeMessage]
	ctx       context.Context
	cancel    context.CancelFunc
	name      string
	announced bool  // touched only by the receiving goroutine
	wrongID   error // set before Recv returns it
}

func (s *hostStream) Context() context.Context          { return s.ctx }
func (s *hostStream) Send(m *altarv1.HostMessage) error { return s.stream.Send(m) }

func (s *hostStream) Recv() (*altarv1.RuntimeMessage, error) {
	m, err := s.stream.Recv()
	if err != nil {
		s.cancel()
		return nil, err
	}
	if !s.announced {
		s.announced = true
		if a := m.GetAnnounce(); a != nil && a.GetRuntimeId() != s.name {
			s.wrongID = altarerr.New(altarv1.ErrorCode_ERROR_CODE_PROTOCOL_VIOLATION,
				"plugin %q announced runtime id %q; a plugin must announce its name, which the Host gives it in %s",
				s.name, a.GetRuntimeId(), handshake.EnvRuntimeID).WithField("/runtime_id", "plugin_name", "must be "+s.name)
			s.cancel()
			return nil, s.wrongID
		}
	}
	return m, nil
}

var _ runtime.MessageStream = (*hostStream)(nil)
