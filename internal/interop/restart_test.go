package interop

import (
	"encoding/base64"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rawSession posts hand-written bodies of one BOSH session to a
// connection manager, in rid order, one at a time.
type rawSession struct {
	t   *testing.T
	url string
	rid int
	sid string
}

var sidAttr = regexp.MustCompile(`\ssid='([^']+)'`)

// post sends a body with the session's next rid and the given attributes
// and children, and returns the response body.
func (s *rawSession) post(attrs, children string) string {
	s.t.Helper()
	s.rid++
	body := "<body xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh' rid='" + strconv.Itoa(s.rid) + "'"
	if s.sid != "" {
		body += " sid='" + s.sid + "'"
	}
	body += " " + attrs + ">" + children + "</body>"
	resp, err := http.Post(s.url, "text/xml; charset=utf-8", strings.NewReader(body))
	require.NoError(s.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	require.Equal(s.t, http.StatusOK, resp.StatusCode, "%s", b)
	return string(b)
}

// TestRestartBeforeAuthAgainstProsody runs node-xmpp-client's opening
// against Prosody through the TCP upstream: a restart request right after
// the session creation response, before any SASL. Prosody would answer a
// second stream header there with not-well-formed (RFC 6120 §4.3.1) and the
// client would get remote-stream-error; instead the request is answered
// as an empty one (no new features: the creation response had them), and
// the client logs in on the same session (XEP-0206 §5).
func TestRestartBeforeAuthAgainstProsody(t *testing.T) {
	checkGoroutines(t)
	e := newEnv(t)
	s := &rawSession{t: t, url: e.url, rid: 41000}
	created := s.post("to='"+domain+"' wait='1' hold='1' ver='1.6' xmpp:version='1.0'", "")
	m := sidAttr.FindStringSubmatch(created)
	require.NotNil(t, m, created)
	s.sid = m[1]
	require.Contains(t, created, "<mechanism>PLAIN</mechanism>", created)

	again := s.post("to='"+domain+"' xmpp:restart='true'", "")
	assert.NotContains(t, again, "terminate", "the session goes on")
	assert.NotContains(t, again, "features", "nothing new: %s", again)

	auth := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + alicePass))
	success := s.post("", "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"+auth+"</auth>")
	require.Contains(t, success, "<success", success)
	restarted := s.post("to='"+domain+"' xmpp:restart='true'", "")
	require.Contains(t, restarted, "urn:ietf:params:xml:ns:xmpp-bind", restarted)
	bound := s.post("", "<iq xmlns='jabber:client' type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>")
	assert.Regexp(t, `<jid>alice@`+domain+`/[^<]+</jid>`, bound)
	assert.Contains(t, s.post("type='terminate'", "<presence xmlns='jabber:client' type='unavailable'/>"), "terminate")
	assert.NotContains(t, e.logs.String(), "not-well-formed")
}
