package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"testing"
	"time"
)

// benchDuration is how long each `altar bench` run measures; it asserts no
// timing, only that every call succeeded.
const benchDuration = 3 * time.Second

// TestBench drives a keyed gateway with the real `altar bench`: 8 callers
// for benchDuration over gRPC and over HTTP, presenting the client key, and
// checks that calls were made and none failed. It records no timings (the
// numbers are in docs/performance.md).
func TestBench(t *testing.T) {
	needBinaries(t)
	g := startGateway(t, newKeys(t))
	startRuntime(t, g)
	g.waitReady(t)

	for _, tc := range []struct{ protocol, addr string }{
		{"grpc", g.grpcAddr},
		{"http", g.httpURL},
	} {
		t.Run(tc.protocol, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), benchDuration+callTimeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, altarBin, "bench", "--protocol", tc.protocol, "--addr", tc.addr,
				"--key", g.keys.client, "--tool", "subtract", "--args", `{"a": 7, "b": 2}`,
				"-c", "8", "-d", benchDuration.String(), "--warmup", "0", "--no-progress", "-o", "json")
			out, err := cmd.Output()
			if err != nil {
				var stderr []byte
				var exit *exec.ExitError
				if errors.As(err, &exit) {
					stderr = exit.Stderr
				}
				t.Fatalf("altar bench: %v\n%s%s", err, out, stderr)
			}
			var res struct {
				Calls    int64          `json:"calls"`
				Errors   int64          `json:"errors"`
				ErrorsBy map[string]int `json:"errors_by_code"`
			}
			if err := json.Unmarshal(out, &res); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if res.Calls == 0 || res.Errors != 0 {
				t.Errorf("altar bench over %s: %d calls, %d errors %v; want calls and no errors:\n%s", tc.protocol, res.Calls, res.Errors, res.ErrorsBy, out)
			}
		})
	}
}
