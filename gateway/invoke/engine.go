package invoke

import (
	"context"
	crand "crypto/rand"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/auth"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Engine is the invocation engine. It is safe for concurrent use. Build one
// with New; stop it with Close.
type Engine struct {
	resolver Resolver
	runtimes Runtimes
	cfg      config
	log      *slog.Logger
	clock    Clock

	calls     *table
	cache     *resultCache
	rts       rtSet
	tools     toolSet
	digestKey [32]byte

	closed    atomic.Bool
	closeOnce sync.Once
}

// testHooks let tests see the engine reach points they cannot otherwise
// observe. Set only by export_test.go, before any call.
var testHooks struct {
	joined func(invocationID string) // a repeat starts waiting for the first
	queued func(limit string)        // a call starts waiting in a limiter's queue
}

// toolSet maps a tool's contract name to its limiter, and its qualified
// name to the statistics of its calls that never reached a runtime
// (runtime_id "").
type toolSet struct {
	m     atomic.Pointer[map[string]*toolState]
	mu    sync.Mutex
	stats statsSet
}

type toolState struct {
	limiter *limiter
}

// New returns an engine that resolves tools with resolver and finds their
// runtimes in runtimes. It starts no goroutine.
func New(resolver Resolver, runtimes Runtimes, opts ...Option) *Engine {
	cfg := defaultConfig()
	for _, o := range opts {
		o.apply(&cfg)
	}
	if cfg.maxTimeout < cfg.defaultTimeout {
		cfg.defaultTimeout = cfg.maxTimeout
	}
	e := &Engine{
		resolver: resolver,
		runtimes: runtimes,
		cfg:      cfg,
		log:      cfg.log,
		clock:    cfg.clock,
		calls:    newTable(cfg.window, cfg.maxInvocations),
		cache:    newResultCache(cfg.cacheEntries),
	}
	_, _ = crand.Read(e.digestKey[:])
	return e
}

// toolLimiter returns the limiter of the tool named name (its contract
// name: a call that names the runtime, "runtime_id/name", counts against
// the same limit as one by the bare name), nil when it has no limit.
func (e *Engine) toolLimiter(name string) *limiter {
	lim, ok := e.cfg.limits.Tools[name]
	if !ok {
		lim = e.cfg.limits.Tool
	}
	if lim.Concurrency <= 0 {
		return nil
	}
	if m := e.tools.m.Load(); m != nil {
		if ts := (*m)[name]; ts != nil {
			return ts.limiter
		}
	}
	e.tools.mu.Lock()
	defer e.tools.mu.Unlock()
	old := e.tools.m.Load()
	if old != nil {
		if ts := (*old)[name]; ts != nil {
			return ts.limiter
		}
	}
	ts := &toolState{limiter: newLimiter("tool", name, lim)}
	next := make(map[string]*toolState, 1+lenOf(old))
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	next[name] = ts
	e.tools.m.Store(&next)
	return ts.limiter
}

// prepared is a request that passed every check before dispatch.
type prepared struct {
	invocationID, correlationID, sessionID string
	tgt                                    Target
	params                                 map[string]*altarv1.Value
	sec                                    *altarv1.SecurityContext
	timeout                                time.Duration
	// callerDeadline is set when the caller's own deadline (req.timeout or
	// its context's) cut the contract's time short: a runtime that misses
	// it was not slow by the contract, so the breaker does not count it.
	callerDeadline bool
	// hostID is set when the Host generated the invocation id: no client
	// can repeat it, so the call needs no digest for idempotency and its
	// record is kept only for GetInvocation, in the smaller recent list.
	hostID   bool
	metadata map[string]string
}

// prepare does what precedes the idempotency check: ids, session, tool,
// arguments, deadline.
func (e *Engine) prepare(ctx context.Context, req *altarv1.InvokeRequest, stream bool) (prepared, *altarerr.Error) {
	var p prepared
	if req == nil {
		return p, altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, "no request")
	}
	p.invocationID, p.correlationID = req.GetInvocationId(), req.GetCorrelationId()
	if p.invocationID == "" || p.correlationID == "" {
		inv, corr := newIDs()
		if p.invocationID == "" {
			p.invocationID = inv
			p.hostID = true
		}
		if p.correlationID == "" {
			p.correlationID = corr
		}
	}
	switch {
	case !validID(p.invocationID):
		return p, e.stamp(altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST,
			"invocation_id must be 1 to %d printable ASCII characters", maxIDLen).WithField("/invocation_id", "format", "not a valid id"), &p)
	case !validID(p.correlationID):
		return p, e.stamp(altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST,
			"correlation_id must be 1 to %d printable ASCII characters", maxIDLen).WithField("/correlation_id", "format", "not a valid id"), &p)
	case req.GetToolName() == "":
		return p, e.stamp(altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST,
			"tool_name is required").WithField("/tool_name", "required", "missing"), &p)
	case e.closed.Load():
		return p, e.stamp(errClosed(), &p)
	}
	p.sessionID = req.GetSessionId()
	p.metadata = req.GetMetadata()

	if s := e.cfg.sessions; s != nil {
		sec, err := s.Touch(ctx, p.sessionID)
		if err != nil {
			return p, e.stamp(altarerr.From(err), &p)
		}
		p.sec = sec
	}

	tgt, err := e.resolver.Resolve(p.sessionID, req.GetToolName())
	if err != nil {
		return p, e.stamp(altarerr.From(err), &p)
	}
	if tgt.Contract == nil {
		return p, e.stamp(altarerr.New(altarv1.ErrorCode_ERROR_CODE_INTERNAL, "the resolver returned no contract for %q", req.GetToolName()), &p)
	}
	if tgt.Name == "" {
		tgt.Name = tgt.Contract.GetName()
	}
	p.tgt = tgt
	if reqs := tgt.Contract.GetSecurityRequirements(); len(reqs) > 0 && !auth.MayCall(ctx, reqs) {
		return p, e.stamp(auth.CallDenied(ctx, tgt.Name, reqs), &p)
	}
	if stream && !tgt.Contract.GetSupportsStreaming() {
		return p, e.stamp(altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST,
			"tool %q does not support streaming; call Invoke", tgt.Name).WithDetail("tool", tgt.Name), &p)
	}

	if tgt.Params == nil {
		if len(req.GetParameters()) > 0 {
			err := altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENTS, "tool %q takes no arguments", tgt.Name)
			for _, k := range schema.SortedKeys(req.GetParameters()) {
				err.WithField("/"+escapeToken(k), "additional_properties", "unknown argument")
			}
			return p, e.stamp(err, &p)
		}
	} else {
		mode := schema.CoerceBytes | schema.CoerceDefaults
		if req.GetCoerce() {
			mode |= schema.CoerceLenient
		}
		params, err := tgt.Params.CoerceFields(req.GetParameters(), mode)
		if err == nil {
			err = tgt.Params.ValidateFields(params)
		}
		if err != nil {
			return p, e.stamp(altarerr.From(err), &p)
		}
		p.params = params
	}

	p.timeout = e.cfg.defaultTimeout
	if ms := tgt.Contract.GetTimeoutMs(); ms > 0 {
		p.timeout = time.Duration(ms) * time.Millisecond
	}
	if t := req.GetTimeout(); t != nil {
		if err := t.CheckValid(); err != nil || t.AsDuration() < 0 {
			return p, e.stamp(altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST,
				"timeout must be a non-negative duration").WithField("/timeout", "minimum", "negative or invalid"), &p)
		}
		if d := t.AsDuration(); d > 0 {
			p.callerDeadline = d < p.timeout
			p.timeout = d
		}
	}
	if p.timeout > e.cfg.maxTimeout {
		p.timeout = e.cfg.maxTimeout
	}
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < p.timeout {
			p.timeout = max(left, 0)
			p.callerDeadline = true
		}
	}
	return p, nil
}

