package mcp_test

import (
	"context"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	mcpproto "github.com/mark3labs/mcp-go/mcp"

	facade "github.com/altar-gateway/altar/integrations/mcp"
	"github.com/altar-gateway/altar/plugins/sdk"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// TestStdio: ServeStdio serves one client over a pair of pipes in one
// ALTAR session, destroyed when the client closes its end.
func TestStdio(t *testing.T) {
	g := startGateway(t, nil)
	f := facade.New(g.Host)
	defer f.Close(context.Background())
	c, hangUp := stdioClient(t, f)
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
	out, err := c.CallTool(ctxT(t), callReq("add", map[string]any{"a": 20, "b": 22}))
	if err != nil || out.IsError {
		t.Fatalf("add: %v %+v", err, out)
	}
	if got := structured(t, out); !jsonEqualStr(got, `{"result":42}`) {
		t.Fatalf("add = %s", got)
	}
	sessions, err := g.ListSessions(ctxT(t), &altarv1.ListSessionsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(sessions.GetSessions()); n != 1 || sessions.GetSessions()[0].GetMetadata()["mcp.transport"] != "stdio" {
		t.Fatalf("sessions = %v, want the one stdio session", sessions.GetSessions())
	}
	if err := hangUp(); err != nil {
		t.Fatalf("ServeStdio: %v", err)
	}
	_ = c.Close()
	sessions, err = g.ListSessions(ctxT(t), &altarv1.ListSessionsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(sessions.GetSessions()); n != 0 {
		t.Fatalf("%d sessions left after stdin closed", n)
	}
}

// stdioClient serves f over a pair of pipes (f.ServeStdio) and returns an
// mcp-go client at their other ends, not started, and hangUp: it closes
// the client's output (the server's stdin) and returns what ServeStdio
// returned, failing the test if it does not return.
func stdioClient(t *testing.T, f *facade.Facade) (c *client.Client, hangUp func() error) {
	t.Helper()
	clientIn, serverOut := io.Pipe()
	serverIn, clientOut := io.Pipe()
	served := make(chan error, 1)
	go func() {
		served <- f.ServeStdio(context.Background(), serverIn, serverOut)
		serverOut.Close()
	}()
	c = client.NewClient(transport.NewIO(clientIn, clientOut, io.NopCloser(nilReader{})), client.WithProtocolVersion(legacy))
	return c, func() error {
		clientOut.Close()
		select {
		case err := <-served:
			return err
		case <-ctxT(t).Done():
			t.Fatal("ServeStdio did not return when stdin closed")
			return nil
		}
	}
}

// nilReader is an empty stderr for the client's IO transport.
type nilReader struct{}

func (nilReader) Read([]byte) (int, error) { return 0, io.EOF }

// TestToolsListChanged: a stdio client is told (listChanged at initialize,
// then notifications/tools/list_changed) when the tools it may list change,
// here when a runtime comes to serve a trusted contract none served; it then
// lists the new tool. A streamable HTTP client is not promised the
// notification (the facade offers it no stream).
func TestToolsListChanged(t *testing.T) {
	g := startGateway(t, nil)
	f := facade.New(g.Host, facade.WithToolsPollInterval(10*time.Millisecond))
	defer f.Close(context.Background())
	c, hangUp := stdioClient(t, f)
	defer func() { _ = hangUp() }()
	changed := make(chan struct{}, 16)
	c.OnNotification(func(n mcpproto.JSONRPCNotification) {
		if n.Method == string(mcpproto.MethodNotificationToolsListChanged) {
			changed <- struct{}{}
		}
	})
	if err := c.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	init, err := c.Initialize(ctxT(t), initRequest(legacy))
	if err != nil {
		t.Fatal(err)
	}
	if init.Capabilities.Tools == nil || !init.Capabilities.Tools.ListChanged {
		t.Fatalf("stdio: tools capability %+v, want listChanged", init.Capabilities.Tools)
	}

	attach(t, g.Host, "late", []sdk.Tool{sdk.Func("unserved", "Now served.", func(context.Context, struct{}) (string, error) { return "ok", nil },
		sdk.WithContractVersion("1.0.0"))})
	select {
	case <-changed:
	case <-ctxT(t).Done():
		t.Fatal("no notifications/tools/list_changed after a runtime came")
	}
	res, err := c.ListTools(ctxT(t), mcpproto.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(toolNames(res.Tools), "unserved") {
		t.Fatalf("tools after the change = %v", toolNames(res.Tools))
	}

	httpClient := connect(t, g.url, legacy, "")
	if caps := httpClient.GetServerCapabilities(); caps.Tools == nil || caps.Tools.ListChanged {
		t.Errorf("streamable HTTP: tools capability %+v, want no listChanged", caps.Tools)
	}
}
