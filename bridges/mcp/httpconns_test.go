package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

// poolServer is a real net/http server on loopback that counts the
// connections it accepts and reports those it closed.
type poolServer struct {
	url      string
	accepted atomic.Int64
	closed   chan struct{} // one send per connection the server closed
}

func startPoolServer(t *testing.T, handler http.HandlerFunc, idleTimeout time.Duration) *poolServer {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &poolServer{url: "http://" + lis.Addr().String() + "/mcp", closed: make(chan struct{}, 1024)}
	srv := &http.Server{Handler: handler, IdleTimeout: idleTimeout, ReadHeaderTimeout: 10 * time.Second,
		ConnState: func(_ net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				s.accepted.Add(1)
			case http.StateClosed:
				s.closed <- struct{}{}
			}
		}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return s
}

func echoBody(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func poolPost(t *testing.T, ctx context.Context, p *connPool, rawURL, body string) (string, error) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	head, ok := requestHead(u, http.Header{"Content-Type": {"application/json"}})
	if !ok {
		t.Fatal("no request head")
	}
	resp, err := p.post(ctx, head, []byte(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// TestRequestHead: the head the pool sends is the one net/http writes for
// the same request (less Content-Length), and a header net/http would not
// send makes none.
func TestRequestHead(t *testing.T) {
	u, _ := url.Parse("http://127.0.0.1:8080/a/mcp?x=1")
	h := http.Header{"Content-Type": {"application/json"}, "Mcp-Session-Id": {"s-1"}, "X-Api": {"k"}}
	head, ok := requestHead(u, h)
	if !ok {
		t.Fatal("no head")
	}
	req, _ := http.NewRequest(http.MethodPost, u.String(), strings.NewReader("{}"))
	req.Header = h.Clone()
	req.Header.Set("User-Agent", userAgent)
	var want strings.Builder
	if err := req.Write(&want); err != nil {
		t.Fatal(err)
	}
	wantHead := strings.Replace(want.String(), "Content-Length: 2\r\n", "", 1)
	wantHead = strings.TrimSuffix(wantHead, "\r\n{}")
	if string(head) != wantHead {
		t.Errorf("head:\n%q\nnet/http:\n%q", head, wantHead)
	}
	for _, bad := range []http.Header{{"X-Bad": {"a\r\nInjected: 1"}}, {"Bad Name": {"v"}}} {
		if _, ok := requestHead(u, bad); ok {
			t.Errorf("a head for %v", bad)
		}
	}
}

// TestConnPool: requests in turn share one connection; a connection the
// server closed while idle is noticed and replaced, the request still
// answered; "Connection: close" and a cancelled request leave their
// connection out of the pool; after close no connection is kept.
func TestConnPool(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	t.Run("reuse", func(t *testing.T) {
		s := startPoolServer(t, echoBody, time.Minute)
		p := newConnPool(s.url)
		defer p.close()
		for i := range 20 {
			if got, err := poolPost(t, ctx, p, s.url, `{"n":1}`); err != nil || got != `{"n":1}` {
				t.Fatalf("request %d: %q, %v", i, got, err)
			}
		}
		if n := s.accepted.Load(); n != 1 {
			t.Errorf("%d connections for 20 requests in turn, want 1", n)
		}
	})

	t.Run("closed by the server while idle", func(t *testing.T) {
		s := startPoolServer(t, echoBody, 20*time.Millisecond)
		p := newConnPool(s.url)
		defer p.close()
		if _, err := poolPost(t, ctx, p, s.url, "a"); err != nil {
			t.Fatal(err)
		}
		select { // the server's idle timeout closes the connection
		case <-s.closed:
		case <-ctx.Done():
			t.Fatal("the server never closed the idle connection")
		}
		if got, err := poolPost(t, ctx, p, s.url, "b"); err != nil || got != "b" {
			t.Fatalf("after the server closed the idle connection: %q, %v", got, err)
		}
		if n := s.accepted.Load(); n != 2 {
			t.Errorf("%d connections, want 2", n)
		}
	})

	t.Run("connection close", func(t *testing.T) {
		s := startPoolServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			echoBody(w, r)
		}, time.Minute)
		p := newConnPool(s.url)
		defer p.close()
		for range 3 {
			if _, err := poolPost(t, ctx, p, s.url, "x"); err != nil {
				t.Fatal(err)
			}
		}
		if n := s.accepted.Load(); n != 3 {
			t.Errorf("%d connections for 3 requests answered with Connection: close, want 3", n)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		release := make(chan struct{})
		var once sync.Once
		s := startPoolServer(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("wait") != "" {
				once.Do(func() { <-release })
			}
			echoBody(w, r)
		}, time.Minute)
		defer close(release)
		p := newConnPool(s.url)
		defer p.close()
		cctx, ccancel := context.WithCancel(ctx)
		errc := make(chan error, 1)
		go func() {
			_, err := poolPost(t, cctx, p, s.url+"?wait=1", "slow")
			errc <- err
		}()
		for s.accepted.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		ccancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled request: %v, want context.Canceled", err)
		}
		if got, err := poolPost(t, ctx, p, s.url, "next"); err != nil || got != "next" {
			t.Fatalf("after a cancelled request: %q, %v", got, err)
		}
		if n := s.accepted.Load(); n != 2 {
			t.Errorf("%d connections, want 2 (the cancelled one is not reused)", n)
		}
	})

	t.Run("closed pool", func(t *testing.T) {
		s := startPoolServer(t, echoBody, time.Minute)
		p := newConnPool(s.url)
		if _, err := poolPost(t, ctx, p, s.url, "x"); err != nil {
			t.Fatal(err)
		}
		p.close()
		select {
		case <-s.closed:
		case <-ctx.Done():
			t.Fatal("close left the idle connection open")
		}
		if _, err := poolPost(t, ctx, p, s.url, "x"); !errors.Is(err, errPoolClosed) {
			t.Errorf("after close: %v, want errPoolClosed", err)
		}
	})
}

