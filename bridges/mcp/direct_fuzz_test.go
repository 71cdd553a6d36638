package mcp

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

// FuzzParseResult: the direct caller reads any tools/call result exactly
// as mcp-go's ParseCallToolResult does: the same result, or an error where
// mcp-go has one.
func FuzzParseResult(f *testing.F) {
	for _, s := range []string{
		`{"content":[{"type":"text","text":"hello"}]}`,
		`{"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}],"isError":true}`,
		`{"content":[]}`,
		`{"content":null}`,
		`{"content":[{"type":"text"}]}`,
		`{"content":[{"type":"text","text":"x","annotations":{"priority":1}}]}`,
		`{"content":[{"type":"image","data":"AAAA","mimeType":"image/png"}]}`,
		`{"content":[{"type":"text","text":"x"}],"structuredContent":{"a":1}}`,
		`{"content":[{"type":"text","text":"x"}],"_meta":{"k":"v"}}`,
		`{"Content":[{"type":"text","text":"x"}]}`,
		`{"content":[{"Type":"text","Text":"x"}]}`,
		`{"content":[{"type":"text","text":"x"}]} `,
		`null`,
		`{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) {
			return // the response envelope was decoded first: a result is valid JSON
		}
		msg := json.RawMessage(raw)
		want, wantErr := mcp.ParseCallToolResult(&msg)
		got, err := parseResult(raw)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("parseResult(%s): error %v, mcp-go's %v", raw, err, wantErr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("parseResult(%s)\n = %#v\nmcp-go: %#v", raw, got, want)
		}
	})
}
