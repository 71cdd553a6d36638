package gemini_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"
	"google.golang.org/genai"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/schema"
	"github.com/altar-gateway/altar/integrations/gemini"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

func TestMain(m *testing.M) {
	// genai's dependencies start opencensus's stats worker from init.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"))
}

var (
	tString  = altarv1.AltarType_ALTAR_TYPE_STRING
	tInteger = altarv1.AltarType_ALTAR_TYPE_INTEGER
	tNumber  = altarv1.AltarType_ALTAR_TYPE_NUMBER
	tBoolean = altarv1.AltarType_ALTAR_TYPE_BOOLEAN
	tBytes   = altarv1.AltarType_ALTAR_TYPE_BYTES
	tArray   = altarv1.AltarType_ALTAR_TYPE_ARRAY
	tObject  = altarv1.AltarType_ALTAR_TYPE_OBJECT
	tNull    = altarv1.AltarType_ALTAR_TYPE_NULL
	tAny     = altarv1.AltarType_ALTAR_TYPE_ANY
)

func parseText(t testing.TB, s string) *altarv1.ParameterSchema {
	t.Helper()
	ps := &altarv1.ParameterSchema{}
	if err := prototext.Unmarshal([]byte(s), ps); err != nil {
		t.Fatalf("bad test schema %q: %v", s, err)
	}
	return ps
}

func text(ps *altarv1.ParameterSchema) string {
	return prototext.MarshalOptions{Multiline: true}.Format(ps)
}

// drawSchema draws a ParameterSchema within what Gemini expresses (see the
// package documentation, "Round trips"), nested to depth 4.
func drawSchema(t *rapid.T, depth int) *altarv1.ParameterSchema {
	typ := rapid.SampledFrom([]altarv1.AltarType{tString, tInteger, tNumber, tBoolean, tBytes, tArray, tObject, tNull, tAny}).Draw(t, "type")
	ps := &altarv1.ParameterSchema{Type: typ, Nullable: rapid.Bool().Draw(t, "nullable")}
	if rapid.Bool().Draw(t, "title?") {
		ps.Title = rapid.StringN(0, 8, 32).Draw(t, "title")
	}
	if rapid.Bool().Draw(t, "description?") {
		ps.Description = rapid.StringN(0, 16, 64).Draw(t, "description")
	}
	opt := func(label string) bool { return rapid.Bool().Draw(t, label) }
	isAny := typ == tAny
	if typ == tInteger || typ == tNumber || isAny {
		if opt("minimum?") {
			ps.Minimum = proto.Float64(rapid.Float64().Draw(t, "minimum"))
		}
		if opt("maximum?") {
			ps.Maximum = proto.Float64(rapid.Float64().Draw(t, "maximum"))
		}
	}
	if typ == tString || isAny {
		if opt("min_length?") {
			ps.MinLength = proto.Uint64(rapid.Uint64Range(0, math.MaxInt64).Draw(t, "min_length"))
		}
		if opt("max_length?") {
			ps.MaxLength = proto.Uint64(rapid.Uint64Range(0, math.MaxInt64).Draw(t, "max_length"))
		}
		if opt("pattern?") {
			ps.Pattern = rapid.SampledFrom([]string{`^[a-z]+$`, `\d+`, `^(a|b)$`}).Draw(t, "pattern")
		}
	}
	if typ != tBytes && opt("format?") {
		ps.Format = rapid.SampledFrom([]string{"date-time", "email", "int64", "double", "uri"}).Draw(t, "format")
	}
	if typ == tArray || isAny {
		if depth < 4 && opt("items?") {
			ps.Items = drawSchema(t, depth+1)
		}
		if opt("min_items?") {
			ps.MinItems = proto.Uint64(rapid.Uint64Range(0, math.MaxInt64).Draw(t, "min_items"))
		}
		if opt("max_items?") {
			ps.MaxItems = proto.Uint64(rapid.Uint64Range(0, math.MaxInt64).Draw(t, "max_items"))
		}
	}
	if (typ == tObject || isAny) && depth < 4 {
		var names []string
		for range rapid.IntRange(0, 3).Draw(t, "properties") {
			name := rapid.StringMatching(`[a-z_][a-z0-9_]{0,6}`).Draw(t, "name")
			if ps.Properties == nil {
				ps.Properties = map[string]*altarv1.ParameterSchema{}
			}
			if ps.Properties[name] == nil {
				names = append(names, name)
			}
			ps.Properties[name] = drawSchema(t, depth+1)
		}
		if len(names) > 0 {
			slices.Sort(names)
			req := rapid.Permutation(names).Draw(t, "required")
			ps.Required = req[:rapid.IntRange(0, len(req)).Draw(t, "required.n")]
			ord := rapid.Permutation(names).Draw(t, "ordering")
			ps.PropertyOrdering = ord[:rapid.IntRange(0, len(ord)).Draw(t, "ordering.n")]
		}
		if opt("min_properties?") {
			ps.MinProperties = proto.Uint64(rapid.Uint64Range(0, 100).Draw(t, "min_properties"))
		}
		if opt("max_properties?") {
			ps.MaxProperties = proto.Uint64(rapid.Uint64Range(0, 100).Draw(t, "max_properties"))
		}
	}
	if depth < 4 && rapid.IntRange(0, 3).Draw(t, "any_of?") == 0 {
		for range rapid.IntRange(1, 3).Draw(t, "any_of") {
			ps.AnyOf = append(ps.AnyOf, drawSchema(t, depth+1))
		}
	}
	if (typ == tString || typ == tInteger) && rapid.IntRange(0, 2).Draw(t, "enum?") == 0 {
		for range rapid.IntRange(1, 4).Draw(t, "enum") {
			var v *altarv1.Value
			if typ == tString {
				v = schema.String(rapid.StringN(0, 6, 24).Draw(t, "member"))
			} else {
				v = schema.Int(rapid.Int64().Draw(t, "member"))
			}
			if !slices.ContainsFunc(ps.Enum, func(e *altarv1.Value) bool { return proto.Equal(e, v) }) {
				ps.Enum = append(ps.Enum, v)
			}
		}
	}
	if rapid.IntRange(0, 2).Draw(t, "default?") == 0 {
		ps.Default = drawValue(t, ps, 1)
	}
	return ps
}

