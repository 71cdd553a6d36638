// Package runtime is the Host's side of its runtimes: the one interface
// every source of tools is adapted to (Conn, with the optional Streamer),
// the runtime-facing gRPC service that runtimes dial (one bidirectional
// stream per runtime: announce, discover, fulfil, then calls, results,
// chunks and heartbeats), and the registry of connected runtimes with their
// health.
//
// The protocol loop (Service.Serve) is transport-neutral: it runs over any
// MessageStream, a gRPC stream (Service.Connect) or a WebSocket adapted by
// gateway/server.
//
// Lifecycle and contexts: a stream's context is owned by its transport
// (gRPC, or the WebSocket handler) and ends when the runtime disconnects; a runtime's reader goroutine
// and heartbeat loop are owned by that stream and stop with it. A call's
// context is owned by the caller of Conn.Invoke; cancelling it sends
// CancelInvocation. When a runtime disconnects, Done is closed and every
// call in flight on it fails at once with ERROR_CODE_RUNTIME_UNAVAILABLE.
//
// What a runtime may offer is decided by a ContractAuthority (the contract
// registry); this package never imports it.
package runtime
