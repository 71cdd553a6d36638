// Package invoketest has fakes for testing the invocation engine and the
// code around it: a runtime connection and a chunk stream with function
// fields, a runtime registry, a resolver, and a clock that moves only when
// told. Integration tests of the Host use them to stand in for real
// runtimes.
package invoketest

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/runtime"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Conn is a fake runtime.Conn (and runtime.Streamer) whose behaviour is its
// function fields. Set them before the Conn is used. It counts calls.
type Conn struct {
	// IDValue is what ID returns.
	IDValue string
	// AnnouncementValue is what Announcement returns; nil gives one with
	// IDValue as the runtime id.
	AnnouncementValue *altarv1.AnnounceRuntime
	// InvokeFunc answers Invoke; nil answers SUCCESS with the parameters
	// as an object payload.
	InvokeFunc func(ctx context.Context, call *altarv1.ToolCall) (*altarv1.ToolResult, error)
	// StreamFunc answers Stream; nil refuses with UNIMPLEMENTED.
	StreamFunc func(ctx context.Context, call *altarv1.ToolCall) (runtime.ChunkStream, error)

	invokes atomic.Int64
	streams atomic.Int64

	doneOnce sync.Once
	done     chan struct{}
	initOnce sync.Once
}

// NewConn returns a Conn with the id whose Invoke echoes its parameters.
func NewConn(id string) *Conn { return &Conn{IDValue: id} }

func (c *Conn) init() { c.initOnce.Do(func() { c.done = make(chan struct{}) }) }

// ID returns IDValue.
func (c *Conn) ID() string { return c.IDValue }

// Announcement returns AnnouncementValue or a minimal announcement.
func (c *Conn) Announcement() *altarv1.AnnounceRuntime {
	if c.AnnouncementValue != nil {
		return c.AnnouncementValue
	}
	return &altarv1.AnnounceRuntime{RuntimeId: c.IDValue, ProtocolVersion: altarv1.ProtocolVersion}
}

// Transport returns "inprocess".
func (c *Conn) Transport() string { return "inprocess" }

// Invoke counts the call and runs InvokeFunc.
func (c *Conn) Invoke(ctx context.Context, call *altarv1.ToolCall) (*altarv1.ToolResult, error) {
	c.invokes.Add(1)
	if c.InvokeFunc != nil {
		return c.InvokeFunc(ctx, call)
	}
	return Echo(ctx, call)
}

// Stream counts the call and runs StreamFunc.
func (c *Conn) Stream(ctx context.Context, call *altarv1.ToolCall) (runtime.ChunkStream, error) {
	c.streams.Add(1)
	if c.StreamFunc != nil {
		return c.StreamFunc(ctx, call)
	}
	return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_UNIMPLEMENTED, "fake runtime %q does not stream", c.IDValue)
}

// Done is closed by Close.
func (c *Conn) Done() <-chan struct{} {
	c.init()
	return c.done
}

// Close ends the connection: Done is closed. Idempotent. An InvokeFunc
// that wants to fail calls in flight selects on Done.
func (c *Conn) Close() {
	c.init()
	c.doneOnce.Do(func() { close(c.done) })
}

// Invokes is how many times Invoke was called.
func (c *Conn) Invokes() int { return int(c.invokes.Load()) }

// Streams is how many times Stream was called.
func (c *Conn) Streams() int { return int(c.streams.Load()) }

// Echo answers SUCCESS with the call's parameters as an object.
func Echo(_ context.Context, call *altarv1.ToolCall) (*altarv1.ToolResult, error) {
	return &altarv1.ToolResult{
		Status:  altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS,
		Payload: &altarv1.Value{Kind: &altarv1.Value_ObjectValue{ObjectValue: &altarv1.ObjectValue{Fields: call.GetParameters()}}},
	}, nil
}

// Success returns a SUCCESS result with the payload.
func Success(payload *altarv1.Value) *altarv1.ToolResult {
	return &altarv1.ToolResult{Status: altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS, Payload: payload}
}

// Failure returns an ERROR result (the tool's own failure) with the code.
func Failure(code altarv1.ErrorCode, msg string) *altarv1.ToolResult {
	return &altarv1.ToolResult{
		Status: altarv1.ToolResultStatus_TOOL_RESULT_STATUS_ERROR,
		Error:  &altarv1.Error{Code: code, Message: msg},
	}
}

// Unavailable is the error a Conn returns when its runtime went away.
func Unavailable(id string) error {
	return altarerr.New(altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE, "runtime %q disconnected", id)
}

// Blocking returns an InvokeFunc that reports each call on started, then
// waits for ctx to end or for the Conn's Done (failing as a disconnected
// runtime) or for release to be closed (answering Echo).
func (c *Conn) Blocking(started chan<- *altarv1.ToolCall, release <-chan struct{}) func(context.Context, *altarv1.ToolCall) (*altarv1.ToolResult, error) {
	return func(ctx context.Context, call *altarv1.ToolCall) (*altarv1.ToolResult, error) {
		if started != nil {
			select {
			case started <- call:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.Done():
			return nil, Unavailable(c.IDValue)
		case <-release:
			return Echo(ctx, call)
		}
	}
}

var (
	_ runtime.Conn     = (*Conn)(nil)
	_ runtime.Streamer = (*Conn)(nil)
)
