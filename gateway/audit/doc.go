// Package audit records what changed who may call what: manifests loaded,
// tools fulfilled, registered, withdrawn and unregistered, host-mode
// switches. A Sink receives Events synchronously and must not block for
// long; the tamper-evident store of a later issue is one more Sink.
//
// Events never carry secrets or argument values.
package audit
