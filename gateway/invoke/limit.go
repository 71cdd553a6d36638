package invoke

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/altar-gateway/altar/gateway/altarerr"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// limiter is a counting semaphore with a bounded FIFO queue. A waiter whose
// context ends leaves the queue at once; a slot freed while waiters exist is
// handed to the first of them directly, so a late arrival cannot overtake
// the queue.
type limiter struct {
	what string // "tool" or "runtime", for errors
	name string
	max  int
	qmax int

	mu     sync.Mutex
	inUse  int
	head   *waiter
	tail   *waiter
	queued int

	// hold is an exponentially weighted average of how long a slot is held,
	// in ns, for the retry_after hint.
	hold atomic.Int64
}

type waiter struct {
	ch         chan struct{}
	prev, next *waiter
	granted    bool
}

func newLimiter(what, name string, l Limit) *limiter {
	if l.Concurrency <= 0 {
		return nil
	}
	q := l.Queue
	if q < 0 {
		q = 0
	}
	return &limiter{what: what, name: name, max: l.Concurrency, qmax: q}
}

// acquire takes a slot, waiting in the queue when there is room. It
// returns an *altarerr.Error (RESOURCE_EXHAUSTED) when the queue is full,
// or ctx's error when ctx ends first.
func (l *limiter) acquire(ctx context.Context) error {
	l.mu.Lock()
	if l.inUse < l.max && l.queued == 0 {
		l.inUse++
		l.mu.Unlock()
		return nil
	}
	if l.queued >= l.qmax {
		l.mu.Unlock()
		return l.exhausted()
	}
	w := &waiter{ch: make(chan struct{})}
	if l.tail == nil {
		l.head, l.tail = w, w
	} else {
		w.prev = l.tail
		l.tail.next = w
		l.tail = w
	}
	l.queued++
	l.mu.Unlock()
	if h := testHooks.queued; h != nil {
		h(l.what + ":" + l.name)
	}

	select {
	case <-w.ch:
		return nil
	case <-ctx.Done():
		l.mu.Lock()
		if w.granted {
			l.mu.Unlock()
			l.release(0) // pass the slot on
		} else {
			l.unlink(w)
			l.mu.Unlock()
		}
		return ctx.Err()
	}
}

func (l *limiter) unlink(w *waiter) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		l.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		l.tail = w.prev
	}
	w.prev, w.next = nil, nil
	l.queued--
}

// release frees a slot held for held (0 when unknown).
func (l *limiter) release(held time.Duration) {
	if held > 0 {
		old := l.hold.Load()
		l.hold.Store(old + (int64(held)-old)/8)
	}
	l.mu.Lock()
	if w := l.head; w != nil {
		l.unlink(w)
		w.granted = true
		close(w.ch)
	} else {
		l.inUse--
	}
	l.mu.Unlock()
}

// minRetryAfter is the least retry hint a full queue gives.
const minRetryAfter = 10 * time.Millisecond

func (l *limiter) exhausted() *altarerr.Error {
	// The queue drains about max slots per average hold time.
	ra := time.Duration(l.hold.Load()) * time.Duration(l.qmax+l.max) / time.Duration(l.max)
	if ra < minRetryAfter {
		ra = minRetryAfter
	}
	e := altarerr.New(altarv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED,
		"%s %q is at its limit of %d concurrent calls and %d queued", l.what, l.name, l.max, l.qmax)
	e.RetryAfter = ra
	return e.WithDetail("limit", l.what+"_concurrency").WithDetail(l.what, l.name)
}
