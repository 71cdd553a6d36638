package sdk

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/altar-gateway/altar/gateway/contract"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// This file derives ParameterSchemas from Go types, and the field tables the
// argument decoder (decode.go) uses: both come from one walk over the type,
// so what the schema promises and what the decoder accepts cannot drift.
//
// Fields are named as schema.FromGo names them (so a result converts the way
// its schema says): the json tag's name or the Go name, "-" skips a field,
// omitempty/omitzero make a field optional. Embedded structs are not
// flattened by schema.FromGo, so an untagged embedded struct is refused here
// rather than silently changing shape.

var (
	valueType = reflect.TypeFor[*altarv1.Value]()
	bytesType = reflect.TypeFor[[]byte]()
)

// direction says which way a type is used: arguments are decoded into it,
// results are converted from it. Requiredness differs: an argument field is
// required unless it is optional in Go terms (omitempty, a pointer, a
// default); a result field is always present unless it has omitempty.
type direction uint8

const (
	dirIn direction = iota
	dirOut
)

// fieldInfo is one struct field as the schema and the decoder see it.
type fieldInfo struct {
	name     string
	index    []int
	typ      reflect.Type
	required bool
	// def is the default from the tag, decoded into the field when the
	// argument is absent (afresh each time, so calls share nothing); nil
	// when there is none.
	def *altarv1.Value
}

// structInfo is a struct type's fields in declaration order.
type structInfo struct {
	fields []fieldInfo
	byName map[string]int
}

// typeInfo is what one walk over a root type produced: its schema and the
// field tables of every struct type reachable from it.
type typeInfo struct {
	schema  *altarv1.ParameterSchema
	structs map[reflect.Type]*structInfo
}

// deriver walks a type. visiting holds the struct types on the current path,
// to refuse recursive types (a ParameterSchema has no references).
type deriver struct {
	dir      direction
	structs  map[reflect.Type]*structInfo
	visiting map[reflect.Type]bool
}

// derive returns the schema of t and its struct tables. A type with no
// schema (a channel, a function, a recursive struct) is an error naming the
// path to it.
func derive(t reflect.Type, dir direction) (*typeInfo, error) {
	d := &deriver{dir: dir, structs: map[reflect.Type]*structInfo{}, visiting: map[reflect.Type]bool{}}
	ps, err := d.walk(t, "", nil)
	if err != nil {
		return nil, err
	}
	return &typeInfo{schema: ps, structs: d.structs}, nil
}

// walk returns the schema of t at path (a JSON pointer, for errors). tag is
// the field's parsed altar tag, nil at the root and for items.
func (d *deriver) walk(t reflect.Type, path string, tag *fieldTag) (*altarv1.ParameterSchema, error) {
	ps, err := d.typeSchema(t, path)
	if err != nil {
		return nil, err
	}
	if tag != nil {
		if err := tag.applyTo(ps, t); err != nil {
			return nil, fmt.Errorf("%s: %w", pathOrRoot(path), err)
		}
	}
	return ps, nil
}

