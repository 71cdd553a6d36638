package invoketest

import (
	"sync"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/invoke"
	"github.com/altar-gateway/altar/gateway/runtime"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Runtimes is a fake runtime registry (invoke.Runtimes).
type Runtimes struct {
	mu sync.RWMutex
	m  map[string]runtimeEntry
}

type runtimeEntry struct {
	conn   runtime.Conn
	health runtime.Health
}

// NewRuntimes returns a registry holding the conns, all healthy.
func NewRuntimes(conns ...runtime.Conn) *Runtimes {
	r := &Runtimes{m: make(map[string]runtimeEntry)}
	for _, c := range conns {
		r.Add(c)
	}
	return r
}

// Add registers c as healthy, replacing any runtime with its id.
func (r *Runtimes) Add(c runtime.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m[c.ID()] = runtimeEntry{conn: c, health: runtime.Healthy}
}

// Remove unregisters the runtime.
func (r *Runtimes) Remove(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, id)
}

// SetHealth sets the runtime's health.
func (r *Runtimes) SetHealth(id string, h runtime.Health) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.m[id]; ok {
		e.health = h
		r.m[id] = e
	}
}

// Lookup implements invoke.Runtimes.
func (r *Runtimes) Lookup(id string) (runtime.Conn, runtime.Health, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.m[id]
	return e.conn, e.health, ok
}

// Resolver is a fake resolver (invoke.Resolver) over a fixed set of tools,
// by qualified name and by contract name.
type Resolver struct {
	mu    sync.RWMutex
	tools map[string]invoke.Target
}

// NewResolver returns a resolver of the targets.
func NewResolver(targets ...invoke.Target) *Resolver {
	r := &Resolver{tools: make(map[string]invoke.Target)}
	for _, t := range targets {
		r.Add(t)
	}
	return r
}

// Add adds or replaces a target.
func (r *Resolver) Add(t invoke.Target) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tools[t.Name] = t
	r.tools[t.Contract.GetName()] = t
}

// Resolve implements invoke.Resolver; the session is ignored.
func (r *Resolver) Resolve(_, toolName string) (invoke.Target, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t, ok := r.tools[toolName]
	if !ok {
		return invoke.Target{}, altarerr.New(altarv1.ErrorCode_ERROR_CODE_TOOL_NOT_FOUND, "no tool named %q", toolName)
	}
	return t, nil
}

// Target compiles the contract's schemas into a Target named after the
// contract, fulfilled by the runtimes. It panics on a schema that does not
// compile (test input).
func Target(c *altarv1.ToolContract, runtimeIDs ...string) invoke.Target {
	t := invoke.Target{Name: c.GetName(), Contract: c, RuntimeIDs: runtimeIDs}
	if c.GetParameters() != nil {
		t.Params = schema.MustCompile(c.GetParameters())
	}
	if c.GetReturnType() != nil {
		t.Returns = schema.MustCompile(c.GetReturnType())
	}
	return t
}

var (
	_ invoke.Runtimes = (*Runtimes)(nil)
	_ invoke.Resolver = (*Resolver)(nil)
)
