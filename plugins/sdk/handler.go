package sdk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// MaxCollectedChunks bounds the values a streaming tool may emit when it is
// called without streaming (its result is then the array of them all).
const MaxCollectedChunks = 100_000

// maxPanicMessage bounds the panic text that goes back to the Host.
const maxPanicMessage = 256

// errStreamEnded is what emit returns after the tool has returned.
var errStreamEnded = errors.New("sdk: emit called after the tool returned")

// Handler executes ToolCalls against a fixed set of tools. It knows nothing
// of transports: the gRPC runtime (Runtime) feeds it calls from its stream,
// and an in-process or plugin transport can do the same. It is safe for
// concurrent use.
//
// Contexts: the ctx passed to Invoke or Stream is owned by the transport;
// cancelling it cancels the tool (with context.Cause telling why, which
// decides the answer's code). The Handler adds the call's deadline and the
// call itself (CallFromContext).
type Handler struct {
	tools map[string]*tool
	list  []Tool
	log   *slog.Logger
}

// NewHandler returns a Handler for the tools. It refuses a tool that failed
// to build (see Tool.Err) and two tools with one name. Of the options only
// WithLogger applies.
func NewHandler(tools []Tool, opts ...Option) (*Handler, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o.apply(&cfg)
	}
	return newHandler(tools, cfg.logger)
}

