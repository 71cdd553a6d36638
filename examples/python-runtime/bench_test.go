package pythonruntime_test

import (
	"testing"

	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// BenchmarkPythonRuntime measures calls through a real Host (in process) to
// the Python conformance runtime dialled in over gRPC on loopback: a unary
// call one at a time, the same from 8 callers at once, and one stream of
// 1,000 chunks.
func BenchmarkPythonRuntime(b *testing.B) {
	h := startHost(b, "127.0.0.1:0")
	startConformance(b, h, "py-bench")
	params := map[string]*altarv1.Value{"text": schema.String("hello"), "big": schema.Int(1<<53 + 1)}
	req := &altarv1.InvokeRequest{ToolName: "conformance.echo", Parameters: params}

	b.Run("unary", func(b *testing.B) {
		for b.Loop() {
			if _, e := h.invoke(b.Context(), req); e != nil {
				b.Fatal(e)
			}
		}
	})
	b.Run("unary-8-callers", func(b *testing.B) {
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, e := h.invoke(b.Context(), req); e != nil {
					b.Error(e)
					return
				}
			}
		})
	})
	b.Run("stream-1000-chunks", func(b *testing.B) {
		sreq := &altarv1.InvokeStreamRequest{Request: &altarv1.InvokeRequest{ToolName: "conformance.count",
			Parameters: map[string]*altarv1.Value{"n": schema.Int(1000)}}}
		for b.Loop() {
			s, err := h.client.InvokeStream(b.Context(), sreq)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for {
				resp, err := s.Recv()
				if err != nil {
					b.Fatal(err)
				}
				if resp.GetChunk().GetIsFinal() {
					break
				}
				n++
			}
			if n != 1000 {
				b.Fatalf("%d chunks", n)
			}
		}
		b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "chunks/s")
	})
}
