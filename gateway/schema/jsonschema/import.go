package jsonschema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Import converts a JSON Schema document (2020-12, draft-07, draft-04's
// boolean exclusive bounds, OpenAPI 3.x's nullable) to a ParameterSchema.
// See the package documentation for the mapping.
//
// Keywords that cannot be represented are reported as Warnings and the
// schema still imports. A document that cannot be honoured at all is an
// *altarerr.Error with code ERROR_CODE_INVALID_REQUEST whose FieldErrors name
// each problem: Path is a JSON pointer into doc, Rule the keyword (or
// "depth", "nodes", "bytes" for a breached limit).
func Import(doc []byte, opts ...ImportOption) (*altarv1.ParameterSchema, []Warning, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return nil, nil, altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, err, "JSON Schema is not valid JSON")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST,
			"JSON Schema is not valid JSON: data after the top-level value at offset %d", dec.InputOffset())
	}
	return importRoot(root, opts)
}

// ImportMap is Import for a document already decoded into Go: as
// encoding/json decodes it (with or without UseNumber), or built by hand
// (numbers of any Go integer or float kind, []string where JSON has an array
// of strings). Without UseNumber every number is a float64, so an integer
// enum member of a schema that is not of type integer comes back a double.
// m is not modified.
func ImportMap(m map[string]any, opts ...ImportOption) (*altarv1.ParameterSchema, []Warning, error) {
	if m == nil {
		m = map[string]any{}
	}
	return importRoot(m, opts)
}

func importRoot(root any, opts []ImportOption) (*altarv1.ParameterSchema, []Warning, error) {
	cfg := importConfig{limits: Limits{}.orDefault()}
	for _, o := range opts {
		o.applyImport(&cfg)
	}
	im := &importer{
		root:      root,
		lim:       cfg.limits,
		ancestors: map[string]int{},
		chain:     map[string]bool{},
	}
	node := root
	if cfg.pointer != "" {
		var err error
		if node, err = resolvePointer(root, cfg.pointer); err != nil {
			return nil, nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, "JSON Schema pointer %q: %v", cfg.pointer, err)
		}
	}
	ps := im.schema(node, cfg.pointer, 1)
	if len(im.errs) > 0 {
		err := altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, "JSON Schema cannot be imported: %d problem(s)", len(im.errs)+im.dropped)
		err.Fields = im.errs
		if im.dropped > 0 {
			err.WithDetail("unreported_errors", strconv.Itoa(im.dropped))
		}
		return nil, nil, err
	}
	return ps, im.warns, nil
}

// maxErrors is the most FieldErrors one Import reports.
const maxErrors = 100

type importer struct {
	root    any
	lim     Limits
	nodes   int
	bytes   int
	warns   []Warning
	errs    []*altarv1.FieldError
	dropped int
	// fatal is set when a limit is breached: everything after it stops.
	fatal bool
	// ancestors counts the $ref targets (JSON pointers) expanded by the
	// schemas enclosing the one being imported; chain holds those on the
	// $ref chain being resolved right now. Meeting either again is a cycle.
	ancestors map[string]int
	chain     map[string]bool
	seen      map[string]bool // reports made, by path, keyword and message
}

func (im *importer) fail(path, rule, msg string) {
	if im.once(path, rule, msg) {
		return
	}
	if len(im.errs) >= maxErrors {
		im.dropped++
		return
	}
	im.errs = append(im.errs, &altarv1.FieldError{Path: path, Rule: rule, Message: msg})
}

func (im *importer) failLimit(path, rule, msg string) {
	if !im.fatal {
		im.fail(path, rule, msg)
	}
	im.fatal = true
}

func (im *importer) warn(path, keyword, msg string) {
	if !im.once(path, keyword, msg) {
		im.warns = append(im.warns, Warning{Path: path, Keyword: keyword, Message: msg})
	}
}

// once reports whether the same report was made before: a definition used
// in several places is reported once.
func (im *importer) once(path, keyword, msg string) bool {
	key := path + "\x00" + keyword + "\x00" + msg
	if im.seen[key] {
		return true
	}
	if im.seen == nil {
		im.seen = map[string]bool{}
	}
	im.seen[key] = true
	return false
}

