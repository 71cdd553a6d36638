package mcp

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzAppendString: the direct path writes strings exactly as
// encoding/json (and so mcp-go) would.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "hello", `<a href="x">&</a>`, "tab\tnl\ncr\r\x00\x1f", "é ü 日本", "\u2028\u2029", "\xff\xfe bad", "\\\"", "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
		}
	})
}

// FuzzParsePlainCall: any request body is read without a panic, and what
// is taken as a plain call is one: a tools/call with a name, a string or
// integer id, and no _meta or task.
func FuzzParsePlainCall(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":1}}}`,
		`{"jsonrpc":"2.0","id":"x","method":"tools/call","params":{"name":"add","_meta":{}}}`,
		`{"jsonrpc":"2.0","id":1e3,"method":"tools/call","params":{"name":"add"}}`,
		`{"jsonrpc":"2.0","id":null,"method":"tools/call","params":{"name":"add"}}`,
		`[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add"}}]`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","_meta":{"progressToken":1}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":null}`,
		`{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		call, ok := parsePlainCall(body)
		if !ok {
			return
		}
		var msg struct {
			ID     any    `json:"id"`
			Method string `json:"method"`
			Params struct {
				Name string          `json:"name"`
				Meta map[string]any  `json:"_meta"`
				Task json.RawMessage `json:"task"`
			} `json:"params"`
		}
		if err := json.Unmarshal(body, &msg); err != nil {
			t.Fatalf("taken as a plain call, but not JSON-RPC: %v", err)
		}
		if msg.Method != "tools/call" || msg.Params.Name == "" || msg.Params.Name != call.name || len(msg.Params.Meta) > 0 {
			t.Fatalf("taken as a plain call: %+v", msg)
		}
		switch id := msg.ID.(type) {
		case string:
		case float64:
			if id != float64(int64(id)) {
				t.Fatalf("id %v is not an integer", id)
			}
		default:
			t.Fatalf("id %v (%T) is neither a string nor an integer", msg.ID, msg.ID)
		}
	})
}

// FuzzScanPlainCall: what scanPlainCall takes, parsePlainCall takes the
// same: the same tool, id and arguments.
func FuzzScanPlainCall(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":[true,null,"x\"}"]}}}`,
		` { "jsonrpc" : "2.0" , "id" : "x\u003c" , "method" : "tools/call" , "params" : { "name" : "a\u0064d" , "arguments" : null , "_meta" : { } } } `,
		`{"jsonrpc":"2.0","id":-12,"method":"tools/call","params":{"name":"add","arguments":{}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","METHOD":"initialize","params":{"name":"add"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","name":"sub"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","Name":"sub"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":[1]}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"na\u006de":"add"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":""}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":[]}`,
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"a\xffd\"}}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		scanned, ok := scanPlainCall(body)
		if !ok {
			return
		}
		parsed, ok := parsePlainCall(body)
		if !ok {
			t.Fatalf("taken by the scan only: %s", body)
		}
		if scanned.name != parsed.name || !bytes.Equal(scanned.id, parsed.id) || !bytes.Equal(scanned.args, parsed.args) {
			t.Fatalf("read differently: scan %q %s %s, encoding/json %q %s %s",
				scanned.name, scanned.id, scanned.args, parsed.name, parsed.id, parsed.args)
		}
	})
}

// BenchmarkPlainCall compares reading a typical tools/call with the scan
// and with encoding/json.
func BenchmarkPlainCall(b *testing.B) {
	body := []byte(`{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello from client 7"}}}`)
	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := scanPlainCall(body); !ok {
				b.Fatal("not taken")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := parsePlainCall(body); !ok {
				b.Fatal("not taken")
			}
		}
	})
}
