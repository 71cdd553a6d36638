package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	mcpbridge "github.com/altar-gateway/altar/bridges/mcp"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// everythingBin is the npm @modelcontextprotocol/server-everything (npm ci
// in e2e/npm; .ci/run does it). It fails the test when it is missing.
func everythingBin(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is not on PATH (.ci/run installs it)")
	}
	bin, err := filepath.Abs(filepath.Join("npm", "node_modules", ".bin", "mcp-server-everything"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatal("mcp-server-everything is missing: run npm ci in e2e/npm (.ci/run does)")
	}
	return bin
}

// startBridgeGateway starts `altar serve` in dir with the MCP servers of
// mcpYAML (an mcp_servers: block) and no other tools, and waits until it
// says what the server "everything" serves.
func startBridgeGateway(t *testing.T, dir, mcpYAML string) (*gateway, string) {
	t.Helper()
	cfg := "grpc:\n  addr: 127.0.0.1:0\nhttp:\n  addr: 127.0.0.1:0\nlog:\n  level: warn\nmanifests: []\n" + mcpYAML
	path := filepath.Join(dir, "altar.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := start(t, "altar serve", altarBin, "serve", "--config", path, "--no-example-runtime")
	g := &gateway{process: p}
	line := p.waitLine(t, `altar: MCP server "everything"`, readyTimeout)
	g.grpcAddr = strings.Fields(p.waitLine(t, "altar: serving gRPC on ", readyTimeout))[4]
	g.httpURL = strings.Fields(p.waitLine(t, "altar: serving HTTP on ", readyTimeout))[4]
	return g, line
}

// freePort is a loopback port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// startEverythingHTTP runs server-everything over streamable HTTP
// (transport "streamableHttp") or HTTP+SSE ("sse") and returns its MCP
// endpoint.
func startEverythingHTTP(t *testing.T, transport string) string {
	t.Helper()
	bin := everythingBin(t)
	port := freePort(t)
	t.Setenv("PORT", port) // the child reads PORT
	p := start(t, "server-everything", bin, transport)
	ready, endpoint := "listening on port", "/mcp"
	if transport == "sse" {
		ready, endpoint = "running on port", "/sse"
	}
	deadline := time.Now().Add(readyTimeout)
	for {
		if _, ok, _ := p.stderr.find(ready); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server-everything did not listen within %v", readyTimeout)
		}
		select {
		case <-p.done:
			t.Fatalf("server-everything exited: %v", p.err)
		case <-time.After(pollInterval):
		}
	}
	return "http://127.0.0.1:" + port + endpoint
}

// invokeReply is the HTTP invoke answer with the MCP bridge's payload.
type invokeReply struct {
	Result struct {
		Status    string `json:"status"`
		RuntimeID string `json:"runtimeId"`
		Error     *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	} `json:"result"`
	Payload json.RawMessage `json:"payload"`
}

// mcpContent is the payload of a tool with no output schema.
type mcpContent struct {
	Content []struct {
		Type     string `json:"type"`
		Text     string `json:"text"`
		Data     string `json:"data"` // base64
		MimeType string `json:"mimeType"`
	} `json:"content"`
}

func (g *gateway) invokeHTTP(t *testing.T, tool, params string) (reply, invokeReply) {
	t.Helper()
	r := g.do(t, "POST", "/v1/tools/"+tool+"/invoke", "", "application/json", `{"parameters":`+params+`}`)
	var got invokeReply
	if r.status == http.StatusOK {
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatalf("%v: %s", err, r)
		}
	}
	return r, got
}

