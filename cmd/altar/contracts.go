package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	mcpbridge "github.com/altar-gateway/altar/bridges/mcp"
	"github.com/altar-gateway/altar/gateway"
	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/audit"
	"github.com/altar-gateway/altar/gateway/config"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// inspectTimeout bounds starting an MCP server and listing its tools for
// `altar contracts`.
const inspectTimeout = 60 * time.Second

func newContractsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "contracts",
		Short: "Review and approve what bridged MCP servers' tools mean (the MCP lock file)",
		Long: `The MCP lock file pins each bridged MCP server's tool definitions (description,
schemas, annotations) with their SHA-256. In STRICT mode a tool whose live
definition differs from its pin, or that has none, is withdrawn until it is
approved. These commands start (stdio) or reach (HTTP) the server named in
altar.yaml's mcp_servers, list its tools, and compare them with the lock file;
a running ` + "`altar serve`" + ` picks up an approval within seconds.`,
	}
	var path string
	var exitCode bool
	diff := &cobra.Command{
		Use:   "diff SERVER",
		Short: "Show how an MCP server's live tools differ from their pins",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			changes, lockPath, err := inspectServer(cmd.Context(), cmd.OutOrStdout(), path, args[0])
			if err != nil {
				return printConfigError(cmd.ErrOrStderr(), err)
			}
			pending := printDiff(cmd.OutOrStdout(), args[0], lockPath, changes)
			if exitCode && pending > 0 {
				return exitError{code: 1}
			}
			return nil
		},
	}
	diff.Flags().BoolVar(&exitCode, "exit-code", false, "exit with status 1 when a tool is not approved")
	approve := &cobra.Command{
		Use:   "approve SERVER [TOOL...]",
		Short: "Pin an MCP server's live tool definitions (the named tools, else every change)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return approveServer(cmd.Context(), cmd.OutOrStdout(), path, args[0], args[1:])
		},
	}
	for _, c := range []*cobra.Command{diff, approve} {
		c.Flags().StringVar(&path, "config", "", "configuration file (default: $ALTAR_CONFIG, else ./"+config.DefaultPath+" if present)")
	}
	cmd.AddCommand(diff, approve)
	return cmd
}

// configFilePath is the configuration file `altar serve` reads: the flag,
// else $ALTAR_CONFIG, else ./altar.yaml when it exists ("" for none).
func configFilePath(flag string, env []string) string {
	if p := (serveFlags{configPath: flag}).resolveConfigPath(env); p != "" {
		return p
	}
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, config.EnvConfig+"="); ok {
			return v
		}
	}
	return ""
}

// loadServer loads the configuration and finds the named MCP server.
func loadServer(flag, name string) (mcpbridge.Server, string, error) {
	env := os.Environ()
	path := configFilePath(flag, env)
	file, err := config.Load(path, env)
	if err != nil {
		return mcpbridge.Server{}, "", err
	}
	var names []string
	for _, s := range file.MCPBridges() {
		if s.Name == name {
			return s, file.MCPLockPath(path), nil
		}
		names = append(names, s.Name)
	}
	known := "none is configured (mcp_servers in altar.yaml)"
	if len(names) > 0 {
		known = "the configured servers are " + strings.Join(names, ", ")
	}
	return mcpbridge.Server{}, "", altarerr.New(altarv1.ErrorCode_ERROR_CODE_NOT_FOUND, "no MCP server is named %q; %s", name, known)
}

func inspectServer(ctx context.Context, w io.Writer, flag, name string) ([]mcpbridge.Change, string, error) {
	srv, lockPath, err := loadServer(flag, name)
	if err != nil {
		return nil, "", err
	}
	ctx, cancel := context.WithTimeout(ctx, inspectTimeout)
	defer cancel()
	defs, err := mcpbridge.Inspect(ctx, srv)
	if err != nil {
		return nil, "", err
	}
	lock, damaged, err := mcpbridge.RepairLock(lockPath)
	if err != nil {
		return nil, "", err
	}
	printDamaged(w, damaged)
	return mcpbridge.Diff(lock.Server(name), defs), lockPath, nil
}

