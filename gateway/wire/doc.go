// Package wire encodes and decodes every ALTAR protocol message (package
// altar.v1) in its two wire formats: canonical protobuf JSON (protojson) and
// deterministic protobuf binary.
//
// Transports use it to turn bodies and frames into messages and back: the
// HTTP API picks the format from the Content-Type header
// (FormatFromContentType), a peer that does not say may be sniffed
// (DetectFormat), and decoding is bounded by Limits (size, then nesting
// depth), so that a hostile payload costs at most a bounded amount of memory
// and stack and fails with an *altarerr.Error naming what was wrong:
//
//   - ERROR_CODE_PAYLOAD_TOO_LARGE for a breached limit (Rule "max_bytes" or
//     "max_depth" in its FieldError);
//   - ERROR_CODE_MALFORMED_MESSAGE for bytes that are not the message, with
//     the decoder's error wrapped as the cause;
//   - ERROR_CODE_INVALID_REQUEST for a content type that names no format.
//
// The JSON form is the one protojson defines: lowerCamelCase field names on
// output, both those and the proto field names on input, int64 as strings,
// bytes as base64, and unknown fields refused. It is not the natural JSON of
// a Value (see schema.ParseJSON), which is for tool arguments and results.
//
// Everything here is pure computation on byte slices: no I/O, no goroutines,
// no contexts.
package wire
