package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/altar-gateway/altar/gateway"
	"github.com/altar-gateway/altar/gateway/schema"
	"github.com/altar-gateway/altar/plugins/launch"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// modesTimeout bounds building, starting and the wait for both runtimes.
const modesTimeout = 2 * time.Minute

// Runtime ids of the one calculator binary in its two modes.
const (
	pluginID = "calc-plugin"
	dialID   = "calc-dial"
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
	buildDir  string
)

// calculatorBinary builds this command once per test process.
func calculatorBinary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "calculator-")
		if buildErr != nil {
			return
		}
		binary = filepath.Join(buildDir, "calculator")
		ctx, cancel := context.WithTimeout(context.Background(), modesTimeout)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return binary
}

// bothWays is a real Host on loopback serving the calculator binary twice:
// launched as a go-plugin plugin (pluginID) and dialled in over gRPC
// (dialID), with a gRPC client of the Host API.
type bothWays struct {
	h      *gateway.Host
	client altarv1.HostServiceClient
	sup    *launch.Supervisor
	dialed *exec.Cmd
}

func startBothWays(tb testing.TB) *bothWays {
	tb.Helper()
	bin := calculatorBinary(tb)
	cfg := gateway.DefaultConfig()
	cfg.GRPCAddr = "127.0.0.1:0"
	cfg.ManifestPaths = []string{"../../../manifests/calculator.yaml"}
	cfg.Logger = slog.New(slog.DiscardHandler)
	h, err := gateway.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	b := &bothWays{h: h}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), modesTimeout)
		defer cancel()
		_ = h.Close(ctx)
		if b.dialed != nil {
			_ = b.dialed.Process.Kill()
			_ = b.dialed.Wait()
		}
	})

	b.sup, err = launch.New(h, []launch.Config{{Name: pluginID, Command: bin}})
	if err != nil {
		tb.Fatal(err)
	}
	h.OnClose(func(ctx context.Context) { _ = b.sup.Close(ctx) })
	ctx, cancel := context.WithTimeout(context.Background(), modesTimeout)
	defer cancel()
	if err := b.sup.Start(ctx); err != nil {
		tb.Fatal(err)
	}

	// The same binary, started by hand: no cookie in its environment, so
	// it dials.
	b.dialed = exec.Command(bin, "--host", h.GRPCAddr(), "--id", dialID)
	b.dialed.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return len(kv) > 6 && kv[:6] == "ALTAR_" })
	if err := b.dialed.Start(); err != nil {
		tb.Fatal(err)
	}

	cc, err := grpc.NewClient(h.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = cc.Close() })
	b.client = altarv1.NewHostServiceClient(cc)
	for _, id := range []string{pluginID, dialID} {
		for !b.serves(id, "subtract") {
			if ctx.Err() != nil {
				tb.Fatalf("%s never fulfilled subtract", id)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return b
}

func (b *bothWays) serves(id, tool string) bool {
	for _, rt := range b.h.Runtimes().List() {
		if rt.GetRuntimeId() != id {
			continue
		}
		for _, t := range rt.GetTools() {
			if t.GetContractName() == tool {
				return true
			}
		}
	}
	return false
}

// subtract is the benchmark's call: not cacheable, so every call makes the
// whole trip to the runtime.
func (b *bothWays) subtract(ctx context.Context, id string) (*altarv1.InvokeResponse, error) {
	return b.client.Invoke(ctx, &altarv1.InvokeRequest{
		ToolName:   id + "/subtract",
		Parameters: map[string]*altarv1.Value{"a": schema.Double(7), "b": schema.Double(2)},
	})
}

// TestServesBothWays: the calculator's unchanged tools serve through the
// Host both as a plugin and dialled in, from the one binary.
func TestServesBothWays(t *testing.T) {
	b := startBothWays(t)
	ctx, cancel := context.WithTimeout(context.Background(), modesTimeout)
	defer cancel()
	for _, id := range []string{pluginID, dialID} {
		resp, err := b.subtract(ctx, id)
		if err != nil || resp.GetResult().GetPayload().GetDoubleValue() != 5 {
			t.Fatalf("%s/subtract = %v, %v; want 5", id, resp.GetResult(), err)
		}
	}
	transports := map[string]string{}
	for _, rt := range b.h.Runtimes().List() {
		transports[rt.GetRuntimeId()] = rt.GetTransport()
	}
	if transports[pluginID] != "plugin" || transports[dialID] != "grpc" {
		t.Fatalf("transports = %v; want %s over plugin, %s over grpc", transports, pluginID, dialID)
	}
}

// BenchmarkThroughTheHost times one call (subtract, the same arguments)
// from a gRPC client through the Host to the calculator, launched as a
// plugin and dialled in, in one run. ns/op is the mean; p50-ns and p99-ns
// are the median and 99th percentile of the calls' latencies. The
// parallel variants run 8 callers per P.
func BenchmarkThroughTheHost(b *testing.B) {
	bw := startBothWays(b)
	ctx := context.Background()
	for _, id := range []string{pluginID, dialID} {
		mode := map[string]string{pluginID: "plugin", dialID: "dialled"}[id]
		b.Run(mode, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				began := time.Now()
				if _, err := bw.subtract(ctx, id); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(began))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
		})
		b.Run(mode+"-parallel", func(b *testing.B) {
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := bw.subtract(ctx, id); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
