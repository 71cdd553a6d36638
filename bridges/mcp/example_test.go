package mcp_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	mcpbridge "github.com/altar-gateway/altar/bridges/mcp"
	"github.com/altar-gateway/altar/gateway"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Bridge an MCP server started over stdio into a Host and call one of its
// tools through the Host's engine. The first start pins the server's tools
// in the lock file.
func ExampleNew() {
	h, _ := gateway.New(gateway.Config{GRPCAddr: "127.0.0.1:0"})
	_ = h.Start(context.Background())
	defer h.Close(context.Background())

	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	srv := mcpbridge.Server{Name: "peer", Transport: mcpbridge.TransportStdio, Command: peer}
	b, err := mcpbridge.New(srv, h, filepath.Join(dir, mcpbridge.DefaultLockFile))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(b.State().Served)

	res, err := h.Engine().Invoke(ctx, &altarv1.InvokeRequest{ToolName: "peer.echo",
		Parameters: map[string]*altarv1.Value{"message": schema.String("hi")}})
	if err != nil {
		fmt.Println(err)
		return
	}
	out, _ := schema.MarshalJSON(res.GetPayload())
	fmt.Println(string(out))
	// Output:
	// [peer.crash peer.echo peer.fail peer.grow peer.kinds peer.slow peer.weather]
	// {"content":[{"text":"hi","type":"text"}]}
}
