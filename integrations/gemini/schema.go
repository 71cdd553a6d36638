package gemini

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/genai"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/schema"
	"github.com/altar-gateway/altar/gateway/schema/jsonschema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Warning reports a constraint the conversion to Gemini could not carry
// (Gemini's Schema is a subset of OpenAPI 3.0). Path is a JSON pointer into
// the ParameterSchema using the proto field names
// ("/properties/age/exclusive_minimum"), and Keyword the proto field.
type Warning = jsonschema.Warning

// MaxDepth is the deepest schema either conversion accepts (the root is
// depth 1). A genai.Schema whose pointers form a cycle breaches it.
const MaxDepth = jsonschema.DefaultMaxDepth

// ToGeminiSchema converts a ParameterSchema to Gemini's Schema. See the
// package documentation for the mapping. What Gemini cannot express is
// dropped and reported as a Warning; the model is then told less than the
// Host validates, never more. Errors (a nil schema, an unknown type, a value
// with no kind, nesting beyond MaxDepth) are *altarerr.Error values with code
// ERROR_CODE_INVALID_REQUEST.
func ToGeminiSchema(ps *altarv1.ParameterSchema) (*genai.Schema, []Warning, error) {
	c := &toGemini{}
	s := c.schema(ps, "", 1)
	if len(c.errs) > 0 {
		return nil, nil, invalid("schema cannot be converted to a Gemini schema", c.errs)
	}
	return s, c.warns, nil
}

type toGemini struct {
	warns []Warning
	errs  []*altarv1.FieldError
}

func (c *toGemini) warn(path, field, format string, args ...any) {
	c.warns = append(c.warns, Warning{Path: path + "/" + field, Keyword: field, Message: fmt.Sprintf(format, args...)})
}

func (c *toGemini) fail(path, rule, format string, args ...any) {
	c.errs = append(c.errs, &altarv1.FieldError{Path: path, Rule: rule, Message: fmt.Sprintf(format, args...)})
}

var geminiTypes = map[altarv1.AltarType]genai.Type{
	altarv1.AltarType_ALTAR_TYPE_STRING:  genai.TypeString,
	altarv1.AltarType_ALTAR_TYPE_INTEGER: genai.TypeInteger,
	altarv1.AltarType_ALTAR_TYPE_NUMBER:  genai.TypeNumber,
	altarv1.AltarType_ALTAR_TYPE_BOOLEAN: genai.TypeBoolean,
	altarv1.AltarType_ALTAR_TYPE_BYTES:   genai.TypeString,
	altarv1.AltarType_ALTAR_TYPE_ARRAY:   genai.TypeArray,
	altarv1.AltarType_ALTAR_TYPE_OBJECT:  genai.TypeObject,
	altarv1.AltarType_ALTAR_TYPE_NULL:    genai.TypeNULL,
}

const (
	formatByte = "byte" // Gemini's (OpenAPI's) base64 string
	formatEnum = "enum" // Gemini's marker of an enumerated string or integer
)

