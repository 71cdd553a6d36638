package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

const (
	// shutdownTimeout is the gateway's --shutdown-timeout: how long calls
	// in flight may run after SIGTERM.
	shutdownTimeout = 20 * time.Second
	// grpcCallers and sseCallers are how many concurrent callers run
	// during shutdown, over gRPC and over HTTP (Server-Sent Events).
	grpcCallers = 12
	sseCallers  = 4
	loadCallers = grpcCallers + sseCallers
	// inFlightAtSignal is how many streams must be in flight (accepted,
	// not finished) when SIGTERM is sent.
	inFlightAtSignal = loadCallers / 2
)

// chunkError is a stream that ended with an error chunk.
type chunkError struct{ e *altarv1.Error }

func (c *chunkError) Error() string { return fmt.Sprintf("error chunk: %v", c.e) }

// unavailable reports whether err is a refusal for shutdown: the gRPC status
// UNAVAILABLE (the listener is closing or closed, or the connection was
// refused), or a stream whose only chunk is the error RUNTIME_UNAVAILABLE
// (the runtime, told the Host is shutting down, drains and takes no new
// calls; the code maps to UNAVAILABLE).
func unavailable(err error) bool {
	var ce *chunkError
	if errors.As(err, &ce) {
		return ce.e.GetCode() == altarv1.ErrorCode_ERROR_CODE_RUNTIME_UNAVAILABLE
	}
	return status.Code(err) == codes.Unavailable
}

// httpError is an HTTP error answer, or an SSE error event.
type httpError struct {
	status int // 0 for an error event or chunk within a 200 stream
	code   string
}

func (e *httpError) Error() string { return fmt.Sprintf("HTTP %d %s", e.status, e.code) }

// sseRefused reports whether err is a refusal for shutdown over HTTP: an
// error answer (503), error event or first chunk RUNTIME_UNAVAILABLE (the
// runtime drains, as over gRPC), the connection refused,
// or the connection reset or closed before any answer (it was in the
// backlog of the listener being closed).
func sseRefused(err error) bool {
	var he *httpError
	if errors.As(err, &he) {
		return he.code == "RUNTIME_UNAVAILABLE" && (he.status == 0 || he.status == http.StatusServiceUnavailable)
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF)
}

// call is what one streaming call of the load saw.
type call struct {
	sse       bool // over HTTP (Server-Sent Events), not gRPC
	afterExit bool // started after the gateway process had exited
	accepted  bool // the Host started the stream: the first chunk arrived
	numbers   []int64
	final     bool  // the final chunk arrived
	err       error // the stream's error; nil when it ended after the final chunk
}

