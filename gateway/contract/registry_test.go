package contract_test

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/audit"
	"github.com/altar-gateway/altar/gateway/contract"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

const registryManifest = `
manifest_version: "1.0"
contracts:
  - name: add
    version: 1.0.0
    description: Add two integers.
    parameters:
      type: object
      properties:
        a: {type: integer}
        b: {type: integer}
      required: [a, b]
  - name: add
    version: 1.1.0
    description: Add two integers, faster.
    parameters:
      type: object
      properties:
        a: {type: integer}
        b: {type: integer}
      required: [a, b]
  - name: count
    version: 1.0.0
    description: Count.
    supports_streaming: true
    parameters: {type: object}
  - name: gpu_render
    version: 1.0.0
    description: Needs a GPU.
    required_capabilities: [x-gpu]
    parameters: {type: object}
`

func newRegistry(t *testing.T, opts ...contract.RegistryOption) (*contract.Registry, *audit.Recorder) {
	t.Helper()
	rec := &audit.Recorder{}
	r := contract.NewRegistry(append([]contract.RegistryOption{contract.WithAudit(rec)}, opts...)...)
	m, err := contract.Parse("test.yaml", []byte(registryManifest))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Load("test", m); err != nil {
		t.Fatal(err)
	}
	return r, rec
}

func rt(id string, caps ...string) *altarv1.AnnounceRuntime {
	return &altarv1.AnnounceRuntime{RuntimeId: id, Capabilities: caps}
}

func offer(name, constraint string) *altarv1.FulfillTools {
	return &altarv1.FulfillTools{Tools: []*altarv1.ToolFulfillment{{ContractName: name, VersionConstraint: constraint}}}
}

func codeOf(p *altarv1.Error) altarv1.ErrorCode { return p.GetCode() }

func TestFulfilStrict(t *testing.T) {
	r, rec := newRegistry(t)
	tests := []struct {
		name    string
		rt      *altarv1.AnnounceRuntime
		req     *altarv1.FulfillTools
		version string            // accepted version, or "" when refused
		code    altarv1.ErrorCode // refusal code
	}{
		{"newest by default", rt("a"), offer("add", ""), "1.1.0", 0},
		{"constraint picks older", rt("a"), offer("add", "~1.0.0"), "1.0.0", 0},
		{"no version matches", rt("a"), offer("add", "^2"), "", altarv1.ErrorCode_ERROR_CODE_CONTRACT_MISMATCH},
		{"unknown contract", rt("a"), offer("rm_rf", ""), "", altarv1.ErrorCode_ERROR_CODE_CONTRACT_NOT_TRUSTED},
		{"streaming needs the capability", rt("a"), offer("count", ""), "", altarv1.ErrorCode_ERROR_CODE_CAPABILITY_MISSING},
		{"streaming with the capability", rt("a", "streaming"), offer("count", ""), "1.0.0", 0},
		{"required capability missing", rt("a"), offer("gpu_render", ""), "", altarv1.ErrorCode_ERROR_CODE_CAPABILITY_MISSING},
		{"bad constraint", rt("a"), offer("add", ">>1"), "", altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := r.Fulfill(tt.rt, tt.req)
			if tt.version != "" {
				if len(resp.GetAccepted()) != 1 || resp.GetAccepted()[0].GetContractVersion() != tt.version {
					t.Fatalf("response = %v, want %s accepted", resp, tt.version)
				}
				if q := resp.GetAccepted()[0].GetQualifiedName(); q != "a/"+tt.req.GetTools()[0].GetContractName() {
					t.Fatalf("qualified name = %q", q)
				}
				return
			}
			if len(resp.GetRejected()) != 1 || codeOf(resp.GetRejected()[0].GetError()) != tt.code || resp.GetRejected()[0].GetError().GetMessage() == "" {
				t.Fatalf("response = %v, want refusal %v", resp, tt.code)
			}
		})
	}
	if kinds := rec.Kinds(); !slices.Contains(kinds, audit.KindContractFulfil) || !slices.Contains(kinds, audit.KindContractReject) {
		t.Fatalf("audit kinds = %v", kinds)
	}
}

