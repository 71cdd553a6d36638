package jsonschema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/altar-gateway/altar/gateway/altarerr"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Export converts a ParameterSchema to a JSON Schema document as plain Go
// values: map[string]any, []any, []string, string, bool, int64, uint64,
// float64 and json.Number (an enum member or default that is a double,
// written with a fraction so that it reads back as a double). See the
// package documentation for the mapping.
//
// Export checks only what it must to write a valid JSON Schema (finite
// numbers, multipleOf above 0, values with a kind, the depth limit); use
// schema.Compile to check that a ParameterSchema makes sense. Errors are
// *altarerr.Error values with code ERROR_CODE_INVALID_REQUEST whose
// FieldErrors' paths are JSON pointers into ps using the proto field names
// ("/properties/a/multiple_of").
func Export(ps *altarv1.ParameterSchema, opts ...ExportOption) (map[string]any, error) {
	cfg := exportConfig{limits: Limits{}.orDefault()}
	for _, o := range opts {
		o.applyExport(&cfg)
	}
	if ps == nil {
		return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, "no schema to export")
	}
	ex := &exporter{cfg: cfg}
	m := ex.schema(ps, "", 1)
	if len(ex.errs) > 0 {
		err := altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, "schema cannot be exported to JSON Schema: %d problem(s)", len(ex.errs))
		err.Fields = ex.errs
		return nil, err
	}
	if cfg.schemaURI {
		m["$schema"] = cfg.draft.URI()
	}
	return m, nil
}

// ExportJSON is Export encoded as compact JSON. The output is deterministic:
// object keys are sorted.
func ExportJSON(ps *altarv1.ParameterSchema, opts ...ExportOption) ([]byte, error) {
	m, err := Export(ps, opts...)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INTERNAL, err, "encoding JSON Schema")
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

type exporter struct {
	cfg  exportConfig
	errs []*altarv1.FieldError
}

func (ex *exporter) fail(path, rule, format string, args ...any) {
	if len(ex.errs) < maxErrors {
		ex.errs = append(ex.errs, &altarv1.FieldError{Path: path, Rule: rule, Message: fmt.Sprintf(format, args...)})
	}
}

// nameByType is the JSON Schema type of each ALTAR type that has one.
var nameByType = map[altarv1.AltarType]string{
	altarv1.AltarType_ALTAR_TYPE_STRING:  "string",
	altarv1.AltarType_ALTAR_TYPE_INTEGER: "integer",
	altarv1.AltarType_ALTAR_TYPE_NUMBER:  "number",
	altarv1.AltarType_ALTAR_TYPE_BOOLEAN: "boolean",
	altarv1.AltarType_ALTAR_TYPE_BYTES:   "string",
	altarv1.AltarType_ALTAR_TYPE_ARRAY:   "array",
	altarv1.AltarType_ALTAR_TYPE_OBJECT:  "object",
	altarv1.AltarType_ALTAR_TYPE_NULL:    "null",
}

