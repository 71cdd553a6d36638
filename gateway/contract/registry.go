package contract

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/audit"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Registry holds the Host's trusted contracts and which runtimes serve
// them. It decides what a runtime may fulfil or register (it is the
// runtime service's ContractAuthority) and resolves a caller's tool name to
// a contract and the runtimes that serve it. It knows nothing of calls.
//
// It is safe for concurrent use. Resolve, the invocation engine's hot path,
// takes only a read lock. A reload swaps the trusted set at once; calls in
// flight keep the *Contract they resolved, so none is dropped.
type Registry struct {
	mu       sync.RWMutex
	mode     altarv1.HostMode
	paths    []string
	trusted  map[string][]*Contract // by name, newest version first
	runtimes map[string]map[string]*binding
	byName   map[string][]*binding  // bindings by contract name
	defaults map[string]string      // tool name -> preferred runtime id
	sources  map[string][]*Contract // contracts set with SetSource, by source

	audit    audit.Sink
	logger   *slog.Logger
	now      func() time.Time
	onChange func(unbound map[string][]string)
}

// binding is one tool a runtime serves.
type binding struct {
	runtimeID  string
	contract   *Contract
	registered bool   // defined by the runtime (DEVELOPMENT mode)
	sessionID  string // when registered for one session only
}

func (b *binding) qualified() string { return b.runtimeID + "/" + b.contract.Name() }

func (b *binding) visibleTo(sessionID string) bool {
	return b.sessionID == "" || b.sessionID == sessionID
}

// RegistryOption configures a Registry.
type RegistryOption interface{ apply(*Registry) }

type registryOptionFunc func(*Registry)

func (f registryOptionFunc) apply(r *Registry) { f(r) }

// WithMode sets the initial host mode (STRICT by default).
func WithMode(m altarv1.HostMode) RegistryOption {
	return registryOptionFunc(func(r *Registry) { r.mode = m })
}

// WithAudit sets where audit events go.
func WithAudit(s audit.Sink) RegistryOption {
	return registryOptionFunc(func(r *Registry) { r.audit = s })
}

// WithLogger sets the structured logger.
func WithLogger(l *slog.Logger) RegistryOption {
	return registryOptionFunc(func(r *Registry) { r.logger = l })
}

// WithDefaultRuntime makes runtimeID the preferred runtime for the bare
// name of a tool that several runtimes serve.
func WithDefaultRuntime(tool, runtimeID string) RegistryOption {
	return registryOptionFunc(func(r *Registry) { r.defaults[tool] = runtimeID })
}

// WithChangeListener calls fn after every change of the trusted contracts
// (a load, a reload, a source's contracts set), outside the registry's
// lock, with the bindings the change dropped: runtime id to contract
// names. The Host uses it to offer the contracts to its runtimes again.
func WithChangeListener(fn func(unbound map[string][]string)) RegistryOption {
	return registryOptionFunc(func(r *Registry) { r.onChange = fn })
}

// NewRegistry returns a registry with no contracts.
func NewRegistry(opts ...RegistryOption) *Registry {
	r := &Registry{
		mode:     altarv1.HostMode_HOST_MODE_STRICT,
		trusted:  map[string][]*Contract{},
		runtimes: map[string]map[string]*binding{},
		byName:   map[string][]*binding{},
		defaults: map[string]string{},
		sources:  map[string][]*Contract{},
		audit:    audit.Discard,
		logger:   slog.New(slog.DiscardHandler),
		now:      time.Now,
	}
	for _, o := range opts {
		o.apply(r)
	}
	return r
}

// Mode is the current host mode.
func (r *Registry) Mode() altarv1.HostMode {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.mode
}