// TestMCPBridgeEverything plugs the npm server-everything into ALTAR over
// stdio, streamable HTTP and HTTP+SSE and calls its tools through ALTAR's HTTP
// and gRPC APIs: a listing, plain and structured results, an image, a
// long-running tool's progress as a stream, a cancelled call and a call
// past its deadline.
func TestMCPBridgeEverything(t *testing.T) {
	needBinaries(t)
	bin := everythingBin(t)
	tests := []struct {
		name   string
		config func(t *testing.T) string
	}{
		{"stdio", func(t *testing.T) string {
			return "mcp_servers:\n  - name: everything\n    transport: stdio\n    command: " + bin + "\n"
		}},
		{"streamableHttp", func(t *testing.T) string {
			return "mcp_servers:\n  - name: everything\n    transport: http\n    url: " + startEverythingHTTP(t, "streamableHttp") + "\n"
		}},
		{"sse", func(t *testing.T) string {
			return "mcp_servers:\n  - name: everything\n    transport: sse\n    url: " + startEverythingHTTP(t, "sse") + "\n"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			g, line := startBridgeGateway(t, dir, tt.config(t))
			if !strings.Contains(line, "serves 13 tool(s)") || !strings.Contains(line, "everything.trigger-long-running-operation") {
				t.Fatalf("serving line: %s", line)
			}
			if _, err := os.Stat(filepath.Join(dir, mcpbridge.DefaultLockFile)); err != nil {
				t.Fatalf("the first import wrote no lock file: %v", err)
			}

			// The listing over HTTP: contracts named everything.<tool>, served by mcp:everything.
			r := g.do(t, "GET", "/v1/tools?page_size=100", "", "", "")
			for _, want := range []string{`"everything.echo"`, `"everything.get-sum"`, `"everything.get-structured-content"`, `"mcp:everything"`} {
				if r.status != http.StatusOK || !strings.Contains(string(r.body), want) {
					t.Fatalf("GET /v1/tools lacks %s: %s", want, r)
				}
			}

			// Text content over HTTP.
			r, got := g.invokeHTTP(t, "everything.echo", `{"message":"hello bridge"}`)
			var content mcpContent
			_ = json.Unmarshal(got.Payload, &content)
			if r.status != http.StatusOK || got.Result.RuntimeID != "mcp:everything" || len(content.Content) != 1 ||
				content.Content[0].Text != "Echo: hello bridge" {
				t.Fatalf("echo over HTTP: %s", r)
			}
			// Arguments are checked by the Host before the server sees them.
			if r, _ := g.invokeHTTP(t, "everything.get-sum", `{"a":"two","b":3}`); r.status != http.StatusBadRequest ||
				r.apiError(t).Error.Code != "INVALID_ARGUMENTS" {
				t.Fatalf("bad arguments: %s", r)
			}

			c := g.dial(t, "")
			ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
			defer cancel()
			// Text, structured content and an image over gRPC.
			resp, err := c.Invoke(ctx, &altarv1.InvokeRequest{ToolName: "everything.get-sum",
				Parameters: map[string]*altarv1.Value{"a": schema.Int(2), "b": schema.Int(3)}})
			if err != nil || !strings.Contains(payloadJSON(t, resp.GetResult()), "The sum of 2 and 3 is 5.") {
				t.Fatalf("get-sum over gRPC: %v, %v", resp, err)
			}
			resp, err = c.Invoke(ctx, &altarv1.InvokeRequest{ToolName: "everything.get-structured-content",
				Parameters: map[string]*altarv1.Value{"location": schema.String("Chicago")}})
			if err != nil || payloadJSON(t, resp.GetResult()) != `{"conditions":"Light rain / drizzle","humidity":82,"temperature":36}` {
				t.Fatalf("get-structured-content over gRPC: %v, %v", resp, err)
			}
			resp, err = c.Invoke(ctx, &altarv1.InvokeRequest{ToolName: "everything.get-tiny-image"})
			if err != nil {
				t.Fatal(err)
			}
			var image []byte
			for _, item := range resp.GetResult().GetPayload().GetObjectValue().GetFields()["content"].GetArrayValue().GetItems() {
				f := item.GetObjectValue().GetFields()
				if f["type"].GetStringValue() == "image" && f["mimeType"].GetStringValue() == "image/png" {
					image = f["data"].GetBytesValue()
				}
			}
			if !strings.HasPrefix(string(image), "\x89PNG") {
				t.Fatalf("get-tiny-image: no PNG bytes in %v", resp.GetResult().GetPayload())
			}

			// A long-running tool's progress notifications as a gRPC stream.
			stream, err := c.InvokeStream(ctx, &altarv1.InvokeStreamRequest{Request: &altarv1.InvokeRequest{
				ToolName:   "everything.trigger-long-running-operation",
				Parameters: map[string]*altarv1.Value{"duration": schema.Double(1), "steps": schema.Int(4)}}})
			if err != nil {
				t.Fatal(err)
			}
			progress, final := 0, (*altarv1.StreamChunk)(nil)
			for {
				msg, err := stream.Recv()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if p := msg.GetChunk().GetProgress(); p != nil {
					progress++
					if p.GetTotal() != 4 {
						t.Errorf("progress %v", p)
					}
				}
				final = msg.GetChunk()
			}
			if progress < 1 || !final.GetIsFinal() || final.GetError() != nil ||
				!strings.Contains(chunkJSON(t, final), "Long running operation completed") {
				t.Fatalf("long-running stream: %d progress chunks, final %v", progress, final)
			}
			if tt.name == "stdio" && progress != 4 {
				t.Errorf("over stdio every progress notification arrives in order: got %d of 4", progress)
			}

			// A cancelled call: the caller gives up after the first progress chunk.
			sctx, scancel := context.WithCancel(ctx)
			stream, err = c.InvokeStream(sctx, &altarv1.InvokeStreamRequest{Request: &altarv1.InvokeRequest{
				ToolName:   "everything.trigger-long-running-operation",
				Parameters: map[string]*altarv1.Value{"duration": schema.Double(60), "steps": schema.Int(60)}}})
			if err != nil {
				t.Fatal(err)
			}
			if msg, err := stream.Recv(); err != nil || msg.GetChunk().GetProgress() == nil {
				t.Fatalf("first chunk: %v, %v", msg, err)
			}
			scancel()
			if _, err := stream.Recv(); status.Code(err) != codes.Canceled {
				t.Fatalf("after cancel: %v", err)
			}

			// A call past its deadline.
			_, err = c.Invoke(ctx, &altarv1.InvokeRequest{ToolName: "everything.trigger-long-running-operation",
				Parameters: map[string]*altarv1.Value{"duration": schema.Double(30), "steps": schema.Int(3)},
				Timeout:    durationpb.New(500 * time.Millisecond)})
			if status.Code(err) != codes.DeadlineExceeded {
				t.Fatalf("past its deadline: %v", err)
			}
			// The server still answers.
			if r, _ := g.invokeHTTP(t, "everything.echo", `{"message":"still here"}`); r.status != http.StatusOK {
				t.Fatalf("echo after the cancelled calls: %s", r)
			}
		})
	}
}