func (ex *exporter) schema(ps *altarv1.ParameterSchema, path string, depth int) map[string]any {
	out := map[string]any{}
	if ps == nil {
		ex.fail(path, "type", "schema is missing")
		return out
	}
	if depth > ex.cfg.limits.MaxDepth {
		ex.fail(path, "depth", "schema nested deeper than %d levels", ex.cfg.limits.MaxDepth)
		return out
	}
	t := ps.GetType()
	if t == altarv1.AltarType_ALTAR_TYPE_UNSPECIFIED {
		t = anyType
	}
	nullable := ps.GetNullable() && t != nullType
	collapsed := false
	switch t {
	case anyType:
		if names := bareTypes(ps.GetAnyOf()); names != nil {
			if nullable {
				names = append(names, "null")
			}
			out["type"], collapsed = names, true
		}
	case nullType:
		out["type"] = "null"
	default:
		name, ok := nameByType[t]
		if !ok {
			ex.fail(path+"/type", "type", "unknown type %d", int32(t))
			return out
		}
		if nullable {
			out["type"] = []string{name, "null"}
		} else {
			out["type"] = name
		}
		if t == altarv1.AltarType_ALTAR_TYPE_BYTES {
			out["contentEncoding"] = "base64"
		}
	}
	if ps.GetTitle() != "" {
		out["title"] = ps.GetTitle()
	}
	if ps.GetDescription() != "" {
		out["description"] = ps.GetDescription()
	}

	// Numbers.
	integer := t == altarv1.AltarType_ALTAR_TYPE_INTEGER
	ex.number(out, "minimum", "minimum", ps.Minimum, integer, path)
	ex.number(out, "maximum", "maximum", ps.Maximum, integer, path)
	ex.number(out, "exclusiveMinimum", "exclusive_minimum", ps.ExclusiveMinimum, integer, path)
	ex.number(out, "exclusiveMaximum", "exclusive_maximum", ps.ExclusiveMaximum, integer, path)
	ex.number(out, "multipleOf", "multiple_of", ps.MultipleOf, integer, path)
	if ps.MultipleOf != nil && !(ps.GetMultipleOf() > 0) {
		ex.fail(path+"/multiple_of", "range", "multiple_of must be greater than 0")
	}

	// Strings and bytes.
	if t == altarv1.AltarType_ALTAR_TYPE_BYTES {
		// JSON carries base64: the standard keywords bound its characters,
		// the x-altar ones keep ALTAR's exact byte counts.
		if ps.MinLength != nil {
			out["minLength"] = charsForBytes(ps.GetMinLength())
			out["x-altar-min-bytes"] = ps.GetMinLength()
		}
		if ps.MaxLength != nil {
			out["maxLength"] = charsForBytes(ps.GetMaxLength())
			out["x-altar-max-bytes"] = ps.GetMaxLength()
		}
	} else {
		if ps.MinLength != nil {
			out["minLength"] = ps.GetMinLength()
		}
		if ps.MaxLength != nil {
			out["maxLength"] = ps.GetMaxLength()
		}
	}
	if ps.GetPattern() != "" {
		out["pattern"] = ps.GetPattern()
	}
	if ps.GetFormat() != "" {
		out["format"] = ps.GetFormat()
	}

	// Values.
	if len(ps.GetEnum()) > 0 {
		values := make([]any, 0, len(ps.GetEnum())+1)
		hasNull := false
		for i, v := range ps.GetEnum() {
			x, err := exportValue(v, 1, ex.cfg.limits.MaxDepth)
			if err != nil {
				ex.fail(path+"/enum/"+strconv.Itoa(i), "enum", "%v", err)
			}
			if slices.ContainsFunc(values, func(y any) bool { return jsonEqual(x, y) }) {
				continue // 1 and 1.0 are one member in JSON Schema (draft-07 requires unique members)
			}
			hasNull = hasNull || x == nil
			values = append(values, x)
		}
		if nullable && !hasNull {
			values = append(values, nil) // ALTAR's nullable admits null past the enum
		}
		out["enum"] = values
	}
	if ps.GetDefault() != nil {
		x, err := exportValue(ps.GetDefault(), 1, ex.cfg.limits.MaxDepth)
		if err != nil {
			ex.fail(path+"/default", "default", "%v", err)
		}
		out["default"] = x
	}

	// Arrays.
	if ps.GetItems() != nil {
		out["items"] = ex.schema(ps.GetItems(), path+"/items", depth+1)
	}
	if ps.MinItems != nil {
		out["minItems"] = ps.GetMinItems()
	}
	if ps.MaxItems != nil {
		out["maxItems"] = ps.GetMaxItems()
	}
	if ps.GetUniqueItems() {
		out["uniqueItems"] = true
	}

	// Objects.
	if len(ps.GetProperties()) > 0 {
		props := make(map[string]any, len(ps.GetProperties()))
		for _, name := range sortedKeys(ps.GetProperties()) {
			props[name] = ex.schema(ps.GetProperties()[name], path+"/properties/"+escapePointer(name), depth+1)
		}
		out["properties"] = props
	}
	if len(ps.GetRequired()) > 0 {
		var req []string
		for _, name := range ps.GetRequired() {
			if !slices.Contains(req, name) {
				req = append(req, name)
			}
		}
		out["required"] = req
	}
	if len(ps.GetPropertyOrdering()) > 0 {
		out["propertyOrdering"] = slices.Clone(ps.GetPropertyOrdering())
	}
	switch {
	case t == altarv1.AltarType_ALTAR_TYPE_OBJECT:
		if !ps.GetAdditionalProperties() {
			out["additionalProperties"] = false // ALTAR objects are closed unless they say otherwise
		}
	case ps.AdditionalProperties != nil:
		out["additionalProperties"] = ps.GetAdditionalProperties()
	}
	if ps.MinProperties != nil {
		out["minProperties"] = ps.GetMinProperties()
	}
	if ps.MaxProperties != nil {
		out["maxProperties"] = ps.GetMaxProperties()
	}

	// Alternatives.
	if len(ps.GetAnyOf()) > 0 && !collapsed {
		alts := make([]any, 0, len(ps.GetAnyOf())+1)
		for i, alt := range ps.GetAnyOf() {
			alts = append(alts, ex.schema(alt, path+"/any_of/"+strconv.Itoa(i), depth+1))
		}
		if nullable && !slices.ContainsFunc(ps.GetAnyOf(), isBareNull) {
			// ALTAR's nullable admits null before the alternatives are tried.
			alts = append(alts, map[string]any{"type": "null"})
		}
		out["anyOf"] = alts
	}

	if ps.GetSensitive() {
		out["writeOnly"] = true
		out["x-altar-sensitive"] = true
	}
	return out
}

// number writes a bound: a JSON integer for a whole bound of an integer
// schema, a JSON number otherwise.
func (ex *exporter) number(out map[string]any, key, field string, f *float64, integer bool, path string) {
	if f == nil {
		return
	}
	if math.IsNaN(*f) || math.IsInf(*f, 0) {
		ex.fail(path+"/"+field, "range", "%s must be a finite number", field)
		return
	}
	if i, ok := wholeInt64(*f); ok && integer {
		out[key] = i
		return
	}
	out[key] = *f
}

// bareTypes returns the type names when alts are two or more distinct bare
// types (a schema with a type and nothing else) that a JSON Schema type list
// can stand for, which Import reads back as the same alternatives.
func bareTypes(alts []*altarv1.ParameterSchema) []string {
	if len(alts) < 2 {
		return nil
	}
	var names []string
	for _, alt := range alts {
		t := alt.GetType()
		switch t {
		case altarv1.AltarType_ALTAR_TYPE_STRING, altarv1.AltarType_ALTAR_TYPE_INTEGER, altarv1.AltarType_ALTAR_TYPE_NUMBER,
			altarv1.AltarType_ALTAR_TYPE_BOOLEAN, altarv1.AltarType_ALTAR_TYPE_ARRAY:
		default:
			return nil
		}
		name := nameByType[t]
		if slices.Contains(names, name) || !proto.Equal(alt, &altarv1.ParameterSchema{Type: t}) {
			return nil
		}
		names = append(names, name)
	}
	return names
}
