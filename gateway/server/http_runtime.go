package server

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/auth"
	"github.com/altar-gateway/altar/gateway/runtime"
	"github.com/altar-gateway/altar/gateway/wire"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// This file serves GET /v1/runtimes/connect: the runtime protocol over a
// WebSocket, for runtimes that cannot speak gRPC. The message flow is the
// gRPC stream's (runtime.Service.Serve runs it); each WebSocket message
// is one RuntimeMessage or HostMessage, in the encoding the subprotocol
// names (docs/http.md).

// The runtime WebSocket's subprotocols.
const (
	// RuntimeSubprotocolProto carries each message as one binary frame
	// holding the protobuf encoding.
	RuntimeSubprotocolProto = "altar.v1.proto"
	// RuntimeSubprotocolJSON carries each message as one text frame
	// holding the canonical JSON (protojson).
	RuntimeSubprotocolJSON = "altar.v1.json"
)

// RuntimeServer runs one runtime's protocol over a stream
// (*runtime.Service).
type RuntimeServer interface {
	Serve(stream runtime.MessageStream, transport string) error
}

// WithRuntimeService serves runtimes over WebSocket at
// GET /v1/runtimes/connect. The server pings each socket every
// pingInterval and disconnects one that does not answer within
// pingTimeout (the protocol's own heartbeats run as well). Without this
// option the route answers 404.
func WithRuntimeService(svc RuntimeServer, pingInterval, pingTimeout time.Duration) HTTPOption {
	return httpOptionFunc(func(o *httpOptions) {
		o.runtimes = svc
		if pingInterval > 0 {
			o.pingInterval = pingInterval
		}
		if pingTimeout > 0 {
			o.pingTimeout = pingTimeout
		}
	})
}

// RuntimeSubprotocolKeyPrefix starts a subprotocol that carries an API key:
// "altar.v1.key." and the key in unpadded base64url. Browsers cannot set
// headers on a WebSocket handshake, so a browser runtime offers its key
// this way, next to altar.v1.proto or altar.v1.json; the server never
// selects (or echoes) it.
const RuntimeSubprotocolKeyPrefix = "altar.v1.key."

// subprotocolKey returns the key offered as a subprotocol, or "".
func subprotocolKey(r *http.Request) string {
	for _, header := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(header, ",") {
			p = strings.TrimSpace(p)
			if enc, ok := strings.CutPrefix(p, RuntimeSubprotocolKeyPrefix); ok {
				if key, err := base64.RawURLEncoding.DecodeString(enc); err == nil {
					return string(key)
				}
			}
		}
	}
	return ""
}

// WithRuntimeOrigins lets browser pages from these origins connect runtimes
// (host patterns as in path.Match, such as "app.example.com" or
// "*.example.com"). Without it only same-origin handshakes (and clients that
// send no Origin, which browsers always do) are accepted.
func WithRuntimeOrigins(patterns ...string) HTTPOption {
	return httpOptionFunc(func(o *httpOptions) { o.runtimeOrigins = patterns })
}