// spend charges nodes and bytes to the budgets and reports whether they
// still hold.
func (im *importer) spend(path string, nodes, bytes int) bool {
	if im.fatal {
		return false
	}
	im.nodes += nodes
	im.bytes += bytes
	switch {
	case im.nodes > im.lim.MaxNodes:
		im.failLimit(path, "nodes", fmt.Sprintf("schema has more than %d nodes (counting each $ref and allOf member resolved)", im.lim.MaxNodes))
	case im.bytes > im.lim.MaxBytes:
		im.failLimit(path, "bytes", fmt.Sprintf("schema expands to more than %d bytes", im.lim.MaxBytes))
	}
	return !im.fatal
}

var (
	anyType  = altarv1.AltarType_ALTAR_TYPE_ANY
	nullType = altarv1.AltarType_ALTAR_TYPE_NULL
)

// schema imports the schema node at path (depth 1 is the root).
func (im *importer) schema(node any, path string, depth int) *altarv1.ParameterSchema {
	placeholder := &altarv1.ParameterSchema{Type: anyType}
	if im.fatal {
		return placeholder
	}
	if depth > im.lim.MaxDepth {
		im.failLimit(path, "depth", fmt.Sprintf("schema nested deeper than %d levels", im.lim.MaxDepth))
		return placeholder
	}
	if !im.spend(path, 1, 16) {
		return placeholder
	}
	switch n := node.(type) {
	case bool:
		if !n {
			im.fail(path, "false", "the schema false accepts nothing, which ALTAR cannot represent")
		}
		return placeholder
	case map[string]any:
		m, mpath, touched := im.flatten(n, path, 0)
		// The schema's own location counts too: a $ref back to it from
		// inside is a cycle.
		touched = append(touched, path)
		for _, r := range touched {
			im.ancestors[r]++
		}
		ps := im.build(m, mpath, depth)
		for _, r := range touched {
			if im.ancestors[r]--; im.ancestors[r] == 0 {
				delete(im.ancestors, r)
			}
		}
		return ps
	default:
		im.fail(path, "type", fmt.Sprintf("a schema must be an object or a boolean, not %s", jsonKind(node)))
		return placeholder
	}
}

// Keywords read without effect on the schema: identifiers, comments,
// definitions (reached through $ref), examples and annotations with no
// ALTAR counterpart that change nothing a value must satisfy.
var ignoredKeywords = map[string]bool{
	"$schema": true, "$id": true, "$comment": true, "$anchor": true, "$dynamicAnchor": true,
	"$vocabulary": true, "$defs": true, "definitions": true, "examples": true, "example": true,
	"readOnly": true, "deprecated": true, "contentMediaType": true, "xml": true, "externalDocs": true,
}

// Keywords ALTAR cannot express; dropping them accepts more than the source.
var unsupportedKeywords = map[string]bool{
	"not": true, "if": true, "then": true, "else": true, "dependentRequired": true,
	"dependentSchemas": true, "dependencies": true, "patternProperties": true, "propertyNames": true,
	"contains": true, "minContains": true, "maxContains": true, "unevaluatedProperties": true,
	"unevaluatedItems": true, "additionalItems": true, "$dynamicRef": true, "$recursiveRef": true,
	"$recursiveAnchor": true, "contentSchema": true, "discriminator": true,
}

// typeByName maps JSON Schema type names to ALTAR types.
var typeByName = map[string]altarv1.AltarType{
	"string":  altarv1.AltarType_ALTAR_TYPE_STRING,
	"integer": altarv1.AltarType_ALTAR_TYPE_INTEGER,
	"number":  altarv1.AltarType_ALTAR_TYPE_NUMBER,
	"boolean": altarv1.AltarType_ALTAR_TYPE_BOOLEAN,
	"array":   altarv1.AltarType_ALTAR_TYPE_ARRAY,
	"object":  altarv1.AltarType_ALTAR_TYPE_OBJECT,
	"null":    altarv1.AltarType_ALTAR_TYPE_NULL,
}

