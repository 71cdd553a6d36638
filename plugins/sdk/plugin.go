package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/altar-gateway/altar/plugins/handshake"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// EnvHost is the environment variable Run dials when given no address.
const EnvHost = "ALTAR_HOST"

// DefaultHost is the address Run dials when given none and EnvHost is
// not set.
const DefaultHost = "127.0.0.1:50051"

// pluginConnectTimeout bounds how long a plugin waits for the Host to open
// its stream after printing the handshake line.
const pluginConnectTimeout = 30 * time.Second

// pluginFlushTimeout bounds how long a plugin whose stream has ended waits
// for what it sent to reach the Host before it stops serving.
const pluginFlushTimeout = 5 * time.Second

// ErrNotPlugin is returned by ServePlugin when the process was not
// launched by a Host as a plugin (the magic cookie is not in its
// environment).
var ErrNotPlugin = errors.New("sdk: not launched by an ALTAR Host as a plugin (" +
	handshake.MagicCookieKey + " is not " + handshake.MagicCookieValue + "); this program serves as a plugin only when a Host starts it")

// IsPlugin reports whether the process was launched by a Host as a plugin:
// whether its environment holds the handshake's magic cookie.
func IsPlugin() bool {
	return os.Getenv(handshake.MagicCookieKey) == handshake.MagicCookieValue
}

// Run serves the runtime the way the process was started: as a plugin when
// a Host launched it (IsPlugin; see ServePlugin), else by dialling the
// Host at addr (Serve), or, when addr is "", at $ALTAR_HOST, else
// DefaultHost. In both modes a runtime id in $ALTAR_RUNTIME_ID replaces
// the one given to New. The tools are the same either way.
func (r *Runtime) Run(ctx context.Context, addr string) error {
	if id := os.Getenv(handshake.EnvRuntimeID); id != "" {
		r.setID(id)
	}
	if IsPlugin() {
		return r.ServePlugin(ctx)
	}
	if addr == "" {
		addr = os.Getenv(EnvHost)
	}
	if addr == "" {
		addr = DefaultHost
	}
	return r.Serve(ctx, addr)
}

// ServePlugin serves the runtime as a go-plugin plugin of a Host that
// launched it (see plugins/handshake): it checks the magic cookie, listens
// on 127.0.0.1 on a free port, serves altar.v1.PluginService and
// grpc.health.v1.Health (service "plugin" SERVING), and prints go-plugin's
// handshake line on standard output. The Host then opens the one
// PluginService.Connect stream, on which the runtime protocol runs as over
// a dialled connection (announce, discover, fulfil, calls), with the id in
// $ALTAR_RUNTIME_ID when it is set.
//
// ServePlugin returns when that stream ends (the Host closed it, or the
// Host is gone), when ctx ends, or after Shutdown; it does not wait for a
// second connection: the Host restarts a plugin whose stream ended. It
// returns ErrNotPlugin, at once, in a process the Host did not launch, and
// an error when the Host does not connect within 30 seconds. Every
// goroutine it starts has stopped when it returns.
//
// A plugin's standard output carries the handshake line; log to standard
// error, which the Host captures into its own log under the plugin's name.
func (r *Runtime) ServePlugin(ctx context.Context) error {
	return r.servePlugin(ctx, os.Getenv, os.Stdout)
}

