package sdk_test

import (
	"context"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/altar-gateway/altar/gateway/schema"
	"github.com/altar-gateway/altar/plugins/sdk"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

type nested struct {
	Places int64  `json:"places"`
	Mode   string `json:"mode,omitempty" altar:"default=half_even"`
}

type optional struct {
	Places int64 `json:"places" altar:"default=2"`
}

type decodeArgs struct {
	N      int64              `json:"n"`
	Small  int8               `json:"small,omitempty"`
	U      uint8              `json:"u,omitempty"`
	F      float32            `json:"f,omitempty"`
	D      float64            `json:"d,omitempty"`
	S      string             `json:"s,omitempty"`
	B      bool               `json:"b,omitempty"`
	List   []int64            `json:"list,omitempty"`
	Pair   [2]string          `json:"pair,omitempty"`
	Nested nested             `json:"nested,omitempty"`
	Opt    *optional          `json:"opt,omitempty"`
	M      map[string]float64 `json:"m,omitempty"`
	Any    any                `json:"any,omitempty"`
	Bytes  []byte             `json:"bytes,omitempty"`
}

// decodeHandler returns a Handler whose "decode" tool stores what it
// received in *got.
func decodeHandler(t *testing.T, got *decodeArgs) *sdk.Handler {
	t.Helper()
	h, err := sdk.NewHandler([]sdk.Tool{sdk.Func("decode", "", func(_ context.Context, in decodeArgs) (bool, error) {
		*got = in
		return true, nil
	})}, sdk.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestDecodeArguments(t *testing.T) {
	var got decodeArgs
	h := decodeHandler(t, &got)
	invoke := func(params map[string]*altarv1.Value) *altarv1.ToolResult {
		got = decodeArgs{}
		return h.Invoke(context.Background(), &altarv1.ToolCall{InvocationId: "inv", ToolName: "decode", Parameters: params})
	}

	res := invoke(map[string]*altarv1.Value{
		"n":      schema.Int(math.MaxInt64),
		"small":  schema.Int(-128),
		"u":      schema.Int(255),
		"f":      schema.Double(1.5),
		"d":      schema.Int(1<<53 + 1), // A number accepts an integer (as the nearest float64).
		"s":      schema.String("héllo"),
		"b":      schema.Bool(true),
		"list":   schema.Array(schema.Int(1), schema.Int(-2)),
		"pair":   schema.Array(schema.String("x"), schema.String("y")),
		"nested": schema.Object(map[string]*altarv1.Value{"places": schema.Int(3)}),
		"opt":    schema.Object(nil),
		"m":      schema.Object(map[string]*altarv1.Value{"k": schema.Double(0.5), "i": schema.Int(2)}),
		"any":    schema.Array(schema.Int(1), schema.Double(1), schema.Null()),
		"bytes":  schema.Bytes([]byte("raw")),
		"zzz":    schema.String("an argument the struct does not name is ignored"),
	})
	if res.GetStatus() != altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS {
		t.Fatalf("result %v", res)
	}
	want := decodeArgs{
		N: math.MaxInt64, Small: -128, U: 255, F: 1.5, D: 1 << 53, S: "héllo", B: true,
		List: []int64{1, -2}, Pair: [2]string{"x", "y"},
		Nested: nested{Places: 3, Mode: "half_even"},
		Opt:    &optional{Places: 2},
		M:      map[string]float64{"k": 0.5, "i": 2},
		Any:    []any{int64(1), float64(1), nil},
		Bytes:  []byte("raw"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}

	// Null is accepted where Go has a nil; absent leaves the zero value.
	res = invoke(map[string]*altarv1.Value{"n": schema.Int(1), "list": schema.Null(), "opt": schema.Null(), "m": schema.Null(), "any": schema.Null()})
	if res.GetStatus() != altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS || got.List != nil || got.Opt != nil || got.M != nil || got.Any != nil {
		t.Errorf("result %v, decoded %+v", res, got)
	}

	for _, tc := range []struct {
		name   string
		params map[string]*altarv1.Value
		want   []*altarv1.FieldError
	}{
		{"missing required", map[string]*altarv1.Value{},
			[]*altarv1.FieldError{{Path: "/n", Rule: "required", Message: "is required"}}},
		{"string for integer", map[string]*altarv1.Value{"n": schema.String("5")},
			[]*altarv1.FieldError{{Path: "/n", Rule: "type", Message: "must be an integer, got string"}}},
		{"double for integer", map[string]*altarv1.Value{"n": schema.Double(5)},
			[]*altarv1.FieldError{{Path: "/n", Rule: "type", Message: "must be an integer, got number"}}},
		{"null for a string", map[string]*altarv1.Value{"n": schema.Int(1), "s": schema.Null()},
			[]*altarv1.FieldError{{Path: "/s", Rule: "type", Message: "must be a string, got null"}}},
		{"int8 overflow", map[string]*altarv1.Value{"n": schema.Int(1), "small": schema.Int(200)},
			[]*altarv1.FieldError{{Path: "/small", Rule: "maximum", Message: "200 does not fit in Go int8"}}},
		{"negative uint", map[string]*altarv1.Value{"n": schema.Int(1), "u": schema.Int(-1)},
			[]*altarv1.FieldError{{Path: "/u", Rule: "minimum", Message: "-1 does not fit in Go uint8"}}},
		{"float32 overflow", map[string]*altarv1.Value{"n": schema.Int(1), "f": schema.Double(1e300)},
			[]*altarv1.FieldError{{Path: "/f", Rule: "maximum", Message: "1e+300 does not fit in Go float32"}}},
		{"item", map[string]*altarv1.Value{"n": schema.Int(1), "list": schema.Array(schema.Int(1), schema.String("x"))},
			[]*altarv1.FieldError{{Path: "/list/1", Rule: "type", Message: "must be an integer, got string"}}},
		{"array length", map[string]*altarv1.Value{"n": schema.Int(1), "pair": schema.Array(schema.String("x"))},
			[]*altarv1.FieldError{{Path: "/pair", Rule: "min_items", Message: "must have exactly 2 items, got 1"}}},
		{"nested", map[string]*altarv1.Value{"n": schema.Int(1), "nested": schema.Object(map[string]*altarv1.Value{"places": schema.String("x")})},
			[]*altarv1.FieldError{{Path: "/nested/places", Rule: "type", Message: "must be an integer, got string"}}},
		{"nested required", map[string]*altarv1.Value{"n": schema.Int(1), "nested": schema.Object(nil)},
			[]*altarv1.FieldError{{Path: "/nested/places", Rule: "required", Message: "is required"}}},
		{"map key escaped", map[string]*altarv1.Value{"n": schema.Int(1), "m": schema.Object(map[string]*altarv1.Value{"a/b~": schema.String("x")})},
			[]*altarv1.FieldError{{Path: "/m/a~1b~0", Rule: "type", Message: "must be a number, got string"}}},
		{"string for bytes", map[string]*altarv1.Value{"n": schema.Int(1), "bytes": schema.String("cmF3")},
			[]*altarv1.FieldError{{Path: "/bytes", Rule: "type", Message: "must be bytes, got string"}}},
		{"no kind", map[string]*altarv1.Value{"n": {}},
			[]*altarv1.FieldError{{Path: "/n", Rule: "type", Message: "value has no kind"}}},
		{"every problem at once", map[string]*altarv1.Value{"n": schema.Bool(true), "small": schema.Int(500), "s": schema.Int(1)},
			[]*altarv1.FieldError{
				{Path: "/n", Rule: "type", Message: "must be an integer, got boolean"},
				{Path: "/small", Rule: "maximum", Message: "500 does not fit in Go int8"},
				{Path: "/s", Rule: "type", Message: "must be a string, got integer"},
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := invoke(tc.params)
			wantCode(t, res, altarv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENTS)
			if diff := cmp.Diff(tc.want, res.GetError().GetFieldErrors(), protocmp.Transform()); diff != "" {
				t.Errorf("field errors (-want +got):\n%s", diff)
			}
			if res.GetError().GetMessage() != `arguments do not fit the Go parameters of tool "decode"` {
				t.Errorf("message %q", res.GetError().GetMessage())
			}
		})
	}
}

func TestDecodeIntoMap(t *testing.T) {
	var got map[string]*altarv1.Value
	h, err := sdk.NewHandler([]sdk.Tool{sdk.Func("raw", "", func(_ context.Context, in map[string]*altarv1.Value) (*altarv1.Value, error) {
		got = in
		return in["x"], nil
	})})
	if err != nil {
		t.Fatal(err)
	}
	params := map[string]*altarv1.Value{"x": schema.Int(1<<62 + 1), "y": schema.Null()}
	res := h.Invoke(context.Background(), &altarv1.ToolCall{ToolName: "raw", Parameters: params})
	wantPayload(t, res, schema.Int(1<<62+1))
	if diff := cmp.Diff(params, got, protocmp.Transform()); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}
}
