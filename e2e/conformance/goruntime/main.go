package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/altar-gateway/altar/e2e/conformance/goruntime/tools"
	"github.com/altar-gateway/altar/plugins/sdk"
)

// DefaultRuntimeID is the runtime id when ALTAR_RUNTIME_ID is not set.
const DefaultRuntimeID = "conformance-go"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "goruntime:", err)
		os.Exit(1)
	}
}

func run() error {
	// Standard error only: in plugin mode standard output carries the
	// handshake, and the Host logs standard error under the plugin's name.
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if !sdk.IsPlugin() && os.Getenv(sdk.EnvHost) == "" {
		return errors.New("ALTAR_HOST is not set: it is the address of the Host's runtime service, such as 127.0.0.1:50051")
	}
	rt, err := sdk.New(DefaultRuntimeID, tools.New().List(), sdk.WithLanguage(tools.Language), sdk.WithLogger(log))
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Run serves as a plugin when a Host launched this process (ALTAR_PLUGIN),
	// else dials ALTAR_HOST; either way ALTAR_RUNTIME_ID names the runtime.
	err = rt.Run(ctx, "")
	var refused *sdk.RefusedError
	if errors.As(err, &refused) {
		return fmt.Errorf("the Host refused runtime %q: %s", rt.ID(), refused.Err.Message)
	}
	return err
}
