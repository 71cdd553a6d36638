package mcp

import (
	"context"
	"encoding/json"
	"strings"
	"sync"

	mcpproto "github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/auth"
	"github.com/altar-gateway/altar/gateway/schema/jsonschema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// This file describes the Host's tools to MCP and decides which a request
// sees. mcp-go dispatches tools/call through its own tool table, so every
// tool a client has been shown is registered there once, with the one
// handler (Facade.call); which tools a request may see and call is decided
// per request by filterTools, from the Host, never from that table.

// Keys of the _meta the facade adds to tools and results.
const (
	metaVersion   = "altar/version"
	metaStreaming = "altar/streaming"
	metaError     = "altar/error"
)

// maxToolPages bounds the pages of one tools listing read from the Host.
const maxToolPages = 100

// maxConverted bounds the cache of converted contracts; it is emptied when
// full (contracts change rarely).
const maxConverted = 4096

// toolSet caches contracts converted to MCP tools and remembers which
// tools mcp-go's table holds.
type toolSet struct {
	mu         sync.Mutex
	converted  map[*altarv1.ToolContract]mcpproto.Tool
	registered map[string]bool
}

func (t *toolSet) init() {
	t.converted = map[*altarv1.ToolContract]mcpproto.Tool{}
	t.registered = map[string]bool{}
}

// tool describes a contract as an MCP tool named name. Contracts are
// immutable once trusted, so a conversion is cached by contract.
func (f *Facade) tool(name string, c *altarv1.ToolContract) (mcpproto.Tool, error) {
	f.tools.mu.Lock()
	t, ok := f.tools.converted[c]
	f.tools.mu.Unlock()
	if ok && t.Name == name {
		return t, nil
	}
	t, err := convert(name, c)
	if err != nil {
		return mcpproto.Tool{}, err
	}
	f.tools.mu.Lock()
	if len(f.tools.converted) >= maxConverted {
		clear(f.tools.converted)
	}
	f.tools.converted[c] = t
	f.tools.mu.Unlock()
	return t, nil
}

// convert describes a contract as an MCP tool: its parameters as the input
// schema, its return type as the output schema (see outputSchema) and its
// flags as annotations.
func convert(name string, c *altarv1.ToolContract) (mcpproto.Tool, error) {
	t := mcpproto.Tool{Name: name, Description: c.GetDescription()}
	in := json.RawMessage(`{"type":"object","properties":{}}`)
	if c.GetParameters() != nil {
		b, err := jsonschema.ExportJSON(c.GetParameters())
		if err != nil {
			return t, err
		}
		in = json.RawMessage(b)
	}
	t.RawInputSchema = in
	out, err := outputSchema(c)
	if err != nil {
		return t, err
	}
	t.RawOutputSchema = out
	fl := c.GetFlags()
	t.Annotations = mcpproto.ToolAnnotation{
		Title:          c.GetMetadata()["title"],
		ReadOnlyHint:   mcpproto.ToBoolPtr(fl.GetReadOnly()),
		IdempotentHint: mcpproto.ToBoolPtr(fl.GetIdempotent()),
	}
	// MCP reads a missing destructiveHint and openWorldHint as true: say
	// what the contract says wherever it can be said.
	if !fl.GetReadOnly() {
		t.Annotations.DestructiveHint = mcpproto.ToBoolPtr(fl.GetDestructive())
	}
	t.Annotations.OpenWorldHint = mcpproto.ToBoolPtr(fl.GetOpenWorld())
	if fl.GetDeprecated() {
		msg := "Deprecated."
		if m := fl.GetDeprecationMessage(); m != "" {
			msg = "Deprecated: " + m
		}
		t.Description = strings.TrimSpace(msg + " " + t.Description)
	}
	t.Meta = &mcpproto.Meta{AdditionalFields: map[string]any{
		metaVersion:   c.GetVersion(),
		metaStreaming: c.GetSupportsStreaming(),
	}}
	return t, nil
}

// outputSchema is the JSON Schema of a call's structuredContent, which MCP
// requires to be an object: an object return type as it is; any other
// return type as {"result": <value>}; a streaming contract's chunks as
// {"chunks": [<value>, ...]}. A contract with no return type has none.
func outputSchema(c *altarv1.ToolContract) (json.RawMessage, error) {
	rt := c.GetReturnType()
	if rt == nil {
		return nil, nil
	}
	b, err := jsonschema.ExportJSON(rt)
	if err != nil {
		return nil, err
	}
	b = []byte(strings.TrimSpace(string(b)))
	switch {
	case c.GetSupportsStreaming():
		return json.RawMessage(`{"type":"object","properties":{"chunks":{"type":"array","items":` + string(b) + `}},"required":["chunks"]}`), nil
	case rt.GetType() == altarv1.AltarType_ALTAR_TYPE_OBJECT:
		return json.RawMessage(b), nil
	default:
		return json.RawMessage(`{"type":"object","properties":{"result":` + string(b) + `},"required":["result"]}`), nil
	}
}

// allowed reports whether the caller's key may call a contract
// (auth.MayCall; the engine refuses the call otherwise).
func allowed(ctx context.Context, c *altarv1.ToolContract) bool {
	return auth.MayCall(ctx, c.GetSecurityRequirements())
}

// visible lists the tools the request's session and key may use now: those
// the Host shows the session, that a runtime serves, and that the key may
// call, sorted by name.
func (f *Facade) visible(ctx context.Context) []mcpproto.Tool {
	sess, _ := f.session(ctx)
	mcpID := mcpSessionID(ctx)
	var out []mcpproto.Tool
	req := &altarv1.ListToolsRequest{SessionId: sess, PageSize: 1000}
	for range maxToolPages {
		resp, err := f.api.ListTools(ctx, req)
		if err != nil {
			f.o.log.Debug("mcp: listing tools", "session_id", sess, "error", err)
			f.endIfGone(ctx, mcpID, err)
			return out
		}
		for _, info := range resp.GetTools() {
			if t, ok := f.usable(ctx, info); ok {
				out = append(out, t)
			}
		}
		if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
			break
		}
	}
	return out
}