// SetMode switches the host mode and audits who did it and why. Checking
// that the actor holds an admin credential is the caller's job. Leaving
// DEVELOPMENT mode withdraws every runtime-registered tool.
func (r *Registry) SetMode(m altarv1.HostMode, actor, reason string) (previous altarv1.HostMode, err error) {
	if m != altarv1.HostMode_HOST_MODE_STRICT && m != altarv1.HostMode_HOST_MODE_DEVELOPMENT {
		return 0, altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, "unknown host mode %v", m).
			WithField("/mode", "enum", "must be HOST_MODE_STRICT or HOST_MODE_DEVELOPMENT")
	}
	r.mu.Lock()
	previous, r.mode = r.mode, m
	var dropped []*binding
	if m == altarv1.HostMode_HOST_MODE_STRICT {
		for _, tools := range r.runtimes {
			for _, b := range tools {
				if b.registered {
					dropped = append(dropped, b)
				}
			}
		}
		for _, b := range dropped {
			r.unbindLocked(b)
		}
	}
	r.mu.Unlock()
	r.record(audit.Event{Kind: audit.KindModeSwitch, Actor: actor, Outcome: "accepted", Reason: reason,
		Detail: map[string]string{"from": previous.String(), "to": m.String()}})
	for _, b := range dropped {
		r.record(audit.Event{Kind: audit.KindContractUnbind, Actor: actor, RuntimeID: b.runtimeID, Tool: b.contract.Name(),
			Version: b.contract.Version(), Outcome: "accepted", Reason: "registered tools are withdrawn in STRICT mode"})
	}
	return previous, nil
}

// LoadResult says what a load or reload changed.
type LoadResult struct {
	// Loaded are the contracts now trusted, as name@version.
	Loaded []string
	// Removed are contracts no longer trusted.
	Removed []string
}

// LoadPaths loads manifests from files and folders and remembers the paths
// for Reload. Nothing changes unless every manifest loads.
func (r *Registry) LoadPaths(actor string, paths ...string) (LoadResult, error) {
	manifests, err := LoadPaths(paths...)
	if err != nil {
		return LoadResult{}, err
	}
	res, err := r.Load(actor, manifests...)
	if err != nil {
		return res, err
	}
	r.mu.Lock()
	r.paths = slices.Clone(paths)
	r.mu.Unlock()
	return res, nil
}

// Reload loads the remembered paths again. On any error the current
// contracts stay as they are.
func (r *Registry) Reload(actor string) (LoadResult, error) {
	r.mu.RLock()
	paths := slices.Clone(r.paths)
	r.mu.RUnlock()
	if len(paths) == 0 {
		return LoadResult{}, altarerr.New(altarv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION, "no manifest paths to reload")
	}
	manifests, err := LoadPaths(paths...)
	if err != nil {
		return LoadResult{}, err
	}
	// Contracts set by SetSource are not in the manifests: keep them.
	r.mu.RLock()
	for _, src := range slices.Sorted(maps.Keys(r.sources)) {
		manifests = append(manifests, &Manifest{Source: src, Contracts: r.sources[src]})
	}
	r.mu.RUnlock()
	return r.replace(actor, audit.KindManifestReload, manifests)
}

// SetSource makes exactly contracts trusted under source (a bridge, such
// as "mcp:everything"), replacing what source trusted before; none removes
// the source. Unlike manifest contracts, these survive Reload, which reads
// only the manifest paths. A contract whose name and version a manifest or
// another source already trusts is refused (NAME_COLLISION) and nothing
// changes. Runtimes bound to a contract that changed or went away must
// fulfil again, as after a reload.
func (r *Registry) SetSource(actor, source string, contracts []*Contract) (LoadResult, error) {
	r.mu.RLock()
	old := map[*Contract]bool{}
	for _, c := range r.sources[source] {
		old[c] = true
	}
	var keep []*Manifest
	taken := map[string]bool{}
	for _, versions := range r.trusted {
		for _, c := range versions {
			if !old[c] {
				keep = append(keep, &Manifest{Contracts: []*Contract{c}})
				taken[c.Name()+"@"+c.Version()] = true
			}
		}
	}
	r.mu.RUnlock()
	for _, c := range contracts {
		if taken[c.Name()+"@"+c.Version()] {
			return LoadResult{}, altarerr.New(altarv1.ErrorCode_ERROR_CODE_NAME_COLLISION,
				"%s: %s@%s is already trusted from a manifest or another source", source, c.Name(), c.Version()).
				WithDetail("tool", c.Name())
		}
	}
	r.mu.Lock()
	if len(contracts) == 0 {
		delete(r.sources, source)
	} else {
		r.sources[source] = slices.Clone(contracts)
	}
	r.mu.Unlock()
	return r.replace(actor, audit.KindManifestLoad, append(keep, &Manifest{Source: source, Contracts: contracts}))
}

