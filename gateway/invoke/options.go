package invoke

import (
	"log/slog"
	"time"
)

// Option configures New.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// Defaults applied by New.
const (
	DefaultTimeout           = 30 * time.Second
	DefaultMaxTimeout        = 5 * time.Minute
	DefaultIdempotencyWindow = 10 * time.Minute
	DefaultMaxInvocations    = 100_000
	DefaultResultCache       = 10_000
	DefaultMaxStreamBuffer   = 256
)

type config struct {
	sessions        Sessions
	log             *slog.Logger
	clock           Clock
	defaultTimeout  time.Duration
	maxTimeout      time.Duration
	window          time.Duration
	maxInvocations  int
	retry           RetryPolicy
	breaker         BreakerSettings
	limits          Limits
	cacheEntries    int
	maxStreamBuffer int
}

func defaultConfig() config {
	return config{
		log:             slog.New(slog.DiscardHandler),
		clock:           systemClock{},
		defaultTimeout:  DefaultTimeout,
		maxTimeout:      DefaultMaxTimeout,
		window:          DefaultIdempotencyWindow,
		maxInvocations:  DefaultMaxInvocations,
		retry:           DefaultRetryPolicy(),
		breaker:         DefaultBreakerSettings(),
		cacheEntries:    DefaultResultCache,
		maxStreamBuffer: DefaultMaxStreamBuffer,
	}
}

// WithSessions checks every call's session with s and sends the security
// context it returns. Without it calls are not checked against sessions.
func WithSessions(s Sessions) Option { return optionFunc(func(c *config) { c.sessions = s }) }

// WithLogger sets the logger. Every line carries correlation_id and
// invocation_id; argument values are never logged. The default discards.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.log = l
		}
	})
}

// WithClock sets the clock used for timestamps, latencies, the idempotency
// window, cache expiry and retry backoff (tests pass a fake). Two things
// always run on the real clock: the context deadline handed to the runtime
// (context.WithTimeout) and the circuit breaker's open period (gobreaker
// reads time.Now).
func WithClock(clk Clock) Option {
	return optionFunc(func(c *config) {
		if clk != nil {
			c.clock = clk
		}
	})
}

// WithDefaultTimeout sets the deadline of calls whose request and contract
// name none (DefaultTimeout when d <= 0).
func WithDefaultTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.defaultTimeout = d
		}
	})
}

// WithMaxTimeout caps every call's deadline (DefaultMaxTimeout when d <= 0).
func WithMaxTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.maxTimeout = d
		}
	})
}

// WithIdempotencyWindow sets how long a finished invocation is remembered:
// its record for Invocation, and its outcome for a repeated invocation_id
// (DefaultIdempotencyWindow when d <= 0).
func WithIdempotencyWindow(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.window = d
		}
	})
}

// WithMaxInvocations bounds how many invocations are remembered. When the
// bound is reached the oldest finished ones are forgotten before their
// window ends (a repeat of a forgotten invocation_id runs again). Running
// invocations are never forgotten. Invocations whose id the Host generated
// (no client can repeat them) are kept only for GetInvocation: the most
// recent of them, at most a tenth of n and at most 1,024. Default
// DefaultMaxInvocations.
func WithMaxInvocations(n int) Option {
	return optionFunc(func(c *config) {
		if n > 0 {
			c.maxInvocations = n
		}
	})
}

// RetryPolicy says how calls to idempotent tools are retried after a
// retryable failure (see doc.go). Zero fields take DefaultRetryPolicy's.
type RetryPolicy struct {
	// MaxAttempts counts the first attempt: 1 disables retries.
	MaxAttempts int
	// BaseBackoff is the wait before the second attempt; each further wait
	// doubles, up to MaxBackoff. A failure's retry_after, when longer, is
	// waited instead. No wait ends past the call's deadline: a retry that
	// could not start before it is not made.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// Jitter in [0, 1] shortens each wait by a random fraction of up to
	// Jitter. Negative means none (0 takes the default).
	Jitter float64
}

// DefaultRetryPolicy is 3 attempts, 50ms doubling to 2s, 20% jitter.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: 3, BaseBackoff: 50 * time.Millisecond, MaxBackoff: 2 * time.Second, Jitter: 0.2}
}

