package launch_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/audit"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// rawPrefix starts the lines in which the test plugin's raw mode reports
// the Host's answers and the calls it received (internal/testplugin/raw.go).
const rawPrefix = "testplugin raw: "

// rawLines returns what the raw plugin name wrote to its standard error
// after rawPrefix+what, as the Host logged it ("plugin stderr" records).
func (f *fixture) rawLines(name, what string) []string {
	var out []string
	for _, rec := range f.logs.records() {
		line, _ := rec["line"].(string)
		if rec["plugin"] == name && rec["msg"] == "plugin stderr" && strings.HasPrefix(line, rawPrefix+what) {
			out = append(out, strings.TrimPrefix(line, rawPrefix+what))
		}
	}
	return out
}

// rawAnswer waits for the raw plugin's report of the Host's answer and
// decodes it into m.
func (f *fixture) rawAnswer(t *testing.T, name, what string, m proto.Message) {
	t.Helper()
	waitFor(t, "the plugin's report: "+what, func() bool { return len(f.rawLines(name, what)) > 0 })
	lines := f.rawLines(name, what)
	if len(lines) != 1 {
		t.Fatalf("%d reports of %q; want 1 (was the plugin restarted?): %q", len(lines), what, lines)
	}
	if err := protojson.Unmarshal([]byte(strings.TrimSpace(lines[0])), m); err != nil {
		t.Fatalf("decoding %q: %v", lines[0], err)
	}
}

func rejections(rs []*altarv1.ToolRejection) map[string]altarv1.ErrorCode {
	out := map[string]altarv1.ErrorCode{}
	for _, r := range rs {
		out[r.GetToolName()] = r.GetError().GetCode()
	}
	return out
}

func acceptedNames(as []*altarv1.FulfilledTool) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.GetContractName())
	}
	slices.Sort(out)
	return out
}

// auditedTools lists, sorted, the tools of the runtime's audit events of
// one kind (a tool twice when audited twice).
func (f *fixture) auditedTools(runtimeID, kind string) []string {
	var out []string
	for _, e := range f.audit.Events() {
		if e.RuntimeID == runtimeID && e.Kind == kind {
			out = append(out, e.Tool)
		}
	}
	slices.Sort(out)
	return out
}

