package xmpplogin

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/internal/xmppwire"
)

// script is a Conn that answers each request with scripted elements.
type script struct {
	sent    []string   // every request: attrs and payloads
	answers [][]string // the elements each request brings, in turn
	inbox   []string
}

func (s *script) Send(_ context.Context, attrs string, payloads ...[]byte) error {
	line := attrs
	for _, p := range payloads {
		line += string(p)
	}
	s.sent = append(s.sent, line)
	if len(s.answers) > 0 {
		s.inbox = append(s.inbox, s.answers[0]...)
		s.answers = s.answers[1:]
	}
	return nil
}

func (s *script) Next(_ context.Context, match func(xmppwire.Element) bool) (xmppwire.Element, error) {
	for len(s.inbox) > 0 {
		raw := s.inbox[0]
		s.inbox = s.inbox[1:]
		var head struct{ XMLName xml.Name }
		if err := xml.Unmarshal([]byte(raw), &head); err != nil {
			return xmppwire.Element{}, err
		}
		el := xmppwire.Element{Name: head.XMLName, Raw: []byte(raw)}
		if match == nil || match(el) {
			return el, nil
		}
	}
	return xmppwire.Element{}, errors.New("script: nothing more")
}

const (
	offer   = "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>"
	restart = "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></stream:features>"
	success = "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"
	bound   = "<iq type='result' id='t_bind' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>juliet@example.com/balcony</jid></bind></iq>"
	session = "<iq type='result' id='t_session' xmlns='jabber:client'/>"
)

var cfg = Config{Domain: "example.com", User: "juliet", Password: "r0m30", Resource: "balcony", IDPrefix: "t_"}

// TestLogin: XEP-0206 §4 (SASL), §5 (restart), RFC 6120 §7 (bind), RFC
// 3921 §3 (session), in order, each step waiting for its answer; stanzas
// that come first are passed over (the Conn keeps them).
func TestLogin(t *testing.T) {
	s := &script{
		inbox:   []string{offer},
		answers: [][]string{{success}, {restart}, {"<message xmlns='jabber:client'/>", bound}, {session}},
	}
	jid, err := Login(context.Background(), s, cfg)
	require.NoError(t, err)
	assert.Equal(t, "juliet@example.com/balcony", jid)
	require.Len(t, s.sent, 4)
	plain := base64.StdEncoding.EncodeToString([]byte("\x00juliet\x00r0m30"))
	assert.Equal(t, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"+plain+"</auth>", s.sent[0])
	assert.Equal(t, " to='example.com' xml:lang='en' xmpp:restart='true' xmlns:xmpp='urn:xmpp:xbosh'", s.sent[1])
	assert.Contains(t, s.sent[2], "<resource>balcony</resource>")
	assert.Contains(t, s.sent[3], "<session xmlns='urn:ietf:params:xml:ns:xmpp-session'/>")
}

func TestLoginErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		inbox   []string
		answers [][]string
		want    Error
	}{
		{"SASL failure (RFC 6120 §6.5.10)", []string{offer},
			[][]string{{"<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/><text>no</text></failure>"}},
			Error{Step: StepAuth, SASL: "not-authorized"}},
		{"binding refused (RFC 6120 §7.6.2.2)", []string{offer},
			[][]string{{success}, {restart}, {"<iq type='error' id='t_bind' xmlns='jabber:client'><error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"}},
			Error{Step: StepBind, StanzaType: "cancel", Stanza: "conflict"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Login(context.Background(), &script{inbox: tc.inbox, answers: tc.answers}, cfg)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tc.want, *e)
		})
	}
	t.Run("mechanism not offered", func(t *testing.T) {
		_, err := Login(context.Background(), &script{inbox: []string{strings.Replace(offer, "PLAIN", "X-OTHER", 1)}}, cfg)
		assert.ErrorContains(t, err, "does not offer PLAIN")
	})
	t.Run("no bind after the restart", func(t *testing.T) {
		_, err := Login(context.Background(), &script{inbox: []string{offer}, answers: [][]string{{success}, {offer}}}, cfg)
		var e *Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, StepBind, e.Step)
	})
	t.Run("the password is in no error", func(t *testing.T) {
		_, err := Login(context.Background(), &script{inbox: []string{offer}, answers: [][]string{{"<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>!!</challenge>"}}}, cfg)
		require.Error(t, err)
		assert.NotContains(t, err.Error(), cfg.Password)
	})
}
