package schema

import (
	"fmt"
	"math"
	"reflect"
	"sort"

	"google.golang.org/protobuf/types/known/structpb"

	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Null returns an explicit null.
func Null() *altarv1.Value {
	return &altarv1.Value{Kind: &altarv1.Value_NullValue{NullValue: structpb.NullValue_NULL_VALUE}}
}

// String returns a string value.
func String(s string) *altarv1.Value {
	return &altarv1.Value{Kind: &altarv1.Value_StringValue{StringValue: s}}
}

// Int returns an integer value.
func Int(i int64) *altarv1.Value { return &altarv1.Value{Kind: &altarv1.Value_IntValue{IntValue: i}} }

// Double returns a floating-point value.
func Double(f float64) *altarv1.Value {
	return &altarv1.Value{Kind: &altarv1.Value_DoubleValue{DoubleValue: f}}
}

// Bool returns a boolean value.
func Bool(b bool) *altarv1.Value { return &altarv1.Value{Kind: &altarv1.Value_BoolValue{BoolValue: b}} }

// Bytes returns a bytes value.
func Bytes(b []byte) *altarv1.Value {
	return &altarv1.Value{Kind: &altarv1.Value_BytesValue{BytesValue: b}}
}

// Array returns an array of the items.
func Array(items ...*altarv1.Value) *altarv1.Value {
	return &altarv1.Value{Kind: &altarv1.Value_ArrayValue{ArrayValue: &altarv1.ArrayValue{Items: items}}}
}

// Object returns an object of the fields.
func Object(fields map[string]*altarv1.Value) *altarv1.Value {
	if fields == nil {
		fields = map[string]*altarv1.Value{}
	}
	return &altarv1.Value{Kind: &altarv1.Value_ObjectValue{ObjectValue: &altarv1.ObjectValue{Fields: fields}}}
}

// Kind names the kind of v as the schema types do: "null", "string",
// "integer", "number", "boolean", "bytes", "array", "object", or "unset" for
// a Value with no kind.
func Kind(v *altarv1.Value) string {
	switch v.GetKind().(type) {
	case *altarv1.Value_NullValue:
		return "null"
	case *altarv1.Value_StringValue:
		return "string"
	case *altarv1.Value_IntValue:
		return "integer"
	case *altarv1.Value_DoubleValue:
		return "number"
	case *altarv1.Value_BoolValue:
		return "boolean"
	case *altarv1.Value_BytesValue:
		return "bytes"
	case *altarv1.Value_ArrayValue:
		return "array"
	case *altarv1.Value_ObjectValue:
		return "object"
	default:
		return "unset"
	}
}

// FromGo converts a Go value to a Value: nil to null; strings, booleans and
// []byte to themselves; every signed and unsigned integer kind to an integer
// (an unsigned value above MaxInt64 is an error, never a silent wrap); float32
// and float64 to a double (NaN and infinities are errors: JSON cannot carry
// them); slices and arrays to arrays; maps with string keys and structs'
// exported fields (named by their json tag) to objects; *Value as is.
func FromGo(x any) (*altarv1.Value, error) {
	return fromGo(reflect.ValueOf(x), 0)
}

const maxGoDepth = 10000

func fromGo(rv reflect.Value, depth int) (*altarv1.Value, error) {
	if depth > maxGoDepth {
		return nil, fmt.Errorf("schema: value nested deeper than %d levels (a cycle?)", maxGoDepth)
	}
	if !rv.IsValid() {
		return Null(), nil
	}
	if rv.Type() == reflect.TypeFor[*altarv1.Value]() {
		if rv.IsNil() {
			return Null(), nil
		}
		return rv.Interface().(*altarv1.Value), nil
	}
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return Null(), nil
		}
		return fromGo(rv.Elem(), depth+1)
	case reflect.String:
		return String(rv.String()), nil
	case reflect.Bool:
		return Bool(rv.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return Int(rv.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := rv.Uint()
		if u > math.MaxInt64 {
			return nil, fmt.Errorf("schema: unsigned integer %d does not fit in int64", u)
		}
		return Int(int64(u)), nil
	case reflect.Float32, reflect.Float64:
		f := rv.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("schema: %v is not a representable number", f)
		}
		return Double(f), nil
	case reflect.Slice:
		if rv.IsNil() {
			return Null(), nil
		}
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return Bytes(append([]byte(nil), rv.Bytes()...)), nil
		}
		fallthrough
	case reflect.Array:
		items := make([]*altarv1.Value, rv.Len())
		for i := range items {
			item, err := fromGo(rv.Index(i), depth+1)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			items[i] = item
		}
		return Array(items...), nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return nil, fmt.Errorf("schema: map key type %s is not a string", rv.Type().Key())
		}
		if rv.IsNil() {
			return Null(), nil
		}
		fields := make(map[string]*altarv1.Value, rv.Len())
		iter := rv.MapRange()
		for iter.Next() {
			item, err := fromGo(iter.Value(), depth+1)
			if err != nil {
				return nil, fmt.Errorf("%q: %w", iter.Key().String(), err)
			}
			fields[iter.Key().String()] = item
		}
		return Object(fields), nil
	case reflect.Struct:
		fields := map[string]*altarv1.Value{}
		for _, f := range structFields(rv.Type()) {
			fv := rv.FieldByIndex(f.index)
			if f.omitEmpty && fv.IsZero() {
				continue
			}
			item, err := fromGo(fv, depth+1)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.name, err)
			}
			fields[f.name] = item
		}
		return Object(fields), nil
	default:
		return nil, fmt.Errorf("schema: cannot convert Go %s to a value", rv.Type())
	}
}

// ToGo converts a Value to plain Go: nil for null (and for an unset Value),
// string, int64, float64, bool, []byte, []any and map[string]any.
func ToGo(v *altarv1.Value) any {
	switch k := v.GetKind().(type) {
	case *altarv1.Value_StringValue:
		return k.StringValue
	case *altarv1.Value_IntValue:
		return k.IntValue
	case *altarv1.Value_DoubleValue:
		return k.DoubleValue
	case *altarv1.Value_BoolValue:
		return k.BoolValue
	case *altarv1.Value_BytesValue:
		return k.BytesValue
	case *altarv1.Value_ArrayValue:
		out := make([]any, len(k.ArrayValue.GetItems()))
		for i, item := range k.ArrayValue.GetItems() {
			out[i] = ToGo(item)
		}
		return out
	case *altarv1.Value_ObjectValue:
		out := make(map[string]any, len(k.ObjectValue.GetFields()))
		for name, item := range k.ObjectValue.GetFields() {
			out[name] = ToGo(item)
		}
		return out
	default:
		return nil
	}
}

// SortedKeys returns an object's field names in byte order, for
// deterministic output.
func SortedKeys(fields map[string]*altarv1.Value) []string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
