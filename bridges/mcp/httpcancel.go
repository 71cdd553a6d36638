package mcp

import (
	"context"
	"time"

	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

// cancelTimeout bounds sending one notifications/cancelled.
const cancelTimeout = 2 * time.Second

// mcp-go sends notifications/cancelled for a request whose context ended
// over stdio only; over HTTP on protocol 2025-11-25 (which the bridge keeps,
// see transport) it only drops the request's stream, which the
// specification says a server must not take as a cancellation. These
// wrappers send it: embedding the transport keeps every optional interface
// mcp-go looks for (HTTPConnection, BidirectionalInterface, ...).

type streamableHTTP struct{ *transport.StreamableHTTP }

func (t streamableHTTP) SendRequest(ctx context.Context, req transport.JSONRPCRequest) (*transport.JSONRPCResponse, error) {
	resp, err := t.StreamableHTTP.SendRequest(ctx, req)
	if err != nil && ctx.Err() != nil {
		sendCancelled(ctx, t.StreamableHTTP, req)
	}
	return resp, err
}

type sse struct{ *transport.SSE }

func (t sse) SendRequest(ctx context.Context, req transport.JSONRPCRequest) (*transport.JSONRPCResponse, error) {
	resp, err := t.SSE.SendRequest(ctx, req)
	if err != nil && ctx.Err() != nil {
		sendCancelled(ctx, t.SSE, req)
	}
	return resp, err
}

// sendCancelled tells the server a tools/call was abandoned, in the
// caller's goroutine and bounded by cancelTimeout (best effort).
func sendCancelled(ctx context.Context, tr transport.Interface, req transport.JSONRPCRequest) {
	if req.Method != string(mcp.MethodToolsCall) {
		return
	}
	n := mcp.JSONRPCNotification{JSONRPC: mcp.JSONRPC_VERSION, Notification: mcp.Notification{
		Method: string(mcp.MethodNotificationCancelled),
		Params: mcp.NotificationParams{AdditionalFields: map[string]any{"requestId": req.ID, "reason": ctx.Err().Error()}},
	}}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cancelTimeout)
	defer cancel()
	_ = tr.SendNotification(sctx, n)
}

var (
	_ transport.HTTPConnection         = streamableHTTP{}
	_ transport.BidirectionalInterface = streamableHTTP{}
	_ transport.Interface              = sse{}
)
