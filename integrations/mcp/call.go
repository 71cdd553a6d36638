package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"

	mcpproto "github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// This file serves tools/call through the Host's invocation engine. A
// failure of the call (bad arguments, the tool's own error, a deadline) is
// a tool result with isError set, its ALTAR error under _meta
// "altar/error", so that the model can read it and correct itself; only
// protocol failures (an unknown tool) are JSON-RPC errors, and those mcp-go
// answers before the call gets here.

// maxProgressMessage bounds the chunk text a progress notification carries.
const maxProgressMessage = 1024

// call is the handler of every tool in mcp-go's table.
func (f *Facade) call(ctx context.Context, req mcpproto.CallToolRequest) (*mcpproto.CallToolResult, error) {
	outer := ctx
	sess, b := f.session(ctx)
	mcpID := mcpSessionID(ctx)
	ctx, done := f.callContext(ctx, b)
	defer done()

	name := req.Params.Name
	info, ok := f.described.take(outer)
	if !ok {
		_, info, ok = f.describe(ctx, mcpID, sess, name)
	}
	if !ok {
		return toolError(altarerr.New(altarv1.ErrorCode_ERROR_CODE_TOOL_NOT_FOUND, "no tool %q is available to this session", name)), nil
	}
	params, err := arguments(req, int(f.o.maxBody))
	if err != nil {
		return toolError(err), nil
	}
	c := info.GetContract()
	if streams(c, progressToken(req) != nil) {
		ireq := &altarv1.InvokeRequest{SessionId: sess, ToolName: name, Parameters: params}
		return f.stream(ctx, b, req, ireq, c), nil
	}
	return f.invoke(ctx, mcpID, sess, name, params, c), nil
}

// callContext is the context a call runs in: it ends with the request
// (ctx), the MCP session b (SSE serves a call detached from its request)
// and the facade (whose closing ends every session's context too). done
// releases it.
func (f *Facade) callContext(ctx context.Context, b *binding) (_ context.Context, done func()) {
	ctx, cancel := context.WithCancel(ctx)
	ends := f.closing
	if b != nil {
		ends = b.ctx
	}
	stop := context.AfterFunc(ends, cancel)
	return ctx, func() { stop(); cancel() }
}

// streams reports whether a call of c is served as a stream. A bridged MCP
// tool streams only to carry progress: without a progress token a plain
// call is the same answer, cheaper.
func streams(c *altarv1.ToolContract, hasProgressToken bool) bool {
	return c.GetSupportsStreaming() && (!bridged(c) || hasProgressToken)
}

// invoke runs a unary call of the tool name with params in the ALTAR
// session sess (of the MCP session mcpID) and answers its result.
func (f *Facade) invoke(ctx context.Context, mcpID, sess, name string, params map[string]*altarv1.Value, c *altarv1.ToolContract) *mcpproto.CallToolResult {
	resp, err := f.api.Invoke(ctx, &altarv1.InvokeRequest{SessionId: sess, ToolName: name, Parameters: params})
	if err != nil {
		f.endIfGone(ctx, mcpID, err)
		return toolError(err)
	}
	res := resp.GetResult()
	if res.GetStatus() == altarv1.ToolResultStatus_TOOL_RESULT_STATUS_ERROR || res.GetError() != nil {
		return toolError(altarerr.FromProto(res.GetError()))
	}
	return f.payloadResult(res.GetPayload(), c, res.GetInvocationId())
}

// payloadResult is a call's result from the payload a runtime answered: a
// bridged MCP tool's content blocks as the server sent them, else the
// payload as text (a string as itself, anything else as JSON) and, when the
// contract declares a return type, as structuredContent.
func (f *Facade) payloadResult(v *altarv1.Value, c *altarv1.ToolContract, invocationID string) *mcpproto.CallToolResult {
	if bridged(c) {
		if r, ok := bridgedResult(v, invocationID); ok {
			return r
		}
	}
	text, err := schema.MarshalJSON(v)
	if err != nil {
		return toolError(err)
	}
	if len(text) > f.o.maxResult {
		return toolError(tooLarge(f.o.maxResult))
	}
	var structured []byte
	if c.GetReturnType() != nil {
		structured = text
		if c.GetReturnType().GetType() != altarv1.AltarType_ALTAR_TYPE_OBJECT {
			structured = wrap(`{"result":`, text, `}`)
		}
	}
	// A string result is the text itself, as an MCP server would answer
	// it, not a JSON string in quotes; structuredContent keeps it typed.
	if sv, ok := v.GetKind().(*altarv1.Value_StringValue); ok {
		return result([]byte(sv.StringValue), structured, c, invocationID)
	}
	return result(text, structured, c, invocationID)
}

