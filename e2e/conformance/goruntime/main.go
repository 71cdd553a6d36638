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
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	id := os.Getenv("ALTAR_RUNTIME_ID")
	if id == "" {
		id = DefaultRuntimeID
	}
	host := os.Getenv("ALTAR_HOST")
	if host == "" {
		return errors.New("ALTAR_HOST is not set: it is the address of the Host's runtime service, such as 127.0.0.1:50051")
	}
	rt, err := sdk.New(id, tools.New().List(), sdk.WithLanguage("go"), sdk.WithLogger(log))
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = rt.Serve(ctx, host)
	var refused *sdk.RefusedError
	if errors.As(err, &refused) {
		return fmt.Errorf("the Host refused runtime %q: %s", id, refused.Err.Message)
	}
	return err
}