// TestNewConnPool: only plain HTTP gets a pool. (A proxy from the
// environment also keeps net/http; net/http reads the environment once per
// process, so that case is not set up here.)
func TestNewConnPool(t *testing.T) {
	for _, tt := range []struct {
		url  string
		want string // the address dialled; "" for no pool
	}{
		{"http://127.0.0.1:8080/mcp", "127.0.0.1:8080"},
		{"http://example.com/mcp", "example.com:80"},
		{"http://[::1]:9/mcp", "[::1]:9"},
		{"https://example.com/mcp", ""},
		{"ftp://example.com/", ""},
		{"http:///mcp", ""},
	} {
		p := newConnPool(tt.url)
		got := ""
		if p != nil {
			got = p.addr
		}
		if got != tt.want {
			t.Errorf("newConnPool(%q) dials %q, want %q", tt.url, got, tt.want)
		}
	}
}

// TestDirectCallStreamLeftOpen: a server that answers a call with an event
// stream and keeps the stream open after the response (the specification
// only says it should close it) has its answer read at once, and the
// connection is closed rather than waited on.
func TestDirectCallStreamLeftOpen(t *testing.T) {
	hold := make(chan struct{})
	s := startPoolServer(t, func(w http.ResponseWriter, r *http.Request) {
		var msg struct{ ID json.RawMessage }
		_ = json.NewDecoder(r.Body).Decode(&msg)
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		fmt.Fprintf(w, "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}}\n\n", msg.ID)
		w.(http.Flusher).Flush()
		select {
		case <-hold:
		case <-r.Context().Done():
		}
	}, time.Minute)
	defer close(hold) // before the server's cleanup, which waits for the handler
	tr, err := transport.NewStreamableHTTP(s.url)
	if err != nil {
		t.Fatal(err)
	}
	d := &directHTTP{tr: tr, hc: &http.Client{}, url: s.url, pool: newConnPool(s.url)}
	d.ready()
	defer d.pool.close()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	type outcome struct {
		res *mcp.CallToolResult
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, _, err := d.call(ctx, "echo", []byte(`{}`), DefaultLimits(), false)
		done <- outcome{res, err}
	}()
	select {
	case o := <-done:
		if o.err != nil || o.res == nil || len(o.res.Content) != 1 {
			t.Fatalf("call: %+v, %v", o.res, o.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the call waited on a stream the server left open")
	}
	select {
	case <-s.closed:
	case <-ctx.Done():
		t.Fatal("the connection of the open stream was not closed")
	}
}
