package mcp

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// connPool sends the direct caller's requests (direct.go) over plain
// HTTP/1.1 connections to one server, from the caller's own goroutine.
// net/http's Transport hands every request to a writer goroutine and every
// response back from a reader goroutine, and keeps both per connection:
// at 64 calls at once that bookkeeping cost the Host about a fifth of its
// CPU per bridged call (docs/performance.md). The pool writes with
// Request.Write and reads with http.ReadResponse, so requests and
// responses are net/http's own.
//
// It serves http:// servers reached without a proxy; the others (TLS, a
// proxy from the environment) keep net/http's Transport.
type connPool struct {
	addr   string // host:port to dial
	dialer net.Dialer

	mu     sync.Mutex
	idle   []*poolConn // most recently used last
	closed bool
}

// poolConn is one connection; it belongs to one request at a time.
type poolConn struct {
	nc net.Conn
	br *bufio.Reader
	bw *bufio.Writer
	// idleSince is when it went back to the pool.
	idleSince time.Time
}

// Bounds of the pool.
const (
	// maxPoolIdle is how many idle connections a pool keeps (as
	// maxIdleConnsPerServer does for net/http's).
	maxPoolIdle = maxIdleConnsPerServer
	// maxIdleAge is how long an idle connection may wait for its next
	// request. Servers close idle connections (Node.js after 5 s); one
	// idle longer than this is closed rather than risked.
	maxIdleAge = 4 * time.Second
	// dialTimeout and keepAlive are net/http's defaults.
	dialTimeout = 30 * time.Second
	keepAlive   = 30 * time.Second
)

// newConnPool returns a pool for the server at rawURL, or nil when its
// requests must go through net/http's Transport: not http://, or to be
// sent through a proxy.
func newConnPool(rawURL string) *connPool {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil
	}
	if p, err := http.ProxyFromEnvironment(&http.Request{URL: u}); err != nil || p != nil {
		return nil
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	return &connPool{addr: addr, dialer: net.Dialer{Timeout: dialTimeout, KeepAlive: keepAlive}}
}

// errPoolClosed fails requests after close.
var errPoolClosed = errors.New("the connection pool is closed")

// get returns an idle connection that is still open, or dials one.
func (p *connPool) get(ctx context.Context) (*poolConn, error) {
	now := time.Now()
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, errPoolClosed
		}
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			break
		}
		c := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		if now.Sub(c.idleSince) < maxIdleAge && c.open() {
			return c, nil
		}
		c.nc.Close()
	}
	nc, err := p.dialer.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, err
	}
	return &poolConn{nc: nc, br: bufio.NewReaderSize(nc, 4<<10), bw: bufio.NewWriterSize(nc, 4<<10)}, nil
}

// open reports whether the server has not closed an idle connection (nor
// sent on it unasked), as net/http's reader goroutine would have noticed.
func (c *poolConn) open() bool {
	return c.br.Buffered() == 0 && peekOpen(c.nc)
}

// put returns a connection whose response was read to its end.
func (p *connPool) put(c *poolConn) {
	c.idleSince = time.Now()
	p.mu.Lock()
	if p.closed || len(p.idle) >= maxPoolIdle {
		p.mu.Unlock()
		c.nc.Close()
		return
	}
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

// close closes the idle connections and every one returned later.
func (p *connPool) close() {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, c := range idle {
		c.nc.Close()
	}
}

// do sends req and returns its response, whose body must be closed: a body
// read to its end gives the connection back to the pool. Ending req's
// context ends the exchange at once.
func (p *connPool) do(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := p.get(ctx)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(time.Unix(1, 0)) })
	fail := func(err error) (*http.Response, error) {
		stop()
		c.nc.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	if err := req.Write(c.bw); err != nil {
		return fail(err)
	}
	if err := c.bw.Flush(); err != nil {
		return fail(err)
	}
	resp, err := http.ReadResponse(c.br, req)
	if err != nil {
		return fail(err)
	}
	resp.Body = &pooledBody{p: p, c: c, body: resp.Body, stop: stop, reuse: !resp.Close}
	return resp, nil
}

// pooledBody is a response body on a pool connection.
type pooledBody struct {
	p     *connPool
	c     *poolConn
	body  io.ReadCloser
	stop  func() bool
	reuse bool // the server keeps the connection open
	eof   bool
	done  bool
}

func (b *pooledBody) Read(x []byte) (int, error) {
	n, err := b.body.Read(x)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

// Close gives the connection back when the body was read to its end and
// the context did not end the exchange; else it closes it.
func (b *pooledBody) Close() error {
	if b.done {
		return nil
	}
	b.done = true
	intact := b.stop() // false: the context ended and poisoned the deadline
	if !b.eof {
		// A body the caller left unread is not worth draining.
		var one [1]byte
		if n, err := b.body.Read(one[:]); n == 0 && err == io.EOF {
			b.eof = true
		}
	}
	if intact && b.eof && b.reuse {
		b.p.put(b.c)
		return nil
	}
	return b.c.nc.Close()
}