// usable describes one tool when the caller may use it now.
func (f *Facade) usable(ctx context.Context, info *altarv1.ToolInfo) (mcpproto.Tool, bool) {
	if !info.GetAvailable() || len(info.GetNames()) == 0 || !allowed(ctx, info.GetContract()) {
		return mcpproto.Tool{}, false
	}
	t, err := f.tool(info.GetNames()[0], info.GetContract())
	if err != nil {
		f.o.log.Warn("mcp: a contract cannot be described to MCP clients", "tool", info.GetNames()[0], "error", err)
		return mcpproto.Tool{}, false
	}
	return t, true
}

// describe looks one tool up as the ALTAR session sess sees it; mcpID is
// the MCP session to end when sess is gone.
//
// What every session sees (no session) is asked first: it is all most
// sessions see, and asking as a session refreshes (and copies) the session,
// which the call does anyway. Only a tool that view lacks is asked for as
// the session (a tool a runtime registered for it).
func (f *Facade) describe(ctx context.Context, mcpID, sess, name string) (mcpproto.Tool, *altarv1.ToolInfo, bool) {
	resp, err := f.api.GetContract(ctx, &altarv1.GetContractRequest{ToolName: name})
	if sess != "" && (err != nil || !resp.GetTool().GetAvailable()) {
		resp, err = f.api.GetContract(ctx, &altarv1.GetContractRequest{SessionId: sess, ToolName: name})
	}
	if err != nil {
		f.endIfGone(ctx, mcpID, err)
		return mcpproto.Tool{}, nil, false
	}
	info := resp.GetTool()
	t, ok := f.usable(ctx, &altarv1.ToolInfo{Contract: info.GetContract(), Names: []string{name}, Available: info.GetAvailable()})
	return t, info, ok
}

