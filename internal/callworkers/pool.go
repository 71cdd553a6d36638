package callworkers

import (
	"sync"
	"sync/atomic"
)

// Pool runs functions on up to max long-lived workers. The zero Pool and a
// nil *Pool run every function on a goroutine of its own.
type Pool struct {
	max     int32
	work    chan func()
	stop    <-chan struct{}
	wg      *sync.WaitGroup
	workers atomic.Int32
}

// New returns a pool of at most max workers. Closing stop ends idle
// workers (a worker running a function ends when it returns); wg counts
// the workers, so that the owner can wait for them after closing stop.
func New(max int, stop <-chan struct{}, wg *sync.WaitGroup) *Pool {
	return &Pool{max: int32(max), work: make(chan func()), stop: stop, wg: wg}
}

// Go runs f on an idle worker, a new worker, or a goroutine of its own.
// f must return once the pool's owner stops it.
func (p *Pool) Go(f func()) {
	if p == nil || p.work == nil {
		go f()
		return
	}
	select {
	case p.work <- f:
		return
	default:
	}
	if p.workers.Add(1) <= p.max {
		p.wg.Add(1)
		go p.worker(f)
		return
	}
	p.workers.Add(-1)
	go f()
}

// worker runs f, then whatever it is handed, until stop closes.
func (p *Pool) worker(f func()) {
	defer p.wg.Done()
	defer p.workers.Add(-1)
	for {
		f()
		select {
		case f = <-p.work:
		case <-p.stop:
			return
		}
	}
}
