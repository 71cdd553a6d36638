package sdk

import (
	"fmt"
	"math"
	"reflect"
	"strings"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// decoder turns a ToolCall's arguments into a Go value, reading each Value
// straight into its Go destination: an int_value lands in an int64 exactly
// (never by way of a float64), bytes stay bytes, and null is told apart from
// absent. Every mismatch is collected as a FieldError with a JSON-pointer
// path, as the Host's own validation reports them.
type decoder struct {
	info *typeInfo
	errs []*altarv1.FieldError
}

// decodeArgs decodes a call's parameters into dst, whose type is a struct or
// a map with string keys. The error is an *altarerr.Error with code
// ERROR_CODE_INVALID_ARGUMENTS naming every field that did not fit.
func (d *decoder) decodeArgs(tool string, dst reflect.Value, args map[string]*altarv1.Value) error {
	switch dst.Kind() {
	case reflect.Struct:
		d.fields(dst, args, "")
	case reflect.Map:
		d.value(dst, schema.Object(args), "")
	default:
		// derive refuses other roots; this is a guard, not a path.
		d.fail("", "type", "arguments cannot be decoded into Go %s", dst.Type())
	}
	if len(d.errs) == 0 {
		return nil
	}
	e := altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENTS,
		"arguments do not fit the Go parameters of tool %q", tool)
	e.Fields = d.errs
	return e
}

// decodeValue decodes one value into dst (used for tag defaults).
func (d *decoder) decodeValue(dst reflect.Value, v *altarv1.Value, path string) error {
	d.value(dst, v, path)
	if len(d.errs) == 0 {
		return nil
	}
	msgs := make([]string, len(d.errs))
	for i, f := range d.errs {
		msgs[i] = altarerr.FormatField(f)
	}
	return fmt.Errorf("%s", strings.Join(msgs, "; "))
}

func (d *decoder) fail(path, rule, format string, args ...any) {
	if len(d.errs) >= schema.MaxReportedErrors {
		return
	}
	d.errs = append(d.errs, &altarv1.FieldError{Path: path, Rule: rule, Message: fmt.Sprintf(format, args...)})
}

func (d *decoder) typeError(path string, t reflect.Type, v *altarv1.Value) {
	d.fail(path, "type", "must be %s, got %s", describeGo(t), schema.Kind(v))
}