func (d *deriver) typeSchema(t reflect.Type, path string) (*altarv1.ParameterSchema, error) {
	if t == valueType {
		return &altarv1.ParameterSchema{Type: altarv1.AltarType_ALTAR_TYPE_ANY}, nil
	}
	if t == bytesType || (t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8) {
		return &altarv1.ParameterSchema{Type: altarv1.AltarType_ALTAR_TYPE_BYTES}, nil
	}
	switch t.Kind() {
	case reflect.String:
		return &altarv1.ParameterSchema{Type: altarv1.AltarType_ALTAR_TYPE_STRING}, nil
	case reflect.Bool:
		return &altarv1.ParameterSchema{Type: altarv1.AltarType_ALTAR_TYPE_BOOLEAN}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		ps := &altarv1.ParameterSchema{Type: altarv1.AltarType_ALTAR_TYPE_INTEGER}
		// Sized types carry their range, so the Host refuses what would not fit.
		if lo, hi, bounded := intRange(t); bounded {
			ps.Minimum, ps.Maximum = ptr(lo), ptr(hi)
		} else if isUnsigned(t.Kind()) {
			ps.Minimum = ptr(0.0)
		}
		return ps, nil
	case reflect.Float32, reflect.Float64:
		return &altarv1.ParameterSchema{Type: altarv1.AltarType_ALTAR_TYPE_NUMBER}, nil
	case reflect.Interface:
		if t.NumMethod() != 0 {
			return nil, fmt.Errorf("%s: interface type %s has no schema; use any or *altarv1.Value", pathOrRoot(path), t)
		}
		return &altarv1.ParameterSchema{Type: altarv1.AltarType_ALTAR_TYPE_ANY}, nil
	case reflect.Pointer:
		ps, err := d.typeSchema(t.Elem(), path)
		if err != nil {
			return nil, err
		}
		ps.Nullable = true
		return ps, nil
	case reflect.Slice, reflect.Array:
		items, err := d.walk(t.Elem(), path+"/items", nil)
		if err != nil {
			return nil, err
		}
		ps := &altarv1.ParameterSchema{Type: altarv1.AltarType_ALTAR_TYPE_ARRAY, Items: items}
		if t.Kind() == reflect.Array {
			n := uint64(t.Len())
			ps.MinItems, ps.MaxItems = &n, ptr(n)
		}
		return ps, nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("%s: map key type %s is not a string", pathOrRoot(path), t.Key())
		}
		// The value type is checked for convertibility; a ParameterSchema
		// cannot say what additional properties look like.
		if _, err := d.walk(t.Elem(), path+"/*", nil); err != nil {
			return nil, err
		}
		return &altarv1.ParameterSchema{Type: altarv1.AltarType_ALTAR_TYPE_OBJECT, AdditionalProperties: ptr(true)}, nil
	case reflect.Struct:
		return d.structSchema(t, path)
	default:
		return nil, fmt.Errorf("%s: Go type %s has no ALTAR schema", pathOrRoot(path), t)
	}
}

func (d *deriver) structSchema(t reflect.Type, path string) (*altarv1.ParameterSchema, error) {
	if d.visiting[t] {
		return nil, fmt.Errorf("%s: type %s is recursive; a ParameterSchema cannot express recursion", pathOrRoot(path), t)
	}
	d.visiting[t] = true
	defer delete(d.visiting, t)

	info := &structInfo{byName: map[string]int{}}
	ps := &altarv1.ParameterSchema{Type: altarv1.AltarType_ALTAR_TYPE_OBJECT, Properties: map[string]*altarv1.ParameterSchema{}}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && isStructType(f.Type) && (!f.IsExported() || !hasJSONName(f)) {
			// encoding/json would promote its fields; schema.FromGo does not.
			return nil, fmt.Errorf("%s: embedded field %s is not flattened; make it a named, exported field with a json tag", pathOrRoot(path), f.Name)
		}
		if !f.IsExported() {
			continue
		}
		name, omitEmpty, skip := jsonName(f)
		if skip {
			continue
		}
		fpath := path + "/" + name
		if err := contract.ValidatePropertyName(name); err != nil {
			return nil, fmt.Errorf("%s: field %s: %w", pathOrRoot(path), f.Name, err)
		}
		if _, dup := info.byName[name]; dup {
			return nil, fmt.Errorf("%s: two fields are named %q", pathOrRoot(path), name)
		}
		tag, err := parseFieldTag(f.Tag.Get("altar"))
		if err != nil {
			return nil, fmt.Errorf("%s: field %s: %w", fpath, f.Name, err)
		}
		fs, err := d.walk(f.Type, fpath, tag)
		if err != nil {
			return nil, err
		}
		fi := fieldInfo{name: name, index: f.Index, typ: f.Type}
		if tag.def != nil {
			// A default is decoded like an argument, so it is checked now.
			scratch := reflect.New(f.Type).Elem()
			if err := (&decoder{info: &typeInfo{structs: d.structs}}).decodeValue(scratch, tag.def, fpath); err != nil {
				return nil, fmt.Errorf("%s: default: %w", fpath, err)
			}
			fi.def = tag.def
			fs.Default = tag.def
		}
		switch d.dir {
		case dirIn:
			fi.required = !omitEmpty && fi.def == nil && !nilable(f.Type)
		case dirOut:
			fi.required = !omitEmpty
		}
		if tag.required != nil {
			fi.required = *tag.required
		}
		if fi.required {
			ps.Required = append(ps.Required, name)
		}
		ps.Properties[name] = fs
		ps.PropertyOrdering = append(ps.PropertyOrdering, name)
		info.byName[name] = len(info.fields)
		info.fields = append(info.fields, fi)
	}
	if len(ps.PropertyOrdering) < 2 {
		ps.PropertyOrdering = nil
	}
	d.structs[t] = info
	return ps, nil
}

