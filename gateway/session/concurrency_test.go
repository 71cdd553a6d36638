package session_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/session"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// eventCounts counts, per session id, the events of each kind.
type eventCounts struct {
	mu sync.Mutex
	m  map[string]*[4]int // indexed by SessionEventKind
}

func (c *eventCounts) listen(ev *altarv1.SessionEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.m[ev.GetSessionId()]
	if n == nil {
		n = new([4]int)
		c.m[ev.GetSessionId()] = n
	}
	n[ev.GetKind()]++
}

// live returns the ids with one more CREATED than ends, and reports an id
// with any other balance.
func (c *eventCounts) live(t *testing.T) (live map[string]bool, creates int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	live = make(map[string]bool)
	for id, n := range c.m {
		creates += n[created]
		switch n[created] - n[expired] - n[destroyed] {
		case 0:
		case 1:
			live[id] = true
		default:
			t.Errorf("session %s: %d CREATED, %d EXPIRED, %d DESTROYED", id, n[created], n[expired], n[destroyed])
		}
	}
	return live, creates
}

func TestConcurrentUse(t *testing.T) {
	const (
		goroutines  = 64
		ops         = 500
		maxSessions = 300
		pool        = 32 // proposed ids shared by every goroutine
	)
	counts := &eventCounts{m: make(map[string]*[4]int)}
	f := newFixture(t, session.WithMaxSessions(maxSessions), session.WithSweepInterval(5*time.Second),
		session.WithListener(counts.listen))
	runCtx, stopRun := context.WithCancel(f.ctx)
	defer stopRun()
	waitRun := startRun(t, runCtx, f.m, f.clock)

	poolID := func(r *rand.Rand) string { return fmt.Sprintf("pool-id-%02d", r.IntN(pool)) }
	var creates atomic.Int64
	var codeCounts sync.Map // altarv1.ErrorCode -> *atomic.Int64
	record := func(op string, err error) {
		if err == nil {
			return
		}
		code := altarerr.CodeOf(err)
		switch code {
		case altarv1.ErrorCode_ERROR_CODE_SESSION_NOT_FOUND, altarv1.ErrorCode_ERROR_CODE_SESSION_EXPIRED,
			altarv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS, altarv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED:
		default:
			t.Errorf("%s: unexpected error %v", op, err)
		}
		n, _ := codeCounts.LoadOrStore(code, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
	}

	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 42))
			var mine []string
			pick := func() string {
				if len(mine) == 0 || r.IntN(4) == 0 {
					return poolID(r)
				}
				return mine[r.IntN(len(mine))]
			}
			for range ops {
				switch op := r.IntN(100); {
				case op < 45:
					req := &altarv1.CreateSessionRequest{
						Ttl:      durationpb.New(time.Duration(1+r.IntN(120)) * time.Second),
						Metadata: map[string]string{"goroutine": fmt.Sprint(g)},
					}
					if op < 10 {
						req.SessionId = poolID(r)
					}
					s, err := f.m.Create(f.ctx, req, &altarv1.SecurityContext{PrincipalId: fmt.Sprint(g)})
					record("Create", err)
					if err == nil {
						creates.Add(1)
						mine = append(mine, s.GetSessionId())
					}
				case op < 65:
					_, err := f.m.Touch(f.ctx, pick())
					record("Touch", err)
				case op < 75:
					_, err := f.m.Get(f.ctx, pick())
					record("Get", err)
				case op < 90:
					record("Destroy", f.m.Destroy(f.ctx, pick()))
				case op < 95:
					f.clock.Advance(time.Second)
				case op < 98:
					_, err := f.m.Sweep(f.ctx)
					record("Sweep", err)
				default:
					_, err := f.m.List(f.ctx, &altarv1.ListSessionsRequest{PageSize: 50})
					record("List", err)
				}
			}
		})
	}
	wg.Wait()
	stopRun()
	if err := waitRun(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	codeCounts.Range(func(k, v any) bool {
		t.Logf("%v: %d", k, v.(*atomic.Int64).Load())
		return true
	})

	// Every session created was announced once and ended at most once; the
	// ones not ended are exactly what the store holds, within the bound.
	check := func(when string) map[string]bool {
		t.Helper()
		live, announced := counts.live(t)
		if int64(announced) != creates.Load() {
			t.Fatalf("%s: %d CREATED events for %d successful Creates", when, announced, creates.Load())
		}
		stored, err := f.store.List(f.ctx, "", maxSessions+1)
		if err != nil {
			t.Fatalf("store List: %v", err)
		}
		for _, s := range stored {
			if !live[s.GetSessionId()] {
				t.Errorf("%s: stored session %s was announced ended", when, s.GetSessionId())
			}
		}
		if len(stored) != len(live) {
			t.Errorf("%s: the store holds %d sessions, the events leave %d", when, len(stored), len(live))
		}
		if n, _ := f.m.Len(f.ctx); n != len(stored) || n > maxSessions {
			t.Errorf("%s: Len = %d, listed %d, bound %d", when, n, len(stored), maxSessions)
		}
		return live
	}
	live := check("after the run")
	t.Logf("%d successful Creates, %d sessions left", creates.Load(), len(live))

	f.clock.Advance(session.DefaultMaxTTL)
	if n, err := f.m.Sweep(f.ctx); err != nil || n != len(live) {
		t.Fatalf("final Sweep = %d, %v; want %d", n, err, len(live))
	}
	if live := check("after the final sweep"); len(live) != 0 {
		t.Fatalf("%d sessions outlived the maximum TTL", len(live))
	}
}
