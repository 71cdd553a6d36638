package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/auth"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

const testTimeout = 10 * time.Second

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// serve starts the handler on 127.0.0.1:0.
func serve(t *testing.T, api API, keys *auth.KeySet, opts ...HTTPOption) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(NewHTTP(api, keys, opts...))
	t.Cleanup(srv.Close)
	return srv
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, method, url, ctype string, body io.Reader, hdr ...string) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), method, url, body)
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
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

type errorReply struct {
	Error httpError `json:"error"`
}

func decodeError(t *testing.T, r reply) httpError {
	t.Helper()
	var e errorReply
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Code == "" {
		t.Fatalf("not an error body (%v): %s", err, r.body)
	}
	return e.Error
}

// echoTool is a fake Invoke that answers with the parameters as an object.
func echoTool(_ context.Context, r *altarv1.InvokeRequest) (*altarv1.InvokeResponse, error) {
	if r.GetToolName() != "echo" && r.GetToolName() != "rt-a/echo" {
		return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_TOOL_NOT_FOUND, "no tool %q", r.GetToolName())
	}
	if v, ok := r.GetParameters()["n"]; ok && v.GetStringValue() != "" {
		return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENTS, "invalid arguments").
			WithField("/n", "type", "expected integer, got string")
	}
	return &altarv1.InvokeResponse{Result: &altarv1.ToolResult{
		InvocationId: r.GetInvocationId(), CorrelationId: "corr-1",
		Status:  altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS,
		Payload: schema.Object(r.GetParameters()),
	}}, nil
}