// build turns a flattened schema object (no $ref, no allOf, const folded into
// enum) into a ParameterSchema.
func (im *importer) build(m map[string]any, path string, depth int) *altarv1.ParameterSchema {
	ps := &altarv1.ParameterSchema{}
	kp := func(k string) string { return path + "/" + escapePointer(k) }

	// The type, with "null" and OpenAPI's nullable folded into nullable.
	names, hasType := im.typeNames(m, kp("type"))
	nullable := slices.Contains(names, "null")
	if v, ok := m["nullable"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			im.fail(kp("nullable"), "nullable", "nullable must be a boolean")
		}
		nullable = nullable || (b && hasType)
	}
	var branches []altarv1.AltarType
	nonNull := slices.DeleteFunc(slices.Clone(names), func(s string) bool { return s == "null" })
	switch {
	case !hasType:
		ps.Type = anyType
	case len(nonNull) == 0:
		ps.Type, nullable = nullType, false
	case len(nonNull) == 1:
		ps.Type = typeByName[nonNull[0]]
	default:
		ps.Type = anyType
		for _, n := range nonNull {
			branches = append(branches, typeByName[n])
		}
	}
	if v, ok := m["contentEncoding"]; ok {
		enc := im.str(v, kp("contentEncoding"), "contentEncoding")
		switch {
		case !strings.EqualFold(enc, "base64"):
			im.warn(kp("contentEncoding"), "contentEncoding", fmt.Sprintf("encoding %q is not supported; the value is an ordinary string", enc))
		case ps.Type == altarv1.AltarType_ALTAR_TYPE_STRING:
			ps.Type = altarv1.AltarType_ALTAR_TYPE_BYTES
		default:
			im.warn(kp("contentEncoding"), "contentEncoding", "base64 applies to a schema of type string only; ignored")
		}
	}
	if f, ok := m["format"].(string); ok && f == "byte" && ps.Type == altarv1.AltarType_ALTAR_TYPE_STRING {
		ps.Type = altarv1.AltarType_ALTAR_TYPE_BYTES // OpenAPI's base64 string
	}

	t := ps.Type
	isAny := t == anyType
	numeric := t == altarv1.AltarType_ALTAR_TYPE_INTEGER || t == altarv1.AltarType_ALTAR_TYPE_NUMBER
	stringy := t == altarv1.AltarType_ALTAR_TYPE_STRING || t == altarv1.AltarType_ALTAR_TYPE_BYTES
	isBytes := t == altarv1.AltarType_ALTAR_TYPE_BYTES
	isArray := t == altarv1.AltarType_ALTAR_TYPE_ARRAY
	isObject := t == altarv1.AltarType_ALTAR_TYPE_OBJECT
	applies := func(k string, ok bool) bool {
		if ok || isAny {
			return true
		}
		im.warn(kp(k), k, fmt.Sprintf("does not apply to a schema of type %s; ignored", typeName(t)))
		return false
	}

	for _, k := range sortedKeys(m) {
		if im.fatal {
			return ps
		}
		v := m[k]
		switch k {
		case "type", "nullable", "contentEncoding", "enum", "default", "anyOf", "oneOf", "writeOnly", "x-altar-sensitive":
			// Handled before or after the loop.
		case "title":
			ps.Title = im.str(v, kp(k), k)
		case "description":
			ps.Description = im.str(v, kp(k), k)
		case "minimum":
			if applies(k, numeric) {
				ps.Minimum = im.num(v, kp(k), k)
			}
		case "maximum":
			if applies(k, numeric) {
				ps.Maximum = im.num(v, kp(k), k)
			}
		case "exclusiveMinimum":
			if applies(k, numeric) {
				ps.ExclusiveMinimum = im.num(v, kp(k), k)
			}
		case "exclusiveMaximum":
			if applies(k, numeric) {
				ps.ExclusiveMaximum = im.num(v, kp(k), k)
			}
		case "multipleOf":
			if applies(k, numeric) {
				if ps.MultipleOf = im.num(v, kp(k), k); ps.MultipleOf != nil && *ps.MultipleOf <= 0 {
					im.fail(kp(k), k, "multipleOf must be greater than 0")
				}
			}
		case "minLength":
			if applies(k, stringy) {
				if n := im.uint(v, kp(k), k); n != nil && isBytes {
					if _, exact := m["x-altar-min-bytes"]; !exact {
						ps.MinLength = ptr(minBytesForChars(*n))
					}
				} else {
					ps.MinLength = n
				}
			}
		case "maxLength":
			if applies(k, stringy) {
				if n := im.uint(v, kp(k), k); n != nil && isBytes {
					if _, exact := m["x-altar-max-bytes"]; !exact {
						ps.MaxLength = ptr(maxBytesForChars(*n))
					}
				} else {
					ps.MaxLength = n
				}
			}
		case "x-altar-min-bytes":
			if isBytes {
				ps.MinLength = im.uint(v, kp(k), k)
			} else {
				im.warn(kp(k), k, "applies to base64 strings only; ignored")
			}
		case "x-altar-max-bytes":
			if isBytes {
				ps.MaxLength = im.uint(v, kp(k), k)
			} else {
				im.warn(kp(k), k, "applies to base64 strings only; ignored")
			}
		case "pattern":
			if applies(k, t == altarv1.AltarType_ALTAR_TYPE_STRING) {
				p := im.str(v, kp(k), k)
				if _, err := regexp.Compile(p); err != nil {
					im.warn(kp(k), k, fmt.Sprintf("pattern %q is not an RE2 regular expression (%s); ignored, so any string is accepted",
						shorten(p), strings.TrimPrefix(err.Error(), "error parsing regexp: ")))
				} else {
					ps.Pattern = p
				}
			}
		case "format":
			if f := im.str(v, kp(k), k); !(isBytes && f == "byte") {
				ps.Format = f
			}
		case "items":
			if applies(k, isArray) {
				switch {
				case isArrayValue(v):
					im.warn(kp(k), k, "the tuple form (an array of schemas) is not supported; items accept any value")
				case m["prefixItems"] != nil:
					im.warn(kp(k), k, "next to prefixItems, items constrains only the items after the prefix; ignored")
				default:
					ps.Items = im.schema(v, kp(k), depth+1)
				}
			}
		case "prefixItems":
			im.warn(kp(k), k, "tuple schemas are not supported; items accept any value")
		case "minItems":
			if applies(k, isArray) {
				ps.MinItems = im.uint(v, kp(k), k)
			}
		case "maxItems":
			if applies(k, isArray) {
				ps.MaxItems = im.uint(v, kp(k), k)
			}
		case "uniqueItems":
			if applies(k, isArray) {
				ps.UniqueItems = im.bool(v, kp(k), k)
			}
		case "properties":
			if applies(k, isObject) {
				im.properties(ps, v, kp(k), depth)
			}
		case "required":
			if applies(k, isObject) {
				ps.Required = im.strings(v, kp(k), k, true)
			}
		case "propertyOrdering":
			if applies(k, isObject) {
				ps.PropertyOrdering = im.strings(v, kp(k), k, false)
			}
		case "additionalProperties":
			if applies(k, isObject) {
				switch x := v.(type) {
				case bool:
					if x || !isObject {
						ps.AdditionalProperties = proto.Bool(x)
					} // false on an object is ALTAR's default: unset.
				case map[string]any:
					im.warn(kp(k), k, "a schema for additional properties is not supported; any additional property is accepted")
					ps.AdditionalProperties = proto.Bool(true)
				default:
					im.fail(kp(k), k, "additionalProperties must be a boolean or a schema")
				}
			}
		case "minProperties":
			if applies(k, isObject) {
				ps.MinProperties = im.uint(v, kp(k), k)
			}
		case "maxProperties":
			if applies(k, isObject) {
				ps.MaxProperties = im.uint(v, kp(k), k)
			}
		default:
			switch {
			case ignoredKeywords[k]:
			case unsupportedKeywords[k]:
				im.warn(kp(k), k, "not supported by ALTAR schemas; ignored, so validation accepts more than the source")
			default:
				im.warn(kp(k), k, "unknown keyword ignored")
			}
		}
	}
	if _, ok := m["additionalProperties"]; !ok && isObject {
		// JSON Schema objects are open unless they say otherwise.
		ps.AdditionalProperties = proto.Bool(true)
	}

	// Sensitivity: x-altar-sensitive when present, else writeOnly.
	if v, ok := m["x-altar-sensitive"]; ok {
		ps.Sensitive = im.bool(v, kp("x-altar-sensitive"), "x-altar-sensitive")
	} else if v, ok := m["writeOnly"]; ok {
		ps.Sensitive = im.bool(v, kp("writeOnly"), "writeOnly")
	}

	// Alternatives: anyOf, oneOf, or the types of a type list.
	im.alternatives(ps, m, path, depth, branches)
	if len(ps.AnyOf) > 0 && (nullable || !hasType) {
		// {"anyOf": [X, {"type": "null"}]} is X or null: ALTAR's nullable.
		kept := slices.DeleteFunc(slices.Clone(ps.AnyOf), isBareNull)
		if removed := len(ps.AnyOf) - len(kept); removed > 0 && len(kept) > 0 {
			ps.AnyOf, nullable = kept, true
			im.nodes -= removed
		}
	}
	if t == anyType && len(ps.AnyOf) == 0 {
		nullable = false // any value already includes null
	}

	// Enum and default, last: they are coerced toward the finished schema.
	if v, ok := m["enum"]; ok {
		nullable = im.enum(ps, v, path, nullable)
	}
	ps.Nullable = nullable
	if v, ok := m["default"]; ok {
		if d := im.value(v, kp("default"), 1); d != nil {
			c, err := coerce(d, ps)
			if err != nil {
				im.fail(kp("default"), "default", err.Error())
			}
			ps.Default = c
		}
	}
	return ps
}

