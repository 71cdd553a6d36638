// Package gateway is the ALTAR Host's composition root: host.go builds a
// Host from a Config — sessions, the contract registry, connected runtimes,
// the invocation engine and the transports — and api.go implements the Host
// API (server.API) on top of them. Each part lives in its own package under
// gateway/; this one only wires them together.
package gateway
