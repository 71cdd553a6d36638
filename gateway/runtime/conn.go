package runtime

import (
	"context"

	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Conn is one connected source of tools as the invocation engine sees it: a
// runtime dialled in over gRPC, a go-plugin subprocess, or a bridge (MCP
// server, REST API, database, filesystem). The engine never knows which.
//
// Implementations must be safe for concurrent use: the engine calls Invoke
// from many goroutines at once.
type Conn interface {
	// ID is the runtime's id, unique among the Host's connected runtimes.
	ID() string
	// Announcement is what the runtime said about itself when it connected.
	// Callers must not modify it.
	Announcement() *altarv1.AnnounceRuntime
	// Transport names how it is connected: "grpc", "websocket", "plugin",
	// "bridge:mcp", "inprocess", ...
	Transport() string
	// Invoke executes one call. ctx is owned by the caller: its deadline is
	// the call's deadline (already written into call.Deadline), and
	// cancelling it must reach the runtime as CancelInvocation.
	//
	// A tool's own failure is a ToolResult with status ERROR (and a nil
	// error). A non-nil error means no trustworthy result exists: the
	// runtime went away (ERROR_CODE_RUNTIME_UNAVAILABLE), the deadline passed
	// (ERROR_CODE_DEADLINE_EXCEEDED), the caller cancelled
	// (ERROR_CODE_CANCELLED), or the runtime broke the protocol.
	Invoke(ctx context.Context, call *altarv1.ToolCall) (*altarv1.ToolResult, error)
	// Done is closed when the connection has ended. Calls in flight then
	// fail at once with ERROR_CODE_RUNTIME_UNAVAILABLE.
	Done() <-chan struct{}
}

// Streamer is a Conn that can stream a call's result.
type Streamer interface {
	Conn
	// Stream starts a streaming call (call.Stream is set). ctx is owned by
	// the caller and bounds the whole stream; cancelling it cancels the
	// invocation. The ChunkStream must be closed by the caller.
	Stream(ctx context.Context, call *altarv1.ToolCall) (ChunkStream, error)
}

// ChunkStream yields a streaming call's chunks as the runtime sent them
// (the engine puts them in chunk_id order and detects gaps). Recv returns
// the final chunk (is_final, or one carrying an error) and then io.EOF.
// Recv blocks until a chunk arrives, the stream fails, or the stream's
// context ends; a slow reader makes the runtime wait (bounded buffers, never
// unbounded memory).
type ChunkStream interface {
	Recv() (*altarv1.StreamChunk, error)
	// Close releases the stream. Closing before the final chunk cancels the
	// invocation. Close is idempotent.
	Close() error
}

// Health is a runtime's health as the Host sees it.
type Health = altarv1.RuntimeHealth

// Health states.
const (
	Healthy   = altarv1.RuntimeHealth_RUNTIME_HEALTH_HEALTHY
	Degraded  = altarv1.RuntimeHealth_RUNTIME_HEALTH_DEGRADED
	Unhealthy = altarv1.RuntimeHealth_RUNTIME_HEALTH_UNHEALTHY
)
