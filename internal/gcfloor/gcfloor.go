package gcfloor

import (
	"context"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// Bounds of the GOGC that Run sets.
const (
	// MinPercent is Go's default: Run never collects more often than it.
	MinPercent = 100
	// MaxPercent bounds how far Run raises GOGC (a near-empty heap).
	MaxPercent = 2000
)

// DefaultInterval is how often Run looks at the live heap.
const DefaultInterval = time.Second

// liveHeap is the runtime metric Run reads: the heap the last collection
// found alive.
const liveHeap = "/gc/heap/live:bytes"

// Percent is the GOGC under which a heap of live bytes is next collected at
// floor bytes: at least MinPercent, at most MaxPercent.
func Percent(live, floor uint64) int {
	if live == 0 || floor <= live {
		return MinPercent
	}
	p := (floor - live) * 100 / live
	return int(min(max(p, MinPercent), MaxPercent))
}

// Run keeps the heap's collection target at no less than floor bytes until
// ctx ends, looking every interval; then it restores the GOGC it found. Run
// it in a goroutine of its own; it returns when ctx ends.
func Run(ctx context.Context, floor uint64, interval time.Duration) {
	sample := []metrics.Sample{{Name: liveHeap}}
	original := debug.SetGCPercent(MinPercent)
	defer debug.SetGCPercent(original)
	current := MinPercent
	adjust := func() {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return
		}
		// A change of less than a tenth is not worth making.
		if p := Percent(sample[0].Value.Uint64(), floor); p*10 < current*9 || p*10 > current*11 {
			debug.SetGCPercent(p)
			current = p
		}
	}
	adjust()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			adjust()
		}
	}
}

// Start runs Run in a goroutine of its own with a floor of mb MiB, unless
// mb is 0 or the GOGC variable is set (the operator's choice wins, and is
// logged). stop ends it, waits for it and puts GOGC back.
func Start(ctx context.Context, mb int, log *slog.Logger) (stop func()) {
	if mb <= 0 {
		return func() {}
	}
	if v, ok := os.LookupEnv("GOGC"); ok {
		log.Info("GOGC is set: gc_heap_floor_mb is not applied", "GOGC", v)
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { Run(ctx, uint64(mb)<<20, DefaultInterval) })
	return func() {
		cancel()
		wg.Wait()
	}
}
