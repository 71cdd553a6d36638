package mcp_test

import (
	"context"
	"testing"

	mcpbridge "github.com/altar-gateway/altar/bridges/mcp"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// BenchmarkInvoke is one call through the Host's engine and the bridge to
// the test MCP server (mcp-go) and back, over stdio and streamable HTTP,
// from one caller and from several at once.
func BenchmarkInvoke(b *testing.B) {
	for _, transport := range []string{"stdio", "http"} {
		b.Run(transport, func(b *testing.B) {
			e := newEnv(b, altarv1.HostMode_HOST_MODE_STRICT)
			srv := mcpbridge.Server{Name: "peer", Transport: mcpbridge.TransportStdio, Command: peer, Timeout: testTimeout}
			if transport == "http" {
				_, addr := startHTTPPeer(b, "127.0.0.1:0")
				srv = mcpbridge.Server{Name: "peer", Transport: mcpbridge.TransportHTTP, URL: "http://" + addr + "/mcp", Timeout: testTimeout}
			}
			e.bridge(srv)
			req := &altarv1.InvokeRequest{ToolName: "peer.echo", Parameters: map[string]*altarv1.Value{
				"message": {Kind: &altarv1.Value_StringValue{StringValue: "ping"}}}}
			ctx := context.Background()
			b.Run("serial", func(b *testing.B) {
				for b.Loop() {
					if _, err := e.host.Engine().Invoke(ctx, req); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("parallel", func(b *testing.B) {
				b.SetParallelism(4)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := e.host.Engine().Invoke(ctx, req); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		})
	}
}
