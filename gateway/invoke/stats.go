package invoke

import (
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/altar-gateway/altar/gateway/altarerr"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Latency is kept in a fixed log-linear histogram: every power of two of
// microseconds is split into histSub equal buckets, from 1µs to 2^histOctaves
// µs (about 18 minutes; longer calls land in the last bucket). Recording is
// one atomic add with no allocation and no lock; a percentile is read by
// walking the buckets and interpolating inside the one that holds it, so
// it is within 1/histSub (25%) of an octave of the truth: good enough for
// p50/p95/p99 on a dashboard, constant in memory (about 1KiB per tool and
// runtime), and never skewed by sampling.
const (
	histSubBits = 2
	histSub     = 1 << histSubBits
	histOctaves = 30
	histBuckets = histOctaves * histSub
)

type histogram struct {
	counts [histBuckets]atomic.Uint64
}

func histIndex(us uint64) int {
	if us == 0 {
		return 0
	}
	e := bits.Len64(us) - 1
	var sub uint64
	if e >= histSubBits {
		sub = (us >> (e - histSubBits)) & (histSub - 1)
	} else {
		sub = (us << (histSubBits - e)) & (histSub - 1)
	}
	i := e*histSub + int(sub)
	if i >= histBuckets {
		return histBuckets - 1
	}
	return i
}

// histBounds returns bucket i's range in microseconds.
func histBounds(i int) (lo, hi float64) {
	e, sub := i/histSub, i%histSub
	base := float64(uint64(1) << e)
	return base * (1 + float64(sub)/histSub), base * (1 + float64(sub+1)/histSub)
}

func (h *histogram) observe(d time.Duration) {
	us := d.Microseconds()
	if us < 0 {
		us = 0
	}
	h.counts[histIndex(uint64(us))].Add(1)
}

// quantiles returns the latencies at qs (ascending, in (0,1]) in ms.
func (h *histogram) quantiles(qs ...float64) []float64 {
	var snap [histBuckets]uint64
	var total uint64
	for i := range h.counts {
		snap[i] = h.counts[i].Load()
		total += snap[i]
	}
	out := make([]float64, len(qs))
	if total == 0 {
		return out
	}
	var cum uint64
	qi := 0
	for i := 0; i < histBuckets && qi < len(qs); i++ {
		n := snap[i]
		if n == 0 {
			continue
		}
		for qi < len(qs) {
			target := qs[qi] * float64(total)
			if float64(cum+n) < target {
				break
			}
			lo, hi := histBounds(i)
			frac := (target - float64(cum)) / float64(n)
			if frac < 0 {
				frac = 0
			}
			out[qi] = (lo + (hi-lo)*frac) / 1000
			qi++
		}
		cum += n
	}
	for ; qi < len(qs); qi++ { // rounding left the top quantile unplaced
		_, hi := histBounds(histBuckets - 1)
		out[qi] = hi / 1000
	}
	return out
}

// toolStats are the counters of one tool on one runtime ("" for calls that
// never reached a runtime).
type toolStats struct {
	tool, runtimeID string

	calls    atomic.Uint64
	errors   atomic.Uint64
	inFlight atomic.Int64
	latency  histogram

	mu     sync.Mutex // guards byCode; only failures take it
	byCode map[altarv1.ErrorCode]uint64
}

// record counts one finished call; code is ERROR_CODE_UNSPECIFIED for a
// success.
func (s *toolStats) record(d time.Duration, code altarv1.ErrorCode) {
	s.calls.Add(1)
	s.latency.observe(d)
	if code == altarv1.ErrorCode_ERROR_CODE_UNSPECIFIED {
		return
	}
	s.errors.Add(1)
	s.mu.Lock()
	if s.byCode == nil {
		s.byCode = make(map[altarv1.ErrorCode]uint64)
	}
	s.byCode[code]++
	s.mu.Unlock()
}

func (s *toolStats) proto() *altarv1.ToolStats {
	q := s.latency.quantiles(0.5, 0.95, 0.99)
	inFlight := s.inFlight.Load()
	if inFlight < 0 {
		inFlight = 0
	}
	ts := &altarv1.ToolStats{
		ToolName:     s.tool,
		RuntimeId:    s.runtimeID,
		Calls:        s.calls.Load(),
		Errors:       s.errors.Load(),
		InFlight:     uint32(inFlight),
		LatencyP50Ms: q[0],
		LatencyP95Ms: q[1],
		LatencyP99Ms: q[2],
	}
	s.mu.Lock()
	if len(s.byCode) > 0 {
		ts.ErrorsByCode = make(map[string]uint64, len(s.byCode))
		for c, n := range s.byCode {
			ts.ErrorsByCode[altarerr.CodeName(c)] = n
		}
	}
	s.mu.Unlock()
	return ts
}

// statsSet maps tool names to their stats on one runtime. Reads are a
// lock-free load of an immutable map; a tool seen for the first time copies
// it (rare).
type statsSet struct {
	runtimeID string
	m         atomic.Pointer[map[string]*toolStats]
	mu        sync.Mutex
}

func (ss *statsSet) get(tool string) *toolStats {
	if m := ss.m.Load(); m != nil {
		if s := (*m)[tool]; s != nil {
			return s
		}
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	old := ss.m.Load()
	if old != nil {
		if s := (*old)[tool]; s != nil {
			return s
		}
	}
	next := make(map[string]*toolStats, 1+lenOf(old))
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	s := &toolStats{tool: tool, runtimeID: ss.runtimeID}
	next[tool] = s
	ss.m.Store(&next)
	return s
}

func (ss *statsSet) collect(tool string, out []*altarv1.ToolStats) []*altarv1.ToolStats {
	m := ss.m.Load()
	if m == nil {
		return out
	}
	for name, s := range *m {
		if tool != "" && name != tool {
			continue
		}
		if s.calls.Load() == 0 && s.inFlight.Load() == 0 {
			continue
		}
		out = append(out, s.proto())
	}
	return out
}

func lenOf[V any](m *map[string]V) int {
	if m == nil {
		return 0
	}
	return len(*m)
}
