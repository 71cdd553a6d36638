package invoke

import (
	"context"
	"errors"
	"io"
	"strconv"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/runtime"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// InvokeStream runs one streaming call and hands its chunks to send, from
// the calling goroutine, in chunk_id order (1, 2, 3, ...), each stamped
// with the invocation and correlation ids. The next chunk is not read from
// the runtime until send returns, so a slow send slows the runtime down
// (backpressure) instead of growing a buffer; only chunks that arrive out
// of order are held, at most WithMaxStreamBuffer of them.
//
// The tool's contract must support streaming (else INVALID_REQUEST) and a
// runtime that fulfils it must implement runtime.Streamer (else
// UNIMPLEMENTED). The last chunk sent is final: is_final set, or an error
// (a chunk with an error is always final and its payload is dropped).
//
// A failure before any chunk was sent is returned as an *altarerr.Error and
// send is never called. A failure after (a gap that never fills:
// STREAM_BROKEN; the deadline; cancellation; the runtime going away) is
// sent as a final chunk carrying the error, and InvokeStream returns nil.
// When send fails the stream is cancelled at the runtime and that failure
// is returned (code CANCELLED, wrapping send's error).
//
// A streamed invocation_id is never repeated: reusing it is refused
// with ALREADY_EXISTS. Only the opening of the stream is retried (for
// idempotent tools), never a stream that has started.
func (e *Engine) InvokeStream(ctx context.Context, req *altarv1.InvokeRequest, send func(*altarv1.StreamChunk) error) error {
	if send == nil {
		return altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, "InvokeStream needs a send function")
	}
	p, perr := e.prepare(ctx, req, true)
	if perr != nil {
		e.logFailure(ctx, &p, "", 0, perr)
		return perr
	}
	ctx, cancel := callContext(ctx, &p)
	defer cancel()
	c := e.newCall(&p, true, cancel, e.clock.Now())
	if _, run, err := e.join(ctx, c); !run {
		return err
	}

	if tl := e.toolLimiter(p.tgt.Contract.GetName()); tl != nil {
		if aerr := e.acquireTool(ctx, c, &p, tl); aerr != nil {
			return aerr
		}
		start := e.clock.Now()
		defer func() { tl.release(e.clock.Now().Sub(start)) }()
	}

	tc := toolCall(c, &p, true)
	var (
		tried      uint64
		dispatched bool
		lastErr    *altarerr.Error
	)
	for attempt := uint32(1); ; attempt++ {
		if ctx.Err() != nil {
			lastErr = stampIDs(ctxError(ctx, c, p.timeout), c.id, c.correlationID)
			break
		}
		if attempt > 1 {
			tc = retryCall(tc, attempt)
		}
		pk, local, err := e.pickRuntime(ctx, p.tgt.RuntimeIDs, tried, true)
		if err != nil {
			lastErr = asLocalError(ctx, c, err)
			if local || ctx.Err() != nil {
				break
			}
		} else {
			tried |= uint64(1) << pk.index
			dispatched = true
			pk.start = e.clock.Now()
			c.setExecuting(pk.rt.id, attempt, pk.start)
			ts := pk.rt.stats.get(p.tgt.Name)
			ts.inFlight.Add(1)
			cs, err := pk.conn.(runtime.Streamer).Stream(ctx, tc)
			if err == nil {
				return e.pump(ctx, c, &p, &pk, ts, cs, send)
			}
			ts.inFlight.Add(-1)
			if ctx.Err() != nil {
				lastErr = ctxError(ctx, c, p.timeout)
			} else {
				lastErr = altarerr.From(err)
			}
			lastErr = stampIDs(lastErr, c.id, c.correlationID).WithDetail("runtime_id", pk.rt.id)
			elapsed := e.clock.Now().Sub(pk.start)
			ts.record(elapsed, lastErr.Code)
			e.release(&pk, lastErr.Code, elapsed)
		}
		wait, ok := e.backoff(ctx, c, lastErr, attempt)
		if !ok {
			break
		}
		if err := e.sleep(ctx, wait); err != nil {
			lastErr = stampIDs(ctxError(ctx, c, 0), c.id, c.correlationID)
			break
		}
	}
	if !dispatched {
		e.tools.stats.get(p.tgt.Name).record(e.clock.Now().Sub(c.created), lastErr.Code)
	}
	e.finish(c, nil, lastErr, dispatched, !dispatched)
	e.logFailure(ctx, &p, c.runtime(), c.attemptCount(), lastErr)
	return lastErr
}

