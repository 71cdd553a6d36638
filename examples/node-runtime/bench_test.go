package noderuntime_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// BenchmarkRuntimes calls the same conformance tools through one Host over
// loopback gRPC, served by the Node runtime (conformance.js) and by the Go
// SDK (e2e/conformance/goruntime), each its own process dialling in:
//
//	go test -run '^$' -bench . -count 3 ./examples/node-runtime/
func BenchmarkRuntimes(b *testing.B) {
	requireNode(b)
	// Default heartbeats: a loaded machine must not drop a runtime mid-run.
	cfg := hostConfig(b, "127.0.0.1:0")
	cfg.Runtimes.HeartbeatInterval, cfg.Runtimes.HeartbeatTimeout = 0, 0
	h := startHostConfig(b, cfg)

	p := startNode(b, "conformance.js", "ALTAR_HOST="+h.GRPCAddr(), "ALTAR_RUNTIME_ID=node", "ALTAR_LOG_LEVEL=off")
	waitRoutable(b, h, p, "node")

	// The Go conformance runtime (plugins/sdk), also its own process.
	goruntime := filepath.Join(b.TempDir(), "goruntime")
	if out, err := exec.Command("go", "build", "-o", goruntime, "../../e2e/conformance/goruntime").CombinedOutput(); err != nil {
		b.Fatalf("go build goruntime: %v\n%s", err, out)
	}
	gp := startProc(b, []string{goruntime}, "ALTAR_HOST="+h.GRPCAddr(), "ALTAR_RUNTIME_ID=go")
	waitRoutable(b, h, gp, "go")

	echoArgs := map[string]*altarv1.Value{"text": schema.String("hello"), "big": schema.Int(1<<53 + 1), "blob": schema.Bytes(make([]byte, 64))}
	for _, id := range []string{"node", "go"} {
		b.Run(id+"/echo", func(b *testing.B) {
			req := &altarv1.InvokeRequest{ToolName: id + "/conformance.echo", Parameters: echoArgs}
			for b.Loop() {
				if _, err := h.client.Invoke(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(id+"/echo-parallel16", func(b *testing.B) {
			req := &altarv1.InvokeRequest{ToolName: id + "/conformance.echo", Parameters: echoArgs}
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := h.client.Invoke(context.Background(), req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
		b.Run(id+"/stream10000", func(b *testing.B) {
			req := &altarv1.InvokeRequest{ToolName: id + "/conformance.count", Parameters: map[string]*altarv1.Value{"n": schema.Int(10_000)}}
			for b.Loop() {
				s, err := h.client.InvokeStream(context.Background(), &altarv1.InvokeStreamRequest{Request: req})
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				var err2 error
				for {
					if _, err2 = s.Recv(); err2 != nil {
						break
					}
					n++
				}
				if n != 10_001 {
					b.Fatalf("%d chunks: %v", n, err2)
				}
			}
		})
	}
}
