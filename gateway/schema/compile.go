package schema

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/altar-gateway/altar/gateway/altarerr"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Schema is a compiled ParameterSchema, safe for concurrent use.
type Schema struct {
	root   *node
	src    *altarv1.ParameterSchema
	limits Limits
}

// Option configures Compile.
type Option interface{ apply(*compileOptions) }

type compileOptions struct {
	limits Limits
}

type limitsOption Limits

func (o limitsOption) apply(c *compileOptions) { c.limits = Limits(o).orDefault() }

// WithLimits sets the limits validation enforces (and the deepest schema
// Compile accepts). Zero fields keep their defaults.
func WithLimits(l Limits) Option { return limitsOption(l) }

// node is one compiled level of a schema. Everything a validation needs is
// precomputed here so that validating a conforming value allocates nothing.
type node struct {
	typ       altarv1.AltarType
	nullable  bool
	sensitive bool

	lower, upper         float64 // numeric bounds, when hasLower/hasUpper
	hasLower, hasUpper   bool
	lowerExcl, upperExcl bool
	multipleOf           float64 // 0 when unset

	minLen, maxLen uint64 // code points for strings, bytes for bytes
	hasMaxLen      bool
	pattern        *regexp.Regexp
	format         formatCheck // nil for formats that are annotations only

	enum enumSet
	def  *altarv1.Value

	items              *node
	minItems, maxItems uint64
	hasMaxItems        bool
	uniqueItems        bool

	props          map[string]*node
	propNames      []string // props' keys, sorted
	required       []string
	additional     bool
	minProps       uint64
	maxProps       uint64
	hasMaxProps    bool
	propertyOrder  []string
	anyOf          []*node
	src            *altarv1.ParameterSchema
	hasConstraints bool // any constraint at all beyond the type (for ANY)
}

// Compile checks a ParameterSchema and prepares it for validation.
//
// A schema that cannot be honoured is refused with an *altarerr.Error of
// code ERROR_CODE_INVALID_REQUEST listing every problem; each FieldError's
// Path is a JSON pointer into the schema using the proto field names
// ("/properties/a/minimum", "/items/pattern", "/enum/2", "/any_of/1/type")
// and its Rule names the check ("type", "range", "pattern", "enum",
// "default", "required", "property_ordering", "depth", "applicability").
//
// Compile keeps a reference to ps; the caller must not modify it afterwards.
func Compile(ps *altarv1.ParameterSchema, opts ...Option) (*Schema, error) {
	o := compileOptions{limits: DefaultLimits()}
	for _, opt := range opts {
		opt.apply(&o)
	}
	c := &compiler{limits: o.limits}
	root := c.compile(ps, "", 1)
	if len(c.errs) > 0 {
		err := altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, "invalid schema: %d problem(s)", len(c.errs))
		err.Fields = c.errs
		return nil, err
	}
	return &Schema{root: root, src: ps, limits: o.limits}, nil
}

// MustCompile is Compile for schemas known to be valid (tests, built-in
// contracts); it panics on error.
func MustCompile(ps *altarv1.ParameterSchema, opts ...Option) *Schema {
	s, err := Compile(ps, opts...)
	if err != nil {
		panic(err)
	}
	return s
}

// Proto returns the schema Compile was given. Callers must not modify it.
func (s *Schema) Proto() *altarv1.ParameterSchema { return s.src }

// Type returns the schema's top-level type.
func (s *Schema) Type() altarv1.AltarType { return s.root.typ }

// Sensitive reports whether the value at the JSON pointer path is marked
// sensitive (so its value must never be logged). An unknown path is not.
func (s *Schema) Sensitive(pointer string) bool {
	n := s.root
	if pointer == "" {
		return n.sensitive
	}
	for _, seg := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		seg = strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")
		switch {
		case n.props != nil && n.props[seg] != nil:
			n = n.props[seg]
		case n.items != nil:
			if _, err := strconv.Atoi(seg); err != nil {
				return false
			}
			n = n.items
		default:
			return false
		}
		if n.sensitive {
			return true
		}
	}
	return n.sensitive
}

type compiler struct {
	limits Limits
	errs   []*altarv1.FieldError
}

func (c *compiler) fail(path, rule, format string, args ...any) {
	c.errs = append(c.errs, &altarv1.FieldError{Path: path, Rule: rule, Message: fmt.Sprintf(format, args...)})
}

