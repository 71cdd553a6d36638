package gemini_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"google.golang.org/protobuf/encoding/prototext"

	"github.com/altar-gateway/altar/integrations/gemini"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

func parseContract(t testing.TB, s string) *altarv1.ToolContract {
	t.Helper()
	c := &altarv1.ToolContract{}
	if err := prototext.Unmarshal([]byte(s), c); err != nil {
		t.Fatalf("bad test contract %q: %v", s, err)
	}
	return c
}

func TestFunctionDeclaration(t *testing.T) {
	tests := []struct {
		name, contract, want string
		warnings             []string
	}{
		{"weather", `name: "get_weather" version: "1.0.0" description: "Current weather for a city."
			parameters {type: ALTAR_TYPE_OBJECT required: "city"
				properties {key: "city" value {type: ALTAR_TYPE_STRING}}
				properties {key: "days" value {type: ALTAR_TYPE_INTEGER exclusive_minimum: 0}}}
			return_type {type: ALTAR_TYPE_OBJECT additional_properties: true}`,
			`{"description":"Current weather for a city.","name":"get_weather",` +
				`"parameters":{"properties":{"city":{"type":"STRING"},"days":{"minimum":1,"type":"INTEGER"}},"required":["city"],"type":"OBJECT"},` +
				`"response":{"type":"OBJECT"}}`,
			[]string{"/parameters/properties/days/exclusive_minimum", "/return_type/additional_properties"}},
		{"no parameters", `name: "ping"`, `{"name":"ping"}`, nil},
		{"object without properties", `name: "ping" parameters {type: ALTAR_TYPE_OBJECT}`, `{"name":"ping"}`, nil},
		{"deprecated with a message", `name: "old" description: "Does it." flags {deprecated: true deprecation_message: "use new"}`,
			`{"description":"Does it.\n\nDeprecated: use new","name":"old"}`, nil},
		{"deprecated without one", `name: "old" flags {deprecated: true}`, `{"description":"Deprecated.","name":"old"}`, nil},
		{"dotted name", `name: "fs.read-file" parameters {type: ALTAR_TYPE_OBJECT properties {key: "my-path" value {type: ALTAR_TYPE_STRING}}}`,
			`{"name":"fs.read-file","parameters":{"properties":{"my-path":{"type":"STRING"}},"type":"OBJECT"}}`,
			[]string{"/parameters/properties/my-path"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fd, warns, err := gemini.FunctionDeclaration(parseContract(t, tt.contract))
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(fd)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			var paths []string
			for _, w := range warns {
				paths = append(paths, w.Path)
			}
			if fmt.Sprint(paths) != fmt.Sprint(tt.warnings) {
				t.Errorf("warnings %v, want at %v", warns, tt.warnings)
			}
		})
	}
}

func TestFunctionDeclarationErrors(t *testing.T) {
	for _, tt := range []struct {
		name, contract, path string
	}{
		{"empty name", ``, "/name"},
		{"name starting with a digit", `name: "1tool"`, "/name"},
		{"name with a space", `name: "my tool"`, "/name"},
		{"parameters not an object", `name: "t" parameters {type: ALTAR_TYPE_STRING}`, "/parameters/type"},
		{"bad parameter schema", `name: "t" parameters {type: ALTAR_TYPE_OBJECT properties {key: "a" value {type: 42}}}`, "/parameters/properties/a/type"},
		{"bad return type", `name: "t" return_type {type: ALTAR_TYPE_ANY default {}}`, "/return_type/default"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := gemini.FunctionDeclaration(parseContract(t, tt.contract))
			checkInvalid(t, err, tt.path)
		})
	}
	_, _, err := gemini.FunctionDeclaration(nil)
	checkInvalid(t, err, "")
}

func ExampleFunctionDeclaration() {
	contract := &altarv1.ToolContract{
		Name:        "add",
		Description: "Adds two numbers.",
		Parameters: &altarv1.ParameterSchema{
			Type:     altarv1.AltarType_ALTAR_TYPE_OBJECT,
			Required: []string{"a", "b"},
			Properties: map[string]*altarv1.ParameterSchema{
				"a": {Type: altarv1.AltarType_ALTAR_TYPE_NUMBER},
				"b": {Type: altarv1.AltarType_ALTAR_TYPE_NUMBER, MultipleOf: new(0.5)},
			},
		},
	}
	fd, warnings, err := gemini.FunctionDeclaration(contract)
	if err != nil {
		fmt.Println(err)
		return
	}
	out, _ := json.Marshal(fd)
	fmt.Println(string(out))
	for _, w := range warnings {
		fmt.Println(w)
	}
	// Output:
	// {"description":"Adds two numbers.","name":"add","parameters":{"properties":{"a":{"type":"NUMBER"},"b":{"type":"NUMBER"}},"required":["a","b"],"type":"OBJECT"}}
	// /parameters/properties/b/multiple_of: multiple_of: dropped: Gemini schemas have no multipleOf
}
