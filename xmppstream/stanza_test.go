package xmppstream

import (
	"context"
	"encoding/xml"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/internal/xmlscan"
)

const fullJID = "juliet@example.com/balcony"

// TestStanzasStampedAndNamespaced: stanzas with and without
// xmlns='jabber:client' reach the core with 'from' stamped as the full JID
// and jabber:client declared, the rest of the bytes untouched (XEP-0206
// §2, RFC 6120 §8.1.2.1).
func TestStanzasStampedAndNamespaced(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		st             Stanza
	}{
		{
			name: "no namespace (XEP-0206 §2 note)",
			in:   "<message to='romeo@example.net' type='chat' id='m1'><body>hi</body></message>",
			want: "<message from='juliet@example.com/balcony' xmlns='jabber:client' to='romeo@example.net' type='chat' id='m1'><body>hi</body></message>",
			st:   Stanza{Name: "message", Type: "chat", ID: "m1", To: JID{Local: "romeo", Domain: "example.net"}},
		},
		{
			name: "jabber:client",
			in:   "<message xmlns='jabber:client' to='romeo@example.net'><body>hi</body></message>",
			want: "<message from='juliet@example.com/balcony' xmlns='jabber:client' to='romeo@example.net'><body>hi</body></message>",
			st:   Stanza{Name: "message", To: JID{Local: "romeo", Domain: "example.net"}},
		},
		{
			name: "httpbind namespace written out",
			in:   "<presence xmlns=\"http://jabber.org/protocol/httpbind\"/>",
			want: "<presence from='juliet@example.com/balcony' xmlns=\"jabber:client\"/>",
			st:   Stanza{Name: "presence"},
		},
		{
			name: "'from' as the bare JID is replaced",
			in:   "<iq type='get' id='r1' from='juliet@example.com'><query xmlns='jabber:iq:roster'/></iq>",
			want: "<iq xmlns='jabber:client' type='get' id='r1' from='juliet@example.com/balcony'><query xmlns='jabber:iq:roster'/></iq>",
			st:   Stanza{Name: "iq", Type: "get", ID: "r1"},
		},
		{
			name: "'from' as the full JID, other case, double quotes",
			in:   "<presence from=\"JULIET@example.com/balcony\" xmlns='jabber:client'><show>away</show></presence>",
			want: "<presence from=\"juliet@example.com/balcony\" xmlns='jabber:client'><show>away</show></presence>",
			st:   Stanza{Name: "presence"},
		},
		{
			name: "prefixed jabber:client",
			in:   "<c:message xmlns:c='jabber:client' to='romeo@example.net'><c:body>a > b</c:body></c:message>",
			want: "<c:message from='juliet@example.com/balcony' xmlns='jabber:client' xmlns:c='jabber:client' to='romeo@example.net'><c:body>a > b</c:body></c:message>",
			st:   Stanza{Name: "message", To: JID{Local: "romeo", Domain: "example.net"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, ServerConfig{})
			s := h.ready()
			r := s.send("", tc.in)
			_, term := r.terminated()
			require.False(t, term, r.raw)
			routes := h.core.routes()
			require.Len(t, routes, 1)
			got := routes[0]
			assert.Equal(t, tc.want, string(got.Raw))
			tc.st.From = JID{Local: "juliet", Domain: "example.com", Resource: "balcony"}
			tc.st.Raw = got.Raw
			tc.st.Element = got.Element
			assert.Equal(t, tc.st, *got)
			assert.Equal(t, describe(t, got.Raw), describeElement(got.Element), "the Element is Raw parsed")
		})
	}
}

// elementSummary is an Element or a parsed stanza in strings, to compare.
type elementSummary struct {
	Space, Local    string
	Attrs, Decls    []string
	Children        []string
	ChildNamespaces []string
}

// describe parses raw, a stanza, as a Core would without its Element.
func describe(t testing.TB, raw []byte) elementSummary {
	t.Helper()
	var doc xmlscan.Doc
	require.NoError(t, xmlscan.Parse(raw, stanzaLimits, &doc), "%s", raw)
	s := elementSummary{Space: string(doc.Space), Local: string(doc.Local)}
	for _, a := range doc.Attrs {
		s.Attrs = append(s.Attrs, "{"+string(a.Space)+"}"+string(a.Local)+"="+string(a.Value))
	}
	for _, d := range doc.Decls {
		if len(d.Prefix) > 0 {
			s.Decls = append(s.Decls, string(d.Prefix)+"="+string(d.URI))
		}
	}
	for _, c := range doc.Children {
		s.Children = append(s.Children, string(raw[c.Start:c.End]))
		s.ChildNamespaces = append(s.ChildNamespaces, "{"+string(c.Space)+"}"+string(c.Local))
	}
	return s
}