func payloadJSON(t *testing.T, res *altarv1.ToolResult) string {
	t.Helper()
	if res.GetStatus() != altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS {
		t.Fatalf("result %v", res)
	}
	b, err := schema.MarshalJSON(res.GetPayload())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestMCPBridgeDrift: a tool whose pinned description differs from what
// server-everything lists now is withdrawn in STRICT mode (not listed as
// served, not callable); `altar contracts diff` shows the change and
// `altar contracts approve` brings the tool back in the running gateway.
func TestMCPBridgeDrift(t *testing.T) {
	needBinaries(t)
	bin := everythingBin(t)
	dir := t.TempDir()
	servers := "mcp_servers:\n  - name: everything\n    transport: stdio\n    command: " + bin + "\n"
	g, _ := startBridgeGateway(t, dir, servers)
	g.terminate(t)
	if code := g.wait(t, exitTimeout); code != 0 {
		t.Fatalf("altar serve exited %d", code)
	}

	// The pin says echo meant something else when it was approved.
	lockPath := filepath.Join(dir, mcpbridge.DefaultLockFile)
	lock, err := mcpbridge.ReadLock(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	pin := lock.Server("everything").Tools["echo"]
	pin.Definition.Description = "Echoes back the input string (as approved last month)"
	pin.SHA256 = pin.Definition.SHA256()
	if err := lock.Write(lockPath); err != nil {
		t.Fatal(err)
	}

	g, line := startBridgeGateway(t, dir, servers)
	if !strings.Contains(line, "serves 12 tool(s)") || !strings.Contains(line, "1 withdrawn until approved") {
		t.Fatalf("serving line after drift: %s", line)
	}
	if r, _ := g.invokeHTTP(t, "everything.echo", `{"message":"x"}`); r.status != http.StatusNotFound || r.apiError(t).Error.Code != "TOOL_NOT_FOUND" {
		t.Fatalf("the drifted tool was callable: %s", r)
	}
	if r := g.do(t, "GET", "/v1/tools/everything.echo", "", "", ""); r.status != http.StatusNotFound {
		t.Fatalf("the drifted tool is still a contract: %s", r)
	}

	cfg := filepath.Join(dir, "altar.yaml")
	out := runAltar(t, "contracts", "diff", "everything", "--config", cfg, "--exit-code")
	if out.code != 1 || !strings.Contains(out.stdout, "changed echo: description") ||
		!strings.Contains(out.stdout, "as approved last month") || !strings.Contains(out.stdout, "1 changed") {
		t.Fatalf("altar contracts diff: exit %d\n%s%s", out.code, out.stdout, out.stderr)
	}
	out = runAltar(t, "contracts", "approve", "everything", "echo", "--config", cfg)
	if out.code != 0 || !strings.Contains(out.stdout, "approved echo") {
		t.Fatalf("altar contracts approve: exit %d\n%s%s", out.code, out.stdout, out.stderr)
	}
	deadline := time.Now().Add(readyTimeout)
	for {
		r, got := g.invokeHTTP(t, "everything.echo", `{"message":"approved"}`)
		if r.status == http.StatusOK && strings.Contains(string(got.Payload), "Echo: approved") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the approved tool is not served within %v: %s", readyTimeout, r)
		}
		time.Sleep(pollInterval)
	}
	if out := runAltar(t, "contracts", "diff", "everything", "--config", cfg, "--exit-code"); out.code != 0 {
		t.Fatalf("diff after approve: exit %d\n%s", out.code, out.stdout)
	}
}

type altarRun struct {
	code           int
	stdout, stderr string
}

func runAltar(t *testing.T, args ...string) altarRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, altarBin, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	code := 0
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("altar %v: %v", args, err)
	}
	return altarRun{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func chunkJSON(t *testing.T, c *altarv1.StreamChunk) string {
	t.Helper()
	b, err := schema.MarshalJSON(c.GetPayload())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// childPID is the pid of a child of parent whose command line contains
// want, 0 when there is none.
func childPID(t *testing.T, parent int, want string) int {
	t.Helper()
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		stat, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after ")".
		i := strings.LastIndexByte(string(stat), ')')
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) < 2 || fields[1] != strconv.Itoa(parent) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join(d, "cmdline"))
		if strings.Contains(string(cmdline), want) {
			pid, _ := strconv.Atoi(filepath.Base(d))
			return pid
		}
	}
	return 0
}