func escapeToken(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '~':
			out = append(out, '~', '0')
		case '/':
			out = append(out, '~', '1')
		default:
			out = append(out, s[i])
		}
	}
	return string(out)
}

func errClosed() *altarerr.Error {
	return altarerr.New(altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE, "the invocation engine is shutting down")
}

// stamp returns a copy of err carrying the call's ids (errors from
// resolvers and runtimes may be shared values, so they are never modified).
func (e *Engine) stamp(err *altarerr.Error, p *prepared) *altarerr.Error {
	return stampIDs(err, p.invocationID, p.correlationID)
}

func stampIDs(err *altarerr.Error, invocationID, correlationID string) *altarerr.Error {
	if err == nil {
		return nil
	}
	c := *err
	c.InvocationID, c.CorrelationID = invocationID, correlationID
	return &c
}

func (e *Engine) newCall(p *prepared, stream bool, cancel context.CancelFunc, now time.Time) *call {
	c := &call{
		id:            p.invocationID,
		correlationID: p.correlationID,
		sessionID:     p.sessionID,
		tool:          p.tgt.Name,
		stream:        stream,
		idempotent:    p.tgt.Contract.GetFlags().GetIdempotent(),
		created:       now,
		deadline:      now.Add(p.timeout),
		cancel:        cancel,
		state:         altarv1.InvocationState_INVOCATION_STATE_PENDING,
		hostID:        p.hostID,
	}
	if !p.hostID || (!stream && e.cacheable(p)) {
		// Only a client-chosen id can be repeated, and only the result
		// cache needs the digest otherwise.
		c.digest = digestArgs(&e.digestKey, p.tgt.Name, p.params)
	}
	return c
}