// TestSIGTERMDuringLoad runs the real three processes (altar serve, the
// calculator binary as its runtime, and this test as the client), puts
// streaming calls of count under load from concurrent callers over gRPC and
// over HTTP (Server-Sent Events), sends SIGTERM to altar serve while at least inFlightAtSignal
// streams are in flight, and checks that no accepted call is lost.
//
// A call is ACCEPTED when the Host has started its stream: the client has
// received a chunk that is not an error (the Host resolved the tool, routed
// the call to the runtime and the runtime began to answer). A stream whose
// first chunk (or first SSE event) is an error was refused, not accepted. An accepted call must end
// with its final chunk after every number in order (the graceful shutdown
// lets calls in flight finish within --shutdown-timeout); a stream that ends
// without its final chunk and without an error would be a call silently
// dropped, and one that outlives callTimeout a hang. A call that is not
// accepted must fail with UNAVAILABLE and nothing else (see unavailable and
// sseRefused); once the process has exited, every call must fail with the
// gRPC status UNAVAILABLE or, over HTTP, connection refused, within
// callTimeout rather than hang.
// The process must exit 0 within the shutdown bound and say it stopped.
func TestSIGTERMDuringLoad(t *testing.T) {
	needBinaries(t)
	g := startGateway(t, keys{}, "--shutdown-timeout", shutdownTimeout.String())
	start(t, "calculator", calculatorBin, "--host", g.grpcAddr, "--id", "calculator")
	g.waitReady(t)
	c := g.dial(t, "")

	var (
		inFlight  atomic.Int64
		completed atomic.Int64
		notify    = make(chan struct{}, 1)
		mu        sync.Mutex
		calls     []call
		wg        sync.WaitGroup
		stop      = make(chan struct{}) // closed if the test ends early
	)
	t.Cleanup(func() { close(stop); wg.Wait() })
	exited := func() bool {
		select {
		case <-g.done:
			return true
		default:
			return false
		}
	}
	// started counts an accepted call in flight; finished uncounts it.
	started := func(cl *call) {
		cl.accepted = true
		inFlight.Add(1)
		select {
		case notify <- struct{}{}:
		default:
		}
	}
	finished := func(cl *call) {
		if cl.accepted {
			inFlight.Add(-1)
		}
	}
	grpcCall := func() (cl call) {
		cl.afterExit = exited()
		defer finished(&cl)
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		stream, err := c.InvokeStream(ctx, &altarv1.InvokeStreamRequest{Request: &altarv1.InvokeRequest{
			ToolName:   "count",
			Parameters: map[string]*altarv1.Value{"start": schema.Int(1), "stop": schema.Int(5), "delay_ms": schema.Int(40)},
		}})
		if err != nil {
			cl.err = err
			return cl
		}
		for {
			msg, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				return cl
			}
			if err != nil {
				cl.err = err
				return cl
			}
			chunk := msg.GetChunk()
			if e := chunk.GetError(); e != nil {
				cl.err = &chunkError{e}
				return cl
			}
			if !cl.accepted {
				started(&cl)
			}
			if p := chunk.GetPayload(); p != nil {
				cl.numbers = append(cl.numbers, p.GetIntValue())
			}
			cl.final = cl.final || chunk.GetIsFinal()
		}
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	t.Cleanup(client.CloseIdleConnections)
	sseCall := func() (cl call) {
		cl.sse = true
		cl.afterExit = exited()
		defer finished(&cl)
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, "POST", g.httpURL+"/v1/tools/count/stream",
			strings.NewReader(`{"parameters":{"start":1,"stop":5,"delay_ms":40}}`))
		if err != nil {
			cl.err = err
			return cl
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			cl.err = err
			return cl
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			var e apiError
			b, _ := io.ReadAll(resp.Body)
			_ = json.Unmarshal(b, &e)
			cl.err = &httpError{status: resp.StatusCode, code: e.Error.Code}
			return cl
		}
		event := ""
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line := sc.Text()
			if ev, ok := strings.CutPrefix(line, "event: "); ok {
				event = ev
				continue
			}
			data, ok := strings.CutPrefix(line, "data: ")
			if !ok {
				continue
			}
			if event != "chunk" {
				var e apiError
				_ = json.Unmarshal([]byte(data), &e)
				cl.err = &httpError{code: e.Error.Code}
				return cl
			}
			var c httpChunk
			if err := json.Unmarshal([]byte(data), &c); err != nil {
				cl.err = err
				return cl
			}
			if e := c.Chunk.Error; e != nil {
				// The canonical chunk names the code in full (ERROR_CODE_...).
				cl.err = &httpError{code: strings.TrimPrefix(e.Code, "ERROR_CODE_")}
				return cl
			}
			if !cl.accepted {
				started(&cl)
			}
			if c.Payload != nil {
				cl.numbers = append(cl.numbers, *c.Payload)
			}
			cl.final = cl.final || c.Chunk.IsFinal
		}
		cl.err = sc.Err()
		return cl
	}
	for i := range loadCallers {
		one := grpcCall
		if i >= grpcCallers {
			one = sseCall
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				cl := one()
				mu.Lock()
				calls = append(calls, cl)
				mu.Unlock()
				switch {
				case cl.accepted && cl.err == nil:
					completed.Add(1)
				case cl.afterExit:
					return
				default:
					// Refused: shutdown has begun. Make the last call once
					// the gateway has exited rather than spin.
					select {
					case <-g.done:
					case <-stop:
					}
				}
			}
		}()
	}

	// SIGTERM mid-load: once every caller has completed a call on average
	// and enough streams are in flight.
	deadline := time.After(readyTimeout)
	for completed.Load() < loadCallers || inFlight.Load() < inFlightAtSignal {
		select {
		case <-notify:
		case <-time.After(pollInterval):
		case <-deadline:
			t.Fatalf("not under load after %v: %d calls completed, %d in flight", readyTimeout, completed.Load(), inFlight.Load())
		}
	}
	g.terminate(t)
	g.waitLine(t, "altar: shutting down", exitTimeout)
	if code := g.wait(t, shutdownTimeout+exitTimeout); code != 0 {
		t.Errorf("altar serve exited with status %d, want 0", code)
	}
	g.waitLine(t, "altar: stopped", exitTimeout)
	wg.Wait() // every caller makes one call after the exit, then stops

	var succeeded, refused, afterExit int
	for i, cl := range calls {
		switch {
		case cl.accepted:
			if cl.err != nil || !cl.final || len(cl.numbers) != 5 {
				t.Errorf("accepted call %d lost: numbers %v, final %v, error %v", i, cl.numbers, cl.final, cl.err)
				continue
			}
			for j, n := range cl.numbers {
				if n != int64(j+1) {
					t.Errorf("accepted call %d: numbers %v, want 1..5 in order", i, cl.numbers)
					break
				}
			}
			succeeded++
		case !cl.sse && unavailable(cl.err), cl.sse && sseRefused(cl.err):
			refused++
		default:
			t.Errorf("call %d (SSE %v) was not accepted and failed with %v, want UNAVAILABLE", i, cl.sse, cl.err)
		}
		if cl.afterExit {
			afterExit++
			if cl.accepted || (!cl.sse && status.Code(cl.err) != codes.Unavailable) || (cl.sse && !errors.Is(cl.err, syscall.ECONNREFUSED)) {
				t.Errorf("call %d (SSE %v), started after the gateway exited: accepted %v, error %v; want UNAVAILABLE or connection refused", i, cl.sse, cl.accepted, cl.err)
			}
		}
	}
	t.Logf("%d calls: %d accepted and completed, %d refused (%d of them after the exit)", len(calls), succeeded, refused, afterExit)
	if afterExit != loadCallers {
		t.Errorf("%d calls started after the exit, want one per caller (%d)", afterExit, loadCallers)
	}
}
