package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/altar-gateway/altar/gateway"
	"github.com/altar-gateway/altar/gateway/config"
	mcpfacade "github.com/altar-gateway/altar/integrations/mcp"
)

// `altar mcp --stdio` is the MCP facade for a desktop MCP client that
// launches its servers as subprocesses. It runs a Host of its own, built
// from the same configuration as `altar serve` (altar.yaml, ALTAR_*
// variables, flags), so that one command in the client's configuration is
// the whole setup; it listens on nothing but a loopback gRPC port the
// system picks (no HTTP), so it runs beside an `altar serve`. A client that
// should share a running gateway's sessions, runtimes and audit connects to
// that gateway's /mcp over HTTP instead.

type mcpFlags struct {
	serveFlags
	stdio bool
}

func newMCPCommand() *cobra.Command {
	var mf mcpFlags
	cmd := &cobra.Command{
		Use:   "mcp --stdio",
		Short: "Serve the gateway's tools to an MCP client over stdin and stdout",
		Long: `Serve the gateway's tools to an MCP client over stdio.

A desktop MCP client launches "altar mcp --stdio" and talks MCP over the
process's stdin and stdout. The command runs a gateway of its own from the
same configuration as "altar serve" (--config, else $ALTAR_CONFIG, else
./altar.yaml; ALTAR_* variables; the flags below): the built-in calculator
unless --no-example-runtime, the plugins: it launches and the mcp_servers:
it bridges. It serves their tools until stdin closes or a signal arrives.
Logs go to stderr; stdout carries MCP only.

A running "altar serve" serves the same facade over HTTP at /mcp
(streamable HTTP) and /mcp/sse (the older SSE transport).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !mf.stdio {
				return errors.New("altar mcp serves stdio only: pass --stdio (a running `altar serve` serves MCP over HTTP at /mcp)")
			}
			return serveMCPStdio(cmd, mf, os.Environ())
		},
	}
	f := cmd.Flags()
	f.BoolVar(&mf.stdio, "stdio", false, "serve MCP over stdin and stdout")
	f.StringVar(&mf.configPath, "config", "", "configuration file (default: $ALTAR_CONFIG, else ./"+config.DefaultPath+" if present)")
	f.StringSliceVar(&mf.manifests, "manifests", nil, "manifest files or folders; overrides manifests (default: ./manifests if present)")
	f.BoolVar(&mf.dev, "dev", false, "start in DEVELOPMENT mode; overrides mode")
	f.StringVar(&mf.logLevel, "log-level", "", "debug, info, warn or error (logs go to stderr); overrides log.level")
	f.StringVar(&mf.hostID, "host-id", "", "this Host's id; overrides host_id")
	f.BoolVar(&mf.noExample, "no-example-runtime", false, "do not run the built-in calculator runtime in process")
	return cmd
}

func serveMCPStdio(cmd *cobra.Command, mf mcpFlags, env []string) error {
	stderr := cmd.ErrOrStderr()
	// The embedded Host listens on an ephemeral loopback gRPC port only.
	settings := append(mf.settings(cmd),
		config.Setting{Path: "grpc.addr", Value: "127.0.0.1:0", Source: "altar mcp"},
		config.Setting{Path: "http.addr", Value: config.HTTPOff, Source: "altar mcp"})
	file, err := config.Load(mf.resolveConfigPath(env), env, settings...)
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

	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	h, err := gateway.New(cfg)
	if err != nil {
		return printConfigError(stderr, err)
	}
	if err := h.Start(ctx); err != nil {
		_ = h.Close(context.Background())
		return err
	}
	// What serve prints goes to the log: stdout carries MCP only.
	var said strings.Builder
	closeBridges := func() {}
	defer func() {
		closeCtx, cancelClose := context.WithTimeout(context.Background(), defaultShutdownTimeout)
		defer cancelClose()
		_ = h.Close(closeCtx)
		// As serve does: bridges close after the Host, once calls in
		// flight have finished.
		closeBridges()
	}()
	if !mf.noExample {
		attachExample(&said, h)
	}
	if len(file.Plugins) > 0 {
		if err := startPlugins(ctx, &said, h, file, log); err != nil {
			return printConfigError(stderr, err)
		}
	}
	if len(file.MCPServers) > 0 {
		closeBridges = startMCPBridges(ctx, &said, h, file, file.MCPLockPath(configFilePath(mf.configPath, env)), log)
	}
	for _, line := range strings.Split(strings.TrimSpace(said.String()), "\n") {
		if line != "" {
			log.Info(line)
		}
	}
	f := mcpfacade.New(h, mcpfacade.WithLogger(log), mcpfacade.WithServerInfo("altar", version))
	defer func() { _ = f.Close(context.Background()) }()
	log.Info("altar: serving MCP over stdio", "trusted_contracts", len(h.Registry().Trusted()))
	if err := f.ServeStdio(ctx, cmd.InOrStdin(), stdoutOf(cmd)); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("serving MCP over stdio: %w", err)
	}
	return nil
}

// stdoutOf is where MCP messages go: the command's output.
func stdoutOf(cmd *cobra.Command) io.Writer { return cmd.OutOrStdout() }