// cacheable says whether a unary call's result may come from and go to the
// result cache.
func (e *Engine) cacheable(p *prepared) bool {
	flags := p.tgt.Contract.GetFlags()
	return e.cache != nil && flags.GetIdempotent() && flags.GetCacheable() &&
		p.tgt.Contract.GetCacheTtlMs() > 0 && !hasSensitive(p.tgt.Params.Proto())
}

// callContext bounds a call by its timeout. When the caller's own deadline
// already ends first (prepare then set the timeout to what is left), a
// cancel-only context does the same job without a timer of its own.
func callContext(ctx context.Context, p *prepared) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= p.timeout {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, p.timeout)
}

// join registers c or settles it against an invocation already holding its
// id: it waits for an equal running one, answers with an equal finished
// one, refuses a different one. run is true when c was registered and must
// be run by the caller.
func (e *Engine) join(ctx context.Context, c *call) (res *altarv1.ToolResult, run bool, err error) {
	for {
		ex, reg, wait := e.calls.register(c, e.clock.Now())
		switch reg {
		case registered:
			if e.closed.Load() { // raced with Close, which did not see c
				c.stop(errClosed().Message)
			}
			return nil, true, nil
		case conflicted:
			if ex.tool == c.tool && ex.digest == c.digest {
				return nil, false, stampIDs(altarerr.New(altarv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS,
					"invocation %q already exists and a streamed invocation is never repeated; use a new invocation_id", c.id), c.id, c.correlationID)
			}
			return nil, false, stampIDs(altarerr.New(altarv1.ErrorCode_ERROR_CODE_IDEMPOTENCY_CONFLICT,
				"invocation_id %q was already used for a different call (another tool or other arguments)", c.id).
				WithDetail("tool", ex.tool), c.id, c.correlationID)
		case repeated:
			r, rerr := ex.outcome()
			if rerr != nil {
				return nil, false, rerr
			}
			return r, false, nil
		case joined:
			if h := testHooks.joined; h != nil {
				h(c.id)
			}
			select {
			case <-wait:
				// Loop: the finished entry answers, or, when it may run
				// again, this call takes its place.
			case <-ctx.Done():
				return nil, false, stampIDs(ctxError(ctx, c, 0), c.id, c.correlationID)
			}
		}
	}
}

