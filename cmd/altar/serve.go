package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	goruntime "runtime"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"

	"github.com/altar-gateway/altar/gateway"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

func newServeCommand() *cobra.Command {
	cfg := gateway.DefaultConfig()
	var (
		dev        bool
		logLevel   string
		cpuProfile string
		pprofAddr  string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the ALTAR Host: load manifests and serve the Host API and runtime service over gRPC",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level: %w", err)
			}
			cfg.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			if dev {
				cfg.Mode = altarv1.HostMode_HOST_MODE_DEVELOPMENT
			}
			if len(cfg.ManifestPaths) == 0 {
				if _, err := os.Stat("manifests"); err == nil {
					cfg.ManifestPaths = []string{"manifests"}
				}
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			if pprofAddr != "" {
				stopPprof, err := servePprof(pprofAddr)
				if err != nil {
					return err
				}
				defer stopPprof()
			}
			h, err := gateway.New(cfg)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if err := h.Start(ctx); err != nil {
				_ = h.Close(context.Background())
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "altar: serving gRPC on %s (%s mode, %d trusted contracts, GOMAXPROCS=%d)\n",
				h.GRPCAddr(), h.Registry().Mode(), len(h.Registry().Trusted()), goruntime.GOMAXPROCS(0))
			<-ctx.Done()
			fmt.Fprintln(cmd.OutOrStdout(), "altar: shutting down")
			shutdown, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			return h.Close(shutdown)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.GRPCAddr, "grpc-addr", cfg.GRPCAddr, "address of the gRPC server (Host API, runtime service, health)")
	f.StringSliceVar(&cfg.ManifestPaths, "manifests", nil, "manifest files or folders (default: ./manifests if present)")
	f.BoolVar(&dev, "dev", false, "start in DEVELOPMENT mode (runtimes may register their own tools)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&cfg.HostID, "host-id", cfg.HostID, "this Host's id")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	_ = f.MarkHidden("cpuprofile")
	f.StringVar(&pprofAddr, "pprof-addr", "", "serve net/http/pprof on this loopback address (profiling)")
	_ = f.MarkHidden("pprof-addr")
	return cmd
}
