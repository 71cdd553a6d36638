package gcfloor

import (
	"bytes"
	"context"
	"log/slog"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, tt := range []struct {
		live, floor uint64
		want        int
	}{
		{0, 64 * mib, MinPercent},         // nothing measured yet
		{4 * mib, 64 * mib, 1500},         // next collection at 64 MiB
		{1 * mib, 64 * mib, MaxPercent},   // bounded
		{32 * mib, 64 * mib, MinPercent},  // the default reaches the floor
		{40 * mib, 64 * mib, MinPercent},  // never below the default
		{100 * mib, 64 * mib, MinPercent}, // past the floor: Go's default
		{16 * mib, 64 * mib, 300},
	} {
		if got := Percent(tt.live, tt.floor); got != tt.want {
			t.Errorf("Percent(%d MiB, %d MiB) = %d, want %d", tt.live/mib, tt.floor/mib, got, tt.want)
		}
	}
}

// TestRun: with a floor far above the live heap, Run raises GOGC; when its
// context ends it stops and puts back the GOGC it found.
func TestRun(t *testing.T) {
	before := debug.SetGCPercent(77)
	defer debug.SetGCPercent(before)
	runtime.GC() // a live heap measurement to start from

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, 1<<40, time.Hour)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p := gogc()
		if p == MaxPercent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GOGC is %d, want %d under a floor of 1 TiB", p, MaxPercent)
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if p := gogc(); p != 77 {
		t.Errorf("after Run: GOGC %d, want the 77 it found", p)
	}
}

// gogc reads GOGC without changing it.
func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

// TestStartLeavesAnOperatorsGOGC: with the GOGC variable set, or a floor
// of 0, Start changes nothing (and says so when GOGC is set).
func TestStartLeavesAnOperatorsGOGC(t *testing.T) {
	before := debug.SetGCPercent(77)
	defer debug.SetGCPercent(before)
	runtime.GC()
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))

	stop := Start(context.Background(), 0, log)
	stop()
	if p := gogc(); p != 77 || logged.Len() != 0 {
		t.Errorf("a floor of 0: GOGC %d (want 77), log %q", p, logged.String())
	}

	t.Setenv("GOGC", "77")
	stop = Start(context.Background(), 1<<20, log)
	stop()
	if p := gogc(); p != 77 || !strings.Contains(logged.String(), "GOGC is set") {
		t.Errorf("GOGC set: GOGC %d (want the operator's 77), log %q", p, logged.String())
	}
}
