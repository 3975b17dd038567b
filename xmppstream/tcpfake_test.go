package xmppstream_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/xml"
	"fmt"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Namespaces the fake server speaks.
const (
	fnsStream  = "http://etherx.jabber.org/streams"
	fnsTLS     = "urn:ietf:params:xml:ns:xmpp-tls"
	fnsSASL    = "urn:ietf:params:xml:ns:xmpp-sasl"
	fnsBind    = "urn:ietf:params:xml:ns:xmpp-bind"
	fnsStreams = "urn:ietf:params:xml:ns:xmpp-streams"
	fDomain    = "example.com"
	fUser      = "juliet"
	fPass      = "r0m30"
)

// testCA is a private CA and a server certificate it signed for
// example.com and 127.0.0.1.
type testCA struct {
	pool *x509.CertPool
	cert tls.Certificate
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "httpbind test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	caCert, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: fDomain},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		DNSNames: []string{fDomain}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return &testCA{pool: pool, cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}
}

// fakeOpts script a fakeServer.
type fakeOpts struct {
	starttls bool     // offer STARTTLS, required (RFC 6120 §5.3.1)
	direct   bool     // TLS from the first byte
	proxy    bool     // read a PROXY v2 header first
	ca       *testCA  // the server's certificate; nil: no TLS
	hold     chan int // when set, the server waits for a value before sending its features
	silent   bool     // do not answer the client's </stream:stream>
	farewell string   // written before the answer to the client's </stream:stream>
}

// fakeServer is a tiny scripted XMPP server on 127.0.0.1 (RFC 6120): it
// answers stream headers, STARTTLS, SASL PLAIN for juliet, the restart and
// bind, and echoes messages. A message to cmd@example.com runs the command
// in its body: "error" (a stream error), "close" (an abrupt close),
// "doctype", "huge", "split" (a message written byte by byte), "end"
// (</stream:stream>). It records what it sees as events.
type fakeServer struct {
	t    *testing.T
	ln   net.Listener
	opts fakeOpts
	addr string

	tls *tls.Config // one for all connections, so that sessions resume

	handshakes, resumed atomic.Int32 // completed STARTTLS handshakes, and those resumed

	wg     sync.WaitGroup
	events chan string // "header …", "elem <name>", "proxy <hex>", "eof", "closed"
	mu     sync.Mutex
	conns  []net.Conn // guarded by mu
}

func newFakeServer(t *testing.T, opts fakeOpts) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f := &fakeServer{t: t, ln: ln, opts: opts, addr: ln.Addr().String(), events: make(chan string, 1000)}
	if opts.ca != nil {
		f.tls = &tls.Config{Certificates: []tls.Certificate{opts.ca.cert}}
	}
	f.wg.Add(1)
	go f.accept()
	t.Cleanup(f.close)
	return f
}

func (f *fakeServer) accept() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns = append(f.conns, c)
		f.mu.Unlock()
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer c.Close()
			f.serve(c)
		}()
	}
}

// close stops the server and waits for its goroutines.
func (f *fakeServer) close() {
	f.ln.Close()
	f.mu.Lock()
	for _, c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

func (f *fakeServer) record(ev string) {
	select {
	case f.events <- ev:
	default:
	}
}

// waitEvent returns the next event with the prefix, skipping others.
func (f *fakeServer) waitEvent(prefix string) string {
	f.t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-f.events:
			if strings.HasPrefix(ev, prefix) {
				return ev
			}
		case <-timeout:
			f.t.Fatalf("no event %q from the fake server", prefix)
			return ""
		}
	}
}

// drain returns the events recorded so far that no one waited for.
func (f *fakeServer) drain() []string {
	var evs []string
	for {
		select {
		case ev := <-f.events:
			evs = append(evs, ev)
		default:
			return evs
		}
	}
}

// fconn is one connection of the fake server.
type fconn struct {
	conn net.Conn
	br   *bufio.Reader
	dec  *xml.Decoder
}

func (c *fconn) setConn(conn net.Conn) {
	c.conn, c.br = conn, bufio.NewReader(conn)
}

func (c *fconn) write(s string) error {
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := io.WriteString(c.conn, s)
	return err
}

// stanza is what the fake server decodes of an element.
type stanza struct {
	XMLName xml.Name
	ID      string `xml:"id,attr"`
	Type    string `xml:"type,attr"`
	To      string `xml:"to,attr"`
	Body    string `xml:"body"`
	Inner   string `xml:",innerxml"`
}

