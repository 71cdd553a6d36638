package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/schema"
	"github.com/altar-gateway/altar/gateway/wire"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// This file serves calls: unary invoke, and streams over Server-Sent Events
// and WebSocket. The invoke body is the InvokeRequest with natural-JSON
// parameters (docs/http.md); results carry the canonical ToolResult or
// StreamChunk and, next to it, the payload in natural JSON.

// parseInvoke builds an InvokeRequest for tool from an invoke body:
//
//	{"sessionId": "...", "parameters": {...natural JSON...}, "invocationId": "...",
//	 "correlationId": "...", "timeout": "5s", "metadata": {"k": "v"}, "coerce": false}
//
// Every field is optional and may also be spelled in snake_case. An unknown
// field, malformed JSON (with its offset) and a bad timeout are
// INVALID_REQUEST; parameters beyond the schema limits are
// PAYLOAD_TOO_LARGE; an out-of-range number is INVALID_ARGUMENTS.
func parseInvoke(tool string, body []byte, maxBytes int) (*altarv1.InvokeRequest, error) {
	req := &altarv1.InvokeRequest{ToolName: tool}
	if len(bytes.TrimSpace(body)) == 0 {
		return req, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, jsonError(err)
	}
	for _, pair := range [][2]string{{"sessionId", "session_id"}, {"invocationId", "invocation_id"}, {"correlationId", "correlation_id"}} {
		_, a := fields[pair[0]]
		_, b := fields[pair[1]]
		if a && b {
			return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, "the invoke request has both %q and %q", pair[0], pair[1]).
				WithField("/"+pair[1], "duplicate", "the same field as "+pair[0])
		}
	}
	for k, raw := range fields {
		field := func(dst any) error {
			if err := json.Unmarshal(raw, dst); err != nil {
				return altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, "field %q: %v", k, err).
					WithField("/"+k, "type", err.Error())
			}
			return nil
		}
		var err error
		switch k {
		case "sessionId", "session_id":
			err = field(&req.SessionId)
		case "invocationId", "invocation_id":
			err = field(&req.InvocationId)
		case "correlationId", "correlation_id":
			err = field(&req.CorrelationId)
		case "metadata":
			err = field(&req.Metadata)
		case "coerce":
			err = field(&req.Coerce)
		case "timeout":
			var d string
			if err = field(&d); err == nil && d != "" {
				dur, perr := time.ParseDuration(d)
				if perr != nil || dur < 0 {
					err = altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, "timeout %q is not a duration such as \"5s\"", d).
						WithField("/timeout", "duration", "must be a non-negative duration such as \"5s\" or \"250ms\"")
				} else {
					req.Timeout = durationpb.New(dur)
				}
			}
		case "parameters":
			if string(bytes.TrimSpace(raw)) == "null" {
				break
			}
			req.Parameters, err = schema.ParseJSONObject(raw, schema.Limits{MaxBytes: maxBytes})
			if err != nil {
				if e := altarerr.From(err); e.Code == altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST {
					err = altarerr.Wrap(e.Code, e, "parameters")
				}
			}
		default:
			return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, "unknown field %q in the invoke request", k).
				WithField("/"+k, "unknown_field", "not a field of the invoke request")
		}
		if err != nil {
			return nil, err
		}
	}
	return req, nil
}

// jsonError makes an encoding/json failure INVALID_REQUEST naming where.
func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, "malformed JSON at offset %d: %v", se.Offset, se)
	case errors.As(err, &te):
		return altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, "the request body must be a JSON object (found %s at offset %d)", te.Value, te.Offset)
	default:
		return altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, "malformed JSON: %v", err)
	}
}

// readInvoke reads the invoke request of a POST body or, for GET, of the
// query string (parameters is then URL-encoded natural JSON).
func (s *httpServer) readInvoke(c echo.Context) (*altarv1.InvokeRequest, error) {
	tool, err := pathParam(c, "name")
	if err != nil {
		return nil, err
	}
	if c.Request().Method == http.MethodGet {
		bodyRead(c)
		q := c.QueryParams()
		body := map[string]any{}
		for k, vs := range q {
			v := vs[len(vs)-1]
			switch k {
			case "parameters":
				body[k] = json.RawMessage(v)
			case "coerce":
				b, err := strconv.ParseBool(v)
				if err != nil {
					return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, "query parameter coerce=%q is not a boolean", v)
				}
				body[k] = b
			default:
				body[k] = v
			}
		}
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, jsonError(err)
		}
		if len(raw) > int(s.o.maxBody) {
			return nil, tooLarge(s.o.maxBody)
		}
		return parseInvoke(tool, raw, int(s.o.maxBody))
	}
	body, err := s.readBody(c)
	if err != nil {
		return nil, err
	}
	return parseInvoke(tool, body, int(s.o.maxBody))
}