// describeElement summarizes e like describe.
func describeElement(e *Element) elementSummary {
	s := elementSummary{Space: string(e.Space), Local: string(e.Local)}
	for _, a := range e.Attrs {
		s.Attrs = append(s.Attrs, "{"+string(a.Space)+"}"+string(a.Local)+"="+string(a.Value))
	}
	for _, d := range e.Decls {
		s.Decls = append(s.Decls, string(d.Prefix)+"="+string(d.URI))
	}
	for _, c := range e.Children {
		s.Children = append(s.Children, string(c.Raw))
		s.ChildNamespaces = append(s.ChildNamespaces, "{"+string(c.Space)+"}"+string(c.Local))
	}
	return s
}

// TestPreconditionGate: a stanza before SASL success, before the restart,
// before bind, or before a required session ends the stream with a
// not-authorized stream error (XEP-0206 §5, RFC 6120 §6, §7, RFC 3921 §3).
func TestPreconditionGate(t *testing.T) {
	msg := "<message to='romeo@example.net'><body>hi</body></message>"
	sess := "<iq type='set' id='s1'><session xmlns='" + nsSession + "'/></iq>"
	bind := "<iq type='set' id='b1'><bind xmlns='" + nsBind + "'/></iq>"
	for _, tc := range []struct {
		name           string
		requireSession bool
		setup          func(s *session)
		payload        string
		unbound        bool
	}{
		{name: "message before SASL", setup: func(*session) {}, payload: msg},
		{name: "iq before SASL", setup: func(*session) {}, payload: "<iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq>"},
		{name: "presence before SASL", setup: func(*session) {}, payload: "<presence/>"},
		{name: "bind before SASL", setup: func(*session) {}, payload: bind},
		{name: "message after SASL, before restart", setup: func(s *session) { s.authPlain(testUser, testPass) }, payload: msg},
		{name: "bind after SASL, before restart", setup: func(s *session) { s.authPlain(testUser, testPass) }, payload: bind},
		{name: "message before bind", setup: func(s *session) { s.login() }, payload: msg},
		{name: "session before bind", setup: func(s *session) { s.login() }, payload: sess},
		{name: "message before a required session", requireSession: true, setup: func(s *session) { s.login(); s.bind("balcony") }, payload: msg, unbound: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, ServerConfig{RequireSession: tc.requireSession})
			s := h.open()
			tc.setup(s)
			r := s.send("", tc.payload)
			requireStreamError(t, r, "not-authorized")
			assert.Empty(t, h.core.routes())
			if tc.unbound {
				require.Len(t, h.core.unbinds(), 1, "the bound client is unbound")
				assert.Equal(t, fullJID, h.core.unbinds()[0].jid.String())
			}
		})
	}
}

// TestRequiredSessionOpensTheGate: with RequireSession, stanzas flow once
// the session is established.
func TestRequiredSessionOpensTheGate(t *testing.T) {
	h := newHarness(t, ServerConfig{RequireSession: true})
	s := h.ready()
	r := s.send("", "<iq type='set' id='s1' to='example.com'><session xmlns='"+nsSession+"'/></iq>")
	assert.Equal(t, []string{"<iq type='result' id='s1' xmlns='jabber:client' from='example.com' to='juliet@example.com/balcony'/>"}, r.children)
	r = s.send("", "<presence/>")
	_, term := r.terminated()
	require.False(t, term, r.raw)
	assert.Len(t, h.core.routes(), 1)
}

// TestInvalidFrom: a 'from' that is not the client's full or bare JID
// ends the stream with invalid-from, as remote-stream-error with
// xmlns:stream on the <body/> (RFC 6120 §4.9.3.9, XEP-0206 §6).
func TestInvalidFrom(t *testing.T) {
	for _, from := range []string{"romeo@example.net", "juliet@example.com/other", "example.com", "not a jid@"} {
		t.Run(from, func(t *testing.T) {
			h := newHarness(t, ServerConfig{})
			s := h.ready()
			r := s.send("", "<message from='"+from+"' to='romeo@example.net'><body>hi</body></message>")
			requireStreamError(t, r, "invalid-from")
			assert.Empty(t, h.core.routes())
			require.Len(t, h.core.unbinds(), 1)

			r = s.send("")
			c, _ := r.terminated()
			assert.NotEmpty(t, c, "the session is over: %s", r.raw)
		})
	}
}

