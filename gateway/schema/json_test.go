package schema_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

func jsonObj(kv ...any) *altarv1.Value {
	m := map[string]*altarv1.Value{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1].(*altarv1.Value)
	}
	return schema.Object(m)
}

// TestParseJSONKinds parses every kind, and the exact edges of numbers.
func TestParseJSONKinds(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want *altarv1.Value
		// out is what MarshalJSON writes back; "" means in.
		out string
	}{
		{"null", `null`, schema.Null(), ""},
		{"true", `true`, schema.Bool(true), ""},
		{"false", `false`, schema.Bool(false), ""},
		{"string", `"hi"`, schema.String("hi"), ""},
		{"empty string", `""`, schema.String(""), ""},
		{"zero", `0`, schema.Int(0), ""},
		{"minus zero int", `-0`, schema.Int(0), "0"},
		{"int", `42`, schema.Int(42), ""},
		{"negative int", `-17`, schema.Int(-17), ""},
		{"int64 max", `9223372036854775807`, schema.Int(math.MaxInt64), ""},
		{"int64 min", `-9223372036854775808`, schema.Int(math.MinInt64), ""},
		{"2^53+1 exact", `9007199254740993`, schema.Int(1<<53 + 1), ""},
		{"-(2^53+1) exact", `-9007199254740993`, schema.Int(-(1<<53 + 1)), ""},
		{"double with zero fraction", `1.0`, schema.Double(1), ""},
		{"double", `3.25`, schema.Double(3.25), ""},
		{"negative double", `-0.5`, schema.Double(-0.5), ""},
		{"exponent", `1e3`, schema.Double(1000), "1000.0"},
		{"exponent upper", `1E3`, schema.Double(1000), "1000.0"},
		{"exponent plus", `1e+3`, schema.Double(1000), "1000.0"},
		{"exponent minus", `25e-1`, schema.Double(2.5), "2.5"},
		{"fraction and exponent", `1.5e2`, schema.Double(150), "150.0"},
		{"big exponent", `1e300`, schema.Double(1e300), "1e+300"},
		{"tiny", `1.5e-7`, schema.Double(1.5e-7), ""},
		{"zero exponent", `0e0`, schema.Double(0), "0.0"},
		{"max double", `1.7976931348623157e308`, schema.Double(math.MaxFloat64), "1.7976931348623157e+308"},
		{"smallest denormal", `5e-324`, schema.Double(5e-324), ""},
		{"underflow to zero", `1e-400`, schema.Double(0), "0.0"},
		{"2^53+1 as double rounds", `9007199254740993.0`, schema.Double(9007199254740992), "9007199254740992.0"},
		{"1e21 uses exponent", `1e21`, schema.Double(1e21), "1e+21"},
		{"below 1e21 plain", `1e20`, schema.Double(1e20), "100000000000000000000.0"},
		{"array", `[1,"a",null]`, schema.Array(schema.Int(1), schema.String("a"), schema.Null()), ""},
		{"empty array", `[]`, schema.Array(), ""},
		{"empty object", `{}`, schema.Object(nil), ""},
		{"object sorted", `{"b":1,"a":2.0}`, jsonObj("b", schema.Int(1), "a", schema.Double(2)), `{"a":2.0,"b":1}`},
		{"whitespace", " \t\r\n{ \"a\" :\n[ 1 , 2 ] } \n", jsonObj("a", schema.Array(schema.Int(1), schema.Int(2))), `{"a":[1,2]}`},
		{"nested", `{"a":{"b":[[],{}]}}`, jsonObj("a", jsonObj("b", schema.Array(schema.Array(), schema.Object(nil)))), ""},
		{"null member kept", `{"a":null}`, jsonObj("a", schema.Null()), ""},
		{"unicode raw", `"héllo, 世界 🎉"`, schema.String("héllo, 世界 🎉"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := schema.ParseJSON([]byte(tt.in), schema.Limits{})
			if err != nil {
				t.Fatalf("ParseJSON(%q): %v", tt.in, err)
			}
			if !proto.Equal(got, tt.want) {
				t.Fatalf("ParseJSON(%q) = %v, want %v", tt.in, got, tt.want)
			}
			out, err := schema.MarshalJSON(got)
			if err != nil {
				t.Fatalf("MarshalJSON: %v", err)
			}
			want := tt.out
			if want == "" {
				want = tt.in
			}
			if string(out) != want {
				t.Errorf("MarshalJSON = %s, want %s", out, want)
			}
			again, err := schema.ParseJSON(out, schema.Limits{})
			if err != nil || !proto.Equal(again, got) {
				t.Errorf("re-parse of %s = %v, %v; want %v", out, again, err, got)
			}
		})
	}
}

