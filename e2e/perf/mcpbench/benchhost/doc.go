// Command benchhost is the ALTAR side of the MCP benchmark
// (e2e/perf/mcpbench/run.sh): one gateway.Host, built with the library as
// cmd/altar/serve.go builds it, with the MCP facade at /mcp on its HTTP port,
// serving two tools:
//
//   - echo, configuration (b): a native contract (the manifest below)
//     fulfilled by a Go SDK handler attached in process with
//     runtime.NewInProcess, as `altar serve` attaches its built-in example
//     runtime. `altar serve` has no echo tool and no way to attach an
//     in-process runtime from configuration, hence this binary rather than a
//     product change.
//   - up.echo, configuration (c): the upstream mcp-go server (-upstream,
//     e2e/perf/mcpbench/upstream) bridged by bridges/mcp over streamable
//     HTTP, exactly what an `mcp_servers:` entry of altar.yaml starts, with
//     its lock file in a temporary directory (pinned on first use).
//
// Calls go through the facade and the invocation engine like any other
// (sessions, validation, deadlines, audit to the discarded log). It stops on
// SIGINT or SIGTERM: the bridge and the Host are closed, the temporary
// directory removed.
package main
