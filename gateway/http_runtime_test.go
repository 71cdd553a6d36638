package gateway_test

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/altar-gateway/altar/gateway"
	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/auth"
	"github.com/altar-gateway/altar/gateway/server"
	"github.com/altar-gateway/altar/plugins/sdk"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// connTracker is an HTTP client that remembers the connections it dials,
// so that a test can cut one as a crash or a network failure would.
type connTracker struct {
	mu    sync.Mutex
	conns []net.Conn
	tr    *http.Transport
}

func newConnTracker(t *testing.T) *connTracker {
	ct := &connTracker{}
	ct.tr = &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			ct.mu.Lock()
			ct.conns = append(ct.conns, c)
			ct.mu.Unlock()
		}
		return c, err
	}}
	t.Cleanup(ct.tr.CloseIdleConnections)
	return ct
}

func (ct *connTracker) client() *http.Client { return &http.Client{Transport: ct.tr} }

func (ct *connTracker) last() net.Conn {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	return ct.conns[len(ct.conns)-1]
}

// startWSRuntime is startRuntime over the Host's runtime WebSocket.
func startWSRuntime(t *testing.T, h *testHost, id string, tl *tools, ws *websocket.DialOptions) *sdk.Runtime {
	t.Helper()
	rt, err := sdk.New(id, tl.list(id), quiet, sdk.WithWebSocketDialOptions(ws),
		sdk.WithReconnect(10*time.Millisecond, 50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = rt.Serve(ctx, "ws://"+h.HTTPAddr()+"/v1/runtimes/connect")
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	waitRouted(t, h, id)
	return rt
}

func waitRouted(t *testing.T, h *testHost, id string) {
	t.Helper()
	waitUntil(t, func() bool {
		for _, info := range h.Runtimes().List() {
			if info.GetRuntimeId() == id && len(info.GetTools()) > 0 {
				return true
			}
		}
		return false
	})
}

func fastHeartbeats(c *gateway.Config) {
	c.Runtimes.HeartbeatInterval = 200 * time.Millisecond
	c.Runtimes.HeartbeatTimeout = 2 * time.Second
}

func TestWebSocketRuntime(t *testing.T) {
	for _, sub := range []string{sdk.WebSocketProto, sdk.WebSocketJSON} {
		t.Run(sub, func(t *testing.T) {
			h, _ := startHTTPHost(t, fastHeartbeats)
			tl := newTools()
			conns := newConnTracker(t)
			rt := startWSRuntime(t, h, "rt-ws", tl, &websocket.DialOptions{
				Subprotocols: []string{sub}, HTTPClient: conns.client(),
			})
			ctx := ctxT(t)

			echo := func() {
				t.Helper()
				resp, err := h.client.Invoke(ctx, &altarv1.InvokeRequest{ToolName: "echo", Parameters: args("message", "hi", "n", 7)})
				if err != nil {
					t.Fatal(err)
				}
				if got := resp.GetResult().GetPayload().GetStringValue(); got != "hi 7" {
					t.Fatalf("echo = %q", got)
				}
			}
			echo()

			list, err := h.client.ListRuntimes(ctx, &altarv1.ListRuntimesRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if rts := list.GetRuntimes(); len(rts) != 1 || rts[0].GetTransport() != "websocket" {
				t.Fatalf("runtimes = %v", rts)
			}

			st, err := h.client.InvokeStream(ctx, &altarv1.InvokeStreamRequest{Request: &altarv1.InvokeRequest{ToolName: "ticks", Parameters: args("n", 3)}})
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for {
				ch, err := st.Recv()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if p := ch.GetChunk().GetPayload(); p != nil {
					got = append(got, p.GetIntValue())
				}
			}
			if len(got) != 3 || got[2] != 3 {
				t.Fatalf("chunks = %v", got)
			}

			// Cutting the socket fails the call in flight at once (its
			// deadline is the default 30s), and the runtime comes back.
			errc := make(chan error, 1)
			go func() {
				_, err := h.client.Invoke(ctx, &altarv1.InvokeRequest{ToolName: "block", Parameters: args("tag", "k")})
				errc <- err
			}()
			<-tl.started
			_ = conns.last().Close()
			select {
			case err := <-errc:
				if code := altarerr.CodeOf(err); code != altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE {
					t.Fatalf("code = %v (%v)", code, err)
				}
			case <-time.After(testTimeout):
				t.Fatal("the call waited for its deadline")
			}
			waitUntil(t, func() bool { return rt.Status().Connects == 2 })
			waitRouted(t, h, "rt-ws")
			echo()
		})
	}
}

func TestWebSocketRuntimeRefusals(t *testing.T) {
	h, _ := startHTTPHost(t, func(c *gateway.Config) {
		fastHeartbeats(c)
		c.Keys = []auth.Key{
			{ID: "app", Role: auth.RoleClient, Hash: auth.HashKey("client-key")},
			{ID: "rt", Role: auth.RoleRuntime, Hash: auth.HashKey("runtime-key")},
		}
	})
	url := "ws://" + h.HTTPAddr() + "/v1/runtimes/connect"
	ctx := ctxT(t)
	dial := func(key string, subs ...string) (*websocket.Conn, *http.Response, error) {
		hdr := http.Header{}
		if key != "" {
			hdr.Set("Authorization", "Bearer "+key)
		}
		return websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: hdr, Subprotocols: subs})
	}

	for _, tc := range []struct {
		name, key string
		status    int
	}{
		{"no key", "", http.StatusUnauthorized},
		{"client key", "client-key", http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, resp, err := dial(tc.key, sdk.WebSocketProto)
			if err == nil {
				c.CloseNow()
				t.Fatal("the handshake succeeded")
			}
			if resp == nil || resp.StatusCode != tc.status {
				t.Fatalf("got %v (%v), want HTTP %d", resp, err, tc.status)
			}
		})
	}

	t.Run("no subprotocol", func(t *testing.T) {
		c, _, err := dial("runtime-key")
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		_, _, err = c.Read(ctx)
		var ce websocket.CloseError
		if websocket.CloseStatus(err) != websocket.StatusPolicyViolation || !errors.As(err, &ce) || !strings.Contains(ce.Reason, "subprotocol") {
			t.Fatalf("read: %v", err)
		}
	})

	t.Run("runtime key", func(t *testing.T) {
		hdr := http.Header{}
		hdr.Set("Authorization", "Bearer runtime-key")
		startWSRuntime(t, h, "rt-key", newTools(), &websocket.DialOptions{HTTPHeader: hdr})
	})
}