// WithRetry sets the retry policy.
func WithRetry(p RetryPolicy) Option {
	return optionFunc(func(c *config) {
		d := DefaultRetryPolicy()
		if p.MaxAttempts <= 0 {
			p.MaxAttempts = d.MaxAttempts
		}
		if p.BaseBackoff <= 0 {
			p.BaseBackoff = d.BaseBackoff
		}
		if p.MaxBackoff <= 0 {
			p.MaxBackoff = d.MaxBackoff
		}
		if p.MaxBackoff < p.BaseBackoff {
			p.MaxBackoff = p.BaseBackoff
		}
		switch {
		case p.Jitter == 0:
			p.Jitter = d.Jitter
		case p.Jitter < 0:
			p.Jitter = 0
		case p.Jitter > 1:
			p.Jitter = 1
		}
		c.retry = p
	})
}

// BreakerSettings configure the circuit breaker kept for every runtime
// (github.com/sony/gobreaker/v2). It counts only failures of the runtime or
// the transport to it (RUNTIME_UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL and
// the transport codes), never a tool's own failure or a caller's mistake.
// Zero fields take DefaultBreakerSettings'.
type BreakerSettings struct {
	// ConsecutiveFailures opens the breaker.
	ConsecutiveFailures uint32
	// OpenTimeout is how long the breaker stays open before it lets trial
	// calls through (half-open). It runs on the real clock.
	OpenTimeout time.Duration
	// HalfOpenRequests is how many trial calls may run at once while
	// half-open; that many consecutive successes close the breaker.
	HalfOpenRequests uint32
	// Interval, when positive, clears the failure counts of a closed
	// breaker periodically; zero keeps counting until a success.
	Interval time.Duration
}

// DefaultBreakerSettings opens after 5 consecutive failures for 30s, with
// one trial call.
func DefaultBreakerSettings() BreakerSettings {
	return BreakerSettings{ConsecutiveFailures: 5, OpenTimeout: 30 * time.Second, HalfOpenRequests: 1}
}

// WithBreaker sets the circuit breaker settings.
func WithBreaker(s BreakerSettings) Option {
	return optionFunc(func(c *config) {
		d := DefaultBreakerSettings()
		if s.ConsecutiveFailures == 0 {
			s.ConsecutiveFailures = d.ConsecutiveFailures
		}
		if s.OpenTimeout <= 0 {
			s.OpenTimeout = d.OpenTimeout
		}
		if s.HalfOpenRequests == 0 {
			s.HalfOpenRequests = d.HalfOpenRequests
		}
		c.breaker = s
	})
}

// Limit bounds concurrent calls and the queue of calls waiting for a slot.
type Limit struct {
	// Concurrency is how many calls may run at once; 0 means no limit.
	Concurrency int
	// Queue is how many more may wait; a call arriving at a full queue is
	// refused at once with ERROR_CODE_RESOURCE_EXHAUSTED and a
	// retry_after_ms estimated from recent call durations.
	Queue int
}

// Limits are the engine's concurrency limits. A runtime's limit is also
// capped by the max_concurrency it announced.
type Limits struct {
	// Tool applies to every tool unless Tools names it. A tool is named by
	// its contract name: calls that name a runtime ("runtime_id/name") count
	// against the same limit as calls by the bare name.
	Tool  Limit
	Tools map[string]Limit
	// Runtime applies to every runtime unless Runtimes names it.
	Runtime  Limit
	Runtimes map[string]Limit
}

// WithLimits sets concurrency limits. The default is no limit.
func WithLimits(l Limits) Option { return optionFunc(func(c *config) { c.limits = l }) }

// WithResultCache sets how many results of idempotent, cacheable tools are
// kept (least recently used first out); 0 disables the cache. Default
// DefaultResultCache.
func WithResultCache(maxEntries int) Option {
	return optionFunc(func(c *config) {
		if maxEntries >= 0 {
			c.cacheEntries = maxEntries
		}
	})
}

// WithMaxStreamBuffer bounds how many out-of-order chunks a stream may
// hold while waiting for a missing one; beyond it the stream fails with
// ERROR_CODE_STREAM_BROKEN. Default DefaultMaxStreamBuffer.
func WithMaxStreamBuffer(n int) Option {
	return optionFunc(func(c *config) {
		if n > 0 {
			c.maxStreamBuffer = n
		}
	})
}
