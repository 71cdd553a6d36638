package launch

import (
	"testing"
	"time"
)

// samples is how many draws each jittered delay is checked over.
const samples = 2000

// wantCeiling is the delay before restart n without jitter: minDelay
// doubled n times, capped at maxDelay, computed without shifting (and so
// without overflowing) however large n is.
func wantCeiling(n int, minDelay, maxDelay time.Duration) time.Duration {
	d := minDelay
	for range n {
		if d >= maxDelay {
			break
		}
		d *= 2
	}
	return min(d, maxDelay)
}

// TestBackoffDoublesUpToTheCap: restart n waits between half of and all of
// minDelay·2ⁿ, capped at maxDelay, for every n (also those whose shift
// would overflow).
func TestBackoffDoublesUpToTheCap(t *testing.T) {
	for _, tc := range []struct{ minDelay, maxDelay time.Duration }{
		{10 * time.Millisecond, time.Second},
		{DefaultMinBackoff, DefaultMaxBackoff},
		{time.Nanosecond, time.Hour},
		{time.Second, time.Second},
	} {
		for n := range 130 {
			ceil := wantCeiling(n, tc.minDelay, tc.maxDelay)
			for range samples / 20 {
				if got := backoff(n, tc.minDelay, tc.maxDelay); got < ceil/2 || got > ceil {
					t.Fatalf("backoff(%d, %v, %v) = %v; want within [%v, %v]", n, tc.minDelay, tc.maxDelay, got, ceil/2, ceil)
				}
			}
		}
	}
	// The first steps, written out.
	for n, ceil := range []time.Duration{10, 20, 40, 80, 160, 320, 640, 1000, 1000} {
		ceil *= time.Millisecond
		if got := wantCeiling(n, 10*time.Millisecond, time.Second); got != ceil {
			t.Fatalf("the test's own ceiling for %d is %v; want %v", n, got, ceil)
		}
	}
}

// TestBackoffJitters: the delays of one restart spread over the whole
// range [ceiling/2, ceiling] ("equal jitter"), so that plugins that failed
// together do not restart in step.
func TestBackoffJitters(t *testing.T) {
	const minDelay, maxDelay = 10 * time.Millisecond, time.Second
	for _, n := range []int{0, 3, 20} {
		ceil := wantCeiling(n, minDelay, maxDelay)
		lowQuarter, highQuarter := ceil/2+ceil/8, ceil-ceil/8
		var low, high bool
		seen := map[time.Duration]bool{}
		for range samples {
			d := backoff(n, minDelay, maxDelay)
			if d < ceil/2 || d > ceil {
				t.Fatalf("backoff(%d) = %v; want within [%v, %v]", n, d, ceil/2, ceil)
			}
			low = low || d < lowQuarter
			high = high || d > highQuarter
			seen[d] = true
		}
		// Each quarter has probability 1/4 a draw: missing one in 2000
		// draws has probability (3/4)^2000.
		if !low || !high || len(seen) < samples/2 {
			t.Fatalf("backoff(%d) over %d draws: below %v %v, above %v %v, %d distinct values; want both ends of [%v, %v] reached",
				n, samples, lowQuarter, low, highQuarter, high, len(seen), ceil/2, ceil)
		}
	}
}

// TestRestartDelayResetsAfterALongRun: consecutive short runs double the
// delay; a run that lasted MaxBackoff or longer starts again from
// MinBackoff; one just shorter does not.
func TestRestartDelayResetsAfterALongRun(t *testing.T) {
	pol := RestartPolicy{MinBackoff: 10 * time.Millisecond, MaxBackoff: time.Second}
	short := time.Millisecond
	within := func(t *testing.T, what string, d time.Duration, n int) {
		t.Helper()
		ceil := wantCeiling(n, pol.MinBackoff, pol.MaxBackoff)
		if d < ceil/2 || d > ceil {
			t.Fatalf("%s: delay %v; want restart %d's [%v, %v]", what, d, n, ceil/2, ceil)
		}
	}

	failures := 0
	for i := range 10 {
		var d time.Duration
		d, failures = restartDelay(pol, failures, short)
		within(t, "short run", d, i)
		if failures != i+1 {
			t.Fatalf("after %d short runs the count is %d", i+1, failures)
		}
	}
	// Ten short runs: the delay is at its cap, [500ms, 1s].
	d, next := restartDelay(pol, failures, pol.MaxBackoff-time.Nanosecond)
	within(t, "a run just shorter than MaxBackoff", d, failures)
	if next != failures+1 {
		t.Fatalf("a run just shorter than MaxBackoff made the count %d; want %d", next, failures+1)
	}
	for _, ran := range []time.Duration{pol.MaxBackoff, time.Hour} {
		d, next := restartDelay(pol, failures, ran)
		within(t, "a long run", d, 0)
		if next != 1 {
			t.Fatalf("after a run of %v the count is %d; want 1 (the doubling starts again)", ran, next)
		}
		// And the run after it doubles from there.
		d, next = restartDelay(pol, next, short)
		within(t, "the short run after a long one", d, 1)
		if next != 2 {
			t.Fatalf("the count is %d; want 2", next)
		}
	}
}