func TestHTTPInvokeNaturalAndCanonicalJSON(t *testing.T) {
	var got *altarv1.InvokeRequest
	api := &fakeAPI{invoke: func(ctx context.Context, r *altarv1.InvokeRequest) (*altarv1.InvokeResponse, error) {
		got = r
		return echoTool(ctx, r)
	}}
	srv := serve(t, api, nil)
	body := `{"session_id":"s1","parameters":{"big":9007199254740993,"ratio":3.0,"nested":{"a":[1,"x",null]}},
		"invocationId":"inv-1","timeout":"1.5s","metadata":{"k":"v"},"coerce":true}`
	r := do(t, "POST", srv.URL+"/v1/tools/rt-a%2Fecho/invoke", "application/json; charset=utf-8", strings.NewReader(body))
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if got.GetToolName() != "rt-a/echo" || got.GetSessionId() != "s1" || got.GetInvocationId() != "inv-1" ||
		got.GetTimeout().AsDuration() != 1500*time.Millisecond || got.GetMetadata()["k"] != "v" || !got.GetCoerce() {
		t.Fatalf("request = %v", got)
	}
	if got.GetParameters()["big"].GetIntValue() != 9007199254740993 {
		t.Fatalf("int64 not exact: %v", got.GetParameters()["big"])
	}
	if _, ok := got.GetParameters()["ratio"].GetKind().(*altarv1.Value_DoubleValue); !ok {
		t.Fatalf("3.0 is not a double: %v", got.GetParameters()["ratio"])
	}
	want := `{"result":{"invocationId":"inv-1","correlationId":"corr-1","status":"TOOL_RESULT_STATUS_SUCCESS",` +
		`"payload":{"objectValue":{"fields":{`
	if !strings.HasPrefix(compact(t, r.body), want) {
		t.Fatalf("canonical result: %s", r.body)
	}
	var out struct {
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	if natural := compact(t, out.Payload); natural != `{"big":9007199254740993,"nested":{"a":[1,"x",null]},"ratio":3.0}` {
		t.Fatalf("natural payload = %s", natural)
	}
}

func compact(t *testing.T, b []byte) string {
	t.Helper()
	return regexp.MustCompile(`\s+`).ReplaceAllString(string(b), "")
}

func TestHTTPBadRequests(t *testing.T) {
	api := &fakeAPI{
		invoke: echoTool,
		createSession: func(context.Context, *altarv1.CreateSessionRequest) (*altarv1.CreateSessionResponse, error) {
			return &altarv1.CreateSessionResponse{Session: &altarv1.Session{SessionId: "s1"}}, nil
		},
	}
	srv := serve(t, api, nil, WithHTTPMaxBodyBytes(1024))
	big := `{"parameters":{"s":"` + strings.Repeat("x", 2000) + `"}}`
	for _, tc := range []struct {
		name, method, path, ctype string
		body                      io.Reader
		status                    int
		code                      string
		message                   string // a substring of the message
		fieldPath                 string
	}{
		{"malformed JSON", "POST", "/v1/tools/echo/invoke", "application/json", strings.NewReader(`{"parameters": {]}`), 400, "INVALID_REQUEST", "offset", ""},
		{"malformed parameters", "POST", "/v1/tools/echo/invoke", "application/json", strings.NewReader(`{"parameters": [1]}`), 400, "INVALID_REQUEST", "offset", ""},
		{"malformed canonical JSON", "POST", "/v1/sessions", "application/json", strings.NewReader(`{"ttl": `), 400, "INVALID_REQUEST", "CreateSessionRequest", ""},
		{"wrong content type", "POST", "/v1/tools/echo/invoke", "text/plain", strings.NewReader(`{}`), 415, "INVALID_REQUEST", "application/json", ""},
		{"no content type", "POST", "/v1/sessions", "", strings.NewReader(`{}`), 415, "INVALID_REQUEST", "application/json", ""},
		{"unknown invoke field", "POST", "/v1/tools/echo/invoke", "application/json", strings.NewReader(`{"params":{}}`), 400, "INVALID_REQUEST", `"params"`, "/params"},
		{"unknown canonical field", "POST", "/v1/sessions", "application/json", strings.NewReader(`{"tll":"5s"}`), 400, "INVALID_REQUEST", `tll`, ""},
		{"field spelled twice", "POST", "/v1/tools/echo/invoke", "application/json", strings.NewReader(`{"sessionId":"a","session_id":"b"}`), 400, "INVALID_REQUEST", "both", "/session_id"},
		{"parameters not an object", "POST", "/v1/tools/echo/invoke", "application/json", strings.NewReader(`{"parameters":"x"}`), 400, "INVALID_REQUEST", "parameters", ""},
		{"body not an object", "POST", "/v1/tools/echo/invoke", "application/json", strings.NewReader(`[1]`), 400, "INVALID_REQUEST", "JSON object", ""},
		{"trailing garbage", "POST", "/v1/tools/echo/invoke", "application/json", strings.NewReader(`{} x`), 400, "INVALID_REQUEST", "offset", ""},
		{"bad timeout", "POST", "/v1/tools/echo/invoke", "application/json", strings.NewReader(`{"timeout":"soon"}`), 400, "INVALID_REQUEST", "duration", "/timeout"},
		{"int64 overflow", "POST", "/v1/tools/echo/invoke", "application/json", strings.NewReader(`{"parameters":{"n":9223372036854775808}}`), 400, "INVALID_ARGUMENTS", "", "/n"},
		{"oversize body", "POST", "/v1/tools/echo/invoke", "application/json", strings.NewReader(big), 413, "PAYLOAD_TOO_LARGE", "1024", ""},
		// io.MultiReader hides the length: the body is sent chunked and the
		// limit is enforced while it is read.
		{"oversize chunked body", "POST", "/v1/tools/echo/invoke", "application/json", io.MultiReader(strings.NewReader(big)), 413, "PAYLOAD_TOO_LARGE", "1024", ""},
		{"unknown tool", "POST", "/v1/tools/nope/invoke", "application/json", strings.NewReader(`{}`), 404, "TOOL_NOT_FOUND", "nope", ""},
		{"invalid arguments", "POST", "/v1/tools/echo/invoke", "application/json", strings.NewReader(`{"parameters":{"n":"x"}}`), 400, "INVALID_ARGUMENTS", "", "/n"},
		{"unknown route", "GET", "/v1/nothing", "", nil, 404, "NOT_FOUND", "/v1/nothing", ""},
		{"wrong method", "DELETE", "/v1/tools", "", nil, 405, "INVALID_REQUEST", "DELETE", ""},
		{"bad page size", "GET", "/v1/tools?page_size=-1", "", nil, 400, "INVALID_REQUEST", "page_size", "page_size"},
		{"unimplemented", "GET", "/v1/stats", "", nil, 501, "UNIMPLEMENTED", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, tc.method, srv.URL+tc.path, tc.ctype, tc.body)
			e := decodeError(t, r)
			if r.status != tc.status || e.Code != tc.code || !strings.Contains(e.Message, tc.message) {
				t.Fatalf("got %d %s %q, want %d %s containing %q", r.status, e.Code, e.Message, tc.status, tc.code, tc.message)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("content type %q", ct)
			}
			if tc.fieldPath != "" && (len(e.FieldErrors) == 0 || e.FieldErrors[0].Path != tc.fieldPath) {
				t.Fatalf("field errors %+v, want path %q", e.FieldErrors, tc.fieldPath)
			}
		})
	}
}

