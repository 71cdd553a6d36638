package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The MCP facade driven by the official MCP TypeScript SDK
// (e2e/npm/mcp-client.mjs, run with node): over streamable HTTP and the
// older SSE transport against a keyed `altar serve`, and over stdio
// against `altar mcp --stdio` launched by the SDK's stdio transport.

// nodeTimeout bounds one run of the client script.
const nodeTimeout = 2 * time.Minute

// mcpRun is what mcp-client.mjs prints.
type mcpRun struct {
	Mode            string  `json:"mode"`
	ProtocolVersion *string `json:"protocolVersion"`
	SessionID       *string `json:"sessionId"`
	Server          struct {
		Name string `json:"name"`
	} `json:"server"`
	Tools []struct {
		Name            string         `json:"name"`
		HasOutputSchema bool           `json:"hasOutputSchema"`
		InputType       string         `json:"inputType"`
		ReadOnly        *bool          `json:"readOnly"`
		Meta            map[string]any `json:"meta"`
	} `json:"tools"`
	Add      toolResult `json:"add"`
	Bad      toolResult `json:"bad"`
	Count    toolResult `json:"count"`
	Progress []struct {
		Progress float64 `json:"progress"`
		Message  string  `json:"message"`
	} `json:"progress"`
	Cancelled string      `json:"cancelled"`
	Bridged   *toolResult `json:"bridged"`
}

type toolResult struct {
	Meta    map[string]json.RawMessage `json:"_meta"`
	Content []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
	StructuredContent json.RawMessage `json:"structuredContent"`
	IsError           bool            `json:"isError"`
}

// needNode fails unless node and the npm peers (npm ci in e2e/npm) are
// there; .ci/run installs both.
func needNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not on PATH (.ci/run installs it)")
	}
	if _, err := os.Stat(filepath.Join("npm", "node_modules", "@modelcontextprotocol", "sdk")); err != nil {
		t.Fatal("e2e/npm/node_modules is missing: run npm ci in e2e/npm (.ci/run does)")
	}
	return node
}

