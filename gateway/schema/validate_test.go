package schema_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

var typeShorthand = regexp.MustCompile(`"type":\s*"([a-z]+)"`)

// parseSchema reads a ParameterSchema from its protojson form, with type
// names written as in manifests ("integer" for ALTAR_TYPE_INTEGER).
func parseSchema(t testing.TB, js string) *altarv1.ParameterSchema {
	t.Helper()
	js = typeShorthand.ReplaceAllStringFunc(js, func(m string) string {
		name := typeShorthand.FindStringSubmatch(m)[1]
		return `"type":"ALTAR_TYPE_` + strings.ToUpper(name) + `"`
	})
	var ps altarv1.ParameterSchema
	if err := protojson.Unmarshal([]byte(js), &ps); err != nil {
		t.Fatalf("schema %s: %v", js, err)
	}
	return &ps
}

func compile(t testing.TB, js string, opts ...schema.Option) *schema.Schema {
	t.Helper()
	s, err := schema.Compile(parseSchema(t, js), opts...)
	if err != nil {
		t.Fatalf("compile %s: %v", js, err)
	}
	return s
}

func value(t testing.TB, js string) *altarv1.Value {
	t.Helper()
	v, err := schema.ParseJSON([]byte(js), schema.Limits{})
	if err != nil {
		t.Fatalf("value %s: %v", js, err)
	}
	return v
}