func TestHTTPAuth(t *testing.T) {
	keys, err := auth.NewKeySet([]auth.Key{
		{ID: "app", Role: auth.RoleClient, Hash: auth.HashKey("client-key")},
		{ID: "rt", Role: auth.RoleRuntime, Hash: auth.HashKey("runtime-key")},
		{ID: "ops", Role: auth.RoleAdmin, Hash: auth.HashKey("admin-key")},
	})
	if err != nil {
		t.Fatal(err)
	}
	var seen auth.Principal
	api := &fakeAPI{
		reloadManifest: func(ctx context.Context, _ *altarv1.ReloadManifestsRequest) (*altarv1.ReloadManifestsResponse, error) {
			seen, _ = auth.FromContext(ctx)
			return &altarv1.ReloadManifestsResponse{}, nil
		},
		listTools: func(ctx context.Context, _ *altarv1.ListToolsRequest) (*altarv1.ListToolsResponse, error) {
			seen, _ = auth.FromContext(ctx)
			return &altarv1.ListToolsResponse{}, nil
		},
	}
	srv := serve(t, api, keys)
	for _, tc := range []struct {
		name, method, path string
		hdr                []string
		status             int
		code               string
		role               auth.Role
	}{
		{"missing key", "GET", "/v1/tools", nil, 401, "UNAUTHENTICATED", ""},
		{"wrong key", "GET", "/v1/tools", []string{"Authorization", "Bearer nope"}, 401, "UNAUTHENTICATED", ""},
		{"client key", "GET", "/v1/tools", []string{"Authorization", "Bearer client-key"}, 200, "", auth.RoleClient},
		{"X-API-Key", "GET", "/v1/tools", []string{"X-API-Key", "client-key"}, 200, "", auth.RoleClient},
		{"runtime key on the client API", "GET", "/v1/tools", []string{"Authorization", "Bearer runtime-key"}, 403, "PERMISSION_DENIED", ""},
		{"client key on admin", "POST", "/v1/admin/manifests/reload", []string{"Authorization", "Bearer client-key"}, 403, "PERMISSION_DENIED", ""},
		{"runtime key on admin", "POST", "/v1/admin/manifests/reload", []string{"Authorization", "Bearer runtime-key"}, 403, "PERMISSION_DENIED", ""},
		{"admin key on admin", "POST", "/v1/admin/manifests/reload", []string{"Authorization", "Bearer admin-key"}, 200, "", auth.RoleAdmin},
		{"healthz needs no key", "GET", "/healthz", nil, 200, "", ""},
		{"readyz needs no key", "GET", "/readyz", nil, 200, "", ""},
		{"openapi needs no key", "GET", "/v1/openapi.json", nil, 200, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen = auth.Principal{}
			r := do(t, tc.method, srv.URL+tc.path, "", nil, tc.hdr...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.code != "" {
				e := decodeError(t, r)
				if e.Code != tc.code {
					t.Fatalf("code %s, want %s", e.Code, tc.code)
				}
				if tc.status == 401 && e.Message != "missing or invalid credential" {
					t.Fatalf("401 gives a hint: %q", e.Message)
				}
				if tc.status == 401 && r.header.Get("WWW-Authenticate") == "" {
					t.Fatal("401 without WWW-Authenticate")
				}
			}
			if seen.Role != tc.role {
				t.Fatalf("principal %+v, want role %q", seen, tc.role)
			}
		})
	}
}

func TestHTTPAnonymousWithoutKeys(t *testing.T) {
	var seen auth.Principal
	api := &fakeAPI{listTools: func(ctx context.Context, _ *altarv1.ListToolsRequest) (*altarv1.ListToolsResponse, error) {
		seen, _ = auth.FromContext(ctx)
		return &altarv1.ListToolsResponse{}, nil
	}}
	srv := serve(t, api, nil)
	if r := do(t, "GET", srv.URL+"/v1/tools", "", nil); r.status != 200 || seen != auth.Anonymous {
		t.Fatalf("status %d, principal %+v", r.status, seen)
	}
}

