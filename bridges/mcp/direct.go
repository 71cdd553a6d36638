package mcp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/altar-gateway/altar/gateway/schema"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/altar-gateway/altar/gateway/altarerr"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// This file sends a plain tools/call (no progress token) over streamable
// HTTP itself, on the session mcp-go's client opened: mcp-go's client
// encodes through reflection, clones headers and starts a context and a
// span per request, which at 64 calls at once cost the Host as much CPU as
// the upstream server spent answering (docs/performance.md). The request
// is the one mcp-go sends (same headers, session and protocol version);
// the answer is read by mcp-go's own result parser, so the call's result
// is the same either way (TestDirectCallsMatchMCPGo).
//
// A server that answers a call with an event stream instead of JSON has
// that call read here (its notifications handed to the session as mcp-go
// would hand them), and from then on the session's calls go through
// mcp-go, which can also resume such a stream.

// directHTTP is a streamable HTTP session's direct caller.
type directHTTP struct {
	tr      *transport.StreamableHTTP // the session mcp-go opened: its id
	hc      *http.Client
	url     string
	headers map[string]string
	// protocol is the revision initialize agreed; notify takes the
	// notifications an event stream carries.
	protocol string
	notify   func(mcp.JSONRPCNotification)
	next     atomic.Uint64
	// streams is set once the server answered a call with an event stream.
	streams atomic.Bool
	// pool carries the requests, when the server is reached over plain
	// HTTP without a proxy (httpconns.go); else hc does.
	pool *connPool
	// head is the request line and headers of every POST through pool
	// (ready builds it); nil sends through hc.
	head []byte
}

// usable reports whether calls may go direct.
func (d *directHTTP) usable() bool { return d != nil && !d.streams.Load() }

// maxServerRequests bounds the requests a server may send within one
// call's event stream.
const maxServerRequests = 16

// call sends tools/call name(args) and returns its result. Like mcp-go's
// client, a JSON-RPC error is returned as the error mcp-go makes of it, and
// every failure to reach the server or read its answer as a
// *transport.Error. maxBytes bounds the answer.
//
// When the result is text blocks and nothing more, and the tool answers
// with content (not structured), the result's Value comes back as text
// instead (read in one pass by the Host's JSON parser, as callResult would
// map it).
func (d *directHTTP) call(ctx context.Context, name string, args []byte, lim Limits, structured bool) (*mcp.CallToolResult, *altarv1.Value, error) {
	maxBytes := lim.MaxResultBytes
	id := "altar-" + strconv.FormatUint(d.next.Add(1), 10)
	body := make([]byte, 0, 96+len(name)+len(args))
	body = append(body, `{"jsonrpc":"2.0","id":"`...)
	body = append(body, id...)
	body = append(body, `","method":"tools/call","params":{"name":`...)
	nameJSON, err := json.Marshal(name)
	if err != nil {
		return nil, nil, &transport.Error{Err: err}
	}
	body = append(body, nameJSON...)
	body = append(body, `,"arguments":`...)
	body = append(body, args...)
	body = append(body, "}}"...)

	resp, err := d.post(ctx, body)
	if err != nil {
		if ctx.Err() != nil {
			d.cancelled(ctx, id)
		}
		return nil, nil, &transport.Error{Err: fmt.Errorf("failed to send request: %w", err)}
	}
	defer resp.Body.Close()
	limit := int64(maxBytes) + 64<<10
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, nil, &transport.Error{Err: fmt.Errorf("failed to send request: %w", transport.ErrSessionTerminated)}
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, nil, &transport.Error{Err: &transport.AuthorizationRequiredError{}}
	case resp.StatusCode != http.StatusOK:
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var r rpcResponse
		if json.Unmarshal(b, &r) == nil && r.Error != nil {
			return nil, nil, r.Error.AsError()
		}
		return nil, nil, &transport.Error{Err: fmt.Errorf("request failed with status %d: %s", resp.StatusCode, b)}
	}
	mt := resp.Header.Get("Content-Type")
	if mt != "application/json" {
		mt, _, _ = mime.ParseMediaType(mt)
	}
	var r rpcResponse
	switch mt {
	case "application/json":
		b, err := readBody(resp, limit+1)
		if err != nil {
			return nil, nil, d.readFailed(ctx, id, err)
		}
		if int64(len(b)) > limit {
			return nil, nil, tooLarge(maxBytes)
		}
		if !structured && len(b) <= maxBytes {
			if v, ok := textPayload(b, id, lim); ok {
				return nil, v, nil
			}
		}
		if err := json.Unmarshal(b, &r); err != nil || len(r.ID) == 0 || string(r.ID) == "null" {
			return nil, nil, &transport.Error{Err: fmt.Errorf("failed to decode response: %v", err)}
		}
	case "text/event-stream":
		d.streams.Store(true)
		if r, err = d.readStream(ctx, resp.Body, id, limit); err != nil {
			return nil, nil, err
		}
	default:
		return nil, nil, &transport.Error{Err: fmt.Errorf("unexpected content type: %s", resp.Header.Get("Content-Type"))}
	}
	if r.Error != nil {
		return nil, nil, r.Error.AsError()
	}
	res, err := parseResult(r.Result)
	if err != nil {
		return nil, nil, &transport.Error{Err: err}
	}
	return res, nil, nil
}