// Load adds the manifests' contracts to the trusted set (a contract with
// the same name and version is replaced).
func (r *Registry) Load(actor string, manifests ...*Manifest) (LoadResult, error) {
	r.mu.RLock()
	var keep []*Manifest
	for _, versions := range r.trusted {
		for _, c := range versions {
			keep = append(keep, &Manifest{Contracts: []*Contract{c}})
		}
	}
	r.mu.RUnlock()
	return r.replace(actor, audit.KindManifestLoad, append(keep, manifests...))
}

// replace makes exactly the manifests' contracts trusted. A binding to a
// contract that is gone, or whose definition changed under the same
// version, is dropped (its runtime must fulfil again).
func (r *Registry) replace(actor, kind string, manifests []*Manifest) (LoadResult, error) {
	next := map[string][]*Contract{}
	seen := map[string]*Contract{}
	var sources []string
	for _, m := range manifests {
		if m.Source != "" {
			sources = append(sources, m.Source)
		}
		for _, c := range m.Contracts {
			key := c.Name() + "@" + c.Version()
			seen[key] = c // a later manifest replaces an earlier definition
		}
	}
	for _, c := range seen {
		next[c.Name()] = append(next[c.Name()], c)
	}
	for name := range next {
		sortNewestFirst(next[name])
	}

	r.mu.Lock()
	var res LoadResult
	for key := range seen {
		res.Loaded = append(res.Loaded, key)
	}
	for name, versions := range r.trusted {
		for _, c := range versions {
			if _, ok := seen[name+"@"+c.Version()]; !ok {
				res.Removed = append(res.Removed, name+"@"+c.Version())
			}
		}
	}
	r.trusted = next
	var dropped []*binding
	for _, tools := range r.runtimes {
		for _, b := range tools {
			if b.registered {
				continue
			}
			nc := seen[b.contract.Name()+"@"+b.contract.Version()]
			switch {
			case nc == nil || !proto.Equal(nc.Proto, b.contract.Proto):
				dropped = append(dropped, b)
			default:
				b.contract = nc
			}
		}
	}
	for _, b := range dropped {
		r.unbindLocked(b)
	}
	r.mu.Unlock()

	slices.Sort(res.Loaded)
	slices.Sort(res.Removed)
	r.record(audit.Event{Kind: kind, Actor: actor, Outcome: "accepted", Detail: map[string]string{
		"sources": strings.Join(sources, ","), "loaded": fmt.Sprint(len(res.Loaded)), "removed": strings.Join(res.Removed, ","),
	}})
	unbound := map[string][]string{}
	for _, b := range dropped {
		r.record(audit.Event{Kind: audit.KindContractUnbind, Actor: actor, RuntimeID: b.runtimeID, Tool: b.contract.Name(),
			Version: b.contract.Version(), Outcome: "accepted", Reason: "the contract was removed or changed by a manifest reload"})
		unbound[b.runtimeID] = append(unbound[b.runtimeID], b.contract.Name())
	}
	if r.onChange != nil {
		r.onChange(unbound)
	}
	return res, nil
}

func sortNewestFirst(cs []*Contract) {
	slices.SortFunc(cs, func(a, b *Contract) int {
		va, _ := ParseVersion(a.Version())
		vb, _ := ParseVersion(b.Version())
		return vb.Compare(va)
	})
}

// Trusted returns the trusted contracts, sorted by name, newest version
// first.
func (r *Registry) Trusted() []*Contract {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []*Contract
	for _, versions := range r.trusted {
		out = append(out, versions...)
	}
	slices.SortStableFunc(out, func(a, b *Contract) int { return strings.Compare(a.Name(), b.Name()) })
	return out
}

// Available lists the trusted contracts the runtime's capabilities allow
// it to fulfil: all its required_capabilities declared, and "streaming"
// for streaming contracts.
func (r *Registry) Available(rt *altarv1.AnnounceRuntime) []*altarv1.ToolContract {
	var out []*altarv1.ToolContract
	for _, c := range r.Trusted() {
		if len(missingCapabilities(c, rt.GetCapabilities())) == 0 {
			out = append(out, c.Proto)
		}
	}
	return out
}

func missingCapabilities(c *Contract, have []string) []string {
	need := slices.Clone(c.Proto.GetRequiredCapabilities())
	if c.Proto.GetSupportsStreaming() && !slices.Contains(need, altarv1.CapabilityStreaming) {
		need = append(need, altarv1.CapabilityStreaming)
	}
	var missing []string
	for _, n := range need {
		if !slices.Contains(have, n) {
			missing = append(missing, n)
		}
	}
	return missing
}

