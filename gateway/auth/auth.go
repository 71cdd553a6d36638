package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/altar-gateway/altar/gateway/altarerr"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Role is what a principal may do.
type Role string

// Roles.
const (
	RoleClient  Role = "client"
	RoleRuntime Role = "runtime"
	RoleAdmin   Role = "admin"
)

// Principal is an authenticated caller.
type Principal struct {
	// ID names the key or identity ("admin-1", "anonymous").
	ID   string
	Role Role
	// Method is how it was authenticated: "api_key", "none".
	Method string
}

// Anonymous is the principal of a gateway with no keys configured (which
// then only listens on loopback): it may do everything.
var Anonymous = Principal{ID: "anonymous", Role: RoleAdmin, Method: "none"}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the caller, and false when the transport set none.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// RequireAdmin fails with PERMISSION_DENIED unless the caller is an admin.
// A context without a principal (an in-process caller) is trusted.
func RequireAdmin(ctx context.Context, what string) error {
	p, ok := FromContext(ctx)
	if !ok || p.Role == RoleAdmin {
		return nil
	}
	return altarerr.New(altarv1.ErrorCode_ERROR_CODE_PERMISSION_DENIED, "%s needs an admin credential", what)
}

// Actor names the caller for audit records.
func Actor(ctx context.Context) string {
	p, ok := FromContext(ctx)
	if !ok {
		return "local"
	}
	return string(p.Role) + ":" + p.ID
}

// HashKey returns the hex SHA-256 of a key, the form keys are configured in.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// Key is one configured credential.
type Key struct {
	ID   string
	Role Role
	// Hash is HashKey of the secret.
	Hash string
}

// KeySet checks presented keys against configured hashes.
type KeySet struct {
	keys []keyEntry
}

type keyEntry struct {
	Key
	sum []byte
}

// NewKeySet checks and indexes keys.
func NewKeySet(keys []Key) (*KeySet, error) {
	ks := &KeySet{}
	for i, k := range keys {
		sum, err := hex.DecodeString(k.Hash)
		if err != nil || len(sum) != sha256.Size {
			return nil, fmt.Errorf("keys[%d] (%s): hash must be 64 hex characters (sha256)", i, k.ID)
		}
		switch k.Role {
		case RoleClient, RoleRuntime, RoleAdmin:
		default:
			return nil, fmt.Errorf("keys[%d] (%s): role %q must be client, runtime or admin", i, k.ID, k.Role)
		}
		ks.keys = append(ks.keys, keyEntry{Key: k, sum: sum})
	}
	return ks, nil
}

// Empty reports whether no key is configured.
func (ks *KeySet) Empty() bool { return ks == nil || len(ks.keys) == 0 }

// Authenticate returns the principal of a presented key ("Bearer <key>" or
// the bare key). Every configured key is compared, in constant time, so
// timing does not say which part was wrong; a failure never says why.
func (ks *KeySet) Authenticate(presented string) (Principal, error) {
	presented = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(presented), "Bearer "))
	sum := sha256.Sum256([]byte(presented))
	var found *keyEntry
	for i := range ks.keys {
		if subtle.ConstantTimeCompare(sum[:], ks.keys[i].sum) == 1 && found == nil {
			found = &ks.keys[i]
		}
	}
	if presented == "" || found == nil {
		return Principal{}, altarerr.New(altarv1.ErrorCode_ERROR_CODE_UNAUTHENTICATED, "missing or invalid credential")
	}
	return Principal{ID: found.ID, Role: found.Role, Method: "api_key"}, nil
}

// SchemeRole is the security requirement scheme whose scopes are roles:
// the one requirement the Host itself can judge from an API key.
const SchemeRole = "role"

// MayCall reports whether the caller in ctx meets a tool's security
// requirements. They are alternatives, as in OpenAPI (see
// ToolContract.security_requirements): a caller holding every role of one
// "role" requirement may call it (an admin key holds every role). A key
// shows no other scheme's scopes, so when a tool lists "role"
// requirements, only those admit; a tool with none is not restricted here.
// A context without a principal (an in-process caller) is trusted.
func MayCall(ctx context.Context, reqs []*altarv1.SecurityRequirement) bool {
	p, ok := FromContext(ctx)
	if !ok || p.Role == RoleAdmin {
		return true
	}
	restricted := false
	for _, req := range reqs {
		if req.GetScheme() != SchemeRole {
			continue
		}
		restricted = true
		all := true
		for _, role := range req.GetScopes() {
			if Role(role) != p.Role {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return !restricted
}

// CallDenied is the PERMISSION_DENIED error for a caller that may not call
// the tool name with these requirements: it names the roles that would.
func CallDenied(ctx context.Context, name string, reqs []*altarv1.SecurityRequirement) *altarerr.Error {
	var alts []string
	for _, req := range reqs {
		if req.GetScheme() == SchemeRole {
			alts = append(alts, strings.Join(req.GetScopes(), " and "))
		}
	}
	p, _ := FromContext(ctx)
	return altarerr.New(altarv1.ErrorCode_ERROR_CODE_PERMISSION_DENIED,
		"tool %q may be called with the role %s (an admin key holds every role); this key's role is %q",
		name, strings.Join(alts, ", or "), p.Role).WithDetail("tool", name)
}
