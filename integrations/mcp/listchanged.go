package mcp

import (
	"context"
	"hash/maphash"
	"strconv"
	"time"

	mcpproto "github.com/mark3labs/mcp-go/mcp"

	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// This file tells clients that can be told (stdio and the HTTP+SSE
// transport, which keep a stream open to the client) when the tools they
// may list change: a runtime or an MCP server comes or goes, manifests are
// reloaded, a drifted tool is withdrawn or approved. While such a client
// is connected, the facade looks at the tools every session sees every
// toolsPollInterval and sends notifications/tools/list_changed when they
// changed. Streamable HTTP clients are not told: the facade offers them no
// stream to carry it (see transports), and they see the change at their
// next tools/list. Tools a runtime registered for one session only
// (DEVELOPMENT mode) are not watched.

// toolsPollInterval is how often the facade looks for a change.
const toolsPollInterval = time.Second

// initialized declares tools.listChanged to the clients that will be told
// (a hook after initialize; the capability is per session, mcp-go's is per
// server).
func (f *Facade) initialized(ctx context.Context, _ any, _ *mcpproto.InitializeRequest, res *mcpproto.InitializeResult) {
	if res == nil || res.Capabilities.Tools == nil {
		return
	}
	if _, b := f.session(ctx); b == nil || !b.sse && b.out == nil {
		return
	}
	tools := *res.Capabilities.Tools // shared with other sessions: copy
	tools.ListChanged = true
	res.Capabilities.Tools = &tools
	f.watchTools()
}

// watchTools starts the watcher once, unless the facade is closed; Close
// waits for it.
func (f *Facade) watchTools() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || f.watching != nil {
		return
	}
	f.watching = make(chan struct{})
	go f.watch(f.watching)
}

// watch looks for a change in the tools until the facade closes, and
// closes done when it stops.
func (f *Facade) watch(done chan struct{}) {
	defer close(done)
	last, _ := f.toolsFingerprint(f.closing)
	t := time.NewTicker(f.o.toolsPoll)
	defer t.Stop()
	for {
		select {
		case <-f.closing.Done():
			return
		case <-t.C:
		}
		fp, ok := f.toolsFingerprint(f.closing)
		if !ok || fp == last {
			continue
		}
		last = fp
		f.live.Range(func(k, v any) bool {
			if b := v.(*binding); b.sse || b.out != nil {
				// A session not initialized yet, or gone, has nothing to be told.
				_ = f.srv.SendNotificationToSpecificClient(k.(string), string(mcpproto.MethodNotificationToolsListChanged), nil)
			}
			return true
		})
	}
}

// fingerprintSeed keys the tool set fingerprints of this process.
var fingerprintSeed = maphash.MakeSeed()

// toolsFingerprint sums up the tools every session sees: names, versions,
// descriptions and availability. It reports false when the Host could not
// list them.
func (f *Facade) toolsFingerprint(ctx context.Context) (uint64, bool) {
	var h maphash.Hash
	h.SetSeed(fingerprintSeed)
	req := &altarv1.ListToolsRequest{PageSize: 1000}
	for range maxToolPages {
		resp, err := f.api.ListTools(ctx, req)
		if err != nil {
			return 0, false
		}
		for _, info := range resp.GetTools() {
			c := info.GetContract()
			for _, n := range info.GetNames() {
				h.WriteString(n)
				h.WriteByte(0)
			}
			h.WriteString(c.GetVersion())
			h.WriteByte(0)
			h.WriteString(c.GetDescription())
			h.WriteByte(0)
			h.WriteString(strconv.FormatBool(info.GetAvailable()))
			h.WriteByte(0)
		}
		if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
			break
		}
	}
	return h.Sum64(), true
}