// Fulfill binds the offered tools that are trusted to the runtime. Each
// offer is matched by contract name and version constraint (the newest
// trusted version that matches), and refused when the runtime lacks a
// capability the contract needs or declares a contract that differs from
// the Host's. The Host's contract is the one calls are validated against.
func (r *Registry) Fulfill(rt *altarv1.AnnounceRuntime, req *altarv1.FulfillTools) *altarv1.FulfillToolsResponse {
	resp := &altarv1.FulfillToolsResponse{}
	id := rt.GetRuntimeId()
	for _, offer := range req.GetTools() {
		c, err := r.match(rt, offer)
		if err != nil {
			resp.Rejected = append(resp.Rejected, &altarv1.ToolRejection{ToolName: offer.GetContractName(), Error: err.Proto()})
			r.record(audit.Event{Kind: audit.KindContractReject, Actor: id, RuntimeID: id, Tool: offer.GetContractName(),
				Outcome: "refused", Reason: err.Error()})
			continue
		}
		b := &binding{runtimeID: id, contract: c}
		if err := r.bind(b); err != nil {
			resp.Rejected = append(resp.Rejected, &altarv1.ToolRejection{ToolName: offer.GetContractName(), Error: err.Proto()})
			continue
		}
		resp.Accepted = append(resp.Accepted, &altarv1.FulfilledTool{
			ContractName: c.Name(), ContractVersion: c.Version(), QualifiedName: b.qualified()})
		r.record(audit.Event{Kind: audit.KindContractFulfil, Actor: id, RuntimeID: id, Tool: c.Name(), Version: c.Version(), Outcome: "accepted"})
	}
	return resp
}

func (r *Registry) match(rt *altarv1.AnnounceRuntime, offer *altarv1.ToolFulfillment) (*Contract, *altarerr.Error) {
	name := offer.GetContractName()
	constraint, err := ParseConstraint(offer.GetVersionConstraint())
	if err != nil {
		return nil, altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, err, "tool %q", name)
	}
	r.mu.RLock()
	versions := r.trusted[name]
	r.mu.RUnlock()
	if len(versions) == 0 {
		return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_CONTRACT_NOT_TRUSTED,
			"tool %q is not in the Host's manifests; a runtime may only fulfil trusted contracts", name)
	}
	var chosen *Contract
	for _, c := range versions {
		v, _ := ParseVersion(c.Version())
		if constraint.Matches(v) {
			chosen = c
			break
		}
	}
	if chosen == nil {
		var have []string
		for _, c := range versions {
			have = append(have, c.Version())
		}
		return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_CONTRACT_MISMATCH,
			"no trusted version of %q matches %q (trusted: %s)", name, constraint.String(), strings.Join(have, ", "))
	}
	if missing := missingCapabilities(chosen, rt.GetCapabilities()); len(missing) > 0 {
		return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_CAPABILITY_MISSING,
			"tool %q needs capabilities the runtime did not declare: %s", name, strings.Join(missing, ", "))
	}
	if declared := offer.GetDeclaredContract(); declared != nil {
		if diffs := contractDiff(chosen.Proto, declared); len(diffs) > 0 {
			e := altarerr.New(altarv1.ErrorCode_ERROR_CODE_CONTRACT_MISMATCH,
				"the runtime's definition of %q differs from the Host's trusted contract in %s; the Host's contract is authoritative",
				name, strings.Join(diffs, ", "))
			for _, d := range diffs {
				e.WithField("/declared_contract/"+d, "contract_mismatch", "differs from the trusted contract")
			}
			return nil, e
		}
	}
	return chosen, nil
}

// contractDiff names the fields in which a runtime's declared contract
// differs from the trusted one. Metadata is informational and not compared.
func contractDiff(trusted, declared *altarv1.ToolContract) []string {
	var diffs []string
	check := func(name string, equal bool) {
		if !equal {
			diffs = append(diffs, name)
		}
	}
	check("name", trusted.GetName() == declared.GetName())
	check("version", trusted.GetVersion() == declared.GetVersion())
	check("description", trusted.GetDescription() == declared.GetDescription())
	check("parameters", proto.Equal(trusted.GetParameters(), declared.GetParameters()))
	check("return_type", proto.Equal(trusted.GetReturnType(), declared.GetReturnType()))
	check("supports_streaming", trusted.GetSupportsStreaming() == declared.GetSupportsStreaming())
	check("flags", proto.Equal(trusted.GetFlags(), declared.GetFlags()))
	check("security_requirements", slices.EqualFunc(trusted.GetSecurityRequirements(), declared.GetSecurityRequirements(),
		func(a, b *altarv1.SecurityRequirement) bool { return proto.Equal(a, b) }))
	return diffs
}