// printDamaged lists the pins a damaged lock file lost (they show as new,
// and approving pins them again).
func printDamaged(w io.Writer, damaged error) {
	if damaged == nil {
		return
	}
	fmt.Fprintln(w, "warning: damaged pins are left out (a running gateway trusts nothing from this lock file until they are approved again):")
	for _, f := range altarerr.From(damaged).Fields {
		fmt.Fprintf(w, "  %s\n", altarerr.FormatField(f))
	}
}

// printDiff prints the changes and returns how many wait for approval.
func printDiff(w io.Writer, server, lockPath string, changes []mcpbridge.Change) int {
	counts := map[string]int{}
	for _, c := range changes {
		counts[c.Kind]++
	}
	fmt.Fprintf(w, "%s: %d pinned, %d changed, %d new, %d removed (lock file %s)\n", server,
		counts[mcpbridge.ChangeNone], counts[mcpbridge.ChangeChanged], counts[mcpbridge.ChangeNew], counts[mcpbridge.ChangeRemoved], lockPath)
	for _, c := range changes {
		switch c.Kind {
		case mcpbridge.ChangeChanged:
			fmt.Fprintf(w, "changed %s: %s\n", c.Tool, strings.Join(c.Fields, ", "))
			for _, f := range c.Fields {
				pinned, live := field(*c.Pinned, f), field(*c.Live, f)
				fmt.Fprintf(w, "  - pinned %s: %s\n  + live   %s: %s\n", f, pinned, f, live)
			}
		case mcpbridge.ChangeNew:
			fmt.Fprintf(w, "new     %s: %s\n", c.Tool, quoted(c.Live.Description))
		case mcpbridge.ChangeRemoved:
			fmt.Fprintf(w, "removed %s (no longer listed by the server)\n", c.Tool)
		}
	}
	pending := counts[mcpbridge.ChangeChanged] + counts[mcpbridge.ChangeNew]
	if pending+counts[mcpbridge.ChangeRemoved] > 0 {
		fmt.Fprintf(w, "approve with: altar contracts approve %s [TOOL...]\n", server)
	}
	return pending
}

func field(d mcpbridge.Definition, name string) string {
	switch name {
	case "title":
		return quoted(d.Title)
	case "description":
		return quoted(d.Description)
	case "inputSchema":
		return string(d.InputSchema)
	case "outputSchema":
		return string(d.OutputSchema)
	case "annotations":
		return string(d.Annotations)
	}
	return ""
}

func quoted(s string) string { return fmt.Sprintf("%q", s) }

func approveServer(ctx context.Context, w io.Writer, flag, name string, tools []string) error {
	srv, lockPath, err := loadServer(flag, name)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, inspectTimeout)
	defer cancel()
	defs, err := mcpbridge.Inspect(ctx, srv)
	if err != nil {
		return err
	}
	lock, damaged, err := mcpbridge.RepairLock(lockPath)
	if err != nil {
		return err
	}
	printDamaged(w, damaged)
	done, err := lock.Approve(name, defs, time.Now(), tools...)
	if err != nil {
		return err
	}
	if len(done) == 0 && damaged == nil {
		fmt.Fprintf(w, "%s: nothing to approve: every tool is pinned as the server lists it\n", name)
		return nil
	}
	if err := lock.Write(lockPath); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: approved %s in %s\n", name, strings.Join(done, ", "), lockPath)
	return nil
}

// startMCPBridges connects the configured MCP servers and says what each
// serves. A server that cannot be reached is retried in the background.
// The returned function closes every bridge; call it after the Host has
// closed (calls in flight finish first).
func startMCPBridges(ctx context.Context, w io.Writer, h *gateway.Host, file *config.File, lockPath string, log *slog.Logger) (closeAll func()) {
	var bridges []*mcpbridge.Bridge
	mcpbridge.Version = version
	for _, srv := range file.MCPBridges() {
		b, err := mcpbridge.New(srv, h, lockPath, mcpbridge.WithLogger(log), mcpbridge.WithAudit(audit.LogSink{Logger: log}))
		if err != nil {
			fmt.Fprintf(w, "altar: MCP server %q not started: %v\n", srv.Name, err)
			continue
		}
		bridges = append(bridges, b)
		if err := b.Start(ctx); err != nil && !errors.Is(err, context.Canceled) {
			log.Warn("MCP server not connected at start", "mcp_server", srv.Name, "error", err)
		}
		fmt.Fprintln(w, "altar:", b.Describe())
	}
	return func() {
		for _, b := range bridges {
			b.Close()
		}
	}
}