// stream runs a streaming call: each chunk is reported as a progress
// notification (when the client asked for them with a progress token), and
// the result holds every chunk's payload in order.
//
// A bridged MCP tool's chunks are its progress; its final chunk carries
// the MCP result, which is the call's result as the server sent it.
func (f *Facade) stream(ctx context.Context, b *binding, req mcpproto.CallToolRequest, ireq *altarv1.InvokeRequest, c *altarv1.ToolContract) *mcpproto.CallToolResult {
	token := progressToken(req)
	isBridged := c.GetMetadata()[metaBridgedServer] != ""
	var last *altarv1.Value
	var (
		buf        = []byte(`[`)
		n          int
		failed     error
		invocation string
		sent       int
	)
	err := f.api.InvokeStream(ctx, ireq, func(ch *altarv1.StreamChunk) error {
		invocation = ch.GetInvocationId()
		if ch.GetError() != nil {
			failed = altarerr.FromProto(ch.GetError())
			return nil
		}
		var payload []byte
		if isBridged && ch.GetPayload() != nil {
			last = ch.GetPayload()
		} else if ch.GetPayload() != nil {
			b, err := schema.MarshalJSON(ch.GetPayload())
			if err != nil {
				return err
			}
			if len(buf)+len(b)+2 > f.o.maxResult {
				return tooLarge(f.o.maxResult)
			}
			if n > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, b...)
			n++
			payload = b
		}
		// The final chunk often carries nothing: no progress to report.
		if token != nil && (payload != nil || ch.GetProgress() != nil) {
			f.progress(ctx, b, token, ch, payload)
			sent++
		}
		return nil
	})
	if sent > 0 {
		f.flushNotifications(ctx, b)
	}
	switch {
	case err != nil:
		return toolError(err)
	case failed != nil:
		return toolError(failed)
	}
	if isBridged {
		return f.payloadResult(last, c, invocation)
	}
	buf = append(buf, ']')
	return result(buf, wrap(`{"chunks":`, buf, `}`), c, invocation)
}

// progressToken is the token a client sent to ask for progress
// notifications, or nil.
func progressToken(req mcpproto.CallToolRequest) mcpproto.ProgressToken {
	if req.Params.Meta == nil {
		return nil
	}
	return req.Params.Meta.ProgressToken
}

// progress sends one chunk as a progress notification: progress is the
// runtime's own progress when it reports one, else the chunk number; the
// message is the runtime's, else the chunk's payload as JSON. When the
// client falls behind, the stream waits for room up to progressWait, then
// drops the notification (progress is advisory; the result has every
// chunk).
func (f *Facade) progress(ctx context.Context, b *binding, token mcpproto.ProgressToken, ch *altarv1.StreamChunk, payload []byte) {
	params := map[string]any{"progressToken": token, "progress": float64(ch.GetChunkId())}
	msg := string(payload)
	if p := ch.GetProgress(); p != nil {
		params["progress"] = p.GetProgress()
		if p.GetTotal() > 0 {
			params["total"] = p.GetTotal()
		}
		if p.GetMessage() != "" {
			msg = p.GetMessage()
		}
	}
	if len(msg) > maxProgressMessage {
		msg = msg[:maxProgressMessage]
	}
	if msg != "" {
		params["message"] = msg
	}
	n := mcpproto.JSONRPCNotification{
		JSONRPC:      mcpproto.JSONRPC_VERSION,
		Notification: mcpproto.Notification{Method: string(mcpproto.MethodNotificationProgress), Params: mcpproto.NotificationParams{AdditionalFields: params}},
	}
	if !f.notify(ctx, b, n) {
		f.o.log.Debug("mcp: dropped a progress notification the client did not take", "chunk_id", ch.GetChunkId())
	}
}

