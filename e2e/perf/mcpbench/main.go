// Command mcpbench measures the MCP facade against a plain mcp-go server, in
// one run on loopback, with mcp-go's client as the load generator: each
// simulated client has its own MCP session (protocol 2025-11-25) and calls
// an echo tool in a loop.
//
//	(a) direct  an mcp-go server serving echo over streamable HTTP
//	(b) facade  the ALTAR facade (/mcp of a gateway.Host) serving echo from
//	            an in-process runtime
//	(c) bridged the facade in front of (a) through the MCP bridge
//	            (bridges/mcp), the tool "up.echo"
//
// Everything runs in this process (servers and clients share the CPUs, the
// same for every configuration). It prints one table: throughput, p50 and
// p99 per configuration and concurrency, and for (c) how many connections
// the bridge opened to (a) during the measured run (reuse means few).
//
//	go run ./e2e/perf/mcpbench -duration 5s -clients 1,64
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/pprof"
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
	"github.com/mark3labs/mcp-go/server"

	mcpbridge "github.com/altar-gateway/altar/bridges/mcp"
	"github.com/altar-gateway/altar/gateway"
	"github.com/altar-gateway/altar/gateway/runtime"
	"github.com/altar-gateway/altar/plugins/sdk"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// callTimeout bounds one call; setupTimeout bounds starting a server or
// connecting a client.
const (
	callTimeout  = 30 * time.Second
	setupTimeout = 30 * time.Second
)

const echoManifest = `manifest_version: "1.0"
contracts:
  - name: echo
    version: 1.0.0
    description: Return the message.
    parameters:
      type: object
      properties:
        message: { type: string, max_length: 1000 }
      required: [message]
    flags: { read_only: true, idempotent: true }
    compliance_level: 1
`

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "mcpbench:", err)
		os.Exit(1)
	}
}

type target struct {
	name, url, tool string
	// accepted counts the upstream connections (a) accepted, for (c).
	accepted *atomic.Int64
}