// typeNames reads "type": a name or a list of names, deduplicated.
func (im *importer) typeNames(m map[string]any, path string) ([]string, bool) {
	v, ok := m["type"]
	if !ok {
		return nil, false
	}
	var raw []any
	switch x := v.(type) {
	case string:
		raw = []any{x}
	case []any:
		raw = x
	case []string:
		for _, s := range x {
			raw = append(raw, s)
		}
	default:
		im.fail(path, "type", "type must be a string or an array of strings")
		return nil, false
	}
	if len(raw) == 0 {
		im.fail(path, "type", "type must not be an empty array")
		return nil, false
	}
	var names []string
	for i, r := range raw {
		s, isString := r.(string)
		if _, known := typeByName[s]; !isString || !known {
			p := path
			if _, isList := v.(string); !isList {
				p += "/" + strconv.Itoa(i)
			}
			im.fail(p, "type", fmt.Sprintf("unknown type %v (want string, integer, number, boolean, array, object or null)", r))
			continue
		}
		if !slices.Contains(names, s) {
			names = append(names, s)
		}
	}
	if len(names) == 0 {
		return nil, false
	}
	return names, true
}

func (im *importer) alternatives(ps *altarv1.ParameterSchema, m map[string]any, path string, depth int, branches []altarv1.AltarType) {
	anyOf, hasAny := m["anyOf"]
	oneOf, hasOne := m["oneOf"]
	if hasAny && hasOne {
		im.fail(path+"/oneOf", "oneOf", "anyOf and oneOf in one schema cannot be represented (ALTAR has one list of alternatives)")
		return
	}
	if len(branches) > 0 {
		if hasAny || hasOne {
			im.fail(path+"/type", "type", "a list of several types cannot be combined with anyOf or oneOf")
			return
		}
		if depth+1 > im.lim.MaxDepth {
			im.failLimit(path+"/type", "depth", fmt.Sprintf("schema nested deeper than %d levels", im.lim.MaxDepth))
			return
		}
		for _, t := range branches {
			if !im.spend(path, 1, 16) {
				return
			}
			b := &altarv1.ParameterSchema{Type: t}
			if t == altarv1.AltarType_ALTAR_TYPE_OBJECT {
				b.AdditionalProperties = proto.Bool(true)
			}
			ps.AnyOf = append(ps.AnyOf, b)
		}
		return
	}
	k, list := "anyOf", anyOf
	if hasOne {
		k, list = "oneOf", oneOf
		im.warn(path+"/oneOf", "oneOf", "treated as anyOf: that exactly one alternative matches is not enforced")
	} else if !hasAny {
		return
	}
	arr, ok := asArray(list)
	if !ok || len(arr) == 0 {
		im.fail(path+"/"+k, k, k+" must be a non-empty array of schemas")
		return
	}
	for i, b := range arr {
		ps.AnyOf = append(ps.AnyOf, im.schema(b, path+"/"+k+"/"+strconv.Itoa(i), depth+1))
	}
}