// TestUnsupportedStanzaType: an element that is not a jabber:client stanza
// ends the stream with unsupported-stanza-type (RFC 6120 §4.9.3.24).
func TestUnsupportedStanzaType(t *testing.T) {
	for _, p := range []string{
		"<message xmlns='jabber:server'/>",
		"<foo xmlns='urn:example'/>",
		"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
		"<query/>",
	} {
		t.Run(p, func(t *testing.T) {
			h := newHarness(t, ServerConfig{})
			s := h.ready()
			r := s.send("", p)
			requireStreamError(t, r, "unsupported-stanza-type")
		})
	}
}

// TestClientStreamErrorIgnored: a <stream:error/> from the client is
// ignored (XEP-0206 §6 has none from the client).
func TestClientStreamErrorIgnored(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	s := h.ready()
	r := s.send("xmlns:stream='"+nsStream+"'", "<stream:error><conflict xmlns='"+nsStreams+"'/></stream:error>")
	_, term := r.terminated()
	assert.False(t, term, r.raw)
}

// TestJIDMalformedTo: a 'to' that is not a JID gets a jid-malformed error
// for an iq or message, and nothing for presence or an error (RFC 6120
// §8.3.3.8, §8.3.1).
func TestJIDMalformedTo(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"message", "<message to='@example.net' id='m1'><body>hi</body></message>",
			"<message type='error' id='m1' to='juliet@example.com/balcony' xmlns='jabber:client'><error type='modify'><jid-malformed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"},
		{"iq", "<iq to='a@b@c' type='get' id='q&amp;1'><query xmlns='jabber:iq:version'/></iq>",
			"<iq type='error' id='q&amp;1' to='juliet@example.com/balcony' xmlns='jabber:client'><error type='modify'><jid-malformed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"},
		{"presence", "<presence to='@example.net' type='subscribe'/>", ""},
		{"error", "<message to='@example.net' type='error'/>", ""},
		{"iq result", "<iq to='@example.net' type='result' id='r'/>", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, ServerConfig{})
			s := h.ready()
			r := s.send("", tc.in)
			_, term := r.terminated()
			require.False(t, term, r.raw)
			assert.Empty(t, h.core.routes())
			if tc.want == "" {
				assert.Empty(t, r.children)
				return
			}
			assert.Equal(t, []string{tc.want}, r.children)
		})
	}
}

// TestBind: resource binding (RFC 6120 §7): a conflict keeps the stream
// open and another resource binds; a second bind is not-allowed; an empty
// request gets a generated resource; a resource PRECIS refuses is a
// bad-request.
func TestBind(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	h.core.conflicts["balcony"] = true
	s := h.open()
	s.login()

	r := s.bind("balcony")
	assert.Equal(t, []string{"<iq type='error' id='bind_1' xmlns='jabber:client'><error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"}, r.children)
	r = s.bind("bell\u0085")
	assert.Equal(t, []string{"<iq type='error' id='bind_1' xmlns='jabber:client'><error type='modify'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"}, r.children)
	r = s.bind("orchard")
	assert.Equal(t, []string{"<iq type='result' id='bind_1' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>juliet@example.com/orchard</jid></bind></iq>"}, r.children)
	assert.Equal(t, "juliet@example.com/orchard", h.core.client(0).JID().String())
	r = s.bind("garden")
	assert.Equal(t, []string{"<iq type='error' id='bind_1' xmlns='jabber:client'><error type='cancel'><not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"}, r.children)

	r = s.send("", "<presence/>")
	_, term := r.terminated()
	require.False(t, term, r.raw)
	assert.Len(t, h.core.routes(), 1)

	s = h.open()
	s.login()
	r = s.bind("")
	assert.Contains(t, r.raw, "<jid>juliet@example.com/gen1</jid>")
}

// TestBindCoreErrors: other Bind errors are relayed or become
// internal-server-error.
func TestBindCoreErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"stanza error", &StanzaError{Type: "auth", Condition: "forbidden", Text: "no <way>"},
			"<iq type='error' id='bind_1' xmlns='jabber:client'><error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>no &lt;way&gt;</text></error></iq>"},
		{"other error", errors.New("boom"),
			"<iq type='error' id='bind_1' xmlns='jabber:client'><error type='wait'><internal-server-error xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, ServerConfig{})
			h.core.bindErr = tc.err
			s := h.open()
			s.login()
			r := s.bind("balcony")
			assert.Equal(t, []string{tc.want}, r.children)
		})
	}
}