func TestParseJSONNegativeZero(t *testing.T) {
	v, err := schema.ParseJSON([]byte(`-0.0`), schema.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := v.GetKind().(*altarv1.Value_DoubleValue); !ok || !math.Signbit(v.GetDoubleValue()) {
		t.Fatalf("ParseJSON(-0.0) = %v, want double -0", v)
	}
	out, err := schema.MarshalJSON(schema.Double(math.Copysign(0, -1)))
	if err != nil || string(out) != "-0.0" {
		t.Fatalf("MarshalJSON(-0) = %s, %v; want -0.0", out, err)
	}
}

func TestParseJSONEscapes(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{`"\""`, `"`},
		{`"\\"`, `\`},
		{`"\/"`, `/`},
		{`"\b\f\n\r\t"`, "\b\f\n\r\t"},
		{`"\u0000"`, "\x00"},
		{`"\u001F"`, "\x1f"},
		{`"\u00e9\u00E9"`, "éé"},
		{`"\u4e16\u754C"`, "世界"},
		{`"\uFFFF"`, "\uffff"},
		{`"\ud83c\udf89"`, "🎉"},
		{`"\uD83D\uDE00!"`, "😀!"},
		{`"\udbff\udfff"`, "\U0010ffff"},
		{`"\ud800\udc00"`, "\U00010000"},
		{`"a\nb\u0041c"`, "a\nbAc"},
		{`"é\n"`, "é\n"},
	}
	for _, tt := range tests {
		got, err := schema.ParseJSON([]byte(tt.in), schema.Limits{})
		if err != nil {
			t.Errorf("ParseJSON(%s): %v", tt.in, err)
			continue
		}
		if got.GetStringValue() != tt.want {
			t.Errorf("ParseJSON(%s) = %q, want %q", tt.in, got.GetStringValue(), tt.want)
		}
		// The same escapes as keys.
		key := `{` + tt.in + `:1}`
		obj, err := schema.ParseJSONObject([]byte(key), schema.Limits{})
		if err != nil || obj[tt.want] == nil {
			t.Errorf("ParseJSONObject(%s) = %v, %v; want key %q", key, obj, err, tt.want)
		}
	}
}

func TestMarshalJSONStringEscapes(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"plain", `"plain"`},
		{`q"b\`, `"q\"b\\"`},
		{"\n\r\t\b\f", `"\n\r\t\b\f"`},
		{"\x00\x01\x1f", `"\u0000\u0001\u001f"`},
		{"\x7f", "\"\x7f\""},
		{"<&>", `"<&>"`},
		{"é世🎉", `"é世🎉"`},
		{"\u2028\u2029", "\"\u2028\u2029\""},
		{"/", `"/"`},
	}
	for _, tt := range tests {
		out, err := schema.MarshalJSON(schema.String(tt.in))
		if err != nil || string(out) != tt.want {
			t.Errorf("MarshalJSON(%q) = %s, %v; want %s", tt.in, out, err, tt.want)
		}
		if !json.Valid(out) {
			t.Errorf("MarshalJSON(%q) = %s is not valid JSON", tt.in, out)
		}
		back, err := schema.ParseJSON(out, schema.Limits{})
		if err != nil || back.GetStringValue() != tt.in {
			t.Errorf("round trip of %q = %v, %v", tt.in, back, err)
		}
	}
}

func TestMarshalJSONKinds(t *testing.T) {
	tests := []struct {
		name string
		in   *altarv1.Value
		want string
	}{
		{"bytes", schema.Bytes([]byte("hi?>")), `"aGk/Pg=="`},
		{"empty bytes", schema.Bytes(nil), `""`},
		{"integral double", schema.Double(3), `3.0`},
		{"large integral double", schema.Double(1e15), `1000000000000000.0`},
		{"negative double", schema.Double(-2.5), `-2.5`},
		{"small double", schema.Double(0.000001), `0.000001`},
		{"smaller double", schema.Double(1e-7), `1e-7`},
		{"huge negative double", schema.Double(-1.5e300), `-1.5e+300`},
		{"shortest digits", schema.Double(0.1), `0.1`},
		{"int min", schema.Int(math.MinInt64), `-9223372036854775808`},
		{"nil array value", &altarv1.Value{Kind: &altarv1.Value_ArrayValue{}}, `[]`},
		{"nil object value", &altarv1.Value{Kind: &altarv1.Value_ObjectValue{}}, `{}`},
		{"keys sorted by bytes", jsonObj("b", schema.Int(1), "B", schema.Int(2), "a", schema.Int(3), "é", schema.Int(4)), `{"B":2,"a":3,"b":1,"é":4}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := schema.MarshalJSON(tt.in)
			if err != nil || string(out) != tt.want {
				t.Fatalf("MarshalJSON = %s, %v; want %s", out, err, tt.want)
			}
		})
	}
}

