package invoke

import (
	"crypto/rand"
	"encoding/hex"
)

// newIDs returns two random 128-bit ids in hex (invocation and correlation),
// from one read of crypto/rand and one allocation.
func newIDs() (string, string) {
	var raw [32]byte
	_, _ = rand.Read(raw[:]) // never fails (crypto/rand panics instead)
	var text [64]byte
	hex.Encode(text[:], raw[:])
	s := string(text[:])
	return s[:32], s[32:]
}

// maxIDLen bounds client-chosen ids.
const maxIDLen = 128

func validID(s string) bool {
	if len(s) > maxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}