// drawValue draws a value of ps's type.
func drawValue(t *rapid.T, ps *altarv1.ParameterSchema, depth int) *altarv1.Value {
	if depth > 1 && ps.GetNullable() && rapid.IntRange(0, 3).Draw(t, "null") == 0 {
		return schema.Null()
	}
	switch ps.GetType() {
	case tString:
		return schema.String(rapid.StringN(0, 6, 24).Draw(t, "string"))
	case tInteger:
		return schema.Int(rapid.Int64().Draw(t, "int"))
	case tNumber:
		if rapid.Bool().Draw(t, "int?") {
			return schema.Int(rapid.Int64().Draw(t, "int"))
		}
		return schema.Double(rapid.Float64().Draw(t, "double"))
	case tBoolean:
		return schema.Bool(rapid.Bool().Draw(t, "bool"))
	case tBytes:
		return schema.Bytes(rapid.SliceOfN(rapid.Byte(), 0, 8).Draw(t, "bytes"))
	case tNull:
		if depth == 1 {
			return schema.Bool(true) // a null default reads back as none
		}
		return schema.Null()
	case tArray:
		var items []*altarv1.Value
		if ps.GetItems() != nil && depth < 3 {
			for range rapid.IntRange(0, 2).Draw(t, "items") {
				items = append(items, drawValue(t, ps.GetItems(), depth+1))
			}
		}
		return schema.Array(items...)
	case tObject:
		fields := map[string]*altarv1.Value{}
		if depth < 3 {
			for _, name := range ps.GetRequired() {
				fields[name] = drawValue(t, ps.GetProperties()[name], depth+1)
			}
		}
		return schema.Object(fields)
	default:
		// Under ANY every kind survives: int64, float64 and []byte stay apart in Go.
		k := rapid.SampledFrom([]altarv1.AltarType{tString, tInteger, tNumber, tBoolean, tBytes}).Draw(t, "kind")
		return drawValue(t, &altarv1.ParameterSchema{Type: k}, depth)
	}
}

func TestRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ps := drawSchema(t, 1)
		s, warns, err := gemini.ToGeminiSchema(ps)
		if err != nil {
			t.Fatalf("ToGeminiSchema: %v\n%s", err, text(ps))
		}
		if len(warns) > 0 {
			t.Fatalf("warnings within the Gemini subset: %v\n%s", warns, text(ps))
		}
		got, err := gemini.FromGeminiSchema(s)
		if err != nil {
			t.Fatalf("FromGeminiSchema: %v", err)
		}
		if !proto.Equal(got, ps) {
			t.Fatalf("FromGeminiSchema(ToGeminiSchema(ps)) differs\nwant:\n%s\ngot:\n%s", text(ps), text(got))
		}

		// And through Gemini's JSON wire form, as the REST API carries it:
		// numbers come back float64, so integer-valued defaults of ANY
		// schemas are excluded here.
		if hasLooseDefault(ps) {
			return
		}
		raw, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var wire genai.Schema
		if err := json.Unmarshal(raw, &wire); err != nil {
			t.Fatal(err)
		}
		got, err = gemini.FromGeminiSchema(&wire)
		if err != nil {
			t.Fatalf("FromGeminiSchema(wire): %v\n%s", err, raw)
		}
		if !proto.Equal(got, ps) {
			t.Fatalf("through JSON differs\nwant:\n%s\ngot:\n%s\njson: %s", text(ps), text(got), raw)
		}
	})
}

// hasLooseDefault reports a default whose kinds JSON cannot carry without a
// schema saying which: an integer or bytes where the schema does not say,
// a whole double, or an integer beyond float64's exact range.
func hasLooseDefault(ps *altarv1.ParameterSchema) bool {
	if ps == nil {
		return false
	}
	if d := ps.GetDefault(); d != nil && looseValue(d, ps) {
		return true
	}
	if hasLooseDefault(ps.GetItems()) {
		return true
	}
	for _, p := range ps.GetProperties() {
		if hasLooseDefault(p) {
			return true
		}
	}
	for _, a := range ps.GetAnyOf() {
		if hasLooseDefault(a) {
			return true
		}
	}
	return false
}

func looseValue(v *altarv1.Value, ps *altarv1.ParameterSchema) bool {
	switch k := v.GetKind().(type) {
	case *altarv1.Value_IntValue:
		return ps.GetType() != tInteger || k.IntValue > 1<<53 || k.IntValue < -(1<<53)
	case *altarv1.Value_DoubleValue:
		return k.DoubleValue == math.Trunc(k.DoubleValue)
	case *altarv1.Value_BytesValue:
		return ps.GetType() != tBytes
	case *altarv1.Value_ArrayValue:
		for _, item := range k.ArrayValue.GetItems() {
			if looseValue(item, ps.GetItems()) {
				return true
			}
		}
	case *altarv1.Value_ObjectValue:
		for name, f := range k.ObjectValue.GetFields() {
			if looseValue(f, ps.GetProperties()[name]) {
				return true
			}
		}
	}
	return false
}

func TestToGeminiMapping(t *testing.T) {
	ps := parseText(t, `
		type: ALTAR_TYPE_OBJECT title: "Search" description: "Search things"
		required: ["query"] property_ordering: ["query", "limit"]
		properties {key: "query" value {type: ALTAR_TYPE_STRING min_length: 1 max_length: 80 pattern: "^\\w" description: "q"}}
		properties {key: "limit" value {type: ALTAR_TYPE_INTEGER minimum: 1 maximum: 50 default {int_value: 10} nullable: true}}
		properties {key: "sort" value {type: ALTAR_TYPE_STRING enum {string_value: "asc"} enum {string_value: "desc"}}}
		properties {key: "page" value {type: ALTAR_TYPE_INTEGER format: "int32" enum {int_value: 1} enum {int_value: 2}}}
		properties {key: "blob" value {type: ALTAR_TYPE_BYTES default {bytes_value: "hi"}}}
		properties {key: "tags" value {type: ALTAR_TYPE_ARRAY min_items: 1 max_items: 3 items {type: ALTAR_TYPE_STRING}}}
		properties {key: "anything" value {type: ALTAR_TYPE_ANY any_of {type: ALTAR_TYPE_NUMBER} any_of {type: ALTAR_TYPE_NULL}}}
		properties {key: "token" value {type: ALTAR_TYPE_STRING sensitive: true}}`)
	s, warns, err := gemini.ToGeminiSchema(ps)
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) > 0 {
		t.Errorf("unexpected warnings %v", warns)
	}
	got, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"description":"Search things","properties":{` +
		`"anything":{"anyOf":[{"type":"NUMBER"},{"type":"NULL"}]},` +
		`"blob":{"default":"aGk=","format":"byte","type":"STRING"},` +
		`"limit":{"default":10,"maximum":50,"minimum":1,"nullable":true,"type":"INTEGER"},` +
		`"page":{"enum":["1","2"],"format":"int32","type":"INTEGER"},` +
		`"query":{"description":"q","maxLength":80,"minLength":1,"pattern":"^\\w","type":"STRING"},` +
		`"sort":{"enum":["asc","desc"],"format":"enum","type":"STRING"},` +
		`"tags":{"items":{"type":"STRING"},"maxItems":3,"minItems":1,"type":"ARRAY"},` +
		`"token":{"type":"STRING"}},` +
		`"propertyOrdering":["query","limit"],"required":["query"],"title":"Search","type":"OBJECT"}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestToGeminiLossy covers each constraint Gemini cannot carry: what is
