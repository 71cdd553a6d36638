// Package schema is ALTAR's type system: Values (the protocol's dynamic
// datum), ParameterSchemas compiled for fast validation, opt-in coercion for
// lenient clients, and the natural JSON mapping of Values.
//
// Values convert exactly between Go, protobuf and JSON: an int64 stays an
// int64 (never a float64 on the way), a JSON number with a fraction or an
// exponent is a double, null is explicit and distinct from absent, and bytes
// are raw in protobuf and base64 in JSON.
//
// A ParameterSchema is compiled once (Compile) into a *Schema: regular
// expressions, enum sets and required lists are prepared then, so that
// validating a conforming value allocates nothing. Validation reports every
// failing field at once, each with a JSON-pointer path and the rule that
// failed, inside an *altarerr.Error with code ERROR_CODE_INVALID_ARGUMENTS.
//
// Everything here is pure computation bounded by Limits: no I/O, no
// goroutines, no contexts. Untrusted input never recurses past
// Limits.MaxDepth.
//
// JSON Schema conversion lives in the jsonschema subpackage; conversion to
// the Gemini Schema type lives in integrations/gemini, so that the genai
// module stays off the core path.
package schema
