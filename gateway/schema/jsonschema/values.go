package jsonschema

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// This file converts enum members and defaults between decoded JSON and
// Values, following the natural JSON mapping of value.proto: a number without
// a fraction or an exponent is an integer, one with either is a double, and
// bytes are base64 strings. JSON has no bytes, so after conversion a value is
// coerced toward the schema it belongs to (coerce).

// DecodeValue converts a decoded JSON value to a Value of the kind ps expects,
// as Import converts enum members and defaults: nil, bool and string as
// themselves; a json.Number without '.', 'e' or 'E' as an integer, any other
// as a double; float64 and float32 as doubles; Go integers as integers;
// []byte as bytes; []any, []string and map[string]any as arrays and objects.
// Then, where ps (which may be nil) says so, a base64 string becomes bytes and
// a whole double an integer, along items and properties.
//
// It is what a caller holding a default or an example from another schema
// dialect (Gemini's Schema.Default) needs; errors are *altarerr.Error values
// with code ERROR_CODE_INVALID_REQUEST.
func DecodeValue(x any, ps *altarv1.ParameterSchema) (*altarv1.Value, error) {
	im := &importer{lim: Limits{}.orDefault()}
	v := im.value(x, "", 1)
	if len(im.errs) > 0 {
		err := altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, "value cannot be converted")
		err.Fields = im.errs
		return nil, err
	}
	c, err := coerce(v, ps)
	if err != nil {
		return nil, altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, err, "value does not take the schema's type")
	}
	return c, nil
}

// value converts one decoded JSON value (as encoding/json produces it, with or
// without UseNumber, or as a Go caller builds it) to a Value. Problems are
// recorded on im; the result is then nil.
func (im *importer) value(x any, path string, depth int) *altarv1.Value {
	if im.fatal {
		return nil
	}
	if depth > im.lim.MaxDepth {
		im.failLimit(path, "depth", fmt.Sprintf("value nested deeper than %d levels", im.lim.MaxDepth))
		return nil
	}
	if !im.spend(path, 0, 16) {
		return nil
	}
	switch x := x.(type) {
	case nil:
		return schema.Null()
	case bool:
		return schema.Bool(x)
	case string:
		if !im.spend(path, 0, len(x)) {
			return nil
		}
		return schema.String(x)
	case json.Number:
		v, err := numberValue(string(x))
		if err != nil {
			im.fail(path, "value", err.Error())
			return nil
		}
		return v
	case float64:
		return im.double(x, path)
	case float32:
		return im.double(float64(x), path)
	case int:
		return schema.Int(int64(x))
	case int8:
		return schema.Int(int64(x))
	case int16:
		return schema.Int(int64(x))
	case int32:
		return schema.Int(int64(x))
	case int64:
		return schema.Int(x)
	case uint:
		return im.unsigned(uint64(x), path)
	case uint8:
		return schema.Int(int64(x))
	case uint16:
		return schema.Int(int64(x))
	case uint32:
		return schema.Int(int64(x))
	case uint64:
		return im.unsigned(x, path)
	case []byte:
		if !im.spend(path, 0, len(x)) {
			return nil
		}
		return schema.Bytes(slices.Clone(x))
	case []any:
		items := make([]*altarv1.Value, len(x))
		for i, item := range x {
			if items[i] = im.value(item, path+"/"+strconv.Itoa(i), depth+1); items[i] == nil {
				return nil
			}
		}
		return schema.Array(items...)
	case []string:
		items := make([]*altarv1.Value, len(x))
		for i, item := range x {
			if items[i] = im.value(item, path+"/"+strconv.Itoa(i), depth+1); items[i] == nil {
				return nil
			}
		}
		return schema.Array(items...)
	case map[string]any:
		fields := make(map[string]*altarv1.Value, len(x))
		for _, k := range sortedKeys(x) {
			if !im.spend(path, 0, len(k)) {
				return nil
			}
			if fields[k] = im.value(x[k], path+"/"+escapePointer(k), depth+1); fields[k] == nil {
				return nil
			}
		}
		return schema.Object(fields)
	default:
		im.fail(path, "value", fmt.Sprintf("a %T is not a JSON value", x))
		return nil
	}
}

func (im *importer) double(f float64, path string) *altarv1.Value {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		im.fail(path, "value", fmt.Sprintf("%v is not a JSON number", f))
		return nil
	}
	return schema.Double(f)
}

func (im *importer) unsigned(u uint64, path string) *altarv1.Value {
	if u > math.MaxInt64 {
		im.fail(path, "value", fmt.Sprintf("integer %d does not fit in int64", u))
		return nil
	}
	return schema.Int(int64(u))
}

// numberValue converts JSON number text: without '.', 'e' or 'E' it is an
// integer (a double when it does not fit in int64), otherwise a double.
func numberValue(s string) (*altarv1.Value, error) {
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return schema.Int(i), nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, fmt.Errorf("number %s is out of range", s)
	}
	return schema.Double(f), nil
}

