package mcp

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"google.golang.org/protobuf/proto"

	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
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

// FuzzTextPayload: a result the direct caller maps in one pass maps to the
// Value the general path (mcp-go's parser, then callResult) gives.
func FuzzTextPayload(f *testing.F) {
	for _, s := range []string{
		`{"content":[{"type":"text","text":"hello"}]}`,
		`{"content":[{"type":"text","text":""},{"type":"text","text":"\u00e9\ud83d\ude00"}]}`,
		`{"content":[{"type":"text","text":"x"}],"isError":true}`,
		`{"content":[{"type":"text","text":"x","annotations":{}}]}`,
		`{"content":[{"type":"image","data":"AAAA","mimeType":"image/png"}]}`,
		`{"content":[]}`,
		`{"content":[{"type":"text","text":"\udc00"}]}`,
	} {
		f.Add([]byte(s))
	}
	lim := DefaultLimits()
	f.Fuzz(func(t *testing.T, result []byte) {
		body := append(append([]byte(`{"jsonrpc":"2.0","id":"altar-1","result":`), result...), '}')
		v, ok := textPayload(body, "altar-1", lim)
		if !ok {
			return
		}
		raw := json.RawMessage(result)
		res, err := mcp.ParseCallToolResult(&raw)
		if err != nil {
			t.Fatalf("textPayload took %s, which mcp-go cannot parse: %v", result, err)
		}
		want, err := callResult(res, false, lim)
		if err != nil || want.GetStatus() != altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS {
			t.Fatalf("textPayload took %s, which callResult refuses: %v %v", result, want, err)
		}
		if !proto.Equal(v, want.GetPayload()) {
			t.Fatalf("textPayload(%s)\n = %v\nwant %v", result, v, want.GetPayload())
		}
	})
}
