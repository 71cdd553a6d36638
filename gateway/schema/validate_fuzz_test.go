package schema_test

import (
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// FuzzValidate compiles arbitrary schemas and validates arbitrary values
// against them (both in protojson / natural JSON form): neither may panic,
// and a value that validates must still validate after lenient coercion.
//
//	go test -run '^$' -fuzz FuzzValidate -fuzztime 30s ./gateway/schema/
func FuzzValidate(f *testing.F) {
	seeds := [][2]string{
		{`{"type":"ALTAR_TYPE_INTEGER","minimum":0}`, `5`},
		{`{"type":"ALTAR_TYPE_OBJECT","properties":{"a":{"type":"ALTAR_TYPE_STRING","pattern":"^a+$"}},"required":["a"]}`, `{"a":"aaa"}`},
		{`{"type":"ALTAR_TYPE_ARRAY","items":{"type":"ALTAR_TYPE_NUMBER"},"uniqueItems":true}`, `[1,2.5,1]`},
		{`{"anyOf":[{"type":"ALTAR_TYPE_STRING"},{"type":"ALTAR_TYPE_NULL"}]}`, `null`},
		{`{"type":"ALTAR_TYPE_STRING","enum":[{"stringValue":"x"}],"default":{"stringValue":"x"}}`, `"y"`},
		{`{"type":"ALTAR_TYPE_ANY"}`, `[[[[[[[[[[[[1]]]]]]]]]]]]`},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, schemaJSON, valueJSON string) {
		var ps altarv1.ParameterSchema
		if err := (protojson.UnmarshalOptions{RecursionLimit: 32}).Unmarshal([]byte(schemaJSON), &ps); err != nil {
			return
		}
		s, err := schema.Compile(&ps, schema.WithLimits(schema.Limits{MaxDepth: 16}))
		if err != nil {
			return
		}
		v, err := schema.ParseJSON([]byte(valueJSON), schema.Limits{MaxDepth: 32})
		if err != nil {
			return
		}
		if err := s.Validate(v); err != nil {
			return
		}
		coerced, err := s.Coerce(v, schema.CoerceLenient)
		if err != nil {
			t.Fatalf("a valid value failed lenient coercion: %v", err)
		}
		if err := s.Validate(coerced); err != nil {
			t.Fatalf("a valid value became invalid after coercion: %v", err)
		}
	})
}
