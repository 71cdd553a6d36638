// Package auth says who is calling: a Principal with a role (client,
// runtime, admin), established by a transport from a credential and carried
// in the request's context. Keys are stored as SHA-256 hashes and compared
// in constant time. Authorization policies beyond roles come later.
package auth
