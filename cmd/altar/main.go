// Command altar is the ALTAR gateway: it serves trusted tool contracts to AI
// applications and routes their calls to out-of-process runtimes. See
// `altar --help`.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// run executes the command line and returns the process exit code.
func run(ctx context.Context, args []string) int {
	root := newRootCommand()
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		var exit exitError
		if errors.As(err, &exit) {
			return exit.code
		}
		fmt.Fprintln(root.ErrOrStderr(), "altar:", err)
		return 1
	}
	return 0
}

// exitError ends a command with a specific exit code after the command has
// already printed what went wrong.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "altar",
		Short: "ALTAR gateway: governed tool calls for AI applications",
		Long: `ALTAR lets AI applications call tools that live in other processes,
languages and systems, under contracts that the Host owns.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newVersionCommand())
	root.AddCommand(newValidateCommand())
	root.AddCommand(newServeCommand())
	root.AddCommand(newBenchCommand())
	root.AddCommand(newToolsCommand())
	root.AddCommand(newCallCommand())
	root.AddCommand(newSessionsCommand())
	root.AddCommand(newRuntimesCommand())
	root.AddCommand(newConfigCommand(), newKeysCommand())
	root.AddCommand(newContractsCommand())
	root.AddCommand(newMCPCommand())
	root.AddCommand(newPluginCommand())
	return root
}