// Invoke runs one call and returns its result. A result (status SUCCESS or
// ERROR) means a runtime executed the tool and answered: a tool's own
// failure is a result with status ERROR and a nil error. Every other
// failure is a returned *altarerr.Error carrying the invocation and
// correlation ids: bad requests and arguments (INVALID_REQUEST,
// INVALID_ARGUMENTS with field paths), unknown tools, session failures,
// RUNTIME_UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED, CANCELLED,
// INVALID_RESULT, IDEMPOTENCY_CONFLICT, ...
//
// ctx is the caller's: cancelling it cancels the call at the runtime.
// Invoke keeps references to req's parameters and metadata until it
// returns; the result it returns is shared (with the invocation record,
// the cache and repeats of the same invocation_id) and must not be
// modified.
func (e *Engine) Invoke(ctx context.Context, req *altarv1.InvokeRequest) (*altarv1.ToolResult, error) {
	p, perr := e.prepare(ctx, req, false)
	if perr != nil {
		e.logFailure(ctx, &p, "", 0, perr)
		return nil, perr
	}
	ctx, cancel := callContext(ctx, &p)
	defer cancel()
	c := e.newCall(&p, false, cancel, e.clock.Now())
	res, run, err := e.join(ctx, c)
	if !run {
		if err != nil {
			return nil, err
		}
		return res, nil
	}
	res, aerr := e.run(ctx, c, &p)
	if aerr != nil {
		return nil, aerr
	}
	return res, nil
}

