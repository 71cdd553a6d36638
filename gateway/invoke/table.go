package invoke

import (
	"context"
	"hash/maphash"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/altar-gateway/altar/gateway/altarerr"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// call is the engine's record of one invocation: the idempotency entry, the
// handle Cancel uses, and what Invocation reports. Fields above mu are set
// before the call is registered and never change.
type call struct {
	id, correlationID, sessionID string
	tool                         string // Target.Name
	digest                       [32]byte
	stream                       bool
	idempotent                   bool
	hostID                       bool // the Host generated id: no client repeats it
	created                      time.Time
	deadline                     time.Time

	mu           sync.Mutex
	cancel       context.CancelFunc // nil once finished (drops the context)
	state        altarv1.InvocationState
	runtimeID    string
	attempts     uint32
	started      time.Time
	finished     time.Time
	result       *altarv1.ToolResult
	err          *altarerr.Error
	answered     bool // result is a runtime's (or the cache's) answer
	cancelReason string

	// Guarded by the shard's mutex.
	done       chan struct{} // made when someone waits; closed at finish
	over       bool          // finished
	dispatched bool          // a runtime may have executed it
	rerunnable bool          // a repeat may run it again
	expires    time.Time
}

func (c *call) setExecuting(runtimeID string, attempt uint32, now time.Time) {
	c.mu.Lock()
	c.state = altarv1.InvocationState_INVOCATION_STATE_EXECUTING
	c.runtimeID = runtimeID
	c.attempts = attempt
	if c.started.IsZero() {
		c.started = now
	}
	c.mu.Unlock()
}

// stop cancels the call's context with the reason, unless it has
// finished; it reports whether it did.
func (c *call) stop(reason string) bool {
	c.mu.Lock()
	cancel := c.cancel
	if cancel != nil && c.cancelReason == "" {
		c.cancelReason = reason
	}
	c.mu.Unlock()
	if cancel == nil {
		return false
	}
	cancel()
	return true
}

// outcome returns what the call answered: its result when a runtime (or
// the cache) answered, else its error.
func (c *call) outcome() (*altarv1.ToolResult, *altarerr.Error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.answered {
		return c.result, nil
	}
	return nil, c.err
}

// proto builds the Invocation record.
func (c *call) proto() *altarv1.Invocation {
	c.mu.Lock()
	defer c.mu.Unlock()
	inv := &altarv1.Invocation{
		InvocationId:  c.id,
		CorrelationId: c.correlationID,
		SessionId:     c.sessionID,
		ToolName:      c.tool,
		RuntimeId:     c.runtimeID,
		State:         c.state,
		Attempts:      c.attempts,
		CreatedAt:     timestamppb.New(c.created),
		Deadline:      timestamppb.New(c.deadline),
		Result:        c.result,
	}
	if !c.started.IsZero() {
		inv.StartedAt = timestamppb.New(c.started)
	}
	if !c.finished.IsZero() {
		inv.FinishedAt = timestamppb.New(c.finished)
	}
	if c.err != nil {
		inv.Error = c.err.Proto()
	}
	return inv
}

// registration is what register found.
type registration int

const (
	registered registration = iota // c is now the entry: run it
	joined                         // an equal call is running: wait on ch
	repeated                       // an equal call finished: answer with it
	conflicted                     // the id is taken by a different call
)

const tableShards = 64

// maxHostPerShard bounds a shard's finished calls with Host-generated ids:
// 1,024 in all.
const maxHostPerShard = 16

// table holds every call by invocation id, sharded to keep the hot path off
// one lock. Finished calls are remembered until their window ends, in
// per-shard FIFOs ordered by finish time (the window is the same for all, so
// that is also expiry order): expiry and the count bounds are enforced on
// insert, with no background goroutine.
//
// A call whose id the Host generated can never be repeated by a client; it
// is remembered only so GetInvocation can report it, in a FIFO of its own
// with a tenth of the bound, and at most maxHostPerShard per shard. Keeping
// every such call for the whole window made the table the largest thing on
// the heap under load (a hundred thousand results for the garbage collector
// to scan, measured at about a tenth of the Host's CPU at 64 callers); a
// tenth of the default bound still cost 12% of it behind the MCP bridge.
type table struct {
	seed         maphash.Seed
	window       time.Duration
	perShard     int // bound on a shard's entries
	hostPerShard int // bound on a shard's finished host-id calls
	shards       [tableShards]tableShard
}

type tableShard struct {
	mu     sync.Mutex
	m      map[string]*call
	client finishedQueue // finished calls with client-chosen ids
	host   finishedQueue // finished calls with Host-generated ids
	_      [16]byte      // keep shards on separate cache lines
}

// finishedQueue is a FIFO of finished calls, oldest first from items[head].
type finishedQueue struct {
	items []*call
	head  int
}

func (q *finishedQueue) len() int { return len(q.items) - q.head }

// expire drops calls from the front while drop says so, forgetting them
// in m unless a newer call holds their id.
func (q *finishedQueue) expire(m map[string]*call, drop func(c *call) bool) {
	for q.head < len(q.items) {
		c := q.items[q.head]
		if !drop(c) {
			break
		}
		q.items[q.head] = nil
		q.head++
		if m[c.id] == c {
			delete(m, c.id)
		}
	}
	if q.head > 64 && q.head*2 > len(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items = q.items[:n]
		q.head = 0
	}
}

func newTable(window time.Duration, maxEntries int) *table {
	t := &table{seed: maphash.MakeSeed(), window: window, perShard: maxEntries / tableShards}
	if t.perShard < 1 {
		t.perShard = 1
	}
	t.hostPerShard = min(max(t.perShard/10, 1), maxHostPerShard)
	for i := range t.shards {
		t.shards[i].m = make(map[string]*call)
	}
	return t
}

func (t *table) shard(id string) *tableShard {
	return &t.shards[maphash.String(t.seed, id)%tableShards]
}

// register makes c the entry for its id, or reports the entry in the way.
// For joined it returns a channel closed when that entry finishes.
func (t *table) register(c *call, now time.Time) (*call, registration, <-chan struct{}) {
	s := t.shard(c.id)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(now, t.perShard, t.hostPerShard)
	ex := s.m[c.id]
	if ex != nil && ex.over && !ex.expires.After(now) {
		ex = nil
	}
	if ex == nil {
		s.m[c.id] = c
		return nil, registered, nil
	}
	same := ex.tool == c.tool && ex.digest == c.digest && ex.stream == c.stream
	switch {
	case ex.over && (!ex.dispatched || (same && ex.rerunnable)):
		// Nothing ran, or running again is harmless: start afresh.
		s.m[c.id] = c
		return nil, registered, nil
	case !same || c.stream:
		return ex, conflicted, nil
	case ex.over:
		return ex, repeated, nil
	}
	if ex.done == nil {
		ex.done = make(chan struct{})
	}
	return ex, joined, ex.done
}

// expire forgets finished calls whose window has ended, and the oldest
// finished ones beyond the bounds. Callers hold s.mu.
func (s *tableShard) expire(now time.Time, bound, hostBound int) {
	s.host.expire(s.m, func(c *call) bool {
		return !c.expires.After(now) || s.host.len() >= hostBound || len(s.m) >= bound
	})
	s.client.expire(s.m, func(c *call) bool {
		return !c.expires.After(now) || len(s.m) >= bound
	})
}

// finish marks c finished and wakes anyone waiting for it. The call's
// outcome must be recorded (under c.mu) before.
func (t *table) finish(c *call, now time.Time, dispatched, rerunnable bool) {
	s := t.shard(c.id)
	s.mu.Lock()
	c.over = true
	c.dispatched = dispatched
	c.rerunnable = rerunnable
	c.expires = now.Add(t.window)
	if s.m[c.id] == c {
		if c.hostID {
			s.host.items = append(s.host.items, c)
		} else {
			s.client.items = append(s.client.items, c)
		}
	}
	if c.done != nil {
		close(c.done)
	}
	s.mu.Unlock()
}

// lookup returns the live entry for id.
func (t *table) lookup(id string, now time.Time) *call {
	s := t.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.m[id]
	if c == nil || (c.over && !c.expires.After(now)) {
		return nil
	}
	return c
}

// running returns every call not yet finished.
func (t *table) running() []*call {
	var out []*call
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for _, c := range s.m {
			if !c.over {
				out = append(out, c)
			}
		}
		s.mu.Unlock()
	}
	return out
}