// appendWithPayload writes {"<key>": canonical m, "payload": natural v},
// leaving payload out when v is nil.
func appendWithPayload(key string, m proto.Message, v *altarv1.Value) ([]byte, error) {
	canon, err := wire.Marshal(m, wire.FormatJSON)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, 2*len(canon)+32)
	b = append(b, `{"`...)
	b = append(b, key...)
	b = append(b, `":`...)
	b = append(b, canon...)
	if v != nil {
		b = append(b, `,"payload":`...)
		if b, err = schema.AppendJSON(b, v); err != nil {
			return nil, altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INVALID_RESULT, err, "the result has no natural JSON form")
		}
	}
	return append(b, '}'), nil
}

func (s *httpServer) invoke(c echo.Context) error {
	s.setDeadlines(c)
	req, err := s.readInvoke(c)
	if err != nil {
		return err
	}
	resp, err := s.api.Invoke(c.Request().Context(), req)
	if err != nil {
		return err
	}
	b, err := appendWithPayload("result", resp.GetResult(), resp.GetResult().GetPayload())
	if err != nil {
		return err
	}
	return c.JSONBlob(http.StatusOK, b)
}

// stream serves a streaming call as Server-Sent Events: one "chunk" event
// per chunk, {"chunk": canonical StreamChunk, "payload": natural JSON}. A
// failure before the first chunk is an ordinary error response; one after
// it is an "error" event in the error shape. The stream ends after the
// final (or error) chunk.
func (s *httpServer) stream(c echo.Context) error {
	s.setDeadlines(c)
	req, err := s.readInvoke(c)
	if err != nil {
		return err
	}
	w := c.Response()
	rc := http.NewResponseController(w.Writer)
	// The stream lasts as long as the invocation, which bounds itself.
	_ = rc.SetWriteDeadline(time.Time{})
	started := false
	err = s.api.InvokeStream(c.Request().Context(), req, func(ch *altarv1.StreamChunk) error {
		b, err := appendWithPayload("chunk", ch, ch.GetPayload())
		if err != nil {
			return err
		}
		if !started {
			started = true
			h := w.Header()
			h.Set("Content-Type", "text/event-stream")
			h.Set("Cache-Control", "no-cache")
			h.Set("X-Accel-Buffering", "no")
			w.WriteHeader(http.StatusOK)
		}
		if _, err := fmt.Fprintf(w, "event: chunk\ndata: %s\n\n", b); err != nil {
			return err
		}
		return rc.Flush()
	})
	if err == nil {
		return nil
	}
	if !started {
		return err
	}
	if c.Request().Context().Err() == nil {
		_, _ = fmt.Fprintf(w, "event: error\ndata: %s\n\n", marshalError(altarerr.From(err)))
		_ = rc.Flush()
	}
	return nil
}

// websocket serves a streaming call over WebSocket: the client sends one
// text message, the invoke request; the server answers one text message
// per chunk, as for SSE, and closes normally after the final chunk. A
// failure is sent as one {"error": ...} message before a normal close. A
// client that goes away cancels the invocation.
func (s *httpServer) websocket(c echo.Context) error {
	tool, err := pathParam(c, "name")
	if err != nil {
		return err
	}
	rc := http.NewResponseController(c.Response().Writer)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	conn, err := websocket.Accept(c.Response(), c.Request(), nil)
	if err != nil {
		// Accept has answered the handshake failure itself.
		s.o.log.Debug("websocket handshake failed", "error", err)
		return nil
	}
	defer conn.CloseNow()
	conn.SetReadLimit(s.o.maxBody)

	ctx := c.Request().Context()
	readCtx, cancelRead := context.WithTimeout(ctx, s.o.readTimeout)
	typ, body, err := conn.Read(readCtx)
	cancelRead()
	if err != nil {
		if websocket.CloseStatus(err) == websocket.StatusMessageTooBig {
			return nil
		}
		s.o.log.Debug("websocket read failed", "error", err)
		return nil
	}
	fail := func(err error) error {
		_ = conn.Write(ctx, websocket.MessageText, marshalError(altarerr.From(err)))
		_ = conn.Close(websocket.StatusNormalClosure, "")
		return nil
	}
	if typ != websocket.MessageText {
		return fail(altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, "the invoke request must be a text message holding JSON"))
	}
	req, err := parseInvoke(tool, body, int(s.o.maxBody))
	if err != nil {
		return fail(err)
	}
	// CloseRead reads (and discards) what the client sends from now on, so
	// that a close or a dropped connection cancels callCtx.
	callCtx := conn.CloseRead(ctx)
	err = s.api.InvokeStream(callCtx, req, func(ch *altarv1.StreamChunk) error {
		b, err := appendWithPayload("chunk", ch, ch.GetPayload())
		if err != nil {
			return err
		}
		return conn.Write(callCtx, websocket.MessageText, b)
	})
	if err != nil {
		if callCtx.Err() != nil {
			return nil
		}
		return fail(err)
	}
	_ = conn.Close(websocket.StatusNormalClosure, "")
	return nil
}