func run() error {
	duration := flag.Duration("duration", 5*time.Second, "measured time per configuration and concurrency")
	warmup := flag.Duration("warmup", time.Second, "unmeasured time before each measurement")
	clientsFlag := flag.String("clients", "1,64", "concurrent clients (each its own MCP session), comma-separated")
	configs := flag.String("configs", "a,b,c", "configurations to run: a (direct), b (facade), c (bridged)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	rounds := flag.Int("rounds", 3, "rounds; each runs every configuration and concurrency once, and the table shows medians")
	blockProfile := flag.String("blockprofile", "", "write a blocking profile of the whole run to this file")
	flag.Parse()
	if *blockProfile != "" {
		goruntime.SetBlockProfileRate(10000)
		defer func() {
			if f, err := os.Create(*blockProfile); err == nil {
				_ = pprof.Lookup("block").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var counts []int
	for _, s := range strings.Split(*clientsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("-clients: %q is not a positive number", s)
		}
		counts = append(counts, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir, err := os.MkdirTemp("", "mcpbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// (a) an mcp-go server with echo.
	up, upURL, accepted, err := startUpstream()
	if err != nil {
		return err
	}
	defer up.Close()
	targets := map[string]target{"a": {name: "(a) mcp-go direct", url: upURL, tool: "echo"}}

	manifest := filepath.Join(dir, "echo.yaml")
	if err := os.WriteFile(manifest, []byte(echoManifest), 0o600); err != nil {
		return err
	}
	// (b) the facade over an in-process runtime.
	hb, err := startHost(ctx, manifest)
	if err != nil {
		return err
	}
	defer closeHost(hb)
	if err := attachEcho(hb); err != nil {
		return err
	}
	targets["b"] = target{name: "(b) ALTAR facade, in-process runtime", url: "http://" + hb.HTTPAddr() + "/mcp", tool: "echo"}

	// (c) the facade in front of (a) through the MCP bridge.
	if strings.Contains(*configs, "c") {
		hc, err := startHost(ctx, "")
		if err != nil {
			return err
		}
		defer closeHost(hc)
		b, err := mcpbridge.New(mcpbridge.Server{Name: "up", Transport: "http", URL: upURL}, hc, filepath.Join(dir, "altar-mcp.lock.json"))
		if err != nil {
			return err
		}
		defer b.Close()
		sctx, scancel := context.WithTimeout(ctx, setupTimeout)
		err = b.Start(sctx)
		scancel()
		if err != nil {
			return fmt.Errorf("bridge to (a): %w", err)
		}
		targets["c"] = target{name: "(c) ALTAR facade -> MCP bridge -> (a)", url: "http://" + hc.HTTPAddr() + "/mcp", tool: "up.echo", accepted: accepted}
	}

	fmt.Printf("mcpbench: %d rounds of %v per configuration and concurrency (after %v warm-up), interleaved; medians; GOMAXPROCS=%d, protocol %s, one MCP session per client\n\n",
		*rounds, *duration, *warmup, goMaxProcs(), mcp.ProtocolVersion20251125)
	type key struct {
		cfg string
		n   int
	}
	var order []key
	for _, c := range strings.Split(*configs, ",") {
		c = strings.TrimSpace(c)
		if _, ok := targets[c]; !ok {
			return fmt.Errorf("-configs: unknown configuration %q", c)
		}
		for _, n := range counts {
			order = append(order, key{c, n})
		}
	}
	results := map[key][]result{}
	for r := 0; r < *rounds; r++ {
		for _, k := range order {
			res, err := measure(ctx, targets[k.cfg], k.n, *warmup, *duration)
			if err != nil {
				return fmt.Errorf("%s, %d clients: %w", targets[k.cfg].name, k.n, err)
			}
			results[k] = append(results[k], res)
			fmt.Fprintf(os.Stderr, "round %d: %s, %d clients: %.0f calls/s, p50 %s\n", r+1, targets[k.cfg].name, k.n, res.throughput, ms(res.p50))
		}
	}
	fmt.Println("| configuration | clients | calls/s | vs (a), paired | p50 | p50 vs (a), paired | p99 | CPU per call | CPU vs (a) | upstream connections opened |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, k := range order {
		m := median(results[k])
		base, haveBase := results[key{"a", k.n}]
		ratio, p50ratio, cpuRatio := "-", "-", "-"
		if haveBase && k.cfg != "a" {
			// Each round's ratio to (a) of the same round, then the median:
			// the machine's load changes between rounds more than within.
			var tr, lr []float64
			for i, r := range results[k] {
				tr = append(tr, r.throughput/base[i].throughput)
				lr = append(lr, float64(r.p50)/float64(base[i].p50))
			}
			ratio = fmt.Sprintf("%.2fx", medianOf(tr))
			p50ratio = fmt.Sprintf("%.2fx", medianOf(lr))
			cpuRatio = fmt.Sprintf("%.2fx", float64(m.cpuPerCall)/float64(median(base).cpuPerCall))
		}
		conns := "-"
		if targets[k.cfg].accepted != nil {
			conns = strconv.FormatInt(m.upstreamConns, 10)
		}
		fmt.Printf("| %s | %d | %.0f | %s | %s | %s | %s | %d µs | %s | %s |\n", targets[k.cfg].name, k.n, m.throughput, ratio, ms(m.p50), p50ratio, ms(m.p99),
			m.cpuPerCall.Microseconds(), cpuRatio, conns)
	}
	return nil
}

func goMaxProcs() int { return runtimeGOMAXPROCS() }

func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d.Microseconds())/1000) }

// countingListener counts accepted connections.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// startUpstream serves (a): an mcp-go server with one echo tool over
// streamable HTTP.
func startUpstream() (*http.Server, string, *atomic.Int64, error) {
	s := server.NewMCPServer("upstream", "1.0.0", server.WithToolCapabilities(false))
	s.AddTool(mcp.NewTool("echo",
		mcp.WithDescription("Return the message."),
		mcp.WithString("message", mcp.Required(), mcp.Description("The message.")),
		mcp.WithReadOnlyHintAnnotation(true), mcp.WithIdempotentHintAnnotation(true), mcp.WithDestructiveHintAnnotation(false),
		mcp.WithOpenWorldHintAnnotation(false),
	), func(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText(req.GetString("message", "")), nil
	})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", nil, err
	}
	n := new(atomic.Int64)
	mux := http.NewServeMux()
	mux.Handle("/mcp", server.NewStreamableHTTPServer(s, server.WithStreamableHTTPLogger(slog.New(slog.DiscardHandler))))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(countingListener{lis, n}) }()
	return srv, "http://" + lis.Addr().String() + "/mcp", n, nil
}

func startHost(ctx context.Context, manifest string) (*gateway.Host, error) {
	cfg := gateway.DefaultConfig()
	cfg.GRPCAddr = "127.0.0.1:0"
	cfg.HTTPAddr = "127.0.0.1:0"
	if manifest != "" {
		cfg.ManifestPaths = []string{manifest}
	}
	h, err := gateway.New(cfg)
	if err != nil {
		return nil, err
	}
	if err := h.Start(ctx); err != nil {
		return nil, err
	}
	return h, nil
}

func closeHost(h *gateway.Host) {
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	_ = h.Close(ctx)
}

type echoIn struct {
	Message string `json:"message"`
}

func attachEcho(h *gateway.Host) error {
	handler, err := sdk.NewHandler([]sdk.Tool{
		sdk.Func("echo", "Return the message.", func(_ context.Context, in echoIn) (string, error) { return in.Message, nil },
			sdk.WithContractVersion("1.0.0")),
	}, sdk.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return err
	}
	announce := &altarv1.AnnounceRuntime{
		RuntimeId: "echo", Language: "go", ProtocolVersion: altarv1.ProtocolVersion,
		Capabilities:    altarv1.CapabilitiesForLevel(altarv1.ComplianceLevel_COMPLIANCE_LEVEL_2),
		ComplianceLevel: altarv1.ComplianceLevel_COMPLIANCE_LEVEL_2,
	}
	resp := h.Attach(runtime.NewInProcess(announce, handler, runtime.DefaultStreamBuffer),
		&altarv1.FulfillTools{Tools: []*altarv1.ToolFulfillment{{ContractName: "echo"}}})
	if len(resp.GetAccepted()) != 1 {
		return fmt.Errorf("echo runtime not accepted: %v", resp.GetRejected())
	}
	return nil
}

type result struct {
	throughput    float64
	p50, p99      time.Duration
	upstreamConns int64
	// cpuPerCall is this process's CPU time (servers and clients alike)
	// per call in the measured window: steadier than throughput on a
	// machine others load.
	cpuPerCall time.Duration
}

// cpuTime is the CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs n clients, each with its own session, calling the target's
// tool for warmup then duration, and reports the measured part.
func measure(ctx context.Context, tg target, n int, warmup, duration time.Duration) (result, error) {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: 2 * n, MaxIdleConnsPerHost: 2 * n, IdleConnTimeout: time.Minute}}
	defer hc.CloseIdleConnections()
	clients := make([]*client.Client, n)
	for i := range clients {
		tr, err := transport.NewStreamableHTTP(tg.url, transport.WithHTTPBasicClient(hc))
		if err != nil {
			return result{}, err
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
			return result{}, fmt.Errorf("client %d: %w", i, err)
		}
		defer c.Close()
		clients[i] = c
	}
	var (
		measuring atomic.Bool
		stop      atomic.Bool
		mu        sync.Mutex
		lat       []time.Duration
		firstErr  error
		wg        sync.WaitGroup
	)
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			req := mcp.CallToolRequest{}
			req.Params.Name = tg.tool
			req.Params.Arguments = map[string]any{"message": "hello from client " + strconv.Itoa(i)}
			for !stop.Load() {
				cctx, cancel := context.WithTimeout(ctx, callTimeout)
				start := time.Now()
				res, err := c.CallTool(cctx, req)
				d := time.Since(start)
				cancel()
				if err == nil && res.IsError {
					err = errors.New(firstText(res))
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
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
	time.Sleep(warmup)
	var before int64
	if tg.accepted != nil {
		before = tg.accepted.Load()
	}
	measuring.Store(true)
	start, cpuStart := time.Now(), cpuTime()
	time.Sleep(duration)
	measuring.Store(false)
	elapsed, cpu := time.Since(start), cpuTime()-cpuStart
	var after int64
	if tg.accepted != nil {
		after = tg.accepted.Load()
	}
	stop.Store(true)
	wg.Wait()
	if firstErr != nil {
		return result{}, firstErr
	}
	if len(lat) == 0 {
		return result{}, errors.New("no call completed")
	}
	slices.Sort(lat)
	return result{
		throughput:    float64(len(lat)) / elapsed.Seconds(),
		p50:           lat[len(lat)/2],
		p99:           lat[len(lat)*99/100],
		upstreamConns: after - before,
		cpuPerCall:    cpu / time.Duration(len(lat)),
	}, nil
}

func medianOf(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}

// median is the median of each measure separately.
func median(rs []result) result {
	pick := func(f func(result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return result{
		throughput:    pick(func(r result) float64 { return r.throughput }),
		p50:           time.Duration(pick(func(r result) float64 { return float64(r.p50) })),
		p99:           time.Duration(pick(func(r result) float64 { return float64(r.p99) })),
		upstreamConns: int64(pick(func(r result) float64 { return float64(r.upstreamConns) })),
		cpuPerCall:    time.Duration(pick(func(r result) float64 { return float64(r.cpuPerCall) })),
	}
}

func firstText(r *mcp.CallToolResult) string {
	for _, c := range r.Content {
		if t, ok := mcp.AsTextContent(c); ok {
			return t.Text
		}
	}
	return "tool error"
}

func runtimeGOMAXPROCS() int { return goruntime.GOMAXPROCS(0) }
