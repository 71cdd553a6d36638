// Package callworkers runs calls on long-lived goroutines.
//
// A goroutine started per call begins with a small stack and regrows it
// through the encoding every call does (protobuf in the Go SDK, mcp-go's
// JSON in the MCP bridge): runtime.newstack was a quarter of a runtime's
// CPU with 64 calls at once. A Pool hands each call to an idle worker, starts
// a new worker up to its bound, and past it gives the call a goroutine of
// its own, so a burst never waits for a worker. Workers keep their grown
// stacks and live until the pool's stop channel closes.
package callworkers