// run executes a registered call to its end and records the outcome.
func (e *Engine) run(ctx context.Context, c *call, p *prepared) (*altarv1.ToolResult, *altarerr.Error) {
	var ckey cacheKey
	cacheable := e.cacheable(p)
	if cacheable {
		ckey = cacheKey{tool: p.tgt.Name, version: p.tgt.Contract.GetVersion(), digest: c.digest}
		if r := e.cache.get(ckey, e.clock.Now()); r != nil {
			res := cachedResult(r, c)
			e.finish(c, res, nil, true, false)
			return res, nil
		}
	}

	if tl := e.toolLimiter(p.tgt.Contract.GetName()); tl != nil {
		if aerr := e.acquireTool(ctx, c, p, tl); aerr != nil {
			return nil, aerr
		}
		start := e.clock.Now()
		defer func() { tl.release(e.clock.Now().Sub(start)) }()
	}

	tc := toolCall(c, p, false)

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
		pk, local, err := e.pickRuntime(ctx, p.tgt.RuntimeIDs, tried, false)
		if err != nil {
			lastErr = asLocalError(ctx, c, err)
			if local || ctx.Err() != nil {
				break
			}
		} else {
			tried |= uint64(1) << pk.index
			dispatched = true
			res, aerr := e.attempt(ctx, c, p, &pk, tc, attempt)
			if aerr == nil {
				e.finish(c, res, nil, true, false)
				if e.log.Enabled(ctx, slog.LevelDebug) {
					e.log.LogAttrs(ctx, slog.LevelDebug, "invocation answered",
						slog.String("correlation_id", c.correlationID), slog.String("invocation_id", c.id),
						slog.String("tool", c.tool), slog.String("runtime_id", res.GetRuntimeId()),
						slog.String("status", res.GetStatus().String()), slog.Int("attempts", int(attempt)))
				}
				if cacheable && res.GetStatus() == altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS {
					e.cache.put(ckey, res, e.clock.Now(), time.Duration(p.tgt.Contract.GetCacheTtlMs())*time.Millisecond)
				}
				return res, nil
			}
			lastErr = aerr
			if aerr.Code == altarv1.ErrorCode_ERROR_CODE_INVALID_RESULT {
				break
			}
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
	// A repeat of this invocation_id may run it again when nothing reached a
	// runtime, or when running again is harmless (idempotent) and no runtime
	// answered.
	e.finish(c, nil, lastErr, dispatched, !dispatched || c.idempotent)
	e.logFailure(ctx, p, c.runtime(), c.attemptCount(), lastErr)
	return nil, lastErr
}

// acquireTool takes a slot of the tool's limiter, or finishes the call.
func (e *Engine) acquireTool(ctx context.Context, c *call, p *prepared, tl *limiter) *altarerr.Error {
	err := tl.acquire(ctx)
	if err == nil {
		return nil
	}
	aerr := asLocalError(ctx, c, err)
	e.tools.stats.get(p.tgt.Name).record(e.clock.Now().Sub(c.created), aerr.Code)
	e.finish(c, nil, aerr, false, true)
	e.logFailure(ctx, p, "", 0, aerr)
	return aerr
}

// attempt sends one ToolCall to the picked runtime and judges the answer:
// a result (SUCCESS, or the tool's own ERROR) or an error.
func (e *Engine) attempt(ctx context.Context, c *call, p *prepared, pk *pick, tc *altarv1.ToolCall, attempt uint32) (*altarv1.ToolResult, *altarerr.Error) {
	start := e.clock.Now()
	c.setExecuting(pk.rt.id, attempt, start)
	ts := pk.rt.stats.get(p.tgt.Name)
	ts.inFlight.Add(1)
	res, err := pk.conn.Invoke(ctx, tc)
	elapsed := e.clock.Now().Sub(start)
	ts.inFlight.Add(-1)

	var aerr *altarerr.Error
	switch {
	case err != nil:
		if ctx.Err() != nil {
			aerr = ctxError(ctx, c, p.timeout)
		} else {
			aerr = altarerr.From(err)
		}
	case res == nil:
		aerr = altarerr.New(altarv1.ErrorCode_ERROR_CODE_PROTOCOL_VIOLATION, "runtime %q answered with neither a result nor an error", pk.rt.id)
	default:
		aerr = e.judge(res, c, p, pk.rt.id)
		if aerr == nil && res.GetStatus() == altarv1.ToolResultStatus_TOOL_RESULT_STATUS_ERROR &&
			res.GetError().GetCode() == altarv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED && deadlineReached(ctx, p.timeout) {
			// The runtime noticed the call's deadline first (its clock may
			// run a little ahead of the Host's): the same outcome as the
			// Host noticing it, so the caller sees it the same way. A tool
			// whose own upstream timed out well before the deadline keeps
			// its answer.
			aerr, res = altarerr.New(altarv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED, "no result within %v", p.timeout), nil
		}
	}
	// The breaker judges the runtime by aerr only: a tool's own failure is
	// an answer, whatever code the tool chose for it.
	code, breakerCode := altarv1.ErrorCode_ERROR_CODE_UNSPECIFIED, altarv1.ErrorCode_ERROR_CODE_UNSPECIFIED
	if aerr != nil {
		aerr = stampIDs(aerr, c.id, c.correlationID).WithDetail("runtime_id", pk.rt.id)
		code, breakerCode = aerr.Code, aerr.Code
		if code == altarv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED && p.callerDeadline {
			breakerCode = altarv1.ErrorCode_ERROR_CODE_CANCELLED // the caller gave up early
		}
	} else if res.GetStatus() == altarv1.ToolResultStatus_TOOL_RESULT_STATUS_ERROR {
		code = res.GetError().GetCode()
	}
	ts.record(elapsed, code)
	e.release(pk, breakerCode, elapsed)
	return res, aerr
}

// judge checks a runtime's result and stamps it with the call's ids. It
// returns an error when the result cannot be trusted.
// validateResult checks a unary result against the return type. A
// streaming contract's return type describes one chunk, so a unary call to it
// answers with the array of its chunks' payloads, each checked as a chunk.
func validateResult(rs *schema.Schema, streaming bool, payload *altarv1.Value) error {
	items := payload.GetArrayValue()
	if !streaming || items == nil {
		return rs.Validate(payload)
	}
	var all *altarerr.Error
	for i, item := range items.GetItems() {
		err := rs.Validate(item)
		if err == nil {
			continue
		}
		if all == nil {
			all = altarerr.From(err)
			all.Fields = nil
		}
		for _, f := range altarerr.From(err).Fields {
			f.Path = "/" + strconv.Itoa(i) + f.GetPath()
			all.Fields = append(all.Fields, f)
		}
	}
	if all == nil {
		return nil
	}
	return all
}

func (e *Engine) judge(res *altarv1.ToolResult, c *call, p *prepared, runtimeID string) *altarerr.Error {
	res.InvocationId, res.CorrelationId, res.RuntimeId = c.id, c.correlationID, runtimeID
	switch res.GetStatus() {
	case altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS:
		if rs := p.tgt.Returns; rs != nil {
			if err := validateResult(rs, p.tgt.Contract.GetSupportsStreaming(), res.GetPayload()); err != nil {
				ve := altarerr.From(err)
				out := altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_RESULT,
					"runtime %q returned a result that does not match the contract's return type", runtimeID)
				out.Fields = ve.Fields
				return out
			}
		}
		return nil
	case altarv1.ToolResultStatus_TOOL_RESULT_STATUS_ERROR:
		if res.Error == nil {
			res.Error = &altarv1.Error{Code: altarv1.ErrorCode_ERROR_CODE_TOOL_FAILED, Message: "the tool failed without saying why"}
		} else if res.Error.Code == altarv1.ErrorCode_ERROR_CODE_UNSPECIFIED {
			res.Error.Code = altarv1.ErrorCode_ERROR_CODE_TOOL_FAILED
		}
		res.Error.InvocationId, res.Error.CorrelationId = c.id, c.correlationID
		return nil
	default:
		return altarerr.New(altarv1.ErrorCode_ERROR_CODE_PROTOCOL_VIOLATION, "runtime %q answered with result status %v", runtimeID, res.GetStatus())
	}
}

