package schema_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// The benchmark's typical tool arguments: ten properties with patterned
// strings, bounded integers, an enum, a nested object and an array of 20
// items. benchJSONSchema is the same contract in JSON Schema, for the
// baseline measured in the same run.
func benchSchema() *altarv1.ParameterSchema {
	str := func(mod func(*altarv1.ParameterSchema)) *altarv1.ParameterSchema {
		s := &altarv1.ParameterSchema{Type: altarv1.AltarType_ALTAR_TYPE_STRING}
		if mod != nil {
			mod(s)
		}
		return s
	}
	u := func(v uint64) *uint64 { return &v }
	f := func(v float64) *float64 { return &v }
	return &altarv1.ParameterSchema{
		Type: altarv1.AltarType_ALTAR_TYPE_OBJECT,
		Properties: map[string]*altarv1.ParameterSchema{
			"id":       str(func(s *altarv1.ParameterSchema) { s.Pattern = `^[a-z0-9-]{3,32}$` }),
			"email":    str(func(s *altarv1.ParameterSchema) { s.Pattern = `^[^@\s]+@[^@\s]+\.[a-z]{2,}$` }),
			"name":     str(func(s *altarv1.ParameterSchema) { s.MinLength, s.MaxLength = u(1), u(100) }),
			"age":      {Type: altarv1.AltarType_ALTAR_TYPE_INTEGER, Minimum: f(0), Maximum: f(150)},
			"priority": {Type: altarv1.AltarType_ALTAR_TYPE_INTEGER, Minimum: f(1), Maximum: f(5)},
			"score":    {Type: altarv1.AltarType_ALTAR_TYPE_NUMBER, Minimum: f(0), Maximum: f(100)},
			"status": str(func(s *altarv1.ParameterSchema) {
				s.Enum = []*altarv1.Value{schema.String("active"), schema.String("inactive"), schema.String("pending")}
			}),
			"verified": {Type: altarv1.AltarType_ALTAR_TYPE_BOOLEAN},
			"address": {
				Type: altarv1.AltarType_ALTAR_TYPE_OBJECT,
				Properties: map[string]*altarv1.ParameterSchema{
					"street": str(func(s *altarv1.ParameterSchema) { s.MinLength = u(1) }),
					"city":   str(func(s *altarv1.ParameterSchema) { s.MinLength = u(1) }),
					"zip":    str(func(s *altarv1.ParameterSchema) { s.Pattern = `^[0-9]{5}$` }),
				},
				Required: []string{"street", "city"},
			},
			"tags": {
				Type:     altarv1.AltarType_ALTAR_TYPE_ARRAY,
				Items:    str(func(s *altarv1.ParameterSchema) { s.Pattern = `^[a-z]+$`; s.MaxLength = u(20) }),
				MinItems: u(1),
				MaxItems: u(50),
			},
		},
		Required: []string{"id", "email", "name", "age", "status", "tags"},
	}
}

const benchJSONSchema = `{
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "id": {"type": "string", "pattern": "^[a-z0-9-]{3,32}$"},
    "email": {"type": "string", "pattern": "^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$"},
    "name": {"type": "string", "minLength": 1, "maxLength": 100},
    "age": {"type": "integer", "minimum": 0, "maximum": 150},
    "priority": {"type": "integer", "minimum": 1, "maximum": 5},
    "score": {"type": "number", "minimum": 0, "maximum": 100},
    "status": {"type": "string", "enum": ["active", "inactive", "pending"]},
    "verified": {"type": "boolean"},
    "address": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "street": {"type": "string", "minLength": 1},
        "city": {"type": "string", "minLength": 1},
        "zip": {"type": "string", "pattern": "^[0-9]{5}$"}
      },
      "required": ["street", "city"]
    },
    "tags": {
      "type": "array",
      "items": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 20},
      "minItems": 1,
      "maxItems": 50
    }
  },
  "required": ["id", "email", "name", "age", "status", "tags"]
}`

func benchInstanceJSON() string {
	var tags bytes.Buffer
	for i := range 20 {
		if i > 0 {
			tags.WriteString(", ")
		}
		fmt.Fprintf(&tags, "%q", "tag"+string(rune('a'+i)))
	}
	return `{"id": "user-1234", "email": "ada@example.com", "name": "Ada Lovelace", "age": 36,
	  "priority": 3, "score": 97.5, "status": "active", "verified": true,
	  "address": {"street": "12 St James's Square", "city": "London", "zip": "12345"},
	  "tags": [` + tags.String() + `]}`
}

func benchInstanceValue() *altarv1.Value {
	tags := make([]*altarv1.Value, 20)
	for i := range tags {
		tags[i] = schema.String("tag" + string(rune('a'+i)))
	}
	return schema.Object(map[string]*altarv1.Value{
		"id":       schema.String("user-1234"),
		"email":    schema.String("ada@example.com"),
		"name":     schema.String("Ada Lovelace"),
		"age":      schema.Int(36),
		"priority": schema.Int(3),
		"score":    schema.Double(97.5),
		"status":   schema.String("active"),
		"verified": schema.Bool(true),
		"address": schema.Object(map[string]*altarv1.Value{
			"street": schema.String("12 St James's Square"),
			"city":   schema.String("London"),
			"zip":    schema.String("12345"),
		}),
		"tags": schema.Array(tags...),
	})
}

// BenchmarkValidate compares ALTAR's validator with
// santhosh-tekuri/jsonschema/v6 on the same contract and instance, each
// validating an already-decoded value (decoding is measured separately).
//
//	go test -run '^$' -bench BenchmarkValidate -benchmem -count 10 ./gateway/schema/
func BenchmarkValidate(b *testing.B) {
	b.Run("impl=altar", func(b *testing.B) {
		s := schema.MustCompile(benchSchema())
		v := benchInstanceValue()
		if err := s.Validate(v); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if err := s.Validate(v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=jsonschema-v6", func(b *testing.B) {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(benchJSONSchema)))
		if err != nil {
			b.Fatal(err)
		}
		c := jsonschema.NewCompiler()
		if err := c.AddResource("bench.json", doc); err != nil {
			b.Fatal(err)
		}
		sch, err := c.Compile("bench.json")
		if err != nil {
			b.Fatal(err)
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(benchInstanceJSON())))
		if err != nil {
			b.Fatal(err)
		}
		if err := sch.Validate(inst); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if err := sch.Validate(inst); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkValidateInvalid measures the failure path (every error collected
// with its path), which allocates by design.
func BenchmarkValidateInvalid(b *testing.B) {
	s := schema.MustCompile(benchSchema())
	v := schema.Object(map[string]*altarv1.Value{
		"id": schema.String("NO"), "email": schema.String("nope"), "age": schema.Int(200),
		"status": schema.String("gone"), "tags": schema.Array(),
	})
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Validate(v); err == nil {
			b.Fatal("expected an error")
		}
	}
}

// BenchmarkCoerceFields measures the argument preparation every call goes
// through (base64 and defaults, nothing to change): it allocates nothing.
//
//	go test -run '^$' -bench BenchmarkCoerceFields -benchmem ./gateway/schema/
func BenchmarkCoerceFields(b *testing.B) {
	s := schema.MustCompile(benchSchema())
	fields := benchInstanceValue().GetObjectValue().GetFields()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.CoerceFields(fields, schema.CoerceBytes|schema.CoerceDefaults); err != nil {
			b.Fatal(err)
		}
	}
}
