package invoketest

import (
	"sync"
	"time"

	"github.com/altar-gateway/altar/gateway/invoke"
)

// Clock is a fake invoke.Clock: time stands still until Advance. Every
// timer made is announced on Timers, so a test can wait for the engine to
// start waiting before it moves time.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	made   chan time.Duration
}

// NewClock returns a clock at 2026-05-01T12:00:00Z.
func NewClock() *Clock {
	return &Clock{now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC), made: make(chan time.Duration, 1024)}
}

// Now returns the fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer returns a timer firing when the clock has advanced by d.
func (c *Clock) NewTimer(d time.Duration) invoke.Timer {
	c.mu.Lock()
	t := &fakeTimer{clock: c, at: c.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.fired = true
		t.ch <- c.now
	} else {
		c.timers = append(c.timers, t)
	}
	c.mu.Unlock()
	select {
	case c.made <- d:
	default:
	}
	return t
}

// Timers yields the duration of every timer made, in order.
func (c *Clock) Timers() <-chan time.Duration { return c.made }

// Advance moves time forward, firing the timers that are due.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.timers[:0]
	for _, t := range c.timers {
		if !t.fired && !t.at.After(c.now) {
			t.fired = true
			t.ch <- c.now
			continue
		}
		if !t.fired {
			keep = append(keep, t)
		}
	}
	clear(c.timers[len(keep):])
	c.timers = keep
}

type fakeTimer struct {
	clock *Clock
	at    time.Time
	ch    chan time.Time
	fired bool // guarded by clock.mu
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	if t.fired {
		return false
	}
	t.fired = true
	return true
}

var _ invoke.Clock = (*Clock)(nil)