// enum reads the enum (or const) and returns nullable as it stands after it:
// with nullable, null is dropped from the members (ALTAR's nullable admits it
// already), and an enum without null makes the schema non-nullable, as in
// JSON Schema, where the enum rejects null.
func (im *importer) enum(ps *altarv1.ParameterSchema, v any, path string, nullable bool) bool {
	base, kw := path+"/enum", "enum"
	if c, isConst := v.(constValue); isConst {
		base, kw = path+"/const", "const"
		v = []any{c.v}
	}
	arr, ok := asArray(v)
	if !ok {
		im.fail(base, kw, "enum must be an array")
		return nullable
	}
	if len(arr) == 0 {
		im.fail(base, kw, "an empty enum accepts nothing, which ALTAR cannot represent")
		return nullable
	}
	var hasNull, hasOther bool
	for i, x := range arr {
		p := base
		if kw == "enum" {
			p += "/" + strconv.Itoa(i)
		}
		val := im.value(x, p, 1)
		if val == nil {
			continue
		}
		c, err := coerce(val, ps)
		if err != nil {
			im.fail(p, kw, err.Error())
			continue
		}
		if slices.ContainsFunc(ps.Enum, func(e *altarv1.Value) bool { return schema.Equal(e, c) }) {
			continue
		}
		if _, isNull := c.GetKind().(*altarv1.Value_NullValue); isNull {
			hasNull = true
		} else {
			hasOther = true
		}
		ps.Enum = append(ps.Enum, c)
	}
	if !nullable {
		return false
	}
	switch {
	case !hasNull:
		im.warn(base, kw, "null is not among the allowed values, so null is not accepted despite the type")
		return false
	case hasOther:
		ps.Enum = slices.DeleteFunc(ps.Enum, func(e *altarv1.Value) bool {
			_, isNull := e.GetKind().(*altarv1.Value_NullValue)
			return isNull
		})
	}
	return true
}