// filterTools is mcp-go's tool filter: of the tools in its table, those
// this request may use, as the Host describes them now. tools/list passes
// the whole table (which beforeListTools has brought up to date), tools/call
// the one tool called.
func (f *Facade) filterTools(ctx context.Context, tools []mcpproto.Tool) []mcpproto.Tool {
	if len(tools) == 1 {
		sess, _ := f.session(ctx)
		if t, info, ok := f.describe(ctx, mcpSessionID(ctx), sess, tools[0].Name); ok {
			// tools/call runs the handler next with this same context: it
			// takes the description instead of asking the Host again.
			f.described.put(ctx, info)
			return []mcpproto.Tool{t}
		}
		return nil
	}
	return f.visible(ctx)
}

// beforeListTools puts every tool this request may see in mcp-go's table.
func (f *Facade) beforeListTools(ctx context.Context, _ any, _ *mcpproto.ListToolsRequest) {
	f.register(f.visible(ctx)...)
}

// beforeCallTool puts the called tool in mcp-go's table when the request
// may use it and a listing has not put it there yet.
func (f *Facade) beforeCallTool(ctx context.Context, _ any, req *mcpproto.CallToolRequest) {
	f.tools.mu.Lock()
	_, known := f.tools.registered[req.Params.Name]
	f.tools.mu.Unlock()
	if known {
		return
	}
	sess, _ := f.session(ctx)
	if t, _, ok := f.describe(ctx, mcpSessionID(ctx), sess, req.Params.Name); ok {
		f.register(t)
	}
}

// register adds tools to mcp-go's table, each with the facade's handler.
func (f *Facade) register(tools ...mcpproto.Tool) {
	var add []mcpserver.ServerTool
	f.tools.mu.Lock()
	for _, t := range tools {
		if _, ok := f.tools.registered[t.Name]; !ok {
			f.tools.registered[t.Name] = true
			add = append(add, mcpserver.ServerTool{Tool: t, Handler: f.call})
		}
	}
	f.tools.mu.Unlock()
	if len(add) > 0 {
		f.srv.AddTools(add...)
	}
}

// endIfGone ends the MCP session mcpID when err says its ALTAR session
// expired or was destroyed, so that the next request is answered 404 and
// the client initializes again.
func (f *Facade) endIfGone(ctx context.Context, mcpID string, err error) {
	switch altarerr.CodeOf(err) {
	case altarv1.ErrorCode_ERROR_CODE_SESSION_NOT_FOUND, altarv1.ErrorCode_ERROR_CODE_SESSION_EXPIRED:
		if mcpID != "" {
			f.endSession(ctx, mcpID)
		}
	}
}

// mcpSessionID is the id of the MCP session mcp-go serves ctx's request
// in, or "".
func mcpSessionID(ctx context.Context) string {
	if s := mcpserver.ClientSessionFromContext(ctx); s != nil {
		return s.SessionID()
	}
	return ""
}

// maxDescribed bounds the descriptions waiting for their handler; a filter
// whose handler never runs (mcp-go refusing the call after the filter)
// leaves one behind, so the memo is emptied when full.
const maxDescribed = 4096

// describedMemo hands a tool's description from the tool filter to the
// handler of the same tools/call, keyed by the request's context.
type describedMemo struct {
	mu sync.Mutex
	m  map[context.Context]*altarv1.ToolInfo
}

func (d *describedMemo) put(ctx context.Context, info *altarv1.ToolInfo) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil || len(d.m) >= maxDescribed {
		d.m = map[context.Context]*altarv1.ToolInfo{}
	}
	d.m[ctx] = info
}

func (d *describedMemo) take(ctx context.Context) (*altarv1.ToolInfo, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	info, ok := d.m[ctx]
	delete(d.m, ctx)
	return info, ok
}
