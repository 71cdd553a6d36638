package callworkers_test

import (
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/altar-gateway/altar/internal/callworkers"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Every function runs, past the bound too, and after stop closes every
// worker ends (goleak checks that none is left).
func TestPoolRunsEveryCallAndStops(t *testing.T) {
	for _, tc := range []struct {
		name string
		pool func(stop chan struct{}, wg *sync.WaitGroup) *callworkers.Pool
	}{
		{"bounded", func(stop chan struct{}, wg *sync.WaitGroup) *callworkers.Pool { return callworkers.New(4, stop, wg) }},
		{"nil pool", func(chan struct{}, *sync.WaitGroup) *callworkers.Pool { return nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stop := make(chan struct{})
			var workers sync.WaitGroup
			p := tc.pool(stop, &workers)
			const calls = 1000
			var ran sync.WaitGroup
			ran.Add(calls)
			release := make(chan struct{})
			for i := range calls {
				p.Go(func() {
					if i < 10 {
						<-release // hold more calls than workers at once
					}
					ran.Done()
				})
			}
			close(release)
			ran.Wait()
			close(stop)
			workers.Wait()
		})
	}
}
