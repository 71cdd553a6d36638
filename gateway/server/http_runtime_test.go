package server

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/runtime"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// fakeRuntimes answers each RuntimeMessage with a HostMessage heartbeat
// carrying the runtime's sequence, and reports how Serve ended.
type fakeRuntimes struct {
	done chan error
}

func (f *fakeRuntimes) Serve(stream runtime.MessageStream, transport string) error {
	err := func() error {
		if transport != "websocket" {
			return errors.New("transport " + transport)
		}
		for {
			m, err := stream.Recv()
			if err != nil {
				var ae *altarerr.Error
				if errors.As(err, &ae) {
					return ae.GRPCStatus().Err()
				}
				return err
			}
			if err := stream.Send(&altarv1.HostMessage{Message: &altarv1.HostMessage_Heartbeat{
				Heartbeat: &altarv1.Heartbeat{Sequence: m.GetHeartbeat().GetSequence()}}}); err != nil {
				return err
			}
		}
	}()
	if stream.Context().Err() == nil && err != nil && !strings.Contains(err.Error(), "PROTOCOL_VIOLATION") {
		err = errors.New("the stream's context outlived the socket: " + err.Error())
	}
	f.done <- err
	return err
}

func runtimeURL(t *testing.T, f *fakeRuntimes, ping time.Duration) string {
	srv := serve(t, &fakeAPI{}, nil, WithRuntimeService(f, ping, ping))
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/runtimes/connect"
}

func TestRuntimeWebSocketJSONFramesAndViolation(t *testing.T) {
	f := &fakeRuntimes{done: make(chan error, 1)}
	ctx := ctxT(t)
	c, _, err := websocket.Dial(ctx, runtimeURL(t, f, time.Minute), &websocket.DialOptions{Subprotocols: []string{RuntimeSubprotocolJSON}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"heartbeat":{"sequence":"42"}}`)); err != nil {
		t.Fatal(err)
	}
	typ, b, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var m altarv1.HostMessage
	if err := protojson.Unmarshal(b, &m); err != nil || typ != websocket.MessageText || m.GetHeartbeat().GetSequence() != 42 {
		t.Fatalf("got %v %s (%v)", typ, b, err)
	}
	// A binary frame on the JSON subprotocol breaks the protocol.
	if err := c.Write(ctx, websocket.MessageBinary, []byte{0x0a}); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Read(ctx)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation || !strings.Contains(ce.Reason, "PROTOCOL_VIOLATION") {
		t.Fatalf("read: %v", err)
	}
	<-f.done
}

func TestRuntimeWebSocketUnansweredPingDisconnects(t *testing.T) {
	f := &fakeRuntimes{done: make(chan error, 1)}
	ctx := ctxT(t)
	c, _, err := websocket.Dial(ctx, runtimeURL(t, f, 20*time.Millisecond), &websocket.DialOptions{Subprotocols: []string{RuntimeSubprotocolProto}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	// The client never reads, so it never answers a ping.
	select {
	case err := <-f.done:
		if err != nil && strings.Contains(err.Error(), "outlived") {
			t.Fatal(err)
		}
	case <-time.After(testTimeout):
		t.Fatal("a client that does not answer pings stayed connected")
	}
}

func TestRuntimeWebSocketNotServed(t *testing.T) {
	r := do(t, "GET", serve(t, &fakeAPI{}, nil).URL+"/v1/runtimes/connect", "", nil)
	if r.status != http.StatusNotFound {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
}
