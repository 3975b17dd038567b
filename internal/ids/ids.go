// Package ids makes the unguessable identifiers of BOSH: session ids (XEP-0124
// §7.2 and §19.3: "unique within the context of the connection manager
// application" and unpredictable) and stream names (§16.2).
//
// It sits at the bottom of the layers and imports only the standard library.
package ids

import (
	"crypto/rand"
	"encoding/base64"
)

// Bits is the randomness in every identifier New returns.
const Bits = 192

// New returns a fresh identifier of Bits random bits from crypto/rand,
// encoded as 32 characters of unpadded base64url. Collisions are
// astronomically unlikely; callers that need uniqueness still check.
func New() string {
	var b [Bits / 8]byte
	rand.Read(b[:]) // never returns an error (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}