// TestAPluginCannotWidenItsContracts: a plugin that speaks the runtime
// protocol by hand (the test plugin's raw mode; the SDK never offers what
// the Host did not list) offers a tool no manifest has (sneak), declares a
// wider contract than the Host's for a manifest tool (add: an extra
// parameter, one fewer required), and registers tools (scratch, and its
// wider add). Over the plugin transport the Host refuses each, as for a
// runtime that dialled in: it answers with rejections, audits them as
// contract.reject, routes none of them, and no call for them reaches the
// plugin. The one offer that matches the Host's contract exactly (pid) is
// accepted and served, so the plugin's protocol is sound and a wrongly
// routed tool would have answered. Registering is refused in STRICT mode;
// in DEVELOPMENT mode scratch is registered, while the wider add is still
// refused (a trusted contract's name).
func TestAPluginCannotWidenItsContracts(t *testing.T) {
	for _, tc := range []struct {
		mode     altarv1.HostMode
		register map[string]altarv1.ErrorCode // RegisterTools rejections
		scratch  bool                         // whether scratch is registered
	}{
		{
			mode: altarv1.HostMode_HOST_MODE_STRICT,
			register: map[string]altarv1.ErrorCode{
				"scratch": altarv1.ErrorCode_ERROR_CODE_MODE_FORBIDDEN,
				"add":     altarv1.ErrorCode_ERROR_CODE_MODE_FORBIDDEN,
			},
		},
		{
			mode:     altarv1.HostMode_HOST_MODE_DEVELOPMENT,
			register: map[string]altarv1.ErrorCode{"add": altarv1.ErrorCode_ERROR_CODE_NAME_COLLISION},
			scratch:  true,
		},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			raw := plugin("raw")
			raw.Env = []string{"TESTPLUGIN_RAW=1"}
			f, err := start(t, tc.mode, raw)
			if err != nil {
				t.Fatal(err)
			}

			// The Host's answers, as the plugin received them.
			var fulfil altarv1.FulfillToolsResponse
			f.rawAnswer(t, "raw", "fulfil answered ", &fulfil)
			if got := acceptedNames(fulfil.GetAccepted()); !slices.Equal(got, []string{"pid"}) {
				t.Errorf("FulfillTools accepted %v; want only pid", got)
			}
			wantFulfil := map[string]altarv1.ErrorCode{
				"sneak": altarv1.ErrorCode_ERROR_CODE_CONTRACT_NOT_TRUSTED,
				"add":   altarv1.ErrorCode_ERROR_CODE_CONTRACT_MISMATCH,
			}
			if got := rejections(fulfil.GetRejected()); !maps.Equal(got, wantFulfil) {
				t.Errorf("FulfillTools rejected %v; want %v", got, wantFulfil)
			}
			for _, r := range fulfil.GetRejected() {
				if r.GetToolName() == "add" && !strings.Contains(r.GetError().GetMessage(), "parameters") {
					t.Errorf("the refusal of the wider add does not name its parameters: %q", r.GetError().GetMessage())
				}
			}
			var register altarv1.RegisterToolsResponse
			f.rawAnswer(t, "raw", "register answered ", &register)
			if got := rejections(register.GetRejected()); !maps.Equal(got, tc.register) {
				t.Errorf("RegisterTools rejected %v; want %v", got, tc.register)
			}
			var wantRegistered []string
			if tc.scratch {
				wantRegistered = []string{"scratch"}
			}
			if got := acceptedNames(register.GetAccepted()); !slices.Equal(got, wantRegistered) {
				t.Errorf("RegisterTools accepted %v; want %v", got, wantRegistered)
			}

			// The Host's audit trail.
			// sneak and add refused by FulfillTools, then each
			// RegisterTools rejection.
			wantRejected := append([]string{"sneak", "add"}, slices.Collect(maps.Keys(tc.register))...)
			slices.Sort(wantRejected)
			if got := f.auditedTools("raw", audit.KindContractReject); !slices.Equal(got, wantRejected) {
				t.Errorf("contract.reject events for %v; want %v", got, wantRejected)
			}
			if got := f.auditedTools("raw", audit.KindContractFulfil); !slices.Equal(got, []string{"pid"}) {
				t.Errorf("contract.fulfil events for %v; want only pid", got)
			}
			if got := f.auditedTools("raw", audit.KindContractRegister); !slices.Equal(got, wantRegistered) {
				t.Errorf("contract.register events for %v; want %v", got, wantRegistered)
			}

			// Routing: nothing refused is routed, and no call for it
			// reaches the plugin.
			for tool, want := range map[string]bool{"pid": true, "sneak": false, "add": false, "scratch": tc.scratch} {
				if got := f.routed("raw", tool); got != want {
					t.Errorf("the Host routes raw's %s: %v; want %v", tool, got, want)
				}
			}
			refused := []string{"sneak", "raw/sneak", "raw/add"}
			if !tc.scratch {
				refused = append(refused, "scratch", "raw/scratch")
			}
			for _, tool := range refused {
				if _, code := f.call(t, tool, nil); code != altarv1.ErrorCode_ERROR_CODE_TOOL_NOT_FOUND {
					t.Errorf("calling %s: %s; want TOOL_NOT_FOUND", tool, altarerr.CodeName(code))
				}
			}
			// add is a trusted contract that no runtime fulfils. The
			// Host validates against its own schema, not the plugin's
			// wider one (c is not a parameter, b is required); valid
			// arguments find no runtime.
			if _, code := f.call(t, "add", map[string]*altarv1.Value{"a": schema.Double(1), "c": schema.Double(2)}); code != altarv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENTS {
				t.Errorf("add with the wider contract's arguments: %s; want INVALID_ARGUMENTS", altarerr.CodeName(code))
			}
			if _, code := f.call(t, "add", map[string]*altarv1.Value{"a": schema.Double(1), "b": schema.Double(2)}); code != altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE {
				t.Errorf("add: %s; want RUNTIME_UNAVAILABLE (no runtime fulfils it)", altarerr.CodeName(code))
			}
			if tc.scratch {
				res, code := f.call(t, "raw/scratch", nil)
				if code != altarv1.ErrorCode_ERROR_CODE_UNSPECIFIED || res.GetPayload().GetStringValue() != "scratched" {
					t.Errorf("raw/scratch = %v, %s; want scratched", res.GetPayload(), altarerr.CodeName(code))
				}
			}
			// The control: the exact offer is served by the raw plugin.
			res, code := f.call(t, "raw/pid", nil)
			if code != altarv1.ErrorCode_ERROR_CODE_UNSPECIFIED || int(res.GetPayload().GetIntValue()) != status(f, "raw").PID {
				t.Fatalf("raw/pid = %v, %s; want the plugin's pid %d", res.GetPayload(), altarerr.CodeName(code), status(f, "raw").PID)
			}
			// Its standard error is one ordered stream: once pid's call
			// is logged, any earlier call would be too.
			waitFor(t, "the plugin's log of the pid call", func() bool { return slices.Contains(f.rawLines("raw", "call "), "pid") })
			wantCalls := []string{"pid"}
			if tc.scratch {
				wantCalls = []string{"pid", "scratch"}
			}
			calls := f.rawLines("raw", "call ")
			slices.Sort(calls)
			if !slices.Equal(calls, wantCalls) {
				t.Errorf("the plugin was called for %v; want %v", calls, wantCalls)
			}
		})
	}
}