func TestHTTPReadyz(t *testing.T) {
	var notReady error = errors.New("manifests not loaded")
	srv := serve(t, &fakeAPI{}, nil, WithReadiness(func(context.Context) error { return notReady }))
	r := do(t, "GET", srv.URL+"/readyz", "", nil)
	if r.status != 503 || !strings.Contains(string(r.body), "manifests not loaded") {
		t.Fatalf("readyz = %d %s", r.status, r.body)
	}
	if r := do(t, "GET", srv.URL+"/healthz", "", nil); r.status != 200 {
		t.Fatalf("healthz = %d", r.status)
	}
	notReady = nil
	if r := do(t, "GET", srv.URL+"/readyz", "", nil); r.status != 200 {
		t.Fatalf("readyz = %d %s", r.status, r.body)
	}
}

func TestHTTPCanonicalResponses(t *testing.T) {
	var got *altarv1.GetContractRequest
	api := &fakeAPI{getContract: func(_ context.Context, r *altarv1.GetContractRequest) (*altarv1.GetContractResponse, error) {
		got = r
		return &altarv1.GetContractResponse{Tool: &altarv1.ToolInfo{Names: []string{"rt-a/echo"}, Available: true}}, nil
	}}
	srv := serve(t, api, nil)
	r := do(t, "GET", srv.URL+"/v1/tools/rt-a%2Fecho?session_id=s1&version=1.0.0", "", nil)
	if r.status != 200 || compact(t, r.body) != `{"tool":{"names":["rt-a/echo"],"available":true}}` {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if got.GetToolName() != "rt-a/echo" || got.GetSessionId() != "s1" || got.GetVersion() != "1.0.0" {
		t.Fatalf("request %v", got)
	}
	if r := do(t, "GET", srv.URL+"/v1/host", "", nil); r.status != 200 || compact(t, r.body) != `{"hostId":"fake"}` {
		t.Fatalf("%d %s", r.status, r.body)
	}
}

// ticks is a fake stream: n chunks 1..n, the last final; with block it
// then waits for ctx and reports the cancellation.
func ticks(n int, block bool, cancelled chan<- error) func(context.Context, *altarv1.InvokeRequest, func(*altarv1.StreamChunk) error) error {
	return func(ctx context.Context, r *altarv1.InvokeRequest, send func(*altarv1.StreamChunk) error) error {
		if r.GetToolName() != "ticks" {
			return altarerr.New(altarv1.ErrorCode_ERROR_CODE_TOOL_NOT_FOUND, "no tool %q", r.GetToolName())
		}
		for i := 1; i <= n; i++ {
			ch := &altarv1.StreamChunk{InvocationId: "inv", ChunkId: uint64(i), Payload: schema.Int(int64(i)), IsFinal: i == n && !block}
			if err := send(ch); err != nil {
				return err
			}
		}
		if block {
			<-ctx.Done()
			cancelled <- ctx.Err()
			return ctx.Err()
		}
		return nil
	}
}

type sseEvent struct{ event, data string }

func readSSE(t *testing.T, body io.Reader, n int) []sseEvent {
	t.Helper()
	sc := bufio.NewScanner(body)
	var out []sseEvent
	var cur sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			cur.event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.data = strings.TrimPrefix(line, "data: ")
		case line == "":
			out = append(out, cur)
			cur = sseEvent{}
			if n > 0 && len(out) == n {
				return out
			}
		}
	}
	return out
}

