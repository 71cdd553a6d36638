// Package jsonschema converts ALTAR ParameterSchemas to and from JSON Schema:
// the subset that MCP tool schemas and OpenAPI 3.x use, in the 2020-12 and
// draft-07 dialects (with draft-04's boolean exclusive bounds and OpenAPI
// 3.0's nullable read too).
//
// Import reads a document; what it cannot represent exactly it reports as a
// Warning and drops (so the imported schema accepts at least what the source
// accepts, never less), and what it cannot honour at all is an error. Export
// writes a document that any 2020-12 or draft-07 validator accepts and that
// Import reads back to an equal ParameterSchema (proto.Equal), except in the
// cases listed under "Round trips" below.
//
// Everything here is pure computation: no I/O, no goroutines. Import is
// bounded by Limits (depth, nodes, bytes), so a hostile document (deep
// nesting, a $ref fan-out, a huge enum copied by reference) is refused
// instead of exhausting the stack or memory.
//
// # Mapping
//
//	ParameterSchema            JSON Schema
//	type STRING ... OBJECT     "type": "string" | "integer" | "number" | "boolean" | "array" | "object"
//	type NULL                  "type": "null"
//	type BYTES                 "type": "string", "contentEncoding": "base64"
//	                           (Import also reads OpenAPI's "format": "byte")
//	type ANY                   no "type" (only the constraints)
//	nullable                   "null" added to "type": ["string", "null"] (Import also reads
//	                           OpenAPI 3.0 "nullable": true and an anyOf branch {"type": "null"});
//	                           with an enum, null is added to it; with anyOf, a {"type": "null"}
//	                           branch is added, because ALTAR admits null before either is tried
//	title, description         title, description
//	minimum, maximum           minimum, maximum (JSON integers for whole bounds of integers)
//	exclusive_minimum/maximum  exclusiveMinimum/Maximum as numbers (Import reads draft-04's
//	                           booleans by making the matching bound exclusive)
//	multiple_of                multipleOf
//	min_length, max_length     minLength, maxLength; for BYTES (which counts bytes) these bound
//	                           the base64 text and x-altar-min-bytes/x-altar-max-bytes keep
//	                           the exact byte counts
//	pattern, format            pattern (RE2; one RE2 cannot compile is dropped with a
//	                           Warning), format
//	enum                       enum (Import reads const as a one-member enum); members and
//	default                    the default in the natural JSON mapping of Values: an int64 is a
//	                           JSON integer, a double always has a fraction or an exponent,
//	                           bytes are base64 (decoded where the schema says bytes)
//	items                      items
//	min_items, max_items       minItems, maxItems
//	unique_items               uniqueItems
//	properties, required       properties, required
//	property_ordering          propertyOrdering (the keyword Gemini reads in JSON Schema)
//	additional_properties      on objects: unset or false → "additionalProperties": false;
//	                           true → absent. Elsewhere (type ANY) it is written as set.
//	min/max_properties         minProperties, maxProperties
//	any_of                     anyOf (Import reads oneOf as anyOf, with a Warning: exclusivity is
//	                           not enforced); a type list ["string", "integer"] is anyOf of the
//	                           bare types, and Export writes such an anyOf back as a type list
//	sensitive                  "writeOnly": true and "x-altar-sensitive": true (Import: the value
//	                           of x-altar-sensitive, else writeOnly: a write-only field is masked
//	                           in logs and audit as a secret would be)
//
// # Import in detail
//
// Objects are open by default in JSON Schema and closed by default in ALTAR
// (unset additional_properties means false). So an object schema without
// "additionalProperties" imports with additional_properties true, and
// "additionalProperties": false imports as unset (ALTAR's spelling of
// closed). A schema as additionalProperties imports as true, with a Warning.
//
// "$ref" to a location in the same document ("#/$defs/x",
// "#/definitions/x", "#/components/schemas/x", any "#/..." pointer) is
// inlined where it is used; keywords beside it apply too. A reference back
// into a schema that contains it (a recursive schema) is an error naming the
// $ref, and so is a remote reference. "allOf" is merged into the schema: one
// member silently, several with a Warning (types intersect, bounds take the
// stricter value, properties and required unite, enums intersect; two
// patterns or formats cannot both be kept, so the first wins).
//
// Without "type" the schema is type ANY with its constraints ({} and true
// are ANY; false, which accepts nothing, is an error). A keyword that does
// not apply to the schema's type ("minLength" on an integer) has no effect in
// JSON Schema and is dropped with a Warning. Keywords with no ALTAR
// counterpart that only annotate ($schema, $id, $comment, $defs, examples,
// readOnly, deprecated, contentMediaType) are ignored; ones that constrain
// (not, if/then/else, patternProperties, prefixItems, the tuple form of
// items, dependentRequired, ...) and unknown keywords are dropped with a
// Warning.
//
// Hard errors (an *altarerr.Error with code ERROR_CODE_INVALID_REQUEST, each
// FieldError's Path a JSON pointer into the document and its Rule the
// keyword): invalid JSON, a schema that is not an object or boolean, the
// schema false, a malformed keyword ("minimum": "3"), an unknown type name,
// multipleOf not above 0, an empty enum or anyOf, a const not in the enum,
// an enum member or default that cannot take the schema's type (bytes that
// are not base64), anyOf together with oneOf or a list of several types,
// allOf members with no type or enum value in common, and a breached limit
// (Rule "depth", "nodes" or "bytes").
//
// # Round trips
//
// Import(Export(ps)) is proto.Equal to ps for every ParameterSchema except
// these, whose meaning survives but whose spelling does not:
//
//   - type UNSPECIFIED comes back ANY;
//   - additional_properties false on an object comes back unset (both mean
//     closed);
//   - nullable on ANY without any_of, and on NULL, comes back false (those
//     types admit null already);
//   - with nullable, a null enum member or a bare {type: NULL} member of
//     any_of comes back removed (nullable admits null already);
//   - a STRING with format "byte" comes back BYTES (OpenAPI's spelling of
//     bytes), and a BYTES with format "byte" loses the format;
//   - bytes values (enum members, defaults) under ANY come back as base64
//     strings, and an integer-valued double under INTEGER as an integer;
//   - duplicate required names, and enum members equal as JSON (1 and 1.0),
//     come back once;
//   - a ParameterSchema that schema.Compile refuses may import back
//     differently (a keyword that does not apply to its type is dropped).
//
// Export(Import(doc)) means what doc means, less what the Warnings name,
// spelled canonically: $refs inlined and allOf merged, oneOf and const
// written anyOf and enum, OpenAPI's nullable and format "byte" written as a
// type list and contentEncoding, draft-04's exclusive bounds as numbers,
// "additionalProperties": true and ignored annotations gone, writeOnly joined
// by x-altar-sensitive, and an anyOf of bare types written as a type list.
// The tests check this on a corpus of MCP, OpenAPI and draft-07 schemas, both
// by comparing documents and by comparing a JSON Schema validator's verdicts
// on generated instances.
//
// A Value's JSON form is the natural mapping documented in value.proto; the
// schema package's ParseJSON and MarshalJSON implement it for whole
// documents.
package jsonschema
