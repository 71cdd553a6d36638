package schema

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/altar-gateway/altar/gateway/altarerr"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// MaxReportedErrors is the most field errors one validation reports; a
// hostile value cannot make the error itself unbounded.
const MaxReportedErrors = 100

// Validate checks v against the schema and reports every failing field at
// once: nil, or an *altarerr.Error with code ERROR_CODE_INVALID_ARGUMENTS
// (ERROR_CODE_PAYLOAD_TOO_LARGE when a limit was breached) whose Fields
// carry a JSON-pointer path and the failed rule, sorted by path.
//
// Validating a conforming value allocates nothing. Messages never quote
// the value of a field marked sensitive.
func (s *Schema) Validate(v *altarv1.Value) error {
	vs := getValidator(s.limits)
	vs.check(s.root, v, 1)
	err := vs.result()
	putValidator(vs)
	return err
}

// ValidateFields checks an object's fields (a ToolCall's parameters)
// against an object schema, exactly as Validate would check the object.
func (s *Schema) ValidateFields(fields map[string]*altarv1.Value) error {
	vs := getValidator(s.limits)
	defer putValidator(vs)
	if s.root.typ != altarv1.AltarType_ALTAR_TYPE_OBJECT && s.root.typ != altarv1.AltarType_ALTAR_TYPE_ANY {
		vs.fail("type", "expected %s, got object", TypeName(s.root.typ))
	} else {
		vs.checkObject(s.root, fields, 1)
	}
	return vs.result()
}

// pathSeg is one step of a JSON pointer: an object key or an array index.
type pathSeg struct {
	key   string
	index int
	isKey bool
}

// validator walks a value. Its path is a stack pushed and popped around
// each descent, so that building a JSON pointer costs nothing until an error
// needs one; validators are pooled so that the stack is not reallocated.
type validator struct {
	limits    Limits
	maxErrors int
	errs      []*altarv1.FieldError
	dropped   int
	tooLarge  bool
	path      []pathSeg
}

var validatorPool = sync.Pool{New: func() any { return &validator{path: make([]pathSeg, 0, 16)} }}

func getValidator(lim Limits) *validator {
	v := validatorPool.Get().(*validator)
	v.limits, v.maxErrors = lim, MaxReportedErrors
	return v
}

func putValidator(v *validator) {
	v.errs, v.dropped, v.tooLarge, v.path = nil, 0, false, v.path[:0]
	validatorPool.Put(v)
}

func (v *validator) pushKey(k string) { v.path = append(v.path, pathSeg{key: k, isKey: true}) }
func (v *validator) pushIndex(i int)  { v.path = append(v.path, pathSeg{index: i}) }
func (v *validator) pop()             { v.path = v.path[:len(v.path)-1] }

// pointer renders the current path as a JSON pointer (RFC 6901).
func (v *validator) pointer() string {
	var b strings.Builder
	for _, s := range v.path {
		b.WriteByte('/')
		if s.isKey {
			b.WriteString(escapePointer(s.key))
		} else {
			b.WriteString(strconv.Itoa(s.index))
		}
	}
	return b.String()
}