// written instead, and the warning.
func TestToGeminiLossy(t *testing.T) {
	tests := []struct {
		name, schema string
		want         string // the Gemini schema as JSON
		warnings     []string
	}{
		{"exclusive minimum on an integer", `type: ALTAR_TYPE_INTEGER exclusive_minimum: 3`,
			`{"minimum":4,"type":"INTEGER"}`, []string{"/exclusive_minimum"}},
		{"fractional exclusive bounds on an integer", `type: ALTAR_TYPE_INTEGER exclusive_minimum: 2.5 exclusive_maximum: -2.5`,
			`{"maximum":-3,"minimum":3,"type":"INTEGER"}`, []string{"/exclusive_minimum", "/exclusive_maximum"}},
		{"exclusive inside an inclusive bound", `type: ALTAR_TYPE_INTEGER minimum: 10 exclusive_minimum: 3 maximum: 5 exclusive_maximum: 5`,
			`{"maximum":4,"minimum":10,"type":"INTEGER"}`, []string{"/exclusive_minimum", "/exclusive_maximum"}},
		{"exclusive bound beyond 2^53", `type: ALTAR_TYPE_INTEGER exclusive_maximum: 1e17`,
			`{"type":"INTEGER"}`, []string{"/exclusive_maximum"}},
		{"exclusive bounds on a number", `type: ALTAR_TYPE_NUMBER minimum: 0 exclusive_minimum: 0 exclusive_maximum: 1`,
			`{"minimum":0,"type":"NUMBER"}`, []string{"/exclusive_minimum", "/exclusive_maximum"}},
		{"multiple_of", `type: ALTAR_TYPE_NUMBER multiple_of: 0.5`, `{"type":"NUMBER"}`, []string{"/multiple_of"}},
		{"unique_items", `type: ALTAR_TYPE_ARRAY unique_items: true`, `{"type":"ARRAY"}`, []string{"/unique_items"}},
		{"open object", `type: ALTAR_TYPE_OBJECT additional_properties: true`, `{"type":"OBJECT"}`, []string{"/additional_properties"}},
		{"closed object is Gemini's own", `type: ALTAR_TYPE_OBJECT additional_properties: false`, `{"type":"OBJECT"}`, nil},
		{"closed any", `type: ALTAR_TYPE_ANY additional_properties: false`, `{}`, []string{"/additional_properties"}},
		{"number enum", `type: ALTAR_TYPE_NUMBER enum {double_value: 1.5}`, `{"type":"NUMBER"}`, []string{"/enum"}},
		{"boolean enum", `type: ALTAR_TYPE_BOOLEAN enum {bool_value: true}`, `{"type":"BOOLEAN"}`, []string{"/enum"}},
		{"any enum", `type: ALTAR_TYPE_ANY enum {string_value: "a"}`, `{}`, []string{"/enum"}},
		{"bytes enum", `type: ALTAR_TYPE_BYTES enum {bytes_value: "a"}`, `{"format":"byte","type":"STRING"}`, []string{"/enum"}},
		{"null member of a nullable enum", `type: ALTAR_TYPE_STRING nullable: true enum {string_value: "a"} enum {null_value: NULL_VALUE}`,
			`{"enum":["a"],"format":"enum","nullable":true,"type":"STRING"}`, nil},
		{"null member of a non-nullable enum", `type: ALTAR_TYPE_STRING enum {string_value: "a"} enum {null_value: NULL_VALUE}`,
			`{"type":"STRING"}`, []string{"/enum"}},
		{"enum keeps the format", `type: ALTAR_TYPE_STRING format: "date" enum {string_value: "2025-01-01"}`,
			`{"enum":["2025-01-01"],"format":"date","type":"STRING"}`, nil},
		{"byte lengths", `type: ALTAR_TYPE_BYTES min_length: 1 max_length: 9`, `{"format":"byte","type":"STRING"}`, []string{"/min_length"}},
		{"format of bytes", `type: ALTAR_TYPE_BYTES format: "binary"`, `{"format":"byte","type":"STRING"}`, []string{"/format"}},
		{"null default", `type: ALTAR_TYPE_STRING nullable: true default {null_value: NULL_VALUE}`,
			`{"nullable":true,"type":"STRING"}`, []string{"/default"}},
		{"huge count", `type: ALTAR_TYPE_ARRAY max_items: 18446744073709551615`,
			`{"maxItems":9223372036854775807,"type":"ARRAY"}`, []string{"/max_items"}},
		{"nested paths", `type: ALTAR_TYPE_OBJECT properties {key: "a/b" value {type: ALTAR_TYPE_ARRAY items {type: ALTAR_TYPE_NUMBER multiple_of: 2}}}`,
			`{"properties":{"a/b":{"items":{"type":"NUMBER"},"type":"ARRAY"}},"type":"OBJECT"}`, []string{"/properties/a~1b/items/multiple_of"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, warns, err := gemini.ToGeminiSchema(parseText(t, tt.schema))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(s)
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			var paths []string
			for _, w := range warns {
				paths = append(paths, w.Path)
				if w.Keyword == "" || w.Message == "" || !strings.HasSuffix(w.Path, "/"+w.Keyword) {
					t.Errorf("malformed warning %+v", w)
				}
			}
			if fmt.Sprint(paths) != fmt.Sprint(tt.warnings) {
				t.Errorf("warnings %v, want at %v", warns, tt.warnings)
			}
		})
	}
}