// jsonName names a field as schema.FromGo does.
func jsonName(f reflect.StructField) (name string, omitEmpty, skip bool) {
	name = f.Name
	tag, ok := f.Tag.Lookup("json")
	if !ok {
		return name, false, false
	}
	if tag == "-" {
		return "", false, true
	}
	parts := strings.Split(tag, ",")
	if parts[0] != "" {
		name = parts[0]
	}
	for _, opt := range parts[1:] {
		if opt == "omitempty" || opt == "omitzero" {
			omitEmpty = true
		}
	}
	return name, omitEmpty, false
}

func hasJSONName(f reflect.StructField) bool {
	tag, _ := f.Tag.Lookup("json")
	name, _, _ := strings.Cut(tag, ",")
	return name != "" && name != "-"
}

func isStructType(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Struct
}

// nilable reports whether absent and null both decode to the type's zero
// value naturally: pointers, slices, maps, interfaces and raw Values.
func nilable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		return true
	}
	return false
}

func isUnsigned(k reflect.Kind) bool {
	switch k {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return true
	}
	return false
}

// intRange is the range of a sized integer type; bounded is false for the
// 64-bit (and platform-sized) types, whose range is the Value's own.
func intRange(t reflect.Type) (lo, hi float64, bounded bool) {
	switch t.Kind() {
	case reflect.Int8:
		return math.MinInt8, math.MaxInt8, true
	case reflect.Int16:
		return math.MinInt16, math.MaxInt16, true
	case reflect.Int32:
		return math.MinInt32, math.MaxInt32, true
	case reflect.Uint8:
		return 0, math.MaxUint8, true
	case reflect.Uint16:
		return 0, math.MaxUint16, true
	case reflect.Uint32:
		return 0, math.MaxUint32, true
	}
	return 0, 0, false
}

func pathOrRoot(path string) string {
	if path == "" {
		return "(root)"
	}
	return path
}

func ptr[T any](v T) *T { return &v }

// fieldTag is a parsed `altar:"..."` struct tag:
//
//	altar:"description='The first addend, a number.',min=0,max=15,default=2"
//
// Items are separated by commas; a value that contains a comma or a quote is
// written in single quotes, with two single quotes for a quote inside.
type fieldTag struct {
	title, description, pattern, format string
	typ                                 altarv1.AltarType
	minimum, maximum                    *float64
	exclusiveMin, exclusiveMax          *float64
	multipleOf                          *float64
	minLength, maxLength                *uint64
	minItems, maxItems                  *uint64
	uniqueItems, sensitive, nullable    bool
	required                            *bool
	enum                                []string
	rawDefault                          *string
	def                                 *altarv1.Value
}

// tagKeys documents every key the altar tag accepts.
var tagKeys = []string{
	"description", "title", "type", "min", "max", "exclusive_min", "exclusive_max", "multiple_of",
	"min_length", "max_length", "pattern", "format", "enum", "default", "min_items", "max_items",
	"unique_items", "sensitive", "nullable", "required", "optional",
}