func (v *validator) fail(rule, format string, args ...any) {
	if len(v.errs) >= v.maxErrors {
		v.dropped++
		return
	}
	v.errs = append(v.errs, &altarv1.FieldError{Path: v.pointer(), Rule: rule, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) failLimit(rule, format string, args ...any) {
	v.tooLarge = true
	v.fail(rule, format, args...)
}

func (v *validator) result() error {
	if len(v.errs) == 0 {
		return nil
	}
	slices.SortStableFunc(v.errs, func(a, b *altarv1.FieldError) int { return cmp.Compare(a.GetPath(), b.GetPath()) })
	code := altarv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENTS
	what := "invalid arguments"
	if v.tooLarge {
		code = altarv1.ErrorCode_ERROR_CODE_PAYLOAD_TOO_LARGE
		what = "value exceeds a limit"
	}
	n := len(v.errs) + v.dropped
	err := altarerr.New(code, "%s: %d problem(s)", what, n)
	err.Fields = v.errs
	if v.dropped > 0 {
		err.WithDetail("unreported_errors", strconv.Itoa(v.dropped))
	}
	return err
}

func (v *validator) typeError(n *node, val *altarv1.Value) {
	want := TypeName(n.typ)
	if n.typ == altarv1.AltarType_ALTAR_TYPE_NUMBER {
		want = "number"
	}
	if n.nullable {
		want += " or null"
	}
	v.fail("type", "expected %s, got %s", want, Kind(val))
}

// check validates val against n. depth is val's nesting depth (1 at the top).
func (v *validator) check(n *node, val *altarv1.Value, depth int) {
	if depth > v.limits.MaxDepth {
		v.failLimit("max_depth", "nested deeper than %d levels", v.limits.MaxDepth)
		return
	}
	if val.GetKind() == nil {
		v.fail("type", "value is empty (no kind set)")
		return
	}
	if _, isNull := val.GetKind().(*altarv1.Value_NullValue); isNull && n.nullable {
		return
	}
	before := len(v.errs) + v.dropped
	switch n.typ {
	case altarv1.AltarType_ALTAR_TYPE_ANY:
		v.checkKind(n, val, depth)
	case altarv1.AltarType_ALTAR_TYPE_STRING:
		if _, ok := val.GetKind().(*altarv1.Value_StringValue); !ok {
			v.typeError(n, val)
			return
		}
		v.checkKind(n, val, depth)
	case altarv1.AltarType_ALTAR_TYPE_BYTES:
		if _, ok := val.GetKind().(*altarv1.Value_BytesValue); !ok {
			v.typeError(n, val)
			return
		}
		v.checkKind(n, val, depth)
	case altarv1.AltarType_ALTAR_TYPE_INTEGER:
		if _, ok := val.GetKind().(*altarv1.Value_IntValue); !ok {
			v.typeError(n, val)
			return
		}
		v.checkKind(n, val, depth)
	case altarv1.AltarType_ALTAR_TYPE_NUMBER:
		switch val.GetKind().(type) {
		case *altarv1.Value_IntValue, *altarv1.Value_DoubleValue:
			v.checkKind(n, val, depth)
		default:
			v.typeError(n, val)
			return
		}
	case altarv1.AltarType_ALTAR_TYPE_BOOLEAN:
		if _, ok := val.GetKind().(*altarv1.Value_BoolValue); !ok {
			v.typeError(n, val)
			return
		}
	case altarv1.AltarType_ALTAR_TYPE_NULL:
		if _, ok := val.GetKind().(*altarv1.Value_NullValue); !ok {
			v.typeError(n, val)
			return
		}
	case altarv1.AltarType_ALTAR_TYPE_ARRAY:
		if _, ok := val.GetKind().(*altarv1.Value_ArrayValue); !ok {
			v.typeError(n, val)
			return
		}
		v.checkKind(n, val, depth)
	case altarv1.AltarType_ALTAR_TYPE_OBJECT:
		if _, ok := val.GetKind().(*altarv1.Value_ObjectValue); !ok {
			v.typeError(n, val)
			return
		}
		v.checkKind(n, val, depth)
	}
	if !n.enum.empty() && len(v.errs)+v.dropped == before && !n.enum.contains(val) {
		v.fail("enum", "%s is not one of %s", v.show(n, val), enumList(n))
	}
	if len(n.anyOf) > 0 && len(v.errs)+v.dropped == before {
		v.checkAnyOf(n, val, depth)
	}
}

// checkKind applies the constraints that belong to val's own kind.
func (v *validator) checkKind(n *node, val *altarv1.Value, depth int) {
	switch k := val.GetKind().(type) {
	case *altarv1.Value_StringValue:
		v.checkString(n, k.StringValue, val)
	case *altarv1.Value_BytesValue:
		b := k.BytesValue
		if len(b) > v.limits.MaxStringBytes {
			v.failLimit("max_string_bytes", "%d bytes is longer than the limit of %d", len(b), v.limits.MaxStringBytes)
			return
		}
		if uint64(len(b)) < n.minLen {
			v.fail("min_length", "%d bytes is shorter than the minimum of %d", len(b), n.minLen)
		}
		if n.hasMaxLen && uint64(len(b)) > n.maxLen {
			v.fail("max_length", "%d bytes is longer than the maximum of %d", len(b), n.maxLen)
		}
	case *altarv1.Value_IntValue:
		v.checkInt(n, k.IntValue)
	case *altarv1.Value_DoubleValue:
		v.checkDouble(n, k.DoubleValue, val)
	case *altarv1.Value_ArrayValue:
		v.checkArray(n, k.ArrayValue.GetItems(), depth)
	case *altarv1.Value_ObjectValue:
		v.checkObject(n, k.ObjectValue.GetFields(), depth)
	}
}

func (v *validator) checkString(n *node, s string, val *altarv1.Value) {
	if len(s) > v.limits.MaxStringBytes {
		v.failLimit("max_string_bytes", "string of %d bytes is longer than the limit of %d", len(s), v.limits.MaxStringBytes)
		return
	}
	if n.minLen > 0 || n.hasMaxLen {
		count := uint64(utf8.RuneCountInString(s))
		if count < n.minLen {
			v.fail("min_length", "length %d is shorter than the minimum of %d", count, n.minLen)
		}
		if n.hasMaxLen && count > n.maxLen {
			v.fail("max_length", "length %d is longer than the maximum of %d", count, n.maxLen)
		}
	}
	if n.pattern != nil && !n.pattern.MatchString(s) {
		v.fail("pattern", "%s does not match the pattern %q", v.show(n, val), n.pattern.String())
	}
	if n.format != nil && !n.format(s) {
		v.fail("format", "%s is not a valid %s", v.show(n, val), n.src.GetFormat())
	}
}

func (v *validator) checkInt(n *node, i int64) {
	if n.hasLower {
		c := compareIntFloat(i, n.lower)
		if c < 0 || (c == 0 && n.lowerExcl) {
			v.boundError(n, strconv.FormatInt(i, 10), true)
		}
	}
	if n.hasUpper {
		c := compareIntFloat(i, n.upper)
		if c > 0 || (c == 0 && n.upperExcl) {
			v.boundError(n, strconv.FormatInt(i, 10), false)
		}
	}
	if m := n.multipleOf; m != 0 {
		if m == math.Trunc(m) && m < 1<<63 {
			if i%int64(m) != 0 {
				v.fail("multiple_of", "%d is not a multiple of %s", i, formatFloat(m))
			}
		} else if !isMultiple(float64(i), m) {
			v.fail("multiple_of", "%d is not a multiple of %s", i, formatFloat(m))
		}
	}
}

func (v *validator) checkDouble(n *node, d float64, val *altarv1.Value) {
	if math.IsNaN(d) || math.IsInf(d, 0) {
		v.fail("type", "%v is not a finite number", d)
		return
	}
	if n.hasLower && (d < n.lower || (d == n.lower && n.lowerExcl)) {
		v.boundError(n, formatFloat(d), true)
	}
	if n.hasUpper && (d > n.upper || (d == n.upper && n.upperExcl)) {
		v.boundError(n, formatFloat(d), false)
	}
	if n.multipleOf != 0 && !isMultiple(d, n.multipleOf) {
		v.fail("multiple_of", "%s is not a multiple of %s", formatFloat(d), formatFloat(n.multipleOf))
	}
}

func (v *validator) boundError(n *node, got string, lower bool) {
	if n.sensitive {
		got = "the value"
	}
	switch {
	case lower && n.lowerExcl:
		v.fail("exclusive_minimum", "%s must be greater than %s", got, formatFloat(n.lower))
	case lower:
		v.fail("minimum", "%s is less than the minimum of %s", got, formatFloat(n.lower))
	case n.upperExcl:
		v.fail("exclusive_maximum", "%s must be less than %s", got, formatFloat(n.upper))
	default:
		v.fail("maximum", "%s is greater than the maximum of %s", got, formatFloat(n.upper))
	}
}

func (v *validator) checkArray(n *node, items []*altarv1.Value, depth int) {
	if len(items) > v.limits.MaxItems {
		v.failLimit("max_items", "%d items is more than the limit of %d", len(items), v.limits.MaxItems)
		return
	}
	if uint64(len(items)) < n.minItems {
		v.fail("min_items", "%d item(s) is fewer than the minimum of %d", len(items), n.minItems)
	}
	if n.hasMaxItems && uint64(len(items)) > n.maxItems {
		v.fail("max_items", "%d items is more than the maximum of %d", len(items), n.maxItems)
	}
	itemNode := n.items
	if itemNode == nil {
		itemNode = anyNode
	}
	for i, item := range items {
		v.pushIndex(i)
		v.check(itemNode, item, depth+1)
		v.pop()
	}
	if n.uniqueItems {
		for i := 1; i < len(items); i++ {
			for j := 0; j < i; j++ {
				if valuesEqual(items[i], items[j]) {
					v.pushIndex(i)
					v.fail("unique_items", "item %d repeats item %d", i, j)
					v.pop()
					break
				}
			}
		}
	}
}

// anyNode accepts any value; it still enforces the limits on nested values.
var anyNode = &node{typ: altarv1.AltarType_ALTAR_TYPE_ANY, additional: true}

func (v *validator) checkObject(n *node, fields map[string]*altarv1.Value, depth int) {
	if len(fields) > v.limits.MaxProperties {
		v.failLimit("max_properties", "%d properties is more than the limit of %d", len(fields), v.limits.MaxProperties)
		return
	}
	if uint64(len(fields)) < n.minProps {
		v.fail("min_properties", "%d properties is fewer than the minimum of %d", len(fields), n.minProps)
	}
	if n.hasMaxProps && uint64(len(fields)) > n.maxProps {
		v.fail("max_properties", "%d properties is more than the maximum of %d", len(fields), n.maxProps)
	}
	for name, item := range fields {
		v.pushKey(name)
		switch sub := n.props[name]; {
		case sub != nil:
			v.check(sub, item, depth+1)
		case !n.additional:
			v.fail("additional_properties", "property %q is not allowed (allowed: %s)", name, propertyList(n))
		default:
			v.check(anyNode, item, depth+1)
		}
		v.pop()
	}
	for _, name := range n.required {
		if _, ok := fields[name]; !ok {
			v.pushKey(name)
			v.fail("required", "required property %q is missing", name)
			v.pop()
		}
	}
}

func (v *validator) checkAnyOf(n *node, val *altarv1.Value, depth int) {
	var reasons []string
	for i, alt := range n.anyOf {
		sub := validator{limits: v.limits, maxErrors: 1, path: v.path}
		sub.check(alt, val, depth)
		if len(sub.errs) == 0 {
			return
		}
		reasons = append(reasons, fmt.Sprintf("[%d] %s", i, sub.errs[0].GetMessage()))
	}
	v.fail("any_of", "matches none of the %d alternatives: %s", len(n.anyOf), strings.Join(reasons, "; "))
}

// show renders a value for an error message, or hides it when sensitive.
func (v *validator) show(n *node, val *altarv1.Value) string {
	if n.sensitive {
		return "the value"
	}
	return describe(val)
}

func enumList(n *node) string {
	if n.sensitive {
		return "the allowed values"
	}
	const shown = 10
	var parts []string
	for i, m := range n.enum.members {
		if i == shown {
			parts = append(parts, fmt.Sprintf("… (%d more)", len(n.enum.members)-shown))
			break
		}
		parts = append(parts, describe(m))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func propertyList(n *node) string {
	if len(n.props) == 0 {
		return "none"
	}
	names := make([]string, 0, len(n.props))
	for name := range n.props {
		names = append(names, name)
	}
	slices.Sort(names)
	const shown = 20
	if len(names) > shown {
		return strings.Join(names[:shown], ", ") + fmt.Sprintf(", … (%d more)", len(names)-shown)
	}
	return strings.Join(names, ", ")
}

// compareIntFloat compares an int64 with a float64 exactly (no rounding of
// integers beyond 2^53).
func compareIntFloat(i int64, f float64) int {
	const two63 = 9.223372036854775808e18
	switch {
	case f >= two63:
		return -1
	case f < -two63:
		return 1
	}
	t := math.Trunc(f)
	ti := int64(t)
	switch {
	case i < ti:
		return -1
	case i > ti:
		return 1
	case f > t:
		return -1
	case f < t:
		return 1
	default:
		return 0
	}
}

// isMultiple reports whether d is a multiple of m within floating-point
// rounding (0.3 is a multiple of 0.1).
func isMultiple(d, m float64) bool {
	q := d / m
	if math.IsInf(q, 0) {
		return false
	}
	return math.Abs(q-math.Round(q)) <= 1e-9*math.Max(1, math.Abs(q))
}

// valuesEqual compares values as JSON Schema does: numbers by value (1 ==
// 1.0), everything else structurally.
func valuesEqual(a, b *altarv1.Value) bool {
	switch x := a.GetKind().(type) {
	case *altarv1.Value_IntValue:
		switch y := b.GetKind().(type) {
		case *altarv1.Value_IntValue:
			return x.IntValue == y.IntValue
		case *altarv1.Value_DoubleValue:
			return compareIntFloat(x.IntValue, y.DoubleValue) == 0
		}
		return false
	case *altarv1.Value_DoubleValue:
		switch y := b.GetKind().(type) {
		case *altarv1.Value_IntValue:
			return compareIntFloat(y.IntValue, x.DoubleValue) == 0
		case *altarv1.Value_DoubleValue:
			return x.DoubleValue == y.DoubleValue
		}
		return false
	case *altarv1.Value_StringValue:
		y, ok := b.GetKind().(*altarv1.Value_StringValue)
		return ok && x.StringValue == y.StringValue
	case *altarv1.Value_BoolValue:
		y, ok := b.GetKind().(*altarv1.Value_BoolValue)
		return ok && x.BoolValue == y.BoolValue
	case *altarv1.Value_NullValue:
		_, ok := b.GetKind().(*altarv1.Value_NullValue)
		return ok
	case *altarv1.Value_BytesValue:
		y, ok := b.GetKind().(*altarv1.Value_BytesValue)
		return ok && bytes.Equal(x.BytesValue, y.BytesValue)
	case *altarv1.Value_ArrayValue:
		y, ok := b.GetKind().(*altarv1.Value_ArrayValue)
		if !ok || len(x.ArrayValue.GetItems()) != len(y.ArrayValue.GetItems()) {
			return false
		}
		for i, item := range x.ArrayValue.GetItems() {
			if !valuesEqual(item, y.ArrayValue.GetItems()[i]) {
				return false
			}
		}
		return true
	case *altarv1.Value_ObjectValue:
		y, ok := b.GetKind().(*altarv1.Value_ObjectValue)
		if !ok || len(x.ObjectValue.GetFields()) != len(y.ObjectValue.GetFields()) {
			return false
		}
		for k, item := range x.ObjectValue.GetFields() {
			other, ok := y.ObjectValue.GetFields()[k]
			if !ok || !valuesEqual(item, other) {
				return false
			}
		}
		return true
	}
	return false
}
