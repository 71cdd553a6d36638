// Command load is the MCP benchmark's load generator
// (e2e/perf/mcpbench/run.sh): N clients built with mcp-go's client over
// streamable HTTP, each with its own MCP session (initialize once, protocol
// 2025-11-25), call one tool in a loop for a warm-up and then for the
// measured duration; it prints one JSON object: calls/s, p50 and p99 of the
// per-call latency, and (with -stats-url) how many connections the upstream
// server accepted during the measured part, and (with -cpu-pids, on Linux)
// the CPU time each process spent per call in it, this one included.
//
// Every call has a deadline (-call-timeout); a failed call or a tool error
// fails the run, with the first error.
package main