// Register defines tools from the runtime itself. Only in DEVELOPMENT mode
// and only with acknowledge_insecure; each contract is checked like a
// manifest's; a name that a trusted contract or another runtime's different
// registration already has is refused. Every registration is logged as a
// warning and audited.
func (r *Registry) Register(rt *altarv1.AnnounceRuntime, req *altarv1.RegisterTools) *altarv1.RegisterToolsResponse {
	resp := &altarv1.RegisterToolsResponse{}
	id := rt.GetRuntimeId()
	refuse := func(name string, err *altarerr.Error) {
		resp.Rejected = append(resp.Rejected, &altarv1.ToolRejection{ToolName: name, Error: err.Proto()})
		r.record(audit.Event{Kind: audit.KindContractReject, Actor: id, RuntimeID: id, SessionID: req.GetSessionId(),
			Tool: name, Outcome: "refused", Reason: err.Error()})
	}
	var gate *altarerr.Error
	switch {
	case r.Mode() != altarv1.HostMode_HOST_MODE_DEVELOPMENT:
		gate = altarerr.New(altarv1.ErrorCode_ERROR_CODE_MODE_FORBIDDEN,
			"the Host is in STRICT mode: runtimes may only fulfil contracts from its manifests")
	case !req.GetAcknowledgeInsecure():
		gate = altarerr.New(altarv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION,
			"registering tools needs acknowledge_insecure: runtime-defined contracts are not Host-trusted")
	}
	for _, c := range req.GetContracts() {
		if gate != nil {
			refuse(c.GetName(), gate)
			continue
		}
		m, err := FromProto(&altarv1.ToolManifest{ManifestVersion: "1.0", Contracts: []*altarv1.ToolContract{c}})
		if err != nil {
			refuse(c.GetName(), altarerr.From(err))
			continue
		}
		b := &binding{runtimeID: id, contract: m.Contracts[0], registered: true, sessionID: req.GetSessionId()}
		if err := r.bind(b); err != nil {
			refuse(c.GetName(), err)
			continue
		}
		resp.Accepted = append(resp.Accepted, &altarv1.FulfilledTool{
			ContractName: c.GetName(), ContractVersion: c.GetVersion(), QualifiedName: b.qualified()})
		r.logger.Warn("runtime registered its own tool definition (DEVELOPMENT mode; not Host-trusted)",
			"runtime_id", id, "tool", c.GetName(), "version", c.GetVersion(), "session_id", req.GetSessionId())
		r.record(audit.Event{Kind: audit.KindContractRegister, Actor: id, RuntimeID: id, SessionID: req.GetSessionId(),
			Tool: c.GetName(), Version: c.GetVersion(), Outcome: "accepted", Reason: "acknowledge_insecure"})
	}
	return resp
}

// bind adds b, refusing a name collision: a registered tool may not take a
// trusted contract's name, nor a name another runtime registered with a
// different definition.
func (r *Registry) bind(b *binding) *altarerr.Error {
	r.mu.Lock()
	defer r.mu.Unlock()
	name := b.contract.Name()
	if b.registered {
		if len(r.trusted[name]) > 0 {
			return altarerr.New(altarv1.ErrorCode_ERROR_CODE_NAME_COLLISION,
				"tool %q is a trusted contract; a runtime may fulfil it but not redefine it", name)
		}
		for _, other := range r.byName[name] {
			if other.runtimeID != b.runtimeID && !proto.Equal(other.contract.Proto, b.contract.Proto) {
				return altarerr.New(altarv1.ErrorCode_ERROR_CODE_NAME_COLLISION,
					"runtime %q already registered a different definition of %q; use another name", other.runtimeID, name)
			}
		}
	}
	tools := r.runtimes[b.runtimeID]
	if tools == nil {
		tools = map[string]*binding{}
		r.runtimes[b.runtimeID] = tools
	}
	if old := tools[name]; old != nil {
		r.unbindLocked(old)
		tools = r.runtimes[b.runtimeID]
		if tools == nil {
			tools = map[string]*binding{}
			r.runtimes[b.runtimeID] = tools
		}
	}
	tools[name] = b
	r.byName[name] = append(r.byName[name], b)
	return nil
}

