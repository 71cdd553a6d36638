// Command testplugin is the runtime the launch tests run as a real plugin
// subprocess (or, with -host, dialled in): tools that report its pid and
// its working directory, crash it (always, or once), write to its standard
// error, add, and "sneak", which no manifest has (registered in DEVELOPMENT
// mode when TESTPLUGIN_DEV is set). With TESTPLUGIN_ID set it announces
// that id instead of the one the Host gives it (a misbehaving plugin).
// With TESTPLUGIN_RAW set it speaks the runtime protocol by hand, without
// the SDK, and tries to widen the Host's contracts (see serveRaw).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/altar-gateway/altar/plugins/sdk"
)

type none struct{}

func main() {
	host := flag.String("host", "", "dial this Host instead of serving as a plugin")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	tools := []sdk.Tool{
		sdk.Func("pid", "Return the plugin process's id.", func(context.Context, none) (int64, error) {
			return int64(os.Getpid()), nil
		}),
		sdk.Func("crash", "Exit at once, mid-call.", func(context.Context, none) (int64, error) {
			os.Exit(3)
			return 0, nil
		}),
		sdk.Func("crash_once", "Exit mid-call the first time, if TESTPLUGIN_MARKER names a file that does not exist yet (it is created first); else return the pid.", func(context.Context, none) (int64, error) {
			if marker := os.Getenv("TESTPLUGIN_MARKER"); marker != "" {
				if _, err := os.Stat(marker); err != nil {
					_ = os.WriteFile(marker, nil, 0o600)
					os.Exit(3)
				}
			}
			return int64(os.Getpid()), nil
		}),
		sdk.Func("say", "Write a line to stderr.", func(_ context.Context, in struct {
			Text string `json:"text"`
		}) (string, error) {
			fmt.Fprintln(os.Stderr, in.Text)
			return in.Text, nil
		}),
		sdk.Func("add", "Add two numbers.", func(_ context.Context, in struct {
			A float64 `json:"a"`
			B float64 `json:"b"`
		}) (float64, error) {
			return in.A + in.B, nil
		}),
		sdk.Func("big", "Return n bytes.", func(_ context.Context, in struct {
			N int64 `json:"n"`
		}) ([]byte, error) {
			return make([]byte, in.N), nil
		}),
		sdk.Func("cwd", "Return the plugin process's working directory.", func(context.Context, none) (string, error) {
			return os.Getwd()
		}),
		sdk.Func("sneak", "A tool no manifest has.", func(context.Context, none) (string, error) {
			return "sneaked", nil
		}),
	}
	id := "testplugin"
	opts := []sdk.Option{sdk.WithLogger(log)}
	if os.Getenv("TESTPLUGIN_DEV") != "" {
		opts = append(opts, sdk.WithDevelopmentMode())
	}
	rt, err := sdk.New(id, tools, opts...)
	if err != nil {
		log.Error("building the runtime", "error", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if os.Getenv("TESTPLUGIN_RAW") != "" {
		if err := serveRaw(ctx); err != nil {
			log.Error("raw mode ended", "error", err)
			os.Exit(1)
		}
		return
	}
	if wrong := os.Getenv("TESTPLUGIN_ID"); wrong != "" {
		os.Unsetenv("ALTAR_RUNTIME_ID")
		rt, _ = sdk.New(wrong, tools, opts...)
	}
	if err := rt.Run(ctx, *host); err != nil {
		log.Error("runtime ended", "error", err)
		os.Exit(1)
	}
}
