package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"unicode/utf8"

	mcpproto "github.com/mark3labs/mcp-go/mcp"

	"github.com/altar-gateway/altar/gateway/altarerr"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// This file answers the most common request of all, a plain tools/call
// over streamable HTTP in a live session, without mcp-go's server: mcp-go
// decodes each message four times, sets up a notification forwarder per
// request and encodes results through a map, which cost more CPU than the
// Host's whole governance of the call (docs/performance.md). Everything
// else, and every case that is not plainly the common one, goes to mcp-go
// unchanged: the first request of a session, progress tokens and any other
// _meta, task-augmented calls, streaming contracts, unknown tools and
// sessions, other protocol revisions, batches and malformed messages.
// TestDirectCallsAnswerAsMCPGo holds the two paths to the same answers.

// plainCall is a tools/call request the facade may answer itself.
type plainCall struct {
	id   json.RawMessage
	name string
	args json.RawMessage
}

// callEnvelope and callParams are the parts of a tools/call message the
// direct path reads.
type callEnvelope struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
}

type callParams struct {
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
	Meta      json.RawMessage `json:"_meta"`
	Task      json.RawMessage `json:"task"`
}

// serveCallDirectly answers r when it is a plain tools/call in the live
// MCP session mcpID, bound to b and owned by r's caller (serveHTTP checks
// both), and reports whether it did. When it did not, r is as it came, its
// body read and put back for mcp-go.
func (f *Facade) serveCallDirectly(w http.ResponseWriter, r *http.Request, mcpID string, b *binding) bool {
	if b.sse || b.out != nil ||
		!legacyVersion(r.Header.Get(mcpproto.HeaderProtocolVersion)) ||
		!isJSON(r.Header.Get("Content-Type")) || rebinding(r) {
		return false
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		// mcp-go answers the read error.
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{err}))
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	call, ok := scanPlainCall(body)
	if !ok {
		if call, ok = parsePlainCall(body); !ok {
			return false
		}
	}

	ctx, done := f.callContext(r.Context(), b)
	defer done()
	_, info, ok := f.describe(ctx, mcpID, b.altarID, call.name)
	if !ok || streams(info.GetContract(), false) {
		// mcp-go answers an unknown tool, and streams.
		return false
	}
	res := f.invokeRecovering(ctx, mcpID, b.altarID, call, info.GetContract())
	out, err := appendResponse(make([]byte, 0, 256), call.id, res)
	if err != nil {
		out, _ = appendResponse(out[:0], call.id, toolError(altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INTERNAL, err, "encoding the result")))
	}
	f.direct.Add(1)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(out); err != nil {
		f.o.log.Debug("mcp: writing a call's response", "error", err)
	}
	return true
}

// invokeRecovering runs a direct call and answers a panic in it as an
// INTERNAL tool error, as mcp-go's recovery (WithRecovery) does for the
// calls it serves.
func (f *Facade) invokeRecovering(ctx context.Context, mcpID, sess string, call plainCall, c *altarv1.ToolContract) (res *mcpproto.CallToolResult) {
	defer func() {
		if p := recover(); p != nil {
			f.o.log.Error("mcp: a call panicked", "tool", call.name, "panic", p)
			res = toolError(altarerr.New(altarv1.ErrorCode_ERROR_CODE_INTERNAL, "the gateway failed serving the call"))
		}
	}()
	params, err := parseArguments(call.args, int(f.o.maxBody))
	if err != nil {
		return toolError(err)
	}
	return f.invoke(ctx, mcpID, sess, call.name, params, c)
}

