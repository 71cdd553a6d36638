package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// countBody streams 1..5 with no wait between the numbers.
const countBody = `{"parameters":{"start":1,"stop":5,"delay_ms":0}}`

// wantCount is what countBody streams, in order.
var wantCount = []int64{1, 2, 3, 4, 5}

// httpChunk is one chunk of an SSE or WebSocket stream.
type httpChunk struct {
	Chunk struct {
		ChunkID string `json:"chunkId"`
		IsFinal bool   `json:"isFinal"`
		Error   *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	} `json:"chunk"`
	Payload *int64 `json:"payload"`
}

// checkChunks checks a stream's chunks: the numbers of wantCount in order,
// then a final chunk, and nothing after it.
func checkChunks(t *testing.T, chunks []httpChunk) {
	t.Helper()
	var got []int64
	for i, c := range chunks {
		if c.Chunk.Error != nil {
			t.Fatalf("chunk %d is an error: %+v", i, *c.Chunk.Error)
		}
		if c.Payload != nil {
			got = append(got, *c.Payload)
		}
		if c.Chunk.IsFinal && i != len(chunks)-1 {
			t.Fatalf("chunk %d of %d is final", i, len(chunks))
		}
	}
	if len(chunks) == 0 || !chunks[len(chunks)-1].Chunk.IsFinal {
		t.Fatalf("the stream did not end with a final chunk: %+v", chunks)
	}
	if !slices.Equal(got, wantCount) {
		t.Errorf("streamed %v, want %v in order", got, wantCount)
	}
}

