package boshtest

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/httpbind/httpbind/internal/xmppwire"
)

// Namespaces of the tests, from internal/xmppwire.
const (
	nsHTTPBind = xmppwire.NSHTTPBind
	nsXBOSH    = xmppwire.NSXBOSH
	nsStream   = xmppwire.NSStream
	nsSASL     = xmppwire.NSSASL
	nsBind     = xmppwire.NSBind
	nsSession  = xmppwire.NSSession
	nsClient   = xmppwire.NSClient
	nsXMLNS    = "xmlns"
)

// element and response are the wire format's (internal/xmppwire).
type (
	element  = xmppwire.Element
	response = xmppwire.Response
)

func parseResponse(data []byte) (*response, error) { return xmppwire.ParseResponse(data) }

func appendEscaped(dst []byte, s string) []byte { return xmppwire.AppendEscaped(dst, s) }

func requestBody(rid uint64, sid, extra string, payloads [][]byte) []byte {
	return xmppwire.RequestBody(rid, sid, extra, payloads)
}

const ns = " xmlns='http://jabber.org/protocol/httpbind'"

func TestRequestBody(t *testing.T) {
	assert.Equal(t, "<body rid='7' sid='a&amp;b' xmlns='http://jabber.org/protocol/httpbind'/>",
		string(requestBody(7, "a&b", "", nil)))
	assert.Equal(t, "<body rid='8' sid='s' type='terminate' xmlns='http://jabber.org/protocol/httpbind'><a/><b/></body>",
		string(requestBody(8, "s", " type='terminate'", [][]byte{[]byte("<a/>"), []byte("<b/>")})))
}

func TestCheckElement(t *testing.T) {
	for _, ok := range []string{"<a/>", "<message xmlns='jabber:client'><body>x &amp; y</body></message>", " <a/> "} {
		assert.NoError(t, checkElement([]byte(ok)), ok)
	}
	for _, bad := range []string{"", "<a>", "<a/><b/>", "text", "<a/>x", "<?pi x?><a/>", "<!DOCTYPE a><a/>", "<a>&ent;</a>"} {
		assert.Error(t, checkElement([]byte(bad)), bad)
	}
}