// parsePlainCall reads body as a tools/call request that carries nothing
// but a name and arguments.
func parsePlainCall(body []byte) (plainCall, bool) {
	var env callEnvelope
	if json.Unmarshal(body, &env) != nil || env.JSONRPC != mcpproto.JSONRPC_VERSION ||
		env.Method != string(mcpproto.MethodToolsCall) || !plainID(env.ID) {
		return plainCall{}, false
	}
	var p callParams
	if json.Unmarshal(env.Params, &p) != nil || p.Name == "" || !emptyJSON(p.Meta) || !emptyJSON(p.Task) {
		return plainCall{}, false
	}
	return plainCall{id: env.ID, name: p.Name, args: p.Arguments}, true
}

// scanPlainCall is parsePlainCall without encoding/json's reflection,
// for the messages clients send: it takes a subset of what parsePlainCall
// takes (keys spelt exactly, no escapes in keys, method and version), and
// reads it the same (FuzzScanPlainCall).
func scanPlainCall(body []byte) (plainCall, bool) {
	if !json.Valid(body) {
		return plainCall{}, false
	}
	var version, id, method, params []byte
	if !eachField(body, func(k, v []byte) bool {
		switch string(k) {
		case "jsonrpc":
			version = v
		case "id":
			id = v
		case "method":
			method = v
		case "params":
			params = v
		default:
			return !foldsTo(k, "jsonrpc", "id", "method", "params")
		}
		return true
	}) || string(version) != `"`+mcpproto.JSONRPC_VERSION+`"` || string(method) != `"`+string(mcpproto.MethodToolsCall)+`"` || !plainID(id) {
		return plainCall{}, false
	}
	var name, args, meta, task []byte
	if !eachField(params, func(k, v []byte) bool {
		switch string(k) {
		case "name":
			name = v
		case "arguments":
			args = v
		case "_meta":
			meta = v
		case "task":
			task = v
		default:
			return !foldsTo(k, "name", "arguments", "_meta", "task")
		}
		return true
	}) || len(name) < 3 || name[0] != '"' || !emptyJSON(meta) || !emptyJSON(task) {
		return plainCall{}, false
	}
	n := string(name[1 : len(name)-1])
	if strings.IndexByte(n, '\\') >= 0 || !utf8.ValidString(n) {
		if json.Unmarshal(name, &n) != nil || n == "" {
			return plainCall{}, false
		}
	}
	return plainCall{id: id, name: n, args: args}, true
}

// foldsTo reports whether key matches one of names as encoding/json
// matches keys to fields (without regard to case).
func foldsTo(key []byte, names ...string) bool {
	for _, n := range names {
		if strings.EqualFold(string(key), n) {
			return true
		}
	}
	return false
}

// eachField calls visit with each key and raw value of the JSON object
// doc, which must be valid JSON, until visit returns false. It reports
// false for a doc that is not an object, a key with escapes, or visit's
// false.
func eachField(doc []byte, visit func(key, value []byte) bool) bool {
	i := skipSpace(doc, 0)
	if i >= len(doc) || doc[i] != '{' {
		return false
	}
	i = skipSpace(doc, i+1)
	if i < len(doc) && doc[i] == '}' {
		return true
	}
	for i < len(doc) {
		if doc[i] != '"' {
			return false
		}
		end := skipValue(doc, i)
		key := doc[i+1 : end-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			return false
		}
		i = skipSpace(doc, end)
		if i >= len(doc) || doc[i] != ':' {
			return false
		}
		start := skipSpace(doc, i+1)
		end = skipValue(doc, start)
		if !visit(key, doc[start:end]) {
			return false
		}
		i = skipSpace(doc, end)
		if i >= len(doc) {
			return false
		}
		switch doc[i] {
		case '}':
			return true
		case ',':
			i = skipSpace(doc, i+1)
		default:
			return false
		}
	}
	return false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the JSON value starting at i in valid JSON.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		for i++; i < len(b); i++ {
			switch b[i] {
			case '\\':
				i++
			case '"':
				return i + 1
			}
		}
		return i
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipValue(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
		i++
	}
	return i
}

