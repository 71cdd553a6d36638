package jsonschema_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/schema/jsonschema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

func parseText(t *testing.T, s string) *altarv1.ParameterSchema {
	t.Helper()
	ps := &altarv1.ParameterSchema{}
	if err := prototext.Unmarshal([]byte(s), ps); err != nil {
		t.Fatalf("bad test schema %q: %v", s, err)
	}
	return ps
}

func TestImportMapping(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"empty is any", `{}`, `type: ALTAR_TYPE_ANY`},
		{"true is any", `true`, `type: ALTAR_TYPE_ANY`},
		{"object is open by default", `{"type":"object"}`,
			`type: ALTAR_TYPE_OBJECT additional_properties: true`},
		{"closed object is unset", `{"type":"object","additionalProperties":false}`,
			`type: ALTAR_TYPE_OBJECT`},
		{"additionalProperties on any is kept", `{"additionalProperties":false}`,
			`type: ALTAR_TYPE_ANY additional_properties: false`},
		{"type list with null", `{"type":["string","null"]}`,
			`type: ALTAR_TYPE_STRING nullable: true`},
		{"null first", `{"type":["null","integer"]}`,
			`type: ALTAR_TYPE_INTEGER nullable: true`},
		{"openapi nullable", `{"type":"string","nullable":true}`,
			`type: ALTAR_TYPE_STRING nullable: true`},
		{"nullable without type means nothing", `{"nullable":true}`,
			`type: ALTAR_TYPE_ANY`},
		{"only null", `{"type":"null"}`, `type: ALTAR_TYPE_NULL`},
		{"several types", `{"type":["string","integer"],"minLength":2}`,
			`type: ALTAR_TYPE_ANY min_length: 2 any_of {type: ALTAR_TYPE_STRING} any_of {type: ALTAR_TYPE_INTEGER}`},
		{"several types and null", `{"type":["object","boolean","null"]}`,
			`type: ALTAR_TYPE_ANY nullable: true any_of {type: ALTAR_TYPE_OBJECT additional_properties: true} any_of {type: ALTAR_TYPE_BOOLEAN}`},
		{"anyOf with a null branch", `{"anyOf":[{"type":"string"},{"type":"null"}],"default":null}`,
			`type: ALTAR_TYPE_ANY nullable: true default {null_value: NULL_VALUE} any_of {type: ALTAR_TYPE_STRING}`},
		{"anyOf of only null is kept", `{"anyOf":[{"type":"null"}]}`,
			`type: ALTAR_TYPE_ANY any_of {type: ALTAR_TYPE_NULL}`},
		{"null branch under a non-null type is kept", `{"type":"string","anyOf":[{"type":"null"},{"minLength":1}]}`,
			`type: ALTAR_TYPE_STRING any_of {type: ALTAR_TYPE_NULL} any_of {type: ALTAR_TYPE_ANY min_length: 1}`},
		{"base64 bytes with lengths in characters", `{"type":"string","contentEncoding":"base64","minLength":5,"maxLength":8}`,
			`type: ALTAR_TYPE_BYTES min_length: 4 max_length: 6`},
		{"exact byte lengths", `{"type":"string","contentEncoding":"base64","minLength":4,"x-altar-min-bytes":1,"maxLength":8,"x-altar-max-bytes":5}`,
			`type: ALTAR_TYPE_BYTES min_length: 1 max_length: 5`},
		{"openapi byte format", `{"type":"string","format":"byte","default":"aGk=","enum":["aGk=","AA=="]}`,
			`type: ALTAR_TYPE_BYTES default {bytes_value: "hi"} enum {bytes_value: "hi"} enum {bytes_value: "\x00"}`},
		{"integer enum", `{"type":"integer","enum":[1,2.0,3e0,9007199254740993]}`,
			`type: ALTAR_TYPE_INTEGER enum {int_value: 1} enum {int_value: 2} enum {int_value: 3} enum {int_value: 9007199254740993}`},
		{"number enum keeps int and double apart", `{"type":"number","enum":[1,2.5,3.0]}`,
			`type: ALTAR_TYPE_NUMBER enum {int_value: 1} enum {double_value: 2.5} enum {double_value: 3}`},
		{"duplicates dropped", `{"type":"integer","enum":[1,1.0,2]}`,
			`type: ALTAR_TYPE_INTEGER enum {int_value: 1} enum {int_value: 2}`},
		{"const", `{"const":"x"}`, `type: ALTAR_TYPE_ANY enum {string_value: "x"}`},
		{"const within enum", `{"const":2,"enum":[1,2]}`, `type: ALTAR_TYPE_ANY enum {int_value: 2}`},
		{"nested values", `{"type":"array","items":{"type":"string","contentEncoding":"base64"},"default":["AAE="]}`,
			`type: ALTAR_TYPE_ARRAY items {type: ALTAR_TYPE_BYTES} default {array_value {items {bytes_value: "\x00\x01"}}}`},
		{"nullable enum drops null", `{"type":["string","null"],"enum":["a",null]}`,
			`type: ALTAR_TYPE_STRING nullable: true enum {string_value: "a"}`},
		{"nullable enum of only null", `{"type":["string","null"],"enum":[null]}`,
			`type: ALTAR_TYPE_STRING nullable: true enum {null_value: NULL_VALUE}`},
		{"draft-04 exclusive bounds", `{"type":"integer","minimum":3,"exclusiveMinimum":true,"maximum":9,"exclusiveMaximum":false}`,
			`type: ALTAR_TYPE_INTEGER exclusive_minimum: 3 maximum: 9`},
		{"draft-06 exclusive bounds", `{"type":"number","exclusiveMinimum":0,"exclusiveMaximum":1.5,"multipleOf":0.25}`,
			`type: ALTAR_TYPE_NUMBER exclusive_minimum: 0 exclusive_maximum: 1.5 multiple_of: 0.25`},
		{"ref with a sibling", `{"$defs":{"a":{"type":"string","description":"inner"}},"$ref":"#/$defs/a","description":"outer"}`,
			`type: ALTAR_TYPE_STRING description: "outer"`},
		{"definitions and escaped pointer", `{"definitions":{"a/b":{"type":"boolean"}},"properties":{"x":{"$ref":"#/definitions/a~1b"}}}`,
			`type: ALTAR_TYPE_ANY properties {key: "x" value {type: ALTAR_TYPE_BOOLEAN}}`},
		{"a definition used twice", `{"type":"object","$defs":{"s":{"type":"string"}},"properties":{"a":{"$ref":"#/$defs/s"},"b":{"$ref":"#/$defs/s"}},"additionalProperties":false}`,
			`type: ALTAR_TYPE_OBJECT properties {key: "a" value {type: ALTAR_TYPE_STRING}} properties {key: "b" value {type: ALTAR_TYPE_STRING}}`},
		{"single allOf", `{"allOf":[{"type":"string","maxLength":3}],"title":"t"}`,
			`type: ALTAR_TYPE_STRING title: "t" max_length: 3`},
		{"allOf twice the same ref", `{"$defs":{"s":{"type":"string"}},"allOf":[{"$ref":"#/$defs/s"},{"$ref":"#/$defs/s"}]}`,
			`type: ALTAR_TYPE_STRING`},
		{"allOf merge", `{"allOf":[{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false},
			{"type":"object","properties":{"a":{"maxLength":5},"b":{"type":"integer","minimum":1}},"required":["b","a"]}]}`,
			`type: ALTAR_TYPE_OBJECT required: ["a", "b"]
			 properties {key: "a" value {type: ALTAR_TYPE_STRING max_length: 5}}
			 properties {key: "b" value {type: ALTAR_TYPE_INTEGER minimum: 1}}`},
		{"allOf integer and number", `{"allOf":[{"type":"number","minimum":1},{"type":"integer","minimum":2,"maximum":5}]}`,
			`type: ALTAR_TYPE_INTEGER minimum: 2 maximum: 5`},
		{"writeOnly is sensitive", `{"type":"string","writeOnly":true}`,
			`type: ALTAR_TYPE_STRING sensitive: true`},
		{"x-altar-sensitive wins", `{"type":"string","writeOnly":true,"x-altar-sensitive":false}`,
			`type: ALTAR_TYPE_STRING`},
		{"required deduplicated", `{"type":"object","properties":{"a":{}},"required":["a","a"]}`,
			`type: ALTAR_TYPE_OBJECT additional_properties: true properties {key: "a" value {type: ALTAR_TYPE_ANY}} required: "a"`},
		{"property ordering", `{"type":"object","properties":{"a":{},"b":{}},"propertyOrdering":["b","a"],"additionalProperties":false}`,
			`type: ALTAR_TYPE_OBJECT property_ordering: ["b", "a"]
			 properties {key: "a" value {type: ALTAR_TYPE_ANY}} properties {key: "b" value {type: ALTAR_TYPE_ANY}}`},
		{"annotations ignored", `{"$schema":"http://json-schema.org/draft-07/schema#","$id":"x","$comment":"c","examples":[1],"readOnly":true,"deprecated":true,"type":"integer"}`,
			`type: ALTAR_TYPE_INTEGER`},
		{"whole-number lengths", `{"type":"string","minLength":1.0,"maxLength":1e2}`,
			`type: ALTAR_TYPE_STRING min_length: 1 max_length: 100`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := jsonschema.Import([]byte(tt.doc))
			if err != nil {
				t.Fatalf("Import: %v", err)
			}
			if want := parseText(t, tt.want); !proto.Equal(got, want) {
				t.Errorf("Import(%s)\ngot:  %s\nwant: %s", tt.doc, prototext.Format(got), prototext.Format(want))
			}
		})
	}
}

