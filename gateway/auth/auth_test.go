package auth_test

import (
	"context"
	"testing"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/auth"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

func TestKeySet(t *testing.T) {
	ks, err := auth.NewKeySet([]auth.Key{
		{ID: "app", Role: auth.RoleClient, Hash: auth.HashKey("client-secret")},
		{ID: "ops", Role: auth.RoleAdmin, Hash: auth.HashKey("admin-secret")},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		presented string
		wantID    string // "" when refused
	}{
		{"client-secret", "app"},
		{"Bearer client-secret", "app"},
		{"  Bearer admin-secret  ", "ops"},
		{"", ""},
		{"Bearer ", ""},
		{"client-secre", ""},
		{"Bearer client-secret2", ""},
		{auth.HashKey("client-secret"), ""}, // the stored hash is not a credential
	}
	for _, tt := range tests {
		p, err := ks.Authenticate(tt.presented)
		if tt.wantID == "" {
			if altarerr.CodeOf(err) != altarv1.ErrorCode_ERROR_CODE_UNAUTHENTICATED {
				t.Errorf("%q: err = %v, want UNAUTHENTICATED", tt.presented, err)
			}
			if err != nil && err.Error() != "UNAUTHENTICATED: missing or invalid credential" {
				t.Errorf("%q: the refusal says more than it should: %v", tt.presented, err)
			}
			continue
		}
		if err != nil || p.ID != tt.wantID || p.Method != "api_key" {
			t.Errorf("%q: %+v, %v", tt.presented, p, err)
		}
	}
}

func TestNewKeySetRefusesBadKeys(t *testing.T) {
	for name, k := range map[string]auth.Key{
		"short hash":   {ID: "a", Role: auth.RoleClient, Hash: "abc"},
		"not hex":      {ID: "a", Role: auth.RoleClient, Hash: string(make([]byte, 64))},
		"unknown role": {ID: "a", Role: "root", Hash: auth.HashKey("x")},
	} {
		if _, err := auth.NewKeySet([]auth.Key{k}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	ks, err := auth.NewKeySet(nil)
	if err != nil || !ks.Empty() {
		t.Fatalf("an empty key set: %v, %v", ks, err)
	}
}

func TestRequireAdmin(t *testing.T) {
	ctx := context.Background()
	if err := auth.RequireAdmin(ctx, "x"); err != nil {
		t.Fatalf("an in-process caller is trusted: %v", err)
	}
	if err := auth.RequireAdmin(auth.WithPrincipal(ctx, auth.Principal{ID: "ops", Role: auth.RoleAdmin}), "x"); err != nil {
		t.Fatal(err)
	}
	err := auth.RequireAdmin(auth.WithPrincipal(ctx, auth.Principal{ID: "app", Role: auth.RoleClient}), "switching the host mode")
	if altarerr.CodeOf(err) != altarv1.ErrorCode_ERROR_CODE_PERMISSION_DENIED {
		t.Fatalf("err = %v", err)
	}
	if got := auth.Actor(auth.WithPrincipal(ctx, auth.Principal{ID: "ops", Role: auth.RoleAdmin})); got != "admin:ops" {
		t.Fatalf("actor = %q", got)
	}
}