var typeNames = map[altarv1.AltarType]string{
	altarv1.AltarType_ALTAR_TYPE_STRING:  "string",
	altarv1.AltarType_ALTAR_TYPE_INTEGER: "integer",
	altarv1.AltarType_ALTAR_TYPE_NUMBER:  "number",
	altarv1.AltarType_ALTAR_TYPE_BOOLEAN: "boolean",
	altarv1.AltarType_ALTAR_TYPE_BYTES:   "bytes",
	altarv1.AltarType_ALTAR_TYPE_ARRAY:   "array",
	altarv1.AltarType_ALTAR_TYPE_OBJECT:  "object",
	altarv1.AltarType_ALTAR_TYPE_NULL:    "null",
	altarv1.AltarType_ALTAR_TYPE_ANY:     "any",
}

// TypeName is the manifest spelling of a type: "string", "integer", ...
func TypeName(t altarv1.AltarType) string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("unknown type %d", int32(t))
}

// ParseTypeName is the inverse of TypeName.
func ParseTypeName(name string) (altarv1.AltarType, bool) {
	for t, n := range typeNames {
		if n == name {
			return t, true
		}
	}
	return altarv1.AltarType_ALTAR_TYPE_UNSPECIFIED, false
}

func (c *compiler) compile(ps *altarv1.ParameterSchema, path string, depth int) *node {
	if ps == nil {
		c.fail(path, "type", "schema is missing")
		return &node{typ: altarv1.AltarType_ALTAR_TYPE_ANY}
	}
	if depth > c.limits.MaxDepth {
		c.fail(path, "depth", "schema nested deeper than %d levels", c.limits.MaxDepth)
		return &node{typ: altarv1.AltarType_ALTAR_TYPE_ANY}
	}
	n := &node{
		typ:        ps.GetType(),
		nullable:   ps.GetNullable(),
		sensitive:  ps.GetSensitive(),
		additional: ps.GetAdditionalProperties(),
		src:        ps,
	}
	if ps.AdditionalProperties == nil && (ps.GetType() == altarv1.AltarType_ALTAR_TYPE_ANY || ps.GetType() == altarv1.AltarType_ALTAR_TYPE_UNSPECIFIED) {
		// An "any" value may be any object; only object schemas are closed
		// by default.
		n.additional = true
	}
	switch {
	case n.typ == altarv1.AltarType_ALTAR_TYPE_UNSPECIFIED && len(ps.GetAnyOf()) > 0:
		n.typ = altarv1.AltarType_ALTAR_TYPE_ANY
	case n.typ == altarv1.AltarType_ALTAR_TYPE_UNSPECIFIED:
		c.fail(path+"/type", "type", "type is required (one of string, integer, number, boolean, bytes, array, object, null, any)")
		n.typ = altarv1.AltarType_ALTAR_TYPE_ANY
	case typeNames[n.typ] == "":
		c.fail(path+"/type", "type", "unknown type %d", int32(n.typ))
		n.typ = altarv1.AltarType_ALTAR_TYPE_ANY
	}
	typ := n.typ
	any := typ == altarv1.AltarType_ALTAR_TYPE_ANY
	applies := func(field string, ok bool, what string) bool {
		if ok || any {
			return true
		}
		c.fail(path+"/"+field, "applicability", "%s applies to %s, not to %s", field, what, TypeName(typ))
		return false
	}
	numeric := typ == altarv1.AltarType_ALTAR_TYPE_INTEGER || typ == altarv1.AltarType_ALTAR_TYPE_NUMBER
	stringy := typ == altarv1.AltarType_ALTAR_TYPE_STRING || typ == altarv1.AltarType_ALTAR_TYPE_BYTES
	isArray := typ == altarv1.AltarType_ALTAR_TYPE_ARRAY
	isObject := typ == altarv1.AltarType_ALTAR_TYPE_OBJECT

	// Numbers.
	c.compileBounds(ps, n, path, numeric, applies)

	// Strings and bytes.
	if ps.MinLength != nil && applies("min_length", stringy, "strings and bytes") {
		n.minLen = ps.GetMinLength()
	}
	if ps.MaxLength != nil && applies("max_length", stringy, "strings and bytes") {
		n.maxLen, n.hasMaxLen = ps.GetMaxLength(), true
	}
	if n.hasMaxLen && n.minLen > n.maxLen {
		c.fail(path+"/min_length", "range", "min_length %d is greater than max_length %d", n.minLen, n.maxLen)
	}
	if p := ps.GetPattern(); p != "" && applies("pattern", typ == altarv1.AltarType_ALTAR_TYPE_STRING, "strings") {
		re, err := regexp.Compile(p)
		if err != nil {
			c.fail(path+"/pattern", "pattern", "pattern %q does not compile as an RE2 regular expression: %v", p, unwrapRegexpErr(err))
		} else {
			n.pattern = re
		}
	}
	if f := ps.GetFormat(); f != "" {
		n.format = formatChecks[f]
	}

	// Arrays.
	if ps.GetItems() != nil {
		if applies("items", isArray, "arrays") {
			n.items = c.compile(ps.GetItems(), path+"/items", depth+1)
		}
	} else if isArray {
		n.items = &node{typ: altarv1.AltarType_ALTAR_TYPE_ANY}
	}
	if ps.MinItems != nil && applies("min_items", isArray, "arrays") {
		n.minItems = ps.GetMinItems()
	}
	if ps.MaxItems != nil && applies("max_items", isArray, "arrays") {
		n.maxItems, n.hasMaxItems = ps.GetMaxItems(), true
	}
	if n.hasMaxItems && n.minItems > n.maxItems {
		c.fail(path+"/min_items", "range", "min_items %d is greater than max_items %d", n.minItems, n.maxItems)
	}
	if ps.GetUniqueItems() && applies("unique_items", isArray, "arrays") {
		n.uniqueItems = true
	}

	// Objects.
	c.compileObject(ps, n, path, depth, isObject, applies)

	// Alternatives.
	for i, alt := range ps.GetAnyOf() {
		n.anyOf = append(n.anyOf, c.compile(alt, fmt.Sprintf("%s/any_of/%d", path, i), depth+1))
	}

	n.hasConstraints = n.hasLower || n.hasUpper || n.multipleOf != 0 || n.minLen > 0 || n.hasMaxLen ||
		n.pattern != nil || n.format != nil || n.items != nil || n.minItems > 0 || n.hasMaxItems ||
		n.uniqueItems || n.props != nil || len(n.required) > 0 || n.minProps > 0 || n.hasMaxProps || len(n.anyOf) > 0

	// Enum and default are checked against the compiled node, so they come last.
	if len(ps.GetEnum()) > 0 {
		n.enum = c.compileEnum(ps.GetEnum(), n, path)
	}
	if d := ps.GetDefault(); d != nil {
		if errs := checkAgainst(n, d, c.limits); len(errs) > 0 {
			for _, e := range errs {
				c.fail(path+"/default"+e.GetPath(), "default", "default value does not match its own schema: %s", e.GetMessage())
			}
		} else {
			n.def = d
		}
	}
	return n
}

