package ejabberdtest

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/internal/digestmd5"
)

// element is a top-level element of the server's stream.
type element struct {
	XMLName xml.Name
	Inner   string `xml:",innerxml"`
}

// conn is a bare client stream over TCP (RFC 6120 §4), enough to log in.
type conn struct {
	t  *testing.T
	c  net.Conn
	xd *xml.Decoder
}

func dial(t *testing.T, s *Server) *conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.C2SAddr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(30*time.Second)))
	cn := &conn{t: t, c: c}
	cn.open(s.Domain)
	return cn
}

// open sends a stream header and reads the server's up to its start tag.
func (c *conn) open(domain string) {
	c.t.Helper()
	c.send(fmt.Sprintf("<?xml version='1.0'?><stream:stream to='%s' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>", domain))
	c.xd = xml.NewDecoder(c.c)
	for range 5 {
		tok, err := c.xd.Token()
		require.NoError(c.t, err)
		if se, ok := tok.(xml.StartElement); ok {
			require.Equal(c.t, "stream", se.Name.Local)
			return
		}
	}
	c.t.Fatal("no stream header")
}

func (c *conn) send(s string) {
	c.t.Helper()
	_, err := c.c.Write([]byte(s))
	require.NoError(c.t, err)
}

// next returns the next top-level element.
func (c *conn) next() element {
	c.t.Helper()
	for range 10 {
		tok, err := c.xd.Token()
		require.NoError(c.t, err)
		if se, ok := tok.(xml.StartElement); ok {
			var el element
			require.NoError(c.t, c.xd.DecodeElement(&el, &se))
			return el
		}
	}
	c.t.Fatal("no element")
	return element{}
}

// TestStartRegisterDigestMD5 starts ejabberd, registers an account and
// logs in with DIGEST-MD5 (RFC 2831) over a bare TCP stream, the client of
// internal/digestmd5 against an independent server: ejabberd checks the
// response, the client checks ejabberd's rspauth.
func TestStartRegisterDigestMD5(t *testing.T) {
	s := Start(t, Config{Domain: "example.test"})
	// ASCII: ejabberd 23.01 hashes a password in UTF-8 where RFC 2831
	// §2.1.2.1 asks for ISO 8859-1, as the client does, when possible.
	s.Register("juliet", "r0m30 & j")

	c := dial(t, s)
	f := c.next()
	require.Equal(t, "features", f.XMLName.Local)
	assert.Contains(t, f.Inner, "<mechanism>DIGEST-MD5</mechanism>", "disable_sasl_mechanisms: [] and plain passwords")

	cl := &digestmd5.Client{Username: "juliet", Password: "r0m30 & j", Domain: s.Domain}
	c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='DIGEST-MD5'/>")
	var last element
	for range 3 {
		last = c.next()
		if last.XMLName.Local != "challenge" {
			break
		}
		data, err := base64.StdEncoding.DecodeString(strings.TrimSpace(last.Inner))
		require.NoError(t, err)
		resp, err := cl.Step(data)
		require.NoError(t, err, "challenge %q", data)
		if len(resp) == 0 {
			c.send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
		} else {
			c.send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + base64.StdEncoding.EncodeToString(resp) + "</response>")
		}
	}
	require.Equal(t, "success", last.XMLName.Local, last.Inner)

	c.open(s.Domain)
	f = c.next()
	assert.Contains(t, f.Inner, "urn:ietf:params:xml:ns:xmpp-bind")
	c.send("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>balcony</resource></bind></iq>")
	assert.Contains(t, c.next().Inner, "<jid>juliet@example.test/balcony</jid>")
}

// TestWrongPasswordRefused: a response computed with another password is
// refused, so the success above means something.
func TestWrongPasswordRefused(t *testing.T) {
	s := Start(t, Config{})
	s.Register("juliet", "right")
	c := dial(t, s)
	c.next()
	cl := &digestmd5.Client{Username: "juliet", Password: "wrong", Domain: s.Domain}
	c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='DIGEST-MD5'/>")
	ch := c.next()
	require.Equal(t, "challenge", ch.XMLName.Local)
	data, err := base64.StdEncoding.DecodeString(strings.TrimSpace(ch.Inner))
	require.NoError(t, err)
	resp, err := cl.Step(data)
	require.NoError(t, err)
	c.send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + base64.StdEncoding.EncodeToString(resp) + "</response>")
	f := c.next()
	assert.Equal(t, "failure", f.XMLName.Local)
	assert.Contains(t, f.Inner, "not-authorized")
}
