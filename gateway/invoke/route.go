package invoke

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/runtime"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// rtState is what the engine keeps about one runtime id: outstanding calls
// (the balancing signal), its circuit breaker, its concurrency limiter and
// the per-tool statistics of calls it ran.
type rtState struct {
	id          string
	outstanding atomic.Int64
	breaker     *gobreaker.TwoStepCircuitBreaker[struct{}]
	// The breaker's state mirrored by OnStateChange, so that routing reads
	// an atomic instead of taking the breaker's mutex for every candidate.
	bstate   atomic.Int32 // gobreaker.State
	openedAt atomic.Int64 // unix ns (real clock), when it last opened
	limiter  *limiter
	stats    statsSet
}

// rtSet maps runtime ids to their state: an immutable map swapped on the
// rare insert, so the hot path is one atomic load and a map read.
type rtSet struct {
	m  atomic.Pointer[map[string]*rtState]
	mu sync.Mutex
}

func (e *Engine) runtimeState(id string, conn runtime.Conn) *rtState {
	if m := e.rts.m.Load(); m != nil {
		if rt := (*m)[id]; rt != nil {
			return rt
		}
	}
	e.rts.mu.Lock()
	defer e.rts.mu.Unlock()
	old := e.rts.m.Load()
	if old != nil {
		if rt := (*old)[id]; rt != nil {
			return rt
		}
	}
	rt := e.newRuntimeState(id, conn)
	next := make(map[string]*rtState, 1+lenOf(old))
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	next[id] = rt
	e.rts.m.Store(&next)
	return rt
}

func (e *Engine) lookupRuntimeState(id string) *rtState {
	if m := e.rts.m.Load(); m != nil {
		return (*m)[id]
	}
	return nil
}

func (e *Engine) newRuntimeState(id string, conn runtime.Conn) *rtState {
	rt := &rtState{id: id}
	rt.stats.runtimeID = id
	lim, ok := e.cfg.limits.Runtimes[id]
	if !ok {
		lim = e.cfg.limits.Runtime
	}
	if conn != nil {
		if mc := int(conn.Announcement().GetMaxConcurrency()); mc > 0 && (lim.Concurrency <= 0 || mc < lim.Concurrency) {
			lim.Concurrency = mc
		}
	}
	rt.limiter = newLimiter("runtime", id, lim)
	bs := e.cfg.breaker
	rt.breaker = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        id,
		MaxRequests: bs.HalfOpenRequests,
		Interval:    bs.Interval,
		Timeout:     bs.OpenTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= bs.ConsecutiveFailures },
		IsExcluded:  func(err error) bool { return err == errBreakerExcluded },
		OnStateChange: func(name string, from, to gobreaker.State) {
			// Called under the breaker's mutex: record, log, nothing more.
			if to == gobreaker.StateOpen {
				rt.openedAt.Store(time.Now().UnixNano())
			}
			rt.bstate.Store(int32(to))
			level := slog.LevelInfo
			if to == gobreaker.StateOpen {
				level = slog.LevelWarn
			}
			e.log.LogAttrs(context.Background(), level, "circuit breaker "+to.String(),
				slog.String("runtime_id", name), slog.String("from", from.String()))
		},
	})
	return rt
}

// Sentinels reported to the breaker: a failure it counts, and an outcome
// it ignores (the caller gave up). Anything else reported is nil: success.
var (
	errBreakerFailure  = altarerr.New(altarv1.ErrorCode_ERROR_CODE_INTERNAL, "runtime failure")
	errBreakerExcluded = altarerr.New(altarv1.ErrorCode_ERROR_CODE_CANCELLED, "cancelled")
)

// breakerVerdict says what a call's failure means to the runtime's
// breaker: the runtime or the transport to it failed (counted), the caller
// gave up (ignored), or the runtime is fine (success: a tool's own error,
// a result that fails validation, or no error at all).
func breakerVerdict(code altarv1.ErrorCode) error {
	switch code {
	case altarv1.ErrorCode_ERROR_CODE_UNSPECIFIED:
		return nil
	case altarv1.ErrorCode_ERROR_CODE_CANCELLED:
		return errBreakerExcluded
	case altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE,
		altarv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED,
		altarv1.ErrorCode_ERROR_CODE_INTERNAL:
		return errBreakerFailure
	}
	if code.Info().Category == altarv1.ErrorCategory_ERROR_CATEGORY_TRANSPORT {
		return errBreakerFailure
	}
	return nil
}

// openFor reports how long the runtime's breaker stays open from now; 0
// when it is not open or its timeout has passed (the breaker then admits a
// trial call).
func (rt *rtState) openFor(timeout time.Duration) time.Duration {
	if gobreaker.State(rt.bstate.Load()) != gobreaker.StateOpen {
		return 0
	}
	left := time.Until(time.Unix(0, rt.openedAt.Load()).Add(timeout))
	if left < 0 {
		return 0
	}
	return left
}

