package sdk

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	const minDelay, maxDelay = 100 * time.Millisecond, 5 * time.Second
	for n := range 100 {
		want := maxDelay
		if n < 6 {
			want = minDelay << n
		}
		for range 20 {
			d := backoff(n, minDelay, maxDelay)
			if d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", n, d, want/2, want)
			}
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for target, want := range map[string]bool{
		"127.0.0.1:50051":            true,
		"127.1.2.3:1":                true,
		"[::1]:50051":                true,
		"localhost:50051":            true,
		"dns:///localhost:50051":     true,
		"unix:///tmp/altar.sock":     true,
		"10.0.0.1:50051":             false,
		"altar.example.com:443":      false,
		"dns:///altar.example.com:1": false,
	} {
		if got := isLoopback(target); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", target, got, want)
		}
	}
}
