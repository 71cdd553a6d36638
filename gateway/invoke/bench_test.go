package invoke_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/altar-gateway/altar/gateway/invoke"
	"github.com/altar-gateway/altar/gateway/invoke/invoketest"
	"github.com/altar-gateway/altar/gateway/runtime"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// benchEngine is an engine over two in-memory runtimes that answer at once
// with a fixed result, on the real clock.
func benchEngine(b *testing.B, contract *altarv1.ToolContract, opts ...invoke.Option) *invoke.Engine {
	b.Helper()
	payload := schema.Object(map[string]*altarv1.Value{"temp_c": schema.Double(12.5)})
	conns := make([]runtime.Conn, 0, 2)
	for _, id := range []string{"r1", "r2"} {
		c := invoketest.NewConn(id)
		c.InvokeFunc = func(context.Context, *altarv1.ToolCall) (*altarv1.ToolResult, error) {
			return &altarv1.ToolResult{Status: altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS, Payload: payload}, nil
		}
		conns = append(conns, c)
	}
	e := invoke.New(invoketest.NewResolver(invoketest.Target(contract, "r1", "r2")), invoketest.NewRuntimes(conns...), opts...)
	b.Cleanup(e.Close)
	return e
}

func BenchmarkInvoke(b *testing.B) {
	for _, bc := range []struct {
		name     string
		contract *altarv1.ToolContract
		opts     []invoke.Option
		clientID bool
	}{
		{name: "plain", contract: weatherContract()},
		{name: "client-ids", contract: weatherContract(), clientID: true},
		{name: "idempotent", contract: idempotent(weatherContract())},
		{name: "limits", contract: weatherContract(), opts: []invoke.Option{invoke.WithLimits(invoke.Limits{
			Tool: invoke.Limit{Concurrency: 1024, Queue: 1024}, Runtime: invoke.Limit{Concurrency: 1024, Queue: 1024}})}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e := benchEngine(b, bc.contract, bc.opts...)
			var seq atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				params := map[string]*altarv1.Value{"city": schema.String("Oslo"), "days": schema.Int(3)}
				for pb.Next() {
					req := &altarv1.InvokeRequest{ToolName: "get_weather", Parameters: params}
					if bc.clientID {
						n := seq.Add(1)
						req.InvocationId = "inv-" + fmt.Sprint(n)
						req.CorrelationId = "corr-" + fmt.Sprint(n)
					}
					if _, err := e.Invoke(ctx, req); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

func BenchmarkInvokeCached(b *testing.B) {
	e := benchEngine(b, cacheable(weatherContract(), 1<<40))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		params := map[string]*altarv1.Value{"city": schema.String("Oslo")}
		for pb.Next() {
			if _, err := e.Invoke(context.Background(), &altarv1.InvokeRequest{ToolName: "get_weather", Parameters: params}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