// plainID reports whether id is a JSON-RPC request id: a string or an
// integer.
func plainID(id json.RawMessage) bool {
	if len(id) == 0 {
		return false
	}
	switch c := id[0]; {
	case c == '"':
		return true
	case c == '-' || c >= '0' && c <= '9':
		return !bytes.ContainsAny(id, ".eE")
	}
	return false
}

// emptyJSON reports whether raw is absent, null or an empty object.
func emptyJSON(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return true
	}
	if len(t) < 2 || t[0] != '{' || t[len(t)-1] != '}' {
		return false
	}
	return len(bytes.TrimSpace(t[1:len(t)-1])) == 0
}

// legacyVersion reports whether a request's protocol version header names
// a revision with sessions, as mcp-go reads it: none (the oldest), or a
// known revision before the sessionless one.
func legacyVersion(v string) bool {
	return v == "" || mcpproto.IsValidProtocolVersion(v) && !mcpproto.IsModernProtocol(v)
}

func isJSON(contentType string) bool {
	if contentType == "application/json" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

// rebinding reports whether mcp-go's DNS rebinding protection refuses r: a
// request on a loopback address whose Host header is not a loopback name.
func rebinding(r *http.Request) bool {
	var local bool
	switch a := r.Context().Value(http.LocalAddrContextKey).(type) {
	case *net.TCPAddr:
		local = a.IP.IsLoopback()
	case net.Addr:
		local = loopbackHost(a.String())
	}
	return local && !loopbackHost(r.Host)
}

// loopbackHost reports whether addr, a host or host:port, names a loopback
// interface, as mcp-go decides it.
func loopbackHost(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = strings.Trim(addr, "[]")
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// appendResponse appends the JSON-RPC response carrying res, as mcp-go
// writes it (keys in the order of its map encoding, a newline after).
func appendResponse(b []byte, id json.RawMessage, res *mcpproto.CallToolResult) ([]byte, error) {
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	b = append(b, id...)
	b = append(b, `,"result":{`...)
	if id, ok := onlyInvocationID(res.Meta); ok {
		b = append(b, `"_meta":{"altar/invocation_id":`...)
		b = appendString(b, id)
		b = append(b, "},"...)
	} else if res.Meta != nil {
		m, err := json.Marshal(res.Meta)
		if err != nil {
			return b, err
		}
		b = append(b, `"_meta":`...)
		b = append(b, m...)
		b = append(b, ',')
	}
	b = append(b, `"content":[`...)
	for i, c := range res.Content {
		if i > 0 {
			b = append(b, ',')
		}
		if t, ok := c.(mcpproto.TextContent); ok && t.Annotations == nil && t.Meta == nil {
			b = append(b, `{"type":"text","text":`...)
			b = appendString(b, t.Text)
			b = append(b, '}')
			continue
		}
		m, err := json.Marshal(c)
		if err != nil {
			return b, err
		}
		b = append(b, m...)
	}
	b = append(b, ']')
	if res.IsError {
		b = append(b, `,"isError":true`...)
	}
	switch {
	case len(res.RawStructuredContent) > 0:
		b = append(b, `,"structuredContent":`...)
		b = append(b, res.RawStructuredContent...)
	case res.StructuredContent != nil:
		m, err := json.Marshal(res.StructuredContent)
		if err != nil {
			return b, err
		}
		b = append(b, `,"structuredContent":`...)
		b = append(b, m...)
	}
	return append(b, "}}\n"...), nil
}

// onlyInvocationID returns the invocation id when it is all m holds (a
// successful call's _meta).
func onlyInvocationID(m *mcpproto.Meta) (string, bool) {
	if m == nil || m.ProgressToken != nil || len(m.AdditionalFields) != 1 {
		return "", false
	}
	id, ok := m.AdditionalFields["altar/invocation_id"].(string)
	return id, ok
}

// appendString appends s as a JSON string, escaped as encoding/json
// escapes it (HTML characters included; invalid UTF-8 as U+FFFD).
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x80 {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == 0xFFFD && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