func TestToGeminiErrors(t *testing.T) {
	deep := &altarv1.ParameterSchema{Type: tArray}
	for n := deep; ; n = n.Items {
		if n.Items = (&altarv1.ParameterSchema{Type: tArray}); strings.Count(text(deep), "items") > 70 {
			break
		}
	}
	for _, tt := range []struct {
		name string
		ps   *altarv1.ParameterSchema
		path string
	}{
		{"nil", nil, ""},
		{"unknown type", &altarv1.ParameterSchema{Type: 42}, "/type"},
		{"value without kind", &altarv1.ParameterSchema{Type: tObject, Properties: map[string]*altarv1.ParameterSchema{"a": {Type: tAny, Default: &altarv1.Value{}}}}, "/properties/a/default"},
		{"missing alternative", &altarv1.ParameterSchema{Type: tAny, AnyOf: []*altarv1.ParameterSchema{nil}}, "/any_of/0"},
		{"too deep", deep, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := gemini.ToGeminiSchema(tt.ps)
			checkInvalid(t, err, tt.path)
		})
	}
}

func checkInvalid(t *testing.T, err error, path string) {
	t.Helper()
	var e *altarerr.Error
	if !errors.As(err, &e) || e.Code != altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST {
		t.Fatalf("error %v, want an INVALID_REQUEST *altarerr.Error", err)
	}
	if path != "" && (len(e.Fields) == 0 || e.Fields[0].GetPath() != path) {
		t.Errorf("field errors %v, want the first at %q", e.Fields, path)
	}
}

