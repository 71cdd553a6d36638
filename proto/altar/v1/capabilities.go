package altarv1

// ProtocolVersion is the version of the ALTAR protocol this package defines.
// Peers announce it; the Host refuses a different major version.
const ProtocolVersion = "1.0"
