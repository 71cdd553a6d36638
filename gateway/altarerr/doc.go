// Package altarerr is the one error type of the gateway: an ALTAR error code
// from the protocol's table, a message a person can act on, field-level
// details for validation failures, a retry hint, and a wrapped cause.
//
// Every layer returns *Error (or wraps one with %w); transports turn it into
// a gRPC status (GRPCStatus, so status.FromError works), an HTTP status and
// JSON body, or an MCP isError result, all from the code's row in the table
// of proto/altar/v1. Nothing here does I/O or holds state.
package altarerr