// pump reads the runtime's chunks, puts them in order and sends them on,
// then records the outcome. It owns cs and closes it.
func (e *Engine) pump(ctx context.Context, c *call, p *prepared, pk *pick, ts *toolStats,
	cs runtime.ChunkStream, send func(*altarv1.StreamChunk) error) error {
	// Closing the stream when ctx ends unblocks a Recv that does not watch
	// the context itself; no goroutine runs unless ctx ends first.
	stop := context.AfterFunc(ctx, func() { _ = cs.Close() })
	r := reorderer{max: e.cfg.maxStreamBuffer, next: 1}
	var (
		final   *altarv1.StreamChunk // the final chunk delivered
		failure *altarerr.Error      // the engine's or transport's failure
		sendErr error
	)
	deliver := func(ch *altarv1.StreamChunk) bool {
		ch.InvocationId, ch.CorrelationId = c.id, c.correlationID
		if ch.Error != nil {
			ch.IsFinal, ch.Payload = true, nil
			if ch.Error.Code == altarv1.ErrorCode_ERROR_CODE_UNSPECIFIED {
				ch.Error.Code = altarv1.ErrorCode_ERROR_CODE_TOOL_FAILED
			}
			ch.Error.InvocationId, ch.Error.CorrelationId = c.id, c.correlationID
		}
		if err := send(ch); err != nil {
			sendErr = err
			return false
		}
		if ch.IsFinal {
			final = ch
			return false
		}
		return true
	}
	for final == nil && failure == nil && sendErr == nil {
		ch, err := cs.Recv()
		if err != nil {
			switch {
			case ctx.Err() != nil:
				failure = ctxError(ctx, c, p.timeout)
			case errors.Is(err, io.EOF):
				failure = r.endedEarly()
			default:
				failure = altarerr.From(err)
			}
			continue
		}
		ready, ferr := r.accept(ch)
		if ferr != nil {
			failure = ferr
			break
		}
		for ch := ready; ch != nil; ch = r.pop() {
			if !deliver(ch) {
				break
			}
		}
	}
	stop()
	_ = cs.Close()
	ts.inFlight.Add(-1)
	elapsed := e.clock.Now().Sub(pk.start)

	switch {
	case sendErr != nil:
		// The client went away (or its transport failed): closing the
		// stream above cancelled the runtime's work.
		aerr := stampIDs(altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_CANCELLED, sendErr,
			"delivering chunk %d failed", r.next), c.id, c.correlationID)
		ts.record(elapsed, aerr.Code)
		e.release(pk, aerr.Code, elapsed)
		e.finish(c, nil, aerr, true, false)
		e.logFailure(ctx, p, pk.rt.id, c.attemptCount(), aerr)
		return aerr
	case failure != nil:
		failure = stampIDs(failure, c.id, c.correlationID).WithDetail("runtime_id", pk.rt.id)
		ts.record(elapsed, failure.Code)
		e.release(pk, failure.Code, elapsed)
		e.finish(c, nil, failure, true, false)
		e.logFailure(ctx, p, pk.rt.id, c.attemptCount(), failure)
		if r.sent == 0 {
			return failure
		}
		if err := send(&altarv1.StreamChunk{
			InvocationId:  c.id,
			CorrelationId: c.correlationID,
			ChunkId:       r.next,
			IsFinal:       true,
			Error:         failure.Proto(),
		}); err != nil {
			return stampIDs(altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_CANCELLED, err,
				"delivering the final chunk failed"), c.id, c.correlationID)
		}
		return nil
	}
	res := &altarv1.ToolResult{
		InvocationId:  c.id,
		CorrelationId: c.correlationID,
		Status:        altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS,
		RuntimeId:     pk.rt.id,
		Metadata:      map[string]string{"chunks": strconv.FormatUint(r.sent, 10)},
	}
	code := altarv1.ErrorCode_ERROR_CODE_UNSPECIFIED
	if final.Error != nil {
		res.Status, res.Error = altarv1.ToolResultStatus_TOOL_RESULT_STATUS_ERROR, final.Error
		code = final.Error.Code
	}
	ts.record(elapsed, code)
	// An error chunk is the tool's answer: the runtime did its job.
	e.release(pk, altarv1.ErrorCode_ERROR_CODE_UNSPECIFIED, elapsed)
	e.finish(c, res, nil, true, false)
	return nil
}

// reorderer puts chunks in chunk_id order. Chunks that arrive early wait in
// a map bounded by max; a chunk id seen twice, or 0, breaks the protocol.
type reorderer struct {
	max  int
	next uint64 // the chunk_id due next
	sent uint64 // chunks handed out by accept and pop
	held map[uint64]*altarv1.StreamChunk
}

// accept takes a chunk from the runtime and returns it if it is the one
// due (then pop yields the held ones that follow it), nil if it is held.
func (r *reorderer) accept(ch *altarv1.StreamChunk) (*altarv1.StreamChunk, *altarerr.Error) {
	switch id := ch.GetChunkId(); {
	case ch == nil:
		return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_PROTOCOL_VIOLATION, "the runtime sent an empty chunk")
	case id == 0:
		return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_PROTOCOL_VIOLATION, "the runtime sent a chunk with chunk_id 0 (ids start at 1)")
	case id < r.next || r.held[id] != nil:
		return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_PROTOCOL_VIOLATION, "the runtime sent chunk %d twice", id)
	case id > r.next:
		if len(r.held) >= r.max {
			return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_STREAM_BROKEN,
				"chunk %d never arrived while %d later chunks did", r.next, len(r.held)).
				WithDetail("missing_chunk", strconv.FormatUint(r.next, 10))
		}
		if r.held == nil {
			r.held = make(map[uint64]*altarv1.StreamChunk)
		}
		r.held[id] = ch
		return nil, nil
	}
	r.next++
	r.sent++
	return ch, nil
}

// pop returns the held chunk that is now due, if any.
func (r *reorderer) pop() *altarv1.StreamChunk {
	ch := r.held[r.next]
	if ch == nil {
		return nil
	}
	delete(r.held, r.next)
	r.next++
	r.sent++
	return ch
}

// endedEarly explains a stream that ended before its final chunk.
func (r *reorderer) endedEarly() *altarerr.Error {
	if len(r.held) > 0 {
		return altarerr.New(altarv1.ErrorCode_ERROR_CODE_STREAM_BROKEN,
			"the stream ended with chunk %d missing", r.next).
			WithDetail("missing_chunk", strconv.FormatUint(r.next, 10))
	}
	return altarerr.New(altarv1.ErrorCode_ERROR_CODE_STREAM_BROKEN, "the stream ended without a final chunk")
}