func (im *importer) properties(ps *altarv1.ParameterSchema, v any, path string, depth int) {
	pm, ok := v.(map[string]any)
	if !ok {
		im.fail(path, "properties", "properties must be an object")
		return
	}
	ps.Properties = make(map[string]*altarv1.ParameterSchema, len(pm))
	for _, name := range sortedKeys(pm) {
		if !im.spend(path, 0, len(name)) {
			return
		}
		ps.Properties[name] = im.schema(pm[name], path+"/"+escapePointer(name), depth+1)
	}
}

func (im *importer) str(v any, path, k string) string {
	s, ok := v.(string)
	if !ok {
		im.fail(path, k, k+" must be a string")
		return ""
	}
	im.spend(path, 0, len(s))
	return s
}

func (im *importer) bool(v any, path, k string) bool {
	b, ok := v.(bool)
	if !ok {
		im.fail(path, k, k+" must be a boolean")
	}
	return b
}

func (im *importer) strings(v any, path, k string, dedupe bool) []string {
	arr, ok := asArray(v)
	if !ok {
		im.fail(path, k, k+" must be an array of strings")
		return nil
	}
	var out []string
	for i, x := range arr {
		s, ok := x.(string)
		if !ok {
			im.fail(path+"/"+strconv.Itoa(i), k, k+" must be an array of strings")
			continue
		}
		if dedupe && slices.Contains(out, s) {
			continue
		}
		if !im.spend(path, 0, len(s)) {
			return nil
		}
		out = append(out, s)
	}
	return out
}

