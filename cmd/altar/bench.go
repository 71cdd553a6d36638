package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// benchResult is what one bench run measured.
type benchResult struct {
	Target      string         `json:"target"`
	Protocol    string         `json:"protocol"`
	Tool        string         `json:"tool"`
	Concurrency int            `json:"concurrency"`
	GOMAXPROCS  int            `json:"gomaxprocs"`
	Calls       int64          `json:"calls"`
	Errors      int64          `json:"errors"`
	ErrorsBy    map[string]int `json:"errors_by_code,omitempty"`
	Seconds     float64        `json:"seconds"`
	PerSecond   float64        `json:"calls_per_second"`
	P50Micros   float64        `json:"p50_us"`
	P95Micros   float64        `json:"p95_us"`
	P99Micros   float64        `json:"p99_us"`
}

// invoker makes one call and says whether it succeeded, or which code it
// failed with ("" for success).
type invoker func(ctx context.Context) string

func newBenchCommand() *cobra.Command {
	var (
		addr, tool, argsJSON, key, output, protocol string
		concurrency                                 int
		duration, warmup, timeout                   time.Duration
		count                                       int64
		noProgress                                  bool
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Drive a running gateway with concurrent calls (gRPC or HTTP) and report throughput and latency",
		Long: `bench calls one tool from N concurrent callers, over gRPC (HostService.Invoke)
or HTTP (POST /v1/tools/TOOL/invoke), for a duration or a number of calls,
after a warm-up, and prints the throughput and the p50/p95/p99 latency of the
successful calls, with a progress bar when stderr is a terminal.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if concurrency < 1 {
				return fmt.Errorf("--concurrency must be at least 1")
			}
			if key == "" {
				key = os.Getenv("ALTAR_API_KEY")
			}
			params, err := schema.ParseJSONObject([]byte(argsJSON), schema.Limits{})
			if err != nil {
				return fmt.Errorf("--args: %w", err)
			}
			var call invoker
			switch protocol {
			case "grpc":
				if addr == "" {
					addr = "127.0.0.1:50051"
				}
				cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
				if err != nil {
					return err
				}
				defer cc.Close()
				call = grpcInvoker(altarv1.NewHostServiceClient(cc), &altarv1.InvokeRequest{ToolName: tool, Parameters: params}, key, timeout)
			case "http":
				if addr == "" {
					addr = "127.0.0.1:8080"
				}
				call, err = httpInvoker(addr, tool, argsJSON, key, timeout, concurrency)
				if err != nil {
					return err
				}
			default:
				return fmt.Errorf("--protocol must be grpc or http, not %q", protocol)
			}
			ctx := cmd.Context()
			if warmup > 0 {
				runBench(ctx, call, concurrency, warmup, 0, nil)
			}
			var bar *progressBar
			if output != "json" && !noProgress && isTerminal(os.Stderr) {
				bar = &progressBar{w: os.Stderr, total: duration, count: count}
			}
			res := runBench(ctx, call, concurrency, duration, count, bar)
			res.Target, res.Tool, res.Protocol = addr, tool, protocol
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "target %s (%s)  tool %s  callers %d  client GOMAXPROCS %d\n", res.Target, res.Protocol, res.Tool, res.Concurrency, res.GOMAXPROCS)
			fmt.Fprintf(w, "calls %d  errors %d  in %.2fs  =  %.0f calls/s\n", res.Calls, res.Errors, res.Seconds, res.PerSecond)
			fmt.Fprintf(w, "latency p50 %.0fµs  p95 %.0fµs  p99 %.0fµs\n", res.P50Micros, res.P95Micros, res.P99Micros)
			for code, n := range res.ErrorsBy {
				fmt.Fprintf(w, "  %s: %d\n", code, n)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "", "address of the gateway (default 127.0.0.1:50051 for grpc, 127.0.0.1:8080 for http)")
	f.StringVar(&protocol, "protocol", "grpc", "grpc or http")
	f.StringVar(&tool, "tool", "subtract", "tool to call")
	f.StringVar(&argsJSON, "args", `{"a": 7, "b": 2}`, "arguments as a JSON object")
	f.StringVar(&key, "key", "", "API key (or set ALTAR_API_KEY)")
	f.IntVarP(&concurrency, "concurrency", "c", 1, "concurrent callers")
	f.DurationVarP(&duration, "duration", "d", 10*time.Second, "how long to measure (when --count is 0)")
	f.Int64VarP(&count, "count", "n", 0, "how many calls to measure (0: run for --duration)")
	f.DurationVar(&warmup, "warmup", 2*time.Second, "unmeasured warm-up before measuring")
	f.DurationVar(&timeout, "timeout", 10*time.Second, "deadline of each call")
	f.StringVarP(&output, "output", "o", "text", "text or json")
	f.BoolVar(&noProgress, "no-progress", false, "no progress bar, even on a terminal")
	return cmd
}

func grpcInvoker(client altarv1.HostServiceClient, req *altarv1.InvokeRequest, key string, timeout time.Duration) invoker {
	return func(ctx context.Context) string {
		if key != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		resp, err := client.Invoke(ctx, req)
		switch {
		case err != nil:
			return altarerr.CodeName(altarerr.CodeOf(err))
		case resp.GetResult().GetStatus() != altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS:
			return "TOOL_FAILED"
		}
		return ""
	}
}

func httpInvoker(addr, tool, argsJSON, key string, timeout time.Duration, callers int) (invoker, error) {
	base := addr
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	u, err := url.JoinPath(base, "v1", "tools", url.PathEscape(tool), "invoke")
	if err != nil {
		return nil, fmt.Errorf("--addr: %w", err)
	}
	body := []byte(`{"parameters":` + argsJSON + `}`)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: callers, MaxConnsPerHost: callers}}
	return func(ctx context.Context) string {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
		if err != nil {
			return "INVALID_REQUEST"
		}
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := client.Do(req)
		if err != nil {
			return altarerr.CodeName(altarerr.CodeOf(err))
		}
		defer resp.Body.Close()
		var out struct {
			Result struct {
				Status string `json:"status"`
			} `json:"result"`
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			return "CONNECTION_LOST"
		}
		if err := json.Unmarshal(data, &out); err != nil {
			return fmt.Sprintf("HTTP_%d", resp.StatusCode)
		}
		switch {
		case resp.StatusCode != http.StatusOK:
			if out.Error.Code != "" {
				return out.Error.Code
			}
			return fmt.Sprintf("HTTP_%d", resp.StatusCode)
		case out.Result.Status != altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS.String():
			return "TOOL_FAILED"
		}
		return ""
	}, nil
}

// runBench runs callers until the duration passes or count calls are made.
// A call in flight when time is up is let finish (and counted): cutting it
// off would report the target as failing when it was only the run ending.
func runBench(ctx context.Context, call invoker, callers int, d time.Duration, count int64, bar *progressBar) benchResult {
	var stop atomic.Bool
	if count == 0 {
		t := time.AfterFunc(d, func() { stop.Store(true) })
		defer t.Stop()
	}
	var (
		issued, done, failed atomic.Int64
		mu                   sync.Mutex
		all                  []time.Duration
		errsBy               = map[string]int{}
		workers              sync.WaitGroup
	)
	start := time.Now()
	stopBar := bar.start(start, &done, &failed)
	for range callers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			lat := make([]time.Duration, 0, 4096)
			myBy := map[string]int{}
			for !stop.Load() && ctx.Err() == nil {
				if count > 0 && issued.Add(1) > count {
					break
				}
				t0 := time.Now()
				code := call(ctx)
				elapsed := time.Since(t0)
				if code != "" && ctx.Err() != nil {
					break // interrupted (Ctrl-C): not an error of the target
				}
				done.Add(1)
				if code == "" {
					lat = append(lat, elapsed)
					continue
				}
				failed.Add(1)
				myBy[code]++
			}
			mu.Lock()
			all = append(all, lat...)
			for k, v := range myBy {
				errsBy[k] += v
			}
			mu.Unlock()
		}()
	}
	workers.Wait()
	elapsed := time.Since(start)
	stopBar()
	slices.Sort(all)
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[int(p*float64(len(all)-1))].Nanoseconds()) / 1e3
	}
	return benchResult{
		Concurrency: callers,
		GOMAXPROCS:  runtime.GOMAXPROCS(0),
		Calls:       int64(len(all)),
		Errors:      failed.Load(),
		ErrorsBy:    errsBy,
		Seconds:     elapsed.Seconds(),
		PerSecond:   float64(len(all)) / elapsed.Seconds(),
		P50Micros:   pct(0.50),
		P95Micros:   pct(0.95),
		P99Micros:   pct(0.99),
	}
}

// progressBar redraws one line on a terminal while a bench runs.
type progressBar struct {
	w     io.Writer
	total time.Duration // when count is 0
	count int64
}

// start draws the bar every 200ms until the returned func is called (which
// waits for the drawing goroutine and ends the line). A nil bar draws
// nothing.
func (b *progressBar) start(began time.Time, done, failed *atomic.Int64) (stop func()) {
	if b == nil {
		return func() {}
	}
	quit := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				b.draw(time.Since(began), done.Load(), failed.Load())
				fmt.Fprintln(b.w)
				return
			case <-tick.C:
				b.draw(time.Since(began), done.Load(), failed.Load())
			}
		}
	}()
	return func() {
		close(quit)
		<-finished
	}
}

func (b *progressBar) draw(elapsed time.Duration, done, failed int64) {
	const width = 30
	frac := 0.0
	if b.count > 0 {
		frac = float64(done) / float64(b.count)
	} else if b.total > 0 {
		frac = elapsed.Seconds() / b.total.Seconds()
	}
	frac = min(max(frac, 0), 1)
	filled := int(frac * width)
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(done) / s
	}
	fmt.Fprintf(b.w, "\r[%s%s] %3.0f%%  %d calls  %d errors  %.0f/s ",
		strings.Repeat("#", filled), strings.Repeat(".", width-filled), frac*100, done, failed, rate)
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