func (d *decoder) value(dst reflect.Value, v *altarv1.Value, path string) {
	t := dst.Type()
	if t == valueType {
		dst.Set(reflect.ValueOf(v))
		return
	}
	if v.GetKind() == nil {
		d.fail(path, "type", "value has no kind")
		return
	}
	_, isNull := v.GetKind().(*altarv1.Value_NullValue)
	switch t.Kind() {
	case reflect.Pointer:
		if isNull {
			dst.SetZero()
			return
		}
		p := reflect.New(t.Elem())
		d.value(p.Elem(), v, path)
		dst.Set(p)
		return
	case reflect.Interface:
		if x := schema.ToGo(v); x != nil {
			dst.Set(reflect.ValueOf(x))
		} else {
			dst.SetZero()
		}
		return
	}
	if isNull {
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			dst.SetZero()
			return
		}
		d.fail(path, "type", "must be %s, got null", describeGo(t))
		return
	}
	switch t.Kind() {
	case reflect.String:
		s, ok := v.GetKind().(*altarv1.Value_StringValue)
		if !ok {
			d.typeError(path, t, v)
			return
		}
		dst.SetString(s.StringValue)
	case reflect.Bool:
		b, ok := v.GetKind().(*altarv1.Value_BoolValue)
		if !ok {
			d.typeError(path, t, v)
			return
		}
		dst.SetBool(b.BoolValue)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		iv, ok := v.GetKind().(*altarv1.Value_IntValue)
		if !ok {
			d.typeError(path, t, v)
			return
		}
		if dst.OverflowInt(iv.IntValue) {
			d.rangeError(path, t, iv.IntValue < 0, fmt.Sprint(iv.IntValue))
			return
		}
		dst.SetInt(iv.IntValue)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		iv, ok := v.GetKind().(*altarv1.Value_IntValue)
		if !ok {
			d.typeError(path, t, v)
			return
		}
		if iv.IntValue < 0 || dst.OverflowUint(uint64(iv.IntValue)) {
			d.rangeError(path, t, iv.IntValue < 0, fmt.Sprint(iv.IntValue))
			return
		}
		dst.SetUint(uint64(iv.IntValue))
	case reflect.Float32, reflect.Float64:
		var f float64
		switch k := v.GetKind().(type) {
		case *altarv1.Value_DoubleValue:
			f = k.DoubleValue
		case *altarv1.Value_IntValue:
			// A number accepts integers; beyond 2^53 this is the nearest
			// float64, as it must be for a Go float.
			f = float64(k.IntValue)
		default:
			d.typeError(path, t, v)
			return
		}
		if !math.IsInf(f, 0) && dst.OverflowFloat(f) {
			d.rangeError(path, t, f < 0, fmt.Sprint(f))
			return
		}
		dst.SetFloat(f)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			b, ok := v.GetKind().(*altarv1.Value_BytesValue)
			if !ok {
				d.typeError(path, t, v)
				return
			}
			// A copy: the tool may keep or change it after the call.
			dst.SetBytes(append([]byte{}, b.BytesValue...))
			return
		}
		a, ok := v.GetKind().(*altarv1.Value_ArrayValue)
		if !ok {
			d.typeError(path, t, v)
			return
		}
		items := a.ArrayValue.GetItems()
		s := reflect.MakeSlice(t, len(items), len(items))
		for i, item := range items {
			d.value(s.Index(i), item, fmt.Sprintf("%s/%d", path, i))
		}
		dst.Set(s)
	case reflect.Array:
		a, ok := v.GetKind().(*altarv1.Value_ArrayValue)
		if !ok {
			d.typeError(path, t, v)
			return
		}
		items := a.ArrayValue.GetItems()
		if len(items) != t.Len() {
			d.fail(path, "min_items", "must have exactly %d items, got %d", t.Len(), len(items))
			return
		}
		for i, item := range items {
			d.value(dst.Index(i), item, fmt.Sprintf("%s/%d", path, i))
		}
	case reflect.Map:
		o, ok := v.GetKind().(*altarv1.Value_ObjectValue)
		if !ok {
			d.typeError(path, t, v)
			return
		}
		fields := o.ObjectValue.GetFields()
		m := reflect.MakeMapWithSize(t, len(fields))
		for _, k := range schema.SortedKeys(fields) {
			elem := reflect.New(t.Elem()).Elem()
			d.value(elem, fields[k], path+"/"+escapePointer(k))
			m.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), elem)
		}
		dst.Set(m)
	case reflect.Struct:
		o, ok := v.GetKind().(*altarv1.Value_ObjectValue)
		if !ok {
			d.typeError(path, t, v)
			return
		}
		d.fields(dst, o.ObjectValue.GetFields(), path)
	default:
		// derive refuses every other kind before a tool exists.
		d.fail(path, "type", "Go %s cannot hold an argument", t)
	}
}

// fields decodes an object into a struct. Arguments the struct does not name
// are ignored: the Host has already validated them against its contract,
// which may have grown optional parameters this runtime does not read.
func (d *decoder) fields(dst reflect.Value, fields map[string]*altarv1.Value, path string) {
	info := d.info.structs[dst.Type()]
	if info == nil {
		d.fail(path, "type", "Go %s was not prepared for decoding", dst.Type())
		return
	}
	for _, f := range info.fields {
		fv := dst.FieldByIndex(f.index)
		fpath := path + "/" + escapePointer(f.name)
		v, ok := fields[f.name]
		if !ok {
			switch {
			case f.def != nil:
				d.value(fv, f.def, fpath)
			case f.required:
				d.fail(fpath, "required", "is required")
			}
			continue
		}
		d.value(fv, v, fpath)
	}
}

func (d *decoder) rangeError(path string, t reflect.Type, below bool, got string) {
	rule := "maximum"
	if below {
		rule = "minimum"
	}
	d.fail(path, rule, "%s does not fit in Go %s", got, t)
}

// describeGo names what a Go type accepts, in the schema's words.
func describeGo(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "bytes"
		}
		return "an array"
	case reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return t.String()
}

// escapePointer escapes one JSON-pointer token (RFC 6901).
func escapePointer(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}