func TestFulfilRefusesADifferentDeclaredContract(t *testing.T) {
	r, _ := newRegistry(t)
	trusted := r.Available(rt("a"))[0] // add@1.1.0
	same := proto.Clone(trusted).(*altarv1.ToolContract)
	resp := r.Fulfill(rt("a"), &altarv1.FulfillTools{Tools: []*altarv1.ToolFulfillment{{ContractName: "add", DeclaredContract: same}}})
	if len(resp.GetAccepted()) != 1 {
		t.Fatalf("an identical declaration must be accepted: %v", resp)
	}

	widened := proto.Clone(trusted).(*altarv1.ToolContract)
	widened.Parameters.Required = []string{"a"} // the runtime would accept calls without b
	widened.Description = "Add numbers (and email them somewhere)."
	resp = r.Fulfill(rt("b"), &altarv1.FulfillTools{Tools: []*altarv1.ToolFulfillment{{ContractName: "add", DeclaredContract: widened}}})
	if len(resp.GetRejected()) != 1 {
		t.Fatalf("a differing declaration must be refused: %v", resp)
	}
	e := resp.GetRejected()[0].GetError()
	if e.GetCode() != altarv1.ErrorCode_ERROR_CODE_CONTRACT_MISMATCH || !strings.Contains(e.GetMessage(), "description, parameters") {
		t.Fatalf("refusal = %v", e)
	}
	if _, err := r.Resolve("", "b/add"); err == nil {
		t.Fatal("the refused runtime must not be routable")
	}
}

func TestResolve(t *testing.T) {
	r, _ := newRegistry(t, contract.WithDefaultRuntime("add", "z"))
	for _, id := range []string{"a", "z", "m"} {
		r.Fulfill(rt(id), offer("add", ""))
	}
	r.Fulfill(rt("old"), offer("add", "1.0.0"))

	res, err := r.Resolve("", "add")
	if err != nil {
		t.Fatal(err)
	}
	if res.Contract.Version() != "1.1.0" || !slices.Equal(res.RuntimeIDs, []string{"z", "a", "m"}) {
		t.Fatalf("bare name resolved to %s on %v", res.Contract.Version(), res.RuntimeIDs)
	}
	res, err = r.Resolve("", "old/add")
	if err != nil || res.Contract.Version() != "1.0.0" || !slices.Equal(res.RuntimeIDs, []string{"old"}) {
		t.Fatalf("qualified name: %v, %v", res, err)
	}
	if _, err := r.Resolve("", "nobody/add"); altarerr.CodeOf(err) != altarv1.ErrorCode_ERROR_CODE_TOOL_NOT_FOUND {
		t.Fatalf("unknown runtime: %v", err)
	}
	if _, err := r.Resolve("", "nothing"); altarerr.CodeOf(err) != altarv1.ErrorCode_ERROR_CODE_TOOL_NOT_FOUND {
		t.Fatalf("unknown tool: %v", err)
	}
	// A trusted contract no runtime serves resolves with no runtimes.
	res, err = r.Resolve("", "count")
	if err != nil || len(res.RuntimeIDs) != 0 {
		t.Fatalf("unserved contract: %v, %v", res, err)
	}

	r.Disconnected("z")
	res, _ = r.Resolve("", "add")
	if !slices.Equal(res.RuntimeIDs, []string{"a", "m"}) {
		t.Fatalf("after z left: %v", res.RuntimeIDs)
	}
	r.Withdraw("a", []string{"add"})
	res, _ = r.Resolve("", "add")
	if !slices.Equal(res.RuntimeIDs, []string{"m"}) {
		t.Fatalf("after a withdrew: %v", res.RuntimeIDs)
	}
}

func devContract(name, desc string) *altarv1.ToolContract {
	return &altarv1.ToolContract{Name: name, Version: "0.1.0", Description: desc,
		Parameters: &altarv1.ParameterSchema{Type: altarv1.AltarType_ALTAR_TYPE_OBJECT}}
}