// TestBytesComeBackAsStrings documents the one asymmetry of the mapping.
func TestBytesComeBackAsStrings(t *testing.T) {
	out, err := schema.MarshalJSON(schema.Bytes([]byte{0, 1, 2, 0xff}))
	if err != nil {
		t.Fatal(err)
	}
	v, err := schema.ParseJSON(out, schema.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(v, schema.String("AAEC/w==")) {
		t.Fatalf("bytes came back as %v, want the base64 string", v)
	}
}

func TestAppendJSON(t *testing.T) {
	dst := []byte("prefix:")
	out, err := schema.AppendJSON(dst, schema.Array(schema.Int(1)))
	if err != nil || string(out) != "prefix:[1]" {
		t.Fatalf("AppendJSON = %s, %v", out, err)
	}
	out, err = schema.AppendJSON(dst, schema.Array(schema.Int(1), &altarv1.Value{}))
	if err == nil || string(out) != "prefix:" {
		t.Fatalf("AppendJSON of a bad value = %q, %v; want dst unchanged and an error", out, err)
	}
}

func TestMarshalJSONErrors(t *testing.T) {
	deep := schema.Null()
	for range 10001 {
		deep = schema.Array(deep)
	}
	tests := []struct {
		name string
		in   *altarv1.Value
		path string
		rule string
	}{
		{"nil", nil, "", "kind"},
		{"unset", &altarv1.Value{}, "", "kind"},
		{"unset in array", schema.Array(schema.Int(1), &altarv1.Value{}), "/1", "kind"},
		{"nil in object", jsonObj("a/b", jsonObj("c~d", (*altarv1.Value)(nil))), "/a~1b/c~0d", "kind"},
		{"NaN", jsonObj("x", schema.Array(schema.Double(math.NaN()))), "/x/0", "finite"},
		{"+Inf", schema.Double(math.Inf(1)), "", "finite"},
		{"-Inf", schema.Double(math.Inf(-1)), "", "finite"},
		{"invalid UTF-8", jsonObj("s", schema.String("a\xffb")), "/s", "utf8"},
		{"invalid UTF-8 key", jsonObj("a\xff", schema.Int(1)), "", "utf8"},
		{"too deep", deep, strings.Repeat("/0", 10000), "max_depth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := schema.MarshalJSON(tt.in)
			if err == nil {
				t.Fatalf("MarshalJSON = %s, want an error", out)
			}
			jsonCheckError(t, err, altarv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENTS, tt.path, tt.rule)
		})
	}
}

func TestMarshalJSONCycle(t *testing.T) {
	arr := &altarv1.ArrayValue{}
	v := &altarv1.Value{Kind: &altarv1.Value_ArrayValue{ArrayValue: arr}}
	arr.Items = []*altarv1.Value{v}
	_, err := schema.MarshalJSON(v)
	if altarerr.CodeOf(err) != altarv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENTS {
		t.Fatalf("MarshalJSON of a cycle = %v, want INVALID_ARGUMENTS", err)
	}
}

// jsonCheckError asserts err is an *altarerr.Error with the code and, when
// rule is not empty, exactly one field error with the path and rule.
func jsonCheckError(t *testing.T, err error, code altarv1.ErrorCode, path, rule string) {
	t.Helper()
	var ae *altarerr.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *altarerr.Error", err, err)
	}
	if ae.Code != code {
		t.Fatalf("code = %v, want %v (%v)", ae.Code, code, err)
	}
	if rule == "" {
		return
	}
	if len(ae.Fields) != 1 {
		t.Fatalf("fields = %v, want one", ae.Fields)
	}
	if f := ae.Fields[0]; f.GetPath() != path || f.GetRule() != rule {
		p := f.GetPath()
		if len(p) > 80 {
			p = p[:80] + "..."
		}
		t.Fatalf("field = %s (%s), want path %.80q rule %s", p, f.GetRule(), path, rule)
	}
}

