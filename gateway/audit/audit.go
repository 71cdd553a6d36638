package audit

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Kinds of event.
const (
	KindManifestLoad      = "manifest.load"
	KindManifestReload    = "manifest.reload"
	KindContractFulfil    = "contract.fulfil"
	KindContractRegister  = "contract.register"
	KindContractReject    = "contract.reject"
	KindContractWithdraw  = "contract.withdraw"
	KindContractUnbind    = "contract.unbind"
	KindRuntimeUnregister = "runtime.unregister"
	KindModeSwitch        = "mode.switch"
)

// Event is one audited change.
type Event struct {
	Time time.Time
	// Kind is one of the Kind constants.
	Kind string
	// Actor is who caused it: a runtime id, "admin:<key id>", "config".
	Actor     string
	RuntimeID string
	SessionID string
	// Tool is the contract's name, Version its version, where relevant.
	Tool    string
	Version string
	// Outcome is "accepted" or "refused".
	Outcome string
	// Reason says why, for refusals and mode switches.
	Reason string
	// Detail is extra context (manifest source, previous mode, ...).
	Detail map[string]string
}

// Sink receives events. Record is called synchronously by the code that
// made the change and must be safe for concurrent use.
type Sink interface {
	Record(Event)
}

// Discard drops every event.
var Discard Sink = discard{}

type discard struct{}

func (discard) Record(Event) {}

// LogSink writes each event as one structured log line at Info (Warn for
// refusals and DEVELOPMENT-mode registrations).
type LogSink struct{ Logger *slog.Logger }

// Record logs e.
func (s LogSink) Record(e Event) {
	level := slog.LevelInfo
	if e.Outcome == "refused" || e.Kind == KindContractRegister {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("kind", e.Kind), slog.String("actor", e.Actor), slog.String("outcome", e.Outcome),
	}
	for k, v := range map[string]string{"runtime_id": e.RuntimeID, "session_id": e.SessionID, "tool": e.Tool,
		"version": e.Version, "reason": e.Reason} {
		if v != "" {
			attrs = append(attrs, slog.String(k, v))
		}
	}
	for k, v := range e.Detail {
		attrs = append(attrs, slog.String("detail."+k, v))
	}
	s.Logger.LogAttrs(context.Background(), level, "audit", attrs...)
}

// Recorder keeps events in memory, for tests and the dashboard.
type Recorder struct {
	mu     sync.Mutex
	events []Event
}

// Record appends e.
func (r *Recorder) Record(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// Events returns a copy of the events recorded so far.
func (r *Recorder) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// Kinds returns the recorded events' kinds, in order.
func (r *Recorder) Kinds() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	kinds := make([]string, len(r.events))
	for i, e := range r.events {
		kinds[i] = e.Kind
	}
	return kinds
}

// Multi sends every event to each sink in turn.
func Multi(sinks ...Sink) Sink { return multi(sinks) }

type multi []Sink

func (m multi) Record(e Event) {
	for _, s := range m {
		s.Record(e)
	}
}

var (
	_ Sink = discard{}
	_ Sink = LogSink{}
	_ Sink = (*Recorder)(nil)
	_ Sink = multi(nil)
)
