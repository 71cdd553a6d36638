package mcp_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	mcpproto "github.com/mark3labs/mcp-go/mcp"

	"github.com/altar-gateway/altar/gateway"
	"github.com/altar-gateway/altar/gateway/auth"
	"github.com/altar-gateway/altar/gateway/runtime"
	"github.com/altar-gateway/altar/plugins/examples/calculator/calc"
	"github.com/altar-gateway/altar/plugins/sdk"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// testTimeout bounds every wait of these tests.
const testTimeout = 20 * time.Second

// Protocol revisions the tests run under: the last with sessions (the
// initialize handshake) and the sessionless one.
const (
	legacy = mcpproto.ProtocolVersion20251125
	modern = mcpproto.ProtocolVersion20260728
)

// Keys of the gateway when a test configures keys.
const (
	clientKey  = "client-secret-1"
	adminKey   = "admin-secret-1"
	runtimeKey = "runtime-secret-1"
	otherKey   = "client-secret-2"
)

func testKeys() []auth.Key {
	return []auth.Key{
		{ID: "client-1", Role: auth.RoleClient, Hash: auth.HashKey(clientKey)},
		{ID: "client-2", Role: auth.RoleClient, Hash: auth.HashKey(otherKey)},
		{ID: "admin-1", Role: auth.RoleAdmin, Hash: auth.HashKey(adminKey)},
		{ID: "runtime-1", Role: auth.RoleRuntime, Hash: auth.HashKey(runtimeKey)},
	}
}

// gw is a real gateway (gateway.Host) serving HTTP on loopback, with the
// calculator and the test tools attached in process.
type gw struct {
	*gateway.Host
	url string
	// blocked receives once for each block call whose context the runtime
	// saw cancelled.
	blocked chan struct{}
	// started receives once for each block call that began.
	started chan struct{}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

func startGateway(t *testing.T, edit func(*gateway.Config)) *gw {
	t.Helper()
	cfg := gateway.DefaultConfig()
	cfg.GRPCAddr = "127.0.0.1:0"
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.ManifestPaths = []string{"../../manifests/calculator.yaml", "testdata/tools.yaml"}
	if edit != nil {
		edit(&cfg)
	}
	h, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		_ = h.Close(ctx)
	})
	g := &gw{Host: h, url: "http://" + h.HTTPAddr(), blocked: make(chan struct{}, 16), started: make(chan struct{}, 16)}
	attach(t, h, "calc", calc.Tools())
	attach(t, h, "test-tools", g.tools())
	return g
}

type text struct {
	Text string `json:"text"`
}

type exactIn struct {
	N int64 `json:"n"`
}

type exactOut struct {
	N    int64   `json:"n"`
	Half float64 `json:"half"`
}

func (g *gw) tools() []sdk.Tool {
	return []sdk.Tool{
		sdk.Func("admin_echo", "Return the text.", func(_ context.Context, in text) (string, error) { return in.Text, nil },
			sdk.WithContractVersion("1.0.0")),
		sdk.Func("exact", "Return n and its half.", func(_ context.Context, in exactIn) (exactOut, error) {
			return exactOut{N: in.N, Half: float64(in.N) / 2}, nil
		}, sdk.WithContractVersion("1.0.0")),
		sdk.Func("block", "Wait until cancelled.", func(ctx context.Context, _ struct{}) (string, error) {
			g.started <- struct{}{}
			<-ctx.Done()
			g.blocked <- struct{}{}
			return "", ctx.Err()
		}, sdk.WithContractVersion("1.0.0")),
	}
}

