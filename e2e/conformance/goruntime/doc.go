// Command goruntime is the Go conformance runtime: it implements every
// contract of e2e/conformance/manifest.yaml with the Go SDK (plugins/sdk)
// and is one of the runtimes the conformance suite (e2e/conformance) runs
// its protocol checks against.
//
//	ALTAR_HOST=127.0.0.1:50051 ALTAR_RUNTIME_ID=conformance-go goruntime
//
// It serves through sdk.Runtime.Run: as a go-plugin plugin when a Host
// launched it (ALTAR_PLUGIN=altar-runtime-v1 in its environment), else by
// dialling ALTAR_HOST, the address of the Host's runtime service (a
// "host:port" or a ws:// URL). ALTAR_RUNTIME_ID is its runtime id (default
// "conformance-go"). It announces the language "go". SIGINT and SIGTERM end
// it: the runtime's context is cancelled, which cancels every running tool,
// and the process exits once every goroutine has stopped.
//
// The tools themselves are in package tools, so that a test can run them
// without a process.
package main
