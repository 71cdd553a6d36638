package jsonschema_test

import (
	"errors"
	"math"
	"path/filepath"
	"testing"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/schema/jsonschema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// goldenSchemas are exported to testdata/golden/export/<name>.<draft>.json.
var goldenSchemas = map[string]string{
	"tool_parameters": `
		type: ALTAR_TYPE_OBJECT
		description: "Search the catalogue"
		required: ["query"]
		property_ordering: ["query", "limit", "tags"]
		properties {key: "query" value {type: ALTAR_TYPE_STRING min_length: 1 max_length: 200 description: "What to look for"}}
		properties {key: "limit" value {type: ALTAR_TYPE_INTEGER minimum: 1 maximum: 100 default {int_value: 10}}}
		properties {key: "tags" value {type: ALTAR_TYPE_ARRAY unique_items: true max_items: 5 items {type: ALTAR_TYPE_STRING pattern: "^[a-z-]+$"}}}
		properties {key: "api_key" value {type: ALTAR_TYPE_STRING sensitive: true}}`,
	"nullable": `
		type: ALTAR_TYPE_OBJECT additional_properties: true
		properties {key: "unit" value {type: ALTAR_TYPE_STRING nullable: true enum {string_value: "c"} enum {string_value: "f"} default {null_value: NULL_VALUE}}}
		properties {key: "either" value {type: ALTAR_TYPE_ANY nullable: true any_of {type: ALTAR_TYPE_STRING} any_of {type: ALTAR_TYPE_INTEGER}}}
		properties {key: "shaped" value {type: ALTAR_TYPE_ANY nullable: true any_of {type: ALTAR_TYPE_STRING format: "email"} any_of {type: ALTAR_TYPE_OBJECT}}}`,
	"numbers_and_bytes": `
		type: ALTAR_TYPE_OBJECT
		properties {key: "count" value {type: ALTAR_TYPE_INTEGER exclusive_minimum: 0 maximum: 9007199254740992 multiple_of: 2}}
		properties {key: "ratio" value {type: ALTAR_TYPE_NUMBER minimum: 0 exclusive_maximum: 1.5 enum {double_value: 0.5} enum {double_value: 1} enum {int_value: 2}}}
		properties {key: "blob" value {type: ALTAR_TYPE_BYTES min_length: 1 max_length: 1024 default {bytes_value: "hi"}}}
		properties {key: "anything" value {type: ALTAR_TYPE_ANY}}
		properties {key: "nothing" value {type: ALTAR_TYPE_NULL}}`,
}

func TestExportGolden(t *testing.T) {
	for name, text := range goldenSchemas {
		ps := parseText(t, text)
		for _, d := range drafts {
			t.Run(name+"/"+d.draft.String(), func(t *testing.T) {
				doc, err := jsonschema.ExportJSON(ps, jsonschema.WithDraft(d.draft), jsonschema.WithSchemaURI())
				if err != nil {
					t.Fatal(err)
				}
				if _, err := compileJSONSchema(doc, d.sjs); err != nil {
					t.Errorf("not a valid %s JSON Schema: %v", d.draft, err)
				}
				checkGolden(t, filepath.Join("testdata", "golden", "export", name+"."+d.draft.String()+".json"), indentJSON(t, doc))
			})
		}
	}
}

func TestExportMapping(t *testing.T) {
	tests := []struct {
		name, schema, want string
	}{
		{"closed object", `type: ALTAR_TYPE_OBJECT`, `{"additionalProperties":false,"type":"object"}`},
		{"explicitly closed object", `type: ALTAR_TYPE_OBJECT additional_properties: false`, `{"additionalProperties":false,"type":"object"}`},
		{"open object", `type: ALTAR_TYPE_OBJECT additional_properties: true`, `{"type":"object"}`},
		{"any", `type: ALTAR_TYPE_ANY`, `{}`},
		{"unspecified is any", `title: "x"`, `{"title":"x"}`},
		{"open any", `type: ALTAR_TYPE_ANY additional_properties: true`, `{"additionalProperties":true}`},
		{"nullable", `type: ALTAR_TYPE_INTEGER nullable: true`, `{"type":["integer","null"]}`},
		{"nullable null", `type: ALTAR_TYPE_NULL nullable: true`, `{"type":"null"}`},
		{"nullable enum gets null", `type: ALTAR_TYPE_STRING nullable: true enum {string_value: "a"}`, `{"enum":["a",null],"type":["string","null"]}`},
		{"nullable any without alternatives", `type: ALTAR_TYPE_ANY nullable: true`, `{}`},
		{"nullable anyOf gets a null branch", `type: ALTAR_TYPE_STRING nullable: true any_of {min_length: 1 type: ALTAR_TYPE_STRING}`,
			`{"anyOf":[{"minLength":1,"type":"string"},{"type":"null"}],"type":["string","null"]}`},
		{"bare types as a list", `type: ALTAR_TYPE_ANY any_of {type: ALTAR_TYPE_NUMBER} any_of {type: ALTAR_TYPE_BOOLEAN}`, `{"type":["number","boolean"]}`},
		{"bytes", `type: ALTAR_TYPE_BYTES min_length: 4 max_length: 4`,
			`{"contentEncoding":"base64","maxLength":8,"minLength":8,"type":"string","x-altar-max-bytes":4,"x-altar-min-bytes":4}`},
		{"integer bounds", `type: ALTAR_TYPE_INTEGER minimum: 3 maximum: 1e300 multiple_of: 2`, `{"maximum":1e+300,"minimum":3,"multipleOf":2,"type":"integer"}`},
		{"number bounds", `type: ALTAR_TYPE_NUMBER minimum: 3 maximum: 3.5`, `{"maximum":3.5,"minimum":3,"type":"number"}`},
		{"values", `type: ALTAR_TYPE_ANY enum {int_value: 9007199254740993} enum {double_value: 2} enum {double_value: 1e-7} enum {bytes_value: "\x00"}
			enum {array_value {items {bool_value: true}}} enum {object_value {fields {key: "k" value {null_value: NULL_VALUE}}}}`,
			`{"enum":[9007199254740993,2.0,1e-7,"AA==",[true],{"k":null}]}`},
		{"sensitive", `type: ALTAR_TYPE_STRING sensitive: true`, `{"type":"string","writeOnly":true,"x-altar-sensitive":true}`},
		{"members equal as JSON once", `type: ALTAR_TYPE_NUMBER enum {int_value: 1} enum {double_value: 1} enum {double_value: 1.5}`, `{"enum":[1,1.5],"type":"number"}`},
		{"duplicate required once", `type: ALTAR_TYPE_OBJECT additional_properties: true required: ["a", "a"]`, `{"required":["a"],"type":"object"}`},
		{"html not escaped", `type: ALTAR_TYPE_STRING description: "<a> & b"`, `{"description":"<a> & b","type":"string"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := jsonschema.ExportJSON(parseText(t, tt.schema))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestExportSchemaURI(t *testing.T) {
	ps := &altarv1.ParameterSchema{Type: altarv1.AltarType_ALTAR_TYPE_STRING}
	for _, tt := range []struct {
		opts []jsonschema.ExportOption
		want string
	}{
		{nil, `{"type":"string"}`},
		{[]jsonschema.ExportOption{jsonschema.WithDraft(jsonschema.Draft07)}, `{"type":"string"}`},
		{[]jsonschema.ExportOption{jsonschema.WithSchemaURI()}, `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"string"}`},
		{[]jsonschema.ExportOption{jsonschema.WithSchemaURI(), jsonschema.WithDraft(jsonschema.Draft07)}, `{"$schema":"http://json-schema.org/draft-07/schema#","type":"string"}`},
	} {
		got, err := jsonschema.ExportJSON(ps, tt.opts...)
		if err != nil || string(got) != tt.want {
			t.Errorf("ExportJSON = %s, %v; want %s", got, err, tt.want)
		}
	}
}

func TestExportErrors(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	zero, neg := 0.0, -1.0
	tests := []struct {
		name string
		ps   *altarv1.ParameterSchema
		path string
	}{
		{"nil", nil, ""},
		{"NaN bound", &altarv1.ParameterSchema{Type: altarv1.AltarType_ALTAR_TYPE_NUMBER, Minimum: &nan}, "/minimum"},
		{"infinite bound", &altarv1.ParameterSchema{Type: altarv1.AltarType_ALTAR_TYPE_NUMBER, ExclusiveMaximum: &inf}, "/exclusive_maximum"},
		{"multiple_of 0", &altarv1.ParameterSchema{Type: altarv1.AltarType_ALTAR_TYPE_NUMBER, MultipleOf: &zero}, "/multiple_of"},
		{"negative multiple_of", &altarv1.ParameterSchema{Type: altarv1.AltarType_ALTAR_TYPE_NUMBER, MultipleOf: &neg}, "/multiple_of"},
		{"unknown type", &altarv1.ParameterSchema{Type: altarv1.AltarType(99)}, "/type"},
		{"value without kind", &altarv1.ParameterSchema{Type: altarv1.AltarType_ALTAR_TYPE_ANY, Enum: []*altarv1.Value{{}}}, "/enum/0"},
		{"missing alternative", &altarv1.ParameterSchema{Type: altarv1.AltarType_ALTAR_TYPE_ANY, AnyOf: []*altarv1.ParameterSchema{{}, nil}}, "/any_of/1"},
		{"missing property", &altarv1.ParameterSchema{Type: altarv1.AltarType_ALTAR_TYPE_OBJECT, Properties: map[string]*altarv1.ParameterSchema{"p": nil}}, "/properties/p"},
		{"NaN default", &altarv1.ParameterSchema{
			Type:       altarv1.AltarType_ALTAR_TYPE_OBJECT,
			Properties: map[string]*altarv1.ParameterSchema{"a/b": {Type: altarv1.AltarType_ALTAR_TYPE_NUMBER, Default: &altarv1.Value{Kind: &altarv1.Value_DoubleValue{DoubleValue: nan}}}},
		}, "/properties/a~1b/default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := jsonschema.Export(tt.ps)
			var e *altarerr.Error
			if !errors.As(err, &e) || e.Code != altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST {
				t.Fatalf("Export: %v, want an INVALID_REQUEST error", err)
			}
			if tt.path != "" && (len(e.Fields) == 0 || e.Fields[0].GetPath() != tt.path) {
				t.Errorf("field errors %v, want path %q", e.Fields, tt.path)
			}
		})
	}
}
