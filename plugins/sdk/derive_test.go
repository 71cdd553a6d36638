package sdk_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/altar-gateway/altar/gateway/contract"
	"github.com/altar-gateway/altar/gateway/schema"
	"github.com/altar-gateway/altar/plugins/sdk"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

type inner struct {
	X int64 `json:"x"`
}

type kitchen struct {
	S      string           `json:"s" altar:"description='A string, with a comma and an ''apostrophe''.',min_length=1,max_length=10,pattern=^[a-z]+$"`
	I      int64            `json:"i" altar:"min=0,max=100,default=7"`
	I8     int8             `json:"i8,omitempty"`
	U32    uint32           `json:"u32,omitempty"`
	U64    uint64           `json:"u64,omitempty"`
	F      float64          `json:"f" altar:"exclusive_min=0,title=Ratio"`
	B      bool             `json:"b,omitempty"`
	Blob   []byte           `json:"blob,omitempty" altar:"max_length=16"`
	Tags   []string         `json:"tags" altar:"min_items=1,unique_items,required"`
	Pair   [2]int64         `json:"pair,omitempty"`
	M      map[string]int64 `json:"m,omitempty"`
	In     inner            `json:"in"`
	P      *inner           `json:"p"`
	Any    any              `json:"any" altar:"type=number"`
	Raw    *altarv1.Value   `json:"raw,omitempty"`
	Mode   string           `json:"mode,omitempty" altar:"enum=a|b,default=a"`
	Secret string           `json:"secret,omitempty" altar:"sensitive,format=uuid"`
	Skip   string           `json:"-"`
	Plain  int64
	//lint:ignore U1000 an unexported field, which derivation must skip
	hidden int
}