// readBody reads at most n bytes of a response body, into a buffer sized
// by its Content-Length when it has one.
func readBody(resp *http.Response, n int64) ([]byte, error) {
	if cl := resp.ContentLength; cl >= 0 && cl < n {
		b := make([]byte, cl)
		_, err := io.ReadFull(resp.Body, b)
		return b, err
	}
	return io.ReadAll(io.LimitReader(resp.Body, n))
}

// textPayload reads a JSON-RPC response to the call id whose result is
// text blocks and nothing more, {"content":[{"type":"text","text":...},
// ...]}, and returns the result as callResult maps it: that same Value.
// Anything else, or more blocks than the limit, is not for it.
func textPayload(body []byte, id string, lim Limits) (*altarv1.Value, bool) {
	msg, err := schema.ParseJSON(body, schema.Limits{MaxBytes: len(body), MaxStringBytes: len(body)})
	if err != nil {
		return nil, false
	}
	f := msg.GetObjectValue().GetFields()
	if f["id"].GetStringValue() != id || f["error"] != nil {
		return nil, false
	}
	res := f["result"].GetObjectValue().GetFields()
	content := res["content"]
	if len(res) != 1 || content == nil {
		return nil, false
	}
	blocks := content.GetArrayValue().GetItems()
	if len(blocks) == 0 || len(blocks) > lim.MaxContentBlocks {
		return nil, false
	}
	for _, b := range blocks {
		bf := b.GetObjectValue().GetFields()
		text, ok := bf["text"].GetKind().(*altarv1.Value_StringValue)
		if len(bf) != 2 || bf["type"].GetStringValue() != "text" || !ok || !utf8.ValidString(text.StringValue) {
			return nil, false
		}
	}
	return schema.Object(map[string]*altarv1.Value{"content": content}), true
}

// textResult is the common shape of a tools/call result: text blocks and
// nothing else.
type textResult struct {
	Content []struct {
		Type string  `json:"type"`
		Text *string `json:"text"`
	} `json:"content"`
	IsError bool `json:"isError"`
}

// parseResult reads a tools/call result as mcp-go's ParseCallToolResult
// does, itself when the result is text blocks and nothing more (the
// common case, read at a fraction of the cost), else with mcp-go.
func parseResult(raw json.RawMessage) (*mcp.CallToolResult, error) {
	var t textResult
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if dec.Decode(&t) == nil && len(t.Content) > 0 && !dec.More() && bytes.Contains(raw, []byte(`"content"`)) {
		res := &mcp.CallToolResult{Content: make([]mcp.Content, 0, len(t.Content)), IsError: t.IsError}
		plain := true
		for _, c := range t.Content {
			if c.Type != "text" || c.Text == nil {
				plain = false
				break
			}
			res.Content = append(res.Content, mcp.TextContent{Type: "text", Text: *c.Text})
		}
		if plain {
			return res, nil
		}
	}
	return mcp.ParseCallToolResult(&raw)
}

// rpcResponse is a JSON-RPC response (or, in an event stream, any message).
type rpcResponse struct {
	ID     json.RawMessage          `json:"id"`
	Method string                   `json:"method"`
	Result json.RawMessage          `json:"result"`
	Error  *mcp.JSONRPCErrorDetails `json:"error"`
}