// coerce turns v toward ps where JSON could not say what was meant: a string
// where ps says bytes is decoded from base64, and a whole double where ps says
// integer becomes an integer (JSON Schema counts 1.0 as an integer). Arrays
// and objects are coerced item by item along items and properties. v is not
// modified; the result shares what did not change.
func coerce(v *altarv1.Value, ps *altarv1.ParameterSchema) (*altarv1.Value, error) {
	if ps == nil || v == nil {
		return v, nil
	}
	switch k := v.GetKind().(type) {
	case *altarv1.Value_StringValue:
		if ps.GetType() == altarv1.AltarType_ALTAR_TYPE_BYTES {
			b, err := base64.StdEncoding.DecodeString(k.StringValue)
			if err != nil {
				return nil, fmt.Errorf("%q is not base64, as bytes are written in JSON", shorten(k.StringValue))
			}
			return schema.Bytes(b), nil
		}
	case *altarv1.Value_DoubleValue:
		if ps.GetType() == altarv1.AltarType_ALTAR_TYPE_INTEGER {
			if i, ok := wholeInt64(k.DoubleValue); ok {
				return schema.Int(i), nil
			}
		}
	case *altarv1.Value_ArrayValue:
		if ps.GetItems() == nil {
			return v, nil
		}
		items := make([]*altarv1.Value, len(k.ArrayValue.GetItems()))
		for i, item := range k.ArrayValue.GetItems() {
			c, err := coerce(item, ps.GetItems())
			if err != nil {
				return nil, fmt.Errorf("item %d: %w", i, err)
			}
			items[i] = c
		}
		return schema.Array(items...), nil
	case *altarv1.Value_ObjectValue:
		if len(ps.GetProperties()) == 0 {
			return v, nil
		}
		fields := make(map[string]*altarv1.Value, len(k.ObjectValue.GetFields()))
		for _, name := range schema.SortedKeys(k.ObjectValue.GetFields()) {
			c, err := coerce(k.ObjectValue.GetFields()[name], ps.GetProperties()[name])
			if err != nil {
				return nil, fmt.Errorf("property %q: %w", name, err)
			}
			fields[name] = c
		}
		return schema.Object(fields), nil
	}
	return v, nil
}

// wholeInt64 reports whether f is a whole number int64 holds exactly.
func wholeInt64(f float64) (int64, bool) {
	if f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}

func shorten(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// exportValue is the natural JSON form of v as plain Go: nil, string, bool,
// int64, json.Number for a double (always written with a fraction or an
// exponent, so that it reads back as a double), a base64 string for bytes,
// []any and map[string]any.
func exportValue(v *altarv1.Value, depth, maxDepth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("value nested deeper than %d levels", maxDepth)
	}
	switch k := v.GetKind().(type) {
	case *altarv1.Value_NullValue:
		return nil, nil
	case *altarv1.Value_StringValue:
		return k.StringValue, nil
	case *altarv1.Value_IntValue:
		return k.IntValue, nil
	case *altarv1.Value_DoubleValue:
		if math.IsNaN(k.DoubleValue) || math.IsInf(k.DoubleValue, 0) {
			return nil, fmt.Errorf("%v cannot be written in JSON", k.DoubleValue)
		}
		return json.Number(formatDouble(k.DoubleValue)), nil
	case *altarv1.Value_BoolValue:
		return k.BoolValue, nil
	case *altarv1.Value_BytesValue:
		return base64.StdEncoding.EncodeToString(k.BytesValue), nil
	case *altarv1.Value_ArrayValue:
		out := make([]any, len(k.ArrayValue.GetItems()))
		for i, item := range k.ArrayValue.GetItems() {
			x, err := exportValue(item, depth+1, maxDepth)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = x
		}
		return out, nil
	case *altarv1.Value_ObjectValue:
		out := make(map[string]any, len(k.ObjectValue.GetFields()))
		for name, item := range k.ObjectValue.GetFields() {
			x, err := exportValue(item, depth+1, maxDepth)
			if err != nil {
				return nil, fmt.Errorf("%q: %w", name, err)
			}
			out[name] = x
		}
		return out, nil
	default:
		return nil, fmt.Errorf("value has no kind set")
	}
}

// formatDouble writes f as encoding/json does (plain decimal for
// 1e-6 <= |f| < 1e21, exponent form otherwise, shortest exact digits) and adds
// ".0" when that has neither a fraction nor an exponent.
func formatDouble(f float64) string {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	s := strconv.FormatFloat(f, format, -1, 64)
	if format == 'e' {
		// e-09 → e-9, as encoding/json writes it.
		if n := len(s); n >= 4 && s[n-4] == 'e' && s[n-3] == '-' && s[n-2] == '0' {
			s = s[:n-2] + s[n-1:]
		}
		return s
	}
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}
