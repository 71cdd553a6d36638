package main

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
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

func newBenchCommand() *cobra.Command {
	var (
		addr, tool, argsJSON, key, output string
		concurrency                       int
		duration, warmup, timeout         time.Duration
		count                             int64
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Drive a running gateway (or any HostService) with concurrent Invoke calls and report throughput and latency",
		Long: `bench calls one tool over gRPC HostService.Invoke from N concurrent callers,
for a duration or a number of calls, after a warm-up, and prints the
throughput and the p50/p95/p99 latency of the successful calls.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if concurrency < 1 {
				return fmt.Errorf("--concurrency must be at least 1")
			}
			params, err := schema.ParseJSONObject([]byte(argsJSON), schema.Limits{})
			if err != nil {
				return fmt.Errorf("--args: %w", err)
			}
			cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				return err
			}
			defer cc.Close()
			client := altarv1.NewHostServiceClient(cc)
			ctx := cmd.Context()
			if key != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
			}
			req := &altarv1.InvokeRequest{ToolName: tool, Parameters: params}
			if warmup > 0 {
				runBench(ctx, client, req, concurrency, warmup, 0, timeout)
			}
			res := runBench(ctx, client, req, concurrency, duration, count, timeout)
			res.Target, res.Tool = addr, tool
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "target %s  tool %s  callers %d  client GOMAXPROCS %d\n", res.Target, res.Tool, res.Concurrency, res.GOMAXPROCS)
			fmt.Fprintf(w, "calls %d  errors %d  in %.2fs  =  %.0f calls/s\n", res.Calls, res.Errors, res.Seconds, res.PerSecond)
			fmt.Fprintf(w, "latency p50 %.0fµs  p95 %.0fµs  p99 %.0fµs\n", res.P50Micros, res.P95Micros, res.P99Micros)
			for code, n := range res.ErrorsBy {
				fmt.Fprintf(w, "  %s: %d\n", code, n)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:50051", "gRPC address of the gateway")
	f.StringVar(&tool, "tool", "subtract", "tool to call")
	f.StringVar(&argsJSON, "args", `{"a": 7, "b": 2}`, "arguments as a JSON object")
	f.StringVar(&key, "key", "", "API key (or set ALTAR_API_KEY)")
	f.IntVarP(&concurrency, "concurrency", "c", 1, "concurrent callers")
	f.DurationVarP(&duration, "duration", "d", 10*time.Second, "how long to measure (when --count is 0)")
	f.Int64VarP(&count, "count", "n", 0, "how many calls to measure (0: run for --duration)")
	f.DurationVar(&warmup, "warmup", 2*time.Second, "unmeasured warm-up before measuring")
	f.DurationVar(&timeout, "timeout", 10*time.Second, "deadline of each call")
	f.StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}

// runBench runs callers until the duration passes or count calls are made.
// A call in flight when time is up is let finish (and counted): cutting it
// off would report the target as failing when it was only the run ending.
func runBench(ctx context.Context, client altarv1.HostServiceClient, req *altarv1.InvokeRequest, callers int, d time.Duration, count int64, timeout time.Duration) benchResult {
	var stop atomic.Bool
	if count == 0 {
		t := time.AfterFunc(d, func() { stop.Store(true) })
		defer t.Stop()
	}
	var (
		issued  atomic.Int64
		mu      sync.Mutex
		all     []time.Duration
		errs    int64
		errsBy  = map[string]int{}
		workers sync.WaitGroup
	)
	start := time.Now()
	for range callers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			lat := make([]time.Duration, 0, 4096)
			var myErrs int64
			myBy := map[string]int{}
			for !stop.Load() && ctx.Err() == nil {
				if count > 0 && issued.Add(1) > count {
					break
				}
				callCtx, callCancel := context.WithTimeout(ctx, timeout)
				t0 := time.Now()
				resp, err := client.Invoke(callCtx, req)
				elapsed := time.Since(t0)
				callCancel()
				if err != nil && ctx.Err() != nil {
					break // interrupted (Ctrl-C): not an error of the target
				}
				if err == nil && resp.GetResult().GetStatus() == altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS {
					lat = append(lat, elapsed)
					continue
				}
				myErrs++
				code := "TOOL_FAILED"
				if err != nil {
					code = altarerr.CodeName(altarerr.CodeOf(err))
				}
				myBy[code]++
			}
			mu.Lock()
			all = append(all, lat...)
			errs += myErrs
			for k, v := range myBy {
				errsBy[k] += v
			}
			mu.Unlock()
		}()
	}
	workers.Wait()
	elapsed := time.Since(start)
	slices.Sort(all)
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		i := int(p * float64(len(all)-1))
		return float64(all[i].Nanoseconds()) / 1e3
	}
	return benchResult{
		Concurrency: callers,
		GOMAXPROCS:  runtime.GOMAXPROCS(0),
		Calls:       int64(len(all)),
		Errors:      errs,
		ErrorsBy:    errsBy,
		Seconds:     elapsed.Seconds(),
		PerSecond:   float64(len(all)) / elapsed.Seconds(),
		P50Micros:   pct(0.50),
		P95Micros:   pct(0.95),
		P99Micros:   pct(0.99),
	}
}
