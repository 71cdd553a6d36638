package invoke

import (
	"context"

	"github.com/altar-gateway/altar/gateway/runtime"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Resolver finds the tool a call names. It is implemented by the contract
// registry (gateway/contract) and declared here, by the code that uses it.
//
// Resolve is on the hot path of every call: it must not block on I/O and
// should not allocate beyond what it returns.
type Resolver interface {
	// Resolve returns the tool toolName (bare or qualified) names for the
	// session. Failures are *altarerr.Error: ERROR_CODE_TOOL_NOT_FOUND when
	// no tool answers to the name or the session may not see it,
	// ERROR_CODE_PERMISSION_DENIED, and so on.
	Resolve(sessionID, toolName string) (Target, error)
}

// Target is one callable tool as the engine needs it. Everything it refers
// to is shared and read-only: the engine never modifies it.
type Target struct {
	// Name is the tool's qualified name. It keys the engine's per-tool
	// statistics and result cache, and is what Stats reports. (Per-tool
	// limits are keyed by Contract's name, so that every name of a tool
	// shares its limit.)
	Name string
	// Contract is the Host's trusted contract. ToolCall.tool_name is its
	// Name, ToolCall.contract_version its Version; its flags, timeout_ms,
	// cache_ttl_ms and supports_streaming steer the engine.
	Contract *altarv1.ToolContract
	// Params is the compiled Contract.Parameters. Nil means the tool takes
	// no arguments.
	Params *schema.Schema
	// Returns is the compiled Contract.ReturnType; nil means any value.
	Returns *schema.Schema
	// RuntimeIDs are the runtimes that fulfil the tool, in preference order
	// (the first wins a tie in outstanding calls). Only the first 64 are
	// considered.
	RuntimeIDs []string
}

// Runtimes finds a connected runtime by id. It is implemented by the
// runtime registry (*runtime.Registry).
type Runtimes interface {
	// Lookup returns the runtime's connection and health; ok is false when
	// no runtime with the id is connected. It is called for every candidate
	// of every call and must not block.
	Lookup(id string) (conn runtime.Conn, health runtime.Health, ok bool)
}

// Sessions checks and refreshes the session a call runs in. It is
// implemented by the session store (gateway/session). A nil Sessions (the
// default) means calls are not checked against sessions.
type Sessions interface {
	// Touch refreshes the session's TTL and returns the security context
	// to send with the call. Failures are *altarerr.Error, typically
	// ERROR_CODE_SESSION_NOT_FOUND or ERROR_CODE_SESSION_EXPIRED. ctx is the
	// caller's and bounds any I/O (a remote store).
	Touch(ctx context.Context, sessionID string) (*altarv1.SecurityContext, error)
}