// authenticateRuntime is authenticate for the runtime route: a runtime or
// admin key is required (with no keys configured, anyone may connect).
func (s *httpServer) authenticateRuntime(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		p := auth.Anonymous
		if !s.keys.Empty() {
			presented := r.Header.Get("Authorization")
			if presented == "" {
				presented = r.Header.Get("X-API-Key")
			}
			if presented == "" {
				presented = subprotocolKey(r)
			}
			var err error
			if p, err = s.keys.Authenticate(presented); err != nil {
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="altar"`)
				return err
			}
			if p.Role != auth.RoleRuntime && p.Role != auth.RoleAdmin {
				return altarerr.New(altarv1.ErrorCode_ERROR_CODE_PERMISSION_DENIED, "a %s key may not connect a runtime", p.Role)
			}
		}
		c.SetRequest(r.WithContext(auth.WithPrincipal(r.Context(), p)))
		return next(c)
	}
}

// runtimeConnect upgrades to a WebSocket and runs the runtime protocol on
// it until either side ends it.
func (s *httpServer) runtimeConnect(c echo.Context) error {
	if s.o.runtimes == nil {
		return altarerr.New(altarv1.ErrorCode_ERROR_CODE_NOT_FOUND, "this Host does not take runtimes over WebSocket")
	}
	rc := http.NewResponseController(c.Response().Writer)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	conn, err := websocket.Accept(c.Response(), c.Request(), &websocket.AcceptOptions{
		Subprotocols:   []string{RuntimeSubprotocolProto, RuntimeSubprotocolJSON},
		OriginPatterns: s.o.runtimeOrigins,
	})
	if err != nil {
		s.o.log.Debug("runtime websocket handshake failed", "error", err)
		return nil
	}
	defer conn.CloseNow()
	format := wire.FormatBinary
	switch strings.ToLower(conn.Subprotocol()) {
	case RuntimeSubprotocolProto:
	case RuntimeSubprotocolJSON:
		format = wire.FormatJSON
	default:
		_ = conn.Close(websocket.StatusPolicyViolation,
			"no supported subprotocol: ask for "+RuntimeSubprotocolProto+" or "+RuntimeSubprotocolJSON)
		return nil
	}
	conn.SetReadLimit(s.o.maxBody)

	ctx, cancel := context.WithCancelCause(c.Request().Context())
	defer cancel(nil)
	stream := &wsRuntimeStream{ctx: ctx, cancel: cancel, conn: conn, format: format, maxBytes: int(s.o.maxBody)}
	pinged := make(chan struct{})
	go func() {
		defer close(pinged)
		s.keepAlive(ctx, conn)
	}()

	err = s.o.runtimes.Serve(stream, "websocket")
	if ctx.Err() != nil {
		// The socket is already gone (the runtime left, or missed a ping).
		conn.CloseNow()
	} else if err != nil {
		e := altarerr.From(err)
		code := websocket.StatusPolicyViolation
		if e.Code == altarv1.ErrorCode_ERROR_CODE_CONNECTION_LOST {
			code = websocket.StatusGoingAway // Replaced, or the Host is shutting down.
		}
		_ = conn.Close(code, closeReason(altarerr.CodeName(e.Code)+": "+e.Message))
	} else {
		_ = conn.Close(websocket.StatusNormalClosure, "")
	}
	cancel(nil)
	<-pinged
	return nil
}

// keepAlive pings the socket every ping interval and closes it when a pong
// does not come back within the ping timeout.
func (s *httpServer) keepAlive(ctx context.Context, conn *websocket.Conn) {
	t := time.NewTicker(s.o.pingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, s.o.pingTimeout)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				if ctx.Err() == nil {
					s.o.log.Info("runtime websocket did not answer a ping; disconnecting", "error", err)
				}
				conn.CloseNow()
				return
			}
		}
	}
}

// closeReason fits a reason in a close frame (123 bytes).
func closeReason(s string) string {
	const limit = 123
	if len(s) <= limit {
		return s
	}
	s = s[:limit-3]
	for len(s) > 0 && s[len(s)-1]&0xC0 == 0x80 {
		s = s[:len(s)-1] // Do not cut a UTF-8 sequence.
	}
	if len(s) > 0 && s[len(s)-1]&0xC0 == 0xC0 {
		s = s[:len(s)-1]
	}
	return s + "..."
}

// wsRuntimeStream adapts a WebSocket to runtime.MessageStream. Its context
// ends when the socket fails or closes (Recv then returns an error), and
// when the handler ends.
type wsRuntimeStream struct {
	ctx      context.Context
	cancel   context.CancelCauseFunc
	conn     *websocket.Conn
	format   wire.Format
	maxBytes int
}

func (w *wsRuntimeStream) Context() context.Context { return w.ctx }

func (w *wsRuntimeStream) messageType() websocket.MessageType {
	if w.format == wire.FormatJSON {
		return websocket.MessageText
	}
	return websocket.MessageBinary
}

// Send writes one message as one frame. The Service serialises Sends.
func (w *wsRuntimeStream) Send(m *altarv1.HostMessage) error {
	b, err := wire.Marshal(m, w.format)
	if err != nil {
		return err
	}
	if err := w.conn.Write(w.ctx, w.messageType(), b); err != nil {
		w.cancel(err)
		return err
	}
	return nil
}

// Recv reads one frame. A frame of the other subprotocol's type, or one that
// does not decode, is a protocol violation.
func (w *wsRuntimeStream) Recv() (*altarv1.RuntimeMessage, error) {
	typ, b, err := w.conn.Read(w.ctx)
	if err != nil {
		w.cancel(err)
		return nil, err
	}
	if typ != w.messageType() {
		return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_PROTOCOL_VIOLATION,
			"subprotocol %s takes %s frames only", w.conn.Subprotocol(), w.messageType())
	}
	m := &altarv1.RuntimeMessage{}
	if err := wire.Unmarshal(b, m, w.format, wire.Limits{MaxBytes: w.maxBytes}); err != nil {
		var ae *altarerr.Error
		if errors.As(err, &ae) && ae.Code == altarv1.ErrorCode_ERROR_CODE_MALFORMED_MESSAGE {
			return nil, altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_PROTOCOL_VIOLATION, err, "undecodable runtime message")
		}
		return nil, err
	}
	return m, nil
}

var _ runtime.MessageStream = (*wsRuntimeStream)(nil)