// failures renders an error's field errors as "path rule" lines.
func failures(t testing.TB, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var e *altarerr.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not an *altarerr.Error", err)
	}
	var out []string
	for _, f := range e.Fields {
		out = append(out, f.GetPath()+" "+f.GetRule())
	}
	return out
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		schema string
		value  string
		want   []string // "path rule" of each failure; nil when valid
	}{
		// Types.
		{"string ok", `{"type":"string"}`, `"x"`, nil},
		{"string got int", `{"type":"string"}`, `1`, []string{" type"}},
		{"integer ok", `{"type":"integer"}`, `9223372036854775807`, nil},
		{"integer refuses double", `{"type":"integer"}`, `3.0`, []string{" type"}},
		{"number takes integer", `{"type":"number"}`, `3`, nil},
		{"number takes double", `{"type":"number"}`, `3.5`, nil},
		{"number refuses string", `{"type":"number"}`, `"3"`, []string{" type"}},
		{"boolean", `{"type":"boolean"}`, `true`, nil},
		{"boolean refuses string", `{"type":"boolean"}`, `"true"`, []string{" type"}},
		{"null", `{"type":"null"}`, `null`, nil},
		{"null refuses 0", `{"type":"null"}`, `0`, []string{" type"}},
		{"null not accepted by default", `{"type":"string"}`, `null`, []string{" type"}},
		{"nullable accepts null", `{"type":"string","nullable":true}`, `null`, nil},
		{"any takes anything", `{"type":"any"}`, `{"a":[1,2.5,null,"x"]}`, nil},
		{"bytes refuses string", `{"type":"bytes"}`, `"aGk="`, []string{" type"}},

		// Numbers.
		{"minimum ok", `{"type":"integer","minimum":0}`, `0`, nil},
		{"minimum", `{"type":"integer","minimum":0}`, `-1`, []string{" minimum"}},
		{"maximum", `{"type":"integer","maximum":10}`, `11`, []string{" maximum"}},
		{"exclusive minimum", `{"type":"number","exclusiveMinimum":0}`, `0`, []string{" exclusive_minimum"}},
		{"exclusive minimum ok", `{"type":"number","exclusiveMinimum":0}`, `0.0001`, nil},
		{"exclusive maximum", `{"type":"integer","exclusiveMaximum":5}`, `5`, []string{" exclusive_maximum"}},
		{"double against bounds", `{"type":"number","minimum":1.5,"maximum":2.5}`, `2.6`, []string{" maximum"}},
		// 2^53+1 is not representable as a double: the comparison must be exact.
		{"int64 beyond 2^53 exact", `{"type":"integer","maximum":9007199254740992}`, `9007199254740993`, []string{" maximum"}},
		{"int64 at 2^53 ok", `{"type":"integer","maximum":9007199254740992}`, `9007199254740992`, nil},
		{"multiple of int", `{"type":"integer","multipleOf":3}`, `10`, []string{" multiple_of"}},
		{"multiple of int ok", `{"type":"integer","multipleOf":3}`, `-9`, nil},
		{"multiple of fraction", `{"type":"number","multipleOf":0.1}`, `0.3`, nil},
		{"multiple of fraction fails", `{"type":"number","multipleOf":0.1}`, `0.35`, []string{" multiple_of"}},

		// Strings.
		{"min length counts code points", `{"type":"string","minLength":3}`, `"héé"`, nil},
		{"min length", `{"type":"string","minLength":3}`, `"ab"`, []string{" min_length"}},
		{"max length", `{"type":"string","maxLength":2}`, `"abc"`, []string{" max_length"}},
		{"pattern unanchored", `{"type":"string","pattern":"b+"}`, `"abbc"`, nil},
		{"pattern", `{"type":"string","pattern":"^[a-z]+$"}`, `"ab1"`, []string{" pattern"}},
		{"format email", `{"type":"string","format":"email"}`, `"ada@example.com"`, nil},
		{"format email fails", `{"type":"string","format":"email"}`, `"ada"`, []string{" format"}},
		{"format date-time", `{"type":"string","format":"date-time"}`, `"2026-11-25T10:00:00Z"`, nil},
		{"format date-time fails", `{"type":"string","format":"date-time"}`, `"yesterday"`, []string{" format"}},
		{"format uuid", `{"type":"string","format":"uuid"}`, `"123e4567-e89b-12d3-a456-426614174000"`, nil},
		{"format ipv4 fails", `{"type":"string","format":"ipv4"}`, `"::1"`, []string{" format"}},
		{"unknown format is an annotation", `{"type":"string","format":"color"}`, `"blue"`, nil},

		// Enums.
		{"enum ok", `{"type":"string","enum":[{"stringValue":"a"},{"stringValue":"b"}]}`, `"b"`, nil},
		{"enum", `{"type":"string","enum":[{"stringValue":"a"},{"stringValue":"b"}]}`, `"c"`, []string{" enum"}},
		{"enum numbers compare by value", `{"type":"number","enum":[{"intValue":"1"},{"doubleValue":2.5}]}`, `1.0`, nil},
		{"enum int", `{"type":"integer","enum":[{"intValue":"1"}]}`, `2`, []string{" enum"}},

		// Arrays.
		{"items", `{"type":"array","items":{"type":"integer"}}`, `[1,"x",3,"y"]`, []string{"/1 type", "/3 type"}},
		{"min items", `{"type":"array","minItems":1}`, `[]`, []string{" min_items"}},
		{"max items", `{"type":"array","maxItems":1}`, `[1,2]`, []string{" max_items"}},
		{"unique items", `{"type":"array","uniqueItems":true}`, `[1,2,1.0]`, []string{"/2 unique_items"}},
		{"unique items ok", `{"type":"array","uniqueItems":true}`, `[1,"1",[1]]`, nil},

		// Objects.
		{"required", `{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}`, `{}`, []string{"/a required"}},
		{"closed by default", `{"type":"object","properties":{"a":{"type":"string"}}}`, `{"b":1}`, []string{"/b additional_properties"}},
		{"additional allowed", `{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":true}`, `{"b":1}`, nil},
		{"null vs missing", `{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}`, `{"a":null}`, []string{"/a type"}},
		{"min properties", `{"type":"object","additionalProperties":true,"minProperties":2}`, `{"a":1}`, []string{" min_properties"}},
		{"max properties", `{"type":"object","additionalProperties":true,"maxProperties":1}`, `{"a":1,"b":2}`, []string{" max_properties"}},
		{"pointer escaping", `{"type":"object","properties":{"a/b":{"type":"string"},"c~d":{"type":"string"}}}`, `{"a/b":1,"c~d":2}`, []string{"/a~1b type", "/c~0d type"}},

		// Alternatives.
		{"any of first", `{"anyOf":[{"type":"string"},{"type":"integer"}]}`, `"x"`, nil},
		{"any of second", `{"anyOf":[{"type":"string"},{"type":"integer"}]}`, `2`, nil},
		{"any of none", `{"anyOf":[{"type":"string"},{"type":"integer"}]}`, `true`, []string{" any_of"}},

		// Every failure at once, at any depth, sorted by path.
		{
			"all failures reported",
			`{"type":"object","properties":{
				"user":{"type":"object","properties":{
					"name":{"type":"string","minLength":1},
					"tags":{"type":"array","items":{"type":"object","properties":{"k":{"type":"string","pattern":"^[a-z]+$"}},"required":["k"]}}
				},"required":["name"]},
				"n":{"type":"integer","maximum":3}
			},"required":["user","n"]}`,
			`{"user":{"name":"","tags":[{"k":"ok"},{"k":"NO"},{}]},"n":4,"x":true}`,
			[]string{"/n maximum", "/user/name min_length", "/user/tags/1/k pattern", "/user/tags/2/k required", "/x additional_properties"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := compile(t, tt.schema)
			err := s.Validate(value(t, tt.value))
			got := failures(t, err)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("Validate(%s) failures:\n got %q\nwant %q\n(error: %v)", tt.value, got, tt.want, err)
			}
			if err != nil && altarerr.CodeOf(err) != altarv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENTS {
				t.Fatalf("code = %v, want INVALID_ARGUMENTS", altarerr.CodeOf(err))
			}
		})
	}
}

