package jsonschema_test

import (
	"os"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/altar-gateway/altar/gateway/schema/jsonschema"
)

// FuzzImport feeds arbitrary bytes to Import: it must not panic or run
// away, and whatever imports must export and import back equal.
func FuzzImport(f *testing.F) {
	for _, file := range corpusFiles(f) {
		doc, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(doc)
	}
	for _, seed := range []string{
		`true`, `false`, `{}`, `null`, `[]`, `{"type":["string","null"],"enum":["a",null]}`,
		`{"anyOf":[{"type":"string"},{"type":"null"}],"enum":[null]}`,
		`{"type":"string","contentEncoding":"base64","minLength":5,"maxLength":9,"default":"AAAA"}`,
		`{"$defs":{"a":{"allOf":[{"$ref":"#/$defs/b"},{"minimum":1}]},"b":{"type":"integer"}},"items":{"$ref":"#/$defs/a"}}`,
		`{"$ref":"#"}`, `{"allOf":[{"allOf":[{"allOf":[{"type":"number"}]}]}]}`,
		`{"type":"object","properties":{"a":{"const":1.0}},"required":["a","a"],"additionalProperties":{}}`,
		`{"exclusiveMinimum":true,"minimum":2,"type":["integer","number"]}`,
		`{"oneOf":[{"type":"null"},{"type":"object"}],"nullable":true}`,
		`{"enum":[1,1.0,1e0,-0,-0.0,9223372036854775808]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		ps, _, err := jsonschema.Import(doc)
		if err != nil {
			return
		}
		out, err := jsonschema.ExportJSON(ps)
		if err != nil {
			t.Fatalf("Export of an imported schema failed: %v\nschema: %s", err, text(ps))
		}
		again, warns, err := jsonschema.Import(out)
		if err != nil {
			t.Fatalf("re-import failed: %v\nexport: %s", err, out)
		}
		if !proto.Equal(ps, again) {
			t.Fatalf("re-import differs\nfirst:\n%s\nagain:\n%s\nexport: %s", text(ps), text(again), out)
		}
		if len(warns) > 0 {
			t.Fatalf("re-import warned: %v\nexport: %s", warns, out)
		}
	})
}