func TestParseJSONLimits(t *testing.T) {
	tooLarge := altarv1.ErrorCode_ERROR_CODE_PAYLOAD_TOO_LARGE
	tests := []struct {
		name string
		in   string
		lim  schema.Limits
		path string
		rule string
	}{
		{"bytes", `[1,2,3]`, schema.Limits{MaxBytes: 6}, "", "max_bytes"},
		{"bytes exact ok", `[1,2]`, schema.Limits{MaxBytes: 5}, "", ""},
		{"depth top array", `[[]]`, schema.Limits{MaxDepth: 1}, "/0", "max_depth"},
		{"depth exact ok", `[[1]]`, schema.Limits{MaxDepth: 3}, "", ""},
		{"depth counts scalars", `[[1]]`, schema.Limits{MaxDepth: 2}, "/0/0", "max_depth"},
		{"depth scalar member", `{"a":1}`, schema.Limits{MaxDepth: 1}, "/a", "max_depth"},
		{"depth top scalar ok", `1`, schema.Limits{MaxDepth: 1}, "", ""},
		{"depth empty containers ok", `[{}]`, schema.Limits{MaxDepth: 2}, "", ""},
		{"depth in object", `{"a":{"b/c":[{"d":[]}]}}`, schema.Limits{MaxDepth: 4}, "/a/b~1c/0/d", "max_depth"},
		{"depth after siblings", `[1,2,{"x":[3,[4]]}]`, schema.Limits{MaxDepth: 4}, "/2/x/1/0", "max_depth"},
		{"depth after siblings scalar", `[1,2,{"x":[3,[4]]}]`, schema.Limits{MaxDepth: 3}, "/2/x/0", "max_depth"},
		{"depth tilde key", `{"~":{"":{}}}`, schema.Limits{MaxDepth: 2}, "/~0/", "max_depth"},
		{"properties", `{"a":{"x":1,"y":2,"z":3}}`, schema.Limits{MaxProperties: 2}, "/a", "max_properties"},
		{"properties exact ok", `{"a":{"x":1,"y":2}}`, schema.Limits{MaxProperties: 2}, "", ""},
		{"properties top", `{"x":1,"y":2}`, schema.Limits{MaxProperties: 1}, "", "max_properties"},
		{"items", `{"list":[[1,2],[1,2,3]]}`, schema.Limits{MaxItems: 2}, "/list/1", "max_items"},
		{"items outer", `{"list":[[1],[2],[3]]}`, schema.Limits{MaxItems: 2}, "/list", "max_items"},
		{"items inner", `[[1,2,3]]`, schema.Limits{MaxItems: 2}, "/0", "max_items"},
		{"items exact ok", `[[1,2],[3,4]]`, schema.Limits{MaxItems: 2}, "", ""},
		{"string", `{"a":["ok","toolong"]}`, schema.Limits{MaxStringBytes: 4}, "/a/1", "max_string_bytes"},
		{"string exact ok", `["four"]`, schema.Limits{MaxStringBytes: 4}, "", ""},
		{"string counts decoded bytes", `["\u00e9\u00e9"]`, schema.Limits{MaxStringBytes: 4}, "", ""},
		{"string with escapes", `{"k":"ab\ncd"}`, schema.Limits{MaxStringBytes: 4}, "/k", "max_string_bytes"},
		{"string utf8 bytes", `["ééé"]`, schema.Limits{MaxStringBytes: 5}, "/0", "max_string_bytes"},
		{"key", `{"a":{"longkey":1}}`, schema.Limits{MaxStringBytes: 4}, "/a", "max_string_bytes"},
		{"top-level string", `"hello"`, schema.Limits{MaxStringBytes: 4}, "", "max_string_bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := schema.ParseJSON([]byte(tt.in), tt.lim)
			if tt.rule == "" {
				if err != nil {
					t.Fatalf("ParseJSON(%s) = %v, want success", tt.in, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseJSON(%s) = %v, want an error", tt.in, v)
			}
			jsonCheckError(t, err, tooLarge, tt.path, tt.rule)
		})
	}
}

// TestParseJSONDefaultLimits breaches each default limit.
func TestParseJSONDefaultLimits(t *testing.T) {
	var many strings.Builder
	many.WriteString("{")
	for i := range schema.DefaultMaxProperties + 1 {
		if i > 0 {
			many.WriteString(",")
		}
		many.WriteString(`"k`)
		many.WriteString(strings.Repeat("x", i%7))
		many.WriteString(string(rune('a' + i%26)))
		many.WriteString(strings.Repeat("y", i/26))
		many.WriteString(`":0`)
	}
	many.WriteString("}")
	tests := []struct {
		name string
		in   []byte
		path string
		rule string
	}{
		{"bytes", bytes.Repeat([]byte(" "), schema.DefaultMaxBytes+1), "", "max_bytes"},
		{"depth", []byte(strings.Repeat("[", schema.DefaultMaxDepth+1)), strings.Repeat("/0", schema.DefaultMaxDepth), "max_depth"},
		{"items", []byte("[" + strings.Repeat("0,", schema.DefaultMaxItems) + "0]"), "", "max_items"},
		{"properties", []byte(many.String()), "", "max_properties"},
		{"string", []byte(`"` + strings.Repeat("a", schema.DefaultMaxStringBytes+1) + `"`), "", "max_string_bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := schema.ParseJSON(tt.in, schema.Limits{})
			jsonCheckError(t, err, altarv1.ErrorCode_ERROR_CODE_PAYLOAD_TOO_LARGE, tt.path, tt.rule)
		})
	}
}