func TestValidateBytesAndUnset(t *testing.T) {
	s := compile(t, `{"type":"bytes","minLength":2,"maxLength":3}`)
	if err := s.Validate(schema.Bytes([]byte{0, 1})); err != nil {
		t.Fatal(err)
	}
	if got := failures(t, s.Validate(schema.Bytes([]byte{0, 1, 2, 3}))); len(got) != 1 || got[0] != " max_length" {
		t.Fatalf("got %q", got)
	}
	if got := failures(t, s.Validate(&altarv1.Value{})); len(got) != 1 || got[0] != " type" {
		t.Fatalf("an unset Value: got %q", got)
	}
}

func TestValidateFields(t *testing.T) {
	s := compile(t, `{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}`)
	if err := s.ValidateFields(map[string]*altarv1.Value{"a": schema.Int(1)}); err != nil {
		t.Fatal(err)
	}
	got := failures(t, s.ValidateFields(map[string]*altarv1.Value{"b": schema.Int(1)}))
	if strings.Join(got, ",") != "/a required,/b additional_properties" {
		t.Fatalf("got %q", got)
	}
	if err := compile(t, `{"type":"string"}`).ValidateFields(nil); err == nil {
		t.Fatal("fields against a string schema must fail")
	}
}

func TestValidateLimits(t *testing.T) {
	deep := schema.Int(1)
	for range 100 {
		deep = schema.Array(deep)
	}
	wide := map[string]*altarv1.Value{}
	for i := range 20 {
		wide[string(rune('a'+i))] = schema.Int(int64(i))
	}
	tests := []struct {
		name  string
		value *altarv1.Value
		rule  string
	}{
		{"depth", deep, "max_depth"},
		{"properties", schema.Object(wide), "max_properties"},
		{"items", schema.Array(make([]*altarv1.Value, 11)...), "max_items"},
		{"string", schema.String(strings.Repeat("x", 101)), "max_string_bytes"},
	}
	s := compile(t, `{"type":"any"}`, schema.WithLimits(schema.Limits{MaxDepth: 10, MaxProperties: 10, MaxItems: 10, MaxStringBytes: 100}))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Validate(tt.value)
			if altarerr.CodeOf(err) != altarv1.ErrorCode_ERROR_CODE_PAYLOAD_TOO_LARGE {
				t.Fatalf("code = %v, want PAYLOAD_TOO_LARGE (%v)", altarerr.CodeOf(err), err)
			}
			if got := failures(t, err); len(got) != 1 || !strings.HasSuffix(got[0], " "+tt.rule) {
				t.Fatalf("got %q, want one %s failure", got, tt.rule)
			}
		})
	}
}

func TestValidateReportsAtMostMaxErrors(t *testing.T) {
	s := compile(t, `{"type":"array","items":{"type":"string"}}`)
	items := make([]*altarv1.Value, 500)
	for i := range items {
		items[i] = schema.Int(int64(i))
	}
	var e *altarerr.Error
	if !errors.As(s.Validate(schema.Array(items...)), &e) {
		t.Fatal("want an *altarerr.Error")
	}
	if len(e.Fields) != schema.MaxReportedErrors || e.Details["unreported_errors"] != "400" {
		t.Fatalf("fields = %d, unreported = %q", len(e.Fields), e.Details["unreported_errors"])
	}
}

