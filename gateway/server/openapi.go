package server

import _ "embed" // openapi.json

// openAPIDocument is the OpenAPI 3 document of the HTTP API, served at
// /v1/openapi.json. A test checks it against the registered routes.
//
//go:embed openapi.json
var openAPIDocument []byte
