package mcp

import (
	"context"
	"io"
	"log"
	"log/slog"
	"sync"

	mcpserver "github.com/mark3labs/mcp-go/server"
)

// stdioSessionID is the id mcp-go gives the one stdio session.
const stdioSessionID = "stdio"

// ServeStdio serves one MCP client over in and out (a process's stdin and
// stdout) until in closes or ctx ends. The client is the caller in ctx (a
// desktop client that launched the process: local, trusted); its MCP
// session is one ALTAR session, created now and destroyed when ServeStdio
// returns. Only one ServeStdio may run in a process at a time (mcp-go's
// stdio session is a process-wide value).
func (f *Facade) ServeStdio(ctx context.Context, in io.Reader, out io.Writer) error {
	altarID, err := f.openSession(ctx, "stdio")
	if err != nil {
		return err
	}
	bctx, cancel := context.WithCancel(f.closing)
	lw := &lockedWriter{w: out}
	f.live.Store(stdioSessionID, &binding{altarID: altarID, owner: principalID(ctx), ctx: bctx, cancel: cancel, out: lw})
	// mcp-go unregisters the session as Listen returns, which ends it; this
	// covers a Listen that fails before registering it.
	defer f.endSession(ctx, stdioSessionID)
	s := mcpserver.NewStdioServer(f.srv)
	s.SetErrorLogger(log.New(slogWriter{f.o.log}, "", 0))
	err = s.Listen(ctx, in, lw)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// slogWriter sends mcp-go's log lines to the facade's logger.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Debug("mcp stdio", "message", string(p))
	return len(p), nil
}

// lockedWriter serializes writes: mcp-go writes each message with one Write
// call, and the facade writes progress notifications beside them.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
