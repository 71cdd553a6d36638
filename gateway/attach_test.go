package gateway_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/altar-gateway/altar/gateway"
	"github.com/altar-gateway/altar/gateway/audit"
	"github.com/altar-gateway/altar/gateway/runtime"
	"github.com/altar-gateway/altar/plugins/examples/calculator/calc"
	"github.com/altar-gateway/altar/plugins/sdk"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

func inProcessCalculator(t *testing.T, id string) (*runtime.InProcess, *altarv1.FulfillTools) {
	t.Helper()
	handler, err := sdk.NewHandler(calc.Tools(), sdk.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	announce := &altarv1.AnnounceRuntime{RuntimeId: id, Language: "go", ProtocolVersion: altarv1.ProtocolVersion,
		Capabilities: altarv1.CapabilitiesForLevel(altarv1.ComplianceLevel_COMPLIANCE_LEVEL_2)}
	offer := &altarv1.FulfillTools{}
	for _, tool := range handler.Tools() {
		offer.Tools = append(offer.Tools, &altarv1.ToolFulfillment{ContractName: tool.Name()})
	}
	return runtime.NewInProcess(announce, handler, 4), offer
}

func TestAttachInProcessRuntime(t *testing.T) {
	cfg := gateway.DefaultConfig()
	cfg.GRPCAddr = "127.0.0.1:0"
	cfg.ManifestPaths = []string{"../manifests/calculator.yaml", "testdata/host.yaml"}
	h, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = h.Close(context.Background()) }()

	conn, offer := inProcessCalculator(t, "builtin")
	resp := h.Attach(conn, offer)
	if len(resp.GetAccepted()) != 5 || len(resp.GetRejected()) != 0 {
		t.Fatalf("attach = %v", resp)
	}
	cc, err := grpc.NewClient(h.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	client := altarv1.NewHostServiceClient(cc)

	res, err := client.Invoke(ctxT(t), &altarv1.InvokeRequest{ToolName: "divide", Parameters: args("a", 7, "b", 2, "mode", "integer")})
	if err != nil || res.GetResult().GetPayload().GetIntValue() != 3 || res.GetResult().GetRuntimeId() != "builtin" {
		t.Fatalf("divide = %v, %v", res, err)
	}
	stream, err := client.InvokeStream(ctxT(t), &altarv1.InvokeStreamRequest{Request: &altarv1.InvokeRequest{
		ToolName: "count", Parameters: args("stop", 3, "delay_ms", 0)}})
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if p := m.GetChunk().GetPayload(); p != nil {
			got = append(got, p.GetIntValue())
		}
	}
	if len(got) != 3 || got[2] != 3 {
		t.Fatalf("count streamed %v", got)
	}

	// A runtime none of whose tools is trusted is not kept.
	stranger, _ := inProcessCalculator(t, "stranger")
	resp = h.Attach(stranger, &altarv1.FulfillTools{Tools: []*altarv1.ToolFulfillment{{ContractName: "exfiltrate"}}})
	if len(resp.GetAccepted()) != 0 || len(resp.GetRejected()) != 1 {
		t.Fatalf("attach = %v", resp)
	}
	select {
	case <-stranger.Done():
	default:
		t.Fatal("a runtime with no accepted tool was left open")
	}
	if ids := h.Runtimes().IDs(); len(ids) != 1 || ids[0] != "builtin" {
		t.Fatalf("runtimes = %v", ids)
	}

	// A runtime that closes is unrouted.
	conn.Close()
	waitUntil(t, func() bool { return len(h.Runtimes().IDs()) == 0 })
	if _, err := client.Invoke(ctxT(t), &altarv1.InvokeRequest{ToolName: "divide", Parameters: args("a", 1, "b", 1)}); err == nil {
		t.Fatal("a closed runtime still answers")
	}
}

// A runtime attached again under the same id (a bridge re-listing its
// tools) keeps the tools it still serves routed throughout: never a moment
// in which a call to one would find no runtime. What the new connection no
// longer offers is withdrawn.
func TestAttachingAgainKeepsToolsRouted(t *testing.T) {
	rec := &audit.Recorder{}
	h := startHost(t, altarv1.HostMode_HOST_MODE_STRICT, func(c *gateway.Config) {
		c.ManifestPaths = []string{"../manifests/calculator.yaml"}
		c.AuditSink = rec
	})
	conn, offer := inProcessCalculator(t, "builtin")
	if resp := h.Attach(conn, offer); len(resp.GetRejected()) != 0 {
		t.Fatalf("attach = %v", resp)
	}

	stop := make(chan struct{})
	unrouted := make(chan error, 1)
	go func() {
		defer close(unrouted)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := h.Registry().Resolve("", "builtin/add"); err != nil {
				unrouted <- err
				return
			}
		}
	}()
	for range 200 {
		again, offer := inProcessCalculator(t, "builtin")
		if resp := h.Attach(again, offer); len(resp.GetRejected()) != 0 {
			t.Fatalf("attach again = %v", resp)
		}
		conn.Close()
		conn = again
	}
	close(stop)
	if err := <-unrouted; err != nil {
		t.Fatalf("builtin/add was unrouted while the runtime was attached again: %v", err)
	}
	for _, e := range rec.Events() {
		if e.Kind == audit.KindRuntimeUnregister || e.Kind == audit.KindContractUnbind || e.Kind == audit.KindContractWithdraw {
			t.Fatalf("attaching again recorded %s for %s", e.Kind, e.Tool)
		}
	}

	// A connection that serves less: the rest is withdrawn, and stays so
	// when the contracts change (a reload offers them again only to what
	// is attached now, not to the connection this one replaced).
	fewer, _ := inProcessCalculator(t, "builtin")
	if resp := h.Attach(fewer, &altarv1.FulfillTools{Tools: []*altarv1.ToolFulfillment{{ContractName: "add"}}}); len(resp.GetAccepted()) != 1 {
		t.Fatalf("attach with one tool = %v", resp)
	}
	if _, err := h.Registry().Resolve("", "builtin/subtract"); err == nil {
		t.Fatal("builtin/subtract is still routed to a connection that does not offer it")
	}
	if _, err := h.client.ReloadManifests(ctxT(t), &altarv1.ReloadManifestsRequest{}); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if _, err := h.Registry().Resolve("", "builtin/subtract"); err == nil {
		t.Fatal("after a reload, builtin/subtract is routed to a connection that does not offer it")
	}
	if _, err := h.Registry().Resolve("", "builtin/add"); err != nil {
		t.Fatalf("builtin/add: %v", err)
	}
}
