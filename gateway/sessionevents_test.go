package gateway_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/altar-gateway/altar/gateway"
	"github.com/altar-gateway/altar/plugins/sdk"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// A runtime that keeps state per session (the Go SDK's OnSessionEvent,
// which declares session_state) is told when a session is created, when
// its caller destroys it and when the sweeper expires it, in order.
func TestRuntimesHoldingSessionStateAreTold(t *testing.T) {
	h := startHost(t, altarv1.HostMode_HOST_MODE_STRICT, func(c *gateway.Config) {
		c.Sessions.SweepInterval = 20 * time.Millisecond
	})
	events := make(chan *altarv1.SessionEvent, 16)
	serveTools(t, h, "rt-state", newTools().list("rt-state"), sdk.OnSessionEvent(func(ev *altarv1.SessionEvent) { events <- ev }))
	ctx := ctxT(t)

	kept, err := h.client.CreateSession(ctx, &altarv1.CreateSessionRequest{Ttl: durationpb.New(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	keptID := kept.GetSession().GetSessionId()
	want := func(id string, kind altarv1.SessionEventKind) {
		t.Helper()
		ev := within(t, events, kind.String()+" of "+id)
		if ev.GetSessionId() != id || ev.GetKind() != kind {
			t.Fatalf("event %v, want %v of %s", ev, kind, id)
		}
	}
	want(keptID, altarv1.SessionEventKind_SESSION_EVENT_KIND_CREATED)
	if _, err := h.client.DestroySession(ctx, &altarv1.DestroySessionRequest{SessionId: keptID}); err != nil {
		t.Fatal(err)
	}
	want(keptID, altarv1.SessionEventKind_SESSION_EVENT_KIND_DESTROYED)

	brief, err := h.client.CreateSession(ctx, &altarv1.CreateSessionRequest{Ttl: durationpb.New(50 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	briefID := brief.GetSession().GetSessionId()
	want(briefID, altarv1.SessionEventKind_SESSION_EVENT_KIND_CREATED)
	want(briefID, altarv1.SessionEventKind_SESSION_EVENT_KIND_EXPIRED)
}
