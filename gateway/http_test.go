package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/altar-gateway/altar/gateway"
	"github.com/altar-gateway/altar/gateway/auth"
	"github.com/altar-gateway/altar/plugins/sdk"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// startHTTPHost is startHost with the HTTP server on 127.0.0.1:0; it
// returns the Host and the HTTP base URL.
func startHTTPHost(t *testing.T, edit func(*gateway.Config)) (*testHost, string) {
	t.Helper()
	cfg := gateway.DefaultConfig()
	cfg.GRPCAddr = "127.0.0.1:0"
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.ManifestPaths = []string{"testdata/host.yaml"}
	if edit != nil {
		edit(&cfg)
	}
	h, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient(h.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		_ = h.Close(ctx)
	})
	if h.HTTPAddr() == "" {
		t.Fatal("no HTTP address")
	}
	return &testHost{Host: h, client: altarv1.NewHostServiceClient(cc)}, "http://" + h.HTTPAddr()
}

type httpReply struct {
	status int
	body   string
	err    struct {
		Code        string `json:"code"`
		Message     string `json:"message"`
		FieldErrors []struct {
			Path, Rule, Message string
		} `json:"fieldErrors"`
	}
}

func httpDo(t *testing.T, method, url, ctype, body string, hdr ...string) httpReply {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := httpReply{status: resp.StatusCode, body: string(b)}
	if resp.StatusCode >= 400 {
		var e struct {
			Error json.RawMessage `json:"error"`
		}
		if json.Unmarshal(b, &e) != nil || json.Unmarshal(e.Error, &r.err) != nil {
			t.Fatalf("%s %s: %d with no error body: %s", method, url, resp.StatusCode, b)
		}
	}
	return r
}

