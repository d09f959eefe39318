package staff

import (
	"crypto/sha256"
	"crypto/subtle"
)

// TokenEqual compares a presented secret with the configured one in constant time and without
// telling its length: both are hashed first (SHA-256), and the fixed-length digests compared.
// An empty want matches nothing.
func TokenEqual(got, want string) bool {
	if want == "" {
		return false
	}
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}