func (r *Registry) unbindLocked(b *binding) {
	name := b.contract.Name()
	if tools := r.runtimes[b.runtimeID]; tools != nil && tools[name] == b {
		delete(tools, name)
		if len(tools) == 0 {
			delete(r.runtimes, b.runtimeID)
		}
	}
	r.byName[name] = slices.DeleteFunc(slices.Clone(r.byName[name]), func(x *binding) bool { return x == b })
	if len(r.byName[name]) == 0 {
		delete(r.byName, name)
	}
}

// Withdraw stops routing the named tools to the runtime.
func (r *Registry) Withdraw(runtimeID string, toolNames []string) {
	r.mu.Lock()
	var gone []*binding
	for _, name := range toolNames {
		if b := r.runtimes[runtimeID][name]; b != nil {
			r.unbindLocked(b)
			gone = append(gone, b)
		}
	}
	r.mu.Unlock()
	for _, b := range gone {
		r.record(audit.Event{Kind: audit.KindContractWithdraw, Actor: runtimeID, RuntimeID: runtimeID,
			Tool: b.contract.Name(), Version: b.contract.Version(), Outcome: "accepted"})
	}
}

// Retain unbinds the runtime's tools whose contract names are not in
// names (audited as withdrawn): what a runtime replaced by a new
// connection with the same id no longer serves. The tools in names stay
// bound throughout, so calls to them are never unrouted.
func (r *Registry) Retain(runtimeID string, names []string) {
	r.mu.RLock()
	var stale []string
	for name := range r.runtimes[runtimeID] {
		if !slices.Contains(names, name) {
			stale = append(stale, name)
		}
	}
	r.mu.RUnlock()
	slices.Sort(stale)
	r.Withdraw(runtimeID, stale)
}

// Disconnected forgets everything the runtime fulfilled or registered.
func (r *Registry) Disconnected(runtimeID string) {
	r.mu.Lock()
	var gone []*binding
	for _, b := range r.runtimes[runtimeID] {
		gone = append(gone, b)
	}
	for _, b := range gone {
		r.unbindLocked(b)
	}
	r.mu.Unlock()
	var names []string
	for _, b := range gone {
		names = append(names, b.contract.Name())
	}
	slices.Sort(names)
	r.record(audit.Event{Kind: audit.KindRuntimeUnregister, Actor: runtimeID, RuntimeID: runtimeID, Outcome: "accepted",
		Detail: map[string]string{"tools": strings.Join(names, ",")}})
}

// Resolution is what a tool name resolves to for one caller.
type Resolution struct {
	Contract *Contract
	// QualifiedName is "runtime_id/name" when the caller named a runtime,
	// else the bare name.
	QualifiedName string
	// RuntimeIDs serve the contract, in preference order (a configured
	// default first). Empty when no runtime serves it right now.
	RuntimeIDs []string
}

// ErrToolNotFound is wrapped by Resolve's TOOL_NOT_FOUND errors.
var ErrToolNotFound = errors.New("tool not found")

