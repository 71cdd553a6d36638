package session

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Defaults for a Manager built without options.
const (
	DefaultTTL           = 30 * time.Minute
	DefaultMaxTTL        = 24 * time.Hour
	DefaultMaxSessions   = 100_000
	DefaultSweepInterval = 30 * time.Second
)

// MinTTL is the shortest TTL a session gets; a shorter requested TTL is
// raised to it (as a longer one is capped at the maximum).
const MinTTL = time.Second

// MetadataLimits bounds a session's metadata. Sizes are in bytes.
type MetadataLimits struct {
	MaxEntries    int // number of keys
	MaxKeyBytes   int // length of one key
	MaxValueBytes int // length of one value
	MaxTotalBytes int // all keys and values together
}

// DefaultMetadataLimits are the limits of a Manager built without
// WithMetadataLimits.
var DefaultMetadataLimits = MetadataLimits{
	MaxEntries:    32,
	MaxKeyBytes:   128,
	MaxValueBytes: 1024,
	MaxTotalBytes: 8 << 10,
}

// Clock is the Manager's source of time. Tests use a fake one
// (sessiontest.Clock) so that nothing sleeps.
type Clock interface {
	Now() time.Time
	// NewTicker returns a ticker that sends on C every d, dropping ticks a
	// slow reader misses, like time.NewTicker.
	NewTicker(d time.Duration) Ticker
}

// Ticker is a Clock's ticker.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// Option configures a Manager.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	defaultTTL    time.Duration
	defaultTTLSet bool
	maxTTL        time.Duration
	maxSessions   int
	sweepInterval time.Duration
	metadata      MetadataLimits
	clock         Clock
	logger        *slog.Logger
	listeners     []func(*altarv1.SessionEvent)
	err           error // from an option given a value it cannot use
}

// WithDefaultTTL sets the TTL of a session created without one
// (DefaultTTL, or the maximum TTL if that is shorter).
func WithDefaultTTL(d time.Duration) Option {
	return optionFunc(func(c *config) { c.defaultTTL, c.defaultTTLSet = d, true })
}

// WithMaxTTL sets the longest TTL a session may have (DefaultMaxTTL); a
// longer requested TTL is capped at it.
func WithMaxTTL(d time.Duration) Option {
	return optionFunc(func(c *config) { c.maxTTL = d })
}

// WithMaxSessions bounds how many sessions may exist at once
// (DefaultMaxSessions). Past it, Create fails with
// ERROR_CODE_RESOURCE_EXHAUSTED. n must be positive: the number of
// sessions is always bounded.
func WithMaxSessions(n int) Option {
	return optionFunc(func(c *config) { c.maxSessions = n })
}

// WithSweepInterval sets how often Run deletes expired sessions
// (DefaultSweepInterval).
func WithSweepInterval(d time.Duration) Option {
	return optionFunc(func(c *config) { c.sweepInterval = d })
}

// WithMetadataLimits bounds every session's metadata
// (DefaultMetadataLimits). Every limit must be positive.
func WithMetadataLimits(l MetadataLimits) Option {
	return optionFunc(func(c *config) { c.metadata = l })
}

// WithClock replaces the wall clock, for tests.
func WithClock(clk Clock) Option {
	return optionFunc(func(c *config) {
		if clk == nil {
			c.fail(errors.New("session: WithClock(nil)"))
		}
		c.clock = clk
	})
}

// WithLogger sets where the Manager logs (nowhere by default).
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l == nil {
			c.fail(errors.New("session: WithLogger(nil)"))
		}
		c.logger = l
	})
}

// WithListener adds a function told about every session that is created,
// expires or is destroyed; it may be given more than once. See Manager for
// when and how listeners are called.
func WithListener(f func(*altarv1.SessionEvent)) Option {
	return optionFunc(func(c *config) {
		if f == nil {
			c.fail(errors.New("session: WithListener(nil)"))
		}
		c.listeners = append(c.listeners, f)
	})
}

func (c *config) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

func defaultConfig() config {
	return config{
		defaultTTL:    DefaultTTL,
		maxTTL:        DefaultMaxTTL,
		maxSessions:   DefaultMaxSessions,
		sweepInterval: DefaultSweepInterval,
		metadata:      DefaultMetadataLimits,
		clock:         wallClock{},
		logger:        slog.New(slog.DiscardHandler),
	}
}

// validate reports the first setting that cannot work. It does no I/O.
func (c *config) validate() error {
	if c.err != nil {
		return c.err
	}
	if !c.defaultTTLSet && c.defaultTTL > c.maxTTL {
		c.defaultTTL = c.maxTTL
	}
	switch {
	case c.maxTTL < MinTTL:
		return fmt.Errorf("session: max TTL %v is shorter than the minimum %v", c.maxTTL, MinTTL)
	case c.defaultTTL < MinTTL || c.defaultTTL > c.maxTTL:
		return fmt.Errorf("session: default TTL %v is outside [%v, %v]", c.defaultTTL, MinTTL, c.maxTTL)
	case c.maxSessions <= 0:
		return fmt.Errorf("session: max sessions %d is not positive", c.maxSessions)
	case c.sweepInterval <= 0:
		return fmt.Errorf("session: sweep interval %v is not positive", c.sweepInterval)
	case c.metadata.MaxEntries <= 0 || c.metadata.MaxKeyBytes <= 0 ||
		c.metadata.MaxValueBytes <= 0 || c.metadata.MaxTotalBytes <= 0:
		return fmt.Errorf("session: metadata limits %+v are not all positive", c.metadata)
	}
	return nil
}

// wallClock is the real clock.
type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) NewTicker(d time.Duration) Ticker { return wallTicker{time.NewTicker(d)} }

type wallTicker struct{ t *time.Ticker }

func (w wallTicker) C() <-chan time.Time { return w.t.C }
func (w wallTicker) Stop()               { w.t.Stop() }
