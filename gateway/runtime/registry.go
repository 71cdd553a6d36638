package runtime

import (
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/altar-gateway/altar/gateway/altarerr"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Registry is the set of connected runtimes and their health. It is safe
// for concurrent use; Lookup is the invocation engine's hot path and takes
// only a read lock.
type Registry struct {
	mu      sync.RWMutex
	entries map[string]*entry
	now     func() time.Time
}

type entry struct {
	conn        Conn
	connectedAt time.Time

	mu sync.Mutex
	// reported is the runtime's own view of its health (its heartbeats);
	// late is the Host's: its heartbeats are overdue. The runtime's health
	// is the worse of the two, so that neither hides the other.
	reported      Health
	late          bool
	lastHeartbeat time.Time
	inFlight      uint32
	tools         []*altarv1.FulfilledTool
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{entries: make(map[string]*entry), now: time.Now}
}

// Add registers a connected runtime. A runtime already registered under the
// same id is returned so the caller can close it: a reconnecting runtime
// replaces its earlier connection.
func (r *Registry) Add(c Conn) (replaced Conn) {
	now := r.now()
	e := &entry{conn: c, connectedAt: now, reported: Healthy, lastHeartbeat: now}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.entries[c.ID()]; ok {
		replaced = old.conn
	}
	r.entries[c.ID()] = e
	return replaced
}

// Remove unregisters c, if c (not a newer connection with its id) is the
// registered one. It reports whether it removed anything.
func (r *Registry) Remove(c Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.entries[c.ID()]; ok && e.conn == c {
		delete(r.entries, c.ID())
		return true
	}
	return false
}

// Lookup returns the runtime's connection and health.
func (r *Registry) Lookup(id string) (Conn, Health, bool) {
	r.mu.RLock()
	e, ok := r.entries[id]
	r.mu.RUnlock()
	if !ok {
		return nil, Unhealthy, false
	}
	e.mu.Lock()
	h := e.health()
	e.mu.Unlock()
	return e.conn, h, true
}

// health is the worse of the runtime's own view and the Host's. e.mu is
// held.
func (e *entry) health() Health {
	if e.late && e.reported < Degraded {
		return Degraded
	}
	return e.reported
}

// Get returns the runtime's connection.
func (r *Registry) Get(id string) (Conn, error) {
	c, _, ok := r.Lookup(id)
	if !ok {
		return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_NOT_FOUND, "runtime %q is not connected", id)
	}
	return c, nil
}

// SetLate records whether the runtime's heartbeats are overdue: a late
// runtime is at best Degraded, and recovers when they come again.
func (r *Registry) SetLate(id string, late bool) {
	r.update(id, func(e *entry) { e.late = late })
}

// Heartbeat records a heartbeat from the runtime: its time, its in-flight
// count and, when it reports one, its own view of its health.
func (r *Registry) Heartbeat(id string, hb *altarv1.Heartbeat) {
	now := r.now()
	r.update(id, func(e *entry) {
		e.lastHeartbeat = now
		e.inFlight = hb.GetInFlight()
		if hb.GetHealth() != altarv1.RuntimeHealth_RUNTIME_HEALTH_UNSPECIFIED {
			e.reported = hb.GetHealth()
		}
	})
}

// SetTools records the tools the runtime now serves (for listing).
func (r *Registry) SetTools(id string, tools []*altarv1.FulfilledTool) {
	r.update(id, func(e *entry) { e.tools = tools })
}

// AddTools adds to the tools the runtime serves; a tool it already served
// under the same qualified name (fulfilled again) is replaced.
func (r *Registry) AddTools(id string, tools []*altarv1.FulfilledTool) {
	r.update(id, func(e *entry) {
		kept := slices.DeleteFunc(slices.Clone(e.tools), func(t *altarv1.FulfilledTool) bool {
			return slices.ContainsFunc(tools, func(n *altarv1.FulfilledTool) bool { return n.GetQualifiedName() == t.GetQualifiedName() })
		})
		e.tools = append(kept, tools...)
	})
}

// RemoveTools drops tools by contract name.
func (r *Registry) RemoveTools(id string, names []string) {
	r.update(id, func(e *entry) {
		e.tools = slices.DeleteFunc(slices.Clone(e.tools), func(t *altarv1.FulfilledTool) bool {
			return slices.Contains(names, t.GetContractName())
		})
	})
}

func (r *Registry) update(id string, f func(*entry)) {
	r.mu.RLock()
	e, ok := r.entries[id]
	r.mu.RUnlock()
	if !ok {
		return
	}
	e.mu.Lock()
	f(e)
	e.mu.Unlock()
}

// IDs returns the connected runtimes' ids, sorted.
func (r *Registry) IDs() []string {
	r.mu.RLock()
	ids := make([]string, 0, len(r.entries))
	for id := range r.entries {
		ids = append(ids, id)
	}
	r.mu.RUnlock()
	slices.Sort(ids)
	return ids
}

// Conns returns every connected runtime's connection, sorted by id.
func (r *Registry) Conns() []Conn {
	r.mu.RLock()
	conns := make([]Conn, 0, len(r.entries))
	for _, e := range r.entries {
		conns = append(conns, e.conn)
	}
	r.mu.RUnlock()
	slices.SortFunc(conns, func(a, b Conn) int { return strings.Compare(a.ID(), b.ID()) })
	return conns
}

// List describes every connected runtime, sorted by id. The breaker state
// is the invocation engine's and is filled in by the caller.
func (r *Registry) List() []*altarv1.RuntimeInfo {
	r.mu.RLock()
	entries := make([]*entry, 0, len(r.entries))
	for _, e := range r.entries {
		entries = append(entries, e)
	}
	r.mu.RUnlock()
	out := make([]*altarv1.RuntimeInfo, 0, len(entries))
	for _, e := range entries {
		a := e.conn.Announcement()
		e.mu.Lock()
		info := &altarv1.RuntimeInfo{
			RuntimeId:       e.conn.ID(),
			Language:        a.GetLanguage(),
			Version:         a.GetVersion(),
			Capabilities:    slices.Clone(a.GetCapabilities()),
			ComplianceLevel: a.GetComplianceLevel(),
			Transport:       e.conn.Transport(),
			Health:          e.health(),
			ConnectedAt:     timestamppb.New(e.connectedAt),
			LastHeartbeatAt: timestamppb.New(e.lastHeartbeat),
			Tools:           slices.Clone(e.tools),
			InFlight:        e.inFlight,
			Metadata:        a.GetMetadata(),
		}
		e.mu.Unlock()
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b *altarv1.RuntimeInfo) int { return strings.Compare(a.GetRuntimeId(), b.GetRuntimeId()) })
	return out
}
