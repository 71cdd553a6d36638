package mcp

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"bufio"
	"context"
	"errors"
	"golang.org/x/net/http/httpguts"
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

// postRequest is what ReadResponse reads every answer to.
var postRequest = &http.Request{Method: http.MethodPost}

// post sends a POST of body, with the request line and headers head (as
// requestHead builds them, Content-Length left out), and returns its
// response, whose body must be closed: a body read to its end gives the
// connection back to the pool. Ending ctx ends the exchange at once.
func (p *connPool) post(ctx context.Context, head, body []byte) (*http.Response, error) {
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
	c.bw.Write(head)
	c.bw.WriteString("Content-Length: ")
	c.bw.WriteString(strconv.Itoa(len(body)))
	c.bw.WriteString("\r\n\r\n")
	c.bw.Write(body)
	if err := c.bw.Flush(); err != nil {
		return fail(err)
	}
	resp, err := http.ReadResponse(c.br, postRequest)
	if err != nil {
		return fail(err)
	}
	resp.Body = &pooledBody{p: p, c: c, body: resp.Body, stop: stop, reuse: !resp.Close, length: resp.ContentLength}
	return resp, nil
}

// requestHead is the request line and headers of a POST to u with the
// given headers (Host and User-Agent added), as net/http would write them,
// without Content-Length. It reports false for a header net/http would
// refuse to send.
func requestHead(u *url.URL, headers http.Header) ([]byte, bool) {
	b := make([]byte, 0, 256)
	b = append(b, "POST "...)
	b = append(b, u.RequestURI()...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, u.Host...)
	b = append(b, "\r\nUser-Agent: "...)
	b = append(b, userAgent...)
	b = append(b, "\r\n"...)
	for _, k := range slices.Sorted(maps.Keys(headers)) {
		if !httpguts.ValidHeaderFieldName(k) {
			return nil, false
		}
		for _, v := range headers[k] {
			if !httpguts.ValidHeaderFieldValue(v) {
				return nil, false
			}
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, strings.TrimSpace(v)...)
			b = append(b, "\r\n"...)
		}
	}
	return b, true
}

// userAgent names the bridge to the servers it calls.
const userAgent = "altar-gateway"

// pooledBody is a response body on a pool connection.
type pooledBody struct {
	p      *connPool
	c      *poolConn
	body   io.ReadCloser
	stop   func() bool
	reuse  bool  // the server keeps the connection open
	length int64 // Content-Length, or -1
	read   int64
	eof    bool
	done   bool
}

func (b *pooledBody) Read(x []byte) (int, error) {
	n, err := b.body.Read(x)
	b.read += int64(n)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

// Close gives the connection back when the body was read to its end and
// the context did not end the exchange; else it closes it. It never waits
// on the server: a body with bytes still to come (an event stream the
// server keeps open, say) closes the connection.
func (b *pooledBody) Close() error {
	if b.done {
		return nil
	}
	b.done = true
	intact := b.stop() // false: the context ended and poisoned the deadline
	if !b.eof && b.length >= 0 && b.read == b.length {
		// Every byte is in: net/http answers EOF without reading.
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
