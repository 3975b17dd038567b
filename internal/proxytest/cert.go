package proxytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

// Certificate is a self-signed TLS certificate for a proxy's front, in the
// files the proxies read.
type Certificate struct {
	CertFile string // the certificate, PEM (nginx ssl_certificate)
	KeyFile  string // its private key, PEM (nginx ssl_certificate_key)
	// Combined holds the certificate and then the key, PEM, as HAProxy's
	// crt wants them.
	Combined string
	// Roots trusts the certificate, for the test's client.
	Roots *x509.CertPool
}

// Cert makes a self-signed certificate for the DNS name host, valid for
// an hour, in files in the test's temporary directory.
func Cert(t testing.TB, host string) *Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("proxytest: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: host},
		DNSNames:              []string{host},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("proxytest: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("proxytest: %v", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatalf("proxytest: %v", err)
	}
	certPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	dir := t.TempDir()
	c := &Certificate{
		CertFile: writeFile(t, dir, "cert.pem", certPEM),
		KeyFile:  writeFile(t, dir, "key.pem", keyPEM),
		Combined: writeFile(t, dir, "combined.pem", certPEM+keyPEM),
		Roots:    x509.NewCertPool(),
	}
	c.Roots.AddCert(cert)
	return c
}
