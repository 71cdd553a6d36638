package gateway_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"

	"github.com/altar-gateway/altar/gateway"
	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/auth"
	"github.com/altar-gateway/altar/gateway/runtime"
	"github.com/altar-gateway/altar/plugins/sdk"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

const rolesManifest = `manifest_version: "1.0"
contracts:
  - name: rotate_keys
    version: 1.0.0
    description: Rotate the keys; operators only.
    parameters: { type: object, properties: {} }
    return_type: { type: string }
    security_requirements: [{ scheme: role, scopes: [admin] }]
  - name: whoami
    version: 1.0.0
    description: Answer; any key.
    parameters: { type: object, properties: {} }
    return_type: { type: string }
`

// TestRoleRequirementsGovernCalls: a contract's "role" security
// requirement is enforced by the Host for every caller, over gRPC as for
// MCP: a client key is refused with PERMISSION_DENIED naming the role, an
// admin key and an in-process caller are served, and a tool without
// requirements serves every key.
func TestRoleRequirementsGovernCalls(t *testing.T) {
	dir := t.TempDir()
	manifest := filepath.Join(dir, "roles.yaml")
	if err := os.WriteFile(manifest, []byte(rolesManifest), 0o600); err != nil {
		t.Fatal(err)
	}
	h := startHost(t, altarv1.HostMode_HOST_MODE_STRICT, func(c *gateway.Config) {
		c.ManifestPaths = []string{manifest}
		c.Keys = []auth.Key{
			{ID: "app", Role: auth.RoleClient, Hash: auth.HashKey("client-key")},
			{ID: "ops", Role: auth.RoleAdmin, Hash: auth.HashKey("admin-key")},
		}
	})

	answer := func(context.Context, struct{}) (string, error) { return "done", nil }
	handler, err := sdk.NewHandler([]sdk.Tool{
		sdk.Func("rotate_keys", "Rotate the keys.", answer, sdk.WithContractVersion("1.0.0")),
		sdk.Func("whoami", "Answer.", answer, sdk.WithContractVersion("1.0.0")),
	}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	announce := &altarv1.AnnounceRuntime{RuntimeId: "ops-tools", Language: "go", ProtocolVersion: altarv1.ProtocolVersion,
		Capabilities: altarv1.CapabilitiesForLevel(altarv1.ComplianceLevel_COMPLIANCE_LEVEL_2)}
	offer := &altarv1.FulfillTools{Tools: []*altarv1.ToolFulfillment{{ContractName: "rotate_keys"}, {ContractName: "whoami"}}}
	if resp := h.Attach(runtime.NewInProcess(announce, handler, 4), offer); len(resp.GetAccepted()) != 2 {
		t.Fatalf("attach = %v", resp)
	}

	call := func(key, tool string) (*altarv1.InvokeResponse, error) {
		ctx := metadata.AppendToOutgoingContext(ctxT(t), "authorization", "Bearer "+key)
		return h.client.Invoke(ctx, &altarv1.InvokeRequest{ToolName: tool})
	}

	for _, tt := range []struct {
		key, tool string
		denied    bool
	}{
		{"client-key", "rotate_keys", true},
		{"admin-key", "rotate_keys", false},
		{"client-key", "whoami", false},
	} {
		resp, err := call(tt.key, tt.tool)
		switch {
		case tt.denied:
			e := altarerr.From(err)
			if err == nil || e.Code != altarv1.ErrorCode_ERROR_CODE_PERMISSION_DENIED || !strings.Contains(e.Message, "admin") {
				t.Errorf("%s calling %s: %v, %v; want PERMISSION_DENIED naming the admin role", tt.key, tt.tool, resp, err)
			}
		case err != nil || resp.GetResult().GetStatus() != altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS:
			t.Errorf("%s calling %s: %v, %v", tt.key, tt.tool, resp, err)
		}
	}
	// In process (no principal: trusted, as the Gemini integration and
	// the built-in example call).
	if res, err := h.Invoke(ctxT(t), &altarv1.InvokeRequest{ToolName: "rotate_keys"}); err != nil ||
		res.GetResult().GetStatus() != altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS {
		t.Errorf("in process: %v, %v", res, err)
	}
}