func (c *compiler) compileBounds(ps *altarv1.ParameterSchema, n *node, path string, numeric bool, applies func(string, bool, string) bool) {
	const what = "numbers and integers"
	finite := func(field string, f float64) bool {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			c.fail(path+"/"+field, "range", "%s must be a finite number", field)
			return false
		}
		return true
	}
	if ps.Minimum != nil && applies("minimum", numeric, what) && finite("minimum", ps.GetMinimum()) {
		n.lower, n.hasLower = ps.GetMinimum(), true
	}
	if ps.ExclusiveMinimum != nil && applies("exclusive_minimum", numeric, what) && finite("exclusive_minimum", ps.GetExclusiveMinimum()) {
		if !n.hasLower || ps.GetExclusiveMinimum() >= n.lower {
			n.lower, n.hasLower, n.lowerExcl = ps.GetExclusiveMinimum(), true, true
		}
	}
	if ps.Maximum != nil && applies("maximum", numeric, what) && finite("maximum", ps.GetMaximum()) {
		n.upper, n.hasUpper = ps.GetMaximum(), true
	}
	if ps.ExclusiveMaximum != nil && applies("exclusive_maximum", numeric, what) && finite("exclusive_maximum", ps.GetExclusiveMaximum()) {
		if !n.hasUpper || ps.GetExclusiveMaximum() <= n.upper {
			n.upper, n.hasUpper, n.upperExcl = ps.GetExclusiveMaximum(), true, true
		}
	}
	if n.hasLower && n.hasUpper {
		empty := n.lower > n.upper || (n.lower == n.upper && (n.lowerExcl || n.upperExcl))
		if empty {
			lowName, upName := "minimum", "maximum"
			if n.lowerExcl {
				lowName = "exclusive_minimum"
			}
			if n.upperExcl {
				upName = "exclusive_maximum"
			}
			c.fail(path+"/"+lowName, "range", "%s %s and %s %s leave no allowed value",
				lowName, formatFloat(n.lower), upName, formatFloat(n.upper))
		}
	}
	if ps.MultipleOf != nil && applies("multiple_of", numeric, what) && finite("multiple_of", ps.GetMultipleOf()) {
		if ps.GetMultipleOf() <= 0 {
			c.fail(path+"/multiple_of", "range", "multiple_of must be greater than 0, not %s", formatFloat(ps.GetMultipleOf()))
		} else {
			n.multipleOf = ps.GetMultipleOf()
		}
	}
}

