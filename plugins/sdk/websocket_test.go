package sdk_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/altar-gateway/altar/gateway"
	"github.com/altar-gateway/altar/plugins/sdk"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// startWSHost is a real Host in DEVELOPMENT mode with HTTP on loopback; it
// returns the URL of its runtime WebSocket.
func startWSHost(t *testing.T) (*gateway.Host, string) {
	t.Helper()
	cfg := gateway.DefaultConfig()
	cfg.GRPCAddr, cfg.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Mode = altarv1.HostMode_HOST_MODE_DEVELOPMENT
	cfg.Runtimes.HeartbeatInterval, cfg.Runtimes.HeartbeatTimeout = 200*time.Millisecond, 2*time.Second
	h, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		_ = h.Close(ctx)
	})
	return h, "ws://" + h.HTTPAddr() + "/v1/runtimes/connect"
}

func TestWebSocketServeInvokeAndShutdown(t *testing.T) {
	for _, sub := range []string{sdk.WebSocketProto, sdk.WebSocketJSON} {
		t.Run(sub, func(t *testing.T) {
			h, url := startWSHost(t)
			rt, err := sdk.New("ws-rt", []sdk.Tool{addTool()}, sdk.WithLogger(testLogger(t)), sdk.WithDevelopmentMode(),
				sdk.WithWebSocketDialOptions(&websocket.DialOptions{Subprotocols: []string{sub}}))
			if err != nil {
				t.Fatal(err)
			}
			errc := make(chan error, 1)
			go func() { errc <- rt.Serve(context.Background(), url) }()
			fulfilled := func() bool {
				f := rt.Status().Fulfilment
				return f != nil && len(f.Accepted) == 1
			}
			deadline := time.Now().Add(testTimeout)
			for !fulfilled() {
				if time.Now().After(deadline) {
					t.Fatal("the Host did not accept the tool")
				}
				time.Sleep(2 * time.Millisecond)
			}
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			conn, err := h.Runtimes().Get("ws-rt")
			if err != nil || conn.Transport() != "websocket" {
				t.Fatalf("runtime %v: %v", conn, err)
			}
			res, err := conn.Invoke(ctx, &altarv1.ToolCall{InvocationId: "inv-1", ToolName: "add", Parameters: args("a", 2, "b", 3)})
			if err != nil {
				t.Fatal(err)
			}
			wantPayload(t, res, &altarv1.Value{Kind: &altarv1.Value_IntValue{IntValue: 5}})

			// A graceful shutdown closes the socket; Serve returns nil.
			if err := rt.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			if err := <-errc; err != nil {
				t.Fatalf("Serve: %v", err)
			}
			select {
			case <-conn.Done():
			case <-ctx.Done():
				t.Fatal("the Host kept the connection")
			}
		})
	}
}

func TestWebSocketSubprotocolNotChosen(t *testing.T) {
	// A server that accepts without a subprotocol: the SDK must not guess.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		_, _, _ = c.Read(r.Context())
		c.CloseNow()
	}))
	defer srv.Close()
	rt, err := sdk.New("ws-rt", []sdk.Tool{addTool()}, sdk.WithLogger(testLogger(t)), sdk.WithReconnect(time.Millisecond, 5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- rt.Serve(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")) }()
	deadline := time.Now().Add(testTimeout)
	for {
		if err := rt.Status().LastError; err != nil {
			if !strings.Contains(err.Error(), "subprotocol") {
				t.Fatalf("last error: %v", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no connection attempt failed")
		}
		time.Sleep(2 * time.Millisecond)
	}
	cancel()
	if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Serve: %v", err)
	}
}
