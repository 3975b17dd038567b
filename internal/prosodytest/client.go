package prosodytest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/httpbind/httpbind/internal/xmppwire"
	"mellium.im/sasl"
)

// Namespaces of RFC 6120.
const (
	nsStream = xmppwire.NSStream
	nsTLS    = xmppwire.NSTLS
	nsSASL   = xmppwire.NSSASL
	nsBind   = xmppwire.NSBind
)

// TCPClient is a minimal XMPP client on a c2s TCP connection, for tests:
// it logs in in Dial, then sends raw stanzas and returns the elements the
// server sends, one top-level element at a time. Send and Close are safe
// for concurrent use, and with Next; Next must not be called
// concurrently. After an error from Next the client is unusable.
type TCPClient struct {
	jid string // set by Dial, then read-only

	wmu  sync.Mutex // serializes writes
	conn net.Conn

	r *elementReader // owned by the caller of Next
}

// Dial connects to the c2s port addr of domain and logs in as user: the
// stream header, STARTTLS with pool as the trusted CAs (RFC 6120 §5),
// SASL PLAIN (§6), the stream restart and resource binding (§7) of
// resource, or of one the server chooses when it is "" (§7.6). It does
// not send presence. ctx bounds the whole login.
func Dial(ctx context.Context, addr, domain, user, password string, pool *x509.CertPool, resource string) (*TCPClient, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &TCPClient{conn: conn}
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Unix(1, 0)) })
	err = c.login(domain, user, password, pool, resource)
	if !stop() || err != nil {
		conn.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("prosodytest: login as %s: %w", user, err)
	}
	return c, nil
}

// login runs the negotiation of Dial.
func (c *TCPClient) login(domain, user, password string, pool *x509.CertPool, resource string) error {
	if err := c.open(domain); err != nil {
		return err
	}
	if _, err := c.expect(nsStream, "features"); err != nil {
		return err
	}
	if err := c.Send([]byte("<starttls xmlns='" + nsTLS + "'/>")); err != nil {
		return err
	}
	if _, err := c.expect(nsTLS, "proceed"); err != nil {
		return err
	}
	tc := tls.Client(c.conn, &tls.Config{RootCAs: pool, ServerName: domain})
	if err := tc.Handshake(); err != nil {
		return err
	}
	c.wmu.Lock()
	c.conn = tc
	c.wmu.Unlock()
	if err := c.open(domain); err != nil {
		return err
	}
	if _, err := c.expect(nsStream, "features"); err != nil {
		return err
	}
	if err := c.authenticate(user, password); err != nil {
		return err
	}
	if err := c.open(domain); err != nil {
		return err
	}
	if _, err := c.expect(nsStream, "features"); err != nil {
		return err
	}
	return c.bind(resource)
}

// open sends a stream header and starts reading a new stream (RFC 6120
// §4.2, §4.3.3: after TLS and SASL, the parser starts afresh).
func (c *TCPClient) open(domain string) error {
	c.r = newElementReader(c.conn)
	return c.Send(fmt.Appendf(nil, "<?xml version='1.0'?><stream:stream to='%s' version='1.0' xml:lang='en'"+
		" xmlns='jabber:client' xmlns:stream='%s'>", domain, nsStream))
}

// authenticate runs SASL PLAIN (RFC 4616, RFC 6120 §6).
func (c *TCPClient) authenticate(user, password string) error {
	n := sasl.NewClient(sasl.Plain, sasl.Credentials(func() ([]byte, []byte, []byte) {
		return []byte(user), []byte(password), nil
	}))
	_, resp, err := n.Step(nil)
	if err != nil {
		return err
	}
	if err := c.Send(fmt.Appendf(nil, "<auth xmlns='%s' mechanism='PLAIN'>%s</auth>",
		nsSASL, base64.StdEncoding.EncodeToString(resp))); err != nil {
		return err
	}
	_, err = c.expect(nsSASL, "success")
	return err
}

