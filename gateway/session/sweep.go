package session

import (
	"context"
	"errors"

	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Sweep removes every session that has expired by now, tells listeners
// (EXPIRED, at each session's expires_at) and returns how many it removed.
// Run calls it every sweep interval; tests call it directly. Concurrent
// Sweeps (on one Host or several sharing a store) report each session once.
// Sessions removed before an error are still reported and counted.
func (m *Manager) Sweep(ctx context.Context) (int, error) {
	if err := m.checkOpen(); err != nil {
		return 0, err
	}
	now := m.now()
	total := 0
	for {
		gone, err := m.store.DeleteExpired(ctx, now, sweepBatch)
		for _, s := range gone {
			m.emit(s.GetSessionId(), altarv1.SessionEventKind_SESSION_EVENT_KIND_EXPIRED, s.GetExpiresAt().AsTime())
		}
		total += len(gone)
		if err != nil {
			return total, storeError(err, "delete expired sessions")
		}
		if len(gone) < sweepBatch {
			return total, nil
		}
	}
}

// Run sweeps expired sessions every sweep interval until ctx ends or Close
// is called, then returns nil. The goroutine that calls Run owns the sweeper:
// nothing outlives Run's return. A sweep's failure is logged and the next
// tick tries again. Run returns an error at once if the Manager is closed or
// another Run is in progress.
func (m *Manager) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	defer close(done)

	m.runMu.Lock()
	switch {
	case m.closed.Load():
		m.runMu.Unlock()
		return errors.New("session: Run after Close")
	case m.running:
		m.runMu.Unlock()
		return errors.New("session: Run is already running")
	}
	m.running, m.cancelRun, m.runDone = true, cancel, done
	m.runMu.Unlock()
	defer func() {
		m.runMu.Lock()
		m.running, m.cancelRun, m.runDone = false, nil, nil
		m.runMu.Unlock()
	}()

	log := m.cfg.logger.With("component", "session.sweeper")
	log.DebugContext(ctx, "sweeper started", "interval", m.cfg.sweepInterval)
	t := m.cfg.clock.NewTicker(m.cfg.sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			log.DebugContext(ctx, "sweeper stopped")
			return nil
		case <-t.C():
		}
		n, err := m.Sweep(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.WarnContext(ctx, "sweeping expired sessions failed", "expired", n, "error", err)
		case n > 0:
			log.DebugContext(ctx, "expired sessions swept", "expired", n)
		}
	}
}

// Close stops Run, waits for it to return, and makes every later call fail
// with ERROR_CODE_FAILED_PRECONDITION. It does not close the store. Close is
// idempotent, safe to call concurrently and without Run; it returns nil.
func (m *Manager) Close() error {
	m.closed.Store(true)
	m.runMu.Lock()
	cancel, done := m.cancelRun, m.runDone
	m.runMu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	return nil
}
