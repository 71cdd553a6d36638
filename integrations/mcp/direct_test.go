package mcp_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/altar-gateway/altar/gateway"
	mcpfacade "github.com/altar-gateway/altar/integrations/mcp"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// facadeServer serves a facade of its own over the gateway's Host, so that
// a test can look into it; requests carry no principal (a local caller).
func facadeServer(t *testing.T, g *gw, opts ...mcpfacade.Option) (*mcpfacade.Facade, string) {
	t.Helper()
	f := mcpfacade.New(g.Host, opts...)
	srv := httptest.NewServer(f.Handler())
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := f.Close(ctx); err != nil {
			t.Errorf("closing the facade: %v", err)
		}
	})
	return f, srv.URL + "/mcp"
}

// rawResponse is one HTTP answer of the facade.
type rawResponse struct {
	status      int
	contentType string
	body        []byte
}

func post(t *testing.T, url, session, body string) rawResponse {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", legacy)
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return rawResponse{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: b}
}

// rawSession opens an MCP session with plain HTTP requests.
func rawSession(t *testing.T, url string) string {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"` + legacy +
		`","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`
	req, _ := http.NewRequestWithContext(ctxT(t), http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	id := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != http.StatusOK || id == "" {
		t.Fatalf("initialize: status %d, session %q", resp.StatusCode, id)
	}
	if r := post(t, url, id, `{"jsonrpc":"2.0","method":"notifications/initialized"}`); r.status != http.StatusAccepted {
		t.Fatalf("notifications/initialized: status %d: %s", r.status, r.body)
	}
	return id
}

// normalized is a JSON-RPC response as a value, the invocation ids (new
// for every call) replaced by a placeholder.
func normalized(t *testing.T, body []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("response is not JSON: %v: %s", err, body)
	}
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if k == "altar/invocation_id" || k == "invocationId" {
					v[k] = "<invocation>"
					continue
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	return v
}

// TestDirectCallsAnswerAsMCPGo: the facade answers a plain tools/call
// itself (fastcall.go); every answer it gives is the one mcp-go gives to
// the same call. A call with any _meta goes to mcp-go, which gives the
// reference answer; an unknown tool goes to mcp-go both ways.
func TestDirectCallsAnswerAsMCPGo(t *testing.T) {
	g := startGateway(t, nil)
	f, url := facadeServer(t, g)
	session := rawSession(t, url)

	for _, tt := range []struct {
		name   string
		params string
		direct bool
	}{
		{"a number", `{"name":"add","arguments":{"a":1.5,"b":2}}`, true},
		{"a string that needs escaping", `{"name":"admin_echo","arguments":{"text":"<b> & \"q\" \\ \t \u2028 é \u0001"}}`, true},
		{"an object, integers exact", `{"name":"exact","arguments":{"n":9007199254740993}}`, true},
		{"an argument of the wrong type", `{"name":"add","arguments":{"a":"one","b":2}}`, true},
		{"arguments that are not an object", `{"name":"add","arguments":[1,2]}`, true},
		{"no arguments", `{"name":"add"}`, true},
		{"refused by the contract's schema", `{"name":"divide","arguments":{"a":1,"b":0}}`, true},
		{"empty _meta", `{"name":"add","arguments":{"a":1,"b":2},"_meta":{}}`, true},
		{"an unknown tool", `{"name":"nope","arguments":{}}`, false},
	} {
		for _, id := range []string{`7`, `"call-7"`} {
			t.Run(tt.name+" id "+id, func(t *testing.T) {
				msg := `{"jsonrpc":"2.0","id":` + id + `,"method":"tools/call","params":` + tt.params + `}`
				before := mcpfacade.DirectCalls(f)
				direct := post(t, url, session, msg)
				if got := mcpfacade.DirectCalls(f) - before; got != map[bool]int64{true: 1, false: 0}[tt.direct] {
					t.Fatalf("answered directly: %d calls, want direct=%v", got, tt.direct)
				}
				// Any _meta key sends the call to mcp-go (the last of
				// duplicate keys counts).
				viaMCPGo := post(t, url, session, strings.TrimSuffix(msg, "}}")+`,"_meta":{"altar.test/path":"mcp-go"}}}`)
				if mcpfacade.DirectCalls(f) != before+map[bool]int64{true: 1, false: 0}[tt.direct] {
					t.Fatal("a call with _meta was answered directly")
				}
				if direct.status != viaMCPGo.status || direct.contentType != viaMCPGo.contentType {
					t.Errorf("direct: %d %s; mcp-go: %d %s", direct.status, direct.contentType, viaMCPGo.status, viaMCPGo.contentType)
				}
				if d, m := normalized(t, direct.body), normalized(t, viaMCPGo.body); !reflect.DeepEqual(d, m) {
					t.Errorf("answers differ\ndirect: %s\nmcp-go: %s", direct.body, viaMCPGo.body)
				}
			})
		}
	}

	t.Run("not for the direct path", func(t *testing.T) {
		before := mcpfacade.DirectCalls(f)
		for _, msg := range []string{
			`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`,
			`{"jsonrpc":"2.0","method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}`,
			`{"jsonrpc":"2.0","id":1.5,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}`,
			`[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}]`,
			`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2},"_meta":{"progressToken":"p"}}}`,
			`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2},"task":{"ttl":1000}}}`,
			`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}`,
		} {
			post(t, url, session, msg)
		}
		if got := mcpfacade.DirectCalls(f) - before; got != 0 {
			t.Errorf("%d of them answered directly", got)
		}
	})

	t.Run("a session the facade does not know", func(t *testing.T) {
		r := post(t, url, "ses_unknown", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}`)
		if r.status != http.StatusNotFound {
			t.Errorf("status %d, want 404: %s", r.status, r.body)
		}
	})
}

// TestIdleSessionsEnd: a streamable HTTP session whose client sends
// nothing for the idle TTL is ended (its ALTAR session destroyed, its id
// answered 404); any request, a direct call included, keeps it alive.
func TestIdleSessionsEnd(t *testing.T) {
	const ttl = time.Minute
	g := startGateway(t, nil)
	f, url := facadeServer(t, g, mcpfacade.WithSessionIdleTTL(ttl))
	session := rawSession(t, url)
	call := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}`

	if !mcpfacade.SetLastActive(f, session, time.Now().Add(-2*ttl)) {
		t.Fatal("the session is not live")
	}
	before := mcpfacade.DirectCalls(f)
	if r := post(t, url, session, call); r.status != http.StatusOK || mcpfacade.DirectCalls(f) != before+1 {
		t.Fatalf("direct call: status %d: %s", r.status, r.body)
	}
	mcpfacade.SweepIdle(f, time.Now())
	if r := post(t, url, session, call); r.status != http.StatusOK {
		t.Fatalf("a session used a moment ago was ended: status %d: %s", r.status, r.body)
	}

	mcpfacade.SweepIdle(f, time.Now().Add(ttl+time.Second))
	if r := post(t, url, session, call); r.status != http.StatusNotFound {
		t.Fatalf("an idle session still answers: status %d: %s", r.status, r.body)
	}
	if _, err := g.GetSession(ctxT(t), &altarv1.GetSessionRequest{SessionId: session}); err == nil {
		t.Error("the idle session's ALTAR session still exists")
	}
}

// TestDirectCallsWithMCPGoClient: mcp-go's own client, which sends plain
// calls, is answered directly, and reads the answers.
func TestDirectCallsWithMCPGoClient(t *testing.T) {
	g := startGateway(t, nil)
	f, url := facadeServer(t, g)
	c := connect(t, strings.TrimSuffix(url, "/mcp"), legacy, "")
	res, err := c.CallTool(ctxT(t), callReq("exact", map[string]any{"n": 7}))
	if err != nil {
		t.Fatal(err)
	}
	if got := structured(t, res); got != `{"half":3.5,"n":7}` {
		t.Errorf("structuredContent = %s", got)
	}
	if res.Meta == nil || res.Meta.AdditionalFields["altar/invocation_id"] == "" {
		t.Error("no invocation id under _meta")
	}
	if mcpfacade.DirectCalls(f) != 1 {
		t.Errorf("%d calls answered directly, want 1", mcpfacade.DirectCalls(f))
	}
}

// panickingAPI is the Host with an Invoke that panics.
type panickingAPI struct{ *gateway.Host }

func (panickingAPI) Invoke(context.Context, *altarv1.InvokeRequest) (*altarv1.InvokeResponse, error) {
	panic("a bug")
}

// TestDirectCallPanic: a panic while serving a direct call is answered as
// an INTERNAL tool error (as mcp-go's recovery answers one), and the
// facade goes on serving.
func TestDirectCallPanic(t *testing.T) {
	g := startGateway(t, nil)
	f := mcpfacade.New(panickingAPI{g.Host})
	srv := httptest.NewServer(f.Handler())
	t.Cleanup(func() {
		srv.Close()
		_ = f.Close(context.Background())
	})
	url := srv.URL + "/mcp"
	session := rawSession(t, url)
	for range 2 {
		r := post(t, url, session, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}`)
		if r.status != http.StatusOK || !strings.Contains(string(r.body), `"isError":true`) || !strings.Contains(string(r.body), "INTERNAL") {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	}
	if mcpfacade.DirectCalls(f) != 2 {
		t.Errorf("%d calls answered directly, want 2", mcpfacade.DirectCalls(f))
	}
}
