package conformance

import (
	"google.golang.org/protobuf/types/known/structpb"

	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

func vNull() *altarv1.Value {
	return &altarv1.Value{Kind: &altarv1.Value_NullValue{NullValue: structpb.NullValue_NULL_VALUE}}
}
func vInt(i int64) *altarv1.Value { return &altarv1.Value{Kind: &altarv1.Value_IntValue{IntValue: i}} }
func vStr(s string) *altarv1.Value {
	return &altarv1.Value{Kind: &altarv1.Value_StringValue{StringValue: s}}
}
func vBool(b bool) *altarv1.Value {
	return &altarv1.Value{Kind: &altarv1.Value_BoolValue{BoolValue: b}}
}
func vBytes(b []byte) *altarv1.Value {
	return &altarv1.Value{Kind: &altarv1.Value_BytesValue{BytesValue: b}}
}
func vDouble(f float64) *altarv1.Value {
	return &altarv1.Value{Kind: &altarv1.Value_DoubleValue{DoubleValue: f}}
}

// args builds call arguments from key, value pairs.
func args(kv ...any) map[string]*altarv1.Value {
	m := map[string]*altarv1.Value{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1].(*altarv1.Value)
	}
	return m
}

// kindOf names a Value's kind as conformance.describe does.
func kindOf(v *altarv1.Value) string {
	switch v.GetKind().(type) {
	case *altarv1.Value_NullValue:
		return "null"
	case *altarv1.Value_StringValue:
		return "string"
	case *altarv1.Value_IntValue:
		return "int"
	case *altarv1.Value_DoubleValue:
		return "double"
	case *altarv1.Value_BoolValue:
		return "bool"
	case *altarv1.Value_BytesValue:
		return "bytes"
	case *altarv1.Value_ArrayValue:
		return "array"
	case *altarv1.Value_ObjectValue:
		return "object"
	}
	return "unset"
}

// description is one argument as conformance.describe reported it.
type description struct {
	kind   string
	length int64 // -1 when not reported
	sha256 string
}

// readDescription reads one entry of conformance.describe's result, an
// object {"kind", "length", "sha256"} as the manifest describes it.
func readDescription(v *altarv1.Value) (description, bool) {
	d := description{length: -1}
	f := v.GetObjectValue().GetFields()
	kind, ok := f["kind"].GetKind().(*altarv1.Value_StringValue)
	if !ok {
		return d, false
	}
	d.kind = kind.StringValue
	if n, ok := f["length"].GetKind().(*altarv1.Value_IntValue); ok {
		d.length = n.IntValue
	}
	d.sha256 = f["sha256"].GetStringValue()
	return d, true
}
