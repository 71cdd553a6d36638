package session_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/altar-gateway/altar/gateway/session"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

func newBenchManager(b *testing.B) *session.Manager {
	b.Helper()
	m, err := session.New(session.NewMemoryStore(), session.WithMaxSessions(math.MaxInt))
	if err != nil {
		b.Fatalf("New: %v", err)
	}
	b.Cleanup(func() { m.Close() })
	return m
}

// BenchmarkCreateGetTouch is one session's life on the memory store, from
// every P at once: Create (with metadata and a security context), Get,
// Touch, and Destroy so the store stays small.
func BenchmarkCreateGetTouch(b *testing.B) {
	m := newBenchManager(b)
	ctx := b.Context()
	req := &altarv1.CreateSessionRequest{Metadata: map[string]string{"app": "bench", "region": "eu"}}
	sc := &altarv1.SecurityContext{PrincipalId: "alice", TenantId: "acme", Roles: []string{"user"}, AuthMethod: "api_key"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s, err := m.Create(ctx, req, sc)
			if err != nil {
				b.Error(err)
				return
			}
			id := s.GetSessionId()
			if _, err := m.Get(ctx, id); err != nil {
				b.Error(err)
				return
			}
			if _, err := m.Touch(ctx, id); err != nil {
				b.Error(err)
				return
			}
			if err := m.Destroy(ctx, id); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkTouch is the hot path of every invocation: refreshing one of
// 10,000 live sessions, from every P at once.
func BenchmarkTouch(b *testing.B) {
	m := newBenchManager(b)
	ctx := b.Context()
	const n = 10_000
	ids := make([]string, n)
	for i := range ids {
		s, err := m.Create(ctx, &altarv1.CreateSessionRequest{SessionId: fmt.Sprintf("bench-%06d", i)},
			&altarv1.SecurityContext{PrincipalId: "alice"})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = s.GetSessionId()
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := m.Touch(ctx, ids[i%n]); err != nil {
				b.Error(err)
				return
			}
			i += 7919
		}
	})
}
