package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// How much of a description the tool list and a contract's parameter list
// show.
const (
	descriptionWidth      = 60
	paramDescriptionWidth = 120
)

func newToolsCommand() *cobra.Command {
	var session, version string
	cmd := &cobra.Command{
		Use:   "tools [NAME]",
		Short: "List the tools a running gateway offers, or describe one",
		Long: `Without NAME, tools lists the tools the gateway offers (to --session, when
given): name, version, whether a healthy runtime fulfils it, which runtimes
do, and the start of its description.

With NAME (bare, or qualified as runtime/name), tools describes that tool's
contract, its parameters as a list of JSON pointers ("*" stands for every
item of an array) with their type, whether they are required, their
constraints and description.

With -o json, the ListToolsResponse (every page) or the ToolInfo, as protojson.`,
		Example: `  altar tools
  altar tools add
  altar tools add -o json --addr gateway.example.com:443 --key "$KEY"`,
		Args: cobra.MaximumNArgs(1),
	}
	opts := addClientFlags(cmd)
	cmd.Flags().StringVar(&session, "session", "", "session to list or describe the tools for")
	cmd.Flags().StringVar(&version, "version", "", "version constraint of the contract described (with NAME); empty for the newest")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := opts.dial(cmd)
		if err != nil {
			return err
		}
		defer c.close()
		if len(args) == 1 {
			return c.describeTool(cmd, &altarv1.GetContractRequest{SessionId: session, ToolName: args[0], Version: version})
		}
		if version != "" {
			return fmt.Errorf("--version needs a tool NAME")
		}
		return c.listTools(cmd, session)
	}
	return cmd
}

// listTools prints every page of ListTools.
func (c *client) listTools(cmd *cobra.Command, session string) error {
	all := &altarv1.ListToolsResponse{}
	req := &altarv1.ListToolsRequest{SessionId: session}
	for {
		ctx, cancel := c.callContext(cmd.Context())
		resp, err := c.api.ListTools(ctx, req)
		cancel()
		if err != nil {
			return refused(cmd, err)
		}
		all.Tools = append(all.Tools, resp.GetTools()...)
		if resp.GetNextPageToken() == "" {
			break
		}
		req.PageToken = resp.GetNextPageToken()
	}
	w := cmd.OutOrStdout()
	if c.opts.json() {
		return writeProtoJSON(w, all)
	}
	t := newTable(w, "NAME", "VERSION", "AVAILABLE", "RUNTIMES", "DESCRIPTION")
	for _, tool := range all.GetTools() {
		ct := tool.GetContract()
		t.row(ct.GetName(), ct.GetVersion(), yesNo(tool.GetAvailable()),
			orDash(strings.Join(tool.GetRuntimeIds(), ",")), truncate(ct.GetDescription(), descriptionWidth))
	}
	return t.flush()
}

// describeTool prints one tool's contract.
func (c *client) describeTool(cmd *cobra.Command, req *altarv1.GetContractRequest) error {
	ctx, cancel := c.callContext(cmd.Context())
	defer cancel()
	resp, err := c.api.GetContract(ctx, req)
	if err != nil {
		return refused(cmd, err)
	}
	w := cmd.OutOrStdout()
	if c.opts.json() {
		return writeProtoJSON(w, resp.GetTool())
	}
	return writeContract(w, resp.GetTool())
}

