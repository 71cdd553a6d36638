package mcp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	mcpproto "github.com/mark3labs/mcp-go/mcp"

	"github.com/altar-gateway/altar/gateway"
	"github.com/altar-gateway/altar/gateway/schema/jsonschema"
	facade "github.com/altar-gateway/altar/integrations/mcp"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// The tools a caller with every role sees: the calculator's and the test
// tools a runtime serves (not "unserved", which none does).
var allTools = []string{"add", "admin_echo", "block", "count", "divide", "exact", "multiply", "subtract"}

// TestListTools: tools/list describes exactly the tools served now, with
// the Host's schemas and flags, under both protocol revisions.
func TestListTools(t *testing.T) {
	g := startGateway(t, nil)
	for _, version := range []string{legacy, modern} {
		t.Run(version, func(t *testing.T) {
			c := connect(t, g.url, version, "")
			res, err := c.ListTools(ctxT(t), mcpproto.ListToolsRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if got := toolNames(res.Tools); !slices.Equal(got, allTools) {
				t.Fatalf("tools = %v, want %v", got, allTools)
			}
			byName := map[string]mcpproto.Tool{}
			for _, tool := range res.Tools {
				byName[tool.Name] = tool
			}
			add := byName["add"]
			info, err := g.GetContract(ctxT(t), &altarv1.GetContractRequest{ToolName: "add"})
			if err != nil {
				t.Fatal(err)
			}
			wantIn, err := jsonschema.ExportJSON(info.GetTool().GetContract().GetParameters())
			if err != nil {
				t.Fatal(err)
			}
			gotIn, _ := json.Marshal(add.InputSchema)
			// mcp-go's client keeps the keywords it has fields for; the
			// Host's export adds propertyOrdering, which it drops.
			var want map[string]any
			_ = json.Unmarshal(wantIn, &want)
			delete(want, "propertyOrdering")
			wantIn, _ = json.Marshal(want)
			if !jsonEqual(t, gotIn, wantIn) {
				t.Errorf("add input schema = %s, want %s", gotIn, wantIn)
			}
			gotOut, _ := json.Marshal(add.OutputSchema)
			if !jsonEqual(t, gotOut, []byte(`{"type":"object","properties":{"result":{"type":"number","description":"a + b"}},"required":["result"]}`)) {
				t.Errorf("add output schema = %s", gotOut)
			}
			if a := add.Annotations; a.ReadOnlyHint == nil || !*a.ReadOnlyHint || a.IdempotentHint == nil || !*a.IdempotentHint {
				t.Errorf("add annotations = %+v, want read-only and idempotent", a)
			}
			if add.Meta == nil || add.Meta.AdditionalFields["altar/version"] != "1.0.0" {
				t.Errorf("add _meta = %+v, want altar/version 1.0.0", add.Meta)
			}
			count, _ := json.Marshal(byName["count"].OutputSchema)
			if !strings.Contains(string(count), `"chunks"`) {
				t.Errorf("count output schema = %s, want the chunks array", count)
			}
			exact, _ := json.Marshal(byName["exact"].OutputSchema)
			if !strings.Contains(string(exact), `"half"`) || strings.Contains(string(exact), `"result"`) {
				t.Errorf("exact output schema = %s, want the object return type as it is", exact)
			}
			if a := byName["block"].Annotations; a.DestructiveHint == nil || *a.DestructiveHint {
				t.Errorf("block annotations = %+v, want destructiveHint false (the contract does not say destructive)", a)
			}
		})
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return string(xb) == string(yb)
}

// TestCallTool: tools/call runs through the Host's engine: results in
// structuredContent and text, failures as isError with the ALTAR error.
func TestCallTool(t *testing.T) {
	g := startGateway(t, nil)
	c := connect(t, g.url, legacy, "")
	tests := []struct {
		name       string
		tool       string
		args       any
		structured string
		text       string
		errCode    string
		errPath    string
		rawText    string // the text exactly, when it is not JSON
	}{
		{name: "add", tool: "add", args: map[string]any{"a": 1, "b": 2}, structured: `{"result":3}`, text: "3"},
		{name: "a string result is its text, not a JSON string", tool: "admin_echo", args: map[string]any{"text": `say "hi"`},
			structured: `{"result":"say \"hi\""}`, rawText: `say "hi"`},
		{name: "object result as it is, integers exact", tool: "exact", args: json.RawMessage(`{"n":9007199254740993}`),
			structured: `{"half":4503599627370496,"n":9007199254740993}`},
		{name: "missing argument", tool: "add", args: map[string]any{"a": 1}, errCode: "INVALID_ARGUMENTS", errPath: "/b"},
		{name: "wrong type", tool: "add", args: map[string]any{"a": "one", "b": 2}, errCode: "INVALID_ARGUMENTS", errPath: "/a"},
		{name: "schema refuses before the runtime", tool: "divide", args: map[string]any{"a": 1, "b": 0}, errCode: "INVALID_ARGUMENTS", errPath: "/b"},
		{name: "unknown field", tool: "add", args: map[string]any{"a": 1, "b": 2, "c": 3}, errCode: "INVALID_ARGUMENTS", errPath: "/c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.CallTool(ctxT(t), callReq(tt.tool, tt.args))
			if err != nil {
				t.Fatal(err)
			}
			if tt.errCode != "" {
				e := errorOf(t, res)
				if e.Code != tt.errCode {
					t.Fatalf("code = %s (%s), want %s", e.Code, e.Message, tt.errCode)
				}
				if !slices.ContainsFunc(e.FieldErrors, func(f struct{ Path, Rule, Message string }) bool { return f.Path == tt.errPath }) {
					t.Errorf("field errors %+v do not name %s", e.FieldErrors, tt.errPath)
				}
				if !strings.HasPrefix(textOf(res), tt.errCode) {
					t.Errorf("text = %q, want the code first", textOf(res))
				}
				return
			}
			if res.IsError {
				t.Fatalf("error: %s", textOf(res))
			}
			if got := structured(t, res); !jsonEqualStr(got, tt.structured) {
				t.Errorf("structuredContent = %s, want %s", got, tt.structured)
			}
			if tt.text != "" && !jsonEqualStr(textOf(res), tt.text) {
				t.Errorf("text = %q, want %q", textOf(res), tt.text)
			}
			if tt.rawText != "" && textOf(res) != tt.rawText {
				t.Errorf("text = %q, want %q", textOf(res), tt.rawText)
			}
		})
	}
	t.Run("unknown tool is a protocol error", func(t *testing.T) {
		_, err := c.CallTool(ctxT(t), callReq("nope", nil))
		if err == nil || !strings.Contains(err.Error(), "not found") {
			t.Fatalf("err = %v, want tool not found", err)
		}
	})
	t.Run("trusted but unserved is not callable", func(t *testing.T) {
		_, err := c.CallTool(ctxT(t), callReq("unserved", nil))
		if err == nil {
			t.Fatal("a tool no runtime serves was called")
		}
	})
	t.Run("calls are audited in the engine's stats", func(t *testing.T) {
		stats := g.Engine().Stats("add")
		var calls uint64
		for _, s := range stats {
			calls += s.GetCalls()
		}
		if calls == 0 {
			t.Fatal("the engine saw no call of add")
		}
	})
}

// jsonEqualStr compares two JSON documents by value: integers exactly,
// other numbers as doubles ("3.0" is 3: the Host writes a double with its
// fraction).
func jsonEqualStr(a, b string) bool {
	var fix func(v any) any
	fix = func(v any) any {
		switch x := v.(type) {
		case json.Number:
			if i, err := x.Int64(); err == nil {
				return i
			}
			f, _ := x.Float64()
			if f == float64(int64(f)) {
				return int64(f)
			}
			return f
		case map[string]any:
			for k, e := range x {
				x[k] = fix(e)
			}
		case []any:
			for i, e := range x {
				x[i] = fix(e)
			}
		}
		return v
	}
	norm := func(s string) string {
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			return "invalid: " + s
		}
		out, _ := json.Marshal(fix(v))
		return string(out)
	}
	return norm(a) == norm(b)
}

