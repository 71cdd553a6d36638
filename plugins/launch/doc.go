// Package launch is the Host's side of plugin runtimes: runtimes the Host
// launches as hashicorp/go-plugin subprocesses, connects to, supervises and
// stops.
//
// A plugin is configured by a Config (name, command, args, env, working
// directory, an optional SHA-256 pin of the executable, a restart policy).
// The Supervisor starts each one with go-plugin (gRPC protocol only, the
// handshake of plugins/handshake, ALTAR_RUNTIME_ID=<name> in its
// environment), checks its health service, opens its one
// altar.v1.PluginService.Connect stream and hands that stream to the
// Target (gateway.Host.ServeRuntime). From there the plugin is a runtime
// like any that dialled in: it announces (exactly its name, or it is
// refused), discovers, fulfils under the Host's STRICT/DEVELOPMENT rules
// (a plugin cannot widen a contract), and takes calls.
//
// Integrity: with Config.SHA256 set, an executable whose SHA-256 differs
// is not started; the error (ERROR_CODE_INVALID_CONFIG) names the plugin,
// the pinned and the actual hash. go-plugin's SecureConfig checks it again
// as it starts the process.
//
// Supervision: when a plugin's stream ends while the Host runs (the process
// crashed or exited, or it missed its heartbeats), its calls in flight have
// already failed with ERROR_CODE_RUNTIME_UNAVAILABLE (the invocation engine
// retries idempotent ones on another runtime), the process is killed and
// reaped, and it is started again after an exponential backoff, at most
// RestartPolicy.Budget times per RestartPolicy.Window; beyond that it stays
// down (StateFailed, logged, in Status). A failure that a restart cannot
// mend — a hash mismatch, a missing executable, a wrong runtime id — fails
// it at once. Its standard error is logged line by line through the
// Supervisor's logger with the attribute plugin=<name>, at the level the
// line states (slog, JSON or hclog style), else Info. (Standard output is
// the handshake's: go-plugin reads and drops what follows the handshake
// line, except what a plugin built on go-plugin's own Serve forwards over
// its stdio service, which is logged the same way.)
//
// Lifecycle and contexts: New validates (no I/O); Start launches every
// plugin, each run by one goroutine the Supervisor owns, and waits (bounded
// by its ctx) for their first start; Close stops restarting, closes each
// plugin's connection (an ALTAR plugin exits when its stream ends), kills a
// process that has not exited within two to three seconds (a stopped or
// wedged one included), and waits until every process is reaped and every
// goroutine has stopped. A Target that has a
// Closing channel (gateway.Host) stops restarts as soon as it begins to
// close; registering Close with gateway.Host.OnClose lets the Host drain
// plugins like any runtime (calls in flight finish) before they are killed.
// Each child runs in its own process group (a terminal's ^C reaches the
// Host only, which then stops its plugins in order) and, on Linux, is
// killed by the kernel should the Host die without stopping it.
package launch
