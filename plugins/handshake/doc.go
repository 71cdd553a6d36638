// Package handshake holds the values a Host and a plugin runtime agree on
// when the Host launches the runtime as a go-plugin subprocess: the
// handshake (protocol version and magic cookie), the environment the Host
// sets for the child, and the gRPC health service the child reports. The
// Host's side is plugins/launch; the Go runtime's side is plugins/sdk
// (Runtime.ServePlugin). A runtime in another language uses the same
// values, written down in docs/protocol.md ("Plugins").
//
// The package has no behaviour and imports nothing, so that both sides can
// depend on it without depending on each other.
package handshake