// TestParseJSONDeepInputIsCheap feeds a megabyte of '[' and of '{"a":'.
func TestParseJSONDeepInputIsCheap(t *testing.T) {
	const budget = 2 * time.Second
	for _, unit := range []string{"[", `{"a":`, `[{"a":`} {
		in := []byte(strings.Repeat(unit, (1<<20)/len(unit)))
		start := time.Now()
		_, err := schema.ParseJSON(in, schema.Limits{})
		if d := time.Since(start); d > budget {
			t.Errorf("%q x N took %v", unit, d)
		}
		jsonCheckError(t, err, altarv1.ErrorCode_ERROR_CODE_PAYLOAD_TOO_LARGE, "", "")
		// Even with no effective depth limit the parser keeps its own stack
		// instead of recursing; it fails at the end of input.
		_, err = schema.ParseJSON(in[:1<<18], schema.Limits{MaxDepth: math.MaxInt})
		jsonCheckError(t, err, altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, "", "")
	}
}

func TestParseJSONRange(t *testing.T) {
	tests := []struct {
		in   string
		path string
	}{
		{`9223372036854775808`, ""},
		{`-9223372036854775809`, ""},
		{`18446744073709551616`, ""},
		{`99999999999999999999999999999`, ""},
		{`[0,{"n":-99999999999999999999}]`, "/1/n"},
		{`{"a~/b":1e309}`, "/a~0~1b"},
		{`[-1e400]`, "/0"},
		{`[1.8e308]`, "/0"},
	}
	for _, tt := range tests {
		_, err := schema.ParseJSON([]byte(tt.in), schema.Limits{})
		if err == nil {
			t.Errorf("ParseJSON(%s) succeeded, want a range error", tt.in)
			continue
		}
		jsonCheckError(t, err, altarv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENTS, tt.path, "range")
	}
}

func TestParseJSONDuplicateKey(t *testing.T) {
	tests := []struct {
		in   string
		path string
	}{
		{`{"a":1,"a":2}`, "/a"},
		{`{"a":1,"b":2,"a":1}`, "/a"},
		{`{"x":[{"k/":1,"k\/":2}]}`, "/x/0/k~1"},
		{`{"\u00e9":1,"é":2}`, "/é"},
		{`{"":{},"":{}}`, "/"},
	}
	for _, tt := range tests {
		_, err := schema.ParseJSON([]byte(tt.in), schema.Limits{})
		if err == nil {
			t.Errorf("ParseJSON(%s) succeeded, want a duplicate-key error", tt.in)
			continue
		}
		jsonCheckError(t, err, altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, tt.path, "duplicate_key")
		if !strings.Contains(err.Error(), "more than once") {
			t.Errorf("error %v does not say what is wrong", err)
		}
	}
}

