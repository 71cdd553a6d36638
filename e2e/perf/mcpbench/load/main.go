package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

// setupTimeout bounds connecting one client; statsTimeout one read of the
// upstream's counter.
const (
	setupTimeout = 30 * time.Second
	statsTimeout = 5 * time.Second
)

// report is the JSON printed on stdout.
type report struct {
	URL            string  `json:"url"`
	Tool           string  `json:"tool"`
	Clients        int     `json:"clients"`
	Calls          int     `json:"calls"`
	Seconds        float64 `json:"seconds"`
	CallsPerSecond float64 `json:"calls_per_second"`
	P50us          float64 `json:"p50_us"`
	P99us          float64 `json:"p99_us"`
	// UpstreamConns is how many connections the upstream accepted during
	// the measured part; -1 without -stats-url.
	UpstreamConns int64 `json:"upstream_conns"`
	// CPUusPerCall is the CPU time (user and system) each process spent
	// per call during the measured part: "load" (this process) and every
	// process named in -cpu-pids.
	CPUusPerCall map[string]float64 `json:"cpu_us_per_call"`
	GOMAXPROCS   int                `json:"gomaxprocs"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func run() error {
	url := flag.String("url", "", "the MCP endpoint (streamable HTTP)")
	tool := flag.String("tool", "echo", "the tool to call")
	n := flag.Int("c", 1, "concurrent clients, each its own MCP session")
	duration := flag.Duration("d", 5*time.Second, "measured time")
	warmup := flag.Duration("warmup", time.Second, "unmeasured time before it")
	callTimeout := flag.Duration("call-timeout", 30*time.Second, "deadline of one call")
	statsURL := flag.String("stats-url", "", "the upstream's GET /stats, to count the connections it accepts")
	pidsFlag := flag.String("cpu-pids", "", "name=pid,... : processes whose CPU time per call to report (Linux /proc)")
	flag.Parse()
	if *url == "" || *n < 1 || *duration <= 0 {
		return errors.New("-url, a positive -c and a positive -d are required")
	}
	pids, err := parsePids(*pidsFlag)
	if err != nil {
		return err
	}
	ctx := context.Background()
	rep, err := measure(ctx, *url, *tool, *n, *warmup, *duration, *callTimeout, *statsURL, pids)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(rep)
}

// measure connects n clients, then calls for warmup and duration.
func measure(ctx context.Context, url, tool string, n int, warmup, duration, callTimeout time.Duration, statsURL string, pids map[string]int) (report, error) {
	// One pool for all clients, big enough that none of them ever opens a
	// connection per call.
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: 2 * n, MaxIdleConnsPerHost: 2 * n, IdleConnTimeout: time.Minute}}
	defer hc.CloseIdleConnections()
	clients := make([]*client.Client, n)
	defer func() {
		for _, c := range clients {
			if c != nil {
				_ = c.Close()
			}
		}
	}()
	for i := range clients {
		tr, err := transport.NewStreamableHTTP(url, transport.WithHTTPBasicClient(hc))
		if err != nil {
			return report{}, err
		}
		c := client.NewClient(tr, client.WithProtocolVersion(mcp.ProtocolVersion20251125))
		sctx, cancel := context.WithTimeout(ctx, setupTimeout)
		err = c.Start(sctx)
		if err == nil {
			req := mcp.InitializeRequest{}
			req.Params.ProtocolVersion = mcp.ProtocolVersion20251125
			req.Params.ClientInfo = mcp.Implementation{Name: "mcpbench", Version: "1"}
			_, err = c.Initialize(sctx, req)
		}
		cancel()
		if err != nil {
			_ = c.Close()
			return report{}, fmt.Errorf("client %d of %d: initialize %s: %w", i+1, n, url, err)
		}
		clients[i] = c
	}

	var (
		measuring, stop atomic.Bool
		mu              sync.Mutex
		lat             []time.Duration
		firstErr        error
		wg              sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		stop.Store(true)
	}
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, 4096)
			req := mcp.CallToolRequest{}
			req.Params.Name = tool
			req.Params.Arguments = map[string]any{"message": "hello from client " + strconv.Itoa(i)}
			for !stop.Load() {
				cctx, cancel := context.WithTimeout(ctx, callTimeout)
				start := time.Now()
				res, err := c.CallTool(cctx, req)
				d := time.Since(start)
				cancel()
				if err == nil && res.IsError {
					err = fmt.Errorf("tool error: %s", firstText(res))
				}
				if err != nil {
					fail(fmt.Errorf("client %d: tools/call %s: %w", i+1, tool, err))
					return
				}
				if measuring.Load() {
					mine = append(mine, d)
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	// The measured window: the clients run on their own; this goroutine
	// only marks its start and end.
	time.Sleep(warmup)
	before, err := upstreamAccepted(ctx, statsURL)
	if err != nil {
		stop.Store(true)
		wg.Wait()
		return report{}, err
	}
	cpu0, err := cpuTimes(pids)
	if err != nil {
		stop.Store(true)
		wg.Wait()
		return report{}, err
	}
	measuring.Store(true)
	start := time.Now()
	time.Sleep(duration)
	measuring.Store(false)
	elapsed := time.Since(start)
	cpu1, cpuErr := cpuTimes(pids)
	after, err := upstreamAccepted(ctx, statsURL)
	if err == nil {
		err = cpuErr
	}
	stop.Store(true)
	wg.Wait()
	switch {
	case firstErr != nil:
		return report{}, firstErr
	case err != nil:
		return report{}, err
	case len(lat) == 0:
		return report{}, errors.New("no call completed in the measured time")
	}
	slices.Sort(lat)
	conns := int64(-1)
	if statsURL != "" {
		conns = after - before
	}
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	perCall := map[string]float64{}
	for name, t := range cpu1 {
		perCall[name] = us(t-cpu0[name]) / float64(len(lat))
	}
	return report{
		URL: url, Tool: tool, Clients: n, Calls: len(lat), Seconds: elapsed.Seconds(),
		CallsPerSecond: float64(len(lat)) / elapsed.Seconds(),
		P50us:          us(lat[len(lat)/2]), P99us: us(lat[len(lat)*99/100]),
		UpstreamConns: conns, CPUusPerCall: perCall, GOMAXPROCS: goruntime.GOMAXPROCS(0),
	}, nil
}

// upstreamAccepted reads the upstream's accepted-connection counter; 0
// without a stats URL.
func upstreamAccepted(ctx context.Context, statsURL string) (int64, error) {
	if statsURL == "" {
		return 0, nil
	}
	ctx, cancel := context.WithTimeout(ctx, statsTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, statsURL, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("-stats-url: %w", err)
	}
	defer resp.Body.Close()
	var s struct {
		Accepted int64 `json:"accepted"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 1<<10)).Decode(&s); err != nil {
		return 0, fmt.Errorf("-stats-url: %w", err)
	}
	return s.Accepted, nil
}