func newHandler(tools []Tool, log *slog.Logger) (*Handler, error) {
	h := &Handler{tools: make(map[string]*tool, len(tools)), log: log}
	var errs []error
	for i, t := range tools {
		if err := t.Err(); err != nil {
			errs = append(errs, fmt.Errorf("tools[%d]: %w", i, err))
			continue
		}
		if _, dup := h.tools[t.t.name]; dup {
			errs = append(errs, fmt.Errorf("tools[%d]: sdk: two tools are named %q", i, t.t.name))
			continue
		}
		h.tools[t.t.name] = t.t
		h.list = append(h.list, t)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return h, nil
}

// Tools returns the handler's tools in the order given.
func (h *Handler) Tools() []Tool { return append([]Tool(nil), h.list...) }

// Invoke executes a call and returns its result; it never returns nil. A
// streaming tool called this way answers with the array of every value it
// emitted. A tool's failure is a result with status ERROR: TOOL_FAILED for a
// plain error or a panic, the code of an *altarerr.Error it returned,
// CANCELLED or DEADLINE_EXCEEDED when ctx ended or the deadline passed,
// TOOL_NOT_FOUND for an unknown tool, INVALID_ARGUMENTS for arguments that
// do not fit the tool's Go parameters.
func (h *Handler) Invoke(ctx context.Context, call *altarv1.ToolCall) *altarv1.ToolResult {
	start := time.Now()
	res := &altarv1.ToolResult{InvocationId: call.GetInvocationId(), CorrelationId: call.GetCorrelationId()}
	t, errv := h.lookup(call)
	if t == nil {
		res.Status, res.Error = altarv1.ToolResultStatus_TOOL_RESULT_STATUS_ERROR, errv
		return res
	}
	ctx, cancel := callContext(ctx, call)
	defer cancel()

	var v *altarv1.Value
	var err error
	if t.streaming {
		var mu sync.Mutex
		var items []*altarv1.Value
		ended := false
		_, err = h.run(ctx, t, call, func(v *altarv1.Value) error {
			mu.Lock()
			defer mu.Unlock()
			switch {
			case ended:
				return errStreamEnded
			case ctx.Err() != nil:
				return ctx.Err()
			case len(items) >= MaxCollectedChunks:
				return altarerr.New(altarv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED,
					"tool %q emitted more than %d values; call it with streaming", t.name, MaxCollectedChunks)
			}
			items = append(items, v)
			return nil
		})
		mu.Lock()
		ended = true
		v = schema.Array(items...)
		mu.Unlock()
	} else {
		v, err = h.run(ctx, t, call, nil)
	}
	res.ExecutionTimeMs = time.Since(start).Milliseconds()
	if err != nil {
		res.Status, res.Error = altarv1.ToolResultStatus_TOOL_RESULT_STATUS_ERROR, h.failure(ctx, t, call, err)
		return res
	}
	res.Status, res.Payload = altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS, v
	return res
}

// Stream executes a call and sends its answer as chunks through send:
// chunk_id from 1, one chunk per emitted value, then one final chunk
// (is_final set, no payload) when the tool succeeds, or an error chunk
// (error and is_final set) when it fails. A unary tool answers with one
// final chunk carrying its result.
//
// send is called from the tool's goroutine (one call at a time) with the
// call's context (ctx plus the call's deadline), and may block: that is how
// backpressure reaches emit. For a chunk that does not end the stream, send
// should give up and return an error once callCtx is done (emit then
// returns it to the tool); the chunk that ends the stream (is_final set)
// should be delivered even though callCtx is done, since it carries the
// CANCELLED or DEADLINE_EXCEEDED answer. Stream returns the error of that
// last send, if any.
func (h *Handler) Stream(ctx context.Context, call *altarv1.ToolCall, send func(callCtx context.Context, c *altarv1.StreamChunk) error) error {
	chunk := func(id uint64) *altarv1.StreamChunk {
		return &altarv1.StreamChunk{InvocationId: call.GetInvocationId(), CorrelationId: call.GetCorrelationId(), ChunkId: id}
	}
	t, errv := h.lookup(call)
	if t == nil {
		final := chunk(1)
		final.IsFinal, final.Error = true, errv
		return send(ctx, final)
	}
	ctx, cancel := callContext(ctx, call)
	defer cancel()

	var (
		mu     sync.Mutex
		next   uint64 = 1
		ended  bool
		result *altarv1.Value
		err    error
	)
	if t.streaming {
		_, err = h.run(ctx, t, call, func(v *altarv1.Value) error {
			mu.Lock()
			defer mu.Unlock()
			if ended {
				return errStreamEnded
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			c := chunk(next)
			c.Payload = v
			if err := send(ctx, c); err != nil {
				return err
			}
			next++
			return nil
		})
	} else {
		result, err = h.run(ctx, t, call, nil)
	}
	mu.Lock()
	ended = true
	final := chunk(next)
	mu.Unlock()
	final.IsFinal = true
	if err != nil {
		final.Error = h.failure(ctx, t, call, err)
	} else {
		final.Payload = result
	}
	return send(ctx, final)
}

func (h *Handler) lookup(call *altarv1.ToolCall) (*tool, *altarv1.Error) {
	if t := h.tools[call.GetToolName()]; t != nil {
		return t, nil
	}
	e := altarerr.New(altarv1.ErrorCode_ERROR_CODE_TOOL_NOT_FOUND, "this runtime has no tool named %q", call.GetToolName()).Proto()
	e.InvocationId, e.CorrelationId = call.GetInvocationId(), call.GetCorrelationId()
	return nil, e
}

// callContext adds the call's deadline and the call itself to ctx.
func callContext(ctx context.Context, call *altarv1.ToolCall) (context.Context, context.CancelFunc) {
	ctx = context.WithValue(ctx, callKey{}, call)
	d := call.GetDeadline()
	if d == nil {
		return context.WithCancel(ctx)
	}
	dl := d.AsTime()
	if cur, ok := ctx.Deadline(); ok && !cur.After(dl) {
		// The caller's context already ends by the call's deadline (a
		// Host running the handler in process): a context of our own
		// would only add a level that every cancellation walks through.
		// Whoever called us cancels ctx when the call ends.
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, dl)
}

// run executes the tool, turning a panic into a TOOL_FAILED error. The stack
// goes to the log, never to the Host.
func (h *Handler) run(ctx context.Context, t *tool, call *altarv1.ToolCall, emit func(*altarv1.Value) error) (v *altarv1.Value, err error) {
	defer func() {
		if p := recover(); p != nil {
			h.log.ErrorContext(ctx, "tool panicked", "tool", t.name,
				"invocation_id", call.GetInvocationId(), "correlation_id", call.GetCorrelationId(),
				"panic", p, "stack", string(debug.Stack()))
			v, err = nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_TOOL_FAILED,
				"tool %q panicked: %s", t.name, truncate(fmt.Sprint(p), maxPanicMessage))
		}
	}()
	return t.run(ctx, call.GetParameters(), emit)
}

// failure is the wire error for a tool's err. An *altarerr.Error keeps its
// code; an error after the call was stopped says why it was stopped;
// anything else is the tool's own failure.
func (h *Handler) failure(ctx context.Context, t *tool, call *altarv1.ToolCall, err error) *altarv1.Error {
	var ae *altarerr.Error
	switch {
	case errors.As(err, &ae):
	case ctx.Err() != nil:
		cause := context.Cause(ctx)
		switch {
		case errors.As(cause, &ae):
		case errors.Is(cause, context.DeadlineExceeded):
			ae = altarerr.New(altarv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED,
				"tool %q did not finish before the call's deadline", t.name)
		default:
			ae = altarerr.New(altarv1.ErrorCode_ERROR_CODE_CANCELLED, "call to tool %q was cancelled", t.name)
		}
	default:
		ae = altarerr.New(altarv1.ErrorCode_ERROR_CODE_TOOL_FAILED, "%s", err.Error())
	}
	h.log.DebugContext(ctx, "tool failed", "tool", t.name, "invocation_id", call.GetInvocationId(),
		"correlation_id", call.GetCorrelationId(), "code", altarerr.CodeName(ae.Code), "error", err)
	e := ae.Proto()
	if e.InvocationId == "" {
		e.InvocationId = call.GetInvocationId()
	}
	if e.CorrelationId == "" {
		e.CorrelationId = call.GetCorrelationId()
	}
	return e
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