func parseFieldTag(s string) (*fieldTag, error) {
	t := &fieldTag{}
	items, err := splitTag(s)
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		key, val, hasVal := it.key, it.val, it.hasVal
		needVal := func() error {
			if !hasVal {
				return fmt.Errorf("altar tag: %s needs a value (%s=...)", key, key)
			}
			return nil
		}
		noVal := func() error {
			if hasVal {
				return fmt.Errorf("altar tag: %s takes no value", key)
			}
			return nil
		}
		var err error
		switch key {
		case "description", "desc":
			err, t.description = needVal(), val
		case "title":
			err, t.title = needVal(), val
		case "pattern":
			err, t.pattern = needVal(), val
		case "format":
			err, t.format = needVal(), val
		case "type":
			if err = needVal(); err == nil {
				typ, ok := schema.ParseTypeName(val)
				if !ok {
					err = fmt.Errorf("altar tag: unknown type %q", val)
				}
				t.typ = typ
			}
		case "min":
			t.minimum, err = parseFloatTag(key, val, hasVal)
		case "max":
			t.maximum, err = parseFloatTag(key, val, hasVal)
		case "exclusive_min":
			t.exclusiveMin, err = parseFloatTag(key, val, hasVal)
		case "exclusive_max":
			t.exclusiveMax, err = parseFloatTag(key, val, hasVal)
		case "multiple_of":
			t.multipleOf, err = parseFloatTag(key, val, hasVal)
		case "min_length":
			t.minLength, err = parseUintTag(key, val, hasVal)
		case "max_length":
			t.maxLength, err = parseUintTag(key, val, hasVal)
		case "min_items":
			t.minItems, err = parseUintTag(key, val, hasVal)
		case "max_items":
			t.maxItems, err = parseUintTag(key, val, hasVal)
		case "unique_items":
			err, t.uniqueItems = noVal(), true
		case "sensitive":
			err, t.sensitive = noVal(), true
		case "nullable":
			err, t.nullable = noVal(), true
		case "required":
			err, t.required = noVal(), ptr(true)
		case "optional":
			err, t.required = noVal(), ptr(false)
		case "enum":
			if err = needVal(); err == nil {
				t.enum = strings.Split(val, "|")
			}
		case "default":
			if err = needVal(); err == nil {
				t.rawDefault = &val
			}
		default:
			err = fmt.Errorf("altar tag: unknown key %q (known: %s)", key, strings.Join(tagKeys, ", "))
		}
		if err != nil {
			return nil, err
		}
	}
	return t, nil
}

type tagItem struct {
	key, val string
	hasVal   bool
}

// splitTag splits "a=1,b='x, y',c" into items, honouring single quotes.
func splitTag(s string) ([]tagItem, error) {
	var items []tagItem
	for s != "" {
		var it tagItem
		end := strings.IndexAny(s, ",=")
		if end < 0 {
			it.key, s = strings.TrimSpace(s), ""
		} else {
			it.key = strings.TrimSpace(s[:end])
			sep := s[end]
			s = s[end+1:]
			if sep == '=' {
				it.hasVal = true
				var err error
				it.val, s, err = tagValue(s)
				if err != nil {
					return nil, fmt.Errorf("altar tag: %s: %w", it.key, err)
				}
			}
		}
		if it.key == "" {
			return nil, fmt.Errorf("altar tag: empty item")
		}
		items = append(items, it)
	}
	return items, nil
}

// tagValue reads one value up to the next top-level comma and returns the
// rest after it.
func tagValue(s string) (val, rest string, err error) {
	if !strings.HasPrefix(s, "'") {
		v, r, found := strings.Cut(s, ",")
		if found && r == "" {
			return "", "", fmt.Errorf("trailing comma")
		}
		return strings.TrimSpace(v), r, nil
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] != '\'' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '\'' {
			b.WriteByte('\'')
			i++
			continue
		}
		rest = strings.TrimLeft(s[i+1:], " ")
		switch {
		case rest == "":
			return b.String(), "", nil
		case rest[0] == ',':
			if rest[1:] == "" {
				return "", "", fmt.Errorf("trailing comma")
			}
			return b.String(), rest[1:], nil
		default:
			return "", "", fmt.Errorf("text after the closing quote")
		}
	}
	return "", "", fmt.Errorf("unterminated quote")
}

func parseFloatTag(key, val string, hasVal bool) (*float64, error) {
	if !hasVal {
		return nil, fmt.Errorf("altar tag: %s needs a value", key)
	}
	f, err := strconv.ParseFloat(val, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("altar tag: %s=%q is not a number", key, val)
	}
	return &f, nil
}

func parseUintTag(key, val string, hasVal bool) (*uint64, error) {
	if !hasVal {
		return nil, fmt.Errorf("altar tag: %s needs a value", key)
	}
	u, err := strconv.ParseUint(val, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("altar tag: %s=%q is not a non-negative integer", key, val)
	}
	return &u, nil
}