func retryCall(tc *altarv1.ToolCall, attempt uint32) *altarv1.ToolCall {
	return &altarv1.ToolCall{
		InvocationId:    tc.InvocationId,
		CorrelationId:   tc.CorrelationId,
		SessionId:       tc.SessionId,
		ToolName:        tc.ToolName,
		ContractVersion: tc.ContractVersion,
		Parameters:      tc.Parameters,
		Metadata:        tc.Metadata,
		Deadline:        tc.Deadline,
		SecurityContext: tc.SecurityContext,
		Stream:          tc.Stream,
		Attempt:         attempt,
	}
}

// backoff decides whether a failed attempt is retried and after how long:
// only idempotent tools, only retryable codes, only within MaxAttempts, and
// only when the retry can start before the deadline.
func (e *Engine) backoff(ctx context.Context, c *call, err *altarerr.Error, attempt uint32) (time.Duration, bool) {
	rp := e.cfg.retry
	if !c.idempotent || int(attempt) >= rp.MaxAttempts || !err.Retryable() || ctx.Err() != nil {
		return 0, false
	}
	wait := rp.BaseBackoff << (attempt - 1)
	if wait > rp.MaxBackoff || wait <= 0 {
		wait = rp.MaxBackoff
	}
	if rp.Jitter > 0 {
		wait -= time.Duration(rand.Float64() * rp.Jitter * float64(wait))
	}
	if err.RetryAfter > wait {
		wait = err.RetryAfter
	}
	if !e.clock.Now().Add(wait).Before(c.deadline) {
		return 0, false
	}
	return wait, true
}

