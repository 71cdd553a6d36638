package config_test

import (
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	mcpbridge "github.com/altar-gateway/altar/bridges/mcp"
	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/config"
)

func TestMCPServersDecode(t *testing.T) {
	path := writeFile(t, `
mcp_servers:
  - name: everything
    transport: stdio
    command: npx
    args: [-y, "@modelcontextprotocol/server-everything"]
    env: ["DEBUG=1"]
    dir: /srv
    timeout: 10s
  - name: remote
    prefix: r
    transport: http
    url: https://mcp.example.com/mcp
    headers: ["X-Team: tools"]
    bearer_token_env: REMOTE_TOKEN
`)
	f, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []mcpbridge.Server{
		{Name: "everything", Transport: "stdio", Command: "npx", Args: []string{"-y", "@modelcontextprotocol/server-everything"},
			Env: []string{"DEBUG=1"}, Dir: "/srv", Timeout: 10 * time.Second},
		{Name: "remote", Prefix: "r", Transport: "http", URL: "https://mcp.example.com/mcp",
			Headers: map[string]string{"X-Team": "tools"}, BearerTokenEnv: "REMOTE_TOKEN"},
	}
	if got := f.MCPBridges(); !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	if got := f.MCPLockPath(path); got != filepath.Join(filepath.Dir(path), mcpbridge.DefaultLockFile) {
		t.Fatalf("lock path %s", got)
	}
	if got := f.MCPLockPath(""); got != mcpbridge.DefaultLockFile {
		t.Fatalf("lock path without a file %s", got)
	}
}

// TestMCPServersErrorsNameTheField: every bad field is reported at its key
// path with the line it came from.
func TestMCPServersErrorsNameTheField(t *testing.T) {
	path := writeFile(t, `
mcp_servers:
  - name: a
    transport: stdio
  - name: a
    transport: http
    url: ftp://x
    headers: ["no colon secret"]
  - name: c
    transport: carrier-pigeon
`)
	_, err := config.Load(path, nil)
	var got []string
	for _, f := range altarerr.From(err).Fields {
		got = append(got, f.GetPath())
		if f.GetLine() == 0 {
			t.Errorf("%s has no line", f.GetPath())
		}
		if strings.Contains(f.GetMessage(), "secret") {
			t.Errorf("%s echoes a header value: %s", f.GetPath(), f.GetMessage())
		}
	}
	want := []string{"mcp_servers[0].command", "mcp_servers[1].headers[0]", "mcp_servers[1].name", "mcp_servers[1].prefix", "mcp_servers[1].url", "mcp_servers[2].transport"}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("fields %v\nwant %v", got, want)
	}
}