// writeContract writes a tool's contract for a person to read.
func writeContract(w io.Writer, info *altarv1.ToolInfo) error {
	ct := info.GetContract()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", ct.GetName(), ct.GetVersion())
	if d := strings.TrimSpace(ct.GetDescription()); d != "" {
		fmt.Fprintf(&b, "%s\n", d)
	}
	b.WriteByte('\n')
	field := func(name, value string) { fmt.Fprintf(&b, "%-11s %s\n", name+":", value) }
	field("Names", orDash(strings.Join(info.GetNames(), ", ")))
	field("Available", yesNo(info.GetAvailable()))
	field("Runtimes", orDash(strings.Join(info.GetRuntimeIds(), ", ")))
	field("Streaming", yesNo(ct.GetSupportsStreaming()))
	if flags := contractFlags(ct.GetFlags()); flags != "" {
		field("Flags", flags)
	}
	if ct.GetTimeoutMs() > 0 {
		field("Timeout", (time.Duration(ct.GetTimeoutMs()) * time.Millisecond).String())
	}
	if rt := ct.GetReturnType(); rt != nil {
		ret := typeName(rt.GetType())
		if c := constraints(rt); c != "" {
			ret += " (" + c + ")"
		}
		if d := rt.GetDescription(); d != "" {
			ret += ": " + d
		}
		field("Returns", ret)
	}
	if msg := ct.GetFlags().GetDeprecationMessage(); ct.GetFlags().GetDeprecated() {
		field("Deprecated", orDash(msg))
	}
	b.WriteString("\nParameters:\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	var rows [][]string
	parameterRows(&rows, "", ct.GetParameters(), false)
	if len(rows) == 0 {
		_, err := io.WriteString(w, "  (none)\n")
		return err
	}
	t := newTable(w, "  PATH", "TYPE", "REQUIRED", "CONSTRAINTS", "DESCRIPTION")
	for _, r := range rows {
		r[0] = "  " + r[0]
		t.row(r...)
	}
	return t.flush()
}

// contractFlags names the flags that are set: "read_only, idempotent".
func contractFlags(f *altarv1.ToolFlags) string {
	var names []string
	add := func(set bool, name string) {
		if set {
			names = append(names, name)
		}
	}
	add(f.GetReadOnly(), "read_only")
	add(f.GetIdempotent(), "idempotent")
	add(f.GetCacheable(), "cacheable")
	add(f.GetDestructive(), "destructive")
	add(f.GetOpenWorld(), "open_world")
	add(f.GetDeprecated(), "deprecated")
	return strings.Join(names, ", ")
}

// parameterRows appends a row (path, type, required, constraints,
// description) for each property of s, depth first, and for the items of
// its arrays. path is s's JSON pointer; the top level itself has no row.
func parameterRows(rows *[][]string, path string, s *altarv1.ParameterSchema, required bool) {
	if s == nil {
		return
	}
	if path != "" {
		req := "no"
		if required {
			req = "yes"
		}
		*rows = append(*rows, []string{path, typeName(s.GetType()), req, constraints(s), truncate(s.GetDescription(), paramDescriptionWidth)})
	}
	if items := s.GetItems(); items != nil {
		parameterRows(rows, path+"/*", items, false)
	}
	for _, name := range propertyOrder(s) {
		parameterRows(rows, path+"/"+escapePointer(name), s.GetProperties()[name], slices.Contains(s.GetRequired(), name))
	}
}

// propertyOrder is s's property_ordering, then the other properties by name.
func propertyOrder(s *altarv1.ParameterSchema) []string {
	var names []string
	for _, n := range s.GetPropertyOrdering() {
		if _, ok := s.GetProperties()[n]; ok && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	var rest []string
	for n := range s.GetProperties() {
		if !slices.Contains(names, n) {
			rest = append(rest, n)
		}
	}
	slices.Sort(rest)
	return append(names, rest...)
}

// escapePointer escapes a property name for a JSON pointer (RFC 6901).
func escapePointer(name string) string {
	return strings.ReplaceAll(strings.ReplaceAll(name, "~", "~0"), "/", "~1")
}

// constraints renders a schema's checks in short: "min 0, max 15, default 2".
func constraints(s *altarv1.ParameterSchema) string {
	var c []string
	num := func(label string, v *float64) {
		if v != nil {
			c = append(c, label+" "+strconv.FormatFloat(*v, 'g', -1, 64))
		}
	}
	count := func(label string, v *uint64) {
		if v != nil {
			c = append(c, label+" "+strconv.FormatUint(*v, 10))
		}
	}
	num("min", s.Minimum)
	num("max", s.Maximum)
	num(">", s.ExclusiveMinimum)
	num("<", s.ExclusiveMaximum)
	num("multiple of", s.MultipleOf)
	count("min length", s.MinLength)
	count("max length", s.MaxLength)
	if s.GetPattern() != "" {
		c = append(c, "pattern "+strconv.Quote(s.GetPattern()))
	}
	if s.GetFormat() != "" {
		c = append(c, "format "+s.GetFormat())
	}
	if len(s.GetEnum()) > 0 {
		vals := make([]string, len(s.GetEnum()))
		for i, v := range s.GetEnum() {
			vals[i] = valueText(v)
		}
		c = append(c, "one of "+strings.Join(vals, "|"))
	}
	count("min items", s.MinItems)
	count("max items", s.MaxItems)
	if s.GetUniqueItems() {
		c = append(c, "unique items")
	}
	count("min properties", s.MinProperties)
	count("max properties", s.MaxProperties)
	if s.GetAdditionalProperties() {
		c = append(c, "other properties allowed")
	}
	if len(s.GetAnyOf()) > 0 {
		alts := make([]string, len(s.GetAnyOf()))
		for i, a := range s.GetAnyOf() {
			alts[i] = orDash(constraints(a))
			if a.GetType() != s.GetType() && a.GetType() != altarv1.AltarType_ALTAR_TYPE_UNSPECIFIED {
				alts[i] = typeName(a.GetType()) + " " + alts[i]
			}
		}
		c = append(c, "any of ("+strings.Join(alts, ") | (")+")")
	}
	if s.GetNullable() {
		c = append(c, "nullable")
	}
	if s.GetSensitive() {
		c = append(c, "sensitive")
	}
	if s.GetDefault() != nil {
		c = append(c, "default "+valueText(s.GetDefault()))
	}
	return strings.Join(c, ", ")
}

// valueText is v in natural JSON, a string without its quotes.
func valueText(v *altarv1.Value) string {
	if sv, ok := v.GetKind().(*altarv1.Value_StringValue); ok {
		return sv.StringValue
	}
	b, err := schema.MarshalJSON(v)
	if err != nil {
		return "?"
	}
	return string(b)
}

// typeName is the manifest spelling of t; an unset type accepts any value.
func typeName(t altarv1.AltarType) string {
	if t == altarv1.AltarType_ALTAR_TYPE_UNSPECIFIED {
		return "any"
	}
	return schema.TypeName(t)
}