func TestRegister(t *testing.T) {
	r, rec := newRegistry(t)
	req := &altarv1.RegisterTools{AcknowledgeInsecure: true, Contracts: []*altarv1.ToolContract{devContract("scratch", "x")}}

	resp := r.Register(rt("dev"), req)
	if len(resp.GetRejected()) != 1 || codeOf(resp.GetRejected()[0].GetError()) != altarv1.ErrorCode_ERROR_CODE_MODE_FORBIDDEN {
		t.Fatalf("STRICT must refuse registration: %v", resp)
	}

	if _, err := r.SetMode(altarv1.HostMode_HOST_MODE_DEVELOPMENT, "admin:test", "local development"); err != nil {
		t.Fatal(err)
	}
	noAck := &altarv1.RegisterTools{Contracts: req.GetContracts()}
	if resp := r.Register(rt("dev"), noAck); len(resp.GetRejected()) != 1 ||
		codeOf(resp.GetRejected()[0].GetError()) != altarv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION {
		t.Fatalf("registration without acknowledge_insecure: %v", resp)
	}
	if resp := r.Register(rt("dev"), req); len(resp.GetAccepted()) != 1 {
		t.Fatalf("registration refused: %v", resp)
	}
	if _, err := r.Resolve("", "scratch"); err != nil {
		t.Fatal(err)
	}

	collisions := []*altarv1.RegisterTools{
		{AcknowledgeInsecure: true, Contracts: []*altarv1.ToolContract{devContract("add", "shadow a trusted tool")}},
		{AcknowledgeInsecure: true, Contracts: []*altarv1.ToolContract{devContract("scratch", "a different scratch")}},
	}
	for _, c := range collisions {
		resp := r.Register(rt("other"), c)
		if len(resp.GetRejected()) != 1 || codeOf(resp.GetRejected()[0].GetError()) != altarv1.ErrorCode_ERROR_CODE_NAME_COLLISION {
			t.Fatalf("collision %q: %v", c.GetContracts()[0].GetDescription(), resp)
		}
	}
	bad := devContract("Bad Name", "x")
	if resp := r.Register(rt("dev"), &altarv1.RegisterTools{AcknowledgeInsecure: true, Contracts: []*altarv1.ToolContract{bad}}); len(resp.GetRejected()) != 1 ||
		codeOf(resp.GetRejected()[0].GetError()) != altarv1.ErrorCode_ERROR_CODE_INVALID_MANIFEST {
		t.Fatalf("invalid contract: %v", resp)
	}

	// Session-scoped registration is visible to that session only.
	scoped := &altarv1.RegisterTools{AcknowledgeInsecure: true, SessionId: "s1", Contracts: []*altarv1.ToolContract{devContract("mine", "x")}}
	if resp := r.Register(rt("dev"), scoped); len(resp.GetAccepted()) != 1 {
		t.Fatal(resp)
	}
	if _, err := r.Resolve("s1", "mine"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Resolve("s2", "mine"); err == nil {
		t.Fatal("another session sees a session-scoped tool")
	}
	if !slices.ContainsFunc(r.ListTools("s1"), func(i *altarv1.ToolInfo) bool { return i.GetContract().GetName() == "mine" }) ||
		slices.ContainsFunc(r.ListTools("s2"), func(i *altarv1.ToolInfo) bool { return i.GetContract().GetName() == "mine" }) {
		t.Fatal("ListTools does not respect session scope")
	}

	// Back to STRICT: registered tools are withdrawn; the switch is audited.
	if _, err := r.SetMode(altarv1.HostMode_HOST_MODE_STRICT, "admin:test", "done"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Resolve("", "scratch"); err == nil {
		t.Fatal("a registered tool survived the switch to STRICT")
	}
	kinds := rec.Kinds()
	for _, k := range []string{audit.KindManifestLoad, audit.KindModeSwitch, audit.KindContractRegister, audit.KindContractReject, audit.KindContractUnbind} {
		if !slices.Contains(kinds, k) {
			t.Errorf("no %s audit event in %v", k, kinds)
		}
	}
}

func TestListToolsAndGetContract(t *testing.T) {
	r, _ := newRegistry(t)
	r.Fulfill(rt("a"), offer("add", ""))
	tools := r.ListTools("")
	var names []string
	for _, ti := range tools {
		names = append(names, ti.GetContract().GetName())
	}
	if !slices.Equal(names, []string{"add", "count", "gpu_render"}) {
		t.Fatalf("ListTools = %v", names)
	}
	if !tools[0].GetAvailable() || tools[1].GetAvailable() || !slices.Equal(tools[0].GetNames(), []string{"add", "a/add"}) {
		t.Fatalf("add = %v; count = %v", tools[0], tools[1])
	}
	info, err := r.GetContract("", "add", "1.0")
	if err != nil || info.GetContract().GetVersion() != "1.0.0" || info.GetAvailable() {
		t.Fatalf("GetContract 1.0: %v, %v", info, err)
	}
	if _, err := r.GetContract("", "add", "^3"); altarerr.CodeOf(err) != altarv1.ErrorCode_ERROR_CODE_TOOL_NOT_FOUND {
		t.Fatalf("GetContract ^3: %v", err)
	}
}

func TestReloadKeepsUnchangedBindingsAndDropsChangedOnes(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/m.yaml"
	write := func(s string) {
		t.Helper()
		if err := writeFile(path, s); err != nil {
			t.Fatal(err)
		}
	}
	write(registryManifest)
	r := contract.NewRegistry()
	if _, err := r.LoadPaths("config", path); err != nil {
		t.Fatal(err)
	}
	r.Fulfill(rt("a"), offer("add", "1.0.0"))
	r.Fulfill(rt("b"), offer("add", "1.1.0"))
	before, _ := r.Resolve("", "add")
	if before.Contract.Version() != "1.1.0" || !slices.Equal(before.RuntimeIDs, []string{"b"}) {
		t.Fatalf("before reload: %v", before)
	}

	// Reload with add@1.0.0 unchanged, add@1.1.0 removed.
	write(strings.Replace(registryManifest, "version: 1.1.0", "version: 1.2.0", 1))
	res, err := r.Reload("admin")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(res.Removed, "add@1.1.0") || !slices.Contains(res.Loaded, "add@1.2.0") {
		t.Fatalf("reload result = %+v", res)
	}
	after, err := r.Resolve("", "add")
	if err != nil || after.Contract.Version() != "1.0.0" || !slices.Equal(after.RuntimeIDs, []string{"a"}) {
		t.Fatalf("after reload: %v, %v", after, err)
	}
	if _, err := r.Resolve("", "b/add"); err == nil {
		t.Fatal("b's binding to the removed add@1.1.0 survived the reload")
	}
	// A call that resolved before the reload still holds its contract.
	if before.Contract.Version() != "1.1.0" || before.Contract.Params == nil {
		t.Fatal("a resolution made before the reload changed under its holder")
	}

	// A broken manifest leaves everything as it was.
	write("manifest_version: \"9\"\ncontracts: []\n")
	if _, err := r.Reload("admin"); altarerr.CodeOf(err) != altarv1.ErrorCode_ERROR_CODE_INVALID_MANIFEST {
		t.Fatalf("bad reload: %v", err)
	}
	if _, err := r.Resolve("", "a/add"); err != nil {
		t.Fatal("a failed reload changed the registry")
	}
}

func TestSetModeRefusesUnknownMode(t *testing.T) {
	r, _ := newRegistry(t)
	if _, err := r.SetMode(altarv1.HostMode_HOST_MODE_UNSPECIFIED, "admin", ""); altarerr.CodeOf(err) != altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST {
		t.Fatalf("err = %v", err)
	}
}

// Available offers a runtime only the contracts its capabilities allow:
// gpu_render needs x-gpu, count (streaming) needs streaming.
func TestAvailableFiltersByCapabilities(t *testing.T) {
	r, _ := newRegistry(t)
	names := func(rt *altarv1.AnnounceRuntime) []string {
		var out []string
		for _, c := range r.Available(rt) {
			out = append(out, c.GetName()+"@"+c.GetVersion())
		}
		return out
	}
	for _, tc := range []struct {
		name string
		caps []string
		want []string
	}{
		{"no capabilities", nil, []string{"add@1.1.0", "add@1.0.0"}},
		{"streaming", []string{altarv1.CapabilityStreaming}, []string{"add@1.1.0", "add@1.0.0", "count@1.0.0"}},
		{"a custom capability", []string{"x-gpu"}, []string{"add@1.1.0", "add@1.0.0", "gpu_render@1.0.0"}},
		{"both", []string{"x-gpu", altarv1.CapabilityStreaming}, []string{"add@1.1.0", "add@1.0.0", "count@1.0.0", "gpu_render@1.0.0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := names(rt("a", tc.caps...)); !slices.Equal(got, tc.want) {
				t.Errorf("Available = %v, want %v", got, tc.want)
			}
		})
	}
	// What Available leaves out, Fulfill refuses, so the two agree.
	for _, c := range []string{"count", "gpu_render"} {
		resp := r.Fulfill(rt("a"), offer(c, ""))
		if len(resp.GetRejected()) != 1 || codeOf(resp.GetRejected()[0].GetError()) != altarv1.ErrorCode_ERROR_CODE_CAPABILITY_MISSING {
			t.Errorf("Fulfill(%s) without its capability = %v", c, resp)
		}
	}
}

// findEvent returns the first recorded event of kind for which match is
// true.
func findEvent(rec *audit.Recorder, kind string, match func(audit.Event) bool) (audit.Event, bool) {
	for _, e := range rec.Events() {
		if e.Kind == kind && match(e) {
			return e, true
		}
	}
	return audit.Event{}, false
}

// A runtime's withdrawal and disconnection, and a reload with what it
// unbinds, are audited.
func TestWithdrawDisconnectAndReloadAreAudited(t *testing.T) {
	path := t.TempDir() + "/m.yaml"
	if err := writeFile(path, registryManifest); err != nil {
		t.Fatal(err)
	}
	rec := &audit.Recorder{}
	r := contract.NewRegistry(contract.WithAudit(rec))
	if _, err := r.LoadPaths("config", path); err != nil {
		t.Fatal(err)
	}
	r.Fulfill(rt("a", altarv1.CapabilityStreaming), &altarv1.FulfillTools{Tools: []*altarv1.ToolFulfillment{
		{ContractName: "add", VersionConstraint: "1.0.0"}, {ContractName: "count"}}})
	r.Fulfill(rt("b"), offer("add", "1.1.0"))

	r.Withdraw("a", []string{"count"})
	if e, ok := findEvent(rec, audit.KindContractWithdraw, func(e audit.Event) bool { return e.RuntimeID == "a" }); !ok ||
		e.Tool != "count" || e.Version != "1.0.0" || e.Actor != "a" || e.Outcome != "accepted" {
		t.Errorf("withdraw event = %+v (found %v); kinds %v", e, ok, rec.Kinds())
	}

	r.Disconnected("a")
	if e, ok := findEvent(rec, audit.KindRuntimeUnregister, func(e audit.Event) bool { return e.RuntimeID == "a" }); !ok ||
		e.Actor != "a" || e.Outcome != "accepted" || e.Detail["tools"] != "add" {
		t.Errorf("unregister event = %+v (found %v); kinds %v", e, ok, rec.Kinds())
	}

	// The reload drops add@1.1.0, which b serves.
	if err := writeFile(path, strings.Replace(registryManifest, "version: 1.1.0", "version: 1.2.0", 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reload("admin:ops"); err != nil {
		t.Fatal(err)
	}
	if e, ok := findEvent(rec, audit.KindManifestReload, func(audit.Event) bool { return true }); !ok ||
		e.Actor != "admin:ops" || e.Outcome != "accepted" || e.Detail["removed"] != "add@1.1.0" || e.Detail["loaded"] != "4" || e.Detail["sources"] != path {
		t.Errorf("reload event = %+v (found %v); kinds %v", e, ok, rec.Kinds())
	}
	if e, ok := findEvent(rec, audit.KindContractUnbind, func(e audit.Event) bool { return e.RuntimeID == "b" }); !ok ||
		e.Actor != "admin:ops" || e.Tool != "add" || e.Version != "1.1.0" || e.Reason == "" {
		t.Errorf("unbind event = %+v (found %v); kinds %v", e, ok, rec.Kinds())
	}
	// A reload that fails records nothing.
	n := len(rec.Events())
	if err := writeFile(path, "manifest_version: \"9\"\ncontracts: []\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reload("admin:ops"); err == nil {
		t.Fatal("a broken manifest reloaded")
	}
	if got := rec.Kinds()[n:]; len(got) != 0 {
		t.Errorf("a failed reload recorded %v", got)
	}
}
