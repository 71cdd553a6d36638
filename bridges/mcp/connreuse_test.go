package mcp_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	mcpbridge "github.com/altar-gateway/altar/bridges/mcp"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// countingListener counts the connections a server accepts.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// startCountingHTTPServer serves an mcp-go server with an echo tool over
// streamable HTTP and counts the TCP connections it accepts.
func startCountingHTTPServer(t *testing.T) (url string, accepted *atomic.Int64) {
	t.Helper()
	s := server.NewMCPServer("counting", "1.0.0")
	s.AddTool(mcp.NewTool("echo", mcp.WithString("message", mcp.Required())),
		func(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText(req.GetString("message", "")), nil
		})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = new(atomic.Int64)
	mux := http.NewServeMux()
	mux.Handle("/mcp", server.NewStreamableHTTPServer(s, server.WithStreamableHTTPLogger(slog.New(slog.DiscardHandler))))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: testTimeout}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(countingListener{lis, accepted})
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return "http://" + lis.Addr().String() + "/mcp", accepted
}

// TestHTTPConnectionsReused: calls at once over streamable HTTP, unary and
// streamed, share a pool of connections to the server that outlives each
// call, so the server accepts about one connection per concurrent call
// (plus the listening stream), not one per call; closing the bridge closes
// them and its call workers (goleak checks).
//
// The bound is twice the concurrency: net/http puts a connection back in
// its pool from its read loop once the body is read, so a caller that
// starts its next call at once may find none idle and dial one more. On a
// loaded machine under -race that happened a few times per run (46
// connections for 32 callers); without reuse it is one per call (800).
func TestHTTPConnectionsReused(t *testing.T) {
	const (
		concurrent = 32
		perCaller  = 25
		// initialize, tools/list, the listening stream and pings may
		// each take one more.
		slack = 8
		limit = 2*concurrent + slack
	)
	url, accepted := startCountingHTTPServer(t)
	e := newEnv(t, altarv1.HostMode_HOST_MODE_STRICT)
	e.bridge(mcpbridge.Server{Name: "web", Transport: mcpbridge.TransportHTTP, URL: url, Timeout: testTimeout})
	ctx, cancel := context.WithTimeout(context.Background(), 4*testTimeout)
	defer cancel()

	var wg sync.WaitGroup
	errs := make(chan error, concurrent)
	for i := range concurrent {
		wg.Go(func() {
			for range perCaller {
				var err error
				if i%2 == 0 { // unary
					var res *altarv1.ToolResult
					res, err = e.call(ctx, "web.echo", map[string]any{"message": "again"})
					if err == nil && res.GetStatus() != altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS {
						err = fmt.Errorf("tool result %v", res)
					}
				} else { // streamed: the call runs on the bridge's call workers
					var final *altarv1.StreamChunk
					err = e.host.Engine().InvokeStream(ctx, &altarv1.InvokeRequest{ToolName: "web.echo",
						Parameters: args(t, map[string]any{"message": "again"})}, func(c *altarv1.StreamChunk) error {
						final = c
						return nil
					})
					if err == nil && (!final.GetIsFinal() || final.GetError() != nil) {
						err = fmt.Errorf("final chunk %v", final)
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("a call failed: %v", err)
	}
	calls := concurrent * perCaller
	if got := accepted.Load(); got > limit {
		t.Fatalf("the server accepted %d connections for %d calls, %d at once: connections are not reused (want at most %d)",
			got, calls, concurrent, limit)
	}
}
