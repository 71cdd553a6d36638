package mcp_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	mcpbridge "github.com/altar-gateway/altar/bridges/mcp"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// TestDirectCallsMatchMCPGo: over streamable HTTP a plain call goes out
// without mcp-go's client (bridges/mcp/direct.go); its result is the one
// mcp-go's client gives for the same call (a streamed call, which carries a
// progress token, still goes through mcp-go): text, every content kind,
// structured content and a tool's error alike.
func TestDirectCallsMatchMCPGo(t *testing.T) {
	e := newEnv(t, altarv1.HostMode_HOST_MODE_STRICT)
	_, addr := startHTTPPeer(t, "127.0.0.1:0")
	b := e.bridge(mcpbridge.Server{Name: "web", Transport: mcpbridge.TransportHTTP, URL: "http://" + addr + "/mcp", Timeout: testTimeout})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	for _, tt := range []struct {
		tool string
		args map[string]any
	}{
		{"web.echo", map[string]any{"message": "<hello> & \"quotes\" \u2028"}},
		{"web.kinds", nil},
		{"web.weather", map[string]any{"city": "Oslo"}},
		{"web.fail", nil},
	} {
		t.Run(tt.tool, func(t *testing.T) {
			before, _ := mcpbridge.DirectCalls(b)
			direct, err := e.call(ctx, tt.tool, tt.args)
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := mcpbridge.DirectCalls(b); n != before+1 {
				t.Fatalf("the call did not go direct (%d direct calls before, %d after)", before, n)
			}
			var final *altarv1.StreamChunk
			err = e.host.Engine().InvokeStream(ctx, &altarv1.InvokeRequest{ToolName: tt.tool, Parameters: args(t, tt.args)},
				func(c *altarv1.StreamChunk) error {
					final = c
					return nil
				})
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := mcpbridge.DirectCalls(b); n != before+1 {
				t.Fatal("a call with a progress token went direct")
			}
			if !proto.Equal(direct.GetPayload(), final.GetPayload()) {
				t.Errorf("payloads differ\ndirect: %v\nmcp-go: %v", direct.GetPayload(), final.GetPayload())
			}
			if direct.GetError().GetCode() != final.GetError().GetCode() || direct.GetError().GetMessage() != final.GetError().GetMessage() {
				t.Errorf("errors differ\ndirect: %v\nmcp-go: %v", direct.GetError(), final.GetError())
			}
		})
	}
}

// TestDirectCallAnsweredAsEventStream: a server that answers a call with
// an event stream (the test server logs to the client first) has that
// answer read, and its later calls go through mcp-go's client, which can
// also resume such a stream.
func TestDirectCallAnsweredAsEventStream(t *testing.T) {
	e := newEnv(t, altarv1.HostMode_HOST_MODE_STRICT)
	_, addr := startHTTPPeer(t, "127.0.0.1:0", "-chatty")
	b := e.bridge(mcpbridge.Server{Name: "web", Transport: mcpbridge.TransportHTTP, URL: "http://" + addr + "/mcp", Timeout: testTimeout})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	for i := range 3 {
		res, err := e.call(ctx, "web.echo", map[string]any{"message": "streamed"})
		if err != nil || res.GetStatus() != altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS {
			t.Fatalf("call %d: %v, %v", i+1, res, err)
		}
		if got := fmt.Sprint(toGo(res.GetPayload())); !strings.Contains(got, "streamed") {
			t.Fatalf("call %d: payload %v", i+1, got)
		}
	}
	if n, direct := mcpbridge.DirectCalls(b); n != 1 || direct {
		t.Errorf("direct calls %d (still direct: %v), want the first only", n, direct)
	}
}
