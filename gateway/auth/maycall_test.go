package auth

import (
	"context"
	"testing"

	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// TestMayCall: security requirements are alternatives; a "role" requirement
// admits a key holding all its roles (an admin key holds every role); when a
// tool lists "role" requirements only those admit; other schemes and
// in-process callers are not restricted.
func TestMayCall(t *testing.T) {
	role := func(scopes ...string) *altarv1.SecurityRequirement {
		return &altarv1.SecurityRequirement{Scheme: "role", Scopes: scopes}
	}
	as := func(r Role) context.Context {
		return WithPrincipal(context.Background(), Principal{ID: "k", Role: r, Method: "api_key"})
	}
	tests := []struct {
		name string
		ctx  context.Context
		reqs []*altarv1.SecurityRequirement
		want bool
	}{
		{"no requirement", as(RoleClient), nil, true},
		{"other scheme", as(RoleClient), []*altarv1.SecurityRequirement{{Scheme: "oauth2", Scopes: []string{"x"}}}, true},
		{"client needs admin", as(RoleClient), []*altarv1.SecurityRequirement{role("admin")}, false},
		{"admin holds every role", as(RoleAdmin), []*altarv1.SecurityRequirement{role("client")}, true},
		{"client role", as(RoleClient), []*altarv1.SecurityRequirement{role("client")}, true},
		{"one of two alternatives", as(RoleClient), []*altarv1.SecurityRequirement{role("admin"), role("client")}, true},
		{"all roles of one", as(RoleClient), []*altarv1.SecurityRequirement{role("client", "admin")}, false},
		{"in process", context.Background(), []*altarv1.SecurityRequirement{role("admin")}, true},
		{"only role requirements admit", as(RoleClient), []*altarv1.SecurityRequirement{{Scheme: "oauth2", Scopes: []string{"x"}}, role("admin")}, false},
		{"runtime key", as(RoleRuntime), []*altarv1.SecurityRequirement{role("client")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MayCall(tt.ctx, tt.reqs); got != tt.want {
				t.Fatalf("MayCall = %v, want %v", got, tt.want)
			}
		})
	}
}
