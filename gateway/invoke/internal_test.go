package invoke

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

func TestHistogram(t *testing.T) {
	prev := -1
	for us := uint64(0); us < 1<<20; us = us*9/8 + 1 {
		i := histIndex(us)
		if i < prev {
			t.Fatalf("histIndex(%d) = %d < histIndex of a smaller value %d", us, i, prev)
		}
		prev = i
		if us > 0 {
			lo, hi := histBounds(i)
			if float64(us) < lo || float64(us) >= hi {
				t.Fatalf("%dµs in bucket %d [%v, %v)", us, i, lo, hi)
			}
		}
	}
	if histIndex(math.MaxUint64) != histBuckets-1 {
		t.Error("huge values do not land in the last bucket")
	}

	var h histogram
	if q := h.quantiles(0.5); q[0] != 0 {
		t.Errorf("empty p50 = %v", q[0])
	}
	for i := 1; i <= 1000; i++ {
		h.observe(time.Duration(i) * time.Millisecond)
	}
	q := h.quantiles(0.5, 0.95, 0.99, 1)
	for i, want := range []float64{500, 950, 990, 1000} {
		if q[i] < want*0.85 || q[i] > want*1.15 {
			t.Errorf("quantile %d = %.1fms, want about %.0fms", i, q[i], want)
		}
	}
}

func TestHistogramObserveDoesNotAllocate(t *testing.T) {
	var h histogram
	if n := testing.AllocsPerRun(100, func() { h.observe(3 * time.Millisecond) }); n != 0 {
		t.Errorf("observe allocates %v times", n)
	}
}

func TestDigest(t *testing.T) {
	var key, other [32]byte
	other[0] = 1
	obj := func(kv ...any) map[string]*altarv1.Value {
		m := map[string]*altarv1.Value{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1].(*altarv1.Value)
		}
		return m
	}
	nested := func(v *altarv1.Value) map[string]*altarv1.Value {
		return obj("a", schema.Object(obj("x", v, "y", schema.Array(schema.Int(1), schema.Null()))))
	}
	base := digestArgs(&key, "t", nested(schema.Int(3)))
	if digestArgs(&key, "t", nested(schema.Int(3))) != base {
		t.Fatal("digest is not deterministic")
	}
	for name, d := range map[string][32]byte{
		"double for int":   digestArgs(&key, "t", nested(schema.Double(3))),
		"string for int":   digestArgs(&key, "t", nested(schema.String("3"))),
		"bytes for string": digestArgs(&key, "t", obj("a", schema.Bytes([]byte("3")))),
		"other tool":       digestArgs(&key, "u", nested(schema.Int(3))),
		"other key":        digestArgs(&other, "t", nested(schema.Int(3))),
		"nothing":          digestArgs(&key, "t", nil),
	} {
		if d == base {
			t.Errorf("%s: same digest", name)
		}
	}
	// Keys that concatenate alike do not collide.
	if digestArgs(&key, "t", obj("ab", schema.String("c"))) == digestArgs(&key, "t", obj("a", schema.String("bc"))) {
		t.Error("length prefixes missing")
	}
	args := nested(schema.String("Oslo"))
	// Under -race sync.Pool drops its buffers at random; the count is checked
	// by the plain run of the suite (and BenchmarkInvoke).
	if n := testing.AllocsPerRun(100, func() { digestArgs(&key, "t", args) }); n != 0 && !raceEnabled {
		t.Errorf("digestArgs allocates %v times", n)
	}
}

func TestReorderer(t *testing.T) {
	r := reorderer{max: 2, next: 1}
	ch := func(id uint64) *altarv1.StreamChunk { return &altarv1.StreamChunk{ChunkId: id} }
	var out []uint64
	for _, id := range []uint64{2, 3, 1, 4} {
		got, err := r.accept(ch(id))
		if err != nil {
			t.Fatal(err)
		}
		for c := got; c != nil; c = r.pop() {
			out = append(out, c.ChunkId)
		}
	}
	if len(out) != 4 || out[0] != 1 || out[3] != 4 || r.sent != 4 {
		t.Errorf("delivered %v", out)
	}
	for _, tc := range []struct {
		id   uint64
		want altarv1.ErrorCode
	}{
		{0, altarv1.ErrorCode_ERROR_CODE_PROTOCOL_VIOLATION},
		{4, altarv1.ErrorCode_ERROR_CODE_PROTOCOL_VIOLATION},
	} {
		if _, err := r.accept(ch(tc.id)); err == nil || err.Code != tc.want {
			t.Errorf("accept(%d) = %v, want %v", tc.id, err, tc.want)
		}
	}
	if _, err := r.accept(nil); err == nil {
		t.Error("nil chunk accepted")
	}
}

func TestLimiterHandsSlotsInOrder(t *testing.T) {
	l := newLimiter("tool", "t", Limit{Concurrency: 1, Queue: 2})
	ctx := context.Background()
	if err := l.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	order := make(chan int, 2)
	queued := make(chan struct{}, 2)
	restore := func() { testHooks.queued = nil }
	testHooks.queued = func(string) { queued <- struct{}{} }
	defer restore()
	done := make(chan struct{})
	for i := range 2 {
		go func() {
			if err := l.acquire(ctx); err == nil {
				order <- i
				l.release(time.Millisecond)
			}
			done <- struct{}{}
		}()
		<-queued
	}
	var aerr *altarerr.Error
	if err := l.acquire(ctx); !errors.As(err, &aerr) || aerr.Code != altarv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED {
		t.Errorf("third waiter: %v", err)
	}
	l.release(time.Millisecond)
	<-done
	<-done
	if a, b := <-order, <-order; a != 0 || b != 1 {
		t.Errorf("slots handed out as %d, %d; want 0, 1", a, b)
	}
	if l.inUse != 0 || l.queued != 0 {
		t.Errorf("inUse %d queued %d after all released", l.inUse, l.queued)
	}
}

func TestResultCacheLRU(t *testing.T) {
	rc := newResultCache(cacheShards * 2) // 2 per shard
	now := time.Unix(0, 0)
	key := func(b byte) cacheKey {
		k := cacheKey{tool: "t"}
		k.digest[8] = b // shard picked from bytes 0..7: all in shard 0
		return k
	}
	res := func(b byte) *altarv1.ToolResult { return &altarv1.ToolResult{RuntimeId: string(rune('a' + b))} }
	rc.put(key(1), res(1), now, time.Hour)
	rc.put(key(2), res(2), now, time.Hour)
	rc.get(key(1), now) // 1 is now the most recent
	rc.put(key(3), res(3), now, time.Hour)
	if rc.get(key(2), now) != nil {
		t.Error("the least recently used entry survived")
	}
	if rc.get(key(1), now) == nil || rc.get(key(3), now) == nil {
		t.Error("a recent entry was evicted")
	}
	if rc.get(key(1), now.Add(time.Hour)) != nil {
		t.Error("an expired entry was served")
	}
}
