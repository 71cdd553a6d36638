// Command calculator is ALTAR's example runtime: it fulfils the calculator
// contracts of manifests/calculator.yaml (add, subtract, multiply, divide,
// count), either by dialling a Host or, when a Host launched it as a plugin
// (a plugins: entry of altar.yaml), over the stream the Host opens. The
// same tools serve both ways; sdk.Runtime.Run picks the way at start.
//
//	calculator [--host 127.0.0.1:50051] [--id calculator] [--dev]
//
// --host defaults to $ALTAR_HOST, else 127.0.0.1:50051; as a plugin, the id
// is the plugin's name the Host gives it.
//
// On SIGINT or SIGTERM it withdraws its tools, lets the calls in flight
// finish (for up to --grace) and exits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/altar-gateway/altar/plugins/examples/calculator/calc"
	"github.com/altar-gateway/altar/plugins/sdk"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "calculator:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("calculator", flag.ContinueOnError)
	host := fs.String("host", "", "address of the Host's runtime service (default $ALTAR_HOST, else "+sdk.DefaultHost+"; unused as a plugin)")
	id := fs.String("id", "calculator", "runtime id, unique among the Host's runtimes")
	dev := fs.Bool("dev", false, "register tools the Host does not offer (Host in DEVELOPMENT mode only)")
	grace := fs.Duration("grace", 10*time.Second, "how long to let calls in flight finish on shutdown")
	verbose := fs.Bool("v", false, "log debug messages")
	if err := fs.Parse(args); err != nil {
		return err
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	opts := []sdk.Option{sdk.WithLogger(log)}
	if *dev {
		opts = append(opts, sdk.WithDevelopmentMode())
	}
	rt, err := sdk.New(*id, calc.Tools(), opts...)
	if err != nil {
		return err
	}

	signals, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	serveCtx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// On a signal: a graceful shutdown first, then a hard stop.
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-signals.Done():
		case <-serveCtx.Done():
			return
		}
		log.Info("signal received; shutting down", "grace", *grace)
		ctx, cancelGrace := context.WithTimeout(context.Background(), *grace)
		defer cancelGrace()
		if err := rt.Shutdown(ctx); err != nil {
			log.Warn("calls still in flight after the grace period; stopping", "error", err)
		}
		cancel()
	}()

	err = rt.Run(serveCtx, *host)
	cancel()
	<-stopped
	var refused *sdk.RefusedError
	if errors.As(err, &refused) {
		return fmt.Errorf("the Host refused this runtime: %s", refused.Err.Message)
	}
	return err
}