func TestHTTPCallStreamAndBadRequests(t *testing.T) {
	h, base := startHTTPHost(t, func(c *gateway.Config) { c.HTTP.MaxBodyBytes = 4096 })
	tl := newTools()
	startRuntime(t, h, "rt-a", tl, sdk.WithCapabilities(altarv1.CapabilityStreaming, altarv1.CapabilityCancellation))

	for _, p := range []string{"/healthz", "/readyz"} {
		if r := httpDo(t, "GET", base+p, "", ""); r.status != 200 {
			t.Fatalf("%s = %d %s", p, r.status, r.body)
		}
	}

	r := httpDo(t, "POST", base+"/v1/sessions", "application/json", `{"ttl":"60s"}`)
	var sess struct {
		Session struct {
			SessionID string `json:"sessionId"`
		} `json:"session"`
	}
	if r.status != 200 || json.Unmarshal([]byte(r.body), &sess) != nil || sess.Session.SessionID == "" {
		t.Fatalf("create session: %d %s", r.status, r.body)
	}
	sid := sess.Session.SessionID
	if r := httpDo(t, "GET", base+"/v1/tools?session_id="+sid, "", ""); r.status != 200 || !strings.Contains(r.body, `"ticks"`) {
		t.Fatalf("list tools: %d %s", r.status, r.body)
	}
	if r := httpDo(t, "GET", base+"/v1/tools/rt-a%2Fecho", "", ""); r.status != 200 || !strings.Contains(r.body, `"name":"echo"`) {
		t.Fatalf("get contract: %d %s", r.status, r.body)
	}

	t.Run("invoke", func(t *testing.T) {
		for _, name := range []string{"echo", "rt-a%2Fecho"} {
			r := httpDo(t, "POST", base+"/v1/tools/"+name+"/invoke", "application/json",
				`{"sessionId":"`+sid+`","parameters":{"message":"hi","n":9007199254740993},"timeout":"5s"}`)
			var out struct {
				Result struct {
					Status    string `json:"status"`
					RuntimeID string `json:"runtimeId"`
					Payload   struct {
						StringValue string `json:"stringValue"`
					} `json:"payload"`
				} `json:"result"`
				Payload json.RawMessage `json:"payload"`
			}
			if r.status != 200 || json.Unmarshal([]byte(r.body), &out) != nil {
				t.Fatalf("%s: %d %s", name, r.status, r.body)
			}
			if out.Result.Status != "TOOL_RESULT_STATUS_SUCCESS" || out.Result.RuntimeID != "rt-a" ||
				out.Result.Payload.StringValue != "hi 9007199254740993" || string(out.Payload) != `"hi 9007199254740993"` {
				t.Fatalf("%s: %s", name, r.body)
			}
		}
	})

	t.Run("SSE", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(ctxT(t), "POST", base+"/v1/tools/ticks/stream", strings.NewReader(`{"parameters":{"n":5}}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		var got []int64
		final := false
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line := sc.Text()
			if line == "event: error" {
				t.Fatal("error event")
			}
			data, ok := strings.CutPrefix(line, "data: ")
			if !ok {
				continue
			}
			var ev struct {
				Chunk struct {
					IsFinal bool `json:"isFinal"`
				} `json:"chunk"`
				Payload *int64 `json:"payload"`
			}
			if err := json.Unmarshal([]byte(data), &ev); err != nil {
				t.Fatalf("%v: %s", err, data)
			}
			if ev.Payload != nil {
				got = append(got, *ev.Payload)
			}
			final = ev.Chunk.IsFinal
		}
		if len(got) != 5 || got[4] != 5 || !final {
			t.Fatalf("payloads %v, final %v", got, final)
		}
	})

	t.Run("WebSocket", func(t *testing.T) {
		ctx := ctxT(t)
		c, _, err := websocket.Dial(ctx, "ws://"+h.HTTPAddr()+"/v1/tools/ticks/ws", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		if err := c.Write(ctx, websocket.MessageText, []byte(`{"parameters":{"n":3}}`)); err != nil {
			t.Fatal(err)
		}
		var got []int64
		for {
			_, msg, err := c.Read(ctx)
			if websocket.CloseStatus(err) == websocket.StatusNormalClosure {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			var ev struct {
				Payload *int64 `json:"payload"`
			}
			if err := json.Unmarshal(msg, &ev); err != nil {
				t.Fatalf("%v: %s", err, msg)
			}
			if ev.Payload != nil {
				got = append(got, *ev.Payload)
			}
		}
		if len(got) != 3 || got[2] != 3 {
			t.Fatalf("payloads %v", got)
		}
	})

	for _, tc := range []struct {
		name, method, path, ctype, body string
		status                          int
		code, fieldPath                 string
	}{
		{"malformed JSON", "POST", "/v1/tools/echo/invoke", "application/json", `{"parameters":`, 400, "INVALID_REQUEST", ""},
		{"wrong content type", "POST", "/v1/tools/echo/invoke", "text/plain", `{}`, 415, "INVALID_REQUEST", ""},
		{"unknown field", "POST", "/v1/tools/echo/invoke", "application/json", `{"args":{}}`, 400, "INVALID_REQUEST", "/args"},
		{"oversize body", "POST", "/v1/tools/echo/invoke", "application/json", `{"parameters":{"message":"` + strings.Repeat("x", 5000) + `"}}`, 413, "PAYLOAD_TOO_LARGE", ""},
		{"unknown tool", "POST", "/v1/tools/nope/invoke", "application/json", `{}`, 404, "TOOL_NOT_FOUND", ""},
		{"invalid arguments", "POST", "/v1/tools/echo/invoke", "application/json", `{"parameters":{"message":"hi","n":"x"}}`, 400, "INVALID_ARGUMENTS", "/n"},
		{"unknown session", "GET", "/v1/sessions/nope", "", "", 404, "SESSION_NOT_FOUND", ""},
		{"unknown route", "GET", "/v1/nope", "", "", 404, "NOT_FOUND", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httpDo(t, tc.method, base+tc.path, tc.ctype, tc.body)
			if r.status != tc.status || r.err.Code != tc.code {
				t.Fatalf("got %d %s, want %d %s: %s", r.status, r.err.Code, tc.status, tc.code, r.body)
			}
			if tc.fieldPath != "" && (len(r.err.FieldErrors) == 0 || r.err.FieldErrors[0].Path != tc.fieldPath) {
				t.Fatalf("field errors: %s", r.body)
			}
		})
	}
	if tl.echoCalls.Load() != 2 {
		t.Fatalf("echo ran %d times, want 2 (no bad request may reach the runtime)", tl.echoCalls.Load())
	}
}

func TestHTTPKeysByRole(t *testing.T) {
	_, base := startHTTPHost(t, func(c *gateway.Config) {
		c.Keys = []auth.Key{
			{ID: "app", Role: auth.RoleClient, Hash: auth.HashKey("client-key")},
			{ID: "rt", Role: auth.RoleRuntime, Hash: auth.HashKey("runtime-key")},
			{ID: "ops", Role: auth.RoleAdmin, Hash: auth.HashKey("admin-key")},
		}
	})
	for _, tc := range []struct {
		name, method, path, key, body string
		status                        int
		code                          string
	}{
		{"missing key", "GET", "/v1/tools", "", "", 401, "UNAUTHENTICATED"},
		{"wrong key", "GET", "/v1/tools", "Bearer wrong", "", 401, "UNAUTHENTICATED"},
		{"client key", "GET", "/v1/tools", "Bearer client-key", "", 200, ""},
		{"runtime key on the client API", "GET", "/v1/tools", "Bearer runtime-key", "", 403, "PERMISSION_DENIED"},
		{"runtime key on admin", "PUT", "/v1/admin/mode", "Bearer runtime-key", `{"mode":"HOST_MODE_STRICT"}`, 403, "PERMISSION_DENIED"},
		{"client key on admin", "PUT", "/v1/admin/mode", "Bearer client-key", `{"mode":"HOST_MODE_STRICT"}`, 403, "PERMISSION_DENIED"},
		{"client key on runtimes", "GET", "/v1/runtimes", "Bearer client-key", "", 403, "PERMISSION_DENIED"},
		{"admin key on admin", "PUT", "/v1/admin/mode", "Bearer admin-key", `{"mode":"HOST_MODE_STRICT"}`, 200, ""},
		{"admin reload", "POST", "/v1/admin/manifests/reload", "Bearer admin-key", "", 200, ""},
		{"healthz with no key", "GET", "/healthz", "", "", 200, ""},
		{"readyz with no key", "GET", "/readyz", "", "", 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.key != "" {
				hdr = []string{"Authorization", tc.key}
			}
			r := httpDo(t, tc.method, base+tc.path, "application/json", tc.body, hdr...)
			if r.status != tc.status || r.err.Code != tc.code {
				t.Fatalf("got %d %s, want %d %s: %s", r.status, r.err.Code, tc.status, tc.code, r.body)
			}
		})
	}
}

func TestHTTPConfig(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"", true}, {"off", true}, {"127.0.0.1:0", true}, {"localhost:8080", true},
		{"0.0.0.0:8080", false}, {"nonsense", false},
	} {
		cfg := gateway.DefaultConfig()
		cfg.HTTPAddr = tc.addr
		if err := cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("HTTPAddr %q: Validate = %v", tc.addr, err)
		}
	}
	cfg := gateway.DefaultConfig()
	cfg.HTTPAddr = "0.0.0.0:0"
	cfg.Keys = []auth.Key{{ID: "ops", Role: auth.RoleAdmin, Hash: auth.HashKey("k")}}
	if err := cfg.Validate(); err != nil {
		t.Errorf("with keys any address may be used: %v", err)
	}

	h, err := gateway.New(gateway.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "off"})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = h.Close(context.Background()) }()
	if h.HTTPAddr() != "" {
		t.Fatalf("HTTP is off but listens on %s", h.HTTPAddr())
	}
}

// TestHTTPDisconnectCancels: a client that goes away, from a unary call or
// a stream, cancels the invocation at the runtime.
func TestHTTPDisconnectCancels(t *testing.T) {
	h, base := startHTTPHost(t, nil)
	tl := newTools()
	startRuntime(t, h, "rt-a", tl, sdk.WithCapabilities(altarv1.CapabilityStreaming, altarv1.CapabilityCancellation))
	t.Run("stream", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctxT(t))
		req, _ := http.NewRequestWithContext(ctx, "POST", base+"/v1/tools/ticks/stream",
			strings.NewReader(`{"parameters":{"n":100000},"invocationId":"inv-sse-gone"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		// Read one event, then go away with the rest unread.
		if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		cancel()
		_ = resp.Body.Close()
		waitUntil(t, func() bool {
			inv, err := h.client.GetInvocation(ctxT(t), &altarv1.GetInvocationRequest{InvocationId: "inv-sse-gone"})
			return err == nil && inv.GetInvocation().GetState() == altarv1.InvocationState_INVOCATION_STATE_CANCELLED
		})
	})
	t.Run("invoke", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctxT(t))
		req, _ := http.NewRequestWithContext(ctx, "POST", base+"/v1/tools/block/invoke", strings.NewReader(`{"parameters":{"tag":"invoke"}}`))
		req.Header.Set("Content-Type", "application/json")
		done := make(chan error, 1)
		go func() {
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
			done <- err
		}()
		select {
		case got := <-tl.started:
			if got != "rt-a:invoke" {
				t.Fatalf("started %q", got)
			}
		case err := <-done:
			t.Fatalf("the call ended before it started: %v", err)
		}
		cancel()
		if got := <-tl.cancelled; got != "rt-a:invoke" {
			t.Fatalf("cancelled %q", got)
		}
		<-done
	})
}

// TestHTTPCloseLetsCallsFinish: Close stops taking HTTP calls but lets the
// one in flight answer.
func TestHTTPCloseLetsCallsFinish(t *testing.T) {
	h, base := startHTTPHost(t, nil)
	tl := newTools()
	startRuntime(t, h, "rt-a", tl)
	done := make(chan string, 1)
	go func() {
		// Not httpDo: t.Fatal belongs to the test's goroutine.
		resp, err := http.Post(base+"/v1/tools/block_idem/invoke", "application/json", strings.NewReader(`{"parameters":{"tag":"close"}}`))
		if err != nil {
			done <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		done <- resp.Status + " " + string(b)
	}()
	<-tl.started
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		_ = h.Close(ctxT(t))
	}()
	waitUntil(t, func() bool {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			_ = resp.Body.Close()
		}
		return err != nil // no longer accepting
	})
	close(tl.release)
	if r := <-done; !strings.HasPrefix(r, "200 ") || !strings.Contains(r, "released by rt-a") {
		t.Fatalf("in-flight call: %s", r)
	}
	<-closed
}
