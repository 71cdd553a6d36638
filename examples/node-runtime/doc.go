// Package noderuntime holds the end-to-end tests of the Node.js ALTAR
// runtime in this folder (altar.js, lib/, conformance.js): a real Host in
// process, the real `node conformance.js` dialling it over gRPC or launched
// as a go-plugin plugin, and calls through the Host API over real gRPC.
//
// The folder is a Node.js package first; this Go package has no code but
// its tests. They need Node.js 20 or later and the folder's npm
// dependencies (`npm ci` here, which .ci/run does) and fail, not skip,
// without them.
//
// Each test owns the node process it starts: it is stopped (SIGTERM, then
// SIGKILL after a grace period) and waited for in the test's cleanup, so no
// process outlives its test.
package noderuntime
