package main

import (
	"context"
	"log/slog"
	"os"
	"sync"

	"github.com/altar-gateway/altar/internal/gcfloor"
)

// startGCFloor keeps the serving process's heap target at no less than mb
// MiB (gc_heap_floor_mb) until stop, unless mb is 0 or GOGC is set (the
// operator's choice wins). stop ends it and puts GOGC back.
func startGCFloor(ctx context.Context, mb int, log *slog.Logger) (stop func()) {
	if mb <= 0 {
		return func() {}
	}
	if v, ok := os.LookupEnv("GOGC"); ok {
		log.Info("GOGC is set: gc_heap_floor_mb is not applied", "GOGC", v)
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { gcfloor.Run(ctx, uint64(mb)<<20, gcfloor.DefaultInterval) })
	return func() {
		cancel()
		wg.Wait()
	}
}