func (e *Engine) sleep(ctx context.Context, d time.Duration) error {
	t := e.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// asLocalError turns an error from a limiter or from picking a runtime into
// the call's error.
func asLocalError(ctx context.Context, c *call, err error) *altarerr.Error {
	var aerr *altarerr.Error
	if errors.As(err, &aerr) {
		return stampIDs(aerr, c.id, c.correlationID)
	}
	if ctx.Err() != nil {
		return stampIDs(ctxError(ctx, c, 0), c.id, c.correlationID)
	}
	return stampIDs(altarerr.From(err), c.id, c.correlationID)
}

// ctxError explains why the call's context ended.
// toolCall is the first attempt's ToolCall for a prepared call.
func toolCall(c *call, p *prepared, stream bool) *altarv1.ToolCall {
	return &altarv1.ToolCall{
		InvocationId:    c.id,
		CorrelationId:   c.correlationID,
		SessionId:       c.sessionID,
		ToolName:        p.tgt.Contract.GetName(),
		ContractVersion: p.tgt.Contract.GetVersion(),
		Parameters:      p.params,
		Metadata:        p.metadata,
		Deadline:        timestamppb.New(c.deadline),
		SecurityContext: p.sec,
		Stream:          stream,
		Attempt:         1,
	}
}

// deadlineReached reports whether ctx's deadline has passed or is so close
// (a twentieth of the call's time, at least 10ms) that a runtime reporting
// DEADLINE_EXCEEDED was reporting this call's deadline.
func deadlineReached(ctx context.Context, timeout time.Duration) bool {
	dl, ok := ctx.Deadline()
	if !ok {
		return false
	}
	return time.Until(dl) <= max(10*time.Millisecond, timeout/20)
}

func ctxError(ctx context.Context, c *call, timeout time.Duration) *altarerr.Error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		if timeout > 0 {
			return altarerr.New(altarv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED, "no result within %v", timeout)
		}
		return altarerr.New(altarv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED, "the call's deadline passed")
	}
	c.mu.Lock()
	reason := c.cancelReason
	c.mu.Unlock()
	if reason != "" {
		return altarerr.New(altarv1.ErrorCode_ERROR_CODE_CANCELLED, "cancelled: %s", reason)
	}
	return altarerr.New(altarv1.ErrorCode_ERROR_CODE_CANCELLED, "the caller cancelled the call")
}

// finish records a call's outcome and wakes repeats waiting for it. For
// failures it also stores a ToolResult with status ERROR as the record's
// result.
func (e *Engine) finish(c *call, res *altarv1.ToolResult, err *altarerr.Error, dispatched, rerunnable bool) {
	now := e.clock.Now()
	c.mu.Lock()
	c.finished = now
	c.cancel = nil
	switch {
	case err != nil:
		c.err = err
		c.result = &altarv1.ToolResult{
			InvocationId:  c.id,
			CorrelationId: c.correlationID,
			Status:        altarv1.ToolResultStatus_TOOL_RESULT_STATUS_ERROR,
			Error:         err.Proto(),
			RuntimeId:     c.runtimeID,
		}
		c.state = stateFor(err.Code)
	case res.GetStatus() == altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS:
		c.result, c.answered = res, true
		c.state = altarv1.InvocationState_INVOCATION_STATE_COMPLETED
		if res.RuntimeId != "" {
			c.runtimeID = res.RuntimeId
		}
	default:
		c.result, c.answered = res, true
		c.err = altarerr.FromProto(res.GetError())
		c.state = altarv1.InvocationState_INVOCATION_STATE_FAILED
	}
	c.mu.Unlock()
	e.calls.finish(c, now, dispatched, rerunnable)
}

func stateFor(code altarv1.ErrorCode) altarv1.InvocationState {
	switch code {
	case altarv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED:
		return altarv1.InvocationState_INVOCATION_STATE_TIMED_OUT
	case altarv1.ErrorCode_ERROR_CODE_CANCELLED:
		return altarv1.InvocationState_INVOCATION_STATE_CANCELLED
	default:
		return altarv1.InvocationState_INVOCATION_STATE_FAILED
	}
}