func TestHTTPStreamSSE(t *testing.T) {
	srv := serve(t, &fakeAPI{invokeStream: ticks(3, false, nil)}, nil)
	for _, method := range []string{"POST", "GET"} {
		t.Run(method, func(t *testing.T) {
			var body io.Reader
			url := srv.URL + "/v1/tools/ticks/stream"
			if method == "POST" {
				body = strings.NewReader(`{"parameters":{"n":3}}`)
			} else {
				url += "?parameters=%7B%22n%22%3A3%7D&timeout=5s"
			}
			req, _ := http.NewRequestWithContext(ctxT(t), method, url, body)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
				t.Fatalf("status %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			events := readSSE(t, resp.Body, 0) // to EOF: the server ends the stream
			if len(events) != 3 {
				t.Fatalf("events %v", events)
			}
			for i, ev := range events {
				if ev.event != "chunk" || !strings.Contains(ev.data, `"payload":`+string(rune('1'+i))+`}`) {
					t.Fatalf("event %d = %+v", i, ev)
				}
			}
			if !strings.Contains(events[2].data, `"isFinal":true`) {
				t.Fatalf("last event not final: %s", events[2].data)
			}
		})
	}
	r := do(t, "POST", srv.URL+"/v1/tools/nope/stream", "application/json", strings.NewReader(`{}`))
	if e := decodeError(t, r); r.status != 404 || e.Code != "TOOL_NOT_FOUND" {
		t.Fatalf("%d %+v", r.status, e)
	}
}

func TestHTTPStreamSSEDisconnectCancels(t *testing.T) {
	cancelled := make(chan error, 1)
	srv := serve(t, &fakeAPI{invokeStream: ticks(1, true, cancelled)}, nil)
	ctx, cancel := context.WithCancel(ctxT(t))
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v1/tools/ticks/stream", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if ev := readSSE(t, resp.Body, 1); len(ev) != 1 {
		t.Fatalf("events %v", ev)
	}
	cancel()
	_ = resp.Body.Close()
	select {
	case err := <-cancelled:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("ctx err %v", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("disconnect did not cancel the invocation")
	}
}

func TestHTTPStreamWebSocket(t *testing.T) {
	cancelled := make(chan error, 1)
	api := &fakeAPI{invokeStream: func(ctx context.Context, r *altarv1.InvokeRequest, send func(*altarv1.StreamChunk) error) error {
		if r.GetParameters()["block"].GetBoolValue() {
			return ticks(1, true, cancelled)(ctx, r, send)
		}
		return ticks(3, false, nil)(ctx, r, send)
	}}
	srv := serve(t, api, nil)
	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/tools/ticks/ws"

	t.Run("chunks then normal close", func(t *testing.T) {
		ctx := ctxT(t)
		c, _, err := websocket.Dial(ctx, wsURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		if err := c.Write(ctx, websocket.MessageText, []byte(`{"parameters":{"n":3}}`)); err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 3; i++ {
			_, msg, err := c.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(msg), `"payload":`+string(rune('0'+i))+`}`) {
				t.Fatalf("message %d = %s", i, msg)
			}
		}
		if _, _, err := c.Read(ctx); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
			t.Fatalf("after the final chunk: %v", err)
		}
	})
	t.Run("error message", func(t *testing.T) {
		ctx := ctxT(t)
		c, _, err := websocket.Dial(ctx, wsURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		_ = c.Write(ctx, websocket.MessageText, []byte(`{"bogus":1}`))
		_, msg, err := c.Read(ctx)
		if err != nil || !strings.Contains(string(msg), `"code":"INVALID_REQUEST"`) {
			t.Fatalf("%v %s", err, msg)
		}
		if _, _, err := c.Read(ctx); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
			t.Fatalf("after the error: %v", err)
		}
	})
	t.Run("message too big", func(t *testing.T) {
		ctx := ctxT(t)
		small := serve(t, api, nil, WithHTTPMaxBodyBytes(64))
		c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(small.URL, "http")+"/v1/tools/ticks/ws", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		_ = c.Write(ctx, websocket.MessageText, []byte(`{"parameters":{"s":"`+strings.Repeat("x", 100)+`"}}`))
		if _, _, err := c.Read(ctx); websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
			t.Fatalf("oversize message: %v", err)
		}
	})
	t.Run("disconnect cancels", func(t *testing.T) {
		ctx := ctxT(t)
		c, _, err := websocket.Dial(ctx, wsURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.Write(ctx, websocket.MessageText, []byte(`{"parameters":{"block":true}}`))
		if _, _, err := c.Read(ctx); err != nil {
			t.Fatal(err)
		}
		_ = c.CloseNow()
		select {
		case err := <-cancelled:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("ctx err %v", err)
			}
		case <-time.After(testTimeout):
			t.Fatal("disconnect did not cancel the invocation")
		}
	})
}

