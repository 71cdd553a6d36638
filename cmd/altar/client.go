package main

// This file is what the client commands (tools, call, sessions, runtimes)
// share: their flags, the connection to a running gateway, the per-call
// context, error reporting and output formatting.

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/altar-gateway/altar/gateway/altarerr"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Defaults and environment variables of the client flags.
const (
	defaultAddr        = "127.0.0.1:50051"
	defaultCallTimeout = 30 * time.Second
	envAddr            = "ALTAR_ADDR"
	envKey             = "ALTAR_API_KEY"
)

// Exit statuses of the client commands. A usage error also exits 1.
const (
	// exitRefused: the gateway refused the request (bad arguments, unknown
	// tool, wrong key, deadline) or could not be reached.
	exitRefused = 1
	// exitToolFailed: the gateway ran the tool and the tool reported a
	// failure (a result with status ERROR).
	exitToolFailed = 2
)

// Output formats.
const (
	outputTable = "table"
	outputJSON  = "json"
)

// clientOptions are the flags of every command that talks to a running
// gateway.
type clientOptions struct {
	addr    string
	key     string
	timeout time.Duration
	output  string
}

// addClientFlags declares the client flags on cmd, as persistent flags so
// that its subcommands have them too.
func addClientFlags(cmd *cobra.Command) *clientOptions {
	o := &clientOptions{}
	f := cmd.PersistentFlags()
	f.StringVar(&o.addr, "addr", defaultAddr, "gRPC address of the gateway (or set "+envAddr+"); TLS unless it is loopback")
	f.StringVar(&o.key, "key", "", "API key, sent as a bearer token (or set "+envKey+")")
	f.DurationVar(&o.timeout, "timeout", defaultCallTimeout, "deadline of each call to the gateway (of the whole stream, with --stream)")
	f.StringVarP(&o.output, "output", "o", outputTable, "output format: table or json")
	return o
}

// fromEnv fills the flags the command line left unset (changed reports
// which it set) from the environment.
func (o *clientOptions) fromEnv(changed func(flag string) bool, getenv func(string) string) {
	set := func(flag, env string, dst *string) {
		if changed(flag) {
			return
		}
		if v := getenv(env); v != "" {
			*dst = v
		}
	}
	set("addr", envAddr, &o.addr)
	set("key", envKey, &o.key)
}

// check validates the flags without doing any I/O.
func (o *clientOptions) check() error {
	switch {
	case o.output != outputTable && o.output != outputJSON:
		return fmt.Errorf("--output must be table or json, not %q", o.output)
	case o.timeout <= 0:
		return fmt.Errorf("--timeout must be positive")
	case o.addr == "":
		return fmt.Errorf("--addr must not be empty")
	}
	return nil
}

func (o *clientOptions) json() bool { return o.output == outputJSON }

// client is a connection to a gateway's HostService.
type client struct {
	api  altarv1.HostServiceClient
	conn *grpc.ClientConn
	opts *clientOptions
}

// dial resolves the flags of cmd and connects (lazily: the first call
// dials). The caller closes the client.
func (o *clientOptions) dial(cmd *cobra.Command) (*client, error) {
	o.fromEnv(cmd.Flags().Changed, os.Getenv)
	if err := o.check(); err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(o.addr, grpc.WithTransportCredentials(transportCredentials(o.addr)))
	if err != nil {
		return nil, fmt.Errorf("--addr %q: %w", o.addr, err)
	}
	return &client{api: altarv1.NewHostServiceClient(conn), conn: conn, opts: o}, nil
}

func (c *client) close() { _ = c.conn.Close() }

// transportCredentials are plaintext for a loopback address or a unix
// socket, which never leave the machine, and TLS with the system's roots
// for anything else.
func transportCredentials(addr string) credentials.TransportCredentials {
	if isLocal(addr) {
		return insecure.NewCredentials()
	}
	return credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})
}

