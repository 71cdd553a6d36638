package session_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/altar-gateway/altar/gateway/session"
	"github.com/altar-gateway/altar/gateway/session/sessiontest"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

func TestSweep(t *testing.T) {
	// More sessions than one DeleteExpired batch (1024), at several TTLs.
	f := newFixture(t)
	ttls := []time.Duration{time.Second, time.Minute, time.Hour}
	const each = 1500
	expiresAt := make(map[string]time.Time)
	for _, ttl := range ttls {
		for range each {
			s := f.create(t, &altarv1.CreateSessionRequest{Ttl: durationpb.New(ttl)})
			expiresAt[s.GetSessionId()] = s.GetExpiresAt().AsTime()
		}
	}
	f.events.take()
	for i, step := range []time.Duration{time.Second, time.Minute, time.Hour} {
		f.clock.Set(epoch.Add(step))
		n, err := f.m.Sweep(f.ctx)
		if err != nil || n != each {
			t.Fatalf("Sweep at +%v = %d, %v; want %d", step, n, err, each)
		}
		evs := f.events.take()
		if len(evs) != each {
			t.Fatalf("Sweep at +%v told listeners of %d expiries, want %d", step, len(evs), each)
		}
		for _, ev := range evs {
			want, ok := expiresAt[ev.GetSessionId()]
			if !ok || ev.GetKind() != expired || !ev.GetAt().AsTime().Equal(want) {
				t.Fatalf("event %v; want EXPIRED at %v", ev, want)
			}
			delete(expiresAt, ev.GetSessionId())
		}
		if n, _ := f.m.Len(f.ctx); n != (len(ttls)-i-1)*each {
			t.Fatalf("Len after sweep %d = %d", i, n)
		}
	}
}

// startRun runs m.Run in a goroutine once the fake clock's ticker exists,
// and returns a function that waits for Run's result.
func startRun(t *testing.T, ctx context.Context, m *session.Manager, clock *sessiontest.Clock) (wait func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- m.Run(ctx) }()
	wctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := clock.WaitTickers(wctx, 1); err != nil {
		t.Fatalf("Run did not start its ticker: %v", err)
	}
	return func() error {
		select {
		case err := <-errc:
			return err
		case <-time.After(testTimeout):
			t.Fatal("Run did not return")
			return nil
		}
	}
}

func TestRunSweepsEveryInterval(t *testing.T) {
	const interval = 10 * time.Second
	f := newFixture(t, session.WithSweepInterval(interval))
	f.events.ch = make(chan *altarv1.SessionEvent, 16)
	ctx, cancel := context.WithCancel(f.ctx)
	defer cancel()
	wait := startRun(t, ctx, f.m, f.clock)

	short := f.create(t, &altarv1.CreateSessionRequest{Ttl: durationpb.New(time.Second)}).GetSessionId()
	long := f.create(t, &altarv1.CreateSessionRequest{Ttl: durationpb.New(15 * time.Second)}).GetSessionId()
	for _, id := range []string{short, long} {
		if ev := <-f.events.ch; ev.GetKind() != created || ev.GetSessionId() != id {
			t.Fatalf("event %v, want CREATED %s", ev, id)
		}
	}

	// Expired but not yet swept: Run has not ticked.
	f.clock.Advance(5 * time.Second)
	_, err := f.m.Get(f.ctx, short)
	wantCode(t, "Get before the tick", err, altarv1.ErrorCode_ERROR_CODE_SESSION_EXPIRED)

	// Each tick sweeps what has expired by then.
	for _, want := range []struct {
		advance time.Duration
		id      string
		at      time.Time
	}{
		{5 * time.Second, short, epoch.Add(time.Second)},      // tick at +10s
		{10 * time.Second, long, epoch.Add(15 * time.Second)}, // tick at +20s
	} {
		f.clock.Advance(want.advance)
		select {
		case ev := <-f.events.ch:
			if ev.GetKind() != expired || ev.GetSessionId() != want.id || !ev.GetAt().AsTime().Equal(want.at) {
				t.Fatalf("event %v, want EXPIRED %s at %v", ev, want.id, want.at)
			}
		case <-time.After(testTimeout):
			t.Fatalf("no EXPIRED event for %s after the tick", want.id)
		}
		_, err := f.m.Get(f.ctx, want.id)
		wantCode(t, "Get after the tick", err, altarv1.ErrorCode_ERROR_CODE_SESSION_NOT_FOUND)
	}

	cancel()
	if err := wait(); err != nil {
		t.Fatalf("Run = %v after its context ended, want nil", err)
	}
	if n := f.clock.Tickers(); n != 0 {
		t.Fatalf("%d tickers still running after Run returned", n)
	}
}

func TestCloseStopsRun(t *testing.T) {
	f := newFixture(t)
	wait := startRun(t, f.ctx, f.m, f.clock)
	var wg sync.WaitGroup
	for range 3 { // Close is idempotent, also concurrently
		wg.Go(func() {
			if err := f.m.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	wg.Wait()
	if err := wait(); err != nil {
		t.Fatalf("Run = %v after Close, want nil", err)
	}
	if n := f.clock.Tickers(); n != 0 {
		t.Fatalf("%d tickers still running after Close returned", n)
	}
}

func TestRunOnlyOnce(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(f.ctx)
	wait := startRun(t, ctx, f.m, f.clock)
	if err := f.m.Run(f.ctx); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second Run = %v, want an error", err)
	}
	cancel()
	if err := wait(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	// Once it has returned, it may run again.
	ctx, cancel = context.WithCancel(f.ctx)
	wait = startRun(t, ctx, f.m, f.clock)
	cancel()
	if err := wait(); err != nil {
		t.Fatalf("Run again: %v", err)
	}
}

// failingSweeps is a store whose DeleteExpired fails and reports each call.
type failingSweeps struct {
	*session.MemoryStore
	calls chan struct{}
}

func (s failingSweeps) DeleteExpired(ctx context.Context, now time.Time, limit int) ([]*altarv1.Session, error) {
	defer func() { s.calls <- struct{}{} }()
	return nil, errors.New("store unreachable")
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestRunLogsFailedSweepAndGoesOn(t *testing.T) {
	const interval = time.Second
	store := failingSweeps{session.NewMemoryStore(), make(chan struct{}, 1)}
	clock := sessiontest.NewClock(epoch)
	var logs syncBuffer
	m, err := session.New(store, session.WithClock(clock), session.WithSweepInterval(interval),
		session.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	wait := startRun(t, t.Context(), m, clock)
	// Three ticks: the third sweep starts only after the second's failure
	// was logged.
	for range 3 {
		clock.Advance(interval)
		select {
		case <-store.calls:
		case <-time.After(testTimeout):
			t.Fatal("Run did not sweep on the tick")
		}
	}
	m.Close()
	if err := wait(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := strings.Count(logs.String(), "sweeping expired sessions failed"); got < 2 {
		t.Fatalf("logged %d failed sweeps, want at least 2:\n%s", got, logs.String())
	}
	if !strings.Contains(logs.String(), "store unreachable") {
		t.Fatalf("the log does not carry the store's error:\n%s", logs.String())
	}
}