// applyTo writes the tag into the schema of a field of Go type t, checking
// that each key makes sense for it.
func (tag *fieldTag) applyTo(ps *altarv1.ParameterSchema, t reflect.Type) error {
	if tag.typ != altarv1.AltarType_ALTAR_TYPE_UNSPECIFIED {
		if ps.Type != altarv1.AltarType_ALTAR_TYPE_ANY {
			return fmt.Errorf("type=%s is only for fields of type any or *altarv1.Value; the Go type %s decides the type", schema.TypeName(tag.typ), t)
		}
		ps.Type = tag.typ
	}
	ps.Title, ps.Description = tag.title, tag.description
	ps.Sensitive = tag.sensitive
	ps.Nullable = ps.Nullable || tag.nullable
	kind := ps.Type
	numeric := kind == altarv1.AltarType_ALTAR_TYPE_INTEGER || kind == altarv1.AltarType_ALTAR_TYPE_NUMBER || kind == altarv1.AltarType_ALTAR_TYPE_ANY
	stringy := kind == altarv1.AltarType_ALTAR_TYPE_STRING || kind == altarv1.AltarType_ALTAR_TYPE_BYTES || kind == altarv1.AltarType_ALTAR_TYPE_ANY
	array := kind == altarv1.AltarType_ALTAR_TYPE_ARRAY || kind == altarv1.AltarType_ALTAR_TYPE_ANY
	check := func(set bool, ok bool, key string) error {
		if set && !ok {
			return fmt.Errorf("altar tag: %s does not apply to %s (Go type %s)", key, schema.TypeName(kind), t)
		}
		return nil
	}
	for _, c := range []error{
		check(tag.minimum != nil || tag.maximum != nil, numeric, "min/max"),
		check(tag.exclusiveMin != nil || tag.exclusiveMax != nil, numeric, "exclusive_min/exclusive_max"),
		check(tag.multipleOf != nil, numeric, "multiple_of"),
		check(tag.minLength != nil || tag.maxLength != nil, stringy, "min_length/max_length"),
		check(tag.pattern != "" || tag.format != "", stringy && kind != altarv1.AltarType_ALTAR_TYPE_BYTES, "pattern/format"),
		check(tag.minItems != nil || tag.maxItems != nil || tag.uniqueItems, array, "min_items/max_items/unique_items"),
	} {
		if c != nil {
			return c
		}
	}
	if tag.minimum != nil {
		ps.Minimum = tag.minimum
	}
	if tag.maximum != nil {
		ps.Maximum = tag.maximum
	}
	ps.ExclusiveMinimum, ps.ExclusiveMaximum, ps.MultipleOf = tag.exclusiveMin, tag.exclusiveMax, tag.multipleOf
	ps.MinLength, ps.MaxLength = tag.minLength, tag.maxLength
	ps.Pattern, ps.Format = tag.pattern, tag.format
	if tag.minItems != nil {
		ps.MinItems = tag.minItems
	}
	if tag.maxItems != nil {
		ps.MaxItems = tag.maxItems
	}
	ps.UniqueItems = tag.uniqueItems
	for _, member := range tag.enum {
		v, err := scalarFromTag(kind, member)
		if err != nil {
			return fmt.Errorf("altar tag: enum member %q: %w", member, err)
		}
		ps.Enum = append(ps.Enum, v)
	}
	if tag.rawDefault != nil {
		v, err := scalarFromTag(kind, *tag.rawDefault)
		if err != nil {
			return fmt.Errorf("altar tag: default %q: %w", *tag.rawDefault, err)
		}
		tag.def = v
	}
	return nil
}

// scalarFromTag parses a tag's enum member or default as a Value of the
// schema's type. Only scalar types can have them in a tag.
func scalarFromTag(kind altarv1.AltarType, s string) (*altarv1.Value, error) {
	switch kind {
	case altarv1.AltarType_ALTAR_TYPE_STRING:
		return schema.String(s), nil
	case altarv1.AltarType_ALTAR_TYPE_INTEGER:
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("not an integer")
		}
		return schema.Int(i), nil
	case altarv1.AltarType_ALTAR_TYPE_NUMBER:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("not a number")
		}
		return schema.Double(f), nil
	case altarv1.AltarType_ALTAR_TYPE_BOOLEAN:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("not a boolean")
		}
		return schema.Bool(b), nil
	default:
		return nil, fmt.Errorf("a tag can only give enum members and defaults for strings, integers, numbers and booleans, not %s", schema.TypeName(kind))
	}
}
