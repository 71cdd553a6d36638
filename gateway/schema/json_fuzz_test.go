package schema_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/schema"
)

// FuzzParseJSON checks that ParseJSON never panics or hangs, fails only with
// an *altarerr.Error, and that whatever it accepts is valid JSON meaning what
// encoding/json says it means, re-encodes, and parses back to an equal Value.
func FuzzParseJSON(f *testing.F) {
	seeds := []string{
		`{"query":"weather in Paris","limit":10,"ratio":0.5,"tags":["a","b"],"opts":{"deep":true,"x":null}}`,
		`[9223372036854775807,-9223372036854775808,9007199254740993,1.0,-0.0,1e3,1E-7,5e-324,1.7976931348623157e308]`,
		`"\"\\\/\b\f\n\r\t\u0000\u00e9\ud83d\ude00"`,
		`{"a":1,"a":2}`, `{"k/~":[[[[]]]]}`, `[1,]`, `01`, `1e400`, `99999999999999999999`,
		`"\ud800"`, "\"\xff\"", `[{"":{"":[]}}]`, ` true `, `null`, `false`, `""`, `{}`, `[]`,
		"\"\xed\xa0\x80\"", `"\uD834\uDD1E"`, `{"a":[1,{"b":2}],"c":{"d":[3.5]}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	for _, s := range jsonMalformed {
		f.Add([]byte(s))
	}
	lim := schema.Limits{MaxDepth: 16, MaxBytes: 1 << 16, MaxProperties: 64, MaxItems: 256, MaxStringBytes: 1 << 12}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := schema.ParseJSON(data, lim)
		if err != nil {
			if v != nil {
				t.Fatalf("ParseJSON returned both %v and %v", v, err)
			}
			if _, ok := err.(*altarerr.Error); !ok {
				t.Fatalf("ParseJSON error %v is a %T, not *altarerr.Error", err, err)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("ParseJSON accepted %q, which is not valid JSON", data)
		}
		if msg := jsonSameAsStdlib(data, v); msg != "" {
			t.Fatalf("ParseJSON(%q): %s", data, msg)
		}
		out, err := schema.MarshalJSON(v)
		if err != nil {
			t.Fatalf("MarshalJSON of parsed %q: %v", data, err)
		}
		back, err := schema.ParseJSON(out, schema.Limits{})
		if err != nil {
			t.Fatalf("ParseJSON of re-encoded %s: %v", out, err)
		}
		if !proto.Equal(back, v) {
			t.Fatalf("%q parsed to %v, re-encoded as %s, parsed back to %v", data, v, out, back)
		}
		again, err := schema.MarshalJSON(back)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("encoding is not stable: %s then %s (%v)", out, again, err)
		}
		if obj, err := schema.ParseJSONObject(data, lim); (err == nil) != (v.GetObjectValue() != nil) {
			t.Fatalf("ParseJSONObject(%q) = %v, %v; ParseJSON = %v", data, obj, err, v)
		} else if err == nil && !proto.Equal(schema.Object(obj), v) {
			t.Fatalf("ParseJSONObject(%q) = %v, ParseJSON = %v", data, obj, v)
		}
	})
}
