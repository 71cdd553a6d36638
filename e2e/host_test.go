package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/altar-gateway/altar/gateway/auth"
	"github.com/altar-gateway/altar/plugins/examples/calculator/calc"
	"github.com/altar-gateway/altar/plugins/sdk"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Named timeouts. They are generous: the tests run with -race on a loaded
// two-core machine, and none of them is a timing assertion.
const (
	// readyTimeout bounds a started gateway printing where it serves, and
	// its runtime being connected and routed.
	readyTimeout = 60 * time.Second
	// exitTimeout bounds a process exiting once told to (beyond any
	// shutdown bound it was given).
	exitTimeout = 20 * time.Second
	// callTimeout bounds one call to the gateway.
	callTimeout = 30 * time.Second
	// pollInterval is how often readiness is polled.
	pollInterval = 50 * time.Millisecond
)

// manifest is the calculator manifest from the repository.
var manifest = func() string {
	p, err := filepath.Abs(filepath.Join("..", "manifests", "calculator.yaml"))
	if err != nil {
		panic(err)
	}
	return p
}()

// keys are the API keys of a keyed gateway: the secrets the callers present.
type keys struct {
	client, runtime, admin string
}

func newKeys(t *testing.T) keys {
	t.Helper()
	secret := func() string {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		return hex.EncodeToString(b)
	}
	return keys{client: secret(), runtime: secret(), admin: secret()}
}

// yaml is the keys section of altar.yaml, hashed as auth.HashKey does (the
// hex SHA-256 `altar keys hash` prints).
func (k keys) yaml() string {
	return fmt.Sprintf(`keys:
  - {id: e2e-client, role: client, hash: %s}
  - {id: e2e-runtime, role: runtime, hash: %s}
  - {id: e2e-admin, role: admin, hash: %s}
`, auth.HashKey(k.client), auth.HashKey(k.runtime), auth.HashKey(k.admin))
}

// output collects a process's output line by line, for waiting on a line.
type output struct {
	mu      sync.Mutex
	buf     []byte
	lines   []string
	changed chan struct{}
}

func newOutput() *output { return &output{changed: make(chan struct{})} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf = append(o.buf, p...)
	for {
		i := bytes.IndexByte(o.buf, '\n')
		if i < 0 {
			break
		}
		o.lines = append(o.lines, string(o.buf[:i]))
		o.buf = o.buf[i+1:]
	}
	close(o.changed)
	o.changed = make(chan struct{})
	return len(p), nil
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Join(o.lines, "\n") + "\n" + string(o.buf)
}

// find returns the first line containing want, and a channel closed when
// more output arrives.
func (o *output) find(want string) (string, bool, <-chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, l := range o.lines {
		if strings.Contains(l, want) {
			return l, true, nil
		}
	}
	return "", false, o.changed
}

// process is a started subprocess, killed at the end of the test if it has
// not exited.
type process struct {
	name   string
	cmd    *exec.Cmd
	stdout *output
	stderr *output
	done   chan struct{} // closed when the process has exited
	err    error         // cmd.Wait's error, set before done is closed
}

func start(t *testing.T, name string, bin string, args ...string) *process {
	t.Helper()
	p := &process{name: name, cmd: exec.Command(bin, args...), stdout: newOutput(), stderr: newOutput(), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s stdout:\n%s\n%s stderr:\n%s", name, p.stdout, name, p.stderr)
		}
	})
	return p
}

// waitLine returns the first line of the process's standard output that
// contains want, failing the test at the timeout or if the process exits.
func (p *process) waitLine(t *testing.T, want string, timeout time.Duration) string {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		line, ok, changed := p.stdout.find(want)
		if ok {
			return line
		}
		select {
		case <-changed:
		case <-p.done:
			if line, ok, _ := p.stdout.find(want); ok {
				return line
			}
			t.Fatalf("%s exited (%v) before printing %q", p.name, p.err, want)
		case <-deadline.C:
			t.Fatalf("%s printed no line with %q within %v", p.name, want, timeout)
		}
	}
}

// wait waits for the process to exit and returns its exit code, failing the
// test after timeout.
func (p *process) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("%s did not exit within %v", p.name, timeout)
	}
	var exit *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &exit):
		return exit.ExitCode()
	default:
		t.Fatalf("%s: %v", p.name, p.err)
		return -1
	}
}

// gateway is a running `altar serve`.
type gateway struct {
	*process
	grpcAddr string
	httpURL  string // http://127.0.0.1:port
	keys     keys   // zero for an unkeyed gateway
}

