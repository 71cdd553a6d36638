package schema_test

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

func TestCoerce(t *testing.T) {
	tests := []struct {
		name   string
		schema string
		mode   schema.CoerceMode
		in     *altarv1.Value
		want   *altarv1.Value // nil when an error is expected
		rule   string
	}{
		{"string to integer", `{"type":"integer"}`, schema.CoerceLenient, schema.String("42"), schema.Int(42), ""},
		{"negative string to integer", `{"type":"integer"}`, schema.CoerceLenient, schema.String("-7"), schema.Int(-7), ""},
		{"whole double to integer", `{"type":"integer"}`, schema.CoerceLenient, schema.Double(3.0), schema.Int(3), ""},
		{"fraction is never dropped", `{"type":"integer"}`, schema.CoerceLenient, schema.Double(3.5), nil, "type"},
		{"fractional string is never truncated", `{"type":"integer"}`, schema.CoerceLenient, schema.String("3.5"), nil, "type"},
		{"out of range", `{"type":"integer"}`, schema.CoerceLenient, schema.String("9223372036854775808"), nil, "range"},
		{"huge double", `{"type":"integer"}`, schema.CoerceLenient, schema.Double(1e300), nil, "type"},
		{"not a number", `{"type":"integer"}`, schema.CoerceLenient, schema.String("abc"), nil, "type"},
		{"string to number", `{"type":"number"}`, schema.CoerceLenient, schema.String("3.5"), schema.Double(3.5), ""},
		{"integer string to number", `{"type":"number"}`, schema.CoerceLenient, schema.String("12"), schema.Int(12), ""},
		{"hex is not a number", `{"type":"number"}`, schema.CoerceLenient, schema.String("0x10"), nil, "type"},
		{"string to bool", `{"type":"boolean"}`, schema.CoerceLenient, schema.String("TRUE"), schema.Bool(true), ""},
		{"yes is not a bool", `{"type":"boolean"}`, schema.CoerceLenient, schema.String("yes"), nil, "type"},
		{"strict mode leaves strings", `{"type":"integer"}`, 0, schema.String("42"), schema.String("42"), ""},
		{"number is never made a string", `{"type":"string"}`, schema.CoerceLenient, schema.Int(1), schema.Int(1), ""},
		{"base64 to bytes", `{"type":"bytes"}`, schema.CoerceBytes, schema.String("aGk="), schema.Bytes([]byte("hi")), ""},
		{"url-safe unpadded base64", `{"type":"bytes"}`, schema.CoerceBytes, schema.String("-_8"), schema.Bytes([]byte{0xfb, 0xff}), ""},
		{"bad base64", `{"type":"bytes"}`, schema.CoerceBytes, schema.String("!!"), nil, "type"},
		{
			"nested and defaults",
			`{"type":"object","properties":{
				"n":{"type":"integer"},
				"list":{"type":"array","items":{"type":"integer"}},
				"unit":{"type":"string","default":{"stringValue":"cm"}}
			}}`,
			schema.CoerceLenient | schema.CoerceDefaults,
			schema.Object(map[string]*altarv1.Value{"n": schema.String("1"), "list": schema.Array(schema.Int(1), schema.String("2"))}),
			schema.Object(map[string]*altarv1.Value{"n": schema.Int(1), "list": schema.Array(schema.Int(1), schema.Int(2)), "unit": schema.String("cm")}),
			"",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := compile(t, tt.schema)
			before := proto.Clone(tt.in)
			got, err := s.Coerce(tt.in, tt.mode)
			if !proto.Equal(tt.in, before) {
				t.Fatal("Coerce modified its input")
			}
			if tt.want == nil {
				f := failures(t, err)
				if len(f) != 1 || !strings.HasSuffix(f[0], " "+tt.rule) {
					t.Fatalf("want one %q failure, got %q (%v)", tt.rule, f, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCoerceSharesUnchangedValues(t *testing.T) {
	s := compile(t, `{"type":"object","properties":{"a":{"type":"integer"}}}`)
	in := map[string]*altarv1.Value{"a": schema.Int(1)}
	out, err := s.CoerceFields(in, schema.CoerceLenient|schema.CoerceBytes)
	if err != nil {
		t.Fatal(err)
	}
	if out["a"] != in["a"] || len(out) != 1 {
		t.Fatal("an unchanged map must be returned as is")
	}
}
