package main

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	mcpclient "github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

// TestMCPStdio runs `altar mcp --stdio` in process over pipes, as a
// desktop client runs the binary: its own Host from the file, the
// calculator's tools, and an exit once stdin closes.
func TestMCPStdio(t *testing.T) {
	cfg := writeConfig(t, "log:\n  level: warn\nmanifests: [../../manifests/calculator.yaml]\n")
	clientIn, serverOut := io.Pipe()
	serverIn, clientOut := io.Pipe()
	var stderr bytes.Buffer
	root := newRootCommand()
	root.SetArgs([]string{"mcp", "--stdio", "--config", cfg})
	root.SetIn(serverIn)
	root.SetOut(serverOut)
	root.SetErr(&stderr)
	done := make(chan error, 1)
	go func() {
		done <- root.ExecuteContext(context.Background())
		serverOut.Close()
	}()

	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	c := mcpclient.NewClient(transport.NewIO(clientIn, clientOut, io.NopCloser(strings.NewReader(""))),
		mcpclient.WithProtocolVersion(mcp.ProtocolVersion20251125))
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = mcp.ProtocolVersion20251125
	init.Params.ClientInfo = mcp.Implementation{Name: "test", Version: "1"}
	res, err := c.Initialize(ctx, init)
	if err != nil {
		t.Fatalf("initialize: %v\nstderr:\n%s", err, stderr.String())
	}
	if res.ServerInfo.Name != "altar" {
		t.Errorf("server = %+v", res.ServerInfo)
	}
	tools, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range tools.Tools {
		names = append(names, tool.Name)
	}
	if want := []string{"add", "count", "divide", "multiply", "subtract"}; !slices.Equal(names, want) {
		t.Fatalf("tools = %v, want %v", names, want)
	}
	req := mcp.CallToolRequest{}
	req.Params.Name = "add"
	req.Params.Arguments = map[string]any{"a": 1, "b": 2}
	out, err := c.CallTool(ctx, req)
	if err != nil || out.IsError {
		t.Fatalf("add: %v %+v", err, out)
	}
	clientOut.Close()
	_ = c.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("altar mcp: %v\nstderr:\n%s", err, stderr.String())
		}
	case <-time.After(exitTimeout):
		t.Fatal("altar mcp did not exit when stdin closed")
	}
	if strings.Contains(stderr.String(), "level=ERROR") {
		t.Errorf("errors logged:\n%s", stderr.String())
	}
}

// TestMCPNeedsStdio: the command serves stdio only, and says where HTTP is.
func TestMCPNeedsStdio(t *testing.T) {
	var stderr bytes.Buffer
	root := newRootCommand()
	root.SetArgs([]string{"mcp"})
	root.SetErr(&stderr)
	root.SetOut(io.Discard)
	err := root.ExecuteContext(context.Background())
	if err == nil || !strings.Contains(err.Error(), "--stdio") || !strings.Contains(err.Error(), "/mcp") {
		t.Fatalf("err = %v", err)
	}
}