// notify sends a notification to the request's client, waiting up to
// progressWait for room. Over stdio and SSE it is queued with the
// responses, so it reaches the client before the call's result; over
// streamable HTTP it goes through mcp-go's session queue (see
// flushNotifications).
func (f *Facade) notify(ctx context.Context, b *binding, n mcpproto.JSONRPCNotification) bool {
	var send func() error
	switch {
	case b != nil && b.out != nil:
		line, err := json.Marshal(n)
		if err != nil {
			return false
		}
		_, err = b.out.Write(append(line, '\n'))
		return err == nil
	case b != nil && b.sse:
		_, sse, ok := f.transports()
		if !ok {
			return false
		}
		s := mcpserver.ClientSessionFromContext(ctx)
		send = func() error { return sse.SendEventToSession(s.SessionID(), n) }
	default:
		srv := mcpserver.ServerFromContext(ctx)
		if srv == nil {
			return false
		}
		send = func() error {
			err := srv.SendNotificationToClient(ctx, n.Method, n.Params.AdditionalFields)
			if err != nil && !errors.Is(err, mcpserver.ErrNotificationChannelBlocked) {
				return nil // not initialized, or no session: nothing to wait for
			}
			return err
		}
	}
	deadline := time.NewTimer(progressWait)
	defer deadline.Stop()
	retry := time.NewTicker(time.Millisecond)
	defer retry.Stop()
	for {
		if send() == nil {
			return true
		}
		select {
		case <-retry.C:
		case <-deadline.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// flushNotifications holds a streamed call's result back until its
// progress notifications are on their way, up to progressWait.
//
// Over streamable HTTP mcp-go writes a response from the request's
// goroutine and notifications from another: it waits until the session's
// notification queue is empty. Over every transport it then waits
// settleTime more: clients (the TypeScript SDK among them) handle
// notifications asynchronously but responses at once, so a notification
// read together with the result is dropped as belonging to no request in
// flight. Both are best effort; progress is advisory and the result holds
// every chunk.
func (f *Facade) flushNotifications(ctx context.Context, b *binding) {
	deadline := time.NewTimer(progressWait)
	defer deadline.Stop()
	wait := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-deadline.C:
		case <-ctx.Done():
		}
		return false
	}
	if s := mcpserver.ClientSessionFromContext(ctx); s != nil && (b == nil || !b.sse && b.out == nil) {
		if ch := s.NotificationChannel(); ch != nil {
			for len(ch) > 0 {
				if !wait(time.Millisecond) {
					return
				}
			}
		}
	}
	wait(settleTime)
}

// arguments reads a call's arguments as the Host's Values, exactly (an
// integer stays an integer, however large) and within the size limits.
func arguments(req mcpproto.CallToolRequest, maxBytes int) (map[string]*altarv1.Value, error) {
	raw := req.Params.RawArguments
	if len(raw) == 0 {
		if req.Params.Arguments == nil {
			return nil, nil
		}
		b, err := json.Marshal(req.Params.Arguments)
		if err != nil {
			return nil, altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, err, "arguments")
		}
		raw = b
	}
	return parseArguments(raw, maxBytes)
}

// parseArguments parses the JSON of a call's arguments: an object, or null
// for none.
func parseArguments(raw []byte, maxBytes int) (map[string]*altarv1.Value, error) {
	if t := bytes.TrimSpace(raw); len(t) == 0 || string(t) == "null" {
		return nil, nil
	}
	params, err := schema.ParseJSONObject(raw, schema.Limits{MaxBytes: maxBytes})
	if err != nil {
		e := altarerr.From(err)
		if e.Code == altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST {
			return nil, altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENTS, e, "arguments").
				WithField("/arguments", "type", "must be a JSON object")
		}
		return nil, e
	}
	return params, nil
}

// result is a successful call's result: the payload as JSON text (for
// clients that read content) and as structuredContent, and the invocation
// id under _meta (the key to the Host's audit records and GetInvocation).
func result(text, structured []byte, c *altarv1.ToolContract, invocationID string) *mcpproto.CallToolResult {
	r := &mcpproto.CallToolResult{Content: []mcpproto.Content{mcpproto.NewTextContent(string(text))}}
	if c.GetReturnType() != nil {
		r.RawStructuredContent = structured
	}
	r.Meta = &mcpproto.Meta{AdditionalFields: map[string]any{"altar/invocation_id": invocationID}}
	return r
}

// toolError is a failed call's result: isError, the error as text, and the
// ALTAR error (code, message, field errors) under _meta "altar/error".
func toolError(err error) *mcpproto.CallToolResult {
	e := altarerr.From(err)
	p := e.Proto()
	detail := map[string]any{"code": altarerr.CodeName(p.GetCode()), "message": p.GetMessage()}
	if fes := p.GetFieldErrors(); len(fes) > 0 {
		list := make([]map[string]string, 0, len(fes))
		for _, fe := range fes {
			list = append(list, map[string]string{"path": fe.GetPath(), "rule": fe.GetRule(), "message": fe.GetMessage()})
		}
		detail["fieldErrors"] = list
	}
	if ms := p.GetRetryAfterMs(); ms > 0 {
		detail["retryAfterMs"] = ms
	}
	if id := p.GetInvocationId(); id != "" {
		detail["invocationId"] = id
	}
	return &mcpproto.CallToolResult{
		Result:  mcpproto.Result{Meta: &mcpproto.Meta{AdditionalFields: map[string]any{metaError: detail}}},
		Content: []mcpproto.Content{mcpproto.NewTextContent(e.Error())},
		IsError: true,
	}
}

func tooLarge(limit int) error {
	return altarerr.New(altarv1.ErrorCode_ERROR_CODE_PAYLOAD_TOO_LARGE, "the result is larger than the MCP facade's limit of %d bytes", limit).
		WithField("", "max_bytes", "the result exceeds the limit")
}

func wrap(prefix string, b []byte, suffix string) []byte {
	out := make([]byte, 0, len(prefix)+len(b)+len(suffix))
	return append(append(append(out, prefix...), b...), suffix...)
}
