// Command upstream is configuration (a) of the MCP benchmark
// (e2e/perf/mcpbench/run.sh): a plain mcp-go server with one `echo` tool over
// streamable HTTP at /mcp, in a process of its own. It counts the TCP
// connections it accepts and serves the count, as JSON, on a separate
// listener (-stats-addr, GET /stats), so that asking does not add to it: the
// benchmark checks with it that the MCP bridge reuses its connections to
// this server instead of opening one per call.
//
// It stops on SIGINT or SIGTERM; every connection's requests end with it.
package main
