// Package server holds the Host's transports. Each is a thin adapter from a
// wire protocol to the API interface (implemented by the composition root,
// gateway.Host): it decodes requests, maps errors to the transport's status
// through altarerr, and never holds business logic.
//
// This file set starts with gRPC: the client-facing HostService, the
// runtime-facing RuntimeService and the standard health service on one
// grpc.Server. A stream's context is owned by gRPC and ends when the client
// goes away; InvokeStream passes it to the API so that a client that
// disconnects cancels its invocation.
package server