// TestFromGemini reads schemas as a Gemini declaration's JSON carries them.
func TestFromGemini(t *testing.T) {
	tests := []struct {
		name, json, want string
	}{
		{"object", `{"type":"OBJECT","properties":{"city":{"type":"STRING","description":"City"},"days":{"type":"INTEGER","minimum":1}},"required":["city"],"propertyOrdering":["city","days"]}`,
			`type: ALTAR_TYPE_OBJECT required: "city" property_ordering: ["city", "days"]
			 properties {key: "city" value {type: ALTAR_TYPE_STRING description: "City"}}
			 properties {key: "days" value {type: ALTAR_TYPE_INTEGER minimum: 1}}`},
		{"lower-case types", `{"type":"string","nullable":true}`, `type: ALTAR_TYPE_STRING nullable: true`},
		{"unspecified", `{"type":"TYPE_UNSPECIFIED","description":"x"}`, `type: ALTAR_TYPE_ANY description: "x"`},
		{"no type", `{"anyOf":[{"type":"STRING"},{"type":"NULL"}]}`,
			`type: ALTAR_TYPE_ANY any_of {type: ALTAR_TYPE_STRING} any_of {type: ALTAR_TYPE_NULL}`},
		{"bytes", `{"type":"STRING","format":"byte","default":"aGk=","maxLength":8}`,
			`type: ALTAR_TYPE_BYTES max_length: 8 default {bytes_value: "hi"}`},
		{"string enum", `{"type":"STRING","format":"enum","enum":["a","b"]}`,
			`type: ALTAR_TYPE_STRING enum {string_value: "a"} enum {string_value: "b"}`},
		{"integer enum", `{"type":"INTEGER","format":"enum","enum":["101","-3"],"default":101}`,
			`type: ALTAR_TYPE_INTEGER enum {int_value: 101} enum {int_value: -3} default {int_value: 101}`},
		{"number enum", `{"type":"NUMBER","enum":["1","2.5"]}`,
			`type: ALTAR_TYPE_NUMBER enum {int_value: 1} enum {double_value: 2.5}`},
		{"boolean enum", `{"type":"BOOLEAN","enum":["true"]}`, `type: ALTAR_TYPE_BOOLEAN enum {bool_value: true}`},
		{"number default", `{"type":"NUMBER","default":2}`, `type: ALTAR_TYPE_NUMBER default {double_value: 2}`},
		{"object default", `{"type":"OBJECT","properties":{"n":{"type":"INTEGER"}},"default":{"n":3,"x":[true]}}`,
			`type: ALTAR_TYPE_OBJECT properties {key: "n" value {type: ALTAR_TYPE_INTEGER}}
			 default {object_value {fields {key: "n" value {int_value: 3}} fields {key: "x" value {array_value {items {bool_value: true}}}}}}`},
		{"example ignored", `{"type":"STRING","example":"x"}`, `type: ALTAR_TYPE_STRING`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s genai.Schema
			if err := json.Unmarshal([]byte(tt.json), &s); err != nil {
				t.Fatal(err)
			}
			got, err := gemini.FromGeminiSchema(&s)
			if err != nil {
				t.Fatal(err)
			}
			if want := parseText(t, tt.want); !proto.Equal(got, want) {
				t.Errorf("got  %s\nwant %s", prototext.Format(got), prototext.Format(want))
			}
		})
	}
}

func TestFromGeminiErrors(t *testing.T) {
	cyclic := &genai.Schema{Type: genai.TypeArray}
	cyclic.Items = cyclic
	nan := math.NaN()
	for _, tt := range []struct {
		name string
		s    *genai.Schema
		path string
	}{
		{"nil", nil, ""},
		{"unknown type", &genai.Schema{Type: "DECIMAL"}, "/type"},
		{"negative length", &genai.Schema{Type: genai.TypeString, MinLength: genai.Ptr[int64](-1)}, "/minLength"},
		{"NaN bound", &genai.Schema{Type: genai.TypeNumber, Maximum: &nan}, "/maximum"},
		{"integer enum", &genai.Schema{Type: genai.TypeInteger, Enum: []string{"1", "x"}}, "/enum/1"},
		{"boolean enum", &genai.Schema{Type: genai.TypeBoolean, Enum: []string{"yes"}}, "/enum/0"},
		{"object enum", &genai.Schema{Type: genai.TypeObject, Enum: []string{"a"}}, "/enum/0"},
		{"bad bytes default", &genai.Schema{Type: genai.TypeString, Format: "byte", Default: "%%"}, "/default"},
		{"missing property", &genai.Schema{Type: genai.TypeObject, Properties: map[string]*genai.Schema{"a": nil}}, "/properties/a"},
		{"cycle", cyclic, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := gemini.FromGeminiSchema(tt.s)
			checkInvalid(t, err, tt.path)
		})
	}
}