// jsonMalformed lists inputs that are not JSON, or not JSON we accept.
var jsonMalformed = []string{
	"", " ", "\n\t", "nul", "nulll", "tru", "True", "NULL", "fals", "undefined",
	"NaN", "Infinity", "-Infinity", "+1", "01", "-01", "00", "1.", ".5", "-", "--1", "1e", "1e+",
	"1E-", "1.e3", "0x10", "1_000", "1 2", "1,", "[1 2]", "[1,]", "[,1]", "[", "]", "[1", "[1,",
	"{", "}", "{,}", `{"a"}`, `{"a":}`, `{"a" 1}`, `{"a":1,}`, `{,"a":1}`, `{a:1}`, `{'a':1}`,
	`{"a":1 "b":2}`, `{"a":1}}`, `{"a":1`, `{"a":1,"b"`, `{1:2}`, `{null:1}`, `"abc`, `"\"`,
	`"\x41"`, `"\u12"`, `"\u12G4"`, `"\uZZZZ"`, `"\U0041"`, `"\a"`, `"\ud800"`, `"\udc00"`,
	`"\ud800\u0041"`, `"\ud800\ud800"`, `"\ud800x"`, `"\ud83d\ude0"`, "\"tab\there\"", "\"nl\nhere\"",
	"\"\x00\"", "\"\x1f\"", "\"\xff\"", "\"\xc3\"", "\"\xc3(\"", "\"\xed\xa0\x80\"", "\"\xc0\xaf\"",
	"\"\xf4\x90\x80\x80\"", "\xef\xbb\xbf{}", "[1]x", "{} {}", "[][]", "\"a\" \"b\"", "/* c */ 1",
	"1 // c", "[1]\x00", "\x00", "{\"a\":1}\n\n?", "[\"a\",\"b\xff\"]", "{\"a\xff\":1}", "[-]",
	"[1e]", "[--]", "[1.2.3]", "[1e2e3]", "tRue", "[true false]", "{\"a\":true,\"b\":falsey}",
	"\v1", "\f1", "\u00a01",
}

func TestParseJSONMalformed(t *testing.T) {
	for _, in := range jsonMalformed {
		v, err := schema.ParseJSON([]byte(in), schema.Limits{})
		if err == nil {
			t.Errorf("ParseJSON(%q) = %v, want an error", in, v)
			continue
		}
		var ae *altarerr.Error
		if !errors.As(err, &ae) || ae.Code != altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST {
			t.Errorf("ParseJSON(%q) = %v, want INVALID_REQUEST", in, err)
			continue
		}
		if in != "" && !strings.Contains(ae.Message, "offset") {
			t.Errorf("ParseJSON(%q) = %v: message names no offset", in, err)
		}
	}
}

func TestParseJSONSyntaxMessages(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{``, "empty input"},
		{`[1 2]`, `offset 3: expected ',' or ']' after an array item, found '2'`},
		{`{"a" 1}`, `offset 5: expected ':' after an object key, found '1'`},
		{`{"a":1,}`, `offset 7: expected '"' to begin an object key, found '}'`},
		{`[1,`, `unexpected end of input at offset 3: expected a value`},
		{`01`, `offset 1: expected '.', 'e' or the end of the number (no leading zeros), found '1'`},
		{`[1] x`, `offset 4: expected the end of input, found 'x'`},
		{"\"a\xffb\"", `offset 2: expected valid UTF-8 in a string, found byte 0xff`},
		{`"\ud800"`, `offset 7: expected a '\u' low surrogate`},
		{`tru`, `unexpected end of input at offset 3: expected "true"`},
		{`{"k":1,"k":2}`, `offset 7: object key "k" appears more than once`},
	}
	for _, tt := range tests {
		_, err := schema.ParseJSON([]byte(tt.in), schema.Limits{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseJSON(%q) = %v, want it to contain %q", tt.in, err, tt.want)
		}
	}
}

