package runtime_test

import (
	"testing"

	"github.com/altar-gateway/altar/gateway/runtime"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// The registry keeps each runtime's health as the runtime last reported it,
// made no better than DEGRADED while the service finds it late, shows it in List, and hands it to the engine
// through Lookup. The Host-level transitions (silence, breaker, drain) are
// tested in gateway/health_test.go.
func TestRegistryHealth(t *testing.T) {
	r := runtime.NewRegistry()
	conn := runtime.NewInProcess(&altarv1.AnnounceRuntime{RuntimeId: "rt-1"}, nil, 1)
	if old := r.Add(conn); old != nil {
		t.Fatalf("Add replaced %v", old)
	}
	health := func() runtime.Health {
		t.Helper()
		c, h, ok := r.Lookup("rt-1")
		if !ok || c != conn {
			t.Fatalf("Lookup(rt-1) = %v, %v", c, ok)
		}
		if list := r.List(); len(list) != 1 || list[0].GetHealth() != h {
			t.Fatalf("List = %v, Lookup says %v", list, h)
		}
		return h
	}
	if h := health(); h != runtime.Healthy {
		t.Fatalf("a new runtime is %v", h)
	}

	for _, step := range []struct {
		name     string
		reported altarv1.RuntimeHealth
		want     runtime.Health
	}{
		{"reports unhealthy", runtime.Unhealthy, runtime.Unhealthy},
		{"says nothing of its health", altarv1.RuntimeHealth_RUNTIME_HEALTH_UNSPECIFIED, runtime.Unhealthy},
		{"reports degraded", runtime.Degraded, runtime.Degraded},
		{"reports healthy", runtime.Healthy, runtime.Healthy},
	} {
		r.Heartbeat("rt-1", &altarv1.Heartbeat{InFlight: 7, Health: step.reported})
		if h := health(); h != step.want {
			t.Errorf("after a heartbeat that %s: %v, want %v", step.name, h, step.want)
		}
	}
	if info := r.List()[0]; info.GetInFlight() != 7 || info.GetLastHeartbeatAt().AsTime().Before(info.GetConnectedAt().AsTime()) {
		t.Errorf("List after heartbeats = %v", info)
	}
	// Lateness (the Host's view) makes a runtime at best DEGRADED, never
	// better than it reported; it clears when the heartbeats come again.
	for _, step := range []struct {
		reported altarv1.RuntimeHealth
		late     bool
		want     runtime.Health
	}{
		{runtime.Healthy, true, runtime.Degraded},
		{runtime.Healthy, false, runtime.Healthy},
		{runtime.Unhealthy, true, runtime.Unhealthy},
		{runtime.Degraded, false, runtime.Degraded},
	} {
		r.Heartbeat("rt-1", &altarv1.Heartbeat{InFlight: 7, Health: step.reported})
		r.SetLate("rt-1", step.late)
		if h := health(); h != step.want {
			t.Errorf("reported %v, late %v: %v, want %v", step.reported, step.late, h, step.want)
		}
	}

	// A reconnection starts healthy; the old connection can no longer
	// remove the new one.
	again := runtime.NewInProcess(&altarv1.AnnounceRuntime{RuntimeId: "rt-1"}, nil, 1)
	if old := r.Add(again); old != conn {
		t.Fatalf("Add of a reconnection replaced %v, want the first connection", old)
	}
	conn = again
	if h := health(); h != runtime.Healthy {
		t.Errorf("a reconnected runtime is %v", h)
	}
	if r.Remove(runtime.NewInProcess(&altarv1.AnnounceRuntime{RuntimeId: "rt-1"}, nil, 1)) {
		t.Error("Remove of a connection that is not the registered one removed it")
	}

	// Unknown runtimes are unhealthy and not found; reports about them are
	// ignored.
	r.Heartbeat("nobody", &altarv1.Heartbeat{Health: runtime.Healthy})
	r.SetLate("nobody", true)
	if c, h, ok := r.Lookup("nobody"); ok || c != nil || h != runtime.Unhealthy {
		t.Errorf("Lookup(nobody) = %v, %v, %v", c, h, ok)
	}
	if !r.Remove(conn) {
		t.Fatal("Remove of the registered connection failed")
	}
	if _, h, ok := r.Lookup("rt-1"); ok || h != runtime.Unhealthy {
		t.Errorf("after Remove: %v, %v", h, ok)
	}
}
