package mcp

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"google.golang.org/protobuf/proto"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/contract"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// FuzzCallResult maps untrusted tools/call results: never a panic, every
// failure a coded error, and a mapped Value within the result's bounds.
func FuzzCallResult(f *testing.F) {
	for _, s := range []string{
		`{"content":[{"type":"text","text":"hi"}]}`,
		`{"content":[{"type":"image","data":"iVBORw0KGgo=","mimeType":"image/png"},{"type":"audio","data":"UklGRg==","mimeType":"audio/wav"}]}`,
		`{"content":[{"type":"resource_link","uri":"file:///a","name":"a"},{"type":"resource","resource":{"uri":"m://t","text":"x"}},{"type":"resource","resource":{"uri":"m://b","blob":"AAEC"}}]}`,
		`{"content":[],"structuredContent":{"a":1,"b":[1.5,"x",null,true]}}`,
		`{"content":[{"type":"text","text":"boom"}],"isError":true}`,
		`{"content":[{"type":"image","data":"not base64!","mimeType":"image/png"}]}`,
		`{"content":[],"structuredContent":12345678901234567890}`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	lim := Limits{MaxResultBytes: 1 << 16, MaxContentBlocks: 32}.orDefault()
	f.Fuzz(func(t *testing.T, data []byte, structured bool) {
		raw := json.RawMessage(data)
		res, err := mcp.ParseCallToolResult(&raw)
		if err != nil {
			return
		}
		out, err := callResult(res, structured, lim)
		if err != nil {
			if altarerr.CodeOf(err) == altarv1.ErrorCode_ERROR_CODE_UNSPECIFIED {
				t.Fatalf("an error without an ALTAR code: %v", err)
			}
			return
		}
		switch out.GetStatus() {
		case altarv1.ToolResultStatus_TOOL_RESULT_STATUS_ERROR:
			if out.GetError().GetCode() != altarv1.ErrorCode_ERROR_CODE_TOOL_FAILED || len(out.GetError().GetMessage()) > 4100 {
				t.Fatalf("tool failure %v", out.GetError())
			}
		case altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS:
			if _, err := schema.MarshalJSON(out.GetPayload()); err != nil {
				t.Fatalf("a mapped value that does not encode: %v", err)
			}
			// Each byte the server sent costs at most a few of ours
			// (field names, type tags).
			if n := proto.Size(out.GetPayload()); n > 2*lim.MaxResultBytes+64*lim.MaxContentBlocks+64 {
				t.Fatalf("a %d-byte value from a %d-byte result", n, len(data))
			}
		default:
			t.Fatalf("status %v", out.GetStatus())
		}
	})
}

// FuzzToolContract maps untrusted tool definitions: never a panic; a
// definition's hash survives the lock file's round trip; a contract the
// bridge makes is one the Host can load, or the Host refuses it with a
// coded error.
func FuzzToolContract(f *testing.F) {
	for _, s := range []string{
		`{"name":"echo","description":"Echo.","inputSchema":{"type":"object","properties":{"message":{"type":"string"}},"required":["message"]},"annotations":{"readOnlyHint":true}}`,
		`{"name":"weather","inputSchema":{"type":"object"},"outputSchema":{"type":"object","properties":{"t":{"type":"integer"}}}}`,
		`{"name":"deep","inputSchema":{"type":"object","properties":{"a":{"type":"array","items":{"$ref":"#/$defs/x"}}},"$defs":{"x":{"type":"object","properties":{"y":{"anyOf":[{"type":"string"},{"type":"null"}]}}}}}}`,
		`{"name":"bad name!","inputSchema":{"type":"object"}}`,
		`{"name":"n","inputSchema":{"type":"string"}}`,
		`{"name":"n","inputSchema":{"type":"object","properties":{"a.b":{"type":"number","minimum":1e400}}}}`,
	} {
		f.Add([]byte(s))
	}
	srv := Server{Name: "s", Transport: TransportStdio, Command: "x"}
	lim := DefaultLimits()
	f.Fuzz(func(t *testing.T, data []byte) {
		var tool mcp.Tool
		if err := json.Unmarshal(data, &tool); err != nil {
			return
		}
		d, err := definitionOf(tool, lim)
		if err != nil {
			return
		}
		back, err := recanonical(d)
		if err != nil || back.SHA256() != d.SHA256() {
			t.Fatalf("the pin does not survive the lock file: %v", err)
		}
		c, _, err := contractOf(srv, d)
		if err != nil {
			return
		}
		if _, err := contract.FromProto(&altarv1.ToolManifest{ManifestVersion: "1.0", Contracts: []*altarv1.ToolContract{c}}); err != nil &&
			altarerr.CodeOf(err) == altarv1.ErrorCode_ERROR_CODE_UNSPECIFIED {
			t.Fatalf("the Host refuses the contract without a code: %v", err)
		}
	})
}

// FuzzParseLock reads lock files: never a panic; a lock that parses has
// only pins whose hash matches their definition, and writes back to a file
// that parses the same.
func FuzzParseLock(f *testing.F) {
	l := &Lock{LockVersion: LockVersion, Servers: map[string]*LockServer{}}
	d := Definition{Name: "echo", Description: "Echo.", InputSchema: json.RawMessage(`{"type":"object"}`)}
	_, _ = l.Approve("s", []Definition{d}, time.Unix(0, 0))
	good, _ := json.Marshal(l)
	f.Add(good)
	f.Add([]byte(`{"lock_version":1,"servers":{"s":{"tools":{"a":null}}}}`))
	f.Add([]byte(`{"lock_version":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, damaged := parseLock("fuzz", data)
		if l == nil {
			if altarerr.CodeOf(damaged) == altarv1.ErrorCode_ERROR_CODE_UNSPECIFIED {
				t.Fatalf("an error without a code: %v", damaged)
			}
			return
		}
		for _, s := range l.Servers {
			for name, p := range s.Tools {
				if p.SHA256 != p.Definition.SHA256() || p.Definition.Name != name {
					t.Fatalf("a damaged pin survived: %s", name)
				}
			}
		}
		out, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		again, damaged := parseLock("again", out)
		if damaged != nil || len(again.Servers) != len(l.Servers) {
			t.Fatalf("a lock that parsed does not parse again: %v", damaged)
		}
	})
}
