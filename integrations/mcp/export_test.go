package mcp

import "time"

// DirectCalls is how many calls f answered without mcp-go.
func DirectCalls(f *Facade) int64 { return f.direct.Load() }

// SweepIdle runs one idle sweep as if at now.
func SweepIdle(f *Facade, now time.Time) { f.sweepOnce(now) }

// SetLastActive sets when MCP session id was last used.
func SetLastActive(f *Facade, id string, at time.Time) bool {
	v, ok := f.live.Load(id)
	if ok {
		v.(*binding).lastActive.Store(at.UnixNano())
	}
	return ok
}
