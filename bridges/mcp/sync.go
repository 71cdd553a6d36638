package mcp

import (
	"fmt"
	"slices"
	"strings"

	"github.com/altar-gateway/altar/gateway/audit"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Source is the contract-registry source of a server's contracts.
func (s Server) Source() string { return "mcp:" + s.Name }

// sync decides which of the live definitions are served (pinned ones; in
// DEVELOPMENT mode every one, with a warning), pins a server's tools at its
// first import, has the Host trust them and attaches a fresh connection
// that fulfils them. It runs on the supervisor's goroutine (or Start's,
// before the supervisor runs).
func (b *Bridge) sync(sess *session, defs []Definition) {
	stamp := b.stampLock()
	mode := b.host.Mode()
	strict := mode != altarv1.HostMode_HOST_MODE_DEVELOPMENT
	// The first import pins what the server lists now.
	var pinned []string
	lock, err := updateLock(b.lockPath, func(l *Lock) (bool, error) {
		if l.Server(b.srv.Name) != nil {
			return false, nil
		}
		pinned, _ = l.Approve(b.srv.Name, defs, b.now())
		return true, nil
	})
	switch {
	case lock == nil:
		// A damaged lock trusts nothing in STRICT mode.
		b.log.Error("MCP lock file unreadable; no pinned tool is trusted", "lock", b.lockPath, "error", err)
		lock = &Lock{Servers: map[string]*LockServer{}}
		if strict {
			lock.Servers[b.srv.Name] = &LockServer{Tools: map[string]*Pin{}}
		}
	case err != nil:
		// Pinned in memory for this run; the next start imports again.
		b.log.Error("writing the MCP lock file failed", "lock", b.lockPath, "error", err)
	case pinned != nil:
		stamp = b.stampLock()
		b.log.Info("MCP server imported for the first time: its tools are pinned", "lock", b.lockPath, "tools", len(pinned))
		b.audit.Record(audit.Event{Time: b.now(), Kind: KindToolPinned, Actor: "config", RuntimeID: b.srv.RuntimeID(),
			Outcome: "accepted", Reason: "first import", Detail: map[string]string{"tools": strings.Join(pinned, ","), "lock": b.lockPath}})
	}
	pins := lock.Server(b.srv.Name)

	b.mu.Lock()
	before := map[string]bool{}
	for _, c := range b.state.Withdrawn {
		before[c.Tool] = true
	}
	b.mu.Unlock()

	var (
		serve     []Definition
		withdrawn []Change
	)
	for _, c := range Diff(pins, defs) {
		switch c.Kind {
		case ChangeNone:
			serve = append(serve, *c.Live)
			if before[c.Tool] {
				b.log.Info("MCP tool approved: served again", "tool", c.Tool)
				b.audit.Record(audit.Event{Time: b.now(), Kind: KindToolApproved, Actor: "lockfile", RuntimeID: b.srv.RuntimeID(),
					Tool: ContractName(b.srv.prefix(), c.Tool), Outcome: "accepted", Detail: map[string]string{"sha256": c.Live.SHA256()}})
			}
		case ChangeNew, ChangeChanged:
			reason := "the tool has no approved pin in the lock file"
			if c.Kind == ChangeChanged {
				reason = "the tool's " + strings.Join(c.Fields, ", ") + " differ from its pin in the lock file"
			}
			if strict {
				withdrawn = append(withdrawn, c)
				if !before[c.Tool] {
					b.log.Warn("MCP tool withdrawn: its definition is not approved; see `altar contracts diff "+b.srv.Name+"`",
						"tool", c.Tool, "reason", reason)
					b.audit.Record(audit.Event{Time: b.now(), Kind: KindToolWithdrawn, Actor: b.srv.RuntimeID(), RuntimeID: b.srv.RuntimeID(),
						Tool: ContractName(b.srv.prefix(), c.Tool), Outcome: "refused", Reason: reason,
						Detail: map[string]string{"change": c.Kind, "sha256": c.Live.SHA256()}})
				}
				continue
			}
			serve = append(serve, *c.Live)
			b.log.Warn("MCP tool served with an unapproved definition (DEVELOPMENT mode)", "tool", c.Tool, "reason", reason)
			b.audit.Record(audit.Event{Time: b.now(), Kind: KindToolWithdrawn, Actor: b.srv.RuntimeID(), RuntimeID: b.srv.RuntimeID(),
				Tool: ContractName(b.srv.prefix(), c.Tool), Outcome: "accepted", Reason: reason + " (DEVELOPMENT mode serves it)",
				Detail: map[string]string{"change": c.Kind, "sha256": c.Live.SHA256()}})
		}
	}

	contracts := make([]*altarv1.ToolContract, 0, len(serve))
	structured := map[string]bool{}
	for _, d := range serve {
		c, warnings, err := contractOf(b.srv, d)
		if err != nil {
			b.refuse(d.Name, err)
			continue
		}
		for _, w := range warnings {
			b.log.Debug("MCP tool schema imported loosely", "tool", d.Name, "warning", w)
		}
		contracts = append(contracts, c)
		structured[c.GetName()] = len(d.OutputSchema) > 0
	}
	rejected := b.host.TrustSource(b.srv.Source(), contracts)
	offer := &altarv1.FulfillTools{}
	for _, c := range contracts {
		if err := rejected[c.GetName()]; err != nil {
			b.refuse(c.GetMetadata()["mcp.tool"], err)
			continue
		}
		offer.Tools = append(offer.Tools, &altarv1.ToolFulfillment{ContractName: c.GetName()})
	}

	nc := b.newConn(sess, structured)
	var served []string
	if len(offer.Tools) > 0 {
		resp := b.host.Attach(nc, offer)
		for _, a := range resp.GetAccepted() {
			served = append(served, a.GetContractName())
		}
		for _, r := range resp.GetRejected() {
			b.log.Warn("the Host refused an MCP tool", "tool", r.GetToolName(), "error", r.GetError().GetMessage())
		}
	}
	slices.Sort(served)

	b.mu.Lock()
	old := b.conn
	if b.sess == sess {
		b.conn = nc
		b.state.Served = served
		b.state.Withdrawn = withdrawn
	}
	b.lockStamp, b.mode = stamp, mode
	b.mu.Unlock()
	if old != nil && old != nc {
		old.end()
	}
	if len(served) == 0 {
		nc.end()
	}
}

// Describe is one line saying what the bridge serves, for `altar serve`.
func (b *Bridge) Describe() string {
	s := b.State()
	if !s.Connected {
		return fmt.Sprintf("MCP server %q (%s) is not connected: %s; retrying in the background", b.srv.Name, b.srv.Transport, s.LastError)
	}
	line := fmt.Sprintf("MCP server %q (%s, protocol %s) serves %d tool(s)", b.srv.Name, b.srv.Transport, s.Protocol, len(s.Served))
	if len(s.Served) > 0 {
		line += ": " + strings.Join(s.Served, ", ")
	}
	if len(s.Withdrawn) > 0 {
		var names []string
		for _, c := range s.Withdrawn {
			names = append(names, c.Tool+" ("+c.Kind+")")
		}
		line += fmt.Sprintf("; %d withdrawn until approved (altar contracts diff %s): %s", len(s.Withdrawn), b.srv.Name, strings.Join(names, ", "))
	}
	return line
}