func firstText(r *mcp.CallToolResult) string {
	for _, c := range r.Content {
		if t, ok := mcp.AsTextContent(c); ok {
			return t.Text
		}
	}
	return "(no text)"
}

// parsePids reads -cpu-pids.
func parsePids(s string) (map[string]int, error) {
	pids := map[string]int{}
	if s == "" {
		return pids, nil
	}
	for _, kv := range strings.Split(s, ",") {
		name, v, ok := strings.Cut(kv, "=")
		pid, err := strconv.Atoi(v)
		if !ok || name == "" || name == "load" || err != nil || pid <= 0 {
			return nil, fmt.Errorf("-cpu-pids: %q is not name=pid (name not \"load\")", kv)
		}
		pids[name] = pid
	}
	return pids, nil
}

// clockTick is the unit of /proc/PID/stat's times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// cpuTimes is the CPU time (user + system) spent so far by this process
// ("load", from getrusage) and by each named process (from /proc).
func cpuTimes(pids map[string]int) (map[string]time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return nil, err
	}
	t := map[string]time.Duration{"load": time.Duration(ru.Utime.Nano() + ru.Stime.Nano())}
	for name, pid := range pids {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return nil, fmt.Errorf("-cpu-pids %s: %w", name, err)
		}
		// Fields after the command name (which may hold spaces): state is
		// field 3, utime 14, stime 15.
		_, rest, ok := strings.Cut(string(data), ") ")
		f := strings.Fields(rest)
		if !ok || len(f) < 13 {
			return nil, fmt.Errorf("-cpu-pids %s: unexpected /proc/%d/stat", name, pid)
		}
		ut, err1 := strconv.ParseInt(f[11], 10, 64)
		st, err2 := strconv.ParseInt(f[12], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("-cpu-pids %s: unexpected /proc/%d/stat", name, pid)
		}
		t[name] = time.Duration(ut+st) * clockTick
	}
	return t, nil
}
