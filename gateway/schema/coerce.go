package schema

import (
	"encoding/base64"
	"math"
	"strconv"
	"strings"

	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// CoerceMode selects which conversions Coerce applies. Modes combine with |.
type CoerceMode uint8

const (
	// CoerceBytes turns a base64 string into bytes where the schema says
	// bytes. It is the second half of the natural JSON mapping (JSON has no
	// bytes), so JSON transports always apply it. Standard and URL-safe
	// alphabets are accepted, with or without padding.
	CoerceBytes CoerceMode = 1 << iota
	// CoerceLenient applies the documented conversions for lenient clients,
	// and only where nothing is lost:
	//   - integer expected: a decimal string ("42", "-7") or a whole double
	//     (3.0) becomes an integer; 3.5, "3.5" or "abc" is an error;
	//   - number expected: a decimal or float string ("3.5", "1e3") becomes a
	//     number (an integer when it has no fraction or exponent);
	//   - boolean expected: "true" or "false" (any case) becomes a boolean.
	// Nothing else is converted: a number is never turned into a string.
	CoerceLenient
	// CoerceDefaults fills properties that are absent with their schema's
	// default.
	CoerceDefaults
)

// Coerce returns v converted toward the schema by mode. It never modifies v:
// unchanged subtrees are shared with it, changed ones are new. A conversion
// that would lose information is refused with an *altarerr.Error listing
// every such field (code ERROR_CODE_INVALID_ARGUMENTS); values Coerce does
// not touch are left for Validate to judge.
func (s *Schema) Coerce(v *altarv1.Value, mode CoerceMode) (*altarv1.Value, error) {
	c := coercer{mode: mode, vs: getValidator(s.limits)}
	defer putValidator(c.vs)
	out := c.coerce(s.root, v, 1)
	return out, c.vs.result()
}

// CoerceFields is Coerce for an object's fields (a ToolCall's parameters).
// The returned map is v itself when nothing changed.
func (s *Schema) CoerceFields(fields map[string]*altarv1.Value, mode CoerceMode) (map[string]*altarv1.Value, error) {
	c := coercer{mode: mode, vs: getValidator(s.limits)}
	defer putValidator(c.vs)
	out := c.coerceFields(s.root, fields, 1)
	return out, c.vs.result()
}

type coercer struct {
	mode CoerceMode
	vs   *validator // pooled: its path stack is reused
}

func (c *coercer) coerce(n *node, v *altarv1.Value, depth int) *altarv1.Value {
	if depth > c.vs.limits.MaxDepth || v.GetKind() == nil {
		return v // Validate reports it.
	}
	if _, isNull := v.GetKind().(*altarv1.Value_NullValue); isNull {
		return v
	}
	switch n.typ {
	case altarv1.AltarType_ALTAR_TYPE_BYTES:
		if s, ok := v.GetKind().(*altarv1.Value_StringValue); ok && c.mode&CoerceBytes != 0 {
			b, err := decodeBase64(s.StringValue)
			if err != nil {
				c.vs.fail("type", "expected bytes as a base64 string: %v", err)
				return v
			}
			return Bytes(b)
		}
	case altarv1.AltarType_ALTAR_TYPE_INTEGER:
		if c.mode&CoerceLenient != 0 {
			return c.toInteger(n, v)
		}
	case altarv1.AltarType_ALTAR_TYPE_NUMBER:
		if s, ok := v.GetKind().(*altarv1.Value_StringValue); ok && c.mode&CoerceLenient != 0 {
			return c.toNumber(n, s.StringValue, v)
		}
	case altarv1.AltarType_ALTAR_TYPE_BOOLEAN:
		if s, ok := v.GetKind().(*altarv1.Value_StringValue); ok && c.mode&CoerceLenient != 0 {
			switch strings.ToLower(s.StringValue) {
			case "true":
				return Bool(true)
			case "false":
				return Bool(false)
			}
			c.vs.fail("type", "cannot coerce %s to a boolean (only \"true\" or \"false\")", c.vs.show(n, v))
		}
	case altarv1.AltarType_ALTAR_TYPE_ARRAY:
		arr, ok := v.GetKind().(*altarv1.Value_ArrayValue)
		if !ok || n.items == nil {
			return v
		}
		var out []*altarv1.Value
		for i, item := range arr.ArrayValue.GetItems() {
			c.vs.pushIndex(i)
			got := c.coerce(n.items, item, depth+1)
			c.vs.pop()
			if got != item && out == nil {
				out = make([]*altarv1.Value, len(arr.ArrayValue.GetItems()))
				copy(out, arr.ArrayValue.GetItems())
			}
			if out != nil {
				out[i] = got
			}
		}
		if out != nil {
			return Array(out...)
		}
	case altarv1.AltarType_ALTAR_TYPE_OBJECT:
		obj, ok := v.GetKind().(*altarv1.Value_ObjectValue)
		if !ok {
			return v
		}
		fields := obj.ObjectValue.GetFields()
		if out := c.coerceFields(n, fields, depth); !sameMap(out, fields) {
			return Object(out)
		}
	}
	return v
}

func (c *coercer) coerceFields(n *node, fields map[string]*altarv1.Value, depth int) map[string]*altarv1.Value {
	var out map[string]*altarv1.Value
	clone := func() {
		if out == nil {
			out = make(map[string]*altarv1.Value, len(fields)+len(n.props))
			for k, v := range fields {
				out[k] = v
			}
		}
	}
	for name, item := range fields {
		sub := n.props[name]
		if sub == nil {
			continue
		}
		c.vs.pushKey(name)
		got := c.coerce(sub, item, depth+1)
		c.vs.pop()
		if got != item {
			clone()
			out[name] = got
		}
	}
	if c.mode&CoerceDefaults != 0 {
		for _, name := range n.propNames {
			sub := n.props[name]
			if _, present := fields[name]; present || sub.def == nil {
				continue
			}
			clone()
			out[name] = sub.def
		}
	}
	if out == nil {
		return fields
	}
	return out
}

func (c *coercer) toInteger(n *node, v *altarv1.Value) *altarv1.Value {
	switch k := v.GetKind().(type) {
	case *altarv1.Value_DoubleValue:
		d := k.DoubleValue
		if d == math.Trunc(d) && d >= -(1<<63) && d < 1<<63 {
			return Int(int64(d))
		}
		c.vs.fail("type", "cannot coerce %s to an integer without losing its fraction", c.vs.show(n, v))
	case *altarv1.Value_StringValue:
		i, err := strconv.ParseInt(k.StringValue, 10, 64)
		if err == nil {
			return Int(i)
		}
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			c.vs.fail("range", "%s is out of the 64-bit integer range", c.vs.show(n, v))
		} else {
			c.vs.fail("type", "cannot coerce %s to an integer", c.vs.show(n, v))
		}
	}
	return v
}

func (c *coercer) toNumber(n *node, s string, v *altarv1.Value) *altarv1.Value {
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return Int(i)
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || strings.ContainsAny(s, "xXpP_") {
		c.vs.fail("type", "cannot coerce %s to a number", c.vs.show(n, v))
		return v
	}
	return Double(f)
}

func decodeBase64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	_, err := base64.StdEncoding.DecodeString(s)
	return nil, err
}

func sameMap(a, b map[string]*altarv1.Value) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
