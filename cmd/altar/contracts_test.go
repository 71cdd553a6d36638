package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	mcpbridge "github.com/altar-gateway/altar/bridges/mcp"
)

// TestContracts runs `altar contracts diff` and `approve` against the MCP
// bridge's test server (a real mcp-go server over stdio): everything is new
// until approved, then pinned; unknown servers and tools are named.
func TestContracts(t *testing.T) {
	dir := t.TempDir()
	peer := filepath.Join(dir, "testpeer")
	if out, err := exec.Command("go", "build", "-o", peer, "../../bridges/mcp/internal/testpeer").CombinedOutput(); err != nil {
		t.Fatalf("building the test MCP server: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "altar.yaml")
	if err := os.WriteFile(cfg, []byte("mcp_servers:\n  - name: peer\n    transport: stdio\n    command: "+peer+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(dir, mcpbridge.DefaultLockFile)
	steps := []struct {
		name     string
		args     []string
		wantOut  []string
		wantExit int    // exitError code, 0 for none
		wantErr  string // another error's text
	}{
		{"all new", []string{"diff", "peer", "--exit-code"}, []string{"0 pinned, 0 changed, 7 new", "new     echo: \"Echoes the message back.\""}, 1, ""},
		{"approve one", []string{"approve", "peer", "echo"}, []string{"peer: approved echo in " + lock}, 0, ""},
		{"one pinned", []string{"diff", "peer"}, []string{"1 pinned, 0 changed, 6 new"}, 0, ""},
		{"approve the rest", []string{"approve", "peer"}, []string{"approved crash, fail, grow, kinds, slow, weather"}, 0, ""},
		{"all pinned", []string{"diff", "peer", "--exit-code"}, []string{"7 pinned, 0 changed, 0 new, 0 removed"}, 0, ""},
		{"nothing left", []string{"approve", "peer"}, []string{"nothing to approve"}, 0, ""},
		{"unknown tool", []string{"approve", "peer", "nope"}, nil, 0, `lists no tool named "nope"`},
		{"unknown server", []string{"diff", "other"}, nil, 0, `no MCP server is named "other"; the configured servers are peer`},
	}
	for _, s := range steps {
		out, stderr, err := runSub(t, newContractsCommand(), "", append(append([]string{"contracts"}, s.args...), "--config", cfg)...)
		var exit exitError
		switch {
		case s.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), s.wantErr) {
				t.Fatalf("%s: error %v, want %q", s.name, err, s.wantErr)
			}
			continue
		case s.wantExit != 0:
			if !errors.As(err, &exit) || exit.code != s.wantExit {
				t.Fatalf("%s: %v, want exit %d\n%s%s", s.name, err, s.wantExit, out, stderr)
			}
		case err != nil:
			t.Fatalf("%s: %v\n%s%s", s.name, err, out, stderr)
		}
		for _, w := range s.wantOut {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q:\n%s", s.name, w, out)
			}
		}
	}
}
