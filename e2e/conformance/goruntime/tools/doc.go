// Package tools holds the Go implementation of the conformance tool set:
// one sdk.Tool per contract of e2e/conformance/manifest.yaml, with the
// manifest's descriptions. A Set keeps the state the contracts share (the
// tags of the conformance.sleep calls seen cancelled); it is safe for
// concurrent use. Every tool honours its context: conformance.sleep and
// conformance.count return as soon as the call is cancelled.
package tools
