package runtime

import (
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// ContractAuthority decides what a runtime may offer. It is implemented by
// the contract registry (gateway/contract) and declared here, by the code
// that uses it, so that this package does not depend on that one.
//
// Every method is called with the runtime's announcement as accepted by the
// runtime registry; none blocks on I/O.
type ContractAuthority interface {
	// Mode is the Host's current mode.
	Mode() altarv1.HostMode
	// Available lists the trusted contracts the runtime's capabilities allow
	// it to fulfil.
	Available(rt *altarv1.AnnounceRuntime) []*altarv1.ToolContract
	// Fulfill records which offered tools the runtime now serves and says why
	// each refused one was refused. In STRICT mode only trusted contracts
	// whose version matches and whose declared contract (when sent) equals
	// the Host's are accepted.
	Fulfill(rt *altarv1.AnnounceRuntime, req *altarv1.FulfillTools) *altarv1.FulfillToolsResponse
	// Register defines tools from the runtime (DEVELOPMENT mode, with
	// acknowledge_insecure only).
	Register(rt *altarv1.AnnounceRuntime, req *altarv1.RegisterTools) *altarv1.RegisterToolsResponse
	// Withdraw stops routing the named tools to the runtime.
	Withdraw(runtimeID string, toolNames []string)
	// Disconnected removes everything the runtime fulfilled or registered.
	Disconnected(runtimeID string)
}
