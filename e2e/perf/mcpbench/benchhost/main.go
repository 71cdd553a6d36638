package main

import (
	"context"
	"flag"
	"fmt"
	"github.com/altar-gateway/altar/gateway/config"
	"github.com/altar-gateway/altar/internal/gcfloor"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // served only with -pprof-addr
	"os"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"runtime/pprof"
	"syscall"
	"time"

	mcpbridge "github.com/altar-gateway/altar/bridges/mcp"
	"github.com/altar-gateway/altar/gateway"
	"github.com/altar-gateway/altar/gateway/runtime"
	"github.com/altar-gateway/altar/plugins/sdk"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// setupTimeout bounds connecting the bridge; closeTimeout bounds the Host's
// shutdown.
const (
	setupTimeout = 30 * time.Second
	closeTimeout = 10 * time.Second
)

// echoManifest is the native echo contract, the same tool as the
// upstream's: no return type, as (a) declares no output schema, so both
// answer one text block and no structuredContent.
const echoManifest = `manifest_version: "1.0"
contracts:
  - name: echo
    version: 1.0.0
    description: Return the message.
    parameters:
      type: object
      properties:
        message: { type: string, max_length: 1000 }
      required: [message]
    flags: { read_only: true, idempotent: true }
    compliance_level: 1
`

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchhost:", err)
		os.Exit(1)
	}
}

func run() error {
	httpAddr := flag.String("http-addr", "127.0.0.1:28181", "where the Host's HTTP API and /mcp listen")
	grpcAddr := flag.String("grpc-addr", "127.0.0.1:0", "where the Host's gRPC API listens")
	upstream := flag.String("upstream", "", "the upstream MCP server's streamable-HTTP URL to bridge as up.echo; none bridges nothing")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	pprofAddr := flag.String("pprof-addr", "", "serve net/http/pprof here (loopback)")
	gcFloor := flag.Int("gc-heap-floor-mb", config.DefaultGCHeapFloorMB, "gc_heap_floor_mb, as altar serve applies it (0: Go's default; GOGC, when set, wins)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	defer gcfloor.Start(ctx, *gcFloor, log)()

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("-cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("-cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if *pprofAddr != "" {
		ps := &http.Server{Addr: *pprofAddr, Handler: http.DefaultServeMux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = ps.ListenAndServe() }()
		defer ps.Close()
	}

	dir, err := os.MkdirTemp("", "mcpbench-host-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	manifest := filepath.Join(dir, "echo.yaml")
	if err := os.WriteFile(manifest, []byte(echoManifest), 0o600); err != nil {
		return err
	}

	cfg := gateway.DefaultConfig()
	cfg.GRPCAddr = *grpcAddr
	cfg.HTTPAddr = *httpAddr
	cfg.ManifestPaths = []string{manifest}
	cfg.Logger = log
	h, err := gateway.New(cfg)
	if err != nil {
		return err
	}
	if err := h.Start(ctx); err != nil {
		return err
	}
	// The Host closes first (calls in flight finish), then the bridge, as
	// altar serve does.
	var bridge *mcpbridge.Bridge
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		_ = h.Close(cctx)
		if bridge != nil {
			bridge.Close()
		}
	}()
	if err := attachEcho(h); err != nil {
		return err
	}
	if *upstream != "" {
		b, err := mcpbridge.New(mcpbridge.Server{Name: "up", Transport: mcpbridge.TransportHTTP, URL: *upstream},
			h, filepath.Join(dir, "altar-mcp.lock.json"), mcpbridge.WithLogger(log))
		if err != nil {
			return err
		}
		bridge = b
		sctx, cancel := context.WithTimeout(ctx, setupTimeout)
		err = b.Start(sctx)
		cancel()
		if err != nil {
			return fmt.Errorf("bridging %s: %w", *upstream, err)
		}
	}
	fmt.Fprintf(os.Stderr, "benchhost: facade at http://%s/mcp (echo in process, up.echo bridged from %q), GOMAXPROCS=%d\n",
		h.HTTPAddr(), *upstream, goruntime.GOMAXPROCS(0))
	<-ctx.Done()
	return nil
}

type echoIn struct {
	Message string `json:"message"`
}

// attachEcho fulfils the echo contract with a Go SDK handler in this
// process.
func attachEcho(h *gateway.Host) error {
	handler, err := sdk.NewHandler([]sdk.Tool{
		sdk.Func("echo", "Return the message.", func(_ context.Context, in echoIn) (string, error) { return in.Message, nil },
			sdk.WithContractVersion("1.0.0")),
	}, sdk.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return err
	}
	announce := &altarv1.AnnounceRuntime{
		RuntimeId: "bench-echo", Language: "go", ProtocolVersion: altarv1.ProtocolVersion,
		Capabilities:    altarv1.CapabilitiesForLevel(altarv1.ComplianceLevel_COMPLIANCE_LEVEL_2),
		ComplianceLevel: altarv1.ComplianceLevel_COMPLIANCE_LEVEL_2,
	}
	resp := h.Attach(runtime.NewInProcess(announce, handler, runtime.DefaultStreamBuffer),
		&altarv1.FulfillTools{Tools: []*altarv1.ToolFulfillment{{ContractName: "echo"}}})
	if len(resp.GetAccepted()) != 1 {
		return fmt.Errorf("the echo runtime was not accepted: %v", resp.GetRejected())
	}
	return nil
}