func (c *call) runtime() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runtimeID
}

func (c *call) attemptCount() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.attempts
}

// logFailure logs a failed call with its ids, never its arguments; for
// argument failures only the paths, as messages may quote values.
func (e *Engine) logFailure(ctx context.Context, p *prepared, runtimeID string, attempts uint32, err *altarerr.Error) {
	level := slog.LevelWarn
	switch err.Info().Category {
	case altarv1.ErrorCategory_ERROR_CATEGORY_VALIDATION, altarv1.ErrorCategory_ERROR_CATEGORY_AUTHORIZATION:
		level = slog.LevelDebug
	}
	if err.Code == altarv1.ErrorCode_ERROR_CODE_CANCELLED {
		level = slog.LevelDebug
	}
	if !e.log.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("correlation_id", p.correlationID),
		slog.String("invocation_id", p.invocationID),
		slog.String("tool", p.tgt.Name),
		slog.String("code", altarerr.CodeName(err.Code)),
	}
	if runtimeID != "" {
		attrs = append(attrs, slog.String("runtime_id", runtimeID))
	}
	if attempts > 0 {
		attrs = append(attrs, slog.Int("attempts", int(attempts)))
	}
	if len(err.Fields) > 0 {
		paths := make([]string, 0, len(err.Fields))
		for _, f := range err.Fields {
			paths = append(paths, f.GetPath()+" ("+f.GetRule()+")")
		}
		attrs = append(attrs, slog.Any("fields", paths))
	} else {
		attrs = append(attrs, slog.String("error", err.Message))
	}
	e.log.LogAttrs(ctx, level, "invocation failed", attrs...)
}

// Cancel cancels a pending or executing invocation; the runtime is told
// through the context of its call. It reports false when no such
// invocation is running.
func (e *Engine) Cancel(invocationID, reason string) bool {
	c := e.calls.lookup(invocationID, e.clock.Now())
	if c == nil {
		return false
	}
	if reason == "" {
		reason = "cancelled by request"
	}
	if !c.stop(reason) {
		return false
	}
	e.log.LogAttrs(context.Background(), slog.LevelInfo, "invocation cancelled",
		slog.String("correlation_id", c.correlationID), slog.String("invocation_id", c.id), slog.String("tool", c.tool))
	return true
}

// Invocation returns the record of a running invocation, or of a finished
// one within the idempotency window. Its result is shared and must not be
// modified.
func (e *Engine) Invocation(id string) (*altarv1.Invocation, bool) {
	c := e.calls.lookup(id, e.clock.Now())
	if c == nil {
		return nil, false
	}
	return c.proto(), true
}

// Stats returns the counters of the named tool (by qualified name) on every
// runtime that ran it, or of every tool when toolName is empty. Calls that
// never reached a runtime (no runtime available, a full queue) are counted
// under runtime_id "". Latency percentiles come from a fixed log-linear
// histogram (see stats.go).
func (e *Engine) Stats(toolName string) []*altarv1.ToolStats {
	out := e.tools.stats.collect(toolName, nil)
	if m := e.rts.m.Load(); m != nil {
		for _, rt := range *m {
			out = rt.stats.collect(toolName, out)
		}
	}
	slices.SortFunc(out, func(a, b *altarv1.ToolStats) int {
		if c := strings.Compare(a.GetToolName(), b.GetToolName()); c != 0 {
			return c
		}
		return strings.Compare(a.GetRuntimeId(), b.GetRuntimeId())
	})
	return out
}

// Close stops the engine: new calls fail with RUNTIME_UNAVAILABLE and every
// running call is cancelled. It does not wait for them. It is idempotent.
func (e *Engine) Close() {
	e.closeOnce.Do(func() {
		e.closed.Store(true)
		for _, c := range e.calls.running() {
			c.stop("the invocation engine is shutting down")
		}
	})
}
