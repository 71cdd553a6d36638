package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/runtime"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Version is reported in the runtimes' announcements.
var Version = "dev"

// conn is one attachment of the bridge to the Host: the runtime.Conn the
// engine calls. Every sync attaches a fresh one (the Host replaces the
// previous under the same runtime id) and ends the previous; calls run on
// the bridge's live session whichever conn they came through.
type conn struct {
	b          *Bridge
	sess       *session
	announce   *altarv1.AnnounceRuntime
	structured map[string]bool // by contract name: answers with structuredContent
	done       chan struct{}
	once       sync.Once
}

func (b *Bridge) newConn(sess *session, structured map[string]bool) *conn {
	return &conn{
		b: b, sess: sess, structured: structured, done: make(chan struct{}),
		announce: &altarv1.AnnounceRuntime{
			RuntimeId:       b.srv.RuntimeID(),
			Language:        "mcp",
			Version:         Version,
			ProtocolVersion: altarv1.ProtocolVersion,
			Capabilities:    append(altarv1.CapabilitiesForLevel(altarv1.ComplianceLevel_COMPLIANCE_LEVEL_2), altarv1.CapabilityBinaryPayloads),
			ComplianceLevel: altarv1.ComplianceLevel_COMPLIANCE_LEVEL_2,
			Metadata:        map[string]string{"mcp.server": b.srv.Name, "mcp.transport": b.srv.Transport, "mcp.protocol": sess.protocol},
		},
	}
}

func (c *conn) ID() string                             { return c.announce.GetRuntimeId() }
func (c *conn) Announcement() *altarv1.AnnounceRuntime { return c.announce }
func (c *conn) Transport() string                      { return TransportName }
func (c *conn) Done() <-chan struct{}                  { return c.done }

// end closes Done: the Host stops routing to this attachment. (Not named
// Close: the Host closes what it detaches, and the bridge owns this.)
func (c *conn) end() { c.once.Do(func() { close(c.done) }) }

// Invoke runs one tools/call.
func (c *conn) Invoke(ctx context.Context, call *altarv1.ToolCall) (*altarv1.ToolResult, error) {
	return c.call(ctx, call, nil)
}

// call runs one tools/call on the live session; progress, when not nil,
// receives the server's progress notifications (it must not block).
func (c *conn) call(ctx context.Context, call *altarv1.ToolCall, progress func(*altarv1.Progress)) (*altarv1.ToolResult, error) {
	b := c.b
	sess := b.current()
	if sess == nil {
		return nil, b.errUnavailable("not connected")
	}
	tool, ok := strings.CutPrefix(call.GetToolName(), b.srv.prefix()+PrefixSeparator)
	if !ok {
		return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_TOOL_NOT_FOUND, "MCP server %q serves no tool %q", b.srv.Name, call.GetToolName())
	}
	args, err := schema.MarshalJSON(schema.Object(call.GetParameters()))
	if err != nil {
		return nil, altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENTS, err, "encoding the arguments")
	}
	// The call ends with its caller's context or with the session.
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(sess.ctx, cancel)
	defer stop()

	req := mcp.CallToolRequest{}
	req.Params.Name = tool
	req.Params.Arguments = json.RawMessage(args)
	if progress != nil {
		sess.mu.Lock()
		sess.next++
		token := "altar-" + strconv.FormatUint(sess.next, 10)
		sess.progress[token] = progress
		sess.mu.Unlock()
		defer func() {
			sess.mu.Lock()
			delete(sess.progress, token)
			sess.mu.Unlock()
		}()
		req.Params.Meta = &mcp.Meta{ProgressToken: token}
	}
	var res *mcp.CallToolResult
	if progress == nil && sess.direct.usable() {
		var payload *altarv1.Value
		res, payload, err = sess.direct.call(cctx, tool, args, b.lim, c.structured[call.GetToolName()])
		if payload != nil {
			return &altarv1.ToolResult{Status: altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS, Payload: payload}, nil
		}
	} else {
		res, err = sess.client.CallTool(cctx, req)
	}
	if err != nil {
		var te *transport.Error
		switch {
		case ctx.Err() != nil:
			return nil, altarerr.From(ctx.Err())
		case sess.ctx.Err() != nil:
			return nil, b.errUnavailable("the server went away during the call")
		case deadlineNear(ctx):
			// mcp-go's SSE transport times a request out by the context's
			// deadline itself, a moment before the context ends.
			return nil, altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED, err, "MCP server %q: no result by the call's deadline", b.srv.Name)
		case errors.As(err, new(*altarerr.Error)):
			return nil, err // the direct caller's own refusal (a result too large)
		case errors.As(err, &te):
			select { // have the supervisor check the server now
			case b.check <- struct{}{}:
			default:
			}
			return nil, altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE, err, "MCP server %q", b.srv.Name).
				WithDetail("runtime_id", b.srv.RuntimeID())
		}
		// A JSON-RPC error: the server refused this call.
		msg := err.Error()
		if len(msg) > 4096 {
			msg = strings.ToValidUTF8(msg[:4096], "") + "…"
		}
		return &altarv1.ToolResult{Status: altarv1.ToolResultStatus_TOOL_RESULT_STATUS_ERROR,
			Error: &altarv1.Error{Code: altarv1.ErrorCode_ERROR_CODE_TOOL_FAILED, Message: "MCP error: " + msg}}, nil
	}
	return callResult(res, c.structured[call.GetToolName()], b.lim)
}

