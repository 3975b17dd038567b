package bosh

import (
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Attributes set by the upstream ride on the next body that carries
// payloads, so that a declaration (XEP-0206 §2: xmlns:stream on <body/>)
// arrives with the elements that use it; alone they wake no held request.
func TestSetAttrsWaitForPayloads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{})
		s := x.create(1000, "")
		held := s.post(1, "", "")
		synctest.Wait()
		sink := x.up.stream(t, 0).sink
		sink.SetAttrs(Attr{Name: "xmlns:stream", Value: "http://etherx.jabber.org/streams"})
		synctest.Wait()
		require.False(t, held.Done(), "attributes alone answered a held request")
		sink.Deliver([]byte("<stream:features/>"))
		r := held.wait()
		assert.Equal(t, "http://etherx.jabber.org/streams", r.Attr("stream"), r.Raw)
		assert.Equal(t, []string{"<stream:features/>"}, r.Children)
	})
}

// A request that carries attributes for the upstream (XEP-0206's restart)
// is not an empty poll: sent right after another request while one is
// held, it is no §11 overactivity.
func TestRestartIsNoEmptyPoll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{})
		s := x.create(1000, "")
		held := s.post(1, "", "")
		synctest.Wait()
		restart := s.post(2, "xmlns:xmpp='urn:xmpp:xbosh' xmpp:restart='true' to='example.com'", "")
		r := held.wait()
		assert.True(t, r.IsEmpty(), "the older request is released: %s", r.Raw)
		synctest.Wait()
		assert.False(t, restart.Done(), "the restart request is held, not refused")
		reqs := x.up.stream(t, 0).requests()
		require.Len(t, reqs, 1)
		v, ok := reqs[0].Attr(NSXBOSH, "restart")
		assert.True(t, ok)
		assert.Equal(t, "true", v)
	})
}