func TestDeriveParameters(t *testing.T) {
	tool := sdk.Func("kitchen", "Every kind.", func(context.Context, kitchen) (bool, error) { return true, nil })
	if err := tool.Err(); err != nil {
		t.Fatal(err)
	}
	f64 := func(f float64) *float64 { return &f }
	u64 := func(u uint64) *uint64 { return &u }
	yes := true
	typ := func(t altarv1.AltarType) *altarv1.ParameterSchema { return &altarv1.ParameterSchema{Type: t} }
	obj := func(props map[string]*altarv1.ParameterSchema, required ...string) *altarv1.ParameterSchema {
		return &altarv1.ParameterSchema{Type: altarv1.AltarType_ALTAR_TYPE_OBJECT, Properties: props, Required: required}
	}
	nullableInner := obj(map[string]*altarv1.ParameterSchema{"x": typ(altarv1.AltarType_ALTAR_TYPE_INTEGER)}, "x")
	nullableInner.Nullable = true
	want := &altarv1.ParameterSchema{
		Type: altarv1.AltarType_ALTAR_TYPE_OBJECT,
		Properties: map[string]*altarv1.ParameterSchema{
			"s": {Type: altarv1.AltarType_ALTAR_TYPE_STRING, Description: "A string, with a comma and an 'apostrophe'.",
				MinLength: u64(1), MaxLength: u64(10), Pattern: "^[a-z]+$"},
			"i":    {Type: altarv1.AltarType_ALTAR_TYPE_INTEGER, Minimum: f64(0), Maximum: f64(100), Default: schema.Int(7)},
			"i8":   {Type: altarv1.AltarType_ALTAR_TYPE_INTEGER, Minimum: f64(-128), Maximum: f64(127)},
			"u32":  {Type: altarv1.AltarType_ALTAR_TYPE_INTEGER, Minimum: f64(0), Maximum: f64(4294967295)},
			"u64":  {Type: altarv1.AltarType_ALTAR_TYPE_INTEGER, Minimum: f64(0)},
			"f":    {Type: altarv1.AltarType_ALTAR_TYPE_NUMBER, ExclusiveMinimum: f64(0), Title: "Ratio"},
			"b":    typ(altarv1.AltarType_ALTAR_TYPE_BOOLEAN),
			"blob": {Type: altarv1.AltarType_ALTAR_TYPE_BYTES, MaxLength: u64(16)},
			"tags": {Type: altarv1.AltarType_ALTAR_TYPE_ARRAY, Items: typ(altarv1.AltarType_ALTAR_TYPE_STRING),
				MinItems: u64(1), UniqueItems: true},
			"pair": {Type: altarv1.AltarType_ALTAR_TYPE_ARRAY, Items: typ(altarv1.AltarType_ALTAR_TYPE_INTEGER),
				MinItems: u64(2), MaxItems: u64(2)},
			"m":   {Type: altarv1.AltarType_ALTAR_TYPE_OBJECT, AdditionalProperties: &yes},
			"in":  obj(map[string]*altarv1.ParameterSchema{"x": typ(altarv1.AltarType_ALTAR_TYPE_INTEGER)}, "x"),
			"p":   nullableInner,
			"any": typ(altarv1.AltarType_ALTAR_TYPE_NUMBER),
			"raw": typ(altarv1.AltarType_ALTAR_TYPE_ANY),
			"mode": {Type: altarv1.AltarType_ALTAR_TYPE_STRING, Enum: []*altarv1.Value{schema.String("a"), schema.String("b")},
				Default: schema.String("a")},
			"secret": {Type: altarv1.AltarType_ALTAR_TYPE_STRING, Sensitive: true, Format: "uuid"},
			"Plain":  typ(altarv1.AltarType_ALTAR_TYPE_INTEGER),
		},
		Required: []string{"s", "f", "tags", "in", "Plain"},
		PropertyOrdering: []string{"s", "i", "i8", "u32", "u64", "f", "b", "blob", "tags", "pair", "m", "in", "p",
			"any", "raw", "mode", "secret", "Plain"},
	}
	c := tool.Contract()
	if diff := cmp.Diff(want, c.GetParameters(), protocmp.Transform()); diff != "" {
		t.Errorf("parameters (-want +got):\n%s", diff)
	}
	if c.GetName() != "kitchen" || c.GetVersion() != sdk.DefaultContractVersion || c.GetDescription() != "Every kind." ||
		c.GetSupportsStreaming() || c.GetComplianceLevel() != altarv1.ComplianceLevel_COMPLIANCE_LEVEL_1 ||
		c.GetReturnType().GetType() != altarv1.AltarType_ALTAR_TYPE_BOOLEAN {
		t.Errorf("contract = %v", c)
	}
	// The Host's own rules accept the derived contract.
	if _, err := contract.FromProto(&altarv1.ToolManifest{ManifestVersion: "1.0", Contracts: []*altarv1.ToolContract{c}}); err != nil {
		t.Errorf("the Host refuses the derived contract: %v", err)
	}
}

type result struct {
	A int64   `json:"a"`
	B *string `json:"b"`
	C string  `json:"c,omitempty"`
}