func (r *Runtime) servePlugin(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	if getenv(handshake.MagicCookieKey) != handshake.MagicCookieValue {
		return ErrNotPlugin
	}
	if v := getenv(handshake.EnvProtocolVersions); v != "" {
		want := fmt.Sprint(handshake.ProtocolVersion)
		if !slices.Contains(strings.Split(v, ","), want) {
			return fmt.Errorf("sdk: the Host accepts plugin protocol versions %s; this plugin speaks %s", v, want)
		}
	}
	if id := getenv(handshake.EnvRuntimeID); id != "" {
		r.setID(id)
	}
	if !r.serving.CompareAndSwap(false, true) {
		return ErrServing
	}
	defer close(r.served)

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("sdk: plugin listener: %w", err)
	}
	ps := &pluginServer{streams: make(chan *pluginStream), stopping: make(chan struct{})}
	srv := grpc.NewServer()
	altarv1.RegisterPluginServiceServer(srv, ps)
	hs := health.NewServer()
	hs.SetServingStatus(handshake.HealthService, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(lis)
	}()
	defer func() {
		close(ps.stopping)
		// GracefulStop flushes what was sent before the stream ended (the
		// last chunks and results of a drain): Stop would cut the
		// connection with them still queued, and the process exits next.
		stopped := make(chan struct{})
		go func() {
			srv.GracefulStop()
			close(stopped)
		}()
		t := time.NewTimer(pluginFlushTimeout)
		select {
		case <-stopped:
		case <-t.C:
			srv.Stop()
			<-stopped
		}
		t.Stop()
		<-served
	}()

	if _, err := fmt.Fprintf(stdout, "%d|%d|tcp|%s|grpc\n", handshake.CoreProtocolVersion, handshake.ProtocolVersion, lis.Addr()); err != nil {
		return fmt.Errorf("sdk: writing the plugin handshake: %w", err)
	}
	if f, ok := stdout.(*os.File); ok {
		_ = f.Sync()
	}

	var calls sync.WaitGroup
	defer calls.Wait()
	log := r.cfg.logger.With("runtime_id", r.id, "mode", "plugin")
	dial := func(sctx context.Context) (clientStream, error) {
		t := time.NewTimer(pluginConnectTimeout)
		defer t.Stop()
		select {
		case s := <-ps.streams:
			context.AfterFunc(sctx, s.end)
			return s, nil
		case <-sctx.Done():
			return nil, context.Cause(sctx)
		case <-r.shutdown:
			return nil, errors.New("shut down before the Host connected")
		case <-t.C:
			return nil, fmt.Errorf("the Host did not open the plugin stream within %v", pluginConnectTimeout)
		}
	}
	accepted, err := r.connect(ctx, dial, "the Host (plugin mode)", &calls, log)
	if ctx.Err() != nil || r.shuttingDown() {
		return nil
	}
	if accepted {
		// However it ended, the Host is done with this process: it
		// restarts a plugin whose stream ended while it runs.
		log.Info("the plugin stream ended", "reason", err)
		return nil
	}
	return fmt.Errorf("sdk: plugin: %w", err)
}

// setID changes the runtime's id before it serves.
func (r *Runtime) setID(id string) {
	if r.serving.Load() || id == r.id {
		return
	}
	r.id = id
	a := proto.Clone(r.announce).(*altarv1.AnnounceRuntime)
	a.RuntimeId = id
	r.announce = a
}

var errPluginStreamEnded = errors.New("the plugin stream ended")

// pluginServer is the plugin's PluginService: it hands the Host's one
// stream to ServePlugin's connection and holds the RPC open until that
// connection is done with it.
type pluginServer struct {
	altarv1.UnimplementedPluginServiceServer
	streams  chan *pluginStream
	stopping chan struct{} // closed when ServePlugin takes no more streams
}

func (p *pluginServer) Connect(stream altarv1.PluginService_ConnectServer) error {
	s := &pluginStream{stream: stream, done: make(chan struct{})}
	select {
	case p.streams <- s:
	case <-stream.Context().Done():
		return stream.Context().Err()
	case <-p.stopping:
		return status.Error(codes.Unavailable, "the plugin serves one stream, and it has ended")
	}
	select {
	case <-s.done:
	case <-stream.Context().Done():
	}
	return nil
}

// pluginStream is the plugin's end of PluginService.Connect as the
// session's clientStream: the same messages as a dialled stream, with the
// dialling reversed. Half-closing it (CloseSend) ends the RPC, which is
// how a server ends its side; so does the end of the session's context.
type pluginStream struct {
	stream   altarv1.PluginService_ConnectServer
	done     chan struct{}
	doneOnce sync.Once
	ended    atomic.Bool
}

func (s *pluginStream) end() {
	s.doneOnce.Do(func() {
		s.ended.Store(true)
		close(s.done)
	})
}

func (s *pluginStream) Send(m *altarv1.RuntimeMessage) error {
	if s.ended.Load() {
		return io.EOF
	}
	return s.stream.Send(m)
}

func (s *pluginStream) Recv() (*altarv1.HostMessage, error) {
	if s.ended.Load() {
		return nil, errPluginStreamEnded
	}
	m, err := s.stream.Recv()
	if err != nil && errors.Is(err, io.EOF) {
		return nil, errPluginStreamEnded
	}
	return m, err
}

func (s *pluginStream) CloseSend() error {
	s.end()
	return nil
}

var _ clientStream = (*pluginStream)(nil)
