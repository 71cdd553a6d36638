package mcp

import (
	"encoding/json"
	"testing"

	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// TestBridgedResult: a bridged MCP tool's result Value (bridges/mcp's
// shape) goes back to the MCP client as the content blocks the server sent;
// a Value in another shape is refused, so the caller falls back to JSON.
func TestBridgedResult(t *testing.T) {
	obj := func(kv ...any) *altarv1.Value {
		f := map[string]*altarv1.Value{}
		for i := 0; i < len(kv); i += 2 {
			switch v := kv[i+1].(type) {
			case string:
				f[kv[i].(string)] = schema.String(v)
			case []byte:
				f[kv[i].(string)] = schema.Bytes(v)
			case *altarv1.Value:
				f[kv[i].(string)] = v
			}
		}
		return schema.Object(f)
	}
	result := func(blocks ...*altarv1.Value) *altarv1.Value {
		return obj("content", schema.Array(blocks...))
	}
	for _, tc := range []struct {
		name  string
		value *altarv1.Value
		want  string // the result's content and structuredContent as JSON; "" when refused
	}{
		{"text", result(obj("type", "text", "text", "Echo: hi")),
			`{"content":[{"type":"text","text":"Echo: hi"}]}`},
		{"image and audio", result(obj("type", "image", "data", []byte{1, 2, 3}, "mimeType", "image/png"), obj("type", "audio", "data", []byte{4}, "mimeType", "audio/wav")),
			`{"content":[{"type":"image","data":"AQID","mimeType":"image/png"},{"type":"audio","data":"BA==","mimeType":"audio/wav"}]}`},
		{"resource link", result(obj("type", "resource_link", "uri", "file:///a", "name", "a", "description", "the a", "mimeType", "text/plain")),
			`{"content":[{"type":"resource_link","uri":"file:///a","name":"a","description":"the a","mimeType":"text/plain"}]}`},
		{"embedded resources", result(obj("type", "resource", "uri", "file:///t", "mimeType", "text/plain", "text", "x"), obj("type", "resource", "uri", "file:///b", "blob", []byte{0xff})),
			`{"content":[{"type":"resource","resource":{"uri":"file:///t","mimeType":"text/plain","text":"x"}},{"type":"resource","resource":{"uri":"file:///b","blob":"/w=="}}]}`},
		{"structured content beside", obj("content", schema.Array(obj("type", "text", "text", "3")), "structuredContent", obj("sum", "3")),
			`{"content":[{"type":"text","text":"3"}],"structuredContent":{"sum":"3"}}`},
		{"not an object", schema.String("hi"), ""},
		{"no content", obj("text", "hi"), ""},
		{"unknown block type", result(obj("type", "video", "data", []byte{1})), ""},
		{"image data not bytes", result(obj("type", "image", "data", "AQID")), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, ok := bridgedResult(tc.value, "inv-1")
			if tc.want == "" {
				if ok {
					t.Fatalf("accepted %v as %+v", tc.value, r)
				}
				return
			}
			if !ok {
				t.Fatalf("refused %v", tc.value)
			}
			got, err := json.Marshal(struct {
				Content           any             `json:"content"`
				StructuredContent json.RawMessage `json:"structuredContent,omitempty"`
			}{r.Content, r.RawStructuredContent})
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			if id := r.Meta.AdditionalFields["altar/invocation_id"]; id != "inv-1" {
				t.Errorf("invocation id = %v", id)
			}
		})
	}
}
