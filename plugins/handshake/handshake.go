package handshake

// The go-plugin handshake of ALTAR runtime plugins. The Host sets
// MagicCookieKey=MagicCookieValue in the child's environment; a plugin
// that does not find it there was not started by a Host and must not
// serve. The plugin then listens on 127.0.0.1:<free port> and prints
// go-plugin's handshake line on standard output:
//
//	1|1|tcp|127.0.0.1:PORT|grpc
//
// (go-plugin's core protocol version, ProtocolVersion, the network, the
// address, and the protocol, which is always gRPC).
const (
	// ProtocolVersion is the application protocol version of the
	// handshake (go-plugin's HandshakeConfig.ProtocolVersion).
	ProtocolVersion = 1
	// CoreProtocolVersion is go-plugin's own protocol version, the first
	// field of the handshake line.
	CoreProtocolVersion = 1
	// MagicCookieKey is the environment variable carrying the cookie.
	MagicCookieKey = "ALTAR_PLUGIN"
	// MagicCookieValue is the cookie's value.
	MagicCookieValue = "altar-runtime-v1"
)

// EnvRuntimeID is the environment variable in which the Host gives a
// plugin its runtime id (the plugin's name in the Host's configuration).
// The plugin must announce exactly that id; the Host refuses any other.
const EnvRuntimeID = "ALTAR_RUNTIME_ID"

// EnvProtocolVersions is the environment variable in which go-plugin's
// client lists the protocol versions it accepts ("1").
const EnvProtocolVersions = "PLUGIN_PROTOCOL_VERSIONS"

// HealthService is the service name the plugin reports SERVING on
// grpc.health.v1.Health (go-plugin's health check).
const HealthService = "plugin"

// Transport is the transport name of a plugin's runtime connection in the
// Host (runtime.Conn.Transport, ListRuntimes).
const Transport = "plugin"