func (c *toGemini) schema(ps *altarv1.ParameterSchema, path string, depth int) *genai.Schema {
	if ps == nil {
		c.fail(path, "type", "schema is missing")
		return nil
	}
	if depth > MaxDepth {
		c.fail(path, "depth", "schema nested deeper than %d levels", MaxDepth)
		return nil
	}
	s := &genai.Schema{Title: ps.GetTitle(), Description: ps.GetDescription(), Format: ps.GetFormat(), Pattern: ps.GetPattern()}
	t := ps.GetType()
	switch t {
	case altarv1.AltarType_ALTAR_TYPE_ANY, altarv1.AltarType_ALTAR_TYPE_UNSPECIFIED:
		// Gemini's unspecified type.
	default:
		gt, ok := geminiTypes[t]
		if !ok {
			c.fail(path+"/type", "type", "unknown type %d", int32(t))
			return nil
		}
		s.Type = gt
	}
	if ps.GetNullable() {
		s.Nullable = genai.Ptr(true)
	}
	isBytes := t == altarv1.AltarType_ALTAR_TYPE_BYTES
	if isBytes {
		if f := ps.GetFormat(); f != "" && f != formatByte {
			c.warn(path, "format", "format %q dropped: Gemini marks bytes with format %q", f, formatByte)
		}
		s.Format = formatByte
	}

	// Numbers.
	s.Minimum, s.Maximum = ps.Minimum, ps.Maximum
	c.exclusive(ps, s, path)
	if ps.MultipleOf != nil {
		c.warn(path, "multiple_of", "dropped: Gemini schemas have no multipleOf")
	}

	// Strings (bytes' lengths count bytes, Gemini's would count base64 characters).
	if isBytes {
		if ps.MinLength != nil || ps.MaxLength != nil {
			c.warn(path, "min_length", "byte lengths dropped: Gemini would count base64 characters")
		}
	} else {
		s.MinLength = c.int64(ps.MinLength, path, "min_length")
		s.MaxLength = c.int64(ps.MaxLength, path, "max_length")
	}

	c.enum(ps, s, path)
	switch d := ps.GetDefault(); d.GetKind().(type) {
	case nil:
		if d != nil {
			c.fail(path+"/default", "default", "default value has no kind set")
		}
	case *altarv1.Value_NullValue:
		c.warn(path, "default", "dropped: Gemini cannot tell a null default from none")
	default:
		s.Default = schema.ToGo(d)
	}

	// Arrays.
	if ps.GetItems() != nil {
		s.Items = c.schema(ps.GetItems(), path+"/items", depth+1)
	}
	s.MinItems = c.int64(ps.MinItems, path, "min_items")
	s.MaxItems = c.int64(ps.MaxItems, path, "max_items")
	if ps.GetUniqueItems() {
		c.warn(path, "unique_items", "dropped: Gemini schemas have no uniqueItems")
	}

	// Objects.
	if len(ps.GetProperties()) > 0 {
		s.Properties = make(map[string]*genai.Schema, len(ps.GetProperties()))
		for _, name := range sortedKeys(ps.GetProperties()) {
			s.Properties[name] = c.schema(ps.GetProperties()[name], path+"/properties/"+escapePointer(name), depth+1)
		}
	}
	s.Required = slices.Clone(ps.GetRequired())
	s.PropertyOrdering = slices.Clone(ps.GetPropertyOrdering())
	switch ap := ps.AdditionalProperties; {
	case ap == nil:
	case *ap && t == altarv1.AltarType_ALTAR_TYPE_OBJECT:
		c.warn(path, "additional_properties", "dropped: Gemini schemas have no additionalProperties, so the model is offered only the declared properties")
	case !*ap && t != altarv1.AltarType_ALTAR_TYPE_OBJECT:
		c.warn(path, "additional_properties", "dropped: Gemini schemas have no additionalProperties")
	}
	s.MinProperties = c.int64(ps.MinProperties, path, "min_properties")
	s.MaxProperties = c.int64(ps.MaxProperties, path, "max_properties")

	for i, alt := range ps.GetAnyOf() {
		s.AnyOf = append(s.AnyOf, c.schema(alt, path+"/any_of/"+strconv.Itoa(i), depth+1))
	}
	// sensitive has no Gemini counterpart and tells the model nothing: it
	// governs logging and audit in the Host, which the Host still does.
	return s
}

// exclusive maps exclusive bounds. On an integer schema they become inclusive
// bounds one step inside, which is exact; elsewhere they are dropped.
func (c *toGemini) exclusive(ps *altarv1.ParameterSchema, s *genai.Schema, path string) {
	integer := ps.GetType() == altarv1.AltarType_ALTAR_TYPE_INTEGER
	const exact = 1 << 53 // beyond it, x+1 is not a float64 of its own
	if ps.ExclusiveMinimum != nil {
		x := ps.GetExclusiveMinimum()
		if integer && math.Abs(x) < exact {
			lo := math.Floor(x) + 1
			if s.Minimum == nil || lo > *s.Minimum {
				s.Minimum = &lo
			}
			c.warn(path, "exclusive_minimum", "Gemini schemas have no exclusive bounds: expressed as minimum %s", formatFloat(lo))
		} else {
			c.warn(path, "exclusive_minimum", "dropped: Gemini schemas have no exclusive bounds")
		}
	}
	if ps.ExclusiveMaximum != nil {
		x := ps.GetExclusiveMaximum()
		if integer && math.Abs(x) < exact {
			hi := math.Ceil(x) - 1
			if s.Maximum == nil || hi < *s.Maximum {
				s.Maximum = &hi
			}
			c.warn(path, "exclusive_maximum", "Gemini schemas have no exclusive bounds: expressed as maximum %s", formatFloat(hi))
		} else {
			c.warn(path, "exclusive_maximum", "dropped: Gemini schemas have no exclusive bounds")
		}
	}
}

