package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/boshtest"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key
// to PEM files and returns their paths and a pool that trusts it.
func selfSigned(t *testing.T) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "boshd test"},
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

// wire is what one client's transport saw: TCP connections dialed, the
// protocol of each response, and the most requests in flight at once.
// Its transport dials only on loopback.
type wire struct {
	next *http.Transport

	mu          sync.Mutex
	dials       int
	protos      []int // ProtoMajor of each response
	inflight    int
	maxInflight int
}

// newWire returns a wire over a transport speaking protocols, trusting
// roots for TLS.
func newWire(protocols func(*http.Protocols), roots *x509.CertPool) *wire {
	w := &wire{}
	var p http.Protocols
	protocols(&p)
	d := &net.Dialer{Timeout: 5 * time.Second}
	w.next = &http.Transport{
		Protocols:       &p,
		TLSClientConfig: &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			w.mu.Lock()
			w.dials++
			w.mu.Unlock()
			return d.DialContext(ctx, network, addr)
		},
	}
	if !p.HTTP1() {
		// One dial at a time, as a browser does for HTTP/2: requests that
		// start together wait for the connection instead of racing to
		// dial one each (http.Transport.MaxConnsPerHost).
		w.next.MaxConnsPerHost = 1
	}
	return w
}

func (w *wire) RoundTrip(r *http.Request) (*http.Response, error) {
	w.mu.Lock()
	w.inflight++
	w.maxInflight = max(w.maxInflight, w.inflight)
	w.mu.Unlock()
	resp, err := w.next.RoundTrip(r)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.inflight--
	if err == nil {
		w.protos = append(w.protos, resp.ProtoMajor)
	}
	return resp, err
}

func (w *wire) close() { w.next.CloseIdleConnections() }

// seen returns the dials, the distinct protocols and the most requests
// in flight at once.
func (w *wire) seen() (dials int, protos []int, maxInflight int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	protos = slices.Clone(w.protos)
	slices.Sort(protos)
	return w.dials, slices.Compact(protos), w.maxInflight
}

var (
	http1 = func(p *http.Protocols) { p.SetHTTP1(true) }
	h2TLS = func(p *http.Protocols) { p.SetHTTP2(true) }
	h2c   = func(p *http.Protocols) { p.SetUnencryptedHTTP2(true) }
)

// TestHTTP2: alice and bob log in and send each other a message through
// boshd, each client over its own transport, each message sent while
// boshd holds a request of both. Over HTTP/2
// (TLS by ALPN, or h2c with prior knowledge) every response is HTTP/2 and
// each client's held and sending requests share its one TCP connection,
// with at least two in flight at once; over HTTP/1.1 the same exchange
// takes a second connection (or more). The dials are counted at the client's
// dialer: on loopback, one dial is one connection the server accepted.
func TestHTTP2(t *testing.T) {
	certFile, keyFile, roots := selfSigned(t)
	tlsArgs := []string{"-tls-cert", certFile, "-tls-key", keyFile}
	tests := []struct {
		name       string
		args       []string
		client     func(*http.Protocols)
		wantProto  int
		wantScheme string
	}{
		{name: "HTTP/2 over TLS (ALPN)", args: tlsArgs, client: h2TLS, wantProto: 2, wantScheme: "https"},
		{name: "HTTP/1.1 over TLS, same server", args: tlsArgs, client: http1, wantProto: 1, wantScheme: "https"},
		{name: "h2c with prior knowledge", args: []string{"-h2c"}, client: h2c, wantProto: 2, wantScheme: "http"},
		{name: "HTTP/1.1 on the -h2c port", args: []string{"-h2c"}, client: http1, wantProto: 1, wantScheme: "http"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			d := start(t, tt.args...)
			require.Regexp(t, "^"+tt.wantScheme+"://", d.url)
			wires := map[string]*wire{"alice": newWire(tt.client, roots), "bob": newWire(tt.client, roots)}
			clients := map[string]*boshtest.Client{}
			for name, w := range wires {
				defer w.close()
				c := boshtest.NewClient(d.url, boshtest.ClientConfig{HTTPClient: &http.Client{Transport: w}})
				defer c.Close()
				require.NoError(t, c.Connect(ctx, "localhost"))
				_, err := c.Login(ctx, name, d.accounts[name], "h2")
				require.NoError(t, err)
				clients[name] = c
			}
			// Each client sends while boshd holds a request of both, so
			// each has two requests in flight at once.
			admin := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
			defer admin.CloseIdleConnections()
			waitBothHeld := func() {
				require.Eventually(t, func() bool {
					_, st := varsWith(t, d, admin)
					return st.Held >= 2
				}, 10*time.Second, 5*time.Millisecond, "both clients hold a request")
			}
			for _, ex := range []struct{ from, to string }{{"alice", "bob"}, {"bob", "alice"}} {
				waitBothHeld()
				msg := []byte("<message xmlns='jabber:client' to='" + ex.to + "@localhost/h2' type='chat'><body>over one connection</body></message>")
				require.NoError(t, clients[ex.from].Send(ctx, msg))
				got, err := clients[ex.to].Receive(ctx)
				require.NoError(t, err)
				assert.Contains(t, string(got), "over one connection")
			}
			for name, c := range clients {
				require.NoError(t, c.Terminate(ctx), name)
			}
			for name, w := range wires {
				dials, protos, maxInflight := w.seen()
				assert.Equal(t, []int{tt.wantProto}, protos, "%s: protocols of the responses", name)
				if tt.wantProto == 2 {
					assert.Equal(t, 1, dials, "%s: TCP connections", name)
				} else {
					// A request can start before the connection of the
					// previous response is idle again: at least two.
					assert.GreaterOrEqual(t, dials, 2, "%s: TCP connections", name)
				}
				assert.GreaterOrEqual(t, maxInflight, 2, "%s: a request was held while another was sent", name)
			}
		})
	}
}