func (im *importer) num(v any, path, k string) *float64 {
	f, err := toFloat(v)
	if err != nil {
		im.fail(path, k, fmt.Sprintf("%s %v", k, err))
		return nil
	}
	return &f
}

func (im *importer) uint(v any, path, k string) *uint64 {
	switch x := v.(type) {
	case uint64:
		return &x
	case uint:
		return ptr(uint64(x))
	case int64:
		if x >= 0 {
			return ptr(uint64(x))
		}
	case int:
		if x >= 0 {
			return ptr(uint64(x))
		}
	}
	f, err := toFloat(v)
	if err != nil {
		im.fail(path, k, fmt.Sprintf("%s %v", k, err))
		return nil
	}
	if n, ok := v.(json.Number); ok && !strings.ContainsAny(string(n), ".eE") {
		u, err := strconv.ParseUint(string(n), 10, 64)
		if err == nil {
			return &u
		}
	}
	if f < 0 || f != math.Trunc(f) || f >= 1<<64 {
		im.fail(path, k, fmt.Sprintf("%s must be a non-negative integer below 2^64", k))
		return nil
	}
	u := uint64(f)
	return &u
}

// toFloat reads a JSON number of any Go representation.
func toFloat(v any) (float64, error) {
	var f float64
	switch x := v.(type) {
	case json.Number:
		var err error
		if f, err = strconv.ParseFloat(string(x), 64); err != nil {
			return 0, fmt.Errorf("%s is out of range", x)
		}
	case float64:
		f = x
	case float32:
		f = float64(x)
	case int:
		f = float64(x)
	case int8:
		f = float64(x)
	case int16:
		f = float64(x)
	case int32:
		f = float64(x)
	case int64:
		f = float64(x)
	case uint:
		f = float64(x)
	case uint8:
		f = float64(x)
	case uint16:
		f = float64(x)
	case uint32:
		f = float64(x)
	case uint64:
		f = float64(x)
	default:
		return 0, fmt.Errorf("must be a number, not %s", jsonKind(v))
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("must be a finite number")
	}
	return f, nil
}

// minBytesForChars is the fewest bytes whose padded base64 has at least
// chars characters; maxBytesForChars the most whose base64 has at most chars.
func minBytesForChars(chars uint64) uint64 {
	if chars == 0 {
		return 0
	}
	groups := chars/4 + min(chars%4, 1)
	if groups > (math.MaxUint64-2)/3 {
		return math.MaxUint64
	}
	return 3*groups - 2
}

func maxBytesForChars(chars uint64) uint64 { return 3 * (chars / 4) }

// charsForBytes is the length of the padded base64 of n bytes.
func charsForBytes(n uint64) uint64 {
	groups := n/3 + min(n%3, 1)
	if groups > math.MaxUint64/4 {
		return math.MaxUint64
	}
	return 4 * groups
}

func isBareNull(ps *altarv1.ParameterSchema) bool {
	return proto.Equal(ps, &altarv1.ParameterSchema{Type: nullType})
}

func ptr[T any](v T) *T { return &v }

func typeName(t altarv1.AltarType) string {
	if t == altarv1.AltarType_ALTAR_TYPE_BYTES {
		return "string (base64 bytes)"
	}
	for name, u := range typeByName {
		if u == t {
			return name
		}
	}
	return "any"
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case json.Number, float64, float32, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return "a number"
	case []any, []string:
		return "an array"
	case map[string]any:
		return "an object"
	default:
		return fmt.Sprintf("a Go %T", v)
	}
}

func isArrayValue(v any) bool {
	_, ok := asArray(v)
	return ok
}

func asArray(v any) ([]any, bool) {
	switch x := v.(type) {
	case []any:
		return x, true
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out, true
	default:
		return nil, false
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// escapePointer escapes one JSON pointer token (RFC 6901).
func escapePointer(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