// post sends one message of the session: through the pool with the head
// ready built, else through net/http (which also refuses a header it
// cannot send).
func (d *directHTTP) post(ctx context.Context, body []byte) (*http.Response, error) {
	if d.head != nil {
		return d.pool.post(ctx, d.head, body)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	maps.Copy(req.Header, d.requestHeaders())
	return d.hc.Do(req)
}

// acceptBoth is the Accept of every POST of the session.
const acceptBoth = "application/json, text/event-stream"

// requestHeaders are the headers of the session's POSTs, as mcp-go sets
// them: the configured ones last.
func (d *directHTTP) requestHeaders() http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Accept", acceptBoth)
	if s := d.tr.GetSessionId(); s != "" {
		h.Set(transport.HeaderKeySessionID, s)
	}
	if d.protocol != "" {
		h.Set(transport.HeaderKeyProtocolVersion, d.protocol)
	}
	for k, v := range d.headers {
		h.Set(k, v)
	}
	return h
}

// ready is called once the session is initialized (its id and protocol
// known): it builds the request head the pool sends every call with.
func (d *directHTTP) ready() {
	if d.pool == nil {
		return
	}
	u, err := url.Parse(d.url)
	if err != nil {
		return
	}
	if head, ok := requestHead(u, d.requestHeaders()); ok {
		d.head = head
	}
}

func (d *directHTTP) readFailed(ctx context.Context, id string, err error) error {
	if ctx.Err() != nil {
		d.cancelled(ctx, id)
	}
	return &transport.Error{Err: fmt.Errorf("reading the response: %w", err)}
}

// cancelled tells the server the call id was abandoned (see httpcancel.go).
func (d *directHTTP) cancelled(ctx context.Context, id string) {
	sendCancelled(ctx, d.tr, transport.JSONRPCRequest{ID: mcp.NewRequestId(id), Method: string(mcp.MethodToolsCall)})
}

// readStream reads an event stream until the response to id: its
// notifications go to the session, a request the server makes is refused
// as mcp-go refuses one it has no handler for.
func (d *directHTTP) readStream(ctx context.Context, body io.Reader, id string, limit int64) (rpcResponse, error) {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 4096), int(min(limit, 1<<30)))
	var data []byte
	requests := 0
	for {
		more := sc.Scan()
		line := sc.Bytes()
		if more && len(line) > 0 {
			if v, ok := bytes.CutPrefix(line, []byte("data:")); ok {
				if len(data) > 0 {
					data = append(data, '\n')
				}
				data = append(data, bytes.TrimPrefix(v, []byte(" "))...)
			}
			continue
		}
		if len(data) > 0 {
			var m rpcResponse
			if err := json.Unmarshal(data, &m); err == nil {
				switch {
				case m.Method != "" && (len(m.ID) == 0 || string(m.ID) == "null"):
					var n mcp.JSONRPCNotification
					if json.Unmarshal(data, &n) == nil && d.notify != nil {
						d.notify(n)
					}
				case m.Method != "":
					if requests++; requests <= maxServerRequests {
						d.refuse(ctx, m)
					}
				case string(m.ID) == strconv.Quote(id):
					return m, nil
				}
			}
			data = data[:0]
		}
		if !more {
			err := sc.Err()
			if errors.Is(err, bufio.ErrTooLong) {
				return rpcResponse{}, tooLarge(int(limit))
			}
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return rpcResponse{}, d.readFailed(ctx, id, fmt.Errorf("the event stream ended without the response: %w", err))
		}
	}
}

// refuse answers a server's request with METHOD_NOT_FOUND, as mcp-go does
// without a handler for it (best effort, bounded by cancelTimeout).
func (d *directHTTP) refuse(ctx context.Context, m rpcResponse) {
	msg, err := json.Marshal(map[string]any{"jsonrpc": mcp.JSONRPC_VERSION, "id": m.ID,
		"error": map[string]any{"code": mcp.METHOD_NOT_FOUND, "message": "no handler configured for method: " + m.Method}})
	if err != nil {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cancelTimeout)
	defer cancel()
	if resp, err := d.post(rctx, msg); err == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}
}

func tooLarge(limit int) error {
	return altarerr.New(altarv1.ErrorCode_ERROR_CODE_PAYLOAD_TOO_LARGE, "the MCP result is larger than %d bytes", limit)
}
