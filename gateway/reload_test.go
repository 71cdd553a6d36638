package gateway_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/altar-gateway/altar/gateway"
	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/audit"
	"github.com/altar-gateway/altar/plugins/sdk"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// within waits for a value on ch for at most testTimeout.
func within[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(testTimeout):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// serveTools connects an SDK runtime serving exactly tools and waits until
// the Host has accepted at least one of them. The runtime stops at the
// test's end.
func serveTools(t *testing.T, h *testHost, id string, tools []sdk.Tool, opts ...sdk.Option) *sdk.Runtime {
	t.Helper()
	rt, err := sdk.New(id, tools, append([]sdk.Option{quiet}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	serve(t, h, rt)
	waitUntil(t, func() bool {
		f := rt.Status().Fulfilment
		return f != nil && len(f.Accepted) > 0
	})
	return rt
}

// invokeReply is one Invoke made on another goroutine.
type invokeReply struct {
	resp *altarv1.InvokeResponse
	err  error
}

func goInvoke(h *testHost, req *altarv1.InvokeRequest) <-chan invokeReply {
	out := make(chan invokeReply, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		resp, err := h.client.Invoke(ctx, req)
		out <- invokeReply{resp, err}
	}()
	return out
}

// The reload's changes to testdata/host.yaml: block gets a new version
// whose tag is at most 3 characters, and a new contract, shout, is trusted.
const (
	blockBefore = `  - name: block
    version: 1.0.0
    description: Wait until cancelled; not idempotent.
    parameters: { type: object, properties: { tag: { type: string } } }
`
	blockAfter = `  - name: block
    version: 1.1.0
    description: Wait until cancelled; not idempotent. Short tags only.
    parameters: { type: object, properties: { tag: { type: string, max_length: 3 } } }

  - name: shout
    version: 1.0.0
    description: Upper-case a word.
    parameters: { type: object, properties: { word: { type: string } }, required: [word] }
    return_type: { type: string }
`
)

// A manifest reload that changes the very contract a call is running
// under does not drop the call: the runtime's answer, arriving after the
// reload, reaches the caller. Calls made after the reload are validated
// against, and routed by, the reloaded contracts.
func TestReloadKeepsCallsInFlight(t *testing.T) {
	orig, err := os.ReadFile("testdata/host.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(orig), blockBefore) {
		t.Fatal("testdata/host.yaml no longer defines block as this test expects; update blockBefore")
	}
	path := filepath.Join(t.TempDir(), "host.yaml")
	if err := os.WriteFile(path, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	rec := &audit.Recorder{}
	h := startHost(t, altarv1.HostMode_HOST_MODE_STRICT, func(c *gateway.Config) {
		c.ManifestPaths = []string{path}
		c.AuditSink = rec
	})
	tlA := newTools()
	startRuntime(t, h, "rt-a", tlA)
	ctx := ctxT(t)

	connectedAt := runtimeInfo(t, h, "rt-a").GetConnectedAt().AsTime()
	inFlight := goInvoke(h, &altarv1.InvokeRequest{ToolName: "block", Parameters: args("tag", "in-flight")})
	if got := within(t, tlA.started, "the call to start on rt-a"); got != "rt-a:in-flight" {
		t.Fatalf("started %q", got)
	}

	changed := strings.Replace(string(orig), blockBefore, blockAfter, 1)
	if err := os.WriteFile(path, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	reload, err := h.client.ReloadManifests(ctx, &altarv1.ReloadManifestsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(reload.GetLoaded(), "block@1.1.0") || !slices.Contains(reload.GetLoaded(), "shout@1.0.0") ||
		!slices.Equal(reload.GetRemoved(), []string{"block@1.0.0"}) {
		t.Fatalf("reload = %v", reload)
	}

	// rt-a's binding to block@1.0.0 is gone; the Host offers rt-a the
	// contracts again and it fulfils block@1.1.0 without reconnecting. Its
	// listing shows the new version alone.
	waitUntil(t, func() bool {
		var versions []string
		for _, tool := range runtimeInfo(t, h, "rt-a").GetTools() {
			if tool.GetContractName() == "block" {
				versions = append(versions, tool.GetContractVersion())
			}
		}
		return slices.Equal(versions, []string{"1.1.0"})
	})
	// The call it is running is still waiting for its answer.
	select {
	case r := <-inFlight:
		t.Fatalf("the call in flight ended with the reload: %v, %v", r.resp, r.err)
	default:
	}
	close(tlA.release)
	r := within(t, inFlight, "the call in flight to finish")
	if r.err != nil {
		t.Fatalf("the call in flight failed: %v", r.err)
	}
	if got := r.resp.GetResult().GetPayload().GetStringValue(); got != "released by rt-a" || r.resp.GetResult().GetRuntimeId() != "rt-a" {
		t.Fatalf("the call in flight answered %v", r.resp.GetResult())
	}
	inv, err := h.client.GetInvocation(ctx, &altarv1.GetInvocationRequest{InvocationId: r.resp.GetResult().GetInvocationId()})
	if err != nil || inv.GetInvocation().GetState() != altarv1.InvocationState_INVOCATION_STATE_COMPLETED {
		t.Fatalf("invocation = %v, %v", inv, err)
	}

	// A contract the reload left alone keeps its binding.
	if resp, err := h.client.Invoke(ctx, &altarv1.InvokeRequest{ToolName: "rt-a/echo", Parameters: args("message", "still")}); err != nil || resp.GetResult().GetPayload().GetStringValue() != "still" {
		t.Fatalf("rt-a/echo after the reload: %v, %v", resp, err)
	}
	// New calls are checked against block@1.1.0: a tag the old contract
	// accepted is now too long.
	_, err = h.client.Invoke(ctx, &altarv1.InvokeRequest{ToolName: "block", Parameters: args("tag", "too-long")})
	if e := altarerr.From(err); e.Code != altarv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENTS || len(e.Fields) != 1 || e.Fields[0].GetPath() != "/tag" {
		t.Fatalf("a call against the reloaded block: %v, want INVALID_ARGUMENTS at /tag", err)
	}
	info, err := h.client.GetContract(ctx, &altarv1.GetContractRequest{ToolName: "block"})
	if err != nil || info.GetTool().GetContract().GetVersion() != "1.1.0" {
		t.Fatalf("GetContract(block) = %v, %v", info, err)
	}

	if got := runtimeInfo(t, h, "rt-a").GetConnectedAt().AsTime(); !got.Equal(connectedAt) {
		t.Fatalf("rt-a reconnected (at %v, first at %v)", got, connectedAt)
	}

	// A runtime that fulfils after the reload serves the new contracts.
	tlB := newTools()
	close(tlB.release)
	shout := sdk.Func("shout", "Upper-case a word.", func(_ context.Context, in struct {
		Word string `json:"word"`
	}) (string, error) {
		return strings.ToUpper(in.Word), nil
	})
	serveTools(t, h, "rt-b", append(tlB.list("rt-b"), shout))
	waitUntil(t, func() bool { _, err := h.Registry().Resolve("", "rt-b/shout"); return err == nil })
	resp, err := h.client.Invoke(ctx, &altarv1.InvokeRequest{ToolName: "shout", Parameters: args("word", "hey")})
	if err != nil || resp.GetResult().GetPayload().GetStringValue() != "HEY" {
		t.Fatalf("shout: %v, %v", resp, err)
	}
	resp, err = h.client.Invoke(ctx, &altarv1.InvokeRequest{ToolName: "rt-b/block", Parameters: args("tag", "new")})
	if err != nil || resp.GetResult().GetRuntimeId() != "rt-b" {
		t.Fatalf("block@1.1.0: %v, %v; want it served by rt-b", resp, err)
	}

	// The reload and the binding it dropped are audited.
	var reloaded, unbound bool
	for _, e := range rec.Events() {
		switch {
		case e.Kind == audit.KindManifestReload:
			reloaded = e.Outcome == "accepted" && e.Detail["removed"] == "block@1.0.0"
		case e.Kind == audit.KindContractUnbind && e.RuntimeID == "rt-a" && e.Tool == "block":
			unbound = e.Version == "1.0.0"
		}
	}
	if !reloaded || !unbound {
		t.Fatalf("audit events %v lack the reload or rt-a's unbinding of block", rec.Kinds())
	}
}

// A contract a reload adds reaches the runtimes already connected: one that
// serves it (and was refused it at its bootstrap, when it was not trusted)
// fulfils it when the Host offers the contracts again, without
// reconnecting.
func TestReloadOffersNewContractsToConnectedRuntimes(t *testing.T) {
	orig, err := os.ReadFile("testdata/host.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "host.yaml")
	if err := os.WriteFile(path, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	h := startHost(t, altarv1.HostMode_HOST_MODE_STRICT, func(c *gateway.Config) { c.ManifestPaths = []string{path} })
	tl := newTools()
	shout := sdk.Func("shout", "Upper-case a word.", func(_ context.Context, in struct {
		Word string `json:"word"`
	}) (string, error) {
		return strings.ToUpper(in.Word), nil
	})
	rt := serveTools(t, h, "rt-a", append(tl.list("rt-a"), shout))
	ctx := ctxT(t)
	if _, err := h.client.Invoke(ctx, &altarv1.InvokeRequest{ToolName: "shout", Parameters: args("word", "hey")}); altarerr.CodeOf(err) != altarv1.ErrorCode_ERROR_CODE_TOOL_NOT_FOUND {
		t.Fatalf("shout before it is trusted: %v, want TOOL_NOT_FOUND", err)
	}

	changed := strings.Replace(string(orig), blockBefore, blockAfter, 1)
	if err := os.WriteFile(path, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.ReloadManifests(ctx, &altarv1.ReloadManifestsRequest{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { _, err := h.Registry().Resolve("", "rt-a/shout"); return err == nil })
	resp, err := h.client.Invoke(ctx, &altarv1.InvokeRequest{ToolName: "shout", Parameters: args("word", "hey")})
	if err != nil || resp.GetResult().GetPayload().GetStringValue() != "HEY" {
		t.Fatalf("shout after the reload: %v, %v", resp, err)
	}
	if c := rt.Status().Connects; c != 1 {
		t.Fatalf("the runtime connected %d times; it should have fulfilled on the offer", c)
	}
}

// A runtime attached in process has no stream to be offered the contracts
// on: after a reload changes a contract it serves, the Host fulfils it
// again from the runtime's own offer, and it stays callable.
func TestReloadFulfilsInProcessRuntimesAgain(t *testing.T) {
	orig, err := os.ReadFile("../manifests/calculator.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const before = "description: Add two numbers and return their sum."
	if !strings.Contains(string(orig), before) {
		t.Fatal("manifests/calculator.yaml no longer describes add as this test expects")
	}
	path := filepath.Join(t.TempDir(), "calculator.yaml")
	if err := os.WriteFile(path, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	h := startHost(t, altarv1.HostMode_HOST_MODE_STRICT, func(c *gateway.Config) { c.ManifestPaths = []string{path} })
	conn, offer := inProcessCalculator(t, "builtin")
	if resp := h.Attach(conn, offer); len(resp.GetAccepted()) == 0 {
		t.Fatalf("attach = %v", resp)
	}
	changed := strings.Replace(string(orig), before, "description: Add two numbers (reloaded).", 1)
	if err := os.WriteFile(path, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if _, err := h.client.ReloadManifests(ctx, &altarv1.ReloadManifestsRequest{}); err != nil {
		t.Fatal(err)
	}
	resp, err := h.client.Invoke(ctx, &altarv1.InvokeRequest{ToolName: "builtin/add", Parameters: args("a", 2, "b", 3)})
	if err != nil || resp.GetResult().GetPayload().GetDoubleValue() != 5 {
		t.Fatalf("builtin/add after the reload: %v, %v", resp, err)
	}
	info, err := h.client.GetContract(ctx, &altarv1.GetContractRequest{ToolName: "add"})
	if err != nil || info.GetTool().GetContract().GetDescription() != "Add two numbers (reloaded)." {
		t.Fatalf("GetContract(add) = %v, %v", info, err)
	}
}
