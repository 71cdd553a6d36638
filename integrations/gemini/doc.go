// Package gemini offers ALTAR contracts to Gemini models: it converts
// ParameterSchemas to and from the genai Schema type (a subset of OpenAPI
// 3.0) and contracts to genai FunctionDeclarations. It uses the genai types
// only, never a client, and does no I/O; the caller sends the declarations
// and routes the model's function calls to the Host.
//
// # Mapping
//
//	ParameterSchema         genai.Schema
//	type STRING ... NULL    Type STRING, INTEGER, NUMBER, BOOLEAN, ARRAY, OBJECT, NULL
//	type BYTES              Type STRING, Format "byte" (and back)
//	type ANY, UNSPECIFIED   Type unspecified ("")
//	nullable                Nullable
//	title, description      Title, Description
//	minimum, maximum        Minimum, Maximum
//	exclusive_minimum/max   on an integer, Minimum/Maximum one step inside (exact: an
//	                        exclusive minimum of 3 is a minimum of 4), with a Warning;
//	                        elsewhere dropped with a Warning
//	multiple_of             dropped, Warning
//	min/max_length          MinLength, MaxLength (for BYTES, which counts bytes, dropped
//	                        with a Warning: Gemini would count base64 characters)
//	pattern, format         Pattern, Format
//	enum                    Enum, Gemini's being strings: a string schema's members as
//	                        they are, an integer schema's in decimal; Format "enum" is set
//	                        when the schema has no format. Any other enum is dropped with
//	                        a Warning.
//	default                 Default, as plain Go (schema.ToGo); read back with
//	                        jsonschema.DecodeValue toward the schema's type. A null
//	                        default is dropped with a Warning (Default nil means none).
//	items, min/max_items    Items, MinItems, MaxItems
//	unique_items            dropped, Warning
//	properties, required    Properties, Required
//	property_ordering       PropertyOrdering
//	additional_properties   no counterpart: a Gemini model is offered only the declared
//	                        properties, i.e. closed objects; true on an object (and false
//	                        elsewhere) is dropped with a Warning. FromGeminiSchema leaves it
//	                        unset: closed.
//	min/max_properties      MinProperties, MaxProperties
//	any_of                  AnyOf
//	sensitive               dropped silently: it governs the Host's logs and audit, which
//	                        the Host still does, and tells the model nothing
//	(none)                  Example is ignored by FromGeminiSchema
//
// A uint64 length or count above MaxInt64 is written as MaxInt64 with a
// Warning.
//
// # Round trips
//
// FromGeminiSchema(ToGeminiSchema(ps)) is proto.Equal to ps when ps stays
// within what Gemini expresses: no null default, no exclusive bounds, multiple_of,
// unique_items, additional_properties, sensitive, or byte lengths; enums only
// on strings and integers; no STRING with format "byte" (it reads back as
// BYTES), no format on BYTES, and no format "enum" next to an enum (it is
// read as Gemini's enum marker); lengths and counts at most MaxInt64.
package gemini
