// Package mcp is the MCP facade: it serves the Host's tools to MCP clients
// (desktop assistants, agent frameworks, the MCP inspector) over the
// streamable HTTP transport, the older HTTP+SSE transport and stdio, built
// on mark3labs/mcp-go's server package.
//
// The facade holds no tools of its own. tools/list asks the Host which
// tools the caller's ALTAR session may see, keeps those a runtime serves
// and the caller's key may call (a contract's "role" security requirement),
// and describes each with its input schema as JSON Schema, an output schema
// from its return type and annotations from its flags. tools/call goes
// through the Host's invocation engine like every other transport
// (validation, deadlines, limits, breakers, audit); a streaming contract's
// chunks become progress notifications and the call's result.
//
// Sessions: every MCP session is one ALTAR session. On the HTTP
// transports the ALTAR session is created when the client initializes, and
// its id is the MCP session id (the Mcp-Session-Id header, or the SSE
// sessionId); on stdio it is created when the stream starts. The session
// is destroyed when the MCP session ends (DELETE, the SSE stream closing,
// stdin closing, or mcp-go's idle sweep) and expires with the Host's
// session TTL when neither happens; a request naming a session that
// expired is answered 404, which tells the client to initialize again.
// Sessions are bounded by the Host's sessions.max_sessions. A session can
// only be used with the credential that created it. Requests of protocol
// revision 2026-07-28, which has no sessions, run without an ALTAR session
// (they see the tools every session sees).
//
// Lifecycle and contexts: New builds the facade (no I/O). Handler serves
// HTTP; the request's context (owned by net/http, carrying the caller's
// principal set by the gateway's authentication) is the call's context, so
// a client that disconnects, or sends notifications/cancelled, cancels the
// invocation. ServeStdio serves one client until stdin closes or its
// context ends. Close ends every open stream and session and stops mcp-go's
// session sweeper; it is idempotent.
package mcp