func (f *fakeServer) serve(conn net.Conn) {
	c := &fconn{}
	c.setConn(conn)
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	if f.opts.proxy {
		hdr := make([]byte, 16)
		if _, err := io.ReadFull(c.br, hdr); err != nil {
			return
		}
		rest := make([]byte, binary.BigEndian.Uint16(hdr[14:]))
		if _, err := io.ReadFull(c.br, rest); err != nil {
			return
		}
		f.record(fmt.Sprintf("proxy %x", append(hdr, rest...)))
	}
	secure := false
	if f.opts.direct {
		c.setConn(tls.Server(conn, f.tls))
		secure = true
	}
	authed := false
	for {
		if !f.header(c, secure, authed) {
			return
		}
		switch f.elements(c) {
		case "starttls":
			tc := tls.Server(conn, f.tls)
			if tc.Handshake() != nil {
				f.record("tls failed")
				return
			}
			f.handshakes.Add(1)
			if tc.ConnectionState().DidResume {
				f.resumed.Add(1)
			}
			c.setConn(tc)
			secure = true
		case "auth":
			authed = true
		default:
			return
		}
	}
}

// header reads the client's stream header and answers with its own and
// the features.
func (f *fakeServer) header(c *fconn, secure, authed bool) bool {
	c.dec = xml.NewDecoder(c.br)
	for {
		tok, err := c.dec.Token()
		if err != nil {
			f.record("eof")
			return false
		}
		if se, ok := tok.(xml.StartElement); ok {
			ev := "header"
			for _, a := range se.Attr {
				ev += fmt.Sprintf(" %s=%s", a.Name.Local, a.Value)
			}
			f.record(ev)
			break
		}
	}
	if f.opts.hold != nil {
		<-f.opts.hold
	}
	features := "<mechanisms xmlns='" + fnsSASL + "'><mechanism>PLAIN</mechanism></mechanisms>"
	switch {
	case !secure && f.opts.starttls:
		features = "<starttls xmlns='" + fnsTLS + "'><required/></starttls>" + features
	case authed:
		features = "<bind xmlns='" + fnsBind + "'/>"
	}
	tag := "pre"
	if secure {
		tag = "tls"
	}
	if authed {
		tag += "-auth"
	}
	return c.write("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='"+fnsStream+
		"' id='id-"+tag+"' from='"+fDomain+"' version='1.0'><stream:features>"+features+"</stream:features>") == nil
}

// elements handles the client's elements until the stream restarts; it
// returns why: "starttls", "auth" or "" (the connection ends).
func (f *fakeServer) elements(c *fconn) string {
	for {
		tok, err := c.dec.Token()
		if err != nil {
			f.record("eof")
			return ""
		}
		switch t := tok.(type) {
		case xml.EndElement:
			f.record("closed")
			if !f.opts.silent {
				c.write(f.opts.farewell + "</stream:stream>")
			}
			io.Copy(io.Discard, c.br)
			f.record("eof")
			return ""
		case xml.StartElement:
			var s stanza
			if c.dec.DecodeElement(&s, &t) != nil {
				f.record("bad element")
				return ""
			}
			f.record("elem " + s.XMLName.Local + " " + s.Body)
			if why, done := f.element(c, &s); done {
				return why
			}
		}
	}
}

// element answers one element; done ends the stream.
func (f *fakeServer) element(c *fconn, s *stanza) (why string, done bool) {
	switch s.XMLName.Local {
	case "starttls":
		c.write("<proceed xmlns='" + fnsTLS + "'/>")
		return "starttls", true
	case "auth":
		want := base64.StdEncoding.EncodeToString([]byte("\x00" + fUser + "\x00" + fPass))
		if strings.TrimSpace(s.Inner) != want {
			c.write("<failure xmlns='" + fnsSASL + "'><not-authorized/></failure>")
			return "", false
		}
		c.write("<success xmlns='" + fnsSASL + "'/>")
		return "auth", true
	case "iq":
		c.write("<iq type='result' id='" + s.ID + "'><bind xmlns='" + fnsBind + "'><jid>juliet@example.com/balcony</jid></bind></iq>")
	case "message":
		if s.To != "cmd@example.com" {
			c.write("<message from='echo@example.com' to='juliet@example.com/balcony'><body>" + s.Body + "</body></message>")
			return "", false
		}
		return "", f.command(c, s.Body)
	}
	return "", false
}

// command runs a scripted misbehaviour; it reports whether the connection
// is done.
func (f *fakeServer) command(c *fconn, cmd string) bool {
	switch cmd {
	case "error":
		c.write("<message from='a@example.com'><body>before</body></message>" +
			"<stream:error><conflict xmlns='" + fnsStreams + "'/><text xmlns='" + fnsStreams + "'>x</text></stream:error></stream:stream>")
	case "close":
		if tc, ok := c.conn.(*net.TCPConn); ok {
			tc.SetLinger(0) // a reset
		}
	case "doctype":
		c.write("<!DOCTYPE x [<!ENTITY a 'b'>]>")
	case "huge":
		c.write("<message><body>" + strings.Repeat("x", 4096) + "</body></message>")
	case "end":
		c.write("</stream:stream>")
	case "flood":
		c.write(strings.Repeat("<message from='f@example.com'><body>flood</body></message>", 5))
		return false
	case "split":
		for _, b := range []byte("<message from='s@example.com'><body>split</body></message>") {
			if c.write(string(b)) != nil {
				return true
			}
		}
		return false
	default:
		return false
	}
	c.conn.Close()
	return true
}
