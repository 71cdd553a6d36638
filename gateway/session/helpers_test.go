package session_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/session"
	"github.com/altar-gateway/altar/gateway/session/sessiontest"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// testTimeout bounds every wait in these tests; nothing waits on time
// passing, only on other goroutines.
const testTimeout = 30 * time.Second

var epoch = sessiontest.Epoch

// events records what listeners are told.
type events struct {
	mu   sync.Mutex
	list []*altarv1.SessionEvent
	ch   chan *altarv1.SessionEvent // also sent each event, if not nil
}

func (e *events) listen(ev *altarv1.SessionEvent) {
	e.mu.Lock()
	e.list = append(e.list, ev)
	e.mu.Unlock()
	if e.ch != nil {
		e.ch <- ev
	}
}

// take returns the events recorded so far and forgets them.
func (e *events) take() []*altarv1.SessionEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.list
	e.list = nil
	return out
}

type event struct {
	id   string
	kind altarv1.SessionEventKind
	at   time.Time
}

// plain returns the events' contents, in the order they were delivered.
func plain(evs []*altarv1.SessionEvent) []event {
	out := make([]event, len(evs))
	for i, ev := range evs {
		out[i] = event{ev.GetSessionId(), ev.GetKind(), ev.GetAt().AsTime()}
	}
	return out
}

const (
	created   = altarv1.SessionEventKind_SESSION_EVENT_KIND_CREATED
	expired   = altarv1.SessionEventKind_SESSION_EVENT_KIND_EXPIRED
	destroyed = altarv1.SessionEventKind_SESSION_EVENT_KIND_DESTROYED
)

type fixture struct {
	m      *session.Manager
	store  *session.MemoryStore
	clock  *sessiontest.Clock
	events *events
	ctx    context.Context
}

// newFixture returns a Manager over a fresh memory store with a fake clock
// at epoch and a recording listener, closed when the test ends.
func newFixture(t *testing.T, opts ...session.Option) *fixture {
	t.Helper()
	f := &fixture{store: session.NewMemoryStore(), clock: sessiontest.NewClock(epoch), events: &events{}}
	opts = append([]session.Option{session.WithClock(f.clock), session.WithListener(f.events.listen)}, opts...)
	m, err := session.New(f.store, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	f.m = m
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	f.ctx = ctx
	return f
}

func (f *fixture) create(t *testing.T, req *altarv1.CreateSessionRequest) *altarv1.Session {
	t.Helper()
	s, err := f.m.Create(f.ctx, req, nil)
	if err != nil {
		t.Fatalf("Create(%v): %v", req, err)
	}
	return s
}

// wantCode fails unless err is an *altarerr.Error with the code.
func wantCode(t *testing.T, what string, err error, code altarv1.ErrorCode) *altarerr.Error {
	t.Helper()
	var e *altarerr.Error
	if !errors.As(err, &e) {
		t.Fatalf("%s: error %v (%T), want an *altarerr.Error with %v", what, err, err, code)
	}
	if e.Code != code {
		t.Fatalf("%s: error %v, want code %v", what, err, code)
	}
	return e
}

func sortStrings(s []string) { slices.Sort(s) }

func equalStrings(a, b []string) bool { return slices.Equal(a, b) }

func equalInts(a, b []int) bool { return slices.Equal(a, b) }

func repeat(v, n int) []int { return slices.Repeat([]int{v}, n) }
