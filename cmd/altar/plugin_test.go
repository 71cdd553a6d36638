package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

func TestPluginHash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plugin")
	content := []byte("#!/bin/sh\necho not really a plugin\n")
	if err := os.WriteFile(path, content, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	tests := []struct {
		name    string
		args    []string
		wantOut string
		wantErr string
	}{
		{"file", []string{"plugin", "hash", path}, hex.EncodeToString(sum[:]) + "\n", ""},
		{"missing", []string{"plugin", "hash", path + ".missing"}, "", "no such file"},
		{"directory", []string{"plugin", "hash", filepath.Dir(path)}, "", "not a regular file"},
		{"no path", []string{"plugin", "hash"}, "", "accepts 1 arg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut strings.Builder
			root := newRootCommand()
			root.SetArgs(tt.args)
			root.SetOut(&out)
			root.SetErr(&errOut)
			err := root.Execute()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || out.String() != tt.wantOut {
				t.Fatalf("out = %q, err = %v; want %q", out.String(), err, tt.wantOut)
			}
		})
	}
}

// TestServeLaunchesPlugins runs `altar serve` with the calculator as a
// pinned plugin (and a second entry whose pin is wrong), calls it over
// gRPC, and checks that stopping serve leaves no plugin process behind.
func TestServeLaunchesPlugins(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the calculator")
	}
	dir := t.TempDir()
	calc := filepath.Join(dir, "calculator")
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", calc, "../../plugins/examples/calculator").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	content, err := os.ReadFile(calc)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	path := writeConfig(t, fmt.Sprintf(`grpc: {addr: 127.0.0.1:0}
http: {addr: "off"}
manifests: [%s]
plugins:
  - name: calc
    command: %s
    sha256: "%x"
  - name: tampered
    command: %s
    sha256: "%s"
`, filepath.Join("..", "..", "manifests", "calculator.yaml"), calc, sum, calc, strings.Repeat("ab", 32)))

	serveCtx, stop := context.WithCancel(context.Background())
	defer stop()
	outR, outW := io.Pipe()
	var stderr strings.Builder
	root := newRootCommand()
	root.SetArgs([]string{"serve", "--config", path, "--no-example-runtime"})
	root.SetOut(outW)
	root.SetErr(&stderr)
	done := make(chan error, 1)
	go func() {
		err := root.ExecuteContext(serveCtx)
		outW.Close()
		done <- err
	}()
	out := lines(outR)
	started := waitFor(t, out, `altar: plugin "calc" started (pid `, readyTimeout)
	if !strings.Contains(started, "serves add, count, divide, multiply, subtract") {
		t.Errorf("started line = %q; want the calculator's tools", started)
	}
	m := regexp.MustCompile(`\(pid (\d+)\)`).FindStringSubmatch(started)
	if m == nil {
		t.Fatalf("no pid in %q", started)
	}
	pid, _ := strconv.Atoi(m[1])
	refused := waitFor(t, out, `altar: plugin "tampered" not started (failed)`, readyTimeout)
	for _, want := range []string{fmt.Sprintf("%x", sum), strings.Repeat("ab", 32)} {
		if !strings.Contains(refused, want) {
			t.Errorf("refusal %q does not name %s", refused, want)
		}
	}
	serving := waitFor(t, out, "altar: serving gRPC on ", readyTimeout)
	addr := strings.Fields(strings.TrimPrefix(serving, "altar: serving gRPC on "))[0]

	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	callCtx, cancelCall := context.WithTimeout(context.Background(), readyTimeout)
	defer cancelCall()
	resp, err := altarv1.NewHostServiceClient(cc).Invoke(callCtx, &altarv1.InvokeRequest{
		ToolName:   "calc/add",
		Parameters: map[string]*altarv1.Value{"a": schema.Double(1), "b": schema.Double(2)},
	})
	if err != nil || resp.GetResult().GetPayload().GetDoubleValue() != 3 {
		t.Fatalf("calc/add = %v, %v; want 3", resp.GetResult(), err)
	}

	// ListRuntimes reports both plugins as the supervisor sees them: the
	// one that stays down too, and why; altar runtimes shows them.
	list, err := altarv1.NewHostServiceClient(cc).ListRuntimes(callCtx, &altarv1.ListRuntimesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	plugins := map[string]*altarv1.PluginInfo{}
	for _, p := range list.GetPlugins() {
		plugins[p.GetName()] = p
	}
	if p := plugins["calc"]; p.GetState() != "running" || p.GetPid() != int64(pid) || p.GetSince() == nil {
		t.Errorf("calc as listed: %v; want running with pid %d", p, pid)
	}
	if p := plugins["tampered"]; p.GetState() != "failed" || !strings.Contains(p.GetLastError(), strings.Repeat("ab", 32)) {
		t.Errorf("tampered as listed: %v; want failed, naming the pinned hash", p)
	}
	table, _, code := execute(t, "runtimes", "--addr", addr)
	if code != 0 || !regexp.MustCompile(`(?m)^tampered\s+failed\s+`).MatchString(table) ||
		!regexp.MustCompile(`(?m)^calc\s+running\s+`+strconv.Itoa(pid)+`\s`).MatchString(table) {
		t.Errorf("altar runtimes (exit %d) does not show the plugins' states:\n%s", code, table)
	}

	stop()
	waitFor(t, out, "altar: stopped", exitTimeout)
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	go func() {
		for range out {
		}
	}()
	if syscall.Kill(pid, 0) == nil {
		t.Fatalf("plugin pid %d outlived serve", pid)
	}
	if !strings.Contains(stderr.String(), `msg="plugin stderr" plugin=calc`) {
		t.Errorf("the plugin's stderr is not in serve's log:\n%s", stderr.String())
	}
}