// bind binds resource (RFC 6120 §7) and records the JID.
func (c *TCPClient) bind(resource string) error {
	var req bytes.Buffer
	req.WriteString("<iq type='set' id='bind_1'><bind xmlns='" + nsBind + "'>")
	if resource != "" {
		req.WriteString("<resource>")
		req.Write(xmppwire.AppendText(nil, resource))
		req.WriteString("</resource>")
	}
	req.WriteString("</bind></iq>")
	if err := c.Send(req.Bytes()); err != nil {
		return err
	}
	raw, err := c.expect(xmppwire.NSClient, "iq")
	if err != nil {
		return err
	}
	var res struct {
		Type string `xml:"type,attr"`
		JID  string `xml:"urn:ietf:params:xml:ns:xmpp-bind bind>jid"`
	}
	if err := xml.Unmarshal(raw, &res); err != nil || res.Type != "result" || res.JID == "" {
		return fmt.Errorf("bind failed: %s", raw)
	}
	c.jid = res.JID
	return nil
}

// expect reads the next element and checks its name.
func (c *TCPClient) expect(space, local string) ([]byte, error) {
	name, raw, err := c.r.next()
	if err != nil {
		return nil, err
	}
	if name.Space != space || name.Local != local {
		return nil, fmt.Errorf("want <%s xmlns='%s'/>, got %s", local, space, raw)
	}
	return raw, nil
}

// JID returns the bound full JID.
func (c *TCPClient) JID() string { return c.jid }

// Send writes b, for example a stanza, as it is.
func (c *TCPClient) Send(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.conn.Write(b)
	return err
}

// Next returns the next top-level element of the stream as the server
// sent it (namespace declarations of the stream header are not repeated
// on it). At the end of the server's stream it returns io.EOF. When ctx
// ends first, it returns ctx's error and the client is unusable.
func (c *TCPClient) Next(ctx context.Context) ([]byte, error) {
	stop := context.AfterFunc(ctx, func() { c.conn.SetReadDeadline(time.Unix(1, 0)) })
	_, raw, err := c.r.next()
	if !stop() && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return raw, err
}

// Close closes the stream (RFC 6120 §4.4) and the connection.
func (c *TCPClient) Close() error {
	c.Send([]byte("</stream:stream>"))
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.conn.Close()
}

// elementReader finds top-level elements in one XML stream: it records the
// bytes it gives the decoder and slices them at element boundaries
// (xml.Decoder.InputOffset).
type elementReader struct {
	src  *bufio.Reader
	dec  *xml.Decoder
	buf  []byte // bytes read since base
	base int64  // stream offset of buf[0]
}

func newElementReader(r io.Reader) *elementReader {
	er := &elementReader{src: bufio.NewReaderSize(r, 1)}
	er.dec = xml.NewDecoder(er)
	return er
}

// ReadByte gives the decoder one byte at a time, so that it never reads
// past the stream (before STARTTLS or a restart).
func (er *elementReader) ReadByte() (byte, error) {
	b, err := er.src.ReadByte()
	if err == nil {
		er.buf = append(er.buf, b)
	}
	return b, err
}

// Read is unused by xml.Decoder, which takes an io.ByteReader as it is.
func (er *elementReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	b, err := er.ReadByte()
	if err != nil {
		return 0, err
	}
	p[0] = b
	return 1, nil
}

// next returns the next top-level element's (resolved) name and bytes,
// skipping the stream header and anything between elements.
func (er *elementReader) next() (xml.Name, []byte, error) {
	depth := 0
	var start int64
	var name xml.Name
	for {
		before := er.dec.InputOffset()
		tok, err := er.dec.Token()
		if err != nil {
			return xml.Name{}, nil, err // io.EOF only where no element is open
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 && t.Name.Space == nsStream && t.Name.Local == "stream" {
				er.trim(er.dec.InputOffset())
				continue
			}
			if depth == 0 {
				start, name = before, t.Name
			}
			depth++
		case xml.EndElement:
			if depth == 0 { // </stream:stream> (RFC 6120 §4.4)
				return xml.Name{}, nil, io.EOF
			}
			depth--
			if depth == 0 {
				end := er.dec.InputOffset()
				raw := bytes.Clone(er.buf[start-er.base : end-er.base])
				er.trim(end)
				return name, raw, nil
			}
		}
	}
}

// trim drops the recorded bytes before stream offset off.
func (er *elementReader) trim(off int64) {
	er.buf = er.buf[off-er.base:]
	er.base = off
}