// BreakerState returns the runtime's circuit breaker state: "closed",
// "open" or "half-open". A runtime the engine has not called is "closed".
func (e *Engine) BreakerState(runtimeID string) string {
	rt := e.lookupRuntimeState(runtimeID)
	if rt == nil {
		return gobreaker.StateClosed.String()
	}
	return rt.breaker.State().String()
}

// pick is a chosen runtime for one attempt. The caller must call
// e.release(p, code) when the attempt ends.
type pick struct {
	rt    *rtState
	conn  runtime.Conn
	index int
	done  func(error) // the breaker's verdict
	start time.Time
}

// maxCandidates bounds the runtimes considered per call (a bit mask).
const maxCandidates = 64

// pickRuntime chooses the runtime for an attempt: among the candidates
// that are connected, not unhealthy, not closed, not behind an open
// breaker (and, for streams, able to stream), the one with the fewest
// outstanding calls, healthy before degraded, untried before tried,
// earlier in preference order on a tie. It then takes a slot of the
// runtime's limiter (waiting in its queue if need be) and the breaker's
// permission; a half-open breaker that refuses moves on to the next.
//
// The error is RUNTIME_UNAVAILABLE when no candidate is left (with
// retry_after when an open breaker will soon let a trial call through),
// UNIMPLEMENTED when only non-streaming runtimes fulfil a stream,
// RESOURCE_EXHAUSTED when the runtime's queue is full (local is then true:
// load shed here is never retried), or ctx's error.
func (e *Engine) pickRuntime(ctx context.Context, ids []string, tried uint64, stream bool) (p pick, local bool, err error) {
	var excluded uint64
	for {
		best, bestClass, bestLoad := -1, 0, int64(0)
		var bestConn runtime.Conn
		var bestRT *rtState
		var retryAfter time.Duration
		var unhealthy, open, noStream int
		for i, id := range ids {
			if i == maxCandidates {
				break
			}
			bit := uint64(1) << i
			if excluded&bit != 0 {
				continue
			}
			conn, health, ok := e.runtimes.Lookup(id)
			if !ok || conn == nil || health == runtime.Unhealthy || closed(conn.Done()) {
				unhealthy++
				continue
			}
			if stream {
				if _, ok := conn.(runtime.Streamer); !ok {
					noStream++
					continue
				}
			}
			rt := e.runtimeState(id, conn)
			if left := rt.openFor(e.cfg.breaker.OpenTimeout); left > 0 {
				open++
				if retryAfter == 0 || left < retryAfter {
					retryAfter = left
				}
				continue
			}
			class := 0
			if health == runtime.Degraded {
				class = 1
			}
			if tried&bit != 0 {
				class += 2
			}
			load := rt.outstanding.Load()
			if best < 0 || class < bestClass || (class == bestClass && load < bestLoad) {
				best, bestClass, bestLoad, bestConn, bestRT = i, class, load, conn, rt
			}
		}
		if best < 0 {
			return pick{}, false, noRuntime(len(ids), unhealthy, open, noStream, retryAfter)
		}
		rt := bestRT
		rt.outstanding.Add(1)
		if rt.limiter != nil {
			if err := rt.limiter.acquire(ctx); err != nil {
				rt.outstanding.Add(-1)
				_, isLocal := err.(*altarerr.Error)
				return pick{}, isLocal, err
			}
		}
		done, err := rt.breaker.Allow()
		if err != nil { // half-open and its trial slots are taken
			if rt.limiter != nil {
				rt.limiter.release(0)
			}
			rt.outstanding.Add(-1)
			excluded |= uint64(1) << best
			continue
		}
		return pick{rt: rt, conn: bestConn, index: best, done: done}, false, nil
	}
}

// release ends an attempt: the breaker's verdict, the limiter slot, the
// outstanding count.
func (e *Engine) release(p *pick, code altarv1.ErrorCode, held time.Duration) {
	p.done(breakerVerdict(code))
	if p.rt.limiter != nil {
		p.rt.limiter.release(held)
	}
	p.rt.outstanding.Add(-1)
}

func noRuntime(candidates, unhealthy, open, noStream int, retryAfter time.Duration) *altarerr.Error {
	if candidates > 0 && noStream > 0 && noStream+unhealthy == candidates && open == 0 {
		return altarerr.New(altarv1.ErrorCode_ERROR_CODE_UNIMPLEMENTED,
			"no runtime that fulfils the tool can stream (none declared the streaming ability)")
	}
	var err *altarerr.Error
	switch {
	case candidates == 0:
		err = altarerr.New(altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE, "no runtime fulfils the tool")
	case open > 0:
		err = altarerr.New(altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE,
			"no runtime is available: %d unavailable, %d behind an open circuit breaker", candidates-open, open)
		err.RetryAfter = retryAfter
		err.WithDetail("breaker", "open")
	default:
		err = altarerr.New(altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE,
			"none of the %d runtimes that fulfil the tool is connected and healthy", candidates)
	}
	return err.WithDetail("candidates", strconv.Itoa(candidates))
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