// TestStreamingProgress: a streaming contract's chunks arrive as progress
// notifications, in order, and all of them in the result.
func TestStreamingProgress(t *testing.T) {
	g := startGateway(t, nil)
	for _, version := range []string{legacy, modern} {
		t.Run(version, func(t *testing.T) {
			c := connect(t, g.url, version, "")
			var mu sync.Mutex
			var progress []string
			c.OnNotification(func(n mcpproto.JSONRPCNotification) {
				if n.Method != string(mcpproto.MethodNotificationProgress) {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				progress = append(progress, fmt.Sprint(n.Params.AdditionalFields["message"]))
			})
			req := callReq("count", map[string]any{"stop": 5, "delay_ms": 0})
			req.Params.Meta = &mcpproto.Meta{ProgressToken: "p-1"}
			res, err := c.CallTool(ctxT(t), req)
			if err != nil {
				t.Fatal(err)
			}
			if res.IsError {
				t.Fatal(textOf(res))
			}
			if got := structured(t, res); !jsonEqualStr(got, `{"chunks":[1,2,3,4,5]}`) {
				t.Fatalf("structuredContent = %s", got)
			}
			mu.Lock()
			defer mu.Unlock()
			if want := []string{"1", "2", "3", "4", "5"}; !slices.Equal(progress, want) {
				t.Fatalf("progress messages = %v, want 1..5 in order", progress)
			}
		})
	}
}

// TestCancellation: a client that gives up on a call (notifications/
// cancelled) cancels the invocation: the runtime's context ends.
func TestCancellation(t *testing.T) {
	g := startGateway(t, nil)
	for _, tool := range []string{"block", "count"} {
		t.Run(tool, func(t *testing.T) {
			c := connect(t, g.url, legacy, "")
			ctx, cancel := context.WithCancel(ctxT(t))
			errc := make(chan error, 1)
			args := map[string]any{}
			if tool == "count" {
				args = map[string]any{"stop": 1000, "delay_ms": 10000}
			}
			go func() {
				_, err := c.CallTool(ctx, callReq(tool, args))
				errc <- err
			}()
			if tool == "block" {
				select {
				case <-g.started:
				case <-ctxT(t).Done():
					t.Fatal("the call did not start")
				}
			} else {
				eventually(t, "count in flight", func() bool { return inFlight(g, "count") == 1 })
			}
			cancel()
			if err := <-errc; !errors.Is(err, context.Canceled) {
				t.Fatalf("call error = %v, want context.Canceled", err)
			}
			if tool == "block" {
				select {
				case <-g.blocked:
				case <-ctxT(t).Done():
					t.Fatal("the runtime never saw the call cancelled")
				}
			}
			eventually(t, "the invocation to end cancelled", func() bool {
				return inFlight(g, tool) == 0 && cancelled(g, tool) == 1
			})
		})
	}
}

func inFlight(g *gw, tool string) (n uint32) {
	for _, s := range g.Engine().Stats(tool) {
		n += s.GetInFlight()
	}
	return n
}

func cancelled(g *gw, tool string) (n uint64) {
	for _, s := range g.Engine().Stats(tool) {
		n += s.GetErrorsByCode()["CANCELLED"]
	}
	return n
}

// TestSessions: an MCP session is an ALTAR session: created at initialize
// as the caller, used by calls, ended by DELETE, bounded, and not usable
// with another key.
func TestSessions(t *testing.T) {
	g := startGateway(t, func(c *gateway.Config) {
		c.Keys = testKeys()
		c.Sessions.MaxSessions = 3
	})
	c := connect(t, g.url, legacy, clientKey)
	id := c.GetSessionId()
	sess, err := g.GetSession(ctxT(t), &altarv1.GetSessionRequest{SessionId: id})
	if err != nil {
		t.Fatalf("MCP session %q is no ALTAR session: %v", id, err)
	}
	if got := sess.GetSession().GetSecurityContext().GetPrincipalId(); got != "client-1" {
		t.Errorf("session principal = %q, want client-1", got)
	}
	if got := sess.GetSession().GetMetadata()["mcp.transport"]; got != "streamable-http" {
		t.Errorf("session transport = %q", got)
	}

	t.Run("another key cannot use the session", func(t *testing.T) {
		c2 := client.NewClient(mustTransport(t, g.url, otherKey, transport.WithSession(id)), client.WithSession(), client.WithProtocolVersion(legacy))
		if err := c2.Start(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		defer c2.Close()
		if _, err := c2.ListTools(ctxT(t), mcpproto.ListToolsRequest{}); err == nil {
			t.Fatal("client-2 listed tools in client-1's session")
		}
	})

	t.Run("no listening stream", func(t *testing.T) {
		// The facade sends nothing unprompted: GET is 405, as the
		// transport allows, for every caller and session.
		for _, tt := range []struct{ name, key, session string }{
			{"own session", clientKey, id},
			{"no session", clientKey, ""},
			{"another key's session", otherKey, id},
		} {
			req, _ := http.NewRequestWithContext(ctxT(t), http.MethodGet, g.url+"/mcp", nil)
			req.Header.Set("Accept", "text/event-stream")
			req.Header.Set("Mcp-Protocol-Version", legacy)
			req.Header.Set("Authorization", "Bearer "+tt.key)
			if tt.session != "" {
				req.Header.Set("Mcp-Session-Id", tt.session)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("%s: status %d, want 405", tt.name, resp.StatusCode)
			}
		}
		if n := len(mustSessions(t, g)); n != 1 {
			t.Errorf("%d sessions after the GETs, want the one", n)
		}
	})

	t.Run("sessions are bounded", func(t *testing.T) {
		second := connect(t, g.url, legacy, clientKey)
		third := connect(t, g.url, legacy, clientKey)
		_, err := tryConnect(t, g.url, legacy, clientKey)
		if err == nil || !strings.Contains(err.Error(), "RESOURCE_EXHAUSTED") {
			t.Fatalf("fourth session: err = %v, want RESOURCE_EXHAUSTED", err)
		}
		_ = second.Close()
		_ = third.Close()
		eventually(t, "the sessions to end", func() bool { return len(mustSessions(t, g)) == 1 })
	})

	t.Run("an ended ALTAR session ends the MCP session", func(t *testing.T) {
		c3 := connect(t, g.url, legacy, clientKey)
		if _, err := c3.ListTools(ctxT(t), mcpproto.ListToolsRequest{}); err != nil {
			t.Fatal(err)
		}
		// As if it had expired.
		if _, err := g.DestroySession(ctxT(t), &altarv1.DestroySessionRequest{SessionId: c3.GetSessionId()}); err != nil {
			t.Fatal(err)
		}
		// The first request finds the session gone; from then on the MCP
		// session is gone too: 404.
		res, err := c3.CallTool(ctxT(t), callReq("add", map[string]any{"a": 1, "b": 2}))
		if err != nil {
			t.Fatal(err)
		}
		if e := errorOf(t, res); e.Code != "SESSION_NOT_FOUND" && e.Code != "SESSION_EXPIRED" {
			t.Fatalf("a call in an ended session: %+v", e)
		}
		_, err = c3.ListTools(ctxT(t), mcpproto.ListToolsRequest{})
		if err == nil || !strings.Contains(err.Error(), "404") && !strings.Contains(strings.ToLower(err.Error()), "session") {
			t.Fatalf("after the session ended: err = %v, want 404", err)
		}
	})

	t.Run("closing the client destroys the session", func(t *testing.T) {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the ALTAR session to be destroyed", func() bool {
			_, err := g.GetSession(context.Background(), &altarv1.GetSessionRequest{SessionId: id})
			return err != nil
		})
	})
}

