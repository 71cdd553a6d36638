package gemini_test

import (
	"encoding/json"
	"testing"

	"google.golang.org/genai"
	"google.golang.org/protobuf/proto"

	"github.com/altar-gateway/altar/integrations/gemini"
)

// FuzzFromGeminiSchema reads arbitrary JSON as a Gemini schema: it must not
// panic, and whatever converts must convert back to Gemini and again to the
// same ParameterSchema when nothing was lost on the way.
func FuzzFromGeminiSchema(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"type":"OBJECT","properties":{"a":{"type":"STRING","format":"enum","enum":["x"]}},"required":["a"]}`,
		`{"type":"INTEGER","enum":["1","2"],"default":1,"minimum":0}`,
		`{"type":"STRING","format":"byte","default":"AAE=","nullable":true}`,
		`{"anyOf":[{"type":"NUMBER","maximum":2.5},{"type":"NULL"}],"default":[1,"a",{"b":null}]}`,
		`{"type":"ARRAY","items":{"type":"BOOLEAN","enum":["true"]},"minItems":1,"maxItems":3}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s genai.Schema
		if json.Unmarshal(data, &s) != nil {
			return
		}
		ps, err := gemini.FromGeminiSchema(&s)
		if err != nil {
			return
		}
		back, warns, err := gemini.ToGeminiSchema(ps)
		if err != nil {
			t.Fatalf("ToGeminiSchema of a converted schema: %v\n%s", err, text(ps))
		}
		if len(warns) > 0 {
			return
		}
		again, err := gemini.FromGeminiSchema(back)
		if err != nil {
			t.Fatalf("FromGeminiSchema of ToGeminiSchema: %v", err)
		}
		if !proto.Equal(ps, again) {
			t.Fatalf("differs\nfirst:\n%s\nagain:\n%s", text(ps), text(again))
		}
	})
}
