// Package conformance is ALTAR's runtime conformance suite: one set of
// protocol checks that every runtime implementation must pass, run against
// the Go, Python and Node.js runtimes, each both dialled in (the runtime
// dials the Host's RuntimeService) and as a plugin (the Host launches it as
// a go-plugin subprocess).
//
// Each runtime implements the contracts of manifest.yaml (echo, describe,
// sleep, cancelled, fail, count, pid) and reads two environment variables:
// ALTAR_HOST, the Host's address to dial, and ALTAR_RUNTIME_ID, its runtime
// id. The Go implementation is goruntime; the others live in
// examples/python-runtime and examples/node-runtime.
//
// The suite is the package's tests (go test ./e2e/conformance): for each
// runtime and mode it starts a real Host on loopback (STRICT mode, the
// conformance manifest, heartbeats every 200ms with a 2.5s timeout) and
// the runtime as a real process, then runs every check as a subtest through
// real gRPC calls to the Host API. After the run it prints the
// compatibility matrix (checks by runtime and mode: pass, FAIL or not run)
// and the measured timings; -update-matrix writes the matrix into
// docs/compatibility.md. Adding a runtime is one row of the runtimes table
// in runtimes_test.go.
//
// Processes and contexts: every runtime process the suite starts is owned
// by the test that started it and is stopped (SIGTERM, then SIGKILL after a
// grace period) by its cleanup; every call has a deadline (checkTimeout).
// With -short the suite is skipped, as the rest of e2e is: it builds
// binaries and starts processes.
package conformance