func mustTransport(t *testing.T, url, key string, opts ...transport.StreamableHTTPCOption) *transport.StreamableHTTP {
	t.Helper()
	opts = append(opts, transport.WithHTTPBasicClient(&http.Client{Transport: keyTransport(key)}))
	tr, err := transport.NewStreamableHTTP(url+"/mcp", opts...)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestKeys: with keys configured /mcp needs one, a runtime key is refused,
// and tools/list and tools/call follow the key's role.
func TestKeys(t *testing.T) {
	g := startGateway(t, func(c *gateway.Config) { c.Keys = testKeys() })
	for _, tt := range []struct {
		name   string
		header string
		status int
	}{
		{"no key", "", http.StatusUnauthorized},
		{"wrong key", "Bearer nope", http.StatusUnauthorized},
		{"runtime key", "Bearer " + runtimeKey, http.StatusForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(ctxT(t), http.MethodPost, g.url+"/mcp",
				strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.status)
			}
		})
	}
	for _, tt := range []struct {
		key      string
		wantsAll bool
	}{{clientKey, false}, {adminKey, true}} {
		t.Run("role of "+tt.key, func(t *testing.T) {
			c := connect(t, g.url, legacy, tt.key)
			res, err := c.ListTools(ctxT(t), mcpproto.ListToolsRequest{})
			if err != nil {
				t.Fatal(err)
			}
			want := slices.DeleteFunc(slices.Clone(allTools), func(n string) bool { return !tt.wantsAll && n == "admin_echo" })
			if got := toolNames(res.Tools); !slices.Equal(got, want) {
				t.Fatalf("tools = %v, want %v", got, want)
			}
			_, err = c.CallTool(ctxT(t), callReq("admin_echo", map[string]any{"text": "hi"}))
			if tt.wantsAll == (err != nil) {
				t.Fatalf("calling admin_echo: err = %v", err)
			}
		})
	}
}

