package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

func newCallCommand() *cobra.Command {
	var (
		argsJSON, session, invocationID string
		coerce, stream                  bool
	)
	cmd := &cobra.Command{
		Use:   "call TOOL [KEY=VALUE ...]",
		Short: "Call a tool on a running gateway and print its result",
		Long: `call invokes TOOL (bare, or qualified as runtime/name) through the gateway
and prints the result's payload as JSON.

Arguments are a JSON object given with --args, and KEY=VALUE words, added
to it (a key may not be given twice). VALUE is read as JSON when it is valid
JSON, and as a string otherwise:

  a=1          the integer 1          ok=true    the boolean true
  x=1.5        the number 1.5         xs=[1,2]   an array
  name=Ada     the string "Ada"       n='"7"'    the string "7"
  empty=       the empty string       v=null     null

With --stream the call uses InvokeStream and prints each chunk's payload as
it arrives, one JSON value per line; progress goes to stderr. --timeout then
bounds the whole stream.

With -o json, the whole ToolResult (with --stream, each StreamChunk, one per
line) is printed as protojson.

Exit status: 0 when the tool succeeded; 1 when the gateway refused the call
or could not be reached (invalid arguments, unknown tool, wrong key,
deadline), with the error code, message and every field error with its path
on stderr; 2 when the tool ran and reported a failure, with its error on
stderr.`,
		Example: `  altar call add --args '{"a": 1, "b": 2}'
  altar call add a=1 b=2
  altar call multiply 'factors=[2,3.5]' 'rounding={"places":1}'
  altar call count stop=5 delay_ms=200 --stream`,
		Args: cobra.MinimumNArgs(1),
	}
	opts := addClientFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&argsJSON, "args", "", "arguments as a JSON object")
	f.StringVar(&session, "session", "", "session to call the tool in")
	f.StringVar(&invocationID, "invocation-id", "", "idempotency key; a repeat with the same id gets the same answer (generated when empty)")
	f.BoolVar(&coerce, "coerce", false, `apply the documented lenient coercions ("42" to 42) before validating`)
	f.BoolVar(&stream, "stream", false, "stream the result, printing each chunk as it arrives")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		params, err := callArguments(argsJSON, args[1:])
		if err != nil {
			return err
		}
		c, err := opts.dial(cmd)
		if err != nil {
			return err
		}
		defer c.close()
		req := &altarv1.InvokeRequest{
			SessionId:    session,
			ToolName:     args[0],
			Parameters:   params,
			InvocationId: invocationID,
			Coerce:       coerce,
		}
		if stream {
			return c.invokeStream(cmd, req)
		}
		return c.invoke(cmd, req)
	}
	return cmd
}

// callArguments merges --args and KEY=VALUE words into one argument map.
func callArguments(argsJSON string, words []string) (map[string]*altarv1.Value, error) {
	params := map[string]*altarv1.Value{}
	if strings.TrimSpace(argsJSON) != "" {
		p, err := schema.ParseJSONObject([]byte(argsJSON), schema.Limits{})
		if err != nil {
			return nil, fmt.Errorf("--args: %w", err)
		}
		params = p
	}
	for _, w := range words {
		key, raw, ok := strings.Cut(w, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("argument %q: want KEY=VALUE", w)
		}
		if _, dup := params[key]; dup {
			return nil, fmt.Errorf("argument %q: %s is given twice", w, key)
		}
		v, err := schema.ParseJSON([]byte(raw), schema.Limits{})
		if err != nil {
			v = schema.String(raw)
		}
		params[key] = v
	}
	return params, nil
}

// invoke makes one Invoke call and prints its result.
func (c *client) invoke(cmd *cobra.Command, req *altarv1.InvokeRequest) error {
	ctx, cancel := c.callContext(cmd.Context())
	defer cancel()
	resp, err := c.api.Invoke(ctx, req)
	if err != nil {
		return refused(cmd, err)
	}
	res := resp.GetResult()
	w := cmd.OutOrStdout()
	if c.opts.json() {
		if err := writeProtoJSON(w, res); err != nil {
			return err
		}
	}
	if res.GetStatus() != altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS {
		return toolFailed(cmd, req.GetToolName(), res.GetError())
	}
	if c.opts.json() {
		return nil
	}
	return writePayload(w, res.GetPayload())
}

// invokeStream makes one InvokeStream call and prints each chunk as it
// arrives.
func (c *client) invokeStream(cmd *cobra.Command, req *altarv1.InvokeRequest) error {
	ctx, cancel := c.callContext(cmd.Context())
	defer cancel()
	stream, err := c.api.InvokeStream(ctx, &altarv1.InvokeStreamRequest{Request: req})
	if err != nil {
		return refused(cmd, err)
	}
	w, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return refused(cmd, err)
		}
		ch := resp.GetChunk()
		if c.opts.json() {
			if err := writeProtoJSONLine(w, ch); err != nil {
				return err
			}
		} else {
			if p := ch.GetProgress(); p != nil {
				fmt.Fprintln(errw, formatProgress(p))
			}
			if ch.GetPayload() != nil && ch.GetError() == nil {
				if err := writePayload(w, ch.GetPayload()); err != nil {
					return err
				}
			}
		}
		if ch.GetError() != nil {
			return toolFailed(cmd, req.GetToolName(), ch.GetError())
		}
	}
}

// toolFailed prints the failure a tool reported and returns exit status 2.
func toolFailed(cmd *cobra.Command, tool string, e *altarv1.Error) error {
	ae := altarerr.FromProto(e)
	if ae == nil {
		ae = altarerr.New(altarv1.ErrorCode_ERROR_CODE_TOOL_FAILED, "the tool failed and said nothing more")
	}
	printError(cmd.ErrOrStderr(), "tool "+tool+" failed", ae)
	return exitError{code: exitToolFailed}
}

// writePayload writes a result's payload as natural JSON and a newline; no
// payload is null.
func writePayload(w io.Writer, v *altarv1.Value) error {
	out := []byte("null")
	if v != nil {
		b, err := schema.MarshalJSON(v)
		if err != nil {
			return fmt.Errorf("the result cannot be shown as JSON: %w", err)
		}
		out = b
	}
	_, err := w.Write(append(out, '\n'))
	return err
}

// formatProgress renders a progress report: "progress 3/10 copying".
func formatProgress(p *altarv1.Progress) string {
	var b strings.Builder
	b.WriteString("progress ")
	b.WriteString(strconv.FormatFloat(p.GetProgress(), 'g', -1, 64))
	if p.GetTotal() > 0 {
		b.WriteString("/")
		b.WriteString(strconv.FormatFloat(p.GetTotal(), 'g', -1, 64))
	}
	if p.GetMessage() != "" {
		b.WriteString(" ")
		b.WriteString(p.GetMessage())
	}
	return b.String()
}