func (c *compiler) compileObject(ps *altarv1.ParameterSchema, n *node, path string, depth int, isObject bool, applies func(string, bool, string) bool) {
	if len(ps.GetProperties()) > 0 && applies("properties", isObject, "objects") {
		n.props = make(map[string]*node, len(ps.GetProperties()))
		for _, name := range sortedSchemaKeys(ps.GetProperties()) {
			sub := path + "/properties/" + escapePointer(name)
			if name == "" {
				c.fail(sub, "property_name", "property name is empty")
				continue
			}
			n.props[name] = c.compile(ps.GetProperties()[name], sub, depth+1)
			n.propNames = append(n.propNames, name)
		}
	}
	if ps.AdditionalProperties != nil {
		applies("additional_properties", isObject, "objects")
	}
	seen := make(map[string]bool, len(ps.GetRequired()))
	if len(ps.GetRequired()) > 0 && applies("required", isObject, "objects") {
		for i, name := range ps.GetRequired() {
			p := fmt.Sprintf("%s/required/%d", path, i)
			switch {
			case seen[name]:
				c.fail(p, "required", "%q is listed twice", name)
			case n.props[name] == nil && !n.additional:
				c.fail(p, "required", "required property %q is not among the properties", name)
			default:
				n.required = append(n.required, name)
			}
			seen[name] = true
		}
	}
	clear(seen)
	for i, name := range ps.GetPropertyOrdering() {
		p := fmt.Sprintf("%s/property_ordering/%d", path, i)
		switch {
		case seen[name]:
			c.fail(p, "property_ordering", "%q is listed twice", name)
		case n.props[name] == nil:
			c.fail(p, "property_ordering", "%q is not among the properties", name)
		default:
			n.propertyOrder = append(n.propertyOrder, name)
		}
		seen[name] = true
	}
	if ps.MinProperties != nil && applies("min_properties", isObject, "objects") {
		n.minProps = ps.GetMinProperties()
	}
	if ps.MaxProperties != nil && applies("max_properties", isObject, "objects") {
		n.maxProps, n.hasMaxProps = ps.GetMaxProperties(), true
	}
	if n.hasMaxProps && n.minProps > n.maxProps {
		c.fail(path+"/min_properties", "range", "min_properties %d is greater than max_properties %d", n.minProps, n.maxProps)
	}
}

func (c *compiler) compileEnum(values []*altarv1.Value, n *node, path string) enumSet {
	var set enumSet
	for i, v := range values {
		p := fmt.Sprintf("%s/enum/%d", path, i)
		if errs := checkAgainst(n, v, c.limits); len(errs) > 0 {
			c.fail(p, "enum", "enum value %s does not match the schema: %s", describe(v), errs[0].GetMessage())
			continue
		}
		if set.contains(v) {
			c.fail(p, "enum", "enum value %s is listed twice", describe(v))
			continue
		}
		set.add(v)
	}
	return set
}

// checkAgainst validates v against n at compile time: a default against the
// whole node, an enum member against the node without its enum (the enum is
// still being built).
func checkAgainst(n *node, v *altarv1.Value, lim Limits) []*altarv1.FieldError {
	vs := validator{limits: lim, maxErrors: 1}
	vs.check(n, v, 1)
	return vs.errs
}

func unwrapRegexpErr(err error) string {
	return strings.TrimPrefix(err.Error(), "error parsing regexp: ")
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func escapePointer(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func sortedSchemaKeys(m map[string]*altarv1.ParameterSchema) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// describe renders a value briefly for messages. Callers must not pass
// values of sensitive fields.
func describe(v *altarv1.Value) string {
	switch k := v.GetKind().(type) {
	case *altarv1.Value_StringValue:
		s := k.StringValue
		if len(s) > 40 {
			s = s[:40] + "…"
		}
		return strconv.Quote(s)
	case *altarv1.Value_IntValue:
		return strconv.FormatInt(k.IntValue, 10)
	case *altarv1.Value_DoubleValue:
		return formatFloat(k.DoubleValue)
	case *altarv1.Value_BoolValue:
		return strconv.FormatBool(k.BoolValue)
	case *altarv1.Value_NullValue:
		return "null"
	default:
		return "a " + Kind(v)
	}
}

// Equal reports whether two values are equal as JSON Schema compares them:
// numbers by value (1 equals 1.0), everything else by kind and contents.
// Use proto.Equal to also tell an integer from a double.
func Equal(a, b *altarv1.Value) bool { return valuesEqual(a, b) }
