package main

import (
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"mellium.im/sasl"
)

// The replay of XEP-0206's example exchange (v1.4, Examples 1–11) against
// boshd over real HTTP, each request body written out as in the XEP,
// followed by the RFC 3921 §3 IM session that XEP-0206 dropped in v1.2.
// Where the XEP shows SCRAM-SHA-1 (Examples 4–7), one run uses PLAIN and
// one SCRAM-SHA-1. The steps both this and xep0206v12_test.go replay
// (restart, binding, terminate) are replayRestart, replayBind and
// replayTerminate.

const (
	nsHTTPBind = "http://jabber.org/protocol/httpbind"
	nsXBOSH    = "urn:xmpp:xbosh"
	nsStream   = "http://etherx.jabber.org/streams"
	nsSASL     = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind     = "urn:ietf:params:xml:ns:xmpp-bind"
	nsSession  = "urn:ietf:params:xml:ns:xmpp-session"
	nsClient   = "jabber:client"
)

// node is a generic XML element with namespaces resolved.
type node struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Nodes   []node     `xml:",any"`
	Text    string     `xml:",chardata"`
}

// attr returns the attribute {space}local; namespace declarations are
// {xmlns}prefix.
func (n *node) attr(space, local string) (string, bool) {
	for _, a := range n.Attrs {
		if a.Name.Space == space && a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// child returns the first child {space}local, or nil.
func (n *node) child(space, local string) *node {
	for i := range n.Nodes {
		if n.Nodes[i].XMLName.Space == space && n.Nodes[i].XMLName.Local == local {
			return &n.Nodes[i]
		}
	}
	return nil
}

// exchange posts one request body as in the XEP's examples and returns
// the decoded response <body/>.
func exchange(t *testing.T, url, body string) *node {
	t.Helper()
	return exchangeWith(t, http.DefaultClient, url, body)
}

// exchangeWith is exchange through client.
func exchangeWith(t *testing.T, client *http.Client, url, body string) *node {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("Accept-Encoding", "gzip, deflate")
	res, err := client.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "text/xml; charset=utf-8", res.Header.Get("Content-Type"), "the 'content' of Ex. 1 (XEP-0124 §7.1)")
	var r io.Reader = res.Body
	switch res.Header.Get("Content-Encoding") {
	case "gzip":
		r, err = gzip.NewReader(r)
		require.NoError(t, err)
	case "deflate":
		r, err = zlib.NewReader(r)
		require.NoError(t, err)
	}
	data, err := io.ReadAll(r)
	require.NoError(t, err)
	var n node
	require.NoError(t, xml.Unmarshal(data, &n), "%s", data)
	require.Equal(t, xml.Name{Space: nsHTTPBind, Local: "body"}, n.XMLName, "%s", data)
	typ, _ := n.attr("", "type")
	require.NotEqual(t, "terminate", typ, "the session ended: %s", data)
	return &n
}

// declaresStream asserts that body declares xmlns:stream on itself, as a
// body with <stream:features/> or <stream:error/> must (XEP-0206 §2).
func declaresStream(t *testing.T, body *node) {
	t.Helper()
	v, ok := body.attr("xmlns", "stream")
	assert.True(t, ok && v == nsStream, "xmlns:stream declared on <body/>")
}

// mechanisms returns the SASL mechanisms of a features element.
func mechanisms(f *node) []string {
	var out []string
	if m := f.child(nsSASL, "mechanisms"); m != nil {
		for _, x := range m.Nodes {
			out = append(out, strings.TrimSpace(x.Text))
		}
	}
	return out
}

func TestXEP0206Examples1To11PLAIN(t *testing.T) {
	replayXEP0206(t, sasl.Plain)
}

func TestXEP0206Examples1To11SCRAMSHA1(t *testing.T) {
	replayXEP0206(t, sasl.ScramSha1)
}

func replayXEP0206(t *testing.T, mech sasl.Mechanism) {
	file := filepath.Join(t.TempDir(), "users")
	require.NoError(t, os.WriteFile(file, []byte("user:pencil\n"), 0o600))
	url := start(t, "-users", file, "-domain", "example.com").url
	rid := 1573741820 // the XEP's own
	// Ex. 1 is sent as written: without 'ver', as in the XEP, which makes
	// it a legacy session for error reporting only (XEP-0124 §17.1).
	var sid string

	// Examples 1 and 2 (XEP-0206 §3, §4): the session request with
	// xmpp:version and the creation response with stream features.
	var features *node
	ok := t.Run("Ex. 1-2 session creation with stream features", func(t *testing.T) {
		body := exchange(t, url, fmt.Sprintf(`<body content='text/xml; charset=utf-8'
      from='user@example.com'
      hold='1'
      rid='%d'
      to='example.com'
      route='xmpp:example.com:9999'
      wait='60'
      xml:lang='en'
      xmpp:version='1.0'
      xmlns='http://jabber.org/protocol/httpbind'
      xmlns:xmpp='urn:xmpp:xbosh'/>`, rid))
		sid, _ = body.attr("", "sid")
		require.NotEmpty(t, sid, "sid (XEP-0124 §7.2)")
		// wait: the example's 60 capped by boshd's default MaxWait of 45s
		// (XEP-0124 §7.2: the lower of the two).
		for _, a := range []struct{ local, want string }{
			{"wait", "45"}, {"requests", "2"}, {"hold", "1"}, {"from", "example.com"},
		} {
			v, _ := body.attr("", a.local)
			assert.Equal(t, a.want, v, a.local)
		}
		for _, a := range []string{"inactivity", "polling"} {
			_, ok := body.attr("", a)
			assert.True(t, ok, a)
		}
		v, _ := body.attr(nsXBOSH, "restartlogic")
		assert.Equal(t, "true", v, "xmpp:restartlogic='true'")
		v, _ = body.attr(nsXBOSH, "version")
		assert.Equal(t, "1.0", v, "xmpp:version='1.0'")
		v, _ = body.attr("", "authid")
		assert.NotEmpty(t, v, "authid, the stream id")
		v, _ = body.attr("xmlns", "xmpp")
		assert.Equal(t, nsXBOSH, v, "xmlns:xmpp declared on <body/>")
		declaresStream(t, body)

		require.Len(t, body.Nodes, 1, "one <stream:features/> and nothing else")
		features = body.child(nsStream, "features")
		require.NotNil(t, features, "features in the creation response, so Ex. 3 (a later response with them) does not arise")
		assert.Contains(t, mechanisms(features), "PLAIN")
		assert.Contains(t, mechanisms(features), "SCRAM-SHA-1")
		assert.Nil(t, features.child("urn:ietf:params:xml:ns:xmpp-tls", "starttls"), "no TLS feature over BOSH")
		assert.Nil(t, features.child("http://jabber.org/features/compress", "compression"), "no stream compression")
	})
	if !ok {
		return
	}

	// Examples 4 to 7 (XEP-0206 §5): SASL. The XEP wraps the base64 data
	// over indented lines; it is sent here without white space, as
	// base64 without line breaks (RFC 6120 §6.4.2, RFC 4648 §3.3), while
	// the bodies stay pretty-printed.
	ok = t.Run("Ex. 4-7 SASL "+mech.Name+" ending in <success/>", func(t *testing.T) {
		n := sasl.NewClient(mech, sasl.Credentials(func() ([]byte, []byte, []byte) {
			return []byte("user"), []byte("pencil"), nil
		}), sasl.RemoteMechanisms(mechanisms(features)...))
		more, resp, err := n.Step(nil)
		require.NoError(t, err)
		rid++
		body := exchange(t, url, fmt.Sprintf(`<body rid='%d'
      sid='%s'
      xmlns='http://jabber.org/protocol/httpbind'>
  <auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'
        mechanism='%s'>%s</auth>
</body>`, rid, sid, mech.Name, base64.StdEncoding.EncodeToString(resp)))
		if more {
			// Ex. 5 and 6: the challenge and the client's response.
			require.Len(t, body.Nodes, 1, "one SASL element")
			ch := body.child(nsSASL, "challenge")
			require.NotNil(t, ch, "Ex. 5: <challenge/> in %+v", body)
			data, err := base64.StdEncoding.DecodeString(strings.TrimSpace(ch.Text))
			require.NoError(t, err)
			_, resp, err = n.Step(data)
			require.NoError(t, err)
			rid++
			body = exchange(t, url, fmt.Sprintf(`<body rid='%d'
      sid='%s'
      xmlns='http://jabber.org/protocol/httpbind'>
  <response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>%s</response>
</body>`, rid, sid, base64.StdEncoding.EncodeToString(resp)))
		}
		require.Len(t, body.Nodes, 1, "one SASL element")
		success := body.child(nsSASL, "success")
		require.NotNil(t, success, "Ex. 7: <success/> in %+v", body)
		if more {
			// The server's signature (RFC 5802 §3) checks out.
			data, err := base64.StdEncoding.DecodeString(strings.TrimSpace(success.Text))
			require.NoError(t, err)
			_, _, err = n.Step(data)
			assert.NoError(t, err, "server signature")
		}
	})
	if !ok {
		return
	}

	// Examples 8 and 9 (XEP-0206 §5): the restart request and its result.
	ok = t.Run("Ex. 8-9 restart request and the new features", func(t *testing.T) {
		rid++
		f := replayRestart(t, url, sid, rid, "example.com", "Ex. 9")
		if s := f.child(nsSession, "session"); assert.NotNil(t, s, "<session/> advertised (RFC 3921 §3)") {
			assert.NotNil(t, s.child(nsSession, "optional"), "optional by default")
		}
	})
	if !ok {
		return
	}

	// Examples 10 and 11 (XEP-0206 §5): resource binding.
	ok = t.Run("Ex. 10-11 resource binding", func(t *testing.T) {
		rid++
		replayBind(t, url, sid, rid, "Ex. 11", "user@example.com/httpclient")
	})
	if !ok {
		return
	}

	// The IM session of RFC 3921 §3, which XEP-0206 showed before v1.2.
	t.Run("IM session request and result (RFC 3921 §3)", func(t *testing.T) {
		rid++
		body := exchange(t, url, fmt.Sprintf(`<body rid='%d'
      sid='%s'
      xmlns='http://jabber.org/protocol/httpbind'>
  <iq to='example.com'
      type='set'
      id='sess_1'
      xmlns='jabber:client'>
    <session xmlns='urn:ietf:params:xml:ns:xmpp-session'/>
  </iq>
</body>`, rid, sid))
		require.Len(t, body.Nodes, 1)
		iq := body.child(nsClient, "iq")
		require.NotNil(t, iq)
		for _, a := range []struct{ local, want string }{
			{"id", "sess_1"}, {"type", "result"}, {"from", "example.com"},
		} {
			v, _ := iq.attr("", a.local)
			assert.Equal(t, a.want, v, a.local)
		}
		if to, ok := iq.attr("", "to"); ok {
			assert.Equal(t, "user@example.com/httpclient", to)
		}

		// The session ends at the client's request (XEP-0124 §13).
		rid++
		assert.Contains(t, replayTerminate(t, url, sid, rid), "type='terminate'")
	})
}

// replayRestart sends the restart request (XEP-0206 §5: v1.4's Example 8,
// v1.2's Example 10) for domain, and checks and returns the new stream
// features of the answer (ex: v1.4's Example 9, v1.2's Example 11).
func replayRestart(t *testing.T, url, sid string, rid int, domain, ex string) *node {
	t.Helper()
	body := exchange(t, url, fmt.Sprintf(`<body rid='%d'
      sid='%s'
      to='%s'
      xml:lang='en'
      xmpp:restart='true'
      xmlns='http://jabber.org/protocol/httpbind'
      xmlns:xmpp='urn:xmpp:xbosh'/>`, rid, sid, domain))
	declaresStream(t, body)
	require.Len(t, body.Nodes, 1, "one <stream:features/>")
	f := body.child(nsStream, "features")
	require.NotNil(t, f, ex+": <stream:features/>")
	assert.NotNil(t, f.child(nsBind, "bind"), "<bind/> offered")
	assert.Nil(t, f.child(nsSASL, "mechanisms"), "no SASL after authentication")
	return f
}

// replayBind sends the resource binding request of XEP-0206 §5 (v1.4's
// Example 10, v1.2's Example 12) for the resource "httpclient", and
// checks that the answer (ex: v1.4's Example 11, v1.2's Example 13)
// binds jid.
func replayBind(t *testing.T, url, sid string, rid int, ex, jid string) {
	t.Helper()
	body := exchange(t, url, fmt.Sprintf(`<body rid='%d'
      sid='%s'
      xmlns='http://jabber.org/protocol/httpbind'>
  <iq id='bind_1'
      type='set'
      xmlns='jabber:client'>
    <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>
      <resource>httpclient</resource>
    </bind>
  </iq>
</body>`, rid, sid))
	require.Len(t, body.Nodes, 1)
	iq := body.child(nsClient, "iq")
	require.NotNil(t, iq, ex+": an iq in jabber:client")
	v, _ := iq.attr("", "id")
	assert.Equal(t, "bind_1", v)
	v, _ = iq.attr("", "type")
	assert.Equal(t, "result", v)
	bind := iq.child(nsBind, "bind")
	require.NotNil(t, bind)
	got := bind.child(nsBind, "jid")
	require.NotNil(t, got)
	assert.Equal(t, jid, strings.TrimSpace(got.Text))
}

// replayTerminate ends the session at the client's request, with an
// unavailable presence (XEP-0124 §13), and returns the response body.
func replayTerminate(t *testing.T, url, sid string, rid int) string {
	t.Helper()
	req := fmt.Sprintf(`<body rid='%d' sid='%s' type='terminate' xmlns='http://jabber.org/protocol/httpbind'>`+
		`<presence type='unavailable' xmlns='jabber:client'/></body>`, rid, sid)
	res, err := http.Post(url, "text/xml; charset=utf-8", strings.NewReader(req))
	require.NoError(t, err)
	data, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return string(data)
}

// When the restart arrives while an empty request is held,
// as it does from browser clients, which keep one request at the
// connection manager at all times: the body that carries the new
// <stream:features/>, whichever request it answers, declares xmlns:stream
// on itself (node-xmpp-bosh issue #17: a declaration on the element only
// broke a client).
func TestStreamPrefixOnBodyWhileRequestHeld(t *testing.T) {
	file := filepath.Join(t.TempDir(), "users")
	require.NoError(t, os.WriteFile(file, []byte("user:pencil\n"), 0o600))
	d := start(t, "-users", file, "-domain", "example.com")
	rid := 1573741820
	body := exchange(t, d.url, fmt.Sprintf(`<body rid='%d' to='example.com' wait='60' hold='1' ver='1.11' xmpp:version='1.0' `+
		`xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh'/>`, rid))
	sid, _ := body.attr("", "sid")
	body = exchange(t, d.url, fmt.Sprintf(`<body rid='%d' sid='%s' xmlns='http://jabber.org/protocol/httpbind'>`+
		`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>%s</auth></body>`,
		rid+1, sid, base64.StdEncoding.EncodeToString([]byte("\x00user\x00pencil"))))
	require.NotNil(t, body.child(nsSASL, "success"))

	// An empty request, held; then the restart request.
	answers := make(chan *node, 2)
	send := func(body string) { go func() { answers <- exchangeAsync(body, d.url) }() }
	send(fmt.Sprintf(`<body rid='%d' sid='%s' xmlns='http://jabber.org/protocol/httpbind'/>`, rid+2, sid))
	waitHeld(t, d)
	send(fmt.Sprintf(`<body rid='%d' sid='%s' to='example.com' xml:lang='en' xmpp:restart='true' `+
		`xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh'/>`, rid+3, sid))

	// One of the two answers carries the features; the other one stays
	// held until the session ends.
	var features *node
	select {
	case features = <-answers:
	case <-testContext(t).Done():
		t.Fatal("no answer")
	}
	if features == nil || features.child(nsStream, "features") == nil {
		features = <-answers
	}
	require.NotNil(t, features)
	require.NotNil(t, features.child(nsStream, "features"), "%+v", features)
	declaresStream(t, features)
	res, err := http.Post(d.url, "text/xml; charset=utf-8", strings.NewReader(fmt.Sprintf(
		`<body rid='%d' sid='%s' type='terminate' xmlns='http://jabber.org/protocol/httpbind'/>`, rid+4, sid)))
	require.NoError(t, err)
	res.Body.Close()
}

// exchangeAsync posts body from another goroutine and returns the decoded
// response, or nil.
func exchangeAsync(body, url string) *node {
	res, err := http.Post(url, "text/xml; charset=utf-8", strings.NewReader(body))
	if err != nil {
		return nil
	}
	defer res.Body.Close()
	var n node
	if xml.NewDecoder(res.Body).Decode(&n) != nil {
		return nil
	}
	return &n
}