func TestImportErrors(t *testing.T) {
	deep := strings.Repeat(`{"items":`, 70) + `{}` + strings.Repeat(`}`, 70)
	var fanout strings.Builder
	fanout.WriteString(`{"$defs":{"a0":{"type":"string"}`)
	for i := 1; i <= 20; i++ {
		fmt.Fprintf(&fanout, `,"a%d":{"anyOf":[{"$ref":"#/$defs/a%d"},{"$ref":"#/$defs/a%d"}]}`, i, i-1, i-1)
	}
	fanout.WriteString(`},"$ref":"#/$defs/a20"}`)

	tests := []struct {
		name, doc  string
		path, rule string // of the first FieldError; both empty when there are none
		msg        string // part of the error text
	}{
		{"not JSON", `{`, "", "", "not valid JSON"},
		{"trailing data", `{} {}`, "", "", "data after the top-level value"},
		{"false", `false`, "", "false", "accepts nothing"},
		{"not a schema", `{"properties":{"a":3}}`, "/properties/a", "type", "must be an object or a boolean"},
		{"false property", `{"properties":{"a":false}}`, "/properties/a", "false", "accepts nothing"},
		{"unknown type", `{"type":"strnig"}`, "/type", "type", "unknown type strnig"},
		{"unknown type in a list", `{"type":["string",4]}`, "/type/1", "type", "unknown type 4"},
		{"empty type list", `{"type":[]}`, "/type", "type", "empty"},
		{"minimum not a number", `{"minimum":"3"}`, "/minimum", "minimum", "must be a number"},
		{"multipleOf zero", `{"multipleOf":0}`, "/multipleOf", "multipleOf", "greater than 0"},
		{"negative length", `{"minLength":-1}`, "/minLength", "minLength", "non-negative integer"},
		{"fractional length", `{"maxItems":1.5}`, "/maxItems", "maxItems", "non-negative integer"},
		{"huge number", `{"maximum":1e400}`, "/maximum", "maximum", "out of range"},
		{"title not a string", `{"title":1}`, "/title", "title", "must be a string"},
		{"empty enum", `{"enum":[]}`, "/enum", "enum", "accepts nothing"},
		{"enum not an array", `{"enum":"a"}`, "/enum", "enum", "must be an array"},
		{"const outside enum", `{"const":1,"enum":[2,3]}`, "/const", "const", "not among the enum values"},
		{"bad base64", `{"type":"string","contentEncoding":"base64","enum":["!!"]}`, "/enum/0", "enum", "not base64"},
		{"bad base64 default", `{"type":"string","format":"byte","default":"%%"}`, "/default", "default", "not base64"},
		{"empty anyOf", `{"anyOf":[]}`, "/anyOf", "anyOf", "non-empty"},
		{"anyOf and oneOf", `{"anyOf":[{}],"oneOf":[{}]}`, "/oneOf", "oneOf", "cannot be represented"},
		{"types and anyOf", `{"type":["string","integer"],"anyOf":[{}]}`, "/type", "type", "cannot be combined"},
		{"remote ref", `{"$ref":"https://example.com/s.json#/a"}`, "/$ref", "$ref", "remote reference"},
		{"anchor ref", `{"$ref":"#thing"}`, "/$ref", "$ref", "anchor reference"},
		{"missing ref", `{"properties":{"a":{"$ref":"#/$defs/missing"}}}`, "/properties/a/$ref", "$ref", "not found"},
		{"ref to false", `{"$defs":{"no":false},"$ref":"#/$defs/no"}`, "/$ref", "$ref", "accepts nothing"},
		{"recursive ref", `{"$defs":{"node":{"type":"object","properties":{"next":{"$ref":"#/$defs/node"}}}},"$ref":"#/$defs/node"}`,
			"/$defs/node/properties/next/$ref", "$ref", "recursive reference"},
		{"ref to the root", `{"properties":{"self":{"$ref":"#"}}}`, "/properties/self/$ref", "$ref", "recursive reference"},
		{"ref chain loop", `{"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"}`, "/$defs/b/$ref", "$ref", "recursive reference"},
		{"allOf type conflict", `{"allOf":[{"type":"string"},{"type":"integer"}]}`, "/allOf/1", "type", "nothing in common"},
		{"allOf enum conflict", `{"allOf":[{"enum":[1]},{"enum":[2]}]}`, "/allOf/1", "enum", "no value in common"},
		{"allOf two anyOfs", `{"allOf":[{"anyOf":[{}]},{"anyOf":[{}]}]}`, "/allOf/1", "anyOf", "cannot be combined"},
		{"escaped path", `{"properties":{"a/b~c":{"type":1}}}`, "/properties/a~1b~0c/type", "type", ""},
		{"too deep", deep, "", "depth", "deeper than 64"},
		{"ref fan-out", fanout.String(), "", "nodes", "more than 10000 nodes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps, warns, err := jsonschema.Import([]byte(tt.doc))
			if err == nil {
				t.Fatalf("Import(%s) = %s, want an error", tt.doc, prototext.Format(ps))
			}
			if ps != nil || warns != nil {
				t.Errorf("a failed Import returned a schema or warnings")
			}
			var e *altarerr.Error
			if !errors.As(err, &e) || e.Code != altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST {
				t.Fatalf("error %v is not an INVALID_REQUEST *altarerr.Error", err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
			if tt.rule == "" {
				return
			}
			if len(e.Fields) == 0 {
				t.Fatalf("no field errors in %v", err)
			}
			if f := e.Fields[0]; (tt.path != "" && f.GetPath() != tt.path) || f.GetRule() != tt.rule {
				t.Errorf("first field error %s, want path %q rule %q", altarerr.FormatField(f), tt.path, tt.rule)
			}
		})
	}
}

func TestImportLimits(t *testing.T) {
	big := `{"$defs":{"e":{"enum":["` + strings.Repeat("x", 1000) + `"]}},"properties":{`
	for i := range 100 {
		if i > 0 {
			big += ","
		}
		big += fmt.Sprintf(`"p%d":{"$ref":"#/$defs/e"}`, i)
	}
	big += `}}`
	if _, _, err := jsonschema.Import([]byte(big)); err != nil {
		t.Fatalf("within the default limits: %v", err)
	}
	_, _, err := jsonschema.Import([]byte(big), jsonschema.WithLimits(jsonschema.Limits{MaxBytes: 50_000}))
	var e *altarerr.Error
	if !errors.As(err, &e) || len(e.Fields) != 1 || e.Fields[0].GetRule() != "bytes" {
		t.Fatalf("MaxBytes 50000: got %v, want one bytes error", err)
	}

	nested := strings.Repeat(`{"items":`, 9) + `{}` + strings.Repeat(`}`, 9)
	if _, _, err := jsonschema.Import([]byte(nested), jsonschema.WithLimits(jsonschema.Limits{MaxDepth: 10})); err != nil {
		t.Fatalf("depth 10 within MaxDepth 10: %v", err)
	}
	if _, _, err := jsonschema.Import([]byte(nested), jsonschema.WithLimits(jsonschema.Limits{MaxDepth: 9})); err == nil {
		t.Fatal("depth 10 accepted with MaxDepth 9")
	}
	if _, _, err := jsonschema.Import([]byte(`{"properties":{"a":{},"b":{}}}`), jsonschema.WithLimits(jsonschema.Limits{MaxNodes: 2})); err == nil {
		t.Fatal("3 nodes accepted with MaxNodes 2")
	}
	ps := parseText(t, `type: ALTAR_TYPE_ARRAY items {type: ALTAR_TYPE_ARRAY items {type: ALTAR_TYPE_STRING}}`)
	if _, err := jsonschema.Export(ps, jsonschema.WithLimits(jsonschema.Limits{MaxDepth: 2})); err == nil {
		t.Fatal("Export of depth 3 accepted with MaxDepth 2")
	}
}

func TestImportWarnings(t *testing.T) {
	tests := []struct {
		name, doc string
		want      []string // "path keyword"
	}{
		{"oneOf", `{"oneOf":[{"type":"string"},{"type":"integer"}]}`, []string{"/oneOf oneOf"}},
		{"inapplicable keyword", `{"type":"integer","minLength":1,"properties":{}}`, []string{"/minLength minLength", "/properties properties"}},
		{"unknown keyword", `{"x-order":1,"foo":{}}`, []string{"/foo foo", "/x-order x-order"}},
		{"unsupported keyword", `{"type":"string","not":{"const":""}}`, []string{"/not not"}},
		{"prefixItems", `{"type":"array","prefixItems":[{}],"items":{"type":"string"}}`, []string{"/items items", "/prefixItems prefixItems"}},
		{"tuple items", `{"type":"array","items":[{"type":"string"}]}`, []string{"/items items"}},
		{"additionalProperties schema", `{"type":"object","additionalProperties":{"type":"string"}}`, []string{"/additionalProperties additionalProperties"}},
		{"exclusiveMinimum true alone", `{"type":"number","exclusiveMinimum":true}`, []string{"/exclusiveMinimum exclusiveMinimum"}},
		{"nullable enum without null", `{"type":"string","nullable":true,"enum":["a"]}`, []string{"/enum enum"}},
		{"not RE2", `{"type":"string","pattern":"(?=a)"}`, []string{"/pattern pattern"}},
		{"contentEncoding without string", `{"contentEncoding":"base64"}`, []string{"/contentEncoding contentEncoding"}},
		{"other contentEncoding", `{"type":"string","contentEncoding":"base32"}`, []string{"/contentEncoding contentEncoding"}},
		{"allOf of several", `{"allOf":[{"type":"string"},{"maxLength":2}]}`, []string{"/allOf allOf"}},
		{"allOf conflicting patterns", `{"allOf":[{"pattern":"a"},{"pattern":"b"}]}`, []string{"/allOf/1 pattern", "/allOf allOf"}},
		{"a definition's warning once", `{"$defs":{"d":{"type":"string","foo":1}},"properties":{"a":{"$ref":"#/$defs/d"},"b":{"$ref":"#/$defs/d"}}}`, []string{"/$defs/d/foo foo"}},
		{"x-altar-min-bytes on a string", `{"type":"string","x-altar-min-bytes":1}`, []string{"/x-altar-min-bytes x-altar-min-bytes"}},
		{"no warnings for an MCP schema", `{"type":"object","properties":{"q":{"type":"string"}},"required":["q"],"additionalProperties":false,"$schema":"http://json-schema.org/draft-07/schema#"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, warns, err := jsonschema.Import([]byte(tt.doc))
			if err != nil {
				t.Fatalf("Import: %v", err)
			}
			var got []string
			for _, w := range warns {
				got = append(got, w.Path+" "+w.Keyword)
				if w.Message == "" {
					t.Errorf("warning %v has no message", w)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("warnings %q, want %q", got, tt.want)
			}
		})
	}
}

func TestImportMapGoValues(t *testing.T) {
	// As encoding/json decodes without UseNumber: every number a float64.
	var m map[string]any
	if err := json.Unmarshal([]byte(`{"type":"object","properties":{"n":{"type":"integer","enum":[1,2],"minimum":0,"maxLength":3}},"required":["n"]}`), &m); err != nil {
		t.Fatal(err)
	}
	got, warns, err := jsonschema.ImportMap(m)
	if err != nil {
		t.Fatal(err)
	}
	want := parseText(t, `type: ALTAR_TYPE_OBJECT additional_properties: true required: "n"
		properties {key: "n" value {type: ALTAR_TYPE_INTEGER minimum: 0 enum {int_value: 1} enum {int_value: 2}}}`)
	if !proto.Equal(got, want) {
		t.Errorf("got %s\nwant %s", prototext.Format(got), prototext.Format(want))
	}
	if len(warns) != 1 || warns[0].Path != "/properties/n/maxLength" {
		t.Errorf("warnings %v, want one for maxLength on an integer", warns)
	}

	// Built by hand, with Go integers and []string.
	got, _, err = jsonschema.ImportMap(map[string]any{
		"type":     []string{"integer", "null"},
		"maximum":  uint64(10),
		"enum":     []any{int8(1), uint32(2), nil},
		"default":  int64(1),
		"required": []string{},
	})
	if err != nil {
		t.Fatal(err)
	}
	want = parseText(t, `type: ALTAR_TYPE_INTEGER nullable: true maximum: 10 enum {int_value: 1} enum {int_value: 2} default {int_value: 1}`)
	if !proto.Equal(got, want) {
		t.Errorf("got %s\nwant %s", prototext.Format(got), prototext.Format(want))
	}

	if _, _, err := jsonschema.ImportMap(map[string]any{"enum": []any{struct{}{}}}); err == nil {
		t.Error("a Go struct in an enum was accepted")
	}
}

func TestImportWithPointer(t *testing.T) {
	doc := []byte(`{
		"openapi": "3.0.3",
		"components": {"schemas": {
			"Tag": {"type": "object", "properties": {"name": {"type": "string"}}, "additionalProperties": false},
			"Pet": {"type": "object", "properties": {"tags": {"type": "array", "items": {"$ref": "#/components/schemas/Tag"}}}, "additionalProperties": false}
		}}
	}`)
	got, _, err := jsonschema.Import(doc, jsonschema.WithPointer("/components/schemas/Pet"))
	if err != nil {
		t.Fatal(err)
	}
	want := parseText(t, `type: ALTAR_TYPE_OBJECT properties {key: "tags" value {type: ALTAR_TYPE_ARRAY
		items {type: ALTAR_TYPE_OBJECT properties {key: "name" value {type: ALTAR_TYPE_STRING}}}}}`)
	if !proto.Equal(got, want) {
		t.Errorf("got %s\nwant %s", prototext.Format(got), prototext.Format(want))
	}
	if _, _, err := jsonschema.Import(doc, jsonschema.WithPointer("/components/schemas/Nope")); err == nil {
		t.Error("a pointer to nothing was accepted")
	}
}