// TestSSETransport: the older HTTP+SSE transport lists and calls too, in
// its own ALTAR session, ended with the stream.
func TestSSETransport(t *testing.T) {
	g := startGateway(t, nil)
	c, err := client.NewSSEMCPClient(g.url + "/mcp/sse")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Initialize(ctxT(t), initRequest(legacy)); err != nil {
		t.Fatal(err)
	}
	res, err := c.ListTools(ctxT(t), mcpproto.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := toolNames(res.Tools); !slices.Equal(got, allTools) {
		t.Fatalf("tools = %v", got)
	}
	out, err := c.CallTool(ctxT(t), callReq("add", map[string]any{"a": 2, "b": 40}))
	if err != nil || out.IsError {
		t.Fatalf("add: %v %+v", err, out)
	}
	if got := structured(t, out); !jsonEqualStr(got, `{"result":42}`) {
		t.Fatalf("add = %s", got)
	}
	sessions := func() int {
		resp, err := g.ListSessions(context.Background(), &altarv1.ListSessionsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		return len(resp.GetSessions())
	}
	if n := sessions(); n != 1 {
		t.Fatalf("%d ALTAR sessions with one SSE client, want 1", n)
	}
	_ = c.Close()
	eventually(t, "the SSE session to end", func() bool { return sessions() == 0 })
}

// TestSSEOwnership: only the key that opened an SSE session may post to it.
func TestSSEOwnership(t *testing.T) {
	g := startGateway(t, func(c *gateway.Config) { c.Keys = testKeys() })
	c, err := client.NewSSEMCPClient(g.url+"/mcp/sse", transport.WithHTTPClient(&http.Client{Transport: keyTransport(clientKey)}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Initialize(ctxT(t), initRequest(legacy)); err != nil {
		t.Fatal(err)
	}
	sessions := mustSessions(t, g)
	if len(sessions) != 1 {
		t.Fatalf("%d sessions", len(sessions))
	}
	id := sessions[0].GetSessionId()
	for _, tt := range []struct {
		key    string
		status int
	}{{otherKey, http.StatusNotFound}, {clientKey, http.StatusAccepted}} {
		req, _ := http.NewRequestWithContext(ctxT(t), http.MethodPost, g.url+"/mcp/message?sessionId="+id,
			strings.NewReader(`{"jsonrpc":"2.0","method":"notifications/initialized"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tt.key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("key %s: status %d, want %d", tt.key, resp.StatusCode, tt.status)
		}
	}
}

// TestPagination: tools/list pages through the tools with a cursor.
func TestPagination(t *testing.T) {
	g := startGateway(t, nil)
	f := facade.New(g.Host, facade.WithPageSize(3))
	srv := httptest.NewServer(http.StripPrefix("", f.Handler()))
	t.Cleanup(func() {
		_ = f.Close(context.Background())
		srv.Close()
	})
	c := connect(t, srv.URL, legacy, "")
	var names []string
	var cursor mcpproto.Cursor
	pages := 0
	for {
		req := mcpproto.ListToolsRequest{}
		req.Params.Cursor = cursor
		res, err := c.ListToolsByPage(ctxT(t), req)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(res.Tools) > 3 {
			t.Fatalf("page of %d tools, limit 3", len(res.Tools))
		}
		names = append(names, toolNames(res.Tools)...)
		if cursor = res.NextCursor; cursor == "" {
			break
		}
	}
	if !slices.Equal(names, allTools) || pages != 3 {
		t.Fatalf("%d pages: %v, want %v in 3", pages, names, allTools)
	}
}

func mustSessions(t *testing.T, g *gw) []*altarv1.Session {
	t.Helper()
	resp, err := g.ListSessions(ctxT(t), &altarv1.ListSessionsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetSessions()
}