// enum maps enums: Gemini's are strings, for strings and (with format
// "enum") integers written in decimal. Any other enum is dropped.
func (c *toGemini) enum(ps *altarv1.ParameterSchema, s *genai.Schema, path string) {
	if len(ps.GetEnum()) == 0 {
		return
	}
	t := ps.GetType()
	var members []string
	for _, v := range ps.GetEnum() {
		switch k := v.GetKind().(type) {
		case *altarv1.Value_StringValue:
			if t == altarv1.AltarType_ALTAR_TYPE_STRING {
				members = append(members, k.StringValue)
				continue
			}
		case *altarv1.Value_IntValue:
			if t == altarv1.AltarType_ALTAR_TYPE_INTEGER {
				members = append(members, strconv.FormatInt(k.IntValue, 10))
				continue
			}
		case *altarv1.Value_NullValue:
			if ps.GetNullable() {
				continue // nullable says it
			}
		}
		c.warn(path, "enum", "dropped: Gemini enums list strings, for string and integer schemas only")
		return
	}
	s.Enum = members
	if s.Format == "" {
		s.Format = formatEnum
	}
}

func (c *toGemini) int64(u *uint64, path, field string) *int64 {
	if u == nil {
		return nil
	}
	if *u > math.MaxInt64 {
		c.warn(path, field, "%d exceeds Gemini's int64: written as %d", *u, int64(math.MaxInt64))
		return genai.Ptr(int64(math.MaxInt64))
	}
	return genai.Ptr(int64(*u))
}

// FromGeminiSchema converts a Gemini Schema to a ParameterSchema. See the
// package documentation for the mapping; Example has no ALTAR counterpart and
// is ignored, and objects come back closed (additional_properties unset), as
// a Gemini model offers only the declared properties. Errors (nil, an
// unknown type, a negative length, a non-finite bound, an enum member or
// default that does not take the type, nesting beyond MaxDepth) are
// *altarerr.Error values with code ERROR_CODE_INVALID_REQUEST whose paths are
// JSON pointers into the Schema's JSON form ("/properties/a/minLength").
func FromGeminiSchema(s *genai.Schema) (*altarv1.ParameterSchema, error) {
	c := &fromGemini{}
	ps := c.schema(s, "", 1)
	if len(c.errs) > 0 {
		return nil, invalid("Gemini schema cannot be converted", c.errs)
	}
	return ps, nil
}

type fromGemini struct {
	errs []*altarv1.FieldError
}

func (c *fromGemini) fail(path, rule, format string, args ...any) {
	c.errs = append(c.errs, &altarv1.FieldError{Path: path, Rule: rule, Message: fmt.Sprintf(format, args...)})
}

var altarTypes = map[genai.Type]altarv1.AltarType{
	genai.TypeUnspecified: altarv1.AltarType_ALTAR_TYPE_ANY,
	"":                    altarv1.AltarType_ALTAR_TYPE_ANY,
	genai.TypeString:      altarv1.AltarType_ALTAR_TYPE_STRING,
	genai.TypeInteger:     altarv1.AltarType_ALTAR_TYPE_INTEGER,
	genai.TypeNumber:      altarv1.AltarType_ALTAR_TYPE_NUMBER,
	genai.TypeBoolean:     altarv1.AltarType_ALTAR_TYPE_BOOLEAN,
	genai.TypeArray:       altarv1.AltarType_ALTAR_TYPE_ARRAY,
	genai.TypeObject:      altarv1.AltarType_ALTAR_TYPE_OBJECT,
	genai.TypeNULL:        altarv1.AltarType_ALTAR_TYPE_NULL,
}

