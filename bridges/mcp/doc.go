// Package mcp bridges MCP servers into ALTAR: each configured server (over
// stdio, streamable HTTP or SSE, with mark3labs/mcp-go as the client) is one
// runtime whose tools become trusted contracts named "<prefix>.<tool>".
//
// # Trust: the lock file
//
// An MCP server defines its own tools, and a server may change what a tool
// means between two starts. The lock file (Lock) is the trust root: the
// first import of a server pins every tool's definition (title,
// description, input and output schema, annotations) with its SHA-256.
// Afterwards, in STRICT mode, a tool whose definition differs from its pin,
// and a tool with no pin, is withdrawn (not trusted, not served, not
// callable), logged and audited, until `altar contracts approve SERVER
// [TOOL]` accepts it into the lock. In DEVELOPMENT mode the live definition
// is served with a warning. A running bridge polls the lock file and picks
// up approvals without a restart.
//
// # Mapping
//
// A tool becomes a contract: its input schema the parameters and its output
// schema the return type (gateway/schema/jsonschema.Import), its
// annotations the flags (readOnlyHint → read_only, idempotentHint →
// idempotent, destructiveHint → destructive, openWorldHint → open_world;
// MCP's defaults when absent: not read-only, destructive, not idempotent,
// open world), supports_streaming set (progress notifications are stream
// chunks). A result maps to a Value: a tool with an output schema answers
// with its structuredContent; any other with an object {"content": [...]}
// (plus "structuredContent" when the server sent one), each content block an
// object with its "type": text {text}, image and audio {data (bytes),
// mimeType}, resource_link {uri, name, title, description, mimeType},
// resource {uri, mimeType, text or blob (bytes)}. isError is a tool failure
// (TOOL_FAILED with the text content as message). Everything from the
// server is bounded (Limits) before it is mapped.
//
// # Lifecycle and contexts
//
// New checks the configuration and does no I/O. Start connects (bounded by
// the server's timeout) and then owns one supervisor goroutine that keeps
// the server connected: it restarts a stdio server that exits, reconnects
// an HTTP server that stops answering (pings), both with exponential
// backoff, re-lists tools on notifications/tools/list_changed and re-reads
// the lock file when it changes. Close stops the supervisor, cancels every
// call in flight and closes the server (a stdio server is stopped); it is
// idempotent and safe after a failed Start.
//
// A call's context is owned by the caller of Conn.Invoke or Conn.Stream:
// its deadline bounds the MCP request, and cancelling it sends
// notifications/cancelled (mcp-go does over stdio; the bridge's transport
// wrappers do over HTTP and SSE). When the server dies, every call in
// flight on it fails at once with RUNTIME_UNAVAILABLE.
package mcp
