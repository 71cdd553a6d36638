package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Named timeouts: how long a started gateway may take to say it serves,
// and to exit once told to.
const (
	readyTimeout = 60 * time.Second
	exitTimeout  = 10 * time.Second
	buildTimeout = 5 * time.Minute
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "altar.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const testConfig = `host_id: from-file
grpc:
  addr: 127.0.0.1:1
http:
  addr: 127.0.0.1:0
log:
  level: debug
`

// lines delivers r's lines on a channel, closed at EOF.
func lines(r io.Reader) <-chan string {
	ch := make(chan string, 64)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	return ch
}

// waitFor returns the first line containing want, failing the test at the
// timeout or at EOF.
func waitFor(t *testing.T, ch <-chan string, want string, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-ch:
			if !ok {
				t.Fatalf("output ended before a line with %q", want)
			}
			if strings.Contains(line, want) {
				return line
			}
		case <-deadline:
			t.Fatalf("no line with %q within %v", want, timeout)
		}
	}
}

// TestServeInProcess runs `altar serve` with a temporary config and stops
// it by cancelling its context. Flags win over the environment, which wins
// over the file.
func TestServeInProcess(t *testing.T) {
	path := writeConfig(t, testConfig)
	t.Setenv("ALTAR_HOST_ID", "from-env")
	t.Setenv("ALTAR_GRPC_ADDR", "127.0.0.1:2")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outR, outW := io.Pipe()
	var stderr strings.Builder
	root := newRootCommand()
	root.SetArgs([]string{"serve", "--config", path, "--grpc-addr", "127.0.0.1:0", "--manifests", filepath.Join("..", "..", "manifests", "calculator.yaml")})
	root.SetOut(outW)
	root.SetErr(&stderr)
	done := make(chan error, 1)
	go func() {
		err := root.ExecuteContext(ctx)
		outW.Close()
		done <- err
	}()
	out := lines(outR)
	serving := waitFor(t, out, "altar: serving gRPC on 127.0.0.1:", readyTimeout)
	if strings.Contains(serving, "127.0.0.1:2 ") || strings.Contains(serving, "127.0.0.1:1 ") {
		t.Errorf("the --grpc-addr flag did not win: %s", serving)
	}
	httpLine := waitFor(t, out, "altar: serving HTTP on http://127.0.0.1:", readyTimeout)
	healthz := strings.Fields(strings.TrimPrefix(httpLine, "altar: serving HTTP on "))[0] + "/healthz"
	waitFor(t, out, `altar call add --addr 127.0.0.1:`, readyTimeout)
	resp, err := http.Get(healthz)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %s", healthz, resp.Status)
	}
	cancel()
	waitFor(t, out, "altar: stopped", exitTimeout)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(exitTimeout):
		t.Fatal("serve did not return after its context was cancelled")
	}
	log := stderr.String()
	for _, want := range []string{"host_id=from-env", "level=DEBUG", "WARNING: no API keys are configured"} {
		if !strings.Contains(log, want) {
			t.Errorf("stderr lacks %q:\n%s", want, log)
		}
	}
}

func TestServeRefusesBadConfig(t *testing.T) {
	path := writeConfig(t, "grpc:\n  adr: 127.0.0.1:0\nsessions:\n  max_ttl: soon\n")
	t.Setenv("ALTAR_INVOKE_TIMEOUT", "1s")
	var stderr strings.Builder
	root := newRootCommand()
	root.SetArgs([]string{"serve", "--config", path})
	root.SetOut(io.Discard)
	root.SetErr(&stderr)
	err := root.ExecuteContext(context.Background())
	var exit exitError
	if !errors.As(err, &exit) || exit.code != 1 {
		t.Fatalf("err = %v, want exit status 1", err)
	}
	for _, want := range []string{
		path + `:2:3: grpc.adr: unknown key "adr"`,
		path + ":4:12: sessions.max_ttl: \"soon\" is not a duration",
		"  ALTAR_INVOKE_TIMEOUT matches no configuration key",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}

// buildAltar builds the altar binary into dir.
func buildAltar(t *testing.T, dir string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(dir, "altar")
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type process struct {
	cmd  *exec.Cmd
	out  <-chan string
	done chan error
}

// startServe starts `altar serve` with a temporary config and waits until
// it says it serves. It returns the gRPC address.
func startServe(t *testing.T, bin string, args ...string) (*process, string) {
	t.Helper()
	path := writeConfig(t, "grpc:\n  addr: 127.0.0.1:0\nhttp:\n  addr: 127.0.0.1:0\n")
	cmd := exec.Command(bin, append([]string{"serve", "--config", path}, args...)...)
	cmd.Env = append(os.Environ(), "ALTAR_MANIFESTS="+filepath.Join("..", "..", "manifests", "calculator.yaml"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, out: lines(stdout), done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("stderr:\n%s", stderr.String())
		}
	})
	line := waitFor(t, p.out, "altar: serving gRPC on ", readyTimeout)
	addr := strings.Fields(strings.TrimPrefix(line, "altar: serving gRPC on "))[0]
	return p, addr
}

// exitCode waits for the process to end within timeout and returns its
// exit status.
func (p *process) exitCode(t *testing.T, timeout time.Duration) int {
	t.Helper()
	go func() {
		for range p.out { // keep stdout flowing
		}
	}()
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(timeout):
		t.Fatalf("altar serve did not exit within %v", timeout)
		return -1
	}
}

// TestServeBinary starts the real binary and stops it with signals.
func TestServeBinary(t *testing.T) {
	bin := buildAltar(t, t.TempDir())

	t.Run("SIGTERM exits 0", func(t *testing.T) {
		p, _ := startServe(t, bin)
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		waitFor(t, p.out, "altar: shutting down", exitTimeout)
		if code := p.exitCode(t, exitTimeout); code != 0 {
			t.Errorf("exit status %d, want 0", code)
		}
	})

	t.Run("the shutdown timeout bounds a call that does not end", func(t *testing.T) {
		p, addr := startServe(t, bin, "--shutdown-timeout", "200ms")
		watchHealth(t, addr)
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		waitFor(t, p.out, "altar: shutting down", exitTimeout)
		if code := p.exitCode(t, exitTimeout); code != 0 {
			t.Errorf("exit status %d, want 0", code)
		}
	})

	t.Run("a second signal exits at once", func(t *testing.T) {
		// A long shutdown timeout, and an open health Watch stream that a
		// graceful stop waits for: without the second signal the process
		// would run for a minute.
		p, addr := startServe(t, bin, "--shutdown-timeout", "1m")
		watchHealth(t, addr)
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		waitFor(t, p.out, "altar: shutting down", exitTimeout)
		if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		if code := p.exitCode(t, exitTimeout); code != exitSecondSignal {
			t.Errorf("exit status %d, want %d", code, exitSecondSignal)
		}
	})
}

// watchHealth opens a health Watch stream to addr, a call that does not
// end by itself and that a graceful stop therefore waits for. It is closed
// when the test ends.
func watchHealth(t *testing.T, addr string) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	watch, err := healthpb.NewHealthClient(conn).Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Recv(); err != nil {
		t.Fatal(err)
	}
}