func (c *fromGemini) schema(s *genai.Schema, path string, depth int) *altarv1.ParameterSchema {
	if s == nil {
		c.fail(path, "type", "schema is missing")
		return nil
	}
	if depth > MaxDepth {
		c.fail(path, "depth", "schema nested deeper than %d levels (a cycle?)", MaxDepth)
		return nil
	}
	t, ok := altarTypes[genai.Type(strings.ToUpper(string(s.Type)))]
	if !ok {
		c.fail(path+"/type", "type", "unknown Gemini type %q", s.Type)
		return nil
	}
	ps := &altarv1.ParameterSchema{
		Type:             t,
		Title:            s.Title,
		Description:      s.Description,
		Nullable:         s.Nullable != nil && *s.Nullable,
		Format:           s.Format,
		Pattern:          s.Pattern,
		Minimum:          c.float(s.Minimum, path, "minimum"),
		Maximum:          c.float(s.Maximum, path, "maximum"),
		MinLength:        c.uint64(s.MinLength, path, "minLength"),
		MaxLength:        c.uint64(s.MaxLength, path, "maxLength"),
		MinItems:         c.uint64(s.MinItems, path, "minItems"),
		MaxItems:         c.uint64(s.MaxItems, path, "maxItems"),
		Required:         slices.Clone(s.Required),
		PropertyOrdering: slices.Clone(s.PropertyOrdering),
		MinProperties:    c.uint64(s.MinProperties, path, "minProperties"),
		MaxProperties:    c.uint64(s.MaxProperties, path, "maxProperties"),
	}
	switch {
	case t == altarv1.AltarType_ALTAR_TYPE_STRING && s.Format == formatByte:
		ps.Type, ps.Format = altarv1.AltarType_ALTAR_TYPE_BYTES, ""
	case s.Format == formatEnum && len(s.Enum) > 0:
		ps.Format = ""
	}
	if s.Items != nil {
		ps.Items = c.schema(s.Items, path+"/items", depth+1)
	}
	if len(s.Properties) > 0 {
		ps.Properties = make(map[string]*altarv1.ParameterSchema, len(s.Properties))
		for _, name := range sortedKeys(s.Properties) {
			ps.Properties[name] = c.schema(s.Properties[name], path+"/properties/"+escapePointer(name), depth+1)
		}
	}
	for i, alt := range s.AnyOf {
		ps.AnyOf = append(ps.AnyOf, c.schema(alt, path+"/anyOf/"+strconv.Itoa(i), depth+1))
	}
	for i, m := range s.Enum {
		if v := c.member(m, ps.Type, path+"/enum/"+strconv.Itoa(i)); v != nil {
			ps.Enum = append(ps.Enum, v)
		}
	}
	if s.Default != nil {
		v, err := jsonschema.DecodeValue(s.Default, ps)
		if err != nil {
			c.fail(path+"/default", "default", "%v", err)
		} else {
			ps.Default = v
		}
	}
	return ps
}

var decimalInteger = regexp.MustCompile(`^-?[0-9]+$`)

// member reads one enum member, written as a string, as the type says.
func (c *fromGemini) member(m string, t altarv1.AltarType, path string) *altarv1.Value {
	switch t {
	case altarv1.AltarType_ALTAR_TYPE_INTEGER:
		i, err := strconv.ParseInt(m, 10, 64)
		if err != nil || !decimalInteger.MatchString(m) {
			c.fail(path, "enum", "%q is not an integer", m)
			return nil
		}
		return schema.Int(i)
	case altarv1.AltarType_ALTAR_TYPE_NUMBER:
		f, err := strconv.ParseFloat(m, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			c.fail(path, "enum", "%q is not a number", m)
			return nil
		}
		if decimalInteger.MatchString(m) {
			if i, err := strconv.ParseInt(m, 10, 64); err == nil {
				return schema.Int(i)
			}
		}
		return schema.Double(f)
	case altarv1.AltarType_ALTAR_TYPE_BOOLEAN:
		b, err := strconv.ParseBool(m)
		if err != nil || (m != "true" && m != "false") {
			c.fail(path, "enum", "%q is not true or false", m)
			return nil
		}
		return schema.Bool(b)
	case altarv1.AltarType_ALTAR_TYPE_BYTES, altarv1.AltarType_ALTAR_TYPE_ARRAY, altarv1.AltarType_ALTAR_TYPE_OBJECT, altarv1.AltarType_ALTAR_TYPE_NULL:
		c.fail(path, "enum", "an enum of strings cannot constrain a schema of type %s", schema.TypeName(t))
		return nil
	default:
		return schema.String(m)
	}
}

func (c *fromGemini) float(f *float64, path, field string) *float64 {
	if f == nil {
		return nil
	}
	if math.IsNaN(*f) || math.IsInf(*f, 0) {
		c.fail(path+"/"+field, field, "%s must be a finite number", field)
		return nil
	}
	v := *f
	return &v
}

func (c *fromGemini) uint64(i *int64, path, field string) *uint64 {
	if i == nil {
		return nil
	}
	if *i < 0 {
		c.fail(path+"/"+field, field, "%s must not be negative", field)
		return nil
	}
	u := uint64(*i)
	return &u
}

func invalid(msg string, fields []*altarv1.FieldError) error {
	err := altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, "%s: %d problem(s)", msg, len(fields))
	err.Fields = fields
	return err
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func escapePointer(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
