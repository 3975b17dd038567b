package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Scenario: Strophe.js logs in with non-SASL authentication (XEP-0078)
// against a boshd that offers no SASL mechanism, over HTTPS, and two users
// exchange messages (js/strophe-iqauth.mjs).
func TestStropheNonSASLAuth(t *testing.T) {
	cfg := newConfig(t, "localhost", "alice", "bob")
	certFile, keyFile, roots := selfSignedCert(t)
	base := startBoshd(t, cfg, "-non-sasl-auth", "only", "-tls-cert", certFile, "-tls-key", keyFile)
	require.Regexp(t, `^https://`, cfg.BOSH)
	var res struct {
		AliceJID, BobJID string
		AtBob, AtAlice   message
		Statuses         [][]string
		SentIQAuthGet    bool
		SentIQAuthSet    bool
		SentSASL         bool
		Protocols        []string
	}
	runScenario(t, "strophe-iqauth", cfg, &res)
	assert.Equal(t, "alice@localhost/strophe", res.AliceJID, "Strophe's own resource for XEP-0078")
	assert.Equal(t, "bob@localhost/strophe", res.BobJID)
	assert.Equal(t, res.AliceJID, res.AtBob.From)
	assert.Equal(t, res.BobJID, res.AtAlice.From)
	assert.True(t, res.SentIQAuthGet, "the get for the fields (XEP-0078 §3)")
	assert.True(t, res.SentIQAuthSet, "the set with the password")
	assert.False(t, res.SentSASL, "no SASL")
	require.Len(t, res.Statuses, 2)
	// Chromium speaks HTTP/2 to boshd over TLS (ALPN), served by
	// internal/h2serve with held streams parked.
	require.NotEmpty(t, res.Protocols)
	for _, p := range res.Protocols {
		assert.Equal(t, "h2", p)
	}

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	resp, err := client.Get(base + "/debug/vars")
	require.NoError(t, err)
	defer resp.Body.Close()
	var v struct {
		BOSH stats `json:"bosh"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
	assert.Zero(t, v.BOSH.Sessions, "sessions left open")
	assert.Equal(t, uint64(2), v.BOSH.Ended["terminate"], "sessions ended by a terminate request: %v", v.BOSH.Ended)
}

// selfSignedCert writes a self-signed certificate for 127.0.0.1 and its
// key, and returns their files and a pool holding the certificate.
func selfSignedCert(t *testing.T) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "e2e boshd"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	return certFile, keyFile, roots
}