// Stream runs one tools/call whose progress notifications become chunks;
// the result is the final chunk.
func (c *conn) Stream(ctx context.Context, call *altarv1.ToolCall) (runtime.ChunkStream, error) {
	if c.b.current() == nil {
		return nil, c.b.errUnavailable("not connected")
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &chunkStream{ctx: ctx, cancel: cancel, chunks: make(chan *altarv1.StreamChunk, 16), finished: make(chan struct{})}
	progress := make(chan *altarv1.Progress, 64)
	results := make(chan callOutcome, 1)
	c.b.workers.Go(func() {
		res, err := c.call(ctx, call, func(p *altarv1.Progress) {
			select { // progress is advisory: a reader far behind misses some
			case progress <- p:
			default:
			}
		})
		results <- callOutcome{res, err}
	})
	go func() {
		defer close(s.finished)
		var id uint64
		send := func(ch *altarv1.StreamChunk) bool {
			id++
			ch.ChunkId, ch.InvocationId, ch.CorrelationId = id, call.GetInvocationId(), call.GetCorrelationId()
			select {
			case s.chunks <- ch:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for {
			select {
			case p := <-progress:
				if !send(&altarv1.StreamChunk{Progress: p}) {
					<-results
					return
				}
			case out := <-results:
				// Progress that arrived before the result goes first.
				for drained := false; !drained; {
					select {
					case p := <-progress:
						if !send(&altarv1.StreamChunk{Progress: p}) {
							return
						}
					default:
						drained = true
					}
				}
				final := &altarv1.StreamChunk{IsFinal: true}
				switch {
				case out.err != nil:
					final.Error = altarerr.From(out.err).Proto()
				case out.res.GetStatus() == altarv1.ToolResultStatus_TOOL_RESULT_STATUS_ERROR:
					final.Error = out.res.GetError()
				default:
					final.Payload = out.res.GetPayload()
				}
				send(final)
				return
			}
		}
	}()
	return s, nil
}

// maxCallWorkers bounds the goroutines that run a bridge's streamed calls
// and live until Close; a call beyond them gets a goroutine of its own.
// Each call's function must end once the session it calls on ends.
const maxCallWorkers = 64

type callOutcome struct {
	res *altarv1.ToolResult
	err error
}

type chunkStream struct {
	ctx      context.Context
	cancel   context.CancelFunc
	chunks   chan *altarv1.StreamChunk
	finished chan struct{}
	ended    bool
	once     sync.Once
}

func (s *chunkStream) Recv() (*altarv1.StreamChunk, error) {
	if s.ended {
		return nil, io.EOF
	}
	select {
	case ch := <-s.chunks:
		if ch.GetIsFinal() || ch.GetError() != nil {
			s.ended = true
		}
		return ch, nil
	case <-s.ctx.Done():
		s.ended = true
		return nil, altarerr.From(s.ctx.Err())
	}
}

// Close cancels the call if it still runs and waits for its goroutines.
func (s *chunkStream) Close() error {
	s.once.Do(func() {
		s.cancel()
		<-s.finished
	})
	return nil
}

var (
	_ runtime.Conn     = (*conn)(nil)
	_ runtime.Streamer = (*conn)(nil)
)

// deadlineNear reports whether ctx's deadline is at most 50ms away.
func deadlineNear(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) <= 50*time.Millisecond
}