// TestMCPBridgeRestartsEverything: server-everything killed from outside
// fails the call in flight at once with RUNTIME_UNAVAILABLE and is started
// again by the gateway, which serves its tools again.
func TestMCPBridgeRestartsEverything(t *testing.T) {
	needBinaries(t)
	bin := everythingBin(t)
	g, _ := startBridgeGateway(t, t.TempDir(), "mcp_servers:\n  - name: everything\n    transport: stdio\n    command: "+bin+"\n")
	first := childPID(t, g.cmd.Process.Pid, "mcp-server-everything")
	if first == 0 {
		t.Fatal("no server-everything process under altar serve")
	}

	c := g.dial(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	stream, err := c.InvokeStream(ctx, &altarv1.InvokeStreamRequest{Request: &altarv1.InvokeRequest{
		ToolName:   "everything.trigger-long-running-operation",
		Parameters: map[string]*altarv1.Value{"duration": schema.Double(60), "steps": schema.Int(60)}}})
	if err != nil {
		t.Fatal(err)
	}
	if msg, err := stream.Recv(); err != nil || msg.GetChunk().GetProgress() == nil {
		t.Fatalf("first chunk: %v, %v", msg, err)
	}
	killed := time.Now()
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for {
		msg, err := stream.Recv()
		if err != nil {
			t.Fatalf("the stream ended without an error chunk: %v", err)
		}
		if e := msg.GetChunk().GetError(); e != nil {
			if e.GetCode() != altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE {
				t.Fatalf("the call in flight failed with %v", e)
			}
			t.Logf("the call in flight failed %v after the kill", time.Since(killed))
			break
		}
	}

	deadline := time.Now().Add(readyTimeout)
	for {
		r, got := g.invokeHTTP(t, "everything.echo", `{"message":"back"}`)
		if r.status == http.StatusOK && strings.Contains(string(got.Payload), "Echo: back") {
			t.Logf("served again %v after the kill", time.Since(killed))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server-everything was not restarted within %v: %s", readyTimeout, r)
		}
		time.Sleep(pollInterval)
	}
	if again := childPID(t, g.cmd.Process.Pid, "mcp-server-everything"); again == 0 || again == first {
		t.Fatalf("the server's pid after the restart: %d (was %d)", again, first)
	}
}
