package prosodytest

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// iterations is the SCRAM iteration count of registered accounts
// (RFC 5802 §5.1: at least 4096).
const iterations = 4096

// Register creates the account user with password, usable at once, also
// while the server runs. It writes the account file that Prosody's
// internal_hashed provider reads (as "prosodyctl register" would):
// SCRAM-SHA-1 keys (RFC 5802 §3), so both PLAIN and SCRAM-SHA-1 work.
func (s *Server) Register(user, password string) {
	s.t.Helper()
	if err := writeAccount(s.dataDir, s.Domain, user, password); err != nil {
		s.t.Fatalf("prosodytest: register %s: %v", user, err)
	}
}

// writeAccount writes dataDir/<host>/accounts/<user>.dat.
func writeAccount(dataDir, host, user, password string) error {
	salt := strings.ToLower(rand.Text())
	salted, err := pbkdf2.Key(sha1.New, password, []byte(salt), iterations, sha1.Size)
	if err != nil {
		return err
	}
	clientKey := hmacSHA1(salted, "Client Key")
	storedKey := sha1.Sum(clientKey)
	serverKey := hmacSHA1(salted, "Server Key")
	dir := filepath.Join(dataDir, encodeName(host), "accounts")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	data := fmt.Sprintf("return {\n\t[\"iteration_count\"] = %d;\n\t[\"stored_key\"] = %q;\n\t[\"server_key\"] = %q;\n\t[\"salt\"] = %q;\n};\n",
		iterations, hex.EncodeToString(storedKey[:]), hex.EncodeToString(serverKey), salt)
	return os.WriteFile(filepath.Join(dir, encodeName(user)+".dat"), []byte(data), 0o600)
}

func hmacSHA1(key []byte, msg string) []byte {
	m := hmac.New(sha1.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// encodeName encodes a host or user name as Prosody's datamanager does for
// file names: every byte that is not an ASCII letter or digit as %xx.
func encodeName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02x", c)
	}
	return b.String()
}