func TestParseJSONObject(t *testing.T) {
	got, err := schema.ParseJSONObject([]byte(` {"a":1,"b":[true]} `), schema.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*altarv1.Value{"a": schema.Int(1), "b": schema.Array(schema.Bool(true))}
	if !proto.Equal(schema.Object(got), schema.Object(want)) {
		t.Fatalf("ParseJSONObject = %v, want %v", got, want)
	}
	empty, err := schema.ParseJSONObject([]byte(`{}`), schema.Limits{})
	if err != nil || empty == nil || len(empty) != 0 {
		t.Fatalf("ParseJSONObject({}) = %v, %v; want an empty non-nil map", empty, err)
	}
	for _, in := range []string{`[]`, `1`, `"{}"`, `null`, ``, ` `, `{`, `{} x`} {
		_, err := schema.ParseJSONObject([]byte(in), schema.Limits{})
		jsonCheckError(t, err, altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, "", "")
	}
	_, err = schema.ParseJSONObject([]byte(`[1]`), schema.Limits{})
	if !strings.Contains(err.Error(), "expected a JSON object") {
		t.Errorf("error %v does not say an object was expected", err)
	}
	_, err = schema.ParseJSONObject([]byte(`{"a":1}`), schema.Limits{MaxBytes: 3})
	jsonCheckError(t, err, altarv1.ErrorCode_ERROR_CODE_PAYLOAD_TOO_LARGE, "", "max_bytes")
}

// TestParseJSONAgreesWithEncodingJSON checks, over a corpus, that anything
// ParseJSON accepts is valid JSON, and means what encoding/json says it
// means.
func TestParseJSONAgreesWithEncodingJSON(t *testing.T) {
	corpus := append([]string{
		`{"a":[1,2.5,"x",true,false,null,{"b":{}}],"c":"\u00e9\ud83d\ude00\n"}`,
		`[9223372036854775807,-9223372036854775808,1e308,-1e-308,0.1]`,
		`"\/\b\f\n\r\t\\\""`, ` [ ] `, `{ }`, `0`, `-0`, `-0.0e-0`, `1E+2`,
	}, jsonMalformed...)
	for _, in := range corpus {
		v, err := schema.ParseJSON([]byte(in), schema.Limits{})
		if err != nil {
			continue
		}
		if !json.Valid([]byte(in)) {
			t.Errorf("ParseJSON accepted %q, which encoding/json says is not JSON", in)
			continue
		}
		if msg := jsonSameAsStdlib([]byte(in), v); msg != "" {
			t.Errorf("ParseJSON(%q): %s", in, msg)
		}
	}
}

// jsonSameAsStdlib decodes data with encoding/json (numbers as json.Number)
// and reports how v differs from it, or "".
func jsonSameAsStdlib(data []byte, v *altarv1.Value) string {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return "encoding/json: " + err.Error()
	}
	return jsonCompare("", v, x)
}

func jsonCompare(path string, v *altarv1.Value, x any) string {
	bad := func() string {
		return path + ": " + schema.Kind(v) + " differs from encoding/json's " + jsonDescribe(x)
	}
	switch k := v.GetKind().(type) {
	case *altarv1.Value_NullValue:
		if x != nil {
			return bad()
		}
	case *altarv1.Value_BoolValue:
		if b, ok := x.(bool); !ok || b != k.BoolValue {
			return bad()
		}
	case *altarv1.Value_StringValue:
		if s, ok := x.(string); !ok || s != k.StringValue {
			return bad()
		}
	case *altarv1.Value_IntValue:
		n, ok := x.(json.Number)
		if !ok {
			return bad()
		}
		if i, err := n.Int64(); err != nil || i != k.IntValue {
			return bad()
		}
	case *altarv1.Value_DoubleValue:
		n, ok := x.(json.Number)
		if !ok {
			return bad()
		}
		if f, err := n.Float64(); err != nil || f != k.DoubleValue {
			return bad()
		}
	case *altarv1.Value_ArrayValue:
		a, ok := x.([]any)
		if !ok || len(a) != len(k.ArrayValue.GetItems()) {
			return bad()
		}
		for i, item := range k.ArrayValue.GetItems() {
			if msg := jsonCompare(path+"/"+strconv.Itoa(i), item, a[i]); msg != "" {
				return msg
			}
		}
	case *altarv1.Value_ObjectValue:
		m, ok := x.(map[string]any)
		if !ok || len(m) != len(k.ObjectValue.GetFields()) {
			return bad()
		}
		for name, item := range k.ObjectValue.GetFields() {
			other, ok := m[name]
			if !ok {
				return path + ": encoding/json has no key " + name
			}
			if msg := jsonCompare(path+"/"+name, item, other); msg != "" {
				return msg
			}
		}
	default:
		return bad()
	}
	return ""
}

func jsonDescribe(x any) string {
	b, _ := json.Marshal(x)
	return string(b)
}