// TestSessionErrors: StartSession's stanza errors are relayed, echoing the
// <session/> child (RFC 3921 §3); a success is a result from the domain.
func TestSessionErrors(t *testing.T) {
	sess := "<session xmlns='urn:ietf:params:xml:ns:xmpp-session'/>"
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"success", nil, "<iq type='result' id='s1' xmlns='jabber:client' from='example.com' to='juliet@example.com/balcony'/>"},
		{"internal-server-error", &StanzaError{Type: "wait", Condition: "internal-server-error"},
			"<iq type='error' id='s1' xmlns='jabber:client'>" + sess + "<error type='wait'><internal-server-error xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"},
		{"forbidden", &StanzaError{Type: "auth", Condition: "forbidden"},
			"<iq type='error' id='s1' xmlns='jabber:client'>" + sess + "<error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"},
		{"conflict", &StanzaError{Type: "cancel", Condition: "conflict"},
			"<iq type='error' id='s1' xmlns='jabber:client'>" + sess + "<error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"},
		{"plain error", errors.New("boom"),
			"<iq type='error' id='s1' xmlns='jabber:client'>" + sess + "<error type='wait'><internal-server-error xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"},
		{"bad condition from the core", &StanzaError{Type: "weird", Condition: "<x>"},
			"<iq type='error' id='s1' xmlns='jabber:client'>" + sess + "<error type='cancel'><undefined-condition xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, ServerConfig{})
			h.core.sessionErr = tc.err
			s := h.ready()
			r := s.send("", "<iq type='set' id='s1'>"+sess+"</iq>")
			assert.Equal(t, []string{tc.want}, r.children)
			_, term := r.terminated()
			assert.False(t, term, "the stream stays open")
			if tc.err == nil {
				r = s.send("", "<iq type='set' id='s1'>"+sess+"</iq>")
				assert.Equal(t, []string{tc.want}, r.children, "again")
				assert.Equal(t, 1, h.core.sessions, "the core is asked once")
			}
		})
	}
}

// TestCloseUnbinds: when the client terminates the session, the core
// unbinds the client with what it never got; an unbound client is not
// unbound.
func TestCloseUnbinds(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	s := h.ready()
	cl := h.core.client(0)
	require.True(t, cl.Deliver([]byte("<message xmlns='jabber:client' id='queued'/>")))
	r := s.send("type='terminate'", "<presence type='unavailable'/>")
	c, ok := r.terminated()
	require.True(t, ok, r.raw)
	assert.Empty(t, c)
	require.Len(t, h.core.routes(), 1, "the terminate request's payload is routed")
	u := h.core.unbinds()
	require.Len(t, u, 1)
	assert.Equal(t, fullJID, u[0].jid.String())
	assert.False(t, cl.Deliver([]byte("<message xmlns='jabber:client'/>")), "the client is gone")

	s = h.open()
	s.login()
	s.send("type='terminate'")
	assert.Len(t, h.core.unbinds(), 1, "no Unbind without Bind")
}

// TestClientDeliverAndKick: the core's deliveries reach the client; Kick
// ends the stream with the stream error (RFC 6120 §4.9.3),
// after what was queued, and the client is unbound once, outside Kick.
// a kick reaches the client only as remote-stream-error, with
// the stanzas queued before it first.
func TestClientDeliverAndKick(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, ServerConfig{})
		s := h.ready()
		cl := h.core.client(0)
		msg := "<message xmlns='jabber:client' from='romeo@example.net/garden'><body>hi</body></message>"
		require.True(t, cl.Deliver([]byte(msg)))
		r := s.send("")
		assert.Equal(t, []string{msg}, r.children)

		require.True(t, cl.Deliver([]byte(msg)))
		cl.Kick("conflict")
		cl.Kick("conflict") // idempotent
		synctest.Wait()
		require.Len(t, h.core.unbinds(), 1)
		assert.Equal(t, fullJID, h.core.unbinds()[0].jid.String())
		r = s.send("")
		requireStreamError(t, r, "conflict")
		assert.Equal(t, msg, r.children[0], "queued stanzas come first")
		assert.False(t, cl.Deliver([]byte(msg)))
		assert.Len(t, h.core.unbinds(), 1)
	})
}