func TestValidateHidesSensitiveValues(t *testing.T) {
	s := compile(t, `{"type":"object","properties":{"password":{"type":"string","pattern":"^[a-z]{12,}$","sensitive":true}}}`)
	err := s.Validate(value(t, `{"password":"hunter2"}`))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error must fail without quoting the secret: %v", err)
	}
	if !s.Sensitive("/password") || s.Sensitive("/other") {
		t.Fatal("Sensitive does not follow the schema")
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name   string
		schema string
		want   []string // "path rule"
	}{
		{"no type", `{}`, []string{"/type type"}},
		{"unknown type", `{"type":"ALTAR_TYPE_UNSPECIFIED","nullable":true}`, []string{"/type type"}},
		{"min greater than max", `{"type":"integer","minimum":5,"maximum":1}`, []string{"/minimum range"}},
		{"exclusive bounds leave nothing", `{"type":"number","exclusiveMinimum":1,"maximum":1}`, []string{"/exclusive_minimum range"}},
		{"min length greater than max", `{"type":"string","minLength":5,"maxLength":1}`, []string{"/min_length range"}},
		{"min items greater than max", `{"type":"array","minItems":5,"maxItems":1}`, []string{"/min_items range"}},
		{"min properties greater than max", `{"type":"object","minProperties":5,"maxProperties":1}`, []string{"/min_properties range"}},
		{"multiple of zero", `{"type":"number","multipleOf":0}`, []string{"/multiple_of range"}},
		{"bad pattern", `{"type":"string","pattern":"(?<=a)b"}`, []string{"/pattern pattern"}},
		{"pattern on integer", `{"type":"integer","pattern":"x"}`, []string{"/pattern applicability"}},
		{"enum of wrong type", `{"type":"integer","enum":[{"intValue":"1"},{"stringValue":"two"}]}`, []string{"/enum/1 enum"}},
		{"enum duplicate", `{"type":"string","enum":[{"stringValue":"a"},{"stringValue":"a"}]}`, []string{"/enum/1 enum"}},
		{"enum outside bounds", `{"type":"integer","maximum":3,"enum":[{"intValue":"4"}]}`, []string{"/enum/0 enum"}},
		{"default fails its schema", `{"type":"string","maxLength":2,"default":{"stringValue":"long"}}`, []string{"/default default"}},
		{"default not in enum", `{"type":"string","enum":[{"stringValue":"a"}],"default":{"stringValue":"b"}}`, []string{"/default default"}},
		{"required unknown", `{"type":"object","properties":{"a":{"type":"string"}},"required":["b"]}`, []string{"/required/0 required"}},
		{"ordering unknown", `{"type":"object","properties":{"a":{"type":"string"}},"propertyOrdering":["a","z"]}`, []string{"/property_ordering/1 property_ordering"}},
		{
			"nested problems all reported",
			`{"type":"object","properties":{"a":{"type":"array","items":{"type":"string","pattern":"["}},"b":{"type":"integer","minimum":2,"maximum":1}}}`,
			[]string{"/properties/a/items/pattern pattern", "/properties/b/minimum range"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := schema.Compile(parseSchema(t, tt.schema))
			got := failures(t, err)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("Compile(%s):\n got %q\nwant %q\n(error: %v)", tt.schema, got, tt.want, err)
			}
			if altarerr.CodeOf(err) != altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST {
				t.Fatalf("code = %v, want INVALID_REQUEST", altarerr.CodeOf(err))
			}
		})
	}
}

func TestCompileDepthLimit(t *testing.T) {
	ps := &altarv1.ParameterSchema{Type: altarv1.AltarType_ALTAR_TYPE_STRING}
	for range 200 {
		ps = &altarv1.ParameterSchema{Type: altarv1.AltarType_ALTAR_TYPE_ARRAY, Items: ps}
	}
	_, err := schema.Compile(ps)
	if got := failures(t, err); len(got) != 1 || !strings.HasSuffix(got[0], " depth") {
		t.Fatalf("got %q", got)
	}
}

// TestValidateDoesNotAllocate holds the success path to zero allocations
// (BenchmarkValidate measures it); make test runs it without -race.
func TestValidateDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under -race; make test runs this without it")
	}
	s := schema.MustCompile(benchSchema())
	v := benchInstanceValue()
	fields := v.GetObjectValue().GetFields()
	for name, f := range map[string]func(){
		"Validate":     func() { _ = s.Validate(v) },
		"CoerceFields": func() { _, _ = s.CoerceFields(fields, schema.CoerceBytes|schema.CoerceDefaults) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s allocates %v times on a valid value", name, n)
		}
	}
}