// TestAPI starts a keyed gateway with the calculator runtime connected
// (with the runtime key) and calls it as a client would: a tool over
// HTTP/JSON and gRPC, and a stream over gRPC, Server-Sent Events and
// WebSocket, checking the results and the order of the chunks.
func TestAPI(t *testing.T) {
	needBinaries(t)
	g := startGateway(t, newKeys(t))
	startRuntime(t, g)
	g.waitReady(t)

	t.Run("HTTP", func(t *testing.T) {
		r := g.do(t, "POST", "/v1/tools/add/invoke", g.keys.client, "application/json",
			`{"parameters":{"a":1.5,"b":2},"correlationId":"corr-e2e"}`)
		if r.status != http.StatusOK {
			t.Fatalf("invoke add: %s", r)
		}
		var got struct {
			Result struct {
				Status        string `json:"status"`
				CorrelationID string `json:"correlationId"`
				RuntimeID     string `json:"runtimeId"`
			} `json:"result"`
			Payload float64 `json:"payload"`
		}
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatalf("%v: %s", err, r)
		}
		if got.Result.Status != "TOOL_RESULT_STATUS_SUCCESS" || got.Payload != 3.5 ||
			got.Result.CorrelationID != "corr-e2e" || got.Result.RuntimeID != "calculator" {
			t.Errorf("invoke add = %s, want success with payload 3.5 from calculator, correlation id kept", r.body)
		}
	})

	t.Run("HTTPToolContract", func(t *testing.T) {
		r := g.do(t, "GET", "/v1/tools/add", g.keys.client, "", "")
		if r.status != http.StatusOK || !strings.Contains(string(r.body), `"add"`) {
			t.Errorf("GET /v1/tools/add: %s", r)
		}
	})

	t.Run("AdminKey", func(t *testing.T) {
		r := g.do(t, "GET", "/v1/runtimes", g.keys.admin, "", "")
		if r.status != http.StatusOK || !strings.Contains(string(r.body), `"calculator"`) {
			t.Errorf("GET /v1/runtimes with the admin key: %s", r)
		}
	})

	t.Run("GRPC", func(t *testing.T) {
		c := g.dial(t, g.keys.client)
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		resp, err := c.Invoke(ctx, &altarv1.InvokeRequest{
			ToolName:   "add",
			Parameters: map[string]*altarv1.Value{"a": schema.Double(1.5), "b": schema.Int(2)},
		})
		if err != nil {
			t.Fatalf("Invoke add: %v", err)
		}
		res := resp.GetResult()
		if res.GetStatus() != altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS || res.GetPayload().GetDoubleValue() != 3.5 {
			t.Errorf("Invoke add = %v, want success with 3.5", res)
		}
	})

	t.Run("GRPCStream", func(t *testing.T) {
		c := g.dial(t, g.keys.client)
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		stream, err := c.InvokeStream(ctx, &altarv1.InvokeStreamRequest{Request: &altarv1.InvokeRequest{
			ToolName:   "count",
			Parameters: map[string]*altarv1.Value{"start": schema.Int(1), "stop": schema.Int(5), "delay_ms": schema.Int(0)},
		}})
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		final := false
		for {
			msg, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("Recv: %v", err)
			}
			chunk := msg.GetChunk()
			if final {
				t.Fatalf("a chunk after the final one: %v", msg)
			}
			if chunk.GetError() != nil {
				t.Fatalf("error chunk: %v", chunk.GetError())
			}
			if p := chunk.GetPayload(); p != nil {
				got = append(got, p.GetIntValue())
			}
			final = chunk.GetIsFinal()
		}
		if !final || !slices.Equal(got, wantCount) {
			t.Errorf("streamed %v (final %v), want %v then a final chunk", got, final, wantCount)
		}
	})

	t.Run("SSE", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, "POST", g.httpURL+"/v1/tools/count/stream", strings.NewReader(countBody))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+g.keys.client)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("POST /v1/tools/count/stream: %s %s: %s", resp.Status, resp.Header.Get("Content-Type"), b)
		}
		var chunks []httpChunk
		event := ""
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				if event != "chunk" {
					t.Fatalf("event %q: %s", event, line)
				}
				var c httpChunk
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &c); err != nil {
					t.Fatalf("%v: %s", err, line)
				}
				chunks = append(chunks, c)
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatalf("reading the stream: %v", err)
		}
		checkChunks(t, chunks)
	})

	t.Run("WebSocket", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		conn, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(g.httpURL, "http")+"/v1/tools/count/ws", &websocket.DialOptions{
			HTTPHeader: http.Header{"Authorization": {"Bearer " + g.keys.client}},
		})
		if err != nil {
			t.Fatalf("dial: %v (%v)", err, resp)
		}
		defer conn.CloseNow()
		if err := conn.Write(ctx, websocket.MessageText, []byte(countBody)); err != nil {
			t.Fatal(err)
		}
		var chunks []httpChunk
		for {
			typ, msg, err := conn.Read(ctx)
			if err != nil {
				if s := websocket.CloseStatus(err); s != websocket.StatusNormalClosure {
					t.Fatalf("the stream ended with %v (close status %v), want a normal closure", err, s)
				}
				break
			}
			if typ != websocket.MessageText {
				t.Fatalf("message type %v, want text", typ)
			}
			var c httpChunk
			if err := json.Unmarshal(msg, &c); err != nil {
				t.Fatalf("%v: %s", err, msg)
			}
			chunks = append(chunks, c)
		}
		checkChunks(t, chunks)
	})
}

// TestGRPCErrors checks the gRPC status of a missing key, a key of the
// wrong role and an unknown tool.
func TestGRPCErrors(t *testing.T) {
	needBinaries(t)
	g := startGateway(t, newKeys(t))
	for _, tc := range []struct {
		name, key, tool string
		want            codes.Code
	}{
		{"MissingKey", "", "add", codes.Unauthenticated},
		{"WrongKey", "not-a-key", "add", codes.Unauthenticated},
		{"RuntimeKeyOnHostAPI", g.keys.runtime, "add", codes.PermissionDenied},
		{"UnknownTool", g.keys.client, "no-such-tool", codes.NotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
			defer cancel()
			_, err := g.dial(t, tc.key).Invoke(ctx, &altarv1.InvokeRequest{ToolName: tc.tool})
			if status.Code(err) != tc.want {
				t.Errorf("Invoke: %v, want code %v", err, tc.want)
			}
		})
	}
}
