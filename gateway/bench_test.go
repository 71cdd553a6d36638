package gateway_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/altar-gateway/altar/gateway"
	"github.com/altar-gateway/altar/gateway/runtime"
	"github.com/altar-gateway/altar/plugins/examples/calculator/calc"
	"github.com/altar-gateway/altar/plugins/sdk"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// BenchmarkInvokeInProcess is the Host's own cost of a call with no
// transport on either side: Host.Invoke (session, resolution, validation,
// tracking, statistics) to the calculator attached in process, as the MCP
// facade and the built-in example runtime use it.
//
//	go test -run '^$' -bench InvokeInProcess -benchmem -count 6 ./gateway/
func BenchmarkInvokeInProcess(b *testing.B) {
	for _, bc := range []struct {
		name    string
		session bool
	}{{"no session", false}, {"session", true}} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := gateway.DefaultConfig()
			cfg.GRPCAddr = "127.0.0.1:0"
			cfg.ManifestPaths = []string{"../manifests/calculator.yaml"}
			h, err := gateway.New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = h.Close(context.Background()) }()
			handler, err := sdk.NewHandler(calc.Tools(), sdk.WithLogger(slog.New(slog.DiscardHandler)))
			if err != nil {
				b.Fatal(err)
			}
			announce := &altarv1.AnnounceRuntime{RuntimeId: "builtin", Language: "go", ProtocolVersion: altarv1.ProtocolVersion,
				Capabilities: altarv1.CapabilitiesForLevel(altarv1.ComplianceLevel_COMPLIANCE_LEVEL_2)}
			offer := &altarv1.FulfillTools{}
			for _, tool := range handler.Tools() {
				offer.Tools = append(offer.Tools, &altarv1.ToolFulfillment{ContractName: tool.Name()})
			}
			if resp := h.Attach(runtime.NewInProcess(announce, handler, 4), offer); len(resp.GetAccepted()) == 0 {
				b.Fatalf("attach = %v", resp)
			}
			ctx := context.Background()
			var sessionID string
			if bc.session {
				s, err := h.CreateSession(ctx, &altarv1.CreateSessionRequest{})
				if err != nil {
					b.Fatal(err)
				}
				sessionID = s.GetSession().GetSessionId()
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					res, err := h.Invoke(ctx, &altarv1.InvokeRequest{SessionId: sessionID, ToolName: "subtract",
						Parameters: map[string]*altarv1.Value{"a": {Kind: &altarv1.Value_IntValue{IntValue: 7}}, "b": {Kind: &altarv1.Value_IntValue{IntValue: 2}}}})
					if err != nil || res.GetResult().GetStatus() != altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS {
						b.Fatalf("invoke = %v, %v", res, err)
					}
				}
			})
		})
	}
}
