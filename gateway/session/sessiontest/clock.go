package sessiontest

import (
	"context"
	"sync"
	"time"

	"github.com/altar-gateway/altar/gateway/session"
)

// Clock is a session.Clock that moves only when told (Advance, Set), so
// tests of expiry never sleep. Its tickers fire from Advance and Set. It is
// safe for concurrent use.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	tickers map[*ticker]struct{}
	changed chan struct{} // closed and replaced when tickers come or go
}

// NewClock returns a clock reading start.
func NewClock(start time.Time) *Clock {
	return &Clock{now: start, tickers: make(map[*ticker]struct{}), changed: make(chan struct{})}
}

// Now implements session.Clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d and fires the tickers that are due.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.set(c.now.Add(d))
}

// Set moves the clock to t (which may be in the past: a wall clock can go
// back) and fires the tickers that are due.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.set(t)
}

func (c *Clock) set(t time.Time) {
	c.now = t
	for tk := range c.tickers {
		if t.Before(tk.next) {
			continue
		}
		// Like time.Ticker: one tick waits in the channel, more are dropped.
		select {
		case tk.c <- t:
		default:
		}
		for !t.Before(tk.next) {
			tk.next = tk.next.Add(tk.d)
		}
	}
}

// NewTicker implements session.Clock.
func (c *Clock) NewTicker(d time.Duration) session.Ticker {
	if d <= 0 {
		panic("sessiontest: non-positive ticker interval")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	tk := &ticker{clock: c, c: make(chan time.Time, 1), d: d, next: c.now.Add(d)}
	c.tickers[tk] = struct{}{}
	c.notify()
	return tk
}

// Tickers returns how many tickers are running.
func (c *Clock) Tickers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.tickers)
}

// WaitTickers blocks until exactly n tickers are running (so a goroutine has
// started, or stopped, waiting on the clock), or ctx ends.
func (c *Clock) WaitTickers(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		if len(c.tickers) == n {
			c.mu.Unlock()
			return nil
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (c *Clock) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

type ticker struct {
	clock *Clock
	c     chan time.Time
	d     time.Duration
	next  time.Time
}

func (t *ticker) C() <-chan time.Time { return t.c }

func (t *ticker) Stop() {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	if _, ok := t.clock.tickers[t]; ok {
		delete(t.clock.tickers, t)
		t.clock.notify()
	}
}

var _ session.Clock = (*Clock)(nil)
