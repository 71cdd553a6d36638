// Package server holds the Host's transports. Each is a thin adapter from a
// wire protocol to the API interface (implemented by the composition root,
// gateway.Host): it decodes requests, maps errors to the transport's status
// through altarerr, and never holds business logic.
//
// Two transports live here. gRPC (grpc.go): the client-facing HostService,
// the runtime-facing RuntimeService and the standard health service on one
// grpc.Server. HTTP/JSON (http*.go, echo): the same API under /v1/, with
// Server-Sent Events and WebSocket streams, /healthz, /readyz and the
// OpenAPI document (docs/http.md). Both authenticate with the same hashed
// API keys. A request's or stream's context is owned by its transport and
// ends when the client goes away; it is passed to the API, so a client that
// disconnects cancels its invocation.
package server