func TestDeriveResultAndStreaming(t *testing.T) {
	tool := sdk.StreamFunc("results", "Streams results.", func(context.Context, struct{}, func(result) error) error { return nil },
		sdk.WithContractVersion("2.1.0"), sdk.WithFlags(&altarv1.ToolFlags{ReadOnly: true}))
	c := tool.Contract()
	nullableString := &altarv1.ParameterSchema{Type: altarv1.AltarType_ALTAR_TYPE_STRING, Nullable: true}
	want := &altarv1.ToolContract{
		Name:        "results",
		Version:     "2.1.0",
		Description: "Streams results.",
		Parameters:  &altarv1.ParameterSchema{Type: altarv1.AltarType_ALTAR_TYPE_OBJECT, Properties: map[string]*altarv1.ParameterSchema{}},
		ReturnType: &altarv1.ParameterSchema{
			Type: altarv1.AltarType_ALTAR_TYPE_OBJECT,
			Properties: map[string]*altarv1.ParameterSchema{
				"a": {Type: altarv1.AltarType_ALTAR_TYPE_INTEGER},
				"b": nullableString,
				"c": {Type: altarv1.AltarType_ALTAR_TYPE_STRING},
			},
			// A result field is always written unless it has omitempty.
			Required:         []string{"a", "b"},
			PropertyOrdering: []string{"a", "b", "c"},
		},
		SupportsStreaming:    true,
		Flags:                &altarv1.ToolFlags{ReadOnly: true},
		ComplianceLevel:      altarv1.ComplianceLevel_COMPLIANCE_LEVEL_2,
		RequiredCapabilities: []string{altarv1.CapabilityStreaming, altarv1.CapabilityCancellation},
	}
	if diff := cmp.Diff(want, c, protocmp.Transform()); diff != "" {
		t.Errorf("contract (-want +got):\n%s", diff)
	}
	if !tool.Streaming() || tool.Name() != "results" {
		t.Errorf("Streaming %v, Name %q", tool.Streaming(), tool.Name())
	}

	// any and *altarv1.Value results have no return type (any value).
	anyTool := sdk.Func("anything", "", func(context.Context, map[string]any) (any, error) { return nil, nil })
	if rt := anyTool.Contract().GetReturnType(); rt != nil {
		t.Errorf("return type %v, want none", rt)
	}
	if p := anyTool.Contract().GetParameters(); p.GetType() != altarv1.AltarType_ALTAR_TYPE_OBJECT || !p.GetAdditionalProperties() {
		t.Errorf("map parameters %v, want an open object", p)
	}
}

type recursive struct {
	Next *recursive `json:"next"`
}

// Inner is exported so that it can be embedded as an exported field.
type Inner struct {
	X int64 `json:"x"`
}

type embedded struct {
	Inner
	Y int64 `json:"y"`
}

type hiddenEmbedded struct {
	inner `json:"inner"`
}

type taggedEmbedded struct {
	Inner `json:"inner"`
}