// TestH2CNeedsTheFlag: without -h2c, prior-knowledge HTTP/2 is refused
// and no session is created; HTTP/1.1 is unaffected.
func TestH2CNeedsTheFlag(t *testing.T) {
	ctx := testContext(t)
	d := start(t)
	w := newWire(h2c, nil)
	defer w.close()
	c := boshtest.NewClient(d.url, boshtest.ClientConfig{HTTPClient: &http.Client{Transport: w}, Attempts: 1})
	defer c.Close()
	assert.Error(t, c.Connect(ctx, "localhost"))
	_, protos, _ := w.seen()
	assert.Empty(t, protos, "no HTTP/2 response")
}

// TestSecureOverHTTP2: the creation request's OpenRequest.Secure is set
// when it came over TLS, whether HTTP/2 or HTTP/1.1, and not over h2c
// (XEP-0124 §19.1): it is read from r.TLS, which
// net/http sets for HTTP/2 streams over TLS too.
func TestSecureOverHTTP2(t *testing.T) {
	certFile, keyFile, roots := selfSigned(t)
	tests := []struct {
		name       string
		args       []string
		client     func(*http.Protocols)
		wantProto  int
		wantSecure bool
	}{
		{name: "HTTP/2 over TLS", args: []string{"-tls-cert", certFile, "-tls-key", keyFile}, client: h2TLS, wantProto: 2, wantSecure: true},
		{name: "HTTP/1.1 over TLS", args: []string{"-tls-cert", certFile, "-tls-key", keyFile}, client: http1, wantProto: 1, wantSecure: true},
		{name: "h2c", args: []string{"-h2c"}, client: h2c, wantProto: 2, wantSecure: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseFlags(append([]string{"-listen", "127.0.0.1:0"}, tt.args...), io.Discard)
			require.NoError(t, err)
			opened := make(chan bool, 1)
			up := bosh.UpstreamFunc(func(ctx context.Context, req *bosh.OpenRequest, sink bosh.Sink) (bosh.Stream, error) {
				opened <- req.Secure
				return nil, bosh.HostUnknown
			})
			h, err := bosh.NewHandler(up, bosh.Config{})
			require.NoError(t, err)
			srv := o.httpServer(h, slog.New(slog.DiscardHandler))
			ln, err := o.openListener(srv)
			require.NoError(t, err)
			done := make(chan struct{})
			go func() { defer close(done); srv.Serve(ln) }()
			defer func() { srv.Close(); <-done }()

			w := newWire(tt.client, roots)
			defer w.close()
			body := "<body rid='1' to='localhost' wait='5' hold='1' xmlns='http://jabber.org/protocol/httpbind'/>"
			req, err := http.NewRequestWithContext(testContext(t), http.MethodPost, o.scheme()+"://"+ln.Addr().String()+"/", bytes.NewBufferString(body))
			require.NoError(t, err)
			resp, err := (&http.Client{Transport: w}).Do(req)
			require.NoError(t, err)
			reply, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, tt.wantProto, resp.ProtoMajor)
			assert.Contains(t, string(reply), "host-unknown")
			select {
			case secure := <-opened:
				assert.Equal(t, tt.wantSecure, secure)
			default:
				t.Fatal("the upstream was not asked to open")
			}
		})
	}
}
