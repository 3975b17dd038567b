package boshclient

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/internal/xmppwire"
)

func TestClientReorderBuffer(t *testing.T) {
	// Responses that arrive out of rid order are processed in rid order
	// (XEP-0124 §14.2: the client processes responses in order).
	c := New(Config{URL: "http://127.0.0.1:0/unused"})
	c.rid, c.next, c.requests, c.inflight = 102, 100, 2, 2
	a := xmppwire.Element{Raw: []byte("<a/>")}
	b := xmppwire.Element{Raw: []byte("<b/>")}
	c.arrive(101, reply{resp: &xmppwire.Response{Elements: []xmppwire.Element{b}}})
	assert.Empty(t, c.inbox, "rid 101 waits for rid 100")
	c.arrive(100, reply{resp: &xmppwire.Response{Elements: []xmppwire.Element{a}}})
	require.Len(t, c.inbox, 2)
	assert.Equal(t, "<a/>", string(c.inbox[0].Raw))
	assert.Equal(t, "<b/>", string(c.inbox[1].Raw))
	assert.Equal(t, uint64(102), c.next)
	assert.Zero(t, c.inflight)
}