// startGateway starts `altar serve` on free loopback ports (it takes :0 and
// prints the ports) with the calculator manifest, keyed unless k is zero,
// and waits until it prints where it serves.
func startGateway(t *testing.T, k keys, args ...string) *gateway {
	t.Helper()
	cfg := "grpc:\n  addr: 127.0.0.1:0\nhttp:\n  addr: 127.0.0.1:0\nlog:\n  level: warn\nmanifests: [" + manifest + "]\n"
	if k != (keys{}) {
		cfg += k.yaml()
	}
	path := filepath.Join(t.TempDir(), "altar.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := start(t, "altar serve", altarBin, append([]string{"serve", "--config", path, "--no-example-runtime"}, args...)...)
	g := &gateway{process: p, keys: k}
	// "altar: serving gRPC on 127.0.0.1:PORT (strict mode, ...)"
	g.grpcAddr = strings.Fields(p.waitLine(t, "altar: serving gRPC on ", readyTimeout))[4]
	// "altar: serving HTTP on http://127.0.0.1:PORT (the API under ...)"
	g.httpURL = strings.Fields(p.waitLine(t, "altar: serving HTTP on ", readyTimeout))[4]
	return g
}

// bearer is a gRPC per-call credential sending an API key.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearer) RequireTransportSecurity() bool { return false }

// startRuntime runs the calculator's tools in-process with the SDK, dialling
// the gateway with the runtime key (the calculator binary has no key flag).
// It is shut down at the end of the test.
func startRuntime(t *testing.T, g *gateway) {
	t.Helper()
	rt, err := sdk.New("calculator", calc.Tools(),
		sdk.WithLogger(slog.New(slog.DiscardHandler)),
		sdk.WithDialOptions(grpc.WithPerRPCCredentials(bearer(g.keys.runtime))))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- rt.Serve(ctx, g.grpcAddr) }()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), exitTimeout)
		defer scancel()
		_ = rt.Shutdown(sctx)
		cancel()
		select {
		case <-served:
		case <-time.After(exitTimeout):
			t.Errorf("the in-process runtime did not stop within %v", exitTimeout)
		}
	})
}

// waitReady polls /readyz until it answers 200, then invokes add over HTTP
// until the runtime is connected and the call succeeds.
func (g *gateway) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	var last string
	for _, probe := range []func() (bool, string){
		func() (bool, string) {
			r := g.do(t, "GET", "/readyz", "", "", "")
			return r.status == http.StatusOK, r.String()
		},
		func() (bool, string) {
			r := g.do(t, "POST", "/v1/tools/add/invoke", g.keys.client, "application/json", `{"parameters":{"a":1,"b":2}}`)
			return r.status == http.StatusOK, r.String()
		},
	} {
		for {
			ok, got := probe()
			if ok {
				break
			}
			last = got
			if time.Now().After(deadline) {
				t.Fatalf("gateway not ready within %v; last answer: %s", readyTimeout, last)
			}
			select {
			case <-time.After(pollInterval):
			case <-g.done:
				t.Fatalf("altar serve exited (%v) before it was ready", g.err)
			}
		}
	}
}

// reply is an HTTP answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

// apiError is the HTTP error shape.
type apiError struct {
	Error struct {
		Code        string `json:"code"`
		Message     string `json:"message"`
		FieldErrors []struct {
			Path    string `json:"path"`
			Rule    string `json:"rule"`
			Message string `json:"message"`
		} `json:"fieldErrors"`
	} `json:"error"`
}

func (r reply) apiError(t *testing.T) apiError {
	t.Helper()
	var e apiError
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Code == "" {
		t.Fatalf("not the error shape (%v): %s", err, r)
	}
	return e
}

// do sends one HTTP request to the gateway; key and contentType are left
// out when empty.
func (g *gateway) do(t *testing.T, method, path, key, contentType, body string) reply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, g.httpURL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// dial opens a gRPC client connection to the gateway presenting key (none
// when empty), closed at the end of the test.
func (g *gateway) dial(t *testing.T, key string) altarv1.HostServiceClient {
	t.Helper()
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if key != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearer(key)))
	}
	conn, err := grpc.NewClient(g.grpcAddr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return altarv1.NewHostServiceClient(conn)
}

// terminate sends SIGTERM to the process.
func (p *process) terminate(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM %s: %v", p.name, err)
	}
}