// TestWebSocketRuntimeFromABrowser connects a runtime the way a browser
// page must: its key as a subprotocol (a page cannot set headers on a
// WebSocket handshake) and an Origin header, which only configured origins
// may send.
func TestWebSocketRuntimeFromABrowser(t *testing.T) {
	h, _ := startHTTPHost(t, func(c *gateway.Config) {
		fastHeartbeats(c)
		c.Keys = []auth.Key{{ID: "rt", Role: auth.RoleRuntime, Hash: auth.HashKey("runtime-key")}}
		c.HTTP.RuntimeOrigins = []string{"app.example.com"}
	})
	url := "ws://" + h.HTTPAddr() + "/v1/runtimes/connect"
	keyProtocol := server.RuntimeSubprotocolKeyPrefix + base64.RawURLEncoding.EncodeToString([]byte("runtime-key"))
	dial := func(origin string, subs ...string) (*websocket.Conn, *http.Response, error) {
		hdr := http.Header{}
		hdr.Set("Origin", origin)
		return websocket.Dial(ctxT(t), url, &websocket.DialOptions{HTTPHeader: hdr, Subprotocols: subs})
	}

	c, _, err := dial("https://app.example.com", server.RuntimeSubprotocolJSON, keyProtocol)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if c.Subprotocol() != server.RuntimeSubprotocolJSON {
		t.Fatalf("selected subprotocol %q; the key must never be echoed", c.Subprotocol())
	}
	announce := `{"announce":{"runtimeId":"browser","language":"js","protocolVersion":"1.0","capabilities":["altar_level_1","heartbeat"]}}`
	if err := c.Write(ctxT(t), websocket.MessageText, []byte(announce)); err != nil {
		t.Fatal(err)
	}
	_, data, err := c.Read(ctxT(t))
	if err != nil || !strings.Contains(string(data), `"accepted":true`) {
		t.Fatalf("announce answer %s, %v", data, err)
	}

	for _, tc := range []struct {
		name   string
		origin string
		subs   []string
		status int
	}{
		{"another origin", "https://evil.example.net", []string{server.RuntimeSubprotocolJSON, keyProtocol}, http.StatusForbidden},
		{"no key", "https://app.example.com", []string{server.RuntimeSubprotocolJSON}, http.StatusUnauthorized},
		{"wrong key", "https://app.example.com", []string{server.RuntimeSubprotocolJSON,
			server.RuntimeSubprotocolKeyPrefix + base64.RawURLEncoding.EncodeToString([]byte("nope"))}, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, resp, err := dial(tc.origin, tc.subs...)
			if err == nil {
				c.CloseNow()
				t.Fatal("the handshake succeeded")
			}
			if resp == nil || resp.StatusCode != tc.status {
				t.Fatalf("got %v (%v), want HTTP %d", resp, err, tc.status)
			}
		})
	}
}