func TestDeriveErrors(t *testing.T) {
	f := func(name string, in any) sdk.Tool {
		switch in.(type) {
		case int:
			return sdk.Func(name, "", func(context.Context, int) (int, error) { return 0, nil })
		case recursive:
			return sdk.Func(name, "", func(context.Context, recursive) (int, error) { return 0, nil })
		case embedded:
			return sdk.Func(name, "", func(context.Context, embedded) (int, error) { return 0, nil })
		}
		panic("unknown")
	}
	for _, tc := range []struct {
		name string
		tool sdk.Tool
		want string
	}{
		{"not a struct", f("t", 0), "must be a struct or a map"},
		{"recursive", f("t", recursive{}), "recursive"},
		{"embedded", f("t", embedded{}), "embedded field Inner is not flattened"},
		{"unexported embedded", sdk.Func("t", "", func(context.Context, hiddenEmbedded) (int, error) { return 0, nil }),
			"embedded field inner is not flattened"},
		{"bad tool name", f("1st", recursive{}), "invalid name"},
		{"channel", sdk.Func("t", "", func(context.Context, struct {
			C chan int `json:"c"`
		}) (int, error) {
			return 0, nil
		}), "/c: Go type chan int has no ALTAR schema"},
		{"unknown tag key", sdk.Func("t", "", func(context.Context, struct {
			N int64 `json:"n" altar:"minn=1"`
		}) (int, error) {
			return 0, nil
		}), `unknown key "minn"`},
		{"key for another type", sdk.Func("t", "", func(context.Context, struct {
			S string `json:"s" altar:"min=1"`
		}) (int, error) {
			return 0, nil
		}), "min/max does not apply to string"},
		{"bad default", sdk.Func("t", "", func(context.Context, struct {
			N int64 `json:"n" altar:"default=seven"`
		}) (int, error) {
			return 0, nil
		}), `default "seven": not an integer`},
		{"default out of range", sdk.Func("t", "", func(context.Context, struct {
			N int8 `json:"n" altar:"default=300"`
		}) (int, error) {
			return 0, nil
		}), "300 does not fit in Go int8"},
		{"type on a typed field", sdk.Func("t", "", func(context.Context, struct {
			N int64 `json:"n" altar:"type=number"`
		}) (int, error) {
			return 0, nil
		}), "only for fields of type any"},
		{"bad property name", sdk.Func("t", "", func(context.Context, struct {
			N int64 `json:"a.b"`
		}) (int, error) {
			return 0, nil
		}), "invalid property name"},
		{"duplicate property", sdk.Func("t", "", func(context.Context, struct {
			X int64
			Y int64 `json:"X"`
		}) (int, error) {
			return 0, nil
		}), `two fields are named "X"`},
		{"unterminated quote", sdk.Func("t", "", func(context.Context, struct {
			S string `json:"s" altar:"description='oops"`
		}) (int, error) {
			return 0, nil
		}), "unterminated quote"},
		{"bad pattern", sdk.Func("t", "", func(context.Context, struct {
			S string `json:"s" altar:"pattern=("`
		}) (int, error) {
			return 0, nil
		}), "pattern"},
		{"result without schema", sdk.Func("t", "", func(context.Context, struct{}) (func(), error) {
			return nil, nil
		}), "result: (root): Go type func() has no ALTAR schema"},
		{"contract of another tool", sdk.Func("t", "", func(context.Context, struct{}) (int, error) { return 0, nil },
			sdk.WithContract(&altarv1.ToolContract{Name: "u"})), `named "u", not "t"`},
		{"bad version", sdk.Func("t", "", func(context.Context, struct{}) (int, error) { return 0, nil },
			sdk.WithContractVersion("one")), "invalid version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.tool.Err()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Err() = %v, want it to contain %q", err, tc.want)
			}
			if _, err := sdk.New("rt", []sdk.Tool{tc.tool}); err == nil {
				t.Error("New accepted a tool that failed to build")
			}
		})
	}

	t.Run("tagged embedded struct is a named field", func(t *testing.T) {
		tool := sdk.Func("t", "", func(context.Context, taggedEmbedded) (int, error) { return 0, nil })
		if err := tool.Err(); err != nil {
			t.Fatal(err)
		}
		if _, ok := tool.Contract().GetParameters().GetProperties()["inner"]; !ok {
			t.Errorf("parameters %v lack inner", tool.Contract().GetParameters())
		}
	})
}

func TestNewRefuses(t *testing.T) {
	add := sdk.Func("add", "", func(context.Context, struct{}) (int, error) { return 0, nil })
	count := sdk.StreamFunc("count", "", func(context.Context, struct{}, func(int) error) error { return nil })
	for _, tc := range []struct {
		name  string
		id    string
		tools []sdk.Tool
		opts  []sdk.Option
		want  string
	}{
		{"no id", "", []sdk.Tool{add}, nil, "needs an id"},
		{"duplicate tools", "rt", []sdk.Tool{add, add}, nil, `two tools are named "add"`},
		{"zero tool", "rt", []sdk.Tool{{}}, nil, "zero Tool"},
		{"unknown capability", "rt", []sdk.Tool{add}, []sdk.Option{sdk.WithCapabilities("teleport")}, "unknown capability"},
		{"level without streaming", "rt", []sdk.Tool{count},
			[]sdk.Option{sdk.WithComplianceLevel(altarv1.ComplianceLevel_COMPLIANCE_LEVEL_1)}, "streams"},
		{"no level", "rt", []sdk.Tool{add},
			[]sdk.Option{sdk.WithComplianceLevel(altarv1.ComplianceLevel_COMPLIANCE_LEVEL_UNSPECIFIED)}, "invalid compliance level"},
		{"bad backoff", "rt", []sdk.Tool{add}, []sdk.Option{sdk.WithReconnect(0, 0)}, "WithReconnect"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sdk.New(tc.id, tc.tools, tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