// Resolve finds the contract and runtimes for a tool name as one session
// sees it. "runtime_id/name" names one runtime's tool; a bare name resolves
// to the newest version that a runtime serves (or, when none serves it, the
// newest trusted version with no runtimes). A bare name that runtimes
// registered with different definitions is ambiguous and refused.
func (r *Registry) Resolve(sessionID, name string) (Resolution, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if rt, tool, ok := strings.Cut(name, "/"); ok {
		b := r.runtimes[rt][tool]
		if b == nil || !b.visibleTo(sessionID) {
			return Resolution{}, altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_TOOL_NOT_FOUND, ErrToolNotFound,
				"runtime %q serves no tool %q", rt, tool).WithDetail("tool", name)
		}
		return Resolution{Contract: b.contract, QualifiedName: name, RuntimeIDs: []string{rt}}, nil
	}
	var visible []*binding
	for _, b := range r.byName[name] {
		if b.visibleTo(sessionID) {
			visible = append(visible, b)
		}
	}
	if len(visible) == 0 {
		if versions := r.trusted[name]; len(versions) > 0 {
			return Resolution{Contract: versions[0], QualifiedName: name}, nil
		}
		return Resolution{}, altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_TOOL_NOT_FOUND, ErrToolNotFound,
			"no tool is named %q", name).WithDetail("tool", name)
	}
	// The newest version served wins; runtimes serving exactly it are the
	// candidates.
	best := visible[0]
	for _, b := range visible[1:] {
		vb, _ := ParseVersion(b.contract.Version())
		vbest, _ := ParseVersion(best.contract.Version())
		if vb.Compare(vbest) > 0 {
			best = b
		}
	}
	res := Resolution{Contract: best.contract, QualifiedName: name}
	for _, b := range visible {
		if b.contract.Version() != best.contract.Version() {
			continue
		}
		if !proto.Equal(b.contract.Proto, best.contract.Proto) {
			return Resolution{}, altarerr.New(altarv1.ErrorCode_ERROR_CODE_NAME_COLLISION,
				"%q is served with different definitions by %q and %q; call it as runtime_id/%s",
				name, best.runtimeID, b.runtimeID, name)
		}
		res.RuntimeIDs = append(res.RuntimeIDs, b.runtimeID)
	}
	preferred := r.defaults[name]
	slices.SortFunc(res.RuntimeIDs, func(a, b string) int {
		switch {
		case a == preferred:
			return -1
		case b == preferred:
			return 1
		}
		return cmp.Compare(a, b)
	})
	return res, nil
}

// ListTools lists the tools one session can see: every trusted contract
// (newest version; available when a runtime serves it) and the tools
// registered for everyone or for this session, sorted by name.
func (r *Registry) ListTools(sessionID string) []*altarv1.ToolInfo {
	r.mu.RLock()
	names := map[string]bool{}
	for name := range r.trusted {
		names[name] = true
	}
	for name, bs := range r.byName {
		for _, b := range bs {
			if b.visibleTo(sessionID) {
				names[name] = true
			}
		}
	}
	r.mu.RUnlock()
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	slices.Sort(sorted)
	out := make([]*altarv1.ToolInfo, 0, len(sorted))
	for _, name := range sorted {
		if info, err := r.toolInfo(sessionID, name); err == nil {
			out = append(out, info)
		}
	}
	return out
}

// GetContract describes one tool as a session sees it; a non-empty version
// constraint picks among the trusted versions.
func (r *Registry) GetContract(sessionID, name, version string) (*altarv1.ToolInfo, error) {
	if version == "" {
		return r.toolInfo(sessionID, name)
	}
	constraint, err := ParseConstraint(version)
	if err != nil {
		return nil, altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, err, "bad version constraint").
			WithField("/version", "version", err.Error())
	}
	r.mu.RLock()
	versions := r.trusted[name]
	r.mu.RUnlock()
	for _, c := range versions {
		if v, _ := ParseVersion(c.Version()); constraint.Matches(v) {
			info := &altarv1.ToolInfo{Contract: c.Proto, Names: []string{name}}
			r.mu.RLock()
			for _, b := range r.byName[name] {
				if b.contract == c && b.visibleTo(sessionID) {
					info.RuntimeIds = append(info.RuntimeIds, b.runtimeID)
					info.Names = append(info.Names, b.qualified())
				}
			}
			r.mu.RUnlock()
			info.Available = len(info.RuntimeIds) > 0
			return info, nil
		}
	}
	return nil, altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_TOOL_NOT_FOUND, ErrToolNotFound,
		"no trusted version of %q matches %q", name, version)
}

func (r *Registry) toolInfo(sessionID, name string) (*altarv1.ToolInfo, error) {
	res, err := r.Resolve(sessionID, name)
	if err != nil {
		return nil, err
	}
	info := &altarv1.ToolInfo{Contract: res.Contract.Proto, RuntimeIds: res.RuntimeIDs, Available: len(res.RuntimeIDs) > 0}
	info.Names = append(info.Names, name)
	for _, id := range res.RuntimeIDs {
		info.Names = append(info.Names, id+"/"+name)
	}
	return info, nil
}

func (r *Registry) record(e audit.Event) {
	e.Time = r.now()
	r.audit.Record(e)
}
