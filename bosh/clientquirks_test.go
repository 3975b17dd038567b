package bosh

import (
	"bufio"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// libpurpleCreate is the session creation request of libpurple 2.14
// (Pidgin, Finch, BitlBee's libpurple build), byte for byte as it goes on
// the wire: HTTP/1.1 without a Content-Type, its content type in a
// Content-Encoding header instead, and a body with version 1.6 of
// XEP-0124.
const libpurpleCreate = "POST /http-bind HTTP/1.1\r\n" +
	"Host: 127.0.0.1\r\n" +
	"User-Agent: BitlBee 3.6 (libpurple 2.14.12)\r\n" +
	"Content-Encoding: text/xml; charset=utf-8\r\n" +
	"Content-Length: 229\r\n\r\n" +
	"<body content='text/xml; charset=utf-8' secure='true' to='example.com' xml:lang='en' " +
	"xmpp:version='1.0' ver='1.6' xmlns:xmpp='urn:xmpp:xbosh' rid='3297537925425094' " +
	"wait='60' hold='1' xmlns='http://jabber.org/protocol/httpbind'/>"

// readRaw parses a request as net/http's server would read it off the
// connection.
func readRaw(t *testing.T, raw string) *http.Request {
	t.Helper()
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	require.NoError(t, err)
	r.RemoteAddr = "127.0.0.1:40000"
	return r
}

// TestLibpurpleCreationRequest: libpurple names its content type in
// Content-Encoding. That is no content coding (RFC 9110 §8.4.1: a coding
// is a token, without '/' or parameters), so the body is read as it came
// and the session is created, as Prosody and ejabberd do, instead of
// bad-request for an unknown coding (XEP-0124 §7.2).
func TestLibpurpleCreationRequest(t *testing.T) {
	body := libpurpleCreate[strings.Index(libpurpleCreate, "\r\n\r\n")+4:]
	require.Len(t, body, 229, "the Content-Length of the raw request")
	x := newTester(t, Config{})
	r := x.do(readRaw(t, libpurpleCreate)).wait()
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	assert.NotEmpty(t, r.Attr("sid"), "a session: %s", r.Raw)
	assert.Empty(t, r.Condition(), r.Raw)
	assert.Equal(t, "text/xml; charset=utf-8", r.Header.Get("Content-Type"), "the body's 'content' (§7.1)")
	require.Len(t, x.up.opens, 1)
}

// TestContentEncodingNotACoding: which Content-Encoding values name no
// coding and are ignored, and which are real codings this handler refuses
// because it did not advertise them in 'accept' (XEP-0124 §7.2).
func TestContentEncodingNotACoding(t *testing.T) {
	for _, tc := range []struct {
		name string
		enc  string
		want string // "" for a session, else the condition
	}{
		{"libpurple's media type with a charset (RFC 9110 §8.4.1)", "text/xml; charset=utf-8", ""},
		{"a bare media type", "text/xml", ""},
		{"identity (RFC 9110 §8.4.1)", "identity", ""},
		{"an unknown coding: bad-request (§7.2)", "br", "bad-request"},
		{"compress, not advertised: bad-request (§7.2)", "compress", "bad-request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newTester(t, Config{})
			r := x.do(readRaw(t, strings.Replace(libpurpleCreate, "text/xml; charset=utf-8\r\n", tc.enc+"\r\n", 1))).wait()
			if tc.want == "" {
				assert.NotEmpty(t, r.Attr("sid"), r.Raw)
				return
			}
			assert.True(t, r.IsTerm(tc.want), r.Raw)
			assert.Empty(t, x.up.opens)
		})
	}
}
