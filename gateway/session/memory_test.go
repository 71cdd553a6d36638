package session_test

import (
	"testing"

	"github.com/altar-gateway/altar/gateway/session"
	"github.com/altar-gateway/altar/gateway/session/sessiontest"
)

func TestMemoryStore(t *testing.T) {
	sessiontest.TestStore(t, func() session.Store { return session.NewMemoryStore() })
}
