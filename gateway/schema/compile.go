package schema

import (
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Schema is a compiled ParameterSchema, safe for concurrent use.
type Schema struct {
	src *altarv1.ParameterSchema
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

// Compile checks a ParameterSchema and prepares it for validation.
//
// A schema that cannot be honoured is refused with an *altarerr.Error of
// code ERROR_CODE_INVALID_REQUEST listing every problem; each FieldError's
// Path is a JSON pointer into the schema using the proto field names
// ("/properties/a/minimum", "/items/pattern", "/enum/2", "/any_of/1/type")
// and its Rule names the check ("type", "range", "pattern", "enum",
// "default", "required", "property_ordering", "depth").
func Compile(ps *altarv1.ParameterSchema, opts ...Option) (*Schema, error) {
	// TODO(session): the real compiler is being written; this stub only
	// fixes the API.
	return &Schema{src: ps}, nil
}

// Proto returns the schema Compile was given. Callers must not modify it.
func (s *Schema) Proto() *altarv1.ParameterSchema { return s.src }

// Validate checks v against the schema and reports every failing field at
// once: nil, or an *altarerr.Error with code ERROR_CODE_INVALID_ARGUMENTS
// (ERROR_CODE_PAYLOAD_TOO_LARGE for a breached limit) whose Fields carry a
// JSON-pointer path and the failed rule.
func (s *Schema) Validate(v *altarv1.Value) error { return nil }

// ValidateFields checks an object's fields (a ToolCall's parameters)
// against an object schema, as Validate would check the object.
func (s *Schema) ValidateFields(fields map[string]*altarv1.Value) error { return nil }
