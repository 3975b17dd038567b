package xmppstream

import (
	"crypto/tls"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/internal/xmlscan"
)

// Test fixtures.
const (
	testDomain = "example.com"
	testUser   = "juliet"
	testPass   = "r0m30myr0m30"
	nsXBOSH    = "urn:xmpp:xbosh"
	nsHTTPBind = "http://jabber.org/protocol/httpbind"
)

// harness drives a Server through a real bosh.Handler, one synchronous
// request at a time: sessions ask for hold='0', so every response comes
// back as soon as the request is processed.
type harness struct {
	t    *testing.T
	core *fakeCore
	srv  *Server
	h    *bosh.Handler
	// secure makes the requests come over TLS (bosh.OpenRequest.Secure).
	secure bool
}

func newHarness(t *testing.T, cfg ServerConfig) *harness {
	t.Helper()
	if cfg.Domains == nil {
		cfg.Domains = []string{testDomain}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	core := newFakeCore()
	core.addPlain(testUser, testPass)
	srv, err := NewServer(core, cfg)
	require.NoError(t, err)
	h, err := bosh.NewHandler(srv, bosh.Config{NoPolling: true, Logger: cfg.Logger})
	require.NoError(t, err)
	return &harness{t: t, core: core, srv: srv, h: h}
}

// reply is one response <body/>, parsed.
type reply struct {
	raw      string
	attrs    map[string]string // by "{space}local", or "local" without namespace
	decls    map[string]string // prefix → URI
	children []string          // raw child elements
	names    []string          // their "{space}local"
}

func (r *reply) attr(space, local string) (string, bool) {
	k := local
	if space != "" {
		k = "{" + space + "}" + local
	}
	v, ok := r.attrs[k]
	return v, ok
}

// child returns the first child named {space}local, or "".
func (r *reply) child(space, local string) string {
	for i, n := range r.names {
		if n == "{"+space+"}"+local {
			return r.children[i]
		}
	}
	return ""
}

// terminated reports the condition of a terminate body.
func (r *reply) terminated() (string, bool) {
	if t, _ := r.attr("", "type"); t != "terminate" {
		return "", false
	}
	c, _ := r.attr("", "condition")
	return c, true
}

func (h *harness) post(body string) *reply {
	h.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/http-bind", strings.NewReader(body))
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	if h.secure {
		req.TLS = &tls.ConnectionState{}
	}
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, req)
	require.Equal(h.t, http.StatusOK, rec.Code, rec.Body.String())
	return parseReply(h.t, rec.Body.Bytes())
}

func parseReply(t *testing.T, data []byte) *reply {
	t.Helper()
	var doc xmlscan.Doc
	require.NoError(t, xmlscan.Parse(data, xmlscan.Limits{NoRootText: true}, &doc), string(data))
	r := &reply{raw: string(data), attrs: map[string]string{}, decls: map[string]string{}}
	for _, a := range doc.Attrs {
		k := string(a.Local)
		if len(a.Space) > 0 {
			k = "{" + string(a.Space) + "}" + k
		}
		r.attrs[k] = string(a.Value)
	}
	for _, d := range doc.Decls {
		r.decls[string(d.Prefix)] = string(d.URI)
	}
	for _, c := range doc.Children {
		r.children = append(r.children, string(data[c.Start:c.End]))
		r.names = append(r.names, "{"+string(c.Space)+"}"+string(c.Local))
	}
	return r
}

// session is a test BOSH client of one session.
type session struct {
	h   *harness
	sid string
	rid uint64
}

// defaultCreate are the creation attributes of a XEP-0206 client (Ex. 1).
const defaultCreate = "to='example.com' xml:lang='en' xmlns:xmpp='urn:xmpp:xbosh' xmpp:version='1.0'"

// create opens a session with the given creation attributes and returns
// the session creation response.
func (h *harness) create(attrs string) (*session, *reply) {
	h.t.Helper()
	r := h.post("<body content='text/xml; charset=utf-8' hold='0' rid='1000' ver='1.6' wait='60' xmlns='" +
		nsHTTPBind + "' " + attrs + "/>")
	sid, _ := r.attr("", "sid")
	return &session{h: h, sid: sid, rid: 1000}, r
}

// open opens a session as a XEP-0206 client does and checks it worked.
func (h *harness) open() *session {
	h.t.Helper()
	s, r := h.create(defaultCreate)
	require.NotEmpty(h.t, s.sid, r.raw)
	return s
}

// send posts the next request with extra body attributes and payloads.
func (s *session) send(attrs string, payloads ...string) *reply {
	s.h.t.Helper()
	s.rid++
	b := "<body rid='" + strconv.FormatUint(s.rid, 10) + "' sid='" + s.sid + "' xmlns='" + nsHTTPBind + "'"
	if attrs != "" {
		b += " " + attrs
	}
	if len(payloads) == 0 {
		return s.h.post(b + "/>")
	}
	return s.h.post(b + ">" + strings.Join(payloads, "") + "</body>")
}

// restart sends a restart request (XEP-0206 §5, Ex. 8).
func (s *session) restart() *reply {
	s.h.t.Helper()
	return s.send("to='example.com' xml:lang='en' xmlns:xmpp='urn:xmpp:xbosh' xmpp:restart='true'")
}

// authPlain sends a PLAIN <auth/> for user and password.
func (s *session) authPlain(user, password string) *reply {
	s.h.t.Helper()
	return s.send("", plainAuth("", user, password))
}

func plainAuth(authz, user, password string) string {
	return "<auth xmlns='" + nsSASL + "' mechanism='PLAIN'>" +
		base64.StdEncoding.EncodeToString([]byte(authz+"\x00"+user+"\x00"+password)) + "</auth>"
}

// login authenticates with PLAIN and restarts the stream.
func (s *session) login() {
	s.h.t.Helper()
	r := s.authPlain(testUser, testPass)
	require.NotEmpty(s.h.t, r.child(nsSASL, "success"), r.raw)
	r = s.restart()
	require.NotEmpty(s.h.t, r.child(nsStream, "features"), r.raw)
}

// bind binds resource and returns the reply.
func (s *session) bind(resource string) *reply {
	s.h.t.Helper()
	inner := "<bind xmlns='" + nsBind + "'/>"
	if resource != "" {
		inner = "<bind xmlns='" + nsBind + "'><resource>" + resource + "</resource></bind>"
	}
	return s.send("", "<iq type='set' id='bind_1' xmlns='jabber:client'>"+inner+"</iq>")
}

// ready logs in and binds resource "balcony".
func (h *harness) ready() *session {
	h.t.Helper()
	s := h.open()
	s.login()
	r := s.bind("balcony")
	require.Contains(h.t, r.raw, "<jid>juliet@example.com/balcony</jid>", r.raw)
	return s
}

// requireStreamError checks that r ends the session with a stream error
// carrying cond, as XEP-0206 §6 wants it.
func requireStreamError(t *testing.T, r *reply, cond string) {
	t.Helper()
	c, ok := r.terminated()
	require.True(t, ok, r.raw)
	require.Equal(t, "remote-stream-error", c, r.raw)
	require.Equal(t, nsStream, r.decls["stream"], "xmlns:stream on <body/>: %s", r.raw)
	se := r.child(nsStream, "error")
	require.NotEmpty(t, se, r.raw)
	require.Contains(t, se, "<"+cond+" xmlns='"+nsStreams+"'/>", r.raw)
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