// jsonValueGen generates Values JSON carries exactly: no bytes, finite
// doubles, at most depth levels of containers.
func jsonValueGen(depth int) *rapid.Generator[*altarv1.Value] {
	scalar := rapid.OneOf(
		rapid.Just(schema.Null()),
		rapid.Map(rapid.Bool(), schema.Bool),
		rapid.Map(rapid.String(), schema.String),
		rapid.Map(rapid.Int64(), schema.Int),
		rapid.Map(rapid.SampledFrom([]int64{0, -1, math.MaxInt64, math.MinInt64, 1<<53 + 1, -(1<<53 + 1)}), schema.Int),
		rapid.Map(rapid.Float64(), schema.Double),
		rapid.Map(rapid.SampledFrom([]float64{0, math.Copysign(0, -1), 1, 0.1, 1e21, 1e-7, math.MaxFloat64, math.SmallestNonzeroFloat64, -1e300, 123456789.0}), schema.Double),
	)
	if depth == 0 {
		return scalar
	}
	inner := jsonValueGen(depth - 1)
	return rapid.OneOf(
		scalar,
		rapid.Map(rapid.SliceOfN(inner, 0, 5), func(items []*altarv1.Value) *altarv1.Value { return schema.Array(items...) }),
		rapid.Map(rapid.MapOfN(rapid.String(), inner, 0, 5), schema.Object),
	)
}

func TestJSONRoundTripProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		v := jsonValueGen(4).Draw(t, "value")
		out, err := schema.MarshalJSON(v)
		if err != nil {
			t.Fatalf("MarshalJSON(%v): %v", v, err)
		}
		if !json.Valid(out) {
			t.Fatalf("MarshalJSON(%v) = %s is not valid JSON", v, out)
		}
		back, err := schema.ParseJSON(out, schema.Limits{})
		if err != nil {
			t.Fatalf("ParseJSON(%s): %v", out, err)
		}
		if !proto.Equal(back, v) {
			t.Fatalf("round trip of %v gave %v (via %s)", v, back, out)
		}
		again, err := schema.MarshalJSON(back)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("second encoding %s, %v differs from %s", again, err, out)
		}
	})
}

// TestParseJSONConcurrent runs parsers side by side, failures among them, to
// let the race detector see the pooled scratch space.
func TestParseJSONConcurrent(t *testing.T) {
	docs := []string{`{"a":[1,2,{"b":"\u00e9"}]}`, `{"a":1,"a":2}`, `[[[[`, `{"k":"v","n":[null,true,1.5]}`}
	want := make([]*altarv1.Value, len(docs))
	for i, d := range docs {
		want[i], _ = schema.ParseJSON([]byte(d), schema.Limits{})
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				d := (g + i) % len(docs)
				got, err := schema.ParseJSON([]byte(docs[d]), schema.Limits{})
				if (err == nil) != (want[d] != nil) || !proto.Equal(got, want[d]) {
					t.Errorf("ParseJSON(%s) = %v, %v; want %v", docs[d], got, err, want[d])
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestParseJSONDoublesMatchStrconv checks that every decimal form of a
// double parses to exactly what strconv.ParseFloat gives.
func TestParseJSONDoublesMatchStrconv(t *testing.T) {
	digits := rapid.StringMatching(`[0-9]{1,20}`)
	rapid.Check(t, func(t *rapid.T) {
		s := rapid.SampledFrom([]string{"", "-"}).Draw(t, "sign")
		intPart := digits.Draw(t, "int")
		for len(intPart) > 1 && intPart[0] == '0' {
			intPart = intPart[1:]
		}
		s += intPart
		hasFrac := rapid.Bool().Draw(t, "frac")
		if hasFrac {
			s += "." + digits.Draw(t, "fraction")
		}
		if !hasFrac || rapid.Bool().Draw(t, "exp") {
			s += rapid.SampledFrom([]string{"e", "E", "e+", "e-", "E-"}).Draw(t, "e")
			s += strconv.Itoa(rapid.IntRange(0, 400).Draw(t, "exponent"))
		}
		want, err := strconv.ParseFloat(s, 64)
		v, perr := schema.ParseJSON([]byte(s), schema.Limits{})
		if err != nil {
			if perr == nil {
				t.Fatalf("ParseJSON(%s) = %v, strconv: %v", s, v, err)
			}
			return
		}
		if perr != nil {
			t.Fatalf("ParseJSON(%s): %v", s, perr)
		}
		got := v.GetDoubleValue()
		if math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("ParseJSON(%s) = %v (%x), strconv = %v (%x)", s, got, math.Float64bits(got), want, math.Float64bits(want))
		}
	})
}
