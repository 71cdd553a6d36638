package main

import (
	"bytes"
	"context"
	"strings"
	"sync/atomic"
	"testing"
)

func TestRunBenchCountsEveryCall(t *testing.T) {
	var n atomic.Int64
	call := func(context.Context) string {
		if n.Add(1)%10 == 0 {
			return "RESOURCE_EXHAUSTED"
		}
		return ""
	}
	var out bytes.Buffer
	bar := &progressBar{w: &out, count: 100}
	res := runBench(context.Background(), call, 4, 0, 100, bar)
	if res.Calls != 90 || res.Errors != 10 || res.ErrorsBy["RESOURCE_EXHAUSTED"] != 10 || n.Load() != 100 {
		t.Fatalf("result = %+v after %d calls", res, n.Load())
	}
	if res.P50Micros <= 0 && res.P99Micros < res.P50Micros {
		t.Fatalf("percentiles = %v %v", res.P50Micros, res.P99Micros)
	}
	if !strings.Contains(out.String(), "100%") || !strings.HasSuffix(out.String(), "\n") {
		t.Fatalf("progress bar drew %q", out.String())
	}
}
