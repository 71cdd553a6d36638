package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/altar-gateway/altar/gateway"
	"github.com/altar-gateway/altar/gateway/config"
	"github.com/altar-gateway/altar/plugins/launch"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

func newPluginCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plugin",
		Short: "Work with plugin runtimes (runtimes `altar serve` launches as go-plugin subprocesses)",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "hash PATH",
		Short: "Print a plugin executable's SHA-256, the value of its sha256 pin in altar.yaml",
		Long: `Print the SHA-256 of the file at PATH as 64 lower-case hex characters, the value
a plugin's sha256 key in altar.yaml expects:

  plugins:
    - name: calculator
      command: ./bin/calculator
      sha256: <what this prints>

With a pin, altar serve starts the plugin only while the file matches it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sum, err := launch.FileSHA256(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), sum)
			return nil
		},
	})
	return cmd
}

// pluginToolsWait bounds how long serve waits for a started plugin to
// announce and fulfil its tools before it says what it serves.
const pluginToolsWait = 5 * time.Second

// startPlugins launches the configured plugins under a supervisor whose
// Close the Host runs when it closes (after draining them), and prints
// what each one serves, or why it did not start. A plugin that fails to
// start does not stop the Host.
func startPlugins(ctx context.Context, w io.Writer, h *gateway.Host, file *config.File, log *slog.Logger) error {
	cfgs := file.PluginConfigs()
	sup, err := launch.New(h, cfgs, launch.WithLogger(log))
	if err != nil {
		return err
	}
	h.ReportPlugins(func() []*altarv1.PluginInfo {
		var out []*altarv1.PluginInfo
		for _, st := range sup.Status() {
			out = append(out, st.Proto())
		}
		return out
	})
	h.OnClose(func(ctx context.Context) {
		if err := sup.Close(ctx); err != nil {
			log.Warn("plugins still stopping at the shutdown timeout", "error", err)
		}
	})
	wait := launch.DefaultStartTimeout
	for _, c := range cfgs {
		wait = max(wait, c.StartTimeout)
	}
	startCtx, cancel := context.WithTimeout(ctx, wait+10*time.Second)
	defer cancel()
	_ = sup.Start(startCtx) // each failure is in Status

	deadline := time.Now().Add(pluginToolsWait)
	for _, st := range sup.Status() {
		if st.State != launch.StateRunning {
			fmt.Fprintf(w, "altar: plugin %q not started (%s): %v\n", st.Name, st.State, st.LastError)
			continue
		}
		var tools []string
		for {
			tools = runtimeTools(h, st.Name)
			if len(tools) > 0 || time.Now().After(deadline) || ctx.Err() != nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		serves := "no tools yet"
		if len(tools) > 0 {
			serves = strings.Join(tools, ", ")
		}
		fmt.Fprintf(w, "altar: plugin %q started (pid %d) serves %s\n", st.Name, st.PID, serves)
	}
	return nil
}

// runtimeTools are the contract names the Host routes to a runtime.
func runtimeTools(h *gateway.Host, id string) []string {
	var out []string
	for _, rt := range h.Runtimes().List() {
		if rt.GetRuntimeId() != id {
			continue
		}
		for _, t := range rt.GetTools() {
			out = append(out, t.GetContractName())
		}
	}
	slices.Sort(out)
	return out
}
