package session

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
)

// IDPrefix starts every id the Host generates.
const IDPrefix = "ses_"

// Bounds on a session id's length in bytes.
const (
	MinIDLen = 8
	MaxIDLen = 128
)

// NewID returns a fresh session id: IDPrefix and 128 random bits from
// crypto/rand in base32 (26 characters), for example
// "ses_4UQ7XKBLH3T2ZJ6MCWFNRY5SOE".
func NewID() string { return IDPrefix + rand.Text() }

// ValidID reports whether id is well-formed: MinIDLen to MaxIDLen
// characters, each an ASCII letter, digit, '_' or '-'. Every generated id is
// valid; a client's proposed id must be.
func ValidID(id string) bool {
	if len(id) < MinIDLen || len(id) > MaxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// pageTokenPrefix versions the page token's format so it can change without
// misreading tokens handed out by an older Host.
const pageTokenPrefix = "v1:"

// encodePageToken returns the opaque token that resumes a listing after the
// session with the id.
func encodePageToken(afterID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(pageTokenPrefix + afterID))
}

// decodePageToken returns the id a token resumes after: "" for the empty
// token, and false for a token this package did not make.
func decodePageToken(token string) (string, bool) {
	if token == "" {
		return "", true
	}
	if len(token) > base64.RawURLEncoding.EncodedLen(len(pageTokenPrefix)+MaxIDLen) {
		return "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", false
	}
	id, ok := strings.CutPrefix(string(raw), pageTokenPrefix)
	if !ok || !ValidID(id) {
		return "", false
	}
	return id, true
}