// attach runs tools in process, as `altar serve` runs the calculator.
func attach(t *testing.T, h *gateway.Host, id string, tools []sdk.Tool) {
	t.Helper()
	handler, err := sdk.NewHandler(tools, sdk.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	announce := &altarv1.AnnounceRuntime{
		RuntimeId:       id,
		Language:        "go",
		ProtocolVersion: altarv1.ProtocolVersion,
		Capabilities:    altarv1.CapabilitiesForLevel(altarv1.ComplianceLevel_COMPLIANCE_LEVEL_2),
		ComplianceLevel: altarv1.ComplianceLevel_COMPLIANCE_LEVEL_2,
	}
	offer := &altarv1.FulfillTools{}
	for _, tool := range handler.Tools() {
		offer.Tools = append(offer.Tools, &altarv1.ToolFulfillment{ContractName: tool.Name()})
	}
	resp := h.Attach(runtime.NewInProcess(announce, handler, runtime.DefaultStreamBuffer), offer)
	if len(resp.GetAccepted()) != len(tools) {
		t.Fatalf("runtime %s: accepted %d of %d tools: %v", id, len(resp.GetAccepted()), len(tools), resp.GetRejected())
	}
}

// connect starts an MCP client over streamable HTTP at url and initializes
// it under the protocol revision version.
func connect(t *testing.T, url, version, key string, opts ...transport.StreamableHTTPCOption) *client.Client {
	t.Helper()
	c, err := tryConnect(t, url, version, key, opts...)
	if err != nil {
		t.Fatalf("connecting to %s (%s): %v", url, version, err)
	}
	return c
}

func tryConnect(t *testing.T, url, version, key string, opts ...transport.StreamableHTTPCOption) (*client.Client, error) {
	t.Helper()
	if key != "" {
		// mcp-go's client leaves its configured headers off the DELETE
		// that ends a session: set the key on every request instead.
		opts = append(opts, transport.WithHTTPBasicClient(&http.Client{Transport: keyTransport(key)}))
	}
	tr, err := transport.NewStreamableHTTP(url+"/mcp", opts...)
	if err != nil {
		t.Fatal(err)
	}
	c := client.NewClient(tr, client.WithProtocolVersion(version))
	if err := c.Start(ctxT(t)); err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := c.Initialize(ctxT(t), initRequest(version)); err != nil {
		return nil, err
	}
	return c, nil
}

func initRequest(version string) mcpproto.InitializeRequest {
	req := mcpproto.InitializeRequest{}
	req.Params.ProtocolVersion = version
	req.Params.ClientInfo = mcpproto.Implementation{Name: "altar-facade-test", Version: "1"}
	return req
}

func callReq(name string, args any) mcpproto.CallToolRequest {
	req := mcpproto.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	return req
}

func toolNames(tools []mcpproto.Tool) []string {
	var out []string
	for _, tool := range tools {
		out = append(out, tool.Name)
	}
	return out
}

// structured is a result's structuredContent as JSON.
func structured(t *testing.T, r *mcpproto.CallToolResult) string {
	t.Helper()
	if len(r.RawStructuredContent) > 0 {
		return string(r.RawStructuredContent)
	}
	b, err := json.Marshal(r.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// altarError is the ALTAR error a failed result carries under _meta.
type altarError struct {
	Code        string `json:"code"`
	Message     string `json:"message"`
	FieldErrors []struct {
		Path, Rule, Message string
	} `json:"fieldErrors"`
}

func errorOf(t *testing.T, r *mcpproto.CallToolResult) altarError {
	t.Helper()
	if !r.IsError {
		t.Fatalf("result is not an error: %+v", r.Content)
	}
	if r.Meta == nil {
		t.Fatalf("error result without _meta: %+v", r.Content)
	}
	b, err := json.Marshal(r.Meta.AdditionalFields["altar/error"])
	if err != nil {
		t.Fatal(err)
	}
	var e altarError
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

func textOf(r *mcpproto.CallToolResult) string {
	if len(r.Content) == 0 {
		return ""
	}
	if tc, ok := mcpproto.AsTextContent(r.Content[0]); ok {
		return tc.Text
	}
	return ""
}

// eventually polls cond until it holds or the test times out.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// keyTransport presents an API key on every request.
type keyTransport string

func (k keyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(k))
	return http.DefaultTransport.RoundTrip(r)
}
