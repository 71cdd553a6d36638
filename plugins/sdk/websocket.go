package sdk

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/coder/websocket"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// The subprotocols of the Host's runtime WebSocket (/v1/runtimes/connect).
const (
	// WebSocketProto carries each message as one binary frame holding its
	// protobuf encoding.
	WebSocketProto = "altar.v1.proto"
	// WebSocketJSON carries each message as one text frame holding its
	// canonical JSON (protojson).
	WebSocketJSON = "altar.v1.json"
)

// wsReadLimit bounds one message from the Host: a tool call's arguments
// may be as large as the Host's body limit (4 MiB by default), and more in
// JSON.
const wsReadLimit = 32 << 20

// isWebSocketURL reports whether Serve's address is a WebSocket URL.
func isWebSocketURL(addr string) bool {
	a := strings.ToLower(addr)
	return strings.HasPrefix(a, "ws://") || strings.HasPrefix(a, "wss://")
}

// webSocketDialer opens WebSocket streams to url, each bound to the
// context it is opened with (the socket is closed when it ends).
func (r *Runtime) webSocketDialer(url string) dialer {
	return func(ctx context.Context) (clientStream, error) {
		var opts websocket.DialOptions
		if r.cfg.wsOpts != nil {
			opts = *r.cfg.wsOpts
		}
		if len(opts.Subprotocols) == 0 {
			opts.Subprotocols = []string{WebSocketProto}
		}
		c, resp, err := websocket.Dial(ctx, url, &opts)
		if err != nil {
			if resp != nil {
				return nil, fmt.Errorf("connect to %s: HTTP %s: %w", url, resp.Status, err)
			}
			return nil, fmt.Errorf("connect to %s: %w", url, err)
		}
		sub := c.Subprotocol()
		if sub != WebSocketProto && sub != WebSocketJSON || !slices.Contains(opts.Subprotocols, sub) {
			c.CloseNow()
			return nil, fmt.Errorf("connect to %s: the Host chose subprotocol %q, not one of %q", url, sub, opts.Subprotocols)
		}
		c.SetReadLimit(wsReadLimit)
		// Like a gRPC stream, the socket lives as long as its context.
		context.AfterFunc(ctx, func() { c.CloseNow() })
		return &wsStream{ctx: ctx, conn: c, json: sub == WebSocketJSON}, nil
	}
}

// wsStream adapts a WebSocket to clientStream: one message per frame,
// binary protobuf or text protojson by subprotocol.
type wsStream struct {
	ctx  context.Context
	conn *websocket.Conn
	json bool
}

func (s *wsStream) Send(m *altarv1.RuntimeMessage) error {
	typ, b, err := websocket.MessageBinary, []byte(nil), error(nil)
	if s.json {
		typ = websocket.MessageText
		b, err = protojson.Marshal(m)
	} else {
		b, err = proto.Marshal(m)
	}
	if err != nil {
		return fmt.Errorf("encoding %T: %w", m.GetMessage(), err)
	}
	return s.conn.Write(s.ctx, typ, b)
}

// Recv reads one message. The Host's normal closure is io.EOF, as the end
// of a gRPC stream is. Unknown JSON fields are discarded (a newer Host), as
// unknown binary fields are.
func (s *wsStream) Recv() (*altarv1.HostMessage, error) {
	typ, b, err := s.conn.Read(s.ctx)
	if err != nil {
		if websocket.CloseStatus(err) == websocket.StatusNormalClosure {
			return nil, io.EOF
		}
		return nil, err
	}
	m := &altarv1.HostMessage{}
	if s.json {
		if typ != websocket.MessageText {
			return nil, fmt.Errorf("the Host sent a %s frame on %s", typ, WebSocketJSON)
		}
		err = protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(b, m)
	} else {
		if typ != websocket.MessageBinary {
			return nil, fmt.Errorf("the Host sent a %s frame on %s", typ, WebSocketProto)
		}
		err = proto.Unmarshal(b, m)
	}
	if err != nil {
		return nil, fmt.Errorf("decoding a message from the Host: %w", err)
	}
	return m, nil
}

// CloseSend ends the runtime's side. WebSocket has no half-close, so it
// closes the socket normally; the Host answers the close, and Recv then
// reports the end. A failed close handshake is not the runtime's concern:
// the stream is over either way.
func (s *wsStream) CloseSend() error {
	_ = s.conn.Close(websocket.StatusNormalClosure, "the runtime is done")
	return nil
}

var _ clientStream = (*wsStream)(nil)
