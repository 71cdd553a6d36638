package session_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/session"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

func Example() {
	ctx := context.Background()
	m, err := session.New(session.NewMemoryStore(),
		session.WithMaxTTL(time.Hour),
		session.WithListener(func(ev *altarv1.SessionEvent) {
			// Runtimes set up and free per-session state here.
			fmt.Println("event:", ev.GetKind())
		}))
	if err != nil {
		panic(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(runCtx) }() // sweeps expired sessions
	defer func() {
		stop()
		<-done
		m.Close()
	}()

	s, err := m.Create(ctx,
		&altarv1.CreateSessionRequest{Ttl: durationpb.New(48 * time.Hour), Metadata: map[string]string{"app": "cli"}},
		&altarv1.SecurityContext{PrincipalId: "alice", AuthMethod: "api_key"})
	if err != nil {
		panic(err)
	}
	fmt.Println("id has prefix:", strings.HasPrefix(s.GetSessionId(), session.IDPrefix))
	fmt.Println("ttl:", s.GetTtl().AsDuration()) // capped at the maximum

	if _, err := m.Touch(ctx, s.GetSessionId()); err != nil { // on each use
		panic(err)
	}
	if err := m.Destroy(ctx, s.GetSessionId()); err != nil {
		panic(err)
	}
	_, err = m.Get(ctx, s.GetSessionId())
	fmt.Println("then:", altarerr.CodeName(altarerr.CodeOf(err)))
	// Output:
	// event: SESSION_EVENT_KIND_CREATED
	// id has prefix: true
	// ttl: 1h0m0s
	// event: SESSION_EVENT_KIND_DESTROYED
	// then: SESSION_NOT_FOUND
}
