package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	goruntime "runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/altar-gateway/altar/gateway"
	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/config"
	"github.com/altar-gateway/altar/gateway/runtime"
	"github.com/altar-gateway/altar/internal/gcfloor"
	"github.com/altar-gateway/altar/plugins/examples/calculator/calc"
	"github.com/altar-gateway/altar/plugins/sdk"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// exitSecondSignal is the exit code when a second SIGINT or SIGTERM cuts a
// graceful shutdown short (128 + SIGINT, what shells report for ^C).
const exitSecondSignal = 130

// defaultShutdownTimeout bounds how long in-flight calls may take to finish
// after the first signal.
const defaultShutdownTimeout = 15 * time.Second

type serveFlags struct {
	configPath      string
	grpcAddr        string
	manifests       []string
	dev             bool
	logLevel        string
	hostID          string
	shutdownTimeout time.Duration
	cpuProfile      string
	pprofAddr       string
	noExample       bool
}

func newServeCommand() *cobra.Command {
	var sf serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the ALTAR Host: load manifests and serve the Host API and runtime service over gRPC",
		Long: `Run the ALTAR Host.

Configuration comes from, each later source winning: the defaults, the file
(--config, else $ALTAR_CONFIG, else ./altar.yaml when it exists), the ALTAR_*
environment variables (one per key, see docs/configuration.md), and the flags.
Unknown keys, unknown ALTAR_* variables and bad values stop the start.

SIGINT or SIGTERM stops the Host gracefully: it stops accepting calls, lets
calls in flight finish within --shutdown-timeout, and exits 0. A second
signal exits at once with status 130.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd, sf, os.Environ())
		},
	}
	f := cmd.Flags()
	f.StringVar(&sf.configPath, "config", "", "configuration file (default: $ALTAR_CONFIG, else ./"+config.DefaultPath+" if present)")
	f.StringVar(&sf.grpcAddr, "grpc-addr", "", "address of the gRPC server (Host API, runtime service, health); overrides grpc.addr")
	f.StringSliceVar(&sf.manifests, "manifests", nil, "manifest files or folders; overrides manifests (default: ./manifests if present)")
	f.BoolVar(&sf.dev, "dev", false, "start in DEVELOPMENT mode (runtimes may register their own tools); overrides mode")
	f.StringVar(&sf.logLevel, "log-level", "", "debug, info, warn or error; overrides log.level")
	f.StringVar(&sf.hostID, "host-id", "", "this Host's id; overrides host_id")
	f.DurationVar(&sf.shutdownTimeout, "shutdown-timeout", defaultShutdownTimeout, "how long calls in flight may run after SIGINT/SIGTERM before they are cut off")
	f.BoolVar(&sf.noExample, "no-example-runtime", false, "do not run the built-in calculator runtime in process")
	f.StringVar(&sf.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	_ = f.MarkHidden("cpuprofile")
	f.StringVar(&sf.pprofAddr, "pprof-addr", "", "serve net/http/pprof on this loopback address (profiling)")
	_ = f.MarkHidden("pprof-addr")
	return cmd
}

// settings turns the flags given on the command line into configuration
// settings, which win over the file and the environment.
func (sf serveFlags) settings(cmd *cobra.Command) []config.Setting {
	var out []config.Setting
	set := func(flag, path, value string) {
		if cmd.Flags().Changed(flag) {
			out = append(out, config.Setting{Path: path, Value: value, Source: "--" + flag})
		}
	}
	set("host-id", "host_id", sf.hostID)
	set("grpc-addr", "grpc.addr", sf.grpcAddr)
	set("manifests", "manifests", strings.Join(sf.manifests, ","))
	set("log-level", "log.level", sf.logLevel)
	if sf.dev {
		set("dev", "mode", "development")
	}
	return out
}

// resolveConfigPath is the file to read: the flag, else $ALTAR_CONFIG (config.Load
// reads it), else ./altar.yaml when it exists.
func (sf serveFlags) resolveConfigPath(env []string) string {
	if sf.configPath != "" {
		return sf.configPath
	}
	for _, kv := range env {
		if strings.HasPrefix(kv, config.EnvConfig+"=") {
			return ""
		}
	}
	if _, err := os.Stat(config.DefaultPath); err == nil {
		return config.DefaultPath
	}
	return ""
}

func serve(cmd *cobra.Command, sf serveFlags, env []string) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	if sf.shutdownTimeout < 0 {
		return fmt.Errorf("--shutdown-timeout %v is negative", sf.shutdownTimeout)
	}
	file, err := config.Load(sf.resolveConfigPath(env), env, sf.settings(cmd)...)
	if err != nil {
		return printConfigError(stderr, err)
	}
	if len(file.Manifests) == 0 {
		if _, err := os.Stat("manifests"); err == nil {
			file.Manifests = []string{"manifests"}
		}
	}
	log := file.Log.NewLogger(stderr)
	cfg := file.Config()
	cfg.Logger = log
	if len(cfg.Keys) == 0 {
		fmt.Fprintln(stderr, "altar: WARNING: no API keys are configured: every caller may do everything, so the gateway listens on loopback only. Add keys (see `altar keys hash`) to listen elsewhere.")
		log.Warn("no API keys configured; listening on loopback only")
	}

	if sf.cpuProfile != "" {
		f, err := os.Create(sf.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if sf.pprofAddr != "" {
		stopPprof, err := servePprof(sf.pprofAddr)
		if err != nil {
			return err
		}
		defer stopPprof()
	}

	// Signals: the first starts a graceful shutdown (main's context is
	// cancelled by it too), the second exits at once.
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	stopSignals := watchSignals(cancel, func() {
		fmt.Fprintln(stderr, "altar: second signal: exiting now, calls in flight are cut off")
		os.Exit(exitSecondSignal)
	})
	defer stopSignals()
	defer gcfloor.Start(ctx, file.GCHeapFloorMB, log)()

	h, err := gateway.New(cfg)
	if err != nil {
		return printConfigError(stderr, err)
	}
	if err := h.Start(ctx); err != nil {
		_ = h.Close(context.Background())
		return err
	}
	if !sf.noExample {
		attachExample(stdout, h)
	}
	if len(file.Plugins) > 0 {
		if err := startPlugins(ctx, stdout, h, file, log); err != nil {
			_ = h.Close(context.Background())
			return printConfigError(stderr, err)
		}
	}
	if len(file.MCPServers) > 0 {
		// Closed after the Host, once calls in flight have finished.
		closeBridges := startMCPBridges(ctx, stdout, h, file, file.MCPLockPath(configFilePath(sf.configPath, env)), log)
		defer closeBridges()
	}
	printServing(stdout, h, file)

	<-ctx.Done()
	fmt.Fprintf(stdout, "altar: shutting down (calls in flight have %v; a second signal exits at once)\n", sf.shutdownTimeout)
	shutdown, cancelShutdown := context.WithTimeout(context.Background(), sf.shutdownTimeout)
	defer cancelShutdown()
	err = h.Close(shutdown)
	if errors.Is(shutdown.Err(), context.DeadlineExceeded) {
		log.Warn("calls in flight were cut off at the shutdown timeout", "timeout", sf.shutdownTimeout)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "altar: stopped")
	return nil
}

// watchSignals calls shutdown on the first SIGINT or SIGTERM and exit on
// the second. The returned function stops watching and waits for the
// watcher to end.
func watchSignals(shutdown, exit func()) (stop func()) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done, ended := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		for n := 0; ; {
			select {
			case <-done:
				return
			case <-sigs:
				if n++; n == 1 {
					shutdown()
				} else {
					exit()
					return
				}
			}
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
		<-ended
	}
}

// printServing says where everything listens and how to call a tool. Its
// first line, "altar: serving ...", is what scripts and tests wait for.
func printServing(w io.Writer, h *gateway.Host, file *config.File) {
	trusted := h.Registry().Trusted()
	fmt.Fprintf(w, "altar: serving gRPC on %s (%s mode, %d trusted contracts, GOMAXPROCS=%d)\n",
		h.GRPCAddr(), h.Registry().Mode(), len(trusted), goruntime.GOMAXPROCS(0))
	if addr := h.HTTPAddr(); addr != "" {
		fmt.Fprintf(w, "altar: serving HTTP on http://%s (the API under /v1/, MCP at /mcp, /healthz, /readyz)\n", addr)
	}
	names := make([]string, 0, len(trusted))
	for _, c := range trusted {
		names = append(names, c.Name())
	}
	slices.Sort(names)
	client := ""
	if h.GRPCAddr() != defaultAddr {
		client = " --addr " + h.GRPCAddr()
	}
	if len(file.Keys) > 0 {
		client += " --key $" + envKey
		fmt.Fprintf(w, "altar: %d API key(s) configured; callers present one (--key or $%s)\n", len(file.Keys), envKey)
	}
	fmt.Fprintf(w, "altar: list tools:  altar tools%s\n", client)
	switch {
	case slices.Contains(names, "add"):
		fmt.Fprintf(w, "altar: call a tool: altar call add%s --args '{\"a\":1,\"b\":2}'\n", client)
	case len(names) > 0:
		fmt.Fprintf(w, "altar: call a tool: altar call %s%s --args '{...}'\n", names[0], client)
	default:
		fmt.Fprintln(w, "altar: no contracts loaded: pass --manifests or set manifests in altar.yaml")
	}
}

// printConfigError prints every field error of a configuration failure, one
// a line, and ends the command with status 1. Other errors are returned as
// they are.
func printConfigError(w io.Writer, err error) error {
	var e *altarerr.Error
	if !errors.As(err, &e) || len(e.Fields) == 0 {
		return err
	}
	fmt.Fprintf(w, "altar: %s:\n", e.Message)
	for _, f := range e.Fields {
		fmt.Fprintf(w, "  %s\n", altarerr.FormatField(f))
	}
	return exitError{code: 1}
}

// exampleRuntimeID names the built-in runtime; another id than the
// calculator's own, so that a calculator dialling in serves beside it.
const exampleRuntimeID = "builtin-calculator"

// attachExample runs the calculator's tools in process, fulfilling the
// calculator contracts of the loaded manifests under the same rules as any
// runtime. With none of them loaded it stays silent and attaches nothing.
func attachExample(w io.Writer, h *gateway.Host) {
	handler, err := sdk.NewHandler(calc.Tools(), sdk.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		fmt.Fprintln(w, "altar: built-in example runtime not started:", err)
		return
	}
	announce := &altarv1.AnnounceRuntime{
		RuntimeId:       exampleRuntimeID,
		Language:        "go",
		Version:         version,
		ProtocolVersion: altarv1.ProtocolVersion,
		Capabilities:    append(altarv1.CapabilitiesForLevel(altarv1.ComplianceLevel_COMPLIANCE_LEVEL_2), altarv1.CapabilityBinaryPayloads),
		ComplianceLevel: altarv1.ComplianceLevel_COMPLIANCE_LEVEL_2,
	}
	offer := &altarv1.FulfillTools{}
	for _, t := range handler.Tools() {
		offer.Tools = append(offer.Tools, &altarv1.ToolFulfillment{ContractName: t.Name()})
	}
	resp := h.Attach(runtime.NewInProcess(announce, handler, runtime.DefaultStreamBuffer), offer)
	if len(resp.GetAccepted()) == 0 {
		return
	}
	var names []string
	for _, a := range resp.GetAccepted() {
		names = append(names, a.GetContractName())
	}
	fmt.Fprintf(w, "altar: built-in example runtime %q serves %s (--no-example-runtime to leave it out)\n",
		exampleRuntimeID, strings.Join(names, ", "))
}
