package xmppstream

import (
	"bytes"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/internal/xmppwire"
)

// streamPrefix declares the stream prefix on a response <body/>; it goes
// with every body that carries <stream:features/> or <stream:error/>
// (XEP-0206 §2).
var streamPrefix = bosh.Attr{Name: "xmlns:stream", Value: nsStream}

// streamDecl declares the stream prefix on the <stream:features/> and
// <stream:error/> elements themselves as well. The declaration on the
// <body/> is the one XEP-0206 requires; this one keeps the element
// namespace-well-formed should the attributes and the element ever travel
// in different bodies (a Sink.SetAttrs and a Sink.Deliver are two calls).
const streamDecl = " xmlns:stream='" + nsStream + "'"

// features returns the stream features for the stream's state (RFC 6120
// §4.3.2): before authentication, the SASL mechanisms when any is offered
// (§6.4.1) and the iq-auth feature when configured (XEP-0078 §4), with no
// STARTTLS (XEP-0206 §4) and no compression;
// then resource binding (§7.4) and the RFC 3921 §3 session, each until it
// is done.
func (s *stream) features() []byte {
	var b bytes.Buffer
	b.WriteString("<stream:features" + streamDecl + ">")
	if !s.authed {
		if mechs := s.srv.offered(s.secure); len(mechs) > 0 {
			b.WriteString("<mechanisms xmlns='" + nsSASL + "'>")
			for _, m := range mechs {
				b.WriteString("<mechanism>" + m + "</mechanism>")
			}
			b.WriteString("</mechanisms>")
		}
		if s.srv.nonSASL != NonSASLAuthOff {
			b.WriteString("<auth xmlns='" + nsIQAuthFeature + "'/>") // XEP-0078 §4
		}
	} else {
		if !s.isBound() {
			b.WriteString("<bind xmlns='" + nsBind + "'/>")
		}
		switch {
		case s.sessioned:
		case s.srv.requireSession:
			b.WriteString("<session xmlns='" + nsSession + "'/>")
		default:
			b.WriteString("<session xmlns='" + nsSession + "'><optional/></session>")
		}
	}
	b.WriteString("</stream:features>")
	return b.Bytes()
}

// streamErrorXML returns a <stream:error/> with a defined condition (RFC
// 6120 §4.9.3), which the body carrying it must declare the prefix for.
func streamErrorXML(cond string) []byte {
	return []byte("<stream:error" + streamDecl + "><" + safeCondition(cond, "undefined-condition") +
		" xmlns='" + nsStreams + "'/></stream:error>")
}

// streamErrorBody is the error that ends a session with a stream error:
// remote-stream-error carrying the <stream:error/> (XEP-0206 §6).
func streamErrorBody(cond string, cause error) *bosh.Error {
	return &bosh.Error{Condition: bosh.RemoteStreamError, Children: [][]byte{streamErrorXML(cond)}, Err: cause}
}

// saslFailure returns a SASL <failure/> (RFC 6120 §6.4.5).
func saslFailure(cond string) []byte {
	return []byte("<failure xmlns='" + nsSASL + "'><" + cond + "/></failure>")
}

// iqStart appends the start of an iq reply to the client, with 'id'
// echoed (RFC 6120 §8.2.3). It leaves the start tag open.
func iqStart(b *bytes.Buffer, typ, id string) {
	b.WriteString("<iq type='" + typ + "'")
	if id != "" {
		b.WriteString(" id='")
		escapeAttr(b, id)
		b.WriteByte('\'')
	}
	b.WriteString(" xmlns='" + nsClient + "'")
}

// errorReply returns the error answer to a stanza (RFC 6120 §8.3): name is
// "iq" or "message"; child, if not empty, is echoed before the <error/>.
func errorReply(name, id, to string, child string, e *StanzaError) []byte {
	var b bytes.Buffer
	b.WriteString("<" + name + " type='error'")
	if id != "" {
		b.WriteString(" id='")
		escapeAttr(&b, id)
		b.WriteByte('\'')
	}
	if to != "" {
		b.WriteString(" to='")
		escapeAttr(&b, to)
		b.WriteByte('\'')
	}
	b.WriteString(" xmlns='" + nsClient + "'>" + child)
	b.WriteString("<error type='" + safeErrorType(string(e.Type)) + "'><" + safeCondition(string(e.Condition), "undefined-condition") +
		" xmlns='" + nsStanzas + "'/>")
	if e.Text != "" {
		b.WriteString("<text xmlns='" + nsStanzas + "'>")
		escapeText(&b, e.Text)
		b.WriteString("</text>")
	}
	b.WriteString("</error></" + name + ">")
	return b.Bytes()
}

// safeCondition returns cond when it can be written as an element name
// (the defined conditions are lowercase words joined by hyphens), and def
// otherwise: a core's mistake must not make the output malformed.
func safeCondition(cond, def string) string {
	if cond == "" || cond[0] == '-' {
		return def
	}
	for i := 0; i < len(cond); i++ {
		c := cond[i]
		if (c < 'a' || c > 'z') && c != '-' {
			return def
		}
	}
	return cond
}

// safeErrorType returns t when it is a stanza error type (RFC 6120
// §8.3.2), and "cancel" otherwise.
func safeErrorType(t string) string {
	switch t {
	case "auth", "cancel", "continue", "modify", "wait":
		return t
	}
	return "cancel"
}

// escapeAttr writes v escaped for an attribute value in either quotes.
func escapeAttr(b *bytes.Buffer, v string) { b.Write(xmppwire.AppendAttr(b.AvailableBuffer(), v)) }

// escapeText writes v escaped for character data.
func escapeText(b *bytes.Buffer, v string) { b.Write(xmppwire.AppendText(b.AvailableBuffer(), v)) }
