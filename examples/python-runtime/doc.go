// Package pythonruntime holds the Go tests of the Python ALTAR runtime in
// this folder (altar_runtime/, conformance.py, calculator.py): they start a
// real Host in-process, run the Python runtime with /usr/bin/python3 as a
// subprocess (dialling the Host, and as a go-plugin plugin through
// go-plugin's real client), and call its tools through the Host API over
// gRPC on loopback. They also run the Python unit tests (tests/).
//
// Only Debian's /usr/bin/python3 has grpcio and protobuf (python3-grpcio,
// python3-protobuf); when they are missing the tests fail and say to run
// .ci/run, which installs them.
//
// Every Python process a test starts is bound to the test's context
// (exec.CommandContext) and waited for before the test ends.
package pythonruntime