// runMCPClient runs mcp-client.mjs with args and env and decodes its report.
func runMCPClient(t *testing.T, env []string, args ...string) mcpRun {
	t.Helper()
	node := needNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), nodeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{"mcp-client.mjs"}, args...)...)
	cmd.Dir = "npm"
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node mcp-client.mjs %v: %v\nstdout:\n%s\nstderr:\n%s", args, err, stdout.String(), stderr.String())
	}
	var run mcpRun
	if err := json.Unmarshal(stdout.Bytes(), &run); err != nil {
		t.Fatalf("mcp-client.mjs printed no report (%v):\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	return run
}

// checkRun checks what every transport must show: the calculator's tools
// with schemas, a call with structured content, a tool error with its ALTAR
// error, a stream reported as progress, and a cancelled call.
func checkRun(t *testing.T, run mcpRun, bridged ...string) {
	t.Helper()
	var names, others []string
	for _, tool := range run.Tools {
		if strings.Contains(tool.Name, ".") { // a bridged server's tool
			others = append(others, tool.Name)
			continue
		}
		names = append(names, tool.Name)
		if tool.InputType != "object" || !tool.HasOutputSchema || tool.ReadOnly == nil || !*tool.ReadOnly || tool.Meta["altar/version"] != "1.0.0" {
			t.Errorf("tool %s described as %+v", tool.Name, tool)
		}
	}
	if want := []string{"add", "count", "divide", "multiply", "subtract"}; !slices.Equal(names, want) {
		t.Errorf("tools/list = %v, want %v", names, want)
	}
	for _, b := range bridged {
		if !slices.Contains(others, b) {
			t.Errorf("tools/list has no %s: %v", b, others)
		}
	}
	if len(bridged) == 0 && len(others) > 0 {
		t.Errorf("tools/list has bridged tools %v, none configured", others)
	}
	if run.Server.Name != "altar" {
		t.Errorf("server name = %q", run.Server.Name)
	}
	var add struct{ Result float64 }
	if err := json.Unmarshal(run.Add.StructuredContent, &add); err != nil || run.Add.IsError || add.Result != 3 {
		t.Errorf("add(1, 2) = %s (isError %v)", run.Add.StructuredContent, run.Add.IsError)
	}
	var bad struct {
		Code        string
		FieldErrors []struct{ Path string }
	}
	if err := json.Unmarshal(run.Bad.Meta["altar/error"], &bad); err != nil || !run.Bad.IsError || bad.Code != "INVALID_ARGUMENTS" ||
		len(bad.FieldErrors) == 0 || bad.FieldErrors[0].Path != "/b" {
		t.Errorf("add(1) = isError %v, altar/error %s", run.Bad.IsError, run.Bad.Meta["altar/error"])
	}
	var count struct{ Chunks []int64 }
	if err := json.Unmarshal(run.Count.StructuredContent, &count); err != nil || !slices.Equal(count.Chunks, []int64{1, 2, 3, 4, 5}) {
		t.Errorf("count(5) = %s", run.Count.StructuredContent)
	}
	// Every chunk, in order, before the result.
	if len(run.Progress) != 5 {
		t.Errorf("%d progress notifications for 5 chunks: %+v", len(run.Progress), run.Progress)
	}
	for i, p := range run.Progress {
		if p.Message != strconv.Itoa(int(p.Progress)) || (i > 0 && p.Progress <= run.Progress[i-1].Progress) {
			t.Errorf("progress %d = %+v (all: %+v)", i, p, run.Progress)
		}
	}
	if run.Cancelled != "aborted" {
		t.Errorf("the abandoned call ended %q, want aborted", run.Cancelled)
	}
}

// TestMCPFacade drives the facade of a keyed `altar serve` over streamable
// HTTP and SSE with the MCP TypeScript SDK.
func TestMCPFacade(t *testing.T) {
	needBinaries(t)
	g := startGateway(t, newKeys(t))
	startRuntime(t, g)
	g.waitReady(t)
	for _, tt := range []struct{ mode, path string }{{"http", "/mcp"}, {"sse", "/mcp/sse"}} {
		t.Run(tt.mode, func(t *testing.T) {
			before := cancelledCalls(t, g, "count")
			run := runMCPClient(t, []string{"ALTAR_KEY=" + g.keys.client}, tt.mode, g.httpURL+tt.path)
			checkRun(t, run)
			// The abandoned stream was cancelled in the Host, not left to
			// run out its 10,000 seconds.
			deadline := time.Now().Add(callTimeout)
			for cancelledCalls(t, g, "count") <= before {
				if time.Now().After(deadline) {
					t.Fatal("the Host never saw the abandoned count cancelled")
				}
				time.Sleep(pollInterval)
			}
			if tt.mode == "http" {
				if run.SessionID == nil || *run.SessionID == "" {
					t.Fatal("no MCP session over streamable HTTP")
				}
				// The MCP session was an ALTAR session, ended with it.
				if r := g.do(t, "GET", "/v1/sessions/"+*run.SessionID, g.keys.client, "", ""); r.status != http.StatusNotFound {
					t.Errorf("session %s after the client ended it: %s", *run.SessionID, r)
				}
			}
		})
	}
	t.Run("key required", func(t *testing.T) {
		r := g.do(t, "POST", "/mcp", "", "application/json", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
		if r.status != http.StatusUnauthorized {
			t.Fatalf("no key: %s", r)
		}
	})
}

// cancelledCalls is the number of the tool's calls that ended CANCELLED,
// from the gateway's statistics.
func cancelledCalls(t *testing.T, g *gateway, tool string) int {
	t.Helper()
	r := g.do(t, "GET", "/v1/stats?tool_name="+tool, g.keys.client, "", "")
	if r.status != http.StatusOK {
		t.Fatalf("stats: %s", r)
	}
	var stats struct {
		Stats []struct {
			ErrorsByCode map[string]string `json:"errorsByCode"`
		} `json:"stats"`
	}
	if err := json.Unmarshal(r.body, &stats); err != nil {
		t.Fatalf("stats: %v: %s", err, r)
	}
	n := 0
	for _, s := range stats.Stats {
		c, _ := strconv.Atoi(s.ErrorsByCode["CANCELLED"])
		n += c
	}
	return n
}

// TestMCPFacadeStdio: the TypeScript SDK's stdio transport launches
// `altar mcp --stdio`, as a desktop client does from its configuration.
func TestMCPFacadeStdio(t *testing.T) {
	needBinaries(t)
	cfg := filepath.Join(t.TempDir(), "altar.yaml")
	if err := os.WriteFile(cfg, []byte("log:\n  level: warn\nmanifests: ["+manifest+"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := runMCPClient(t, nil, "stdio", altarBin, "mcp", "--stdio", "--config", cfg)
	checkRun(t, run)
}

// TestMCPFacadeBridged: a tool of an MCP server bridged into ALTAR
// (server-everything over stdio, bridges/mcp) is served again by the
// facade, to the TypeScript SDK over streamable HTTP and over stdio.
func TestMCPFacadeBridged(t *testing.T) {
	needBinaries(t)
	bin := everythingBin(t)
	k := newKeys(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "altar.yaml")
	yaml := "grpc:\n  addr: 127.0.0.1:0\nhttp:\n  addr: 127.0.0.1:0\nlog:\n  level: warn\nmanifests: [" + manifest + "]\n" +
		"mcp_servers:\n  - name: everything\n    transport: stdio\n    command: " + bin + "\n" + k.yaml()
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	p := start(t, "altar serve", altarBin, "serve", "--config", cfg)
	g := &gateway{process: p, keys: k}
	p.waitLine(t, `altar: MCP server "everything"`, readyTimeout)
	g.grpcAddr = strings.Fields(p.waitLine(t, "altar: serving gRPC on ", readyTimeout))[4]
	g.httpURL = strings.Fields(p.waitLine(t, "altar: serving HTTP on ", readyTimeout))[4]
	g.waitReady(t)
	env := []string{"ALTAR_KEY=" + k.client, "MCP_BRIDGED=everything.echo", `MCP_BRIDGED_ARGS={"message":"through two MCP hops"}`}
	check := func(t *testing.T, run mcpRun) {
		t.Helper()
		checkRun(t, run, "everything.echo")
		// The client gets what the server answered, content block for
		// content block, not the bridge's Value as JSON text.
		if run.Bridged == nil || run.Bridged.IsError || len(run.Bridged.Content) != 1 ||
			run.Bridged.Content[0].Type != "text" || run.Bridged.Content[0].Text != "Echo: through two MCP hops" {
			t.Errorf("everything.echo = %+v, want the server's one text block %q", run.Bridged, "Echo: through two MCP hops")
		}
	}
	t.Run("http", func(t *testing.T) {
		check(t, runMCPClient(t, env, "http", g.httpURL+"/mcp"))
	})
	t.Run("stdio", func(t *testing.T) {
		// altar mcp --stdio starts the same bridge from the same file.
		check(t, runMCPClient(t, env[1:], "stdio", altarBin, "mcp", "--stdio", "--config", cfg))
	})
}