// TestKickDuringRoute: a core that kicks the client from inside Route gets
// its Unbind when Send is done, not from inside Kick.
func TestKickDuringRoute(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	s := h.ready()
	h.core.onRoute = func(cl Client) {
		cl.Kick("policy-violation")
		assert.Empty(t, h.core.unbinds(), "not from inside Kick")
	}
	r := s.send("", "<presence/>", "<message to='romeo@example.net'/>")
	requireStreamError(t, r, "policy-violation")
	assert.Len(t, h.core.routes(), 1, "nothing is routed after the kick")
	assert.Len(t, h.core.unbinds(), 1)
}

// TestInspectStanzaErrors covers the refusals of inspectStanza directly.
func TestInspectStanzaErrors(t *testing.T) {
	from := JID{Local: "juliet", Domain: "example.com", Resource: "balcony"}
	for _, tc := range []struct {
		name, in string
		want     error
	}{
		{"prolog", "<?xml version='1.0'?><message/>", streamError("restricted-xml")},
		{"other namespace", "<message xmlns='jabber:server'/>", streamError("unsupported-stanza-type")},
		{"not a stanza", "<body/>", streamError("unsupported-stanza-type")},
		{"spoofed from", "<message from='romeo@example.net'/>", streamError("invalid-from")},
		{"malformed to", "<message to=''/>", &StanzaError{Type: "modify", Condition: "jid-malformed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var doc xmlscan.Doc
			require.NoError(t, xmlscan.Parse([]byte(tc.in), xmlscan.Limits{NoRootText: true}, &doc))
			_, err := inspectStanza([]byte(tc.in), &doc, from)
			assert.Equal(t, tc.want, err)
		})
	}
}

// TestCloseDuringSend: a session that ends inside a sink call (here, a
// queue overflow) unbinds the client once, after the call in progress:
// at the end of Send, or on a goroutine after Client.Deliver.
func TestCloseDuringSend(t *testing.T) {
	for _, viaDeliver := range []bool{false, true} {
		name := map[bool]string{false: "in Send", true: "in Client.Deliver"}[viaDeliver]
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				core := newFakeCore()
				core.addPlain(testUser, testPass)
				srv, err := NewServer(core, ServerConfig{Domains: []string{testDomain}})
				require.NoError(t, err)
				k := &closingSink{}
				st, err := srv.Open(context.Background(), openRequest(), k)
				require.NoError(t, err)
				k.st = st
				send := func(attrs []xmlAttr, payloads ...string) {
					require.NoError(t, st.Send(context.Background(), request(attrs, payloads...)))
				}
				send(nil, plainAuth("", testUser, testPass))
				send(restartAttrs)
				send(nil, "<iq type='set' id='b'><bind xmlns='"+nsBind+"'/></iq>")
				require.True(t, st.(*stream).isBound())
				k.closeOnDeliver = true
				if viaDeliver {
					core.client(0).Deliver([]byte("<message/>"))
				} else {
					send(nil, "<iq type='set' id='s'><session xmlns='"+nsSession+"'/></iq>")
				}
				synctest.Wait()
				require.Len(t, core.unbinds(), 1)
				assert.Equal(t, [][]byte{[]byte("undelivered")}, core.unbinds()[0].undelivered)
				send(nil, "<presence/>")
				assert.Empty(t, core.routes(), "no Send after the end")
				st.Close(bosh.Closing{})
				assert.Len(t, core.unbinds(), 1, "once")
			})
		})
	}
}

type xmlAttr = xml.Attr

var restartAttrs = []xml.Attr{{Name: xml.Name{Space: bosh.NSXBOSH, Local: "restart"}, Value: "true"}}

func openRequest() *bosh.OpenRequest {
	return &bosh.OpenRequest{To: testDomain, Version: "1.11", SID: "sid"}
}

func request(attrs []xml.Attr, payloads ...string) *bosh.Request {
	r := &bosh.Request{Attrs: attrs}
	for _, p := range payloads {
		r.Payloads = append(r.Payloads, []byte(p))
	}
	return r
}

// closingSink is a Sink whose session can end inside Deliver, as a real
// one does when the queue overflows.
type closingSink struct {
	st             bosh.Stream
	closeOnDeliver bool
}

func (k *closingSink) Deliver(payloads ...[]byte) bool {
	if k.closeOnDeliver {
		k.closeOnDeliver = false
		k.st.Close(bosh.Closing{Err: bosh.PolicyViolation, Undelivered: [][]byte{[]byte("undelivered")}})
	}
	return true
}

func (k *closingSink) SetAttrs(...bosh.Attr) {}

func (k *closingSink) End(error) {}