// isLocal reports whether addr is a unix socket, "localhost" or a loopback
// IP address, with or without a port.
func isLocal(addr string) bool {
	if strings.HasPrefix(addr, "unix:") || strings.HasPrefix(addr, "unix-abstract:") {
		return true
	}
	addr = strings.TrimPrefix(addr, "dns:///")
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = strings.Trim(addr, "[]")
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// callContext is the context of one call: parent with the --timeout
// deadline and the key as "authorization: Bearer" metadata.
func (c *client) callContext(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(parent, c.opts.timeout)
	if c.opts.key != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.opts.key)
	}
	return ctx, cancel
}

// refused prints a failure of a call (the gateway's refusal, or no
// connection) and returns the exit status for it.
func refused(cmd *cobra.Command, err error) error {
	printError(cmd.ErrOrStderr(), "", altarerr.From(err))
	return exitError{code: exitRefused}
}

// printError writes e as "altar: [prefix: ]CODE: message", then one
// indented line per field error (altarerr.FormatField) and the ids that
// tie it to the gateway's logs.
func printError(w io.Writer, prefix string, e *altarerr.Error) {
	var b strings.Builder
	b.WriteString("altar: ")
	if prefix != "" {
		b.WriteString(prefix)
		b.WriteString(": ")
	}
	b.WriteString(altarerr.CodeName(e.Code))
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	b.WriteByte('\n')
	for _, f := range e.Fields {
		fmt.Fprintf(&b, "  %s\n", altarerr.FormatField(f))
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, "  retry after %s\n", e.RetryAfter)
	}
	if e.InvocationID != "" {
		fmt.Fprintf(&b, "  invocation_id: %s\n", e.InvocationID)
	}
	if e.CorrelationID != "" {
		fmt.Fprintf(&b, "  correlation_id: %s\n", e.CorrelationID)
	}
	_, _ = io.WriteString(w, b.String())
}

// writeProtoJSON writes m as protojson, indented by two spaces, and a
// newline. protojson varies its whitespace on purpose; the output is
// re-indented so that it is the same from run to run.
func writeProtoJSON(w io.Writer, m proto.Message) error {
	b, err := protojson.Marshal(m)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = w.Write(out.Bytes())
	return err
}

// writeProtoJSONLine writes m as compact protojson on one line, for
// streams.
func writeProtoJSONLine(w io.Writer, m proto.Message) error {
	b, err := protojson.Marshal(m)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = w.Write(out.Bytes())
	return err
}

// table writes aligned columns. Cells are made single-line; lines carry no
// trailing spaces.
type table struct {
	w   io.Writer
	buf bytes.Buffer
	tw  *tabwriter.Writer
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{w: w}
	t.tw = tabwriter.NewWriter(&t.buf, 0, 8, 2, ' ', 0)
	t.row(header...)
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		if i > 0 {
			_, _ = io.WriteString(t.tw, "\t")
		}
		_, _ = io.WriteString(t.tw, oneLine(c))
	}
	_, _ = io.WriteString(t.tw, "\n")
}

// flush writes the table.
func (t *table) flush() error {
	if err := t.tw.Flush(); err != nil {
		return err
	}
	var out bytes.Buffer
	for line := range strings.Lines(t.buf.String()) {
		out.WriteString(strings.TrimRight(line, " \n"))
		out.WriteByte('\n')
	}
	_, err := t.w.Write(out.Bytes())
	return err
}

// oneLine replaces tabs and line breaks with spaces, so a cell stays in its
// column.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '\t', '\n', '\r':
			return ' '
		}
		return r
	}, s)
}

// truncate shortens s to at most n runes, ending it with "…" when cut.
func truncate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimRight(string(r[:n-1]), " ") + "…"
}

// yesNo renders a boolean for a table.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// orDash renders an empty cell as "-".
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// enumName is an enum value's name without its type prefix, in lower case:
// "healthy" for RUNTIME_HEALTH_HEALTHY.
func enumName(name, prefix string) string {
	return strings.ToLower(strings.TrimPrefix(name, prefix))
}

// age renders how long ago t was, to the second.
func age(t time.Time, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return now.Sub(t).Round(time.Second).String() + " ago"
}