// TestHTTPRoutesMatchOpenAPI keeps the OpenAPI document and the routes
// from drifting: every registered route is documented and every
// documented operation is registered.
func TestHTTPRoutesMatchOpenAPI(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") || len(doc.Paths) == 0 {
		t.Fatalf("not an OpenAPI 3 document: openapi=%q, %d paths", doc.OpenAPI, len(doc.Paths))
	}
	param := regexp.MustCompile(`:([A-Za-z_]+)`)
	var registered []string
	for _, r := range newEcho(&fakeAPI{}, nil).Routes() {
		if strings.HasPrefix(r.Method, "echo_route") || r.Method == "echo_route_any" {
			continue
		}
		registered = append(registered, strings.ToLower(r.Method)+" "+param.ReplaceAllString(r.Path, "{$1}"))
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			if method != "parameters" {
				documented = append(documented, method+" "+path)
			}
		}
	}
	slices.Sort(registered)
	slices.Sort(documented)
	registered = slices.Compact(registered)
	if !slices.Equal(registered, documented) {
		for _, r := range registered {
			if !slices.Contains(documented, r) {
				t.Errorf("route %s is not in openapi.json", r)
			}
		}
		for _, d := range documented {
			if !slices.Contains(registered, d) {
				t.Errorf("openapi.json documents %s, which is not registered", d)
			}
		}
	}
	r := do(t, "GET", serve(t, &fakeAPI{}, nil).URL+"/v1/openapi.json", "", nil)
	if r.status != 200 || string(r.body) != string(openAPIDocument) {
		t.Fatalf("served document: %d", r.status)
	}
}

// TestHTTPDeadlines: the read deadline bounds reading the request only, so
// a slow call is not taken for a client gone away; the write deadline
// bounds a unary response but not a stream.
func TestHTTPDeadlines(t *testing.T) {
	const timeout = 50 * time.Millisecond
	slow := func(ctx context.Context) error {
		select {
		case <-time.After(4 * timeout):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	api := &fakeAPI{
		invoke: func(ctx context.Context, r *altarv1.InvokeRequest) (*altarv1.InvokeResponse, error) {
			if r.GetToolName() == "slow" {
				if err := slow(ctx); err != nil {
					return nil, err
				}
			}
			return echoTool(ctx, &altarv1.InvokeRequest{ToolName: "echo"})
		},
		invokeStream: func(ctx context.Context, r *altarv1.InvokeRequest, send func(*altarv1.StreamChunk) error) error {
			if err := send(&altarv1.StreamChunk{ChunkId: 1, Payload: schema.Int(1)}); err != nil {
				return err
			}
			if err := slow(ctx); err != nil {
				return err
			}
			return send(&altarv1.StreamChunk{ChunkId: 2, Payload: schema.Int(2), IsFinal: true})
		},
	}
	t.Run("read deadline does not cut a slow call", func(t *testing.T) {
		srv := serve(t, api, nil, WithHTTPTimeouts(timeout, time.Minute))
		if r := do(t, "POST", srv.URL+"/v1/tools/slow/invoke", "application/json", strings.NewReader(`{}`)); r.status != 200 {
			t.Fatalf("invoke: %d %s", r.status, r.body)
		}
	})
	srv := serve(t, api, nil, WithHTTPTimeouts(timeout, timeout))
	t.Run("write deadline cuts a slow unary response", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(ctxT(t), "POST", srv.URL+"/v1/tools/slow/invoke", strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			t.Fatalf("a response after the write deadline: %d", resp.StatusCode)
		}
	})
	t.Run("a fast unary response is not cut", func(t *testing.T) {
		if r := do(t, "POST", srv.URL+"/v1/tools/echo/invoke", "application/json", strings.NewReader(`{}`)); r.status != 200 {
			t.Fatalf("invoke: %d %s", r.status, r.body)
		}
	})
	t.Run("streams outlive both deadlines", func(t *testing.T) {
		r := do(t, "POST", srv.URL+"/v1/tools/ticks/stream", "application/json", strings.NewReader(`{}`))
		if ev := readSSE(t, strings.NewReader(string(r.body)), 0); len(ev) != 2 || !strings.Contains(ev[1].data, `"isFinal":true`) {
			t.Fatalf("stream: %d %s", r.status, r.body)
		}
	})
}
