package schema_test

import (
	"math"
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

func TestFromGo(t *testing.T) {
	type address struct {
		City   string `json:"city"`
		Zip    string `json:"zip,omitempty"`
		Secret string `json:"-"`
		Plain  int
	}
	var nilMap map[string]int
	tests := []struct {
		name string
		in   any
		want *altarv1.Value
	}{
		{"nil", nil, schema.Null()},
		{"string", "x", schema.String("x")},
		{"bool", true, schema.Bool(true)},
		{"int", 7, schema.Int(7)},
		{"int8", int8(-8), schema.Int(-8)},
		{"max int64 exact", int64(math.MaxInt64), schema.Int(math.MaxInt64)},
		{"uint32", uint32(4000000000), schema.Int(4000000000)},
		{"float64 stays a double", 3.0, schema.Double(3)},
		{"float32", float32(0.5), schema.Double(0.5)},
		{"bytes", []byte("hi"), schema.Bytes([]byte("hi"))},
		{"slice", []any{1, "a", nil}, schema.Array(schema.Int(1), schema.String("a"), schema.Null())},
		{"array", [2]int{1, 2}, schema.Array(schema.Int(1), schema.Int(2))},
		{"map", map[string]int{"a": 1}, schema.Object(map[string]*altarv1.Value{"a": schema.Int(1)})},
		{"nil map", nilMap, schema.Null()},
		{"pointer", new(int), schema.Int(0)},
		{"value passes through", schema.Int(5), schema.Int(5)},
		{
			"struct by json tags", address{City: "Oslo", Secret: "s", Plain: 2},
			schema.Object(map[string]*altarv1.Value{"city": schema.String("Oslo"), "Plain": schema.Int(2)}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := schema.FromGo(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, tt.want) {
				t.Fatalf("FromGo(%#v) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestFromGoRefusesLoss(t *testing.T) {
	for name, in := range map[string]any{
		"uint64 above MaxInt64": uint64(math.MaxUint64),
		"NaN":                   math.NaN(),
		"infinity":              math.Inf(1),
		"non-string map key":    map[int]int{1: 1},
		"channel":               make(chan int),
		"nested NaN":            []any{1, math.NaN()},
	} {
		t.Run(name, func(t *testing.T) {
			if v, err := schema.FromGo(in); err == nil {
				t.Fatalf("FromGo(%v) = %v, want an error", in, v)
			}
		})
	}
}

func TestToGoRoundTrip(t *testing.T) {
	in := map[string]any{
		"s": "x", "i": int64(math.MinInt64), "f": 2.5, "b": false, "n": nil,
		"raw": []byte{0, 255}, "list": []any{int64(1), "two"}, "obj": map[string]any{"k": int64(1)},
	}
	v, err := schema.FromGo(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := schema.ToGo(v); !reflect.DeepEqual(got, in) {
		t.Fatalf("ToGo(FromGo(x)) = %#v, want %#v", got, in)
	}
	if schema.ToGo(&altarv1.Value{}) != nil {
		t.Fatal("an unset Value converts to nil")
	}
}

func TestKind(t *testing.T) {
	for want, v := range map[string]*altarv1.Value{
		"null": schema.Null(), "string": schema.String(""), "integer": schema.Int(0), "number": schema.Double(0),
		"boolean": schema.Bool(false), "bytes": schema.Bytes(nil), "array": schema.Array(), "object": schema.Object(nil),
		"unset": {},
	} {
		if got := schema.Kind(v); got != want {
			t.Errorf("Kind(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestEqualComparesNumbersByValue(t *testing.T) {
	if !schema.Equal(schema.Int(1), schema.Double(1)) {
		t.Error("1 and 1.0 are equal values")
	}
	if schema.Equal(schema.Int(1<<53+1), schema.Double(1<<53)) {
		t.Error("2^53+1 and 2^53 differ")
	}
	if schema.Equal(schema.String("1"), schema.Int(1)) {
		t.Error("a string is not a number")
	}
}
